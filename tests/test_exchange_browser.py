"""A student's JupyterLab on the course's hub: the Assignment List shows A1, Fetch and Submit work
from the panel, and after *Fetch Feedback* the student sees their score, in headless Chromium.

The student is a unix user the test creates (tests/hub_users.py), set up as the hub's single-user
image is (hub/single_user_setup.sh --user); its JupyterLab runs as that user. The instructor (this
process) releases A1 to a temporary exchange made by hub/setup_exchange.sh and, after the student
submits from the panel, collects the submission with autograder.exchange.collect. The instructor's
panels are hidden: no Formgrader or Create Assignment in the Nbgrader menu, and /formgrader is not
served.

Then the instructor runs the grading service once over the exchange (autograder.api.serve with
once=True, the owner check on: the submission folder must be the student's). A1's due date is past,
so the service releases the full feedback page through nbgrader's feedback exchange. In the panel's
Submitted assignments list the submission shows "(feedback available to fetch)" after a refresh;
the student clicks *Fetch Feedback*, the submission then shows a "(view feedback)" link, and the page
is in their home at A1/feedback/<the submission's timestamp>/A1_mlp_backprop.html. The link opens
that folder in the file browser; the student opens the page there (JupyterLab's HTML viewer), and
its header shows nbgrader's "A1_mlp_backprop (Score: X / Y)" with the score and maximum the
gradebook has for the submission (the untouched release: 0 points).

Screenshots go to test-output/browser/ with the other browser tests'. Skipped with the reason
where users cannot be created or the browser is missing.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from autograder import api, exchange
from autograder.course import Course

from tests.hub_users import Student, student_python, why_no_users
from tests.isolation import UNSAFE

try:
    from tests import browser_lab as bl
except ImportError:  # pragma: no cover - tests/ as a plain folder
    import browser_lab as bl

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "test-output" / "browser"
A1 = "A1"
NOTEBOOK = "A1_mlp_backprop.ipynb"
PAGE = "A1_mlp_backprop.html"
_why = why_no_users() or bl.missing_browser()
pytestmark = [pytest.mark.skipif(_why is not None, reason=_why or ""), pytest.mark.xdist_group("browser")]


class StudentLab:
    """`python -m jupyterlab` as the student, on a free port with a random token."""

    def __init__(self, student: Student, timeout: float = 180):
        self.student, self.port, self.token = student, bl.free_port(), secrets.token_hex(16)
        settings = student.home / ".lab-settings"
        notif = settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
        student.run(["mkdir", "-p", str(notif.parent)])
        student.run([student.python, "-c", "import sys; open(sys.argv[1], 'w').write(sys.argv[2])", str(notif),
                     json.dumps({"fetchNews": "false", "checkForUpdates": False})])
        self.log_path = student.home / "jupyter-lab.log"
        self.proc = student.popen(
            [student.python, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
             f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={self.token}",
             f"--ServerApp.root_dir={student.home}", f"--LabApp.user_settings_dir={settings}",
             f"--LabApp.workspaces_dir={student.home / '.lab-workspaces'}", "--LabApp.expose_app_in_browser=True"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self._drain()
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the student's jupyter lab exited ({self.proc.returncode}):\n{self.log()}")
            if self.status("api/status") == 200:
                return
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"the student's jupyter lab did not answer within {timeout:.0f} s:\n{self.log()}")

    def _drain(self) -> None:
        import threading

        self._lines: list[str] = []

        def read():
            for line in iter(self.proc.stderr.readline, b""):
                self._lines.append(line.decode(errors="replace"))

        threading.Thread(target=read, daemon=True).start()

    def log(self) -> str:
        return "".join(self._lines)[-6000:]

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path.lstrip('/')}?token={self.token}&reset"

    def status(self, path: str) -> int | None:
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}/{path}",
                                     headers={"Authorization": f"token {self.token}"})
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                return r.status
        except urllib.error.HTTPError as exc:
            return exc.code
        except OSError:
            return None

    def stop(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if self.proc.poll() is not None:
                break
            try:
                os.killpg(self.proc.pid, sig)
            except (ProcessLookupError, PermissionError):
                break
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                pass


@pytest.fixture(scope="module")
def hub():
    work = Path(tempfile.mkdtemp(prefix="exchange-browser-"))
    os.chmod(work, 0o755)
    student = lab = driver = None
    try:
        student = Student(f"ag{secrets.token_hex(3)}lab", work)
        python, how = student_python(work, student.pw.pw_uid, student.pw.pw_gid)
        if python is None:
            pytest.skip(f"the student cannot run nbgrader: {how}")
        student.setup(python)
        ex = work / "exchange"
        subprocess.run(["sh", str(ROOT / "hub" / "setup_exchange.sh"), str(ex)], check=True, capture_output=True)
        # the hub's volume is at /srv/nbgrader/exchange; here it is a temporary folder
        config = student.home / ".jupyter" / "nbgrader_config.py"
        student.run([python, "-c", "import sys; open(sys.argv[1], 'a').write(sys.argv[2])", str(config),
                     f"\nc.Exchange.root = {str(ex)!r}\n"])
        course_dir = work / "course"
        exchange.release(Course().assignment(A1), course_dir, ex, release_dir=work / "release")
        lab = StudentLab(student)
        driver = bl.start_chromium(work / "chromium-profile")
        driver.get(lab.url("lab"))
        bl.wait_for("JupyterLab", lambda: driver.execute_script("return !!window.jupyterapp"), timeout=120)
        yield student, lab, driver, ex, course_dir
    finally:
        if driver is not None:
            driver.quit()
        if lab is not None:
            lab.stop()
        if student is not None:
            student.remove()
        shutil.rmtree(work, ignore_errors=True)


def _rows(driver, list_id: str) -> list[dict]:
    """The rows of one of the Assignment List's lists: their text and their buttons."""
    return driver.execute_script("""
const list = document.getElementById(arguments[0]);
if (!list) return [];
return Array.from(list.querySelectorAll('.list_item')).filter(r => r.offsetParent !== null).map(r => ({
  text: r.innerText, buttons: Array.from(r.querySelectorAll('button')).map(b => b.innerText)}));""", list_id)


