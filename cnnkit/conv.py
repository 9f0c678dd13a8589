"""Convolution and pooling layers in numpy, CS231n style: ``*_forward -> (out, cache)``,
``*_backward(dout, cache) -> gradients``.

Shapes: inputs x (N, C, H, W); filters w (F, C, HH, WW); biases b (F,);
conv_param = {"stride": S, "pad": P}; pool_param = {"pool_height": PH, "pool_width": PW, "stride": S}.
Outputs are (N, F, H_out, W_out) with H_out = (H + 2P - HH) // S + 1, floored as in PyTorch (see
``conv_output_size``: where the stride does not divide H + 2P - HH, the last rows are never used).

Two implementations of the convolution:

- ``conv_forward_naive`` / ``conv_backward_naive``: explicit loops, easy to read, slow.
- ``conv_forward`` / ``conv_backward``: im2col. The receptive fields are gathered into the
  columns of one matrix X_col (C*HH*WW, N*H_out*W_out) with stride tricks (no Python loop over
  pixels); the convolution is then one matrix product W_row @ X_col, and the backward pass is
  two products followed by col2im, which adds overlapping patches back into place.

float32 inputs stay float32 (the matrix products then run in single precision); gradient checks
should use float64.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

__all__ = [
    "conv_output_size", "im2col", "col2im",
    "conv_forward", "conv_backward", "conv_forward_naive", "conv_backward_naive",
    "max_pool_forward", "max_pool_backward", "avg_pool_forward", "avg_pool_backward",
]


# --------------------------------------------------------------------------------------------
# sizes and argument checks
# --------------------------------------------------------------------------------------------
def _check_int(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def conv_output_size(n: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1,
                     ceil_mode: bool = False, exact: bool = False) -> int:
    """Output side of a convolution or pooling window, as PyTorch computes it:
    floor((n + 2*padding - dilation*(kernel - 1) - 1) / stride) + 1.

    All arguments are integers and the arithmetic is integer arithmetic (no 2.33 ever appears).
    When the stride does not divide n + 2*padding - kernel, the last positions of the input are
    never covered by a window ("the filter does not fit exactly"): the floor drops them, as every
    framework does. ``exact=True`` refuses that case instead, with a ValueError that says which
    strides and paddings would fit. ``ceil_mode=True`` rounds up as ``nn.MaxPool2d(ceil_mode=True)``
    does (a last, partial window, which must start inside the input or its left padding).
    A window larger than the padded input is always a ValueError.

    >>> conv_output_size(7, 3, 2)
    3
    >>> conv_output_size(7, 3, 3)          # the filter does not fit exactly: one column is lost
    2
    >>> conv_output_size(224, 7, 2, 3)     # ResNet's conv1
    112
    """
    n = _check_int("n (input size)", n, 1)
    kernel = _check_int("kernel (filter size)", kernel, 1)
    stride = _check_int("stride", stride, 1)
    padding = _check_int("padding", padding, 0)
    dilation = _check_int("dilation", dilation, 1)
    span = n + 2 * padding - dilation * (kernel - 1) - 1     # last start position, 0-based
    reach = dilation * (kernel - 1) + 1                      # the window's extent
    if span < 0:
        need = -(-(reach - n) // 2)  # ceil((reach - n) / 2)
        raise ValueError(
            f"a window of size {reach} does not fit an input of size {n} with padding {padding}: the "
            f"padded input has size {n + 2 * padding} < {reach}; padding >= {need} or a window of size "
            f"<= {n + 2 * padding} would fit"
        )
    if exact and span % stride:
        strides = [s for s in range(1, span + 1) if span % s == 0] or [1]
        shown = ", ".join(map(str, strides[:8])) + (", ..." if len(strides) > 8 else "")
        pads = [p for p in range(padding + 1, padding + stride + 1) if (span + 2 * (p - padding)) % stride == 0]
        pad_hint = f"; with stride {stride}, padding {pads[0]} would fit" if pads else ""
        raise ValueError(
            f"a window of size {reach} with stride {stride} does not fit exactly an input of size {n} "
            f"with padding {padding}: (n + 2*padding - kernel) / stride + 1 = ({n} + {2 * padding} - "
            f"{reach}) / {stride} + 1 = {span / stride + 1:.2f} is not an integer, so the last "
            f"{span % stride} row(s) would never be covered; stride {shown} would fit{pad_hint}"
        )
    out = (span + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= n + padding:  # PyTorch: the last window starts inside
        out -= 1
    return out


def _conv_sizes(x_shape, HH, WW, stride, pad, what="conv"):
    if len(x_shape) != 4:
        raise ValueError(f"{what}: x must have 4 dimensions (N, C, H, W), got shape {tuple(x_shape)}")
    N, C, H, W = x_shape
    try:
        Ho = conv_output_size(H, HH, stride, pad)
        Wo = conv_output_size(W, WW, stride, pad)
    except ValueError as exc:
        raise ValueError(f"{what}: input {H}x{W}, window {HH}x{WW}, stride {stride}, pad {pad}: {exc}") from None
    return N, C, H, W, Ho, Wo


def _conv_args(x, w, b, conv_param, what):
    x = np.asarray(x)
    w = np.asarray(w)
    if w.ndim != 4:
        raise ValueError(f"{what}: w must have 4 dimensions (F, C, HH, WW), got shape {w.shape}")
    if x.ndim != 4:
        raise ValueError(f"{what}: x must have 4 dimensions (N, C, H, W), got shape {x.shape}")
    if x.shape[1] != w.shape[1]:
        raise ValueError(
            f"{what}: x has {x.shape[1]} channels (shape {x.shape}) but w expects {w.shape[1]} "
            f"(shape {w.shape}); w must be (F, {x.shape[1]}, HH, WW)"
        )
    b = np.asarray(b)
    if b.shape != (w.shape[0],):
        raise ValueError(f"{what}: b has shape {b.shape}, expected ({w.shape[0]},), one bias per filter")
    if not isinstance(conv_param, dict) or "stride" not in conv_param or "pad" not in conv_param:
        raise ValueError(f"{what}: conv_param must be a dict with 'stride' and 'pad', got {conv_param!r}")
    return x, w, b, conv_param["stride"], conv_param["pad"]


def _check_dout(dout, expected, what):
    """dout as an array, or a ValueError unless it has the forward output's shape."""
    dout = np.asarray(dout)
    if dout.shape != tuple(expected):
        raise ValueError(f"{what}: dout has shape {dout.shape}, expected {tuple(expected)}, the shape of the "
                         "forward output")
    return dout


