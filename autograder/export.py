"""The grades as CSV, safe to open in a spreadsheet, in the layout a gradebook imports.

Formats (`export --format`):

- `csv` (default): the columns of nbgrader's own CSV export (COLUMNS), one row per assignment and
  student, 0 for a student who submitted nothing. With a [late_days] table in course.toml,
  `late_submission_penalty` and `score` are the late rule's (autograder.late, recomputed from the
  gradebook's timestamps, so a late A1 graded after A2 is still charged in deadline order) and
  LATE_COLUMNS follow; without one the file is what it always was.
- `canvas`: Canvas's gradebook import ("How do I import grades in the Gradebook?",
  https://community.canvaslms.com/t5/Instructor-Guide/How-do-I-import-grades-in-the-Gradebook/ta-p/807;
  the parser is canvas-lms lib/gradebook_importer.rb): the header Student, ID, SIS User ID,
  SIS Login ID, Section, then one column per assignment (its name: Canvas matches an assignment of
  that title or creates one); the second row is "    Points Possible" with each assignment's maximum.
  Student is "Last, First"; SIS Login ID is the student id (the hub's user name, the institution's
  login); ID (Canvas's own number) and SIS User ID are left blank, so Canvas matches by login.
  Columns Canvas must not import (late days, per-question points) say "(read only)" in the
  Points Possible row, as Canvas's own export marks its read-only columns; Canvas skips them.
- `moodle`: Moodle's CSV grade import ("Grade import", https://docs.moodle.org/en/Grade_import; the
  parser is grade/import/csv/classes/load_data.php): the header row names the columns, which the
  import page maps; every row is one student. First name, Last name, Username (the student id),
  Email address (Moodle's own export's names), then one column per assignment. Map "Username" to
  username (or "Email address" to email address) under "Identify user by" and each assignment
  column to its grade item (or a new one); map the other columns to ignore. There is no
  points-possible row: Moodle refuses a row that identifies no user.

In canvas and moodle a student without a grade (nothing submitted, or a submission the grader
failed on) is blank, never 0: each LMS's own rule for missing work applies. Per question
(`--per-question`, as Otter-Grader's grade breakdown, https://otter-grader.readthedocs.io/: one
column per question with the points earned): one column per graded cell (autograded test or
hand-graded answer) of each assignment, named "<assignment> <cell>" (with "<notebook>/" before the
cell where an assignment has several notebooks), the points before any late penalty, so they sum to
the raw score. Every field goes through Python's csv writer, so a comma or a quote in a name cannot
shift the columns; a text field that a spreadsheet would read as a formula (it begins with =, +, -,
@, a tab or a carriage return) gets a leading apostrophe, the usual way to make it plain text.
Numbers are written as numbers. The file is written beside its destination and moved into place.
"""
from __future__ import annotations

import csv
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from nbgrader.api import MissingEntry

from . import late
from .course import CourseError

COLUMNS = ["assignment", "duedate", "timestamp", "student_id", "last_name", "first_name", "email",
           "raw_score", "late_submission_penalty", "score", "max_score"]
