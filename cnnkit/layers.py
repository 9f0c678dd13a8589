"""Numpy layers in CS231n's style: ``*_forward(x, ...) -> (out, cache)``, ``*_backward(dout, cache)``.

Losses return ``(loss, dscores)`` directly. Shapes use N for the batch size.
These are the reference versions used by lectures and benchmarks; assignments ask students to
write their own.
"""
from __future__ import annotations

import numpy as np


def affine_forward(x, w, b):
    """Fully connected layer. x: (N, d_1, ..., d_k) flattened to (N, D); w: (D, M); b: (M,).

    Returns out (N, M) = x_flat @ w + b, and cache (x, w, b).
    """
    N = x.shape[0]
    x_flat = x.reshape(N, -1)
    if x_flat.shape[1] != w.shape[0]:
        raise ValueError(
            f"affine_forward: x flattens to {x_flat.shape} but w has shape {w.shape}; "
            f"expected w of shape ({x_flat.shape[1]}, M)"
        )
    if b.shape != (w.shape[1],):
        raise ValueError(f"affine_forward: b has shape {b.shape}, expected ({w.shape[1]},)")
    return x_flat @ w + b, (x, w, b)


def affine_backward(dout, cache):
    """Gradients of the affine layer. dout: (N, M). Returns dx (shaped like x), dw (D, M), db (M,)."""
    x, w, b = cache
    N = x.shape[0]
    dx = (dout @ w.T).reshape(x.shape)
    dw = x.reshape(N, -1).T @ dout
    db = dout.sum(axis=0)
    return dx, dw, db


def relu_forward(x):
    """ReLU, max(0, x), element-wise; any shape. cache is x."""
    return np.maximum(0, x), x


def relu_backward(dout, cache):
    """Gradient of ReLU: dout where x > 0, else 0 (the subgradient at 0 is taken as 0)."""
    return dout * (cache > 0)


def sigmoid_forward(x):
    """Logistic sigmoid 1 / (1 + e^-x), computed without overflow for large |x|. cache is the output."""
    out = np.empty_like(x, dtype=np.result_type(x, np.float32))
    pos = x >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-x[pos]))
    ex = np.exp(x[~pos])
    out[~pos] = ex / (1.0 + ex)
    return out, out


def sigmoid_backward(dout, cache):
    """Gradient of the sigmoid: dout * s * (1 - s), with s the forward output."""
    s = cache
    return dout * s * (1 - s)


def softmax_loss(scores, y):
    """Mean softmax cross-entropy. scores: (N, C); y: (N,) ints in [0, C).

    Returns loss (float) and dscores (N, C) = (softmax(scores) - onehot(y)) / N.
    """
    N, C = scores.shape
    y = np.asarray(y)
    if y.shape != (N,):
        raise ValueError(f"softmax_loss: y has shape {y.shape}, expected ({N},)")
    if y.size and (y.min() < 0 or y.max() >= C):
        raise ValueError(f"softmax_loss: labels must lie in [0, {C}), got range [{y.min()}, {y.max()}]")
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -log_probs[np.arange(N), y].mean()
    dscores = np.exp(log_probs)
    dscores[np.arange(N), y] -= 1
    return float(loss), dscores / N


def l2_loss(pred, target):
    """Mean squared L2 loss over the batch: L = (1/N) sum_i ||target_i - pred_i||^2.

    pred, target: (N, D). Returns loss and dpred = -2 (target - pred) / N.
    """
    if pred.shape != target.shape:
        raise ValueError(f"l2_loss: pred {pred.shape} and target {target.shape} must have the same shape")
    N = pred.shape[0]
    diff = target - pred
    return float((diff ** 2).sum() / N), -2.0 * diff / N
