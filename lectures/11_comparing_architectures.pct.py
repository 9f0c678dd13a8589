# %% [markdown]
# # Lecture 11: Comparing the architectures, and what trained networks learn
#
# Lectures 06 to 09 counted parameters and multiply-adds, and quoted the papers for accuracy:
# ImageNet top-5 errors, CIFAR-10 errors of 110-layer networks. This lecture trains the course's
# small versions of the architectures side by side, under **one budget and one recipe**, and then
# opens a trained network up: its first-layer filters, its feature maps, and whether its features
# serve a task it was not trained on.
#
# **You will learn**
#
# 1. how to set up a fair comparison (one data split, one recipe, one budget) and what it can
#    and cannot tell you;
# 2. accuracy against parameters, multiply-adds and training time for LeNet-5, AlexNet, VGG,
#    GoogLeNet, ResNet-20, pre-activation ResNet-20 and DenseNet-BC;
# 3. which of the lectures' claims this comparison checks, and which remain the papers' results;
# 4. what first-layer filters and feature maps of a trained network look like;
# 5. a transfer check of "the features generalise": features of a network trained on half the
#    classes, read by a linear classifier on the other half, against raw pixels.

# %%
import dataclasses
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn as nn
from sklearn.linear_model import LogisticRegression

from cnnkit.data import SHAPE_CLASSES, load_digits, load_shapes
from cnnkit.device import make_repeatable, pick_device, seed_everything
from cnnkit.inspect import count_macs, count_params, on_meta
from cnnkit.models import lenet5
from cnnkit.models.small import SMALL_MODELS
from cnnkit.plots import WIDTH, show_images
from cnnkit.train import evaluate, fit

rng = seed_everything(0)
device = pick_device()
ON_GPU = device.type == "cuda"
print("device:", device.type)
make_repeatable(device)  # on the CPU: one thread, deterministic kernels (see cnnkit.device)

# %% [markdown]
# ## 1. One budget, one recipe
#
# A comparison is only as fair as its setup. Every model here sees
#
# * the **same data**: on a CPU the real handwritten digits (1,259 training, 269 validation and
#   269 test images), upsampled to 32x32 and repeated over three channels, the input all seven
#   models take; on a GPU the course's procedural shapes at 32x32, a harder task with many
#   more images;
# * the **same recipe**: `cnnkit.train.fit` with SGD (Nesterov momentum 0.9), weight decay
#   $5 \cdot 10^{-4}$, the one-cycle learning-rate schedule, batch 64 and peak learning rate 0.05,
#   inputs standardised per channel with the training set's mean and standard deviation;
# * the **same budget**: the same number of epochs, so every model sees every training image
#   equally often. (A time budget would be the other fair choice; it favours cheap models. Both
#   are honest if they are stated.)
#
# Nothing was tuned per model: a learning rate that suits a batch-normalised ResNet is not the
# best for LeNet-5, which has no batch norm. That is the point of one recipe, and its weakness.

# %%
# On a GPU: sized from an H200 run (benchmarks/RESULTS.md, 4 December 2026). At batch 64 the
# seven models trained at 3,800-19,000 images/s, about 1 ms per training image for all seven
# together: 20,000 images for 15 epochs did not finish in 7 minutes beside the other notebooks;
# 12,000 for 8 epochs is about 95 s of training steps.
if ON_GPU:
    CFG = dict(data="shapes", n=(12000, 2000, 5000), epochs=8, batch=64, lr=0.05)
else:
    CFG = dict(data="digits", epochs=4, batch=64, lr=0.05)
print(CFG)


def standardise(split):
    """The split with every image standardised per channel by the training set's mean and std."""
    mean = split.X_train.mean(axis=(0, 2, 3), keepdims=True)
    std = split.X_train.std(axis=(0, 2, 3), keepdims=True)
    return dataclasses.replace(split, **{k: (getattr(split, k) - mean) / std for k in ("X_train", "X_val", "X_test")})


if CFG["data"] == "digits":
    digits = load_digits(size=32)
    raw = dataclasses.replace(digits, **{k: np.repeat(getattr(digits, k), 3, axis=1)
                                         for k in ("X_train", "X_val", "X_test")})
