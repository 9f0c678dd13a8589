"""Verify the course's GPU path on a CUDA machine, in one command, and record what it measured.

    python tools/verify_gpu.py              # on a CUDA machine: sized to finish within 8 minutes on an H100/H200
    python tools/verify_gpu.py --dry-run    # on any machine: the same steps at tiny sizes, seconds

What it does, in this order:

1. `benchmarks/train_bench.py` in full (ResNet-20, batch 2048; alone on the GPU, so that nothing
   else disturbs the timings), its figures read back as JSON;
2. then, side by side (`--jobs` at a time), with the GPU selected (CNNKIT_DEVICE=cuda):
   - every lecture and solution notebook executed from a temporary copy of its folder (the
     stored notebooks and their outputs are never touched; errors fail, outputs are not
     compared: they are CPU outputs). A4's solution is executed by step 3 instead of here;
   - A4 graded with the course's autograder at its GPU sizes: released, the instructor's
     solution submitted and autograded in a temporary course folder; it must earn every
     autograded point, and its notebook must report the device "cuda";
   - lecture 10's recipe: its last training cell asserts the stated GPU accuracy; the measured
     test accuracy is read from the executed notebook;
3. a dated section of `benchmarks/RESULTS.md` (GPU name, torch, CUDA and cuDNN versions, TF32
   setting, images/s per configuration, speed-ups, share of the measured peak, the training
   step's own peak memory, the notebook results) and a summary of the checks on stdout.

The exit status is 0 only if every check passed: all notebooks ran, A4 earned full points on
CUDA, lecture 10 reached its stated accuracy, and the best configuration of the benchmark is at
least 3x the baseline loop. A time limit (`--time-limit`, 480 s) bounds the whole run; what has not
finished by then fails.

Grading runs without the bubblewrap sandbox and without the memory limit: the sandbox's private
/dev has no /dev/nvidia* devices, and CUDA cannot start under an address-space limit (RLIMIT_AS).
This is safe here because the graded notebook is the instructor's own solution; student
submissions must still be graded in the sandbox, on the CPU.

--dry-run runs every step on whatever device there is at tiny sizes: the benchmark with a few
steps, one lecture (`--notebooks`, default lectures/01) and A1 instead of A4, and prints the
section instead of writing it (pass --results FILE to write it somewhere). The tests run it, so
the command keeps working without a GPU.
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
SECTION_BEFORE = "# Grading throughput"  # GPU sections go above the grading benchmark's part
ACCURACY = re.compile(r"test accuracy (\d+\.\d+) \(stated: at least (\d+\.\d+)")
MIN_SPEEDUP = 3.0


def course_notebooks(root: Path = ROOT) -> list[Path]:
    """Every lecture and solution notebook, relative to root, in course order."""
    found = sorted((root / "lectures").glob("*.ipynb")) + sorted((root / "solutions").glob("A*/*.ipynb"))
    return [p.relative_to(root) for p in found]


# The notebooks that train at GPU sizes, longest first: they start first so that they do not
# start last (the numpy lectures take seconds each).
HEAVY = ("lectures/11_", "lectures/10_", "lectures/08_", "lectures/09_", "solutions/A3/", "lectures/06_")


def heavy_first(rel: Path) -> tuple[int, str]:
    """Sort key: the notebooks in HEAVY in its order, then the others by path."""
    text = rel.as_posix()
    rank = next((i for i, prefix in enumerate(HEAVY) if text.startswith(prefix)), len(HEAVY))
    return rank, text


def lecture10_accuracy(nb_path: Path) -> tuple[float, float] | None:
    """(measured test accuracy, stated target) as lecture 10's evaluation cell printed them."""
    import nbformat

    nb = nbformat.read(nb_path, as_version=4)
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            m = ACCURACY.search(out.get("text", "") if isinstance(out.get("text", ""), str) else "")
            if m:
                return float(m.group(1)), float(m.group(2))
    return None


def notebook_device(nb_path: Path) -> str | None:
    """The device an executed course notebook printed in its first lines ('device: cuda...')."""
    import nbformat

    nb = nbformat.read(nb_path, as_version=4)
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            m = re.search(r"device: (\w+)", out.get("text", "") or "")
            if m:
                return m.group(1)
    return None


def _tail(text: str, n: int = 1500) -> str:
    return text[-n:].strip()


