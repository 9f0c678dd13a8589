"""The course data sets. Nothing here downloads anything.

- ``load_digits``: 1,797 real handwritten digits (8x8 grey, 10 classes) that ship with
  scikit-learn, split into train/val/test, optionally upsampled to 28x28 or 32x32.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Split:
    """Train/val/test arrays. X_*: images (N, 1, S, S) or flattened (N, S*S); y_*: int64 labels (N,)."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    classes: tuple

    def __repr__(self) -> str:
        parts = ", ".join(f"{k}={getattr(self, 'X_' + k).shape}" for k in ("train", "val", "test"))
        return f"Split({parts}, {len(self.classes)} classes)"


def stratified_split(y: np.ndarray, val_fraction: float, test_fraction: float, seed: int):
    """Indices (train, val, test) that keep each class's share in every part; shuffled by seed."""
    if not (0 <= val_fraction < 1 and 0 <= test_fraction < 1 and val_fraction + test_fraction < 1):
        raise ValueError(
            f"val_fraction={val_fraction} and test_fraction={test_fraction} must be in [0, 1) "
            "and leave something to train on (their sum below 1)"
        )
    rng = np.random.default_rng(seed)
    parts = ([], [], [])
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        n_test = int(round(test_fraction * len(idx)))
        n_val = int(round(val_fraction * len(idx)))
        parts[2].append(idx[:n_test])
        parts[1].append(idx[n_test:n_test + n_val])
        parts[0].append(idx[n_test + n_val:])
    return tuple(rng.permutation(np.concatenate(p)) for p in parts)


def resize_images(images: np.ndarray, size: int) -> np.ndarray:
    """Bilinear resize of (N, C, H, W) float images to (N, C, size, size)."""
    import torch
    import torch.nn.functional as F

    if images.ndim != 4:
        raise ValueError(f"resize_images expects (N, C, H, W) images, got shape {images.shape}")
    t = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32))
    out = F.interpolate(t, size=(size, size), mode="bilinear", align_corners=False)
    return out.numpy()


def load_digits(size: int = 8, flatten: bool = False, val_fraction: float = 0.15,
                test_fraction: float = 0.15, seed: int = 0, dtype=np.float32) -> Split:
    """Real handwritten digits from scikit-learn, scaled to [0, 1], as a stratified Split.

    size: 8 (the original), or a larger side such as 28 or 32 (bilinear upsampling).
    flatten: return X as (N, size*size) rows instead of (N, 1, size, size) images.
    With the defaults: 1,259 train, 269 val, 269 test images (rounded per class).
    """
    from sklearn.datasets import load_digits as _sk_load_digits

    if not isinstance(size, (int, np.integer)) or size < 8:
        raise ValueError(f"size must be an integer >= 8 (the digits are 8x8), got {size!r}")
    bunch = _sk_load_digits()
    X = (bunch.images / 16.0).astype(np.float32)[:, None, :, :]  # (1797, 1, 8, 8) in [0, 1]
    y = bunch.target.astype(np.int64)
    if size != 8:
        X = np.clip(resize_images(X, int(size)), 0.0, 1.0)
    X = X.astype(dtype)
    if flatten:
        X = X.reshape(len(X), -1)
    tr, va, te = stratified_split(y, val_fraction, test_fraction, seed)
    return Split(X[tr], y[tr], X[va], y[va], X[te], y[te], classes=tuple(range(10)))
