"""The student pack (autograder/pack.py) holds no answers, and every lecture in it still runs.

Built as of 2026-10-12 (A1 closed, A2 open, lectures 01-06 out) and as of 2026-10-19 (A2 closed):
no file holds nbgrader's solution or hidden-test markers or the hidden tests' code or A2's solution
code; A2's numpy references stay out of its cnnkit (stand-ins take their place) until A2 is due;
the lectures that use them re-run in the pack with their stored outputs (nbval, this interpreter
with the pack's cnnkit first on PYTHONPATH); the README's check command works from the pack alone.
"""
import ast
import datetime as dt
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

from autograder import cli, pack
from autograder.course import REPO, Course, CourseError

COURSE = Course()  # this repository's course
SOLUTIONS, ASSIGNMENTS = COURSE.solutions, COURSE.released

BEFORE, AFTER = dt.date(2026, 10, 12), dt.date(2026, 10, 19)
A2_GRADED = ["im2col", "col2im", "conv_forward_naive", "conv_backward_naive", "max_pool_forward", "max_pool_backward"]
A2_LAYERS = ["batchnorm_forward", "batchnorm_backward", "dropout_forward", "dropout_backward"]  # cnnkit.layers


def env_for(root: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=str(root), CNNKIT_DEVICE="cpu", CUDA_VISIBLE_DEVICES="", PYTHONHASHSEED="0",
               OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
               MPLBACKEND="module://matplotlib_inline.backend_inline")
    env.pop("NBGRADER_EXECUTION", None)
    return env