def run_notebook(rel: Path, work: Path, left) -> dict:
    """Execute a temporary copy of the notebook (its whole folder is copied, so files beside it
    are there too); returns {notebook, ok, seconds, error, out}."""
    src_dir = ROOT / rel.parent
    dst_dir = work / "notebooks" / rel.parent
    if not dst_dir.exists():
        shutil.copytree(src_dir, dst_dir, ignore=shutil.ignore_patterns("*.pct.py", "__pycache__"),
                        dirs_exist_ok=True)
    src = dst_dir / rel.name
    out = dst_dir / (rel.stem + ".executed.ipynb")
    timeout = left()  # the time left when this job starts, not when it was queued
    cmd = [sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
           f"--ExecutePreprocessor.timeout={max(1, int(timeout))}", "--ExecutePreprocessor.kernel_name=python3",
           "--output", out.name, str(src)]
    t0 = time.perf_counter()
    try:
        res = subprocess.run(cmd, cwd=dst_dir, capture_output=True, text=True, timeout=timeout + 30)
        ok, error = res.returncode == 0, "" if res.returncode == 0 else _tail(res.stderr)
    except subprocess.TimeoutExpired:
        ok, error = False, f"not finished within the time limit ({timeout:.0f} s left)"
    return {"notebook": str(rel), "ok": ok, "seconds": time.perf_counter() - t0, "error": error,
            "out": str(out) if ok else None}


def grade(assignment: str, work: Path, left) -> dict:
    """Grade the instructor's solution of `assignment` in a subprocess (see _grade_main)."""
    report = work / f"grade-{assignment}.json"
    timeout = left()
    cmd = [sys.executable, str(Path(__file__).resolve()), "--_grade", assignment, str(work / f"course-{assignment}"),
           str(report)]
    t0 = time.perf_counter()
    try:
        res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
        if res.returncode == 0 and report.exists():
            out = json.loads(report.read_text())
        else:
            out = {"ok": False, "error": _tail(res.stderr or res.stdout)}
    except subprocess.TimeoutExpired:
        out = {"ok": False, "error": f"not finished within the time limit ({timeout:.0f} s left)"}
    out.update(assignment=assignment, seconds=time.perf_counter() - t0)
    return out


def _grade_main(assignment: str, course_dir: str, report: str) -> int:
    """Release, submit the solution as student 'correct', autograde without the sandbox (see the
    module docstring), and write points, maximum and the device the notebook reported."""
    from autograder import api, course, submissions

    work = Path(course_dir)
    released = api.release(assignment, work, release_dir=work / "release")
    source = course.Course().assignment(assignment).source
    points = 0.0
    for nb_path in sorted(Path(released).glob("*.ipynb")):
        source_nb = submissions.read(source / nb_path.name)
        folder = work / "submitted" / "correct" / assignment
        folder.mkdir(parents=True, exist_ok=True)
        import nbformat

        nbformat.write(submissions.fill(submissions.read(nb_path), source_nb), folder / nb_path.name)
        points += submissions.autograded_points(source_nb)
    outcome = api.grade(assignment, work, unsafe=True, limits={"memory_bytes": 0})
    row = {r["student"]: r for r in api.grade_rows(work, assignment)}.get("correct", {})
    graded = sorted((work / "autograded" / "correct" / assignment).glob("*.ipynb"))
    device = notebook_device(graded[0]) if graded else None
    got = float(row.get("autograded", 0.0))
    ok = outcome.get("correct") == "ok" and got == points and points > 0
    Path(report).write_text(json.dumps({"ok": ok, "points": got, "max": points, "device": device,
                                        "reason": outcome.get("correct"), "error": "" if ok else str(row)}))
    return 0


def run_bench(work: Path, timeout: float, dry_run: bool) -> dict:
    out = work / "bench.json"
    flags = ["--small", "--depth", "8", "--batch", "8", "--steps", "2", "--windows", "1", "--warmup", "1"] if dry_run else []
    shown = " ".join(["python benchmarks/train_bench.py"] + flags)
    cmd = [sys.executable, str(ROOT / "benchmarks" / "train_bench.py"), "--json", str(out)] + flags
    t0 = time.perf_counter()
    try:
        res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"ok": False, "error": f"not finished within the time limit ({timeout:.0f} s left)",
                "seconds": time.perf_counter() - t0, "shown": shown}
    if res.returncode != 0 or not out.exists():
        return {"ok": False, "error": _tail(res.stderr), "seconds": time.perf_counter() - t0, "shown": shown}
    data = json.loads(out.read_text())
    return {"ok": True, "figures": data, "seconds": time.perf_counter() - t0, "shown": shown}


