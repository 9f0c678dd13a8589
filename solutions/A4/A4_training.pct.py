# %% [markdown]
# # Assignment 4: Training a CNN
#
# In this assignment you write the training loop that every later experiment stands on, run the
# experiment that motivated residual networks, and train a model to a stated accuracy.
#
# 1. **The training step** (18 points): forward, loss, backward, update.
# 2. **Evaluation** (14): loss and accuracy on a data set, batch by batch, in evaluation mode.
# 3. **The training loop** (20): epochs of shuffled mini-batches, a learning-rate schedule, a
#    history of the curves, and a time budget.
# 4. **Plain vs residual** (15): the same 20-layer network with and without shortcuts.
# 5. **A trained model** (23): reach the stated test accuracy within the stated budget.
# 6. **A written answer** (10) about what the comparison shows.
#
# Write your code between the lines marked `# YOUR CODE HERE` (delete the `raise
# NotImplementedError()`). A test cell that runs silently has passed; a failing one says what it
# checked, what it expected and what it got. Hidden tests run when the assignment is graded.
#
# Rules: use `torch` only. The course library's training code (`cnnkit.train`) is off limits
# in parts 1 to 3: the tests check that your functions do not call it. You may use its models
# (`cnnkit.models`) and data (`cnnkit.data`).
#
# **Budget.** The whole notebook runs on a laptop CPU in about a minute and a half. The data
# and model sizes are picked once below from the device: on a GPU they are larger, and the
# stated accuracy is then easier to reach.

# %% nb="locked setup"
import math
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import cnnkit.train
from cnnkit.data import SHAPE_CLASSES, load_shapes
from cnnkit.device import make_repeatable, pick_device, seed_everything
from cnnkit.grading import check_close, no_calls_to, quiet
from cnnkit.models.cifar import CifarResNet
from cnnkit.plots import plot_curves, show_images

rng = seed_everything(0)
device = pick_device()
ON_CPU = device.type == "cpu"
make_repeatable(device)  # on the CPU: one thread, deterministic kernels (see cnnkit.device)

# Sizes, picked once from the device.
N_TRAIN, N_VAL, N_TEST = (3000, 500, 1000) if ON_CPU else (40000, 5000, 5000)
CMP_TRAIN, CMP_EPOCHS = (2000, 3) if ON_CPU else (40000, 15)
WIDTHS = (8, 16, 32) if ON_CPU else (16, 32, 64)   # channels of the three stages
TARGET = 0.40 if ON_CPU else 0.80                  # test accuracy part 5 must reach
BUDGET_S = 60 if ON_CPU else 300                   # training seconds allowed in part 5



def _tiny(k=10, bn=False):
    """A small network the tests train in a fraction of a second."""
    layers = [nn.Conv2d(3, 8, 3, padding=1)] + ([nn.BatchNorm2d(8)] if bn else []) + [
        nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(32, k)]
    return nn.Sequential(*layers)


shapes = load_shapes(N_TRAIN, N_VAL, N_TEST, seed=0)
X_train, y_train = (torch.as_tensor(a, device=device) for a in (shapes.X_train, shapes.y_train))
X_val, y_val = (torch.as_tensor(a, device=device) for a in (shapes.X_val, shapes.y_val))
X_test, y_test = (torch.as_tensor(a, device=device) for a in (shapes.X_test, shapes.y_test))
print(f"device: {device.type}; train {tuple(X_train.shape)}, val {len(y_val)}, test {len(y_test)}")
print(f"part 5 target: test accuracy >= {TARGET:.2f} within {BUDGET_S} s of training")

# %% [markdown]
# ## The data
#
# The course's procedural shapes: 32x32 colour images of five shapes (disc, square, triangle,
# plus, ring), each either in one colour or striped in two. The class is the pair (shape,
# texture), ten classes in all; colours, position, size, rotation, background and noise vary at
# random and carry no information. A model has to see outlines *and* textures, which makes the
# task harder than it looks: chance is 10%.
#
# The whole data set is moved to the device once, above. Batches are then index selections on
# the device, and nothing is copied from the host during training.

# %%
show_images(shapes.X_train[:20], [SHAPE_CLASSES[i] for i in shapes.y_train[:20]], ncols=10)
plt.show()

