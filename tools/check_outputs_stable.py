"""Check that the stored notebook outputs do not depend on how the machine rounds.

The stored outputs are built with one thread and PyTorch's default CPU kernels. Re-running a
notebook the same way proves only that its outputs repeat on the same kind of machine, not on
another CPU whose BLAS kernels sum in another order. This check re-runs the notebooks under
configurations that change the rounding on this machine and requires every stored output to
come out the same:

- ``other-cpu``: PyTorch's oneDNN and MKL and numpy's OpenBLAS use the kernels of the x86
  generation below this CPU's (AVX2 on an AVX-512 machine: another vector width and blocking, so
  partial sums added in another order), still at one thread;
- ``threads``: two BLAS/OpenMP threads and two PyTorch threads (work split differently, partial
  sums added in another order), even where a notebook asks for one;
- ``no-onednn``: PyTorch's oneDNN (mkldnn) convolutions switched off, so its plain
  implementation (another summation order) computes every convolution.

    python tools/check_outputs_stable.py                         # every notebook, both configurations
    python tools/check_outputs_stable.py lectures/05_*.ipynb --config threads
    python tools/check_outputs_stable.py --jobs 2                # two notebooks at a time

It exits 1 and lists each differing cell when any output differs. Cells marked
``# NBVAL_IGNORE_OUTPUT`` (wall-clock timings) and images are not compared, as in nbval; the
patterns in tests/nbval_sanitize.cfg are replaced first, as nbval does. The test suite runs
nbval itself under the ``other-cpu`` configuration (conftest.py, tests/test_outputs_stable.py).
``threads`` is slow beside other work on two cores (OpenMP threads wait for each other) and
``no-onednn`` makes the training notebooks several times slower, so both are left to this command
(run it before a release).
Stored files are never changed: the notebooks run from an in-memory copy.
"""
from __future__ import annotations

import argparse
import configparser
import copy
import os
import re
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_GLOBS = ("lectures/*.ipynb", "solutions/*/*.ipynb")
SANITIZE = ROOT / "tests" / "nbval_sanitize.cfg"

# Each configuration: environment variables for the kernel, and lines the kernel runs before the
# notebook. Forcing PyTorch's thread count means replacing torch.set_num_threads, since
# cnnkit.device.make_repeatable asks for one thread.
_FORCE_TWO_TORCH_THREADS = ("import torch as _t; _set = _t.set_num_threads; _set(2); "
                            "_t.set_num_threads = lambda n: _set(2); del _t")
_NO_ONEDNN = "import torch as _t; _t.backends.mkldnn.enabled = False; del _t"
# OMP_WAIT_POLICY=PASSIVE: an OpenMP thread that waits at a barrier sleeps instead of spinning.
# It changes no result (the work is split by the thread count alone), only the time: the tests run
# this beside other workers on two cores, and there spinning threads took one training epoch of
# A4 from 1.4 s to 55 s (3.0 s when passive), so that train_final ran into its max_seconds.


