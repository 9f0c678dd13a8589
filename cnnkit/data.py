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


# ---------------------------------------------------------------------------------------------
# Procedural shapes: a 32x32 RGB data set generated on the fly (no download, any size).
# ---------------------------------------------------------------------------------------------

SHAPES = ("disc", "square", "triangle", "plus", "ring")
TEXTURES = ("solid", "striped")
SHAPE_CLASSES = tuple(f"{t} {s}" for s in SHAPES for t in TEXTURES)  # class = 2 * shape + texture


def _shape_masks(u: np.ndarray, v: np.ndarray, shape: np.ndarray) -> np.ndarray:
    """Boolean masks (B, S, S) of each image's shape in its own rotated, scaled frame (u, v).

    The shape fills roughly the unit disc of (u, v); shape[i] picks the kind (index into SHAPES).
    """
    r2 = u * u + v * v
    masks = np.empty(u.shape, dtype=bool)
    for k in range(len(SHAPES)):  # a loop over the 5 kinds, not over pixels
        sel = shape == k
        if not sel.any():
            continue
        uu, vv, rr = u[sel], v[sel], r2[sel]
        if k == 0:    # disc
            m = rr <= 1.0
        elif k == 1:  # square (same area as the disc, roughly)
            m = np.maximum(np.abs(uu), np.abs(vv)) <= 0.85
        elif k == 2:  # equilateral triangle: three half-planes
            m = np.ones(uu.shape, dtype=bool)
            for a in (np.pi / 2, np.pi / 2 + 2 * np.pi / 3, np.pi / 2 + 4 * np.pi / 3):
                m &= (uu * np.cos(a) + vv * np.sin(a)) >= -0.55
        elif k == 3:  # plus sign
            m = ((np.abs(uu) <= 0.33) & (np.abs(vv) <= 1.0)) | ((np.abs(vv) <= 0.33) & (np.abs(uu) <= 1.0))
        else:         # ring: a disc with a hole
            m = (rr <= 1.0) & (rr >= 0.5 ** 2)
        masks[sel] = m
    return masks


def make_shapes(n: int, seed: int = 0, size: int = 32, noise: float = 0.06, chunk: int = 4096):
    """n procedural RGB images of 10 classes and their labels, deterministic by (n, seed, size).

    Each image holds one shape (disc, square, triangle, plus, ring) filled either with one colour
    ("solid") or with stripes of two colours ("striped"); the class is 2 * shape + texture, so a
    model must see both the outline and the texture (SHAPE_CLASSES names them). Everything else
    is a nuisance drawn at random per image: the shape's colours, the background colour and its
    smooth gradient, position, scale (radius 5 to 11 pixels at size 32), rotation, the stripes'
    period (3 to 5 pixels) and direction, and uniform pixel noise of standard deviation `noise`.

    Returns X: float32 (n, 3, size, size) in [0, 1], y: int64 (n,), classes balanced in
    expectation. Vectorised numpy in chunks of `chunk` images: 50,000 images take seconds.
    """
    if not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"n must be a non-negative integer, got {n!r}")
    if not isinstance(size, (int, np.integer)) or size < 8:
        raise ValueError(f"size must be an integer >= 8, got {size!r}")
    n, size = int(n), int(size)
    rng = np.random.default_rng(seed)
    scale = size / 32.0
    # every per-image parameter is drawn up front, so chunking does not change the images
    y = rng.integers(0, len(SHAPE_CLASSES), n).astype(np.int64)
    shape, striped = y // 2, (y % 2).astype(bool)
    radius = rng.uniform(5.0, 11.0, n) * scale
    cx = rng.uniform(radius, size - radius)  # the shape stays (almost) inside the image
    cy = rng.uniform(radius, size - radius)
    angle = rng.uniform(0, 2 * np.pi, n)
    period = rng.uniform(3.0, 5.0, n) * scale
    stripe_dir = rng.uniform(0, np.pi, n)
    stripe_phase = rng.uniform(0, 2 * np.pi, n)
    fg1, fg2, bg = (rng.uniform(0, 1, (n, 3)) for _ in range(3))
    # keep the shape visible: push the background away from the first foreground colour
    close = np.abs(fg1 - bg).sum(1) < 0.6
    bg[close] = 1.0 - fg1[close]
    grad = rng.uniform(-0.25, 0.25, (n, 2))  # background brightness slope across the image
    noise_seed = int(rng.integers(0, 2**63 - 1))

    X = np.empty((n, 3, size, size), dtype=np.float32)
    f32 = lambda a: np.asarray(a, dtype=np.float32)  # noqa: E731 - float32 throughout: half the memory traffic
    coords = np.arange(size, dtype=np.float32) + 0.5
    gx, gy = coords[None, None, :], coords[None, :, None]  # column (x) and row (y) centres, broadcastable
    noise_rng = np.random.default_rng(noise_seed)
    for lo in range(0, n, chunk):
        s = slice(lo, min(n, lo + chunk))
        col = lambda a: f32(a[s])[:, None, None]  # noqa: E731 - per-image value as (B, 1, 1)
        dx, dy = gx - col(cx), gy - col(cy)  # (B, S, S) by broadcasting
        c, si, r = col(np.cos(angle)), col(np.sin(angle)), col(radius)
        u, v = (c * dx + si * dy) / r, (c * dy - si * dx) / r
        mask = _shape_masks(u, v, shape[s])
        d = col(np.cos(stripe_dir)) * dx + col(np.sin(stripe_dir)) * dy
        stripe = np.sin(d * col(2 * np.pi / period) + col(stripe_phase)) > 0
        second = stripe & striped[s, None, None]  # pixels painted with the second colour
        ramp = col(grad[:, 0]) * (gx / size - 0.5) + col(grad[:, 1]) * (gy / size - 0.5)
        img = f32(bg[s])[:, :, None, None] + ramp[:, None]  # (B, 3, S, S)
        np.copyto(img, f32(fg1[s])[:, :, None, None], where=(mask & ~second)[:, None])
        np.copyto(img, f32(fg2[s])[:, :, None, None], where=(mask & second)[:, None])
        # uniform noise of standard deviation `noise` (uniform draws are ~8x faster than Gaussian)
        img += (noise_rng.random(img.shape, dtype=np.float32) - np.float32(0.5)) * np.float32(noise * 12 ** 0.5)
        np.clip(img, 0.0, 1.0, out=X[s])
    return X, y


