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
# 5. **A trained model** (23): reach the stated accuracy within the stated budget of epochs.
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
# **How the tests see your code.** A test hands your functions small models and data it makes
# itself and compares what they do with the same computation done by the test; in part 5 it
# measures your model's accuracy on new images it draws itself. At grading time the tests run outside your notebook: your models stay in your
# notebook and only their weights and outputs go to the grader.
#
# **Budget.** The whole notebook runs on a laptop CPU in about two minutes, and on a GPU in
# seconds. The data and model sizes are the same on every device, and every budget is counted in
# work (epochs), not in seconds: your grade does not depend on how fast or how busy the machine
# that grades it is.

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
from cnnkit.grading import check_close, course_solutions, no_calls_to, passed, quiet, student_module, using
from cnnkit.models.cifar import CifarResNet
from cnnkit.plots import plot_curves, show_images

rng = seed_everything(0)
device = pick_device()
make_repeatable(device)  # on the CPU: one thread, deterministic kernels (see cnnkit.device)

# Sizes: the same on every device, so that a grade does not depend on the machine (a GPU only
# makes the notebook faster).
N_TRAIN, N_VAL, N_TEST = 3000, 500, 1000
# Part 4: 3000 images for 4 epochs (188 steps). At 2000 images for 3 epochs the residual
# network's loss on new images ranged 1.98-2.30 over thread counts and convolution kernels, at the
# edge of the test's ln 10 - 0.1 = 2.20; here it is 1.29-1.47 (and the plain one's 1.8-2.3).
CMP_TRAIN, CMP_EPOCHS = 3000, 4
WIDTHS = (8, 16, 32)      # channels of the three stages
# Part 5. The hints' recipe (10 epochs) reached 0.48-0.65 on new images over seeds 0-4 and one or
# two threads, 0.55-0.69 with 15 epochs (tools/a4_recipe_seeds.py, 4 December 2026): float rounding
# alone moves a run by more than 0.1, so the target sits well below the lowest run. One epoch, or
# 300 images, reached 0.11-0.18 (chance is 0.10).
TARGET = 0.40             # accuracy on new images part 5 must reach
FINAL_MAX_EPOCHS = 15     # part 5's budget: epochs over X_train


# Helpers of the tests (they build models where your code runs and read back plain data).
def _tiny(k=10, bn=False, nn=nn):
    """A small network on 8x8 images that the tests train in a fraction of a second, built with
    the layers of `nn` (the tests pass the torch.nn your code runs with: student_module)."""
    layers = [nn.Conv2d(3, 8, 3, padding=1)] + ([nn.BatchNorm2d(8)] if bn else []) + [
        nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(32, k)]
    return nn.Sequential(*layers)


def _state(model):
    """A snapshot of model's weights and buffers: {name: CPU tensor}."""
    return {k: torch.as_tensor(v).detach().cpu().clone() for k, v in model.state_dict().items()}


def _logits_of(model, X, batch_size=250):
    """model's logits (N, K) for X (N, C, H, W) in evaluation mode, batch by batch, on the CPU."""
    was_training = model.training
    model.eval()
    model.requires_grad_(False)
    try:
        out = [torch.as_tensor(model(X[i:i + batch_size].to(device))).detach().cpu()
               for i in range(0, len(X), batch_size)]
    finally:
        model.requires_grad_(True)
        model.train(was_training)
    return torch.cat(out)


