"""The course on a shared JupyterHub: nbgrader's exchange between different unix users.

The instructor is this test's process (root, as in CI); three students are unix users the test
creates (useradd) and removes. They share one exchange directory, made by hub/setup_exchange.sh,
and run nbgrader's own student commands as themselves, with hub/nbgrader_config.py:

- the instructor releases A1 (autograder.exchange.release: nbgrader's ExchangeReleaseAssignment);
- `good` fetches it, fills in the solution and submits; `blank` submits it untouched; `outsider`
  (not on the roster) submits, and also plants a folder named for `good`;
- `python -m autograder exchange collect` files `good`'s and `blank`'s work, reports `outsider` as
  unknown, refuses the planted folder, and after `good` submits again keeps the filed notebook
  (no --force) and reports the older submission as a duplicate;
- `python -m autograder grade`, `feedback`, `exchange feedback`; each student fetches feedback
  with `nbgrader fetch_feedback` and gets their own page only.

`good`'s grade in the gradebook equals the grade the LMS path (`collect` of an export) gives the
very same notebook. Skipped with the reason where users cannot be created (not root, no useradd).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from autograder import api, cli, course, exchange, submissions

from tests.hub_users import Student, add_students, why_no_users
from tests.isolation import UNSAFE

ROOT = Path(__file__).resolve().parents[1]
A1 = "A1"
NOTEBOOK = "A1_mlp_backprop.ipynb"
COURSE_ID = "cnn-architectures"


_WHY = why_no_users()
needs_users = pytest.mark.skipif(_WHY is not None, reason=_WHY or "")
pytestmark = pytest.mark.xdist_group("exchange")


def _cli(*args: str) -> str:
    result = subprocess.run([sys.executable, "-m", "autograder", *args], cwd=ROOT, capture_output=True,
                            text=True, timeout=1800)
    assert result.returncode == 0, f"python -m autograder {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


def _autograded(course_dir: Path, student: str) -> tuple[float, float]:
    row = next(r for r in api.grade_rows(course_dir, A1) if r["student"] == student)
    return row["autograded"], row["autograded_max"]


@pytest.fixture(scope="module")
def hub():
    work = Path(tempfile.mkdtemp(prefix="exchange-test-"))
    os.chmod(work, 0o755)  # the students reach their homes and the exchange through it
    users = []
    try:
        add_students(work, "ag", ("good", "blank", "outsider"), users)
        yield work, dict(zip(("good", "blank", "outsider"), users))
    finally:
        for user in users:
            user.remove()
        shutil.rmtree(work, ignore_errors=True)


@pytest.fixture(scope="module")
def round_trip(hub):
    work, who = hub
    good, blank, outsider = who["good"], who["blank"], who["outsider"]
    ex = work / "exchange"
    subprocess.run(["sh", str(ROOT / "hub" / "setup_exchange.sh"), str(ex)], check=True, capture_output=True)
    course_dir = work / "course"
    roster = work / "students.csv"
    roster.write_text(f"id,first_name\n{good.name},Good\n{blank.name},Blank\n")
    _cli("roster", str(roster), "--course-dir", str(course_dir))
    # the API with its own release folder, so that the repository's assignments/ is not rewritten
    dest = exchange.release(course.Course().assignment(A1), course_dir, ex, release_dir=work / "release")
    log = {"released": dest}

    for student in (good, blank, outsider):
        student.nbgrader("fetch_assignment", A1, ex)
    fetched = good.home / A1 / NOTEBOOK
    solution = submissions.read(course.Course().solutions / A1 / NOTEBOOK)
    good.write(fetched, submissions.fill(submissions.read(fetched), solution))
    for student in (good, blank, outsider):
        student.nbgrader("submit", A1, ex)
    # outsider plants a folder named for good, newer than good's own submission
    outsider.run(["mkdir", str(ex / COURSE_ID / "inbound" / f"{good.name}+{A1}+2099-01-01 00:00:00.000000 UTC+x")])
    log["collect"] = _cli("exchange", "collect", A1, "--exchange", str(ex), "--course-dir", str(course_dir),
                          "--due", "2000-01-01T00:00")
    filed = (course_dir / "submitted" / good.name / A1 / NOTEBOOK).read_bytes()

    # good submits again, half done: collected without --force, the filed notebook is kept
    half = set(submissions.solution_parts(solution)[:1])
    good.write(fetched, submissions.fill(submissions.read(work / "release" / A1 / NOTEBOOK), solution, half))
    good.nbgrader("submit", A1, ex)
    log["recollect"] = _cli("exchange", "collect", A1, "--exchange", str(ex), "--course-dir", str(course_dir))
    log["kept"] = (course_dir / "submitted" / good.name / A1 / NOTEBOOK).read_bytes() == filed

    unsafe = ["--unsafe-no-sandbox"] if UNSAFE else []
    log["grade"] = _cli("grade", A1, "--course-dir", str(course_dir), *unsafe)
    _cli("feedback", A1, "--course-dir", str(course_dir))
    log["release_feedback"] = _cli("exchange", "feedback", A1, "--exchange", str(ex), "--course-dir", str(course_dir))
    for student in (good, blank, outsider):
        log[f"fetch_feedback {student.name}"] = student.nbgrader("fetch_feedback", A1, ex, check=False)

    # the LMS path, the same notebook: an export with one file, collected and graded in another course
    lms_dir, export = work / "lms", work / "export"
    export.mkdir()
    (export / f"{good.name}_{NOTEBOOK}").write_bytes(filed)
    api.release(A1, lms_dir, release_dir=work / "lms-release")
    report = api.collect(A1, export, lms_dir)
    assert report.filed == [(good.name, NOTEBOOK)], report.lines()
    api.grade(A1, lms_dir, unsafe=UNSAFE)
    return work, who, course_dir, lms_dir, log


def _feedback_pages(student: Student) -> list[Path]:
    return sorted((student.home / A1 / "feedback").glob("*/*.html"))


@needs_users
def test_release_puts_the_student_version_in_the_exchange(round_trip):
    work, who, *_ = round_trip
    released = work / "exchange" / COURSE_ID / "outbound" / A1 / NOTEBOOK
    assert released.read_bytes() == (work / "release" / A1 / NOTEBOOK).read_bytes()
    assert (who["good"].home / A1 / NOTEBOOK).exists() and (who["blank"].home / A1 / NOTEBOOK).exists()


@needs_users
def test_collect_reports_like_lms_collect(round_trip):
    _, who, course_dir, _, log = round_trip
    good, blank, outsider = (who[k].name for k in ("good", "blank", "outsider"))
    first = log["collect"]
    assert "filed 2 file(s) for 2 student(s)" in first, first
    assert re.search(rf"^late +{good}: ", first, re.M) and re.search(rf"^late +{blank}: ", first, re.M), first
    assert re.search(rf"^unknown +{outsider}: .*not in the roster", first, re.M), first
    assert re.search(rf"^refused +'{good}\+A1\+2099.*owned by '{outsider}'", first, re.M), first
    assert sorted(p.name for p in (course_dir / "submitted").iterdir()) == sorted([good, blank])
    again = log["recollect"]
    assert re.search(rf"^kept +{good}: {NOTEBOOK} is already in submitted/ and differs", again, re.M), again
    assert re.search(rf"^duplicate {good}: ignored {good}\+A1\+", again, re.M), again
    assert log["kept"], "a second collect without --force replaced the notebook already filed"


@needs_users
def test_exchange_grade_equals_the_lms_grade(round_trip):
    _, who, course_dir, lms_dir, _ = round_trip
    score, top = _autograded(course_dir, who["good"].name)
    assert score == top > 0, f"the solution earned {score} of {top} autograded points through the exchange"
    assert (score, top) == _autograded(lms_dir, who["good"].name)
    assert _autograded(course_dir, who["blank"].name)[0] == 0


@needs_users
def test_feedback_reaches_only_its_student(round_trip):
    work, who, course_dir, _, log = round_trip
    good, blank, outsider = who["good"], who["blank"], who["outsider"]
    assert "released the feedback of 2 student(s)" in log["release_feedback"], log["release_feedback"]
    pages = {s.name: _feedback_pages(s) for s in (good, blank, outsider)}
    assert [p.name for p in pages[good.name]] == [A1 + "_mlp_backprop.html"], log[f"fetch_feedback {good.name}"]
    assert [p.name for p in pages[blank.name]] == [A1 + "_mlp_backprop.html"], log[f"fetch_feedback {blank.name}"]
    assert pages[outsider.name] == [], "a student whose work was not collected got feedback"
    # each page is the one generated for that student (byte for byte), and the two differ
    for s in (good, blank):
        mine = course_dir / "feedback" / s.name / A1 / "A1_mlp_backprop.html"
        assert pages[s.name][0].read_bytes() == mine.read_bytes(), f"{s.name} fetched a page that is not theirs"
    assert pages[good.name][0].read_bytes() != pages[blank.name][0].read_bytes()
    # nobody can list the released feedback to find another's page
    listing = blank.run([blank.python, "-c", "import os, sys; os.listdir(sys.argv[1])",
                         str(work / "exchange" / COURSE_ID / "feedback")], check=False)
    assert listing.returncode != 0 and "PermissionError" in listing.stderr


@needs_users
def test_students_cannot_read_each_others_submissions(round_trip):
    work, who, *_ = round_trip
    inbound = work / "exchange" / COURSE_ID / "inbound"
    listing = who["blank"].run([who["blank"].python, "-c", "import os, sys; print(os.listdir(sys.argv[1]))", str(inbound)],
                               check=False)
    assert listing.returncode != 0 and "PermissionError" in listing.stderr


@needs_users
def test_student_config_hides_the_instructor_panels(hub):
    _, who = hub
    student = who["blank"]
    page = json.loads((student.home / ".jupyter" / "labconfig" / "page_config.json").read_text())
    disabled = {k for k, v in page.get("disabledExtensions", {}).items() if v}
    assert {"@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment", "@jupyter/nbgrader:course-list"} <= disabled
    assert "@jupyter/nbgrader:assignment-list" not in disabled
    # the server extensions are checked where they act: tests/test_exchange_browser.py (no /formgrader)
    server = json.loads((student.home / ".jupyter" / "jupyter_server_config.json").read_text())
    extensions = server["ServerApp"]["jpserver_extensions"]
    assert extensions["nbgrader.server_extensions.formgrader"] is False
    assert extensions["nbgrader.server_extensions.assignment_list"] is True


@pytest.mark.parametrize("action", ["release", "collect", "feedback"])
def test_a_missing_exchange_is_a_clear_error(tmp_path, capsys, action):
    missing = tmp_path / "no-exchange"
    code = cli.main(["exchange", action, A1, "--exchange", str(missing), "--course-dir", str(tmp_path / "course")])
    err = capsys.readouterr().err
    assert code == 2 and f"the exchange directory {missing} does not exist" in err and "setup_exchange.sh" in err, err
    assert not missing.exists(), "a missing exchange (an unmounted volume) must not be created here"


def test_collect_before_any_release_is_a_clear_error(tmp_path, capsys):
    ex = tmp_path / "exchange"
    ex.mkdir()
    code = cli.main(["exchange", "collect", A1, "--exchange", str(ex), "--course-dir", str(tmp_path / "course")])
    err = capsys.readouterr().err
    assert code == 2 and "release an assignment to this exchange first" in err, err
