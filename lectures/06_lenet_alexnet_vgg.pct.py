# %% [markdown]
# # Lecture 06 — LeNet-5, AlexNet, ZFNet and VGG
#
# The convolution, pooling and fully connected layers of the previous lectures are all we need
# to read the networks that started modern computer vision. This lecture takes four of them in
# historical order and *measures* each one: every parameter count, output size and memory figure
# below is computed from a model built with `cnnkit.models`, not copied from a slide.
#
# **You will learn**
#
# 1. the LeNet-5 layout, and where its parameters sit: 60,000 trainable plus 840 fixed in the
#    paper, 61,706 in the modern variant;
# 2. AlexNet layer by layer, why its paper says 224x224 where the arithmetic wants 227x227, how
#    it was trained (and which gains came from ensembling, which from extra data),
#    and how its two-GPU split is a grouped convolution;
# 3. how the ImageNet (ILSVRC) error fell from 2010 to 2017;
# 4. VGG's one design rule, its configurations A-E, and where its memory and parameters go.
#
# Tools: `cnnkit.inspect` runs a model on PyTorch's **meta device**, which tracks shapes but
# allocates no weights and does no arithmetic, so even VGG-16 (138M parameters) is inspected in
# a fraction of a second.

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from cnnkit.diagrams import draw
from cnnkit.data import load_digits
from cnnkit.device import make_repeatable, pick_device, seed_everything
from cnnkit.inspect import conv_output_size, count_macs, count_params, layer_table, on_meta, receptive_field
from cnnkit.models import C3_TABLE, VGG_CONFIGS, alexnet, lenet5, vgg, vgg16
from cnnkit.models.alexnet_towers import AlexNetTwoGPU
from cnnkit.train import evaluate, fit

rng = seed_everything(0)
device = pick_device()
print("device:", device)
make_repeatable(device)  # on the CPU: one thread, deterministic kernels (see cnnkit.device)

# %% [markdown]
# ## 1. LeNet-5 (1998)
#
# LeNet-5 reads a 32x32 grey image of a digit through the pattern
# **conv - pool - conv - pool - FC - FC - output**, with 5x5 filters at stride 1 and 2x2
# subsampling. In the paper's naming: C1 (6 maps), S2, C3 (16 maps), S4, C5 (120 maps, a 5x5 conv
# over 5x5 maps, i.e. a fully connected layer), F6 (84 units) and 10 output units.
#
# Two details make the paper's network different from the one usually trained today:
#
# - **C3 is sparse.** Each of the 16 C3 maps reads only some of the 6 S2 maps (a fixed table),
#   to break symmetry and save computation.
# - **The output units are radial basis functions:** unit $i$ outputs $\lVert x - w_i\rVert^2$,
#   the squared distance between the 84 F6 values and a prototype $w_i$. The paper set the
#   $10 \times 84$ prototype values by hand (stylised bitmaps of the digits, entries $\pm 1$) and
#   kept them fixed: they are not trained, and the paper's "60,000 trainable parameters" leaves
#   them out. `lenet5(variant="paper")` stores them as a fixed buffer (random $\pm 1$ codes
#   instead of the hand-drawn bitmaps, `cnnkit.models.lenet` says why).
#
# The **modern variant** pads the first conv by 2 (so a 28x28 digit keeps its size), uses ReLU,
# average pooling, and ordinary fully connected layers 120 - 84 - 10. "Modern LeNet-5" names no
# single network: A3 asks for the same layers with tanh, and lecture 11 trains a tanh version
# without the padding, on 32x32 colour inputs; each says which it is. Here is the sparse table,
# and where each model's parameters are.

# %%
table = np.zeros((6, 16), dtype=int)
for out_map, inputs in enumerate(C3_TABLE):
    table[list(inputs), out_map] = 1
print("C3 connection table (rows: S2 maps 0-5, columns: C3 maps 0-15)")
for i, row in enumerate(table):
    print(f"  S2 map {i}: " + " ".join("X" if v else "." for v in row))
print("connections:", table.sum(), "of", table.size)

# %%
for variant, size in [("paper", 32), ("modern", 28)]:
    model = lenet5(variant=variant)
    print(f"LeNet-5 ({variant}), input 1x{size}x{size}")
    for r in layer_table(model, (1, size, size)):
        if r.params:
            shape = "x".join(str(s) for s in r.output_shape[1:])
            print(f"  {r.type:<13} out {shape:<9} params {r.params:>7,}")
    rbf = model.classifier[-1]
    fixed = f", plus {rbf.prototypes.numel():,} fixed values (the RBF prototypes, 10 x 84)" if variant == "paper" else ""
    print(f"  total {count_params(model):,} trainable parameters{fixed}\n")