shapes = load_shapes(N_TRAIN, N_VAL, N_TEST, seed=0)
X_train, y_train = (torch.as_tensor(a, device=device) for a in (shapes.X_train, shapes.y_train))
X_val, y_val = (torch.as_tensor(a, device=device) for a in (shapes.X_val, shapes.y_val))
X_test, y_test = (torch.as_tensor(a, device=device) for a in (shapes.X_test, shapes.y_test))
print(f"device: {device.type}; train {tuple(X_train.shape)}, val {len(y_val)}, test {len(y_test)}")
print(f"part 5 target: accuracy >= {TARGET:.2f} on new images, at most {FINAL_MAX_EPOCHS} epochs of X_train")

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
# sums on the device instead; for this assignment the simple way is fine.) Whether you clear
# the gradients before the backward pass or after the step is up to you.

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
# Two steps of your train_step on a small network with batch norm, handed over in evaluation
# mode, against the same two steps taken here: the returned loss and count, the mode, and every
# weight and batch-norm statistic after each step must agree. The network is built where your
# code runs; the test reads back its weights.
def _check_steps(seed, n, make_optimizer, steps=2):
    torch.manual_seed(seed)
    ref = _tiny(bn=True)
    init = _state(ref)
    weights = [name for name, _ in ref.named_parameters()]
    ref_opt = make_optimizer(torch.optim, ref.parameters())
    mine = _tiny(bn=True, nn=student_module("torch.nn"))
    mine.load_state_dict(init)
    mine.eval()
    opt = make_optimizer(student_module("torch.optim"), mine.parameters())
    for k in range(steps):
        which = "the first step" if k == 0 else "a second step"
        x, y = torch.rand(n, 3, 8, 8), torch.randint(0, 10, (n,))
        before = _state(mine)
        with no_calls_to(cnnkit.train, name="train_step"):
            out = train_step(mine, x, y, opt)
        ref.train()
        logits = ref(x)
        loss = F.cross_entropy(logits, y)
        ref_opt.zero_grad()
        loss.backward()
        ref_opt.step()
        assert isinstance(out, tuple) and len(out) == 2, (
            f"train_step: expected a tuple (loss, correct), got {type(out).__name__}")
        assert mine.training, ("train_step: the model came in evaluation mode and is still in it after your step: "
                               "call model.train() first (batch norm must use the batch's statistics)")
        got_loss = float(out[0])
        hint = "return the loss of the forward pass you back-propagated (before the update), as a float"
        if abs(got_loss - n * loss.item()) <= 1e-4 * n:
            hint = f"this is the sum over the {n} examples: use the mean cross-entropy (F.cross_entropy's default)"
        check_close(f"train_step loss ({which})", got_loss, loss.item(), tol=1e-5, hint=hint)
        check_close(f"train_step correct ({which})", float(out[1]), float((logits.argmax(1) == y).sum()), tol=1e-9,
                    hint="count the examples whose largest logit is at the true label")
        after = _state(mine)
        assert any(not torch.equal(after[w], before[w]) for w in weights), (
            f"train_step: no weight changed in {which}: call loss.backward() and then optimizer.step()")
        hint = ("one step: back-propagate this batch's mean cross-entropy, then optimizer.step()" if k == 0 else
                "the first step agreed, the second did not: the gradients piled up; clear them "
                "(optimizer.zero_grad()) before each loss.backward()")
        for key, value in _state(ref).items():
            check_close(f"train_step: {key} after {which}", after[key], value, tol=1e-5, atol=1e-7, hint=hint)


with quiet():
    _check_steps(0, 16, lambda optim, params: optim.SGD(params, lr=0.1, momentum=0.9))

# %% nb="tests step__hidden 8"
# Hidden tests: other batches (an odd size), three steps, another optimizer.
### BEGIN HIDDEN TESTS
with quiet():
    _check_steps(11, 7, lambda optim, params: optim.Adam(params, lr=0.01), steps=3)
    _check_steps(12, 5, lambda optim, params: optim.SGD(params, lr=0.3))
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
# A small network with batch norm (running statistics set away from 0 and 1), handed over in
# training mode, on N examples whose last batch is smaller: the loss and the accuracy must be
# those of evaluation mode over all N examples, computed here; the mode is restored after.
import copy