# %% [markdown]
# ## Part 1: the training step (18 points)
#
# One step of mini-batch stochastic gradient descent on a batch $(x, y)$ with
# $x \in \mathbb{R}^{N \times C \times H \times W}$ and labels $y \in \{0, \dots, K-1\}^N$:
#
# $$L(\theta) = \frac{1}{N} \sum_{i=1}^{N} -\log \operatorname{softmax}(f_\theta(x_i))_{y_i},
# \qquad \theta \leftarrow \text{optimizer}(\theta, \nabla_\theta L).$$
#
# Write `train_step(model, x, y, optimizer)`:
# put the model in training mode (batch norm uses the batch's statistics), compute the logits
# and the mean cross-entropy, clear the old gradients, back-propagate, take the optimizer's
# step, and return `(loss, correct)`: the loss of this forward pass as a Python float and the
# number of examples the logits classified right as a Python int.
#
# (Converting to Python numbers waits for the GPU to finish the step. `cnnkit.train` keeps the
# sums on the device instead; for this assignment the simple way is fine.)

# %% nb="solution step"
def train_step(model, x, y, optimizer):
    """One optimisation step on the batch x (N, C, H, W), y (N,); returns (loss: float, correct: int)."""
    ### BEGIN SOLUTION
    model.train()
    logits = model(x)
    loss = F.cross_entropy(logits, y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.item(), int((logits.detach().argmax(1) == y).sum())
    ### END SOLUTION


# %% nb="tests step__tests 10"
# A step returns the loss before the update and the count of right answers, and lowers the loss;
# then a small network must overfit 8 images to 100% with your step alone.
with quiet():
    torch.manual_seed(0)
    _m = _tiny()
    _x, _y = torch.rand(16, 3, 8, 8), torch.arange(16) % 10
    _opt = torch.optim.SGD(_m.parameters(), lr=0.5)
    with torch.no_grad():
        _logits = _m(_x)
    _before = F.cross_entropy(_logits, _y).item()
    with no_calls_to(cnnkit.train, name="train_step"):
        _out = train_step(_m, _x, _y, _opt)
    assert isinstance(_out, tuple) and len(_out) == 2, (
        f"train_step: expected a tuple (loss, correct), got {type(_out).__name__}")
    check_close("train_step loss", float(_out[0]), _before, tol=1e-5,
                hint="return the loss of the forward pass you back-propagated (before the update), as a float")
    check_close("train_step correct", float(_out[1]), float((_logits.argmax(1) == _y).sum()), tol=1e-9,
                hint="count the examples whose largest logit is at the true label")
    with torch.no_grad():
        _after = F.cross_entropy(_m(_x), _y).item()
    assert _after < _before, (f"train_step: the loss on the same batch went from {_before:.4f} to {_after:.4f} "
                              "after the step; did you call loss.backward() and optimizer.step()?")

    torch.manual_seed(1)
    _m = _tiny()
    _x, _y = torch.rand(8, 3, 8, 8), torch.arange(8)
    _opt = torch.optim.Adam(_m.parameters(), lr=0.02)
    with no_calls_to(cnnkit.train, name="train_step"):
        for _ in range(150):
            train_step(_m, _x, _y, _opt)
    with torch.no_grad():
        _acc = (_m(_x).argmax(1) == _y).float().mean().item()
    assert _acc == 1.0, (f"train_step: after 150 steps on the same 8 images the accuracy is {_acc:.3f}, "
                         "expected 1.0; are the gradients cleared before each backward pass?")

# %% nb="tests step__hidden 8"
# Hidden tests: training mode, and gradients that do not pile up across steps.
### BEGIN HIDDEN TESTS
with quiet():
    torch.manual_seed(2)
    _m = _tiny(bn=True).eval()
    _x, _y = torch.rand(6, 3, 8, 8), torch.arange(6)
    _opt = torch.optim.SGD(_m.parameters(), lr=0.0)
    with no_calls_to(cnnkit.train, name="train_step"):
        train_step(_m, _x, _y, _opt)
    assert _m.training, "train_step: the model should be left in training mode (call model.train())"
    assert not torch.equal(_m[1].running_mean, torch.zeros(8)), (
        "train_step: batch norm's running statistics did not move: the step must run in training mode")
    _x2, _y2 = torch.rand(6, 3, 8, 8), torch.arange(6)
    with no_calls_to(cnnkit.train, name="train_step"):
        train_step(_m, _x2, _y2, _opt)
    _got = [p.grad.clone() for p in _m.parameters()]
    _m.zero_grad()
    F.cross_entropy(_m(_x2), _y2).backward()
    for _g, _p in zip(_got, _m.parameters()):
        check_close("train_step gradient of the second step", _g, _p.grad, tol=1e-5,
                    hint="clear the gradients (optimizer.zero_grad()) before loss.backward()")
### END HIDDEN TESTS

# %% [markdown]
# ## Part 2: evaluation (14 points)
#
# Write `evaluate(model, X, y, batch_size=256)` that returns the mean cross-entropy (nats per
# example) and the accuracy (a fraction) of the model on all of `X` (N, C, H, W), `y` (N,).
#
# - Evaluation mode (`model.eval()`): batch norm then uses its running statistics, so the
#   answer for one image does not depend on the others in its batch. Put the model back in the
#   mode it was in when you are done.
# - No gradients: `torch.no_grad()` saves the memory of the graph.
# - Batch by batch, so a large test set fits in memory; the mean is over **examples**, not
#   over batches (the last batch can be smaller).

# %% nb="solution evaluate"
def evaluate(model, X, y, batch_size=256):
    """(mean loss in nats per example, accuracy as a fraction) of model on X (N, ...), y (N,)."""
    ### BEGIN SOLUTION
    was_training = model.training
    model.eval()
    total_loss, correct = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(y), batch_size):
            logits = model(X[i:i + batch_size])
            total_loss += F.cross_entropy(logits, y[i:i + batch_size], reduction="sum").item()
            correct += int((logits.argmax(1) == y[i:i + batch_size]).sum())
    model.train(was_training)
    return total_loss / len(y), correct / len(y)
    ### END SOLUTION


