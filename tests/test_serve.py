"""The grading service (autograder/serve.py) on the tiny assignment, in this process: attempts,
which attempt counts, a crash while grading, late days and extensions applied as `grade` applies
them, what the page shows before and after the deadline. The submissions are folders the test
makes in a real nbgrader exchange (as nbgrader's submit makes them), read back as the student's
*Fetch Feedback* reads them (by the hash of the submission's secret). The end-to-end test with
real unix users, nbgrader's own commands and the service as its own process is
tests/test_serve_hub.py; the rules alone are tested first, without grading.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import secrets
import shutil
import signal
import subprocess
from pathlib import Path

import nbformat
import pytest
from nbgrader.utils import notebook_hash

from autograder import api, attempts, exchange, serve, submissions
from autograder import feedback as fb
from autograder.course import Course, CourseDir, CourseError

from tests import tiny_assignment as tiny
from tests.isolation import UNSAFE

ROOT = Path(__file__).resolve().parents[1]
COURSE_ID = "cnn-architectures"
UTC = dt.timezone.utc
T0 = dt.datetime(2026, 10, 5, 12, 0, tzinfo=UTC)


# -- the rules alone ------------------------------------------------------------------------------

def _rules(**table):
    return attempts.rules(dataclasses.replace(tiny.value(), submission=table))


def test_rules_default_and_checked():
    assert _rules() == attempts.Rules(None, "term", "last", "visible")
    assert _rules(attempts=3, per="day", counts="best", before_due="score") == attempts.Rules(3, "day", "best", "score")
    for bad, what in ((dict(attempts=0), "attempts must be a whole number"), (dict(attempts=True), "attempts"),
                      (dict(per="week"), "per must be one of"), (dict(counts="first"), "counts must be one of"),
                      (dict(before_due="all"), "before_due must be one of"), (dict(tries=3), r"unknown key\(s\) tries")):
        with pytest.raises(CourseError, match=what):
            _rules(**bad)


def test_attempts_in_all_and_per_day():
    term = attempts.Rules(attempts=2)
    assert attempts.next_attempt(term, [], T0) == attempts.Verdict(True, 1)
    assert attempts.next_attempt(term, [T0], T0).allowed
    refused = attempts.next_attempt(term, [T0, T0], T0 + dt.timedelta(days=5))
    assert not refused.allowed and refused.number == 3 and "all 2 attempts" in refused.reason and refused.next_at is None
    daily = attempts.Rules(attempts=2, per="day")
    today = [T0.replace(hour=1), T0.replace(hour=9)]
    verdict = attempts.next_attempt(daily, today + [T0 - dt.timedelta(days=1)], T0.replace(hour=23, minute=59))
    assert not verdict.allowed and verdict.next_at == dt.datetime(2026, 10, 6, tzinfo=UTC)
    assert "from 2026-10-06 00:00 UTC" in verdict.reason
    assert attempts.next_attempt(daily, today, dt.datetime(2026, 10, 6, 0, 0, 1, tzinfo=UTC)) == attempts.Verdict(True, 3)


def test_the_attempt_that_counts():
    assert attempts.counting(attempts.Rules(counts="last"), [(1, 5.0), (2, 1.0)]) == 2
    assert attempts.counting(attempts.Rules(counts="best"), [(1, 5.0), (2, 1.0), (3, 4.0)]) == 1
    assert attempts.counting(attempts.Rules(counts="best"), [(1, 5.0), (2, 5.0)]) == 2  # the later of equal bests
    assert attempts.counting(attempts.Rules(counts="best"), []) is None


def test_the_visible_page_hides_every_trace_of_a_hidden_test():
    nb = tiny.source_notebook()
    add_tests = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "add__tests")
    mul_tests = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "mul__tests")
    add_tests.outputs = [nbformat.v4.new_output("error", ename="AssertionError", evalue="add(-1.5, 4) hidden message",
                                                traceback=["----> 5 check_close('add(-1.5, 4)', add(-1.5, 4), 2.5)"])]
    mul_tests.outputs = [nbformat.v4.new_output("error", ename="AssertionError", evalue="mul(2, 3): <b>expected 6</b>",
                                                traceback=["----> 2 check_close('mul(2, 3)', mul(2, 3), 6)"])]
    page = fb.visible_page(nb, "T1 <tiny>", ["Attempt 1 <of 3>"], "after your deadline")
    assert "add(-1.5" not in page and "hidden" not in page.lower().replace("hidden tests' results", "")
    assert "mul(2, 3): &lt;b&gt;expected 6&lt;/b&gt;" in page and "<b>expected" not in page
    assert "T1 &lt;tiny&gt;" in page and "Attempt 1 &lt;of 3&gt;" in page
    assert page.index(fb.CSP_META) < page.index("<title>") and "<script" not in page
    assert "points" in page and "/ 5" not in page  # says the points come later, shows none
    mul_tests.outputs = []
    page = fb.visible_page(nb, "T1", [], "after your deadline")
    assert fb.VISIBLE_PASSED in page and "add(-1.5" not in page  # the only failure is hidden: passes


# -- the service on the tiny assignment --------------------------------------------------------------

def _course(tmp_path, due: dt.date, submission: dict, late: str = "") -> CourseDir:
    """The tiny course with a due date, submission rules and (late) a [late_days] table; a term folder."""
    src = tmp_path / "src"
    tiny.write_source(src / "solutions")
    table = "\n".join(f"{k} = {json.dumps(v)}" for k, v in submission.items())
    (src / "course.toml").write_text(f"[assignments.{tiny.NAME}]\nrelease = {due - dt.timedelta(days=20)}\n"
                                     f"due = {due}\n\n[assignments.{tiny.NAME}.submission]\n{table}\n\n{late}\n")
    return CourseDir(tmp_path / "course", source=Course(src))


class Hub:
    """A real exchange with the tiny assignment released; submit() makes an inbound folder as
    nbgrader's submit does, page() reads the page *Fetch Feedback* would find for it."""

    def __init__(self, tmp_path, term: CourseDir, students=("alice", "bob")):
        self.root, self.term = tmp_path / "exchange", term
        subprocess.run(["sh", str(ROOT / "hub" / "setup_exchange.sh"), str(self.root)], check=True, capture_output=True)
        roster = tmp_path / "students.csv"
        roster.write_text("id\n" + "\n".join(students) + "\n")
        api.import_roster(roster, term)
        self.a = term.assignment(tiny.NAME)
        exchange.release(self.a, term, self.root, release_dir=tmp_path / "release")
        self.released = submissions.read(tmp_path / "release" / tiny.NAME / tiny.NOTEBOOK)
        self.solution = submissions.read(self.a.source / tiny.NOTEBOOK)
        self.secrets: dict[str, str] = {}

    def submit(self, student: str, parts=None, edit=None) -> str:
        nb = submissions.fill(self.released, self.solution, parts)
        if edit:
            for cell in nb.cells:
                cell.source = cell.source.replace(*edit)
        stamp = dt.datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f UTC")
        name = f"{student}+{tiny.NAME}+{stamp}+{secrets.token_hex(4)}"
        folder = self.root / COURSE_ID / "inbound" / name
        folder.mkdir()
        nbformat.write(nb, folder / tiny.NOTEBOOK)
        (folder / "timestamp.txt").write_text(stamp)
        self.secrets[name] = secrets.token_hex(64)
        (folder / "submission_secret.txt").write_text(self.secrets[name])
        return name

    def page(self, name: str) -> str | None:
        h = notebook_hash(secret=self.secrets[name], notebook_id=Path(tiny.NOTEBOOK).stem)
        path = self.root / COURSE_ID / "feedback" / f"{h}.html"
        return path.read_text() if path.exists() else None


