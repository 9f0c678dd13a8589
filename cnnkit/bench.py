"""Timing helpers for the convolution benchmark: naive loops, cnnkit's im2col, torch's CPU conv2d.

``benchmarks/conv_bench.py`` is the command-line script over these; lecture 04 calls
``bench_layer`` and ``set_threads`` directly.

The layers: AlexNet's conv1 (batch 8 of 227x227x3, 96 filters 11x11 at stride 4) and a 3x3 layer
with 64 channels in and out on 32x32 inputs (batch 32, pad 1); ``QUICK_LAYERS`` use smaller
batches. Every figure is the median of several runs. The naive loops are timed on a reduced
problem (one image, optionally fewer filters) and scaled linearly to the full one, which is exact
for loops whose count is N*F*H_out*W_out.

numpy's products run on its BLAS (OpenBLAS for the PyPI wheels), whose kernels ``set_threads``
reports with the thread counts; torch's CPU convolution uses oneDNN, which picks the widest vector
instructions the CPU has. Where the BLAS runs narrower kernels than oneDNN, the float32
im2col/torch ratios show it.
"""
from __future__ import annotations

import math
import time

import numpy as np
import torch
import torch.nn.functional as F

from . import conv

__all__ = ["LAYERS", "QUICK_LAYERS", "set_threads", "time_conv", "bench_layer", "geomean", "run", "print_table"]

# name: (x shape, w shape, stride, pad)
LAYERS = {
    "alexnet_conv1": ((8, 3, 227, 227), (96, 3, 11, 11), 4, 0),
    "conv3x3_64": ((32, 64, 32, 32), (64, 64, 3, 3), 1, 1),
}
QUICK_LAYERS = {
    "alexnet_conv1": ((2, 3, 227, 227), (96, 3, 11, 11), 4, 0),
    "conv3x3_64": ((8, 64, 32, 32), (64, 64, 3, 3), 1, 1),
}


def set_threads(n: int) -> dict:
    """Give torch and numpy's BLAS n threads each; return what each reports afterwards."""
    torch.set_num_threads(n)
    blas = "unknown"
    try:
        from threadpoolctl import threadpool_info, threadpool_limits

        threadpool_limits(n)
        blas = ", ".join(f"{i['internal_api']}={i['num_threads']}"
                         + (f" ({i['architecture']} kernels)" if i.get("architecture") else "")
                         for i in threadpool_info())
    except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn
        pass
    return {"torch": torch.get_num_threads(), "numpy/BLAS": blas}


def _median_time(fn, repeats: int) -> float:
    fn()  # warm-up: allocations, lazy initialisation
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def time_conv(impl: str, x, w, b, conv_param, repeats: int = 3) -> tuple[float, float]:
    """Median seconds (forward, backward) of one convolution implementation.

    impl: 'naive' (cnnkit.conv loops), 'im2col' (cnnkit.conv.conv_forward/backward) or 'torch'
    (torch.nn.functional.conv2d on the CPU; backward by autograd, the graph kept between runs).
    x, w, b: numpy arrays of one dtype; the torch version gets tensors sharing their memory.
    """
    if impl in ("naive", "im2col"):
        fwd, bwd = ((conv.conv_forward_naive, conv.conv_backward_naive) if impl == "naive"
                    else (conv.conv_forward, conv.conv_backward))
        out, cache = fwd(x, w, b, conv_param)
        dout = np.ones_like(out)
        return (_median_time(lambda: fwd(x, w, b, conv_param), repeats),
                _median_time(lambda: bwd(dout, cache), repeats))
    if impl == "torch":
        xt, wt, bt = (torch.from_numpy(np.ascontiguousarray(a)).requires_grad_() for a in (x, w, b))
        S, P = conv_param["stride"], conv_param["pad"]
        out = F.conv2d(xt, wt, bt, stride=S, padding=P)
        dout = torch.ones_like(out)
        fwd = _median_time(lambda: F.conv2d(xt, wt, bt, stride=S, padding=P), repeats)
        bwd = _median_time(lambda: torch.autograd.grad(out, (xt, wt, bt), dout, retain_graph=True), repeats)
        return fwd, bwd
    raise ValueError(f"unknown implementation {impl!r}: expected 'naive', 'im2col' or 'torch'")


