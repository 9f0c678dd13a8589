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


# --------------------------------------------------------------------------------------------
# batch normalisation
# --------------------------------------------------------------------------------------------
def _batchnorm_args(x, gamma, beta, bn_param):
    """batchnorm_forward's arguments checked: x as an (N, D) array, eps and momentum as floats."""
    mode = bn_param.get("mode")
    if mode not in ("train", "eval"):
        raise ValueError(f"batchnorm_forward: bn_param['mode'] must be 'train' or 'eval', got {mode!r}")
    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"batchnorm_forward: x must be (N, D), got shape {x.shape}; "
                         "for (N, C, H, W) use spatial_batchnorm_forward")
    N, D = x.shape
    if np.shape(gamma) != (D,) or np.shape(beta) != (D,):
        raise ValueError(f"batchnorm_forward: gamma {np.shape(gamma)} and beta {np.shape(beta)} must both be ({D},)")
    if mode == "train" and N < 2:
        raise ValueError("batchnorm_forward: training mode needs at least 2 examples to estimate a variance, got 1")
    return x, float(bn_param.get("eps", 1e-5)), float(bn_param.get("momentum", 0.1))


def batchnorm_forward(x, gamma, beta, bn_param):
    """Batch normalisation over the batch axis. x: (N, D); gamma, beta: (D,).

    bn_param is a dict: 'mode' ('train' or 'eval', required), 'eps' (default 1e-5), 'momentum'
    (default 0.1) and the running statistics 'running_mean', 'running_var' (D,), created on the
    first call (zeros and ones) and updated in place in training mode, as PyTorch does:
        running <- (1 - momentum) * running + momentum * batch statistic,
    with the batch variance unbiased (divided by N - 1) in the running average but biased
    (divided by N) in the normalisation itself.

    Training: xhat = (x - mean_batch) / sqrt(var_batch + eps); out = gamma * xhat + beta.
    Evaluation: the same with the running statistics, so each example is normalised on its own.
    Returns out (N, D) and a cache for batchnorm_backward (None in evaluation mode).
    """
    x, eps, momentum = _batchnorm_args(x, gamma, beta, bn_param)
    mode = bn_param["mode"]
    N, D = x.shape
    running_mean = bn_param.setdefault("running_mean", np.zeros(D, dtype=x.dtype))
    running_var = bn_param.setdefault("running_var", np.ones(D, dtype=x.dtype))
    if mode == "eval":
        xhat = (x - running_mean) / np.sqrt(running_var + eps)
        return gamma * xhat + beta, None
    mean = x.mean(axis=0)
    var = x.var(axis=0)                                   # biased: what normalises this batch
    inv_std = 1.0 / np.sqrt(var + eps)
    xhat = (x - mean) * inv_std
    bn_param["running_mean"] = (1 - momentum) * running_mean + momentum * mean
    bn_param["running_var"] = (1 - momentum) * running_var + momentum * var * N / (N - 1)
    return gamma * xhat + beta, (xhat, gamma, inv_std)


def batchnorm_backward(dout, cache):
    """Gradients of batchnorm_forward in training mode. dout: (N, D).

    With g = dout * gamma (the gradient reaching xhat), the mean and the variance depending on
    every example give, after simplification,
        dx = inv_std / N * (N g - sum_i g_i - xhat * sum_i g_i xhat_i),
        dgamma = sum_i dout_i xhat_i,   dbeta = sum_i dout_i.
    Returns dx (N, D), dgamma (D,), dbeta (D,).
    """
    if cache is None:
        raise ValueError("batchnorm_backward: the forward pass ran in 'eval' mode, which keeps no cache; "
                         "run it in 'train' mode to backpropagate through the batch statistics")
    xhat, gamma, inv_std = cache
    dout = np.asarray(dout)
    if dout.shape != xhat.shape:
        raise ValueError(f"batchnorm_backward: dout has shape {dout.shape}, expected {xhat.shape}")
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xhat).sum(axis=0)
    g = dout * gamma
    dx = inv_std / N * (N * g - g.sum(axis=0) - xhat * (g * xhat).sum(axis=0))
    return dx, dgamma, dbeta