def _service(hub: Hub, now=None, workers=2) -> serve.Service:
    lines = []
    kw = {"now": now} if now else {}
    service = serve.Service(hub.a, hub.term, str(hub.root), workers=workers, check_owner=False, unsafe=UNSAFE,
                            log=lines.append, **kw)
    service.lines = lines
    return service


def _drain(service: serve.Service) -> None:
    while service.step():
        pass


def test_attempts_best_counts_and_the_limit(tmp_path):
    term = _course(tmp_path, dt.date.today() + dt.timedelta(days=10), dict(attempts=3, counts="best", before_due="score"))
    hub = Hub(tmp_path, term)
    full = hub.submit("alice")
    bob = hub.submit("bob", parts=set())
    half = hub.submit("alice", parts={"add"})
    third = hub.submit("alice", parts=set())
    fourth = hub.submit("alice")
    service = _service(hub)
    _drain(service)
    recs = {r.entry: r for r in service.ledger.records()}
    assert [recs[n].status for n in (full, half, third, fourth)] == ["graded", "graded", "graded", "refused"]
    assert [recs[n].number for n in (full, half, third)] == [1, 2, 3]
    assert [recs[n].score for n in (full, half, third)] == [5.0, 2.0, 0.0] and recs[bob].score == 0.0
    assert [recs[n].counts for n in (full, half, third)] == [True, False, False]
    assert "used all 3 attempts" in recs[fourth].reason and "used all 3 attempts" in hub.page(fourth)
    assert any("refused" in line and fourth in line for line in service.lines)
    # the best attempt is the grade: gradebook, submitted/ and autograded/ hold attempt 1
    row = next(r for r in api.grade_rows(term, tiny.NAME) if r["student"] == "alice")
    assert row["autograded"] == 5.0
    kept = term.submission("alice", tiny.NAME) / tiny.NOTEBOOK
    assert kept.read_bytes() == (service.ledger.folder(full) / "submitted" / tiny.NOTEBOOK).read_bytes()
    # before the due date in "score" mode: the points, and the attempt said on the page
    assert "Score: 2.0 / 6.0" in hub.page(half)
    assert "Attempt 2 of 3" in hub.page(half) and "attempt 1 scored higher" in hub.page(half)
    # a second service over the same ledger decides nothing again
    again = _service(hub)
    assert again.step() == 0 and not again.lines
    # stopped after recording attempt 2 but before putting attempt 1 back: the next start does it
    shutil.rmtree(term.submission("alice", tiny.NAME))
    shutil.copytree(service.ledger.folder(half) / "submitted", term.submission("alice", tiny.NAME))
    again.settle()
    assert kept.read_bytes() == (service.ledger.folder(full) / "submitted" / tiny.NOTEBOOK).read_bytes()
    assert any("attempt 1 put back" in line for line in again.lines)
    again.settle()
    assert sum("put back" in line for line in again.lines) == 1