def _pad(x, pad):
    if pad == 0:
        return x
    return np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))


def _windows(xp, HH, WW, stride, Ho, Wo):
    """A view of xp (N, C, Hp, Wp) as (N, C, HH, WW, Ho, Wo): element [n, c, i, j, h, w] is
    xp[n, c, h*stride + i, w*stride + j]. No copy."""
    sN, sC, sH, sW = xp.strides
    N, C = xp.shape[:2]
    return as_strided(xp, shape=(N, C, HH, WW, Ho, Wo),
                      strides=(sN, sC, sH, sW, sH * stride, sW * stride), writeable=False)


# --------------------------------------------------------------------------------------------
# im2col / col2im
# --------------------------------------------------------------------------------------------
def im2col(x, HH, WW, stride=1, pad=0):
    """Gather every receptive field of x into a column.

    x: (N, C, H, W). Returns X_col of shape (C*HH*WW, N*H_out*W_out): row index (c, i, j) in C
    order, matching w.reshape(F, -1); column index (n, h, w) in C order. Column (n, h, w) holds the
    padded input window x_pad[n, :, h*S : h*S + HH, w*S : w*S + WW], flattened.
    For one 227x227x3 image and 11x11 windows at stride 4 this is the 363 x 3025 matrix.
    """
    x = np.asarray(x)
    N, C, H, W, Ho, Wo = _conv_sizes(x.shape, HH, WW, stride, pad, "im2col")
    xp = np.ascontiguousarray(_pad(x, pad))
    win = _windows(xp, HH, WW, stride, Ho, Wo)                       # (N, C, HH, WW, Ho, Wo)
    cols = np.empty((C, HH, WW, N, Ho, Wo), dtype=x.dtype)
    np.copyto(cols, win.transpose(1, 2, 3, 0, 4, 5))
    return cols.reshape(C * HH * WW, N * Ho * Wo)


