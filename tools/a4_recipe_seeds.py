"""Measure A4's part 5 recipe over seeds: accuracy on new images, epochs, wall and CPU seconds.

    python tools/a4_recipe_seeds.py --seeds 0 1 2 3 4 --threads 1
    python tools/a4_recipe_seeds.py --seeds 0 1 2 3 4 --threads 2
    python tools/a4_recipe_seeds.py --compare --threads 2        # part 4 instead (see below)

It runs the instructor's setup cell and solution cells of solutions/A4/A4_training.pct.py (the
setup asks for one thread; --threads forces the count after it) and calls train_final(seed) for
each seed in turn, then counts its model's accuracy on 2000 new images (load_shapes with
--data-seed, a seed the notebook does not use). The target and the budget of epochs come from
the notebook.
"""
from __future__ import annotations

import argparse
import re
import time
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[1] / "solutions" / "A4" / "A4_training.pct.py"
CELLS = ("locked setup", "solution step", "solution evaluate", "solution loop", "solution final")


def namespace(threads: int) -> dict:
    text = SOURCE.read_text()
    heads = re.findall(r"^# %%.*$", text, flags=re.M)
    bodies = re.split(r"^# %%.*$", text, flags=re.M)[1:]
    ns: dict = {"__name__": "a4_recipe"}
    for head, body in zip(heads, bodies):
        if any(f'nb="{c}"' in head for c in CELLS):
            exec(compile(body, f"{SOURCE.name}: {head}", "exec"), ns)  # noqa: S102 - the instructor's own cells
            if "locked setup" in head:
                import torch
                torch.set_num_threads(threads)
    return ns


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--data-seed", type=int, default=987_654_321)
    ap.add_argument("--compare", action="store_true", help="part 4 (plain vs residual) instead of part 5")
    args = ap.parse_args(argv)
    ns = namespace(args.threads)
    import torch

    from cnnkit.data import load_shapes

    fresh = load_shapes(0, 0, 2000, seed=args.data_seed)
    X, y = torch.as_tensor(fresh.X_test), torch.as_tensor(fresh.y_test)
    print(f"threads {torch.get_num_threads()}, target {ns['TARGET']:.2f}, budget {ns['FINAL_MAX_EPOCHS']} epochs", flush=True)
    if args.compare:
        return compare(ns, args.seeds, X, y)
    accs = []
    for seed in args.seeds:
        wall, cpu = time.perf_counter(), time.process_time()
        model, history = ns["train_final"](seed)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        acc = (ns["_logits_of"](model, X).argmax(1) == y).float().mean().item()
        accs.append(acc)
        print(f"seed {seed}: accuracy {acc:.3f} on new images, {wall:.1f} s wall, {cpu:.1f} s CPU, "
              f"{len(history['val_acc'])} epochs, stopped early {history['stopped_early']}", flush=True)
    reached = sum(a >= ns["TARGET"] for a in accs)
    print(f"{reached} of {len(accs)} seeds reach {ns['TARGET']:.2f}; lowest {min(accs):.3f} "
          f"(margin {min(accs) - ns['TARGET']:+.3f})")
    return 0 if reached == len(accs) else 1


def compare(ns: dict, seeds, X, y) -> int:
    """Part 4 over seeds: the two networks' losses on new images against the tests' bounds."""
    import math

    import torch.nn.functional as F

    visible, hidden = math.log(10) - 0.1, math.log(10) + 0.7
    margins = []
    for seed in seeds:
        losses = {}
        for name, residual in (("plain", False), ("residual", True)):
            ns["seed_everything"](seed)
            net = ns["CifarResNet"](20, 10, residual, widths=ns["WIDTHS"]).to(ns["device"])
            n = ns["CMP_TRAIN"]
            ns["train_model"](net, ns["X_train"][:n], ns["y_train"][:n], ns["X_val"], ns["y_val"],
                              epochs=ns["CMP_EPOCHS"], lr=0.2)
            losses[name] = F.cross_entropy(ns["_logits_of"](net, X), y).item()
        margins.append(min(visible - losses["residual"], hidden - max(losses.values())))
        print(f"seed {seed}: loss on new images: residual {losses['residual']:.3f} (bound {visible:.3f}), "
              f"plain {losses['plain']:.3f}; residual lower: {losses['residual'] < losses['plain']}", flush=True)
    ok = sum(m > 0 for m in margins)
    print(f"{ok} of {len(margins)} seeds within the bounds; smallest margin {min(margins):+.3f}")
    return 0 if ok == len(margins) else 1


if __name__ == "__main__":
    raise SystemExit(main())