def _check_evaluate(seed, n, batch_size=None):
    torch.manual_seed(seed)
    ref = _tiny(bn=True)
    with torch.no_grad():
        ref[1].running_mean.uniform_(0.2, 0.6)
        ref[1].running_var.uniform_(1.5, 3.0)
    X, Y = torch.rand(n, 3, 8, 8), torch.randint(0, 10, (n,))
    mine = _tiny(bn=True, nn=student_module("torch.nn"))
    mine.load_state_dict(_state(ref))
    mine.train()
    kwargs = {} if batch_size is None else {"batch_size": batch_size}
    with no_calls_to(cnnkit.train, name="evaluate"):
        got = evaluate(mine, X, Y, **kwargs)
    assert isinstance(got, tuple) and len(got) == 2, f"evaluate: expected a tuple (loss, accuracy), got {type(got).__name__}"
    bs = batch_size or 256
    batches = [(X[i:i + bs], Y[i:i + bs]) for i in range(0, n, bs)]

    def per_example(model):
        with torch.no_grad():
            out = [(F.cross_entropy(model(x), y, reduction="sum").item(), int((model(x).argmax(1) == y).sum()))
                   for x, y in batches]
        return sum(l for l, _ in out) / n, sum(c for _, c in out) / n

    ref.eval()
    loss, acc = per_example(ref)
    with torch.no_grad():
        batch_loss = float(np.mean([F.cross_entropy(ref(x), y).item() for x, y in batches]))
        batch_acc = float(np.mean([(ref(x).argmax(1) == y).float().mean().item() for x, y in batches]))
    train_loss, train_acc = per_example(copy.deepcopy(ref).train())

    def near(a, b):
        return abs(a - b) <= 1e-5 * max(1.0, abs(b))

    got_loss, got_acc = float(got[0]), float(got[1])
    eval_hint = "call model.eval() first: in training mode batch norm uses each batch's own statistics"
    batch_hint = (f"you averaged the {len(batches)} batches' means, but the last batch is smaller: add up "
                  f"over all {n} examples (reduction='sum' for the loss) and divide by N")
    hint = "the mean cross-entropy over all N examples, in evaluation mode"
    if near(got_loss, train_loss) and not near(loss, train_loss):
        hint = eval_hint
    elif near(got_loss, batch_loss) and not near(loss, batch_loss):
        hint = batch_hint
    check_close("evaluate loss", got_loss, loss, tol=1e-5, hint=hint)
    hint = "the fraction of all N examples whose largest logit is at the true label"
    if near(got_acc, 100 * acc) and acc > 0:
        hint = "a fraction of all examples, not a percentage"
    elif near(got_acc, train_acc) and not near(acc, train_acc):
        hint = eval_hint
    elif near(got_acc, batch_acc) and not near(acc, batch_acc):
        hint = batch_hint
    check_close("evaluate accuracy", got_acc, acc, tol=1e-9, hint=hint)
    assert mine.training, "evaluate: the model came in training mode: put it back in that mode when you are done"
    mine.eval()
    with no_calls_to(cnnkit.train, name="evaluate"):
        evaluate(mine, X, Y, **kwargs)
    assert not mine.training, "evaluate: a model handed over in evaluation mode should stay in evaluation mode"


with quiet():
    _check_evaluate(3, 10, batch_size=4)