def test_a_crash_while_grading_grades_it_again_once(tmp_path):
    term = _course(tmp_path, dt.date.today() + dt.timedelta(days=10), dict(attempts=2))
    hub = Hub(tmp_path, term)
    first = hub.submit("alice", parts={"mul"})
    service = _service(hub)
    # the service admitted it (GRADING, attempt 1) and died before the result was saved
    entry = service.pending()[0]
    assert service._admit(entry) and service.ledger.get(first).status == serve.GRADING
    second = hub.submit("alice")
    restarted = _service(hub)
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    restarted.run(poll=0.1, once=True)
    assert {sig: signal.getsignal(sig) for sig in handlers} == handlers, "run() left its signal handlers behind"
    recs = {r.entry: r for r in restarted.ledger.records()}
    assert (recs[first].status, recs[first].number, recs[first].score) == ("graded", 1, 3.0)
    assert (recs[second].status, recs[second].number, recs[second].score) == ("graded", 2, 5.0)
    assert "serving T1" in restarted.lines[0] and "stopped" in restarted.lines[-1]
    graded_lines = [line for line in restarted.lines if " graded " in line]
    assert len(graded_lines) == 2 and sum(first in line for line in graded_lines) == 1, restarted.lines


def test_visible_before_the_deadline_full_after(tmp_path):
    due = dt.date.today() + dt.timedelta(days=3)
    term = _course(tmp_path, due, dict(before_due="visible"))
    hub = Hub(tmp_path, term)
    name = hub.submit("alice", edit=("return a + b", "return a + b if a >= 0 else 0.0"))  # fails the hidden test only
    service = _service(hub)
    _drain(service)
    before = hub.page(name)
    assert fb.VISIBLE_PASSED in before and "Score" not in before and "add(-1.5" not in before
    later = dt.datetime.combine(due + dt.timedelta(days=1), dt.time(), tzinfo=UTC)
    after_service = _service(hub, now=lambda: later)
    after_service.step()
    after = hub.page(name)
    assert after != before and fb.HIDDEN_SUMMARY in after and "Score: 3.0" in after
    assert "add(-1.5" not in after and "BEGIN HIDDEN" not in after
    assert any("full feedback released" in line for line in after_service.lines)
    after_service.step()  # once only
    assert sum("full feedback released" in line for line in after_service.lines) == 1


