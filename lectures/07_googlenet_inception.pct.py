# %% [markdown]
# # Lecture 07 — GoogLeNet and the Inception module
#
# GoogLeNet won ILSVRC 2014 with a 6.7% top-5 error (an ensemble of 7 networks; section 3), deeper than VGG yet with a small fraction of
# its parameters and computation. Its building block, the **Inception module**, runs several
# filter sizes side by side and uses 1x1 convolutions to keep the cost down. This lecture counts
# that cost exactly, then assembles the whole network.
#
# **You will learn**
#
# 1. the "naive" Inception module and why it is too expensive;
# 2. how 1x1 "bottleneck" convolutions cut its cost, term by term (and why the usual slide
#    figure does not add up);
# 3. the full GoogLeNet: 22 layers, 9 Inception modules, global average pooling, auxiliary
#    classifiers, and how many parameters it really has;
# 4. the factorisations of Inception v2/v3 (5x5 into two 3x3, $n \times n$ into $1 \times n$ and
#    $n \times 1$).
#
# **Counting cost.** One *multiply-add* (MAC) is one multiplication and one addition, e.g.
# $w \cdot x + \text{acc}$. A conv layer with an $H' \times W' \times K$ output, $F \times F$
# filters and $D$ input channels does $H' W' K \cdot F F D$ of them; pooling, ReLU and biases are
# not counted (they are small). `cnnkit.inspect.count_macs` counts exactly this.

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn as nn

from cnnkit.diagrams import draw
from cnnkit.device import pick_device, seed_everything
from cnnkit.inspect import conv_output_size, count_macs, count_params, flop_counter_macs, on_meta, receptive_field
from cnnkit.models import GOOGLENET_MODULES, InceptionModule, alexnet, googlenet, vgg16

rng = seed_everything(0)
device = pick_device()
print("device:", device)

# %% [markdown]
# ## 1. The naive Inception module
#
# Which filter size should a layer use, 1x1, 3x3 or 5x5? The Inception module does not choose: it
# applies all of them, plus a 3x3 max pool, **in parallel** to the same input, and concatenates
# the results along the depth. Padding keeps every branch at the input's height and width.
#
# The running example: an input of 28x28x256 and branches 1x1 conv with 128 filters, 3x3 conv
# with 192, 5x5 conv with 96, and a 3x3 max pool (stride 1), which keeps all 256 channels.

# %%
H = W = 28
D = 256
naive = InceptionModule(D, 128, None, 192, None, 96, None, bn=False)  # no reductions, no projection
x = torch.zeros(1, D, H, W)
branch_shapes = [tuple(b(x).shape[1:]) for b in (naive.branch1, naive.branch2, naive.branch3, naive.branch4)]
for name, s in zip(["1x1 conv, 128", "3x3 conv, 192", "5x5 conv, 96", "3x3 max pool"], branch_shapes):
    print(f"{name:<14} -> {s[1]}x{s[2]}x{s[0]}")
out = naive(x)
print(f"concatenated   -> {out.shape[2]}x{out.shape[3]}x{out.shape[1]}  (128 + 192 + 96 + 256 = {128 + 192 + 96 + 256})")

# %% [markdown]
# The cost of each conv branch is $28 \cdot 28 \cdot K \cdot F \cdot F \cdot 256$:

# %%
naive_terms = {
    "1x1 conv, 128": H * W * 128 * 1 * 1 * D,
    "3x3 conv, 192": H * W * 192 * 3 * 3 * D,
    "5x5 conv, 96": H * W * 96 * 5 * 5 * D,
}
for name, macs in naive_terms.items():
    print(f"{name:<14} {macs:>13,}")
naive_total = sum(naive_terms.values())
print(f"{'total':<14} {naive_total:>13,}  (about {naive_total / 1e6:.0f}M)")
print(f"count_macs of the module:   {count_macs(naive, (D, H, W)):,}")
print(f"PyTorch's FlopCounterMode:  {flop_counter_macs(naive, (D, H, W)):,} multiply-adds")

