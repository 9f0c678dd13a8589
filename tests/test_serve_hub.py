"""The grading service end to end, as on the course's hub: real unix users, nbgrader's own student
commands, the real exchange, and `python -m autograder serve A1` running as its own process.

The course is a copy of this repository's A1 with a due date a month from today and the rules
attempts = 3 (in all), the last attempt counts, the visible tests only before the due date. Three
students submit: `good` the solution, `cheat` a solution that hard-codes the slopes the visible
tests use (it fails a hidden test only), `blank` the release untouched. Then:

- each fetches feedback with `nbgrader fetch_feedback` within 2 minutes of submitting;
- `blank` submits again, and the service is killed (SIGKILL, its process group) while it grades
  that submission, then started again: every submission is graded exactly once (one line in the
  logs, one record in the ledger), with attempt numbers 1, 2, 3;
- `blank`'s fourth submission is refused, and the page they fetch says why;
- before the due date no page shows a hidden test's name, message or source, nor the points;
  after it (the service with its clock past the deadline) the full page comes, still without them;
- `grade` of the same submissions in another course folder gives every cell the same score.

Skipped with the reason where users cannot be created (not root, no useradd).
"""
from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from autograder import api, exchange, serve, submissions
from autograder import feedback as fb
from autograder.course import Course, CourseDir

from tests.hub_users import Student, add_students, why_no_users
from tests.isolation import UNSAFE

ROOT = Path(__file__).resolve().parents[1]
A1 = "A1"
NOTEBOOK = "A1_mlp_backprop.ipynb"
PAGE = "A1_mlp_backprop.html"
FEEDBACK_WITHIN = 120  # seconds from Submit to a page the student can fetch (the bound on 2 cores)
HONEST = "    out = np.where(x > 0, x, slope * x)\n"
CHEAT = "    out = np.where(x > 0, x, (0.2 if slope == 0.2 else 0.1) * x)\n"  # the visible tests' slopes only
# what the hidden tests of part 1 say or hold (their call, their message, their source)
HIDDEN_TRACES = ("slope 0.3 (hidden)", "_hidden_activations", "BEGIN HIDDEN", "slope = 0.3")

_WHY = why_no_users()
pytestmark = [pytest.mark.skipif(_WHY is not None, reason=_WHY or ""), pytest.mark.xdist_group("exchange")]


def _source(work: Path) -> Course:
    """A1 with a due date a month away and the service's rules."""
    src = work / "src"
    shutil.copytree(ROOT / "solutions" / A1, src / "solutions" / A1)
    today = dt.date.today()
    (src / "course.toml").write_text(
        f"[assignments.{A1}]\nrelease = {today - dt.timedelta(days=7)}\ndue = {today + dt.timedelta(days=30)}\n\n"
        f"[assignments.{A1}.limits]\ncell_timeout = 60\nnotebook_timeout = 900\n\n"
        f"[assignments.{A1}.submission]\nattempts = 3\nper = \"term\"\ncounts = \"last\"\nbefore_due = \"visible\"\n")
    return Course(src)


class Served:
    """`python -m autograder serve A1` as its own process group, its output in a log file."""

    def __init__(self, work: Path, source: Course, course_dir: Path, ex: Path, n: int):
        self.log_path = work / f"serve-{n}.log"
        cmd = [sys.executable, "-m", "autograder", "serve", A1, "--source", str(source.root), "--course-dir",
               str(course_dir), "--exchange", str(ex), "--workers", "2", "--poll", "0.5"]
        self.proc = subprocess.Popen(cmd + (["--unsafe-no-sandbox"] if UNSAFE else []), cwd=ROOT,
                                     stdout=open(self.log_path, "w"), stderr=subprocess.STDOUT, start_new_session=True)

    def log(self) -> str:
        return self.log_path.read_text()

    def kill(self, sig=signal.SIGKILL) -> None:
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=120)


def _fetched(student: Student, stamp: str | None = None) -> list[Path]:
    """The feedback pages the student has fetched (of one submission: its timestamp folder)."""
    return sorted((student.home / A1 / "feedback").glob(f"{stamp or '*'}/{PAGE}"))


def _submit(student: Student, ex: Path) -> str:
    """Submit as the student; returns the submission's timestamp (the folder its feedback lands in)."""
    before = set((student.home / ".local/share/jupyter/nbgrader_cache/cnn-architectures").glob(f"*+{A1}+*")) \
        if (student.home / ".local/share/jupyter/nbgrader_cache/cnn-architectures").is_dir() else set()
    student.nbgrader("submit", A1, ex)
    cache = student.home / ".local/share/jupyter/nbgrader_cache/cnn-architectures"
    new = sorted(set(cache.glob(f"*+{A1}+*")) - before)
    assert len(new) == 1, f"{student.name}: submit made {new} in {cache}"
    return new[0].name.split("+")[2]


