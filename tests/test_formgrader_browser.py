"""The instructor opens submissions in nbgrader's Formgrader, in a real (headless) browser: a script
in a student's written answer does not run and no grade changes.

Three submissions of the tiny assignment are autograded by `autograder.batch`: an honest one, an
attacker whose written answer holds a script that would set a marker, write a file through the
Jupyter contents API and give itself full marks through Formgrader's API (tests/content_attacks.py),
and a control: the same attack, put back unsanitised into its autograded notebook after grading,
as a grader without the sanitiser would have left it. The control must run (its marker is set, its
file is written, its grades change), which shows that this page and this browser would run such a
script; the attacker's must not, and no grade of the honest or the attacking student changes.

Needs Chromium, chromedriver and selenium as tests/test_browser.py does; screenshots go to
test-output/browser/.
"""
from __future__ import annotations

import time
from pathlib import Path

import nbformat
import pytest

from autograder import api, course
from tests import content_attacks as ca
from tests import tiny_assignment as tiny

try:
    from tests import browser_lab as bl
except ImportError:  # pragma: no cover - tests/ as a plain folder
    import browser_lab as bl

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "test-output" / "browser"
_missing = bl.missing_browser()
pytestmark = [pytest.mark.skipif(_missing is not None, reason=_missing or ""), pytest.mark.xdist_group("browser")]


def _grades(work, student):
    with course.CourseDir(work).gradebook() as gb:
        sub = gb.find_submission_notebook(tiny.NOTEBOOK[:-len(".ipynb")], tiny.NAME, student)
        return sub.id, sorted((g.name, g.auto_score, g.manual_score, g.extra_credit) for g in sub.grades)


def _nbgrader_config(root: Path, work: course.CourseDir) -> None:
    """What Formgrader reads from the server's root folder: this course, its gradebook."""
    (root / "nbgrader_config.py").write_text(
        "c = get_config()  # noqa: F821\n"
        f"c.CourseDirectory.course_id = {course.CourseDir(work).nbgrader_config().CourseDirectory.course_id!r}\n"
        f"c.CourseDirectory.root = {str(work)!r}\n"
        f"c.CourseDirectory.source_directory = {str(work.source.solutions)!r}\n"
        f"c.CourseDirectory.db_url = {course.CourseDir(work).gradebook_url!r}\n")


@pytest.fixture(scope="module")
def formgrader(tmp_path_factory):
    base = tmp_path_factory.mktemp("formgrader")
    root = base / "root"
    # Formgrader needs the course inside the server's root
    work = course.CourseDir(root / "course", source=tiny.write_course(base))
    released = api.release(tiny.NAME, work, release_dir=base / "release")
    good = ca.filled(released, base / "solutions")
    notebooks = {"honest": ca.with_cell(good, "why", ca.HONEST_ANSWER),
                 "attacker": ca.with_cell(good, "why", ca.SCRIPT_ANSWER),
                 "control": ca.with_cell(good, "why", ca.SCRIPT_ANSWER)}
    ca.grade_class(work, notebooks)
    # the control: its written answer as it was submitted, put back after grading
    control = work / "autograded" / "control" / tiny.NAME / tiny.NOTEBOOK
    nb = nbformat.read(control, as_version=4)
    next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "why").source = ca.SCRIPT_ANSWER
    nbformat.write(nb, control)
    _nbgrader_config(root, work)

    server = bl.Lab(root, base)
    driver = None
    try:
        driver = bl.start_chromium(base / "chromium-profile")
        # the instructor logs in once (the token sets the login cookie), then opens pages by address
        driver.get(server.url("lab"))
        bl.wait_for("JupyterLab", lambda: driver.execute_script("return !!window.jupyterapp"), timeout=90)
        yield server, driver, root, work
    finally:
        if driver is not None:
            driver.quit()
        server.stop()


def _open_submission(driver, server, submission_id: str) -> None:
    driver.get(f"{server.base}/formgrader/submissions/{submission_id}/")
    try:
        bl.wait_for("the Formgrader page", lambda: driver.execute_script(
            "return document.readyState === 'complete' && typeof window.submission_id === 'string' "
            "&& document.querySelectorAll('.cell').length > 0"), timeout=60)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\npage: {driver.current_url}\n{driver.page_source[:1500]}\n"
                             f"server log:\n{server.log_tail(3000)}") from None