# %% [markdown]
# The paper's C3 has $60 \cdot 25 = 1{,}500$ weights and 16 biases. A dense C3 would have
# $16 \cdot 6 \cdot 25 + 16 = 2{,}416$ parameters, the figure in the modern variant. The largest
# layer in both is the one after the last pooling (C5, or the first FC): $400 \times 120$ weights.

# %%
c3_dense = 16 * 6 * 25 + 16
c3_sparse = table.sum() * 25 + 16
print(f"C3 sparse: {c3_sparse:,} parameters, dense: {c3_dense:,}; "
      f"the sparse table keeps {c3_sparse / c3_dense:.1%} of them")

# %% [markdown]
# ### Training LeNet-5 on real digits
#
# The course's digit set (1,797 real handwritten digits shipped with scikit-learn, 8x8 pixels) is
# upsampled to 28x28 for the modern variant and to 32x32 for the paper's. Both train for 12
# epochs with Adam (lecture 05b) through `cnnkit.train.fit`, the course's training loop; the paper's RBF
# outputs are used as logits (the negative distances), with a cross-entropy loss. Accuracies
# after training move in their last digit from one machine to another (summation order), so the
# cell states them against a threshold far from every value measured.

# %%
THRESHOLD = 0.9
results = {}
for variant, size in [("modern", 28), ("paper", 32)]:
    data = load_digits(size=size)
    splits = {name: (torch.from_numpy(getattr(data, f"X_{name}")), torch.from_numpy(getattr(data, f"y_{name}")))
              for name in ("train", "val", "test")}
    torch.manual_seed(0)
    model = lenet5(variant=variant)
    fit(model, splits["train"], epochs=12, batch_size=64, optimizer=torch.optim.Adam(model.parameters(), lr=2e-3),
        schedule=None, device=device, progress=False)
    results[variant] = model
    accs = {name: evaluate(model, split)[1] for name, split in splits.items()}
    verdict = ", ".join(f"{name} {'above' if a > THRESHOLD else 'NOT above'} {THRESHOLD}" for name, a in accs.items())
    print(f"LeNet-5 {variant:<6} ({size}x{size}), accuracy: {verdict} ({len(splits['test'][1])} test digits)")

# %%
data28 = load_digits(size=28)
model = results["modern"].eval()
with torch.no_grad():
    pred = model(torch.from_numpy(data28.X_test[:10]).to(device)).argmax(1).cpu().numpy()
fig, axes = plt.subplots(1, 10, figsize=(12, 1.6))
for ax, img, p, t in zip(axes, data28.X_test[:10], pred, data28.y_test[:10]):
    ax.imshow(img[0], cmap="gray")
    ax.set_title(f"{p} ({t})", color="black" if p == t else "red", fontsize=9)
    ax.axis("off")
fig.suptitle("modern LeNet-5: prediction (true label) on test digits", fontsize=10)
plt.tight_layout()
plt.show()

# %% [markdown]
# > **Check yourself.** The modern variant was built for 28x28 inputs. What goes wrong if it is
# > fed a 32x32 image?
#
# <details><summary>Answer</summary>
#
# With padding 2 the first conv keeps 32x32, pooling gives 16x16, the second conv 12x12 and the
# second pooling 6x6, so the flattened vector has $16 \cdot 6 \cdot 6 = 576$ values, but the first
# FC layer expects $16 \cdot 5 \cdot 5 = 400$: the matrix product fails. The next cell shows it.
#
# </details>

# %%
try:
    lenet5()(torch.zeros(1, 1, 32, 32))
except RuntimeError as err:
    print("RuntimeError:", str(err).split("\n")[0])

# %% [markdown]
# The whole paper network, drawn by `cnnkit.diagrams.draw` from the model object: torch.fx traces
# what its `forward` really does and a pass on the meta device gives every shape, so the picture
# cannot disagree with the code. The paper's own layers (the sparse C3, the trainable
# subsampling, the scaled tanh and the RBF outputs) are one box each:

# %%
paper_lenet = lenet5(variant="paper")
lenet_layers = tuple({type(m) for m in paper_lenet.modules() if type(m).__module__ == "cnnkit.models.lenet"} - {type(paper_lenet)})
draw(paper_lenet, (1, 32, 32), leaves=lenet_layers, title="LeNet-5, the paper's variant", row_height=0.5)
plt.show()

