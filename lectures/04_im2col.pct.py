# %% [markdown]
# # Lecture 04: Convolution as a matrix multiply (im2col)
#
# The loop implementation of lecture 03 is correct and hopelessly slow: Python executes one
# small dot product per output value. Every fast CPU and GPU library instead rearranges the
# problem so that the bulk of the work is **one large matrix product**, the operation that
# linear-algebra libraries (BLAS) run close to the machine's peak speed. The classic
# rearrangement is called **im2col** ("image to columns").
#
# We follow one layer throughout: the first convolution of AlexNet.
#
# **You will learn**
#
# 1. how im2col turns a convolution into one matrix product, and how to build it without loops
#    over pixels (strides and `as_strided`);
# 2. the backward pass: the sum over positions that weight sharing causes, col2im as the adjoint
#    of im2col, and $dx$ as a full correlation with the flipped filter;
# 3. what im2col costs in memory;
# 4. how much faster it is than loops, and what separates it from PyTorch.

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from matplotlib import cbook

from cnnkit import conv
from cnnkit.bench import bench_layer, set_threads
from cnnkit.device import pick_device, seed_everything
from cnnkit.gradcheck import numerical_gradient_array, rel_error, report

rng = seed_everything(0)
device = pick_device()
torch.set_num_threads(1)
print("device:", device)

# %% [markdown]
# ## 1. The running example: AlexNet conv1
#
# AlexNet's first layer takes a $227 \times 227 \times 3$ image and applies 96 filters of size
# $11 \times 11 \times 3$ at stride 4, without padding. Its output side is
# $\lfloor (227 - 11)/4 \rfloor + 1$, and here the division is exact:

# %%
H = W = 227
C, K, FS, S, P = 3, 96, 11, 4, 0
Ho = conv.conv_output_size(H, FS, S, P)
n_patch = C * FS * FS
print(f"output side: (227 - 11) / 4 + 1 = {Ho} (exact: {conv.conv_output_size(H, FS, S, P, exact=True) == Ho}); "
      f"output volume {Ho}x{Ho}x{K}")
print(f"values per receptive field: 11*11*3 = {n_patch}; receptive fields per image: 55*55 = {Ho * Ho}")

# %% [markdown]
# im2col turns the convolution into three steps:
#
# 1. Stretch each $11 \times 11 \times 3$ receptive field into a column of 363 numbers. There are
#    $55 \times 55 = 3025$ of them, so the input becomes $X_{\text{col}}$ of shape $363 \times 3025$.
# 2. Stretch each filter into a row: $W_{\text{row}}$ has shape $96 \times 363$.
# 3. Multiply: $O = W_{\text{row}} X_{\text{col}} + b\,\mathbf{1}^\top$ has shape $96 \times 3025$,
#    one row per filter and one column per output position. Reshape it to $55 \times 55 \times 96$.
#
# Row $f$, column $p$ of $O$ is the dot product of filter $f$ with receptive field $p$: exactly the
# value the loops computed. Let us do it on a real photograph, a $227 \times 227$ crop of the
# picture of Grace Hopper that ships with matplotlib, with random filters.

# %%
with cbook.get_sample_data("grace_hopper.jpg") as f:
    photo = plt.imread(f)
crop = photo[100:100 + H, 140:140 + W].astype(np.float32) / 255.0     # (227, 227, 3), values in [0, 1]
x = crop.transpose(2, 0, 1)[None].copy()                              # (N, C, H, W) = (1, 3, 227, 227)
w = (rng.standard_normal((K, C, FS, FS)) * 0.05).astype(np.float32)
b = (rng.standard_normal(K) * 0.1).astype(np.float32)

X_col = conv.im2col(x, FS, FS, stride=S, pad=P)
W_row = w.reshape(K, -1)
O = W_row @ X_col + b[:, None]
out = O.reshape(K, Ho, Ho)
print("x", x.shape, "-> X_col", X_col.shape, "; W_row", W_row.shape, "; O", O.shape, "-> output", out.shape)

# %% [markdown]
# The result agrees with the library's layer and with PyTorch's `conv2d` (to float32 rounding):

# %%
ref_lib, _ = conv.conv_forward(x, w, b, {"stride": S, "pad": P})
ref_torch = F.conv2d(torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b), stride=S).numpy()
print("every |output| below 10, so 1e-4 is float32 rounding, not a bug:", bool(np.abs(out).max() < 10))
print("O equals conv.conv_forward (to 1e-4):", np.allclose(out, ref_lib[0], rtol=0, atol=1e-4))
print("O equals torch's conv2d (to 1e-4):", np.allclose(out, ref_torch[0], rtol=0, atol=1e-4))