def _click(driver, list_id: str, name: str, label: str) -> None:
    clicked = driver.execute_script("""
const list = document.getElementById(arguments[0]);
for (const row of list.querySelectorAll('.list_item')) {
  if (!row.innerText.includes(arguments[1])) continue;
  for (const b of row.querySelectorAll('button')) if (b.innerText === arguments[2]) { b.click(); return true; }
}
return false;""", list_id, name, label)
    assert clicked, f"no {label} button for {name} in #{list_id}: {_rows(driver, list_id)}"


def _menu_items(driver, menu: str) -> list[str]:
    from selenium.webdriver.common.by import By

    items = bl.wait_for(f"the '{menu}' menu in the student's menu bar", lambda: [
        e for e in driver.find_elements(By.CSS_SELECTOR, ".lm-MenuBar-item") if e.text.strip() == menu], 90)
    items[0].click()
    labels = bl.wait_for(f"the {menu} menu", lambda: [e.text.strip() for e in driver.find_elements(
        By.CSS_SELECTOR, ".lm-Menu-item .lm-Menu-itemLabel") if e.text.strip()], 10)
    return labels


def test_fetch_and_submit_from_the_assignment_list(hub):
    student, lab, driver, ex, course_dir = hub
    try:
        _fetch_and_submit(student, lab, driver, ex, course_dir)
    except AssertionError as exc:
        bl.shot(driver, SHOTS, "hub_failure")
        raise AssertionError(f"{exc}\n--- the student's jupyter lab log ---\n{lab.log()}") from None


