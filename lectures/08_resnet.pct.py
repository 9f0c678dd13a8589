# %% [markdown]
# # Lecture 08 — ResNet: learning residuals
#
# ResNet won ILSVRC 2015 with networks of up to 152 layers and a 3.57% top-5 error.
# Its idea fits in one line: let each block learn a *correction* $F(x)$ that is added to its
# input, $H(x) = F(x) + x$. This lecture starts from the problem that idea solves, reproduces it
# on the course's digits, then builds the whole family of networks and counts their parameters.
#
# **You will learn**
#
# 1. the *degradation* problem: a deeper plain network trains worse, which is not overfitting;
# 2. why gradients vanish or explode in a deep plain stack, measured layer by layer;
# 3. residual blocks and their shortcuts (identity, zero padding, projection);
# 4. the full architecture, ResNet-18 to ResNet-152, and the bottleneck block;
# 5. the training recipe, the ILSVRC 2015 result, pre-activation blocks and highway networks.

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from cnnkit.data import load_digits
from cnnkit.device import make_repeatable, pick_device, seed_everything
from cnnkit.inspect import count_macs, count_params, on_meta
from cnnkit.models import (CifarBlock, cifar_resnet, resnet18, resnet34, resnet50, resnet101,
                           resnet152, vgg16)

rng = seed_everything(0)
device = pick_device()
print("device:", device)
make_repeatable(device)  # on the CPU: one thread, deterministic kernels (see cnnkit.device)

# %% [markdown]
# ## 1. Deeper is not automatically better
#
# After AlexNet (8 layers), VGG (19) and GoogLeNet (22), the obvious next step is to stack more
# layers. He et al. did, with batch normalisation in every layer, and found something
# surprising: a 56-layer plain network had a **higher training error** than a 20-layer one, and a
# higher test error too.
#
# That is not overfitting. An overfitting model fits the training set *better* and generalises
# worse; here the deeper model does not even fit the training set. And it should be able to: copy
# the 20 layers of the shallow model and make the 36 extra layers compute the identity. The
# deeper model's best solution is at least as good as the shallower one's, so the trouble is
# that the optimiser does not find it. This is the **degradation problem**.
#
# Let us reproduce it. `cifar_resnet(depth, residual=...)` builds the CIFAR-10 networks of the
# ResNet paper: a 3x3 conv with 16 filters, three stages of $n$ blocks with 16, 32 and 64 filters
# (the first block of stages 2 and 3 halves the resolution), global average pooling and one fully
# connected layer: $6n + 2$ weighted layers. With `residual=False` the shortcuts are left out;
# everything else, parameters included, is the same.

# %%
for depth in (20, 56):
    res = cifar_resnet(depth, residual=True, in_channels=1)
    plain = cifar_resnet(depth, residual=False, in_channels=1)
    n_conv = sum(isinstance(m, nn.Conv2d) for m in res.modules())
    print(f"depth {depth}: {n_conv} conv + 1 FC layers; parameters residual {count_params(res):,}, "
          f"plain {count_params(plain):,}")

# %% [markdown]
# We train three of them on the handwritten digits with the same seed, data order and optimiser
# (SGD with momentum 0.9, batch norm everywhere, He initialisation): a plain 20-layer network, a
# plain 56-layer one, and the 56-layer network *with* shortcuts. On a CPU the budget is small
# (8x8 digits, a few epochs); on a GPU the same cell upsamples the digits to 32x32 and trains ten
# times longer.

# %%
if device.type == "cuda":
    SIZE, STEPS = 32, 600
else:
    SIZE, STEPS = 8, 60
BATCH = 64
data = load_digits(size=SIZE)
X_train = torch.from_numpy(data.X_train).to(device)
y_train = torch.from_numpy(data.y_train).to(device)
X_test = torch.from_numpy(data.X_test).to(device)
y_test = torch.from_numpy(data.y_test).to(device)
print(f"{len(X_train)} training and {len(X_test)} test images of {SIZE}x{SIZE}; {STEPS} steps of {BATCH}")