# %% nb="tests evaluate__hidden 6"
# Hidden tests: other sizes, and the default batch size.
### BEGIN HIDDEN TESTS
with quiet():
    _check_evaluate(13, 13, batch_size=5)
    _check_evaluate(14, 300)
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
#   `torch.Generator` seeded once with `seed` (same seed, same run; another seed, another
#   order) and take the batches as index selections `X_train[idx]`.
# - Optimizer: SGD with momentum 0.9 (Nesterov) and weight decay $5 \cdot 10^{-4}$. Schedule:
#   the "one-cycle" learning rate, which rises over the first 20% of the steps to `lr` and then
#   falls towards 0 (`torch.optim.lr_scheduler.OneCycleLR(..., total_steps=..., pct_start=0.2)`,
#   stepped after every batch).
# - `max_seconds`: after any step, if more than this many seconds have passed since training
#   began, finish the epoch's bookkeeping (record its entries), set `"stopped_early": True` and
#   stop. This is how a CPU run stays bounded.
#
# The tests check what they can check whatever order your generator draws: with one batch per
# epoch the order cannot change the run, so they replay it exactly; with a learning rate of 0
# the model stays put, so an epoch's averages are those of the whole training set.

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
# The loop is judged on its own, by what it hands its train_step and evaluate: while the test
# runs, `train_step` and `evaluate` are the test's own stand-ins (your part 1 and 2 code is not
# used here, so a mistake there is not charged again). The stand-in step records each batch
# (which examples, the optimizer's settings and learning rate) and answers with a loss and a count
# that it chose; the test then checks each epoch covered every example once, the same seed gave
# the same order and another seed another, the optimizer and its one-cycle schedule step by step,
# the history's averages over the epoch's examples, and a budget that stops the run.
_KEYS = ("train_loss", "train_acc", "val_loss", "val_acc")


class _Recorder:
    """Stand-ins for train_step and evaluate that record what the loop hands them."""

    def __init__(self, n_val, pause=0.0):
        self.n_val, self.pause = n_val, pause
        self.batches, self.settings, self.losses, self.rights, self.evaluations = [], [], [], [], []

    def step(self, model, x, y, optimizer):
        idx = torch.as_tensor(x)[:, 0, 0, 0].round().long().tolist()
        group = optimizer.param_groups[0]
        self.settings.append({k: group[k] for k in ("lr", "momentum", "nesterov", "weight_decay")})
        self.batches.append(idx)
        loss = 0.01 * sum(i + 1 for i in idx) / len(idx)   # each example's "loss" is 0.01 * (its index + 1)
        right = sum(1 for i in idx if i % 3 == 0)
        self.losses.append(loss)
        self.rights.append(right)
        if self.pause:
            time.sleep(self.pause)
        return loss, right

    def evaluate(self, model, X, y, *args, **kwargs):
        if len(y) != self.n_val:
            return 9.0, 0.0  # not the validation data: nothing the history should record
        k = len(self.evaluations) + 1
        self.evaluations.append((0.1 * k + 0.01, 0.05 * k))
        return self.evaluations[-1]


def _indexed(n):
    """n examples whose every pixel holds the example's index, and labels 0, 1, 0, ..."""
    return torch.arange(n, dtype=torch.float32).view(n, 1, 1, 1).expand(n, 1, 2, 2).contiguous(), torch.arange(n) % 2


def _loop(n, n_val, epochs, lr, batch_size, seed=0, max_seconds=None, pause=0.0):
    """train_model on indexed data, with the recording stand-ins: (history, recorder)."""
    rec = _Recorder(n_val, pause)
    X, Y = _indexed(n)
    Xv, Yv = _indexed(n_val)
    model = student_module("torch.nn").Linear(1, 1)
    with no_calls_to(cnnkit.train, name="train_model"), using(train_step=rec.step, evaluate=rec.evaluate):
        history = train_model(model, X, Y, Xv, Yv, epochs=epochs, lr=lr, batch_size=batch_size, max_seconds=max_seconds,
                              seed=seed)
    assert isinstance(history, dict), f"train_model: expected a dict, got {type(history).__name__}"
    return history, rec


def _expected_schedule(lr, steps):
    """(lr, momentum) of every step of SGD(lr, momentum=0.9, nesterov=True, weight_decay=5e-4) under
    OneCycleLR(max_lr=lr, total_steps=steps, pct_start=0.2), as the step reads them."""
    w = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([w], lr=lr, momentum=0.9, nesterov=True, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.2)
    out = []
    for _ in range(steps):
        out.append((opt.param_groups[0]["lr"], opt.param_groups[0]["momentum"]))
        opt.step()
        sched.step()
    return out