# %% [markdown]
# About **854M multiply-adds** for one module on one image. There is a second problem: the pooling
# branch passes all 256 input channels through, so the output is always deeper than the input
# (672 > 256). Stacking such modules makes the depth, and the cost of the next module, grow at
# every step.

# %% [markdown]
# The naive module, drawn from the object above: four branches side by side, each at full depth,
# concatenated.

# %%
draw(naive, (D, H, W), title="naive Inception module on 28x28x256")
plt.show()

# %% [markdown]
# ## 2. Bottleneck layers: 1x1 convolutions that reduce depth
#
# A 1x1 conv with $K$ filters maps a $28 \times 28 \times 256$ volume to $28 \times 28 \times K$:
# a per-pixel linear projection of the channels. Put one with $K = 64$ in front of the 3x3 and
# 5x5 convs, and one after the pool:

# %%
bottleneck = InceptionModule(D, 128, 64, 192, 64, 96, 64, bn=False)
terms = {
    "1x1 conv, 64 (before 3x3)": H * W * 64 * 1 * 1 * D,
    "1x1 conv, 64 (before 5x5)": H * W * 64 * 1 * 1 * D,
    "1x1 conv, 128": H * W * 128 * 1 * 1 * D,
    "3x3 conv, 192 (on 64)": H * W * 192 * 3 * 3 * 64,
    "5x5 conv, 96 (on 64)": H * W * 96 * 5 * 5 * 64,
    "1x1 conv, 64 (after pool)": H * W * 64 * 1 * 1 * D,
}
for name, macs in terms.items():
    print(f"{name:<27} {macs:>12,}")
total = sum(terms.values())
print(f"{'total':<27} {total:>12,}  (about {total / 1e6:.0f}M)")
print(f"count_macs of the module:   {count_macs(bottleneck, (D, H, W)):,}")
print(f"output depth: 128 + 192 + 96 + 64 = {bottleneck(x).shape[1]}")
print(f"cost vs the naive module: {total / naive_total:.1%}")

# %% [markdown]
# ### Why the slides print 358M (or 353M)
#
# The slides list exactly these six terms, yet print a total of **358M** (one deck: **353M**). The
# six terms sum to **271M**. The 358M figure is what one gets when the 3x3 term (86.7M) is
# counted twice, or equivalently when the 3x3 conv reads 128 reduced channels instead of 64:

# %%
term3 = terms["3x3 conv, 192 (on 64)"]
print(f"sum of the six printed terms:        {total / 1e6:.1f}M")
print(f"with the 3x3 term counted twice:     {(total + term3) / 1e6:.1f}M")
print(f"with a 3x3 conv reading 128 channels: {(total - term3 + H * W * 192 * 9 * 128) / 1e6:.1f}M")
print(f"the deck's 5x5 line reads '...x5x5x264': that term alone would be {H * W * 96 * 25 * 264 / 1e6:.1f}M")

# %% [markdown]
# So 358M is an arithmetic slip (it equals 271M plus one extra 3x3 term, to the million), and the
# 353M of the other deck matches no single change of a term: it is best read as a copying slip of
# 358M. The deck that prints 353M also writes 264 for the 5x5 conv's input depth, a typo for 64
# (with 264 the total would be far above either figure). Whatever the figure, the conclusion
# stands: the bottleneck version costs about a third of the naive one, and its output is 480
# channels deep instead of 672.
#
# > **Check yourself.** Does the 1x1 reduction lose information? Why is it acceptable?
#
# <details><summary>Answer</summary>
#
# It can: 64 channels hold less than 256. But the 1x1 conv is learned, so the network chooses which
# 64 combinations of the 256 channels to keep, and the channels of a trained network's feature
# map are far from independent: many of them respond to related patterns, so a few well-chosen
# combinations keep most of what they carry (the Inception paper's argument: even low-dimensional
# embeddings contain much of the information of a large patch). It is not about *neighbouring*
# channels: the order of the channels means nothing to a 1x1 conv, which mixes all of them. The
# cell checks that: permuting the 256 input channels, and the 1x1 weights with them, gives exactly
# the same output. The reduction is followed by a ReLU, so it also adds a non-linearity.
#
# </details>

