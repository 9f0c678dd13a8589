"""Stand-ins for the library functions that an open assignment asks students to write.

The student pack (``python -m autograder pack``) leaves the numpy reference versions of
``cnnkit.layers``, ``cnnkit.conv`` and ``cnnkit.inspect`` out until the assignment that grades
them is due, and installs these in their place: the same names, arguments, results and errors,
computed by PyTorch in float64 (``conv2d``, ``unfold``/``fold``, ``max_pool2d``) with backward
passes from autograd, so that no line here shows how the exercise is solved. Every lecture still
runs and prints the same outputs; ``tests/test_standins.py`` checks each one against the reference.

Caches are opaque: a stand-in's cache only goes back to its own backward function.
"""
from __future__ import annotations

import importlib
import types

import numpy as np
import torch
import torch.nn.functional as F



class _Conv:
    """cnnkit.conv, imported on first use: its argument checks and error messages are shared with
    the references, and in the pack cnnkit.conv (like cnnkit.layers) imports this module."""

    def __getattr__(self, name):
        return getattr(importlib.import_module("cnnkit.conv"), name)


_conv = _Conv()

STANDINS = ("affine_forward", "affine_backward", "relu_forward", "relu_backward", "sigmoid_forward",
            "sigmoid_backward", "softmax_loss", "l2_loss", "batchnorm_forward", "batchnorm_backward",
            "dropout_forward", "dropout_backward", "im2col", "col2im", "conv_forward",
            "conv_backward", "conv_forward_naive", "conv_backward_naive", "max_pool_forward",
            "max_pool_backward", "receptive_field_steps", "receptive_field")


def install(namespace: dict, names) -> None:
    """Bind the stand-ins `names` in a module's namespace, as functions of that module.

    Each is a copy whose ``__module__`` is the host module's, so ``cnnkit.grading.no_calls_to``
    (which watches the functions a module defines) watches the stand-in as it watched the reference.
    """
    for name in names:
        if name not in STANDINS:
            raise ValueError(f"cnnkit._standins has no stand-in for {name!r}; it has {', '.join(STANDINS)}")
        f = globals()[name]
        g = types.FunctionType(f.__code__, f.__globals__, name, f.__defaults__, f.__closure__)
        g.__kwdefaults__, g.__doc__, g.__qualname__ = f.__kwdefaults__, f.__doc__, name
        g.__module__ = namespace["__name__"]
        g.__wrapped_standin__ = True
        namespace[name] = g


def _t(a, grad=False):
    """A numpy array as a float64-or-wider torch tensor (copied; the caller's array is never changed)."""
    a = np.asarray(a)
    t = torch.tensor(a)
    return t.requires_grad_(grad) if grad else t


def _np(t, dtype):
    return t.detach().numpy().astype(dtype, copy=False)


def _grads(out, dout, inputs):
    """Vector-Jacobian products of out with dout, for each input tensor (autograd)."""
    dout_t = torch.tensor(np.asarray(dout), dtype=out.dtype)
    return torch.autograd.grad(out, inputs, dout_t, allow_unused=True)


class _Cache:
    """What a stand-in's backward needs; not meant to be unpacked."""

    def __init__(self, **kw):
        self.__dict__.update(kw)

    def __repr__(self):
        return "<stand-in cache>"


# --------------------------------------------------------------------------------------------
# layers (A1)
# --------------------------------------------------------------------------------------------
def _common(*arrays):
    """The arrays as torch tensors of their common numpy dtype (at least float32), and that dtype."""
    dtype = np.result_type(*arrays, np.float32)
    return [torch.tensor(np.asarray(a, dtype=dtype)) for a in arrays], dtype


