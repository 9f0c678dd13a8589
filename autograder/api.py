"""The autograder as plain functions: what `python -m autograder VERB` does, callable from Python.

    from autograder import api
    from autograder.course import CourseDir

    term = CourseDir("course", db_url=None)        # or a path: its gradebook is PATH/gradebook.db
    api.release("A1", term)
    api.collect("A1", "export.zip", term, due="2026-10-14T23:59")
    api.grade("A1", term, workers=4)
    rows = api.grade_rows(term, "A1")
    api.feedback("A1", term)
    api.export(term)

Every function takes the course folder as a `course.CourseDir` (a path is accepted too and means
that folder with its sqlite gradebook) and raises `course.CourseError` with a message for the
instructor when something is wrong. `cli.py` only parses arguments and calls these.

Layers (each imports only its own layer and those below; nothing below cli imports cli,
nothing below api imports api):

    cli          argument parsing, printing
    api          this module: one function per verb
    batch, collect, export, feedback, late, submissions      one job each
    execute, checker, pool, sandbox, limits, sanitize, testplan, wire   running student code
    course       paths, the gradebook, nbgrader's config (imports nothing of the autograder)
"""
from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

from . import batch, late, submissions
from . import collect as intake
from . import export as grades_csv
from . import feedback as fb
from .course import Assignment, Course, CourseDir, CourseError, parse_due
from .course import release as _release

__all__ = ["release", "import_roster", "roster_ids", "collect", "submitted_students", "grade", "grade_rows",
           "format_table", "feedback", "export", "demo"]

Where = CourseDir | str | os.PathLike
Named = Assignment | str  # an Assignment, or its name in the course folder's course (CourseDir.source)


def release(assignment: Named, course: Where, release_dir: Path | None = None) -> Path:
    """Generate the student version of an assignment (in release_dir, default the course's
    assignments/) and record it in the gradebook; returns the released folder. Refused, with each
    cell and line, where a test would not be graded as plain nbgrader grades it
    (batch.require_reachable_tests)."""
    course = CourseDir.of(course)
    a = course.assignment(assignment)
    batch.require_reachable_tests(a)
    return _release(a, course, release_dir)


def submitted_students(assignment: str, course: Where) -> list[str]:
    """The students with a folder submitted/<student>/<assignment>/ (valid ids only)."""
    return CourseDir.of(course).submitted_students(assignment)


def import_roster(path: Path, course: Where) -> list[str]:
    """Add or update every student of students.csv in the gradebook; returns their ids."""
    course = CourseDir.of(course)
    rows = intake.read_roster(path)
    course.root.mkdir(parents=True, exist_ok=True)
    with course.gradebook() as gb:
        for row in rows:
            gb.update_or_create_student(row["id"], **{k: v for k, v in row.items() if k != "id" and v})
    return [r["id"] for r in rows]


def roster_ids(course: Where) -> set[str] | None:
    """The students in the gradebook, or None when there is no roster yet."""
    return CourseDir.of(course).roster_ids()


def collect(assignment: Named, export: Path, course: Where, pattern: str | None = None,
            due: str | None = None, add_unknown: bool = False, force: bool = False) -> intake.Report:
    """File an LMS export (folder or zip) under submitted/; returns the Report (see autograder.collect).

    due: an ISO date (2026-10-01T23:59, UTC unless it says otherwise); later files are reported late."""
    course = CourseDir.of(course)
    a, due_at = course.assignment(assignment), parse_due(due)
    return intake.collect(intake.read_export(export), a, course.submitted,
                          pattern=pattern or intake.DEFAULT_PATTERN, roster=roster_ids(course),
                          due=due_at, add_unknown=add_unknown, force=force)