else:
    raw = load_shapes(*CFG["n"], seed=0)
data = standardise(raw)
print(data)
show_images(raw.X_train[:10], [str(raw.classes[i]) for i in raw.y_train[:10]], ncols=10)
plt.show()

# %% [markdown]
# ## 2. Cost before training: parameters and multiply-adds
#
# The costs do not depend on training, so they are exact: `count_params` counts the parameter
# values and `count_macs` the multiply-adds of the convolutions and fully connected layers for
# one 32x32 image (on the meta device: no memory, no arithmetic).

# %%
costs = {name: (count_params(on_meta(build)), count_macs(on_meta(build), (3, 32, 32)))
         for name, build in SMALL_MODELS.items()}
print(f"{'model':20s} {'parameters':>11s} {'multiply-adds':>14s}")
for name, (p, m) in costs.items():
    print(f"{name:20s} {p:11,} {m:14,}")
fewest = min(costs, key=lambda k: costs[k][0])
most_macs = max(costs, key=lambda k: costs[k][1])
print(f"fewest parameters: {fewest}; most multiply-adds: {most_macs}")

# %% [markdown]
# Parameters and multiply-adds rank the models differently. AlexNet has the most parameters
# (its FC layers) and few multiply-adds per parameter; DenseNet-BC has few parameters and the
# most multiply-adds, because every layer of a dense block convolves full-resolution maps of
# all earlier features. LeNet-5 needs a small fraction of anyone else's multiply-adds.
#
# **Which LeNet-5, which ResNet-20?** The names in this table are short; the models are the
# small versions of `cnnkit.models.small`, and two of them differ from the models of the same
# name elsewhere in the course:
#
# * "LeNet-5" here is the paper's layout on 32x32 inputs **without padding**, with tanh, average
#   pooling and plain FC layers 120-84-10, on three input channels. It is neither lecture 06's
#   *modern* variant (padding 2 for 28x28 digits, ReLU) nor the paper's network (sparse C3,
#   trainable subsampling, RBF outputs).
# * "pre-act ResNet-20" changes **two** things against "ResNet-20": the order inside each block
#   (full pre-activation) and the shortcut where the shape changes, a 1x1 projection (option B)
#   instead of ResNet-20's parameter-free zero padding (option A, lecture 08). A difference between
#   the two mixes both effects.
#
# The cell counts each model's parameters and the shortcut convolutions of the two ResNet-20s.

# %%
lenets = {"this lecture's LeNet-5 (3x32x32, no padding, tanh)": SMALL_MODELS["LeNet-5"](),
          "lecture 06's modern variant (1x28x28, padding 2, ReLU)": lenet5(variant="modern"),
          "the paper's LeNet-5 (1x32x32, sparse C3, RBF outputs)": lenet5(variant="paper")}
for name, m in lenets.items():
    acts = {type(x).__name__ for x in m.modules()} & {"Tanh", "ReLU", "ScaledTanh"}
    print(f"{name:55s} {count_params(m, trainable_only=True):>7,} trainable parameters; activation {', '.join(sorted(acts))}")
resnets = {name: SMALL_MODELS[name]() for name in ("ResNet-20", "pre-act ResNet-20")}
for name, m in resnets.items():
    shortcut = sum(count_params(x) for n, x in m.named_modules() if n.endswith("downsample"))
    print(f"{name:18s} parameters in shortcut convolutions: {shortcut:,}")
print("difference in parameters:", f"{count_params(resnets['pre-act ResNet-20']) - count_params(resnets['ResNet-20']):,}")

# %% [markdown]
# ## 3. Training them all
#
# Each model is trained from the same seed. The cell prints nothing that depends on the
# trajectory; the next one prints the table.
#
# Every model is trained in the **channels-last** memory layout (`channels_last=True`: each
# pixel's channels side by side in memory, lecture 10). It changes where the numbers are stored,
# not what is computed (up to the rounding of a different order of sums), and the convolution
# kernels of the GPU and of a recent CPU run faster on it, the thin convolutions of GoogLeNet's
# branches and DenseNet-BC's layers most of all. Lecture 10 shows how to time the difference
# on your own machine; `fit` uses the layout by default on a GPU only, so it is asked for here.

