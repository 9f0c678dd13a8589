"""Numerical gradients and the relative error used to compare them.

All checks are meant to run in float64: with h = 1e-5 a centred difference has a truncation
error of order h**2 = 1e-10 and a rounding error of order eps/h = 1e-11, so a correct analytic
gradient typically agrees to a relative error below 1e-7. In float32 the rounding error alone is
about 1e-7 / 1e-5 = 1e-2, which hides real bugs.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np


def rel_error(x, y) -> float:
    """Largest element-wise relative error between two arrays of the same shape.

    rel_error(x, y) = max_i |x_i - y_i| / max(1e-8, |x_i| + |y_i|)

    The 1e-8 floor keeps entries where both values are (nearly) zero from dividing by zero; there
    the error is effectively absolute. Returns a Python float; raises ValueError on shape mismatch.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"rel_error needs two arrays of the same shape, got {x.shape} and {y.shape}")
    if x.size == 0:
        return 0.0
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))


def _require_float64(x: np.ndarray, what: str) -> None:
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{what} must be a numpy array, got {type(x).__name__}")
    if x.dtype != np.float64:
        raise TypeError(
            f"{what} has dtype {x.dtype}; numerical gradients need float64 "
            "(call x.astype(np.float64) first): in lower precision the rounding error swamps the check"
        )


def numerical_gradient(f: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """Gradient of a scalar function f at x by centred differences.

    df/dx_i ~ (f(x + h e_i) - f(x - h e_i)) / (2h).   x: float64 array of any shape, changed in
    place while evaluating and restored afterwards. Returns an array shaped like x. Costs 2 * x.size
    evaluations of f.
    """
    _require_float64(x, "x")
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    while not it.finished:
        i = it.multi_index
        old = x[i]
        x[i] = old + h
        f_plus = float(f(x))
        x[i] = old - h
        f_minus = float(f(x))
        x[i] = old
        grad[i] = (f_plus - f_minus) / (2 * h)
        it.iternext()
    return grad


def numerical_gradient_array(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, dout: np.ndarray,
                             h: float = 1e-5) -> np.ndarray:
    """Gradient of sum(f(x) * dout) with respect to x, for an array-valued f.

    This is what a layer's backward pass computes when the upstream gradient is dout: the
    vector-Jacobian product. x: float64, any shape; dout: shaped like f(x). Returns an array
    shaped like x.
    """
    _require_float64(x, "x")
    dout = np.asarray(dout, dtype=np.float64)

    def scalar(z):
        out = np.asarray(f(z), dtype=np.float64)
        if out.shape != dout.shape:
            raise ValueError(f"f(x) has shape {out.shape} but dout has shape {dout.shape}")
        return float(np.sum(out * dout))

    return numerical_gradient(scalar, x, h)


def report(name: str, err: float, tol: float = 1e-7) -> bool:
    """Print whether a relative error is below its tolerance and return err < tol.

    A passing check prints 'name: rel error below the tolerance TOL: ok'. The error itself is not
    printed: its last digits move with the CPU's BLAS kernels, thread counts and summation order,
    and a notebook's stored output must not. A failing check prints the value, since that is what
    the reader needs to see: 'name: rel error 3.2e-04 is above the tolerance 1e-07: FAILED'.
    """
    if not math.isfinite(tol) or tol <= 0:
        raise ValueError(f"report: the tolerance must be a positive number, got {tol!r}")
    ok = bool(err < tol)
    if ok:
        print(f"{name}: rel error below the tolerance {tol:.0e}: ok")
    else:
        print(f"{name}: rel error {err:.1e} is above the tolerance {tol:.0e}: FAILED")
    return ok
