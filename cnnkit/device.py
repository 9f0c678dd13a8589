"""Choosing where tensors live, and seeding every random number generator.

Pick the device once, at the top of a notebook, and pass it around:

    device = pick_device()          # cuda, then mps, then cpu
    device = pick_device("cpu")     # force the CPU (e.g. for reproducible stored outputs)

The environment variable CNNKIT_DEVICE overrides the automatic choice ("cpu", "cuda", "mps").
"""
from __future__ import annotations

import os
import random

import numpy as np
import torch

_KNOWN = ("cuda", "mps", "cpu")


def _available(kind: str) -> bool:
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


def seed_everything(seed: int = 0) -> np.random.Generator:
    """Seed Python's, numpy's and torch's generators (all devices); return a fresh numpy Generator.

    Seeding makes a run repeatable on the same machine and library versions. Across different
    hardware the last bits of floating-point results can still differ.
    """
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    random.seed(int(seed))
    np.random.seed(int(seed) % 2**32)
    torch.manual_seed(int(seed))
    return np.random.default_rng(int(seed))


def make_repeatable(device: torch.device) -> bool:
    """On the CPU: one thread and PyTorch's deterministic algorithms; returns True if it did so.

    Small models gain little from more threads, a shared machine punishes them, and with one thread
    and the seed a rerun gives the same numbers, which is what lets stored notebook outputs be
    compared. On a GPU nothing changes: some kernels (e.g. average pooling's backward) have no
    deterministic version there, and speed matters more.
    """
    if torch.device(device).type != "cpu":
        return False
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    return True
