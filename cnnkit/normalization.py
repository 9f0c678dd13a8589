"""Layer norm and group norm in numpy, forward and backward (CS231n's layer API).

Batch norm (cnnkit.layers) normalises each feature over the examples of a batch. These normalise
each *example* on its own, over some of its features, so they do not depend on the batch and
behave the same in training and evaluation:

- layernorm_forward(x (N, D)): each row over its D features;
- groupnorm_forward(x (N, C, H, W), groups=G): each example over each group of C / G channels and
  all H x W positions. G = 1 is layer norm over (C, H, W); G = C is instance norm.

Then each channel (feature) is scaled by gamma and shifted by beta. The backward pass is batch
norm's simplified formula applied along the normalised axis: with g = dL/dxhat and M values per
group, dx = (s / M) (M g - sum g - xhat sum(g xhat)), s = 1 / sqrt(var + eps).
"""
from __future__ import annotations

import numpy as np

__all__ = ["layernorm_forward", "layernorm_backward", "groupnorm_forward", "groupnorm_backward"]


def _normalise_rows(rows, eps):
    """Normalise each row of a 2-D array; return (xhat, inverse std per row)."""
    mu = rows.mean(axis=1, keepdims=True)
    var = rows.var(axis=1, keepdims=True)
    inv = 1.0 / np.sqrt(var + eps)
    return (rows - mu) * inv, inv


def _rows_backward(g, xhat, inv):
    """dL/d(rows) from g = dL/d(xhat) for rows normalised by _normalise_rows."""
    m = g.shape[1]
    return (inv / m) * (m * g - g.sum(axis=1, keepdims=True) - xhat * (g * xhat).sum(axis=1, keepdims=True))


def layernorm_forward(x, gamma, beta, eps: float = 1e-5):
    """Layer norm of x (N, D): each row over its D features, then gamma * xhat + beta (gamma, beta: (D,)).
    Returns out (N, D) and a cache for layernorm_backward (as torch.nn.functional.layer_norm)."""
    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"layernorm_forward: x must be (N, D), got shape {x.shape}; for images use groupnorm_forward with groups=1")
    gamma, beta = np.asarray(gamma), np.asarray(beta)
    if gamma.shape != (x.shape[1],) or beta.shape != (x.shape[1],):
        raise ValueError(f"layernorm_forward: gamma and beta must be ({x.shape[1]},), got {gamma.shape} and {beta.shape}")
    xhat, inv = _normalise_rows(x, eps)
    return gamma * xhat + beta, (xhat, inv, gamma)


def layernorm_backward(dout, cache):
    """Gradients of layernorm_forward: returns (dx (N, D), dgamma (D,), dbeta (D,))."""
    xhat, inv, gamma = cache
    dout = np.asarray(dout)
    if dout.shape != xhat.shape:
        raise ValueError(f"layernorm_backward: dout has shape {dout.shape}, expected {xhat.shape}")
    dx = _rows_backward(dout * gamma, xhat, inv)
    return dx, (dout * xhat).sum(axis=0), dout.sum(axis=0)


def groupnorm_forward(x, gamma, beta, groups: int, eps: float = 1e-5):
    """Group norm of x (N, C, H, W): each example over each of `groups` groups of C / groups
    consecutive channels and all positions, then gamma * xhat + beta per channel (gamma, beta: (C,)).
    Returns out (N, C, H, W) and a cache for groupnorm_backward (as torch.nn.functional.group_norm)."""
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"groupnorm_forward: x must be (N, C, H, W), got shape {x.shape}")
    n, c, h, w = x.shape
    if not isinstance(groups, (int, np.integer)) or groups < 1 or c % groups:
        raise ValueError(f"groupnorm_forward: groups must be a positive divisor of the {c} channels, got {groups!r}")
    gamma, beta = np.asarray(gamma), np.asarray(beta)
    if gamma.shape != (c,) or beta.shape != (c,):
        raise ValueError(f"groupnorm_forward: gamma and beta must be ({c},), got {gamma.shape} and {beta.shape}")
    xhat, inv = _normalise_rows(x.reshape(n * groups, -1), eps)
    xhat = xhat.reshape(x.shape)
    out = gamma[None, :, None, None] * xhat + beta[None, :, None, None]
    return out, (xhat, inv, gamma, groups)


def groupnorm_backward(dout, cache):
    """Gradients of groupnorm_forward: returns (dx (N, C, H, W), dgamma (C,), dbeta (C,))."""
    xhat, inv, gamma, groups = cache
    dout = np.asarray(dout)
    if dout.shape != xhat.shape:
        raise ValueError(f"groupnorm_backward: dout has shape {dout.shape}, expected {xhat.shape}")
    n = xhat.shape[0]
    g = (dout * gamma[None, :, None, None]).reshape(n * groups, -1)
    dx = _rows_backward(g, xhat.reshape(n * groups, -1), inv).reshape(xhat.shape)
    return dx, (dout * xhat).sum(axis=(0, 2, 3)), dout.sum(axis=(0, 2, 3))
