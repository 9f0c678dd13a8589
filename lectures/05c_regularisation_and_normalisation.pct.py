# %% [markdown]
# # Lecture 05c: Regularisation and normalisation
#
# AlexNet's recipe (lecture 06) lists dropout and heavy data augmentation; VGG's and GoogLeNet's
# too. Both fight **overfitting**: a network with far more parameters than training images can
# learn them by heart and generalise poorly. Batch normalisation (lecture 05) has relatives that
# do not average over the batch, and they matter where batch norm fails. This lecture builds each
# of these, checks it against PyTorch, and measures it on a run made to overfit.
#
# **You will learn**
#
# 1. what overfitting looks like, on a small ConvNet trained on 200 digits;
# 2. inverted dropout, in training and evaluation, forward and backward (`cnnkit.layers`), checked
#    against PyTorch and finite differences, and what it does to the overfitting run;
# 3. data augmentation with random crops and flips (`cnnkit.augment`), and why an augmentation
#    helps only when it respects what the data can look like;
# 4. layer norm, instance norm and group norm: what each averages over, in numpy
#    (`cnnkit.normalization`), checked against PyTorch;
# 5. when batch norm fails: small batches.
#
# Everything runs on the CPU in about a minute.

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F

from cnnkit import layers, normalization
from cnnkit.augment import Augmented, RandomCrop, RandomFlip
from cnnkit.data import DeviceLoader, load_digits
from cnnkit.device import make_repeatable, pick_device, seed_everything
from cnnkit.gradcheck import numerical_gradient_array, rel_error, report
from cnnkit.train import evaluate, fit

rng = seed_everything(0)
device = pick_device()
print("device:", device)
make_repeatable(device)  # on the CPU: one thread, deterministic kernels (see cnnkit.device)

# %% [markdown]
# ## 1. A run made to overfit
#
# The course's digits, upsampled to 16x16, but only **20 training images per class** (200 in
# all); the model a small ConvNet (two 3x3 conv-ReLU-pool stages, 16 and 32 filters, then FC 128
# and FC 10), with hundreds of parameters per training image (counted below). Adam at $10^{-3}$, batches of
# 50, 100 epochs (400 steps), three seeds. The full validation set (269 images) measures
# generalisation.

# %%
digits = load_digits(size=16)
few = np.concatenate([np.flatnonzero(digits.y_train == c)[:20] for c in range(10)])
X_few, y_few = digits.X_train[few], digits.y_train[few]
val_set = (digits.X_val, digits.y_val)


def small_convnet(dropout=0.0):
    """conv3x3(16)-ReLU-pool, conv3x3(32)-ReLU-pool, [dropout], FC 128, ReLU, [dropout], FC 10."""
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(16, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Dropout(dropout), torch.nn.Linear(32 * 4 * 4, 128), torch.nn.ReLU(),
        torch.nn.Dropout(dropout), torch.nn.Linear(128, 10))


def overfit_run(seed, dropout=0.0, transforms=()):
    """Train on the 200 images; return (training loss, training accuracy, validation loss, validation
    accuracy), all measured in evaluation mode on the images as they are, and the per-epoch history."""
    seed_everything(seed)
    model = small_convnet(dropout)
    train = DeviceLoader(X_few, y_few, 50, device, shuffle=True, seed=seed)
    if transforms:
        train = Augmented(train, *transforms, seed=seed)
    # channels_last (lecture 10): the same function, computed in another memory layout, in which
    # PyTorch's CPU max pooling runs several times faster
    history = fit(model, train, val_set, epochs=100, optimizer=torch.optim.Adam(model.parameters(), lr=1e-3),
                  schedule=None, device=device, seed=seed, progress=False, channels_last=True)
    return (*evaluate(model, (X_few, y_few), device), *evaluate(model, val_set, device)), history


SEEDS = (0, 1, 2)
n_params = sum(q.numel() for q in small_convnet().parameters())
print(f"{len(y_few)} training images, {len(digits.y_val)} validation images; {n_params:,} parameters, "
      f"{n_params // len(y_few)} per training image")
