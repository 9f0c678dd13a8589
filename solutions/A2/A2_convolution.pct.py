# %% [markdown]
# # Assignment 2: Convolution
#
# In this assignment you write a convolution layer three times over: first with plain loops,
# then as a matrix product (im2col), and you add max pooling, the receptive field of a stack
# of layers, batch normalisation (lecture 05, section 9) and dropout, the regulariser of
# AlexNet's and VGG's fully connected layers. Everything is numpy; PyTorch only serves as a
# reference in the tests.
#
# **Conventions** (the same as the lectures and CS231n):
#
# - inputs `x` have shape `(N, C, H, W)`: batch, channels, height, width;
# - filters `w` have shape `(F, C, HH, WW)` and biases `b` shape `(F,)`;
# - `conv_param = {"stride": S, "pad": P}`; padding adds `P` zeros on every side of the image;
# - a forward function returns `(out, cache)`; its backward takes `(dout, cache)`.
#
# The layer computes a cross-correlation, as every deep-learning library does:
#
# $$\text{out}[n, f, h, w] = b_f + \sum_{c, i, j} w[f, c, i, j]\; x_{\text{pad}}[n, c, hS + i, wS + j].$$
#
# Each part has visible tests that tell you what went wrong, and hidden tests that run the same
# checks on other shapes (non-square images, other strides and paddings). The tests make sure
# your functions do not call the course library's versions (`cnnkit.conv`, `cnnkit.layers`,
# `cnnkit.inspect`); write them yourself.
#
# | part | points |
# | --- | --- |
# | 1 `conv_output_size` | 6 |
# | 2 `conv_param_count` | 4 |
# | 3 `conv_forward_naive` | 8 |
# | 4 `conv_backward_naive` | 8 |
# | 5 `im2col` | 6 |
# | 6 `col2im` | 6 |
# | 7 `conv_forward_im2col` | 8 |
# | 8 `conv_backward_im2col` | 8 |
# | 9 `max_pool_forward` | 4 |
# | 10 `max_pool_backward` | 8 |
# | 11 `receptive_field` | 4 |
# | 12 `batchnorm_forward` | 6 |
# | 13 `batchnorm_backward` | 6 |
# | 14 `dropout_forward` | 4 |
# | 15 `dropout_backward` | 2 |
# | 16 two written answers | 12 |
# | total | 100 |

# %% nb="locked setup"
import numpy as np
import torch
import torch.nn.functional as F

import cnnkit.conv
import cnnkit.layers
from cnnkit.device import seed_everything
from cnnkit.gradcheck import numerical_gradient_array, rel_error
from cnnkit.grading import check_close, check_hash, check_raises, check_shape, in_place, no_calls_to, using

rng = seed_everything(0)
torch.set_num_threads(1)


def torch_conv(x, w, b, stride, pad, dout=None):
    """Reference: out of torch's conv2d, and with dout also (dx, dw, db) by autograd. float64."""
    xt, wt, bt = (torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=True) for a in (x, w, b))
    out = F.conv2d(xt, wt, bt, stride=stride, padding=pad)
    if dout is None:
        return out.detach().numpy()
    out.backward(torch.tensor(dout))
    return out.detach().numpy(), xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy()


def course_conv_output_size(n, f, stride=1, pad=0, exact=False):
    """The course's conv_output_size with part 1's signature: the tests of later parts run your code
    on it in place of yours, so that a mistake in part 1 is not charged again. (The library's
    cnnkit.conv.conv_output_size names its arguments as PyTorch does: kernel, padding.)"""
    return cnnkit.conv.conv_output_size(n, f, stride=stride, padding=pad, exact=exact)


def call_padded(what, func, *args, pad):
    """func(*args), with the usual numpy error of an np.pad that padded every axis named."""
    try:
        return func(*args)
    except ValueError as exc:
        if pad and ("broadcast" in str(exc) or "shape" in str(exc)):
            raise AssertionError(
                f"{what} with pad {pad}: numpy raised '{exc}'. With pad 0 your code runs, so look at the "
                "padding: np.pad(x, P) pads every axis, the batch and channel axes too.\n"
                "Hint: pad only the height and width: np.pad(x, ((0, 0), (0, 0), (P, P), (P, P)))") from None
        raise


# %% [markdown]
# ## Part 1: output size (6 points)
#
# A filter of side $F$ slid with stride $S$ over an input of side $N$ padded by $P$ zeros on each
# side starts at positions $0, S, 2S, \dots$ as long as it still lies inside the padded input, so
# it fits in
#
# $$N_{\text{out}} = \left\lfloor \frac{N + 2P - F}{S} \right\rfloor + 1$$
#
# positions, as PyTorch computes it for convolutions and pooling (lecture 03, section 2). Not every
# framework floors: Caffe's pooling layers round up (a last window may hang over the edge), and
# TensorFlow's `"SAME"` padding picks the padding that gives $\lceil N / S \rceil$ outputs; this
# assignment floors, as PyTorch does. When $S$ does not divide $N + 2P - F$ the filter "does not
# fit exactly": the floor drops the last $(N + 2P - F) \bmod S$ rows, which no window ever covers
# (a 3x3 filter on a 7x7 input at stride 3 gives 2 positions and never reads the last column).
#
# Write `conv_output_size(n, f, stride=1, pad=0, exact=False)` that returns this number as a
# Python `int` (use integer arithmetic: `//` and `%`, never `/`). Raise a `ValueError` whose
# message contains the words `does not fit`
#
# - always when the filter is larger than the padded input (there is no position at all), and
# - with `exact=True` also when the stride does not divide $N + 2P - F$, so that a caller who
#   does not want to lose a border hears about it. Say in the message what would fit.

# %% nb="solution conv_output_size"
def conv_output_size(n, f, stride=1, pad=0, exact=False):
    ### BEGIN SOLUTION
    span = n + 2 * pad - f
    if span < 0:
        raise ValueError(f"a filter of size {f} does not fit an input of size {n} padded by {pad}: "
                         f"pad the input by at least {-(-(f - n) // 2)}")
    if exact and span % stride != 0:
        fits = [s for s in range(1, span + 1) if span % s == 0]
        raise ValueError(f"a filter of size {f} with stride {stride} does not fit exactly an input of size "
                         f"{n} padded by {pad}: ({n} + 2*{pad} - {f}) / {stride} + 1 = {span / stride + 1:.2f}, "
                         f"so the last {span % stride} row(s) would be lost; strides {fits} would fit")
    return span // stride + 1
    ### END SOLUTION


# %% nb="tests conv_output_size__tests 3"
for args, want in [((7, 3, 1, 0), 5), ((7, 3, 2, 0), 3), ((7, 3, 3, 0), 2), ((32, 5, 1, 0), 28),
                   ((32, 5, 1, 2), 32)]:
    got = conv_output_size(*args)
    check_close(f"conv_output_size{args}", got, want, hint="floor: (n + 2*pad - f) // stride + 1")
    assert isinstance(got, (int, np.integer)), f"conv_output_size{args} returned {type(got).__name__}, expected an int"
got = conv_output_size(7, 3, 2, 0, exact=True)
check_close("conv_output_size(7, 3, 2, 0, exact=True)", got, 3, hint="stride 2 divides 7 - 3: no error")
exc = check_raises("conv_output_size(7, 3, 3, 0, exact=True)", conv_output_size, (7, 3, 3, 0), {"exact": True},
                   hint="(7 - 3) is not a multiple of 3: with exact=True raise ValueError")
assert "does not fit" in str(exc), f"the message should say 'does not fit', it says: {exc}"

# %% nb="tests conv_output_size__hidden 3"
# hidden tests: other sizes, strides and paddings, exact mode, and filters larger than the input
### BEGIN HIDDEN TESTS
for args, want in [((227, 11, 4, 0), 55), ((5, 5, 1, 0), 1), ((10, 4, 3, 0), 3), ((9, 4, 3, 2), 4),
                   ((13, 3, 2, 3), 9), ((1, 3, 1, 1), 1), ((224, 7, 2, 3), 112), ((56, 3, 2, 1), 28),
                   ((4, 3, 2, 0), 1), ((10, 5, 3, 1), 3)]:
    got = conv_output_size(*args)
    check_close(f"conv_output_size{args}", got, want, hint="floor: (n + 2*pad - f) // stride + 1")
    assert isinstance(got, (int, np.integer)), f"conv_output_size{args} returned {type(got).__name__}"
    exact_ok = (args[0] + 2 * args[3] - args[1]) % args[2] == 0
    if exact_ok:
        check_close(f"conv_output_size{args[:4]}, exact=True", conv_output_size(*args, exact=True), want)
    else:
        exc = check_raises(f"conv_output_size{args[:4]}, exact=True", conv_output_size, args, {"exact": True})
        assert "does not fit" in str(exc), f"the message should say 'does not fit', it says: {exc}"
for args, kwargs in [((3, 7, 1, 0), {}), ((2, 5, 1, 1), {}), ((2, 5, 1, 1), {"exact": True})]:
    exc = check_raises(f"conv_output_size{args}, {kwargs}", conv_output_size, args, kwargs)
    assert "does not fit" in str(exc), f"the message should say 'does not fit', it says: {exc}"
### END HIDDEN TESTS

# %% [markdown]
# ## Part 2: parameter count (4 points)
#
# A convolution layer with `in_channels` input channels and `out_channels` filters of size
# `kernel_size` (an int $K$ for a $K \times K$ filter, or a pair `(KH, KW)`) has
# `out_channels * in_channels * KH * KW` weights and, if `bias` is true, `out_channels` biases.
# Write `conv_param_count(in_channels, out_channels, kernel_size, bias=True)`. The visible test
# checks how the count grows with each argument; the hidden test checks exact counts.

# %% nb="solution conv_param_count"
def conv_param_count(in_channels, out_channels, kernel_size, bias=True):
    ### BEGIN SOLUTION
    kh, kw = (kernel_size, kernel_size) if np.isscalar(kernel_size) else kernel_size
    return out_channels * in_channels * kh * kw + (out_channels if bias else 0)
    ### END SOLUTION