# %% [markdown]
# ## 2. AlexNet (2012)
#
# AlexNet is LeNet's pattern scaled up to 1.2 million ImageNet images and 1000 classes: five conv
# layers, three max pools, two local response normalisation (NORM) layers and three fully
# connected layers. `alexnet(variant="lecture")` builds it as the lecture tables describe it; the
# table below is produced by running a 227x227x3 input through it (on the meta device). (The
# paper normalises before pooling; the tables, like Caffe's reference model, pool first. The
# order changes no shape and no parameter count.)
#
# The parameter count of a conv layer with $K$ filters of size $F \times F$ over $D$ input
# channels is $F \cdot F \cdot D \cdot K$ weights plus $K$ biases.

# %%
alex = on_meta(alexnet, variant="lecture")
names = iter(["CONV1", "POOL1", "NORM1", "CONV2", "POOL2", "NORM2", "CONV3", "CONV4", "CONV5",
              "POOL3", "FC6", "FC7", "FC8"])
print(f"{'layer':<6} {'output':<14} {'weights':>12} {'biases':>7}")
print(f"{'input':<6} {'227x227x3':<14}")
alex_rows = {}
for r in layer_table(alex, (3, 227, 227)):
    if r.type in ("ReLU", "Dropout", "Identity"):
        continue
    name = next(names)
    alex_rows[name] = r
    module = dict(alex.named_modules())[r.name]
    w = module.weight.numel() if getattr(module, "weight", None) is not None else 0
    b = module.bias.numel() if getattr(module, "bias", None) is not None else 0
    s = r.output_shape[1:]
    shape = f"{s[1]}x{s[2]}x{s[0]}" if len(s) == 3 else f"{s[0]}"
    print(f"{name:<6} {shape:<14} {w:>12,} {b:>7,}")
print(f"total parameters: {count_params(alex):,}")

# %% [markdown]
# CONV1 has $11 \cdot 11 \cdot 3 \cdot 96 = 34{,}848$ weights and 96 biases (the "35K" of the
# slides); pooling and normalisation layers have none. Almost all the parameters are in the fully
# connected layers, FC6 alone holding $6 \cdot 6 \cdot 256 \cdot 4096$ weights:

# %%
conv_params = sum(r.params for n, r in alex_rows.items() if n.startswith("CONV"))
fc_params = sum(r.params for n, r in alex_rows.items() if n.startswith("FC"))
print(f"CONV1 weights 11*11*3*96 = {11 * 11 * 3 * 96:,}")
print(f"conv layers: {conv_params:,} parameters ({conv_params / count_params(alex):.1%})")
print(f"FC layers:   {fc_params:,} parameters ({fc_params / count_params(alex):.1%}); "
      f"FC6 weights 6*6*256*4096 = {6 * 6 * 256 * 4096:,}")
print(f"multiply-adds per 227x227 image: {count_macs(alex, (3, 227, 227)) / 1e9:.3f} G")

# %% [markdown]
# ### 224 or 227?
#
# The paper's figure labels the input 224x224x3, with 96 11x11 filters at stride 4 giving 55x55
# maps. With PyTorch's rule $\lfloor (N + 2P - F)/S \rfloor + 1$ (lecture 03) and no
# padding, 224 gives 54, not 55. The paper's own code (cuda-convnet) counted the positions
# differently, as $1 + \lceil (2P + N - F)/S \rceil$: it rounds *up*, letting the last filter
# position hang over the right and bottom edges (the missing pixels count as zeros). With that
# rule 224 does give 55. 227 is the fix that makes the floor rule give 55 too: with
# $N = 227$, $(227 - 11)/4 = 54$ exactly, so the filters tile the image and nothing hangs over.