def best_speedup(figures: dict) -> tuple[str, float]:
    measured = [r for r in figures["rows"] if r["measured"]]
    best = max(measured, key=lambda r: r["speedup"])
    return best["label"], best["speedup"]


def checks(report: dict, dry_run: bool) -> list[tuple[str, bool, str]]:
    """(what, passed, detail) for everything the command verifies."""
    out = []
    nbs = report["notebooks"]
    failed = [n["notebook"] for n in nbs if not n["ok"]]
    out.append((f"{len(nbs)} notebooks executed with the {report['device']} selected", not failed and bool(nbs),
                "failed: " + ", ".join(failed) if failed else "all ran"))
    g = report["grade"]
    # A4 prints the device it picked its sizes for; the dry run's A1 picks none
    g_ok = g.get("ok", False) and (dry_run or g.get("device") == "cuda")
    out.append((f"{g['assignment']} solution graded" + ("" if dry_run else " at its GPU sizes"), g_ok,
                f"{g.get('points', 0):g} of {g.get('max', 0):g} autograded points, device {g.get('device')}"
                + ("" if g_ok else f"; {g.get('error', '')[:500]}")))
    if not dry_run:
        acc = report.get("lecture10")
        out.append(("lecture 10's recipe reaches its stated GPU accuracy", bool(acc) and acc[0] >= acc[1],
                    f"test accuracy {acc[0]:.2f}, stated at least {acc[1]:.2f}" if acc else "lecture 10 did not finish"))
    b = report["bench"]
    out.append(("benchmarks/train_bench.py ran in full" if not dry_run else "benchmarks/train_bench.py ran (tiny)",
                b["ok"], f"{b['seconds']:.0f} s" if b["ok"] else b["error"][:500]))
    if b["ok"] and not dry_run:
        label, x = best_speedup(b["figures"])
        out.append((f"best configuration at least {MIN_SPEEDUP:g}x the baseline loop", x >= MIN_SPEEDUP,
                    f"{label}: {x:.2f}x"))
    return out


def section(report: dict, dry_run: bool) -> str:
    """The dated markdown section for benchmarks/RESULTS.md."""
    b = report["bench"]
    fig = b.get("figures") or {}
    name = fig.get("name", report["device"])
    lines = [f"## {'Dry run' if dry_run else 'GPU run'}, {report['date']}: {name}", "",
             f"Command: `{report['command']}` ({report['seconds']:.0f} s wall, time limit {report['time_limit']:.0f} s). "
             f"torch {report['torch']}, CUDA {report['cuda']}, cuDNN {fig.get('cudnn')}, Python {report['python']}.", ""]
    if dry_run:
        lines += ["A dry run at tiny sizes: it shows that the command works, not what a GPU does.", ""]
    lines += ["| check | result | detail |", "| --- | --- | --- |"]
    for what, ok, detail in checks(report, dry_run):
        lines.append(f"| {what} | {'pass' if ok else 'FAIL'} | {detail} |")
    lines += ["", "Notebooks (executed from temporary copies; outputs not compared):", "",
              "| notebook | result | seconds |", "| --- | --- | ---: |"]
    for n in report["notebooks"]:
        lines.append(f"| {n['notebook']} | {'ok' if n['ok'] else 'FAILED'} | {n['seconds']:.0f} |")
    g = report["grade"]
    lines.append(f"| solutions/{g['assignment']} (graded) | {'ok' if g.get('ok') else 'FAILED'} | {g['seconds']:.0f} |")
    if b["ok"]:
        tf = fig["tf32_default"]
        lines += ["", f"Training throughput: `{b['shown']}` "
                  f"({b['seconds']:.0f} s). TF32: this PyTorch's default is convolutions "
                  f"{'on' if tf['tf32_conv'] else 'off'}, matrix products {'on' if tf['tf32_matmul'] else 'off'}; "
                  "each row sets it explicitly (off up to channels_last, on from the TF32 row).", "",
                  "```", fig["header"], "```", "", fig["table"]]
        label, x = best_speedup(fig)
        lines += ["", f"Best configuration: {label}, {x:.2f}x the baseline loop's images/s."]
    return "\n".join(lines) + "\n"