# %% nb="tests conv_param_count__tests 2"
check_close("conv_param_count(1, 1, 1, bias=False)", conv_param_count(1, 1, 1, bias=False), 1,
            hint="one 1x1 filter over one channel is one weight")
check_close("conv_param_count(3, 10, 5) - conv_param_count(3, 10, 5, bias=False)",
            conv_param_count(3, 10, 5) - conv_param_count(3, 10, 5, bias=False), 10, hint="one bias per filter")
check_close("conv_param_count(6, 10, 5, bias=False) / conv_param_count(3, 10, 5, bias=False)",
            conv_param_count(6, 10, 5, bias=False) / conv_param_count(3, 10, 5, bias=False), 2.0,
            hint="each filter has one KxK slice per input channel")
check_close("conv_param_count(3, 10, (5, 2), bias=False) / conv_param_count(3, 10, (5, 1), bias=False)",
            conv_param_count(3, 10, (5, 2), bias=False) / conv_param_count(3, 10, (5, 1), bias=False), 2.0,
            hint="a pair (KH, KW) gives KH * KW weights per channel")

# %% nb="tests conv_param_count__hidden 2"
# hidden tests: compared with torch.nn.Conv2d, rectangular kernels, no bias
### BEGIN HIDDEN TESTS
for cin, cout, k, bias in [(3, 96, 11, True), (64, 128, (3, 1), True), (256, 64, 1, False), (7, 5, (2, 4), False)]:
    layer = torch.nn.Conv2d(cin, cout, k, bias=bias)
    want = sum(p.numel() for p in layer.parameters())
    check_close(f"conv_param_count({cin}, {cout}, {k}, bias={bias})", conv_param_count(cin, cout, k, bias=bias), want)
### END HIDDEN TESTS

# %% [markdown]
# ## Part 3: naive forward pass (8 points)
#
# Write `conv_forward_naive(x, w, b, conv_param)` with explicit loops over images, filters and
# output positions: pad `x` with zeros (`np.pad`), then for each output position take the
# window of the padded input, multiply it element-wise by the filter, sum, and add the bias.
# Use `conv_output_size` for the output shape, and raise a `ValueError` when `x` and `w` have a
# different number of channels. Return `(out, cache)` with `cache = (x, w, b, conv_param)`: the
# tests of part 4 give your backward pass a cache of this form that they make themselves, so a
# mistake here is not charged twice.

# %% nb="solution conv_forward_naive"
def conv_forward_naive(x, w, b, conv_param):
    ### BEGIN SOLUTION
    S, P = conv_param["stride"], conv_param["pad"]
    N, C, H, W = x.shape
    Fn, Cw, HH, WW = w.shape
    if C != Cw:
        raise ValueError(f"x has {C} channels but w expects {Cw}")
    Ho, Wo = conv_output_size(H, HH, S, P), conv_output_size(W, WW, S, P)
    xp = np.pad(x, ((0, 0), (0, 0), (P, P), (P, P)))
    out = np.zeros((N, Fn, Ho, Wo), dtype=np.result_type(x, w))
    for n in range(N):
        for f in range(Fn):
            for i in range(Ho):
                for j in range(Wo):
                    out[n, f, i, j] = np.sum(xp[n, :, i * S:i * S + HH, j * S:j * S + WW] * w[f]) + b[f]
    return out, (x, w, b, conv_param)
    ### END SOLUTION


# %% nb="tests conv_forward_naive__tests 4"
x = rng.standard_normal((2, 3, 5, 5))
w = rng.standard_normal((4, 3, 3, 3))
b = rng.standard_normal(4)
for S, P in [(1, 0), (2, 1)]:
    with no_calls_to(cnnkit.conv, cnnkit.layers), using(conv_output_size=course_conv_output_size):
        out, cache = call_padded("conv_forward_naive", conv_forward_naive, x, w, b, {"stride": S, "pad": P}, pad=P)
    ref = torch_conv(x, w, b, S, P)
    check_shape(f"conv_forward_naive out (stride {S}, pad {P})", out, ref.shape,
                hint="H_out = (H + 2*pad - HH) // stride + 1, and likewise W_out")
    if np.allclose(out, ref - b[None, :, None, None], rtol=1e-8, atol=1e-10):
        raise AssertionError(f"conv_forward_naive out (stride {S}, pad {P}): matches the convolution without "
                             "the bias\nHint: add b[f] to every output of filter f")
    check_close(f"conv_forward_naive out (stride {S}, pad {P})", out, ref, tol=1e-8,
                hint="did you pad on every side, step by the stride, and add the bias of each filter?")
    if not (isinstance(cache, (tuple, list)) and len(cache) == 4):
        raise AssertionError("conv_forward_naive: expected the cache (x, w, b, conv_param), "
                             f"got {type(cache).__name__}\nHint: return out, (x, w, b, conv_param)")
_ = check_raises("conv_forward_naive with 3 channels in x and 2 in w", conv_forward_naive,
                 (x, w[:, :2], b, {"stride": 1, "pad": 0}), hint="compare x.shape[1] with w.shape[1]")

# %% nb="tests conv_forward_naive__hidden 4"
# hidden tests: non-square inputs and filters, stride 2 and 3, padding 0-3
### BEGIN HIDDEN TESTS
for (N, C, H, W), (Fn, HH, WW), S, P in [((2, 2, 7, 9), (3, 3, 5), 2, 1), ((1, 3, 10, 7), (2, 4, 1), 3, 0),
                                         ((2, 1, 5, 6), (2, 3, 2), 1, 3), ((1, 2, 9, 9), (3, 3, 3), 3, 3)]:
    x = rng.standard_normal((N, C, H, W))
    w = rng.standard_normal((Fn, C, HH, WW))
    b = rng.standard_normal(Fn)
    with no_calls_to(cnnkit.conv, cnnkit.layers), using(conv_output_size=course_conv_output_size):
        out, _ = conv_forward_naive(x, w, b, {"stride": S, "pad": P})
    check_close(f"conv_forward_naive out for x {x.shape}, w {w.shape}, stride {S}, pad {P}", out,
                torch_conv(x, w, b, S, P), tol=1e-8)
### END HIDDEN TESTS

# %% [markdown]
# ## Part 4: naive backward pass (8 points)
#
# Each output value $\text{out}[n, f, h, w]$ was the sum of a window of $x_{\text{pad}}$ times
# $w_f$, plus $b_f$. So its upstream gradient $g = \text{dout}[n, f, h, w]$ adds $g\, w_f$ to
# that window of $dx_{\text{pad}}$, adds $g$ times the window to $dw_f$, and adds $g$ to $db_f$.
# Write `conv_backward_naive(dout, cache)` returning `dx, dw, db` with the loops of part 3, and
# cut the padding off `dx` at the end. The tests compare with numerical gradients in float64.

# %% nb="solution conv_backward_naive"
def conv_backward_naive(dout, cache):
    ### BEGIN SOLUTION
    x, w, b, conv_param = cache
    S, P = conv_param["stride"], conv_param["pad"]
    N, Fn, Ho, Wo = dout.shape
    _, _, HH, WW = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (P, P), (P, P)))
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w)
    db = dout.sum(axis=(0, 2, 3))
    for n in range(N):
        for f in range(Fn):
            for i in range(Ho):
                for j in range(Wo):
                    g = dout[n, f, i, j]
                    dw[f] += g * xp[n, :, i * S:i * S + HH, j * S:j * S + WW]
                    dxp[n, :, i * S:i * S + HH, j * S:j * S + WW] += g * w[f]
    H, W = x.shape[2:]
    return dxp[:, :, P:P + H, P:P + W], dw, db
    ### END SOLUTION


# %% nb="tests conv_backward_naive__tests 4"
x = rng.standard_normal((2, 3, 5, 5))
w = rng.standard_normal((2, 3, 3, 3))
b = rng.standard_normal(2)
param = {"stride": 2, "pad": 1}
# The cache is the one part 3 specifies, made here, and the expected gradients come from PyTorch:
# a mistake in your forward pass is not charged again in this part.
dout = rng.standard_normal(torch_conv(x, w, b, 2, 1).shape)
_, dx_ref, dw_ref, db_ref = torch_conv(x, w, b, 2, 1, dout)
with no_calls_to(cnnkit.conv, cnnkit.layers):
    dx, dw, db = call_padded("conv_backward_naive", conv_backward_naive, dout, (x, w, b, param), pad=1)
check_shape("conv_backward_naive dx", dx, x.shape, hint="cut the padding off dx at the end")
check_close("conv_backward_naive db", db, db_ref, tol=1e-8, hint="db[f] is the sum of dout[:, f]")
check_close("conv_backward_naive dw", dw, dw_ref, tol=1e-8, hint="each output position adds dout * window to dw[f]")
check_close("conv_backward_naive dx", dx, dx_ref, tol=1e-8,
            hint="each output position adds dout * w[f] to its window of the padded dx; cut the padding at the end")

# %% nb="tests conv_backward_naive__hidden 4"
# hidden tests: gradients on other shapes, compared with autograd and numerical gradients
### BEGIN HIDDEN TESTS
for (N, C, H, W), (Fn, HH, WW), S, P in [((2, 2, 7, 9), (3, 3, 5), 2, 1), ((1, 3, 10, 7), (2, 4, 1), 3, 0),
                                         ((1, 2, 5, 6), (2, 3, 2), 1, 3)]:
    x = rng.standard_normal((N, C, H, W))
    w = rng.standard_normal((Fn, C, HH, WW))
    b = rng.standard_normal(Fn)
    param = {"stride": S, "pad": P}
    dout = rng.standard_normal(torch_conv(x, w, b, S, P).shape)
    _, dx_ref, dw_ref, db_ref = torch_conv(x, w, b, S, P, dout)
    with no_calls_to(cnnkit.conv, cnnkit.layers):
        dx, dw, db = conv_backward_naive(dout, (x, w, b, param))
    what = f"x {x.shape}, w {w.shape}, stride {S}, pad {P}"
    check_close(f"conv_backward_naive dx for {what}", dx, dx_ref, tol=1e-8)
    check_close(f"conv_backward_naive dw for {what}", dw, dw_ref, tol=1e-8)
    check_close(f"conv_backward_naive db for {what}", db, db_ref, tol=1e-8)