def load_shapes(n_train: int = 5000, n_val: int = 1000, n_test: int = 1000, seed: int = 0,
                size: int = 32) -> Split:
    """The procedural shapes (see make_shapes) as a Split; X float32 (N, 3, size, size) in [0, 1].

    The three parts come from one stream of n_train + n_val + n_test images, so they never
    share an image and the same arguments give the same arrays.
    """
    for name, k in (("n_train", n_train), ("n_val", n_val), ("n_test", n_test)):
        if not isinstance(k, (int, np.integer)) or k < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {k!r}")
    X, y = make_shapes(n_train + n_val + n_test, seed=seed, size=size)
    a, b = n_train, n_train + n_val
    return Split(X[:a], y[:a], X[a:b], y[a:b], X[b:], y[b:], classes=SHAPE_CLASSES)


# ---------------------------------------------------------------------------------------------
# CIFAR-10 from the official python archive (downloaded only when asked).
# ---------------------------------------------------------------------------------------------

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_FILE = "cifar-10-python.tar.gz"
CIFAR10_MD5 = "c58f30108f718f92721af3b95e74349a"
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def _md5(path) -> str:
    import hashlib

    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def download_cifar10(root):
    """Download the official archive into root/ and check its md5; return its path."""
    import os
    import urllib.request
    from pathlib import Path

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    path = root / CIFAR10_FILE
    part = path.with_name(path.name + ".part")
    try:
        with urllib.request.urlopen(CIFAR10_URL, timeout=60) as r, open(part, "wb") as f:
            while True:
                block = r.read(1 << 20)
                if not block:
                    break
                f.write(block)
    except OSError as exc:
        if part.exists():
            part.unlink()
        raise FileNotFoundError(
            f"could not download CIFAR-10 from {CIFAR10_URL} ({exc}). "
            f"Download it by hand and put it at {path.resolve()}") from exc
    got = _md5(part)
    if got != CIFAR10_MD5:
        part.unlink()
        raise ValueError(f"the downloaded CIFAR-10 archive has md5 {got}, expected {CIFAR10_MD5}: try again")
    os.replace(part, path)
    return path