def write_section(path: Path, text: str) -> None:
    """Insert the section above the grading benchmark's part of RESULTS.md (or at the end)."""
    old = path.read_text() if path.exists() else "# Training throughput\n"
    i = old.find("\n" + SECTION_BEFORE)
    new = old.rstrip("\n") + "\n\n" + text if i < 0 else old[:i].rstrip("\n") + "\n\n" + text + old[i:]
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(new)
    os.replace(tmp, path)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dry-run", action="store_true", help="tiny sizes on any device; prints the section")
    ap.add_argument("--time-limit", type=float, default=480.0, help="seconds for the whole run (default 480)")
    ap.add_argument("--jobs", type=int, default=8, help="notebooks executed at a time (default 8)")
    ap.add_argument("--notebooks", nargs="*", default=None,
                    help="notebooks to execute (default: every lecture and solution; lectures/01 with --dry-run)")
    ap.add_argument("--results", default=None,
                    help="file to write the section to (default: benchmarks/RESULTS.md; none with --dry-run)")
    ap.add_argument("--keep", default=None, help="keep the executed copies in this folder")
    ap.add_argument("--_grade", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args._grade:
        return _grade_main(*args._grade)

    import torch

    t_start = time.perf_counter()
    deadline = t_start + args.time_limit
    left = lambda: max(1.0, deadline - time.perf_counter())  # noqa: E731 - seconds left of the limit
    if not args.dry_run:
        if not torch.cuda.is_available():
            print("verify_gpu: no CUDA GPU here (torch.cuda.is_available() is False). Run it on a CUDA "
                  "machine, or pass --dry-run to check the command itself.", file=sys.stderr)
            return 2
        os.environ["CNNKIT_DEVICE"] = "cuda"
    os.environ.setdefault("OMP_NUM_THREADS", "2")  # several kernels share the CPU cores
    os.environ.setdefault("MPLBACKEND", "Agg")
    assignment = "A1" if args.dry_run else "A4"
    if args.notebooks is not None:
        notebooks = [Path(p) for p in args.notebooks]
    elif args.dry_run:
        notebooks = [Path("lectures/01_mlp_activations.ipynb")]
    else:
        notebooks = [p for p in course_notebooks() if p.parts[:2] != ("solutions", assignment)]
    missing = [str(p) for p in notebooks if not (ROOT / p).is_file()]
    if missing:
        print(f"verify_gpu: no such notebook: {', '.join(missing)} (paths are relative to {ROOT})", file=sys.stderr)
        return 2

    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="verify_gpu-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        print(f"verify_gpu: benchmark ({'tiny' if args.dry_run else 'full'}), alone on the device...", flush=True)
        bench = run_bench(work, left(), args.dry_run)
        print(f"verify_gpu: {len(notebooks)} notebooks and {assignment} grading, {args.jobs} at a time...", flush=True)
        with cf.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            graded = pool.submit(grade, assignment, work, left)
            order = sorted(notebooks, key=heavy_first)
            futures = {pool.submit(run_notebook, p, work, left): p for p in order}
            results = {}
            for fut in cf.as_completed(futures):
                r = fut.result()
                results[r["notebook"]] = r
                print(f"  {r['notebook']}: {'ok' if r['ok'] else 'FAILED'} ({r['seconds']:.0f} s)", flush=True)
            grade_report = graded.result()
        nb_reports = [results[str(p)] for p in notebooks]
        lec10 = next((r for r in nb_reports if r["notebook"].startswith("lectures/10_") and r["ok"]), None)
        report = {"date": dt.date.today().isoformat(), "device": "GPU" if not args.dry_run else torch.device(
                      "cuda" if torch.cuda.is_available() else "cpu").type,
                  "command": "python tools/verify_gpu.py" + (" --dry-run" if args.dry_run else ""),
                  "seconds": time.perf_counter() - t_start, "time_limit": args.time_limit,
                  "torch": torch.__version__, "cuda": torch.version.cuda, "python": sys.version.split()[0],
                  "notebooks": nb_reports, "grade": grade_report, "bench": bench,
                  "lecture10": lecture10_accuracy(Path(lec10["out"])) if lec10 else None}
        text = section(report, args.dry_run)
        results_path = Path(args.results) if args.results else (None if args.dry_run else RESULTS)
        if results_path is not None:
            write_section(results_path, text)
            print(f"verify_gpu: wrote a section of {results_path}")
        else:
            print(text)
        failed = [c for c in checks(report, args.dry_run) if not c[1]]
        for what, ok, detail in checks(report, args.dry_run):
            print(f"{'PASS' if ok else 'FAIL'}  {what}: {detail}")
        for n in nb_reports:
            if not n["ok"]:
                print(f"\n{n['notebook']} failed:\n{n['error']}", file=sys.stderr)
        return 1 if failed else 0
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