# %%
histories, results = {}, {}
for name, build in SMALL_MODELS.items():
    seed_everything(0)
    model = build()
    t0 = time.perf_counter()
    histories[name] = fit(model, (data.X_train, data.y_train), (data.X_val, data.y_val), epochs=CFG["epochs"],
                          lr=CFG["lr"], batch_size=CFG["batch"], device=device, progress=False, seed=0,
                          channels_last=True)
    seconds = time.perf_counter() - t0
    results[name] = (evaluate(model, (data.X_test, data.y_test), device)[1], seconds, model)
print(f"trained {len(results)} models for {CFG['epochs']} epochs each, "
      f"{histories['LeNet-5'].epochs * len(histories)} epochs in all")

# %%
# NBVAL_IGNORE_OUTPUT
# Trained accuracies follow the training trajectory, which moves with float rounding (thread
# count, BLAS kernels, CPU); times are wall-clock. The tests do not compare this cell.
print(f"{'model':20s} {'test acc':>8s} {'val acc':>8s} {'parameters':>11s} {'M mult-adds':>11s} {'train s':>8s}")
for name, (acc, seconds, _) in results.items():
    p, m = costs[name]
    print(f"{name:20s} {acc:8.3f} {histories[name].val_acc[-1]:8.3f} {p:11,} {m / 1e6:11.2f} {seconds:8.1f}")

# %%
fig, axes = plt.subplots(1, 2, figsize=(WIDTH, 3.4))
for name, h in histories.items():
    epochs = np.arange(1, h.epochs + 1)
    axes[0].plot(epochs, h.train_loss, label=name)
    axes[1].plot(epochs, h.val_acc, label=name)
axes[0].set(xlabel="epoch", ylabel="training loss (nats)", yscale="log")
axes[1].set(xlabel="epoch", ylabel="validation accuracy")
axes[1].legend(fontsize=7)
for ax in axes:
    ax.grid(alpha=0.3)
fig.tight_layout()
plt.show()

# %% [markdown]
# How to read the table and the curves:
#
# * the costs are exact; the accuracies and times are one seeded run on the machine that ran the
#   cell (the stored notebook: a CPU), and another seed or machine changes them;
# * one recipe suits some models better than others. AlexNet, with neither batch norm nor a
#   small size, and with dropout, is the one it is least likely to suit: look at how fast its
#   curve leaves chance compared with the batch-normalised models'. LeNet-5 has no batch norm
#   either, but it is tiny;
# * on a task this small, more multiply-adds need not buy accuracy in a few epochs, and the
#   order of the models near the top is within what another seed changes: do not over-read it;
# * time per epoch need not follow the multiply-adds: where the table's times and multiply-adds
#   disagree, look for memory-bound work that multiply-adds do not count (DenseNet-BC's many
#   concatenations, AlexNet's local response normalisation, lecture 09's values-written count).
#
# ## 4. What this comparison checks, and what it does not
#
# One seed of a short run separates models only where the gap is much larger than the
# seed-to-seed spread (lecture 10 reports a spread of more than ten points of test accuracy over
# seeds and thread counts for its short CPU run). So:
#
# * **"Full pre-activation trains best"** (lecture 08) is the pre-activation paper's CIFAR-10
#   result for ResNet-110 and ResNet-164: 6.37% and 5.46% error against 6.61% and 5.93% for the
#   original blocks. At 20 layers and this budget one seed cannot separate the two ResNet-20s,
#   which here also differ in their shortcuts (above); this lecture does **not** check the claim,
#   and the paper itself found the gain growing with depth (its 1001-layer network gains most).
# * **"ResNeXt beats ResNet at equal cost"** (lecture 09) is the ResNeXt paper's ImageNet result
#   (ResNeXt-50 32x4d against ResNet-50, with the same multiply-adds, measured in lecture 09);
#   no small ResNeXt is trained here, so it remains the paper's result.
# * What the comparison does show: the costs (exact), and, in the curves of this one run, how
#   fast each network leaves chance under one recipe, the batch-normalised ones against the two
#   without batch norm.
#
# ## 5. First-layer filters
#
# The first layer looks at pixels, so its filters can be drawn as images: each filter of
# AlexNet's first layer is a 5x5x3 array of weights, shown as a small RGB picture (each filter
# scaled to [0, 1] on its own, so grey is zero). What they look like depends on the data the
# cell trained on (printed first): on the digits (the stored CPU run), whose three channels are
# equal, the filters come out nearly grey, with strokes and blobs of a few pixels; on the shapes
# (a GPU run) colour enters them.