def _released(ex: Path) -> tuple:
    """The feedback pages in the exchange (nbgrader's released feedback, named by hash), with sizes."""
    folder = ex / "cnn-architectures" / "feedback"  # hub/nbgrader_config.py's course id
    return tuple(sorted((p.name, p.stat().st_size) for p in folder.glob("*.html"))) if folder.is_dir() else ()


def _await_page(student: Student, ex: Path, stamp: str, since: float, service: Served) -> float:
    """Fetch feedback as the student until the page of that submission is there; seconds it took.
    The student fetches at once, then again each time the exchange's feedback pages change (one
    `nbgrader fetch_feedback` costs about 3 s of CPU: fetching every 2 s, the waits of this module
    spent more than a minute of a core on them), after they have stopped changing for a second."""
    fetched_at = None  # the exchange's pages when the student last fetched
    while time.monotonic() - since < FEEDBACK_WITHIN + 30:
        now = _released(ex)
        if fetched_at is None or now != fetched_at:
            if fetched_at is not None:
                time.sleep(1.0)  # a page may be being copied in: fetch once the pages stay the same
                if _released(ex) != now:
                    continue
            fetched_at = now
            student.nbgrader("fetch_feedback", A1, ex, check=False)
            if _fetched(student, stamp):
                return time.monotonic() - since
        assert service.proc.poll() is None, f"the service exited ({service.proc.returncode}):\n{service.log()}"
        time.sleep(0.25)
    raise AssertionError(f"{student.name}: no feedback for the submission of {stamp} after "
                         f"{FEEDBACK_WITHIN + 30} s:\n{service.log()}")


@pytest.fixture(scope="module")
def served():
    work = Path(tempfile.mkdtemp(prefix="serve-hub-"))
    os.chmod(work, 0o755)
    users, services = [], []
    try:
        add_students(work, "sv", ("good", "cheat", "blank"), users)
        good, cheat, blank = users
        source = _source(work)
        ex, course_dir = work / "exchange", work / "course"
        subprocess.run(["sh", str(ROOT / "hub" / "setup_exchange.sh"), str(ex)], check=True, capture_output=True)
        roster = work / "students.csv"
        roster.write_text("id\n" + "".join(f"{u.name}\n" for u in users))
        term = CourseDir(course_dir, source=source)
        api.import_roster(roster, term)
        a = source.assignment(A1)
        exchange.release(a, term, ex, release_dir=work / "release")
        solution = submissions.read(a.source / NOTEBOOK)
        for u in users:
            u.nbgrader("fetch_assignment", A1, ex)
        filled = submissions.fill(submissions.read(good.home / A1 / NOTEBOOK), solution)
        good.write(good.home / A1 / NOTEBOOK, filled)
        cheated = submissions.fill(submissions.read(cheat.home / A1 / NOTEBOOK), solution)
        for cell in cheated.cells:
            cell.source = cell.source.replace(HONEST, CHEAT)
        assert any(CHEAT in c.source for c in cheated.cells), "the cheat's edit found nothing to replace"
        cheat.write(cheat.home / A1 / NOTEBOOK, cheated)

        log = {"latency": {}, "stamps": {}}
        services.append(Served(work, source, course_dir, ex, 1))
        t0 = {}
        for u in users:
            t0[u.name] = time.monotonic()
            log["stamps"][u.name] = [_submit(u, ex)]
        for u in users:
            log["latency"][u.name] = _await_page(u, ex, log["stamps"][u.name][0], t0[u.name], services[-1])

        # blank's second attempt: the service is killed while grading it, then started again
        ledger = serve.Ledger(term, A1)
        stamp = _submit(blank, ex)
        log["stamps"][blank.name].append(stamp)
        since = time.monotonic()
        deadline = since + 120
        while time.monotonic() < deadline:
            grading = [r for r in ledger.records(blank.name) if r.status == serve.GRADING]
            if grading:
                break
            time.sleep(0.1)
        assert grading, f"the service never started grading blank's second submission:\n{services[-1].log()}"
        services[-1].kill()
        log["killed_during"] = grading[0].entry
        services.append(Served(work, source, course_dir, ex, 2))
        _await_page(blank, ex, stamp, since, services[-1])
        # the third attempt, then a fourth, which is refused
        for _ in range(2):
            stamp = _submit(blank, ex)
            log["stamps"][blank.name].append(stamp)
            _await_page(blank, ex, stamp, time.monotonic(), services[-1])
        services[-1].kill(signal.SIGTERM)
        log["logs"] = [s.log() for s in services]
        log["before"] = {u.name: [p.read_text() for p in _fetched(u)] for u in users}

        # after the deadline: the service's clock past it releases the full pages
        due = serve.deadline(a, term, good.name)
        after = serve.Service(a, term, str(ex), workers=2, unsafe=UNSAFE, log=lambda line: None,
                              now=lambda: due + dt.timedelta(minutes=1))
        after.step()
        for u in users:
            u.nbgrader("fetch_feedback", A1, ex)
        log["after"] = {u.name: _fetched(u, log["stamps"][u.name][0])[0].read_text() for u in users}
        yield work, dict(good=good, cheat=cheat, blank=blank), term, ex, log
    finally:
        for s in services:
            if s.proc.poll() is None:
                s.kill()
        for user in users:
            user.remove()
        shutil.rmtree(work, ignore_errors=True)