runs = {"no regularisation": [overfit_run(s) for s in SEEDS]}
print("every seed fits the training images perfectly (accuracy 1.0, loss below 0.05):",
      all(r[0][1] == 1.0 and r[0][0] < 0.05 for r in runs["no regularisation"]))
print("and its validation loss is more than 5 times its training loss in every seed:",
      all(r[0][2] > 5 * r[0][0] for r in runs["no regularisation"]))

# %% [markdown]
# That is overfitting: the training loss goes to almost zero while the validation loss stays far
# above it, so the gap is memorised detail of these 200 images, not knowledge of digits. The cure
# is not only more data: a **regulariser** makes memorising harder than learning what generalises.
# (Weight decay, which `cnnkit.train.fit` applies by default with SGD, is one; this lecture's two
# are the ones the architectures of the next lectures list.)
#
# ## 2. Dropout
#
# **Dropout** (Srivastava et al., 2014) sets each unit of a layer to zero with probability $p$,
# independently, anew for every training example and step. No unit can rely on a particular
# other unit being there, which discourages the co-adapted, fragile features that memorise; one
# can also see training as fitting a huge ensemble of thinned networks that share weights.
#
# At test time every unit is present, so its expected input would be $1/(1-p)$ times larger than
# in training. **Inverted dropout**, the form every framework uses, fixes that during training:
#
# $$\text{train: } \; y = \frac{m \odot x}{1 - p}, \quad m_i \sim \text{Bernoulli}(1 - p); \qquad
#   \text{eval: } \; y = x,$$
#
# so that $\operatorname{E}[y] = x$ and evaluation needs no rescaling. The backward pass routes the
# gradient through the same mask, $\partial L/\partial x = (m / (1-p)) \odot \partial L/\partial y$:
# a dropped unit passes no gradient. `cnnkit.layers.dropout_forward(x, {"p": ..., "mode": ...})`
# and `dropout_backward` implement this (p is the probability of *dropping*, as in PyTorch; an
# optional `"seed"` fixes the mask). The checks:

# %%
x = rng.choice([-1.0, 1.0], (300, 40)) * rng.uniform(0.5, 2.0, (300, 40))  # no zeros: a zero output = a dropped unit
p = 0.5
out, cache = layers.dropout_forward(x, {"p": p, "mode": "train", "seed": 1})
torch.manual_seed(0)
out_t = F.dropout(torch.from_numpy(x), p, training=True).numpy()
for name, o in [("cnnkit", out), ("torch", out_t)]:
    kept = o != 0
    share = 1 - kept.mean()
    n = x.size
    print(f"{name:6s}: kept units scaled by exactly 1/(1-p) = 2: {np.allclose(o[kept], 2 * x[kept], rtol=1e-15, atol=0)}; "
          f"share dropped within 4 standard deviations of p: {abs(share - p) < 4 * np.sqrt(p * (1 - p) / n)}")
mean_out = np.mean([layers.dropout_forward(x[:2, :5], {"p": p, "mode": "train", "seed": s})[0] for s in range(4000)], axis=0)
print("the mean over 4000 masks is the input (within 0.15; one mean's std is below 0.032):",
      np.abs(mean_out - x[:2, :5]).max() < 0.15)
out_eval, _ = layers.dropout_forward(x, {"p": p, "mode": "eval"})
drop_module = torch.nn.Dropout(p).eval()
print("evaluation mode is the identity, as torch.nn.Dropout's eval():",
      np.array_equal(out_eval, x), torch.equal(drop_module(torch.from_numpy(x)), torch.from_numpy(x)))
dout = rng.standard_normal(x.shape)
dx = layers.dropout_backward(dout, cache)
print("backward: dx = dout x (out / x), the factor the forward pass applied:", np.allclose(dx, dout * out / x, rtol=1e-12))
xt = torch.from_numpy(x).requires_grad_()
yt = F.dropout(xt, p, training=True)
yt.backward(torch.from_numpy(dout))
print("          and torch's autograd through its own mask obeys the same rule:",
      np.allclose(xt.grad.numpy(), dout * yt.detach().numpy() / x, rtol=1e-12))