# %% nb="tests evaluate__tests 8"
# A known case: logits equal to the inputs (an identity layer), three examples in batches of 2.
with quiet():
    _lin = nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        _lin.weight.copy_(torch.eye(2))
    _X = torch.tensor([[2.0, 0.0], [0.0, 1.0], [3.0, 0.0]])
    _Y = torch.tensor([0, 0, 0])
    with no_calls_to(cnnkit.train, name="evaluate"):
        _res = evaluate(_lin, _X, _Y, batch_size=2)
    assert isinstance(_res, tuple) and len(_res) == 2, (
        f"evaluate: expected a tuple (loss, accuracy), got {type(_res).__name__}")
    _expected_loss = np.mean([np.log(1 + np.exp(-2.0)), np.log(1 + np.exp(1.0)), np.log(1 + np.exp(-3.0))])
    check_close("evaluate accuracy", float(_res[1]), 2 / 3, tol=1e-9, hint="a fraction of all examples, not a percentage")
    check_close("evaluate loss", float(_res[0]), _expected_loss, tol=1e-6,
                hint="sum the losses of all examples (reduction='sum') and divide by N, not by the number of batches")

# %% nb="tests evaluate__hidden 6"
# Hidden tests: evaluation mode, the mode restored, no gradients.
### BEGIN HIDDEN TESTS
with quiet():
    torch.manual_seed(3)
    _m = _tiny(bn=True)
    with torch.no_grad():
        _m[1].running_mean.fill_(0.3)
        _m[1].running_var.fill_(2.0)
    _X, _Y = torch.rand(10, 3, 8, 8), torch.arange(10)
    _m.eval()
    with torch.no_grad():
        _ref = F.cross_entropy(_m(_X), _Y).item()
    _m.train()
    with no_calls_to(cnnkit.train, name="evaluate"):
        _l, _a = evaluate(_m, _X, _Y, batch_size=3)
    check_close("evaluate loss of a batch-norm model", float(_l), _ref, tol=1e-5, hint="call model.eval() first")
    assert _m.training, "evaluate: put the model back in training mode if that is how you found it"
    _m.eval()
    with no_calls_to(cnnkit.train, name="evaluate"):
        evaluate(_m, _X, _Y)
    assert not _m.training, "evaluate: a model given in eval mode should stay in eval mode"
    assert all(p.grad is None for p in _m.parameters()), "evaluate: compute no gradients (torch.no_grad())"
### END HIDDEN TESTS