def _fetch_and_submit(student, lab, driver, ex, course_dir):
    labels = _menu_items(driver, "Nbgrader")
    bl.shot(driver, SHOTS, "hub_student_nbgrader_menu")
    assert "Assignment List" in labels, labels
    assert not {"Formgrader", "Create Assignment", "Course List"} & set(labels), labels
    assert lab.status("formgrader") == 404, "the student's server serves the Formgrader"

    from selenium.webdriver.common.by import By

    next(e for e in driver.find_elements(By.CSS_SELECTOR, ".lm-Menu-item .lm-Menu-itemLabel")
         if e.text.strip() == "Assignment List").click()
    released = bl.wait_for("A1 in Released assignments", lambda: [
        r for r in _rows(driver, "released_assignments_list") if A1 in r["text"]], 120)
    assert "Fetch" in released[0]["buttons"], released
    bl.shot(driver, SHOTS, "hub_assignment_list_released")

    _click(driver, "released_assignments_list", A1, "Fetch")
    fetched = bl.wait_for("A1 in Downloaded assignments", lambda: [
        r for r in _rows(driver, "fetched_assignments_list") if A1 in r["text"]], 120)
    assert "Submit" in fetched[0]["buttons"], fetched
    assert (student.home / A1 / NOTEBOOK).is_file(), "Fetch did not put the notebook in the student's home"
    bl.shot(driver, SHOTS, "hub_assignment_list_fetched")

    _click(driver, "fetched_assignments_list", A1, "Submit")
    submitted = bl.wait_for("A1 in Submitted assignments", lambda: [
        r for r in _rows(driver, "submitted_assignments_list") if A1 in r["text"]], 120)
    bl.shot(driver, SHOTS, "hub_assignment_list_submitted")
    inbound = sorted((ex / "cnn-architectures" / "inbound").iterdir())
    assert [p.name.split("+")[:2] for p in inbound] == [[student.name, A1]], inbound
    assert inbound[0].stat().st_uid == student.pw.pw_uid
    assert submitted

    report = exchange.collect(Course().assignment(A1), course_dir, ex)
    assert report.report.filed == [(student.name, NOTEBOOK)], report.lines()
    filed = course_dir / "submitted" / student.name / A1 / NOTEBOOK
    assert filed.read_bytes() == (student.home / A1 / NOTEBOOK).read_bytes()

    _serve_and_fetch_feedback(student, lab, driver, ex, course_dir, inbound[0].name.split("+")[2])


def _submissions(driver, name: str) -> list[dict]:
    """The Submitted assignments list's submissions of one assignment: each one's text (its
    timestamp and feedback state) and whether it has a "(view feedback)" link."""
    return driver.execute_script("""
const list = document.getElementById('submitted_assignments_list');
if (!list) return [];
const out = [];
for (const row of list.querySelectorAll('.list_item')) {
  if (row.classList.contains('nested_list_item') || !row.innerText.includes(arguments[0])) continue;
  for (const sub of row.querySelectorAll('.nested_list_item')) out.push({
    text: sub.innerText.trim(),
    view: Array.from(sub.querySelectorAll('a')).some(a => a.innerText.includes('view feedback'))});
}
return out;""", name)


def _wait_submissions(driver, what: str, check, timeout: float) -> list[dict]:
    """Wait until check(submission) holds for one of A1's submissions in Submitted assignments;
    a failure shows the list as the panel has it."""
    try:
        return bl.wait_for(what, lambda: [s for s in _submissions(driver, A1) if check(s)], timeout)
    except AssertionError as exc:
        html = driver.execute_script(
            "const l = document.getElementById('submitted_assignments_list'); return l ? l.outerHTML : null;")
        raise AssertionError(f"{exc}\nsubmissions: {_submissions(driver, A1)}\nthe list: {(html or '')[:4000]}") from None