def _check_loop(n, n_val, epochs, lr, batch_size, seeds, budget):
    h, rec = _loop(n, n_val, epochs, lr, batch_size, seed=seeds[0])
    for key in _KEYS:
        assert key in h and len(h[key]) == epochs, f"train_model: history[{key!r}] should hold {epochs} entries (one per epoch)"
    assert h.get("stopped_early") is False, "train_model: history['stopped_early'] should be False without a budget"
    per_epoch = math.ceil(n / batch_size)
    assert len(rec.batches) == epochs * per_epoch, (
        f"train_model: {epochs} epochs of {n} examples in batches of {batch_size} are {epochs * per_epoch} calls of "
        f"train_step(model, x, y, optimizer), got {len(rec.batches)}")
    for e in range(epochs):
        batches = rec.batches[e * per_epoch:(e + 1) * per_epoch]
        assert sorted(i for b in batches for i in b) == list(range(n)) and all(len(b) == batch_size for b in batches[:-1]), (
            f"train_model: epoch {e + 1} should take every example once, in batches of batch_size={batch_size} "
            "(a new order each epoch, the last batch smaller)")
    got = rec.settings
    assert all(s["nesterov"] is True and abs(s["weight_decay"] - 5e-4) < 1e-12 for s in got), (
        "train_model: the optimizer should be SGD(model.parameters(), lr, momentum=0.9, nesterov=True, weight_decay=5e-4)")
    want = _expected_schedule(lr, epochs * per_epoch)
    check_close("train_model: the learning rate and momentum of each step", [[s["lr"], s["momentum"]] for s in got],
                [list(w) for w in want], tol=1e-6, atol=1e-12,
                hint="step OneCycleLR(max_lr=lr, total_steps=epochs * ceil(N / batch_size), pct_start=0.2) once after "
                     "every train_step")
    hint = (f"average over the epoch's {n} examples, not over its batches (batches of {batch_size}, the last one "
            "smaller): add loss * len(batch) and the counts of right answers, then divide by the number of examples")
    sizes = [len(b) for b in rec.batches]
    losses = [sum(l * m for l, m in zip(rec.losses[e * per_epoch:(e + 1) * per_epoch], sizes[e * per_epoch:]))
              / n for e in range(epochs)]
    rights = [sum(rec.rights[e * per_epoch:(e + 1) * per_epoch]) / n for e in range(epochs)]
    check_close("history['train_loss'] (the losses train_step returned)", h["train_loss"], losses, tol=1e-9, hint=hint)
    check_close("history['train_acc'] (the counts train_step returned)", h["train_acc"], rights, tol=1e-9, hint=hint)
    assert len(rec.evaluations) == epochs, (
        f"train_model: call evaluate(model, X_val, y_val) once at the end of each epoch: {len(rec.evaluations)} "
        f"calls for {epochs} epochs")
    check_close("history['val_loss'], history['val_acc'] (what evaluate returned)", [h["val_loss"], h["val_acc"]],
                [[v[0] for v in rec.evaluations], [v[1] for v in rec.evaluations]], tol=1e-9,
                hint="record evaluate(model, X_val, y_val) at the end of each epoch")

    orders = [_loop(n, n_val, 2, lr, batch_size, seed=s)[1].batches for s in (seeds[0], seeds[0], seeds[1])]
    assert orders[0] == orders[1], (
        f"train_model: two runs with seed={seeds[0]} took the examples in different orders: draw each epoch's order "
        "from one torch.Generator().manual_seed(seed), not from torch's global generator")
    assert orders[0] != orders[2], (
        f"train_model: seeds {seeds[0]} and {seeds[1]} gave the same run: the order must come from a generator "
        "seeded with `seed`")

    start = time.perf_counter()
    h, _ = _loop(n, n_val, 300, lr, 4, max_seconds=budget, pause=0.002)
    took = time.perf_counter() - start
    assert h.get("stopped_early") is True, (
        f"train_model: 300 epochs take longer than max_seconds={budget}, so the run must stop and set "
        "history['stopped_early'] = True")
    assert 1 <= len(h.get("val_acc", [])) < 300 and all(len(h[k]) == len(h["val_acc"]) for k in _KEYS), (
        "train_model: a run stopped by its budget records the epoch it stopped in, in every history list")
    assert took < budget + 5, (f"train_model: with max_seconds={budget} the call took {took:.1f} s by the grader's clock: "
                               "check the time after every step")