def _unpickle_batch(raw: bytes):
    import pickle

    d = pickle.loads(raw, encoding="bytes")
    X = np.asarray(d[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
    y = np.asarray(d[b"labels"], dtype=np.int64)
    if len(X) != len(y):
        raise ValueError(f"a CIFAR-10 batch has {len(X)} images but {len(y)} labels")
    return X, y


def load_cifar10(root="data", download: bool = False, val_size: int = 5000, seed: int = 0) -> Split:
    """CIFAR-10 (50,000 train + 10,000 test 32x32 RGB images) as a Split of float32 in [0, 1].

    Reads root/cifar-10-python.tar.gz (the official python archive, 170 MB), or an already
    extracted root/cifar-10-batches-py/. The last val_size training images, after a shuffle by
    seed, become the validation part; the official test batch is the test part.
    download=True fetches the archive (md5 checked) when it is missing; without it, a missing
    archive raises FileNotFoundError saying where to put it. Nothing is downloaded otherwise.
    """
    import tarfile
    from pathlib import Path

    root = Path(root)
    archive, folder = root / CIFAR10_FILE, root / "cifar-10-batches-py"
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    raw = {}
    if folder.is_dir() and all((folder / n).exists() for n in names):
        raw = {n: (folder / n).read_bytes() for n in names}
    else:
        if not archive.exists():
            if download:
                download_cifar10(root)
            else:
                raise FileNotFoundError(
                    f"CIFAR-10 not found: expected the archive {archive.resolve()} "
                    f"(or its extracted folder {folder.resolve()}). Put the file there, "
                    f"download it yourself from {CIFAR10_URL} (md5 {CIFAR10_MD5}), "
                    f"or call load_cifar10({str(root)!r}, download=True) on a machine that is online.")
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar.getmembers():
                base = member.name.rsplit("/", 1)[-1]
                if base in names and member.isfile():
                    raw[base] = tar.extractfile(member).read()
        missing = [n for n in names if n not in raw]
        if missing:
            raise ValueError(f"{archive} is not the CIFAR-10 python archive: it lacks {', '.join(missing)}")
    parts = [_unpickle_batch(raw[n]) for n in names]
    X_tr = np.concatenate([p[0] for p in parts[:5]])
    y_tr = np.concatenate([p[1] for p in parts[:5]])
    X_te, y_te = parts[5]
    if not 0 <= val_size < len(X_tr):
        raise ValueError(f"val_size must be in [0, {len(X_tr)}), got {val_size}")
    order = np.random.default_rng(seed).permutation(len(X_tr))
    tr, va = order[: len(X_tr) - val_size], order[len(X_tr) - val_size:]
    f = lambda a: (a.astype(np.float32) / 255.0)  # noqa: E731
    return Split(f(X_tr[tr]), y_tr[tr], f(X_tr[va]), y_tr[va], f(X_te), y_te, classes=CIFAR10_CLASSES)


# ---------------------------------------------------------------------------------------------
# Batches from data kept on the device.
# ---------------------------------------------------------------------------------------------

class DeviceLoader:
    """Puts a whole data set on `device` once and yields (x, y) batches from it.

    X: images (N, C, H, W) (numpy or torch, float), y: integer labels (N,). Each epoch draws a
    new order from a generator seeded by (seed, epoch) when shuffle=True; batches are index
    selections on the device, so no batch is copied from the host. len() is the number of
    batches per epoch. For GPU training the data must fit in GPU memory: CIFAR-10 as float32 is
    50,000 x 3 x 32 x 32 x 4 bytes = 614 MB (307 MB in 16-bit, see `dtype`). Images are stored
    as float32 unless they are already 16-bit or `dtype` says otherwise.
    """

    def __init__(self, X, y, batch_size: int = 128, device=None, shuffle: bool = False,
                 seed: int = 0, drop_last: bool = False, dtype=None):
        import torch

        from .device import pick_device

        X = torch.as_tensor(X)
        y = torch.as_tensor(y)
        if X.ndim < 2:
            raise ValueError(f"X must have a batch dimension and features, e.g. (N, C, H, W); got shape {tuple(X.shape)}")
        if y.ndim != 1:
            raise ValueError(f"y must be a 1-D vector of class labels (N,), got shape {tuple(y.shape)}")
        if len(X) != len(y):
            raise ValueError(f"X has {len(X)} examples but y has {len(y)} labels")
        if y.dtype.is_floating_point or y.dtype == torch.bool or y.dtype.is_complex:
            raise ValueError(f"y must hold integer class labels, got dtype {y.dtype}")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        self.device = pick_device() if device is None else torch.device(device)
        if dtype is None:  # float64 or integer images become float32; 16-bit ones stay as they are
            dtype = X.dtype if X.dtype in (torch.float32, torch.float16, torch.bfloat16) else torch.float32
        self.X = X.to(self.device, dtype=dtype)
        self.y = y.to(self.device, dtype=torch.int64)
        self.batch_size, self.shuffle, self.seed, self.drop_last = batch_size, shuffle, seed, drop_last
        self.epoch = 0

    def __len__(self) -> int:
        n = len(self.y)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self):
        import torch

        n = len(self.y)
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
            order = torch.randperm(n, generator=g).to(self.device)
        else:
            order = None
        self.epoch += 1
        for b in range(len(self)):
            lo, hi = b * self.batch_size, min(n, (b + 1) * self.batch_size)
            if order is None:
                yield self.X[lo:hi], self.y[lo:hi]
            else:
                idx = order[lo:hi]
                yield self.X[idx], self.y[idx]

    @property
    def num_examples(self) -> int:
        return len(self.y)

    def __repr__(self) -> str:
        return (f"DeviceLoader({len(self.y)} examples of {tuple(self.X.shape[1:])} on {self.device}, "
                f"batch_size={self.batch_size}, shuffle={self.shuffle}, {len(self)} batches)")
