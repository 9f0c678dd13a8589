"""A plain PyTorch training loop (no framework), ready for a GPU and bounded on a CPU.

    from cnnkit.train import fit, evaluate
    history = fit(model, (X_train, y_train), (X_val, y_val), epochs=10, lr=0.1)
    history.plot(); plt.show()
    loss, acc = evaluate(model, (X_test, y_test))

What `fit` does for speed, each switchable (lecture 10 measures what each buys):

- device: `cnnkit.device.pick_device()` (CUDA, then MPS, then the CPU) unless given;
- data kept on the device (`cnnkit.data.DeviceLoader`): no host-to-device copy per batch;
- mixed precision (`amp="auto"`): bf16 autocast on CUDA GPUs with native bf16 (compute
  capability 8.0 and newer: Ampere, Ada, Hopper, ...), fp16 autocast with a gradient scaler on
  older CUDA GPUs (V100, T4: their bf16 is emulated, and slow), full fp32 elsewhere (CPU, MPS);
- channels_last memory layout (on CUDA by default; data kept on the device is converted once),
  `cudnn.benchmark` on CUDA, TF32 on request; the global flags are restored when fit returns;
- optional `torch.compile`;
- `max_seconds`: a time budget after which training stops cleanly (History.stopped_early).

Shapes: images x (N, C, H, W) float, labels y (N,) int64 in [0, num_classes); a model maps x
to logits (N, num_classes). Losses are mean cross-entropy in nats; accuracies are fractions.
"""
from __future__ import annotations

import contextlib
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from .data import DeviceLoader
from .device import backend_flags, pick_device, restore_backend_flags, set_backend_flags, synchronize

__all__ = ["History", "amp_dtype", "autocast", "make_scaler", "as_loader", "train_step", "evaluate", "fit",
           "time_steps", "save_checkpoint", "load_checkpoint", "show_progress"]


# ------------------------------------------------------------------------------------- history

@dataclass
class History:
    """What `fit` records, one entry per epoch (a cut-short last epoch counts as one).

    train_loss / val_loss: mean cross-entropy (nats); train_acc / val_acc: fractions in [0, 1];
    step_losses: the training loss of every training step, in order (floats, mean cross-entropy
    of that step's batch, nats, computed before the update): one per batch trained on, steps the
    fp16 scaler skipped included; read it for a per-step loss curve (it is gathered from the
    device once per epoch, not synchronised per step);
    seconds: wall-clock seconds of each epoch's training steps (validation excluded);
    images_per_second: training throughput of each epoch; stopped_early: True when max_seconds
    ran out before the last epoch ended; skipped_steps: steps the fp16 gradient scaler skipped
    (an inf or nan gradient; the optimizer and the learning-rate schedule did not move);
    settings: device, amp, channels_last, compile, cudnn_benchmark, tf32 (the backend flags
    during training, see cnnkit.device.backend_flags; None off CUDA).
    """

    train_loss: list = field(default_factory=list)
    train_acc: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)
    val_acc: list = field(default_factory=list)
    step_losses: list = field(default_factory=list)
    seconds: list = field(default_factory=list)
    images_per_second: list = field(default_factory=list)
    stopped_early: bool = False
    skipped_steps: int = 0
    settings: dict = field(default_factory=dict)

    @property
    def epochs(self) -> int:
        return len(self.train_loss)

    def curves(self) -> dict:
        """The loss and accuracy curves that have values, for cnnkit.plots.plot_history."""
        keys = ("train_loss", "val_loss", "train_acc", "val_acc")
        return {k: getattr(self, k) for k in keys if getattr(self, k)}

    def plot(self):
        """Loss (left) and accuracy (right) per epoch, training and validation curves named in
        the legend, integer epoch ticks; returns the Figure."""
        import matplotlib.pyplot as plt
        from matplotlib.ticker import MaxNLocator

        from .plots import WIDTH, plot_curves

        if not self.train_loss:
            raise ValueError("this History has no epochs to plot")
        panels = [("cross-entropy loss (nats)", {"training": self.train_loss, "validation": self.val_loss}),
                  ("accuracy", {"training": self.train_acc, "validation": self.val_acc})]
        fig, axes = plt.subplots(1, 2, figsize=(WIDTH, 3.2))
        for ax, (ylabel, curves) in zip(axes, panels):
            plot_curves({k: v for k, v in curves.items() if v}, "epoch", ylabel, ax=ax)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.legend()  # also for a single curve: the reader sees which one it is
        fig.tight_layout()
        return fig

    def __repr__(self) -> str:
        last = ", ".join(f"{k}={v[-1]:.4f}" for k, v in self.curves().items())
        early = ", stopped early" if self.stopped_early else ""
        return f"History({self.epochs} epochs{early}: {last})"


