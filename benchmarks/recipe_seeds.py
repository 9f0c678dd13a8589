"""How much lecture 10's CPU training recipe moves with the seed and the thread count.

A stored notebook may only state a trained accuracy as a threshold that every run clears with a
margin: another seed, thread count or CPU changes the float rounding and so the trajectory. This
script trains lecture 10's CPU configuration (a narrow ResNet-8 on 3,000 procedural shapes,
5 epochs) once per seed under the given thread count and prints each run's test accuracy and the
minimum, mean and maximum:

    OMP_NUM_THREADS=1 python benchmarks/recipe_seeds.py --threads 1 --seeds 0-9
    OMP_NUM_THREADS=2 python benchmarks/recipe_seeds.py --threads 2 --seeds 0-9
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from cnnkit import train
from cnnkit.data import DeviceLoader, load_shapes
from cnnkit.device import make_repeatable, seed_everything
from cnnkit.models.cifar import CifarResNet

# lecture 10's CPU configuration (keep in step with its CFG)
CFG = dict(n=(3000, 500, 1000), depth=8, widths=(8, 16, 32), epochs=5, batch=64, lr=0.2)


def seeds(text: str) -> list[int]:
    """'0-9' or '0,3,5' -> a list of seeds."""
    if "-" in text:
        lo, hi = text.split("-")
        return list(range(int(lo), int(hi) + 1))
    return [int(s) for s in text.split(",")]


def run(seed: int, split, device) -> float:
    """Lecture 10's training cell with `seed` for the weights and the shuffle; the test accuracy."""
    seed_everything(seed)
    loader = DeviceLoader(split.X_train, split.y_train, CFG["batch"], device, shuffle=True, seed=seed)
    model = CifarResNet(CFG["depth"], 10, residual=True, widths=CFG["widths"])
    train.fit(model, loader, (split.X_val, split.y_val), epochs=CFG["epochs"], lr=CFG["lr"],
              device=device, progress=False)
    return train.evaluate(model, (split.X_test, split.y_test), device)[1]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=1, help="PyTorch threads (set OMP_NUM_THREADS to match)")
    ap.add_argument("--seeds", type=seeds, default=seeds("0-4"), help="'0-9' or '0,3,5' (default 0-4)")
    args = ap.parse_args(argv)
    device = torch.device("cpu")
    make_repeatable(device)
    torch.set_num_threads(args.threads)
    split = load_shapes(*CFG["n"], seed=0)
    accs = []
    for s in args.seeds:
        t0 = time.perf_counter()
        accs.append(run(s, split, device))
        print(f"threads {args.threads} seed {s}: test accuracy {accs[-1]:.3f} ({time.perf_counter() - t0:.0f} s)", flush=True)
    print(f"{len(accs)} runs: min {min(accs):.3f}, mean {statistics.mean(accs):.3f}, max {max(accs):.3f}")


if __name__ == "__main__":
    main()
