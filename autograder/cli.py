"""The instructor's command line: `python -m autograder VERB ...`, run from the repository root.

    release A1                 solutions/A1 -> assignments/A1 (student version), gradebook entry
    roster students.csv        import the class list into the gradebook
    collect A1 EXPORT          file an LMS export (folder or zip) under COURSE_DIR/submitted/
    grade A1 [--workers N]     autograde every COURSE_DIR/submitted/<student>/A1/, sandboxed
    feedback A1                HTML feedback under COURSE_DIR/feedback/<student>/A1/
    export                     grades as CSV (COURSE_DIR/grades.csv)
    exchange ACTION A1         nbgrader's exchange on a JupyterHub: release, collect, feedback (autograder.exchange)
    demo                       the whole flow on sample submissions, in a temporary folder
    pack DIR --as-of DATE      the student pack (autograder/pack.py): released lectures and assignments
    similarity A2              ranked HTML report of similar answers (autograder/similarity.py)

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

from . import batch, course, submissions
from .course import CourseError
from .limits import CONFIG_FILE, DEFAULTS as DEFAULT_LIMITS


def _run(result: dict, what: str) -> None:
    if not result.get("success"):
        detail = (result.get("error") or "") + (result.get("log") or "")
        raise CourseError(f"{what} failed:\n{detail.strip()}")


release = course.release
submitted_students = course.submitted_students


def grade(assignment: str, course_dir: Path, students: list[str] | None = None, workers: int = 1,
          scheduler: str | None = None, force: bool = False, unsafe: bool = False,
          limits: dict | None = None, progress: bool = False) -> dict[str, str]:
    """Autograde submissions (see autograder.batch); returns {student: 'ok' or the reason}."""
    t0 = time.perf_counter()
    outcomes = batch.grade_batch(assignment, course_dir, students, workers=workers, scheduler=scheduler,
                                 force=force, unsafe=unsafe, limits=limits, progress=progress)
    print(batch.summary(outcomes, time.perf_counter() - t0))
    return {o.student: o.reason for o in outcomes}


def import_roster(path: Path, course_dir: Path) -> list[str]:
    """Add or update every student of students.csv in the gradebook; returns their ids."""
    from .collect import read_roster

    rows = read_roster(path)
    Path(course_dir).mkdir(parents=True, exist_ok=True)
    with course.gradebook(course_dir) as gb:
        for row in rows:
            gb.update_or_create_student(row["id"], **{k: v for k, v in row.items() if k != "id" and v})
    return [r["id"] for r in rows]


def roster_ids(course_dir: Path) -> set[str] | None:
    """The students in the gradebook, or None when there is no roster yet."""
    if not course.has_gradebook(course_dir):
        return None
    with course.gradebook(course_dir) as gb:
        ids = {s.id for s in gb.students}
    return ids or None


def collect_export(assignment: str, export: Path, course_dir: Path, pattern: str | None = None,
                   due: str | None = None, add_unknown: bool = False, force: bool = False):
    """File an LMS export (folder or zip) under COURSE_DIR/submitted/; returns the Report."""
    import datetime as dt

    from . import collect

    course.check_assignment(assignment)
    expected = sorted(p.name for p in (course.SOLUTIONS / assignment).iterdir()
                      if p.is_file() and not p.name.endswith(".pct.py") and p.name != CONFIG_FILE)
    due_at = None
    if due:
        try:
            due_at = dt.datetime.fromisoformat(due)
        except ValueError as exc:
            raise CourseError(f"--due {due!r} is not an ISO date such as 2026-10-01T23:59") from exc
        if due_at.tzinfo is None:
            due_at = due_at.replace(tzinfo=dt.timezone.utc)
    return collect.collect(collect.read_export(export), assignment, expected, Path(course_dir) / "submitted",
                           pattern=pattern or collect.DEFAULT_PATTERN, roster=roster_ids(course_dir),
                           due=due_at, add_unknown=add_unknown, force=force)


def feedback(assignment: str, course_dir: Path) -> Path:
    course.check_assignment(assignment)
    from . import feedback as fb

    api = course.make_api(course_dir)
    fb.configure(api)  # sanitised again, hidden tests left out
    _run(api.generate_feedback(assignment, force=True), f"feedback {assignment}")
    fb.protect_pages(Path(course_dir) / "feedback", assignment)  # Content-Security-Policy
    return Path(course_dir) / "feedback"


def grade_rows(course_dir: Path, assignment: str | None = None) -> list[dict]:
    """One row per submission: student, assignment, autograded score and maximum, manual points."""
    rows = []
    with course.gradebook(course_dir) as gb:
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
                status = batch.read_status(course_dir, a.name, sub.student.id) or {}
                rows.append(dict(student=sub.student.id, assignment=a.name, autograded=auto,
                                 reason=status.get("reason", ""),
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
    """Write the gradebook's grades as CSV (autograder.export: quoted, no formulas)."""
    from . import export as grades_csv

    to = Path(to or Path(course_dir) / "grades.csv")
    if to.exists() and not force:
        raise CourseError(f"{to} exists; pass --force to overwrite it or --to to write elsewhere")
    if not course.has_gradebook(course_dir):
        raise CourseError(f"no gradebook in {course_dir}: release and grade an assignment first")
    with course.gradebook(course_dir) as gb:
        grades_csv.write_grades(gb, to)
    return to