# %% [markdown]
# ## Part 3: the training loop (20 points)
#
# Write `train_model(model, X_train, y_train, X_val, y_val, epochs, lr, batch_size=64,
# max_seconds=None, seed=0)` that trains with your `train_step` and returns a history:
#
# ```python
# {"train_loss": [...], "train_acc": [...], "val_loss": [...], "val_acc": [...], "stopped_early": False}
# ```
#
# one entry per epoch: the training loss and accuracy averaged over the epoch's examples (as the
# model changed during the epoch) and your `evaluate` on the validation data at its end.
#
# - The data already lie on the device. Each epoch, draw a new order of the examples from a
#   `torch.Generator` seeded once with `seed` (same seed, same run) and take the batches as index
#   selections `X_train[idx]`.
# - Optimizer: SGD with momentum 0.9 (Nesterov) and weight decay $5 \cdot 10^{-4}$. Schedule:
#   the "one-cycle" learning rate, which rises over the first 20% of the steps to `lr` and then
#   falls towards 0 (`torch.optim.lr_scheduler.OneCycleLR(..., total_steps=..., pct_start=0.2)`,
#   stepped after every batch).
# - `max_seconds`: after any step, if more than this many seconds have passed since training
#   began, finish the epoch's bookkeeping (record its entries), set `"stopped_early": True` and
#   stop. This is how a CPU run stays bounded.

# %% nb="solution loop"
def train_model(model, X_train, y_train, X_val, y_val, epochs, lr, batch_size=64, max_seconds=None, seed=0):
    """Train model with train_step; returns the history dict described above."""
    ### BEGIN SOLUTION
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, nesterov=True, weight_decay=5e-4)
    steps = epochs * math.ceil(len(y_train) / batch_size)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps, pct_start=0.2)
    generator = torch.Generator().manual_seed(seed)
    history = {"train_loss": [], "train_acc": [], "val_loss": [], "val_acc": [], "stopped_early": False}
    start = time.perf_counter()
    for _ in range(epochs):
        order = torch.randperm(len(y_train), generator=generator).to(X_train.device)
        total_loss, correct, seen = 0.0, 0, 0
        for i in range(0, len(order), batch_size):
            idx = order[i:i + batch_size]
            loss, right = train_step(model, X_train[idx], y_train[idx], optimizer)
            scheduler.step()
            total_loss += loss * len(idx)
            correct += right
            seen += len(idx)
            if max_seconds is not None and time.perf_counter() - start > max_seconds:
                history["stopped_early"] = True
                break
        history["train_loss"].append(total_loss / seen)
        history["train_acc"].append(correct / seen)
        val_loss, val_acc = evaluate(model, X_val, y_val)
        history["val_loss"].append(val_loss)
        history["val_acc"].append(val_acc)
        if history["stopped_early"]:
            break
    return history
    ### END SOLUTION


# %% nb="tests loop__tests 12"
# A tiny, easy problem (bright vs dark images): three epochs must give a full history and learn it.
with quiet():
    torch.manual_seed(4)
    _Xs = torch.rand(96, 3, 8, 8) * 0.5
    _Ys = torch.arange(96) % 2
    _Xs[_Ys == 1] += 0.5
    _m = _tiny(k=2)
    with no_calls_to(cnnkit.train, name="train_model"):
        _h = train_model(_m, _Xs[:64], _Ys[:64], _Xs[64:], _Ys[64:], epochs=3, lr=0.1, batch_size=16)
    assert isinstance(_h, dict), f"train_model: expected a dict, got {type(_h).__name__}"
    for _k in ("train_loss", "train_acc", "val_loss", "val_acc"):
        assert _k in _h and len(_h[_k]) == 3, f"train_model: history[{_k!r}] should hold 3 entries (one per epoch)"
    assert _h.get("stopped_early") is False, "train_model: history['stopped_early'] should be False without a budget"
    assert all(0 <= a <= 1 for a in _h["train_acc"] + _h["val_acc"]), "train_model: accuracies are fractions in [0, 1]"
    assert _h["val_acc"][-1] == 1.0, (f"train_model: validation accuracy {_h['val_acc'][-1]:.3f} after 3 epochs "
                                      "on an easy problem, expected 1.0: is the optimizer stepping?")
    check_close("train_model val_loss (your evaluate at the end)", _h["val_loss"][-1],
                evaluate(_m, _Xs[64:], _Ys[64:])[0], tol=1e-5, hint="record evaluate(model, X_val, y_val) after each epoch")