# %%
reduce = nn.Conv2d(D, 64, 1)
perm = torch.randperm(D)
shuffled = nn.Conv2d(D, 64, 1)
with torch.no_grad():
    shuffled.weight.copy_(reduce.weight[:, perm])
    shuffled.bias.copy_(reduce.bias)
    xr = torch.randn(2, D, 7, 7)
    print("1x1 conv on permuted channels (weights permuted alike) == original:",
          torch.allclose(shuffled(xr[:, perm]), reduce(xr), atol=1e-6))

# %% [markdown]
# And the module GoogLeNet uses (inception 3a, with batch norm as torchvision builds it): the 1x1
# reductions in front of the 3x3 and 5x5 convolutions and the 1x1 projection after the pooling.

# %%
draw(InceptionModule(192, 64, 96, 128, 16, 32, 32), (192, 28, 28), title="Inception 3a, with bottlenecks")
plt.show()

# %% [markdown]
# ## 3. The full GoogLeNet
#
# GoogLeNet stacks nine bottleneck Inception modules, grouped in three stages (3a-3b, 4a-4e,
# 5a-5b) separated by stride-2 max pools, on top of a plain **stem** (conv 7x7/2, max pool, conv
# 1x1, conv 3x3, max pool). At the end, **global average pooling** reduces each of the 1024 final
# 7x7 maps to one value, followed by a single fully connected layer to the 1000 classes: no large
# FC layers as in AlexNet or VGG.
#
# `googlenet()` builds it as torchvision does: every conv is followed by batch normalisation
# (added after the paper), and the branch called "5x5" uses 3x3 kernels, a quirk that
# torchvision's pretrained weights keep. The hooks below record each module's output size; the
# columns follow the paper's Table 1 (#1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj).

# %%
gnet = on_meta(googlenet)
shapes = {}
hooks = [getattr(gnet, f"inception{k}").register_forward_hook(
    lambda m, i, o, k=k: shapes.__setitem__(k, (tuple(i[0].shape[1:]), tuple(o.shape[1:]))))
    for k in GOOGLENET_MODULES]
gnet.eval()
gnet(torch.zeros(1, 3, 224, 224, device="meta"))
for h in hooks:
    h.remove()
print(f"{'module':<6} {'input':<11} {'output':<11} {'1x1':>4} {'3x3r':>4} {'3x3':>4} {'5x5r':>4} {'5x5':>4} {'pool':>4} {'params':>10} {'MACs':>8}")
for k, cfg in GOOGLENET_MODULES.items():
    (ci, hi, wi), (co, ho, wo) = shapes[k]
    module = getattr(gnet, f"inception{k}")
    macs = count_macs(module, (ci, hi, wi))
    cols = " ".join(f"{c:>4}" for c in cfg[1:])
    print(f"{k:<6} {f'{hi}x{wi}x{ci}':<11} {f'{ho}x{wo}x{co}':<11} {cols} {count_params(module):>10,} {macs / 1e6:>7.0f}M")

# %% [markdown]
# Module 3b is the lecture's example with different reductions (128 before the 3x3, 32 before the
# 5x5): input 28x28x256, output 28x28x480. Its cost in the table uses torchvision's 3x3 kernels in
# the third branch; with the paper's 5x5 kernels it is a little higher:

# %%
paper_3b = InceptionModule(*GOOGLENET_MODULES["3b"], kernel5=5, bn=False)
print(f"module 3b with real 5x5 kernels: {count_macs(paper_3b, (256, 28, 28)) / 1e6:.0f}M multiply-adds")

# %% [markdown]
#
# ### 22 layers
#
# The paper counts only layers with parameters, and a module's parallel branches as one: the stem
# has 3 convs, each Inception module is 2 layers deep (1x1 reduction, then 3x3 or 5x5), and one FC
# layer ends the network. The auxiliary classifiers are not counted.

