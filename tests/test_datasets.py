"""The procedural shapes, the CIFAR-10 loader (on a tiny archive in the official format) and
DeviceLoader."""
import io
import pickle
import tarfile

import numpy as np
import pytest
import torch

from cnnkit import data


def test_shapes_types_ranges_and_all_classes():
    X, y = data.make_shapes(600, seed=1)
    assert X.shape == (600, 3, 32, 32) and X.dtype == np.float32
    assert y.shape == (600,) and y.dtype == np.int64
    assert 0.0 <= X.min() and X.max() <= 1.0
    assert set(np.unique(y)) == set(range(10)) == set(range(len(data.SHAPE_CLASSES)))
    assert X.std() > 0.1  # images, not a constant


def test_shapes_deterministic_by_seed():
    a, b, c = data.make_shapes(200, seed=5), data.make_shapes(200, seed=5), data.make_shapes(200, seed=6)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])
    # chunking is an implementation detail: it does not change the images
    d = data.make_shapes(200, seed=5, chunk=37)
    assert np.array_equal(a[0], d[0])


def test_shapes_other_size_and_bad_arguments():
    X, _ = data.make_shapes(10, seed=0, size=48)
    assert X.shape == (10, 3, 48, 48)
    with pytest.raises(ValueError, match="n must be"):
        data.make_shapes(-1)
    with pytest.raises(ValueError, match="size"):
        data.make_shapes(3, size=4)


def test_shapes_classes_differ_in_shape_and_texture():
    """Class = 2 * shape + texture: striped images have more high-frequency energy inside."""
    X, y = data.make_shapes(2000, seed=0, noise=0.0)
    grad = np.abs(np.diff(X, axis=3)).mean(axis=(1, 2, 3))
    assert grad[y % 2 == 1].mean() > 1.5 * grad[y % 2 == 0].mean()


def test_fifty_thousand_images():
    X, y = data.make_shapes(50_000, seed=0)
    assert X.shape == (50_000, 3, 32, 32) and np.isfinite(X).all()
    counts = np.bincount(y, minlength=10)
    assert counts.min() > 4500 and counts.max() < 5500


def test_load_shapes_split():
    s = data.load_shapes(300, 50, 70, seed=2)
    assert (len(s.y_train), len(s.y_val), len(s.y_test)) == (300, 50, 70)
    assert s.classes == data.SHAPE_CLASSES and s.X_test.shape[1:] == (3, 32, 32)
    X, y = data.make_shapes(420, seed=2)
    assert np.array_equal(s.X_val, X[300:350]) and np.array_equal(s.y_test, y[350:])


def _write_tiny_cifar(path, n_per_batch=4):
    """An archive in the official layout: cifar-10-batches-py/data_batch_1..5, test_batch."""
    rng = np.random.default_rng(0)
    batches = {}
    with tarfile.open(path, "w:gz") as tar:
        for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            d = {b"data": rng.integers(0, 256, (n_per_batch, 3072), dtype=np.uint8),
                 b"labels": [int(v) for v in rng.integers(0, 10, n_per_batch)],
                 b"batch_label": name.encode()}
            batches[name] = d
            raw = pickle.dumps(d)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    return batches


def test_cifar10_reads_the_official_format(tmp_path):
    batches = _write_tiny_cifar(tmp_path / data.CIFAR10_FILE)
    s = data.load_cifar10(tmp_path, val_size=5)
    assert (len(s.y_train), len(s.y_val), len(s.y_test)) == (15, 5, 4)
    assert s.X_train.dtype == np.float32 and s.X_train.shape[1:] == (3, 32, 32)
    assert s.classes[0] == "airplane" and len(s.classes) == 10
    # the test part is the test batch, in order, scaled to [0, 1]; rows are R, G, B planes
    t = batches["test_batch"]
    assert np.allclose(s.X_test, t[b"data"].reshape(-1, 3, 32, 32) / 255.0)
    assert s.y_test.tolist() == t[b"labels"]
    # train + val hold exactly the 20 training images
    every = np.concatenate([batches[f"data_batch_{i}"][b"data"] for i in range(1, 6)])
    got = np.concatenate([s.X_train, s.X_val]).reshape(20, -1)
    assert sorted(map(bytes, np.round(got * 255).astype(np.uint8))) == sorted(map(bytes, every))


def test_cifar10_missing_archive_says_where_and_how(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        data.load_cifar10(tmp_path / "nowhere")
    msg = str(info.value)
    assert str((tmp_path / "nowhere" / data.CIFAR10_FILE).resolve()) in msg
    assert data.CIFAR10_URL in msg and "download=True" in msg and data.CIFAR10_MD5 in msg


def test_cifar10_wrong_archive(tmp_path):
    with tarfile.open(tmp_path / data.CIFAR10_FILE, "w:gz") as tar:
        info = tarfile.TarInfo("something/else")
        tar.addfile(info, io.BytesIO(b""))
    with pytest.raises(ValueError, match="not the CIFAR-10"):
        data.load_cifar10(tmp_path)


def test_cifar10_download_failure_is_clear(tmp_path, monkeypatch):
    import urllib.request

    def offline(*a, **k):
        raise OSError("no network")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(FileNotFoundError, match="could not download"):
        data.load_cifar10(tmp_path, download=True)
    assert not list(tmp_path.iterdir())  # no half-written file left behind


def test_device_loader_batches_and_shuffle():
    X = torch.arange(10, dtype=torch.float32).reshape(10, 1)
    y = torch.arange(10)
    plain = data.DeviceLoader(X, y, batch_size=4, device="cpu")
    assert len(plain) == 3
    assert [b[1].tolist() for b in plain] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    sh = data.DeviceLoader(X, y, batch_size=4, device="cpu", shuffle=True, seed=1, drop_last=True)
    e1 = torch.cat([b[1] for b in sh])
    e2 = torch.cat([b[1] for b in sh])
    assert len(sh) == 2 and len(e1) == 8 and not torch.equal(e1, e2)  # a new order each epoch
    again = data.DeviceLoader(X, y, batch_size=4, device="cpu", shuffle=True, seed=1, drop_last=True)
    assert torch.equal(torch.cat([b[1] for b in again]), e1)  # same seed, same order
    for xb, yb in data.DeviceLoader(X, y, batch_size=3, device="cpu", shuffle=True):
        assert torch.equal(xb[:, 0].long(), yb)  # images stay with their labels
    assert plain.X.device.type == "cpu" and plain.y.dtype == torch.int64
    assert data.DeviceLoader(np.zeros((2, 1)), np.zeros(2, dtype=np.int32), device="cpu").X.dtype == torch.float32
    half = data.DeviceLoader(X, y, device="cpu", dtype=torch.float16)
    assert half.X.dtype == torch.float16


def test_device_loader_rejects_bad_input():
    with pytest.raises(ValueError, match="has 4 examples but y has 3"):
        data.DeviceLoader(np.zeros((4, 3, 2, 2)), np.zeros(3, dtype=np.int64), device="cpu")
    with pytest.raises(ValueError, match="integer class labels"):
        data.DeviceLoader(np.zeros((4, 3, 2, 2)), np.zeros(4), device="cpu")
    with pytest.raises(ValueError, match="1-D"):
        data.DeviceLoader(np.zeros((4, 3, 2, 2)), np.zeros((4, 1), dtype=np.int64), device="cpu")