def _serve_and_fetch_feedback(student, lab, driver, ex, course_dir, stamp: str):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    # The instructor: the grading service, once over what is waiting.
    out = io.StringIO()
    t0 = time.monotonic()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            api.serve(A1, course_dir, ex, once=True, unsafe=UNSAFE)
    except Exception as exc:
        raise AssertionError(f"the service failed: {exc!r}; its output:\n{out.getvalue()}") from exc
    served = out.getvalue()
    print(f"the service graded and released in {time.monotonic() - t0:.0f} s:\n{served}")
    rows = [r for r in api.grade_rows(course_dir, A1) if r["student"] == student.name]
    assert len(rows) == 1, f"the gradebook after the service: {api.grade_rows(course_dir, A1)}\n{served}"
    row = rows[0]
    assert row["autograded"] == 0 and row["autograded_max"] > 0, f"the untouched release scored {row}\n{served}"
    assert "page: full" in served, f"the service did not release the full page:\n{served}"

    # The student: the panel finds the page in the exchange, and Fetch Feedback brings it home.
    driver.find_element(By.ID, "refresh_assignments_list").click()
    available = _wait_submissions(
        driver, "A1's submission '(feedback available to fetch)' in Submitted assignments",
        lambda s: stamp in s["text"] and "feedback available to fetch" in s["text"], 120)
    bl.shot(driver, SHOTS, "hub_feedback_available")
    assert not available[0]["view"], available

    _click(driver, "submitted_assignments_list", A1, "Fetch Feedback")
    fetched = _wait_submissions(driver, "a '(view feedback)' link on A1's submission after Fetch Feedback",
                                lambda s: stamp in s["text"] and s["view"], 120)
    bl.shot(driver, SHOTS, "hub_feedback_fetched")
    assert "feedback available to fetch" not in fetched[0]["text"], fetched
    pages = sorted((student.home / A1 / "feedback").glob(f"*/{PAGE}"))
    assert [p.relative_to(student.home).as_posix() for p in pages] == [f"{A1}/feedback/{stamp}/{PAGE}"], pages
    assert pages[0].stat().st_uid == student.pw.pw_uid, "the fetched page is not the student's file"
    text = pages[0].read_text(encoding="utf-8")
    score = f"{Path(NOTEBOOK).stem} (Score: {round(float(row['score']), 2)} / {round(float(row['max_score']), 2)})"
    assert score in " ".join(re.sub(r"<[^>]+>", " ", text).split()), \
        f"{pages[0]} does not say {score!r}; the gradebook has {row}; its start:\n{text[:3000]}"

    # The link opens the feedback folder in the file browser; the student opens the page from there.
    clicked = driver.execute_script("""
for (const a of document.querySelectorAll('#submitted_assignments_list .nested_list_item a'))
  if (a.innerText.includes('view feedback')) { a.click(); return true; }
return false;""")
    assert clicked, f"no '(view feedback)' link to click: {_submissions(driver, A1)}"
    folder = f"{A1}/feedback/{stamp}"

    seen = {}

    def listed():
        seen["browser at"] = driver.execute_script("""
const app = window.jupyterapp;
return app ? Array.from(app.shell.widgets('left')).filter(w => w.model && typeof w.model.path === 'string')
  .map(w => w.model.path) : null;""")
        names = [e for e in driver.find_elements(By.CSS_SELECTOR, ".jp-DirListing-item .jp-DirListing-itemText")
                 if e.is_displayed()]
        seen["listing"] = [e.text.strip() for e in names]
        return folder in (seen["browser at"] or []) and [e for e in names if e.text.strip() == PAGE]

    try:
        item = bl.wait_for(f"the file browser in {folder} listing {PAGE}", listed, 60)[0]
    except AssertionError as exc:
        raise AssertionError(f"{exc}\nseen: {seen}") from None
    bl.shot(driver, SHOTS, "hub_feedback_folder")
    ActionChains(driver).double_click(item).perform()
    frame = bl.wait_for(f"{PAGE} open in JupyterLab's HTML viewer", lambda: [
        f for f in driver.find_elements(By.CSS_SELECTOR, ".jp-HTMLViewer iframe") if f.is_displayed()], 60)[0]

    shown = {}

    def header():
        driver.switch_to.frame(frame)
        try:
            shown["text"] = " ".join(driver.find_element(By.TAG_NAME, "body").text.split())
        finally:
            driver.switch_to.default_content()
        return score in shown["text"]

    try:
        bl.wait_for(f"{score!r} on the page the student opened", header, 60)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\nthe gradebook has {row}; the page shows: {shown.get('text', '')[:3000]!r}") from None
    time.sleep(0.5)  # let the page paint before the screenshot
    bl.shot(driver, SHOTS, "hub_feedback_page")
