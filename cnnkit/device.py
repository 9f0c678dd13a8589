"""Choosing where tensors live, and seeding every random number generator.

Pick the device once, at the top of a notebook, and pass it around:

    device = pick_device()          # cuda, then mps, then cpu
    device = pick_device("cpu")     # force the CPU (e.g. for reproducible stored outputs)

The environment variable CNNKIT_DEVICE overrides the automatic choice ("cpu", "cuda", "mps").

torch is imported by the functions that use it, not by this module: a numpy-only notebook seeds
with `seed_numpy` and never pays torch's second of import (an assignment graded 300 times).
"""
from __future__ import annotations

import os
import random
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

_KNOWN = ("cuda", "mps", "cpu")


def _available(kind: str) -> bool:
    import torch

    if kind == "cpu":
        return True
    if kind == "cuda":
        return torch.cuda.is_available()
    if kind == "mps":
        mps = getattr(torch.backends, "mps", None)
        return bool(mps is not None and mps.is_available())
    return False


def pick_device(prefer: str | None = None) -> torch.device:
    """Return the device to compute on: `prefer`, else $CNNKIT_DEVICE, else CUDA, MPS, CPU.

    A preference that names an unknown kind or a device this machine does not have raises a
    ValueError that says which devices are available.
    """
    import torch

    choice = prefer or os.environ.get("CNNKIT_DEVICE") or None
    if choice is not None:
        kind = str(choice).split(":")[0].lower()
        if kind not in _KNOWN:
            raise ValueError(f"unknown device {choice!r}: expected one of {', '.join(_KNOWN)}")
        if not _available(kind):
            have = [k for k in _KNOWN if _available(k)]
            raise ValueError(f"device {choice!r} is not available on this machine; available: {', '.join(have)}")
        return torch.device(choice)
    for kind in _KNOWN:
        if _available(kind):
            return torch.device(kind)
    return torch.device("cpu")  # pragma: no cover - the loop always returns


def seed_numpy(seed: int = 0) -> np.random.Generator:
    """Seed Python's and numpy's generators; return a fresh numpy Generator. For a notebook that
    uses numpy only: it does not import torch (seed_everything seeds torch too)."""
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    random.seed(int(seed))
    np.random.seed(int(seed) % 2**32)
    return np.random.default_rng(int(seed))


def seed_everything(seed: int = 0) -> np.random.Generator:
    """Seed Python's, numpy's and torch's generators (all devices); return a fresh numpy Generator.

    Seeding makes a run repeatable on the same machine and library versions. Across different
    hardware the last bits of floating-point results can still differ.
    """
    import torch

    rng = seed_numpy(seed)
    torch.manual_seed(int(seed))
    return rng


def make_repeatable(device: torch.device) -> bool:
    """On the CPU: one thread and PyTorch's deterministic algorithms; returns True if it did so.

    Small models gain little from more threads, a shared machine punishes them, and with one thread
    and the seed a rerun gives the same numbers, which is what lets stored notebook outputs be
    compared. On a GPU nothing changes: some kernels (e.g. average pooling's backward) have no
    deterministic version there, and speed matters more.
    """
    import torch

    if torch.device(device).type != "cpu":
        return False
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    return True


# ------------------------------------------------------------------ backend flags and memory

def synchronize(device) -> None:
    """Wait until the work queued on `device` has finished (CUDA, MPS; nothing to wait for on a
    CPU). Read a clock only after this: GPU calls return as soon as the work is queued."""
    import torch

    kind = torch.device(device).type
    if kind == "cuda":
        torch.cuda.synchronize(device)
    elif kind == "mps":
        torch.mps.synchronize()


def backend_flags() -> dict:
    """The global switches that change GPU arithmetic and speed, as they are now:

    cudnn_benchmark: cuDNN times its convolution algorithms per input shape and keeps the fastest;
    tf32_conv / tf32_matmul: float32 convolutions / matrix products may run on tensor cores in
    TF32 (float32's 8 exponent bits, only 10 mantissa bits in the products; Ampere and newer).
    PyTorch's defaults: cudnn_benchmark False, tf32_conv True, tf32_matmul False. They matter on
    CUDA only.
    """
    import torch

    return {"cudnn_benchmark": bool(torch.backends.cudnn.benchmark),
            "tf32_conv": bool(torch.backends.cudnn.allow_tf32),
            "tf32_matmul": bool(torch.backends.cuda.matmul.allow_tf32)}


def set_backend_flags(cudnn_benchmark: bool | None = None, tf32: bool | None = None) -> dict:
    """Set cudnn.benchmark and/or TF32 (convolutions and matrix products alike); None leaves a
    flag alone. Returns the flags as they were, for restore_backend_flags."""
    import torch

    before = backend_flags()
    if cudnn_benchmark is not None:
        torch.backends.cudnn.benchmark = bool(cudnn_benchmark)
    if tf32 is not None:
        torch.backends.cudnn.allow_tf32 = bool(tf32)
        torch.backends.cuda.matmul.allow_tf32 = bool(tf32)
    return before


def restore_backend_flags(flags: dict) -> None:
    """Put back what set_backend_flags (or backend_flags) returned."""
    import torch

    torch.backends.cudnn.benchmark = flags["cudnn_benchmark"]
    torch.backends.cudnn.allow_tf32 = flags["tf32_conv"]
    torch.backends.cuda.matmul.allow_tf32 = flags["tf32_matmul"]


class PeakMemory:
    """The peak memory of a piece of work itself, not counting what was resident before it.

        meter = PeakMemory(device)
        ...warm-up steps (cuDNN autotuning and compilation allocate here, not counted)...
        meter.start()
        ...timed training steps...
        step_bytes = meter.stop()      # None on a device whose allocator PyTorch does not track

    start() waits for the device, resets the allocator's peak and reads what is allocated now
    (the weights, the optimizer state, the gradients, data sets kept on the device): `resident`.
    stop() waits again and returns the peak since start() minus `resident`: the activations kept
    for the backward pass, workspaces and temporaries of the steps in between.
    `allocator` is anything with memory_allocated(), max_memory_allocated(),
    reset_peak_memory_stats() and synchronize() (default: torch.cuda on a CUDA device; a test
    passes a fake one). On a CPU or MPS, start() and stop() do nothing and stop() returns None.
    """

    def __init__(self, device, allocator=None):
        import torch

        self.device = torch.device(device)
        if allocator is None and self.device.type == "cuda":
            allocator = torch.cuda
        self.allocator = allocator
        self.resident = None
        self.peak = None
        self.step_bytes = None

    def start(self) -> None:
        if self.allocator is None:
            return
        self.allocator.synchronize()
        self.allocator.reset_peak_memory_stats()
        self.resident = int(self.allocator.memory_allocated())

    def stop(self) -> int | None:
        if self.allocator is None:
            return None
        if self.resident is None:
            raise RuntimeError("PeakMemory.stop() before start(): call start() after the warm-up")
        self.allocator.synchronize()
        self.peak = int(self.allocator.max_memory_allocated())
        self.step_bytes = self.peak - self.resident
        return self.step_bytes