xs, ds = x[:4, :6].copy(), dout[:4, :6]
param = {"p": p, "mode": "train", "seed": 7}
_, cache_s = layers.dropout_forward(xs, param)
ok = report("dropout dx vs finite differences (fixed mask)",
            rel_error(layers.dropout_backward(ds, cache_s),
                      numerical_gradient_array(lambda z: layers.dropout_forward(z, param)[0], xs, ds)), 1e-7)

# %% [markdown]
# In PyTorch dropout is `torch.nn.Dropout(p)`, and `model.train()` / `model.eval()` switch it on and
# off: forgetting `model.eval()` before evaluating leaves half the units dropped at random.
# (`cnnkit.train.evaluate` switches to evaluation mode itself.)
#
# **Measured.** The same run with dropout $p = 0.5$ before each of the two FC layers, as AlexNet
# places it:

# %%
runs["dropout 0.5"] = [overfit_run(s, dropout=0.5) for s in SEEDS]
base_val = [r[0][2] for r in runs["no regularisation"]]
print("dropout lowers the validation loss in every seed:",
      all(r[0][2] < b for r, b in zip(runs["dropout 0.5"], base_val)))
print("and still fits the training images (accuracy above 0.98) in every seed:",
      all(r[0][1] > 0.98 for r in runs["dropout 0.5"]))

# %% [markdown]
# ## 3. Data augmentation
#
# The other way to make memorising harder is to never show the same image twice: transform each
# training image at random, every time it is used, in ways that do **not change its label**. Two
# classics (`cnnkit.augment`, applied on the device to each batch by `Augmented`, new draws every
# epoch):
#
# * **random crops**: pad the image with $P$ zeros on every side and cut out a window of the
#   original size at a random position, i.e. shift it by up to $P$ pixels (the ResNet paper's
#   CIFAR recipe: $P = 4$ on 32x32; AlexNet cut 224x224 windows out of 256x256 images);
# * **horizontal flips**: mirror the image with probability 1/2 (AlexNet, VGG, ResNet on ImageNet).
#
# Validation and test images are never augmented. Some examples, each row the same digit drawn
# five times:

# %%
demo = torch.from_numpy(digits.X_train[:4])
g = torch.Generator().manual_seed(0)
fig, axes = plt.subplots(4, 6, figsize=(7, 4.8))
for row in range(4):
    axes[row, 0].imshow(demo[row, 0], cmap="gray_r")
    axes[row, 0].set_title("original" if row == 0 else "", fontsize=8)
    for k in range(1, 6):
        t = RandomCrop(1) if k <= 3 else RandomFlip(p=1.0)
        axes[row, k].imshow(t(demo[row:row + 1], g)[0, 0], cmap="gray_r")
        if row == 0:
            axes[row, k].set_title("shift by up to 1" if k <= 3 else "flip", fontsize=8)
for ax in axes.ravel():
    ax.axis("off")
plt.tight_layout()
plt.show()
crop = RandomCrop(2)(demo, torch.Generator().manual_seed(1))
padded = F.pad(demo, (2, 2, 2, 2))
print("each crop is a 16x16 window of the padded image:",
      all(any(torch.equal(c, pd[:, i:i + 16, j:j + 16]) for i in range(5) for j in range(5)) for c, pd in zip(crop, padded)))

# %% [markdown]
# Digits are never mirrored in the validation data, and a mirrored 3 or 7 is not a shape the
# network will ever be asked about, so a flip is label-preserving here only by decree. Shifts by a
# pixel, on the other hand, are what different writers produce. Both are measured:

# %%
runs["shifts of 1 pixel"] = [overfit_run(s, transforms=(RandomCrop(1),)) for s in SEEDS]
runs["flips"] = [overfit_run(s, transforms=(RandomFlip(),)) for s in SEEDS]
for name in ("shifts of 1 pixel", "flips"):
    lower = [r[0][2] < b for r, b in zip(runs[name], base_val)]
    print(f"{name:18s} validation loss lower than without augmentation in {sum(lower)} of {len(SEEDS)} seeds")