def col2im(cols, x_shape, HH, WW, stride=1, pad=0):
    """The adjoint of im2col: add every column back into the window it came from.

    cols: (C*HH*WW, N*H_out*W_out), laid out as im2col makes it; x_shape: (N, C, H, W).
    Returns an array of shape x_shape. Where windows overlap (stride < filter size) the
    contributions are summed, which is what the backward pass of a convolution needs; padding
    is cut off at the end. The loop runs over the HH*WW filter offsets, never over pixels.
    """
    N, C, H, W, Ho, Wo = _conv_sizes(tuple(x_shape), HH, WW, stride, pad, "col2im")
    cols = np.asarray(cols)
    if cols.shape != (C * HH * WW, N * Ho * Wo):
        raise ValueError(
            f"col2im: cols has shape {cols.shape}, expected ({C * HH * WW}, {N * Ho * Wo}) = "
            f"(C*HH*WW, N*H_out*W_out) for x_shape {tuple(x_shape)} and a {HH}x{WW} window"
        )
    c6 = cols.reshape(C, HH, WW, N, Ho, Wo)
    Hp, Wp = H + 2 * pad, W + 2 * pad
    xp = np.zeros((C, N, Hp, Wp), dtype=cols.dtype)                  # channel-first matches cols
    hs, ws = stride * (Ho - 1) + 1, stride * (Wo - 1) + 1
    for i in range(HH):
        for j in range(WW):
            xp[:, :, i:i + hs:stride, j:j + ws:stride] += c6[:, i, j]
    xp = xp[:, :, pad:pad + H, pad:pad + W]
    return np.ascontiguousarray(xp.transpose(1, 0, 2, 3))


# --------------------------------------------------------------------------------------------
# fast convolution (im2col)
# --------------------------------------------------------------------------------------------
def conv_forward(x, w, b, conv_param):
    """Convolution (cross-correlation, as in every deep-learning library) via im2col.

    x: (N, C, H, W); w: (F, C, HH, WW); b: (F,); conv_param: {'stride': S, 'pad': P}.
    Returns out (N, F, H_out, W_out) and cache (x_shape, w, b, conv_param, X_col).
    out[n, f] = sum_{c,i,j} w[f, c, i, j] * x_pad[n, c, h*S + i, w*S + j] + b[f].
    """
    x, w, b, stride, pad = _conv_args(x, w, b, conv_param, "conv_forward")
    F, C, HH, WW = w.shape
    N, _, H, W, Ho, Wo = _conv_sizes(x.shape, HH, WW, stride, pad, "conv_forward")
    dtype = np.result_type(x, w, b)
    cols = im2col(x.astype(dtype, copy=False), HH, WW, stride, pad)    # (K, N*P)
    w_row = w.reshape(F, -1).astype(dtype, copy=False)                # (F, K)
    out = w_row @ cols                                                # (F, N*P)
    out += b.astype(dtype, copy=False)[:, None]
    out = np.ascontiguousarray(out.reshape(F, N, Ho, Wo).transpose(1, 0, 2, 3))
    return out, (x.shape, w, b, conv_param, cols)


def conv_backward(dout, cache):
    """Gradients of conv_forward. dout: (N, F, H_out, W_out).

    With dS = dout as an (F, N*H_out*W_out) matrix: dW = dS X_col^T, db = dS 1, dX_col = W_row^T dS,
    and dx = col2im(dX_col). Returns dx (N, C, H, W), dw (F, C, HH, WW), db (F,).
    """
    x_shape, w, b, conv_param, cols = cache
    F, C, HH, WW = w.shape
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, _, _, _, Ho, Wo = _conv_sizes(x_shape, HH, WW, stride, pad, "conv_backward")
    dout = _check_dout(dout, (N, F, Ho, Wo), "conv_backward")
    dtype = np.result_type(cols.dtype, dout)  # as in the naive loops and the pools: the more precise one
    ds = np.ascontiguousarray(dout.astype(dtype, copy=False).transpose(1, 0, 2, 3)).reshape(F, -1)
    db = ds.sum(axis=1)
    dw = (ds @ cols.T).reshape(w.shape)
    dcols = w.reshape(F, -1).astype(dtype, copy=False).T @ ds
    dx = col2im(dcols, x_shape, HH, WW, stride, pad)
    return dx, dw, db


# --------------------------------------------------------------------------------------------
# naive convolution (loops; for teaching and as the slow baseline of the benchmark)
# --------------------------------------------------------------------------------------------
def conv_forward_naive(x, w, b, conv_param):
    """The convolution with explicit loops over images, filters and output positions.

    Same arguments and result as conv_forward; cache is (x, w, b, conv_param).
    """
    x, w, b, stride, pad = _conv_args(x, w, b, conv_param, "conv_forward_naive")
    F, C, HH, WW = w.shape
    N, _, H, W, Ho, Wo = _conv_sizes(x.shape, HH, WW, stride, pad, "conv_forward_naive")
    xp = _pad(x, pad)
    out = np.zeros((N, F, Ho, Wo), dtype=np.result_type(x, w, b))
    for n in range(N):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    window = xp[n, :, i * stride:i * stride + HH, j * stride:j * stride + WW]
                    out[n, f, i, j] = np.sum(window * w[f]) + b[f]
    return out, (x, w, b, conv_param)