# %% nb="tests loop__hidden 8"
# Hidden tests: the time budget, and the same seed giving the same run.
### BEGIN HIDDEN TESTS
with quiet():
    class _Slow(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = _tiny(k=2)

        def forward(self, x):
            time.sleep(0.01)
            return self.net(x)

    with no_calls_to(cnnkit.train, name="train_model"):
        _h = train_model(_Slow(), _Xs[:64], _Ys[:64], _Xs[64:], _Ys[64:], epochs=500, lr=0.1,
                         batch_size=8, max_seconds=0.2)
    assert _h["stopped_early"] is True, "train_model: max_seconds ran out, so history['stopped_early'] must be True"
    assert 1 <= len(_h["val_acc"]) < 50, (
        f"train_model: a 0.2 s budget should stop within the first epochs, got {len(_h['val_acc'])} epochs")
    _runs = []
    for _ in range(2):
        torch.manual_seed(5)
        _m = _tiny(k=2)
        with no_calls_to(cnnkit.train, name="train_model"):
            _runs.append(train_model(_m, _Xs[:64], _Ys[:64], _Xs[64:], _Ys[64:], epochs=2, lr=0.05, batch_size=16, seed=7))
    check_close("train_model: two runs with the same seed", _runs[0]["train_loss"], _runs[1]["train_loss"], tol=1e-6,
                hint="draw each epoch's order from a torch.Generator seeded with `seed`")
### END HIDDEN TESTS

# %% [markdown]
# ## Part 4: plain vs residual (15 points)
#
# He et al. (2015) observed that a deeper *plain* network can train *worse* than a shallower
# one, on the training data itself: not overfitting but an optimisation difficulty, the
# *degradation* problem. Shortcut connections, $y = \mathcal{F}(x) + x$, removed it.
#
# Run the comparison: build `CifarResNet(20, 10, residual, widths=WIDTHS)` twice, with
# `residual=False` and `residual=True`; before building each, call `seed_everything(0)` so both
# start from the same random state. Train each with your `train_model` on the first `CMP_TRAIN`
# training images for `CMP_EPOCHS` epochs with `lr=0.2`, and store the two histories in the
# dict `results` under `"plain"` and `"residual"`. The two networks have exactly the same
# parameters (the shortcuts here have none), so the only difference is the shortcuts.

# %% nb="solution compare"
results = {}
### BEGIN SOLUTION
for _name, _residual in (("plain", False), ("residual", True)):
    seed_everything(0)
    _net = CifarResNet(20, 10, _residual, widths=WIDTHS).to(device)
    results[_name] = train_model(_net, X_train[:CMP_TRAIN], y_train[:CMP_TRAIN], X_val, y_val,
                                 epochs=CMP_EPOCHS, lr=0.2)
### END SOLUTION

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 3.2))
plot_curves({k: v["train_loss"] for k, v in results.items()}, "epoch", "training loss", ax=axes[0])
plot_curves({k: v["val_acc"] for k, v in results.items()}, "epoch", "validation accuracy", ax=axes[1])
plt.show()
for _name, _h in results.items():
    print(f"{_name:9s} final training loss {_h['train_loss'][-1]:.2f}, validation accuracy {_h['val_acc'][-1]:.2f}")

# %% nb="tests compare__tests 10"
# Both networks trained for CMP_EPOCHS epochs, and the residual one learned something (chance is 0.10).
with quiet():
    assert isinstance(results, dict) and set(results) == {"plain", "residual"}, (
        f"results: expected the keys 'plain' and 'residual', got {sorted(results) if isinstance(results, dict) else results}")
    for _name, _h in results.items():
        assert len(_h["val_acc"]) == CMP_EPOCHS, (
            f"results[{_name!r}]: expected {CMP_EPOCHS} epochs of history, got {len(_h['val_acc'])}")
    assert results["residual"]["val_acc"][-1] > 0.15, (
        f"results['residual']: validation accuracy {results['residual']['val_acc'][-1]:.3f} is near chance (0.10)")