def affine_forward(x, w, b):
    """Fully connected layer. x: (N, d_1, ..., d_k) flattened to (N, D); w: (D, M); b: (M,).

    Returns out (N, M) and a cache for affine_backward. (Stand-in: torch.nn.functional.linear.)
    """
    N, D = x.shape[0], int(np.prod(x.shape[1:]))
    if D != w.shape[0]:
        raise ValueError(
            f"affine_forward: x flattens to {(N, D)} but w has shape {w.shape}; expected w of shape ({D}, M)"
        )
    if b.shape != (w.shape[1],):
        raise ValueError(f"affine_forward: b has shape {b.shape}, expected ({w.shape[1]},)")
    (xt, wt, bt), dtype = _common(x, w, b)
    return _np(F.linear(xt.reshape(N, -1), wt.T, bt), dtype), _Cache(x=x, w=w, b=b)


def affine_backward(dout, cache):
    """Gradients of the affine layer. dout: (N, M). Returns dx (shaped like x), dw (D, M), db (M,)."""
    (x, w, b, d), dtype = _common(cache.x, cache.w, cache.b, dout)
    for t in (x, w, b):
        t.requires_grad_()
    out = F.linear(x.reshape(x.shape[0], -1), w.T, b)
    return tuple(_np(g, dtype) for g in torch.autograd.grad(out, (x, w, b), d))


def relu_forward(x):
    """ReLU, element-wise; any shape. Returns out and a cache for relu_backward (torch.relu)."""
    x = np.asarray(x)
    return _np(torch.relu(torch.tensor(x)), x.dtype), _Cache(x=x)


def relu_backward(dout, cache):
    """Gradient of ReLU (the subgradient at 0 is taken as 0)."""
    x = torch.tensor(np.asarray(cache.x, dtype=np.float64), requires_grad=True)
    (dx,) = torch.autograd.grad(torch.relu(x), x, torch.tensor(np.asarray(dout, dtype=np.float64)))
    return _np(dx, np.asarray(dout).dtype)


def sigmoid_forward(x):
    """Logistic sigmoid, element-wise, without overflow. Returns out and a cache (torch.sigmoid)."""
    x = np.asarray(x)
    dtype = np.result_type(x, np.float32)
    return _np(torch.sigmoid(torch.tensor(x, dtype=torch.float64)), dtype), _Cache(x=x, dtype=dtype)


def sigmoid_backward(dout, cache):
    """Gradient of the sigmoid with respect to its input."""
    x = torch.tensor(cache.x, dtype=torch.float64, requires_grad=True)
    (dx,) = torch.autograd.grad(torch.sigmoid(x), x, torch.tensor(np.asarray(dout, dtype=np.float64)))
    return _np(dx, np.result_type(dout, cache.dtype))


def softmax_loss(scores, y):
    """Mean softmax cross-entropy. scores: (N, C); y: (N,) ints in [0, C).

    Returns loss (float) and dscores (N, C). (Stand-in: torch.nn.functional.cross_entropy.)
    """
    N, C = scores.shape
    y = np.asarray(y)
    if y.shape != (N,):
        raise ValueError(f"softmax_loss: y has shape {y.shape}, expected ({N},)")
    if y.size and (y.min() < 0 or y.max() >= C):
        raise ValueError(f"softmax_loss: labels must lie in [0, {C}), got range [{y.min()}, {y.max()}]")
    s = _t(scores, True)
    loss = F.cross_entropy(s, torch.as_tensor(y, dtype=torch.long))
    (ds,) = torch.autograd.grad(loss, (s,))
    return float(loss.detach()), _np(ds, np.asarray(scores).dtype)


def l2_loss(pred, target):
    """Mean squared L2 loss over the batch, (1/N) sum_i ||target_i - pred_i||^2. pred, target: (N, D).

    Returns loss and dpred. (Stand-in: torch.nn.functional.mse_loss with autograd.)
    """
    if pred.shape != target.shape:
        raise ValueError(f"l2_loss: pred {pred.shape} and target {target.shape} must have the same shape")
    (p, t), dtype = _common(pred, target)
    p.requires_grad_()
    loss = F.mse_loss(p, t, reduction="sum") / pred.shape[0]
    (dp,) = torch.autograd.grad(loss, (p,))
    return float(loss.detach()), _np(dp, dtype)


