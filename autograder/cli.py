"""The instructor's command line: `python -m autograder VERB ...`, run from the repository root.

    release A1                 solutions/A1 -> assignments/A1 (student version), gradebook entry
    roster students.csv        import the class list into the gradebook
    collect A1 EXPORT          file an LMS export (folder or zip) under COURSE_DIR/submitted/
    grade A1 [--workers N]     autograde every COURSE_DIR/submitted/<student>/A1/, sandboxed
    feedback A1                HTML feedback under COURSE_DIR/feedback/<student>/A1/
    export [--format F]        grades as CSV (COURSE_DIR/grades.csv), or a Canvas or Moodle gradebook import
    exchange ACTION A1         nbgrader's exchange on a JupyterHub: release, collect, feedback (autograder.exchange)
    demo                       the whole flow on sample submissions, in a temporary folder
    pack DIR --as-of DATE      the student pack (autograder/pack.py): released lectures and assignments
    similarity A2              ranked HTML report of similar answers (autograder/similarity.py)
    check A2                   the author's check of one assignment: sync, solution, blank, corpus, nbval
    serve A1 [--workers N]     grade each submission to the hub's exchange as it arrives (autograder.serve)

Each verb takes --source DIR, the course (solutions/, assignments/, course.toml; default: this
repository), --course-dir DIR, the working folder for submissions and the gradebook
(default: course/ in the repository, which git ignores), and --db URL for a gradebook elsewhere.
"""
# Only argument parsing and printing: the work is in autograder.api and the verbs' own modules, and
# no other module of the autograder imports this one. How to add a verb: build_parser's docstring.
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import api
from .course import DEFAULT_COURSE_DIR, REPO, Course, CourseDir, CourseError
from .batch import NOT_GRADED
from .exchange import DEFAULT_ROOT as EXCHANGE_ROOT
from .export import FORMATS as EXPORT_FORMATS
from .sandbox import ALLOW_ROOT_ENV
from .limits import DEFAULTS as DEFAULT_LIMITS, WALL_FACTOR


def _release(args) -> None:
    print(f"released {args.assignment} to {api.release(args.assignment, args.course)}")


def _roster(args) -> None:
    ids = api.import_roster(args.csv, args.course)
    print(f"{len(ids)} students in the gradebook of {args.course_dir}")


def _collect(args) -> None:
    report = api.collect(args.assignment, args.export, args.course, args.pattern, args.due,
                         args.add_unknown, args.force)
    print("\n".join(report.lines()))


def _grade(args) -> None:
    limits = {"cell_timeout": args.cell_timeout, "notebook_timeout": args.notebook_timeout,
              "memory_bytes": int(args.memory_gb * 1024**3) if args.memory_gb else None}
    reasons = api.grade(args.assignment, args.course, args.student, workers=args.workers,
                        scheduler=args.scheduler, force=args.force, unsafe=args.unsafe_no_sandbox, limits=limits,
                        progress=True, self_check=False if args.no_self_check else None,
                        allow_unlimited_root=True if args.allow_unlimited_root else None)
    print(api.format_table(api.grade_rows(args.course, args.assignment)))
    lost = sorted(s for s, r in reasons.items() if r.startswith(NOT_GRADED))
    if lost:
        print(f"error: {len(lost)} submission(s) not graded because the grader failed ({', '.join(lost)}); "
              "their grading.json holds the grader's error. Nothing was written to the gradebook for them.",
              file=sys.stderr)
        raise SystemExit(1)


def _feedback(args) -> None:
    print(f"feedback written under {api.feedback(args.assignment, args.course)}")


def _export(args) -> None:
    to = api.export(args.course, args.to, args.force, fmt=args.format, per_question=args.per_question,
                    assignment=args.assignment)
    print(f"grades written to {to}")


def _demo(args) -> None:
    api.demo(args.assignment, args.keep, args.unsafe_no_sandbox, source=args.source_course)


def _pack(args) -> None:
    print("\n".join(api.student_pack(args.dir, args.as_of, source=args.source_course).lines()))


def _similarity(args) -> None:
    print("\n".join(api.similarity(args.assignment, args.course, args.to, args.threshold)))


def _check(args) -> None:
    raise SystemExit(api.check(args.assignment, args.workers))


def _exchange(args) -> None:
    if args.action == "release":
        dest = api.exchange_release(args.assignment, args.course, args.exchange, force=args.force)
        print(f"released {args.assignment} to {dest}")
    elif args.action == "collect":
        report = api.exchange_collect(args.assignment, args.course, args.exchange, due=args.due,
                                      add_unknown=args.add_unknown, force=args.force,
                                      check_owner=not args.no_check_owner)
        print("\n".join(report.lines()))
    else:
        released, skipped = api.exchange_feedback(args.assignment, args.course, args.exchange, args.student)
        print(f"released the feedback of {len(released)} student(s) to {args.exchange}")
        for line in skipped:
            print(f"skipped   {line}", file=sys.stderr)