# %% [markdown]
# ## 2. A vectorised im2col
#
# A loop over the 3025 output positions would bring back the slowness we want to avoid. numpy
# can instead *view* the padded input as a 6-dimensional array of windows without copying
# anything: an array is a block of memory plus **strides**, the number of bytes to skip per step
# along each axis. The window view has axes $(n, c, i, j, h, w)$ and element
# $x[n, c, hS + i, wS + j]$: stepping $h$ by one skips $S$ rows, so its stride is $S$ times the
# row stride. `numpy.lib.stride_tricks.as_strided` builds that view; one copy then lays the
# windows out as columns.
#
# A tiny example shows the layout: one 4x4 single-channel image, 2x2 windows, stride 2.

# %%
tiny = np.arange(16, dtype=np.float64).reshape(1, 1, 4, 4)
print(tiny[0, 0])
print("im2col, one column per window (stride 2):")
print(conv.im2col(tiny, 2, 2, stride=2, pad=0))

# %% [markdown]
# The first column is the top-left window $[0, 1, 4, 5]$, the second the top-right window
# $[2, 3, 6, 7]$, and so on. The strides that make the view:

# %%
from numpy.lib.stride_tricks import as_strided  # noqa: E402

sN, sC, sH, sW = tiny.strides
windows = as_strided(tiny, shape=(1, 1, 2, 2, 2, 2), strides=(sN, sC, sH, sW, 2 * sH, 2 * sW))
print("strides of x (bytes):", tiny.strides)
print("strides of the window view:", windows.strides)
print("window (h=1, w=0):", windows[0, 0, :, :, 1, 0].ravel())

# %% [markdown]
# With stride 1 the windows overlap and each pixel appears in several columns; that is the price
# of im2col (section 4). The gathered columns match a plain loop over the windows:

# %%
xs = rng.standard_normal((2, 3, 7, 9))
cols = conv.im2col(xs, 3, 3, stride=2, pad=1)
xp = np.pad(xs, ((0, 0), (0, 0), (1, 1), (1, 1)))
Hs, Ws = conv.conv_output_size(7, 3, 2, 1), conv.conv_output_size(9, 3, 2, 1)
loop_cols = np.stack([xp[n, :, 2 * h:2 * h + 3, 2 * v:2 * v + 3].ravel()
                      for n in range(2) for h in range(Hs) for v in range(Ws)], axis=1)
print("X_col", cols.shape, "equal to the loop version:", np.array_equal(cols, loop_cols))

# %% [markdown]
# ## 3. The backward pass
#
# Write the upstream gradient as a matrix $dS = \partial L / \partial O$ of the same shape as $O$
# ($96 \times 3025$ per image). Since $O = W_{\text{row}} X_{\text{col}} + b\mathbf{1}^\top$ is an
# ordinary matrix product, the rules of an affine layer give
#
# $$dW_{\text{row}} = dS\, X_{\text{col}}^\top \;(96 \times 363), \qquad
#   db = dS\,\mathbf{1} \;(96), \qquad
#   dX_{\text{col}} = W_{\text{row}}^\top dS \;(363 \times 3025).$$
#
# **Weight sharing makes a sum.** The product $dS\,X_{\text{col}}^\top$ sums over the columns,
# that is over every output position (and every image). Written out,
#
# $$\frac{\partial L}{\partial w_{f,c,i,j}} = \sum_{n,h,w} \frac{\partial L}{\partial o_{n,f,h,w}}\;
#   x_{\text{pad}}[n, c, hS + i, wS + j]:$$
#
# one weight is used at every position, so its gradient collects a contribution from each of
# them, just as the bias's gradient $db_f = \sum_{n,h,w} \partial L / \partial o_{n,f,h,w}$ does.
#
# $dX_{\text{col}}$ holds a gradient for every *copy* of a pixel. A pixel that was copied into
# several columns influenced the loss through each copy, so its gradient is the **sum** over its
# copies: **col2im** adds every column back into the window it came from. On a 5x5 image with
# 3x3 windows at stride 1, col2im of all-ones counts how many windows cover each pixel:

# %%
shape = (1, 1, 5, 5)
ones_cols = np.ones_like(conv.im2col(np.zeros(shape), 3, 3, 1, 0))
print(conv.col2im(ones_cols, shape, 3, 3, 1, 0)[0, 0].astype(int))

# %% [markdown]
# The centre pixel sits in all 9 windows, a corner in one. In linear-algebra terms col2im is the
# **adjoint** (transpose) of im2col: $\langle \text{im2col}(x), y \rangle = \langle x,
# \text{col2im}(y) \rangle$ for every $x$ and $y$, which is exactly the property the chain rule needs:

