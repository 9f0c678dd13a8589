"""Student content cannot attack the instructor: written answers, outputs and metadata of
submissions are inert in the autograded notebooks (what Formgrader renders) and in the feedback;
feedback leaves the hidden tests out; the grades CSV cannot be shifted or turned into formulas.
Each attack is graded in one batch with honest submissions, whose grades and content stay."""
import copy
import csv

import nbformat
import pytest
from nbconvert import HTMLExporter
from nbformat.v4 import new_code_cell, new_markdown_cell, new_output

from autograder import api, batch, course, sandbox, sanitize
from tests import content_attacks as ca
from tests import tiny_assignment as tiny

needs_sandbox = pytest.mark.skipif(sandbox.check() is not None, reason=f"no sandbox here: {sandbox.check()}")
HIDDEN_SOURCE = "add(-1.5, 4)"  # the hidden test's own text (tests/tiny_assignment.py)


def _page(nb) -> str:
    """The notebook as nbconvert's classic template renders it (Formgrader's and the feedback's base)."""
    return HTMLExporter(template_name="classic").from_notebook_node(copy.deepcopy(nb))[0]


def _answer_cell(nb):
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "why")


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("content")
    work = tiny.term(root)
    released = api.release(tiny.NAME, work, release_dir=root / "release")
    good = ca.filled(released, root / "solutions")
    honest = ca.add_markdown(ca.with_cell(good, "why", ca.HONEST_ANSWER), ca.HONEST_DETAILS)
    honest.cells.insert(2, new_code_cell("print('loss 0.25')\nfrom IPython.display import HTML, display\n"
                                         "display(HTML('<table><tr><td>1</td></tr></table>'))"))
    meta_attack = ca.add_markdown(good, "![p](attachment:p.png)", tags=['x" onmouseover="window.__autograder_pwned=1'])
    meta_attack.cells[1]["attachments"] = {"p.png": {"image/png": 'x" onerror="window.__autograder_pwned=1'}}
    meta_attack.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}, "version_major": 2}}
    cases = {  # student: (notebook, autograded points)
        "honest": (honest, 5),
        "script_answer": (ca.with_cell(good, "why", ca.SCRIPT_ANSWER), 5),
        "output_attack": (ca.with_cell(good, "add", prepend=ca.OUTPUT_ATTACK), 5),
        "metadata_attack": (meta_attack, 5),
        "fails_hidden": (ca.with_cell(good, "add", "def add(a, b):\n    return a + b if a > 0 else 0"), 3),
        "fails_visible": (ca.with_cell(good, "add", "def add(a, b):\n    return 0"), 3),
    }
    for student, (nb, _) in cases.items():
        folder = work / "submitted" / student / tiny.NAME
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / tiny.NOTEBOOK)
    outcomes = {o.student: o for o in batch.grade_batch(
        tiny.NAME, work, workers=2, limits={"cell_timeout": 30, "notebook_timeout": 60}, progress=False,
        unsafe=sandbox.check() is not None)}
    rows = {r["student"]: r for r in api.grade_rows(work, tiny.NAME)}
    baseline = _page(submissions_read(released / tiny.NOTEBOOK))
    yield {"work": work, "cases": cases, "outcomes": outcomes, "rows": rows, "baseline": baseline,
           "released": released}


def submissions_read(path):
    return nbformat.read(path, as_version=4)


def _autograded(work, student):
    return nbformat.read(work / "autograded" / student / tiny.NAME / tiny.NOTEBOOK, as_version=4)


# --- the sanitiser on its own: each attack runs in nbconvert's page before, and not after ---------

def _attack_notebook():
    nb = nbformat.v4.new_notebook()
    nb.cells = [new_markdown_cell(ca.SCRIPT_ANSWER),
                new_markdown_cell("```mermaid\n<img src=x onerror=alert(1)>\n```"),
                new_markdown_cell("x", metadata={"tags": ['a" onmouseover="alert(1)']}),
                new_code_cell("", outputs=[
                    new_output("display_data", data={"text/html": '<img src=x onerror="alert(1)">'}),
                    new_output("display_data", data={"application/javascript": "alert(1)"}),
                    new_output("display_data", data={"image/svg+xml": "<svg><script>alert(1)</script></svg>"}),
                    new_output("display_data", data={"text/markdown": "<script>alert(1)</script>"}),
                    new_output("display_data", data={"image/png": 'x" onerror="alert(1)'}),
                    new_output("display_data", data={"image/png": "iVBORw0KGgo="},
                               metadata={"image/png": {"width": "1 onerror=alert(1)"}}),
                    new_output("display_data", data={"image/png": "iVBORw0KGgo="},
                               metadata={"filenames": {"image/png": 'x" onerror="alert(1)'}}),
                ])]
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    return nb