def cpu_flags() -> set[str]:
    """The instruction-set flags of this CPU (Linux's /proc/cpuinfo; empty elsewhere)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    return next((set(line.split(":", 1)[1].split()) for line in text.splitlines() if line.startswith("flags")), set())


def other_cpu_env(flags: set[str] | None = None) -> dict[str, str]:
    """Kernel variables under which PyTorch's oneDNN and MKL and numpy's OpenBLAS choose the kernels
    of the x86 generation below this CPU's (AVX-512 -> AVX2, as on most laptops and AMD CPUs;
    AVX2 -> AVX; AVX -> SSE4): other vector widths and blockings, so other summation orders, at one
    thread. Empty where there is no lower x86 generation to choose (then nothing is perturbed, and
    tests/test_outputs_stable.py says so)."""
    flags = cpu_flags() if flags is None else flags
    for has, onednn, mkl, openblas in (("avx512f", "AVX2", "AVX2", "Haswell"), ("avx2", "AVX", "AVX", "Sandybridge"),
                                       ("avx", "SSE41", "SSE4_2", "Nehalem")):
        if has in flags:
            return {"ONEDNN_MAX_CPU_ISA": onednn, "MKL_ENABLE_INSTRUCTIONS": mkl, "OPENBLAS_CORETYPE": openblas}
    return {}


# other-cpu: the kernels of an older CPU, at one thread (the suite's nbval runs under it: as fast
# as the build's configuration, give or take a third). threads: two threads for BLAS, OpenMP and
# PyTorch; on two cores beside other work its OpenMP barriers made lecture 09 five times slower.
CONFIGS = {
    "other-cpu": (other_cpu_env(), []),
    "threads": ({"OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2", "OPENBLAS_NUM_THREADS": "2",
                 "OMP_WAIT_POLICY": "PASSIVE"},
                [_FORCE_TWO_TORCH_THREADS]),
    "no-onednn": ({}, [_NO_ONEDNN]),
}
COMBINED = ({**CONFIGS["threads"][0], **CONFIGS["no-onednn"][0]},
            CONFIGS["threads"][1] + CONFIGS["no-onednn"][1])
BASE_ENV = {"CNNKIT_DEVICE": "cpu", "CUDA_VISIBLE_DEVICES": "", "PYTHONHASHSEED": "0",
            "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
            "MPLBACKEND": "module://matplotlib_inline.backend_inline"}


def sanitizers(path: Path = SANITIZE) -> list[tuple[re.Pattern, str]]:
    """The (regex, replacement) pairs of an nbval sanitize file."""
    parser = configparser.ConfigParser()
    parser.read(path)
    return [(re.compile(parser[s]["regex"]), parser[s]["replace"]) for s in parser.sections()]


def _ignored(cell) -> bool:
    """As nbval reads it: a comment line that is exactly NBVAL_IGNORE_OUTPUT or NBVAL_SKIP, or the tag."""
    comments = {line.strip().lstrip("#").strip() for line in cell.source.splitlines() if line.strip().startswith("#")}
    tags = set(cell.get("metadata", {}).get("tags", []))
    return bool(comments & {"NBVAL_IGNORE_OUTPUT", "NBVAL_SKIP"}) or bool(tags & {"nbval-ignore-output", "nbval-skip"})


def visible_outputs(cell, subs) -> list[str]:
    """The parts of a code cell's outputs that nbval compares, sanitised: stream text, text of
    results and displays (no images), and errors."""
    shown = []
    outputs = []
    for out in cell.get("outputs", []):  # consecutive chunks of one stream are one output, as in nbval
        if (out.get("output_type") == "stream" and outputs and outputs[-1].get("output_type") == "stream"
                and outputs[-1].get("name") == out.get("name")):
            outputs[-1] = {**outputs[-1], "text": outputs[-1].get("text", "") + out.get("text", "")}
        else:
            outputs.append(out)
    for out in outputs:
        kind = out.get("output_type")
        if kind == "stream":
            text = f"{out.get('name')}: {out.get('text', '')}"
        elif kind in ("execute_result", "display_data"):
            data = out.get("data", {})
            text = "".join(data.get("text/plain", "")) if not any(k.startswith("image/") for k in data) else ""
            if not text:
                continue
        elif kind == "error":
            text = f"error: {out.get('ename')}: {out.get('evalue')}"
        else:
            continue
        for pattern, replacement in subs:
            text = pattern.sub(replacement, text)
        shown.append(text)
    return shown


def differences(stored, fresh, subs=None) -> list[str]:
    """One line per code cell whose compared outputs differ between two runs of one notebook."""
    subs = sanitizers() if subs is None else subs
    stored_cells = [c for c in stored.cells if c.cell_type == "code"]
    fresh_cells = [c for c in fresh.cells if c.cell_type == "code"]
    if len(stored_cells) != len(fresh_cells):
        return [f"{len(stored_cells)} code cells stored but {len(fresh_cells)} ran"]
    found = []
    for i, (a, b) in enumerate(zip(stored_cells, fresh_cells)):
        if _ignored(a):
            continue
        want, got = visible_outputs(a, subs), visible_outputs(b, subs)
        if want != got:
            first = a.source.strip().splitlines()[:1]
            found.append(f"code cell {i} ({first[0][:60] if first else 'empty'}): stored {want!r}, got {got!r}")
    return found


def run_under(path: Path, env: dict[str, str], startup: list[str], timeout: int = 900):
    """Execute a copy of the notebook at path in its folder, with these kernel environment
    variables and startup lines; returns the executed copy (the file is not touched)."""
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    fresh = copy.deepcopy(nb)
    for cell in fresh.cells:
        if cell.cell_type == "code":
            cell.outputs = []
    km = KernelManager(kernel_name="python3")
    kernel_env = {**os.environ, **BASE_ENV, **env}
    args = [f"--InteractiveShellApp.exec_lines={line}" for line in startup]
    client = NotebookClient(fresh, km=km, timeout=timeout, record_timing=False, allow_errors=True,
                            extra_arguments=args, resources={"metadata": {"path": str(path.parent)}})
    client.execute(env=kernel_env, cwd=str(path.parent))
    return nb, fresh


def check_notebook(path: Path, config: str) -> list[str]:
    env, startup = COMBINED if config == "combined" else CONFIGS[config]
    stored, fresh = run_under(path, env, startup)
    return differences(stored, fresh)


def _job(args):
    path, config = args
    t0 = time.perf_counter()
    try:
        found = check_notebook(path, config)
    except Exception as exc:  # noqa: BLE001 - report and go on with the other notebooks
        found = [f"could not run: {type(exc).__name__}: {exc}"]
    return path, config, found, time.perf_counter() - t0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("notebooks", nargs="*", type=Path, help="stored .ipynb files (default: every lecture and solution)")
    ap.add_argument("--config", action="append", choices=[*CONFIGS, "combined"],
                    help="configuration(s) to run (default: each of " + ", ".join(CONFIGS) + ")")
    ap.add_argument("--jobs", type=int, default=1, help="notebooks run at a time (default 1)")
    args = ap.parse_args(argv)
    paths = [p.resolve() for p in args.notebooks] or sorted(p for g in NOTEBOOK_GLOBS for p in ROOT.glob(g))
    configs = args.config or list(CONFIGS)
    jobs = [(p, c) for c in configs for p in paths]
    bad = 0
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for path, config, found, seconds in pool.map(_job, jobs):
            rel = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
            print(f"{'same' if not found else 'DIFFERS'}: {rel} under '{config}' ({seconds:.0f} s)")
            for line in found:
                print(f"    {line}")
            bad += bool(found)
    print(f"{len(jobs) - bad} of {len(jobs)} runs gave the stored outputs")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