# %%
xa = rng.standard_normal((2, 3, 7, 9))
ya = rng.standard_normal(conv.im2col(xa, 3, 3, 2, 1).shape)
lhs = np.sum(conv.im2col(xa, 3, 3, 2, 1) * ya)
rhs = np.sum(xa * conv.col2im(ya, xa.shape, 3, 3, 2, 1))
print("<im2col(x), y> == <x, col2im(y)> (relative 1e-12):", np.isclose(lhs, rhs, rtol=1e-12, atol=0))

# %% [markdown]
# **$dx$ is a full correlation with the flipped filter.** With stride 1, input pixel
# $x[c, p, q]$ meets weight $w[f, c, i, j]$ in output $o[f, p - i, q - j]$, so
# $dx[c, p, q] = \sum_{f,i,j} dS[f, p - i, q - j]\, w[f, c, i, j]$. Substituting
# $i' = F - 1 - i$ turns this into a sliding dot product of $dS$ with the filter **rotated by
# 180 degrees**, over every position where the two overlap at all: a "full" correlation, which is
# an ordinary convolution layer run on $dS$ padded by $F - 1$, with the filters flipped and their
# two channel axes swapped. We check it against the library's backward pass:

# %%
xf = rng.standard_normal((2, 3, 8, 7))
wf = rng.standard_normal((4, 3, 3, 3))
of, cf = conv.conv_forward(xf, wf, np.zeros(4), {"stride": 1, "pad": 0})
dof = rng.standard_normal(of.shape)
dx_lib = conv.conv_backward(dof, cf)[0]
w_flipped = wf[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)        # (C, F, HH, WW), rotated by 180 degrees
dx_full, _ = conv.conv_forward(dof, w_flipped, np.zeros(3), {"stride": 1, "pad": 3 - 1})
print("dx", dx_lib.shape, "== full correlation of dout with the flipped filters (to 1e-12):",
      np.allclose(dx_lib, dx_full, rtol=0, atol=1e-12))

# %% [markdown]
# (With stride $S > 1$ the same holds after spreading $dS$ out with $S - 1$ zeros between its
# entries; col2im does all of this in one pass.) The three formulas and col2im make `conv.conv_backward`. A gradient check in float64 on a
# small layer with stride 2 and padding compares it with centred differences:

# %%
xg = rng.standard_normal((2, 3, 7, 7))
wg = rng.standard_normal((4, 3, 3, 3))
bg = rng.standard_normal(4)
pg = {"stride": 2, "pad": 1}
og, cache = conv.conv_forward(xg, wg, bg, pg)
dout = rng.standard_normal(og.shape)
dx, dw, db = conv.conv_backward(dout, cache)
report("dx", rel_error(dx, numerical_gradient_array(lambda z: conv.conv_forward(z, wg, bg, pg)[0], xg, dout)))
report("dw", rel_error(dw, numerical_gradient_array(lambda z: conv.conv_forward(xg, z, bg, pg)[0], wg, dout)))
ok = report("db", rel_error(db, numerical_gradient_array(lambda z: conv.conv_forward(xg, wg, z, pg)[0], bg, dout)))

# %% [markdown]
# ## 4. What im2col costs in memory
#
# Every pixel is copied into each window that covers it. Windows start every $S$ pixels and are
# $F$ wide, so away from the borders a pixel lies in about $(F/S)^2$ windows: $X_{\text{col}}$ is
# roughly $F^2/S^2$ times as large as the input.

# %%
def im2col_factor(n, f, s, p, c=3):
    """Elements of X_col divided by elements of the (unpadded) input, for one image."""
    side = conv.conv_output_size(n, f, s, p)
    return (c * f * f * side * side) / (c * n * n)


for name, (n, f, s, p) in {"AlexNet conv1 (227, 11x11, stride 4)": (227, 11, 4, 0),
                           "3x3, stride 1, pad 1 on 32x32": (32, 3, 1, 1),
                           "VGG-style 3x3 on 224x224": (224, 3, 1, 1)}.items():
    print(f"{name}: X_col / input = {im2col_factor(n, f, s, p):.2f}, F^2/S^2 = {f * f / (s * s):.2f}")

batch = 128
x_bytes = batch * 3 * 227 * 227 * 4
col_bytes = batch * n_patch * Ho * Ho * 4
print(f"AlexNet conv1, batch {batch}, float32: input {x_bytes / 1e6:.0f} MB, X_col {col_bytes / 1e6:.0f} MB")

