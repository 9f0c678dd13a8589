"""`python -m autograder check A2`: one assignment's checks, for its author, in a few minutes.

It runs, from the instructor's repository, exactly the tests the full suite runs for that
assignment, and nothing else:

- the stored notebook is what its percent source builds, and assignments/A2 is what `release`
  writes today (tests/test_notebooks_in_sync.py);
- the real autograder grades the solution (every autograded point), the blank release (0), the
  variants (full marks) and every mutant of the corpus (0 in its own part, nothing lost elsewhere,
  its message shown), and each variant also passes in a plain kernel (tests/test_mutation_corpus.py);
- the solution notebook re-runs under nbval and gives its stored outputs.

It shows a progress bar, then one row per check (passed, failed, seconds) and the corpus table, then
each failure; it exits 1 when anything failed. The tests live in tests/, so the command runs from
a clone of the course repository (the student pack has no tests). A4's corpus trains a network per
row: it runs only with CNNKIT_SLOW_CORPUS=1 (about half an hour on two cores).
"""
from __future__ import annotations

import contextlib
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from .course import REPO, Course, CourseError

# What a test checks, by the file it is in and its name.
STEPS = (
    ("test_notebook_matches_its_source", "notebook is what its source builds"),
    ("test_no_stored_check_failed", "no stored check failed"),
    ("test_released_assignment_is_up_to_date", "release in assignments/ is up to date"),
    ("test_corpus_covers_every_graded_part", "corpus: 2 variants, 3 mutants per part"),
    ("test_mutation_corpus", "graded: solution, blank, variants, mutants"),
    ("test_variants_pass_in_the_students_kernel", "variants pass in the student's kernel"),
    (".ipynb::", "solution notebook re-run (nbval)"),
)


@dataclass
class Step:
    label: str
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)


def step_of(nodeid: str) -> str:
    """The check a test belongs to, by its name (an nbval cell by its notebook's)."""
    name = nodeid.split("::", 1)[-1] if ".ipynb::" not in nodeid else ".ipynb::"
    for marker, label in STEPS:
        if name.startswith(marker):
            return label
    return "other"


class Report:
    """A pytest plugin: a progress bar while the tests run, then the table and the failures."""

    def __init__(self, assignment: str):
        from tqdm.auto import tqdm

        self.assignment = assignment
        self.steps = {label: Step(label) for _, label in STEPS}
        self.tables: list[str] = []
        self.bar = tqdm(desc=f"check {assignment}", unit="test")
        self.started = time.perf_counter()

    def _total(self, n: int) -> None:
        if not self.bar.total:
            self.bar.total = n
            self.bar.refresh()

    def pytest_collection_finish(self, session):
        self._total(len(session.items))

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node, ids):
        self._total(len(ids))

    def pytest_runtest_logreport(self, report):
        step = self.steps.setdefault(step_of(report.nodeid), Step(step_of(report.nodeid)))
        step.seconds += report.duration
        for name, value in report.user_properties:
            if name == "corpus_table" and value not in self.tables:
                self.tables.append(value)
        if report.failed:
            step.failed += 1
            step.failures.append(f"{report.nodeid} ({report.when}):\n{report.longreprtext[-3000:]}")
        elif report.skipped and report.when in ("setup", "call"):
            step.skipped += 1
        elif report.when == "call":
            step.passed += 1
        if report.when == "teardown" or (report.when == "setup" and not report.passed):
            self.bar.update(1)

    def summary(self) -> tuple[list[str], bool]:
        self.bar.close()
        head = f"{'check':<44} {'passed':>6} {'failed':>6} {'skipped':>7} {'seconds':>8}"
        lines = [head, "-" * len(head)]
        ok = True
        for s in self.steps.values():
            if s.passed or s.failed or s.skipped:
                lines.append(f"{s.label:<44} {s.passed:>6} {s.failed:>6} {s.skipped:>7} {s.seconds:>8.0f}")
            ok = ok and not s.failed
        ran = sum(s.passed + s.failed for s in self.steps.values())
        ok = ok and ran > 0
        lines.append(f"{self.assignment}: {'every check passed' if ok else 'FAILED'} in "
                     f"{time.perf_counter() - self.started:.0f} s")
        lines += ["", *self.tables]
        for s in self.steps.values():
            lines += [f"\nFAILED {f}" for f in s.failures]
        return lines, ok


def pytest_args(assignment: str) -> list[str]:
    """The tests of one assignment: its files and the -k expression that selects its tests in them."""
    tests = REPO / "tests"
    if not (tests / "test_mutation_corpus.py").exists():
        raise CourseError(f"check needs the course repository's tests/ (not found in {REPO}); run it from a clone "
                          "of the instructor's repository")
    a = Course().assignment(assignment)
    notebooks = [a.source / name for name in a.notebooks]
    return [str(tests / "test_notebooks_in_sync.py"), str(tests / "test_mutation_corpus.py"), *map(str, notebooks),
            "-k", f"{assignment}_ or [{assignment}] or /{assignment}/", "--rootdir", str(REPO)]


def run(assignment: str, workers: int = 2) -> int:
    """Run the assignment's checks (see the module docstring); 0 when all passed, else 1."""
    Course().assignment(assignment)  # a clear error for a name the course lacks
    report = Report(assignment)
    args = [*pytest_args(assignment), "-n", str(workers)]
    log = Path(tempfile.gettempdir()) / f"autograder-check-{assignment}.log"
    cwd = os.getcwd()
    os.chdir(REPO)
    try:  # pytest's own report goes to the log; the bar (stderr) and the table are what the author reads
        with open(log, "w") as fh, contextlib.redirect_stdout(fh):
            pytest.main(args, plugins=[report])
    finally:
        os.chdir(cwd)
    lines, ok = report.summary()
    print("\n".join(lines + [f"\npytest's full output: {log}"]))
    return 0 if ok else 1