def demo(assignment: str = "A1", keep: Path | None = None, unsafe: bool = False) -> list[dict]:
    """Release, submit (correct, half done, blank), autograde and print the grade table."""
    work = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="autograder-demo-"))
    try:
        released = release(assignment, work, release_dir=work / "release")
        submissions.write_samples(assignment, released, course.SOLUTIONS / assignment, work / "submitted")
        grade(assignment, work, unsafe=unsafe)
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
        p.add_argument("--db", help="gradebook URL instead of COURSE_DIR/gradebook.db, e.g. "
                                    "postgresql+psycopg://user:password@host/course (pip install 'psycopg[binary]')")
        return p

    add("release", "generate the student version in assignments/")
    r = add("roster", "import students.csv (id, first_name, last_name, email) into the gradebook", assignment=False)
    r.add_argument("csv", type=Path, help="the roster file")
    c = add("collect", "file an LMS export (folder or zip) under COURSE_DIR/submitted/")
    c.add_argument("export", type=Path, help="folder or zip of submissions, one file per student")
    c.add_argument("--pattern", help="regex with named groups student and file (default: <student>_<file>)")
    c.add_argument("--due", help="deadline, ISO format (UTC unless stated); later files are reported late")
    c.add_argument("--add-unknown", action="store_true", help="also file students missing from the roster")
    c.add_argument("--force", action="store_true", help="replace submissions already filed that differ")
    g = add("grade", "autograde submitted/<student>/ASSIGNMENT/")
    g.add_argument("--student", action="append", help="grade only this student (repeatable)")
    g.add_argument("--workers", type=int, default=1, help="submissions graded at once (default 1)")
    g.add_argument("--scheduler", help="Dask scheduler address, or 'local' for a local cluster of --workers processes")
    g.add_argument("--force", action="store_true", help="regrade submissions that have not changed")
    where = f"solutions/ASSIGNMENT/{CONFIG_FILE}"
    g.add_argument("--cell-timeout", type=int, help=f"seconds per cell (default: {where}, else {DEFAULT_LIMITS['cell_timeout']})")
    g.add_argument("--notebook-timeout", type=int, help=f"seconds per notebook (default: {where}, else {DEFAULT_LIMITS['notebook_timeout']})")
    g.add_argument("--memory-gb", type=float, help=f"memory limit per kernel in GiB (default: {where}, else {DEFAULT_LIMITS['memory_bytes'] / 1024**3:g})")
    g.add_argument("--unsafe-no-sandbox", action="store_true", help="grade even where student code cannot be isolated (it then runs as you)")
    add("feedback", "generate HTML feedback for graded submissions")
    e = add("export", "write the grades as CSV", assignment=False)
    e.add_argument("--to", type=Path, help="CSV file (default: COURSE_DIR/grades.csv)")
    e.add_argument("--force", action="store_true", help="overwrite an existing CSV")
    from . import exchange

    exchange.add_parser(sub, add)
    d = sub.add_parser("demo", help="run the whole flow on sample submissions in a temporary folder")
    d.add_argument("assignment", nargs="?", default="A1")
    d.add_argument("--keep", type=Path, help="work in this folder and keep it, instead of a temporary one")
    d.add_argument("--unsafe-no-sandbox", action="store_true", help="run even where student code cannot be isolated")

    k = sub.add_parser("pack", help="write the student pack (a git folder and a zip) as of a date (autograder.pack)")
    k.add_argument("dir", type=Path, help="new folder for the pack; DIR.zip is written beside it")
    k.add_argument("--as-of", required=True, help="the day the pack is for, e.g. 2026-10-12 (dates in course.toml)")
    s = sub.add_parser("similarity", help="rank similar answers of an assignment (autograder.similarity)")
    s.add_argument("assignment", help="assignment name, e.g. A2")
    s.add_argument("--course-dir", type=Path, default=course.DEFAULT_COURSE_DIR, help="folder with submitted/")
    s.add_argument("--to", type=Path, help="HTML report (default: COURSE_DIR/similarity/ASSIGNMENT.html)")
    s.add_argument("--threshold", type=float, help="similarity from 0 to 1 above which a pair is listed")

    args = ap.parse_args(argv)
    if getattr(args, "db", None):
        import os

        os.environ["AUTOGRADER_DB"] = args.db
    try:
        if args.verb == "release":
            print(f"released {args.assignment} to {release(args.assignment, args.course_dir)}")
        elif args.verb == "roster":
            ids = import_roster(args.csv, args.course_dir)
            print(f"{len(ids)} students in the gradebook of {args.course_dir}")
        elif args.verb == "collect":
            report = collect_export(args.assignment, args.export, args.course_dir, args.pattern, args.due,
                                    args.add_unknown, args.force)
            print("\n".join(report.lines()))
        elif args.verb == "grade":
            limits = {"cell_timeout": args.cell_timeout, "notebook_timeout": args.notebook_timeout,
                      "memory_bytes": int(args.memory_gb * 1024**3) if args.memory_gb else None}
            grade(args.assignment, args.course_dir, args.student, workers=args.workers, scheduler=args.scheduler,
                  force=args.force, unsafe=args.unsafe_no_sandbox, limits=limits, progress=True)
            print(format_table(grade_rows(args.course_dir, args.assignment)))
        elif args.verb == "feedback":
            print(f"feedback written under {feedback(args.assignment, args.course_dir)}")
        elif args.verb == "export":
            print(f"grades written to {export(args.course_dir, args.to, args.force)}")
        elif args.verb == "exchange":
            exchange.run(args)
        elif args.verb == "demo":
            demo(args.assignment, args.keep, args.unsafe_no_sandbox)
        elif args.verb == "pack":
            from . import pack

            print("\n".join(pack.build(args.dir, pack.parse_date(args.as_of)).lines()))
        elif args.verb == "similarity":
            from . import similarity

            print("\n".join(similarity.main(args.assignment, args.course_dir, args.to, args.threshold)))
    except CourseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