x = rng.standard_normal((1, 2, 4, 7))
w = rng.standard_normal((2, 2, 2, 3))
b = rng.standard_normal(2)
param = {"stride": 2, "pad": 2}
dout = rng.standard_normal(torch_conv(x, w, b, 2, 2).shape)
dx, dw, db = conv_backward_naive(dout, (x, w, b, param))
check_close("conv_backward_naive dx (numerical)", dx,
            numerical_gradient_array(lambda z: torch_conv(z, w, b, 2, 2), x, dout), tol=1e-7)
check_close("conv_backward_naive dw (numerical)", dw,
            numerical_gradient_array(lambda z: torch_conv(x, z, b, 2, 2), w, dout), tol=1e-7)
### END HIDDEN TESTS

# %% [markdown]
# ## Part 5: im2col (6 points)
#
# The loops are slow because Python touches every output value. im2col gathers every receptive
# field into a column of one matrix, so that the whole convolution becomes a single matrix product.
#
# `im2col(x, HH, WW, stride, pad)` takes `x` of shape `(N, C, H, W)` and returns `X_col` of shape
# `(C*HH*WW, N*H_out*W_out)`:
#
# - column number `n*H_out*W_out + h*W_out + w` holds the window
#   `x_pad[n, :, h*S : h*S + HH, w*S : w*S + WW]` flattened in C order (`.ravel()`), so its rows
#   are ordered (channel, row, column) like `w.reshape(F, -1)`;
# - do not loop over output positions: use fancy indexing or
#   `numpy.lib.stride_tricks.as_strided` / `sliding_window_view` (a loop over the `HH*WW` filter
#   offsets is fine).
#
# For one 227x227x3 image and 11x11 windows at stride 4 (AlexNet's first layer) `X_col` is
# 363 x 3025.

# %% nb="solution im2col"
def im2col(x, HH, WW, stride=1, pad=0):
    ### BEGIN SOLUTION
    N, C, H, W = x.shape
    Ho, Wo = conv_output_size(H, HH, stride, pad), conv_output_size(W, WW, stride, pad)
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    # row r = (c, i, j) and column p = (h, w) of one image read xp[c, i + h*S, j + w*S]
    c = np.repeat(np.arange(C), HH * WW)
    i = np.tile(np.repeat(np.arange(HH), WW), C)
    j = np.tile(np.arange(WW), C * HH)
    h = np.repeat(np.arange(Ho), Wo) * stride
    v = np.tile(np.arange(Wo), Ho) * stride
    cols = xp[:, c[:, None], i[:, None] + h[None, :], j[:, None] + v[None, :]]  # (N, K, P)
    cols = cols.transpose(1, 0, 2)
    return cols.reshape(C * HH * WW, N * Ho * Wo)
    ### END SOLUTION


# %% nb="tests im2col__tests 3"
x = rng.standard_normal((1, 3, 227, 227))
with no_calls_to(cnnkit.conv, cnnkit.layers), using(conv_output_size=course_conv_output_size):
    cols = im2col(x, 11, 11, 4, 0)
check_shape("im2col for AlexNet conv1", cols, (363, 3025), hint="(C*HH*WW, N*H_out*W_out)")
x = rng.standard_normal((2, 2, 5, 5))
with no_calls_to(cnnkit.conv, cnnkit.layers), using(conv_output_size=course_conv_output_size):
    cols = call_padded("im2col", im2col, x, 3, 3, 2, 1, pad=1)
check_shape("im2col of x (2, 2, 5, 5), 3x3, stride 2, pad 1", cols, (18, 18))
xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
for n, h, v in [(0, 0, 0), (0, 1, 2), (1, 2, 1)]:
    check_close(f"im2col column of image {n}, output position ({h}, {v})", cols[:, n * 9 + h * 3 + v],
                xp[n, :, 2 * h:2 * h + 3, 2 * v:2 * v + 3].ravel(), tol=1e-12,
                hint="column n*H_out*W_out + h*W_out + w holds the padded window, flattened in C order")

# %% nb="tests im2col__hidden 3"
# hidden tests: non-square windows, stride 3, padding up to 3, several images
### BEGIN HIDDEN TESTS
for shape, HH, WW, S, P in [((2, 3, 7, 9), 3, 5, 2, 1), ((3, 1, 10, 7), 4, 1, 3, 0), ((1, 2, 5, 6), 3, 2, 1, 3)]:
    x = rng.standard_normal(shape)
    ref = cnnkit.conv.im2col(x, HH, WW, S, P)
    with no_calls_to(cnnkit.conv, cnnkit.layers), using(conv_output_size=course_conv_output_size):
        cols = im2col(x, HH, WW, S, P)
    check_close(f"im2col of x {shape}, window {HH}x{WW}, stride {S}, pad {P}", cols, ref, tol=1e-12)
### END HIDDEN TESTS

# %% [markdown]
# ## Part 6: col2im (6 points)
#
# `col2im(cols, x_shape, HH, WW, stride, pad)` goes the other way: it adds every column back
# into the window it came from, and returns an array of shape `x_shape` (the padding cut off).
# Where windows overlap the values **add up**: col2im is not the inverse of im2col but its
# adjoint, $\langle \text{im2col}(x), y\rangle = \langle x, \text{col2im}(y)\rangle$ for all $x, y$,
# which is exactly what the backward pass needs. A loop over the `HH*WW` filter offsets (or
# `np.add.at`) is fine; a loop over output positions is not.

# %% nb="solution col2im"
def col2im(cols, x_shape, HH, WW, stride=1, pad=0):
    ### BEGIN SOLUTION
    N, C, H, W = x_shape
    Ho, Wo = conv_output_size(H, HH, stride, pad), conv_output_size(W, WW, stride, pad)
    c6 = cols.reshape(C, HH, WW, N, Ho, Wo)
    xp = np.zeros((N, C, H + 2 * pad, W + 2 * pad), dtype=cols.dtype)
    for i in range(HH):
        for j in range(WW):
            xp[:, :, i:i + stride * Ho:stride, j:j + stride * Wo:stride] += c6[:, i, j].transpose(1, 0, 2, 3)
    return xp[:, :, pad:pad + H, pad:pad + W]
    ### END SOLUTION


# %% nb="tests col2im__tests 3"
shape = (2, 2, 5, 5)
x = rng.standard_normal(shape)
y = rng.standard_normal((18, 18))
with no_calls_to(cnnkit.conv, cnnkit.layers), using(conv_output_size=course_conv_output_size):
    back = col2im(y, shape, 3, 3, 2, 1)
check_shape("col2im output", back, shape, hint="return an array shaped like x, without the padding")
with no_calls_to(cnnkit.conv, cnnkit.layers), using(conv_output_size=course_conv_output_size):
    counts = col2im(np.ones((9, 9)), (1, 1, 5, 5), 3, 3, 1, 0)
check_close("col2im of ones (how many 3x3 windows cover each pixel of a 5x5 image)", counts[0, 0],
            [[1, 2, 3, 2, 1], [2, 4, 6, 4, 2], [3, 6, 9, 6, 3], [2, 4, 6, 4, 2], [1, 2, 3, 2, 1]],
            hint="overlapping windows must add up (+=), not overwrite")
check_close("<im2col(x), y> vs <x, col2im(y)>", np.sum(x * back), np.sum(cnnkit.conv.im2col(x, 3, 3, 2, 1) * y), tol=1e-10,
            hint="col2im must add each column back into the window im2col took it from")

# %% nb="tests col2im__hidden 3"
# hidden tests: the adjoint identity and the library's col2im on other shapes
### BEGIN HIDDEN TESTS
for shape, HH, WW, S, P in [((2, 3, 7, 9), 3, 5, 2, 1), ((3, 1, 10, 7), 4, 1, 3, 0), ((1, 2, 5, 6), 3, 2, 1, 3)]:
    Ho = cnnkit.conv.conv_output_size(shape[2], HH, S, P)
    Wo = cnnkit.conv.conv_output_size(shape[3], WW, S, P)
    y = rng.standard_normal((shape[1] * HH * WW, shape[0] * Ho * Wo))
    ref = cnnkit.conv.col2im(y, shape, HH, WW, S, P)
    with no_calls_to(cnnkit.conv, cnnkit.layers), using(conv_output_size=course_conv_output_size):
        back = col2im(y, shape, HH, WW, S, P)
    check_close(f"col2im for x_shape {shape}, window {HH}x{WW}, stride {S}, pad {P}", back, ref, tol=1e-12)
### END HIDDEN TESTS

# %% [markdown]
# ## Part 7: fast forward pass (8 points)
#
# With `X_col = im2col(x, ...)` and `W_row = w.reshape(F, -1)` of shape `(F, C*HH*WW)`, the
# product `W_row @ X_col + b[:, None]` has shape `(F, N*H_out*W_out)`; reshape it to
# `(F, N, H_out, W_out)` and move the batch axis first. Write
# `conv_forward_im2col(x, w, b, conv_param)` returning `(out, cache)` with
# `cache = (x, w, b, conv_param, X_col)`, with no Python loops, and the same `ValueError` as
# part 3 for a channel mismatch. The tests check that it does not call `conv_forward_naive`
# and that its output is computed from the columns `im2col` returns: one test hands it an
# `im2col` of its own, whose columns are those of `2 * x`.