def _serve(args) -> None:
    api.serve(args.assignment, args.course, args.exchange, workers=args.workers, poll=args.poll, once=args.once,
              check_owner=not args.no_check_owner, add_unknown=args.add_unknown, unsafe=args.unsafe_no_sandbox)


def _add_serve(verb) -> None:
    """The serve verb: the grading service on a hub (autograder.serve)."""
    s = verb("serve", "grade each submission to the exchange as it arrives and release its feedback "
                      "(autograder.serve)", _serve)
    s.add_argument("--exchange", default=EXCHANGE_ROOT, help="nbgrader's exchange root (default: %(default)s)")
    s.add_argument("--workers", type=int, default=1, help="submissions graded at once (default 1)")
    s.add_argument("--poll", type=float, default=2.0, help="seconds between looks at the inbound folder (default 2)")
    s.add_argument("--once", action="store_true", help="grade what is waiting, then exit (for a timer or cron)")
    s.add_argument("--add-unknown", action="store_true", help="also grade students missing from the roster")
    s.add_argument("--no-check-owner", action="store_true",
                   help="accept a submission not owned by the unix user it is named for")
    s.add_argument("--unsafe-no-sandbox", action="store_true",
                   help="grade even where student code cannot be isolated (it then runs as you)")


def _add_grade(verb) -> None:
    """The grade verb and its limits (verb: build_parser's helper that adds a subcommand)."""
    g = verb("grade", "autograde submitted/<student>/ASSIGNMENT/", _grade)
    g.add_argument("--student", action="append", help="grade only this student (repeatable)")
    g.add_argument("--workers", type=int, default=1, help="submissions graded at once (default 1)")
    g.add_argument("--scheduler", help="Dask scheduler address, or 'local' for a local cluster of --workers processes")
    g.add_argument("--force", action="store_true", help="regrade submissions that have not changed")
    where = "course.toml [assignments.ASSIGNMENT.limits]"
    g.add_argument("--cell-timeout", type=int, help=f"CPU seconds per cell (default: {where}, else "
                   f"{DEFAULT_LIMITS['cell_timeout']}); wall-clock backstop {WALL_FACTOR}x that")
    g.add_argument("--notebook-timeout", type=int, help=f"CPU seconds per notebook (default: {where}, else "
                   f"{DEFAULT_LIMITS['notebook_timeout']}); wall-clock backstop {WALL_FACTOR}x that")
    g.add_argument("--memory-gb", type=float, help=f"memory limit per kernel in GiB (default: {where}, else {DEFAULT_LIMITS['memory_bytes'] / 1024**3:g})")
    g.add_argument("--unsafe-no-sandbox", action="store_true", help="grade even where student code cannot be isolated (it then runs as you)")
    g.add_argument("--allow-unlimited-root", action="store_true",
                   help="grade as root without a cgroup for the kernels (nothing then limits a submission's "
                        f"process count or total memory; or set {ALLOW_ROOT_ENV}=1; see autograder/README.md)")
    g.add_argument("--no-self-check", action="store_true",
                   help="skip grading the instructor's solution first (a broken grader then marks submissions wrong)")


def _add_export(verb) -> None:
    """The export verb: the grades for a spreadsheet or an LMS's import (autograder.export, autograder.late)."""
    e = verb("export", "write the grades as CSV: nbgrader's columns, or what Canvas's or Moodle's gradebook "
                       "imports (autograder.export; late days applied, autograder.late)", _export, assignment=False)
    e.add_argument("--to", type=Path, help="CSV file (default: COURSE_DIR/grades.csv, or grades-FORMAT.csv)")
    e.add_argument("--force", action="store_true", help="overwrite an existing CSV")
    e.add_argument("--format", choices=EXPORT_FORMATS, default="csv",
                   help="csv: nbgrader's columns (default); canvas, moodle: that LMS's gradebook import")
    e.add_argument("--per-question", action="store_true",
                   help="also a column per graded cell of each assignment (points earned before any late penalty)")
    e.add_argument("--assignment", help="only this assignment (default: every assignment in the gradebook)")


def _add_exchange(verb) -> None:
    """The exchange verb: nbgrader's exchange on a hub (autograder.exchange)."""
    x = verb("exchange", "nbgrader's exchange on a shared JupyterHub: release, collect, feedback", _exchange,
             assignment=False)
    x.add_argument("action", choices=["release", "collect", "feedback"],
                   help="release: student version to the exchange; collect: submissions into COURSE_DIR/"
                        "submitted/; feedback: COURSE_DIR/feedback/ to the students")
    x.add_argument("assignment", help="assignment name, e.g. A1")
    x.add_argument("--exchange", default=EXCHANGE_ROOT, help="nbgrader's exchange root (default: %(default)s)")
    x.add_argument("--force", action="store_true",
                   help="release: replace an assignment already released; collect: replace files already filed that differ")
    x.add_argument("--due", help="collect: deadline, ISO format (UTC unless stated); later submissions are reported late")
    x.add_argument("--add-unknown", action="store_true", help="collect: also file students missing from the roster")
    x.add_argument("--no-check-owner", action="store_true",
                   help="collect: accept a submission not owned by the unix user it is named for")
    x.add_argument("--student", action="append", help="feedback: release only this student's (repeatable)")