LATE_COLUMNS = ["days_late", "late_days_used", "late_days_left"]  # csv, with a [late_days] table
FORMATS = ("csv", "canvas", "moodle")
CANVAS_STUDENT = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
CANVAS_POINTS = "    Points Possible"  # the second row's first field, as Canvas's own export writes it
CANVAS_READ_ONLY = "(read only)"       # in the Points Possible row: Canvas does not import that column
MOODLE_STUDENT = ["First name", "Last name", "Username", "Email address"]
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value) -> str | float:
    """A field as written: numbers as they are, None as empty, text neutralised."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


@dataclass(frozen=True)
class Question:
    """One graded cell of an assignment, a per-question column."""

    assignment: str
    notebook: str
    cell: str
    max_score: float
    column: str


@dataclass(frozen=True)
class Record:
    """One student's grade for one assignment, as every format writes it. status: 'graded' (a
    submission in the gradebook), 'missing' (none) or 'not graded' (the grader failed on it).
    penalty: points (the late rule's charge where there is one); questions: {(notebook, cell): points}."""

    student: str
    first_name: str | None
    last_name: str | None
    email: str | None
    assignment: str
    duedate: object
    max_score: float
    status: str
    timestamp: object = None
    raw_score: float = 0.0
    penalty: float = 0.0
    charge: late.LateCharge | None = None
    questions: dict = field(default_factory=dict, hash=False)

    @property
    def score(self) -> float:
        return max(0.0, self.raw_score - self.penalty)


def questions(gb, assignment: str) -> list[Question]:
    """The graded cells of an assignment (its notebooks and cells by name)."""
    notebooks = gb.find_assignment(assignment).notebooks
    out = []
    for nb in notebooks:
        for c in sorted(nb.grade_cells + nb.task_cells, key=lambda c: c.name):
            label = f"{assignment} {nb.name}/{c.name}" if len(notebooks) > 1 else f"{assignment} {c.name}"
            out.append(Question(assignment, nb.name, c.name, float(c.max_score), label))
    return out


def records(gb, rules: late.Rules | None = None, assignment: str | None = None,
            not_graded: set[tuple[str, str]] = frozenset()) -> list[Record]:
    """One Record per assignment and student (assignments outer, as nbgrader's export), `assignment`
    only if given. rules: the late rule, recomputed for every student (None: the gradebook's penalty)."""
    students = list(gb.students)
    charges = {s.id: late.student_charges(gb, rules, s.id) for s in students} if rules is not None else {}
    out = []
    for a in gb.assignments:
        if assignment is not None and a.name != assignment:
            continue
        for s in students:
            who = dict(student=s.id, first_name=s.first_name, last_name=s.last_name, email=s.email,
                       assignment=a.name, duedate=a.duedate, max_score=float(a.max_score or 0.0))
            try:
                sub = gb.find_submission(a.name, s.id)
            except MissingEntry:
                out.append(Record(**who, status="not graded" if (s.id, a.name) in not_graded else "missing"))
                continue
            charge = charges.get(s.id, {}).get(a.name)
            penalty = charge.points if charge is not None else (sub.late_submission_penalty or 0.0)
            points = {(nb.name, g.name): float(g.score or 0.0) for nb in sub.notebooks for g in nb.grades}
            out.append(Record(**who, status="graded", timestamp=sub.timestamp, raw_score=float(sub.score or 0.0),
                              penalty=float(penalty), charge=charge, questions=points))
    return out


def grade_records(gb) -> list[dict]:
    """One dict per assignment and student of the gradebook, keyed by COLUMNS (nbgrader's penalty)."""
    return [dict(zip(COLUMNS, _csv_row(r))) for r in records(gb)]


def _csv_row(r: Record) -> list:
    if r.status == "graded":
        scores = [r.raw_score, r.penalty, r.score]
    else:  # nbgrader's 0 for nothing submitted; blank, never 0, where the grader failed
        scores = [0.0, 0.0, 0.0] if r.status == "missing" else [None, None, None]
    return [r.assignment, r.duedate, r.timestamp, r.student, r.last_name, r.first_name, r.email,
            *scores, r.max_score]


def _csv_rows(recs: list[Record], with_late: bool, qs: list[Question]) -> list[list]:
    rows = [COLUMNS + (LATE_COLUMNS if with_late else []) + [q.column for q in qs]]
    for r in recs:
        c = r.charge
        tail = ([c.days_late, c.days_used, c.budget_left] if c else [None] * 3) if with_late else []
        rows.append(_csv_row(r) + tail + [r.questions.get((q.notebook, q.cell)) if q.assignment == r.assignment
                                          else None for q in qs])
    return rows


def _wide(recs: list[Record], with_late: bool, qs: list[Question]) -> tuple[list, list, dict[str, list]]:
    """The columns canvas and moodle share, one row per student: (header, points possible, {student: row})."""
    order = list(dict.fromkeys(r.assignment for r in recs))
    by = {(r.student, r.assignment): r for r in recs}
    maxima = {r.assignment: r.max_score for r in recs}
    head, points, rows = [], [], {s: [] for s in dict.fromkeys(r.student for r in recs)}
    for a in order:
        mine = [q for q in qs if q.assignment == a]
        extra = ([f"{a} late days used", f"{a} late penalty"] if with_late else []) + [q.column for q in mine]
        head += [a] + extra
        points += [maxima[a]] + [CANVAS_READ_ONLY] * len(extra)
        for s, row in rows.items():
            r = by[(s, a)]
            graded, c = r.status == "graded", r.charge
            row.append(r.score if graded else None)
            if with_late:
                row += [c.days_used, r.penalty] if graded and c else [None, None]
            row += [r.questions.get((q.notebook, q.cell)) if graded else None for q in mine]
    return head, points, rows


def _names(recs: list[Record]) -> dict[str, Record]:
    return {r.student: r for r in recs}


def _canvas_rows(recs: list[Record], with_late: bool, qs: list[Question]) -> list[list]:
    head, points, rows = _wide(recs, with_late, qs)
    out = [CANVAS_STUDENT + head, [CANVAS_POINTS, "", "", "", ""] + points]
    for s, r in _names(recs).items():
        name = ", ".join(n for n in (r.last_name, r.first_name) if n) or s  # Canvas's sortable name
        out.append([name, "", "", s, ""] + rows[s])
    return out


def _moodle_rows(recs: list[Record], with_late: bool, qs: list[Question]) -> list[list]:
    head, _, rows = _wide(recs, with_late, qs)
    return [MOODLE_STUDENT + head] + [[r.first_name, r.last_name, s, r.email] + rows[s]
                                      for s, r in _names(recs).items()]


def write(gb, to: Path, fmt: str = "csv", per_question: bool = False, assignment: str | None = None,
          rules: late.Rules | None = None, not_graded: set[tuple[str, str]] = frozenset()) -> Path:
    """Write the gradebook's grades to `to` in `fmt` (FORMATS; see the module docstring): every
    assignment or only `assignment`, with per-question columns if asked, the late rule's charges if
    `rules`, blank where the grader failed (`not_graded`: (student, assignment) pairs)."""
    if fmt not in FORMATS:
        raise CourseError(f"unknown export format {fmt!r}; expected one of {', '.join(FORMATS)}")
    names = [a.name for a in gb.assignments]
    if assignment is not None and assignment not in names:
        raise CourseError(f"no assignment {assignment!r} in the gradebook (release and grade it first); "
                          f"it has {', '.join(names) or 'none'}")
    recs = records(gb, rules, assignment, not_graded)
    qs = [q for a in names if assignment in (None, a) for q in questions(gb, a)] if per_question else []
    rows = {"csv": _csv_rows, "canvas": _canvas_rows, "moodle": _moodle_rows}[fmt](recs, rules is not None, qs)
    return _write_rows(rows, to)


def write_grades(gb, to: Path) -> Path:
    """nbgrader's columns, every assignment, the gradebook's own penalties (write with the defaults)."""
    return write(gb, to)


def _write_rows(rows: list[list], to: Path) -> Path:
    """Write rows to `to` (written to a temporary file first, then moved in place)."""
    to = Path(to)
    to.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".grades-", suffix=".csv", dir=to.parent)
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh, quoting=csv.QUOTE_NONNUMERIC)
            for row in rows:
                w.writerow([cell(v) for v in row])
        os.replace(tmp, to)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return to