def calibrate_bn(model, X):
    """Recompute the batch-norm running statistics as exact averages over X (after a short run
    they still lag behind the weights), so that evaluation measures the trained weights."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None  # cumulative average
    model.train()
    with torch.no_grad():
        for i in range(0, len(X), 256):
            model(X[i:i + 256])


def accuracy(model, X, y):
    model.eval()
    with torch.no_grad():
        correct = sum(int((model(X[i:i + 256]).argmax(1) == y[i:i + 256]).sum()) for i in range(0, len(X), 256))
    model.train()
    return correct / len(X)


def train(depth, residual, steps=STEPS, lr=0.05, seed=0):
    """Train cifar_resnet(depth, residual) with SGD; return the model and its training losses."""
    torch.manual_seed(seed)
    model = cifar_resnet(depth, residual=residual, in_channels=1).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=1e-4)
    order = torch.Generator().manual_seed(seed)  # the same mini-batches for every model
    losses = []
    for _ in range(steps):
        idx = torch.randint(0, len(X_train), (BATCH,), generator=order).to(device)
        loss = F.cross_entropy(model(X_train[idx]), y_train[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return model, losses


runs = {}
for name, depth, residual in [("plain-20", 20, False), ("plain-56", 56, False), ("ResNet-56", 56, True)]:
    model, losses = train(depth, residual)
    calibrate_bn(model, X_train)
    runs[name] = (losses, accuracy(model, X_train, y_train), accuracy(model, X_test, y_test))
for name, (losses, acc_tr, acc_te) in runs.items():
    print(f"{name:10s} training error {1 - acc_tr:.2f}   test error {1 - acc_te:.2f}")

# %%
fig, ax = plt.subplots(figsize=(6.5, 3.5))
for name, (losses, _, _) in runs.items():
    smooth = np.convolve(losses, np.ones(5) / 5, mode="valid")  # running mean of 5 steps
    ax.plot(np.arange(len(smooth)) + 4, smooth, label=name)
ax.set(xlabel="step", ylabel="training loss (running mean of 5)", title="Plain vs residual, same data and seed")
ax.legend()
plt.show()

# %% [markdown]
# The plain 56-layer network hardly gets its training loss below the chance level of
# $\ln 10 \approx 2.3$ in this budget and ends with by far the highest training error, worse than
# the plain 20-layer network: degradation. The 56-layer network *with* shortcuts, which has exactly
# the same parameters, trains as well as the shallow one or better. Its loss starts high: at
# initialisation the outputs of its 27 residual branches add up, which is one reason some
# implementations start each branch at zero (section 3). With a budget this small the numbers
# move a little from seed to seed; the order is the one the paper reports on CIFAR-10 after
# 64,000 steps.
#
# ## 2. Vanishing and exploding gradients
#
# Why is the deep plain stack hard to optimise? Backpropagation multiplies the gradient by each
# layer's Jacobian on its way down:
# $$\frac{\partial L}{\partial x_1} = \frac{\partial L}{\partial x_L}
# \prod_{l=1}^{L-1} \frac{\partial x_{l+1}}{\partial x_l}.$$
# If those factors are a little smaller than 1 in size, the product shrinks geometrically with
# depth (it *vanishes*); a little larger, and it *explodes*. Careful initialisation (He) and batch
# normalisation keep the factors near 1 at the start, which is why a 56-layer plain network trains
# at all, but not exactly 1, and not after the weights move.
#
# Measure it: one backward pass on a batch at initialisation, and the norm of the gradient of
# every conv layer's weights, from the first layer to the last.

# %%
def conv_grad_norms(model, X, y):
    model.zero_grad()
    F.cross_entropy(model(X), y).backward()
    return [m.weight.grad.norm().item() for m in model.modules() if isinstance(m, nn.Conv2d)]


Xb, yb = X_train[:128], y_train[:128]
norms = {}
for name, residual in [("plain-56", False), ("ResNet-56", True)]:
    torch.manual_seed(0)
    norms[name] = conv_grad_norms(cifar_resnet(56, residual=residual, in_channels=1).to(device), Xb, yb)
for name, g in norms.items():
    print(f"{name:10s} gradient norm, first conv {g[0]:.2e}, last conv {g[-1]:.2e}, "
          f"ratio first/last {g[0] / g[-1]:.3g}")

fig, ax = plt.subplots(figsize=(6.5, 3.5))
for name, g in norms.items():
    ax.semilogy(np.arange(1, len(g) + 1), g, marker=".", label=name)
ax.set(xlabel="conv layer (input side -> output side)", ylabel="||dL/dW||", title="Gradient norms at initialisation")
ax.legend()
plt.show()

# %% [markdown]
# In the plain network the gradient grows by more than three orders of magnitude from the last
# conv layer to the first: it *explodes* on its way down, so one learning rate cannot suit the
# layers near the input and those near the output at the same time. With the shortcuts every
# block also passes the gradient it receives straight down, and the norms stay within about one
# order of magnitude.
#
# > **Check yourself.** A colleague says "the 56-layer plain net is worse because it has more
# > parameters and overfits". Which single measurement refutes this?
#
# <details><summary>Answer</summary>
#
# Its *training* error. Overfitting means a low training error and a high test error; the deeper
# plain network has the higher training error as well.
# </details>
#
# ## 3. Residual learning
#
# Let $H(x)$ be the mapping a few layers should compute. A residual block lets the layers compute
# $F(x) = H(x) - x$ and adds the input back:
# $$y = \mathrm{ReLU}\big(F(x) + x\big), \qquad F(x) = \mathrm{BN}(W_2\, \mathrm{ReLU}(\mathrm{BN}(W_1 x))).$$
# If the identity is close to what is needed, the block only has to push $F$ towards zero, which
# is easy (weights towards zero), instead of building the identity out of convolutions and ReLUs.
# In the backward pass
# $$\frac{\partial y}{\partial x} = \frac{\partial F}{\partial x} + I$$
# (before the ReLU): the identity term carries the gradient to earlier blocks whatever $F$ does.
#
# A check: with the scale of the last batch norm set to zero, $F(x) = 0$ and the block is exactly
# the identity (on non-negative inputs, which is what a ReLU network feeds it).

# %%
block = CifarBlock(16, 16).eval()
nn.init.zeros_(block.bn2.weight)
x = torch.rand(2, 16, 8, 8)
with torch.no_grad():
    print("block(x) == x:", torch.equal(block(x), x))
    print("plain twin gives", f"{CifarBlock(16, 16, residual=False).eval()(x).abs().mean().item():.4f}",
          "(mean |output|), not x")

# %% [markdown]
# Some implementations initialise every block this way ("zero-init residual"): at the start the
# whole network is a shallow one plus identities, and the depth is added as training goes.
#
# ## 4. Shortcuts when the shape changes
#
# The identity only works when $F(x)$ and $x$ have the same shape. When a stage halves the
# resolution and doubles the filters, the paper offers three options:
#
# * **(A) zero padding**: subsample $x$ with stride 2 and pad the new channels with zeros; no
#   parameters (this is what the CIFAR networks above use);
# * **(B) projection where the shape changes**: a 1x1 conv with stride 2 (and a BN), identity
#   elsewhere;
# * **(C) projections everywhere.**
#
# Their cost in parameters, computed for the stage change from 64 to 128 channels and for a whole
# ResNet-34:

# %%
def projection_params(c_in, c_out):
    proj = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=2, bias=False), nn.BatchNorm2d(c_out))
    return count_params(proj)


x = torch.rand(1, 64, 8, 8)
a_shortcut = CifarBlock(64, 128, stride=2).shortcut(x)
print("option A: output shape", tuple(a_shortcut.shape), "parameters 0; zero channels:",
      int((a_shortcut.abs().sum(dim=(0, 2, 3)) == 0).sum()))
print(f"option B: 1x1 conv + BN from 64 to 128 channels: {projection_params(64, 128):,} parameters")

r34 = on_meta(resnet34)
blocks = [b for layer in (r34.layer1, r34.layer2, r34.layer3, r34.layer4) for b in layer]
b_extra = sum(count_params(b.downsample) for b in blocks if b.downsample is not None)
c_extra = b_extra + sum(count_params(nn.Sequential(nn.Conv2d(b.conv1.in_channels, b.conv2.out_channels, 1, bias=False),
                                                   nn.BatchNorm2d(b.conv2.out_channels)))
                        for b in blocks if b.downsample is None)
total = count_params(r34)
print(f"ResNet-34 with option B: {total:,} parameters, of which shortcuts {b_extra:,} ({b_extra / total:.1%})")
print(f"option C would add {c_extra - b_extra:,} more ({(c_extra - b_extra) / total:.1%} of the network)")

# %% [markdown]
# In the paper's ImageNet comparison C was slightly better than B, and B than A, but the gaps were
# small: projections are not what makes ResNets work. Option B is the standard (torchvision's
# models, and ours in `cnnkit.models`, use it); option C is dropped because it costs parameters
# and computation everywhere.
#
# ## 5. The full architecture
#
# Every ImageNet ResNet has the same outline:
#
# 1. a **stem**: 7x7 conv with 64 filters and stride 2, then a 3x3 max pool with stride 2
#    ($224 \to 56$);
# 2. **four stages** of residual blocks with 64, 128, 256 and 512 filters; each new stage doubles
#    the filters and halves the resolution with a stride-2 first block ($56 \to 28 \to 14 \to 7$);
# 3. **global average pooling** and **one fully connected layer** to the 1000 classes: no big FC
#    layers as in AlexNet and VGG.
#
# The depths differ in the number of blocks per stage and in the block: basic blocks (two 3x3
# convs) for 18 and 34 layers, bottleneck blocks for 50 and more. We count parameters and
# multiply-adds of our models on the meta device and compare with the figures torchvision
# publishes for its pretrained models.

# %%
macs, params = {}, {}
published = {"ResNet-18": 11_689_512, "ResNet-34": 21_797_672, "ResNet-50": 25_557_032}
print(f"{'model':10s} {'blocks per stage':>17s} {'parameters':>12s} {'published':>12s} {'GMACs':>6s}")
for name, builder in [("ResNet-18", resnet18), ("ResNet-34", resnet34), ("ResNet-50", resnet50),
                      ("ResNet-101", resnet101), ("ResNet-152", resnet152)]:
    model = on_meta(builder)
    blocks = [len(layer) for layer in (model.layer1, model.layer2, model.layer3, model.layer4)]
    n = count_params(model)
    pub = f"{published[name]:,}" if name in published else "-"
    match = "" if name not in published else ("  equal" if n == published[name] else "  DIFFERENT")
    macs[name], params[name] = count_macs(model, (1, 3, 224, 224)), n
    print(f"{name:10s} {str(blocks):>17s} {n:>12,} {pub:>12s} {macs[name] / 1e9:6.2f}{match}")
vgg_macs = count_macs(on_meta(vgg16), (1, 3, 224, 224))
print(f"VGG-16: {vgg_macs / 1e9:.2f} GMACs; ResNet-152 does {macs['ResNet-152'] / vgg_macs:.0%} of that")
print(f"ResNet-50 has {params['ResNet-50'] / params['ResNet-34'] - 1:.0%} more parameters than ResNet-34")


def weighted_layers(model):
    """Convs and FCs on the main path (projection shortcuts are not counted in a ResNet's name)."""
    return sum(isinstance(m, (nn.Conv2d, nn.Linear)) for name, m in model.named_modules() if "downsample" not in name)


d152, d16 = weighted_layers(on_meta(resnet152)), weighted_layers(on_meta(vgg16))
print(f"weighted layers: ResNet-152 {d152}, VGG-16 {d16} ({d152 / d16:.1f}x deeper)")

# %% [markdown]
# The names count the weighted layers: ResNet-34 has $1 + 2 \cdot (3 + 4 + 6 + 3) + 1 = 34$,
# ResNet-50 has $1 + 3 \cdot (3 + 4 + 6 + 3) + 1 = 50$ (projections not counted). ResNet-152 does
# fewer multiply-adds than VGG-16, despite more than nine times the depth; and ResNet-50, with outputs four
# times wider than ResNet-34's, has only a little more parameters (section 6 says why).
#
# ## 6. The bottleneck block
#
# For 50 layers and more, a block that works on 256 channels first reduces them with a 1x1 conv
# to 64, does the 3x3 conv on 64 channels, and restores 256 with another 1x1 conv: the same idea
# as GoogLeNet's 1x1 reductions. Compare its weights with two 3x3 convs on 256 channels:

# %%
def conv(c_in, c_out, k):
    return nn.Conv2d(c_in, c_out, k, padding=k // 2, bias=False)


bottleneck = nn.Sequential(conv(256, 64, 1), conv(64, 64, 3), conv(64, 256, 1))
basic_256 = nn.Sequential(conv(256, 256, 3), conv(256, 256, 3))
for name, m in [("bottleneck 1x1 64, 3x3 64, 1x1 256", bottleneck), ("two 3x3 convs on 256", basic_256)]:
    print(f"{name:36s} {count_params(m):>10,} weights, {count_macs(m, (1, 256, 56, 56)) / 1e6:8.1f} M MACs on 56x56")
print(f"ratio: {count_params(basic_256) / count_params(bottleneck):.1f}x")

# %% [markdown]
# The bottleneck has about 17 times fewer weights and multiply-adds than a basic block would have at
# that width, which is what lets ResNet-50 have 256- to 2048-channel feature maps with only about
# 4 G multiply-adds.
#
# > **Check yourself.** ResNet-50 has 16 blocks, ResNet-34 also 16. Why does ResNet-50 have only
# > about 17% more parameters than ResNet-34 although its outputs are four times wider?
#
# <details><summary>Answer</summary>
#
# Its 3x3 convs work on the narrow (reduced) width, the same width as ResNet-34's; the extra
# parameters are only in the 1x1 convs, which cost $C_\text{in} C_\text{out}$ weights instead of
# $9 C_\text{in} C_\text{out}$.
# </details>
#
# ## 7. How ResNets were trained, and what they won
#
# The recipe of the paper, as data:

# %%
recipe = {
    "batch norm": "after every conv, before the ReLU",
    "initialisation": "He (Kaiming) normal",
    "optimiser": "SGD, momentum 0.9",
    "learning rate": "0.1, divided by 10 when the validation error plateaus",
    "batch size": "256",
    "weight decay": "1e-5",
    "dropout": "none",
}
for k, v in recipe.items():
    print(f"{k:15s} {v}")

# %% [markdown]
# An ensemble of ResNets reached **3.57%** top-5 error on the ImageNet test set in ILSVRC 2015,
# and ResNets won all five main tracks of ILSVRC and COCO that year (classification, detection,
# localisation, COCO detection and segmentation). The test-set ensembles of the time:

# %%
ensembles = {"VGG (ILSVRC'14)": 7.32, "GoogLeNet (ILSVRC'14)": 6.66, "VGG (later version)": 6.8,
             "PReLU-net": 4.94, "BN-Inception": 4.82, "ResNet (ILSVRC'15)": 3.57}
for k, v in ensembles.items():
    print(f"{k:22s} {v:5.2f}%")
resnet_err = ensembles.pop("ResNet (ILSVRC'15)")
best_before = min(ensembles.values())
print(f"ResNet {resnet_err}% vs best earlier entry {best_before}%: "
      f"{1 - resnet_err / best_before:.0%} fewer top-5 errors")

# %% [markdown]
# ## 8. Where to put BN and ReLU: pre-activation
#
# In the original block the ReLU comes *after* the addition, so the shortcut path is not quite an
# identity: every block clips it. He et al. (2016) tried other orders on CIFAR-10. Their errors
# (in %, lower is better) for ResNet-110 and ResNet-164:

# %%
variants = {  # name: (ResNet-110, ResNet-164) CIFAR-10 test error in %
    "original": (6.61, 5.93),
    "BN after addition": (8.17, 6.50),
    "ReLU before addition": (7.84, 6.14),
    "ReLU-only pre-activation": (6.71, 5.91),
    "full pre-activation": (6.37, 5.46),
}
names = list(variants)
vals = np.array(list(variants.values()))
fig, ax = plt.subplots(figsize=(7, 3.3))
pos = np.arange(len(names))
ax.bar(pos - 0.2, vals[:, 0], 0.4, label="ResNet-110")
ax.bar(pos + 0.2, vals[:, 1], 0.4, label="ResNet-164")
ax.set_xticks(pos, [n.replace(" ", "\n", 1) for n in names], fontsize=8)
ax.set(ylabel="CIFAR-10 error (%)", ylim=(5, 8.5), title="Residual unit variants")
ax.legend()
plt.show()
best = {names[int(i)] for i in vals.argmin(axis=0)}
print(f"best at both depths: {', '.join(best)}; ResNet-164 gains {vals[0, 1] - vals[-1, 1]:.2f} points over the original")

# %% [markdown]
# *Full pre-activation* moves BN and ReLU in front of each conv (BN-ReLU-conv-BN-ReLU-conv) and
# leaves the addition bare, so the shortcut from any block to any later block is a pure identity
# and $x_L = x_l + \sum_{i=l}^{L-1} F(x_i)$. Putting BN after the addition is worst: it rescales
# the shortcut itself. `cnnkit.models.preact_resnet18` builds the pre-activation ResNet-18.
#
# ## 9. ResNet and highway networks
#
# Highway networks (Srivastava et al., 2015) came a few months earlier with a *gated* shortcut:
# $y = T(x) \odot H(x) + (1 - T(x)) \odot x$, where the gate $T(x) = \sigma(W_T x + b_T)$ is
# learned. When the gate closes the shortcut ($T \to 1$) the layer is a plain layer again. ResNet's
# shortcut is the special case that is always open and has no parameters. The gate also costs as
# much as the layer it gates, if it is a conv of the same shape:

# %%
layer = nn.Conv2d(64, 64, 3, padding=1)
gate = nn.Conv2d(64, 64, 3, padding=1)
print(f"conv layer {count_params(layer):,} parameters; highway gate adds {count_params(gate):,}; "
      "identity shortcut adds 0")

# %% [markdown]
# Highway networks did not show gains beyond about 100 layers; ResNets trained with 152 layers on
# ImageNet and over 1000 on CIFAR-10.
#
# > **Check yourself.** In full pre-activation, what is $\partial x_L / \partial x_l$ for blocks
# > $l < L$, and why does it not vanish?
#
# <details><summary>Answer</summary>
#
# $I + \partial / \partial x_l \sum_{i=l}^{L-1} F(x_i)$: the identity term reaches every earlier
# block unchanged, so the gradient cannot vanish by multiplication through many layers (it could
# only be cancelled by the sum, which is unlikely for a whole mini-batch).
# </details>
#
# ## Summary
#
# * Deeper plain networks *train* worse (degradation); it is an optimisation problem.
# * A residual block learns $F(x)$ and outputs $F(x) + x$; the identity is then easy and the
#   gradient has a direct path to every block.
# * Shortcuts: identity where the shape stays, zero padding or a 1x1 projection where it changes.
# * ResNet: stem, four stages doubling filters and halving resolution, global average pooling, one
#   FC; bottleneck blocks from 50 layers on.
# * Full pre-activation (BN-ReLU-conv) keeps the shortcut path a pure identity and trains best.