# %% nb="solution conv_forward_im2col"
def conv_forward_im2col(x, w, b, conv_param):
    ### BEGIN SOLUTION
    S, P = conv_param["stride"], conv_param["pad"]
    N, C, H, W = x.shape
    Fn, Cw, HH, WW = w.shape
    if C != Cw:
        raise ValueError(f"x has {C} channels but w expects {Cw}")
    Ho, Wo = conv_output_size(H, HH, S, P), conv_output_size(W, WW, S, P)
    cols = im2col(x, HH, WW, S, P)
    out = w.reshape(Fn, -1) @ cols + b[:, None]
    out = out.reshape(Fn, N, Ho, Wo).transpose(1, 0, 2, 3)
    return out, (x, w, b, conv_param, cols)
    ### END SOLUTION


# %% nb="tests conv_forward_im2col__tests 4"
def im2col_of_2x(x, HH, WW, stride=1, pad=0):
    """The test's im2col: the columns of 2 * x. A forward pass that computes its output from the
    columns im2col returns gives the convolution of 2 * x; one that computes it from x itself
    (loops, conv_forward_naive) gives that of x."""
    return cnnkit.conv.im2col(2 * np.asarray(x), HH, WW, stride, pad)


_FROM_COLUMNS = "compute the output from the columns im2col returns (W_row @ X_col + b), not from x itself"
x = rng.standard_normal((2, 3, 6, 6))
w = rng.standard_normal((4, 3, 3, 3))
b = rng.standard_normal(4)
for S, P in [(1, 1), (3, 0)]:
    with no_calls_to(cnnkit.conv, cnnkit.layers), using(conv_output_size=course_conv_output_size, im2col=cnnkit.conv.im2col):
        out, _ = conv_forward_im2col(x, w, b, {"stride": S, "pad": P})
    check_close(f"conv_forward_im2col out (stride {S}, pad {P})", out, torch_conv(x, w, b, S, P), tol=1e-8,
                hint="W_row @ X_col + b[:, None] has shape (F, N*H_out*W_out): reshape to (F, N, H_out, W_out), "
                     "then put N first")
with using(conv_output_size=course_conv_output_size, im2col=cnnkit.conv.im2col):
    _ = check_raises("conv_forward_im2col with 3 channels in x and 2 in w", conv_forward_im2col,
                     (x, w[:, :2], b, {"stride": 1, "pad": 0}))
with no_calls_to(conv_forward_naive, name="conv_forward_im2col", hint="use im2col and one matrix product instead"), \
        using(conv_output_size=course_conv_output_size, im2col=im2col_of_2x):
    out, _ = conv_forward_im2col(x, w, b, {"stride": 1, "pad": 1})
check_close("conv_forward_im2col, with an im2col that returns the columns of 2 * x", out, torch_conv(2 * x, w, b, 1, 1),
            tol=1e-8, hint=_FROM_COLUMNS)

# %% nb="tests conv_forward_im2col__hidden 4"
# hidden tests: non-square shapes, stride 2 and 3, padding 0-3, a larger batch
### BEGIN HIDDEN TESTS
for (N, C, H, W), (Fn, HH, WW), S, P in [((2, 2, 7, 9), (3, 3, 5), 2, 1), ((3, 3, 10, 7), (2, 4, 1), 3, 0),
                                         ((2, 1, 5, 6), (2, 3, 2), 1, 3), ((8, 3, 15, 15), (5, 3, 3), 3, 3)]:
    x = rng.standard_normal((N, C, H, W))
    w = rng.standard_normal((Fn, C, HH, WW))
    b = rng.standard_normal(Fn)
    with no_calls_to(cnnkit.conv, cnnkit.layers), using(conv_output_size=course_conv_output_size, im2col=cnnkit.conv.im2col):
        out, _ = conv_forward_im2col(x, w, b, {"stride": S, "pad": P})
    check_close(f"conv_forward_im2col out for x {x.shape}, w {w.shape}, stride {S}, pad {P}", out,
                torch_conv(x, w, b, S, P), tol=1e-8)
with no_calls_to(conv_forward_naive, name="conv_forward_im2col", hint="use im2col and one matrix product instead"), \
        using(conv_output_size=course_conv_output_size, im2col=im2col_of_2x):
    out, _ = conv_forward_im2col(x, w, b, {"stride": 3, "pad": 3})
check_close(f"conv_forward_im2col for x {x.shape}, stride 3, pad 3, with an im2col that returns the columns of 2 * x",
            out, torch_conv(2 * x, w, b, 3, 3), tol=1e-8, hint=_FROM_COLUMNS)
### END HIDDEN TESTS

# %% [markdown]
# ## Part 8: fast backward pass (8 points)
#
# Write the upstream gradient as a matrix $dS$ of shape `(F, N*H_out*W_out)` (the inverse of the
# reshape in part 7). Then
#
# $$dW_{\text{row}} = dS\, X_{\text{col}}^\top, \qquad db = dS\,\mathbf{1}, \qquad
#   dX_{\text{col}} = W_{\text{row}}^\top dS,$$
#
# and `dx = col2im(dX_col, ...)`. Write `conv_backward_im2col(dout, cache)` returning
# `dx, dw, db`, with no Python loops outside col2im. Take $X_{\text{col}}$ from the cache: the
# tests make the cache themselves, and check that `dw` is computed from its $X_{\text{col}}$
# (one test's holds the columns of `2 * x`) and that `dx` is what `col2im` returns (one test's
# `col2im` doubles), as well as that it calls neither naive function.

# %% nb="solution conv_backward_im2col"
def conv_backward_im2col(dout, cache):
    ### BEGIN SOLUTION
    x, w, b, conv_param, cols = cache
    Fn, C, HH, WW = w.shape
    dS = dout.transpose(1, 0, 2, 3).reshape(Fn, -1)
    dw = (dS @ cols.T).reshape(w.shape)
    db = dS.sum(axis=1)
    dcols = w.reshape(Fn, -1).T @ dS
    dx = col2im(dcols, x.shape, HH, WW, conv_param["stride"], conv_param["pad"])
    return dx, dw, db
    ### END SOLUTION


# %% nb="tests conv_backward_im2col__tests 4"
def col2im_doubled(cols, x_shape, HH, WW, stride=1, pad=0):
    """The test's col2im: twice the course's. A backward pass whose dx is what col2im returns
    gives twice the gradient; one that computes dx otherwise (loops, conv_backward_naive) does not."""
    return 2 * cnnkit.conv.col2im(cols, x_shape, HH, WW, stride, pad)


def check_backward_data_flow(x, w, b, param, dout, dx_ref, dw_ref, what):
    """conv_backward_im2col on a cache whose X_col holds the columns of 2 * x, with col2im_doubled:
    dw must be the one of 2 * x (computed from the cache's X_col) and dx twice the gradient (what
    col2im returned), and neither naive function may be called."""
    HH, WW = w.shape[2:]
    cache = (x, w, b, param, cnnkit.conv.im2col(2 * x, HH, WW, param["stride"], param["pad"]))
    with no_calls_to(conv_forward_naive, conv_backward_naive, name="conv_backward_im2col",
                     hint="use the three matrix products and col2im instead"), \
            using(conv_output_size=course_conv_output_size, col2im=col2im_doubled):
        dx, dw, _ = conv_backward_im2col(dout, cache)
    check_close(f"conv_backward_im2col dw{what}, from a cache whose X_col holds the columns of 2 * x", dw, 2 * dw_ref,
                tol=1e-8, hint="dW_row = dS @ X_col.T with the X_col of the cache (not one made again from x)")
    check_close(f"conv_backward_im2col dx{what}, with a col2im that doubles what it adds up", dx, 2 * dx_ref,
                tol=1e-8, hint="return the dx that col2im(dX_col, ...) gives, with dX_col = W_row.T @ dS")


x = rng.standard_normal((2, 3, 7, 7))
w = rng.standard_normal((3, 3, 3, 3))
b = rng.standard_normal(3)
param = {"stride": 2, "pad": 1}
# The cache (x, w, b, conv_param, X_col) is made here with the course's im2col, col2im is the
# course's, and the expected gradients come from PyTorch: only this part's code is graded.
cache = (x, w, b, param, cnnkit.conv.im2col(x, 3, 3, 2, 1))
dout = rng.standard_normal(torch_conv(x, w, b, 2, 1).shape)
_, dx_ref, dw_ref, db_ref = torch_conv(x, w, b, 2, 1, dout)
with no_calls_to(cnnkit.conv, cnnkit.layers), using(conv_output_size=course_conv_output_size, col2im=cnnkit.conv.col2im):
    dx, dw, db = conv_backward_im2col(dout, cache)
check_close("conv_backward_im2col db", db, db_ref, tol=1e-8,
            hint="db = dS summed over its columns, where dS is dout with F first: dout.transpose(1, 0, 2, 3).reshape(F, -1)")
check_close("conv_backward_im2col dw", dw, dw_ref, tol=1e-8,
            hint="dW_row = dS @ X_col.T, reshaped like w; dS is dout with F first, as (F, N*H_out*W_out)")
check_close("conv_backward_im2col dx", dx, dx_ref, tol=1e-8, hint="dX_col = W_row.T @ dS, then col2im")
check_backward_data_flow(x, w, b, param, dout, dx_ref, dw_ref, "")

# %% nb="tests conv_backward_im2col__hidden 4"
# hidden tests: other shapes against autograd, and numerical gradients with stride 3
### BEGIN HIDDEN TESTS
for (N, C, H, W), (Fn, HH, WW), S, P in [((2, 2, 7, 9), (3, 3, 5), 2, 1), ((3, 3, 10, 7), (2, 4, 1), 3, 0),
                                         ((2, 1, 5, 6), (2, 3, 2), 1, 3), ((4, 3, 15, 15), (5, 3, 3), 3, 3)]:
    x = rng.standard_normal((N, C, H, W))
    w = rng.standard_normal((Fn, C, HH, WW))
    b = rng.standard_normal(Fn)
    param = {"stride": S, "pad": P}
    cache = (x, w, b, param, cnnkit.conv.im2col(x, HH, WW, S, P))
    dout = rng.standard_normal(torch_conv(x, w, b, S, P).shape)
    _, dx_ref, dw_ref, db_ref = torch_conv(x, w, b, S, P, dout)
    with no_calls_to(cnnkit.conv, cnnkit.layers), using(conv_output_size=course_conv_output_size, col2im=cnnkit.conv.col2im):
        dx, dw, db = conv_backward_im2col(dout, cache)
    what = f"x {x.shape}, w {w.shape}, stride {S}, pad {P}"
    check_close(f"conv_backward_im2col dx for {what}", dx, dx_ref, tol=1e-8)
    check_close(f"conv_backward_im2col dw for {what}", dw, dw_ref, tol=1e-8)
    check_close(f"conv_backward_im2col db for {what}", db, db_ref, tol=1e-8)