with quiet():
    _check_loop(30, 7, epochs=10, lr=0.1, batch_size=8, seeds=(7, 8), budget=0.2)

# %% nb="tests loop__hidden 8"
# Hidden tests: other sizes, epochs, learning rate, batch size, seeds and budget.
### BEGIN HIDDEN TESTS
with quiet():
    _check_loop(22, 5, epochs=12, lr=0.05, batch_size=5, seeds=(3, 1234), budget=0.3)
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
# training images for `CMP_EPOCHS` epochs with `lr=0.2`. Store the two trained networks in the
# dict `nets` and their histories in the dict `results`, both under `"plain"` and `"residual"`.
# The two networks have exactly the same parameters (the shortcuts here have none), so the only
# difference is the shortcuts.

# %% nb="solution compare"
results, nets = {}, {}
### BEGIN SOLUTION
for _name, _residual in (("plain", False), ("residual", True)):
    seed_everything(0)
    nets[_name] = CifarResNet(20, 10, _residual, widths=WIDTHS).to(device)
    results[_name] = train_model(nets[_name], X_train[:CMP_TRAIN], y_train[:CMP_TRAIN], X_val, y_val,
                                 epochs=CMP_EPOCHS, lr=0.2)
### END SOLUTION

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 3.2))
plot_curves({k: v["train_loss"] for k, v in results.items()}, "epoch", "training loss", ax=axes[0])
plot_curves({k: v["val_acc"] for k, v in results.items()}, "epoch", "validation accuracy", ax=axes[1])
plt.show()
print("the residual network ends with the lower training loss:",
      results["residual"]["train_loss"][-1] < results["plain"]["train_loss"][-1])

# %% nb="tests compare__tests 10"
# Each network is the CifarResNet-20 it should be: its weights, read back, loaded into one built
# here give the same outputs on new images; both trained CMP_EPOCHS epochs; and the residual one
# learned something: its loss on new images, computed here, is below that of guessing (ln 10).
# How well it learned depends on your train_step and train_model too: where they fail their own
# tests (charged in parts 1 and 3), this part asks only that training changed the weights.
import secrets


def _recheck_training_parts():
    """Your train_step and train_model against their visible tests, run again here quietly."""
    try:
        with quiet():
            _check_steps(0, 16, lambda optim, params: optim.SGD(params, lr=0.1, momentum=0.9))
            _check_loop(30, 7, epochs=10, lr=0.1, batch_size=8, seeds=(7, 8), budget=0.2)
    except Exception:  # noqa: BLE001 - any failure of those parts: they are charged there
        return False
    return True


def _training_parts_pass():
    """Whether parts 1 and 3 passed their tests (at grading time: as their own cells ran)."""
    return passed("step__tests", "step__hidden", "loop__tests", "loop__hidden", recheck=_recheck_training_parts)