# ------------------------------------------------------------------------- device capabilities

def amp_dtype(device, amp="auto"):
    """The autocast dtype to train with on `device`, or None for plain fp32.

    amp: "auto" (bf16 on CUDA GPUs with native bf16, compute capability 8.0 and newer; fp16 on
    older CUDA GPUs; None on CPU and MPS), "bf16", "fp16", or "off" / None / False. Asked for by
    name, bf16 and fp16 also run on the CPU (slowly without bf16/fp16 instructions: it is for
    testing and for CPUs that have them); bf16 on a CUDA GPU without native bf16 raises
    ValueError. (torch.cuda.is_bf16_supported() would say yes there too: by default it counts
    emulation, which is several times slower than fp16.)
    """
    device = torch.device(device)
    if amp in (None, False, "off", "fp32", "none"):
        return None
    if amp == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if native_bf16(device) else torch.float16
        return None
    if amp in ("bf16", torch.bfloat16):
        if device.type == "cuda" and not native_bf16(device):
            major, minor = torch.cuda.get_device_capability(device)
            raise ValueError(f"this CUDA GPU (compute capability {major}.{minor}) has no native bf16 "
                             "(8.0 and newer have it): use amp='fp16' (or 'auto')")
        return torch.bfloat16
    if amp in ("fp16", torch.float16):
        return torch.float16
    raise ValueError(f"amp must be 'auto', 'bf16', 'fp16' or 'off', got {amp!r}")


def native_bf16(device) -> bool:
    """Whether a CUDA device computes bf16 natively: compute capability 8.0 (Ampere) or newer."""
    return torch.cuda.get_device_capability(torch.device(device))[0] >= 8