fig, axes = plt.subplots(1, 2, figsize=(11, 3.4))
for k, (name, rs) in enumerate(runs.items()):
    for j, (label, col) in enumerate([("validation loss", 2), ("validation accuracy", 3)]):
        vals = [r[0][col] for r in rs]
        axes[j].bar(k, np.mean(vals), color=f"C{k}", alpha=0.6)
        axes[j].plot([k] * len(vals), vals, "k.")
        axes[j].set_ylabel(label + " (bar: mean, dots: seeds)")
for ax in axes:
    ax.set_xticks(range(len(runs)), list(runs), fontsize=8)
axes[1].set_ylim(0.8, 1.0)
fig.suptitle("200 training digits, 100 epochs, 3 seeds: evaluated on the 269 validation digits")
plt.tight_layout()
plt.show()

# %%
# NBVAL_IGNORE_OUTPUT
# Trained losses and accuracies follow the training trajectories, which move with float rounding;
# the verdicts above do not. The tests do not compare this cell.
print(f"{'':18s} {'train loss':>10s} {'train acc':>9s} {'val loss':>9s} {'val acc':>8s}   (mean of {len(SEEDS)} seeds)")
for name, rs in runs.items():
    m = np.mean([r[0] for r in rs], axis=0)
    print(f"{name:18s} {m[0]:10.3f} {m[1]:9.3f} {m[2]:9.3f} {m[3]:8.3f}")

# %% [markdown]
# Dropout and one-pixel shifts both lower the validation loss, in every seed, while the training
# loss stays near zero; flips raise it, in every seed. An augmentation is a claim about the data: "this change
# does not change the class, and images like this can occur". Shifts satisfy both halves on
# digits; flips satisfy the first only by decree, and the network spends capacity on mirrored
# digits it will never be tested on. On natural photographs (CIFAR-10, ImageNet) a horizontal
# flip is a scene seen from the other side, and it is the standard augmentation there; on the
# course's procedural shapes it would be too (their classes do not change when mirrored), but
# that data set needs thousands of images to train at all, beyond this lecture's budget.
# (Both effects are measured on one small problem with three seeds; their size, not only their
# sign, depends on the data and the budget.)
#
# ## 4. Normalisation without the batch: layer, instance and group norm
#
# Batch norm normalises each channel over the **batch** and all positions. Three relatives
# normalise each **example** on its own, so they need no running averages and behave the same in
# training and evaluation. For a batch $x$ of shape $(N, C, H, W)$:
#
# | method | statistics over | for each |
# | --- | --- | --- |
# | batch norm (Ioffe and Szegedy, 2015) | $N, H, W$ | channel |
# | layer norm (Ba et al., 2016) | $C, H, W$ | example |
# | instance norm (Ulyanov et al., 2016) | $H, W$ | example and channel |
# | group norm (Wu and He, 2018) | $C/G$ channels of a group, $H, W$ | example and group |
#
# Then, in all four, a learned scale $\gamma$ and shift $\beta$ per channel. Group norm contains
# the two others: $G = 1$ is layer norm, $G = C$ instance norm. One cell of each picture below is
# one channel of one example (its $H \times W$ positions are all in it); the shaded cells are
# normalised together with the outlined one:

# %%
Nn, Cn = 4, 6
sets = {"batch norm": lambda n, c: c == 2, "layer norm": lambda n, c: n == 1,
        "instance norm": lambda n, c: n == 1 and c == 2, "group norm (G = 3)": lambda n, c: n == 1 and c // 2 == 1}
fig, axes = plt.subplots(1, 4, figsize=(12, 2.6))
for ax, (name, inside) in zip(axes, sets.items()):
    grid = np.array([[inside(n, c) for c in range(Cn)] for n in range(Nn)], float)
    ax.imshow(grid, cmap="Blues", vmin=0, vmax=1.6)
    ax.add_patch(plt.Rectangle((2 - 0.5, 1 - 0.5), 1, 1, fill=False, lw=2, color="tab:red"))
    ax.set_xticks(range(Cn), [f"c{c}" for c in range(Cn)], fontsize=7)
    ax.set_yticks(range(Nn), [f"n{n}" for n in range(Nn)], fontsize=7)
    ax.set_xticks(np.arange(-0.5, Cn), minor=True)
    ax.set_yticks(np.arange(-0.5, Nn), minor=True)
    ax.grid(which="minor", color="white", lw=1.5)
    ax.set_title(name, fontsize=9)
    ax.set_xlabel("channel", fontsize=8)
axes[0].set_ylabel("example", fontsize=8)
plt.tight_layout()
plt.show()

# %% [markdown]
# `cnnkit.normalization.groupnorm_forward(x, gamma, beta, groups)` reshapes $x$ to one row per
# (example, group) and normalises each row; its backward pass is batch norm's simplified formula
# (lecture 05) along the row. `layernorm_forward` does the same for $(N, D)$ vectors. Checked in
# float64 against `torch.nn.functional.group_norm`, `layer_norm` and `instance_norm`, and against
# finite differences (tolerance 1e-5, for lecture 05's reason: the gradient's entries in a group
# sum to zero, so small ones carry the finite difference's rounding):

# %%
xg = rng.standard_normal((4, 6, 5, 5)) * 3 + 1
gg, bg = rng.standard_normal(6), rng.standard_normal(6)
dg = rng.standard_normal(xg.shape)
for groups, ref_name, ref in [(1, "layer_norm", lambda t: F.layer_norm(t, (6, 5, 5))),
                              (3, "group_norm", lambda t: F.group_norm(t, 3)),
                              (6, "instance_norm", lambda t: F.instance_norm(t))]:
    plain, _ = normalization.groupnorm_forward(xg, np.ones(6), np.zeros(6), groups)
    out_g, cache_g = normalization.groupnorm_forward(xg, gg, bg, groups)
    xt = torch.from_numpy(xg).requires_grad_()
    gt, bt = torch.from_numpy(gg).requires_grad_(), torch.from_numpy(bg).requires_grad_()
    full = F.group_norm(xt, groups, gt, bt)
    full.backward(torch.from_numpy(dg))
    dx_g, dgamma, dbeta = normalization.groupnorm_backward(dg, cache_g)
    agree = [np.abs(plain - ref(torch.from_numpy(xg)).numpy()).max(), np.abs(out_g - full.detach().numpy()).max(),
             np.abs(dx_g - xt.grad.numpy()).max(), np.abs(dgamma - gt.grad.numpy()).max(), np.abs(dbeta - bt.grad.numpy()).max()]
    print(f"G = {groups}: equals torch's {ref_name} (gamma 1, beta 0), and group_norm with gamma, beta and every "
          f"gradient (to 1e-10): {max(agree) < 1e-10}")
ok = report("group norm dx vs finite differences",
            rel_error(normalization.groupnorm_backward(dg[:2, :, :3, :3], normalization.groupnorm_forward(
                xg[:2, :, :3, :3], gg, bg, 3)[1])[0],
                numerical_gradient_array(lambda z: normalization.groupnorm_forward(z, gg, bg, 3)[0],
                                         xg[:2, :, :3, :3].copy(), dg[:2, :, :3, :3])), 1e-5)
xl, gl, bl = rng.standard_normal((5, 8)), rng.standard_normal(8), rng.standard_normal(8)
out_l, _ = normalization.layernorm_forward(xl, gl, bl)
print("layer norm of (N, D) vectors equals torch's layer_norm (to 1e-10):",
      np.abs(out_l - F.layer_norm(torch.from_numpy(xl), (8,), torch.from_numpy(gl), torch.from_numpy(bl)).numpy()).max() < 1e-10)
whole, _ = normalization.groupnorm_forward(xg, gg, bg, 3)
alone, _ = normalization.groupnorm_forward(xg[2:3], gg, bg, 3)
print("an example's output does not depend on the rest of the batch:", np.allclose(alone, whole[2:3], rtol=0, atol=1e-12))

# %% [markdown]
# Layer norm is the normalisation of transformers and recurrent networks, where a batch of
# sentences of different lengths makes batch statistics awkward; group norm was designed for
# vision models trained with small batches (detection and segmentation, where large images leave
# room for a few per GPU); instance norm removes each image's contrast, which suits style
# transfer and hurts classification.
#
# ## 5. When batch norm fails: small batches
#
# Batch norm's statistics are estimates from the batch, and a small batch estimates badly. The
# extreme is a batch of two: for two values $a, b$ the mean is $(a+b)/2$ and the standard
# deviation $|a - b|/2$, so every normalised value is exactly $\pm 1$ (up to $\epsilon$). Each
# feature then only says which of the two examples is larger, and what an example's output is
# depends on its partner:

# %%
bn = torch.nn.BatchNorm1d(5).train()
torch.manual_seed(0)
pair = torch.randn(2, 5, dtype=torch.float64)
bn = bn.double()
half_gap = (pair[0] - pair[1]).abs() / 2
print("BatchNorm1d, batch of 2, training mode: every output is +-d / sqrt(d^2 + eps), d = |a - b| / 2:",
      torch.allclose(bn(pair).abs(), (half_gap / torch.sqrt(half_gap ** 2 + bn.eps)).expand(2, 5), rtol=0, atol=1e-12))
print("  which is 1 to within 1e-3 wherever the two values differ by more than 0.2:",
      bool(torch.all((bn(pair).abs() - 1).abs()[:, half_gap > 0.1] < 1e-3)))
other = torch.randn(2, 5, dtype=torch.float64)
print("the first example's output changes when its partner changes:",
      not torch.allclose(bn(pair)[0], bn(torch.stack([pair[0], other[1]]))[0]))
try:
    bn(torch.randn(1, 5, dtype=torch.float64))
except ValueError as err:
    print("batch of 1:", str(err).split("\n")[0])

# %% [markdown]
# In evaluation mode batch norm uses the running averages instead, so a network trained on tiny
# batches is evaluated under statistics it never trained with. Measured: an MLP on the 8x8 digits
# (two hidden layers of 128, each linear layer followed by batch norm or by layer norm, then a
# ReLU), Adam at $10^{-3}$, trained with batches of 2, 4 and 32, three seeds each (2 epochs at the
# small batch sizes, about 630 and 315 steps; 8 epochs at 32). Validation accuracy in evaluation
# mode:

# %%
flat = load_digits(size=8, flatten=True)


def normed_mlp(norm, width=128):
    make = (lambda: torch.nn.BatchNorm1d(width)) if norm == "batch norm" else (lambda: torch.nn.LayerNorm(width))
    return torch.nn.Sequential(torch.nn.Linear(64, width), make(), torch.nn.ReLU(),
                               torch.nn.Linear(width, width), make(), torch.nn.ReLU(), torch.nn.Linear(width, 10))


small_batch = {}
for batch, epochs in ((2, 2), (4, 2), (32, 8)):
    for norm in ("batch norm", "layer norm"):
        for seed in SEEDS:
            seed_everything(seed)
            model = normed_mlp(norm)
            fit(model, (flat.X_train, flat.y_train), epochs=epochs, batch_size=batch, drop_last=True,
                optimizer=torch.optim.Adam(model.parameters(), lr=1e-3), schedule=None, device=device, seed=seed,
                progress=False)
            small_batch[batch, norm, seed] = evaluate(model, (flat.X_val, flat.y_val), device)[1]
ahead = [small_batch[2, "layer norm", s] - small_batch[2, "batch norm", s] for s in SEEDS]
print(f"batch  2: layer norm's validation accuracy above batch norm's by more than 0.05 in "
      f"{sum(a > 0.05 for a in ahead)} of {len(SEEDS)} seeds")
print("batch  4: the two within 0.04 of each other in every seed:",
      all(abs(small_batch[4, "layer norm", s] - small_batch[4, "batch norm", s]) < 0.04 for s in SEEDS))
print("batch 32: both above 0.95 in every seed:", all(small_batch[32, n, s] > 0.95 for n in ("batch norm", "layer norm") for s in SEEDS))

fig, ax = plt.subplots(figsize=(6, 3.2))
for k, norm in enumerate(("batch norm", "layer norm")):
    for j, batch in enumerate((2, 4, 32)):
        vals = [small_batch[batch, norm, s] for s in SEEDS]
        ax.plot([j + (k - 0.5) * 0.2] * len(vals), vals, "o", color=f"C{k}", label=norm if j == 0 else None)
ax.set_xticks(range(3), ["batch 2", "batch 4", "batch 32"])
ax.set(ylabel="validation accuracy (eval mode)", ylim=(0.5, 1.0), title="digits MLP, 3 seeds each")
ax.legend()
plt.show()

# %% [markdown]
# With batches of 32 both normalisations train the MLP well. With batches of 2, batch norm falls
# behind in every seed, while layer norm, which never looks at the other examples, does not; with
# 4 the two are already close. Where the failure starts depends on the problem (here between 2 and
# 4 examples, for features with no positions to average over). Wu and He
# (2018) measured the same on ImageNet: ResNet-50's error with batch norm rises steeply below
# about 16 images per GPU, while group norm's hardly changes. (Conv layers soften the problem a
# little, since batch norm then also averages over the $H \times W$ positions; the fully connected
# layers here have no positions to average over.)
#
# ## Summary
#
# * Overfitting: the training loss goes to zero while the validation loss does not; 200 digits
#   and a small ConvNet are enough to show it.
# * Inverted dropout: keep each unit with probability $1 - p$ and scale it by $1/(1-p)$ in
#   training, do nothing in evaluation; the gradient goes through the same mask. Measured: lower
#   validation loss on the overfitting run, in every seed.
# * Augmentation: random crops (shifts) and flips, new each epoch, training data only. It helps
#   when the transformed images are ones the task can contain (shifts of digits) and can hurt
#   when they are not (mirrored digits).
# * Layer, instance and group norm normalise each example over its own channels and positions; no
#   batch statistics, the same in training and evaluation. Group norm with $G = 1$ is layer norm,
#   with $G = C$ instance norm.
# * Batch norm needs batches large enough to estimate its statistics: with two examples its
#   outputs are $\pm 1$ and depend on the partner, and here it trains worse than layer norm (with
#   four, already about as well).
#
# ## Check yourself
#
# 1. With $p = 0.2$, what does inverted dropout multiply a kept unit by, and what does evaluation
#    mode do? What would "classic" dropout (no scaling in training) have to do at test time?
# 2. A 28x28 image is padded by 4 and cropped back to 28x28. How many different crops are there?
# 3. For $x$ of shape $(8, 32, 14, 14)$, how many values share one mean in batch norm, layer norm,
#    instance norm and group norm with $G = 8$?
# 4. Why is a network with batch norm evaluated in `model.eval()` mode, and what goes wrong with
#    batch size 1 in training mode?
#
# The cell below computes the numeric answers.

# %%
print(f"1. kept units x {1 / (1 - 0.2):.2f}; evaluation: the identity")
print(f"2. {(2 * 4 + 1) ** 2} crops (offsets 0 to 8 in each direction)")
n, c, h, w = 8, 32, 14, 14
print(f"3. batch norm {n * h * w}, layer norm {c * h * w}, instance norm {h * w}, group norm (G = 8) {c // 8 * h * w}")

# %% [markdown]
# <details><summary>Answers</summary>
#
# 1. By $1/(1 - 0.2) = 1.25$; evaluation passes the input through unchanged. Classic dropout would
#    multiply every unit by $1 - p = 0.8$ at test time, to match the expected value seen in
#    training; inverted dropout moves that factor into training, so the deployed network is the
#    plain one.
# 2. The window can start at offsets 0 to 8 of the 36x36 padded image in each direction:
#    $9 \cdot 9 = 81$ crops.
# 3. Batch norm: $8 \cdot 14 \cdot 14 = 1568$ values per channel; layer norm
#    $32 \cdot 14 \cdot 14 = 6272$ per example; instance norm $196$; group norm
#    $4 \cdot 196 = 784$.
# 4. In evaluation a prediction must not depend on the other images of the batch, so batch norm
#    uses its running averages. In training mode with one example per batch a `BatchNorm1d` has
#    one value per feature: its variance is zero, the normalised value is $0/\sqrt{\epsilon}$, and
#    PyTorch refuses it (the error above); a `BatchNorm2d` still has $H \times W$ values per
#    channel, but only from one image.
#
# </details>