# %%
def filter_images(conv: nn.Conv2d) -> np.ndarray:
    """The weights (K, C, kh, kw) of a conv layer as K images in [0, 1], each scaled on its own
    so that zero is mid-grey."""
    w = conv.weight.detach().float().cpu().numpy()
    scale = np.abs(w).max(axis=(1, 2, 3), keepdims=True)
    return 0.5 + 0.5 * w / np.maximum(scale, 1e-12)


print("trained on:", CFG["data"])
alexnet = results["AlexNet"][2]
show_images(filter_images(alexnet[0]), ncols=12)
plt.suptitle("AlexNet's first-layer filters (48 of 5x5x3), trained", y=1.02)
plt.show()
seed_everything(0)
show_images(filter_images(SMALL_MODELS["AlexNet"]()[0]), ncols=12)
plt.suptitle("the same layer at initialisation", y=1.02)
plt.show()

# %% [markdown]
# Compare the trained filters with the random ones they started from: a few epochs on a small
# data set can move them only part of the way, and AlexNet's famous Gabor-like edges and colour
# blobs come from 1.2 million ImageNet images and 90 epochs. The cell below measures
# "smooth" as the share of each filter's energy in its neighbouring-pixel differences.

# %%
def roughness(conv: nn.Conv2d) -> float:
    """Mean over filters of (energy of horizontal and vertical pixel differences) / (2 x energy)."""
    w = conv.weight.detach().float().cpu()
    dx, dy = w[..., 1:] - w[..., :-1], w[..., 1:, :] - w[..., :-1, :]
    return float(((dx ** 2).sum((1, 2, 3)) + (dy ** 2).sum((1, 2, 3))).div(2 * (w ** 2).sum((1, 2, 3))).mean())


seed_everything(0)
r_init, r_trained = roughness(SMALL_MODELS["AlexNet"]()[0]), roughness(alexnet[0])

# %%
# NBVAL_IGNORE_OUTPUT
# The trained value follows the training trajectory (it moves with float rounding) and was not
# measured over seeds: the tests do not compare this cell.
print(f"roughness (about 1.6 for independent random 5x5 weights, lower for smooth filters): "
      f"at initialisation {r_init:.3f}, trained {r_trained:.3f}")

# %% [markdown]
# ## 6. Feature maps of one input
#
# Forward hooks catch the output of each layer. Below, one test image (a digit in the stored
# CPU run, a shape on a GPU) goes through the trained VGG: after each of its three stages (two
# convs, batch norm and ReLU, then a max pool) the first eight channels are shown. The maps halve
# in size and multiply in number; early maps still look like the input (strokes, edges in one
# direction), later ones are coarse maps of where a part of it is.

# %%
vgg = results["VGG"][2].eval()
pools = [m for m in vgg if isinstance(m, nn.MaxPool2d)]
maps = []
hooks = [m.register_forward_hook(lambda mod, inp, out: maps.append(out.detach().float().cpu()[0])) for m in pools]
x = torch.as_tensor(data.X_test[:1], device=device)
with torch.no_grad():
    pred = vgg(x).argmax(1).item()
for h in hooks:
    h.remove()
print("feature maps after each stage:", [tuple(m.shape) for m in maps])

fig, axes = plt.subplots(len(maps) + 1, 8, figsize=(WIDTH, WIDTH / 8 * (len(maps) + 1) * 1.2))
for ax in axes.ravel():
    ax.axis("off")