def autocast(device, dtype):
    """A context that runs the forward pass in `dtype` (None: a no-op context)."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=torch.device(device).type, dtype=dtype)


def make_scaler(device, dtype, init_scale: float = 2.0 ** 16):
    """A GradScaler for fp16 autocast (small fp16 gradients would flush to zero) on CUDA or the
    CPU; None for other dtypes (bf16 has float32's range and needs none) and on MPS."""
    kind = torch.device(device).type
    if dtype == torch.float16 and kind in ("cuda", "cpu"):
        return torch.amp.GradScaler(kind, init_scale=init_scale)
    return None


def show_progress(progress="auto") -> bool:
    """Whether to draw progress bars. "auto": yes, unless run by a test or a grader.

    Under pytest/nbval (PYTEST_CURRENT_TEST), nbgrader (NBGRADER_EXECUTION) or with
    CNNKIT_PROGRESS=0 the bars are off, so stored notebook outputs repeat exactly.
    """
    if progress != "auto":
        return bool(progress)
    if os.environ.get("CNNKIT_PROGRESS", "").lower() in ("0", "false", "no", "off"):
        return False
    return not (os.environ.get("PYTEST_CURRENT_TEST") or os.environ.get("NBGRADER_EXECUTION"))


# ------------------------------------------------------------------------------------- batches

def as_loader(data, batch_size: int = 128, device=None, shuffle: bool = False, seed: int = 0):
    """A batch iterable on `device` from a DeviceLoader, an (X, y) pair, or any iterable of
    (x, y) batches (e.g. a torch DataLoader, moved to the device batch by batch)."""
    if isinstance(data, DeviceLoader):
        if device is not None and data.device.type != torch.device(device).type:
            raise ValueError(f"the DeviceLoader holds its data on {data.device}, but training runs on "
                             f"{torch.device(device)}: build it with device={str(torch.device(device))!r}")
        return data
    if isinstance(data, (tuple, list)) and len(data) == 2 and hasattr(data[0], "shape"):
        return DeviceLoader(data[0], data[1], batch_size, device, shuffle=shuffle, seed=seed)
    if hasattr(data, "__iter__"):
        return data
    raise TypeError(f"expected a DeviceLoader, an (X, y) pair or an iterable of (x, y) batches, "
                    f"got {type(data).__name__}")


def _check_batch(x, y, logits=None):
    if x.ndim < 2:
        raise ValueError(f"a batch of inputs must be (N, ...) e.g. (N, C, H, W), got shape {tuple(x.shape)}")
    if y.ndim != 1 or len(y) != len(x):
        raise ValueError(f"labels must be (N,) with N = {len(x)} matching the inputs, got shape {tuple(y.shape)}")
    if y.dtype.is_floating_point:
        raise ValueError(f"labels must be integer class indices, got dtype {y.dtype}")
    if logits is not None:
        if logits.ndim != 2 or len(logits) != len(x):
            raise ValueError(f"the model must return logits (N, num_classes) = ({len(x)}, K), got shape {tuple(logits.shape)}")
        lo, hi = int(y.min()), int(y.max())
        if lo < 0 or hi >= logits.shape[1]:
            raise ValueError(f"labels must lie in [0, {logits.shape[1]}) for a model with {logits.shape[1]} "
                             f"outputs, got labels from {lo} to {hi}")


def _to(x, y, device, channels_last):
    """Move a batch to the device (non-blocking: from pinned memory the copy overlaps the host's
    work) and into channels_last if asked; a batch that already is there is not copied."""
    x = x.to(device, non_blocking=True)
    y = y.to(device, non_blocking=True)
    if channels_last and x.ndim == 4:
        x = x.contiguous(memory_format=torch.channels_last)  # a no-op when x is channels_last
    return x, y


def _channels_last_data(loader):
    """Store a DeviceLoader's images in channels_last once (same values, other strides), so that
    its batches need no per-batch conversion; index selections keep the layout."""
    if isinstance(loader, DeviceLoader) and loader.X.ndim == 4:
        loader.X = loader.X.contiguous(memory_format=torch.channels_last)
    return loader


# ------------------------------------------------------------------------------- step and eval

def train_step(model: nn.Module, batch, optimizer, loss_fn=F.cross_entropy, amp=None,
               scaler=None, channels_last: bool = False, check: bool = False):
    """One optimisation step on one batch; returns (loss, correct) as 0-d tensors on the device.

    batch: (x (N, C, H, W), y (N,)); the forward pass runs under autocast when amp is a dtype
    (see amp_dtype) and the backward pass through `scaler` when one is given (fp16).
    The results stay on the device (no .item()), so a GPU is not made to wait for the host on
    every step: loss is the batch's mean loss (detached), correct the number classified right.
    check=True validates shapes and label range first (fit does it on the first batch).
    """
    loss, correct, _ = _step(model, batch, optimizer, loss_fn, amp, scaler, channels_last, check)
    return loss, correct


def _step(model, batch, optimizer, loss_fn, amp, scaler, channels_last, check):
    """train_step's work; returns (loss, correct, stepped): stepped is False when the gradient
    scaler found an inf/nan gradient and skipped the optimizer's step (it then lowers its scale).
    The scaler decides that on the host already (it reads found_inf), so asking costs no extra
    wait for the device; without a scaler every step is taken."""
    x, y = batch
    device = next(model.parameters()).device
    x, y = _to(x, y, device, channels_last)
    model.train()
    with autocast(device, amp):
        logits = model(x)
        if check:
            _check_batch(x, y, logits)
        loss = loss_fn(logits, y)
    optimizer.zero_grad(set_to_none=True)
    stepped = True
    if scaler is not None:
        scaler.scale(loss).backward()
        before = scaler.get_scale()
        scaler.step(optimizer)
        scaler.update()
        stepped = scaler.get_scale() >= before  # the scale only falls after a skipped step
    else:
        loss.backward()
        optimizer.step()
    correct = (logits.detach().argmax(1) == y).sum()
    return loss.detach(), correct, stepped


@torch.no_grad()
def evaluate(model: nn.Module, data, device=None, batch_size: int = 512, amp=None,
             channels_last: bool = False):
    """Mean cross-entropy (nats) and accuracy (fraction) of `model` on `data`, in eval mode.

    data: a DeviceLoader, an (X, y) pair or an iterable of (x, y) batches. Every example counts
    once (the mean is over examples, not batches). The model's train/eval mode is restored.
    """
    weights = next(model.parameters()).device
    device = torch.device(device) if device is not None else weights
    if weights.type != device.type:
        raise ValueError(f"the model's weights are on {weights} but evaluate was asked to run on {device}: "
                         f"move the model first (model.to({str(device)!r})) or pass device={str(weights)!r}")
    loader = as_loader(data, batch_size, device)
    was_training = model.training
    model.eval()
    total_loss = torch.zeros((), device=device, dtype=torch.float64)
    total_correct = torch.zeros((), device=device, dtype=torch.int64)
    n = 0
    try:
        for x, y in loader:
            x, y = _to(x, y, device, channels_last)
            with autocast(device, amp):
                logits = model(x)
            if n == 0:
                _check_batch(x, y, logits)
            total_loss += F.cross_entropy(logits.float(), y, reduction="sum").double()
            total_correct += (logits.argmax(1) == y).sum()
            n += len(y)
    finally:
        model.train(was_training)
    if n == 0:
        raise ValueError("evaluate got no examples")
    return total_loss.item() / n, total_correct.item() / n


# ----------------------------------------------------------------------------------------- fit

def fit(model: nn.Module, train_data, val_data=None, epochs: int = 10, lr: float = 0.1,
        batch_size: int = 128, momentum: float = 0.9, weight_decay: float = 5e-4,
        schedule: str | None = "onecycle", label_smoothing: float = 0.0, device=None,
        amp="auto", channels_last="auto", compile: bool = False, max_seconds: float | None = None,
        progress="auto", seed: int = 0, optimizer=None, cudnn_benchmark: bool = True,
        tf32: bool | None = None, drop_last: bool = False) -> History:
    """Train `model` with SGD (Nesterov momentum) and return its History.

    train_data / val_data: DeviceLoader, (X, y) pair (put on the device once, shuffled by seed
    each epoch) or an iterable of (x, y) batches. lr: peak learning rate; schedule "onecycle"
    (linear warm-up over the first 20% of steps, then linear decay to 0) or None (constant).
    device: default cnnkit.device.pick_device(). amp: see amp_dtype (fp16 trains through a
    GradScaler; a step it skips for an inf gradient moves neither the weights nor the schedule,
    and is counted in History.skipped_steps). channels_last: "auto" means on CUDA only; the
    model and data kept on the device (a DeviceLoader, or an (X, y) pair) are converted once.
    compile: wrap the model in torch.compile (the first steps then include the
    compilation time). max_seconds: stop after this many seconds of training (checked after every
    step; the epoch in progress is recorded and History.stopped_early set). progress: tqdm bars
    (tqdm.auto: a widget in Jupyter, text in a terminal); "auto" hides them under tests.
    optimizer: your own torch optimizer instead of SGD (lr etc. then come from it).
    cudnn_benchmark: on CUDA, let cuDNN time its convolution algorithms once per input shape
    and keep the fastest. tf32: on CUDA, True/False allows/forbids TF32 tensor-core arithmetic
    for float32 convolutions and matrix products; None leaves PyTorch's setting (by default
    TF32 convolutions, float32 matrix products). The global flags are set for the run and
    restored when fit returns (see cnnkit.device.backend_flags); History.settings records them.
    drop_last: with an (X, y) pair, leave out the last incomplete batch of each epoch (a
    different batch shape makes torch.compile recompile and cudnn.benchmark retune).
    """
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
    if max_seconds is not None and not max_seconds > 0:
        raise ValueError(f"max_seconds must be positive or None, got {max_seconds!r}")
    device = pick_device() if device is None else torch.device(device)
    dtype = amp_dtype(device, amp)
    scaler = make_scaler(device, dtype)
    if channels_last == "auto":
        channels_last = device.type == "cuda"
    model.to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    train_loader = as_loader(train_data, batch_size, device, shuffle=True, seed=seed)
    if drop_last and isinstance(train_loader, DeviceLoader) and train_loader is not train_data:
        train_loader.drop_last = True
        if len(train_loader) == 0:
            raise ValueError(f"drop_last=True with batch_size={batch_size} leaves no batch of "
                             f"{train_loader.num_examples} examples: lower batch_size")
    val_loader = as_loader(val_data, 512, device) if val_data is not None else None
    if channels_last:
        train_loader = _channels_last_data(train_loader)
        val_loader = _channels_last_data(val_loader)
    steps_per_epoch = len(train_loader)
    total_steps = epochs * steps_per_epoch
    if optimizer is None:
        decay = [p for p in model.parameters() if p.ndim > 1]
        no_decay = [p for p in model.parameters() if p.ndim <= 1]  # biases and BN scales
        optimizer = torch.optim.SGD([{"params": decay, "weight_decay": weight_decay},
                                     {"params": no_decay, "weight_decay": 0.0}],
                                    lr=lr, momentum=momentum, nesterov=momentum > 0)
    scheduler = None
    if schedule == "onecycle":
        warm = max(1, int(0.2 * total_steps))
        ramp = lambda s: (s + 1) / warm if s < warm else max(0.0, (total_steps - s) / max(1, total_steps - warm))  # noqa: E731
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, ramp)
    elif schedule is not None:
        raise ValueError(f"schedule must be 'onecycle' or None, got {schedule!r}")
    step_model = torch.compile(model) if compile else model
    loss_fn = nn.CrossEntropyLoss(label_smoothing=label_smoothing)

    # fastest conv algorithm per input shape; TF32 as asked. (Set on every device, so that the
    # restoring is the same everywhere; off CUDA the flags change nothing.)
    flags_before = set_backend_flags(cudnn_benchmark=bool(cudnn_benchmark), tf32=tf32)
    flags = backend_flags() if device.type == "cuda" else None
    history = History(settings={"device": str(device), "amp": str(dtype).replace("torch.", "") if dtype else "off",
                                "channels_last": bool(channels_last), "compile": bool(compile),
                                "cudnn_benchmark": flags["cudnn_benchmark"] if flags else None,
                                "tf32": {k: flags[k] for k in ("tf32_conv", "tf32_matmul")} if flags else None})
    try:
        _fit_epochs(history, step_model, train_loader, val_loader, optimizer, scheduler, loss_fn, dtype,
                    scaler, channels_last, device, epochs, total_steps, max_seconds, progress)
    finally:
        restore_backend_flags(flags_before)
    return history


