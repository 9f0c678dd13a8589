# %% [markdown]
# # Lecture 09 — Beyond ResNet
#
# After ResNet, most new architectures changed *one* thing about it: the width of its blocks, the
# structure inside them, which layers talk to which, or how channels are weighted. Others aimed at
# small, cheap networks, and some let a search algorithm design the network. This lecture goes
# through them with one habit: every claim about a parameter count or a cost is computed from a
# model built in code.
#
# **You will learn**
#
# 1. Network in Network: 1x1 convolutions as small per-pixel MLPs;
# 2. Wide ResNet and ResNeXt: width and cardinality instead of depth;
# 3. stochastic depth and FractalNet: training with shorter networks;
# 4. DenseNet(-BC): concatenating instead of adding, bottlenecks, compression, channel arithmetic;
# 5. SENet: reweighting channels for a tenth more parameters, and what its cost figure counts;
# 6. SqueezeNet: AlexNet's accuracy with fifty times fewer parameters;
# 7. neural architecture search with an evolutionary algorithm, run for real against a
#    random-search baseline;
# 8. accuracy against operations and parameters for the whole zoo;
# 9. after ResNet, briefly: depthwise-separable convolutions (MobileNet) and compound scaling
#    (EfficientNet), their savings computed.

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from cnnkit.diagrams import draw
from cnnkit.data import load_digits
from cnnkit.device import make_repeatable, pick_device, seed_everything
from cnnkit.inspect import count_macs, count_params, layer_table, on_meta
from cnnkit.train import evaluate, fit
from cnnkit.models import (BUILDERS, Bottleneck, DenseBlock, FireModule, SEBlock, Transition, mlpconv,
                           densenet121, nin, resnet50, resnext50_32x4d, se_resnet50, squeezenet1_0,
                           alexnet, wide_resnet50_2)

rng = seed_everything(0)
device = pick_device()
print("device:", device)
make_repeatable(device)  # on the CPU: one thread, deterministic kernels (see cnnkit.device)

# %% [markdown]
# ## 1. Network in Network
#
# Lin, Chen and Yan (2013) replaced each conv layer by an *MLPconv* layer: a conv followed by two
# 1x1 convs, each with a ReLU. A 1x1 conv applies the same fully connected layer to the channel
# vector of every pixel, so an MLPconv layer is a small MLP that slides over the image. Check the
# equivalence: a 1x1 conv and a `Linear` layer with the same weights give the same numbers.

