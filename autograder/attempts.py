"""What a submission to the grading service may do: how many attempts, which one counts, and what
the student sees before the due date. One assignment's rules, from its course.toml block:

    [assignments.A1.submission]
    attempts = 3          # graded attempts allowed (leave it out: no limit)
    per = "day"           # "term" (3 in all) or "day" (3 per UTC day)
    counts = "best"       # "last" or "best": the attempt whose grade is the student's grade
    before_due = "score"  # what the feedback shows before the student's deadline: "visible" (the
                          # visible tests' results only, no points) or "score" (also the points of
                          # the hidden tests, without their names, messages or source)

After the student's deadline (the due date, or their extension: autograder.late) the feedback is the
full page that `feedback` writes. Hidden tests' source and expected values never reach a student in
any mode (autograder.feedback). Only graded attempts count: one refused, or one the grader failed
on, is not an attempt. `python -m autograder serve` applies these rules (autograder.serve).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from .course import CALENDAR_FILE, Assignment, CourseError

PER = ("term", "day")
COUNTS = ("last", "best")
BEFORE_DUE = ("visible", "score")


@dataclass(frozen=True)
class Rules:
    """One assignment's submission rules (see the module docstring); the defaults: no limit, the
    last attempt counts, the visible tests only before the due date."""

    attempts: int | None = None
    per: str = "term"
    counts: str = "last"
    before_due: str = "visible"

    def describe(self) -> str:
        """The limit in words: '3 attempts per day', 'no limit on attempts'."""
        if self.attempts is None:
            return "no limit on attempts"
        return f"{self.attempts} attempt{'s' if self.attempts != 1 else ''} " + ("per UTC day" if self.per == "day" else "in all")


def rules(a: Assignment) -> Rules:
    """The rules of a's [submission] table, checked (CourseError says which key is wrong and why)."""
    where = f"{CALENDAR_FILE} [assignments.{a.name}.submission]"
    table = dict(a.submission)
    unknown = sorted(set(table) - {"attempts", "per", "counts", "before_due"})
    if unknown:
        raise CourseError(f"{where}: unknown key(s) {', '.join(unknown)}; expected attempts, per, counts, before_due")
    attempts = table.get("attempts")
    if attempts is not None and (isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1):
        raise CourseError(f"{where} attempts must be a whole number of at least 1 (leave it out for no limit), "
                          f"got {attempts!r}")
    for key, allowed in (("per", PER), ("counts", COUNTS), ("before_due", BEFORE_DUE)):
        if key in table and table[key] not in allowed:
            raise CourseError(f"{where} {key} must be one of {', '.join(map(repr, allowed))}, got {table[key]!r}")
    return Rules(attempts=attempts, per=table.get("per", "term"), counts=table.get("counts", "last"),
                 before_due=table.get("before_due", "visible"))


@dataclass(frozen=True)
class Verdict:
    """Whether the next submission may be graded: its attempt number, or why not and when again."""

    allowed: bool
    number: int               # the attempt number it gets (allowed), or would have had
    reason: str = ""          # why it is refused, for the student
    next_at: dt.datetime | None = None  # when an attempt is available again (None: never)


def next_attempt(r: Rules, graded_at: list[dt.datetime], when: dt.datetime) -> Verdict:
    """The verdict on a submission made at `when`, given the times of the student's graded attempts
    (all of them, in any order; aware datetimes in UTC)."""
    number = len(graded_at) + 1
    if r.attempts is None:
        return Verdict(True, number)
    if r.per == "term":
        if len(graded_at) < r.attempts:
            return Verdict(True, number)
        return Verdict(False, number, f"not graded: you have used all {r.attempts} attempts of this assignment "
                                      f"({r.describe()}); your grade is that of the {r.counts} attempt")
    day = when.astimezone(dt.timezone.utc).date()
    today = [t for t in graded_at if t.astimezone(dt.timezone.utc).date() == day]
    if len(today) < r.attempts:
        return Verdict(True, number)
    again = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=dt.timezone.utc)
    return Verdict(False, number, f"not graded: you have used all {r.attempts} attempts of {day} (UTC) "
                                  f"({r.describe()}); the next attempt is available from {again:%Y-%m-%d %H:%M} UTC",
                   again)


def counting(r: Rules, scores: list[tuple[int, float]]) -> int | None:
    """The number of the attempt that counts, given (attempt number, score after any penalty) of the
    graded attempts: the last, or the best (the later of equal bests). None when there is none."""
    if not scores:
        return None
    if r.counts == "last":
        return max(n for n, _ in scores)
    return max(scores, key=lambda s: (s[1], s[0]))[0]