# %% [markdown]
# For AlexNet's stride-4 layer the factor is about 7 (7.10 measured against 7.56 from
# $F^2/S^2$; the borders lose a little). For the 3x3 stride-1 layers that dominate modern networks
# it is 9. The backward pass keeps $X_{\text{col}}$ for $dW$, so this memory stays allocated
# until the gradient is computed. Libraries avoid it with tiled or "implicit" im2col (building
# pieces of $X_{\text{col}}$ on the fly inside the matrix product), Winograd or FFT convolutions.
#
# ## 5. How much faster?
#
# `cnnkit.bench` times the three implementations side by side, forward and backward, with the
# same number of threads for numpy and torch (the script `benchmarks/conv_bench.py` runs the full
# table). Here we run it on a reduced problem (small batches; the naive loops on one image and 8
# filters, scaled up linearly) in float32 and float64. The timings depend on the machine, so the
# cell's output is not compared by the tests; what it prints is what was measured when this
# notebook was built, and the text below only points at it.

# %%
# NBVAL_IGNORE_OUTPUT
# (wall-clock timings differ on every run and every machine)
info = set_threads(1)
print(f"threads: torch {info['torch']}; numpy's BLAS: {info['numpy/BLAS']}")
layers = {"AlexNet conv1, batch 2": ((2, 3, 227, 227), (96, 3, 11, 11), 4, 0),
          "3x3x64, 32x32, batch 8": ((8, 64, 32, 32), (64, 64, 3, 3), 1, 1)}
rows = {(name, dt): bench_layer(*spec, dtype=dt, repeats=5, naive_filters=8)
        for name, spec in layers.items() for dt in (np.float32, np.float64)}
fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
for ax, name in zip(axes, layers):
    impls = ["naive", "im2col", "torch"]
    pos = np.arange(3)
    for k, (dt, passes) in enumerate([(np.float32, "float32"), (np.float64, "float64")]):
        r = rows[(name, dt)]
        ax.bar(pos + (k - 0.5) * 0.4, [r[i][0] * 1e3 for i in impls], 0.4, label=f"forward, {passes}")
    ax.set_xticks(pos, ["naive loops", "im2col (numpy)", "torch conv2d"])
    ax.set_yscale("log")
    ax.set_ylabel("forward ms (log scale)")
    ax.set_title(name)
    ax.legend(fontsize=8)
for (name, dt), r in rows.items():
    print(f"{name}, {np.dtype(dt).name}: naive/im2col forward {r['naive/im2col fwd']:.0f}x, backward "
          f"{r['naive/im2col bwd']:.0f}x; im2col/torch forward {r['im2col/torch fwd']:.2f}, backward {r['im2col/torch bwd']:.2f}")
naive_gain = min(min(r["naive/im2col fwd"], r["naive/im2col bwd"]) for r in rows.values())
f32 = [r["im2col/torch fwd"] for (_, dt), r in rows.items() if dt is np.float32]
f64 = [r["im2col/torch fwd"] for (_, dt), r in rows.items() if dt is np.float64]
print(f"im2col at least 100x faster than the loops in every case: {naive_gain >= 100} (smallest gain {naive_gain:.0f}x)")
print(f"im2col/torch forward, float32: {', '.join(f'{v:.2f}' for v in f32)}; float64: {', '.join(f'{v:.2f}' for v in f64)}")
fig.tight_layout()
plt.show()

# %% [markdown]
# Read the printed ratios. The matrix product turns a few million Python-level dot products into
# one call that runs at the speed of the machine's BLAS; the naive/im2col line says by how much.
# The im2col/torch ratio has two parts. One is the copying that im2col and col2im do and PyTorch's
# specialised kernels (oneDNN on the CPU) avoid. The other is the BLAS itself: the first line
# names the kernels numpy's OpenBLAS chose, and where they are narrower than the vector
# instructions oneDNN uses (for example OpenBLAS's Haswell kernels on a CPU with AVX-512), numpy's
# float32 products run well below the CPU's peak, which widens the float32 gap. Compare the
# float32 and float64 ratios printed above to see how much of the gap each precision shows on the
# machine that built this notebook.
#
# **Where numpy can win.** Look at the backward ratios too: some can come out near or even below
# 1, numpy's im2col as fast as PyTorch or faster. In float64 that is no surprise. PyTorch's CPU
# convolution has no oneDNN kernel for float64 and falls back to its `Slow2d` backend, which is
# its own im2col followed by a BLAS matrix product: the algorithm of this lecture, so the two
# differ only in overheads (the next cell asks PyTorch which backend it picks). In float32 a
# ratio below 1 means that oneDNN's backward kernels for that layer were slower than im2col and
# two matrix products. That they are tuned less well than its forward kernels for an unusual
# shape such as AlexNet's conv1 (3 input channels, 11x11, stride 4) is a plausible reason, not
# one measured here. Either way, "the framework is faster" is a measurement to repeat per layer,
# precision and machine, not a rule.

