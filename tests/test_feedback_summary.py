"""The top of a feedback page (autograder/feedback.py): per part, the points and the first failing
check's message; a hidden test's name, message and source never appear. The page is rendered with
the course's template from a notebook shaped as nbgrader's GetGrades leaves it (scores in the
cells' metadata), so no gradebook is needed; tests/test_feedback_browser.py grades real ones."""
from __future__ import annotations

import copy
import html
import re
from pathlib import Path

import nbgrader
import pytest
from nbconvert import HTMLExporter
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
from traitlets.config import Config

from autograder import feedback as fb
from autograder import sanitize
from tests import content_attacks as ca

HIDDEN_LINE = "check_close('leaky_relu(-3)', leaky(-3), -0.3)"  # the hidden test's own text
HIDDEN_MESSAGE = "leaky_relu(-3): expected -0.3, got 0.0 [the secret of the hidden test]"
VISIBLE_MESSAGE = ("sigmoid_forward(x): relative error 1.00e+00 is above the tolerance 1e-07; "
                   "expected 0.5, got 0.27\nHint: exp(-x), not exp(x)")


def _grade(grade_id, points, score, *, solution=False, grade=True, needs_manual=False):
    return {"nbgrader": {"grade": grade, "grade_id": grade_id, "points": points, "score": score,
                         "solution": solution, "locked": not solution, "schema_version": 3,
                         "needs_manual_grade": needs_manual}}


def _checker_error(grade_id: str, line: int, text: str, ename: str, evalue: str) -> dict:
    """An error output as autograder.checker writes it for a test cell."""
    return new_output("error", ename=ename, evalue=evalue, traceback=[
        "Traceback (most recent call last):",
        f'  File "<grader cell {grade_id}>", line {line}, in <module>\n    {text}',
        '  File "/course/cnnkit/grading.py", line 80, in check_close\n    raise AssertionError(msg)',
        f"{ename}: {evalue}"])


def graded_notebook():
    """Parts 1-4 of an A1-like notebook as nbgrader's GetGrades leaves it."""
    tests_1 = ("from cnnkit.grading import check_close\ncheck_close('sigmoid(0)', sigmoid(0), 0.5)\n"
               "### BEGIN HIDDEN TESTS\n" + HIDDEN_LINE + "\n### END HIDDEN TESTS\n")
    tests_2 = "check_close('affine', affine(x), y)\n### BEGIN HIDDEN TESTS\n" + HIDDEN_LINE + "\n### END HIDDEN TESTS\n"
    cells = [
        new_markdown_cell("# A1: MLPs\n\nIntro with $\\sigma(x) = \\dfrac{1}{1+e^{-x}}$."),
        new_markdown_cell("## Part 1: Activations (12 points)"),
        new_code_cell("def sigmoid(x):\n    return 1 / (1 + np.exp(x))", metadata=_grade("act", None, None, solution=True, grade=False)),
        new_code_cell(tests_1, metadata=_grade("act__tests", 6, 0),
                      outputs=[_checker_error("act__tests", 2, "check_close('sigmoid(0)', sigmoid(0), 0.5)",
                                              "AssertionError", VISIBLE_MESSAGE)]),
        new_code_cell("### BEGIN HIDDEN TESTS\n" + HIDDEN_LINE + "\n### END HIDDEN TESTS\n",
                      metadata=_grade("act__hidden", 6, 0),
                      outputs=[_checker_error("act__hidden", 2, HIDDEN_LINE, "AssertionError", HIDDEN_MESSAGE)]),
        new_markdown_cell("## Part 2: The affine layer $W x + b$ (12 points)"),
        new_code_cell(tests_2, metadata=_grade("aff__tests", 12, 6),
                      outputs=[_checker_error("aff__tests", 3, HIDDEN_LINE, "AssertionError", HIDDEN_MESSAGE)]),
        new_markdown_cell("## Part 3: Losses (14 points)"),
        new_code_cell("check_close('loss', loss(), 1.0)", metadata=_grade("loss__tests", 14, 14)),
        new_markdown_cell("## Part 4: Numerical gradients (8 points)"),
        new_code_cell("check_close('grad', grad(), 1.0)", metadata=_grade("num__tests", 8, 0),
                      outputs=[_checker_error("num__tests", 1, "check_close('grad', grad(), 1.0)",
                                              "NotImplementedError", "")]),
        new_markdown_cell("## Part 5: A hostile message <b>(2 points)</b>"),
        new_code_cell("check()", metadata=_grade("evil__tests", 2, 0),
                      outputs=[_checker_error("evil__tests", 1, "check()", "ValueError",
                                              "<script>window.__autograder_pwned=1</script><img src=x onerror=alert(1)>")]),
        new_markdown_cell("## Part 6: Timed out (4 points)"),
        new_code_cell("### BEGIN HIDDEN TESTS\n" + HIDDEN_LINE + "\n### END HIDDEN TESTS\n",
                      metadata=_grade("slow__hidden", 4, 0),
                      outputs=[new_output("error", ename="NotRun", evalue="the notebook ran past its time limit of 900 s",
                                          traceback=["NotRun: the notebook ran past its time limit of 900 s"])]),
        new_markdown_cell("### 7a: Softmax, by hand (10 points)"),
        new_markdown_cell("$D_{ab} = p_a(\\delta_{ab} - p_b)$", metadata=_grade("deriv", 10, 0, solution=True, needs_manual=True)),
        new_markdown_cell("### 7b: ReLU, by hand (10 points)"),
        new_markdown_cell("It is linear.", metadata=_grade("deriv2", 10, 4, solution=True)),
    ]
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    return nb


