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
    assert h.settings == {"device": "cpu", "amp": "off", "channels_last": False, "compile": False,
                          "cudnn_benchmark": None, "tf32": None}
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


@pytest.mark.parametrize("kind, capability, expected", [
    ("cpu", None, None), ("mps", None, None),
    ("cuda", (9, 0), torch.bfloat16), ("cuda", (8, 0), torch.bfloat16),
    ("cuda", (7, 5), torch.float16), ("cuda", (7, 0), torch.float16)])
def test_amp_choice_per_device(monkeypatch, kind, capability, expected):
    # a V100 (7.0) or T4 (7.5) "supports" bf16 by emulation: auto must still pick fp16 there
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    if capability is not None:
        monkeypatch.setattr(torch.cuda, "get_device_capability", lambda *a, **k: capability)
    assert train.amp_dtype(torch.device(kind), "auto") is expected
    assert train.amp_dtype(kind, "off") is None


def test_amp_explicit_requests(monkeypatch):
    assert train.amp_dtype("cpu", "bf16") is torch.bfloat16
    assert train.amp_dtype("cpu", "fp16") is torch.float16
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda *a, **k: (7, 5))
    with pytest.raises(ValueError, match=r"compute capability 7\.5\) has no native bf16"):
        train.amp_dtype("cuda", "bf16")
    with pytest.raises(ValueError, match="amp must be"):
        train.amp_dtype("cpu", "fp8")
    assert train.make_scaler("cpu", None) is None
    assert train.make_scaler("cpu", torch.bfloat16) is None
    assert isinstance(train.make_scaler("cpu", torch.float16), torch.amp.GradScaler)


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


# ------------------------------------------------------------- the GPU branches, run on the CPU

