"""A student opens their feedback page in a real (headless) browser: the math of the notebook and
of their own answers is rendered (MathML, no script on the page), the top of the page says per
part what to fix, a hidden test is never shown, and nothing a student wrote runs.

Four submissions of the tiny assignment are graded by `autograder.batch` and given feedback by
`api.feedback`: "wrong" (a visible test fails; its written answer and a markdown cell of its own
hold A1's derivative table and formulas with \\dfrac, \\partial and \\text), "hidden" (only a
hidden test fails), "attacker" (a written answer with a script, an onerror handler and a
javascript: link, hostile TeX, and outputs that would run: tests/content_attacks.py). A control
puts the attacker's unsanitised answer back into its page: it runs without the page's policy and
not with it. Needs Chromium, chromedriver and selenium as tests/test_browser.py does; screenshots
go to test-output/browser/ and the test's tmp dir.
"""
from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from autograder import api
from autograder import feedback as fb
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

MATH_ANSWER = r"""Each activation and its local derivative:

| name | forward | derivative |
| --- | --- | --- |
| sigmoid | $\sigma(x) = \dfrac{1}{1 + e^{-x}}$ | $\sigma(x)\,(1 - \sigma(x))$ |
| ReLU | $\max(0, x)$ | $1$ if $x > 0$, else $0$ |

and the chain rule, $\partial L / \partial \text{out}$ times the local derivative:

$$\frac{\partial L}{\partial x} = \frac{\partial L}{\partial \text{out}} \odot \sigma(x)\,(1 - \sigma(x))$$
"""
HOSTILE_TEX = (r"Math that tries: $\href{javascript:window.__autograder_pwned='href'}{\text{click me}}$, "
               r"$\style{background:url(javascript:1)}{s}$, $\text{<img src=x onerror=window.__autograder_pwned=2>}$, "
               r"$\verb|<script>window.__autograder_pwned=3</script>|$.")
HIDDEN_SOURCE = "add(-1.5, 4)"  # the hidden test's own text (tests/tiny_assignment.py)


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    base = tmp_path_factory.mktemp("feedback_browser")
    work = tiny.term(base)
    released = api.release(tiny.NAME, work, release_dir=base / "release")
    good = ca.filled(released, base / "solutions")
    wrong = ca.add_markdown(ca.with_cell(good, "add", "def add(a, b):\n    return a - b"), MATH_ANSWER)
    notebooks = {
        "wrong": ca.with_cell(wrong, "why", MATH_ANSWER),
        "hidden": ca.with_cell(good, "add", "def add(a, b):\n    return a + b if a > 0 else 0"),
        "attacker": ca.add_markdown(ca.with_cell(ca.with_cell(good, "why", ca.SCRIPT_ANSWER + "\n\n" + HOSTILE_TEX),
                                                 "add", prepend=ca.OUTPUT_ATTACK), HOSTILE_TEX),
    }
    ca.grade_class(work, notebooks)
    t0 = time.perf_counter()
    api.feedback(tiny.NAME, work)
    print(f"feedback for 3 submissions: {time.perf_counter() - t0:.2f} s")
    found = {p.parent.parent.name: p for p in (work / "feedback").glob(f"*/{tiny.NAME}/*.html")}
    assert set(found) == set(notebooks)
    driver = bl.start_chromium(base / "chromium-profile")
    try:
        driver.set_window_size(1280, 900)
        yield driver, found, base
    finally:
        driver.quit()


def _open(driver, page: Path) -> None:
    driver.get(page.as_uri())
    bl.wait_for("the feedback page", lambda: driver.execute_script("return document.readyState === 'complete'"),
                timeout=30)


def _marker(driver):
    return driver.execute_script("return window.__autograder_pwned || null")


def _shot(driver, base: Path, name: str) -> None:
    bl.shot(driver, SHOTS, name)
    bl.shot(driver, base / "shots", name)