@pytest.fixture(scope="module")
def processed():
    nb, resources = fb.FeedbackContent().preprocess(graded_notebook(), {})
    return nb, resources


def test_parts_group_the_graded_cells_under_their_headings():
    nb = sanitize.notebook(graded_notebook())
    fb.FeedbackContent().strip_hidden_tests(nb)
    found = fb.parts(nb)
    assert [(p.title, p.earned, p.possible) for p in found] == [
        ("Part 1: Activations (12 points)", 0, 12), ("Part 2: The affine layer $W x + b$ (12 points)", 6, 12),
        ("Part 3: Losses (14 points)", 14, 14), ("Part 4: Numerical gradients (8 points)", 0, 8),
        ("Part 5: A hostile message (2 points)", 0, 2), ("Part 6: Timed out (4 points)", 0, 4),
        ("7a: Softmax, by hand (10 points)", 0, 10), ("7b: ReLU, by hand (10 points)", 4, 10)]
    by_title = {p.title.split(":")[0]: p for p in found}
    assert by_title["Part 1"].message == f"AssertionError: {VISIBLE_MESSAGE}"  # the visible one comes first
    assert by_title["Part 1"].anchor == "act__tests"
    assert by_title["Part 2"].message == fb.HIDDEN_SUMMARY and by_title["Part 2"].anchor == "aff__tests"
    assert by_title["Part 3"].message is None
    assert by_title["Part 4"].message.startswith("NotImplementedError: not written yet")
    assert by_title["Part 6"].message == "NotRun: the notebook ran past its time limit of 900 s"
    assert by_title["7a"].pending and by_title["7a"].manual and not by_title["7b"].pending


def test_the_summary_says_what_to_fix_and_never_what_a_hidden_test_checks(processed):
    nb, resources = processed
    summary = resources["autograder"]["summary"]
    shown = html.unescape(re.sub(r"<[^>]+>", "", summary))
    assert VISIBLE_MESSAGE in shown and "Hint: exp(-x), not exp(x)" in shown
    assert shown.count(fb.HIDDEN_SUMMARY) == 1  # part 2; part 1's visible failure comes first
    assert "every check passed" in shown and "a written answer is not graded yet" in shown
    assert "written answer: see the comments below" in shown
    for secret in ("leaky_relu(-3)", "-0.3", "the secret of the hidden test", "act__hidden", "HIDDEN TESTS"):
        assert secret not in summary, secret
    # every value is escaped: the message's markup is text, the heading's <b> too
    assert ca.active_content(summary) == [] and "<script" not in summary and "<b>" not in summary
    assert "&lt;script&gt;" in summary
    assert '<a href="#aff__tests">' in summary
    assert "<math" in summary  # part 2's heading holds math


def test_hidden_tests_are_gone_from_the_notebook_too(processed):
    nb, _ = processed
    text = str(nb)
    for secret in ("leaky_relu(-3)", "the secret of the hidden test", "BEGIN HIDDEN"):
        assert secret not in text, secret
    assert "the notebook ran past its time limit" in text  # the grader's own message stays


def _page(nb) -> str:
    """The feedback page as api.feedback renders it, from a notebook with its grades in place."""
    class Api:
        config = Config()

    fb.configure(Api)
    c = Api.config
    c.HTMLExporter.template_name = "feedback"  # what nbgrader's API sets
    c.HTMLExporter.extra_template_paths = [str(Path(nbgrader.__file__).parent / "server_extensions" / "formgrader"
                                               / "static" / "node_modules" / "bootstrap" / "dist" / "css")]
    exporter = HTMLExporter(config=c)
    for pp in c.GenerateFeedback.preprocessors:
        if pp is not fb.GetGradesAndState:  # the grades are in the notebook already
            exporter.register_preprocessor(pp, enabled=True)
    resources = {"nbgrader": {"notebook": "A1_mlp", "score": 24.0, "max_score": 72.0, "late_penalty": 0}}
    page, _ = exporter.from_notebook_node(copy.deepcopy(nb), resources=resources)
    return page


def test_the_page_opens_with_the_summary_and_runs_nothing():
    page = _page(graded_notebook())
    body = page[page.index("<body"):]
    assert body.index('class="autograder-summary"') < body.index('id="notebook"')  # above every cell
    assert body.index('class="autograder-summary"') < body.index("<details>") < body.index('id="toc"')
    assert ca.active_content(page) == [], ca.active_content(page)  # no MathJax, no student script
    assert "mathjax" not in page.lower() and "<script" not in page
    assert "<math" in body and "$\\sigma" not in body  # the intro's formula is MathML
    assert "leaky_relu(-3)" not in page and "the secret of the hidden test" not in page
    shown = html.unescape(re.sub(r"<[^>]+>", "", body))
    assert "A1_mlp (Score: 24.0 / 72.0)" in shown


def test_the_policy_allows_no_script():
    assert "script-src 'none'" in fb.CSP and "unsafe-inline' " not in fb.CSP.split("script-src")[1].split(";")[0]
    assert "unsafe-eval" not in fb.CSP and "default-src 'none'" in fb.CSP
