"""The instructor's command line: `python -m autograder VERB ...`, run from the repository root.

    release A1                 solutions/A1 -> assignments/A1 (student version), gradebook entry
    grade A1                   autograde every COURSE_DIR/submitted/<student>/A1/
    feedback A1                HTML feedback under COURSE_DIR/feedback/<student>/A1/
    export                     grades as CSV (COURSE_DIR/grades.csv)
    demo                       the whole flow on sample submissions, in a temporary folder

Each verb takes --course-dir DIR, the working folder for submissions and the gradebook
(default: course/ in the repository, which git ignores).
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from . import course, submissions
from .course import CourseError


def _run(result: dict, what: str) -> None:
    if not result.get("success"):
        detail = (result.get("error") or "") + (result.get("log") or "")
        raise CourseError(f"{what} failed:\n{detail.strip()}")


def release(assignment: str, course_dir: Path, release_dir: Path | None = None) -> Path:
    """Generate the student version of an assignment and record it in the gradebook."""
    course.check_assignment(assignment)
    api = course.make_api(course_dir, release_dir)
    _run(api.generate_assignment(assignment, force=True, create=True), f"release {assignment}")
    return Path(release_dir or course.ASSIGNMENTS) / assignment


def _ensure_in_gradebook(api, assignment: str, course_dir: Path) -> None:
    """Autograde needs the assignment's cells in the gradebook: add them if this course dir lacks them.

    An assignment already there is left as it is, so students are graded against what was released.
    """
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(course.db_url(course_dir)) as gb:
        try:
            if gb.find_assignment(assignment).notebooks:
                return
        except MissingEntry:
            pass
    cache = Path(course_dir) / ".release"
    release(assignment, course_dir, release_dir=cache)


def submitted_students(assignment: str, course_dir: Path) -> list[str]:
    root = Path(course_dir) / "submitted"
    if not root.is_dir():
        return []
    students = []
    for d in sorted(root.iterdir()):
        if (d / assignment).is_dir():
            if not course.ID_PATTERN.match(d.name):
                print(f"skipping {d}: '{d.name}' is not a valid student id (letters, digits, _ . -)", file=sys.stderr)
                continue
            students.append(d.name)
    return students


def grade(assignment: str, course_dir: Path, students: list[str] | None = None) -> dict[str, str]:
    """Autograde submissions; returns {student: 'ok' or the reason it failed}."""
    course.check_assignment(assignment)
    api = course.make_api(course_dir)
    _ensure_in_gradebook(api, assignment, course_dir)
    students = students or submitted_students(assignment, course_dir)
    if not students:
        raise CourseError(f"nothing to grade: no folders {Path(course_dir) / 'submitted' / '<student>' / assignment}")
    outcome = {}
    for student in students:
        t0 = time.perf_counter()
        result = api.autograde(assignment, student, force=True, create=True)
        outcome[student] = "ok" if result.get("success") else (result.get("error") or result.get("log") or "failed").strip().splitlines()[-1]
        print(f"graded {student}: {outcome[student]} ({time.perf_counter() - t0:.1f} s)")
    return outcome


def feedback(assignment: str, course_dir: Path) -> Path:
    course.check_assignment(assignment)
    api = course.make_api(course_dir)
    _run(api.generate_feedback(assignment, force=True), f"feedback {assignment}")
    return Path(course_dir) / "feedback"


def grade_rows(course_dir: Path, assignment: str | None = None) -> list[dict]:
    """One row per submission: student, assignment, autograded score and maximum, manual points."""
    from nbgrader.api import Gradebook

    rows = []
    with Gradebook(course.db_url(course_dir)) as gb:
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
                rows.append(dict(student=sub.student.id, assignment=a.name, autograded=auto,
                                 autograded_max=auto_max, manual=manual, manual_max=manual_max, score=sub.score,
                                 max_score=sub.max_score, needs_manual_grade=sub.needs_manual_grade))
    return sorted(rows, key=lambda r: (r["assignment"], r["student"]))


def format_table(rows: list[dict]) -> str:
    head = f"{'student':<12} {'assignment':<10} {'autograded':>12} {'written':>18} {'total':>9}"
    lines = [head, "-" * len(head)]
    for r in rows:
        auto = f"{r['autograded']:g}/{r['autograded_max']:g}"
        written = f"{r['manual']:g}/{r['manual_max']:g}" + (" (to grade)" if r["needs_manual_grade"] else "")
        total = f"{r['score']:g}/{r['max_score']:g}"
        lines.append(f"{r['student']:<12} {r['assignment']:<10} {auto:>12} {written:>18} {total:>9}")
    return "\n".join(lines)


def export(course_dir: Path, to: Path | None = None, force: bool = False) -> Path:
    """Write the gradebook's grades as CSV with nbgrader's own exporter."""
    from nbgrader.api import Gradebook
    from nbgrader.plugins import CsvExportPlugin

    to = Path(to or Path(course_dir) / "grades.csv")
    if to.exists() and not force:
        raise CourseError(f"{to} exists; pass --force to overwrite it or --to to write elsewhere")
    if not (Path(course_dir) / "gradebook.db").exists():
        raise CourseError(f"no gradebook in {course_dir}: release and grade an assignment first")
    plugin = CsvExportPlugin()
    plugin.to = str(to)
    with Gradebook(course.db_url(course_dir)) as gb:
        plugin.export(gb)
    return to


def demo(assignment: str = "A1", keep: Path | None = None) -> list[dict]:
    """Release, submit (correct, half done, blank), autograde and print the grade table."""
    work = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="autograder-demo-"))
    try:
        released = release(assignment, work, release_dir=work / "release")
        submissions.write_samples(assignment, released, course.SOLUTIONS / assignment, work / "submitted")
        grade(assignment, work)
        rows = grade_rows(work, assignment)
        print(format_table(rows))
        return rows
    finally:
        if keep is None:
            shutil.rmtree(work, ignore_errors=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m autograder", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="verb", required=True)

    def add(name, help_, assignment=True):
        p = sub.add_parser(name, help=help_)
        if assignment:
            p.add_argument("assignment", help="assignment name, e.g. A1")
        p.add_argument("--course-dir", type=Path, default=course.DEFAULT_COURSE_DIR,
                       help="working folder with submitted/ and the gradebook (default: %(default)s)")
        return p

    add("release", "generate the student version in assignments/")
    g = add("grade", "autograde submitted/<student>/ASSIGNMENT/")
    g.add_argument("--student", action="append", help="grade only this student (repeatable)")
    add("feedback", "generate HTML feedback for graded submissions")
    e = add("export", "write the grades as CSV", assignment=False)
    e.add_argument("--to", type=Path, help="CSV file (default: COURSE_DIR/grades.csv)")
    e.add_argument("--force", action="store_true", help="overwrite an existing CSV")
    d = sub.add_parser("demo", help="run the whole flow on sample submissions in a temporary folder")
    d.add_argument("assignment", nargs="?", default="A1")
    d.add_argument("--keep", type=Path, help="work in this folder and keep it, instead of a temporary one")

    args = ap.parse_args(argv)
    try:
        if args.verb == "release":
            print(f"released {args.assignment} to {release(args.assignment, args.course_dir)}")
        elif args.verb == "grade":
            outcome = grade(args.assignment, args.course_dir, args.student)
            print(format_table(grade_rows(args.course_dir, args.assignment)))
            return 0 if all(v == "ok" for v in outcome.values()) else 1
        elif args.verb == "feedback":
            print(f"feedback written under {feedback(args.assignment, args.course_dir)}")
        elif args.verb == "export":
            print(f"grades written to {export(args.course_dir, args.to, args.force)}")
        elif args.verb == "demo":
            demo(args.assignment, args.keep)
    except CourseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