def grade(assignment: Named, course: Where, students: list[str] | None = None, workers: int = 1,
          scheduler: str | None = None, force: bool = False, unsafe: bool = False,
          limits: dict | None = None, progress: bool = False, self_check: bool | None = None,
          allow_unlimited_root: bool | None = None) -> dict[str, str]:
    """Autograde submissions (see autograder.batch) and print the summary; returns
    {student: 'ok' or the reason}. A reason that starts with batch.NOT_GRADED means the grader
    failed on that submission: nothing was written to the gradebook for it. allow_unlimited_root:
    grade as root without a cgroup for the kernels (sandbox.root_refusal)."""
    t0 = time.perf_counter()
    course = CourseDir.of(course)
    outcomes = batch.grade_batch(course.assignment(assignment), course, students, workers=workers, scheduler=scheduler,
                                 force=force, unsafe=unsafe, limits=limits, progress=progress,
                                 self_check=self_check, allow_unlimited_root=allow_unlimited_root)
    print(batch.summary(outcomes, time.perf_counter() - t0))
    return {o.student: o.reason for o in outcomes}


def grade_rows(course: Where, assignment: str | None = None) -> list[dict]:
    """One row per submission: student, assignment, autograded score and maximum, manual points,
    and the reason recorded when it was graded."""
    course = CourseDir.of(course)
    rows = []
    with course.gradebook() as gb:
        for a in gb.assignments:
            if assignment and a.name != assignment:
                continue
            for sub in a.submissions:
                auto = auto_max = manual = manual_max = 0.0
                for nb in sub.notebooks:
                    for g in nb.grades:
                        if g.cell.cell_type == "code":
                            auto += g.score
                            auto_max += g.max_score
                        else:
                            manual += g.score
                            manual_max += g.max_score
                status = batch.read_status(course, a.name, sub.student.id) or {}
                rows.append(dict(student=sub.student.id, assignment=a.name, autograded=auto,
                                 reason=status.get("reason", ""),
                                 autograded_max=auto_max, manual=manual, manual_max=manual_max, score=sub.score,
                                 max_score=sub.max_score, needs_manual_grade=sub.needs_manual_grade))
    return sorted(rows, key=lambda r: (r["assignment"], r["student"]))


def format_table(rows: list[dict]) -> str:
    """grade_rows as the text table that grade and demo print."""
    head = f"{'student':<12} {'assignment':<10} {'autograded':>12} {'written':>18} {'total':>9}"
    lines = [head, "-" * len(head)]
    for r in rows:
        auto = f"{r['autograded']:g}/{r['autograded_max']:g}"
        written = f"{r['manual']:g}/{r['manual_max']:g}" + (" (to grade)" if r["needs_manual_grade"] else "")
        total = f"{r['score']:g}/{r['max_score']:g}"
        lines.append(f"{r['student']:<12} {r['assignment']:<10} {auto:>12} {written:>18} {total:>9}")
    return "\n".join(lines)


def feedback(assignment: Named, course: Where) -> Path:
    """HTML feedback under feedback/<student>/<assignment>/ (sanitised, hidden tests left out,
    a Content-Security-Policy in every page); returns the feedback folder."""
    course = CourseDir.of(course)
    assignment = course.assignment(assignment).name
    nbgrader = course.nbgrader_api()
    fb.configure(nbgrader)
    result = nbgrader.generate_feedback(assignment, force=True)
    if not result.get("success"):
        detail = (result.get("error") or "") + (result.get("log") or "")
        raise CourseError(f"feedback {assignment} failed:\n{detail.strip()}")
    fb.protect_pages(course.feedback, assignment)
    return course.feedback


def export(course: Where, to: Path | None = None, force: bool = False, fmt: str = "csv",
           per_question: bool = False, assignment: str | None = None) -> Path:
    """Write the gradebook's grades as CSV (autograder.export: quoted, no formulas); returns the file.
    fmt: 'csv' (nbgrader's columns), 'canvas' or 'moodle' (each LMS's gradebook import);
    per_question: a column per graded cell; assignment: only that one. The late rule
    (autograder.late) is recomputed from the gradebook's timestamps. Default file: grades.csv in the
    course folder (grades-canvas.csv, grades-moodle.csv); an existing file is kept unless force."""
    course = CourseDir.of(course)
    to = Path(to or (course.grades_csv if fmt == "csv" else course.root / f"grades-{fmt}.csv"))
    if to.exists() and not force:
        raise CourseError(f"{to} exists; pass --force to overwrite it or --to to write elsewhere")
    if not course.has_gradebook():
        raise CourseError(f"no gradebook in {course.root}: release and grade an assignment first")
    rules = late.Rules.of(course)
    with course.gradebook() as gb:
        grades_csv.write(gb, to, fmt, per_question, assignment, rules, batch.not_graded(course))
    return to


