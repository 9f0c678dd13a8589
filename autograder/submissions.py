"""Make submissions from the instructor's notebook: used by the demo and by the round-trip tests.

Parts: a solution cell's nbgrader grade id is PART or PART__x, a test cell's PART__tests or
PART__hidden. A student who "solved the first k parts" has the solution code of those parts in
an otherwise untouched released notebook.
"""
from __future__ import annotations

import copy

import nbformat

from .testplan import is_test_cell


def _meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def part_of(grade_id: str) -> str:
    return grade_id.split("__")[0]


def solution_parts(nb) -> list[str]:
    """Parts with autograded code, in notebook order (written answers are not parts)."""
    seen: list[str] = []
    for cell in nb.cells:
        m = _meta(cell)
        if cell.cell_type == "code" and m.get("solution") and part_of(m["grade_id"]) not in seen:
            seen.append(part_of(m["grade_id"]))
    return seen


def autograded_points(nb, parts=None) -> float:
    """Points of the autograded test cells, of all parts or only those in `parts`."""
    total = 0.0
    for cell in nb.cells:
        m = _meta(cell)
        if is_test_cell(cell):
            if parts is None or part_of(m["grade_id"]) in parts:
                total += float(m.get("points", 0))
    return total


def fill(released, source, parts=None):
    """A copy of the released notebook whose solution cells of `parts` (all if None) hold the
    instructor's code. Written answers get the instructor's text too when parts is None."""
    by_id = {_meta(c)["grade_id"]: c for c in source.cells if _meta(c).get("grade_id")}
    out = copy.deepcopy(released)
    for cell in out.cells:
        m = _meta(cell)
        if not m.get("solution"):
            continue
        gid = m["grade_id"]
        is_code = cell.cell_type == "code"
        if (is_code and (parts is None or part_of(gid) in parts)) or (not is_code and parts is None):
            cell.source = by_id[gid].source
    return out


def read(path):
    return nbformat.read(path, as_version=4)


def write_samples(assignment: str, released_dir, source_dir, submitted_dir) -> dict[str, float]:
    """Write three sample submissions under submitted_dir/<student>/<assignment>/: 'correct' (every
    part solved), 'half' (the first half of the parts solved) and 'blank' (the released notebook).
    Returns the autograded points each should earn."""
    from pathlib import Path

    expected = {"correct": 0.0, "half": 0.0, "blank": 0.0}
    for nb_path in sorted(Path(released_dir).glob("*.ipynb")):
        student_nb = read(nb_path)
        source_nb = read(Path(source_dir) / nb_path.name)
        parts = solution_parts(source_nb)
        half = set(parts[: len(parts) // 2])
        versions = {
            "correct": (fill(student_nb, source_nb), autograded_points(source_nb)),
            "half": (fill(student_nb, source_nb, half), autograded_points(source_nb, half)),
            "blank": (student_nb, 0.0),
        }
        for student, (nb, points) in versions.items():
            dest = Path(submitted_dir) / student / assignment
            dest.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, dest / nb_path.name)
            expected[student] += points
    return expected
