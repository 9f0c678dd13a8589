"""The late rule: a term's late-day budget, per-student extensions and the penalty, in one place.

`grade` (autograder.batch, and so the grading service, which grades through it) applies it to the
gradebook after each submission is scored, and `export` recomputes it from the gradebook, so both
charge the same points for the same timestamps. The rule:

- **Deadline.** course.toml's `due` is the last day of the assignment, in UTC: the deadline is the
  start of the next UTC day. A student's extension (COURSE_DIR/extensions.csv) is a later due date of
  the same meaning for that student and assignment. A submission is `ceil((submitted_at -
  deadline) / 24 h)` days late: one second late is one day, 24 h and one second are two.
- **Budget.** course.toml's `[late_days] budget` late days per student cover lateness for the whole
  term, spent in the order of the student's own deadlines (after extensions; ties by name): each
  submitted assignment's late days take what is left of the budget, and the days the budget does
  not cover are charged `penalty_per_day` each, a fraction of the assignment's maximum score
  (at most all of it). So a late A1 graded after A2 is still charged first.
- **Too late.** With `max_days`, a submission more than `max_days` days after the student's deadline
  scores 0; it spends no late days.
- **Applied** as nbgrader's own `SubmittedNotebook.late_submission_penalty` (the gradebook's
  `SubmittedAssignment.late_submission_penalty` is their sum, and nbgrader's feedback and Formgrader
  subtract it), split over the assignment's notebooks in proportion to their maximum scores and never
  more than a notebook's score. nbgrader's own `AssignLatePenalties` runs while a notebook is scored
  and resets the field with its default plugin (`penalty_method = 'none'`); grade applies this rule
  after it, so nbgrader's plugin never competes with it.

No `[late_days]` table: no rule (Rules.of returns None) and nothing changes. The submission time is
nbgrader's `SubmittedAssignment.timestamp`, which nbgrader reads from the submission's
timestamp.txt (written by `collect` and `exchange collect`); a submission without one is not late.
"""
from __future__ import annotations

import csv
import datetime as dt
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from .course import CALENDAR_FILE, ID_PATTERN, Assignment, CourseDir, CourseError

UTC = dt.timezone.utc
DAY = dt.timedelta(days=1)
TABLE = "late_days"  # course.toml's table
POLICY_KEYS = ("budget", "penalty_per_day", "max_days")
EXTENSION_COLUMNS = ("student_id", "assignment", "due")
_EPS = 1e-9


@dataclass(frozen=True)
class LatePolicy:
    """course.toml's [late_days]: `budget` late days per student for the term, `penalty_per_day`
    (a fraction of the assignment's maximum score per late day the budget does not cover) and
    `max_days` (None: no limit; later than that many days after the deadline scores 0)."""

    budget: int = 0
    penalty_per_day: float = 0.0
    max_days: int | None = None

    @classmethod
    def from_table(cls, table, where: str = f"{CALENDAR_FILE} [{TABLE}]") -> LatePolicy:
        """The policy of a [late_days] table, validated: CourseError naming the key and what it must be."""
        if not isinstance(table, Mapping):
            raise CourseError(f"{where} must be a table such as [{TABLE}] budget = 4, penalty_per_day = 0.1")
        unknown = sorted(set(table) - set(POLICY_KEYS))
        if unknown:
            raise CourseError(f"{where}: unknown key(s) {', '.join(unknown)}; "
                              f"expected some of {', '.join(POLICY_KEYS)}")

        def whole(key, default):
            value = table.get(key, default)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
                raise CourseError(f"{where} {key} must be a whole number of days, 0 or more (e.g. {key} = 4), "
                                  f"got {value!r}")
            return value

        per_day = table.get("penalty_per_day", 0.0)
        if not isinstance(per_day, (int, float)) or isinstance(per_day, bool) or not 0 <= per_day <= 1:
            raise CourseError(f"{where} penalty_per_day must be a fraction of the assignment's points from 0 to 1 "
                              f"(0.1 takes 10% per day), got {per_day!r}")
        return cls(whole("budget", 0), float(per_day), whole("max_days", None))