def test_each_attack_is_live_unsanitised_and_inert_sanitised():
    nb = _attack_notebook()
    empty = _page(nbformat.v4.new_notebook())
    before = ca.added_active_content(_page(nb), empty)
    # one finding per attack, at least: the checker sees them
    for needle in ("window.__autograder_pwned", "onerror", "javascript:", "script text/javascript",
                   "widget-state"):
        assert any(needle in f for f in before), (needle, before)
    after = ca.added_active_content(_page(sanitize.notebook(copy.deepcopy(nb))), empty)
    assert after == [], after


def test_honest_markdown_is_left_as_written_and_cleaning_is_a_fixed_point():
    for text in (ca.HONEST_ANSWER, "# Title\n\n```python\ndef f(x):\n\n    return x < 1\n```\n",
                 "![plot](data:image/png;base64,iVBORw0KGgo=) and [docs](https://pytorch.org)"):
        assert sanitize.markdown(text) == text
    details = sanitize.markdown(ca.HONEST_DETAILS)
    assert "<details><summary>Answer</summary>" in details and "<strong>42</strong>" in details
    assert "autograder-note" not in details  # nothing was removed, so no note
    for text in (ca.HONEST_DETAILS, ca.SCRIPT_ANSWER):
        once = sanitize.markdown(text)
        assert sanitize.markdown(once) == once
        assert sanitize.render_markdown(once).strip() == once  # rendered as one block, unchanged
    nb = _attack_notebook()
    once = nbformat.writes(sanitize.notebook(nb))
    assert nbformat.writes(sanitize.notebook(nbformat.reads(once, as_version=4))) == once


# --- the same attacks graded in one batch with honest submissions ----------------------------------

@needs_sandbox
@pytest.mark.parametrize("student", ["honest", "script_answer", "output_attack", "metadata_attack", "fails_hidden",
                                     "fails_visible"])
def test_grades_are_those_of_the_code(graded, student):
    _, points = graded["cases"][student]
    assert graded["outcomes"][student].status == "graded", graded["outcomes"][student].reason
    assert graded["rows"][student]["autograded"] == points, graded["outcomes"][student].reason


@needs_sandbox
@pytest.mark.parametrize("student", ["honest", "script_answer", "output_attack", "metadata_attack", "fails_hidden",
                                     "fails_visible"])
def test_autograded_notebook_runs_nothing_in_the_browser(graded, student):
    nb = _autograded(graded["work"], student)
    assert ca.added_active_content(_page(nb), graded["baseline"]) == []
    if student != "honest":
        submitted = nbformat.read(graded["work"] / "submitted" / student / tiny.NAME / tiny.NOTEBOOK, as_version=4)
        if student in ("script_answer", "metadata_attack"):  # the attack is in the file itself
            assert ca.added_active_content(_page(submitted), graded["baseline"]), "the attack is not live"


@needs_sandbox
def test_outputs_of_the_attack_are_cleaned_and_say_what_was_removed(graded):
    nb = _autograded(graded["work"], "output_attack")
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "add")
    datas = [o.get("data", {}) for o in cell.outputs]
    assert {"text/html": "<b>bold</b><img src=\"x\">"} in [{k: v for k, v in d.items() if k == "text/html"} for d in datas]
    mimes = {m for d in datas for m in d}
    assert not mimes & {"application/javascript", "image/svg+xml"}
    assert any("application/javascript" in d.get("text/plain", "") for d in datas)
    assert all(not o.get("metadata", {}).get("text/html") for o in cell.outputs)


@needs_sandbox
def test_honest_content_is_unchanged(graded):
    submitted = graded["cases"]["honest"][0]
    nb = _autograded(graded["work"], "honest")
    assert _answer_cell(nb).source == ca.HONEST_ANSWER
    printed = next(c for c in nb.cells if c.cell_type == "code" and "loss 0.25" in c.source)
    assert [o.get("text") for o in printed.outputs if o.output_type == "stream"] == ["loss 0.25\n"]
    assert any("<td>1</td>" in o.get("data", {}).get("text/html", "") for o in printed.outputs)
    plain = [c.source for c in submitted.cells if c.cell_type == "markdown" and c.source != ca.HONEST_DETAILS]
    assert plain == [c.source for c in nb.cells if c.cell_type == "markdown" and "autograder-sanitized" not in c.source]