axes[0, 0].imshow(raw.X_test[0, 0], cmap="gray")
axes[0, 0].set_title(f"input ({raw.y_test[0]})", fontsize=8)
for row, fm in enumerate(maps, start=1):
    for c in range(8):
        axes[row, c].imshow(fm[c], cmap="viridis")
        if c == 0:
            axes[row, c].set_title(f"stage {row}: {fm.shape[1]}x{fm.shape[2]}, ch 0-7", fontsize=8, loc="left")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 7. Do the features transfer? "FC7 features generalise"
#
# Lecture 06 quoted the finding that made ImageNet networks everyone's starting point: the
# activations of a trained network's last hidden layer (AlexNet's and VGG's FC7) are good
# features for *other* tasks, read by a simple linear classifier. We test that claim in small.
#
# The procedural shapes have ten classes: five shapes, solid or striped. A VGG is trained on the
# first half of the classes only (solid and striped discs and squares, and solid triangles). Its
# features (the 128 values after global average pooling, the input of its last FC layer) then
# describe images of the **other** half: striped triangles, pluses and rings, two shapes it has
# never seen. A logistic regression on those features is compared with the same logistic
# regression on the raw pixels (3,072 values), with the same images and the same split.

# %%
TCFG = dict(n=(20000, 2000, 20000), epochs=8) if ON_GPU else dict(n=(6000, 500, 4000), epochs=4)
shapes = standardise(load_shapes(*TCFG["n"], seed=1))
first, second = np.arange(5), np.arange(5, 10)
pick = lambda X, y, classes: (X[np.isin(y, classes)], y[np.isin(y, classes)])  # noqa: E731
A_train, A_val = pick(shapes.X_train, shapes.y_train, first), pick(shapes.X_val, shapes.y_val, first)
B_X, B_y = pick(shapes.X_test, shapes.y_test, second)
print(f"task A (classes {', '.join(SHAPE_CLASSES[c] for c in first)}): {len(A_train[1])} training images")
print(f"task B (classes {', '.join(SHAPE_CLASSES[c] for c in second)}): {len(B_y)} images, never seen in training")

seed_everything(0)
net = SMALL_MODELS["VGG"](num_classes=5)  # five classes in task A
hA = fit(net, A_train, A_val, epochs=TCFG["epochs"], lr=CFG["lr"], batch_size=CFG["batch"], device=device,
         progress=False, seed=0, channels_last=True)
print(f"trained on task A for {hA.epochs} epochs")

# %%
def features(model: nn.Sequential, X: np.ndarray) -> np.ndarray:
    """The inputs of the model's last layer (its 'FC7'), for images X, as a numpy array."""
    body = nn.Sequential(*list(model)[:-1]).eval()
    with torch.no_grad():
        return np.concatenate([body(torch.as_tensor(X[i:i + 500], device=device)).float().cpu().numpy()
                               for i in range(0, len(X), 500)])


B_half = len(B_y) // 2  # task B: first half to fit the linear classifier, second half to test it
F_B = features(net, B_X)
seed_everything(0)
F_rand = features(SMALL_MODELS["VGG"]().to(device), B_X)  # the same architecture, untrained


def linear_probe(F: np.ndarray) -> float:
    """Test accuracy on task B of a logistic regression fitted on the first half of task B."""
    mu, sd = F[:B_half].mean(0), F[:B_half].std(0) + 1e-6
    clf = LogisticRegression(max_iter=2000, C=1.0).fit((F[:B_half] - mu) / sd, B_y[:B_half])
    return clf.score((F[B_half:] - mu) / sd, B_y[B_half:])


acc_pixels = linear_probe(B_X.reshape(len(B_X), -1))
acc_features = linear_probe(F_B)
acc_random = linear_probe(F_rand)
print(f"task B: {B_half} images to fit each linear classifier, {len(B_y) - B_half} to test it (chance 0.20)")
print("features of the trained VGG beat raw pixels by more than 0.2:", acc_features - acc_pixels > 0.2)
print("features of the trained VGG beat those of the untrained one by more than 0.1:", acc_features - acc_random > 0.1)
print("features of the untrained VGG beat raw pixels:", acc_random > acc_pixels + 0.05)