check_backward_data_flow(x, w, b, param, dout, dx_ref, dw_ref, f" for {what}")
x = rng.standard_normal((2, 2, 7, 4))
w = rng.standard_normal((2, 2, 4, 1))
b = rng.standard_normal(2)
param = {"stride": 3, "pad": 0}
cache = (x, w, b, param, cnnkit.conv.im2col(x, 4, 1, 3, 0))
dout = rng.standard_normal(torch_conv(x, w, b, 3, 0).shape)
with using(conv_output_size=course_conv_output_size, col2im=cnnkit.conv.col2im):
    dx, dw, db = conv_backward_im2col(dout, cache)
check_close("conv_backward_im2col dx (numerical, stride 3)", dx,
            numerical_gradient_array(lambda z: torch_conv(z, w, b, 3, 0), x, dout), tol=1e-7)
check_close("conv_backward_im2col dw (numerical, stride 3)", dw,
            numerical_gradient_array(lambda z: torch_conv(x, z, b, 3, 0), w, dout), tol=1e-7)
### END HIDDEN TESTS

# %% [markdown]
# ## Part 9: max pooling, forward (4 points)
#
# `max_pool_forward(x, pool_param)` with `pool_param = {"pool_height": PH, "pool_width": PW,
# "stride": S}` returns `(out, cache)`, `out[n, c, h, w]` being the largest value of the window
# `x[n, c, h*S : h*S + PH, w*S : w*S + PW]` (no padding). It keeps the depth and has no
# parameters. Raise a `ValueError` if a window is larger than the input (part 1 does it for you).
# Loops over the output positions are allowed here; vectorised is better. The cache is
# `(x, pool_param)`: the backward pass finds each window's maximum again (its tests make this
# cache themselves, so a mistake in the forward pass is not charged twice).

# %% nb="solution max_pool_forward"
def max_pool_forward(x, pool_param):
    ### BEGIN SOLUTION
    PH, PW, S = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, H, W = x.shape
    Ho, Wo = conv_output_size(H, PH, S, 0), conv_output_size(W, PW, S, 0)
    win = np.lib.stride_tricks.sliding_window_view(x, (PH, PW), axis=(2, 3))[:, :, ::S, ::S][:, :, :Ho, :Wo]
    out = win.max(axis=(-2, -1))
    return out, (x, pool_param)
    ### END SOLUTION


# %% nb="tests max_pool_forward__tests 2"
x = np.array([[1, 1, 2, 4], [5, 6, 7, 8], [3, 2, 1, 0], [1, 2, 3, 4]], dtype=float)[None, None]
with no_calls_to(cnnkit.conv, cnnkit.layers), using(conv_output_size=course_conv_output_size):
    out, _ = max_pool_forward(x, {"pool_height": 2, "pool_width": 2, "stride": 2})
check_close("max_pool_forward of the lecture's 4x4 example", out, [[[[6, 8], [3, 4]]]],
            hint="out[n, c, h, w] is the largest value of x[n, c, h*S:h*S + PH, w*S:w*S + PW]: "
                 "windows start every S pixels")
x = rng.standard_normal((2, 3, 6, 6))
with no_calls_to(cnnkit.conv, cnnkit.layers), using(conv_output_size=course_conv_output_size):
    out, _ = max_pool_forward(x, {"pool_height": 3, "pool_width": 3, "stride": 3})
check_close("max_pool_forward 3x3 stride 3", out, F.max_pool2d(torch.tensor(x), 3, 3).numpy(), tol=1e-12,
            hint="windows start every S pixels")
x = rng.standard_normal((1, 2, 5, 7))
with no_calls_to(cnnkit.conv, cnnkit.layers), using(conv_output_size=course_conv_output_size):
    out, _ = max_pool_forward(x, {"pool_height": 2, "pool_width": 3, "stride": 1})
check_close("max_pool_forward of x (1, 2, 5, 7) with 2x3 windows", out,
            F.max_pool2d(torch.tensor(x), (2, 3), 1).numpy(), tol=1e-12,
            hint="pool_height counts rows (axis 2) and pool_width columns (axis 3)")
with using(conv_output_size=course_conv_output_size):
    _ = check_raises("max_pool_forward of a 6x6 input with 7x7 windows", max_pool_forward,
                     (x, {"pool_height": 7, "pool_width": 7, "stride": 1}))

# %% nb="tests max_pool_forward__hidden 2"
# hidden tests: overlapping and non-square windows, odd sizes
### BEGIN HIDDEN TESTS
for shape, (PH, PW), S in [((2, 3, 9, 7), (3, 3), 2), ((1, 2, 7, 10), (1, 4), 3), ((2, 2, 5, 5), (2, 3), 1)]:
    x = rng.standard_normal(shape)
    with no_calls_to(cnnkit.conv, cnnkit.layers), using(conv_output_size=course_conv_output_size):
        out, _ = max_pool_forward(x, {"pool_height": PH, "pool_width": PW, "stride": S})
    check_close(f"max_pool_forward of x {shape}, {PH}x{PW} windows, stride {S}", out,
                F.max_pool2d(torch.tensor(x), (PH, PW), S).numpy(), tol=1e-12)
### END HIDDEN TESTS

# %% [markdown]
# ## Part 10: max pooling, backward (8 points)
#
# The maximum is the only input of a window that changes the output, so the gradient of each
# output goes entirely to the position of its window's maximum, and the other inputs get 0.
# When several inputs of a window tie for the maximum (after a ReLU many windows hold only
# zeros) the gradient goes to **one** of them, the first in the window's row-major order, as
# `np.argmax` and PyTorch pick it: sending it to all of them would multiply the gradient.
# When windows overlap (stride smaller than the window) an input can be the maximum of several
# windows: its gradients add up. Write `max_pool_backward(dout, cache)` returning `dx`, with
# `cache = (x, pool_param)` as part 9 returns it.

# %% nb="solution max_pool_backward"
def max_pool_backward(dout, cache):
    ### BEGIN SOLUTION
    x, pool_param = cache
    PH, PW, S = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, Ho, Wo = dout.shape
    win = np.lib.stride_tricks.sliding_window_view(x, (PH, PW), axis=(2, 3))[:, :, ::S, ::S][:, :, :Ho, :Wo]
    arg = win.reshape(N, C, Ho, Wo, PH * PW).argmax(axis=-1)
    dx = np.zeros(x.shape, dtype=np.result_type(x, dout))
    n, c, h, v = np.indices((N, C, Ho, Wo))
    i, j = np.divmod(arg, PW)
    np.add.at(dx, (n, c, h * S + i, v * S + j), dout)
    return dx
    ### END SOLUTION


# %% nb="tests max_pool_backward__tests 4"
def torch_pool_grad(x, PH, PW, S, dout):
    """PyTorch's max-pool gradient (float64): each window's dout to its first maximum."""
    xt = torch.tensor(np.asarray(x, dtype=np.float64), requires_grad=True)
    F.max_pool2d(xt, (PH, PW), S).backward(torch.tensor(np.asarray(dout, dtype=np.float64)))
    return xt.grad.numpy()


# The cache is (x, pool_param), made here: a mistake in part 9 is not charged again.
x = rng.standard_normal((2, 2, 6, 6))
param = {"pool_height": 2, "pool_width": 2, "stride": 2}
dout = rng.standard_normal((2, 2, 3, 3))
with no_calls_to(cnnkit.conv, cnnkit.layers):
    dx = max_pool_backward(dout, (x, param))
check_close("max_pool_backward dx", dx, torch_pool_grad(x, 2, 2, 2, dout),
            tol=1e-8, hint="send each dout to the argmax of its window; every other input gets 0")
# Ties: after a ReLU most windows hold several zeros, and integer images tie too.
x = np.maximum(0, rng.integers(-3, 3, size=(2, 3, 6, 6))).astype(float)
dout = rng.standard_normal((2, 3, 3, 3))
with no_calls_to(cnnkit.conv, cnnkit.layers):
    dx = max_pool_backward(dout, (x, param))
routed = np.asarray(dx).reshape(2, 3, 3, 2, 3, 2).sum(axis=(3, 5))
if not np.allclose(routed, dout, rtol=1e-10, atol=1e-12):
    ties = (x.reshape(2, 3, 3, 2, 3, 2) == x.reshape(2, 3, 3, 2, 3, 2).max(axis=(3, 5), keepdims=True)).sum(axis=(3, 5))
    said = (" Your gradient matches dout times the number of tied maxima: it went to every input that ties"
            if np.allclose(routed, dout * ties, rtol=1e-10, atol=1e-12) else "")
    raise AssertionError("max_pool_backward with tied maxima (a ReLU output): each window must pass on exactly its "
                         f"dout, in total.{said}\nHint: send each window's gradient to one maximum, the first "
                         "(np.argmax), not to every input equal to the maximum")
check_close("max_pool_backward dx with tied maxima", dx, torch_pool_grad(x, 2, 2, 2, dout), tol=1e-8,
            hint="when inputs tie, the first maximum in the window's row-major order (np.argmax) gets the gradient")
# Overlapping, non-square windows: the gradients of an input that is the maximum of several windows add up.
x = rng.standard_normal((1, 2, 7, 8))
param = {"pool_height": 3, "pool_width": 2, "stride": 1}
dout = rng.standard_normal((1, 2, 5, 7))
hint = ("window offset (i, j) = divmod(k, PW) for the k-th of PH*PW entries; where windows "
        "overlap, add the gradients up (+= or np.add.at), do not overwrite them")
