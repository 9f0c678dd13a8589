import numpy as np
import pytest
import torch

from cnnkit import data
from cnnkit.device import pick_device, seed_everything


def test_digits_split_sizes_are_disjoint_and_stratified():
    split = data.load_digits()
    sizes = (len(split.y_train), len(split.y_val), len(split.y_test))
    assert sum(sizes) == 1797
    assert sizes == (1259, 269, 269)  # the split the load_digits docstring states
    assert split.X_train.shape[1:] == (1, 8, 8)
    assert split.X_train.dtype == np.float32
    assert 0.0 <= split.X_train.min() and split.X_train.max() <= 1.0
    # every class appears in every part, in roughly the same share
    for y in (split.y_train, split.y_val, split.y_test):
        counts = np.bincount(y, minlength=10)
        assert counts.min() > 0
        assert counts.max() - counts.min() <= max(3, 0.1 * len(y))
    # no image is in two parts: compare the raw bytes of each row
    rows = [set(map(bytes, X.reshape(len(X), -1))) for X in (split.X_train, split.X_val, split.X_test)]
    assert not (rows[0] & rows[1]) and not (rows[0] & rows[2]) and not (rows[1] & rows[2])


def test_digits_deterministic_by_seed_and_different_across_seeds():
    a, b, c = data.load_digits(seed=3), data.load_digits(seed=3), data.load_digits(seed=4)
    assert np.array_equal(a.y_train, b.y_train)
    assert not np.array_equal(a.y_train, c.y_train)


def test_digits_upsampled_and_flattened():
    split = data.load_digits(size=28, flatten=True)
    assert split.X_train.shape[1] == 28 * 28
    assert 0.0 <= split.X_train.min() and split.X_train.max() <= 1.0
    assert "train=" in repr(split)


def test_digits_bad_arguments():
    with pytest.raises(ValueError, match="size must be an integer >= 8"):
        data.load_digits(size=4)
    with pytest.raises(ValueError, match="leave something to train on"):
        data.load_digits(val_fraction=0.5, test_fraction=0.5)


def test_resize_images_needs_4d():
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        data.resize_images(np.zeros((8, 8)), 16)


def test_pick_device_respects_preference_and_environment(monkeypatch):
    assert pick_device("cpu") == torch.device("cpu")
    monkeypatch.setenv("CNNKIT_DEVICE", "cpu")
    assert pick_device() == torch.device("cpu")
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        pick_device("tpu")


def test_pick_device_rejects_missing_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="not available.*available: "):
        pick_device("cuda")


def test_pick_device_prefers_cuda_when_present(monkeypatch):
    monkeypatch.delenv("CNNKIT_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert pick_device().type == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert pick_device().type in ("mps", "cpu")


def test_seed_everything_repeats_all_generators():
    seed_everything(7)
    a = (np.random.rand(), torch.rand(1).item())
    rng = seed_everything(7)
    b = (np.random.rand(), torch.rand(1).item())
    assert a == b
    assert isinstance(rng, np.random.Generator)
    with pytest.raises(ValueError, match="non-negative integer"):
        seed_everything(-1)


def test_make_repeatable_only_touches_the_cpu(monkeypatch):
    from cnnkit.device import make_repeatable

    calls = []
    monkeypatch.setattr(torch, "set_num_threads", lambda n: calls.append(("threads", n)))
    monkeypatch.setattr(torch, "use_deterministic_algorithms", lambda on: calls.append(("deterministic", on)))
    assert make_repeatable(torch.device("cuda")) is False and calls == []
    assert make_repeatable(torch.device("cpu")) is True
    assert calls == [("threads", 1), ("deterministic", True)]


def test_backend_flags_set_and_restore():
    from cnnkit.device import backend_flags, restore_backend_flags, set_backend_flags

    original = backend_flags()
    try:
        before = set_backend_flags(cudnn_benchmark=True, tf32=False)
        assert before == original
        assert backend_flags() == {"cudnn_benchmark": True, "tf32_conv": False, "tf32_matmul": False}
        set_backend_flags(tf32=True)  # None leaves cudnn_benchmark alone
        assert backend_flags() == {"cudnn_benchmark": True, "tf32_conv": True, "tf32_matmul": True}
        restore_backend_flags(before)
        assert backend_flags() == original
    finally:
        restore_backend_flags(original)


def test_synchronize_is_a_no_op_on_the_cpu(monkeypatch):
    from cnnkit.device import synchronize

    calls = []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda *a: calls.append(a))
    synchronize("cpu")
    assert calls == []
    synchronize("cuda")
    assert len(calls) == 1


def test_seed_numpy_seeds_as_seed_everything_does_without_importing_torch():
    """A numpy-only notebook (A1) seeds with seed_numpy: the same numbers as seed_everything's, and
    torch is not imported by cnnkit.device, cnnkit.data or the seeding (a second per grading)."""
    import subprocess
    import sys

    code = ("import sys\n"
            "from cnnkit.device import seed_numpy\n"
            "from cnnkit.data import load_digits\n"
            "import numpy as np, random\n"
            "rng = seed_numpy(5)\n"
            "print(rng.integers(1000), np.random.randint(1000), random.randint(0, 1000))\n"
            "load_digits(flatten=True)\n"
            "assert 'torch' not in sys.modules, 'torch was imported'\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    import random

    import numpy as np

    from cnnkit.device import seed_everything

    rng = seed_everything(5)
    assert done.stdout.split() == [str(v) for v in (rng.integers(1000), np.random.randint(1000), random.randint(0, 1000))]
    assert torch.initial_seed() == 5
