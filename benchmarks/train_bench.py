"""Training throughput: a baseline loop against cnnkit.train's step with each speed feature added.

The same model (ResNet-20 for 32x32 images, cnnkit.models.cifar_resnet, the same initial
weights) and the same data (the course's procedural shapes) are trained side by side in one run:

  1. baseline: a plain PyTorch loop, fp32 (TF32 off), NCHW, each batch copied from pinned host
     memory with non_blocking=True every step (what a DataLoader with pin_memory=True gives);
  2. cnnkit.train.train_step on data kept on the device (DeviceLoader), fp32, NCHW;
  3. + channels_last (model and stored data converted once);
  4. + TF32 for float32 convolutions and matrix products (CUDA, Ampere and newer);
  5. + mixed precision (bf16 autocast, or fp16 with a GradScaler on GPUs without native bf16);
  6. + cudnn.benchmark;
  7. + torch.compile.

Every timed loop drops the last incomplete batch (a new shape would make torch.compile
recompile and cudnn.benchmark retune). The configurations take turns: in each of `windows`
rounds every configuration runs a few warm-up steps and then one timed window of `steps` steps
between two device synchronisations (cnnkit.train.time_steps), so a load that comes and goes
affects them alike. The first round warms up longer (`--warmup`, plus 20 steps with compile).

Printed per row: the median images/s over the rounds (and the range), the speed-up over the
baseline, the training step's own peak memory (cnnkit.device.PeakMemory: the peak during the
timed steps minus what was resident before them: weights, optimizer state, the data sets kept on
the device), and the achieved multiply-add rate (cnnkit.inspect.count_macs per image, x3 for
forward and backward) as a share of a measured peak: a large matrix product in the row's
arithmetic (fp32, TF32, bf16 or fp16), timed on the same device.

    python benchmarks/train_bench.py                 # on the GPU, if there is one
    python benchmarks/train_bench.py --small         # a CPU-sized run (ResNet-8, batch 64, 1 thread)
    python benchmarks/train_bench.py --json out.json # also write the figures as JSON

Rows that do not apply to the device (TF32 and cudnn off CUDA, autocast on a CPU unless
--cpu-bf16, compile on a CPU unless --compile) are printed as such, not measured.
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time

import torch
import torch.nn.functional as F

from cnnkit import train
from cnnkit.data import DeviceLoader, make_shapes
from cnnkit.device import (PeakMemory, pick_device, restore_backend_flags, seed_everything,
                           set_backend_flags, synchronize)
from cnnkit.inspect import count_macs
from cnnkit.models import cifar_resnet


def macs_per_image(depth: int) -> int:
    """Forward multiply-adds of ResNet-depth on one 32x32 image (cnnkit.inspect, meta device)."""
    with torch.device("meta"):
        model = cifar_resnet(depth, 10)
    return count_macs(model, (3, 32, 32))


def matmul_peak(device, dtype, n: int, tf32: bool = False, seconds: float = 0.5) -> float:
    """Multiply-adds per second of an n x n x n matrix product in dtype (for float32: in TF32 if
    tf32). The repetitions per window are calibrated between synchronisations (a GPU returns
    from a call as soon as the work is queued), then the best of 5 windows is kept: the peak is
    what the device sustains when nothing disturbs it."""
    flags = set_backend_flags(tf32=tf32)
    try:
        a = torch.randn(n, n, device=device).to(dtype)
        b = torch.randn(n, n, device=device).to(dtype)

        def window(reps):
            synchronize(device)
            t0 = time.perf_counter()
            for _ in range(reps):
                a @ b
            synchronize(device)
            return time.perf_counter() - t0

        window(1)
        reps = 1
        while window(reps) < seconds / 5 and reps < 2 ** 20:
            reps *= 2
        return max(reps * n ** 3 / window(reps) for _ in range(5))
    finally:
        restore_backend_flags(flags)


def cycle(loader):
    """Batches from a DeviceLoader, epoch after epoch."""
    while True:
        yield from loader


class Config:
    """One row: a model, its optimizer and a step function, with the backend flags it runs under."""

    def __init__(self, label, depth, device, batches, step, flags, compile=False, peak="fp32"):
        seed_everything(0)
        self.label, self.device, self.flags, self.peak = label, device, flags, peak
        self.model = cifar_resnet(depth, 10).to(device)
        self.compile = compile
        self.batches = batches
        self.make_step = step
        self.rates: list[float] = []
        self.step_bytes: list[int] = []
        self.resident = None

    def setup(self):
        self.opt = torch.optim.SGD(self.model.parameters(), lr=0.05, momentum=0.9, nesterov=True,
                                   weight_decay=5e-4)
        self.step = self.make_step(self)


def baseline_step(host_batches, device):
    def make(cfg):
        def step():
            xb, yb = next(host_batches)
            xb = xb.to(device, non_blocking=True)
            yb = yb.to(device, non_blocking=True)
            loss = F.cross_entropy(cfg.model(xb), yb)
            cfg.opt.zero_grad(set_to_none=True)
            loss.backward()
            cfg.opt.step()
        return step
    return make


def train_step_of(amp, channels_last, device):
    def make(cfg):
        if channels_last:
            cfg.model.to(memory_format=torch.channels_last)
        model = torch.compile(cfg.model) if cfg.compile else cfg.model
        scaler = train.make_scaler(device, amp)

        def step():
            train.train_step(model, next(cfg.batches), cfg.opt, amp=amp, scaler=scaler,
                             channels_last=channels_last)
        return step
    return make


def host_batches(X, y, batch, pin):
    """Batches sliced from host memory (pinned when copying to a GPU), epoch after epoch."""
    X, y = torch.from_numpy(X), torch.from_numpy(y)
    if pin:
        X, y = X.pin_memory(), y.pin_memory()
    while True:
        for i in range(0, len(y) - batch + 1, batch):  # the last incomplete batch is dropped
            yield X[i:i + batch], y[i:i + batch]


def parse(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--small", action="store_true", help="CPU-sized: ResNet-8, batch 64, 1 thread")
    ap.add_argument("--device", default=None, help="cuda, mps or cpu (default: cnnkit.device.pick_device)")
    ap.add_argument("--depth", type=int, default=None, help="ResNet depth, 6n+2 (default 20; 8 with --small)")
    ap.add_argument("--batch", type=int, default=None, help="batch size (default 2048 on a CUDA GPU, 512 elsewhere; 64 with --small)")
    ap.add_argument("--steps", type=int, default=None, help="steps per timed window (default 50; 20 on a CUDA GPU or with --small)")
    ap.add_argument("--warmup", type=int, default=5, help="warm-up steps in the first round (compile: +20)")
    ap.add_argument("--windows", type=int, default=5, help="rounds: timed windows per configuration")
    ap.add_argument("--threads", type=int, default=None, help="CPU threads (torch.set_num_threads)")
    ap.add_argument("--compile", action="store_true", help="also measure torch.compile on a CPU")
    ap.add_argument("--cpu-bf16", action="store_true", help="also measure bf16 autocast on a CPU")
    ap.add_argument("--json", default=None, help="write the figures to this JSON file too")
    return ap.parse_args(argv)


def run(args) -> dict:
    """Measure every configuration; returns the figures (what --json writes)."""
    device = pick_device(args.device)
    if args.threads or (args.small and device.type == "cpu"):
        torch.set_num_threads(args.threads or 1)
    depth = args.depth or (8 if args.small else 20)
    on_cuda = device.type == "cuda"
    # On a CUDA GPU the default batch is 2048: on an H200 (benchmarks/RESULTS.md, 4 December 2026)
    # at batch 512 the TF32, bf16 and cudnn.benchmark rows all ran at 41-46k images/s (a step
    # of about 11 ms whatever its arithmetic), so the rows measured a fixed cost per step, not
    # what each feature buys; at 2048 they separate (95k, 115k, 171k with compile).
    batch = args.batch or (64 if args.small else 2048 if on_cuda else 512)
    steps = args.steps or (20 if args.small or on_cuda else 50)
    amp = train.amp_dtype(device, "auto")
    if amp is None and args.cpu_bf16:
        amp = torch.bfloat16
    amp_name = str(amp).replace("torch.", "") if amp is not None else "bf16/fp16"
    macs = macs_per_image(depth)
    name = torch.cuda.get_device_name(device) if on_cuda else f"{platform.processor() or platform.machine()} CPU"

    n = 8 * batch  # eight batches of data, shuffled anew each epoch
    X, y = make_shapes(n, seed=0)
    loader = DeviceLoader(X, y, batch, device, shuffle=True, seed=0, drop_last=True)
    loader_cl = DeviceLoader(X, y, batch, device, shuffle=True, seed=0, drop_last=True)
    loader_cl.X = loader_cl.X.contiguous(memory_format=torch.channels_last)  # stored once in that layout

    fp32 = dict(cudnn_benchmark=False, tf32=False)
    tf32 = dict(cudnn_benchmark=False, tf32=True)
    bench = dict(cudnn_benchmark=True, tf32=True)
    amp_peak = amp_name if amp is not None else "fp32"
    specs = [  # label, applies, why not, data, step maker, flags, compile, peak
        ("baseline loop: fp32, NCHW, " + ("pinned host->device copy" if on_cuda else "batch sliced from host memory")
         + " per batch", True, "",
         None, baseline_step(host_batches(X, y, batch, on_cuda), device), fp32, False, "fp32"),
        ("cnnkit.train: data on the device", True, "", loader, train_step_of(None, False, device), fp32, False, "fp32"),
        ("+ channels_last", True, "", loader_cl, train_step_of(None, True, device), fp32, False, "fp32"),
        ("+ TF32", on_cuda, "TF32 is a CUDA tensor-core format", loader_cl,
         train_step_of(None, True, device), tf32, False, "tf32"),
        (f"+ autocast {amp_name}" + (" + GradScaler" if amp == torch.float16 else ""), amp is not None,
         "no autocast by default on this device (try --cpu-bf16)", loader_cl,
         train_step_of(amp, True, device), tf32, False, amp_peak),
        ("+ cudnn.benchmark", on_cuda, "cuDNN is CUDA-only", loader_cl, train_step_of(amp, True, device),
         bench, False, amp_peak),
        ("+ torch.compile", on_cuda or args.compile, "compilation on a CPU is slow; pass --compile to measure it",
         loader_cl, train_step_of(amp, True, device), bench, True, amp_peak),
    ]
    configs, skipped = [], {}
    for label, applies, why, data, make, flags, comp, peak in specs:
        if not applies:
            skipped[label] = why
            configs.append(label)
            continue
        cfg = Config(label, depth, device, cycle(data) if data is not None else None, make, flags, comp, peak)
        configs.append(cfg)

    original = set_backend_flags()
    t_start = time.perf_counter()
    try:
        for cfg in configs:
            if isinstance(cfg, Config):
                set_backend_flags(**cfg.flags)
                cfg.setup()
        for r in range(args.windows):  # round robin: every configuration once per round
            for cfg in configs:
                if not isinstance(cfg, Config):
                    continue
                set_backend_flags(**cfg.flags)
                warm = (args.warmup + (20 if cfg.compile else 0)) if r == 0 else 2
                meter = PeakMemory(device)
                rate = train.time_steps(cfg.step, batch, device, warmup=warm, steps=steps, windows=1,
                                        memory=meter)[0]
                cfg.rates.append(rate)
                if meter.step_bytes is not None:
                    cfg.step_bytes.append(meter.step_bytes)
                    cfg.resident = meter.resident
        peaks = {"fp32": matmul_peak(device, torch.float32, 4096 if on_cuda else 1024)}
        if on_cuda:
            peaks["tf32"] = matmul_peak(device, torch.float32, 8192, tf32=True)
        if amp is not None:
            peaks[amp_name] = matmul_peak(device, amp, 8192 if on_cuda else 2048)
    finally:
        restore_backend_flags(original)
    seconds = time.perf_counter() - t_start

    rows, base = [], None
    for cfg in configs:
        if not isinstance(cfg, Config):
            rows.append({"label": cfg, "measured": False, "why": skipped[cfg]})
            continue
        rate = statistics.median(cfg.rates)
        base = base or rate
        achieved = 3 * macs * rate
        rows.append({"label": cfg.label, "measured": True, "images_per_s": rate, "min": min(cfg.rates),
                     "max": max(cfg.rates), "speedup": rate / base,
                     "step_peak_bytes": max(cfg.step_bytes) if cfg.step_bytes else None,
                     "resident_bytes": cfg.resident, "macs_per_s": achieved, "peak": cfg.peak,
                     "share_of_peak": achieved / peaks[cfg.peak]})
    return {"device": device.type, "name": name, "torch": torch.__version__, "cuda": torch.version.cuda,
            "cudnn": torch.backends.cudnn.version() if on_cuda else None,
            "tf32_default": {k: v for k, v in original.items() if k.startswith("tf32")},
            "threads": torch.get_num_threads(), "depth": depth, "batch": batch, "steps": steps,
            "windows": args.windows, "macs_per_image": macs, "peaks": peaks, "rows": rows,
            "seconds": seconds}


def table(res: dict) -> str:
    """The figures as a markdown table (the form benchmarks/RESULTS.md keeps)."""
    mib = lambda b: "n/a" if b is None else f"{b / 2**20:,.0f} MiB"  # noqa: E731
    lines = ["| configuration | images/s (median) | min-max | speed-up | step's own peak memory | "
             "multiply-adds/s | of peak |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in res["rows"]:
        if not r["measured"]:
            lines.append(f"| {r['label']} | n/a ({r['why']}) | | | | | |")
            continue
        lines.append(f"| {r['label']} | {r['images_per_s']:,.0f} | {r['min']:,.0f}-{r['max']:,.0f} | "
                     f"{r['speedup']:.2f}x | {mib(r['step_peak_bytes'])} | {r['macs_per_s'] / 1e9:,.1f} G | "
                     f"{r['share_of_peak']:.0%} of {r['peak']} |")
    return "\n".join(lines)


def header(res: dict) -> str:
    peaks = ", ".join(f"{k} {v / 1e12:,.2f} T" for k, v in res["peaks"].items())
    resident = [r["resident_bytes"] for r in res["rows"] if r.get("resident_bytes")]
    return (f"device: {res['device']} ({res['name']}); torch {res['torch']}, CUDA {res['cuda']}, cuDNN {res['cudnn']}; "
            f"threads {res['threads']}\n"
            f"model: ResNet-{res['depth']} ({res['macs_per_image'] / 1e6:.1f} M multiply-adds per image forward "
            f"(cnnkit.inspect.count_macs), x3 for a training step); batch {res['batch']}; {res['steps']} steps per "
            f"window; median of {res['windows']} rounds; {res['seconds']:.1f} s\n"
            f"TF32 default of this PyTorch: {res['tf32_default']}; rows set it explicitly (see the labels)\n"
            f"measured matmul peak (best window), multiply-adds/s: {peaks}"
            + (f"\nresident on the device during the timed steps (weights, optimizer state, all data sets): "
               f"{max(resident) / 2**20:,.0f} MiB, not counted in the step's own peak" if resident else ""))


def main(argv=None) -> int:
    args = parse(argv)
    res = run(args)
    print(header(res))
    print()
    print(table(res))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({**res, "header": header(res), "table": table(res)}, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