def end_of(due: dt.date) -> dt.datetime:
    """The deadline of a due date: the start of the next UTC day."""
    return dt.datetime.combine(due + DAY, dt.time(), tzinfo=UTC)


def days_late(submitted_at: dt.datetime, due: dt.date) -> int:
    """Whole days, rounded up, from the deadline of `due` to `submitted_at` (0 when on time).
    A naive `submitted_at` is UTC, as nbgrader's gradebook stores it."""
    if submitted_at.tzinfo is None:
        submitted_at = submitted_at.replace(tzinfo=UTC)
    late = submitted_at - end_of(due)
    return 0 if late <= dt.timedelta(0) else math.ceil(late / DAY)


@dataclass(frozen=True)
class Submitted:
    """What the rule needs of one submission: when it came and what it scored (nbgrader's raw score,
    before any penalty)."""

    assignment: str
    submitted_at: dt.datetime | None
    score: float = 0.0
    max_score: float = 0.0


def _n(count: int, word: str = "day") -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def _num(x: float) -> str:
    return f"{round(x, 2):g}"


@dataclass(frozen=True)
class LateCharge:
    """The late rule's verdict on one student's submission of one assignment.

    due: the student's due date (None: the assignment has none, never late); extended: it is an
    extension. days_used: late days the budget covered; days_charged: the rest; budget_left: what is
    left of the budget after this one; penalty: the fraction of max_score taken (1 past max_days:
    zeroed). points: the penalty in points, never more than the score."""

    student: str
    assignment: str
    policy: LatePolicy
    due: dt.date | None
    extended: bool
    submitted_at: dt.datetime | None
    days_late: int
    days_used: int
    days_charged: int
    budget_left: int
    penalty: float
    zeroed: bool
    score: float
    max_score: float

    @property
    def deadline(self) -> dt.datetime | None:
        return end_of(self.due) if self.due else None

    @property
    def points(self) -> float:
        return round(min(self.score, self.penalty * self.max_score), 6)

    def describe(self) -> str:
        """One sentence for the student: when it came, what it cost."""
        if self.due is None:
            return "This assignment has no deadline: nothing is charged for lateness."
        if self.submitted_at is None:
            return "No submission time is recorded for this submission, so it is not counted late."
        p = self.policy
        whose = f"your deadline of {self.due}" + (" (an extension)" if self.extended else "")
        left = f"{self.budget_left} left of {p.budget}"
        if self.days_late == 0:
            return f"Submitted on time for {whose}" + (f"; late days: {left}." if p.budget else ".")
        head = f"Submitted {_n(self.days_late)} after {whose}"
        if self.zeroed:
            return (f"{head}: more than {_n(p.max_days)} late scores 0 (-{_num(self.points)} points); "
                    f"no late days used" + (f", {left}." if p.budget else "."))
        parts = [f"{_n(self.days_used, 'late day')} used, {left}"] if p.budget else []
        if self.days_charged and p.penalty_per_day:
            rate = f"{p.penalty_per_day * 100:g}%"
            parts.append(f"{_n(self.days_charged)} charged at {rate}: -{_num(self.points)} points")
        elif self.days_charged:
            parts.append(f"{_n(self.days_charged)} not covered by late days (no penalty per day)")
        else:
            parts.append("no penalty")
        return f"{head}: {'; '.join(parts)}."

    def record(self) -> dict:
        """The charge as grading.json's `late` entry (the feedback page shows `text`)."""
        return {"due": self.due.isoformat() if self.due else None, "extended": self.extended,
                "submitted_at": self.submitted_at.isoformat() if self.submitted_at else None,
                "days_late": self.days_late, "days_used": self.days_used, "days_charged": self.days_charged,
                "budget_left": self.budget_left, "penalty_fraction": round(self.penalty, 6), "penalty": self.points,
                "text": self.describe()}