# %%
# NBVAL_IGNORE_OUTPUT
# The accuracies depend on the trained network, whose trajectory moves with float rounding, and
# on the classifier's iterative fit: the tests do not compare this cell.
print(f"task A validation accuracy of the trained network: {hA.val_acc[-1]:.3f} (chance 0.20)")
print(f"linear classifier on task B: raw pixels {acc_pixels:.3f}, features of the untrained VGG {acc_random:.3f}, "
      f"features of the VGG trained on task A {acc_features:.3f}")

# %% [markdown]
# The verdicts, with margins far wider than rounding can move: on raw pixels a linear classifier
# does poorly, because a shape's class does not depend on its colour, position or size, and all
# three change the pixels a lot. The features of the network trained on the *other* classes do
# much better, though the network never saw a plus or a ring: what it learned about outlines,
# stripes and invariance to colour and position carries over. Part of the gain comes from the
# architecture alone: convolutions, pooling and ReLUs with random weights already make features
# that a linear classifier reads better than pixels, a known and surprising effect. Training on
# task A adds the rest.
#
# **How far this goes.** It is one training seed, one split of the classes and one small network:
# it shows that the effect exists here, not how large it is in general (another seed would move
# the figures above; the verdicts' margins leave room for that). This is "the features
# generalise" in small; on ImageNet the same experiment, with FC7 of AlexNet or VGG, beat the
# hand-designed features of its day on many other data sets.
#
# ## Check yourself
#
# 1. Why standardise the inputs for all models, when the batch-normalised ones would cope
#    without it?
#
# <details><summary>Answer</summary>
#
# One recipe means the same input for every model. LeNet-5 and AlexNet have no batch norm: with
# inputs in [0, 1] (mean about 0.5) their first layer's pre-activations are all shifted the same
# way, tanh saturates sooner and the first steps are spent learning the offset. Standardising
# costs nothing and removes a handicap that is about the data, not the architecture.
# </details>
#
# 2. A model has twice the multiply-adds of another but trains in three times the time per
#    epoch. Name two reasons.
#
# <details><summary>Answer</summary>
#
# Multiply-adds count only convolutions and FC layers. Memory-bound layers (batch norm, ReLU,
# concatenations, local response normalisation, pooling) cost time out of proportion to their
# arithmetic, and small convolutions (few channels, grouped or 1x1 on small maps) run far below
# the machine's peak rate. DenseNet's concatenations and AlexNet's LRN are both in the table.
# </details>
#
# 3. Suppose the table above put pre-activation ResNet-20 a point or two below ResNet-20 (look
#    at what this run gave). Would that refute the pre-activation paper?
#
# <details><summary>Answer</summary>
#
# No, whichever way the two come out. One seed of a four-epoch run has a spread of several points
# (lecture 10 measured it), so the order of two models within that spread is chance; the two
# models here also differ in their shortcuts, not only in the order inside the block; and the
# paper's claim is about deep networks (110 to 1001 layers) trained to convergence on CIFAR-10.
# To test it one would train deep versions over several seeds, with the same shortcuts, and
# compare the mean difference with its spread.
# </details>
#
# 4. Why compare against features of an *untrained* network, too?
#
# <details><summary>Answer</summary>
#
# Without it, the whole gain over pixels would be credited to training on task A. Random
# convolutions, ReLUs and pooling already give features that are partly invariant to position and
# colour; the difference between the random and the trained network's features is what the
# training on the other classes contributed.
# </details>
#
# ## Summary
#
# * A fair comparison fixes the data, the recipe and the budget, and says which it fixed.
# * Parameters, multiply-adds and time rank the models differently; the first two are exact,
#   time depends on the machine and on memory-bound layers.
# * One short seeded run cannot separate models within the seed-to-seed spread: "pre-activation
#   trains best" and "ResNeXt beats ResNet" remain the papers' results (CIFAR-10 at 110 and 164
#   layers; ImageNet).
# * First-layer filters are images of weights; feature maps shrink in size and grow in number
#   through the stages.
# * A trained network's last hidden features carry over to classes it never saw, better than
#   pixels and better than the features of the same network untrained.