# --------------------------------------------------------------------------------------------
# batch normalisation (A2)
# --------------------------------------------------------------------------------------------
def batchnorm_forward(x, gamma, beta, bn_param):
    """Batch normalisation over the batch axis. x: (N, D); gamma, beta: (D,); bn_param as in the
    library: 'mode' ('train' or 'eval'), 'eps', 'momentum', 'running_mean', 'running_var' (updated
    in place in training mode). Returns out and a cache for batchnorm_backward (None in 'eval').
    (Stand-in: torch.nn.functional.batch_norm.)"""
    x, eps, momentum = importlib.import_module("cnnkit.layers")._batchnorm_args(x, gamma, beta, bn_param)
    D = x.shape[1]
    running = [bn_param.setdefault(k, np.full(D, v, dtype=x.dtype)) for k, v in (("running_mean", 0.0), ("running_var", 1.0))]
    (xt, g, b), dtype = _common(x, gamma, beta)
    rm, rv = (torch.tensor(np.asarray(r, dtype=dtype)) for r in running)
    training = bn_param["mode"] == "train"
    out = F.batch_norm(xt, rm, rv, g, b, training=training, momentum=momentum, eps=eps)
    if not training:
        return _np(out, dtype), None
    bn_param["running_mean"] = _np(rm, np.result_type(running[0], dtype))
    bn_param["running_var"] = _np(rv, np.result_type(running[1], dtype))
    return _np(out, dtype), _Cache(x=x, gamma=gamma, beta=beta, eps=eps, shape=x.shape)


def batchnorm_backward(dout, cache):
    """Gradients of batchnorm_forward in training mode. Returns dx (N, D), dgamma, dbeta (D,).
    (Autograd through torch.nn.functional.batch_norm.)"""
    if cache is None:
        raise ValueError("batchnorm_backward: the forward pass ran in 'eval' mode, which keeps no cache; "
                         "run it in 'train' mode to backpropagate through the batch statistics")
    dout = np.asarray(dout)
    if dout.shape != cache.shape:
        raise ValueError(f"batchnorm_backward: dout has shape {dout.shape}, expected {cache.shape}")
    (x, g, b, d), dtype = _common(cache.x, cache.gamma, cache.beta, dout)
    for t in (x, g, b):
        t.requires_grad_()
    out = F.batch_norm(x, None, None, g, b, training=True, eps=cache.eps)
    return tuple(_np(t, dtype) for t in torch.autograd.grad(out, (x, g, b), d))


def dropout_forward(x, dropout_param):
    """Inverted dropout; x of any shape. dropout_param: 'p' (the probability of dropping a unit),
    'mode' ('train' or 'eval'), optional 'seed'. Returns out and a cache for dropout_backward.

    (Stand-in: each unit's uniform number is drawn from the same numpy generator as in the
    reference, so a seed drops the same units; the product is taken by torch and the backward
    pass by autograd.)"""
    mode, p, seed = importlib.import_module("cnnkit.layers")._dropout_args(dropout_param)
    x = np.asarray(x)
    if mode == "eval":
        return x.copy(), _Cache(x=None, shape=x.shape)
    draws = torch.tensor((np.random.default_rng(seed) if seed is not None else np.random).random(x.shape))
    dtype = np.result_type(x, np.float32)
    scale = _np(draws.ge(p).to(torch.float64) / (1 - p), dtype)
    out = torch.mul(torch.tensor(x.astype(dtype)), torch.tensor(scale))
    return _np(out, dtype), _Cache(x=x, scale=scale, dtype=dtype, shape=x.shape)


def dropout_backward(dout, cache):
    """Gradient of dropout_forward with respect to x (autograd); dout shaped like x."""
    dout = np.asarray(dout)
    if cache.x is None:
        return dout.copy()
    if dout.shape != cache.shape:
        raise ValueError(f"dropout_backward: dout has shape {dout.shape}, expected {cache.shape} (the shape of x)")
    dtype = np.result_type(dout, cache.dtype)
    x = torch.tensor(cache.x.astype(dtype), requires_grad=True)
    (dx,) = torch.autograd.grad(torch.mul(x, torch.tensor(cache.scale.astype(dtype))), x, torch.tensor(dout.astype(dtype)))
    return _np(dx, dtype)


