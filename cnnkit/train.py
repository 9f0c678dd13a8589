"""A plain PyTorch training loop (no framework), ready for a GPU and bounded on a CPU.

    from cnnkit.train import fit, evaluate
    history = fit(model, (X_train, y_train), (X_val, y_val), epochs=10, lr=0.1)
    history.plot(); plt.show()
    loss, acc = evaluate(model, (X_test, y_test))

What `fit` does for speed, each switchable (lecture 10 measures what each buys):

- device: `cnnkit.device.pick_device()` (CUDA, then MPS, then the CPU) unless given;
- data kept on the device (`cnnkit.data.DeviceLoader`): no host-to-device copy per batch;
- mixed precision (`amp="auto"`): bf16 autocast on CUDA GPUs that support it, fp16 autocast
  with a gradient scaler on older CUDA GPUs, full fp32 elsewhere (CPU, MPS);
- channels_last memory layout (on CUDA by default), `cudnn.benchmark` on CUDA;
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
from .device import pick_device

__all__ = ["History", "amp_dtype", "autocast", "as_loader", "train_step", "evaluate", "fit",
           "save_checkpoint", "load_checkpoint", "show_progress"]


# ------------------------------------------------------------------------------------- history

@dataclass
class History:
    """What `fit` records, one entry per epoch (a cut-short last epoch counts as one).

    train_loss / val_loss: mean cross-entropy (nats); train_acc / val_acc: fractions in [0, 1];
    step_losses: the training loss of every optimiser step, in order (floats, mean cross-entropy
    of that step's batch, nats): len(step_losses) == number of steps taken; read it for a
    per-step loss curve (it is gathered from the device once per epoch, not synchronised per step);
    seconds: wall-clock seconds of each epoch's training steps (validation excluded);
    images_per_second: training throughput of each epoch; stopped_early: True when max_seconds
    ran out before the last epoch ended; settings: device, amp, channels_last, compile.
    """

    train_loss: list = field(default_factory=list)
    train_acc: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)
    val_acc: list = field(default_factory=list)
    step_losses: list = field(default_factory=list)
    seconds: list = field(default_factory=list)
    images_per_second: list = field(default_factory=list)
    stopped_early: bool = False
    settings: dict = field(default_factory=dict)

    @property
    def epochs(self) -> int:
        return len(self.train_loss)

    def curves(self) -> dict:
        """The loss and accuracy curves that have values, for cnnkit.plots.plot_history."""
        keys = ("train_loss", "val_loss", "train_acc", "val_acc")
        return {k: getattr(self, k) for k in keys if getattr(self, k)}

    def plot(self):
        """Loss (left) and accuracy (right) per epoch; returns the Figure."""
        from .plots import plot_history

        return plot_history(self.curves())

    def __repr__(self) -> str:
        last = ", ".join(f"{k}={v[-1]:.4f}" for k, v in self.curves().items())
        early = ", stopped early" if self.stopped_early else ""
        return f"History({self.epochs} epochs{early}: {last})"


# ------------------------------------------------------------------------- device capabilities

def amp_dtype(device, amp="auto"):
    """The autocast dtype to train with on `device`, or None for plain fp32.

    amp: "auto" (bf16 on CUDA GPUs with bf16 support, i.e. Ampere and newer; fp16 on older CUDA
    GPUs; None on CPU and MPS), "bf16", "fp16", or "off" / None / False. Asking for fp16 where
    it cannot run (CPU) raises ValueError; bf16 on the CPU is allowed when asked for by name.
    """
    device = torch.device(device)
    if amp in (None, False, "off", "fp32", "none"):
        return None
    if amp == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return None
    if amp in ("bf16", torch.bfloat16):
        if device.type == "cuda" and not torch.cuda.is_bf16_supported():
            raise ValueError("this CUDA GPU does not support bf16: use amp='fp16' (or 'auto')")
        return torch.bfloat16
    if amp in ("fp16", torch.float16):
        if device.type not in ("cuda", "mps"):
            raise ValueError(f"fp16 autocast needs a GPU; on {device.type} use amp='off' or 'bf16'")
        return torch.float16
    raise ValueError(f"amp must be 'auto', 'bf16', 'fp16' or 'off', got {amp!r}")


def autocast(device, dtype):
    """A context that runs the forward pass in `dtype` (None: a no-op context)."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=torch.device(device).type, dtype=dtype)


def make_scaler(device, dtype):
    """A GradScaler for fp16 on CUDA (small fp16 gradients would flush to zero); else None."""
    if dtype == torch.float16 and torch.device(device).type == "cuda":
        return torch.amp.GradScaler("cuda")
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
    x = x.to(device, non_blocking=True)
    y = y.to(device, non_blocking=True)
    if channels_last and x.ndim == 4:
        x = x.contiguous(memory_format=torch.channels_last)
    return x, y


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
    if scaler is not None:
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
    else:
        loss.backward()
        optimizer.step()
    correct = (logits.detach().argmax(1) == y).sum()
    return loss.detach(), correct


@torch.no_grad()
def evaluate(model: nn.Module, data, device=None, batch_size: int = 512, amp=None,
             channels_last: bool = False):
    """Mean cross-entropy (nats) and accuracy (fraction) of `model` on `data`, in eval mode.

    data: a DeviceLoader, an (X, y) pair or an iterable of (x, y) batches. Every example counts
    once (the mean is over examples, not batches). The model's train/eval mode is restored.
    """
    device = torch.device(device) if device is not None else next(model.parameters()).device
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
        progress="auto", seed: int = 0, optimizer=None, cudnn_benchmark: bool = True) -> History:
    """Train `model` with SGD (Nesterov momentum) and return its History.

    train_data / val_data: DeviceLoader, (X, y) pair (put on the device once, shuffled by seed
    each epoch) or an iterable of (x, y) batches. lr: peak learning rate; schedule "onecycle"
    (linear warm-up over the first 20% of steps, then linear decay to 0) or None (constant).
    device: default cnnkit.device.pick_device(). amp: see amp_dtype. channels_last: "auto" means
    on CUDA only. compile: wrap the model in torch.compile (the first steps then include the
    compilation time). max_seconds: stop after this many seconds of training (checked after every
    step; the epoch in progress is recorded and History.stopped_early set). progress: tqdm bars
    (tqdm.auto: a widget in Jupyter, text in a terminal); "auto" hides them under tests.
    optimizer: your own torch optimizer instead of SGD (lr etc. then come from it).
    cudnn_benchmark: on CUDA, let cuDNN time its convolution algorithms once per input shape
    and keep the fastest (the global flag torch.backends.cudnn.benchmark is set to this).
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
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = bool(cudnn_benchmark)  # fastest conv algorithm per input shape
    model.to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    train_loader = as_loader(train_data, batch_size, device, shuffle=True, seed=seed)
    val_loader = as_loader(val_data, 512, device) if val_data is not None else None
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

    history = History(settings={"device": str(device), "amp": str(dtype).replace("torch.", "") if dtype else "off",
                                "channels_last": bool(channels_last), "compile": bool(compile)})
    show = show_progress(progress)
    bar = None
    if show:
        from tqdm.auto import tqdm

        bar = tqdm(total=total_steps, desc="training", unit="batch", leave=True)
    start = time.perf_counter()
    try:
        for epoch in range(epochs):
            t0 = time.perf_counter()
            sum_loss = torch.zeros((), device=device, dtype=torch.float64)
            sum_correct = torch.zeros((), device=device, dtype=torch.int64)
            seen = 0
            epoch_steps = []  # 0-d device tensors; read back once per epoch
            for i, batch in enumerate(train_loader):
                loss, correct = train_step(step_model, batch, optimizer, loss_fn, dtype, scaler,
                                           channels_last, check=(epoch == 0 and i == 0))
                if scheduler is not None:
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
            if device.type == "cuda":
                torch.cuda.synchronize()
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
    return history


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
