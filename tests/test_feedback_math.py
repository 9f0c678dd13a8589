"""Math in the feedback pages (autograder/mathrender.py): the course's TeX becomes MathML, the
student's hostile TeX becomes inert MathML or stays as text, and a page's work is bounded."""
from __future__ import annotations

import re
import time
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from autograder import mathrender as mr
from autograder import sanitize
from tests import content_attacks as ca

ROOT = Path(__file__).resolve().parents[1]
# Part 1 of A1 as the student reads it: the derivative table.
DERIVATIVE_TABLE = r"""| name | forward | derivative |
| --- | --- | --- |
| sigmoid | $\sigma(x) = \dfrac{1}{1 + e^{-x}}$ | $\sigma(x)\,(1 - \sigma(x))$ |
| ReLU | $\max(0, x)$ | $1$ if $x > 0$, else $0$ (we take $0$ at $x = 0$) |
| leaky ReLU | $\max(a x, x)$ with slope $a = 0.1$ by default | $1$ if $x > 0$, else $a$ |
"""
MATHML_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)([^>]*)>")


def _text(fragment: str) -> str:
    """What a reader sees of a fragment: the text without tags (MathML's text included)."""
    import html

    return html.unescape(re.sub(r"<[^>]+>", "", fragment))


def _without_code(fragment: str) -> str:
    return re.sub(r"<(code|pre)\b.*?</\1>", "", fragment, flags=re.S)


def _only_allowed_mathml(fragment: str) -> None:
    """Every element inside <math> is in the allow-list with allowed attributes only."""
    for m in re.finditer(r"<math\b.*?</math>", fragment, re.S):
        for tag in MATHML_TAG.finditer(m.group(0)):
            name = tag.group(2)
            assert name in mr.TAGS, (name, m.group(0)[:300])
            for attr in re.findall(r'\s([A-Za-z:-]+)=', tag.group(3)):
                assert attr in mr.ATTRIBUTES[name], (name, attr)


# --- the course's math ------------------------------------------------------------------------------

def test_inline_and_display_math_become_mathml():
    budget = mr.Budget()
    out = mr.typeset_html(sanitize.render_markdown(
        r"Inline $\sigma(x)=\dfrac{1}{1+e^{-x}}$ and display $$\frac{\partial L}{\partial \text{out}}$$"), budget)
    assert out.count("<math") == 2 and budget.typeset == 2 and budget.left_as_text == 0
    inline, display = re.findall(r"<math[^>]*>", out)
    assert 'display="inline"' in inline and 'display="block"' in display
    assert "$" not in _text(out) and "\\" not in _text(out)
    _only_allowed_mathml(out)


@pytest.mark.parametrize("tex, must_hold", [
    (r"\dfrac{1}{1+e^{-x}}", ['<mstyle displaystyle="true"', "<mfrac>", "<msup><mi>e</mi>"]),
    (r"\partial L / \partial W", ["<mo>∂</mo><mi>L</mi>", "<mo>∂</mo><mi>W</mi>"]),
    (r"\text{out} + \text{a < b}", ["<mtext>out</mtext>", "<mtext>a&nbsp;&lt;&nbsp;b</mtext>"]),
    (r"\mathbf{W}^\top x", ["<msup><mi>𝐖</mi><mo>⊤</mo></msup>"]),
    (r"\begin{cases} 1 & x > 0 \\ 0 & \text{otherwise} \end{cases}", ["<mtable>", "<mtext>otherwise</mtext>"]),
])
def test_course_constructs(tex, must_hold):
    out = mr.tex_to_mathml(tex)
    assert out is not None and out.startswith('<math display="inline">')
    for piece in must_hold:
        assert piece in out, (piece, out)
    _only_allowed_mathml(out)


def test_the_derivative_table_is_typeset_in_its_cells():
    budget = mr.Budget()
    out = mr.typeset_html(sanitize.render_markdown(DERIVATIVE_TABLE), budget)
    assert budget.typeset == 13 and budget.left_as_text == 0, budget
    rows = re.findall(r"<tr>.*?</tr>", out, re.S)
    assert len(rows) == 4  # header and three activations
    assert all("<math" in r for r in rows[1:])
    assert "<mfrac>" in rows[1] and "σ" in _text(rows[1]) and "$" not in _text(out)


