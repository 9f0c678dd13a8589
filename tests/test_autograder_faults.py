"""The autograder at class scale: a corpus of bad submissions graded in one parallel batch with
good ones. Every submission gets a grade and a reason; good ones keep exactly their grades;
nothing a submission does reaches the solutions, the hidden tests, the gradebook, other
students' work or the network."""
import copy
import json
import os
import socket
import sqlite3
import stat
import threading

import nbformat
import pytest

from autograder import api, batch, course, sandbox, submissions
from tests import tiny_assignment as tiny
from tests.isolation import UNSAFE, needs_sandbox


@pytest.fixture(scope="module")
def tiny_course(tmp_path_factory):
    root = tmp_path_factory.mktemp("tinycourse")
    work = tiny.term(root)
    released = api.release(tiny.NAME, work, release_dir=root / "release")
    return root, work, released


def _filled(released, root, parts=None):
    student = submissions.read(released / tiny.NOTEBOOK)
    source = submissions.read(root / "solutions" / tiny.NAME / tiny.NOTEBOOK)
    return submissions.fill(student, source, parts)


def _with(nb, grade_id, code, replace=False):
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            cell.source = code if replace else code + "\n" + cell.source
    return nb


class Listener:
    """A TCP server on the grading machine's loopback that records any connection."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.sock.settimeout(0.5)
        self.port = self.sock.getsockname()[1]
        self.hits = 0
        self.stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop:
            try:
                conn, _ = self.sock.accept()
                self.hits += 1
                conn.close()
            except OSError:
                pass

    def close(self):
        self.stop = True
        self.thread.join(2)
        self.sock.close()


@pytest.fixture(scope="module")
def corpus(tiny_course):
    """Write the corpus, grade it in one batch with 2 workers, return what the tests need."""
    root, work, released = tiny_course
    good = _filled(released, root)
    listener = Listener()
    secret_paths = [str(root / "solutions" / tiny.NAME / tiny.NOTEBOOK), str(work / "gradebook.db"),
                    str(work / "submitted" / "good_a" / tiny.NAME / tiny.NOTEBOOK)]
    # the hidden test's own text, as a submission would look for it in any notebook it can find
    leak = ("import os, glob\n"
            f"_seen = any(os.path.exists(p) for p in {secret_paths!r})\n"
            f"_roots = ['/tmp', os.getcwd(), {str(work)!r}, {str(root)!r}]\n"
            "_seen = _seen or any('add(-1.5, 4)' in open(p).read() for r in _roots for p in glob.glob(r + '/**/*.ipynb', recursive=True))\n")
    victim = work / "gradebook.db"
    # read a file of the submission's folder; the points of add only if it holds what it should not
    read = ("def add(a, b):\n    try:\n        with open({path!r}, 'rb') as f:\n"
            "            return a + b if {needle!r} in f.read() else 0\n    except OSError:\n        return 0\n")
    cases = {
        # name: (notebook or raw text or None, expected autograded points, reason regex)
        "good_a": (good, 5, "^ok$"),
        "good_b": (good, 5, "^ok$"),
        "partial": (_filled(released, root, {"add"}), 2, "^ok$"),
        "corrupt_json": ('{"cells": [ oops', 0, "not a valid notebook"),
        "empty_file": ("", 0, "not a valid notebook"),
        "wrong_name": ("WRONG_NAME", 0, "missing.*found other.ipynb"),
        "no_notebook": (None, 0, "missing"),
        "infinite_loop": (_with(good, "mul", "while True:\n    pass"), 2, "time limit"),
        "memory_bomb": (_with(good, "add", "_hog = []\nwhile True:\n    _hog.append(bytearray(10**8))"), 3, "memory"),
        "kernel_exit": (_with(good, "mul", "import os\nos._exit(1)"), 2, "kernel died"),
        # the kernel exits while the checker is calling the student's function
        "exit_in_call": (_with(good, "mul", "def mul(a, b):\n    import os\n    os._exit(1)", replace=True), 2, ""),
        "sys_exit": (_with(good, "add", "import sys\nsys.exit(3)"), 3, "^ok$"),
        "deleted_test": (_drop(good, "add__tests"), 3, "deleted"),
        "edited_test": (_with(_with(good, "add__tests", "pass", replace=True), "add",
                              "def add(a, b):\n    return 0", replace=True), 3, "^ok$"),
        "changed_cell_type": (_retype(good, "add__tests"), 5, ""),
        "duplicate_ids": (_dup_ids(good), 5, "^ok$"),
        # one print of 30 MB is one message over the transport's cap: the kernel is stopped there
        "huge_output": (_with(good, "mul", "print('x' * 30_000_000)"), 2, "output limit"),
        "warnings": (_with(good, "add", "def add(a, b):\n    import warnings\n    warnings.warn('noisy')\n    return a + b",
                           replace=True), 5, "^ok$"),
        "reads_secrets": (_with(good, "add", leak + "def add(a, b):\n    return a + b if _seen else 0", replace=True), 3, "^ok$"),
        "writes_outside": (_with(good, "add", "def add(a, b):\n    try:\n        open(" + repr(str(victim)) +
                                 ", 'w').write('x')\n        open('/usr/pwned', 'w').write('x')\n        return a + b\n"
                                 "    except OSError:\n        return 0", replace=True), 3, "^ok$"),
        "network": (_with(good, "add", "import socket\ndef add(a, b):\n    try:\n        socket.create_connection(('127.0.0.1', "
                          f"{listener.port}), timeout=3)\n        return a + b\n    except OSError:\n        return 0",
                          replace=True), 3, "^ok$"),
        "monkeypatch": (_with(good, "add", "import cnnkit.grading as _g\n_g.check_close = lambda *a, **k: None\n"
                              "check_close = _g.check_close\ndef add(a, b):\n    return 0", replace=True), 3, "^ok$"),
        # symbolic links in submitted/ (a copy by hand or rsync -a keeps them): grade used to copy what
        # they point at into the kernel's folder: the solution with its hidden tests, the gradebook,
        # another student's notebook; a named pipe stopped the whole batch (shutil.Error)
        "symlinked_solution": (_with(good, "add", read.format(path="solution.json", needle=b"add(-1.5, 4)"), replace=True),
                               3, r"refused .*solution\.json \(a symbolic link\)"),
        "symlinked_gradebook": (_with(good, "add", read.format(path="gradebook.db", needle=b"SQLite format 3"),
                                      replace=True), 3, r"refused .*gradebook\.db \(a symbolic link\)"),
        "symlinked_notebook": (None, 0, r"T1_tiny\.ipynb \(a symbolic link\).*T1_tiny\.ipynb is missing"),
        "pipe_in_folder": (good, 5, r"refused .*data\.pipe \(a pipe\)"),
    }
    if os.geteuid() == 0:  # only root makes devices: a copy of /dev/null's (a /dev/zero would be copied forever)
        cases["device_in_folder"] = (good, 5, r"refused .*null \(a device\)")
    special = {  # student: (name in their folder, what to make there)
        "symlinked_solution": ("solution.json", lambda p: p.symlink_to(root / "solutions" / tiny.NAME / tiny.NOTEBOOK)),
        "symlinked_gradebook": ("gradebook.db", lambda p: p.symlink_to(victim)),
        "symlinked_notebook": (tiny.NOTEBOOK, lambda p: p.symlink_to(work / "submitted" / "good_a" / tiny.NAME / tiny.NOTEBOOK)),
        "pipe_in_folder": ("data.pipe", os.mkfifo),
        "device_in_folder": ("null", lambda p: os.mknod(p, 0o666 | stat.S_IFCHR, os.makedev(1, 3))),
    }
    for student, (content, _, _) in cases.items():
        folder = work / "submitted" / student / tiny.NAME
        folder.mkdir(parents=True, exist_ok=True)
        if student in special:
            name, make = special[student]
            make(folder / name)
        if content is None:
            (folder / "notes.txt").write_text("I forgot the notebook")
        elif content == "WRONG_NAME":
            nbformat.write(good, folder / "other.ipynb")
        elif isinstance(content, str):
            (folder / tiny.NOTEBOOK).write_text(content)
        else:
            nbformat.write(content, folder / tiny.NOTEBOOK)
    limits = {"cell_timeout": 15, "notebook_timeout": 20, "memory_bytes": 3 * 1024**3}
    try:
        outcomes = batch.grade_batch(tiny.NAME, work, workers=2, limits=limits, progress=False)
    finally:
        listener.close()
    rows = {r["student"]: r for r in api.grade_rows(work, tiny.NAME)}
    return cases, {o.student: o for o in outcomes}, rows, listener, work


def _drop(nb, grade_id):
    nb = copy.deepcopy(nb)
    nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") != grade_id]
    return nb


def _retype(nb, grade_id):
    nb = copy.deepcopy(nb)
    for i, c in enumerate(nb.cells):
        if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            md = nbformat.v4.new_markdown_cell(c.source, metadata=c.metadata)
            md["id"] = c["id"]
            nb.cells[i] = md
    return nb


def _dup_ids(nb):
    nb = copy.deepcopy(nb)
    for c in nb.cells:
        c["id"] = "same-id"
    return nb


@needs_sandbox
def test_every_submission_has_a_grade_and_a_reason(corpus):
    cases, outcomes, rows, _, _ = corpus
    assert set(outcomes) == set(cases) == set(rows)
    assert all(o.reason for o in outcomes.values())


@needs_sandbox
@pytest.mark.parametrize("student", ["good_a", "good_b", "partial", "corrupt_json", "empty_file", "wrong_name",
                                     "no_notebook", "infinite_loop", "memory_bomb", "kernel_exit", "exit_in_call", "sys_exit",
                                     "deleted_test", "edited_test", "changed_cell_type", "duplicate_ids",
                                     "huge_output", "warnings", "reads_secrets", "writes_outside", "network",
                                     "monkeypatch", "symlinked_solution", "symlinked_gradebook", "symlinked_notebook",
                                     "pipe_in_folder", "device_in_folder"])
def test_grade_and_reason(corpus, student):
    cases, outcomes, rows, _, _ = corpus
    if student not in cases:
        pytest.skip("only root can make a device file")
    _, points, reason = cases[student]
    assert rows[student]["autograded"] == points, outcomes[student].reason
    assert rows[student]["autograded_max"] == 5
    import re
    assert re.search(reason, outcomes[student].reason), outcomes[student].reason


@needs_sandbox
def test_a_kernel_that_dies_during_a_test_is_named_in_its_output(corpus):
    """The checker's channel closes with the kernel: the test fails at once, and says why."""
    *_, work = corpus
    nb = nbformat.read(work / "autograded" / "exit_in_call" / tiny.NAME / tiny.NOTEBOOK, as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "mul__tests")
    assert "your kernel is not running" in "".join(o.get("evalue", "") for o in cell.outputs)