# %% nb="tests compare__hidden 5"
# Hidden test: two different runs, both stable at lr 0.2 (first-epoch loss below ln 10 + 0.7).
### BEGIN HIDDEN TESTS
with quiet():
    assert results["plain"]["train_loss"] != results["residual"]["train_loss"], (
        "results: the plain and the residual histories are identical: train two networks")
    for _name, _h in results.items():
        assert _h["train_loss"][0] < math.log(10) + 0.7, (
            f"results[{_name!r}]: first-epoch loss {_h['train_loss'][0]:.2f} suggests a diverging run (use lr=0.2)")
### END HIDDEN TESTS

# %% [markdown] nb="written compare_why 10"
# **Question.** What does your comparison show? Compare the two training losses (not only the
# validation accuracies) and say why that distinction matters for the degradation argument.
# Would you expect the gap to grow or shrink at depth 56, and with a longer budget? Why can
# such a short run mislead in either direction?
#
# *Your answer here.*
#
# === BEGIN MARK SCHEME ===
# The comparison concerns optimisation: with the same parameters and budget, the residual
# network reaches a lower *training* loss, so the gap is not overfitting (a regularisation story
# would show the plain net better on training data and worse on validation). At depth 56 the
# paper finds the plain net's training error higher still and the residual gap larger; with a
# longer budget plain-20 narrows the gap but plain-56 stays behind. A few epochs on a small
# subset measure mostly the speed of the first descent: noise between seeds, the warm-up and
# the learning rate can reverse or exaggerate a small gap, so one should repeat over seeds and
# train to convergence before concluding. Full marks: training-loss comparison, the link to
# degradation (optimisation, not overfitting), a reasoned prediction for depth/budget, and a
# caveat about short runs.
# === END MARK SCHEME ===

# %% [markdown]
# ## Part 5: a trained model (23 points)
#
# Train a model of your choice with your `train_model` so that its accuracy on the **test** set
# is at least `TARGET` (printed at the top), within `BUDGET_S` seconds of training (pass
# `max_seconds=BUDGET_S`). Store the model in `final_model` and its history in `final_history`.
# Choose on the validation set; look at the test set once.
#
# Hints: depth costs time on a CPU; a shallow residual network (`CifarResNet(8, 10, True,
# widths=WIDTHS)`) trained on all `N_TRAIN` images for a few epochs does it. Watch the
# training curve: if it is still falling steeply, more epochs help more than more layers.

# %% nb="solution final"
### BEGIN SOLUTION
seed_everything(0)
final_model = CifarResNet(8, 10, True, widths=WIDTHS).to(device)
final_history = train_model(final_model, X_train, y_train, X_val, y_val, epochs=5 if ON_CPU else 20,
                            lr=0.2, batch_size=64, max_seconds=BUDGET_S)
### END SOLUTION

# %%
plot_curves({"train": final_history["train_acc"], "val": final_history["val_acc"]}, "epoch", "accuracy")
plt.show()
print(f"{len(final_history['val_acc'])} epochs, stopped early: {final_history['stopped_early']}, "
      f"validation accuracy {final_history['val_acc'][-1]:.2f}")

# %% nb="tests final__tests 15"
# The test accuracy of final_model, measured with the course's evaluate, must reach TARGET.
with quiet():
    assert isinstance(final_model, nn.Module), f"final_model: expected a torch module, got {type(final_model).__name__}"
    _loss, _acc = cnnkit.train.evaluate(final_model, (X_test, y_test), device=device)
    assert _acc >= TARGET, (f"final_model: test accuracy {_acc:.3f} is below the target {TARGET:.2f}. "
                            "Train longer (more epochs), on all N_TRAIN images, or tune the learning rate")
    assert isinstance(final_history, dict) and len(final_history.get("val_acc", [])) >= 1, (
        "final_history: expected the dict train_model returned")

# %% nb="tests final__hidden 8"
# Hidden test: fresh images the model has never seen, drawn with another seed.
### BEGIN HIDDEN TESTS
with quiet():
    _fresh = load_shapes(0, 0, 1000, seed=123)
    _loss, _acc = cnnkit.train.evaluate(final_model, (_fresh.X_test, _fresh.y_test), device=device)
    assert _acc >= TARGET - 0.05, (
        f"final_model: accuracy {_acc:.3f} on new images is well below the target: it may fit the test set only")
### END HIDDEN TESTS