try:
    with no_calls_to(cnnkit.conv, cnnkit.layers):
        dx = max_pool_backward(dout, (x, param))
except IndexError as exc:
    raise AssertionError(f"max_pool_backward with 3x2 windows at stride 1: IndexError '{exc}', an index past "
                         f"the input\nHint: {hint}") from None
check_close("max_pool_backward dx, overlapping 3x2 windows at stride 1", dx, torch_pool_grad(x, 3, 2, 1, dout),
            tol=1e-8, hint=hint)

# %% nb="tests max_pool_backward__hidden 4"
# hidden tests: overlapping windows (gradients add up), non-square windows, against autograd
### BEGIN HIDDEN TESTS
for shape, (PH, PW), S in [((2, 3, 9, 7), (3, 3), 2), ((1, 2, 7, 10), (1, 4), 3), ((2, 2, 5, 5), (2, 3), 1)]:
    for ties in (False, True):
        x = rng.standard_normal(shape)
        if ties:
            x = np.maximum(0, np.round(x))
        param = {"pool_height": PH, "pool_width": PW, "stride": S}
        dout = rng.standard_normal(F.max_pool2d(torch.tensor(x), (PH, PW), S).shape)
        with no_calls_to(cnnkit.conv, cnnkit.layers):
            dx = max_pool_backward(dout, (x, param))
        check_close(f"max_pool_backward for x {shape}, {PH}x{PW} windows, stride {S}{', ties' if ties else ''}",
                    dx, torch_pool_grad(x, PH, PW, S, dout), tol=1e-12)
### END HIDDEN TESTS

# %% [markdown]
# ## Part 11: receptive field (4 points)
#
# The **receptive field** of a stack of layers is the side of the square region of the input that
# one value of the last layer depends on. A layer with kernel $k_l$ and stride $s_l$ widens it by
# $(k_l - 1)$ steps of the layer's input grid, and one step of that grid is
# $s_1 s_2 \cdots s_{l-1}$ input pixels:
#
# $$r = 1 + \sum_{l=1}^{L} (k_l - 1) \prod_{m=1}^{l-1} s_m .$$
#
# Two 5x5 convolutions at stride 1 see 9x9; three 3x3 see 7x7. Pooling layers count like
# convolutions. Write `receptive_field(layers)` where `layers` is a list of `(kernel, stride)`
# pairs, first layer first; the empty stack sees 1 pixel.

# %% nb="solution receptive_field"
def receptive_field(layers):
    ### BEGIN SOLUTION
    r, jump = 1, 1
    for k, s in layers:
        r += (k - 1) * jump
        jump *= s
    return r
    ### END SOLUTION


# %% nb="tests receptive_field__tests 2"
import cnnkit.inspect

with no_calls_to(cnnkit.inspect):  # the library's receptive_field is not yours
    check_close("receptive_field of two 5x5 layers", receptive_field([(5, 1), (5, 1)]), 9,
                hint="at stride 1 each layer adds k - 1 to the receptive field (a 1x1 layer adds nothing)")
check_close("receptive_field of three 3x3 layers", receptive_field([(3, 1)] * 3), 7)
check_close("receptive_field of one (11, 4) layer", receptive_field([(11, 4)]), 11,
            hint="one layer sees its kernel")
check_close("receptive_field of (2, 2) then (2, 2)", receptive_field([(2, 2), (2, 2)]), 4,
            hint="the second window steps over the first layer's output grid, whose step is 2 input pixels")

# %% nb="tests receptive_field__hidden 2"
# hidden tests: longer stacks with strides, checked against the formula and an experiment
### BEGIN HIDDEN TESTS
with no_calls_to(cnnkit.inspect):
    check_close("receptive_field of no layers", receptive_field([]), 1)
for stack in [[(11, 4), (3, 2), (5, 1), (3, 2), (3, 1), (3, 1), (3, 1)], [(7, 2), (3, 2), (3, 1), (3, 2)],
              [(1, 1), (2, 2), (2, 2)]]:
    want, jump = 1, 1
    for k, s in stack:
        want, jump = want + (k - 1) * jump, jump * s
    check_close(f"receptive_field({stack})", receptive_field(stack), want)
# experiment: which input pixels change the first output of a stack of random 1-D convolutions
stack = [(3, 2), (4, 1), (2, 3)]
z = torch.zeros(1, 1, 64, requires_grad=True)
h = z
for k, s in stack:
    h = F.conv1d(h, torch.rand(1, 1, k, dtype=h.dtype) + 0.1, stride=s)
h[0, 0, 0].backward()
check_close(f"receptive_field({stack}) measured by autograd", receptive_field(stack), int((z.grad != 0).sum()))
### END HIDDEN TESTS

# %% [markdown]
# ## Part 12: batch normalisation, forward (6 points)
#
# Lecture 05 (section 9) derives batch normalisation. For a batch `x` of shape `(N, D)`, in
# **training** mode each feature (column) is normalised with the batch's own mean and *biased*
# variance (divided by $N$), then scaled and shifted by the learned `gamma` and `beta` (both
# `(D,)`):
#
# $$\mu = \frac{1}{N}\sum_i x_i, \quad \sigma^2 = \frac{1}{N}\sum_i (x_i - \mu)^2, \quad
# \hat{x}_i = \frac{x_i - \mu}{\sqrt{\sigma^2 + \epsilon}}, \quad \text{out}_i = \gamma \hat{x}_i + \beta .$$
#
# The layer also keeps **running averages** of the statistics for evaluation, as PyTorch does:
# $\text{running} \leftarrow (1 - m)\,\text{running} + m \cdot \text{batch statistic}$ with the
# momentum $m$, where the running variance averages the *unbiased* batch variance
# $\frac{N}{N-1}\sigma^2$. In **evaluation** mode the running statistics replace $\mu$ and
# $\sigma^2$ (each example is normalised on its own) and nothing is updated.
#
# Write `batchnorm_forward(x, gamma, beta, bn_param)`. `bn_param` is a dict with `"mode"`
# (`"train"` or `"eval"`), `"eps"` (default `1e-5`), `"momentum"` (default `0.1`) and the
# running statistics `"running_mean"` and `"running_var"`, of shape `(D,)`: create them as zeros
# and ones when they are missing, and in training mode store the updated arrays back in
# `bn_param` under the same keys. Return `(out, cache)`; in training mode the cache is
# `(xhat, gamma, inv_std)` with `inv_std` $= 1/\sqrt{\sigma^2 + \epsilon}$ of shape `(D,)`
# (part 13 receives it), and in evaluation mode it is `None`.

# %% nb="solution batchnorm_forward"
def batchnorm_forward(x, gamma, beta, bn_param):
    ### BEGIN SOLUTION
    mode = bn_param["mode"]
    eps, momentum = bn_param.get("eps", 1e-5), bn_param.get("momentum", 0.1)
    N, D = x.shape
    running_mean = bn_param.get("running_mean", np.zeros(D))
    running_var = bn_param.get("running_var", np.ones(D))
    if mode == "eval":
        xhat = (x - running_mean) / np.sqrt(running_var + eps)
        return gamma * xhat + beta, None
    mean = x.mean(axis=0)
    var = x.var(axis=0)
    inv_std = 1.0 / np.sqrt(var + eps)
    xhat = (x - mean) * inv_std
    bn_param["running_mean"] = (1 - momentum) * running_mean + momentum * mean
    bn_param["running_var"] = (1 - momentum) * running_var + momentum * var * N / (N - 1)
    return gamma * xhat + beta, (xhat, gamma, inv_std)
    ### END SOLUTION


# %% nb="tests batchnorm_forward__tests 3"
def torch_batchnorm(x, gamma, beta, running, training, momentum=0.1, eps=1e-5):
    """PyTorch's batch norm (float64): its output, and the running (mean, var) after the call."""
    rm, rv = (torch.tensor(np.asarray(a, dtype=np.float64)) for a in running)
    out = F.batch_norm(torch.tensor(x), rm, rv, torch.tensor(gamma), torch.tensor(beta),
                       training=training, momentum=momentum, eps=eps)
    return out.numpy(), (rm.numpy(), rv.numpy())


FORMULA = "xhat = (x - mean) / sqrt(var + eps) per column, with the biased variance (divided by N); out = gamma * xhat + beta"
RUNNING = ("running <- (1 - momentum) * running + momentum * batch statistic, and the running variance takes "
           "the unbiased batch variance (var * N / (N - 1)), as PyTorch does")


def check_batchnorm_forward(x, gamma, beta, steps, momentum=None, eps=None, x_eval=None):
    """`steps` training calls on x, x + 1, ... then, with x_eval, one call in evaluation mode; each
    output and the running statistics are compared with PyTorch's."""
    N, D = x.shape
    param = {"mode": "train"}
    param.update({k: v for k, v in (("momentum", momentum), ("eps", eps)) if v is not None})
    bn_param = in_place(param)
    running = (np.zeros(D), np.ones(D))
    opts = {"momentum": 0.1 if momentum is None else momentum, "eps": 1e-5 if eps is None else eps}
    for step in range(steps):
        xs = x + step
        with no_calls_to(cnnkit.layers):
            out, cache = batchnorm_forward(xs, gamma, beta, bn_param)
        want, running = torch_batchnorm(xs, gamma, beta, running, True, **opts)
        what = f"batchnorm_forward in training mode, x {x.shape}, call {step + 1}"
        check_close(f"{what}: out", out, want, tol=1e-10, hint=FORMULA)
        for key, value in zip(("running_mean", "running_var"), running):
            if key not in bn_param:
                raise AssertionError(f"{what}: bn_param has no {key!r} after the call\nHint: store the updated "
                                     f"running statistics in bn_param[{key!r}]")
            check_close(f"{what}: bn_param[{key!r}]", bn_param[key], value, tol=1e-10, hint=RUNNING)
    if x_eval is not None:
        bn_param["mode"] = "eval"
        with no_calls_to(cnnkit.layers):
            out, cache = batchnorm_forward(x_eval, gamma, beta, bn_param)
        want, _ = torch_batchnorm(x_eval, gamma, beta, running, False, **opts)
        what = f"batchnorm_forward in evaluation mode, x {x_eval.shape}"
        check_close(f"{what}: out", out, want, tol=1e-10,
                    hint="in evaluation mode normalise with bn_param's running_mean and running_var, not the batch's")
        for key, value in zip(("running_mean", "running_var"), running):
            check_close(f"{what}: bn_param[{key!r}] (unchanged)", bn_param[key], value, tol=1e-12,
                        hint="evaluation mode reads the running statistics and never updates them")
        assert cache is None, f"{what}: the cache should be None, got a {type(cache).__name__}"