def bench_layer(x_shape, w_shape, stride, pad, dtype=np.float32, repeats: int = 3,
                naive_images: int = 1, naive_filters: int | None = None, seed: int = 0) -> dict:
    """Time naive, im2col and torch on one layer; the naive loops on naive_images images and
    naive_filters filters, scaled linearly to the full layer. Returns a dict of seconds and ratios."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(x_shape).astype(dtype)
    w = (rng.standard_normal(w_shape) * 0.1).astype(dtype)
    b = rng.standard_normal(w_shape[0]).astype(dtype)
    param = {"stride": stride, "pad": pad}
    row = {"dtype": np.dtype(dtype).name}
    for impl in ("im2col", "torch"):
        row[impl] = time_conv(impl, x, w, b, param, repeats)
    n_img = min(naive_images, x_shape[0])
    n_f = min(naive_filters or w_shape[0], w_shape[0])
    scale = (x_shape[0] / n_img) * (w_shape[0] / n_f)
    fwd, bwd = time_conv("naive", x[:n_img], w[:n_f], b[:n_f], param, repeats=1)
    row["naive"] = (fwd * scale, bwd * scale)
    row["naive_scale"] = scale
    row["naive_part"] = f"{n_img} image(s) x {n_f} filter(s)"
    for k, name in ((0, "fwd"), (1, "bwd")):
        row[f"im2col/torch {name}"] = row["im2col"][k] / row["torch"][k]
        row[f"naive/im2col {name}"] = row["naive"][k] / row["im2col"][k]
    return row


def geomean(values) -> float:
    values = list(values)
    return math.exp(sum(math.log(v) for v in values) / len(values))


def run(quick: bool = False, threads: int = 1, repeats: int | None = None, dtypes=("float32", "float64"),
        verbose: bool = True) -> list[dict]:
    """The whole benchmark; prints a table and the geometric means, returns the rows."""
    info = set_threads(threads)
    layers = QUICK_LAYERS if quick else LAYERS
    repeats = repeats or (3 if quick else 5)
    if verbose:
        print(f"threads: torch {info['torch']}, numpy/BLAS {info['numpy/BLAS']}; "
              f"median of {repeats} runs; numpy {np.__version__}, torch {torch.__version__}")
    rows = []
    for name, (xs, ws, S, P) in layers.items():
        for dt in dtypes:
            row = bench_layer(xs, ws, S, P, np.dtype(dt), repeats, naive_images=1,
                              naive_filters=(8 if quick else None))
            row["layer"] = name
            row["shape"] = f"x {xs}, w {ws}, stride {S}, pad {P}"
            rows.append(row)
    if verbose:
        print_table(rows)
    return rows


def print_table(rows) -> None:
    seen = set()
    for r in rows:
        if r["layer"] not in seen:
            seen.add(r["layer"])
            print(f"{r['layer']}: {r['shape']}; naive timed on {r['naive_part']} and scaled x{r['naive_scale']:.0f}")
    head = f"{'layer':<14} {'dtype':<8} {'pass':<4} {'naive ms':>10} {'im2col ms':>10} {'torch ms':>9} " \
           f"{'im2col/torch':>12} {'naive/im2col':>12}"
    print(head)
    print("-" * len(head))
    for r in rows:
        for k, name in ((0, "fwd"), (1, "bwd")):
            print(f"{r['layer']:<14} {r['dtype']:<8} {name:<4} {r['naive'][k] * 1e3:>10.0f} {r['im2col'][k] * 1e3:>10.1f} "
                  f"{r['torch'][k] * 1e3:>9.1f} {r[f'im2col/torch {name}']:>12.2f} {r[f'naive/im2col {name}']:>12.0f}")
    g_fwd = geomean(r["im2col/torch fwd"] for r in rows)
    g_bwd = geomean(r["im2col/torch bwd"] for r in rows)
    g_naive = geomean(r[f"naive/im2col {p}"] for r in rows for p in ("fwd", "bwd"))
    print(f"geometric mean im2col/torch: forward {g_fwd:.2f} (target <= 1.5: {'met' if g_fwd <= 1.5 else 'NOT met'}), "
          f"backward {g_bwd:.2f} (target <= 2: {'met' if g_bwd <= 2 else 'NOT met'})")
    print(f"geometric mean naive/im2col: {g_naive:.0f}x (target >= 100x: {'met' if g_naive >= 100 else 'NOT met'})")