# --------------------------------------------------------------------------------------------
# convolution and pooling (A2)
# --------------------------------------------------------------------------------------------
def im2col(x, HH, WW, stride=1, pad=0):
    """Every receptive field of x as a column. x: (N, C, H, W).

    Returns X_col (C*HH*WW, N*H_out*W_out): rows (c, i, j) in C order, matching w.reshape(F, -1);
    columns (n, h, w) in C order. (Stand-in: torch.nn.functional.unfold.)
    """
    x = np.asarray(x)
    N, C, H, W, Ho, Wo = _conv._conv_sizes(x.shape, HH, WW, stride, pad, "im2col")
    cols = F.unfold(_t(x), (HH, WW), padding=pad, stride=stride)          # (N, K, L)
    return np.ascontiguousarray(_np(cols.permute(1, 0, 2).reshape(C * HH * WW, N * Ho * Wo), x.dtype))


def col2im(cols, x_shape, HH, WW, stride=1, pad=0):
    """The adjoint of im2col: cols (C*HH*WW, N*H_out*W_out) back to an array of shape x_shape,
    overlapping windows summed, padding cut off. (Stand-in: torch.nn.functional.fold.)"""
    N, C, H, W, Ho, Wo = _conv._conv_sizes(tuple(x_shape), HH, WW, stride, pad, "col2im")
    cols = np.asarray(cols)
    if cols.shape != (C * HH * WW, N * Ho * Wo):
        raise ValueError(
            f"col2im: cols has shape {cols.shape}, expected ({C * HH * WW}, {N * Ho * Wo}) = "
            f"(C*HH*WW, N*H_out*W_out) for x_shape {tuple(x_shape)} and a {HH}x{WW} window"
        )
    c3 = _t(cols).reshape(C * HH * WW, N, Ho * Wo).permute(1, 0, 2)
    x = F.fold(c3, (H, W), (HH, WW), padding=pad, stride=stride)
    return np.ascontiguousarray(_np(x, cols.dtype))


def _conv_forward(x, w, b, conv_param, what):
    x, w, b, stride, pad = _conv._conv_args(x, w, b, conv_param, what)
    F_, C, HH, WW = w.shape
    N, _, H, W, Ho, Wo = _conv._conv_sizes(x.shape, HH, WW, stride, pad, what)
    dtype = np.result_type(x, w, b)
    out = F.conv2d(_t(x.astype(dtype)), _t(w.astype(dtype)), _t(b.astype(dtype)), stride=stride, padding=pad)
    return np.ascontiguousarray(_np(out, dtype)), _Cache(x=x, w=w, b=b, conv_param=conv_param, out_shape=(N, F_, Ho, Wo))


def _conv_backward(dout, cache, what):
    dout = _conv._check_dout(dout, cache.out_shape, what)
    dtype = np.result_type(cache.x, cache.w, dout)
    x, w, b = (_t(np.asarray(a).astype(dtype), True) for a in (cache.x, cache.w, cache.b))
    out = F.conv2d(x, w, b, stride=cache.conv_param["stride"], padding=cache.conv_param["pad"])
    return tuple(_np(g, dtype) for g in _grads(out, dout.astype(dtype), (x, w, b)))


def conv_forward(x, w, b, conv_param):
    """Convolution (cross-correlation). x: (N, C, H, W); w: (F, C, HH, WW); b: (F,);
    conv_param: {'stride': S, 'pad': P}. Returns out (N, F, H_out, W_out) and a cache.
    (Stand-in: torch.nn.functional.conv2d.)"""
    return _conv_forward(x, w, b, conv_param, "conv_forward")


def conv_backward(dout, cache):
    """Gradients of conv_forward. dout: (N, F, H_out, W_out). Returns dx, dw, db (autograd)."""
    return _conv_backward(dout, cache, "conv_backward")


