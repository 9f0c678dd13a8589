"""Build the course notebooks from their jupytext percent sources, and run them.

Every notebook ``X.ipynb`` in lectures/ and solutions/ is generated from ``X.pct.py`` beside it:
the source is what authors edit and review; the .ipynb is what students open, stored with the
outputs of a seeded CPU run so it reads well on the web and nbval can compare it.

    python tools/build_notebooks.py                    # rebuild and execute every notebook
    python tools/build_notebooks.py lectures/01_*.pct.py   # just these
    python tools/build_notebooks.py --check            # exit 1 if any .ipynb is out of date

nbgrader metadata is written in the source as a short cell attribute, e.g.
    # %% nb="solution affine"           student writes code here (grade id 'affine')
    # %% nb="tests affine_tests 6"      autograded test cell worth 6 points (locked)
    # %% [markdown] nb="written deriv 10"   manually graded written answer worth 10 points
    # %% nb="locked setup"              read-only cell students cannot change
"""
from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
from pathlib import Path

import jupytext
import nbformat

ROOT = Path(__file__).resolve().parents[1]
SOURCE_GLOBS = ("lectures/*.pct.py", "solutions/*/*.pct.py")
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def nbgrader_meta(spec: str) -> dict:
    """Expand the shorthand 'kind grade_id [points]' into nbgrader's cell metadata (schema 3)."""
    parts = spec.split()
    if len(parts) < 2:
        raise ValueError(f"nb={spec!r}: expected 'KIND GRADE_ID [POINTS]'")
    kind, grade_id = parts[0], parts[1]
    points = (int(parts[2]) if parts[2].isdigit() else float(parts[2])) if len(parts) > 2 else None
    base = {"grade": False, "grade_id": grade_id, "locked": False, "schema_version": 3,
            "solution": False, "task": False}
    if kind == "solution":
        base.update(solution=True)
    elif kind == "tests":
        if points is None:
            raise ValueError(f"nb={spec!r}: a tests cell needs its points")
        base.update(grade=True, locked=True, points=points)
    elif kind == "written":
        if points is None:
            raise ValueError(f"nb={spec!r}: a written answer needs its points")
        base.update(grade=True, solution=True, points=points)
    elif kind == "locked":
        base.update(locked=True)
    else:
        raise ValueError(f"nb={spec!r}: unknown kind {kind!r} (solution, tests, written, locked)")
    return base


def convert(source: Path) -> nbformat.NotebookNode:
    """The notebook a percent source describes, without outputs, with stable cell ids."""
    nb = jupytext.read(source, fmt="py:percent")
    stem = source.name[: -len(".pct.py")]
    for i, cell in enumerate(nb.cells):
        cell.metadata.pop("lines_to_next_cell", None)
        spec = cell.metadata.pop("nb", None)
        if spec is not None:
            cell.metadata["nbgrader"] = nbgrader_meta(spec)
        digest = hashlib.sha1(f"{stem}:{i}".encode()).hexdigest()[:8]
        cell["id"] = f"c{i:03d}-{digest}"
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    nb.metadata.pop("jupytext", None)
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = {"name": "python"}
    nb.nbformat, nb.nbformat_minor = 4, 5
    return nb


def execute(nb: nbformat.NotebookNode, cwd: Path, timeout: int = 900) -> nbformat.NotebookNode:
    """Run every cell on the CPU, in cwd, with the environment the tests use."""
    from nbclient import NotebookClient

    env_backup = dict(os.environ)
    os.environ.update(CNNKIT_DEVICE="cpu", CUDA_VISIBLE_DEVICES="", PYTHONHASHSEED="0", OMP_NUM_THREADS="1",
                      MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
                      MPLBACKEND="module://matplotlib_inline.backend_inline")
    try:
        NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False, resources={"metadata": {"path": str(cwd)}}).execute()
    finally:
        os.environ.clear()
        os.environ.update(env_backup)
    return nb


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def target_of(source: Path) -> Path:
    return source.with_name(source.name[: -len(".pct.py")] + ".ipynb")


def strip(nb) -> list:
    """What must agree between a source and its notebook: each cell's type, source and metadata."""
    return [(c.cell_type, c.source, dict(c.metadata)) for c in nb.cells]


def out_of_date(source: Path) -> bool:
    target = target_of(source)
    if not target.exists():
        return True
    return strip(convert(source)) != strip(nbformat.read(target, as_version=4))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("sources", nargs="*", type=Path, help="percent sources (default: all)")
    ap.add_argument("--check", action="store_true", help="only report notebooks out of date")
    ap.add_argument("--no-execute", action="store_true", help="write notebooks without running them")
    args = ap.parse_args(argv)
    sources = [s.resolve() for s in args.sources] or sorted(p for g in SOURCE_GLOBS for p in ROOT.glob(g))
    if args.check:
        stale = [s for s in sources if out_of_date(s)]
        for s in stale:
            print(f"out of date: {_rel(target_of(s))} (run: python tools/build_notebooks.py {_rel(s)})")
        return 1 if stale else 0
    for source in sources:
        if not source.name.endswith(".pct.py"):
            print(f"skipping {source}: not a .pct.py source", file=sys.stderr)
            continue
        t0 = time.perf_counter()
        nb = convert(source)
        if not args.no_execute:
            nb = execute(nb, source.parent)
        nbformat.validate(nb)
        nbformat.write(nb, target_of(source))
        print(f"{_rel(target_of(source))}: {len(nb.cells)} cells, {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