def _fit_epochs(history, step_model, train_loader, val_loader, optimizer, scheduler, loss_fn, dtype,
                scaler, channels_last, device, epochs, total_steps, max_seconds, progress):
    """fit's loop over epochs, filling `history`."""
    show = show_progress(progress)
    bar = None
    if show:
        from tqdm.auto import tqdm

        bar = tqdm(total=total_steps, desc="training", unit="batch", leave=True)
    start = time.perf_counter()
    try:
        for epoch in range(epochs):
            synchronize(device)  # the clock starts when the device is idle
            t0 = time.perf_counter()
            sum_loss = torch.zeros((), device=device, dtype=torch.float64)
            sum_correct = torch.zeros((), device=device, dtype=torch.int64)
            seen = 0
            epoch_steps = []  # 0-d device tensors; read back once per epoch
            for i, batch in enumerate(train_loader):
                loss, correct, stepped = _step(step_model, batch, optimizer, loss_fn, dtype, scaler,
                                               channels_last, check=(epoch == 0 and i == 0))
                if not stepped:
                    history.skipped_steps += 1  # the schedule waits for the step that was not taken
                elif scheduler is not None:
                    scheduler.step()
                epoch_steps.append(loss)
                n = len(batch[1])
                sum_loss += loss.double() * n
                sum_correct += correct
                seen += n
                if bar is not None:
                    bar.update(1)
                if max_seconds is not None and time.perf_counter() - start > max_seconds:
                    history.stopped_early = True
                    break
            if seen == 0:
                raise ValueError("the training data gave no batches")
            synchronize(device)
            dt = time.perf_counter() - t0
            history.step_losses.extend(torch.stack(epoch_steps).double().cpu().tolist())
            history.train_loss.append(sum_loss.item() / seen)
            if not math.isfinite(history.train_loss[-1]):
                raise FloatingPointError(f"the training loss became {history.train_loss[-1]} in epoch {epoch + 1}: "
                                         "lower the learning rate")
            history.train_acc.append(sum_correct.item() / seen)
            history.seconds.append(dt)
            history.images_per_second.append(seen / dt)
            if val_loader is not None:
                vl, va = evaluate(step_model, val_loader, device, amp=dtype, channels_last=channels_last)
                history.val_loss.append(vl)
                history.val_acc.append(va)
            if bar is not None:
                post = {"loss": f"{history.train_loss[-1]:.3f}"}
                if history.val_acc:
                    post["val_acc"] = f"{history.val_acc[-1]:.3f}"
                bar.set_postfix(post)
            if history.stopped_early:
                break
    finally:
        if bar is not None:
            bar.close()