def _show(driver, text: str) -> None:
    """Scroll the written answer that holds text into view, for the screenshot."""
    driver.execute_script("""const el = Array.from(document.querySelectorAll('.text_cell_render, .rendered_html'))
        .find(e => e.textContent.includes(arguments[0])); if (el) el.scrollIntoView({block: 'center'});""", text)
    time.sleep(0.5)


def _marker(driver):
    return driver.execute_script("return window.__autograder_pwned || null")


def test_script_in_a_written_answer_does_not_run_in_formgrader(formgrader):
    server, driver, root, work = formgrader
    before = {s: _grades(work, s) for s in ("honest", "attacker", "control")}
    assert before["attacker"][1] == before["control"][1]  # the same grades to start with

    # the control first: the unsanitised answer runs in this Formgrader and rewrites its grades
    control_id = before["control"][0]
    _open_submission(driver, server, control_id)
    done = bl.wait_for("the control's script to finish",
                       lambda: driver.execute_script("return window.__autograder_done || null"), timeout=30)
    assert done.startswith("grades rewritten: 200"), (done, server.log_tail(2500))
    _show(driver, "Addition is commutative")
    bl.shot(driver, SHOTS, "formgrader_control_unsanitised")
    assert (root / f"pwned-{control_id}.txt").exists(), "the control's script could not write a file"
    assert _grades(work, "control")[1] != before["control"][1], "the control's script changed no grade"

    # the attacker: the same answer, graded by the autograder
    attacker_id = before["attacker"][0]
    _open_submission(driver, server, attacker_id)
    time.sleep(3)  # as long as the control's script needed, and more
    page = driver.page_source
    text = driver.find_element("tag name", "body").text
    _show(driver, "Addition is commutative")
    bl.shot(driver, SHOTS, "formgrader_attacker_sanitised")
    assert _marker(driver) is None, _marker(driver)
    assert driver.execute_script("return window.__autograder_done || null") is None
    assert not (root / f"pwned-{attacker_id}.txt").exists()
    assert "Addition is commutative" in text  # the answer is there to grade
    assert "The autograder removed HTML from this cell" in text
    assert "__autograder_pwned" not in page.split("</head>", 1)[1]
    # the honest student's page shows the answer as written, with its LaTeX left for MathJax
    honest_id = before["honest"][0]
    _open_submission(driver, server, honest_id)
    time.sleep(1)
    assert _marker(driver) is None
    assert "a quote" in driver.find_element("tag name", "body").text
    _show(driver, "a quote")
    bl.shot(driver, SHOTS, "formgrader_honest")
    for student in ("honest", "attacker"):
        assert _grades(work, student) == before[student], student
    print(f"Formgrader: control script ran ({_grades(work, 'control')[1]}), attacker's did not; "
          f"grades unchanged: {before['attacker'][1]}")


def test_feedback_pages_run_no_student_script(formgrader, tmp_path):
    """The feedback of all three, the control included (feedback cleans its notebook again), runs no
    student script; and the pages' policy alone stops an inline script and an onerror handler that
    a broken sanitiser might let through, which the same page without the policy runs."""
    from autograder import feedback as fb

    server, driver, root, work = formgrader
    api.feedback(tiny.NAME, work)
    pages = {p.parent.parent.name: p for p in (work / "feedback").glob(f"*/{tiny.NAME}/*.html")}
    assert set(pages) == {"honest", "attacker", "control"}
    for student, page in pages.items():
        driver.get(page.as_uri())
        time.sleep(1)
        assert _marker(driver) is None, (student, _marker(driver))
        assert "Addition is commutative" in driver.find_element("tag name", "body").text or student == "honest"
        if student == "attacker":
            _show(driver, "Addition is commutative")
            bl.shot(driver, SHOTS, "feedback_attacker")

    injected = ("<script>window.__autograder_pwned = 'inline script'</script>"
                "<img src=x onerror=\"window.__autograder_pwned = 'onerror'\">")
    text = pages["attacker"].read_text()
    assert fb.CSP_META in text
    body = text.index("<body")
    with_policy = tmp_path / "with_policy.html"
    with_policy.write_text(text[:body] + text[body:].replace(">", ">" + injected, 1))
    without = tmp_path / "without_policy.html"
    without.write_text(with_policy.read_text().replace(fb.CSP_META, ""))
    driver.get(without.as_uri())
    bl.wait_for("the injected script, without the policy", lambda: _marker(driver), timeout=10)
    driver.get(with_policy.as_uri())
    time.sleep(1.5)
    assert _marker(driver) is None, _marker(driver)