def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    """Batch normalisation for convolutional layers. x: (N, C, H, W); gamma, beta: (C,).

    Each channel is one feature whose statistics are taken over the batch AND every position
    (N*H*W values), since a convolution applies the same filter everywhere: the (N, D) layer on
    x moved to (N*H*W, C). Returns out (N, C, H, W) and a cache.
    """
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"spatial_batchnorm_forward: x must be (N, C, H, W), got shape {x.shape}")
    N, C, H, W = x.shape
    flat = x.transpose(0, 2, 3, 1).reshape(-1, C)
    out, cache = batchnorm_forward(flat, gamma, beta, bn_param)
    return out.reshape(N, H, W, C).transpose(0, 3, 1, 2), cache


def spatial_batchnorm_backward(dout, cache):
    """Gradients of spatial_batchnorm_forward. dout: (N, C, H, W). Returns dx, dgamma (C,), dbeta (C,)."""
    dout = np.asarray(dout)
    if dout.ndim != 4:
        raise ValueError(f"spatial_batchnorm_backward: dout must be (N, C, H, W), got shape {dout.shape}")
    N, C, H, W = dout.shape
    dx, dgamma, dbeta = batchnorm_backward(dout.transpose(0, 2, 3, 1).reshape(-1, C), cache)
    return dx.reshape(N, H, W, C).transpose(0, 3, 1, 2), dgamma, dbeta


# --------------------------------------------------------------------------------------------
# dropout
# --------------------------------------------------------------------------------------------
def _dropout_args(dropout_param):
    """dropout_param checked: its mode, the drop probability p as a float in [0, 1), and the seed."""
    mode = dropout_param.get("mode")
    if mode not in ("train", "eval"):
        raise ValueError(f"dropout_forward: dropout_param['mode'] must be 'train' or 'eval', got {mode!r}")
    if "p" not in dropout_param:
        raise ValueError("dropout_forward: dropout_param needs 'p', the probability of dropping each unit, in [0, 1)")
    p = dropout_param["p"]
    if isinstance(p, bool) or not isinstance(p, (int, float, np.integer, np.floating)) or not 0 <= p < 1:
        raise ValueError(f"dropout_forward: dropout_param['p'] is the probability of dropping each unit and must "
                         f"lie in [0, 1), got {p!r}")
    return mode, float(p), dropout_param.get("seed")


def dropout_forward(x, dropout_param):
    """Inverted dropout; x of any shape.

    dropout_param is a dict: 'p', the probability of dropping each unit (PyTorch's meaning of p in
    nn.Dropout; CS231n's notebooks use p for the probability of keeping it), 'mode' ('train' or
    'eval', required) and an optional 'seed'. In training, each unit is kept with probability
    1 - p and the kept ones are scaled by 1 / (1 - p), so that every unit's expected output is its
    input and evaluation needs no rescaling:
        mask = (u >= p) / (1 - p),  u ~ Uniform[0, 1) drawn for each unit,  out = x * mask.
    The u come from np.random.default_rng(seed) when a seed is given (the same mask on every call:
    what a gradient check needs), else from numpy's global generator (seeded by
    cnnkit.device.seed_everything). In evaluation, out = x.
    Returns out (shaped like x) and cache = (dropout_param, mask), with mask None in evaluation.
    """
    mode, p, seed = _dropout_args(dropout_param)
    x = np.asarray(x)
    if mode == "eval":
        return x.copy(), (dropout_param, None)
    rng = np.random.default_rng(seed) if seed is not None else np.random
    dtype = np.result_type(x, np.float32)
    mask = ((rng.random(x.shape) >= p) / (1 - p)).astype(dtype)
    return x * mask, (dropout_param, mask)


def dropout_backward(dout, cache):
    """Gradient of dropout_forward. dout: shaped like x; cache = (dropout_param, mask) as returned.

    Training: dx = dout * mask (a dropped unit passes no gradient; a kept one passes it scaled by
    1 / (1 - p)). Evaluation (mask None): dx = dout. Returns dx.
    """
    _, mask = cache
    dout = np.asarray(dout)
    if mask is None:
        return dout.copy()
    if dout.shape != mask.shape:
        raise ValueError(f"dropout_backward: dout has shape {dout.shape}, expected {mask.shape} (the shape of x)")
    return dout * mask
