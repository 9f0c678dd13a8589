"""Which submissions grade the mutation corpus, and what each mutant's verdict follows from.

Grading every mutant as a submission of its own costs one sandboxed grading per row (about 120
for A1-A3). Mutants of different parts can share a submission: each then has to zero its own part,
and every part without a mutant in the submission keeps full marks. One shared submission proves
less than separate ones, though: a mutant that leaks into a companion's part (charges it too) is
hidden there, and a mutant that is not caught could look caught because a companion leaks into its
part. So every mutant is graded twice, in two groups whose companions come from disjoint sets of
parts (round 'a' and round 'b'):

- a leak of mutant M into part P shows in the round where P holds no companion of M (P is a
  companion's part in at most one of the two rounds), as a point lost outside every member's part;
- a companion's leak into M's part is a leak of that companion, shown in its other round.

A group is *clean* when every member's part scores 0 in every test cell, every other part keeps all
its points and each member's message is in one of its part's visible test cells. A mutant whose two
groups are clean is caught, in its part only, with its message shown. Any other mutant is graded
again alone (`alone`), and that grading decides it, as when every mutant was its own submission. The
one thing two clean rounds cannot rule out is a mistake caught only together with both sets of
companions (a pair of mistakes that break a part only when made together), which no corpus row is.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from autograder.submissions import part_of

from . import Mutant, Variant


@dataclass(frozen=True)
class Plan:
    """Submission name -> indices of the corpus rows applied to the solution in it."""
    variants: dict[str, list[int]] = field(default_factory=dict)   # 'vN': at most one variant per part
    rounds: dict[str, list[int]] = field(default_factory=dict)     # 'aNN', 'bNN': mutant groups; 'mNN': one alone

    @property
    def groups(self) -> dict[str, list[int]]:
        return {**self.variants, **self.rounds}

    def rounds_of(self, i: int) -> list[str]:
        return [sid for sid, members in self.rounds.items() if i in members]


def alone(i: int) -> str:
    """The submission that grades mutant i by itself."""
    return f"m{i:02d}"


def _fits(edits, group, i) -> bool:
    return all(edits[j].part != edits[i].part and edits[j].cell != edits[i].cell for j in group)


def _variant_groups(edits) -> dict[str, list[int]]:
    groups: list[list[int]] = []
    for i, e in enumerate(edits):
        if isinstance(e, Variant):
            g = next((g for g in groups if _fits(edits, g, i)), None)
            g.append(i) if g is not None else groups.append([i])
    return {f"v{k}": g for k, g in enumerate(groups)}


def _two_rounds(edits, mutants: list[int], size: int) -> tuple[list[list[int]], list[list[int]]]:
    first: list[list[int]] = []
    for i in mutants:
        g = next((g for g in first if len(g) < size and _fits(edits, g, i)), None)
        g.append(i) if g is not None else first.append([i])
    companions = {i: {edits[j].part for j in g if j != i} for g in first for i in g}
    second: list[list[int]] = []
    for i in reversed(mutants):
        g = next((g for g in second if _fits(edits, g, i) and all(
            edits[j].part not in companions[i] and edits[i].part not in companions[j] for j in g)), None)
        g.append(i) if g is not None else second.append([i])
    return first, second


def make(edits) -> Plan:
    """The submissions for a corpus: variant groups, and each mutant in two groups (round a, round
    b) whose companions' parts are disjoint, with the group size and order that need fewest
    gradings; or every mutant alone ('mNN') where that needs no more."""
    mutants = [i for i, e in enumerate(edits) if isinstance(e, Mutant)]
    count = {p: sum(edits[i].part == p for i in mutants) for p in {edits[i].part for i in mutants}}
    orders = [mutants, mutants[::-1], sorted(mutants, key=lambda i: (-count[edits[i].part], i))]
    best = None
    for order in orders:
        for size in range(2, 9):
            first, second = _two_rounds(edits, order, size)
            if best is None or len(first) + len(second) < len(best[0]) + len(best[1]):
                best = first, second
    if best is None or len(best[0]) + len(best[1]) >= len(mutants):
        return Plan(variants=_variant_groups(edits), rounds={alone(i): [i] for i in mutants})
    first, second = best
    rounds = {f"a{k:02d}": sorted(g) for k, g in enumerate(first)}
    rounds.update({f"b{k:02d}": sorted(g) for k, g in enumerate(second)})
    return Plan(variants=_variant_groups(edits), rounds=rounds)


@dataclass(frozen=True)
class Graded:
    """What the corpus verdicts read of one batch: test cell grade id -> points; per submission,
    points lost per test cell (None: not graded) and each test cell's output text."""
    cells: dict[str, float]
    visible: set[str]
    lost: dict[str, dict[str, float] | None]
    outputs: dict[str, dict[str, str]]


def said(g: Graded, sid: str, edit: Mutant) -> bool:
    """Whether one of the mutant's part's visible test cells says its message in submission sid."""
    return any(edit.message in g.outputs.get(sid, {}).get(gid, "")
               for gid in g.visible if part_of(gid) == edit.part)


def clean(g: Graded, edits, sid: str, members: list[int]) -> bool:
    """Every member's part lost all its points, no other part lost any, every member's message shown."""
    loss = g.lost.get(sid)
    if loss is None:
        return False
    parts = {edits[i].part for i in members}
    for gid, pts in g.cells.items():
        if (part_of(gid) in parts and loss[gid] != pts) or (part_of(gid) not in parts and loss[gid]):
            return False
    return all(said(g, sid, edits[i]) for i in members)


def to_grade_alone(plan: Plan, g: Graded, edits) -> list[int]:
    """The mutants not graded alone whose two rounds do not decide them (a group not clean, or not
    graded)."""
    unclean = {sid for sid, members in plan.rounds.items() if not clean(g, edits, sid, members)}
    return sorted(i for i, e in enumerate(edits) if isinstance(e, Mutant) and alone(i) not in plan.rounds
                  and (not plan.rounds_of(i) or set(plan.rounds_of(i)) & unclean))