@needs_sandbox
def test_written_answer_with_script_keeps_its_text_and_a_note(graded):
    cell = _answer_cell(_autograded(graded["work"], "script_answer"))
    assert "Addition is commutative" in cell.source
    assert "autograder-note" in cell.source
    assert "<script" not in cell.source and "onerror" not in cell.source and "javascript:" not in cell.source


@needs_sandbox
def test_feedback_is_inert_has_a_csp_and_no_hidden_tests(graded):
    from autograder import feedback as fb

    work = graded["work"]
    api.feedback(tiny.NAME, work)
    pages = {p.parent.parent.name: p.read_text() for p in (work / "feedback").glob(f"*/{tiny.NAME}/*.html")}
    assert set(pages) == set(graded["cases"])
    # the template runs nothing of its own either: the math is MathML, MathJax is left out
    assert ca.active_content(pages["honest"]) == [], ca.active_content(pages["honest"])
    for student, page in pages.items():
        head = page.index("<head>") + len("<head>")
        assert page[head:].lstrip().startswith(fb.CSP_META), student
        assert "script-src 'unsafe-inline'" not in page and "'unsafe-eval'" not in page
        assert ca.added_active_content(page, pages["honest"]) == [], student
        assert "HIDDEN TESTS" not in page and HIDDEN_SOURCE not in page.replace("&#39;", "'"), student
        assert "check_close(&#39;add(2, 3)&#39;" in page or "add(2, 3)" in page, "the visible test is gone too"
    # a failing hidden test says that it failed, not what it checks; a visible one keeps its message
    assert f"AssertionError: {fb.HIDDEN_FAILED}" in pages["fails_hidden"]
    import html as _html
    import re as _re
    shown = _html.unescape(_re.sub(r"<[^>]+>", "", pages["fails_visible"]))  # as the student reads it
    assert "AssertionError" in shown and "add(2, 3)" in shown and fb.HIDDEN_FAILED not in shown


@needs_sandbox
def test_grades_csv_quotes_fields_and_neutralises_formulas(graded, tmp_path):
    work = graded["work"]
    roster = tmp_path / "students.csv"
    roster.write_text('id,first_name,last_name,email\nevil,Eve,"Doe, 0,0,100.0",eve@example.org\n')
    with pytest.raises(course.CourseError, match="line 2: last_name"):
        api.import_roster(roster, work)
    roster.write_text('id,first_name,last_name,email\nevil,"=HYPERLINK(""http://x"",""y"")",Doe,eve@example.org\n')
    with pytest.raises(course.CourseError, match="first_name"):
        api.import_roster(roster, work)
    roster.write_text("id,first_name,last_name,email\nada,Ada,Lovelace-King,ada@example.org\nbob,José,O'Brien,\n")
    assert api.import_roster(roster, work) == ["ada", "bob"]
    # names that reached the gradebook another way (nbgrader db import) are still exported safely
    with course.CourseDir(work).gradebook() as gb:
        gb.update_or_create_student("script_answer", first_name='=HYPERLINK("http://x","y")',
                                    last_name="Doe, 0, 100.0", email="@SUM(1+1)")
        gb.update_or_create_student("output_attack", first_name="+SUM(A1:A9)", last_name="-1+1", email="\t=1")
    out = api.export(work, tmp_path / "grades.csv")
    with open(out, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    header, body = rows[0], rows[1:]
    assert all(len(r) == len(header) for r in body)
    by_id = {r[header.index("student_id")]: dict(zip(header, r)) for r in body}
    expected = {r["student"]: r["score"] for r in api.grade_rows(work, tiny.NAME)}
    for student, score in expected.items():
        assert float(by_id[student]["score"]) == score, student
    evil = by_id["script_answer"]
    assert evil["last_name"] == "Doe, 0, 100.0"
    assert evil["first_name"] == "'=HYPERLINK(\"http://x\",\"y\")" and evil["email"] == "'@SUM(1+1)"
    assert by_id["output_attack"]["first_name"].startswith("'+") and by_id["output_attack"]["last_name"] == "'-1+1"
    assert by_id["output_attack"]["email"] == "'\t=1"
    assert by_id["ada"]["score"] == "0.0" and by_id["bob"]["last_name"] == "O'Brien"
    text = out.read_text()
    assert '"Doe, 0, 100.0"' in text