# %%
backends = {(name, "float64"): torch._C._select_conv_backend(
                torch.zeros(x_shape, dtype=torch.float64), torch.zeros(w_shape, dtype=torch.float64), None,
                [stride, stride], [pad, pad], [1, 1], False, [0, 0], 1, None).name
            for name, (x_shape, w_shape, stride, pad) in layers.items()}
print("PyTorch's CPU backend for these layers in float64:", sorted(set(backends.values())))
print("both run Slow2d (im2col + BLAS, like this lecture):", set(backends.values()) == {"Slow2d"})

# %% [markdown]
# ## Summary
#
# - im2col copies every receptive field into a column of $X_{\text{col}}$; the convolution is then
#   $W_{\text{row}} X_{\text{col}}$, one large matrix product.
# - The columns can be gathered without a loop over pixels by viewing the padded input through
#   strides (`as_strided`).
# - Backward: $dW_{\text{row}} = dS X_{\text{col}}^\top$ sums over positions because the weights
#   are shared; $dX_{\text{col}} = W_{\text{row}}^\top dS$ is added back into place by col2im, the
#   adjoint of im2col; for stride 1, $dx$ is a full correlation of $dS$ with the flipped filters.
# - $X_{\text{col}}$ is about $F^2/S^2$ times the input: 9 times for 3x3 stride-1 layers.
# - im2col is far faster than loops (the benchmark cell prints by how much on the machine that
#   built the notebook); the rest of the distance to PyTorch is copies, specialised kernels and
#   the BLAS build.
#
# ## Check yourself
#
# 1. For a $32 \times 32 \times 3$ input and ten $5 \times 5$ filters with stride 1 and pad 2,
#    what are the shapes of $X_{\text{col}}$, $W_{\text{row}}$ and $O$ for one image?
# 2. Why does col2im *add* overlapping contributions instead of keeping one of them?
# 3. In $dW_{\text{row}} = dS X_{\text{col}}^\top$, over which index does the product sum, and what
#    does that sum mean for a filter that is slid over the whole image?
# 4. How large is $X_{\text{col}}$ relative to the input for a 5x5 filter at stride 1 with pad 2?
#    And at stride 5 without padding, on the same $32 \times 32$ input?
# 5. Why does the benchmark give numpy and torch the same number of threads?
#
# The cell below computes the numeric answers.

# %%
x_q = np.zeros((1, 3, 32, 32))
print("1. X_col", conv.im2col(x_q, 5, 5, 1, 2).shape, "; W_row", (10, 5 * 5 * 3), "; O",
      (10, conv.conv_output_size(32, 5, 1, 2) ** 2))
print(f"4. 5x5, stride 1, pad 2: X_col / input = {im2col_factor(32, 5, 1, 2):.2f}; "
      f"stride 5, no pad: {im2col_factor(32, 5, 5, 0):.2f} ({conv.conv_output_size(32, 5, 5)}x"
      f"{conv.conv_output_size(32, 5, 5)} windows cover {5 * conv.conv_output_size(32, 5, 5)} of 32 pixels per side)")

# %% [markdown]
# <details><summary>Answers</summary>
#
# 1. $X_{\text{col}}$ is $75 \times 1024$ ($5 \cdot 5 \cdot 3$ values per window, $32 \cdot 32$ windows),
#    $W_{\text{row}}$ is $10 \times 75$ and $O$ is $10 \times 1024$, reshaped to $10 \times 32 \times 32$.
# 2. Each column holds a copy of the pixel, and the pixel influences the loss through every copy.
#    By the chain rule (the sum over paths of lecture 02) its gradient is the sum of the copies'
#    gradients; keeping one would drop the others' contributions. This is what makes col2im the
#    adjoint of im2col.
# 3. Over the columns: every output position of every image. The same filter is applied at each
#    position, so its gradient is the sum of what each position contributes: weight sharing in
#    the forward pass becomes a sum in the backward pass.
# 4. With stride 1 and pad 2 every output position has a full $5 \times 5$ window: 25 times the
#    input. At stride 5 the windows do not overlap, and $\lfloor 27/5 \rfloor + 1 = 6$ windows per
#    side cover only 30 of the 32 pixels (the filter does not fit exactly), so $X_{\text{col}}$ is
#    smaller than the input: $900/1024 = 0.88$.
# 5. Both use all the threads they are given; with different counts the comparison would measure
#    the thread counts, not the implementations.
#
# </details>
