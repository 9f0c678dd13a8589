"""The grades as CSV, safe to open in a spreadsheet.

The columns are those of nbgrader's own CSV export (one row per assignment and student, 0 for a
student who submitted nothing), but every field goes through Python's csv writer, so a comma or a
quote in a name cannot shift the columns; and a text field that a spreadsheet would read as a
formula (it begins with =, +, -, @, a tab or a carriage return) gets a leading apostrophe, the
usual way to make it plain text. Numbers are written as numbers.
"""
from __future__ import annotations

import csv
import os
import tempfile
from pathlib import Path

from nbgrader.api import MissingEntry

COLUMNS = ["assignment", "duedate", "timestamp", "student_id", "last_name", "first_name", "email",
           "raw_score", "late_submission_penalty", "score", "max_score"]
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


def grade_records(gb) -> list[dict]:
    """One dict per assignment and student of the gradebook, keyed by COLUMNS."""
    rows = []
    for assignment in gb.assignments:
        for student in gb.students:
            row = {"assignment": assignment.name, "duedate": assignment.duedate, "student_id": student.id,
                   "last_name": student.last_name, "first_name": student.first_name, "email": student.email,
                   "max_score": assignment.max_score}
            try:
                sub = gb.find_submission(assignment.name, student.id)
            except MissingEntry:
                row.update(timestamp=None, raw_score=0.0, late_submission_penalty=0.0, score=0.0)
            else:
                penalty = sub.late_submission_penalty or 0.0
                row.update(timestamp=sub.timestamp, raw_score=sub.score, late_submission_penalty=penalty,
                           score=max(0.0, sub.score - penalty))
            rows.append(row)
    return rows


def write_grades(gb, to: Path) -> Path:
    """Write grade_records(gb) to `to` (written to a temporary file first, then moved in place)."""
    to = Path(to)
    to.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".grades-", suffix=".csv", dir=to.parent)
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh, quoting=csv.QUOTE_NONNUMERIC)
            w.writerow(COLUMNS)
            for row in grade_records(gb):
                w.writerow([cell(row[c]) for c in COLUMNS])
        os.replace(tmp, to)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return to