# ------------------------------------------------------------------------------------ timing

def time_steps(step, images_per_step: int, device, warmup: int = 5, steps: int = 20, windows: int = 3,
               memory=None) -> list:
    """Training throughput of `step` (a function of no arguments that runs one training step on
    a batch of `images_per_step` images): images/s of each of `windows` timed windows.

    Runs `warmup` untimed steps first (cuDNN autotuning, torch.compile, the allocator's first
    requests: use more with compile), then each window of `steps` steps between two
    synchronisations of the device, so that the clock sees finished work rather than queued
    work. A GPU step of a small model takes milliseconds: keep steps at 20 or more. memory: a
    cnnkit.device.PeakMemory, started after the warm-up and stopped after the last window (its
    step_bytes is then the steps' own peak). Report the median of the windows.
    """
    if warmup < 0 or steps < 1 or windows < 1:
        raise ValueError(f"need warmup >= 0, steps >= 1, windows >= 1; got {warmup}, {steps}, {windows}")
    for _ in range(warmup):
        step()
    if memory is not None:
        memory.start()
    rates = []
    for _ in range(windows):
        synchronize(device)
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        synchronize(device)
        rates.append(steps * images_per_step / (time.perf_counter() - t0))
    if memory is not None:
        memory.stop()
    return rates