def conv_backward_naive(dout, cache):
    """Gradients of conv_forward_naive with the same loops: each output position sends
    dout * w back to its window of x, and dout * window to w. Returns dx, dw, db."""
    x, w, b, conv_param = cache
    stride, pad = conv_param["stride"], conv_param["pad"]
    F, C, HH, WW = w.shape
    N, _, _, _, Ho, Wo = _conv_sizes(x.shape, HH, WW, stride, pad, "conv_backward_naive")
    dout = _check_dout(dout, (N, F, Ho, Wo), "conv_backward_naive")
    xp = _pad(x, pad)
    dtype = np.result_type(x, w, dout)
    dxp = np.zeros(xp.shape, dtype=dtype)
    dw = np.zeros(w.shape, dtype=dtype)
    db = dout.sum(axis=(0, 2, 3)).astype(dtype)
    for n in range(N):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    hs, ws = i * stride, j * stride
                    g = dout[n, f, i, j]
                    dw[f] += g * xp[n, :, hs:hs + HH, ws:ws + WW]
                    dxp[n, :, hs:hs + HH, ws:ws + WW] += g * w[f]
    H, W = x.shape[2:]
    return dxp[:, :, pad:pad + H, pad:pad + W].copy(), dw, db


# --------------------------------------------------------------------------------------------
# pooling
# --------------------------------------------------------------------------------------------
def _pool_args(x, pool_param, what):
    x = np.asarray(x)
    if not isinstance(pool_param, dict) or not {"pool_height", "pool_width", "stride"} <= set(pool_param):
        raise ValueError(f"{what}: pool_param must be a dict with 'pool_height', 'pool_width' and 'stride', "
                         f"got {pool_param!r}")
    PH, PW, S = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, H, W, Ho, Wo = _conv_sizes(x.shape, PH, PW, S, 0, what)
    return x, PH, PW, S, Ho, Wo


def max_pool_forward(x, pool_param):
    """Max pooling. x: (N, C, H, W); pool_param {'pool_height', 'pool_width', 'stride'}.

    Returns out (N, C, H_out, W_out) and a cache holding the position of each window's maximum.
    The depth C is unchanged and the layer has no parameters.
    """
    x, PH, PW, S, Ho, Wo = _pool_args(x, pool_param, "max_pool_forward")
    N, C = x.shape[:2]
    win = _windows(np.ascontiguousarray(x), PH, PW, S, Ho, Wo)       # (N, C, PH, PW, Ho, Wo)
    flat = win.reshape(N, C, PH * PW, Ho, Wo)                          # copy
    arg = flat.argmax(axis=2)                                          # (N, C, Ho, Wo)
    out = np.take_along_axis(flat, arg[:, :, None], axis=2)[:, :, 0]
    return out, (x.shape, x.dtype, pool_param, arg)


def max_pool_backward(dout, cache):
    """Gradient of max pooling: each window's upstream gradient goes to its maximum (the first
    one if there are ties); every other input gets 0. Overlapping windows add up. Returns dx."""
    x_shape, dtype, pool_param, arg = cache
    PH, PW, S = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, Ho, Wo = arg.shape
    dout = _check_dout(dout, arg.shape, "max_pool_backward")
    dx = np.zeros(x_shape, dtype=np.result_type(dtype, dout))
    hs, ws = S * (Ho - 1) + 1, S * (Wo - 1) + 1
    for k in range(PH * PW):
        i, j = divmod(k, PW)
        dx[:, :, i:i + hs:S, j:j + ws:S] += np.where(arg == k, dout, 0)
    return dx


def avg_pool_forward(x, pool_param):
    """Average pooling: the mean of each window. Same arguments as max_pool_forward."""
    x, PH, PW, S, Ho, Wo = _pool_args(x, pool_param, "avg_pool_forward")
    win = _windows(np.ascontiguousarray(x), PH, PW, S, Ho, Wo)
    out = win.mean(axis=(2, 3))
    return out, (x.shape, x.dtype, pool_param)


def avg_pool_backward(dout, cache):
    """Gradient of average pooling: each window spreads dout / (PH*PW) evenly over its inputs."""
    x_shape, dtype, pool_param = cache
    PH, PW, S = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, _, _, Ho, Wo = _conv_sizes(x_shape, PH, PW, S, 0, "avg_pool_backward")
    dout = _check_dout(dout, (N, C, Ho, Wo), "avg_pool_backward")
    dx = np.zeros(x_shape, dtype=np.result_type(dtype, dout))
    share = dout / (PH * PW)
    hs, ws = S * (Ho - 1) + 1, S * (Wo - 1) + 1
    for i in range(PH):
        for j in range(PW):
            dx[:, :, i:i + hs:S, j:j + ws:S] += share
    return dx
