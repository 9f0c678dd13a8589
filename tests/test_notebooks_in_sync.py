"""Each stored notebook is what its percent source builds (the outputs aside), and the released
student versions in assignments/ are what `python -m autograder release` produces today."""
import json
from pathlib import Path

import nbformat
import pytest

from autograder import api, course
from tools import build_notebooks

ROOT = Path(__file__).resolve().parents[1]

SOURCES = sorted(p for g in build_notebooks.SOURCE_GLOBS for p in ROOT.glob(g))


def test_there_are_sources_to_check():
    assert any("lectures" in str(p) for p in SOURCES) and any("solutions" in str(p) for p in SOURCES)


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_notebook_matches_its_source(source):
    target = build_notebooks.target_of(source)
    assert target.exists(), f"{target} is missing: run python tools/build_notebooks.py {source.relative_to(ROOT)}"
    stored = nbformat.read(target, as_version=4)
    assert build_notebooks.strip(build_notebooks.convert(source)) == build_notebooks.strip(stored), (
        f"{target.name} is out of date with {source.name}: run python tools/build_notebooks.py {source.relative_to(ROOT)}")
    code = [c for c in stored.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code), f"{target.name} was stored without running every cell"


def test_build_detects_a_changed_source(tmp_path):
    src = tmp_path / "x.pct.py"
    src.write_text("# %%\nprint(1)\n")
    nbformat.write(build_notebooks.convert(src), tmp_path / "x.ipynb")
    assert not build_notebooks.out_of_date(src)
    src.write_text("# %%\nprint(2)\n")
    assert build_notebooks.out_of_date(src)


@pytest.mark.parametrize("assignment", course.Course().assignment_names())
def test_released_assignment_is_up_to_date(assignment, tmp_path):
    released = api.release(assignment, tmp_path / "course", release_dir=tmp_path / "release")
    committed = ROOT / "assignments" / assignment
    fresh = sorted(p.name for p in released.iterdir())
    assert fresh == sorted(p.name for p in committed.iterdir()), f"assignments/{assignment} has other files than a fresh release"
    for name in fresh:
        if name.endswith(".ipynb"):
            a = json.loads((released / name).read_text())
            b = json.loads((committed / name).read_text())
            assert a == b, f"assignments/{assignment}/{name} is stale: run python -m autograder release {assignment}"


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_stored_check_failed(source):
    """A stored notebook never shows a failing check (cnnkit.gradcheck.report's 'FAILED', an
    error output) unless its code says the failure is the point ('expected to fail')."""
    stored = nbformat.read(build_notebooks.target_of(source), as_version=4)
    for i, cell in enumerate(c for c in stored.cells if c.cell_type == "code"):
        for out in cell.get("outputs", []):
            assert out.get("output_type") != "error", (
                f"{source.name}, code cell {i}: the stored run raised {out.get('ename')}: {out.get('evalue', '')[:200]}")
            for line in out.get("text", "").splitlines():
                assert ": FAILED" not in line or "expected to fail" in line, (
                    f"{source.name}, code cell {i} prints a failing check: {line!r}")