def demo(assignment: str = "A1", keep: Path | None = None, unsafe: bool = False,
         source: Course | None = None) -> list[dict]:
    """Release, submit (correct, half done, blank), autograde and print the grade table, in a
    temporary course folder (or `keep`, which is kept); source: the course (default: this repository)."""
    work = CourseDir(Path(keep) if keep else Path(tempfile.mkdtemp(prefix="autograder-demo-")),
                     source=source or Course())
    try:
        a = work.assignment(assignment)
        released = release(a, work, release_dir=work.root / "release")
        submissions.write_samples(a.name, released, a.source, work.submitted)
        grade(a, work, unsafe=unsafe)
        rows = grade_rows(work, assignment)
        print(format_table(rows))
        return rows
    finally:
        if keep is None:
            shutil.rmtree(work.root, ignore_errors=True)


def student_pack(dest: Path, as_of: str, source: Course | None = None):
    """Write the student pack of a course (default: this repository) as of the ISO date as_of
    (autograder.pack); returns its report."""
    from . import pack

    return pack.build(dest, pack.parse_date(as_of), source=source or Course())


def similarity(assignment: Named, course: Where, to: Path | None = None, threshold: float | None = None) -> list[str]:
    """Rank similar answers of an assignment into an HTML report (autograder.similarity); returns
    the lines to print."""
    from . import similarity as sim

    course = CourseDir.of(course)
    return sim.main(course.assignment(assignment), course, to, threshold)


def check(assignment: str, workers: int = 2) -> int:
    """Run one assignment's tests for its author (autograder.check); returns the exit status."""
    from . import check as author_check

    return author_check.run(assignment, workers)


def exchange_release(assignment: Named, course: Where, root: str, force: bool = False) -> Path:
    """Release the student version to nbgrader's exchange on a hub (autograder.exchange)."""
    from . import exchange

    course = CourseDir.of(course)
    a = course.assignment(assignment)
    batch.require_reachable_tests(a)
    return exchange.release(a, course, root, force=force)


def exchange_collect(assignment: Named, course: Where, root: str, due: str | None = None, add_unknown: bool = False,
                     force: bool = False, check_owner: bool = True):
    """Collect every student's newest submission from the exchange (autograder.exchange)."""
    from . import exchange

    course = CourseDir.of(course)
    return exchange.collect(course.assignment(assignment), course, root, due=due, add_unknown=add_unknown, force=force,
                            check_owner=check_owner)


def exchange_feedback(assignment: Named, course: Where, root: str,
                      students: list[str] | None = None) -> tuple[list[str], list[str]]:
    """Put the students' HTML feedback in the exchange (autograder.exchange); (released, skipped)."""
    from . import exchange

    course = CourseDir.of(course)
    return exchange.release_feedback(course.assignment(assignment), course, root, students)


def serve(assignment: Named, course: Where, root: str, workers: int = 1, poll: float = 2.0, once: bool = False,
          check_owner: bool = True, add_unknown: bool = False, unsafe: bool = False) -> None:
    """Grade each submission to the exchange as it arrives and release its feedback (autograder.serve)."""
    from . import serve as service

    course = CourseDir.of(course)
    a = course.assignment(assignment)
    batch.require_reachable_tests(a)
    service.serve(a, course, root, workers=workers, poll=poll, once=once, check_owner=check_owner,
                  add_unknown=add_unknown, unsafe=unsafe)