def _check_compare(seed, n=256):
    assert isinstance(results, dict) and set(results) == {"plain", "residual"}, (
        f"results: expected the keys 'plain' and 'residual', got {sorted(results) if isinstance(results, dict) else results}")
    assert isinstance(nets, dict) and set(nets) == {"plain", "residual"}, (
        f"nets: expected the keys 'plain' and 'residual', got {sorted(nets) if isinstance(nets, dict) else nets}")
    fresh = load_shapes(0, 0, n, seed=seed)
    X, Y = torch.as_tensor(fresh.X_test), torch.as_tensor(fresh.y_test)
    logits, sizes = {}, {}
    for name, residual in (("plain", False), ("residual", True)):
        assert len(results[name]["val_acc"]) == CMP_EPOCHS, (
            f"results[{name!r}]: expected {CMP_EPOCHS} epochs of history, got {len(results[name]['val_acc'])}")
        ref = CifarResNet(20, 10, residual, widths=WIDTHS)
        weights = _state(nets[name])
        try:
            ref.load_state_dict(weights)
        except (RuntimeError, KeyError) as exc:
            raise AssertionError(f"nets[{name!r}]: its weights do not fit CifarResNet(20, 10, {residual}, widths=WIDTHS) "
                                 f"({str(exc).splitlines()[0][:200]})") from None
        sizes[name] = sum(weights[k].numel() for k, _ in ref.named_parameters())
        ref.eval()
        with torch.no_grad():
            logits[name] = ref(X)
        check_close(f"nets[{name!r}] outputs on new images", _logits_of(nets[name], X), logits[name], tol=1e-3, atol=1e-4,
                    hint=f"build it as CifarResNet(20, 10, residual={residual}, widths=WIDTHS) and train that network")
    assert sizes["plain"] == sizes["residual"], f"nets: the two networks should have the same parameters, got {sizes}"
    if not _training_parts_pass():
        for name, residual in (("plain", False), ("residual", True)):
            seed_everything(0)
            init = _state(CifarResNet(20, 10, residual, widths=WIDTHS))
            weights = _state(nets[name])
            assert any(not torch.equal(weights[k].float(), v.float()) for k, v in init.items() if k in weights), (
                f"nets[{name!r}]: its weights are those of a fresh CifarResNet after seed_everything(0): "
                "store the networks you trained")
        return logits, Y, False
    loss = F.cross_entropy(logits["residual"], Y).item()
    assert loss < math.log(10) - 0.1, (
        f"nets['residual']: loss {loss:.2f} on new images, no better than guessing (ln 10 = 2.30): "
        f"train it with your train_model for CMP_EPOCHS epochs at lr=0.2")
    return logits, Y, True


with quiet():
    _check_compare(secrets.randbits(62))

# %% nb="tests compare__hidden 5"
# Hidden test: other new images; both runs stable at lr 0.2 (their loss on new images below ln 10 + 0.7).
### BEGIN HIDDEN TESTS
with quiet():
    _logits, _Y, _judged = _check_compare(860_213_557_901, n=512)
    for _name, _z in (_logits.items() if _judged else ()):
        _loss = F.cross_entropy(_z, _Y).item()
        assert _loss < math.log(10) + 0.7, (
            f"nets[{_name!r}]: loss {_loss:.2f} on new images suggests a diverging run (use lr=0.2)")
### END HIDDEN TESTS

# %% [markdown]
# **Question (10 points, graded by hand).** What does your comparison show? Compare the two
# training losses (not only the validation accuracies) and say why that distinction matters for
# the degradation argument. Would you expect the gap to grow or shrink at depth 56, and with a
# longer budget? Why can such a short run mislead in either direction? Write your answer in the
# cell below.

# %% [markdown] nb="written compare_why 10"
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
# Write `train_final(seed=0)`: build a model of your choice, train it with your `train_model` on
# `X_train` (choose on `X_val`), and return `(model, history)` with the history of that
# training. The test calls it once and then measures the returned model's accuracy on new
# images it draws itself. Your function must
#
# - train for at most `FINAL_MAX_EPOCHS` epochs over `X_train` in all (printed at the top); the
#   test reads the number of epochs from the history you return (one entry per epoch);
# - give a model whose accuracy on new images is at least `TARGET`.
#
# The budget is counted in epochs, not seconds, so the same code earns the same grade on a slow,
# busy or fast machine. For the same reason, do not pass `max_seconds` here: a run cut short by
# the clock trains less on a slower machine, and its model is then a different one.
#
# Hints: a shallow residual network (`CifarResNet(8, 10, True, widths=WIDTHS)`) trained on all
# `N_TRAIN` images for about ten epochs does it, in well under a minute of a laptop's CPU. Watch
# the training curve: if it is still falling steeply, more epochs help more than more layers.