# %%
def cuda_convnet_positions(n, f, s, p=0):
    """Output size as cuda-convnet counted it: 1 + ceil((2p + n - f) / s)."""
    return 1 + -(-(2 * p + n - f) // s)


for n in (224, 227):
    print(f"N = {n}: floor rule {conv_output_size(n, 11, 4)}, cuda-convnet's ceil rule "
          f"{cuda_convnet_positions(n, 11, 4)}, exact fit: {(n - 11) % 4 == 0}")
print("with padding 2, as torchvision does: floor((224 + 2*2 - 11) / 4) + 1 =", conv_output_size(224, 11, 4, padding=2))

# %% [markdown]
# This is why the lecture (and Caffe's reference model) uses 227x227 inputs. torchvision keeps
# 224x224 but pads CONV1 by 2, which with the floor rule gives 55; its one-stream model also
# uses 64/192/384/256/256 filters instead of 96/256/384/384/256:

# %%
tv = on_meta(alexnet)
print(f"torchvision AlexNet (224x224): {count_params(tv):,} parameters, "
      f"{count_macs(tv, (3, 224, 224)) / 1e9:.3f} G multiply-adds")
print(f"lecture AlexNet (227x227):     {count_params(alex):,} parameters, "
      f"{count_macs(alex, (3, 227, 227)) / 1e9:.3f} G multiply-adds")

# %% [markdown]
# ### How AlexNet was trained
#
# | ingredient | value |
# | --- | --- |
# | non-linearity | ReLU (its first big use; in the paper's one test, a 4-layer CNN on CIFAR-10 reached 25% training error six times faster than with tanh) |
# | normalisation | local response normalisation after CONV1 and CONV2 (no longer used) |
# | data augmentation | heavy: random crops and flips, colour (PCA) jitter (lecture 05c) |
# | dropout | 0.5 in FC6 and FC7 (lecture 05c) |
# | batch size | 128 |
# | optimiser | SGD with momentum 0.9 (lecture 05b) |
# | learning rate | $10^{-2}$, divided by 10 by hand when the validation error plateaued |
# | weight decay | $5 \cdot 10^{-4}$ |
# | ensemble | 5 CNNs: top-5 error 18.2% (1 CNN) to 16.4%; with extra data, 7 CNNs: 15.4% (validation) |
#
# The paper's results table (ILSVRC-2012, top-5 error in %) separates what a single network and
# an ensemble reach, with and without extra training data (marked \*: pre-trained on the larger
# ImageNet release of Fall 2011). The "18.2% to 15.4%" often quoted for "ensembling" mixes two
# effects: averaging five networks gives 16.4%, and the rest comes with the extra data (two of
# the seven networks were pre-trained on it):

# %%
alexnet_results = [  # (model, top-5 val, top-5 test or None)
    ("1 CNN", 18.2, None),
    ("5 CNNs", 16.4, 16.4),
    ("1 CNN*", 16.6, None),
    ("7 CNNs*", 15.4, 15.3),
]
print(f"{'model':<8} {'val':>6} {'test':>6}")
for name, val, test in alexnet_results:
    test_text = "-" if test is None else f"{test:.1f}"
    print(f"{name:<8} {val:>6.1f} {test_text:>6}")
val = {name: v for name, v, _ in alexnet_results}
print(f"ensembling alone (1 CNN -> 5 CNNs):          {val['1 CNN'] - val['5 CNNs']:.1f} points")
print(f"extra data alone (1 CNN -> 1 CNN*):          {val['1 CNN'] - val['1 CNN*']:.1f} points")
print(f"both, 7 networks, two pre-trained (-> 7 CNNs*): {val['1 CNN'] - val['7 CNNs*']:.1f} points, of which "
      f"{val['5 CNNs'] - val['7 CNNs*']:.1f} after the 5-network ensemble")

# %% [markdown]
# ### Two GPUs and grouped convolutions
#
# The network did not fit on one GTX 580 (3 GB), so each layer's filters were split in half
# between two GPUs. The GPUs exchanged data only at some layers:
#
# - CONV1 is split into two halves of 48 filters, but each half sees the whole image;
# - CONV2, CONV4 and CONV5 see **only the maps on their own GPU** (half of the previous layer);
# - CONV3, FC6, FC7 and FC8 read the maps of **both** GPUs.
#
# A layer that sees only its own half is a **grouped convolution** with `groups=2`: the input
# channels are split into two groups and each group of filters sees one. Each filter's depth
# halves, and so do the layer's weights. `alexnet(variant="lecture", groups=2)` builds it:

# %%
single = on_meta(alexnet, variant="lecture")
split = on_meta(alexnet, variant="lecture", groups=2)
convs_single = [m for m in single.features if isinstance(m, nn.Conv2d)]
convs_split = [m for m in split.features if isinstance(m, nn.Conv2d)]
print(f"{'layer':<6} {'groups':>6} {'filter':>10} {'single-stream':>14} {'two-GPU':>12}")
for i, (a, b) in enumerate(zip(convs_single, convs_split), start=1):
    filt = "x".join(str(s) for s in b.weight.shape[1:])
    print(f"CONV{i:<2} {b.groups:>6} {filt:>10} {count_params(a):>14,} {count_params(b):>12,}")
print(f"whole network: single-stream {count_params(single):,}, two-GPU {count_params(split):,} "
      f"(saves {count_params(single) - count_params(split):,})")
print(f"multiply-adds: single-stream {count_macs(single, (3, 227, 227)) / 1e6:.0f} M, "
      f"two-GPU {count_macs(split, (3, 227, 227)) / 1e6:.0f} M")

# %% [markdown]
# The paper reports about 60 million parameters: the two-GPU network's 60,965,224. Grouping only
# touches the conv layers, so the saving is small next to the 58.6M parameters of the FC layers.
#
# A grouped conv really is two independent convolutions side by side: running each half of the
# input through its own half of the filters and concatenating gives the same output.

# %%
torch.manual_seed(0)
conv4 = nn.Conv2d(384, 384, 3, padding=1, groups=2)
x = torch.randn(1, 384, 13, 13)
halves = [F.conv2d(xi, wi, bi, padding=1)
          for xi, wi, bi in zip(x.chunk(2, 1), conv4.weight.chunk(2, 0), conv4.bias.chunk(2, 0))]
print("grouped conv == two separate convs:", torch.allclose(conv4(x), torch.cat(halves, 1), atol=1e-5))

# %% [markdown]
# > **Check yourself.** Why does CONV3 of the two-GPU network have as many parameters as in the
# > single-stream one, while CONV4 has half?
#
# <details><summary>Answer</summary>
#
# CONV3 is one of the layers where the GPUs communicate: each of its filters spans all 256 maps of
# POOL2/NORM2 ($3 \cdot 3 \cdot 256$ weights). A CONV4 filter spans only the 192 maps on its own
# GPU ($3 \cdot 3 \cdot 192$ instead of $3 \cdot 3 \cdot 384$).
#
# </details>

# %% [markdown]
# **The two-GPU split, drawn.** The paper's figure shows two towers: *every* layer's filters are
# split in half between the GPUs, CONV1's too (each half sees the whole image), and the towers
# exchange data only at CONV3, FC6 and FC7, which read both halves. The grouped model above is
# the same network written with `groups=2`; `cnnkit.models.alexnet_towers.AlexNetTwoGPU` writes
# the towers out, so that a diagram drawn from it shows them. The checks: it has exactly the
# grouped model's parameters, and with the grouped model's weights copied in it computes the same
# function, except in one detail the towers make visible. Each GPU's local response
# normalisation could only see its own maps, while `LocalResponseNorm` over all 96 channels also
# mixes the few channels on either side of the split.

# %%
torch.manual_seed(0)
grouped = alexnet(variant="lecture", groups=2).eval()
towers = AlexNetTwoGPU().eval().load_grouped(grouped)
print(f"parameters: two towers {count_params(towers):,}, grouped model {count_params(grouped):,}")


def without_lrn(model):
    """Replace every LocalResponseNorm by an identity (in place); return the model."""
    for name, child in model.named_children():
        if isinstance(child, nn.LocalResponseNorm):
            setattr(model, name, nn.Identity())
        else:
            without_lrn(child)
    return model


x227 = torch.rand(2, 3, 227, 227)
with torch.no_grad():
    pooled = grouped.features[:3](x227)                       # CONV1, ReLU, POOL1: 96 maps
    lrn_grouped = grouped.features[3](pooled)
    lrn_towers = torch.cat([towers.front_a[3](pooled[:, :48]), towers.front_b[3](pooled[:, 48:])], 1)
    differ = torch.nonzero((lrn_grouped - lrn_towers).abs().amax(dim=(0, 2, 3)) > 0).flatten().tolist()
    print("NORM1: channels where the towers' normalisation differs from the 96-channel one:", differ)
    same = torch.equal(without_lrn(towers)(x227), without_lrn(grouped)(x227))
print("without the normalisation layers the two compute exactly the same outputs:", same)

# %%
draw(on_meta(AlexNetTwoGPU), (3, 227, 227), title="AlexNet as the paper draws it: two GPU towers", row_height=0.45)
plt.show()

# %% [markdown]
# ## 3. ZFNet (2013)
#
# The ILSVRC 2013 winner (Zeiler and Fergus, "ZFNet") kept AlexNet's layout but changed its
# first layers, guided by visualising what each layer had learned: CONV1 uses 7x7 filters at
# stride 2 instead of 11x11 at stride 4 (and CONV2 a stride of 2). Its base model keeps AlexNet's
# 384, 384 and 256 filters in CONV3-CONV5; the "512, 1024, 512" that slides often give is an
# *enlarged variant* from the paper's results table, a single network that did a little better
# on the validation set. A smaller stride in the first layer keeps more spatial detail. The
# paper's figure gives CONV1's output as 110x110; the floor rule gives 109. As with AlexNet's 224,
# the difference is the rounding: the code the paper built on rounds up,
# $1 + \lceil (224 - 7)/2 \rceil = 110$ (or, equivalently here, pads one pixel). Lecture 06b
# builds the visualisation methods that motivated ZFNet's changes (occlusion among them) and
# tests them.

# %%
print("AlexNet CONV1 on 227: 11x11 stride 4 ->", conv_output_size(227, 11, 4))
print("ZFNet   CONV1 on 224: 7x7 stride 2   ->", conv_output_size(224, 7, 2), "with PyTorch's floor rule,",
      cuda_convnet_positions(224, 7, 2), "with cuda-convnet's rounding up (the paper's figure: 110)")
for name, widths in [("base model (AlexNet's)", (384, 384, 256)), ("enlarged variant", (512, 1024, 512))]:
    c3 = nn.Conv2d(256, widths[0], 3)
    c4 = nn.Conv2d(widths[0], widths[1], 3)
    c5 = nn.Conv2d(widths[1], widths[2], 3)
    print(f"ZFNet CONV3-5 {widths}, {name}: {sum(count_params(c) for c in (c3, c4, c5)):,} parameters")

# %% [markdown]
# ## 4. The ImageNet challenge, 2010-2017
#
# The winning top-5 error of the ILSVRC classification task fell year by year; the first two
# winners were not deep networks. Human performance, measured by one trained annotator, is about
# 5.1%.

# %%
ilsvrc = [  # (year, top-5 error %, winner)
    (2010, 28.2, "NEC-UIUC"), (2011, 25.8, "XRCE"), (2012, 16.4, "AlexNet"),
    (2013, 11.7, "ZFNet"), (2014, 6.7, "GoogLeNet"), (2015, 3.57, "ResNet"),
    (2016, 2.99, "Trimps-Soushen"), (2017, 2.25, "SENet"),
]
vgg_2014 = 7.3  # second place in 2014
human = 5.1
years = [y for y, _, _ in ilsvrc]
errors = [e for _, e, _ in ilsvrc]
fig, ax = plt.subplots(figsize=(9, 4.2))
ax.bar(years, errors, width=0.7, color=["grey", "grey"] + ["tab:blue"] * 6)
for y, e, name in ilsvrc:
    ax.text(y, e + 0.5, f"{e:g}", ha="center", fontsize=8)  # the value above its bar
ax.set_xticks(years, [f"{y}\n{name}" for y, _, name in ilsvrc], fontsize=8)  # winners under the axis
ax.plot(2014.25, vgg_2014, "D", color="tab:orange", label=f"VGG (2nd in 2014): {vgg_2014}")
ax.axhline(human, color="red", ls="--", label=f"human: about {human}")
ax.set_xlabel("ILSVRC year and winner")
ax.set_ylabel("top-5 error (%)")
ax.set_ylim(0, 34)
ax.legend()
ax.set_title("ILSVRC classification winners (grey: not deep networks)")
plt.show()

# %%
print(f"AlexNet vs the 2011 winner: {25.8 - 16.4:.1f} points lower top-5 error")
print(f"first winner below the human figure: {next(y for y, e, _ in ilsvrc if e < human)}")

# %% [markdown]
# **Which AlexNet figure?** Decks quote AlexNet's 2012 result as 16.4% or as 15.3%. Both are in
# the results table above: 16.4% is the five-network ensemble trained on the competition data
# only; 15.3% is the seven-network ensemble in which two networks were pre-trained on the extra
# Fall 2011 images. The 15.3% entry is the one that won, against **26.2%** for the next team's
# entry; the plot uses 16.4% so that every year compares entries trained on the standard data.

# %%
print(f"winning margin in 2012: {26.2 - 15.3:.1f} points (15.3% vs 26.2%)")

# %% [markdown]
# ## 5. VGG (2014): small filters, deeper networks
#
# VGG uses a single kind of conv, **3x3 at stride 1 with padding 1** (which preserves the size),
# and a single kind of pooling, **2x2 max pool at stride 2** (which halves it). Why only 3x3? A
# stack of three 3x3 convs has the same receptive field as one 7x7 conv, with more
# non-linearities and fewer weights: for $C$ channels in and out, $3 \cdot (3^2 C^2) = 27C^2$
# against $7^2 C^2 = 49 C^2$.

# %%
print("receptive field of three 3x3 convs:", receptive_field([(3, 1)] * 3))
print("receptive field of one 7x7 conv:   ", receptive_field([(7, 1)]))
C = 256
stack3 = nn.Sequential(*[nn.Conv2d(C, C, 3, padding=1, bias=False) for _ in range(3)])
one7 = nn.Conv2d(C, C, 7, padding=3, bias=False)
print(f"C = {C}: three 3x3 convs {count_params(stack3):,} weights = 27C^2 = {27 * C * C:,}; "
      f"one 7x7 {count_params(one7):,} = 49C^2 = {49 * C * C:,}")

# %% [markdown]
# ### Configurations A-E
#
# The paper trained six configurations of increasing depth (counting conv and FC layers): A (11),
# A-LRN (11, with an LRN layer), B (13), C (16, with three 1x1 convs), D (16) and E (19). D and E
# are **VGG16** and **VGG19**. All end with the same three FC layers. The paper's Table 2 lists
# 133, 133, 133, 134, 138 and 144 million parameters; the models agree once rounded:

# %%
paper_millions = {"A": 133, "A-LRN": 133, "B": 133, "C": 134, "D": 138, "E": 144}
print(f"{'config':<6} {'layers':>6} {'parameters':>14} {'rounded (M)':>12} {'paper (M)':>10}")
for name in VGG_CONFIGS:
    model = on_meta(vgg, config=name)
    depth = sum(isinstance(m, (nn.Conv2d, nn.Linear)) for m in model.modules())
    n = count_params(model)
    print(f"{name:<6} {depth:>6} {n:>14,} {round(n / 1e6):>12} {paper_millions[name]:>10}")

# %% [markdown]
# ### VGG16 layer by layer
#
# Forward hooks record every layer's output shape and parameters. "Memory" is the number of
# values in the layer's output, which a forward pass must keep for the backward pass.

# %%
v16 = on_meta(vgg16)
rows = [r for r in layer_table(v16, (3, 224, 224)) if r.type in ("Conv2d", "MaxPool2d", "Linear")]
labels, mems, params = ["input"], [3 * 224 * 224], [0]
print(f"{'layer':<12} {'output':<14} {'memory':>11} {'params':>13}")
print(f"{'input':<12} {'224x224x3':<14} {3 * 224 * 224:>11,} {0:>13,}")
for r in rows:
    s = r.output_shape[1:]
    label = {"Conv2d": f"CONV3-{s[0]}", "MaxPool2d": "POOL2", "Linear": f"FC-{s[0]}"}[r.type]
    shape = f"{s[1]}x{s[2]}x{s[0]}" if len(s) == 3 else f"1x1x{s[0]}"
    labels.append(label), mems.append(r.activations), params.append(r.params)
    print(f"{label:<12} {shape:<14} {r.activations:>11,} {r.params:>13,}")
total_mem, total_params = sum(mems), sum(params)
print(f"{'TOTAL':<12} {'':<14} {total_mem:>11,} {total_params:>13,}")

# %%
fig, axes = plt.subplots(1, 2, figsize=(12, 4), sharey=True)
ypos = np.arange(len(labels))
axes[0].barh(ypos, np.array(mems) / 1e6, color="tab:blue")
axes[0].set_xlabel("activation values (millions)")
axes[1].barh(ypos, np.array(params) / 1e6, color="tab:orange")
axes[1].set_xlabel("parameters (millions)")
axes[0].set_yticks(ypos, labels, fontsize=7)
axes[0].invert_yaxis()
fig.suptitle("VGG16: memory sits in the early convs, parameters in the FC layers")
plt.tight_layout()
plt.show()

# %%
fc6 = v16.classifier[0]
first_two = mems[1] + mems[2]
print(f"first two convs hold {first_two:,} of {total_mem:,} activation values ({first_two / total_mem:.1%})")
print(f"FC6 weights 7*7*512*4096 = {fc6.weight.numel():,} ({fc6.weight.numel() / total_params:.1%} of all parameters)")
print(f"total parameters with biases: {count_params(v16):,}; "
      f"without biases: {sum(m.weight.numel() for m in v16.modules() if isinstance(m, (nn.Conv2d, nn.Linear))):,}")

# %% [markdown]
# ### How much memory does a forward pass need? (24M or 15.2M)
#
# Two versions of this table circulate. One gives a total of **24M values, about 96 MB** per image;
# the other **15.2M values, about 61 MB** (4 bytes per float32 value). The table above sums to
# 15,237,608 values: the 15.2M figure is the exact sum of the table's own entries (input, every
# conv, pool and FC output).
#
# The 24M figure does not follow from the table: no subset or natural recount of its entries
# gives 24M. The nearest natural count keeps every ReLU's output as a separate tensor beside its
# conv's output (as a framework without in-place ReLU does), and that gives about 28.8M. PyTorch's
# VGG uses in-place ReLUs, so the conv output and the ReLU output share memory and 15.2M is the
# count that matches it. 24M should be read as an arithmetic slip.

# %%
all_rows = layer_table(v16, (3, 224, 224))
relu_values = sum(r.activations for r in all_rows if r.type == "ReLU")
counts = {
    "table (input + conv + pool + FC outputs)": total_mem,
    "same, plus separate ReLU outputs": total_mem + relu_values,
}
for name, n in counts.items():
    print(f"{name:<42} {n:>12,} values = {n * 4 / 1e6:6.1f} MB = {n * 4 / 2**20:6.1f} MiB")
print(f"the slides' 24M values  -> {24e6 * 4 / 1e6:.0f} MB; 15.2M values -> {15.2e6 * 4 / 1e6:.1f} MB")
print(f"with the backward pass (a gradient for every stored value) roughly double: "
      f"{2 * total_mem * 4 / 1e6:.0f} MB per image")

# %% [markdown]
# The same totals for the whole network, from `cnnkit.inspect`: the multiply-adds are the
# torchvision figure of 15.47 G.

# %%
print(f"VGG16: {count_params(v16):,} parameters, {count_macs(v16, (3, 224, 224)) / 1e9:.2f} G multiply-adds per image")

# %% [markdown]
# **After VGG.** VGG took second place in the 2014 classification task (7.3%) and won
# localisation. VGG19 is only slightly better than VGG16 for 5.3M more parameters (torchvision's
# ImageNet top-1: 71.592% and 72.376%). The activations of FC7 (4096 values) turned out to be
# good general-purpose image features: a linear classifier on them works well on other data sets,
# which made VGG a favourite feature extractor.

# %%
v19 = on_meta(vgg, config="E")
print(f"VGG19 - VGG16: {count_params(v19) - count_params(v16):,} parameters, "
      f"{(count_macs(v19, (3, 224, 224)) - count_macs(v16, (3, 224, 224))) / 1e9:.2f} G more multiply-adds, "
      f"top-1 +{72.376 - 71.592:.3f} points")

# %% [markdown]
# > **Check yourself.**
# > 1. VGG16's FC6 holds 102.8M of its 138.4M parameters. What replaces such a layer in later
# >    networks (GoogLeNet, ResNet)?
# > 2. Doubling the batch size from 1 to 2 images: which of memory and parameters doubles?
#
# <details><summary>Answers</summary>
#
# 1. Global average pooling: each of the last conv's maps is averaged to one value, so the first
#    (and only) FC layer reads 512 to 2048 values instead of $7 \cdot 7 \cdot 512$ (next lecture).
# 2. The activation memory (each image has its own activations); the parameters are shared by
#    all images of a batch. The cell below checks it.
#
# </details>

# %%
def stored_values(batch):
    rows = layer_table(v16, (batch, 3, 224, 224))
    return batch * 3 * 224 * 224 + sum(r.activations for r in rows if r.type in ("Conv2d", "MaxPool2d", "Linear"))


one, two = stored_values(1), stored_values(2)
print(f"activation values, batch 1: {one:,}; batch 2: {two:,} (ratio {two / one:.1f}); "
      f"parameters: {count_params(v16):,} either way")

# %% [markdown]
# ## Summary
#
# - LeNet-5 fixed the conv-pool-FC pattern with about 60K parameters (60,000 trainable plus 840
#   fixed RBF prototype values in the paper, 61,706 in the modern variant).
# - AlexNet scaled it to ImageNet: 227x227 inputs (224 gives 55x55 only with the paper code's
#   rounding up, $1 + \lceil (2P + N - F)/S \rceil$), ReLU,
#   dropout, augmentation, about 60M parameters, most in the FC layers; its two-GPU split is a
#   grouped convolution in CONV2, CONV4 and CONV5.
# - VGG uses only 3x3 convs and 2x2 pools; VGG16 has 138,357,544 parameters (FC6 alone 102.8M)
#   and stores 15.2M values per image in a forward pass, most of them in the first convs.