def test_each_student_gets_feedback_within_two_minutes(served):
    _, who, _, _, log = served
    out = ROOT / "test-output" / "serve"  # the service's logs and the waits, for the record
    out.mkdir(parents=True, exist_ok=True)
    (out / "latency.json").write_text(json.dumps(log["latency"], indent=1))
    for i, text in enumerate(log["logs"], 1):
        (out / f"serve-{i}.log").write_text(text)
    for name, seconds in log["latency"].items():
        assert seconds <= FEEDBACK_WITHIN, f"{name} waited {seconds:.0f} s for feedback"
    for role in ("good", "cheat", "blank"):
        page = log["before"][who[role].name][0]
        assert "Attempt 1 of 3" in page and fb.CSP_META in page, page[:2000]
    assert fb.VISIBLE_PASSED in log["before"][who["good"].name][0]
    assert "not written yet" in log["before"][who["blank"].name][0]


def test_before_the_due_date_no_hidden_test_shows(served):
    _, who, _, _, log = served
    cheat = log["before"][who["cheat"].name][0]
    assert fb.VISIBLE_PASSED in cheat and "Score" not in cheat
    for trace in HIDDEN_TRACES + (fb.HIDDEN_SUMMARY, fb.HIDDEN_FAILED):
        assert trace not in cheat, trace
    # after it, the full page: the points, a hidden test failed, but not which or how
    full = log["after"][who["cheat"].name]
    assert "Score:" in full and fb.HIDDEN_SUMMARY in full
    for trace in HIDDEN_TRACES:
        assert trace not in full, trace


def test_the_fourth_attempt_is_refused_with_the_reason(served):
    _, who, term, _, log = served
    blank = who["blank"]
    fourth = _fetched(blank, log["stamps"][blank.name][3])[0].read_text()
    assert "used all 3 attempts" in fourth, fourth
    recs = serve.Ledger(term, A1).records(blank.name)
    assert [r.status for r in recs] == ["graded", "graded", "graded", "refused"]
    assert [r.number for r in recs[:3]] == [1, 2, 3]
    assert re.search(rf"{blank.name} .*refused: not graded: you have used all 3 attempts", log["logs"][-1])


def test_killed_while_grading_every_submission_is_graded_once(served):
    _, who, term, ex, log = served
    entries = [e.name for e in exchange.inbound(ex, A1)]
    assert len(entries) == 6
    both = "".join(log["logs"])
    for name in entries:
        decided = [ln for ln in both.splitlines() if repr(name) in ln and (" graded " in ln or "refused" in ln)]
        assert len(decided) == 1, (name, decided)
    assert f"{log['killed_during']!r}: attempt" not in log["logs"][0], "the killed run recorded the grading"
    assert f"{log['killed_during']!r}: attempt 2 graded" in log["logs"][1]
    assert all(r.status in serve.FINAL for r in serve.Ledger(term, A1).records())


def test_serve_grades_equal_grade(served):
    work, who, term, _, log = served
    other = CourseDir(work / "graded", source=term.source)
    ledger = serve.Ledger(term, A1)
    for role in ("good", "cheat"):
        name = who[role].name
        shutil.copytree(term.submission(name, A1), other.submission(name, A1))
    api.grade(A1, other, workers=2, unsafe=UNSAFE)
    with other.gradebook() as gb:
        for role in ("good", "cheat"):
            name = who[role].name
            rec = next(r for r in ledger.records(name) if r.status == serve.GRADED)
            sub = gb.find_submission(A1, name)
            cells = {nb.name: {g.name: [g.auto_score, g.manual_score, bool(g.needs_manual_grade)] for g in nb.grades}
                     for nb in sub.notebooks}
            assert cells == rec.cells, role
    scores = {who[r].name: next(x for x in ledger.records(who[r].name)).score for r in ("good", "cheat")}
    top = next(x for x in ledger.records(who["good"].name)).max_score
    assert scores[who["good"].name] < top  # the written answers wait for a grader
    assert scores[who["cheat"].name] < scores[who["good"].name]