x = rng.standard_normal((8, 5)) * 3 + 2
gamma, beta = rng.standard_normal(5), rng.standard_normal(5)
with no_calls_to(cnnkit.layers):
    out, cache = batchnorm_forward(x, np.ones(5), np.zeros(5), {"mode": "train"})
check_close("batchnorm_forward with gamma = 1, beta = 0: column means", np.asarray(out).mean(axis=0), np.zeros(5),
            atol=1e-10, hint=FORMULA)
check_close("batchnorm_forward with gamma = 1, beta = 0: column variances (divided by N)", np.asarray(out).var(axis=0),
            np.full(5, 1.0), tol=1e-4, hint=FORMULA)
assert isinstance(cache, (tuple, list)) and len(cache) == 3, (
    f"batchnorm_forward in training mode: the cache should be (xhat, gamma, inv_std), got "
    f"{type(cache).__name__}{f' of length {len(cache)}' if isinstance(cache, (tuple, list)) else ''}")
check_close("batchnorm_forward cache[2] (inv_std)", cache[2], 1 / np.sqrt(x.var(axis=0) + 1e-5), tol=1e-10,
            hint="inv_std = 1 / sqrt(var + eps), one value per column")
check_batchnorm_forward(x, gamma, beta, steps=2, x_eval=rng.standard_normal((3, 5)))

# %% nb="tests batchnorm_forward__hidden 3"
# hidden tests: other sizes, a larger momentum and eps, several steps, a one-example evaluation batch
### BEGIN HIDDEN TESTS
x = rng.standard_normal((3, 7)) - 1
check_batchnorm_forward(x, rng.standard_normal(7), rng.standard_normal(7), steps=3, momentum=0.3, eps=1e-3,
                        x_eval=rng.standard_normal((1, 7)))
x = rng.standard_normal((50, 2)) * 0.1
check_batchnorm_forward(x, np.array([2.0, -0.5]), np.array([0.3, 1.0]), steps=4, x_eval=rng.standard_normal((6, 2)))
### END HIDDEN TESTS

# %% [markdown]
# ## Part 13: batch normalisation, backward (6 points)
#
# Every example's $\hat{x}_i$ depends on the batch's $\mu$ and $\sigma^2$, so the gradient of each
# $x_i$ has three paths: through its own $\hat{x}_i$, through $\mu$ and through $\sigma^2$. With
# $g_i = \gamma \cdot \text{dout}_i$ (the gradient reaching $\hat{x}_i$) lecture 05 simplifies
# them to
#
# $$dx_i = \frac{1}{N\sqrt{\sigma^2 + \epsilon}}\Big(N g_i - \sum_j g_j - \hat{x}_i \sum_j g_j \hat{x}_j\Big),
# \qquad d\gamma = \sum_i \text{dout}_i\,\hat{x}_i, \qquad d\beta = \sum_i \text{dout}_i .$$
#
# Write `batchnorm_backward(dout, cache)` returning `(dx, dgamma, dbeta)` for a training-mode
# cache `(xhat, gamma, inv_std)` as part 12 describes (its tests make the cache themselves, so a
# mistake in part 12 is not charged again). Derive it yourself or take a staged computational
# graph: both pass.

# %% nb="solution batchnorm_backward"
def batchnorm_backward(dout, cache):
    ### BEGIN SOLUTION
    xhat, gamma, inv_std = cache
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xhat).sum(axis=0)
    g = dout * gamma
    dx = inv_std / N * (N * g - g.sum(axis=0) - xhat * (g * xhat).sum(axis=0))
    return dx, dgamma, dbeta
    ### END SOLUTION


# %% nb="tests batchnorm_backward__tests 3"
def batchnorm_cache(x, gamma, eps=1e-5):
    """The training-mode cache (xhat, gamma, inv_std) of part 12, computed here."""
    inv_std = 1 / np.sqrt(x.var(axis=0) + eps)
    return (x - x.mean(axis=0)) * inv_std, gamma, inv_std


def check_batchnorm_backward(x, gamma, dout, eps=1e-5):
    """The student's gradients against autograd through PyTorch's batch norm (float64)."""
    xt, gt, bt = (torch.tensor(a, requires_grad=True) for a in (x, gamma, np.zeros_like(gamma)))
    F.batch_norm(xt, None, None, gt, bt, training=True, eps=eps).backward(torch.tensor(dout))
    with no_calls_to(cnnkit.layers):
        dx, dgamma, dbeta = batchnorm_backward(dout, batchnorm_cache(x, gamma, eps))
    what = f"batchnorm_backward for x {x.shape}"
    check_close(f"{what}: dbeta", dbeta, bt.grad.numpy(), tol=1e-9, hint="dbeta = sum over the batch of dout")
    check_close(f"{what}: dgamma", dgamma, gt.grad.numpy(), tol=1e-9,
                hint="dgamma = sum over the batch of dout * xhat")
    check_close(f"{what}: dx", dx, xt.grad.numpy(), tol=1e-8,
                hint="the batch mean and variance depend on every example: with g = dout * gamma, "
                     "dx = inv_std / N * (N g - sum(g) - xhat * sum(g * xhat)), sums over the batch")


x = rng.standard_normal((6, 4)) * 2 + 1
gamma = rng.standard_normal(4)
dout = rng.standard_normal((6, 4))
with no_calls_to(cnnkit.layers):
    dx, _, _ = batchnorm_backward(dout, batchnorm_cache(x, np.ones(4)))
check_close("batchnorm_backward with gamma = 1: column sums of dx", np.asarray(dx).sum(axis=0), np.zeros(4), atol=1e-10,
            hint="shifting a whole column leaves xhat unchanged, so each column of dx sums to 0: "
                 "subtract the mean path, sum(g) / N")
check_batchnorm_backward(x, gamma, dout)
check_close("batchnorm_backward dx (numerical)", batchnorm_backward(dout, batchnorm_cache(x, gamma))[0],
            numerical_gradient_array(lambda z: batchnorm_cache(z, gamma)[0] * gamma, x, dout), tol=1e-6)

# %% nb="tests batchnorm_backward__hidden 3"
# hidden tests: other sizes and eps, a two-example batch
### BEGIN HIDDEN TESTS
for shape, eps in [((2, 5), 1e-5), ((40, 3), 1e-3), ((7, 1), 0.1)]:
    check_batchnorm_backward(rng.standard_normal(shape) * 4 - 2, rng.standard_normal(shape[1]),
                             rng.standard_normal(shape), eps=eps)
### END HIDDEN TESTS

# %% [markdown]
# ## Part 14: dropout, forward (4 points)
#
# AlexNet and VGG train their large fully connected layers with **dropout**: in training, each
# unit is set to zero with probability $p$, independently for every example and every step, so
# that no unit can rely on particular others being present. At evaluation every unit is kept.
# To keep each unit's expected output the same in both modes, **inverted dropout** scales the
# kept units up during training:
#
# $$m_i = \frac{\mathbb{1}[u_i \ge p]}{1 - p}, \quad u_i \sim \mathcal{U}[0, 1), \qquad
# \text{out} = x \odot m, \qquad \mathbb{E}[\text{out}_i] = (1 - p)\,\frac{x_i}{1 - p} = x_i ,$$
#
# so that evaluation is the identity and needs no rescaling (the 2012 AlexNet paper instead
# multiplied the outputs by $1 - p$ at test time; PyTorch's `nn.Dropout` is inverted).
#
# Write `dropout_forward(x, dropout_param)` for `x` of any shape. `dropout_param` is a dict with
# `"p"`, the probability of **dropping** a unit (PyTorch's meaning; CS231n's notebooks use $p$
# for the probability of keeping it), `"mode"` (`"train"` or `"eval"`) and an optional `"seed"`.
# When a seed is given, draw the uniform numbers from `np.random.default_rng(seed)`, so that
# the same seed gives the same mask (a gradient check needs that); without one, from numpy's
# global generator (`np.random.random`), so that every call draws a new mask. Return
# `(out, cache)` with `cache = (dropout_param, mask)`, `mask` the scaled array $m$ of the shape of
# `x`; in evaluation mode `out` is `x` and the cache is `(dropout_param, None)`.

# %% nb="solution dropout_forward"
def dropout_forward(x, dropout_param):
    ### BEGIN SOLUTION
    p, mode = dropout_param["p"], dropout_param["mode"]
    if mode == "eval":
        return x, (dropout_param, None)
    seed = dropout_param.get("seed")
    rng = np.random.default_rng(seed) if seed is not None else np.random
    mask = (rng.random(x.shape) >= p) / (1 - p)
    return x * mask, (dropout_param, mask)
    ### END SOLUTION


# %% nb="tests dropout_forward__tests 2"
INVERTED = ("inverted dropout keeps a unit with probability 1 - p and scales it by 1 / (1 - p) in training, "
            "so that evaluation needs no rescaling: out = x * mask, mask = (u >= p) / (1 - p)")


def away_from_zero(shape, seed):
    """Entries of size 0.5 to 2, of either sign: a zero in the output is a dropped unit."""
    g = np.random.default_rng(seed)
    return g.choice([-1.0, 1.0], shape) * g.uniform(0.5, 2.0, shape)