def quiet_fit(*args, **kwargs):
    """fit with every warning turned into an error: nbgrader takes a test cell's points for
    anything written to stderr."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return train.fit(*args, device="cpu", progress=False, **kwargs)


@pytest.mark.parametrize("amp, dtype", [("fp16", "float16"), ("bf16", "bfloat16")])
def test_fit_with_autocast_on_the_cpu(amp, dtype):
    """fp16 autocast goes through a GradScaler (on the CPU as on CUDA), bf16 needs none."""
    torch.manual_seed(0)
    x, y = toy_batch(64)
    h = quiet_fit(tiny_cnn(), (x, y), (x, y), epochs=4, lr=0.05, batch_size=16, amp=amp)
    assert h.settings["amp"] == dtype and h.skipped_steps == 0
    assert all(np.isfinite(h.step_losses)) and len(h.step_losses) == 16
    assert h.train_loss[-1] < h.train_loss[0]


def test_scaler_skipped_steps_move_neither_weights_nor_schedule(monkeypatch):
    """A scale so large that the fp16 gradients overflow: the first steps are skipped. The
    schedule must wait for them (so no 'scheduler.step() before optimizer.step()' warning), and
    the weights must not move."""
    made = []

    def huge_scaler(device, dtype):
        made.append(torch.amp.GradScaler("cpu", init_scale=2.0 ** 22))
        return made[-1]

    monkeypatch.setattr(train, "make_scaler", huge_scaler)
    torch.manual_seed(0)
    x, y = toy_batch(64)
    model = tiny_cnn()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    total = 3 * 4
    h = quiet_fit(model, (x, y), epochs=3, batch_size=16, amp="fp16", optimizer=opt)
    k = h.skipped_steps
    assert 1 <= k < total and made[0].get_scale() == 2.0 ** (22 - k)
    assert len(h.step_losses) == total
    # one-cycle: after total - k scheduler steps the multiplier is k / (total - warm)
    warm = max(1, int(0.2 * total))
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1 * k / (total - warm))


def test_a_skipped_step_leaves_the_weights_alone():
    torch.manual_seed(0)
    model = tiny_cnn()
    before = [p.detach().clone() for p in model.parameters()]
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    scaler = torch.amp.GradScaler("cpu", init_scale=3e38)
    _, _, stepped = train._step(model, toy_batch(), opt, nn.functional.cross_entropy, torch.float16,
                                scaler, False, False)
    assert stepped is False and all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    scaler = torch.amp.GradScaler("cpu")
    _, _, stepped = train._step(model, toy_batch(), opt, nn.functional.cross_entropy, torch.float16,
                                scaler, False, False)
    assert stepped is True and not all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_channels_last_converts_the_data_once():
    torch.manual_seed(0)
    x, y = toy_batch(32)
    loader = DeviceLoader(x, y, 16, "cpu", shuffle=True)
    model = tiny_cnn()
    h = quiet_fit(model, loader, epochs=1, channels_last=True)
    assert h.settings["channels_last"] is True
    cl = torch.channels_last
    assert loader.X.is_contiguous(memory_format=cl) and model[0].weight.is_contiguous(memory_format=cl)
    xb, yb = next(iter(loader))
    assert xb.is_contiguous(memory_format=cl)
    assert train._to(xb, yb, torch.device("cpu"), True)[0] is xb  # no per-batch copy
    assert torch.equal(loader.X, x)  # the same values


def test_channels_last_gives_the_same_model_as_nchw():
    """The checkpoint check of lecture 10: a channels_last model against its NCHW copy."""
    torch.manual_seed(0)
    x, y = toy_batch(32)
    model = tiny_cnn()
    quiet_fit(model, (x, y), epochs=1, batch_size=16, channels_last=True)
    clone = tiny_cnn()
    clone.load_state_dict(model.state_dict())
    model.eval(), clone.eval()
    with torch.no_grad():
        a = model(x.contiguous(memory_format=torch.channels_last))
        b = clone(x)
    assert torch.allclose(a, b, rtol=1e-5, atol=1e-5)


def test_compile_trains_on_the_cpu():
    torch.manual_seed(0)
    x, y = toy_batch(32)
    model = tiny_cnn()
    h = train.fit(model, (x, y), (x, y), epochs=2, batch_size=16, device="cpu", compile=True,
                  drop_last=True, progress=False)
    assert h.settings["compile"] is True and h.epochs == 2 and np.isfinite(h.train_loss).all()
    path = train.save_checkpoint(model, __import__("tempfile").mkdtemp() + "/m.pt")
    assert all("_orig_mod" not in k for k in torch.load(path, weights_only=True)["state_dict"])


def test_fit_sets_and_restores_the_backend_flags():
    from cnnkit.device import backend_flags

    seen = []

    class Spy(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = tiny_cnn()

        def forward(self, x):
            seen.append(backend_flags())
            return self.net(x)

    x, y = toy_batch(16)
    start = {"cudnn_benchmark": False, "tf32_conv": True, "tf32_matmul": False}  # PyTorch's defaults
    torch.backends.cudnn.benchmark, torch.backends.cudnn.allow_tf32 = False, True
    torch.backends.cuda.matmul.allow_tf32 = False
    assert backend_flags() == start
    quiet_fit(Spy(), (x, y), epochs=1, batch_size=16, cudnn_benchmark=True, tf32=False)
    assert seen[0] == {"cudnn_benchmark": True, "tf32_conv": False, "tf32_matmul": False}
    assert backend_flags() == start  # restored
    with pytest.raises(ValueError):  # also when training fails
        quiet_fit(Spy(), (x, y + 7), epochs=1, cudnn_benchmark=True, tf32=True)
    assert backend_flags() == start


def test_drop_last_leaves_out_the_ragged_batch():
    x, y = toy_batch(70)
    h = quiet_fit(tiny_cnn(), (x, y), epochs=2, batch_size=16, drop_last=True)
    assert len(h.step_losses) == 2 * 4  # 70 = 4 x 16 + 6: the 6 are left out
    h = quiet_fit(tiny_cnn(), (x, y), epochs=2, batch_size=16)
    assert len(h.step_losses) == 2 * 5
    with pytest.raises(ValueError, match="leaves no batch"):
        quiet_fit(tiny_cnn(), (x, y), epochs=1, batch_size=128, drop_last=True)


def test_evaluate_refuses_a_model_on_another_device():
    x, y = toy_batch(8)
    model = tiny_cnn().to("meta")
    with pytest.raises(ValueError, match=r"weights are on meta but evaluate was asked to run on cpu: move the model"):
        train.evaluate(model, (x, y), "cpu")


class FakeAllocator:
    """What torch.cuda's allocator reports, driven by the test: bytes allocated now and the peak."""

    def __init__(self, resident):
        self.now = self.peak = resident
        self.calls = []

    def alloc(self, n):
        self.now += n
        self.peak = max(self.peak, self.now)

    def free(self, n):
        self.now -= n

    def memory_allocated(self):
        return self.now

    def max_memory_allocated(self):
        return self.peak

    def reset_peak_memory_stats(self):
        self.calls.append("reset")
        self.peak = self.now

    def synchronize(self):
        self.calls.append("sync")


