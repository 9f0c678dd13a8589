"""Time three convolutions side by side: naive loops, cnnkit's im2col, torch's CPU conv2d.

    python benchmarks/conv_bench.py              # full run (about a minute on one core)
    python benchmarks/conv_bench.py --quick      # a small run (a few seconds)
    python benchmarks/conv_bench.py --threads 2  # numpy's BLAS and torch both get 2 threads

The helpers live in ``cnnkit.bench`` (see its docstring for the layers and the method). Targets
(geometric means over layers and dtypes): im2col within 1.5x of torch forward and 2x backward,
and at least 100x faster than the naive loops.

numpy's float32 products run on OpenBLAS, whose kernels (printed with the thread counts) can be
chosen with the environment variable OPENBLAS_CORETYPE; on a machine with AVX-512 where
OPENBLAS_CORETYPE=Haswell is set, numpy's float32 products run at roughly half of what the CPU
can do, and the float32 im2col/torch ratios show it.
"""
from __future__ import annotations

import argparse
import sys

from cnnkit.bench import run


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smaller batches, naive loops on 8 filters, 3 repeats")
    ap.add_argument("--threads", type=int, default=1, help="threads for torch and numpy's BLAS (default 1)")
    ap.add_argument("--repeats", type=int, default=None, help="timed runs per figure (default 5, quick 3)")
    ap.add_argument("--dtype", choices=("float32", "float64", "both"), default="both")
    args = ap.parse_args(argv)
    dtypes = ("float32", "float64") if args.dtype == "both" else (args.dtype,)
    run(quick=args.quick, threads=args.threads, repeats=args.repeats, dtypes=dtypes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