# ---------------------------------------------------------------------------------- checkpoints

def save_checkpoint(model: nn.Module, path, overwrite: bool = False, **extra) -> Path:
    """Write the model's state_dict (and any `extra` picklable values, e.g. epoch=..., history=
    dict) to `path`. An existing file is never replaced unless overwrite=True."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} already exists: pass overwrite=True to replace it, or choose another name")
    path.parent.mkdir(parents=True, exist_ok=True)
    model = getattr(model, "_orig_mod", model)  # a torch.compile wrapper saves the plain names
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    tmp = path.with_name(path.name + ".tmp")
    torch.save({"state_dict": state, **extra}, tmp)
    os.replace(tmp, path)  # a crash mid-write leaves no half-written checkpoint
    return path


def load_checkpoint(model: nn.Module, path, map_location="cpu") -> dict:
    """Load a checkpoint written by save_checkpoint into `model` (strictly: same parameter names
    and shapes); returns the extra values stored with it."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}")
    blob = torch.load(path, map_location=map_location, weights_only=True)
    if not isinstance(blob, dict) or "state_dict" not in blob:
        raise ValueError(f"{path} is not a checkpoint written by cnnkit.train.save_checkpoint")
    getattr(model, "_orig_mod", model).load_state_dict(blob["state_dict"])
    return {k: v for k, v in blob.items() if k != "state_dict"}