@dataclass(frozen=True)
class Rules:
    """Everything the late rule knows of a term: the policy, each assignment's due date
    (course.toml) and the extensions ({(student, assignment): due date}, extensions.csv)."""

    policy: LatePolicy
    due: dict[str, dt.date] = field(default_factory=dict, hash=False)
    extensions: dict[tuple[str, str], dt.date] = field(default_factory=dict, hash=False)

    @classmethod
    def of(cls, course: CourseDir) -> Rules | None:
        """The rules of a term's folder and the course it grades; None where course.toml has no
        [late_days] table (then nothing is charged; an extensions.csv is refused, since it would
        silently do nothing)."""
        course = CourseDir.of(course)
        table = course.source.config().get(TABLE)
        if table is None:
            if course.extensions_csv.exists():
                raise CourseError(f"{course.extensions_csv} gives extensions, but {course.source.calendar_file} has "
                                  f"no [{TABLE}] table, so lateness is never charged and they would change nothing. "
                                  f"Add the table (budget, penalty_per_day, max_days; autograder/README.md) or "
                                  "remove the file.")
            return None
        policy = LatePolicy.from_table(table)
        due = {name: a.due for name in course.source.assignment_names()
               if (a := course.source.assignment(name)).due is not None}
        return cls(policy, due, read_extensions(course.extensions_csv, due) if course.extensions_csv.exists() else {})

    def due_of(self, student: str, assignment: str) -> tuple[dt.date | None, bool]:
        """(the student's due date of the assignment, whether it is an extension)."""
        base = self.due.get(assignment)
        ext = self.extensions.get((student, assignment))
        return (ext, True) if ext is not None and base is not None and ext > base else (base, False)

    def charges(self, student: str, submitted: Iterable[Submitted]) -> dict[str, LateCharge]:
        """The charge of each of a student's submissions, spending the budget in the order of the
        student's deadlines (ties by name). Pure: the same submissions give the same charges."""
        p = self.policy
        dated = [(s, *self.due_of(student, s.assignment)) for s in submitted]
        dated.sort(key=lambda x: (x[1] or dt.date.max, x[0].assignment))
        left, out = p.budget, {}
        for s, due, extended in dated:
            late = days_late(s.submitted_at, due) if due and s.submitted_at else 0
            zeroed = p.max_days is not None and late > p.max_days
            used = 0 if zeroed else min(late, left)
            left -= used
            charged = 0 if zeroed else late - used
            penalty = 1.0 if zeroed else min(1.0, charged * p.penalty_per_day)
            out[s.assignment] = LateCharge(student, s.assignment, p, due, extended, s.submitted_at, late, used,
                                           charged, left, penalty, zeroed, s.score, s.max_score)
        return out


def read_extensions(path, due: Mapping[str, dt.date]) -> dict[tuple[str, str], dt.date]:
    """extensions.csv (columns student_id, assignment, due; other columns, such as a reason, are
    ignored) as {(student, assignment): due date}, validated line by line against the assignments'
    due dates: CourseError naming the line and what to write instead."""
    out: dict[tuple[str, str], dt.date] = {}
    lines: dict[tuple[str, str], int] = {}
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in EXTENSION_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise CourseError(f"{path}: the header must name the columns {','.join(EXTENSION_COLUMNS)} "
                              f"(missing {', '.join(missing)})")
        for row in reader:
            where = f"{path} line {reader.line_num}"
            if not any((v or "").strip() for v in row.values() if isinstance(v, str)):
                continue  # a blank line
            student, name, when = ((row.get(c) or "").strip() for c in EXTENSION_COLUMNS)
            if not ID_PATTERN.fullmatch(student):
                raise CourseError(f"{where}: {student!r} is not a student id (letters, digits, _ . -, "
                                  "as in the roster)")
            if name not in due:
                raise CourseError(f"{where}: {name!r} is not an assignment with a due date in {CALENDAR_FILE}; "
                                  f"expected one of {', '.join(sorted(due)) or 'none'}")
            try:
                day = dt.date.fromisoformat(when)
            except ValueError:
                raise CourseError(f"{where}: due {when!r} is not a date such as 2026-10-20 (the student's last "
                                  "day, UTC)") from None
            if day < due[name]:
                raise CourseError(f"{where}: the extension's due date {day} is before {name}'s own due date "
                                  f"{due[name]}; an extension can only move a deadline later")
            if (student, name) in out:
                raise CourseError(f"{where}: a second extension for {student} on {name} (the first is on line "
                                  f"{lines[(student, name)]}); keep one line per student and assignment")
            out[(student, name)], lines[(student, name)] = day, reader.line_num
    return out