# %%
conv1x1 = nn.Conv2d(8, 5, 1)
fc = nn.Linear(8, 5)
with torch.no_grad():
    fc.weight.copy_(conv1x1.weight[:, :, 0, 0])
    fc.bias.copy_(conv1x1.bias)
    x = torch.randn(2, 8, 6, 6)
    per_pixel = fc(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
    print("1x1 conv == per-pixel FC (to float32 rounding):", torch.allclose(conv1x1(x), per_pixel, atol=1e-6))

block = mlpconv(3, 96, 11, stride=4)
print("an MLPconv layer:", [type(m).__name__ for m in block])
net = on_meta(nin)
print(f"NiN (ImageNet variant): {count_params(net):,} parameters, {count_macs(net, (1, 3, 224, 224)) / 1e9:.2f} GMACs, "
      f"fully connected layers: {sum(isinstance(m, nn.Linear) for m in net.modules())}")
print("its last layer:", type(nin().features[-1][-1]).__name__)
torch.manual_seed(0)
with torch.no_grad():
    print("class scores of a random input all >= 0:", bool((nin(num_classes=10).eval()(torch.randn(2, 3, 224, 224)) >= 0).all()))

# %% [markdown]
# NiN also ended with global average pooling instead of large fully connected layers: its last
# MLPconv produces one map per class, and the average of each map is that class's score. Both
# ideas, 1x1 convs and global average pooling, reappear in GoogLeNet and ResNet.
#
# **Which NiN?** The paper trained NiNs only on small images (CIFAR-10/100, SVHN, MNIST). The
# ImageNet-sized `cnnkit.models.nin` above, with AlexNet-like 11x11, 5x5 and 3x3 first kernels,
# is a later variant (the Caffe model zoo's, the one textbooks usually show). It keeps a ReLU
# after the last 1x1 conv, so its class scores are never negative, as the cell checks: a quirk of
# that variant, not of the paper's design, whose pooled maps go straight into the softmax.
#
# ## 2. Wide ResNet: width factor $k$
#
# Zagoruyko and Komodakis (2016) argued that the residual connection, not extreme depth, is what
# matters, and widened the blocks: $k$ times more filters in each conv. The 3x3 conv weights grow
# as $k^2$, and so do the multiply-adds, but wide layers run well in parallel on a GPU, and their
# 50-layer wide network beat the 152-layer ResNet. torchvision's `wide_resnet50_2` doubles the
# width of the bottleneck's inner convs ($k = 2$):

# %%
base, wide = on_meta(resnet50), on_meta(wide_resnet50_2)
for name, m in [("ResNet-50", base), ("Wide ResNet-50-2", wide)]:
    print(f"{name:17s} {count_params(m):>12,} parameters {count_macs(m, (1, 3, 224, 224)) / 1e9:6.2f} GMACs")
for k in (1, 2, 4):
    blk = nn.Conv2d(64 * k, 64 * k, 3, bias=False)
    print(f"k = {k}: a 3x3 conv with {64 * k} filters has {count_params(blk):,} weights "
          f"({count_params(blk) / 36864:.0f}x)")

# %% [markdown]
# ## 3. ResNeXt: cardinality
#
# ResNeXt (Xie et al., 2017), from the ResNet authors, widens the block with *structure*: the
# bottleneck is split into $C$ parallel paths (the **cardinality**), each a thin bottleneck of width
# $d$, and their outputs are summed. The 32x4d block on 256 channels has 32 paths of
# 256 -> 4 (1x1) -> 4 (3x3) -> 256 (1x1). Compare its weights with ResNet's 256 -> 64 -> 64 -> 256
# bottleneck:

# %%
def convs(*specs):
    """Weights of bias-free convs given as (c_in, c_out, k, groups)."""
    return sum(count_params(nn.Conv2d(a, b, k, groups=g, bias=False)) for a, b, k, g in specs)


resnet_block = convs((256, 64, 1, 1), (64, 64, 3, 1), (64, 256, 1, 1))
one_path = convs((256, 4, 1, 1), (4, 4, 3, 1), (4, 256, 1, 1))
print(f"ResNet bottleneck:     {resnet_block:,} weights")
print(f"ResNeXt 32 paths of 4: 32 x {one_path:,} = {32 * one_path:,} weights "
      f"({32 * one_path / resnet_block - 1:+.1%})")

# %% [markdown]
# Almost the same cost. The 32 separate paths are never built one by one: summing 32 paths whose
# last layers are 1x1 convs is the same as concatenating their 4-channel middles and applying one
# 1x1 conv, and 32 independent 3x3 convs on 4 channels each is a **grouped convolution** with
# `groups=32` on 128 channels. A check that a grouped conv equals separate convs on the groups:

# %%
grouped = nn.Conv2d(128, 128, 3, padding=1, groups=32, bias=False)
x = torch.randn(1, 128, 7, 7)
with torch.no_grad():
    separate = torch.cat([F.conv2d(x[:, 4 * g:4 * g + 4], grouped.weight[4 * g:4 * g + 4], padding=1)
                          for g in range(32)], dim=1)
    print("grouped conv == 32 separate convs (to float32 rounding):", torch.allclose(grouped(x), separate, atol=1e-5))
blk = Bottleneck(256, 64, groups=32, base_width=4)
print(f"ResNeXt block in cnnkit.models: {count_params(blk.conv1) + count_params(blk.conv2) + count_params(blk.conv3):,} "
      "conv weights")
for name, m in [("ResNet-50", base), ("ResNeXt-50 32x4d", on_meta(resnext50_32x4d))]:
    print(f"{name:17s} {count_params(m):>12,} parameters {count_macs(m, (1, 3, 224, 224)) / 1e9:6.2f} GMACs")

# %% [markdown]
# At the same cost, more paths work better. The ResNeXt paper's comparison on ImageNet (single
# 224x224 crop, error in %) at twice the cost of ResNet-101, reached in different ways:

# %%
resnext_table = [  # (model, setting, top-1 error, top-5 error, what was increased)
    ("ResNet-101", "1 x 64d", 22.0, 6.0, "reference (1x cost)"),
    ("ResNeXt-101", "32 x 4d", 21.2, 5.6, "reference (1x cost)"),
    ("ResNet-200", "1 x 64d", 21.7, 5.8, "depth"),
    ("ResNet-101, wider", "1 x 100d", 21.3, 5.7, "width"),
    ("ResNeXt-101", "2 x 64d", 20.7, 5.5, "cardinality and width"),
    ("ResNeXt-101", "64 x 4d", 20.4, 5.3, "cardinality"),
]
for model, setting, top1, top5, how in resnext_table:
    print(f"{model:18s} {setting:9s} top-1 {top1:4.1f}  top-5 {top5:3.1f}   {how}")
best = min(resnext_table[2:], key=lambda r: r[2])
print(f"best 2x-cost model: {best[0]} {best[1]} (by {best[4]})")

# %% [markdown]
# > **Check yourself.** A grouped 3x3 conv with $G$ groups on $C$ channels in and out has how many
# > weights compared with an ordinary one?
#
# <details><summary>Answer</summary>
#
# $9 C^2 / G$: each output channel sees only the $C/G$ channels of its group. With $G = 32$ the
# 3x3 layer becomes 32 times cheaper, which is why ResNeXt can afford 128 channels in the middle
# of its first-stage blocks where ResNet has 64. The cell below counts it.
# </details>

# %%
dense3, grouped3 = nn.Conv2d(128, 128, 3, bias=False), nn.Conv2d(128, 128, 3, groups=32, bias=False)
print(f"3x3 conv 128 -> 128: {count_params(dense3):,} weights; with 32 groups {count_params(grouped3):,} "
      f"(9 C^2 / G = {9 * 128 ** 2 // 32:,}; {count_params(dense3) // count_params(grouped3)}x fewer)")

# %% [markdown]
# A ResNeXt block drawn from `resnext50_32x4d`: the 3x3 convolution has 32 groups of 4 channels
# each, the "cardinality" of the name.

# %%
draw(on_meta(resnext50_32x4d).layer1[1], (256, 56, 56), title="ResNeXt-50 32x4d block")
plt.show()

# %% [markdown]
# ## 4. Stochastic depth and FractalNet
#
# **Stochastic depth** (Huang et al., 2016) trains a deep ResNet as an ensemble of shorter ones: in
# each mini-batch, block $l$ of $L$ is kept with probability $p_l$ and otherwise replaced by the
# identity; at test time all blocks run, each residual scaled by $p_l$. With the linear rule
# $p_l = 1 - \frac{l}{L}(1 - p_L)$ and $p_L = 0.5$, a ResNet-110 (54 blocks) trains on average
# with about three quarters of its blocks:

# %%
class StochasticDepth(nn.Module):
    """Wrap a residual function F: x + F(x) with probability p in training, x + p F(x) at test."""

    def __init__(self, residual, p_keep):
        super().__init__()
        self.residual, self.p_keep = residual, p_keep

    def forward(self, x):
        if not self.training:
            return x + self.p_keep * self.residual(x)
        if torch.rand(()) < self.p_keep:
            return x + self.residual(x)
        return x


L, p_last = 54, 0.5
p = [1 - l / L * (1 - p_last) for l in range(1, L + 1)]
blocks = [StochasticDepth(nn.Identity(), pl) for pl in p]
torch.manual_seed(0)
kept = [sum(bool(torch.rand(()) < b.p_keep) for b in blocks) for _ in range(2000)]  # 2000 mini-batches
print(f"expected blocks per mini-batch: formula {sum(p):.2f}, simulated {np.mean(kept):.2f} of {L}")
print(f"expected weighted layers: {2 * sum(p) + 2:.1f} of 110")
blk = StochasticDepth(nn.Conv2d(4, 4, 3, padding=1), 0.5).eval()
x = torch.randn(1, 4, 5, 5)
with torch.no_grad():
    print("test mode = x + 0.5 F(x):", torch.allclose(blk(x), x + 0.5 * blk.residual(x)))

# %% [markdown]
# **FractalNet** (Larsson et al., 2016) argued that residuals are not needed, only paths of many
# lengths. Its expansion rule: $f_1(x) = \mathrm{conv}(x)$ and
# $f_{C+1}(x) = \mathrm{join}\big(f_C(f_C(x)),\ \mathrm{conv}(x)\big)$, with $C$ columns. Read
# literally, the rule nests joins inside joins; in the expanded network the paper merges
# consecutive joins into one, so a **join takes the outputs of all the columns that meet there and
# averages them with equal weights**, $1/C$ each at the end of a $C$-column block. (Averaging
# pairwise, join by join, would give the columns weights $1/2, 1/4, \dots$, and the deepest ones
# almost nothing.) Trained with whole paths dropped at random, the network can be used at test
# time shallow or deep. Build one, count, and check the join weights by giving every conv an
# input-independent output: column $i$ outputs the constant $i$.

# %%
class Fractal(nn.Module):
    """A fractal block of `columns` columns; `layer()` makes each conv unit (default conv-ReLU)."""

    def __init__(self, columns, ch, layer=None):
        super().__init__()
        layer = layer or (lambda: nn.Sequential(nn.Conv2d(ch, ch, 3, padding=1), nn.ReLU()))
        self.shallow = layer()  # column 1: one unit
        self.deep = (nn.ModuleList([Fractal(columns - 1, ch, layer), Fractal(columns - 1, ch, layer)])
                     if columns > 1 else None)

    def columns(self, x):
        """The outputs of all columns where they meet, shallowest first (before the join)."""
        if self.deep is None:
            return [self.shallow(x)]
        first, second = self.deep
        return [self.shallow(x)] + second.columns(join(first.columns(x)))

    def forward(self, x):
        return join(self.columns(x))


def join(columns):
    """FractalNet's join: the mean of all incoming columns, with equal weights."""
    return torch.stack(columns).mean(0)


def longest_path(m):
    return 1 if m.deep is None else 2 * longest_path(m.deep[0])


class Constant(nn.Module):
    """A stand-in for a conv unit that outputs the constant `value` (to read off join weights)."""

    def __init__(self, value):
        super().__init__()
        self.value = value

    def forward(self, x):
        return torch.full_like(x, float(self.value))


for C in (1, 2, 3, 4):
    f = Fractal(C, 4)
    n_conv = sum(isinstance(m, nn.Conv2d) for m in f.modules())
    assert f(torch.randn(1, 4, 6, 6)).shape == (1, 4, 6, 6)
    print(f"C = {C}: {n_conv:2d} convs (2^C - 1 = {2 ** C - 1:2d}), paths of length 1 to {longest_path(f)} "
          f"(2^(C-1) = {2 ** (C - 1)}), columns meeting at the last join: {len(f.columns(torch.zeros(1, 4, 6, 6)))}")

C = 3
tagged = Fractal(C, 1, layer=lambda: Constant(0))
for depth, m in enumerate([tagged, tagged.deep[1], tagged.deep[1].deep[1]], start=1):
    m.shallow.value = depth  # the last unit of column `depth` outputs `depth`
cols = [c.flatten()[0].item() for c in tagged.columns(torch.zeros(1, 1, 2, 2))]
out = tagged(torch.zeros(1, 1, 2, 2)).flatten()[0].item()
print(f"C = {C}: columns arrive as {cols}; the join gives {out:.4f} = mean {np.mean(cols):.4f}, "
      f"weights {[round(1 / C, 3)] * C}")
print(f"pairwise joins would give (1 + (2 + 3) / 2) / 2 = {(1 + (2 + 3) / 2) / 2:.4f}, weights [0.5, 0.25, 0.25]")

# %% [markdown]
# ## 5. DenseNet
#
# DenseNet (Huang et al., 2017) connects each layer of a **dense block** to every later layer by
# *concatenation*: layer $\ell$ receives $[x_0, x_1, \dots, x_{\ell-1}]$ and adds $k$ new feature
# maps, the **growth rate**. A block of $n$ layers on $c_0$ channels outputs $c_0 + n k$ channels.
# Between blocks a **transition** (BN, 1x1 conv, 2x2 average pool) halves the resolution; in the
# plain DenseNet its 1x1 conv keeps the number of channels (compression, below, reduces it). Features computed early are reused directly by every later layer, and each
# layer has a short path to the loss.
#
# DenseNet-121, like every ImageNet DenseNet of the paper, is a **DenseNet-BC**: two savings on
# top of the plain dense block. **B (bottleneck):** each layer is BN-ReLU-1x1 conv to $4k$
# channels, then BN-ReLU-3x3 conv to $k$; the 3x3 conv reads $4k = 128$ channels instead of the
# hundreds that have accumulated by then. **C (compression):** each transition keeps a fraction
# $\theta = 0.5$ of the channels. DenseNet-121: $k = 32$, blocks of 6, 12, 24 and 16 layers, 64
# channels after the stem. The channel arithmetic, by formula and from the model, then what B and
# C save on the last layer of the third block:

# %%
k, c, formula = 32, 64, []
for i, n in enumerate((6, 12, 24, 16)):
    c = c + n * k
    formula.append(("block", c))
    if i < 3:
        c //= 2
        formula.append(("transition", c))
model = on_meta(densenet121)
measured = [("block", m.out_channels) if isinstance(m, DenseBlock) else ("transition", m[2].out_channels)
            for m in model.features if isinstance(m, (DenseBlock, Transition))]
print("formula: ", " -> ".join(f"{c}" for _, c in formula))
print("measured:", " -> ".join(f"{c}" for _, c in measured), "| equal:", formula == measured)
x = torch.randn(1, 16, 8, 8)
print("a dense block of 4 layers, k = 12, on 16 channels gives", DenseBlock(4, 16, 12)(x).shape[1], "channels")
print(f"DenseNet-121: {count_params(model):,} parameters (ResNet-50: {count_params(base):,})")
layer = model.features[8].layers[-1]  # third dense block, last layer
c_in = layer.conv1.in_channels
print(f"last layer of block 3: input {c_in} channels -> 1x1 conv to {layer.conv1.out_channels} (= 4k) "
      f"-> 3x3 conv to {layer.conv2.out_channels} (= k)")
with_b = count_params(layer.conv1) + count_params(layer.conv2)
without_b = count_params(nn.Conv2d(c_in, k, 3, bias=False))
print(f"its conv weights with the bottleneck {with_b:,}, a plain 3x3 conv on {c_in} channels {without_b:,} "
      f"({without_b / with_b:.1f}x)")
t = model.features[5]
print(f"first transition: {t[2].in_channels} -> {t[2].out_channels} channels (compression "
      f"{t[2].out_channels / t[2].in_channels:.1f})")

# %% [markdown]
# A dense block of four layers drawn from `DenseBlock`: each layer (BN-ReLU-1x1 conv-BN-ReLU-3x3
# conv) reads the concatenation of the block's input and every earlier layer's output.

# %%
draw(DenseBlock(4, 64, 32), (64, 28, 28), title="dense block, 4 layers, growth rate 32", row_height=0.5)
plt.show()

# %% [markdown]
# ## 6. SENet: squeeze and excitation
#
# Hu et al. (2017) added a small module that learns how much each channel should count:
#
# * **squeeze**: global average pooling, $z_c = \frac{1}{HW}\sum_{i,j} u_c(i, j)$;
# * **excitation**: $s = \sigma(W_2\, \mathrm{ReLU}(W_1 z))$, two fully connected layers with a
#   reduction $r = 16$ in between;
# * **reweighting**: $\tilde u_c = s_c\, u_c$.
#
# An SE module on $C$ channels adds $2C^2/r$ weights (plus biases). Inserted into every
# bottleneck of ResNet-50:

# %%
se = SEBlock(256)
x = torch.rand(2, 256, 7, 7)
with torch.no_grad():
    s = torch.sigmoid(se.fc2(F.relu(se.fc1(x.mean(dim=(2, 3))))))
    print("SE(x) == x * s per channel:", torch.allclose(se(x), x * s[:, :, None, None]))
print(f"SE module on 256 channels: {count_params(se):,} parameters (2C^2/r = {2 * 256 ** 2 // 16:,} weights + biases)")
se50 = on_meta(se_resnet50)
added = count_params(se50) - count_params(base)
print(f"SE-ResNet-50: {count_params(se50):,} parameters, +{added:,} ({added / count_params(base):.1%}); "
      f"multiply-adds +{count_macs(se50, (1, 3, 224, 224)) / count_macs(base, (1, 3, 224, 224)) - 1:.2%}")

# %% [markdown]
# About a tenth more parameters (the SENet paper: about 2.5 million more, 10%) and almost no extra
# computation: $+0.06\%$ multiply-adds here, where the SENet paper writes $+0.26\%$ (3.86 to 3.87
# GFLOPs). Three things separate the two figures, and the cell below computes each:
#
# 1. **The base network.** The paper's ResNet-50 is the original one with the stride on the first
#    1x1 conv (3.86 G); ours is torchvision's v1.5 (4.09 G, lecture 08). The SE blocks cost the
#    same in both.
# 2. **What is counted.** `count_macs` counts only the two FC layers of each SE block, 2.5M
#    multiply-adds. The squeeze (a sum over $H \times W$ for each channel) and the rescaling (one
#    multiplication per value of the feature map) are element-wise work of about the same size
#    as the feature maps; counted as well, they bring the total to about 13.5M.
# 3. **Rounding.** $0.26\%$ is $3.87 / 3.86 - 1$, the ratio of two figures rounded to 0.01 G:
#    on the paper's base, any increase between about 7M and 17M prints as 3.87. Counting the FC
#    layers alone, the
#    paper's base would stay at 3.86; counting the squeeze and the rescaling as well, it rounds to
#    3.87, as printed there (the paper does not say what it counted).

# %%
se_fc = count_macs(se50, (1, 3, 224, 224)) - count_macs(base, (1, 3, 224, 224))
maps = {256: 56, 512: 28, 1024: 14, 2048: 7}  # SE channels -> feature-map side, per stage
blocks = {256: 3, 512: 4, 1024: 6, 2048: 3}
elementwise = sum(2 * blocks[c] * c * s * s for c, s in maps.items())  # squeeze adds + rescale multiplies
v1 = count_macs(on_meta(resnet50, stride_in_1x1=True), (1, 3, 224, 224))
print(f"SE FC layers: {se_fc:,} multiply-adds; squeeze + rescale: {elementwise:,} operations")
print(f"paper's base (stride on the 1x1): {v1 / 1e9:.3f} G; + FC layers {(v1 + se_fc) / 1e9:.3f} G; "
      f"+ squeeze and rescale {(v1 + se_fc + elementwise) / 1e9:.3f} G -> rounded {(v1 + se_fc + elementwise) / 1e9:.2f}")
print(f"paper's +0.26% = 3.87 / 3.86 - 1 = {3.87 / 3.86 - 1:.2%}; this count: {(se_fc + elementwise) / v1:.2%}")
print(f"increases that round {v1 / 1e9:.3f} G to 3.87 G: {(3.865e9 - v1) / 1e6:.1f}M to {(3.875e9 - v1) / 1e6:.1f}M")

# %% [markdown]
# An SE network built on ResNeXt-152 won the ILSVRC 2017 classification task, the last edition of the challenge, with a
# 2.25% top-5 error.

# %% [markdown]
# The SE block drawn from `SEBlock`: the squeeze (global pooling), the excitation (two FC layers
# and a sigmoid) and the rescaling of the input's channels.

# %%
draw(SEBlock(256), (256, 56, 56), title="squeeze-and-excitation block")
plt.show()

# %% [markdown]
# ## 7. SqueezeNet
#
# SqueezeNet (Iandola et al., 2016) aimed at a small model. Its **fire module** *squeezes* the
# channels with 1x1 convs and *expands* them again with 1x1 and 3x3 convs side by side; 3x3 filters,
# the expensive ones, only see the few squeezed channels. It has no fully connected layer. The
# paper's claim is AlexNet-level ImageNet accuracy with 50 times fewer parameters:

# %%
fire = FireModule(128, 16, 64, 64)
plain = nn.Conv2d(128, 128, 3, padding=1)
print(f"fire module 128 -> squeeze 16 -> expand 64 + 64: {count_params(fire):,} parameters; "
      f"a 3x3 conv 128 -> 128: {count_params(plain):,}")
a, s = on_meta(alexnet), on_meta(squeezenet1_0)
ratio = count_params(a) / count_params(s)
print(f"AlexNet {count_params(a):,} / SqueezeNet 1.0 {count_params(s):,} = {ratio:.1f}x fewer parameters")
print(f"float32 size: AlexNet {4 * count_params(a) / 2 ** 20:.1f} MiB, SqueezeNet {4 * count_params(s) / 2 ** 20:.2f} MiB")

# %% [markdown]
# With pruning and quantisation on top, the paper shrank the model to about half a megabyte,
# roughly 500 times smaller than AlexNet. Fewer parameters is not the same as less computation,
# though: SqueezeNet 1.0 does more multiply-adds than AlexNet (section 9 shows both).
#
# > **Check yourself.** Why does the squeeze layer make the expand layer's 3x3 convs cheap?
#
# <details><summary>Answer</summary>
#
# A 3x3 conv costs $9 C_\text{in} C_\text{out}$ weights; the squeeze layer makes $C_\text{in}$
# small (16 instead of 128 above). Replacing half of the expand filters by 1x1 filters saves another
# factor of 9 on them. Counted:
# </details>

# %%
expand3 = nn.Conv2d(16, 64, 3, bias=False)
print(f"expand 3x3 on 16 squeezed channels: {count_params(expand3):,} weights; on all 128 input channels: "
      f"{count_params(nn.Conv2d(128, 64, 3, bias=False)):,}; expand 1x1: {count_params(nn.Conv2d(16, 64, 1, bias=False)):,}")

# %% [markdown]
# ## 8. Neural architecture search
#
# All the networks so far were designed by hand. Architectures are discrete structures, so they
# cannot be tuned by backpropagation; searching over them with an outer loop works, at a price
# that only large labs could first pay (thousands of GPU days). Real et al. (2019) used an
# **evolutionary algorithm**:
#
# 1. initialise a population $P$ at random and evaluate every individual (train it, measure its
#    validation accuracy);
# 2. for each round: draw a random sample $S$ from $P$ (**tournament selection**), take the
#    fittest of $S$ as the parent, **mutate** a copy of it into a child, evaluate the child and add
#    it to $P$;
# 3. remove one individual: the least fit, or in *regularised evolution* the **oldest** (aging),
#    so that an architecture survives only by having fit descendants, not by one lucky evaluation.
#
# We run it on a tiny search space: a network is a list of one to four conv layers, each with 4,
# 8 or 16 filters of size 1, 3 or 5, followed by a ReLU, then pooling to 4x4 and a linear
# classifier. Fitness is the validation accuracy on the 8x8 digits after 3 epochs (60 steps) of
# Adam through `cnnkit.train.fit`, seeded, so that an architecture always gets the same fitness.
# Mutations change one layer's filters or size, add a layer or remove one.
#
# A search result means little on its own: the question is whether it beats **random search**,
# drawing the same number of architectures at random, and whether it does so for more than one
# seed of the search. We run both, with the same budget of evaluations, for five seeds.

# %%
data = load_digits(size=8)
train_digits = (torch.from_numpy(data.X_train), torch.from_numpy(data.y_train))
val_digits = (torch.from_numpy(data.X_val), torch.from_numpy(data.y_val))
CHANNELS, KERNELS, MAX_LAYERS = (4, 8, 16), (1, 3, 5), 4
space = sum((len(CHANNELS) * len(KERNELS)) ** n for n in range(1, MAX_LAYERS + 1))
print(f"search space: {space:,} architectures")


def build(genome):
    layers, c = [], 1
    for ch, k in genome:
        layers += [nn.Conv2d(c, ch, k, padding=k // 2), nn.ReLU()]
        c = ch
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(4), nn.Flatten(), nn.Linear(16 * c, 10))


CACHE = {}  # genome -> fitness: an architecture met twice is not trained twice
TEST = {}   # genome -> accuracy on the test digits, recorded for the report only, never for selection
test_digits = (torch.from_numpy(data.X_test), torch.from_numpy(data.y_test))


def fitness(genome):
    key = tuple(genome)
    if key not in CACHE:
        torch.manual_seed(0)
        model = build(genome)
        fit(model, train_digits, epochs=3, batch_size=64, optimizer=torch.optim.Adam(model.parameters(), lr=0.01),
            schedule=None, device=device, seed=0, progress=False)
        CACHE[key] = evaluate(model, val_digits)[1]
        TEST[key] = evaluate(model, test_digits)[1]
    return CACHE[key]


def random_genome(r):
    return [random_layer(r) for _ in range(int(r.integers(1, MAX_LAYERS + 1)))]


def random_layer(r):
    return (int(r.choice(CHANNELS)), int(r.choice(KERNELS)))


def mutate(genome, r):
    g = list(genome)
    moves = ["filters", "size"] + (["add"] if len(g) < MAX_LAYERS else []) + (["remove"] if len(g) > 1 else [])
    move = r.choice(moves)
    i = int(r.integers(len(g)))
    if move == "filters":
        g[i] = (int(r.choice([c for c in CHANNELS if c != g[i][0]])), g[i][1])
    elif move == "size":
        g[i] = (g[i][0], int(r.choice([k for k in KERNELS if k != g[i][1]])))
    elif move == "add":
        g.insert(int(r.integers(len(g) + 1)), random_layer(r))
    else:
        g.pop(i)
    return g


def evolve(pop_size=10, rounds=30, sample=3, aging=True, seed=0):
    """Regularised evolution; returns the final population, the fitness of every evaluation and its genomes."""
    r = np.random.default_rng(seed)
    population = []  # (genome, fitness), oldest first
    for _ in range(pop_size):
        g = random_genome(r)
        population.append((g, fitness(g)))
    history = [f for _, f in population]
    genomes = [g for g, _ in population]
    for _ in range(rounds):
        contenders = [population[i] for i in r.choice(len(population), size=sample, replace=False)]
        parent = max(contenders, key=lambda t: t[1])[0]
        child = mutate(parent, r)
        population.append((child, fitness(child)))
        history.append(population[-1][1])
        genomes.append(child)
        if aging:
            population.pop(0)  # the oldest dies
        else:
            population.pop(int(np.argmin([f for _, f in population])))  # the least fit dies
    return population, history, genomes


def random_search(evaluations=40, seed=0):
    """The baseline: as many architectures drawn at random; (the fitness of every evaluation, the genomes)."""
    r = np.random.default_rng(1000 + seed)  # draws independent of the evolution's
    genomes = [random_genome(r) for _ in range(evaluations)]
    return [fitness(g) for g in genomes], genomes


SEARCH_SEEDS = range(5)
evo_runs = {s: evolve(seed=s) for s in SEARCH_SEEDS}
evo = {s: run[:2] for s, run in evo_runs.items()}               # (population, fitness of every evaluation)
evo_genomes = {s: run[2] for s, run in evo_runs.items()}
rnd_runs = {s: random_search(len(evo[s][1]), seed=s) for s in SEARCH_SEEDS}
rnd = {s: run[0] for s, run in rnd_runs.items()}                # fitness of every evaluation
rnd_genomes = {s: run[1] for s, run in rnd_runs.items()}
print(f"{len(SEARCH_SEEDS)} seeds x ({len(evo[0][1])} evolution + {len(rnd[0])} random) evaluations")

# %%
# NBVAL_IGNORE_OUTPUT
# The search's path follows comparisons of trained accuracies: where the CPU rounds differently
# one validation image can change class, a comparison can flip and the path with it, so the
# per-seed figures below can move between machines. The verdicts in the next cell do not.
GOOD = 0.9
print(f"{len(CACHE)} distinct architectures trained")
print(f"{'seed':>4s} {'best (evolution)':>17s} {'best (random)':>14s} {'children above ' + str(GOOD):>20s} "
      f"{'random above ' + str(GOOD):>18s}")
for s in SEARCH_SEEDS:
    children = np.array(evo[s][1][10:])
    print(f"{s:>4d} {max(evo[s][1]):>17.2f} {max(rnd[s]):>14.2f} {np.mean(children > GOOD):>20.2f} "
          f"{np.mean(np.array(rnd[s]) > GOOD):>18.2f}")
best_g, best_f = max(CACHE.items(), key=lambda t: t[1])
print(f"best architecture ever evaluated: {list(best_g)} (filters, size) -> {best_f:.2f}, "
      f"{count_params(build(best_g)):,} parameters")

# %%
at_least = sum(max(evo[s][1]) >= max(rnd[s]) for s in SEARCH_SEEDS)
better_share = sum(np.mean(np.array(evo[s][1][10:]) > GOOD) > np.mean(np.array(rnd[s]) > GOOD) for s in SEARCH_SEEDS)
print(f"evolution's best at least as good as random search's best in every seed: {at_least == len(SEARCH_SEEDS)}")
print(f"evolution's children above {GOOD} more often than random draws in every seed: "
      f"{better_share == len(SEARCH_SEEDS)}")

fig, ax = plt.subplots(figsize=(6.5, 3.4))
for s in SEARCH_SEEDS:
    ax.plot(np.maximum.accumulate(evo[s][1]), color="tab:blue", alpha=0.7, label="evolution" if s == 0 else None)
    ax.plot(np.maximum.accumulate(rnd[s]), color="tab:orange", alpha=0.7, ls="--",
            label="random search" if s == 0 else None)
ax.axvline(9.5, color="gray", lw=0.8, ls=":")
ax.set(xlabel="evaluations (evolution: first 10 are its random population)", ylabel="best validation accuracy so far",
       title=f"Regularised evolution vs random search, {len(SEARCH_SEEDS)} seeds")
ax.legend()
plt.show()

# %% [markdown]
# What the runs show (the verdicts just before the plot): the children that evolution breeds
# from the fittest of a sample are good (above 0.9) more often than random draws are, in
# every seed, and the best architecture it finds is at least as good as random search's best in
# every seed. The margins on the *best* architecture are small (compare the two "best" columns of
# the table, in validation accuracy): in a space of 7,380 architectures where a large share of
# the random draws already exceed 0.9 (the table's last column), forty random draws come close to
# the top. That is the honest lesson of a
# small demonstration: random search is the baseline every search method must beat, and the
# advantage of evolution shows in how much of the budget it spends on good candidates. (A child
# can still fail: a low accuracy is a network whose training went wrong in 60 steps.)
#
# **Judge the winner on data the search never saw.** Every "best" above is the highest
# *validation* accuracy among dozens of candidates, and the search chose it *because* it was
# highest: part of its lead is the luck of this validation set (269 digits, so one digit is 0.4
# points). That maximum is biased upwards, as a selected score always is, and the honest report is
# the chosen architecture's accuracy on the **test** digits, which played no part in the choice.
# `fitness` recorded it for every candidate; the cell below reads it only for each search's pick.

# %%
def pick(evaluated):
    """The architecture a search returns: the highest validation accuracy among those it evaluated."""
    return max(evaluated, key=lambda g: CACHE[tuple(g)])


evo_picks = {s: pick(evo_genomes[s]) for s in SEARCH_SEEDS}
rnd_picks = {s: pick(rnd_genomes[s]) for s in SEARCH_SEEDS}
gap = [CACHE[tuple(g)] - TEST[tuple(g)] for picks in (evo_picks, rnd_picks) for g in picks.values()]
print("every pick (both searches, every seed) above 0.9 on the test digits:",
      all(TEST[tuple(g)] > 0.9 for picks in (evo_picks, rnd_picks) for g in picks.values()))
print(f"the picks' test accuracy below their validation accuracy on average over the {len(gap)} picks:",
      float(np.mean(gap)) > 0)

# %%
# NBVAL_IGNORE_OUTPUT
# The picks follow the search's path (see above), so these figures can move between machines.
print(f"{'seed':>4s} {'evolution: val':>15s} {'test':>6s} {'random: val':>12s} {'test':>6s}")
for s in SEARCH_SEEDS:
    e, r_ = tuple(evo_picks[s]), tuple(rnd_picks[s])
    print(f"{s:>4d} {CACHE[e]:>15.3f} {TEST[e]:>6.3f} {CACHE[r_]:>12.3f} {TEST[r_]:>6.3f}")
print(f"mean validation minus test accuracy of the picks: {np.mean(gap):+.3f}")

# %% [markdown]
# Read the table with that bias in mind: a pick's test accuracy is the estimate of how good the
# architecture is, and it falls below the validation accuracy that selected it on average (the
# verdict above). Compare the two searches' picks in the test columns knowing what a difference
# there is worth: one point is about three of 269 digits, each architecture was trained once from
# one seed, and five seeds of a search are a small sample. What the demonstration establishes is
# the verdicts: evolution spends more of its budget on good candidates, and both searches' picks
# hold up on unseen digits. Whether evolution's pick is *better* than random search's is what the
# test columns estimate, with that much uncertainty.
#
# Real NAS runs do the same with thousands of individuals, search spaces far too large to
# sample at random (the structure of a whole cell) and fitness measured on a real data set;
# there Real et al. found evolution ahead of random search, with aging helping most early in the
# search. Later methods (ENAS, DARTS) cut the cost by sharing weights between candidates or by
# relaxing the discrete choice so that it can be learned by gradient descent.
#
# > **Check yourself.** Why remove the oldest individual rather than the least fit?
#
# <details><summary>Answer</summary>
#
# Real et al.'s argument is about **noisy** fitness: where each evaluation trains from a new random
# start, an architecture can get a lucky score and then stay in the population forever, dominating
# the tournaments. Aging removes every individual after a fixed time; a good architecture survives
# only through its children, which are evaluated again, so the search favours architectures that
# are good robustly. The demo above cannot show this: an architecture met again gets its cached
# score, and its one training run is seeded (on the CPU, with deterministic kernels, training it
# again gives the same score: the next cell checks it), so no score is ever re-drawn. What aging still does here is keep the
# population changing, which favours exploration; whether that helps in this tiny space is not
# measured.
# </details>

# %%
g0 = evo_genomes[0][-1]
before = CACHE.pop(tuple(g0))
print(f"an architecture trained again from the same seed gets the same fitness on this device ({device.type}):",
      fitness(g0) == before)

# %% [markdown]
# ## 9. Accuracy, operations and parameters
#
# The comparison everyone remembers plots ImageNet accuracy against the cost of a forward pass,
# with the size of each bubble showing the parameters. The accuracies below are the published
# top-1 figures of torchvision's pretrained models; operations and parameters are measured from
# our own models on the meta device.

# %%
top1 = {"alexnet": 56.522, "vgg16": 71.592, "googlenet": 69.778, "resnet18": 69.758, "resnet34": 73.314,
        "resnet50": 76.130, "densenet121": 74.434, "resnext50_32x4d": 77.618, "squeezenet1_0": 58.092,
        "squeezenet1_1": 58.178}
rows = []
for name, acc in top1.items():
    m = on_meta(BUILDERS[name])
    rows.append((name, acc, count_macs(m, (1, 3, 224, 224)) / 1e9, count_params(m) / 1e6))
print(f"{'model':16s} {'top-1 %':>8s} {'GMACs':>7s} {'M params':>9s} {'top-1 per GMAC':>15s}")
for name, acc, g, mp in sorted(rows, key=lambda r: r[2]):
    print(f"{name:16s} {acc:8.2f} {g:7.2f} {mp:9.2f} {acc / g:15.1f}")

fig, ax = plt.subplots(figsize=(7.5, 4.5))
for name, acc, g, mp in rows:
    ax.scatter(g, acc, s=mp * 8, alpha=0.5)
    dx, dy = {"googlenet": (-22, 0), "resnet18": (18, 0), "alexnet": (0, -30), "squeezenet1_0": (22, 0)}.get(name, (0, 0))
    ax.annotate(name, (g, acc), xytext=(dx, dy + 6 + np.sqrt(mp * 8) / 2), textcoords="offset points",
                fontsize=8, ha="center")
ax.set_xscale("log")
for size in (5, 25, 100):  # size legend: bubbles of known parameter counts
    ax.scatter([], [], s=size * 8, color="grey", alpha=0.4, label=f"{size}M parameters")
ax.legend(loc="lower right", labelspacing=1.6, borderpad=1.0, fontsize=8, title="bubble area", title_fontsize=8)
ax.set(xlabel="multiply-adds per 224x224 image (G, log scale)", ylabel="ImageNet top-1 accuracy (%)",
       title="Accuracy vs operations; bubble area ~ parameters", ylim=(52, 81))
plt.show()

# %% [markdown]
# Reading the chart:
#
# * VGG-16 is the largest bubble and the most expensive forward pass, for less accuracy than
#   ResNet-34 at a quarter of the cost;
# * GoogLeNet and the ResNets form the efficient frontier of their time; ResNeXt-50 gains about a
#   point and a half over ResNet-50 at almost the same cost;
# * AlexNet is cheap to run but has many parameters (its fully connected layers) and low accuracy;
#   SqueezeNet matches its accuracy with a tiny bubble;
# * DenseNet-121 is small in parameters *and* in multiply-adds: fewer of both than ResNet-34 and
#   ResNet-50 (the table). Its cost is elsewhere, in memory: every layer of a dense block
#   concatenates all earlier feature maps and passes the whole stack through batch norm and a
#   ReLU before its 1x1 conv reads it. Those layers do almost no arithmetic but read and write
#   every value, so DenseNet-121 moves more activation values than ResNet-50 for fewer
#   multiply-adds, and runs slower than its multiply-adds suggest (memory-bound layers,
#   lecture 11). The next cell counts the values that the leaf layers write in one forward pass.

# %%
def activation_profile(builder):
    """(multiply-adds, values written by all leaf layers, of which by BN and ReLU) for one 224x224 image."""
    rows = layer_table(on_meta(builder), (3, 224, 224))
    return (sum(r.macs for r in rows), sum(r.activations for r in rows),
            sum(r.activations for r in rows if r.type in ("BatchNorm2d", "ReLU")))


profiles = {name: activation_profile(BUILDERS[name]) for name in ("resnet34", "resnet50", "densenet121")}
print(f"{'model':12s} {'GMACs':>6s} {'M values written':>17s} {'by BN and ReLU':>15s} {'MACs per value':>15s}")
for name, (macs, values, bn_relu) in profiles.items():
    print(f"{name:12s} {macs / 1e9:6.2f} {values / 1e6:17.1f} {bn_relu / values:15.0%} {macs / values:15.0f}")
d, r50 = profiles["densenet121"], profiles["resnet50"]
print(f"DenseNet-121 vs ResNet-50: {d[0] / r50[0]:.2f}x the multiply-adds, {d[1] / r50[1]:.2f}x the values written")

# %% [markdown]
# ## 10. After ResNet, briefly: MobileNet and EfficientNet
#
# **Depthwise-separable convolutions** (MobileNet, Howard et al., 2017) split a $D_k \times D_k$
# convolution from $M$ to $N$ channels into two steps: a *depthwise* $D_k \times D_k$ convolution
# that filters each of the $M$ channels on its own (a grouped convolution with $M$ groups), and a
# *pointwise* 1x1 convolution that mixes the channels. On a $D_F \times D_F$ output map the
# multiply-adds are
#
# $$\underbrace{D_k^2\, M\, N\, D_F^2}_{\text{standard}} \quad\text{against}\quad
#   \underbrace{D_k^2\, M\, D_F^2}_{\text{depthwise}} + \underbrace{M\, N\, D_F^2}_{\text{pointwise}},
#   \qquad \text{ratio} = \frac{1}{N} + \frac{1}{D_k^2},$$
#
# and the weights shrink by the same ratio ($D_F$ cancels). With 3x3 kernels the saving is
# close to 9x. `count_macs` and `count_params` count both versions of a layer from MobileNet's
# middle (14x14 maps, 512 channels in and out) and compare with the formula:

# %%
M, N, D_k, D_F = 512, 512, 3, 14
standard = nn.Conv2d(M, N, D_k, padding=1, bias=False)
separable = nn.Sequential(nn.Conv2d(M, M, D_k, padding=1, groups=M, bias=False),  # depthwise
                          nn.Conv2d(M, N, 1, bias=False))                          # pointwise
macs_std, macs_sep = count_macs(standard, (M, D_F, D_F)), count_macs(separable, (M, D_F, D_F))
par_std, par_sep = count_params(standard), count_params(separable)
formula = 1 / N + 1 / D_k ** 2
print(f"standard 3x3 conv:    {macs_std:>12,} multiply-adds, {par_std:>9,} weights")
print(f"depthwise + 1x1 conv: {macs_sep:>12,} multiply-adds, {par_sep:>9,} weights")
print(f"ratio of multiply-adds {macs_sep / macs_std:.4f}, of weights {par_sep / par_std:.4f}; "
      f"formula 1/N + 1/D_k^2 = {formula:.4f}")
print("both ratios equal the formula exactly:", macs_sep * N * D_k ** 2 == macs_std * (D_k ** 2 + N)
      and par_sep * N * D_k ** 2 == par_std * (D_k ** 2 + N))
print(f"saving: {macs_std / macs_sep:.2f}x fewer multiply-adds")

# %% [markdown]
# The price is accuracy per layer: a depthwise filter sees one channel, so MobileNet relies on
# the 1x1 convs for all the mixing, and those now hold almost all of the cost (the cell below
# splits it). MobileNet-v2 adds inverted residual blocks (expand with 1x1, depthwise 3x3,
# project back with a linear 1x1) around the same idea.

# %%
dw, pw = count_macs(separable[0], (M, D_F, D_F)), count_macs(separable[1], (M, D_F, D_F))
print(f"depthwise {dw:,} ({dw / macs_sep:.1%}), pointwise {pw:,} ({pw / macs_sep:.1%}) of the separable layer's multiply-adds")

# %% [markdown]
# **Compound scaling** (EfficientNet, Tan and Le, 2019). A network can be made bigger in depth
# $d$ (layers), width $w$ (channels) and resolution $r$ (input side). The cost of a conv network
# grows linearly with depth and with the square of width and of resolution, so scaling the three
# by $\alpha^\phi$, $\beta^\phi$, $\gamma^\phi$ multiplies the multiply-adds by
# $(\alpha \beta^2 \gamma^2)^\phi$. EfficientNet fixes the ratio between the three once, with a
# small grid search under the constraint
#
# $$\alpha \cdot \beta^2 \cdot \gamma^2 \approx 2, \qquad \alpha, \beta, \gamma \ge 1,$$
#
# so that each step of the *compound coefficient* $\phi$ doubles the cost. The paper's search
# on its baseline (EfficientNet-B0) gave $\alpha = 1.2$, $\beta = 1.1$, $\gamma = 1.15$. The cell
# below computes the constraint and what $\phi = 1, 2, 3$ mean for a baseline of 18 layers, 64
# channels and 224x224 inputs, and checks the cost formula on a real scaled network: a
# ResNet-18-like stack whose conv widths and input size are scaled (depth is kept, so only
# $\beta^2 \gamma^2$ applies there).

# %%
alpha, beta, gamma = 1.2, 1.1, 1.15
print(f"alpha * beta^2 * gamma^2 = {alpha * beta ** 2 * gamma ** 2:.4f}  (the constraint: about 2)")
for phi in (1, 2, 3):
    print(f"phi = {phi}: depth x{alpha ** phi:.3f} (18 -> {18 * alpha ** phi:.0f} layers), "
          f"width x{beta ** phi:.3f} (64 -> {64 * beta ** phi:.0f} channels), "
          f"resolution x{gamma ** phi:.3f} (224 -> {224 * gamma ** phi:.0f} px), "
          f"cost x{(alpha * beta ** 2 * gamma ** 2) ** phi:.2f}")


def conv_stack(width):
    """Three 3x3 convs of `width` channels (no pooling): cost ~ width^2 x pixels."""
    return nn.Sequential(nn.Conv2d(3, width, 3, padding=1, bias=False),
                         nn.Conv2d(width, width, 3, padding=1, bias=False),
                         nn.Conv2d(width, width, 3, padding=1, bias=False))


base = count_macs(conv_stack(64), (3, 224, 224))
w1, r1 = round(64 * beta), round(224 * gamma)  # phi = 1, rounded to whole channels and pixels
scaled = count_macs(conv_stack(w1), (3, r1, r1))
predicted = (w1 / 64) ** 2 * (r1 / 224) ** 2  # the two convs between width-w maps dominate
print(f"width 64 -> {w1}, resolution 224 -> {r1}: measured cost x{scaled / base:.3f}, "
      f"(w'/w)^2 (r'/r)^2 = x{predicted:.3f}, beta^2 gamma^2 = x{beta ** 2 * gamma ** 2:.3f}")

# %% [markdown]
# The measured factor is a little below $(w'/w)^2 (r'/r)^2$ because the first conv has only 3
# input channels, so its cost grows linearly with width, not with its square; rounding widths and
# sizes to whole numbers moves it off $\beta^2\gamma^2$ too. EfficientNet-B0 itself is built from
# MobileNet-v2's inverted residual blocks with SE modules (section 6), and B1 to B7 are its
# compound-scaled versions.
#
# > **Check yourself.** A depthwise-separable layer with 5x5 kernels and 64 output channels: what
# > fraction of the standard layer's multiply-adds does it need?
#
# <details><summary>Answer</summary>
#
# $1/64 + 1/25 = 0.0556$, about 18x fewer: $D_k^2 = 25$ dominates, and the larger the kernel the
# larger the saving. Computed:
# </details>

# %%
print(f"1/64 + 1/25 = {1 / 64 + 1 / 25:.4f}; counted: "
      f"{count_macs(nn.Sequential(nn.Conv2d(64, 64, 5, padding=2, groups=64, bias=False), nn.Conv2d(64, 64, 1, bias=False)), (64, 8, 8)) / count_macs(nn.Conv2d(64, 64, 5, padding=2, bias=False), (64, 8, 8)):.4f}")

# %% [markdown]
# ## Summary
#
# * 1x1 convs (NiN) mix channels cheaply; global average pooling replaces big FC layers.
# * Width (Wide ResNet) and cardinality (ResNeXt, grouped convs) are alternatives to depth;
#   ResNeXt's 32x4d block costs what a ResNet bottleneck costs and, in the paper's ImageNet
#   results (not checked by this course's small comparison, lecture 11), works better.
# * Stochastic depth and FractalNet train with shorter effective networks; DenseNet concatenates
#   all earlier features inside a block (channels grow by $k$ per layer).
# * SE modules reweight channels for about a tenth more parameters; SqueezeNet reaches AlexNet's
#   accuracy with 49x fewer parameters.
# * Architecture search automates design; the evolutionary version is tournament selection,
#   mutation and aging, and must be judged against random search with the same budget.
# * Depthwise-separable convolutions cost $1/N + 1/D_k^2$ of a standard one (about 9x less with
#   3x3 kernels); compound scaling grows depth, width and resolution together, $\alpha\beta^2\gamma^2 \approx 2$
#   per step of $\phi$.