def in_pack(root: Path, code: str) -> str:
    """Run Python code in a fresh interpreter that imports the pack's cnnkit, from the pack's folder."""
    r = subprocess.run([sys.executable, "-c", code], cwd=root, env=env_for(root), capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout


def nbval(root: Path, *lectures: str):
    cmd = [sys.executable, "-m", "pytest", "-o", "addopts=", "-p", "no:cacheprovider", "-p", "no:xdist", "-q",
           "--nbval", "--nbval-current-env", "--nbval-sanitize-with", str(REPO / "tests" / "nbval_sanitize.cfg"),
           "--nbval-cell-timeout", "600", *[f"lectures/{s}.ipynb" for s in lectures]]
    r = subprocess.run(["nice", "-n", "10", *cmd], cwd=root, env=env_for(root), capture_output=True, text=True, timeout=1200)
    assert r.returncode == 0, r.stdout[-6000:] + r.stderr[-2000:]
    assert " passed" in r.stdout and "failed" not in r.stdout


def readable_text(path: Path) -> str:
    """A file as a reader sees it: a notebook's sources and text outputs, unescaped; else its text."""
    text = path.read_text(errors="replace")
    if path.suffix == ".ipynb":
        nb = json.loads(text)
        parts = []
        for c in nb["cells"]:
            parts.append("".join(c["source"]))
            for o in c.get("outputs", []):
                parts.append("".join(o.get("text", "")))
                parts += ["".join(v) for v in o.get("data", {}).values() if isinstance(v, (str, list))]
        text += "\n" + "\n".join(parts)
    return text


def files(root: Path):
    return [p for p in sorted(root.rglob("*")) if p.is_file() and ".git" not in p.relative_to(root).parts]


def blocks(kind: str, assignment: str) -> list[str]:
    """Stripped lines (over 20 characters) inside ### BEGIN/END <kind> blocks of an assignment's source."""
    out = []
    for src in (SOLUTIONS / assignment).glob("*.pct.py"):
        for block in re.findall(rf"### BEGIN {kind}\n(.*?)### END {kind}", src.read_text(), flags=re.S):
            out += [ln.strip() for ln in block.splitlines() if len(ln.strip()) > 20]
    return out


@pytest.fixture(scope="module")
def before(tmp_path_factory):
    root = tmp_path_factory.mktemp("packs") / "before"
    assert cli.main(["pack", str(root), "--as-of", str(BEFORE)]) == 0
    return root


@pytest.fixture(scope="module")
def after(tmp_path_factory):
    root = tmp_path_factory.mktemp("packs") / "after"
    pack.build(root, AFTER)
    return root


def test_calendar_accounts_for_every_graded_library_function():
    cal = COURSE.calendar()
    assert set(cal.assignments) == {p.name for p in SOLUTIONS.iterdir() if p.is_dir()}
    assert set(cal.lectures) == {p.stem for p in (REPO / "lectures").glob("*.ipynb")}  # none is never released
    for name, a in cal.assignments.items():
        graded = pack.graded_library_names(a)
        assert graded, name
        missing = [q for q in graded if q not in a.withhold and q not in a.keep]
        assert not missing, f"{name} grades {missing}: list them under withhold or keep in course.toml"
    assert {f"cnnkit.conv.{n}" for n in A2_GRADED} <= set(cal.assignments["A2"].withhold)


def without_setup_cell(path: Path) -> dict:
    """A pack notebook less its first cell, the setup cell for hosted runtimes (tests/test_hosted.py)."""
    nb = json.loads(path.read_text())
    assert nb["cells"][0]["id"] == "course-setup", path
    return {**nb, "cells": nb["cells"][1:]}


def test_contents_as_of_before_a2_due(before):
    top = sorted(p.name for p in before.iterdir())
    assert top == [".git", ".gitignore", "README.md", "assignments", "binder", "cnnkit", "lectures", "pyproject.toml",
                   "requirements.txt"]
    assert sorted(p.stem for p in (before / "lectures").iterdir()) == [
        "01_mlp_activations", "02_backprop", "03_conv_layer", "04_im2col", "05_pooling_convnet", "05b_optimisers_and_initialisation",
        "05c_regularisation_and_normalisation", "06_lenet_alexnet_vgg",
        "06b_what_the_network_sees"]
    assert sorted(p.name for p in (before / "assignments").iterdir()) == ["A1", "A2"]
    for a in ("A1", "A2"):  # nbgrader's released versions, as they are after the setup cell
        for nb in (ASSIGNMENTS / a).glob("*.ipynb"):
            assert without_setup_cell(before / "assignments" / a / nb.name) == json.loads(nb.read_text())
    git = subprocess.run(["git", "status", "--porcelain"], cwd=before, capture_output=True, text=True)
    assert git.returncode == 0 and git.stdout == ""
    with zipfile.ZipFile(before.with_name("before.zip")) as z:
        assert sorted(z.namelist()) == sorted(f"before/{p.relative_to(before)}" for p in files(before))


def lines_of(text: str) -> set[str]:
    return {ln.strip() for ln in text.splitlines()}


def test_no_solution_or_hidden_test_in_the_pack(before):
    raw = {p: readable_text(p) for p in files(before)}
    for p, text in raw.items():
        for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
            assert marker not in text, f"{p}: {marker}"
    texts = {p: lines_of(t) for p, t in raw.items()}
    public = lines_of("".join(p.read_text() for p in (REPO / "cnnkit").rglob("*.py") if p.name != "_standins.py"))
    released = lines_of("".join(readable_text(p) for p in ASSIGNMENTS.glob("*/*.ipynb")))  # visible somewhere
    for a in COURSE.assignment_names():  # every assignment has hidden tests, none of them in the pack
        hidden = [ln for ln in blocks("HIDDEN TESTS", a) if ln not in released and ln not in public]
        assert len(hidden) > 5, a
        for p, text in texts.items():
            leaked = [ln for ln in hidden if ln in text]
            assert not leaked, f"{p} holds {a}'s hidden tests: {leaked[:3]}"
    # A2 is open: no line of its solutions that neither the released notebook nor the library it may keep holds
    library = lines_of("".join(p.read_text() for p in (before / "cnnkit").rglob("*.py")))
    released = lines_of("".join(readable_text(p) for p in (ASSIGNMENTS / "A2").glob("*.ipynb")))
    solution = [ln for ln in blocks("SOLUTION", "A2") if ln not in released and ln not in library]
    assert len(solution) > 20
    for p, text in texts.items():
        leaked = [ln for ln in solution if ln in text]
        assert not leaked, f"{p} holds A2's solution code: {leaked[:3]}"


def test_a2_references_stay_out_until_due(before):
    withheld = pack._withheld(COURSE.calendar(), BEFORE)
    assert set(withheld) == {"A2"}
    lines = pack.distinctive_lines(withheld)
    repo_lib = "".join(p.read_text() for p in (REPO / "cnnkit").rglob("*.py"))
    for name in [f"cnnkit.conv.{n}" for n in A2_GRADED] + [f"cnnkit.layers.{n}" for n in A2_LAYERS]:
        body = lines[name]
        assert len(body) >= 3 and all(ln in lines_of(repo_lib) for ln in body), name  # the check can see a leak
        for p in files(before):
            assert not [ln for ln in body if ln in lines_of(readable_text(p))], f"{p} holds the numpy {name}"
    defined = {n.name for n in ast.parse((before / "cnnkit" / "conv.py").read_text()).body if isinstance(n, ast.FunctionDef)}
    assert not defined & set(A2_GRADED) and {"conv_output_size", "avg_pool_forward"} <= defined
    layers = {getattr(n, "name", None) for n in ast.parse((before / "cnnkit" / "layers.py").read_text()).body}
    assert "affine_forward" in layers  # A1 is closed: its references are back
    assert not set(A2_LAYERS) & layers and "spatial_batchnorm_forward" in layers
    where = in_pack(before, "import cnnkit.conv as c, cnnkit.inspect as i, cnnkit.layers as l\n"
                    f"for f in [getattr(c, n) for n in {A2_GRADED!r}] + [i.receptive_field, l.affine_forward]:\n"
                    "    print(f.__module__, f.__code__.co_filename)")
    rows = [ln.split() for ln in where.splitlines()]
    assert all(m == "cnnkit.conv" and f == str(before / "cnnkit" / "_standins.py") for m, f in rows[:6]), rows
    assert rows[6] == ["cnnkit.inspect", str(before / "cnnkit" / "_standins.py")]
    assert rows[7] == ["cnnkit.layers", str(before / "cnnkit" / "layers.py")]


def test_lectures_say_which_functions_are_stand_ins(before):
    for stem, names in {"03_conv_layer": ["conv.conv_forward_naive", "inspect.receptive_field"],
                        "04_im2col": ["conv.im2col"], "05_pooling_convnet": ["conv.max_pool_forward"],
                        "05c_regularisation_and_normalisation": ["layers.dropout_forward", "layers.dropout_backward"]}.items():
        nb = json.loads((before / "lectures" / f"{stem}.ipynb").read_text())
        note = "".join(nb["cells"][2]["source"])  # after the setup cell and the title
        assert nb["cells"][2]["cell_type"] == "markdown" and "numpy version arrives after the assignment" in note
        assert "A2" in note and all(f"`{n}`" in note for n in names), note
    for stem in ("01_mlp_activations", "02_backprop"):  # A1 is closed: the lectures as they are, after the setup cell
        assert without_setup_cell(before / "lectures" / f"{stem}.ipynb") == json.loads((REPO / "lectures" / f"{stem}.ipynb").read_text())


def test_lectures_run_in_the_pack_before_a2_due(before):
    nbval(before, "03_conv_layer", "05_pooling_convnet", "05c_regularisation_and_normalisation")


def test_readme_open_command_serves_the_pack(before, tmp_path):
    """The open command's last step, JupyterLab, run from the pack (its install step needs the network;
    this interpreter stands in for the student's .venv) serves the pack's lectures and assignments."""
    import time
    import urllib.request

    from tests.browser_lab import free_port

    readme = (before / "README.md").read_text()
    lab = re.search(r"<!-- open-command -->\s*```\n(.*?)\n```", readme, re.S).group(1).split(" && ", 2)[-1]
    port = free_port()
    cmd = (lab.replace(".venv/bin/", f"{Path(sys.executable).parent}/") + f" --no-browser --port={port} "
           f"--ServerApp.token=pack-test --ServerApp.open_browser=False")
    env = dict(env_for(before), HOME=str(tmp_path), JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"))
    log = tmp_path / "lab.log"
    with open(log, "w") as fh:
        proc = subprocess.Popen(["bash", "-c", f"exec {cmd}"], cwd=before, stdout=fh, stderr=subprocess.STDOUT, env=env)
    try:
        listing, deadline = None, time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None and listing is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/contents/lectures?token=pack-test", timeout=2) as r:
                    listing = json.loads(r.read())
            except OSError:
                time.sleep(1)
        assert listing, f"JupyterLab did not serve the pack:\n{log.read_text()[-3000:]}"
        assert sorted(c["name"] for c in listing["content"]) == sorted(p.name for p in (before / "lectures").iterdir())
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_readme_check_command_works_from_the_pack(before, tmp_path):
    readme = (before / "README.md").read_text()
    opened = re.search(r"<!-- open-command -->\s*```\n(.*?)\n```", readme, re.S).group(1)
    assert opened.startswith("python3 -m venv .venv && .venv/bin/pip install -r requirements.txt && .venv/bin/jupyter lab")
    reqs = (before / "requirements.txt").read_text()
    assert "-e ." in reqs and "torch==" in reqs and "nbgrader==" in reqs and "sphinx" not in reqs
    assert 'include = ["cnnkit*"]' in (before / "pyproject.toml").read_text()
    check = re.search(r"<!-- check-command -->\s*```\n(.*?)\n```", readme, re.S).group(1)
    assert check == ".venv/bin/nbgrader validate assignments/A2/A2_convolution.ipynb"
    cmd = check.replace(".venv/bin/", f"{Path(sys.executable).parent}/")

    def validate(root):
        return subprocess.run(["bash", "-c", cmd], cwd=root, env=env_for(root), capture_output=True, text=True, timeout=900)

    blank = validate(before)
    assert "VALIDATION FAILED" in blank.stdout + blank.stderr, blank.stdout[-3000:] + blank.stderr[-3000:]
    # the same command on a solved copy of the pack (answers filled in, nothing else changed) succeeds
    solved = tmp_path / "solved"
    subprocess.run(["git", "clone", "-q", str(before), str(solved)], check=True)
    nb = nbformat.read(solved / "assignments" / "A2" / "A2_convolution.ipynb", as_version=4)
    sol = {c.metadata.get("nbgrader", {}).get("grade_id"): c.source
           for c in nbformat.read(SOLUTIONS / "A2" / "A2_convolution.ipynb", as_version=4).cells}
    for c in nb.cells:
        m = c.metadata.get("nbgrader", {})
        if m.get("solution"):  # code and written answers
            c.source = re.sub(r"^\s*### (BEGIN|END) SOLUTION\n", "", sol[m["grade_id"]], flags=re.M)
    nbformat.write(nb, solved / "assignments" / "A2" / "A2_convolution.ipynb")
    ok = validate(solved)
    assert "Success! Your notebook passes all the tests." in ok.stdout + ok.stderr, ok.stdout[-3000:] + ok.stderr[-3000:]


def test_after_a2_due_the_references_are_back_and_lecture_05_uses_them(after):
    assert sorted(p.name for p in (after / "assignments").iterdir()) == ["A1", "A2", "A3"]
    assert (after / "lectures" / "07_googlenet_inception.ipynb").exists()
    assert (after / "cnnkit" / "conv.py").read_text() == (REPO / "cnnkit" / "conv.py").read_text()
    assert (after / "cnnkit" / "inspect.py").read_text() == (REPO / "cnnkit" / "inspect.py").read_text()
    for stem in ("03_conv_layer", "05_pooling_convnet"):
        assert without_setup_cell(after / "lectures" / f"{stem}.ipynb") == json.loads((REPO / "lectures" / f"{stem}.ipynb").read_text())
    where = in_pack(after, "import cnnkit.conv as c\nprint(c.max_pool_forward.__code__.co_filename)")
    assert where.strip() == str(after / "cnnkit" / "conv.py")
    assert "stand-in" not in (after / "README.md").read_text()
    nbval(after, "05_pooling_convnet")


def test_lecture_01_runs_while_a1_is_open(tmp_path):
    early = tmp_path / "early"
    built = pack.build(early, dt.date(2026, 9, 14), make_zip=False)
    assert built.lectures == ["01_mlp_activations", "02_backprop"] and set(built.standins) == {"A1", "A2"}
    assert "affine_forward" not in {getattr(n, "name", None) for n in ast.parse((early / "cnnkit" / "layers.py").read_text()).body}
    nbval(early, "01_mlp_activations")


def test_pack_refuses_to_overwrite_and_to_leak(tmp_path, monkeypatch):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "mine.txt").write_text("keep me")
    with pytest.raises(CourseError, match="not empty"):
        pack.build(tmp_path / "taken", BEFORE)
    assert (tmp_path / "taken" / "mine.txt").read_text() == "keep me"
    with pytest.raises(CourseError, match="not a date"):
        pack.parse_date("12/10/2026")
    # were lecture 03's printed source of the naive convolution left as stored, the pack would refuse
    monkeypatch.setattr(pack, "_replace_printed_sources", lambda nb, withheld: None)
    with pytest.raises(CourseError, match=r"03_conv_layer.ipynb holds the source of cnnkit.conv.conv_forward"):
        pack.build(tmp_path / "leaky", BEFORE)
    assert not (tmp_path / "leaky").exists() and not (tmp_path / "leaky.zip").exists()
    assert not (tmp_path / "leaky.partial").exists()
