"""Training throughput: a baseline loop against cnnkit.train with each speed feature added in turn.

The same model (ResNet-20 for 32x32 images, cnnkit.models.cifar_resnet) and the same data (the
course's procedural shapes) are trained side by side in one run:

  1. baseline: a plain loop, fp32, NCHW, each batch copied from host memory every step;
  2. cnnkit.train.fit with the data kept on the device (DeviceLoader), fp32, NCHW;
  3. + channels_last;
  4. + mixed precision (bf16 autocast, or fp16 with a gradient scaler on older CUDA GPUs);
  5. + cudnn.benchmark;
  6. + torch.compile.

The configurations take turns: in each of `windows` rounds every configuration trains one warm-up
pass over `steps` batches (with compile, the compilation happens in the first) and one timed pass,
so a load that comes and goes on a shared machine affects them alike. Printed per row: the median
images/s over the windows, the speed-up over the baseline, the peak GPU memory, and the achieved
multiply-add rate as a fraction of a measured peak (a large matrix product in the row's precision,
timed on the same device: an estimate of what the device can do, not its datasheet figure).

    python benchmarks/train_bench.py             # on the GPU, if there is one
    python benchmarks/train_bench.py --small     # a CPU-sized run (ResNet-8, 64-image batches, 1 thread)

Rows that do not apply to the device (cudnn on a CPU, fp16 on a CPU, compile unless --compile on
a CPU) are printed as such, not measured.
"""
from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cnnkit import train  # noqa: E402
from cnnkit.data import DeviceLoader, make_shapes  # noqa: E402
from cnnkit.device import pick_device, seed_everything  # noqa: E402
from cnnkit.models import cifar_resnet  # noqa: E402


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def macs_per_image(depth: int) -> int:
    """Forward multiply-adds of ResNet-depth on one 32x32 image (counted on the meta device)."""
    from torch.utils.flop_counter import FlopCounterMode

    with torch.device("meta"):
        model = cifar_resnet(depth, 10)
        with FlopCounterMode(display=False) as counter:
            model(torch.empty(1, 3, 32, 32))
    return counter.get_total_flops() // 2


def matmul_peak(device, dtype, n: int, seconds: float = 0.5) -> float:
    """Multiply-adds per second of an n x n x n matrix product in dtype (best of 5 windows: the
    peak is what the device can sustain when nothing else disturbs it)."""
    a = torch.randn(n, n, device=device).to(dtype)
    b = torch.randn(n, n, device=device).to(dtype)
    a @ b
    sync(device)
    t0, reps = time.perf_counter(), 0
    while time.perf_counter() - t0 < seconds / 5:
        a @ b
        reps += 1
    sync(device)
    rates = []
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(reps):
            a @ b
        sync(device)
        rates.append(reps * n ** 3 / (time.perf_counter() - t0))
    return max(rates)


class Baseline:
    """A plain training loop: fp32, NCHW, every batch copied from host memory in the step."""

    def __init__(self, X, y, depth, batch, device):
        seed_everything(0)
        self.model = cifar_resnet(depth, 10).to(device)
        self.opt = torch.optim.SGD(self.model.parameters(), lr=0.05, momentum=0.9, nesterov=True,
                                   weight_decay=5e-4)
        self.X, self.y = torch.from_numpy(X), torch.from_numpy(y)  # host memory
        self.batch, self.device = batch, device

    def window(self) -> float:
        """One warm-up pass over the data, then one timed pass; returns its images/s."""
        for timed in (False, True):
            sync(self.device)
            t0 = time.perf_counter()
            for i in range(0, len(self.y), self.batch):
                xb = self.X[i:i + self.batch].to(self.device)
                yb = self.y[i:i + self.batch].to(self.device)
                loss = F.cross_entropy(self.model(xb), yb)
                self.opt.zero_grad(set_to_none=True)
                loss.backward()
                self.opt.step()
            loss.item()  # wait for the last step, as fit's end-of-epoch bookkeeping does
            sync(self.device)
        return len(self.y) / (time.perf_counter() - t0)