def test_math_in_code_is_left_alone_and_an_escaped_dollar_is_a_dollar():
    budget = mr.Budget()
    out = mr.typeset_html(sanitize.render_markdown(
        "Run `print('$x$')` and $y$, not\n\n```\n$\\alpha$\n```\n"), budget)
    assert "print(&#39;$x$&#39;)</code>" in out or "print('$x$')</code>" in out
    assert "<pre><code>$\\alpha$" in out and budget.typeset == 1
    # in text (here a student's HTML block, where markdown did not consume the backslash) as in MathJax
    out = mr.typeset_html("<p>it costs \\$5 and \\$6; a lone $ is text</p>", budget)
    assert out == "<p>it costs $5 and $6; a lone $ is text</p>" and budget.typeset == 1


def test_every_formula_of_the_released_assignments_typesets():
    """The math students read in A1-A4 (the released notebooks), none left as TeX."""
    notebooks = sorted((ROOT / "assignments").glob("A*/*.ipynb"))
    assert notebooks, "no released assignments"
    for path in notebooks:
        budget = mr.Budget()
        nb = sanitize.notebook(nbformat.read(path, as_version=4))
        mr.typeset_notebook(nb, budget)
        assert budget.typeset > 0 and budget.left_as_text == 0, (path.name, budget)
        left = [c.source for c in nb.cells if c.cell_type == "markdown"
                and re.search(r"[$]|\\[a-zA-Z]", _text(_without_code(sanitize.render_markdown(c.source))))]
        assert not left, (path.name, left[:2])


# --- hostile TeX ---------------------------------------------------------------------------------------