def _add_course_tools(verb) -> None:
    """The verbs around grading: the demo, the student pack, the similarity report, an author's check."""
    d = verb("demo", "run the whole flow on sample submissions in a temporary folder", _demo,
             assignment=False, course_dir=False)
    d.add_argument("assignment", nargs="?", default="A1")
    d.add_argument("--keep", type=Path, help="work in this folder and keep it, instead of a temporary one")
    d.add_argument("--unsafe-no-sandbox", action="store_true", help="run even where student code cannot be isolated")
    k = verb("pack", "write the student pack (a git folder and a zip) as of a date (autograder.pack)", _pack,
             assignment=False, course_dir=False)
    k.add_argument("dir", type=Path, help="new folder for the pack; DIR.zip is written beside it")
    k.add_argument("--as-of", required=True, help="the day the pack is for, e.g. 2026-10-12 (dates in course.toml)")
    s = verb("similarity", "rank similar answers of an assignment (autograder.similarity)", _similarity)
    s.add_argument("--to", type=Path, help="HTML report (default: COURSE_DIR/similarity/ASSIGNMENT.html)")
    s.add_argument("--threshold", type=float, help="similarity from 0 to 1 above which a pair is listed")
    ch = verb("check", "run one assignment's tests: notebook and release in sync, the solution, the blank "
                       "release and the mutation corpus graded, the notebook under nbval (autograder.check)", _check,
              course_dir=False, source=False)
    ch.add_argument("--workers", type=int, default=2, help="test processes (default 2)")


def build_parser() -> argparse.ArgumentParser:
    """The parser of every verb. To add a verb, put its logic in a module of its own (a function
    with typed arguments that takes a course.CourseDir and raises course.CourseError for what the
    instructor must fix), give api a function that calls it, then add here

        p = verb("pack", "what it does", _pack)        # assignment=False if it takes none
        p.add_argument("--to", type=Path, help="...")

    and beside the other runners above (a runner calls api only: tests/test_autograder_layers.py)

        def _pack(args) -> None:                       # args.course: the CourseDir of --course-dir, --db
            print(f"packed to {api.pack(args.assignment, args.course, args.to)}")

    A runner prints what the instructor should see; main() turns a CourseError into
    `error: ...` on stderr and exit status 2.
    """
    ap = argparse.ArgumentParser(prog="python -m autograder", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="verb", required=True)

    def verb(name, help_, run, assignment=True, course_dir=True, source=True):
        """A subcommand whose runner is run(args); with source, --source (args.source, a Course);
        with course_dir, --course-dir and --db, and args.course (a CourseDir of args.source) set
        before run is called."""
        p = sub.add_parser(name, help=help_)
        p.set_defaults(run=run)
        if assignment:
            p.add_argument("assignment", help="assignment name, e.g. A1")
        if source:
            p.add_argument("--source", type=Path, default=REPO,
                           help="the course: a folder with solutions/, assignments/ and course.toml "
                                "(default: this repository, %(default)s)")
        if course_dir:
            p.add_argument("--course-dir", type=Path, default=DEFAULT_COURSE_DIR,
                           help="working folder with submitted/ and the gradebook (default: %(default)s)")
            p.add_argument("--db", help="gradebook URL instead of COURSE_DIR/gradebook.db, e.g. "
                                        "postgresql+psycopg://user:password@host/course (pip install 'psycopg[binary]')")
        return p

    verb("release", "generate the student version in assignments/", _release)
    r = verb("roster", "import students.csv (id, first_name, last_name, email) into the gradebook", _roster,
             assignment=False)
    r.add_argument("csv", type=Path, help="the roster file")
    c = verb("collect", "file an LMS export (folder or zip) under COURSE_DIR/submitted/", _collect)
    c.add_argument("export", type=Path, help="folder or zip of submissions, one file per student")
    c.add_argument("--pattern", help="regex with named groups student and file (default: <student>_<file>)")
    c.add_argument("--due", help="deadline, ISO format (UTC unless stated); later files are reported late")
    c.add_argument("--add-unknown", action="store_true", help="also file students missing from the roster")
    c.add_argument("--force", action="store_true", help="replace submissions already filed that differ")
    _add_grade(verb)
    verb("feedback", "generate HTML feedback for graded submissions", _feedback)
    _add_export(verb)
    _add_exchange(verb)
    _add_serve(verb)
    _add_course_tools(verb)
    return ap


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    args.source_course = Course(args.source) if getattr(args, "source", None) else Course()
    if hasattr(args, "course_dir"):
        args.course = CourseDir(args.course_dir, db_url=args.db, source=args.source_course)
    try:
        args.run(args)
    except CourseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