# %% nb="solution final"
def train_final(seed=0):
    """Build and train the model of part 5; returns (model, history)."""
    ### BEGIN SOLUTION
    seed_everything(seed)
    model = CifarResNet(8, 10, True, widths=WIDTHS).to(device)
    history = train_model(model, X_train, y_train, X_val, y_val, epochs=10, lr=0.2, batch_size=64, seed=seed)
    return model, history
    ### END SOLUTION


# %%
final_model, final_history = train_final()
print(f"validation accuracy at least {TARGET:.2f}: {evaluate(final_model, X_val, y_val)[1] >= TARGET}")

# %%
plot_curves({"train": final_history["train_acc"], "val": final_history["val_acc"]}, "epoch", "accuracy")
plt.show()
print(f"{len(final_history['val_acc'])} epochs (budget {FINAL_MAX_EPOCHS}), stopped early: {final_history['stopped_early']}")

# %% nb="tests final__tests 15"
# train_final() within FINAL_MAX_EPOCHS epochs (as its history records them), and its model's
# accuracy, counted here from its outputs on 2000 new images drawn with a seed your code never
# sees, at least TARGET.
# At grading time train_final trains with the course's train_model (and its train_step and
# evaluate), so that a mistake in parts 1-3 is charged there only; in your notebook, with yours.
import secrets

def _accuracy_on_new_images(model, seed, n=2000):
    fresh = load_shapes(0, 0, n, seed=seed)
    logits = _logits_of(model, torch.as_tensor(fresh.X_test))
    return (logits.argmax(1) == torch.as_tensor(fresh.y_test)).float().mean().item()


def _final_within_budget():
    """train_final's model, after checking its history's length against FINAL_MAX_EPOCHS."""
    with course_solutions(train_final, "train_model"):
        out = train_final()
    assert isinstance(out, tuple) and len(out) == 2, (
        f"train_final: expected a tuple (model, history), got {type(out).__name__}")
    history = out[1]
    epochs = history.get("val_acc") if isinstance(history, dict) else None
    assert isinstance(epochs, list) and epochs, (
        "train_final: the second value returned should be the history train_model returned (a dict whose "
        f"'val_acc' has one entry per epoch), got {type(history).__name__}")
    assert len(epochs) <= FINAL_MAX_EPOCHS, (
        f"train_final: trained {len(epochs)} epochs, over the budget of {FINAL_MAX_EPOCHS}: train fewer epochs")
    return out[0]


with quiet():
    _final_model = _final_within_budget()
    _acc = _accuracy_on_new_images(_final_model, secrets.randbits(62))
    assert _acc >= TARGET, (f"train_final: accuracy {_acc:.3f} on new images is below the target {TARGET:.2f}. " + (
        "Train longer (more epochs), on all N_TRAIN images, or tune the learning rate" if _training_parts_pass() else
        "Your train_step or train_model fails its own tests: fix those first (at grading time this part "
        "trains with the course's train_model)"))

# %% nb="tests final__hidden 8"
# Hidden test: another call, and other new images.
### BEGIN HIDDEN TESTS
with quiet():
    _final_model = _final_within_budget()
    _acc = _accuracy_on_new_images(_final_model, 7_301_948_226_113)
    assert _acc >= TARGET, f"train_final: accuracy {_acc:.3f} on new images is below the target {TARGET:.2f}"
### END HIDDEN TESTS
