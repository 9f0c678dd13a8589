# %% [markdown]
# # Lecture 03: The convolution layer
#
# A fully connected layer treats its input as a flat list of numbers. For an image that throws
# away what we know best about it: nearby pixels belong together, and a pattern means the same
# thing wherever it appears. A **convolution layer** keeps the image's spatial layout and slides
# a small set of weights, a **filter**, over it. This lecture works out what such a layer
# computes, how big its output is, how many parameters it has and what it "sees".

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from matplotlib import cbook

from cnnkit import conv
from cnnkit.device import pick_device, seed_everything

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
# fits in
#
# $$\frac{N - F}{S} + 1$$
#
# positions per side, provided the division is exact. The classic example is a $7 \times 7$ input
# with a $3 \times 3$ filter:

# %%
for stride in (1, 2, 3):
    try:
        print(f"stride {stride}: (7 - 3) / {stride} + 1 = {conv.conv_output_size(7, 3, stride, 0)}")
    except ValueError as err:
        print(f"stride {stride}: ValueError: {err}")

# %% [markdown]
# At stride 3 the filter would need $2.33$ positions: it does not fit, and `conv_output_size`
# refuses rather than silently dropping a border (it uses integer arithmetic and says what would
# fit). PyTorch, by contrast, rounds down and ignores the last column:

# %%
t = F.conv2d(torch.zeros(1, 1, 7, 7), torch.zeros(1, 1, 3, 3), stride=3)
print("torch's output for 7x7, 3x3, stride 3:", tuple(t.shape[2:]), "(floor of 2.33)")

# %% [markdown]
# ## 3. Zero padding
#
# Without padding every layer shrinks the image by $F - 1$ pixels, and the border pixels take
# part in fewer windows than the centre ones. Adding $P$ rings of zeros around the input gives
#
# $$\frac{N + 2P - F}{S} + 1,$$
#
# and with stride 1 the choice $P = (F - 1)/2$ keeps the size unchanged:

# %%
for f in (3, 5, 7):
    p = (f - 1) // 2
    print(f"F = {f}, P = (F - 1) / 2 = {p}: 32x32 input -> {conv.conv_output_size(32, f, 1, p)}x"
          f"{conv.conv_output_size(32, f, 1, p)} output")

# %% [markdown]
# ## 4. A worked example
#
# Input $32 \times 32 \times 3$, ten $5 \times 5$ filters, stride 1, pad 2. The output side is
# $(32 + 2 \cdot 2 - 5)/1 + 1 = 32$, so the output is $32 \times 32 \times 10$. Each filter has
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
#   $W_2 = (W_1 - F + 2P)/S + 1$, $H_2 = (H_1 - F + 2P)/S + 1$, $D_2 = K$;
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
# side. Three $3 \times 3$ layers see $3 + 2 + 2 = 7$. We can measure it: put a gradient on one
# output unit and see which input pixels receive any.

# %%
def measured_receptive_field(kernels, size=21):
    """Side of the input region that the centre output of a stack of stride-1 convs depends on."""
    z = torch.zeros(1, 1, size, size, requires_grad=True)
    h = z
    for k in kernels:
        h = F.conv2d(h, torch.rand(1, 1, k, k) + 0.1, padding=k // 2)
    h[0, 0, size // 2, size // 2].backward()
    rows = torch.nonzero(z.grad[0, 0].abs().sum(dim=1)).flatten()
    return int(rows.max() - rows.min() + 1)


print("two 5x5 layers:", measured_receptive_field([5, 5]), "x", measured_receptive_field([5, 5]))
print("three 3x3 layers:", measured_receptive_field([3, 3, 3]), "x", measured_receptive_field([3, 3, 3]))

# %% [markdown]
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
# columns; the innermost step is a dot product of a window with a filter.

# %%
def conv_loops(x, w, b, stride, pad):
    """x: (N, C, H, W), w: (F, C, HH, WW), b: (F,) -> (N, F, H_out, W_out)."""
    N, C, H, W = x.shape
    Fn, _, HH, WW = w.shape
    Ho, Wo = conv.conv_output_size(H, HH, stride, pad), conv.conv_output_size(W, WW, stride, pad)
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out = np.zeros((N, Fn, Ho, Wo))
    for n in range(N):
        for f in range(Fn):
            for i in range(Ho):
                for j in range(Wo):
                    window = xp[n, :, i * stride:i * stride + HH, j * stride:j * stride + WW]
                    out[n, f, i, j] = np.sum(window * w[f]) + b[f]
    return out


xs = rng.standard_normal((2, 3, 9, 7))
ws = rng.standard_normal((4, 3, 3, 3))
bs = rng.standard_normal(4)
mine = conv_loops(xs, ws, bs, stride=2, pad=1)
ref = F.conv2d(torch.tensor(xs), torch.tensor(ws), torch.tensor(bs), stride=2, padding=1).numpy()
print("output", mine.shape, "; equal to torch's conv2d (to 1e-10):", np.allclose(mine, ref, rtol=0, atol=1e-10))

# %% [markdown]
# Lecture 04 makes this hundreds of times faster with a single matrix product.
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
    ax.imshow(np.abs(r[0, 0]) if "edges" in name else r[0, 0], cmap="gray")
    ax.set_title(name)
for ax in axes:
    ax.axis("off")
fig.tight_layout()
plt.show()

# %% [markdown]
# The Sobel filters respond where brightness changes across them (edges of the face, the cap,
# the uniform's stripes) and give about 0 on flat regions; the box blur averages a neighbourhood.
# A trained network's first layer learns filters much like these, plus colour blobs.
#
# ## Check yourself
#
# 1. A $64 \times 64 \times 16$ input meets eight $3 \times 3$ filters with stride 2 and pad 1.
#    What is the output volume, and how many parameters does the layer have?
# 2. Which paddings let a $5 \times 5$ filter at stride 3 fit a $7 \times 7$ input?
# 3. Why must a filter span the full depth of its input?
# 4. What is the receptive field of four stacked $3 \times 3$ stride-1 layers? How many weights do
#    they have compared with the single layer of the same receptive field?
# 5. A $1 \times 1$ convolution with $K$ filters on a $H \times W \times D$ volume: how many
#    multiply-adds does it take?