def test_math_is_rendered_and_the_top_says_what_to_fix(pages):
    driver, found, base = pages
    _open(driver, found["wrong"])
    text = driver.execute_script("return document.body.innerText")
    assert "$\\" not in text and "\\dfrac" not in text and "\\partial" not in text, text[:2000]
    layout = driver.execute_script("""
const maths = Array.from(document.querySelectorAll('#notebook math'));
const box = e => e.getBoundingClientRect();
const frac = document.querySelector('#notebook math mfrac');
const mi = document.querySelector('#notebook math mi');
return {count: maths.length, empty: maths.filter(m => box(m).width < 2 || box(m).height < 2).length,
        block: document.querySelectorAll('#notebook math[display="block"]').length,
        fracHeight: frac ? box(frac).height : 0, miHeight: mi ? box(mi).height : 0,
        tableMath: document.querySelectorAll('#notebook td math').length};""")
    # the markdown cell and the written answer: each 6 inline formulas in the table, 1 in the text
    # and 1 displayed
    assert layout["count"] == 16 and layout["empty"] == 0, layout
    assert layout["block"] == 2 and layout["tableMath"] == 12, layout
    # MathML laid out by the browser: a fraction is a numerator above a denominator
    assert layout["fracHeight"] > 1.4 * layout["miHeight"] > 0, layout
    summary = driver.execute_script("""const t = document.querySelector('table.autograder-summary');
        const r = t.getBoundingClientRect(); return {text: t.innerText, bottom: r.bottom, height: innerHeight};""")
    assert summary["bottom"] <= summary["height"], summary  # seen without scrolling
    assert "add(2, 3)" in summary["text"] and "expected 5.0, got -1.0" in summary["text"], summary["text"]
    _shot(driver, base, "feedback_summary")
    driver.execute_script("document.querySelector('#notebook td math').scrollIntoView({block: 'center'})")
    time.sleep(0.3)
    _shot(driver, base, "feedback_math")
    assert _marker(driver) is None


def test_a_hidden_test_says_only_that_it_failed(pages):
    driver, found, base = pages
    _open(driver, found["hidden"])
    summary = driver.execute_script("return document.querySelector('table.autograder-summary').innerText")
    assert fb.HIDDEN_SUMMARY in summary, summary
    text = driver.execute_script("return document.body.innerText")
    assert HIDDEN_SOURCE not in text and "2.5" not in summary and "HIDDEN" not in text
    assert HIDDEN_SOURCE not in found["hidden"].read_text().replace("&#39;", "'")
    _shot(driver, base, "feedback_hidden")


def test_nothing_the_student_wrote_runs(pages):
    driver, found, base = pages
    _open(driver, found["attacker"])
    time.sleep(1.5)
    assert _marker(driver) is None, _marker(driver)
    text = driver.execute_script("return document.body.innerText").replace("\xa0", " ")
    assert "Addition is commutative" in text and "click me" in text
    url = driver.current_url
    clickable = driver.execute_script("""const m = Array.from(document.querySelectorAll('math'))
        .find(e => e.textContent.replace(/\\u00a0/g, ' ').includes('click me'));
        m.scrollIntoView({block: 'center'}); return [m, ...m.querySelectorAll('mtext')];""")
    for element in clickable:  # real clicks at each one's centre, as a student's
        element.click()
    time.sleep(0.5)
    assert _marker(driver) is None and driver.current_url == url
    assert driver.execute_script("return document.querySelectorAll('script, [onerror], [onload], [href^=javascript]').length") == 0
    _shot(driver, base, "feedback_attacker")


def test_the_policy_alone_stops_what_a_broken_sanitiser_would_let_through(pages, tmp_path):
    """The attacker's answer and outputs put back unsanitised into its page: they run without the
    page's policy (the control) and not with it."""
    driver, found, _ = pages
    text = found["attacker"].read_text()
    assert text.count(fb.CSP_META) == 1
    injected = (ca.SCRIPT_ANSWER + '<b>bold</b><img src=x onerror="window.__autograder_pwned=\'text/html onerror\'">'
                + "<svg xmlns='http://www.w3.org/2000/svg' onload=\"window.__autograder_pwned='svg'\"></svg>")
    body = text.index("<body")
    with_policy = tmp_path / "with_policy.html"
    with_policy.write_text(text[:body] + text[body:].replace(">", ">" + injected, 1))
    without = tmp_path / "without_policy.html"
    without.write_text(with_policy.read_text().replace(fb.CSP_META, ""))
    _open(driver, without)
    bl.wait_for("the injected script, without the policy", lambda: _marker(driver), timeout=10)
    _open(driver, with_policy)
    time.sleep(1.5)
    assert _marker(driver) is None, _marker(driver)
    shutil.copy(with_policy, SHOTS / "feedback_attacker_injected.html") if SHOTS.is_dir() else None
