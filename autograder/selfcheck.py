"""Before a class is graded, the grader grades the instructor's own solution, in the same sandbox,
limits and library, and refuses to go on unless it earns every autograded point.

What this catches before any student is charged: a checker that cannot import the course library
inside the sandbox (an environment installed from another checkout, a cluster worker whose
library sits elsewhere), a kernel that cannot start, limits too tight for the assignment, a
solution that no longer passes its own tests. The reason names the cause (the checker's standard
error, the cell that failed).

A passing check is remembered, per user, under a key made of everything the result depends on:
the assignment's notebooks and configuration, the autograder's and the course library's source,
the versions of Python and the numerical and Jupyter packages, the limits and the sandbox mode. A
change to any of them runs the check again. `AUTOGRADER_CACHE` names the folder (default
~/.cache/cnnkit-autograder); a failure is never remembered.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from . import sandbox, submissions
from .course import Assignment, Course, CourseDir, CourseError, release
from .limits import Limits

STUDENT = "instructor-solution"
_PACKAGES = ("numpy", "torch", "nbgrader", "nbclient", "nbconvert", "ipykernel", "jupyter_client", "pyzmq")


def cache_dir() -> Path:
    return Path(os.environ.get("AUTOGRADER_CACHE") or Path.home() / ".cache" / "cnnkit-autograder")


def key(assignment: Assignment, limits: Limits, unsafe: bool) -> str:
    """A hash of everything a self-check's result depends on (see the module docstring)."""
    from importlib import metadata

    h = hashlib.sha256()
    here = Path(__file__).resolve().parent
    sources = [assignment.source] + [here, Path(sandbox.library_dir())]
    for base in sources:
        for p in sorted(base.rglob("*")):
            if p.is_file() and p.suffix in (".py", ".ipynb", ".toml") and "__pycache__" not in p.parts:
                h.update(str(p.relative_to(base)).encode())
                h.update(p.read_bytes())
    versions = {}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    h.update(json.dumps({"python": sys.version, "executable": sys.executable, "versions": versions,
                         "limits": limits.as_dict(), "unsafe": unsafe, "sandbox": sandbox.check(),
                         "cgroup": bool(sandbox.facts()["cgroup"]) if not unsafe else None},
                        sort_keys=True, default=str).encode())
    return h.hexdigest()


def run(a: Assignment, source: Course, overrides: dict | None, unsafe: bool, grade,
        scheduler: str | None = None) -> tuple[bool, str]:
    """Grade the instructor's solution of assignment `a` (of the course `source`) in a scratch
    course folder with `grade` (batch's grade_batch), the same limits and sandbox, and where the
    class will be graded (scheduler: a Dask cluster, or None for this machine); (True, 'ok') or
    (False, why)."""
    assignment = a.name
    work = CourseDir(Path(tempfile.mkdtemp(prefix=f"selfcheck-{assignment}-")), source=source)
    try:
        released = release(a, work, release_dir=work.root / "release")
        points = 0.0
        for nb_path in sorted(Path(released).glob("*.ipynb")):
            source_nb = submissions.read(a.source / nb_path.name)
            folder = work.submission(STUDENT, assignment)
            folder.mkdir(parents=True, exist_ok=True)
            import nbformat

            nbformat.write(submissions.fill(submissions.read(nb_path), source_nb), folder / nb_path.name)
            points += submissions.autograded_points(source_nb)
        with contextlib.redirect_stderr(io.StringIO()):  # the batch's notes: grade prints them once
            [outcome] = grade(a, work, [STUDENT], workers=1, scheduler=scheduler, unsafe=unsafe,
                              limits=overrides, progress=False, self_check=False)
        got = _autograded(work, assignment)
        if outcome.status == "graded" and outcome.reason == "ok" and abs(got - points) < 1e-9:
            return True, "ok"
        why = outcome.reason if outcome.reason.startswith(outcome.status) else f"{outcome.status}: {outcome.reason}"
        detail = batch_status(work, assignment).get("grader_error") or ""
        return False, (f"the instructor's solution of {assignment} earned {got:g} of {points:g} autograded points "
                       f"in this grading configuration ({why})" + (f"\n{detail}" if detail else ""))
    finally:
        shutil.rmtree(work.root, ignore_errors=True)


def batch_status(course: CourseDir, assignment: str) -> dict:
    """The self-check's grading.json (the grader's error is there in full)."""
    try:
        return json.loads(course.status_file(STUDENT, assignment).read_text())
    except (OSError, ValueError):
        return {}


def _autograded(course: CourseDir, assignment: str) -> float:
    from nbgrader.api import MissingEntry

    with course.gradebook() as gb:
        try:
            sub = gb.find_submission(assignment, STUDENT)
        except MissingEntry:
            return 0.0
        return sum(g.score for nb in sub.notebooks for g in nb.grades if g.cell.cell_type == "code")


def require(a: Assignment, source: Course, overrides: dict | None, unsafe: bool, grade,
            scheduler: str | None = None) -> None:
    """Raise CourseError unless the instructor's solution earns every autograded point here (a
    passing result is remembered under key(); see the module docstring)."""
    limits = Limits.of(overrides, base=a.limits)
    k = key(a, limits, unsafe) + ("" if scheduler is None else hashlib.sha256(scheduler.encode()).hexdigest())
    assignment = a.name
    mark = cache_dir() / f"{assignment}-{k[:32]}.ok"
    if mark.exists():
        return
    ok, why = run(a, source, overrides, unsafe, grade, scheduler)
    if not ok:
        raise CourseError(f"self-check failed, so no submission was graded: {why}.\nFix the cause and run grade "
                          "again (--no-self-check skips this check; then a broken grader can mark every "
                          "submission wrong).")
    try:
        mark.parent.mkdir(parents=True, exist_ok=True)
        mark.write_text(json.dumps({"assignment": assignment, "key": k}))
    except OSError:
        pass  # an unwritable cache only means the check runs again next time