@needs_sandbox
def test_nothing_escaped(corpus):
    cases, *_, listener, work = corpus
    assert listener.hits == 0
    with sqlite3.connect(work / "gradebook.db") as db:  # still a gradebook, not 'x'
        assert db.execute("select count(*) from student").fetchone()[0] == len(cases)
    huge = work / "autograded" / "huge_output" / tiny.NAME / tiny.NOTEBOOK
    assert huge.stat().st_size < 1_000_000


@needs_sandbox
def test_rerun_regrades_only_what_changed_and_force_regrades_all(corpus, tiny_course):
    cases, _, rows, _, work = corpus
    folder = work / "submitted" / "partial" / tiny.NAME
    root, _, released = tiny_course
    nbformat.write(_filled(released, root), folder / tiny.NOTEBOOK)  # the student finished the work
    outcomes = {o.student: o for o in batch.grade_batch(tiny.NAME, work, students=["good_a", "partial"],
                                                         workers=1, progress=False)}
    assert outcomes["good_a"].status == "unchanged"
    assert outcomes["partial"].status == "graded"
    assert {r["student"]: r["autograded"] for r in api.grade_rows(work, tiny.NAME)}["partial"] == 5
    again = batch.grade_batch(tiny.NAME, work, students=["good_a"], force=True, progress=False)
    assert again[0].status == "graded"
    status = json.loads((work / "autograded" / "good_a" / tiny.NAME / "grading.json").read_text())
    assert status["status"] == "graded" and status["reason"] == "ok"


