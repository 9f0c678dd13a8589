"""cnnkit.train: the step, evaluation, fit (time budget, history), checkpoints, amp choice."""
import numpy as np
import pytest
import torch
import torch.nn as nn

from cnnkit import train
from cnnkit.data import DeviceLoader


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models: one thread is fastest, and far faster than two on a busy shared machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def tiny_cnn(num_classes=3, in_channels=3):
    return nn.Sequential(nn.Conv2d(in_channels, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(32, num_classes))


def toy_batch(n=16, num_classes=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, 8, 8, generator=g), torch.randint(0, num_classes, (n,), generator=g)


def test_a_step_lowers_the_loss():
    torch.manual_seed(0)
    model = tiny_cnn()
    x, y = toy_batch()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    first, _ = train.train_step(model, (x, y), opt)
    for _ in range(4):
        last, correct = train.train_step(model, (x, y), opt)
    assert last.item() < first.item()
    assert last.ndim == 0 and correct.dtype == torch.int64 and 0 <= correct.item() <= 16


def test_overfits_a_tiny_batch_to_100_percent():
    torch.manual_seed(0)
    model = tiny_cnn()
    x, y = toy_batch(8)
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(100):
        train.train_step(model, (x, y), opt)
    loss, acc = train.evaluate(model, (x, y))
    assert acc == 1.0 and loss < 0.1


def test_evaluate_on_a_known_case():
    """A linear 'model' with fixed logits: loss and accuracy by hand."""
    x = torch.tensor([[2.0, 0.0], [0.0, 1.0], [3.0, 0.0]])
    y = torch.tensor([0, 0, 0])
    model = nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.eye(2))
    loss, acc = train.evaluate(model, (x, y), batch_size=2)  # batches of 2 and 1: per-example mean
    logits = x
    expected = float(np.mean([np.log(np.exp(l).sum()) - l[0] for l in logits.numpy()]))
    assert acc == pytest.approx(2 / 3)
    assert loss == pytest.approx(expected, rel=1e-6)
    model.train()
    train.evaluate(model, (x, y))
    assert model.training  # evaluate restores the mode


def test_fit_history_and_progress_off():
    torch.manual_seed(0)
    x, y = toy_batch(64)
    h = train.fit(tiny_cnn(), (x, y), (x[:16], y[:16]), epochs=3, lr=0.05, batch_size=16,
                  device="cpu", progress=False)
    assert h.epochs == 3 and len(h.val_acc) == 3 and not h.stopped_early
    assert h.settings == {"device": "cpu", "amp": "off", "channels_last": False, "compile": False}
    assert all(0 <= a <= 1 for a in h.train_acc + h.val_acc) and h.images_per_second[0] > 0
    assert set(h.curves()) == {"train_loss", "val_loss", "train_acc", "val_acc"}
    import matplotlib
    matplotlib.use("Agg")
    fig = h.plot()
    assert len(fig.axes) == 2
    assert "3 epochs" in repr(h)


def test_step_losses_one_per_step_and_consistent_with_epoch_means():
    torch.manual_seed(0)
    x, y = toy_batch(64)
    h = train.fit(tiny_cnn(), (x, y), epochs=3, lr=0.05, batch_size=16, device="cpu", progress=False)
    assert len(h.step_losses) == 3 * 4 and all(isinstance(v, float) for v in h.step_losses)
    for e in range(3):  # equal batches: the epoch's mean loss is the mean of its step losses
        assert np.mean(h.step_losses[4 * e:4 * e + 4]) == pytest.approx(h.train_loss[e], rel=1e-6)
    assert h.step_losses[-1] < h.step_losses[0]


def test_step_losses_are_the_losses_of_the_model_being_stepped():
    """lr=0 leaves the weights alone, so every step's loss is the initial model's loss on the
    whole set (one batch; train mode, so batch norm uses the batch statistics)."""
    torch.manual_seed(0)
    x, y = toy_batch(16)
    model = tiny_cnn()
    expected = nn.functional.cross_entropy(model.train()(x), y).item()
    h = train.fit(model, (x, y), epochs=2, lr=0.0, batch_size=16, device="cpu", progress=False)
    assert h.step_losses == pytest.approx([expected] * 2, rel=1e-6)