HOSTILE = {
    "href": r"\href{javascript:window.__autograder_pwned=1}{click}",
    "style": r"\style{background:url(javascript:alert(1))}{x}",
    "class": r"\class{navbar-fixed-top}{x}",
    "text_html": r"\text{<img src=x onerror=window.__autograder_pwned=1>}",
    "verb_script": r"\verb|<script>window.__autograder_pwned=1</script>|",
    "mathrm_amp": r"\mathrm{a&b} \operatorname{<b>x</b>}",
    "unicode_lt": r"\unicode{x3C}script\unicode{x3E}",
    "color": r"\color{red;background:url(x)}{x}",
    "html_in_math": r"<svg onload=window.__autograder_pwned=1></svg>",
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_tex_is_inert(name):
    tex = HOSTILE[name]
    out = mr.tex_to_mathml(tex)
    assert out is not None
    assert ca.active_content(out) == [], out
    _only_allowed_mathml(out)
    markup = "".join(re.findall(r"<[^>]*>", out))  # the tags; the text may say anything, escaped
    for word in ("href", "style=", "class=", "onerror", "onload", "<img", "<script", "<svg", "<b>"):
        assert word not in markup, (word, out)


def test_latex2mathml_alone_would_let_markup_through():
    """Why tex_to_mathml writes the tree itself: latex2mathml's own string output un-escapes text."""
    from latex2mathml.converter import convert

    raw = convert(HOSTILE["text_html"])
    assert "<img" in raw and "onerror" in raw
    assert "<img" not in mr.tex_to_mathml(HOSTILE["text_html"])


def test_the_writer_escapes_text_and_keeps_only_the_allow_list():
    """The first of the two layers on its own (the cleaner below is the second)."""
    from xml.etree.ElementTree import Element, SubElement

    from latex2mathml.converter import convert_to_element

    written = mr.write_mathml(convert_to_element(HOSTILE["text_html"]))
    assert "<img" not in written and "&lt;img" in written
    tree = Element("math", {"display": "block", "onclick": "alert", "class": "navbar", "id": "toc"})
    row = SubElement(tree, "mrow", {"href": "javascript:x", "mathvariant": "bold"})
    SubElement(row, "mi", {"mathvariant": "normal;x:url(y)"}).text = "<script>&#x3C;"
    odd = SubElement(row, "foreignObject")
    SubElement(odd, "mn").text = "1"
    odd.tail = "&amp;"
    assert mr.write_mathml(tree) == ('<math display="block"><mrow mathvariant="bold"><mi>&lt;script&gt;&lt;</mi>'
                                     '<mn>1</mn>&amp;amp;</mrow></math>')
    deep = Element("math")
    node = deep
    for _ in range(mr.MAX_DEPTH + 1):
        node = SubElement(node, "mrow")
    assert mr.write_mathml(deep) is None


def test_the_mathml_cleaner_keeps_only_its_allow_list():
    dirty = ('<math display="block" onclick="x()" href="javascript:x"><mi style="color:red" class="c" id="i">x</mi>'
             '<mtext><img src=x onerror=alert(1)><a href="javascript:1">a</a></mtext><maction actiontype="toggle">'
             '<mi>y</mi></maction><annotation-xml encoding="text/html"><b>z</b></annotation-xml>'
             '<mglyph src="x"></mglyph><mi mathvariant="normal;x:url(y)">v</mi><script>1</script></math>')
    clean = mr.clean_mathml(dirty)
    assert ca.active_content(clean) == []
    _only_allowed_mathml(clean)
    for word in ("onclick", "href", "style", "class", "id=", "<img", "<a", "maction", "annotation", "mglyph",
                 "mathvariant", "<script", "<b>"):
        assert word not in clean, (word, clean)
    assert clean.startswith('<math display="block"><mi>x</mi>')


def test_hostile_tex_in_a_students_markdown_stays_inert_on_the_page():
    """The whole path a written answer takes: sanitised as at grading, typeset as for feedback."""
    source = "My answer: " + " and ".join(f"${t}$" for t in HOSTILE.values()) + "\n\n" + ca.SCRIPT_ANSWER
    nb = new_notebook(cells=[new_markdown_cell(source)])
    sanitize.notebook(nb)
    budget = mr.typeset_notebook(nb)
    assert budget.typeset >= len(HOSTILE) - 1  # the raw <svg> one is HTML before it is math
    rendered = sanitize.render_markdown(nb.cells[0].source)
    assert rendered.strip() == nb.cells[0].source  # one HTML block, passed through as it is
    assert ca.active_content(rendered) == [], ca.active_content(rendered)
    assert "Addition is commutative" in _text(rendered)


def test_macro_definitions_are_left_as_text():
    laughs = r"\newcommand{\a}{xxxxxxxx}" + "".join(
        rf"\newcommand{{\{c}}}{{\{p}\{p}\{p}\{p}\{p}\{p}\{p}\{p}}}" for p, c in zip("abcdefgh", "bcdefghi")) + r"\i"
    for tex in (laughs, r"\def\x{y}\x", r"\let\x\y", r"\DeclareMathOperator{\x}{y}", r"\renewcommand{\a}{b}"):
        t0 = time.perf_counter()
        assert mr.tex_to_mathml(tex) is None, tex
        assert time.perf_counter() - t0 < 0.05


@pytest.mark.parametrize("tex", [
    "x" * (mr.MAX_TEX + 1),
    "{" * 1999 + "x" + "}" * 1999,
    r"\frac{" * 300 + "x" + "}{y}" * 300,
    r"\sqrt{" * 900 + "x" + "}" * 900,
    "x_{" * 1300 + "y" + "}" * 1300,
])
def test_oversized_or_deep_formulas_stay_text_quickly(tex):
    t0 = time.perf_counter()
    assert mr.tex_to_mathml(tex) is None
    assert time.perf_counter() - t0 < 1.0


def test_large_formulas_within_the_limits_are_bounded_in_size():
    for tex in ("x" * (mr.MAX_TEX - 10), r"\quad" * 790, "x_{a}^{b}" * 440, r"\unicode{x41}" * 300):
        out = mr.tex_to_mathml(tex)
        assert out is None or len(out) <= mr.MAX_MATHML * 1.1


def test_a_page_of_hostile_math_is_bounded_by_its_budget():
    """A notebook full of the slowest formulas: the budget stops typesetting, the rest stays text."""
    slow = "$" + "x_{a}^{b}" * 440 + "$"
    nb = new_notebook(cells=[new_markdown_cell(" ".join([slow] * 20)) for _ in range(10)])
    t0 = time.perf_counter()
    budget = mr.typeset_notebook(nb, mr.Budget(tex_chars=200_000, seconds=2.0))
    elapsed = time.perf_counter() - t0
    assert budget.typeset + budget.left_as_text == 200
    assert 0 < budget.typeset < 200 and budget.left_as_text > 0
    assert elapsed < 6.0, elapsed
    assert sum(len(c.source) for c in nb.cells) < 60_000_000


# --- outputs --------------------------------------------------------------------------------------------

def test_outputs_markdown_html_and_latex_are_typeset():
    cell = new_code_cell("", outputs=[
        new_output("display_data", data={"text/markdown": r"loss $\mathcal{L} = \frac{1}{N}\sum_i \ell_i$",
                                         "text/plain": "md"}),
        new_output("display_data", data={"text/html": r"<p>rate $\eta$</p><code>$x$</code>", "text/plain": "h"}),
        new_output("display_data", data={"text/latex": r"$\displaystyle \frac{a}{b}$", "text/plain": "a/b"}),
        new_output("display_data", data={"text/plain": "$x$ stays: plain text is escaped by the template"}),
    ])
    nb = sanitize.notebook(new_notebook(cells=[cell]))
    budget = mr.typeset_notebook(nb)
    md, htm, latex, plain = (o["data"] for o in nb.cells[0].outputs)
    assert budget.typeset == 3
    assert md["text/markdown"].startswith(mr.TYPESET_OPEN) and "<mfrac>" in md["text/markdown"]
    assert "<mi>η</mi>" in htm["text/html"] and "<code>$x$</code>" in htm["text/html"]
    assert "<mfrac>" in latex["text/html"] and latex["text/latex"] == r"$\displaystyle \frac{a}{b}$"
    assert plain == {"text/plain": "$x$ stays: plain text is escaped by the template"}


def test_the_command_reports_formulas_left_as_text(tmp_path, capsys):
    path = tmp_path / "n.ipynb"
    nbformat.write(new_notebook(cells=[new_markdown_cell(r"$x^2$ and $\def\a{b}\a$ and $$\frac{1}{2}$$")]), path)
    assert mr.main([str(path), "--repeat", "1"]) == 1
    out = capsys.readouterr().out
    assert "2 formulas typeset, 1 left as text" in out and r"left as text: '$\\def\\a{b}\\a$'" in out
    assert mr.main([str(ROOT / "assignments" / "A1" / "A1_mlp_backprop.ipynb"), "--repeat", "1"]) == 0


def test_a_cell_with_an_attachment_keeps_its_image_when_typeset():
    png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
    cell = new_markdown_cell("![plot](attachment:p.png) with $\\sigma(x)$")
    cell["attachments"] = {"p.png": {"image/png": png}}
    nb = sanitize.notebook(new_notebook(cells=[cell]))
    assert mr.typeset_notebook(nb).typeset == 1
    source = nb.cells[0].source
    assert f'src="data:image/png;base64,{png}"' in source and "<math" in source
    assert "attachments" not in nb.cells[0]  # embedded: the template needs none


def test_finding_math_in_huge_text_is_linear():
    """Openers without closers (a flood of them in an output or an answer) are each looked at once."""
    for flood in ("\\[ " * 100_000, "$$ " * 100_000 + "$", "\\begin{equation} " * 50_000, "\\( x " * 100_000):
        t0 = time.perf_counter()
        parts = mr.split_math(flood)
        assert time.perf_counter() - t0 < 2.0, flood[:10]
        assert "".join(src for _, src, _ in parts).replace("$", "") == flood.replace("$", "")
