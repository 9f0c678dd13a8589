"""Data augmentation on the device: random horizontal flips and random crops of training batches.

Each transform takes a batch x (N, C, H, W) (a torch tensor, on any device) and a torch.Generator
(on the CPU: the draws do not depend on the device) and returns a new batch of the same shape;
a transform changes every image independently and never its label. `Augmented` wraps a loader
of (x, y) batches (a cnnkit.data.DeviceLoader) so that `cnnkit.train.fit` sees every training
image through fresh random transforms in every epoch:

    train = Augmented(DeviceLoader(X, y, 64, device, shuffle=True), RandomFlip(), RandomCrop(4))
    fit(model, train, ...)

Augment the training data only: validation and test images are evaluated as they are.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["RandomFlip", "RandomCrop", "Augmented"]


def _check_batch(name: str, x):
    if not isinstance(x, torch.Tensor) or x.ndim != 4:
        raise ValueError(f"{name}: expected a batch of images as a tensor (N, C, H, W), "
                         f"got {type(x).__name__} of shape {tuple(getattr(x, 'shape', ()))}")


@dataclass(frozen=True)
class RandomFlip:
    """Mirror each image left-right with probability p."""

    p: float = 0.5

    def __post_init__(self):
        if not 0.0 <= self.p <= 1.0:
            raise ValueError(f"RandomFlip: p is a probability in [0, 1], got {self.p!r}")

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        _check_batch("RandomFlip", x)
        flip = (torch.rand(len(x), generator=generator) < self.p).to(x.device)
        return torch.where(flip[:, None, None, None], x.flip(-1), x)


@dataclass(frozen=True)
class RandomCrop:
    """Pad each image with `padding` zeros on every side and cut out a window of the original size
    at a random position: a shift by up to `padding` pixels in each direction, the uncovered border
    filled with zeros (the CIFAR-10 recipe of the ResNet paper: padding 4 on 32x32 images)."""

    padding: int = 4

    def __post_init__(self):
        if not isinstance(self.padding, int) or self.padding < 0:
            raise ValueError(f"RandomCrop: padding must be a non-negative integer, got {self.padding!r}")

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        _check_batch("RandomCrop", x)
        n, c, h, w = x.shape
        p = self.padding
        if p == 0:
            return x.clone()
        offsets = torch.randint(0, 2 * p + 1, (n, 2), generator=generator).to(x.device)
        padded = torch.nn.functional.pad(x, (p, p, p, p))
        rows = (offsets[:, 0, None] + torch.arange(h, device=x.device))[:, None, :, None]   # (N, 1, H, 1)
        cols = (offsets[:, 1, None] + torch.arange(w, device=x.device))[:, None, None, :]   # (N, 1, 1, W)
        batch = torch.arange(n, device=x.device)[:, None, None, None]
        chan = torch.arange(c, device=x.device)[None, :, None, None]
        return padded[batch, chan, rows, cols]


class Augmented:
    """Batches of `loader` with each transform applied in turn; new random draws every epoch,
    from a generator seeded by (seed, epoch), so that a run repeats exactly."""

    def __init__(self, loader, *transforms, seed: int = 0):
        if not transforms:
            raise ValueError("Augmented: give at least one transform, e.g. RandomFlip()")
        for t in transforms:
            if not callable(t):
                raise TypeError(f"Augmented: a transform must be callable as t(x, generator), got {t!r}")
        self.loader, self.transforms, self.seed, self.epoch = loader, transforms, seed, 0

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self):
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        self.epoch += 1
        for x, y in self.loader:
            for t in self.transforms:
                x = t(x, g)
            yield x, y

    def __repr__(self) -> str:
        return f"Augmented({self.loader!r}, {', '.join(map(repr, self.transforms))})"