def check_dropout_forward(x, p, seed):
    """One training call with a seed: every unit dropped or scaled by 1 / (1 - p), about a share
    p of them dropped (within 5 standard deviations of the binomial count), the cache's mask the
    one that was applied, and the same seed giving the same units."""
    param = {"p": p, "mode": "train", "seed": seed}
    with no_calls_to(cnnkit.layers):
        out, cache = dropout_forward(x, param)
        again, _ = dropout_forward(x, {"p": p, "mode": "train", "seed": seed})
    what = f"dropout_forward in training mode, x {x.shape}, p = {p}"
    out = np.asarray(out)
    check_shape(f"{what}: out", out, x.shape, hint="out has the shape of x")
    kept = out != 0
    n, dropped = x.size, int((~kept).sum())
    if abs(dropped - n * p) > 5 * np.sqrt(n * p * (1 - p)):
        swapped = abs(dropped - n * (1 - p)) <= 5 * np.sqrt(n * p * (1 - p))
        raise AssertionError(f"{what}: {dropped} of {n} units dropped, expected about p * {n} = {n * p:.0f}"
                             + (". That is about (1 - p) * n: p was taken as the probability of keeping a unit"
                                if swapped else "")
                             + "\nHint: p is the probability of dropping a unit (as in PyTorch's nn.Dropout), "
                               "not of keeping it: keep where u >= p")
    if kept.any() and np.allclose(out[kept], x[kept], rtol=1e-12, atol=0):
        raise AssertionError(f"{what}: the kept units equal x, unscaled\nHint: {INVERTED}")
    check_close(f"{what}: the units that were kept", out[kept], x[kept] / (1 - p), tol=1e-12, hint=INVERTED)
    if not (isinstance(cache, (tuple, list)) and len(cache) == 2):
        raise AssertionError(f"{what}: expected the cache (dropout_param, mask), got {type(cache).__name__}"
                             "\nHint: return out, (dropout_param, mask)")
    check_close(f"{what}: x * cache[1] (the mask)", x * np.asarray(cache[1]), out, tol=1e-12,
                hint="the cache holds the scaled mask m that was applied: out = x * m")
    if not np.array_equal(np.asarray(again), out):
        raise AssertionError(f"{what}: two calls with the same seed {seed} dropped different units\nHint: use "
                             "dropout_param['seed']: draw the uniform numbers from np.random.default_rng(seed)")


x = away_from_zero((50, 40), 0)
check_dropout_forward(x, 0.4, seed=3)
with no_calls_to(cnnkit.layers):
    three, _ = dropout_forward(x, {"p": 0.4, "mode": "train", "seed": 3})
    four, _ = dropout_forward(x, {"p": 0.4, "mode": "train", "seed": 4})
    first, _ = dropout_forward(x, {"p": 0.4, "mode": "train"})
    second, _ = dropout_forward(x, {"p": 0.4, "mode": "train"})
    evaluated, cache = dropout_forward(x, {"p": 0.4, "mode": "eval"})
if np.array_equal(np.asarray(three) != 0, np.asarray(four) != 0):
    raise AssertionError("dropout_forward: seeds 3 and 4 dropped the same units\nHint: use dropout_param['seed']")
if np.array_equal(np.asarray(first), np.asarray(second)):
    raise AssertionError("dropout_forward: two calls without a seed dropped the same units\nHint: without a seed, "
                         "draw from numpy's global generator (np.random.random), which moves on at every call")
check_close("dropout_forward in evaluation mode", evaluated, x, tol=1e-15,
            hint="in evaluation mode every unit is kept, unscaled: out = x (" + INVERTED + ")")
if not (isinstance(cache, (tuple, list)) and len(cache) == 2 and cache[1] is None):
    raise AssertionError("dropout_forward in evaluation mode: expected the cache (dropout_param, None)")

# %% nb="tests dropout_forward__hidden 2"
# hidden tests: other shapes and probabilities, p = 0, and the expected output over many seeds
### BEGIN HIDDEN TESTS
check_dropout_forward(away_from_zero((2, 3, 20, 20), 1), 0.8, seed=11)
check_dropout_forward(away_from_zero((4000,), 2), 0.1, seed=12)
x = away_from_zero((30, 7), 3)
with no_calls_to(cnnkit.layers):
    kept_all, _ = dropout_forward(x, {"p": 0.0, "mode": "train", "seed": 5})
    evaluated, _ = dropout_forward(x, {"p": 0.9, "mode": "eval", "seed": 5})
    first, _ = dropout_forward(x, {"p": 0.5, "mode": "train"})
    second, _ = dropout_forward(x, {"p": 0.5, "mode": "train"})
check_close("dropout_forward with p = 0 (hidden)", kept_all, x, tol=1e-15)
if np.array_equal(np.asarray(first), np.asarray(second)):
    raise AssertionError("dropout_forward: two calls without a seed dropped the same units (hidden)")
check_close("dropout_forward in evaluation mode, p = 0.9 (hidden)", evaluated, x, tol=1e-15)
x = away_from_zero((3, 4), 4)
with no_calls_to(cnnkit.layers):
    mean = np.mean([np.asarray(dropout_forward(x, {"p": 0.5, "mode": "train", "seed": s})[0]) for s in range(400)],
                   axis=0)
# each entry: the mean of 400 draws of 0 or 2x, standard deviation |x| / 20 <= 0.1
check_close("dropout_forward averaged over 400 seeds (hidden)", mean, x, atol=0.5)
### END HIDDEN TESTS

# %% [markdown]
# ## Part 15: dropout, backward (2 points)
#
# `out = x * mask` with the mask fixed by the forward pass, so a dropped unit passes no gradient
# and a kept one passes its gradient scaled by $1/(1-p)$, like its output. Write
# `dropout_backward(dout, cache)` returning `dx` for the cache `(dropout_param, mask)` of part 14
# (its tests make the cache themselves, so a mistake in part 14 is not charged again); in
# evaluation mode the mask is `None` and `dx = dout`.

# %% nb="solution dropout_backward"
def dropout_backward(dout, cache):
    ### BEGIN SOLUTION
    dropout_param, mask = cache
    if mask is None:
        return dout
    return dout * mask
    ### END SOLUTION


# %% nb="tests dropout_backward__tests 1"
def dropout_cache(shape, p, seed, mode="train"):
    """The cache (dropout_param, mask) of part 14, made here with its own uniform numbers."""
    param = {"p": p, "mode": mode, "seed": seed}
    if mode == "eval":
        return param, None
    return param, (np.random.default_rng(seed).random(shape) >= p) / (1 - p)


def check_dropout_backward(shape, p, seed, mode="train"):
    """The student's dx against autograd through x * mask (PyTorch, float64)."""
    cache = dropout_cache(shape, p, seed, mode)
    dout = rng.standard_normal(shape)
    xt = torch.tensor(away_from_zero(shape, seed), requires_grad=True)
    (xt if cache[1] is None else xt * torch.tensor(cache[1])).backward(torch.tensor(dout))
    what = f"dropout_backward in {'training' if mode == 'train' else 'evaluation'} mode, shape {shape}, p = {p}"
    try:
        with no_calls_to(cnnkit.layers):
            dx = dropout_backward(dout, cache)
    except TypeError as exc:
        raise AssertionError(f"{what}: TypeError '{exc}'\nHint: in evaluation mode the cache's mask is None: "
                             "dx = dout") from None
    check_close(f"{what}: dx", dx, xt.grad.numpy(), tol=1e-12,
                hint="dx = dout * mask: a dropped unit passes no gradient, a kept one its gradient scaled by "
                     "1 / (1 - p), like its output; in evaluation mode (mask None) dx = dout")


check_dropout_backward((6, 5), 0.5, seed=1)
check_dropout_backward((6, 5), 0.5, seed=1, mode="eval")

# %% nb="tests dropout_backward__hidden 1"
# hidden tests: other shapes and probabilities
### BEGIN HIDDEN TESTS
check_dropout_backward((2, 3, 4, 5), 0.2, seed=2)
check_dropout_backward((40,), 0.9, seed=3)
check_dropout_backward((3, 8), 0.3, seed=4, mode="eval")
### END HIDDEN TESTS

# %% [markdown]
# ## Part 16: written answers (12 points, graded by hand)
#
# **Question 1 (6 points).** A stack of three 3x3 convolutions (stride 1, $C$ channels in and out,
# no biases) has the same receptive field as one 7x7 convolution. Give the number of weights of
# each in terms of $C$, and two reasons to prefer the stack.

# %% [markdown] nb="written written_stack 6"
# *Answer.* Three 3x3 layers have $3 \cdot (3 \cdot 3 \cdot C \cdot C) = 27C^2$ weights; one
# 7x7 layer has $7 \cdot 7 \cdot C \cdot C = 49C^2$, almost twice as many. The stack also puts a
# nonlinearity after each layer (three ReLUs instead of one), so with fewer parameters it can
# represent more complicated functions of the same 7x7 patch; and it costs proportionally fewer
# multiply-adds per output position ($27C^2$ vs $49C^2$).

# %% [markdown]
# **Question 2 (6 points).** For AlexNet's first layer (227x227x3 input, 96 filters 11x11x3,
# stride 4, no padding) and a batch of 128 float32 images, how many bytes does `X_col` take, and
# how many does the input take? Explain where the factor between them comes from, and how it
# depends on the filter size $F$ and the stride $S$.

# %% [markdown] nb="written written_memory 6"
# *Answer.* `X_col` is $363 \times (3025 \cdot 128)$ floats, $363 \cdot 3025 \cdot 128 \cdot 4
# \approx 562$ MB; the input is $227 \cdot 227 \cdot 3 \cdot 128 \cdot 4 \approx 79$ MB, about
# 7.1 times less. Each input pixel is copied into every window that covers it: about
# $(F/S)^2 = (11/4)^2 \approx 7.6$ windows away from the borders, since windows start every $S$
# pixels in each direction and are $F$ wide. Small strides and large filters make im2col
# expensive in memory: a 3x3 filter at stride 1 copies each pixel 9 times.

# %% [markdown]
# ## Done
#
# Run every cell from the top (Kernel > Restart and run all) before you submit, and check that
# no test cell prints an error.
