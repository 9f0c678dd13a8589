# %% [markdown]
# # Lecture 03: The convolution layer
#
# A fully connected layer treats its input as a flat list of numbers. For an image that throws
# away what we know best about it: nearby pixels belong together, and a pattern means the same
# thing wherever it appears. A **convolution layer** keeps the image's spatial layout and slides
# a small set of weights, a **filter**, over it. This lecture works out what such a layer
# computes, how big its output is, how many parameters it has and what it "sees".
#
# **You will learn**
#
# 1. what a filter computes, and why it spans the full depth of its input;
# 2. the output size $\lfloor (N + 2P - F)/S \rfloor + 1$ as PyTorch computes it, what is lost
#    when a filter does not fit exactly, and the frameworks that round up instead;
# 3. how padding keeps the size, and how to count a layer's parameters;
# 4. what a $1 \times 1$ convolution does;
# 5. the receptive field of a stack of layers, with strides and pooling;
# 6. why the layer is really a cross-correlation, and what hand-made filters detect.

# %%
import inspect

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from matplotlib import cbook

from cnnkit import conv
from cnnkit.device import pick_device, seed_everything
from cnnkit.inspect import count_macs, measure_receptive_field, receptive_field, receptive_field_steps

rng = seed_everything(0)
device = pick_device()
print("device:", device)

# %% [markdown]
# ## 1. Why keep the spatial structure
#
# A $32 \times 32 \times 3$ image stretched into a vector has 3072 entries, and one neuron of a
# fully connected layer needs a weight for each of them. A neuron of a convolution layer looks
# at a small window only, say $5 \times 5 \times 3$, and the same weights are used at every
# position of the image:

# %%
fc_weights = 32 * 32 * 3
conv_weights = 5 * 5 * 3
print(f"one fully connected neuron on 32x32x3: {fc_weights} weights")
print(f"one 5x5x3 filter: {conv_weights} weights, shared by every position")

# %% [markdown]
# The filter always spans the full depth of the input (3 colour channels here). At each position
# it computes a dot product between its $5 \cdot 5 \cdot 3 = 75$ weights and the 75 numbers of
# the image under it, plus a bias: one number. Sliding it over every position gives an
# **activation map**. A $5 \times 5$ window fits in $32 - 5 + 1 = 28$ positions along each side:

# %%
x = rng.standard_normal((1, 3, 32, 32))          # (N, C, H, W): one 32x32x3 image
w1 = rng.standard_normal((1, 3, 5, 5))           # one 5x5x3 filter
out1, _ = conv.conv_forward(x, w1, np.zeros(1), {"stride": 1, "pad": 0})
print("one filter:", out1.shape[1:], "-> a 28x28x1 activation map")
w6 = rng.standard_normal((6, 3, 5, 5))           # six filters
out6, _ = conv.conv_forward(x, w6, np.zeros(6), {"stride": 1, "pad": 0})
print("six filters:", out6.shape[1:], "-> stacked into a 28x28x6 output volume")

# %% [markdown]
# Each filter gives its own activation map; stacking them makes the output volume, whose depth
# is the number of filters. The next layer treats that volume as its input "image" with 6
# channels.
#
# ## 2. The output size
#
# On an $N \times N$ input, an $F \times F$ filter moved by $S$ pixels at a time (the **stride**)
# starts at columns $0, S, 2S, \dots$ as long as it still lies inside the input, that is at every
# start $kS \le N - F$. Counting those starts gives
#
# $$N_{\text{out}} = \left\lfloor \frac{N - F}{S} \right\rfloor + 1 .$$
#
# This is what PyTorch computes for its convolutions and pooling layers (and TensorFlow for its
# `padding="VALID"`), and it is what `conv.conv_output_size(n, kernel, stride, padding)` returns
# (integer arithmetic only). Not every framework floors, though: the end of this section shows two
# that round up. The classic example is a $7 \times 7$ input with a $3 \times 3$ filter:

# %%
for stride in (1, 2, 3):
    n_out = conv.conv_output_size(7, 3, stride)
    t = F.conv2d(torch.zeros(1, 1, 7, 7), torch.zeros(1, 1, 3, 3), stride=stride)
    print(f"stride {stride}: floor((7 - 3) / {stride}) + 1 = {n_out}; torch's output {tuple(t.shape[2:])}")

