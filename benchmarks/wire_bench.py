"""Cost of one checker -> kernel call over the grading channel (autograder.wire), without a kernel.

A forked process runs the kernel's side (`wire.serve`) over a socket pair; this process calls a
small numpy function through a proxy (`checker.Channel`), as a test cell does at grading time,
and prints the median of several rounds of N calls.

    python benchmarks/wire_bench.py            # 1000 calls x 5 rounds
    python benchmarks/wire_bench.py --n 200 --rounds 3
"""
from __future__ import annotations

import argparse
import os
import socket
import statistics
import time

import numpy as np

from autograder import checker, wire


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x)), x


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    kernel_end, checker_end = socket.socketpair()
    session = "0123456789abcdef"
    pid = os.fork()
    if pid == 0:  # the kernel's side
        checker_end.close()
        wire.serve({"sigmoid": _sigmoid}, kernel_end.fileno(), session)
        os._exit(0)
    kernel_end.close()
    worker_r, worker_w = os.pipe()  # the worker's pipe: unused here
    channel = checker.Channel(lambda msg: None, wire.LineReader(worker_r), checker_end.fileno())
    channel.session = session
    channel._answer()  # the server's first line
    sigmoid = channel.request({"op": "names", "names": ["sigmoid"]})["sigmoid"]
    x = np.random.default_rng(0).standard_normal((2, 3, 4))
    per_call = []
    for _ in range(args.rounds):
        t0 = time.perf_counter()
        for _ in range(args.n):
            sigmoid(x)
        per_call.append((time.perf_counter() - t0) / args.n)
    channel.end()
    os.waitpid(pid, 0)
    print(f"{args.n} calls x {args.rounds} rounds of a (2, 3, 4) float64 array each way: "
          f"median {1000 * statistics.median(per_call):.3f} ms per call "
          f"(rounds: {', '.join(f'{1000 * t:.3f}' for t in per_call)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