# %%
stem = sum(isinstance(getattr(gnet, n).conv, nn.Conv2d) for n in ("conv1", "conv2", "conv3"))


def module_depth(m):
    """Longest chain of convs through a module's branches."""
    return max(sum(isinstance(x, nn.Conv2d) for x in b.modules())
               for b in (m.branch1, m.branch2, m.branch3, m.branch4))


inception_depth = sum(module_depth(getattr(gnet, f"inception{k}")) for k in GOOGLENET_MODULES)
print(f"stem convs {stem} + inception layers {inception_depth} (9 modules x 2) + FC 1 = {stem + inception_depth + 1} layers")

# %% [markdown]
# ### Global average pooling instead of big FC layers
#
# VGG16 flattens 7x7x512 values into FC6 and pays 102.8M weights for it. GoogLeNet averages each
# 7x7 map to a single value, so its only FC layer reads 1024 values:

# %%
print(f"GoogLeNet FC: 1024 x 1000 + 1000 = {count_params(gnet.fc):,} parameters")
print(f"VGG16 FC6:    7*7*512 x 4096 + 4096 = {count_params(on_meta(vgg16).classifier[0]):,} parameters")

# %% [markdown]
# ### How many parameters?
#
# The talks say "only 5 million parameters, 12x fewer than AlexNet". That figure is not from the
# GoogLeNet paper: it comes from the later Inception-v3 paper (Szegedy et al., 2015, section 1),
# which rounds GoogLeNet to 5 million against AlexNet's 60 million. The 2014 paper's Table 1 has a
# parameter column per layer; its entries, as printed there, sum to about 6.8 "K" millions:

# %%
table1_params_k = {  # the 2014 paper's Table 1, "params" column, in its unit "K"
    "conv1": 2.7, "conv2 + conv3": 112, "3a": 159, "3b": 380, "4a": 364, "4b": 437, "4c": 463,
    "4d": 580, "4e": 840, "5a": 1072, "5b": 1388, "fc": 1000,
}
paper_net = on_meta(googlenet, five_by_five=True, batch_norm=False)


def weights(module):
    """Conv and FC weights, without biases (what the table counts)."""
    return sum(m.weight.numel() for m in module.modules() if isinstance(m, (nn.Conv2d, nn.Linear)))


parts = {"conv1": [paper_net.conv1], "conv2 + conv3": [paper_net.conv2, paper_net.conv3],
         **{k: [getattr(paper_net, f"inception{k}")] for k in GOOGLENET_MODULES}, "fc": [paper_net.fc]}
print(f"{'layer':<14} {'Table 1 (K)':>11} {'our weights':>12} {'/ 1024':>8} {'/ 1000':>8}")
for name, mods in parts.items():
    n = sum(weights(m) for m in mods)
    print(f"{name:<14} {table1_params_k[name]:>11g} {n:>12,} {n / 1024:>8.1f} {n / 1000:>8.1f}")
table_sum = sum(table1_params_k.values())
ours = sum(weights(m) for mods in parts.values() for m in mods)
print(f"{'total':<14} {table_sum:>11,.1f} {ours:>12,} {ours / 1024:>8.1f} {ours / 1000:>8.1f}")

# %% [markdown]
# The table's "K" is 1024 (conv2 + conv3 is exactly $114{,}688 / 1024 = 112$, the FC layer
# $1{,}024{,}000 / 1024 = 1000$), and most rows match the weights of a model built from the
# table's own widths; a few do not (conv1's 2.7K is far from its $7 \cdot 7 \cdot 3 \cdot 64 =
# 9{,}408$ weights; 4c and 5a are off by 5-7%, 4d and 5b by 1-2%): slips in the table. Its
# sum, read in thousands, is the "about 6.8M" that is often quoted; the model itself has 6.99M
# weights, about 7.0M with biases. Whole models:

# %%
variants = {
    "torchvision (BN, 3x3 in the '5x5' branch)": on_meta(googlenet),
    "paper layout (no BN, real 5x5 kernels)": paper_net,
}
for name, m in variants.items():
    n, fc = count_params(m), count_params(m.fc)
    print(f"{name:<43} {n:>10,} (without the final FC: {n - fc:,})")
alex_tv = count_params(on_meta(alexnet))
alex_paper = count_params(on_meta(alexnet, variant="lecture", groups=2))
g_tv = count_params(variants["torchvision (BN, 3x3 in the '5x5' branch)"])
g_paper = count_params(paper_net)
print(f"AlexNet / GoogLeNet: torchvision models {alex_tv / g_tv:.1f}x; two-GPU AlexNet / paper layout "
      f"{alex_paper / g_paper:.1f}x; the Inception-v3 paper's rounded 60M / 5M = {60 / 5:.0f}x")

# %% [markdown]
# torchvision's model has **6,624,904** parameters (its published figure). With the real counts
# GoogLeNet has about 9 times fewer parameters than AlexNet: still an order of magnitude, but
# not 12.
#
# **What "paper layout" means here.** `googlenet(five_by_five=True, batch_norm=False)` takes the
# paper's widths, its real 5x5 kernels and no batch norm (convs with biases instead), and keeps
# the rest of torchvision's layout. Three differences from the 2014 network remain, none of
# which changes a parameter count or an output shape: the paper has a local response
# normalisation after the first max pool and another after conv3 (no parameters; torchvision
# drops them); the pool before 5a is 2x2 with stride 2 in torchvision and 3x3 with stride 2 in
# the paper (both give 7x7 from 14x14, with the rounding-up that Caffe's pooling uses); and the
# dropout before the classifier drops 40% of the values in the paper, 20% in torchvision.

# %%
print("pool before 5a on 14x14: paper 3x3/2 ->", conv_output_size(14, 3, 2, ceil_mode=True),
      "; torchvision 2x2/2 ->", conv_output_size(14, 2, 2, ceil_mode=True))
print("dropout before the FC in the model:", gnet.dropout.p)

# %% [markdown]
# **Which 6.7%?** GoogLeNet's winning 6.67% top-5 error (test set) came from an ensemble of 7
# networks, each applied to 144 crops of every image. One network on one crop had 10.07% on the
# validation set. The paper's Table 3 shows how each factor helped:

# %%
table3 = [(1, 1, 10.07), (1, 10, 9.15), (1, 144, 7.89), (7, 1, 8.09), (7, 10, 7.62), (7, 144, 6.67)]
print(f"{'models':>6} {'crops':>6} {'forward passes':>15} {'top-5 error %':>14}")
for models, crops, err in table3:
    print(f"{models:>6} {crops:>6} {models * crops:>15,} {err:>14.2f}")
print(f"7 models x 144 crops cost {7 * 144:,} forward passes per image and cut the error by "
      f"{10.07 - 6.67:.2f} points")

# %% [markdown]
# The computation is small too:

# %%
for name, builder in [("AlexNet", alexnet), ("VGG16", vgg16), ("GoogLeNet", googlenet)]:
    m = on_meta(builder)
    print(f"{name:<9} {count_params(m):>12,} parameters {count_macs(m, (3, 224, 224)) / 1e9:>6.2f} G multiply-adds")

# %% [markdown]
# ### Auxiliary classifiers
#
# A 22-layer network trained with the methods of 2014 risked weak gradients in its lower layers.
# GoogLeNet adds two **auxiliary classifiers**, after modules 4a and 4d, each
# AvgPool (5x5, stride 3) - 1x1 conv (128) - FC (1024) - FC (1000) - softmax (torchvision pools
# adaptively to 4x4, the same size for a 224x224 input). During training their losses are added to
# the main loss with weight 0.3,
#
# $$L = L_\text{main} + 0.3\,(L_\text{aux1} + L_\text{aux2}),$$
#
# meant to inject gradient directly into the middle of the network. At test time they are dropped.