def submitted(gb, student: str) -> list[Submitted]:
    """A student's submissions in the gradebook: timestamp (aware UTC), raw score, maximum."""
    out = []
    for sub in gb.find_student(student).submissions:
        ts = sub.timestamp
        out.append(Submitted(sub.assignment.name, ts.replace(tzinfo=UTC) if ts and ts.tzinfo is None else ts,
                             float(sub.score or 0.0), float(sub.max_score or 0.0)))
    return out


def student_charges(gb, rules: Rules, student: str) -> dict[str, LateCharge]:
    """Every charge of a student, computed from the gradebook's timestamps and scores."""
    return rules.charges(student, submitted(gb, student))


def split(points: float, notebooks: list[tuple[float, float]]) -> list[float]:
    """A penalty of `points` over notebooks given as (score, max_score): in proportion to their
    maximum scores, never more than a notebook's score (what one cannot take goes to the others), in
    all min(points, total score)."""
    shares = [0.0] * len(notebooks)
    left = min(points, sum(s for s, _ in notebooks))
    room = [i for i, (s, _) in enumerate(notebooks) if s > _EPS]
    while left > _EPS and room:
        weight = sum(notebooks[i][1] for i in room)
        given = 0.0
        for i in room:
            want = left * (notebooks[i][1] / weight if weight > 0 else 1 / len(room))
            take = min(want, notebooks[i][0] - shares[i])
            shares[i] += take
            given += take
        left -= given
        room = [i for i in room if notebooks[i][0] - shares[i] > _EPS]
    return [round(s, 6) for s in shares]


def write(gb, charge: LateCharge) -> None:
    """Write a charge to the gradebook as nbgrader's late_submission_penalty of the submission's
    notebooks (split; None where a notebook owes nothing, as nbgrader leaves it)."""
    sub = gb.find_submission(charge.assignment, charge.student)
    notebooks = sorted(sub.notebooks, key=lambda nb: nb.name)
    shares = split(charge.points, [(float(nb.score or 0.0), float(nb.max_score or 0.0)) for nb in notebooks])
    for nb, share in zip(notebooks, shares):
        nb.late_submission_penalty = share or None
    gb.db.commit()


def apply_student(gb, rules: Rules, student: str) -> dict[str, LateCharge]:
    """Compute every charge of a student and write each to the gradebook: grading one assignment
    can move another's charge (the budget is spent in deadline order). Returns the charges."""
    charges = student_charges(gb, rules, student)
    for charge in charges.values():
        write(gb, charge)
    return charges


def apply(course: CourseDir, assignment: Assignment | str, student: str,
          rules: Rules | None = None) -> LateCharge | None:
    """Apply the rule to a student's submissions in a term's gradebook (apply_student) and return the
    charge of `assignment` (None: no [late_days] table, or no submission of it). rules: Rules.of(course)
    when not given (a batch reads them once)."""
    course = CourseDir.of(course)
    rules = rules if rules is not None else Rules.of(course)
    if rules is None:
        return None
    with course.gradebook() as gb:
        charges = apply_student(gb, rules, student)
    return charges.get(assignment if isinstance(assignment, str) else assignment.name)


def deadline(assignment: Assignment | str, course: CourseDir, student: str) -> dt.datetime | None:
    """A student's deadline of an assignment: the end of its due date in course.toml, or of their
    extension; None where it has no due date."""
    course = CourseDir.of(course)
    a = course.assignment(assignment)
    if a.due is None:
        return None
    rules = Rules.of(course)
    due = rules.due_of(student, a.name)[0] if rules is not None else a.due
    return end_of(due or a.due)