LATE = "[late_days]\nbudget = 1\npenalty_per_day = 0.1\n"


def test_late_days_and_an_extension_as_grade_applies_them(tmp_path):
    due = dt.date.today() - dt.timedelta(days=2)  # so a submission now is 2 days late (deadline: yesterday 00:00)
    term = _course(tmp_path, due, dict(before_due="score"), late=LATE)
    term.root.mkdir(parents=True, exist_ok=True)
    (term.root / "extensions.csv").write_text(f"student_id,assignment,due\nbob,{tiny.NAME},{dt.date.today() + dt.timedelta(days=5)}\n")
    hub = Hub(tmp_path, term)
    names = {s: hub.submit(s) for s in ("alice", "bob")}
    service = _service(hub)
    _drain(service)
    recs = {r.student: r for r in service.ledger.records()}
    deadline = dt.datetime.combine(due + dt.timedelta(days=1), dt.time(), tzinfo=UTC)
    days = math.ceil((recs["alice"].at - deadline) / dt.timedelta(days=1))
    assert days == 2
    # 1 day from the budget, 1 charged at 10% of the 6 points
    assert recs["alice"].penalty == pytest.approx(0.6) and recs["alice"].score == pytest.approx(5.0 - 0.6)
    assert recs["bob"].penalty == 0 and recs["bob"].score == 5.0
    status = json.loads(term.status_file("alice", tiny.NAME).read_text())
    assert status["late"]["days_late"] == 2 and status["late"]["text"] in hub.page(names["alice"])
    # `grade` of the same submissions in another term folder: the same penalties and words
    other = CourseDir(tmp_path / "graded", source=term.source)
    other.root.mkdir()
    shutil.copy(term.root / "extensions.csv", other.root / "extensions.csv")
    shutil.copytree(term.submitted, other.submitted)
    api.grade(tiny.NAME, other, workers=2, unsafe=UNSAFE)
    for s in ("alice", "bob"):
        mine = json.loads(term.status_file(s, tiny.NAME).read_text())["late"]
        theirs = json.loads(other.status_file(s, tiny.NAME).read_text())["late"]
        assert mine == theirs, s
    rows = {r["student"]: r for r in api.grade_rows(other, tiny.NAME)}
    served = {r["student"]: r for r in api.grade_rows(term, tiny.NAME)}
    assert {s: (r["autograded"], r["score"]) for s, r in rows.items()} == \
        {s: (r["autograded"], r["score"]) for s, r in served.items()}


# -- what the review of the service found: each a student's move ---------------------------------------