def test_fit_is_deterministic_on_cpu():
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        x, y = toy_batch(48)
        runs.append(train.fit(tiny_cnn(), (x, y), epochs=2, batch_size=16, device="cpu", progress=False).train_loss)
    assert runs[0] == runs[1]


def test_max_seconds_stops_early():
    torch.manual_seed(0)
    x, y = toy_batch(32)

    class Slow(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = tiny_cnn()

        def forward(self, x):
            import time
            time.sleep(0.02)
            return self.net(x)

    h = train.fit(Slow(), (x, y), (x, y), epochs=1000, batch_size=8, device="cpu",
                  max_seconds=0.1, progress=False)
    assert h.stopped_early and 1 <= h.epochs < 1000
    assert len(h.val_acc) == h.epochs  # the cut-short epoch is still recorded and evaluated


def test_bad_input_is_reported_clearly():
    model = tiny_cnn()
    x, y = toy_batch(8)
    with pytest.raises(ValueError, match="labels must lie in"):
        train.fit(model, (x, y + 5), epochs=1, device="cpu", progress=False)
    with pytest.raises(ValueError, match="8 examples but y has 7"):
        train.fit(model, (x, y[:7]), epochs=1, device="cpu", progress=False)
    with pytest.raises(ValueError, match="epochs"):
        train.fit(model, (x, y), epochs=0, device="cpu")
    with pytest.raises(TypeError, match="DeviceLoader"):
        train.fit(model, 42, epochs=1, device="cpu")


def test_checkpoint_round_trip_and_refusal(tmp_path):
    torch.manual_seed(0)
    a, b = tiny_cnn(), tiny_cnn()
    path = train.save_checkpoint(a, tmp_path / "ck" / "model.pt", epoch=3)
    extra = train.load_checkpoint(b, path)
    assert extra == {"epoch": 3}
    for (k, va), vb in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(va, vb), k
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match="overwrite=True"):
        train.save_checkpoint(b, path)
    assert path.read_bytes() == before  # nothing lost
    train.save_checkpoint(b, path, overwrite=True, epoch=4)
    assert train.load_checkpoint(a, path) == {"epoch": 4}
    with pytest.raises(FileNotFoundError):
        train.load_checkpoint(a, tmp_path / "missing.pt")


@pytest.mark.parametrize("kind, bf16, expected", [
    ("cpu", None, None), ("mps", None, None),
    ("cuda", True, torch.bfloat16), ("cuda", False, torch.float16)])
def test_amp_choice_per_device(monkeypatch, kind, bf16, expected):
    if bf16 is not None:
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: bf16)
    assert train.amp_dtype(torch.device(kind), "auto") is expected
    assert train.amp_dtype(kind, "off") is None


def test_amp_explicit_requests(monkeypatch):
    assert train.amp_dtype("cpu", "bf16") is torch.bfloat16
    with pytest.raises(ValueError, match="fp16 autocast needs a GPU"):
        train.amp_dtype("cpu", "fp16")
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    with pytest.raises(ValueError, match="does not support bf16"):
        train.amp_dtype("cuda", "bf16")
    with pytest.raises(ValueError, match="amp must be"):
        train.amp_dtype("cpu", "fp8")
    assert train.make_scaler("cpu", None) is None


def test_bf16_autocast_step_on_cpu():
    torch.manual_seed(0)
    model = tiny_cnn()
    x, y = toy_batch()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    loss, _ = train.train_step(model, (x, y), opt, amp=torch.bfloat16, channels_last=True)
    assert torch.isfinite(loss)


def test_device_loader_passes_through_and_progress_rules(monkeypatch):
    x, y = toy_batch(8)
    loader = DeviceLoader(x, y, 4, "cpu")
    assert train.as_loader(loader) is loader
    with pytest.raises(ValueError, match="holds its data on cpu"):
        train.as_loader(loader, device="meta")
    monkeypatch.setenv("CNNKIT_PROGRESS", "0")
    assert train.show_progress("auto") is False
    assert train.show_progress(True) is True
    monkeypatch.delenv("CNNKIT_PROGRESS")
    monkeypatch.delenv("PYTEST_CURRENT_TEST", raising=False)
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    assert train.show_progress("auto") is True