# %% [markdown]
# At strides 1 and 2 the division is exact and the last window ends on the last column. At
# stride 3 it is not: $(7 - 3)/3 = 1.33$, the windows start at columns 0 and 3 and cover columns
# 0 to 5, and **column 6 is never read**. We say the filter "does not fit exactly"; the floor
# silently drops what is left over, $(N - F) \bmod S$ columns (and as many rows). We can see the
# loss: changing the last column and row of the input does not change the output at all.

# %%
starts = list(range(0, 7 - 3 + 1, 3))
covered = sorted({c for s0 in starts for c in range(s0, s0 + 3)})
print("window starts:", starts, "; columns read:", covered, "; columns lost:", sorted(set(range(7)) - set(covered)))
x7 = rng.standard_normal((1, 1, 7, 7))
k3 = rng.standard_normal((1, 1, 3, 3))
out_a, _ = conv.conv_forward(x7, k3, np.zeros(1), {"stride": 3, "pad": 0})
x7b = x7.copy()
x7b[..., 6, :] = 100.0
x7b[..., :, 6] = 100.0
out_b, _ = conv.conv_forward(x7b, k3, np.zeros(1), {"stride": 3, "pad": 0})
print("output", out_a.shape[2:], "; unchanged when the last row and column change:", np.array_equal(out_a, out_b))

# %% [markdown]
# Dropping a border is usually harmless but rarely intended, so the library can refuse it:
# `exact=True` raises a `ValueError` that says what would fit. One ring of padding (next section)
# makes the stride-3 case fit: $(7 + 2 - 3)/3 + 1 = 3$.

# %%
try:
    conv.conv_output_size(7, 3, 3, exact=True)
except ValueError as err:
    print("ValueError:", err)
print("with padding 1:", conv.conv_output_size(7, 3, 3, 1, exact=True))

# %% [markdown]
# ## 3. Zero padding
#
# Without padding every layer shrinks the image by $F - 1$ pixels, and the border pixels take
# part in fewer windows than the centre ones. Adding $P$ rings of zeros around the input gives
#
# $$N_{\text{out}} = \left\lfloor \frac{N + 2P - F}{S} \right\rfloor + 1,$$
#
# and with stride 1 the choice $P = (F - 1)/2$ keeps the size unchanged:

# %%
for f in (3, 5, 7):
    p = (f - 1) // 2
    print(f"F = {f}, P = (F - 1) / 2 = {p}: 32x32 input -> {conv.conv_output_size(32, f, 1, p)}x"
          f"{conv.conv_output_size(32, f, 1, p)} output")

# %% [markdown]
# **Not every framework floors.** Two common rules round *up* instead, and keep the columns that
# the floor drops:
#
# - **Caffe's pooling layers** compute $\lceil (N + 2P - F)/S \rceil + 1$ (its convolutions floor);
#   PyTorch's pooling does the same with `ceil_mode=True`. The last window then hangs over the
#   edge and pools only the values it covers.
# - **TensorFlow's `padding="SAME"`** chooses the output size first, $\lceil N/S \rceil$, and then
#   pads as much as that needs, $\max\big((\lceil N/S \rceil - 1) S + F - N,\ 0\big)$ zeros in all, the
#   odd one on the right and bottom.
#
# On the $7 \times 7$ input at stride 3 both give 3 positions where the floor gives 2 (the next
# cell computes each rule and runs PyTorch where it can). Networks ported between frameworks
# change their shapes in exactly these places, which is one reason AlexNet's input size is
# disputed (lecture 06).