def test_a_forward_dated_name_counts_when_the_exchange_got_it(tmp_path):
    term = _course(tmp_path, dt.date.today() + dt.timedelta(days=10), dict(attempts=1, per="day"))
    hub = Hub(tmp_path, term)
    name = hub.submit("alice")
    forged = hub.root / COURSE_ID / "inbound" / name.replace(name.split("+")[2], "9999-12-31 00:00:00.000000 UTC")
    (hub.root / COURSE_ID / "inbound" / name).rename(forged)
    entry = next(e for e in exchange.inbound(hub.root, tiny.NAME))
    assert entry.stamp.year == 9999 and abs(entry.when - dt.datetime.now(UTC)) < dt.timedelta(minutes=5)
    service = _service(hub)
    _drain(service)  # no OverflowError, and the day of the attempt is today's
    assert [r.status for r in service.ledger.records()] == ["graded"]
    assert service.ledger.records()[0].at.date() == dt.datetime.now(UTC).date()


def test_no_line_of_the_log_is_the_students(tmp_path):
    term = _course(tmp_path, dt.date.today() + dt.timedelta(days=10), {})
    hub = Hub(tmp_path, term)
    name = hub.submit("alice")
    evil = f"x\n2026-01-01 00:00:00 UTC T1 bob 'bob+T1+x': attempt 1 graded 5 of 6+{tiny.NAME}+{name.split('+', 2)[2]}"
    (hub.root / COURSE_ID / "inbound" / name).rename(hub.root / COURSE_ID / "inbound" / evil)
    service = _service(hub)
    _drain(service)
    assert len(service.lines) == 1 and "\n" not in service.lines[0] and "\\n" in service.lines[0]
    assert "not a valid student id" in service.lines[0]
    assert serve.printable("a\nb\x1b[31m\r") == "a\\nb\\x1b[31m\\r"


def test_a_grader_failure_is_not_retried_in_a_loop_nor_blocks_the_next_attempt(tmp_path, monkeypatch):
    term = _course(tmp_path, dt.date.today() + dt.timedelta(days=10), dict(attempts=2))
    hub = Hub(tmp_path, term)
    first = hub.submit("alice")
    real = serve.batch.grade_batch
    calls = []

    def broken(*args, **kw):
        calls.append(1)
        raise RuntimeError("a worker could not start")

    monkeypatch.setattr(serve.batch, "grade_batch", broken)
    service = _service(hub)
    assert service.step() == 1 and service.step() == 0 and len(calls) == 1  # not again in this run
    assert service.ledger.get(first).status == serve.NOT_GRADED
    monkeypatch.setattr(serve.batch, "grade_batch", real)
    second = hub.submit("alice")
    _drain(service)
    assert (service.ledger.get(second).status, service.ledger.get(second).number) == ("graded", 1)
    restarted = _service(hub)  # the failed one is graded when the service starts again: attempt 2
    _drain(restarted)
    assert (restarted.ledger.get(first).status, restarted.ledger.get(first).number) == ("graded", 2)


def test_a_file_swapped_for_a_link_after_the_checks_is_never_read(tmp_path, monkeypatch):
    term = _course(tmp_path, dt.date.today() + dt.timedelta(days=10), {})
    hub = Hub(tmp_path, term)
    name = hub.submit("alice", parts=set())
    notebook = hub.root / COURSE_ID / "inbound" / name / tiny.NOTEBOOK
    notebook.unlink()
    notebook.symlink_to(hub.a.source / tiny.NOTEBOOK)  # the instructor's solution
    monkeypatch.setattr(exchange, "_unsafe_entry", lambda folder: None)  # as if swapped after the check
    report = exchange.collect(hub.a, term, hub.root, only=name, check_owner=False)
    assert report.report.filed == [] and any("symbolic link" in why for _, why in report.report.refused), report.lines()
    assert not term.submission("alice", tiny.NAME).exists()


def test_printed_output_that_quotes_a_hidden_line_is_left_out():
    nb = tiny.source_notebook()
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "add__tests")
    cell.outputs = [nbformat.v4.new_output("stream", name="stderr",
                                           text="RuntimeWarning: overflow\n  check_close('add(-1.5, 4)', add(-1.5, 4), 2.5)\n")]
    fb.FeedbackContent().strip_hidden_tests(nb)
    assert cell.outputs[0]["text"] == fb.QUOTED + "\n"
    page = fb.visible_page(tiny.source_notebook(), "T1", [], "later")
    assert "add(-1.5" not in page