def conv_forward_naive(x, w, b, conv_param):
    """Convolution, same arguments and result as conv_forward. (Stand-in: torch conv2d.)"""
    return _conv_forward(x, w, b, conv_param, "conv_forward_naive")


def conv_backward_naive(dout, cache):
    """Gradients of conv_forward_naive: dx, dw, db (autograd)."""
    return _conv_backward(dout, cache, "conv_backward_naive")


def max_pool_forward(x, pool_param):
    """Max pooling. x: (N, C, H, W); pool_param {'pool_height', 'pool_width', 'stride'}.

    Returns out (N, C, H_out, W_out) and a cache. (Stand-in: torch.nn.functional.max_pool2d.)
    """
    x, PH, PW, S, Ho, Wo = _conv._pool_args(x, pool_param, "max_pool_forward")
    out = F.max_pool2d(_t(x), (PH, PW), S)
    return _np(out, x.dtype), _Cache(x=x, pool_param=pool_param, out_shape=tuple(out.shape))


def max_pool_backward(dout, cache):
    """Gradient of max pooling: each window's gradient goes to its maximum (the first one if there
    are ties); overlapping windows add up. Returns dx. (Autograd through max_pool2d.)"""
    dout = _conv._check_dout(dout, cache.out_shape, "max_pool_backward")
    p = cache.pool_param
    dtype = np.result_type(cache.x.dtype, dout)
    x = _t(cache.x.astype(dtype), True)
    out = F.max_pool2d(x, (p["pool_height"], p["pool_width"]), p["stride"])
    (dx,) = _grads(out, dout.astype(dtype), (x,))
    return _np(dx, dtype)


# --------------------------------------------------------------------------------------------
# receptive fields (A2): measured, not computed from the rule
# --------------------------------------------------------------------------------------------
def _layers(layers):
    out = []
    for layer in layers:
        if len(layer) not in (2, 3):
            raise ValueError(f"each layer is (kernel, stride) or (kernel, stride, dilation), got {tuple(layer)}")
        k, s, d = (tuple(layer) + (1,))[:3]
        if k < 1 or s < 1 or d < 1:
            raise ValueError(f"kernel, stride and dilation must be >= 1, got {layer}")
        out.append((int(k), int(s), int(d)))
    return out


def _measure(stack):
    """(field, jump) of a 1-D stack of all-ones convolutions, by backpropagating from two
    neighbouring outputs; the input grows until the first output's field fits inside it."""
    n = 16
    while True:
        x = torch.ones(1, 1, n, dtype=torch.float64, requires_grad=True)
        y = x
        for k, s, d in stack:
            if y.shape[-1] < d * (k - 1) + 1:
                break
            y = F.conv1d(y, torch.ones(1, 1, k, dtype=torch.float64), stride=s, dilation=d)
        else:
            if y.shape[-1] >= 2:
                (g0,) = torch.autograd.grad(y[0, 0, 0], x, retain_graph=True)
                (g1,) = torch.autograd.grad(y[0, 0, 1], x)
                i0 = torch.nonzero(g0[0, 0]).flatten()
                i1 = torch.nonzero(g1[0, 0]).flatten()
                return int(i0[-1] - i0[0] + 1), int(i1[0] - i0[0])
        n *= 2


def receptive_field_steps(layers):
    """(receptive field, jump) after each layer of a stack of (kernel, stride[, dilation]) layers;
    the jump is the distance in input pixels between neighbouring outputs. A pooling window counts
    like a conv of the same kernel and stride. (Stand-in: measured by autograd on 1-D convolutions.)

    >>> receptive_field_steps([(3, 1), (2, 2), (3, 1)])
    [(3, 1), (4, 2), (8, 2)]
    """
    stack = _layers(layers)
    return [_measure(stack[:i + 1]) for i in range(len(stack))]


def receptive_field(layers):
    """Side of the input region one output of the stack sees; e.g. three 3x3 stride-1 convs: 7."""
    stack = _layers(list(layers))
    return _measure(stack)[0] if stack else 1