def test_peak_memory_is_the_steps_own_peak():
    from cnnkit.device import PeakMemory

    gb = 2 ** 30
    fake = FakeAllocator(resident=3 * gb)  # data sets and weights already on the device

    def step():
        fake.alloc(gb // 2)  # activations
        fake.free(gb // 2)

    def warm_step():
        fake.alloc(5 * gb)  # cuDNN benchmark workspaces / compilation: only in the warm-up
        fake.free(5 * gb)

    meter = PeakMemory("cuda", allocator=fake)
    warm_step()
    rates = train.time_steps(step, 16, "cpu", warmup=5, steps=20, windows=3, memory=meter)
    assert len(rates) == 3 and all(r > 0 for r in rates)
    assert meter.resident == 3 * gb and meter.peak == 3.5 * gb
    assert meter.step_bytes == gb // 2  # not 5 GB (warm-up), not 3.5 GB (resident data)
    assert fake.calls[:2] == ["sync", "reset"]
    with pytest.raises(RuntimeError, match="before start"):
        PeakMemory("cuda", allocator=FakeAllocator(0)).stop()
    cpu = PeakMemory("cpu")
    cpu.start()
    assert cpu.stop() is None


def test_time_steps_warms_up_then_times_synchronised_windows(monkeypatch):
    log = []
    monkeypatch.setattr(train, "synchronize", lambda device: log.append("sync"))
    rates = train.time_steps(lambda: log.append("step"), 8, "cuda", warmup=5, steps=20, windows=2)
    assert len(rates) == 2
    assert log == ["step"] * 5 + (["sync"] + ["step"] * 20 + ["sync"]) * 2
    with pytest.raises(ValueError, match="steps >= 1"):
        train.time_steps(lambda: None, 8, "cpu", steps=0)


def test_history_plot_has_integer_epochs_and_named_curves():
    import matplotlib

    matplotlib.use("Agg")
    h = train.History(train_loss=[2.0, 1.5, 1.2], train_acc=[0.2, 0.4, 0.5],
                      val_loss=[2.1, 1.7, 1.4], val_acc=[0.2, 0.3, 0.45])
    fig = h.plot()
    loss_ax, acc_ax = fig.axes
    for ax in (loss_ax, acc_ax):
        assert ax.get_xlabel() == "epoch"
        ticks = [t for t in ax.get_xticks() if 1 <= t <= 3]
        assert ticks and all(float(t).is_integer() for t in ticks)
        assert [t.get_text() for t in ax.get_legend().get_texts()] == ["training", "validation"]
    assert "loss" in loss_ax.get_ylabel() and acc_ax.get_ylabel() == "accuracy"
    with pytest.raises(ValueError, match="no epochs"):
        train.History().plot()