# %%
with_aux = on_meta(googlenet, aux_logits=True)
print(f"aux1 input: 14x14x{GOOGLENET_MODULES['4b'][0]} (after 4a), aux2 input: 14x14x{GOOGLENET_MODULES['4e'][0]} (after 4d)")
print(f"paper's pooling 5x5 stride 3 on 14x14 -> {conv_output_size(14, 5, 3)}x{conv_output_size(14, 5, 3)}")
print(f"parameters of the two auxiliary heads: {count_params(with_aux.aux1) + count_params(with_aux.aux2):,} "
      f"(the whole network with them: {count_params(with_aux):,})")
with_aux.train()
outs = with_aux(torch.zeros(2, 3, 224, 224, device="meta"))
print("training mode returns:", [tuple(o.shape) for o in outs])
with_aux.eval()
print("eval mode returns:", tuple(with_aux(torch.zeros(2, 3, 224, 224, device="meta")).shape))

# %% [markdown]
# The auxiliary heads hold more parameters than all nine Inception modules of the torchvision
# model together, mostly in their FC layers of $2048 \times 1024$, but they cost almost nothing
# to run, and they are thrown away after training.

# %%
incept = sum(count_params(getattr(gnet, f"inception{k}")) for k in GOOGLENET_MODULES)
aux_macs = count_macs(with_aux.aux1, (512, 14, 14)) + count_macs(with_aux.aux2, (528, 14, 14))
print(f"nine Inception modules: {incept:,} parameters; one auxiliary FC1: {count_params(with_aux.aux1.fc1):,}")
print(f"both auxiliary heads: {aux_macs / 1e6:.1f}M multiply-adds, "
      f"{aux_macs / count_macs(gnet, (3, 224, 224)):.1%} of the network's")

# %% [markdown]
# > **Check yourself.** Later work (with batch normalisation) found the auxiliary classifiers
# > matter little. Which problem do they address, and what else addresses it?
#
# <details><summary>Answer</summary>
#
# The GoogLeNet paper added them to give the lower layers a short path for the gradient and
# discriminative features in the middle of the network. The Inception-v3 paper (Szegedy et al.,
# 2016) then found that they did **not** speed up early training: with and without them the
# training curves matched until late in training, where the network with them ended slightly
# more accurate. It concluded that they act as **regularisers** (the main classifier did better
# when the side branch had batch norm or dropout), not as gradient highways. For the gradient,
# batch normalisation (BN-Inception, next section's naming note) and, later, residual connections
# (next lecture) do the job more directly.
#
# </details>
#
# ## 4. Inception v2 and v3: factorised convolutions
#
# **Which "Inception v2"?** The name is used for two networks. Ioffe and Szegedy's batch-norm
# paper (2015) trained "BN-Inception", a GoogLeNet with batch norm (and its 5x5 convs already
# replaced by two 3x3), which many sources call Inception v2. The paper that *defines* the
# versions, Szegedy et al.'s "Rethinking the Inception Architecture" (2016), calls its factorised
# network Inception-v2, and Inception-v3 that network trained with RMSProp, label smoothing,
# a factorised 7x7 stem and batch norm in the auxiliary classifier. This section follows the
# 2016 paper.
#
# Those later Inception versions make the modules cheaper still by **factorising** convolutions:
#
# - a 5x5 conv becomes **two 3x3 convs** in a row (the same 5x5 receptive field, as VGG showed):
#   $2 \cdot 9 = 18$ weights per input-output channel pair instead of 25;
# - an $n \times n$ conv becomes a **$1 \times n$ conv followed by an $n \times 1$ conv**: $2n$
#   instead of $n^2$.
#
# On a 17x17x192 input with 192 filters (the size where v3 uses 1x7/7x1 pairs), the counts are:

# %%
C, S = 192, 17


