"""The mutation corpus of the assignments: small, readable edits of the instructor's solution.

Each assignment has a module here (A1.py ... A4.py) with a list EDITS of Variant and Mutant rows.
An edit names the solution cell it changes (its nbgrader grade id), a substring `old` of that
cell's solution code and its replacement `new` (`old` must occur exactly once). The corpus test
(tests/test_mutation_corpus.py) builds one submission per edit from the fully solved notebook,
grades them all in one batch with the real autograder and requires:

- a Variant (a legitimate other way to write the part) earns full marks in every test cell;
- a Mutant (a typical mistake) scores 0 in exactly the test cells of `part` (every test cell whose
  part, the grade id before "__", is `part`) and full marks in every other test cell, and the
  feedback of one of the part's visible test cells contains `message` (the visible test names the
  mistake).

Write `old`/`new` as a few lines, not whole cells; say in `name` what a student did.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass


@dataclass(frozen=True)
class Variant:
    part: str          # the part whose solution is rewritten (the grade id before "__")
    cell: str          # grade id of the solution cell that is edited
    name: str          # what the student did, e.g. "sigmoid via tanh"
    old: str
    new: str


@dataclass(frozen=True)
class Mutant:
    part: str          # the one part that must lose all its points
    cell: str
    name: str          # the mistake, e.g. "bias gradient missing"
    old: str
    new: str
    message: str       # a substring of the visible test's message for this mistake


def _meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def apply(nb, edit):
    """A copy of notebook `nb` with `edit` applied; a clear error when the edit no longer fits."""
    out = copy.deepcopy(nb)
    cells = [c for c in out.cells if _meta(c).get("grade_id") == edit.cell]
    if len(cells) != 1:
        raise ValueError(f"edit {edit.name!r}: expected one cell with grade id {edit.cell!r}, found {len(cells)}")
    cell = cells[0]
    count = cell.source.count(edit.old)
    if count != 1:
        raise ValueError(f"edit {edit.name!r}: {edit.old!r} occurs {count} times in cell {edit.cell!r}, "
                         "expected exactly once; update the corpus to match the solution")
    cell.source = cell.source.replace(edit.old, edit.new)
    return out