# %%
def caffe_pool_size(n, f, s, p=0):
    """Caffe's pooling output size: ceil((n + 2p - f) / s) + 1 (integer arithmetic)."""
    return -(-(n + 2 * p - f) // s) + 1


def tf_same(n, f, s):
    """TensorFlow's padding='SAME': the output size ceil(n / s) and the zeros it pads (left, right)."""
    out = -(-n // s)
    total = max((out - 1) * s + f - n, 0)
    return out, (total // 2, total - total // 2)


x7t = torch.tensor(x7)
print("floor rule (PyTorch's conv and default pooling):", conv.conv_output_size(7, 3, 3),
      "; torch max_pool2d:", tuple(F.max_pool2d(x7t, 3, 3).shape[2:]))
print("Caffe's pooling rule:", caffe_pool_size(7, 3, 3),
      "; torch max_pool2d(ceil_mode=True):", tuple(F.max_pool2d(x7t, 3, 3, ceil_mode=True).shape[2:]))
out, (left, right) = tf_same(7, 3, 3)
padded = F.pad(x7t, (left, right, left, right))
print(f"TensorFlow SAME: ceil(7 / 3) = {out}, padding {left} left and {right} right; torch conv2d on that padding:",
      tuple(F.conv2d(padded, torch.tensor(k3), stride=3).shape[2:]))
x7bt = torch.tensor(x7b)  # the input whose last row and column were changed above
print("a changed last row and column changes the output: ceil-mode pooling",
      not torch.equal(F.max_pool2d(x7t, 3, 3, ceil_mode=True), F.max_pool2d(x7bt, 3, 3, ceil_mode=True)),
      "; SAME convolution", not torch.equal(F.conv2d(padded, torch.tensor(k3), stride=3),
                                            F.conv2d(F.pad(x7bt, (left, right, left, right)), torch.tensor(k3), stride=3)))

# %% [markdown]
# ## 4. A worked example
#
# Input $32 \times 32 \times 3$, ten $5 \times 5$ filters, stride 1, pad 2. The output side is
# $\lfloor (32 + 2 \cdot 2 - 5)/1 \rfloor + 1 = 32$, so the output is $32 \times 32 \times 10$. Each filter has
# $5 \cdot 5 \cdot 3 = 75$ weights plus one bias, 76 parameters, and ten filters have 760:

# %%
side = conv.conv_output_size(32, 5, 1, 2)
params = 10 * (5 * 5 * 3 + 1)
layer = torch.nn.Conv2d(3, 10, kernel_size=5, stride=1, padding=2)
torch_params = sum(p.numel() for p in layer.parameters())
torch_out = layer(torch.zeros(1, 3, 32, 32)).shape
print(f"output: {side}x{side}x10; parameters: 10 * (5*5*3 + 1) = {params}")
print(f"torch.nn.Conv2d(3, 10, 5, padding=2): output {tuple(torch_out[1:])}, {torch_params} parameters")

# %% [markdown]
# ## 5. Summary of the layer
#
# A convolution layer
#
# - takes a volume of size $W_1 \times H_1 \times D_1$;
# - has four hyperparameters: the number of filters $K$, their size $F$, the stride $S$ and the
#   padding $P$;
# - produces a volume $W_2 \times H_2 \times D_2$ with
#   $W_2 = \lfloor (W_1 - F + 2P)/S \rfloor + 1$, $H_2 = \lfloor (H_1 - F + 2P)/S \rfloor + 1$,
#   $D_2 = K$ (choose $P$ so that the division is exact, or a border is lost);
# - has $F \cdot F \cdot D_1$ weights per filter, $F \cdot F \cdot D_1 \cdot K$ weights and $K$
#   biases in all;
# - computes depth slice $d$ of its output as a "valid" sliding dot product of filter $d$ with
#   the input at stride $S$, plus bias $d$.
#
# Common settings: $K$ a power of 2 (32, 64, 128, 512), and $F = 3, S = 1, P = 1$;
# $F = 5, S = 1, P = 2$; $F = 5, S = 2$, $P$ whatever fits; $F = 1, S = 1, P = 0$.
#
# ## 6. 1x1 convolutions
#
# A $1 \times 1$ filter looks at one pixel, but through the whole depth: it is a dot product over
# the channels. A layer of 32 such filters on a $56 \times 56 \times 64$ volume mixes the 64
# channels into 32 at every pixel, reducing the depth (and the cost of later layers) without
# touching the spatial size. It is the same as one matrix product applied to every pixel:

# %%
x64 = rng.standard_normal((1, 64, 56, 56))
w11 = rng.standard_normal((32, 64, 1, 1))
out11, _ = conv.conv_forward(x64, w11, np.zeros(32), {"stride": 1, "pad": 0})
per_pixel = np.einsum("fc,nchw->nfhw", w11[:, :, 0, 0], x64)
print("1x1 conv:", x64.shape[1:], "->", out11.shape[1:])
print("equal to a per-pixel matrix product (to 1e-10):", np.allclose(out11, per_pixel, rtol=0, atol=1e-10))

# %% [markdown]
# ## 7. Receptive field
#
# The **receptive field** of a unit is the region of the input it depends on. One $5 \times 5$
# layer gives $5 \times 5$; a second $5 \times 5$ layer on top sees a $5 \times 5$ window of
# first-layer units, each of which sees $5 \times 5$ pixels, together $5 + 5 - 1 = 9$ pixels on a
# side. Three $3 \times 3$ layers see $3 + 2 + 2 = 7$.
#
# With strides the growth speeds up. After layers with strides $s_1, \dots, s_{l-1}$, neighbouring
# units are $\prod_{i<l} s_i$ input pixels apart (the **jump**), so each extra step of the next
# kernel adds that many pixels:
#
# $$r_l = r_{l-1} + (k_l - 1) \prod_{i<l} s_i, \qquad r_0 = 1 .$$
#
# A pooling window counts like a convolution of the same size and stride.
# `cnnkit.inspect.receptive_field_steps` applies the rule layer by layer and returns
# (field, jump) after each. We check it by measurement: `measure_receptive_field` puts a gradient
# on the centre output unit and finds the input pixels that receive any. The stacks use
# positive weights and no ReLU, so that no path is switched off; for the same reason the
# pooling layer is an **average** pool: a max pool's gradient reaches only each window's
# maximum, so a gradient would under-count the pixels that can influence the unit.

# %%
def stack(spec):
    """A torch stack from (kind, kernel, stride) triples: positive-weight convs and average pools."""
    mods = [torch.nn.Conv2d(1, 1, k, s, padding=k // 2) if kind == "conv" else torch.nn.AvgPool2d(k, s)
            for kind, k, s in spec]
    model = torch.nn.Sequential(*mods)
    with torch.no_grad():
        for m in model:
            if isinstance(m, torch.nn.Conv2d):
                m.weight.uniform_(0.1, 1.0)
    return model


stacks = {"two 5x5 convs": [("conv", 5, 1), ("conv", 5, 1)],
          "three 3x3 convs": [("conv", 3, 1)] * 3,
          "3x3 conv, 2x2 pool stride 2, 3x3 conv": [("conv", 3, 1), ("pool", 2, 2), ("conv", 3, 1)],
          "7x7 conv stride 2, 3x3 pool stride 2, 3x3 conv": [("conv", 7, 2), ("pool", 3, 2), ("conv", 3, 1)]}
for name, spec in stacks.items():
    steps = receptive_field_steps([(k, s) for _, k, s in spec])
    measured = measure_receptive_field(stack(spec), (1, 64, 64))
    print(f"{name}: (field, jump) per layer {steps}; rule {steps[-1][0]}, measured {measured[0]}x{measured[1]}")

# %% [markdown]
# In the third stack the pool doubles the jump, so the last $3 \times 3$ conv adds $2 \cdot 2 = 4$
# pixels instead of 2: $3 + 1 + 4 = 8$. The last stack is the start of ResNet: after its stem a
# unit already sees $7 + 2 \cdot 2 + 2 \cdot 4 = 19$ pixels.
#
# Three $3 \times 3$ layers therefore see as much as one $7 \times 7$ layer. With $C$ channels in
# and out, the stack has $3 \cdot 3^2 C^2 = 27 C^2$ weights against $7^2 C^2 = 49 C^2$, and it puts
# three nonlinearities where the single layer has one. VGG is built on this observation.

# %%
C = 64
stack = sum(p.numel() for k in range(3) for p in torch.nn.Conv2d(C, C, 3, bias=False).parameters())
single = sum(p.numel() for p in torch.nn.Conv2d(C, C, 7, bias=False).parameters())
print(f"C = {C}: three 3x3 layers {stack} weights = 27 C^2 = {27 * C * C}; one 7x7 layer {single} = 49 C^2 = {49 * C * C}")

# %% [markdown]
# ## 8. Convolution or cross-correlation?
#
# In signal processing a **convolution** flips the filter before sliding it:
# $(x * w)[n] = \sum_k x[n - k]\, w[k]$. What deep-learning layers compute, $\sum_k x[n + k]\,
# w[k]$, is strictly a **cross-correlation**. Since the filter is learned, the difference does not
# matter (the network would simply learn the flipped filter), and the name "convolution" stuck.
# In one dimension numpy has both:

# %%
sig = np.array([0.0, 1.0, 2.0, 3.0, 4.0])
ker = np.array([1.0, 0.0, -1.0])
print("np.correlate (what a conv layer computes):", np.correlate(sig, ker, mode="valid"))
print("np.convolve  (filter flipped):            ", np.convolve(sig, ker, mode="valid"))
print("np.convolve with the flipped filter:      ", np.convolve(sig, ker[::-1], mode="valid"))

# %% [markdown]
# ## 9. A naive implementation
#
# Written with loops, the layer is four nested loops: images, filters, output rows, output
# columns; the innermost step is a dot product of a window with a filter. That is
# `conv.conv_forward_naive` in the course library:

# %%
print(inspect.getsource(conv.conv_forward_naive))

# %% [markdown]
# It agrees with PyTorch's `conv2d`, here with stride 2 and padding 1 on a non-square input:

# %%
xs = rng.standard_normal((2, 3, 9, 7))
ws = rng.standard_normal((4, 3, 3, 3))
bs = rng.standard_normal(4)
mine, _ = conv.conv_forward_naive(xs, ws, bs, {"stride": 2, "pad": 1})
ref = F.conv2d(torch.tensor(xs), torch.tensor(ws), torch.tensor(bs), stride=2, padding=1).numpy()
print("output", mine.shape, "; equal to torch's conv2d (to 1e-10):", np.allclose(mine, ref, rtol=0, atol=1e-10))

# %% [markdown]
# Four nested Python loops are slow. Lecture 04 replaces them by a single matrix product and
# measures the speed-up on the machine that runs it.
#
# ## 10. Filters on a real photograph
#
# Hand-made filters show what a convolution can detect. We take the photograph of Grace Hopper
# that ships with matplotlib, turn it to grey, and apply a horizontal and a vertical Sobel edge
# filter and a $9 \times 9$ box blur (pad $(F-1)/2$ keeps the size).

# %%
with cbook.get_sample_data("grace_hopper.jpg") as f:
    photo = plt.imread(f)
grey = photo.astype(np.float64).mean(axis=2) / 255.0
img = grey[None, None]                                              # (1, 1, 600, 512)
sobel_x = np.array([[1, 0, -1], [2, 0, -2], [1, 0, -1]], dtype=np.float64)
filters = {"vertical edges (Sobel x)": sobel_x, "horizontal edges (Sobel y)": sobel_x.T,
           "9x9 box blur": np.full((9, 9), 1 / 81)}
results = {}
for name, k in filters.items():
    p = (k.shape[0] - 1) // 2
    results[name], _ = conv.conv_forward(img, k[None, None], np.zeros(1), {"stride": 1, "pad": p})
    print(f"{name}: output {results[name].shape[2:]}, values in [{results[name].min():.2f}, {results[name].max():.2f}]")

fig, axes = plt.subplots(1, 4, figsize=(14, 4))
axes[0].imshow(grey, cmap="gray")
axes[0].set_title("input (grey)")
for ax, (name, r) in zip(axes[1:], results.items()):
    if "edges" in name:  # |response|, clipped at its 99th percentile so that the few strongest edges
        mag = np.abs(r[0, 0])  # do not leave everything else black
        ax.imshow(mag, cmap="gray", vmin=0, vmax=np.percentile(mag, 99))
        ax.set_title(name + "\n|response|, clipped at the 99th percentile", fontsize=9)
    else:
        ax.imshow(r[0, 0], cmap="gray")
        ax.set_title(name, fontsize=9)
for ax in axes:
    ax.axis("off")
fig.tight_layout()
plt.show()

# %% [markdown]
# The Sobel filters respond where brightness changes across them (edges of the face, the cap,
# the uniform's stripes) and give about 0 on flat regions; the box blur averages a neighbourhood.
# A trained network's first layer learns filters much like these, plus colour blobs.
#
# ## Summary
#
# - A convolution layer slides $K$ filters of size $F \times F \times D_1$ over its input; each
#   gives one activation map, and the $K$ maps stack into the output volume.
# - The output side is $\lfloor (N + 2P - F)/S \rfloor + 1$. When $S$ does not divide
#   $N + 2P - F$ the filter does not fit exactly and the last $(N + 2P - F) \bmod S$ rows and
#   columns are never read; `conv_output_size(..., exact=True)` refuses that case. Caffe's
#   pooling and TensorFlow's `SAME` padding round up instead and keep them.
# - With stride 1, padding $P = (F-1)/2$ keeps the size. A layer has $(F^2 D_1 + 1) K$ parameters.
# - A $1 \times 1$ convolution is a matrix product over the channels at every pixel.
# - The receptive field grows by $(k_l - 1)\prod_{i<l} s_i$ per layer: strides and pooling make
#   later layers see much more. Three $3 \times 3$ layers see $7 \times 7$ with $27C^2$ weights
#   instead of $49C^2$.
# - Deep-learning "convolutions" are cross-correlations; the learned filter absorbs the flip.
#
# ## Check yourself
#
# 1. A $64 \times 64 \times 16$ input meets eight $3 \times 3$ filters with stride 2 and pad 1.
#    What is the output volume, and how many parameters does the layer have?
# 2. Which paddings let a $5 \times 5$ filter at stride 3 fit a $7 \times 7$ input exactly? What
#    is lost without padding?
# 3. Why must a filter span the full depth of its input?
# 4. What is the receptive field of four stacked $3 \times 3$ stride-1 layers? How many weights do
#    they have compared with the single layer of the same receptive field? And if the second layer
#    has stride 2?
# 5. A $1 \times 1$ convolution with $K$ filters on a $H \times W \times D$ volume: how many
#    multiply-adds does it take?
#
# The cell below computes the numeric answers; reveal them after you have tried.

# %%
side = conv.conv_output_size(64, 3, 2, 1)
layer1 = torch.nn.Conv2d(16, 8, 3, stride=2, padding=1)
print(f"1. floor((64 + 2 - 3) / 2) + 1 = {side}: output {side}x{side}x8, "
      f"torch {tuple(layer1(torch.zeros(1, 16, 64, 64)).shape[1:])}; parameters 8 * (3*3*16 + 1) = "
      f"{8 * (9 * 16 + 1)}, torch {sum(p.numel() for p in layer1.parameters())}")
fits = []
for pad in range(7):
    try:
        fits.append((pad, conv.conv_output_size(7, 5, 3, pad, exact=True)))
    except ValueError:
        pass
print(f"2. (padding, output side) that fit exactly: {fits}; without padding "
      f"{conv.conv_output_size(7, 5, 3)} position, {(7 - 5) % 3} rows and columns lost")
C = 64
print(f"4. four 3x3: field {receptive_field([(3, 1)] * 4)}, weights {4 * 9} C^2 vs {9 * 9} C^2 for one 9x9; "
      f"second layer at stride 2: field {receptive_field([(3, 1), (3, 2), (3, 1), (3, 1)])}")
K, Hh, Ww, D = 32, 56, 56, 64
macs = count_macs(torch.nn.Conv2d(D, K, 1, bias=False), (D, Hh, Ww))
print(f"5. H W D K, e.g. H = W = {Hh}, D = {D}, K = {K}: {Hh * Ww * D * K:,}; cnnkit.inspect.count_macs: {macs:,}")

# %% [markdown]
# <details><summary>Answers</summary>
#
# 1. $\lfloor (64 + 2 - 3)/2 \rfloor + 1 = 32$: the output is $32 \times 32 \times 8$ (here
#    $63/2$ is not exact, so the last row and column of the padded input, a ring of zeros, are
#    dropped). Each filter has $3 \cdot 3 \cdot 16 = 144$ weights and a bias: $8 \cdot 145 = 1160$.
# 2. $(7 + 2P - 5)$ must be a multiple of 3: $P = 2$ (output $6/3 + 1 = 3$) or $P = 5$ (output 5),
#    and so on every 3. Without padding the filter sits at one position only and the last $2$
#    rows and columns
#    are never read.
# 3. A filter is a dot product with everything under it. If it saw only some channels, the layer
#    could not combine colours (or, deeper in the network, the features the previous layer found);
#    the output would depend on an arbitrary choice of channels.
# 4. $3 + 2 + 2 + 2 = 9$; $4 \cdot 9C^2 = 36C^2$ weights against $81C^2$ for one $9 \times 9$ layer,
#    and four nonlinearities instead of one. With the second layer at stride 2 the last two layers
#    add $2 \cdot 2$ each: $3 + 2 + 4 + 4 = 13$.
# 5. Each of the $H W$ pixels and $K$ filters costs a dot product of length $D$: $H W D K$
#    multiply-adds (the cell checks it with `count_macs`).
#
# </details>