@pytest.mark.parametrize("which", ["student", "assignment"])
def test_a_symlinked_submission_folder_is_refused_before_grading(tiny_course, tmp_path, which):
    """grade follows no link in submitted/: a student's (or their assignment's) folder that is a
    link to someone else's stops the batch with the reason before anything is graded."""
    root, _, released = tiny_course
    work = course.CourseDir(tmp_path / "linked-course", source=course.Course(root))
    alice = work / "submitted" / "alice" / tiny.NAME
    alice.mkdir(parents=True)
    nbformat.write(_filled(released, root), alice / tiny.NOTEBOOK)
    if which == "student":
        (work / "submitted" / "mallory").symlink_to(alice.parent)
    else:
        (work / "submitted" / "mallory").mkdir()
        (work / "submitted" / "mallory" / tiny.NAME).symlink_to(alice)
    with pytest.raises(course.CourseError, match="mallory.* is a symbolic link, not a folder: grade follows no link"):
        batch.grade_batch(tiny.NAME, work, progress=False)
    assert not (work / "autograded").exists()


def test_refuses_without_sandbox_unless_risk_accepted(tiny_course, monkeypatch, tmp_path):
    root, _, released = tiny_course
    work = course.CourseDir(tmp_path / "unisolated-course", source=course.Course(root))
    folder = work / "submitted" / "someone" / tiny.NAME
    folder.mkdir(parents=True)
    nbformat.write(_filled(released, root), folder / tiny.NOTEBOOK)
    monkeypatch.setattr(sandbox, "check", lambda: "bubblewrap is not installed")
    with pytest.raises(course.CourseError, match="(?s)cannot be isolated.*--unsafe-no-sandbox"):
        batch.grade_batch(tiny.NAME, work, progress=False)


def test_dask_local_cluster_grades_like_local_workers(tiny_course, tmp_path):
    """The same submissions graded through a local Dask cluster of 2 worker processes reach the
    one gradebook with the same grades as the local pool."""
    root, _, released = tiny_course
    work = course.CourseDir(tmp_path / "dask-course", source=course.Course(root))
    solved = {"full": None, "half": {"add"}, "none": set()}
    for student, parts in solved.items():
        folder = work / "submitted" / student / tiny.NAME
        folder.mkdir(parents=True)
        nbformat.write(_filled(released, root, parts), folder / tiny.NOTEBOOK)
    outcomes = batch.grade_batch(tiny.NAME, work, workers=2, scheduler="local", progress=False,
                                unsafe=UNSAFE)
    assert [o.status for o in outcomes] == ["graded"] * 3
    rows = {r["student"]: r["autograded"] for r in api.grade_rows(work, tiny.NAME)}
    assert rows == {"full": 5, "half": 2, "none": 0}
