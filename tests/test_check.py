"""`python -m autograder check A2` (autograder/check.py): it runs exactly one assignment's tests
and fails when any of them fails."""
import subprocess
import sys
from types import SimpleNamespace

import pytest

from autograder import check, course
from autograder.course import REPO, CourseError


def _collected(assignment):
    r = subprocess.run([sys.executable, "-m", "pytest", *check.pytest_args(assignment), "-n", "0", "--collect-only",
                        "-q"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    return [line for line in r.stdout.splitlines() if "::" in line]


def test_selects_the_assignments_tests_and_no_others():
    ids = _collected("A2")
    steps = {check.step_of(i) for i in ids}
    assert steps == {label for _, label in check.STEPS}, steps
    notebook = next((course.Course().solutions / "A2").glob("*.ipynb")).name
    cells = [i for i in ids if f"{notebook}::Cell" in i]
    assert len(cells) > 10
    for name in ("test_mutation_corpus[A2]", "test_variants_pass_in_the_students_kernel[A2]",
                 "test_corpus_covers_every_graded_part[A2]", "test_released_assignment_is_up_to_date[A2]",
                 "test_notebook_matches_its_source[solutions/A2/"):
        assert any(name in i for i in ids), f"{name} not selected: {ids}"
    others = [i for i in ids if any(a in i for a in ("A1", "A3", "A4", "lectures/"))]
    assert not others, others


def _report(nodeid, when, outcome, props=()):
    return SimpleNamespace(nodeid=nodeid, when=when, outcome=outcome, passed=outcome == "passed",
                           failed=outcome == "failed", skipped=outcome == "skipped", duration=1.0,
                           user_properties=list(props), longreprtext="AssertionError: 1 miss in the corpus")


@pytest.mark.parametrize("failing", ["tests/test_mutation_corpus.py::test_mutation_corpus[A2]",
                                     "tests/test_notebooks_in_sync.py::test_released_assignment_is_up_to_date[A2]",
                                     "solutions/A2/A2_convolution.ipynb::Cell 3"])
def test_any_failed_test_fails_the_check_and_is_shown(failing):
    rep = check.Report("A2")
    passing = ["tests/test_notebooks_in_sync.py::test_notebook_matches_its_source[solutions/A2/x.pct.py]",
               "solutions/A2/A2_convolution.ipynb::Cell 0"]
    for nodeid in passing:
        for when in ("setup", "call", "teardown"):
            rep.pytest_runtest_logreport(_report(nodeid, when, "passed"))
    lines, ok = rep.summary()
    assert ok, lines
    rep = check.Report("A2")
    for nodeid in [*passing, failing]:
        rep.pytest_runtest_logreport(_report(nodeid, "setup", "passed"))
        rep.pytest_runtest_logreport(_report(nodeid, "call", "failed" if nodeid == failing else "passed",
                                             [("corpus_table", "TABLE")]))
    lines, ok = rep.summary()
    text = "\n".join(lines)
    assert not ok and f"FAILED {failing}" in text and "1 miss in the corpus" in text and "TABLE" in text


def test_nothing_ran_is_not_a_pass():
    lines, ok = check.Report("A2").summary()
    assert not ok and any(line.startswith("A2: FAILED") for line in lines), lines


def test_unknown_assignment_is_a_clear_error():
    with pytest.raises(CourseError):
        check.run("A9")