def stack(*kernels):
    return nn.Sequential(*[nn.Conv2d(C, C, k, padding=(k[0] // 2, k[1] // 2), bias=False) for k in kernels])


options = {
    "5x5": stack((5, 5)),
    "3x3 + 3x3": stack((3, 3), (3, 3)),
    "3x3": stack((3, 3)),
    "1x3 + 3x1": stack((1, 3), (3, 1)),
    "7x7": stack((7, 7)),
    "1x7 + 7x1": stack((1, 7), (7, 1)),
}
macs = {name: count_macs(m, (C, S, S)) for name, m in options.items()}
for name, m in options.items():
    print(f"{name:<10} {count_params(m):>10,} weights {macs[name] / 1e6:>8.1f}M multiply-adds")
for big, small in [("5x5", "3x3 + 3x3"), ("3x3", "1x3 + 3x1"), ("7x7", "1x7 + 7x1")]:
    print(f"{small} / {big}: {macs[small] / macs[big]:.3f} of the cost (saves {1 - macs[small] / macs[big]:.0%})")

# %% [markdown]
# The savings are $1 - 18/25 = 28\%$ for 5x5, $1 - 6/9 = 33\%$ for 3x3 and $1 - 14/49 = 71\%$ for
# 7x7, whatever the number of channels. The receptive field does not change; only the set of
# functions does (a factorised pair can express fewer filters than a full $n \times n$ kernel, and
# it has an extra non-linearity when a ReLU sits between the two convs).

# %%
print("receptive field 5x5:", receptive_field([(5, 1)]), " 3x3 + 3x3:", receptive_field([(3, 1), (3, 1)]))
x = torch.zeros(1, C, S, S)
print("output shapes:", {name: tuple(m(x).shape[1:]) for name, m in options.items() if name.startswith(("7", "1x7"))})

# %%
n = np.arange(2, 12)
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(n, 2 * n / n**2, "o-", label=r"$1\times n$ + $n\times 1$ vs $n\times n$: $2/n$")
ax.axhline(18 / 25, color="tab:orange", ls="--", label="two 3x3 vs 5x5: 18/25")
ax.set_xlabel("kernel size n")
ax.set_ylabel("cost of the factorised version")
ax.set_ylim(0, 1.05)
ax.legend()
ax.set_title("Factorised convolutions: fraction of the original cost")
plt.show()

# %% [markdown]
# > **Check yourself.** A 1x1 conv cannot be factorised this way. What is the cost of a 1x1 conv
# > layer relative to a 3x3 conv layer with the same input and output depth?
#
# <details><summary>Answer</summary>
#
# One ninth: each output value needs $D$ multiply-adds instead of $9D$. That is why Inception
# modules are built around 1x1 convs. The cell below checks it.
#
# </details>

# %%
one = nn.Conv2d(C, C, 1, bias=False)
print(f"1x1 / 3x3 cost: {count_macs(one, (C, S, S)) / macs['3x3']:.4f} (1/9 = {1 / 9:.4f})")

# %% [markdown]
# ## Summary
#
# - The naive Inception module on 28x28x256 (1x1x128, 3x3x192, 5x5x96, pool) costs 854M
#   multiply-adds and outputs 672 channels.
# - 1x1 bottlenecks of 64 channels cut it to 271M with 480 output channels; the slides' 358M
#   counts the 3x3 term twice.
# - GoogLeNet: 22 layers, 9 Inception modules, global average pooling and one FC layer; 6.6M
#   parameters in torchvision's version, 7.0M in the paper's layout (about 9x fewer than AlexNet;
#   the "5M" is the Inception-v3 paper's rounding) and 1.5 G multiply-adds; its 6.67% top-5 error
#   took 7 networks x 144 crops (one network, one crop: 10.07%);
#   two auxiliary classifiers were meant to help train the middle layers (Inception-v3 found
#   that they act as regularisers instead).
# - Inception v2/v3 factorise 5x5 into two 3x3 (28% cheaper) and $n \times n$ into $1 \times n$
#   plus $n \times 1$ (a $2/n$ fraction of the cost).
