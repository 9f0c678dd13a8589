"""Weight initialisation: Xavier/Glorot and He/Kaiming, from the variance argument, in numpy.

A layer with fan_in inputs per output computes s = sum_i w_i x_i. With independent zero-mean
weights, Var(s) = fan_in Var(w) E[x^2]. Keeping the size of the signal from layer to layer:

- Xavier/Glorot (2010), for activations that are linear near 0 (tanh): E[x^2] = Var(s_prev), so
  forward needs Var(w) = 1 / fan_in and backward 1 / fan_out; the compromise is
  Var(w) = 2 / (fan_in + fan_out).
- He/Kaiming (2015), for ReLU: a ReLU zeroes half of a symmetric input, E[x^2] = Var(s_prev) / 2,
  so Var(w) = 2 / fan_in.

PyTorch's torch.nn.init.xavier_normal_ (gain 1) and kaiming_normal_(nonlinearity="relu") draw
with these standard deviations; `fans` counts fan_in and fan_out as PyTorch does (a conv weight
(K, C, kh, kw) has fan_in = C kh kw and fan_out = K kh kw).

`signal_through` pushes a batch through a deep fully connected net, forward and backward, and
returns the size of the signal at every layer: what the two rules are derived to keep constant.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["fans", "xavier_std", "he_std", "xavier_normal", "he_normal", "SignalProfile", "signal_through"]


def fans(shape) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight of `shape`: (out, in) for a linear layer (PyTorch's layout),
    (out, in, kh, kw, ...) for a convolution."""
    shape = tuple(int(s) for s in shape)
    if len(shape) < 2:
        raise ValueError(f"a weight needs at least 2 dimensions (out, in, ...) to have fans, got shape {shape}")
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


def xavier_std(fan_in: int, fan_out: int) -> float:
    """Glorot and Bengio's standard deviation, sqrt(2 / (fan_in + fan_out))."""
    return float(np.sqrt(2.0 / (fan_in + fan_out)))


def he_std(fan_in: int) -> float:
    """He et al.'s standard deviation for ReLU layers, sqrt(2 / fan_in)."""
    return float(np.sqrt(2.0 / fan_in))


def xavier_normal(shape, rng: np.random.Generator, dtype=np.float64) -> np.ndarray:
    """Weights N(0, 2 / (fan_in + fan_out)) of `shape` (PyTorch's layout)."""
    return (rng.standard_normal(shape) * xavier_std(*fans(shape))).astype(dtype)


def he_normal(shape, rng: np.random.Generator, dtype=np.float64) -> np.ndarray:
    """Weights N(0, 2 / fan_in) of `shape` (PyTorch's layout)."""
    return (rng.standard_normal(shape) * he_std(fans(shape)[0])).astype(dtype)


_ACTIVATIONS = {
    "tanh": (np.tanh, lambda s: 1 - np.tanh(s) ** 2),
    "relu": (lambda s: np.maximum(s, 0), lambda s: (s > 0).astype(s.dtype)),
    "linear": (lambda s: s, lambda s: np.ones_like(s)),
}


@dataclass
class SignalProfile:
    """Per layer (input side first): the standard deviation of the pre-activations over the batch
    and units (forward), and of the gradient with respect to them (backward), with the loss's
    gradient at the output drawn N(0, 1)."""

    forward: np.ndarray
    backward: np.ndarray


def signal_through(depth: int, width: int, activation: str, init: str, rng: np.random.Generator,
                   batch: int = 500, std: float | None = None) -> SignalProfile:
    """Push a batch of N(0, 1) inputs through `depth` fully connected layers of `width` units
    (no biases) and a random gradient back. init: "xavier", "he" or "fixed" (then `std` is the
    weights' standard deviation). activation: "tanh", "relu" or "linear"."""
    if activation not in _ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(_ACTIVATIONS)}, got {activation!r}")
    if init not in ("xavier", "he", "fixed"):
        raise ValueError(f"init must be 'xavier', 'he' or 'fixed', got {init!r}")
    if init == "fixed" and std is None:
        raise ValueError("init='fixed' needs std, the weights' standard deviation")
    f, df = _ACTIVATIONS[activation]
    weights = []
    for _ in range(depth):
        shape = (width, width)
        if init == "xavier":
            weights.append(xavier_normal(shape, rng))
        elif init == "he":
            weights.append(he_normal(shape, rng))
        else:
            weights.append(rng.standard_normal(shape) * std)
    h = rng.standard_normal((batch, width))
    pre = []
    for w in weights:
        s = h @ w.T
        pre.append(s)
        h = f(s)
    grad = rng.standard_normal((batch, width))  # dL/d(last output)
    back = []
    for w, s in zip(reversed(weights), reversed(pre)):
        ds = grad * df(s)
        back.append(ds)
        grad = ds @ w
    return SignalProfile(np.array([s.std() for s in pre]), np.array([g.std() for g in reversed(back)]))
