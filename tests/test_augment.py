"""cnnkit.augment: flips and crops move pixels and never invent them, draw afresh each epoch and
repeat with the seed, keep labels; Augmented feeds cnnkit.train.fit."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cnnkit.augment import Augmented, RandomCrop, RandomFlip
from cnnkit.data import DeviceLoader


def _batch(n=64, c=2, h=6, w=5):
    return torch.arange(n * c * h * w, dtype=torch.float32).reshape(n, c, h, w) + 1  # no zeros


def test_flip_mirrors_some_images_and_leaves_the_others():
    x = _batch()
    out = RandomFlip()(x, torch.Generator().manual_seed(0))
    flipped = [torch.equal(o, xi.flip(-1)) for o, xi in zip(out, x)]
    kept = [torch.equal(o, xi) for o, xi in zip(out, x)]
    assert all(f or k for f, k in zip(flipped, kept)) and 10 < sum(flipped) < 54
    assert torch.equal(RandomFlip(p=1.0)(x, torch.Generator()), x.flip(-1))
    assert torch.equal(RandomFlip(p=0.0)(x, torch.Generator()), x)


def test_crop_is_a_window_of_the_zero_padded_image():
    x, p = _batch(), 2
    out = RandomCrop(p)(x, torch.Generator().manual_seed(1))
    padded = F.pad(x, (p, p, p, p))
    offsets = set()
    for o, xp in zip(out, padded):
        found = [(i, j) for i in range(2 * p + 1) for j in range(2 * p + 1)
                 if torch.equal(o, xp[:, i:i + x.shape[2], j:j + x.shape[3]])]
        assert found, "a crop is not a window of the padded image"
        offsets.add(found[0])
    assert len(offsets) > 10   # the windows are spread over the 25 possible positions
    assert out.shape == x.shape and torch.equal(RandomCrop(0)(x, torch.Generator()), x)


def test_augmented_draws_anew_each_epoch_repeats_with_the_seed_and_keeps_labels():
    X, y = _batch(40), torch.arange(40)
    def epochs(seed):
        aug = Augmented(DeviceLoader(X, y, 16, "cpu"), RandomFlip(), RandomCrop(1), seed=seed)
        return [list(aug) for _ in range(2)]
    a, b = epochs(0), epochs(0)
    assert len(Augmented(DeviceLoader(X, y, 16, "cpu"), RandomFlip())) == 3
    for (xa, ya), (xb, yb) in zip(a[0], b[0]):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
    assert not all(torch.equal(p[0], q[0]) for p, q in zip(a[0], a[1]))  # a new draw in epoch 2
    assert torch.equal(torch.cat([yy for _, yy in a[0]]), y)


def test_fit_trains_on_augmented_batches():
    from cnnkit.train import fit
    torch.manual_seed(0)
    X = torch.rand(32, 1, 6, 6)
    y = (X.mean((1, 2, 3)) > 0.5).long()
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(36, 2))
    h = fit(model, Augmented(DeviceLoader(X, y, 8, "cpu", shuffle=True), RandomFlip()), epochs=2, device="cpu",
            progress=False, schedule=None)
    assert h.epochs == 2 and np.isfinite(h.train_loss).all()


@pytest.mark.parametrize("call, message", [
    (lambda: RandomFlip(p=1.5), "probability"),
    (lambda: RandomCrop(padding=-1), "non-negative integer"),
    (lambda: RandomFlip()(torch.zeros(3, 4), torch.Generator()), r"\(N, C, H, W\)"),
    (lambda: Augmented([]), "at least one transform"),
])
def test_bad_input_is_refused(call, message):
    with pytest.raises(ValueError, match=message):
        call()