class WithFit:
    """cnnkit.train.fit on data kept on the device, with the given speed features."""

    def __init__(self, X, y, depth, batch, device, **features):
        seed_everything(0)
        self.model = cifar_resnet(depth, 10)
        self.loader = DeviceLoader(X, y, batch, device, shuffle=False)
        self.device, self.features = device, features

    def window(self) -> float:
        """fit for 2 epochs (a warm-up and a timed one); returns the timed epoch's images/s."""
        h = train.fit(self.model, self.loader, None, epochs=2, lr=0.05, device=self.device,
                      schedule=None, progress=False, **self.features)
        return h.images_per_second[-1]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--small", action="store_true", help="CPU-sized: ResNet-8, batch 64, 4 steps per window")
    ap.add_argument("--device", default=None, help="cuda, mps or cpu (default: cnnkit.device.pick_device)")
    ap.add_argument("--depth", type=int, default=None)
    ap.add_argument("--batch", type=int, default=None)
    ap.add_argument("--steps", type=int, default=None, help="batches per timed window")
    ap.add_argument("--windows", type=int, default=5, help="timed windows per configuration")
    ap.add_argument("--threads", type=int, default=None, help="CPU threads (torch.set_num_threads)")
    ap.add_argument("--compile", action="store_true", help="also measure torch.compile on a CPU")
    ap.add_argument("--cpu-bf16", action="store_true", help="also measure bf16 autocast on a CPU")
    args = ap.parse_args(argv)

    device = pick_device(args.device)
    if args.threads or (args.small and device.type == "cpu"):
        torch.set_num_threads(args.threads or 1)
    depth = args.depth or (8 if args.small else 20)
    batch = args.batch or (64 if args.small else 512)
    steps = args.steps or (4 if args.small else 40)
    X, y = make_shapes(steps * batch, seed=0)
    on_cuda = device.type == "cuda"
    amp = train.amp_dtype(device, "auto")
    if amp is None and args.cpu_bf16:
        amp = torch.bfloat16
    amp_name = str(amp).replace("torch.", "") if amp is not None else "bf16/fp16"
    macs = macs_per_image(depth)

    name = torch.cuda.get_device_name(device) if on_cuda else f"{platform.processor() or platform.machine()} CPU"
    print(f"device: {device.type} ({name}); torch {torch.__version__}; threads {torch.get_num_threads()}")
    print(f"model: ResNet-{depth} ({macs / 1e6:.1f} M multiply-adds per image forward, x3 for a training step); "
          f"batch {batch}; {steps} steps per window; median of {args.windows} windows")
    peak_n = 4096 if on_cuda else 1024
    peak32, peak16 = 0.0, 0.0

    rows = [
        ("baseline loop: fp32, NCHW, host->device copy per batch", None, True, ""),
        ("cnnkit.train: data on the device", dict(amp="off", channels_last=False, cudnn_benchmark=False), True, ""),
        ("+ channels_last", dict(amp="off", channels_last=True, cudnn_benchmark=False), True, ""),
        (f"+ autocast {amp_name}", dict(amp=amp, channels_last=True, cudnn_benchmark=False), amp is not None,
         "no autocast by default on this device (try --cpu-bf16)"),
        ("+ cudnn.benchmark", dict(amp=amp, channels_last=True, cudnn_benchmark=True), on_cuda, "cuDNN is CUDA-only"),
        ("+ torch.compile", dict(amp=amp, channels_last=True, cudnn_benchmark=True, compile=True),
         on_cuda or args.compile, "compilation on a CPU is slow; pass --compile to measure it"),
    ]
    runners = []
    for label, features, applies, why in rows:
        if not applies:
            runners.append((label, None, why))
        elif features is None:
            runners.append((label, Baseline(X, y, depth, batch, device), ""))
        else:
            runners.append((label, WithFit(X, y, depth, batch, device, **features), ""))
    rates = {label: [] for label, _, _ in runners}
    peaks = {label: 0 for label, _, _ in runners}
    for _ in range(args.windows):  # round robin: every configuration once per round
        peak32 = max(peak32, matmul_peak(device, torch.float32, peak_n))
        if amp is not None:
            peak16 = max(peak16, matmul_peak(device, amp, 2 * peak_n))
        for label, runner, _ in runners:
            if runner is None:
                continue
            if on_cuda:
                torch.cuda.empty_cache()
                torch.cuda.reset_peak_memory_stats()
            rates[label].append(runner.window())
            if on_cuda:
                peaks[label] = max(peaks[label], torch.cuda.max_memory_allocated())
    print(f"measured matmul peak (best window): fp32 {peak32 / 1e9:,.1f} G multiply-adds/s"
          + (f", {amp_name} {peak16 / 1e9:,.1f} G multiply-adds/s" if peak16 else ""))
    print(f"\n| {'configuration':58s} | images/s (median) | min-max | speed-up | peak memory | multiply-adds/s | of peak |")
    print(f"| {'-' * 58} | ---: | ---: | ---: | ---: | ---: | ---: |")
    base = None
    for (label, runner, why), (_, features, _, _) in zip(runners, rows):
        if runner is None:
            print(f"| {label:58s} | n/a | | | | | ({why}) |")
            continue
        rate = statistics.median(rates[label])
        base = base or rate
        mem = f"{peaks[label] / 2**20:.0f} MiB" if on_cuda else "n/a (CPU)"
        achieved = 3 * macs * rate
        uses_16 = features is not None and train.amp_dtype(device, features.get("amp")) is not None
        peak = peak16 if uses_16 else peak32
        print(f"| {label:58s} | {rate:,.0f} | {min(rates[label]):,.0f}-{max(rates[label]):,.0f} | "
              f"{rate / base:.2f}x | {mem} | {achieved / 1e9:,.1f} G | {achieved / peak:.0%} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
