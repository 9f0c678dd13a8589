"""The corpus's grading plan (tests/mutants/plan.py) on a simulated grader: mutants shared between
submissions are decided as if each had been graded alone, or graded again alone.

A simulated mutant breaks a set of parts (its own when it is caught, others when it leaks); a
submission loses every point of each part that one of its members breaks, and a visible test says a
member's message when that member breaks its own part. Grading is free here, so every case is
also graded alone and the plan's verdict must match that one.
"""
from __future__ import annotations

import itertools

import pytest

from tests.mutants import Mutant, Variant, plan

PARTS = [f"p{k}" for k in range(7)]
CELLS = {f"{p}__test{t}": 2.0 for p in PARTS for t in (1, 2)}
COUNTS = [5, 3, 4, 2, 3, 1, 4]  # mutants per part


def corpus():
    edits = []
    for p, n in zip(PARTS, COUNTS):
        edits += [Mutant(p, f"{p}__code{m % 2}", f"{p} mistake {m}", "x", "y", f"say {p}/{m}") for m in range(n)]
        edits += [Variant(p, f"{p}__code0", f"{p} variant", "x", "z")]
    return edits


def grade(edits, breaks, submissions):
    """plan.Graded of the simulated grader: breaks[i] is the set of parts mutant i breaks."""
    lost, outputs = {}, {}
    for sid, members in submissions.items():
        broken = set().union(*(breaks.get(i, set()) for i in members)) if members else set()
        lost[sid] = {gid: (pts if gid.split("__")[0] in broken else 0.0) for gid, pts in CELLS.items()}
        outputs[sid] = {gid: " ".join(edits[i].message for i in members
                                       if edits[i].part in breaks.get(i, set()) and edits[i].part == gid.split("__")[0])
                        for gid in CELLS}
    return plan.Graded(cells=CELLS, visible=set(CELLS), lost=lost, outputs=outputs)


def decided_alone(edits, breaks, i):
    """The verdict of grading mutant i by itself: caught in its part only, message shown."""
    return breaks.get(i, set()) == {edits[i].part}


def plan_verdicts(edits, breaks):
    p = plan.make(edits)
    first = grade(edits, breaks, p.groups)
    again = plan.to_grade_alone(p, first, edits)
    verdicts = {}
    for i, e in enumerate(edits):
        if isinstance(e, Mutant):
            verdicts[i] = decided_alone(edits, breaks, i) if i in again else True
    return verdicts, again


def test_every_mutant_is_in_two_groups_whose_companions_share_no_part():
    edits = corpus()
    p = plan.make(edits)
    mutants = [i for i, e in enumerate(edits) if isinstance(e, Mutant)]
    assert sorted(i for g in p.rounds.values() for i in g) == sorted(mutants * 2)
    for i in mutants:
        a, b = p.rounds_of(i)
        assert a[0] != b[0], f"mutant {i} is twice in one round: {a}, {b}"
        companions = [{edits[j].part for j in p.rounds[sid] if j != i} for sid in (a, b)]
        assert not companions[0] & companions[1], (i, companions)
    for members in p.groups.values():
        assert len({edits[i].part for i in members}) == len(members) == len({edits[i].cell for i in members})
    assert len(p.rounds) < len(mutants), "sharing submissions must need fewer gradings than one per mutant"


def test_an_honest_corpus_needs_no_grading_alone():
    edits = corpus()
    breaks = {i: {e.part} for i, e in enumerate(edits) if isinstance(e, Mutant)}
    verdicts, again = plan_verdicts(edits, breaks)
    assert again == [] and all(verdicts.values())


@pytest.mark.parametrize("bad", range(sum(COUNTS)))
def test_any_one_bad_mutant_is_decided_as_if_graded_alone(bad):
    """Each mutant in turn leaks into another part, is not caught, or is not caught while a
    companion leaks into its part: the plan's verdicts equal those of grading every mutant alone."""
    edits = corpus()
    mutants = [i for i, e in enumerate(edits) if isinstance(e, Mutant)]
    honest = {i: {edits[i].part} for i in mutants}
    m = mutants[bad]
    p = plan.make(edits)
    companions = [j for sid in p.rounds_of(m) for j in p.rounds[sid] if j != m]
    cases = [{**honest, m: {edits[m].part, other}} for other in PARTS if other != edits[m].part]
    cases.append({**honest, m: set()})
    cases += [{**honest, m: set(), c: {edits[c].part, edits[m].part}} for c in companions]
    for breaks in cases:
        verdicts, again = plan_verdicts(edits, breaks)
        expected = {i: decided_alone(edits, breaks, i) for i in mutants}
        assert verdicts == expected, (breaks, again)
        assert m in again


def test_two_bad_mutants_anywhere_are_still_decided_as_if_graded_alone():
    edits = corpus()
    mutants = [i for i, e in enumerate(edits) if isinstance(e, Mutant)]
    honest = {i: {edits[i].part} for i in mutants}
    for m, n in itertools.combinations(mutants[::3], 2):
        for breaks in ({**honest, m: set(), n: {edits[n].part, edits[m].part}},
                       {**honest, m: {edits[m].part, edits[n].part}, n: {edits[n].part, edits[m].part}},
                       {**honest, m: set(), n: set()}):
            verdicts, _ = plan_verdicts(edits, breaks)
            assert verdicts == {i: decided_alone(edits, breaks, i) for i in mutants}, breaks


def test_where_sharing_saves_nothing_every_mutant_is_graded_alone_once():
    edits = [Mutant("p0", f"p0__code{k}", f"mistake {k}", "x", "y", f"say {k}") for k in range(4)]
    p = plan.make(edits)
    assert p.rounds == {plan.alone(i): [i] for i in range(4)}
    breaks = {0: {"p0"}, 1: set(), 2: {"p0", "p1"}, 3: {"p0"}}
    assert plan.to_grade_alone(p, grade(edits, breaks, p.groups), edits) == []
