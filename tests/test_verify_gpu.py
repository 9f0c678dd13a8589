"""tools/verify_gpu.py: the one command that checks the GPU path. Its dry run must keep working
on a machine without a GPU (this one), and its checks must fail when what they check fails."""
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from autograder.course import Course

ROOT = Path(__file__).resolve().parents[1]
TOOL = ROOT / "tools" / "verify_gpu.py"


def load_tool():
    import importlib.util

    spec = importlib.util.spec_from_file_location("verify_gpu", TOOL)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_dry_run_end_to_end(tmp_path):
    results = tmp_path / "RESULTS.md"
    results.write_text("# Training throughput\n\nold text\n\n# Grading throughput\n\nkept\n")
    stored = ROOT / "lectures" / "01_mlp_activations.ipynb"
    before = stored.read_bytes()
    res = subprocess.run([sys.executable, str(TOOL), "--dry-run", "--results", str(results)],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert stored.read_bytes() == before  # executed from a copy: stored outputs untouched
    text = results.read_text()
    head, rest = text.split("## Dry run, ", 1)
    assert "old text" in head and rest.index("| + channels_last |") < rest.index("# Grading throughput")
    assert rest.rstrip().endswith("kept")
    for line in ("| lectures/01_mlp_activations.ipynb | ok |", "| A1 solution graded | pass | 80 of 80",
                 "| benchmarks/train_bench.py ran (tiny) | pass |", "step's own peak memory"):
        assert line in rest, line
    assert "PASS  A1 solution graded" in res.stdout


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_refuses_without_a_gpu():
    res = subprocess.run([sys.executable, str(TOOL)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and "no CUDA GPU here" in res.stderr and "--dry-run" in res.stderr


def test_lists_every_course_notebook_and_reads_lecture_10():
    vg = load_tool()
    nbs = [str(p) for p in vg.course_notebooks()]
    assert len([p for p in nbs if p.startswith("lectures/")]) == len(list((ROOT / "lectures").glob("*.pct.py"))) >= 12
    assert [p.split("/")[1] for p in nbs if p.startswith("solutions/")] == Course().assignment_names()
    acc, target = vg.lecture10_accuracy(ROOT / "lectures" / "10_training_on_gpu.ipynb")
    assert target == 0.30 and acc >= target  # the stored CPU run


def fake_report(nb_ok=True, points=(100.0, 100.0), device="cuda", acc=(0.85, 0.80), speedup=3.5):
    rows = [{"label": "baseline", "measured": True, "speedup": 1.0},
            {"label": "+ torch.compile", "measured": True, "speedup": speedup},
            {"label": "+ TF32", "measured": False, "why": "n/a"}]
    return {"notebooks": [{"notebook": "lectures/01.ipynb", "ok": True, "seconds": 1.0},
                          {"notebook": "lectures/08.ipynb", "ok": nb_ok, "seconds": 1.0}],
            "device": "GPU", "grade": {"assignment": "A4", "ok": points[0] == points[1], "points": points[0],
                                       "max": points[1], "device": device, "seconds": 1.0, "error": ""},
            "lecture10": acc, "bench": {"ok": True, "seconds": 1.0, "figures": {"rows": rows}}}


@pytest.mark.parametrize("change, failing", [
    ({}, []),
    ({"nb_ok": False}, ["notebooks executed"]),
    ({"points": (92.0, 100.0)}, ["graded at its GPU sizes"]),
    ({"device": "cpu"}, ["graded at its GPU sizes"]),  # graded, but the kernel did not see the GPU
    ({"acc": (0.78, 0.80)}, ["stated GPU accuracy"]),
    ({"acc": None}, ["stated GPU accuracy"]),
    ({"speedup": 2.5}, ["at least 3x"])])
def test_checks_fail_when_what_they_check_fails(change, failing):
    vg = load_tool()
    out = vg.checks(fake_report(**change), dry_run=False)
    bad = [what for what, ok, _ in out if not ok]
    assert len(bad) == len(failing) and all(f in b for f, b in zip(failing, bad)), bad


def test_write_section_goes_above_the_grading_part_and_keeps_the_rest(tmp_path):
    vg = load_tool()
    path = tmp_path / "R.md"
    path.write_text("# Training\n\nA\n\n# Grading throughput\n\nB\n")
    vg.write_section(path, "## GPU run, 2026-12-01: X\n\nfigures\n")
    vg.write_section(path, "## GPU run, 2026-12-02: Y\n\nmore\n")
    text = path.read_text()
    assert text.index("A") < text.index("2026-12-01") < text.index("2026-12-02") < text.index("# Grading") < text.index("B")
    other = tmp_path / "new.md"
    vg.write_section(other, "## GPU run\n")
    assert other.read_text().startswith("# Training throughput") and "## GPU run" in other.read_text()
