"""Submissions of the tiny assignment that attack the instructor's browser, and a checker that
finds what a browser would run in an HTML page. Shared by tests/test_autograder_content.py and
tests/test_formgrader_browser.py."""
from __future__ import annotations

import copy
from html.parser import HTMLParser

from autograder import submissions
from tests import tiny_assignment as tiny

# A written answer whose script, run in Formgrader, sets a marker, writes a file through the Jupyter
# contents API and gives itself full marks plus 100 extra credit through Formgrader's own API, with
# the XSRF cookie of the instructor's page (submission_id is a global of Formgrader's page).
SCRIPT_ANSWER = """Addition is commutative because a + b counts the same things as b + a.

<script>
window.__autograder_pwned = 'script in a written answer ran';
(async function () {
  const xsrf = decodeURIComponent((document.cookie.match(/_xsrf=([^;]+)/) || [])[1] || '');
  const h = {'Content-Type': 'application/json', 'X-XSRFToken': xsrf, 'X-CSRFToken': xsrf};
  const sid = window.submission_id;
  await fetch('/api/contents/pwned-' + sid + '.txt', {method: 'PUT', headers: h, credentials: 'same-origin',
        body: JSON.stringify({type: 'file', format: 'text', content: 'owned'})});
  const res = await fetch('/formgrader/api/grades?submission_id=' + sid, {headers: h, credentials: 'same-origin'});
  if (!res.ok || res.redirected) throw new Error('grades: ' + res.status + ' ' + res.url);
  const grades = await res.json();
  const codes = [];
  for (const g of grades) {
    codes.push((await fetch('/formgrader/api/grade/' + g.id, {method: 'PUT', headers: h, credentials: 'same-origin',
                body: JSON.stringify({manual_score: g.max_score, extra_credit: 100})})).status);
  }
  window.__autograder_done = 'grades rewritten: ' + codes.join(' ');
})().catch(function (e) { window.__autograder_done = 'failed: ' + e; });
</script>

<img src="x" onerror="window.__autograder_pwned = 'img onerror in a written answer ran'">

[a link](javascript:void(window.__autograder_pwned=1))
"""

# An honest answer: markdown, LaTeX and the course's <details> answer block; must come out unchanged.
HONEST_ANSWER = ("Because $a + b = b + a$ for all reals; e.g. $2 < 3$ and `x < y` in code.\n\n"
                 "> a quote\n\n| a | b |\n|---|---|\n| 1 | 2 |\n")
HONEST_DETAILS = "<details><summary>Answer</summary>\n\nIt is **42**.\n\n</details>\n"

# Code that makes the kernel send outputs a browser would run.
OUTPUT_ATTACK = r"""
from IPython.display import display, HTML, Javascript, SVG, Markdown
display(HTML('<b>bold</b><img src=x onerror="window.__autograder_pwned=\'text/html onerror\'">'))
display(Javascript("window.__autograder_pwned = 'application/javascript'"))
display(SVG('<svg xmlns="http://www.w3.org/2000/svg"><script>window.__autograder_pwned="svg"</script></svg>'))
display(Markdown('<script>window.__autograder_pwned="text/markdown"</script>'))
display({'image/png': 'x" onerror="window.__autograder_pwned=1', 'text/plain': 'not an image'}, raw=True)
display({'image/png': 'iVBORw0KGgo=', 'text/plain': 'a png'}, raw=True,
        metadata={'image/png': {'width': '1 onerror=window.__autograder_pwned=2'}})
display({'text/html': '<i>isolated</i>', 'text/plain': ''}, raw=True,
        metadata={'text/html': {'isolated': True}})
"""


def filled(released, solutions_root):
    student = submissions.read(released / tiny.NOTEBOOK)
    source = submissions.read(solutions_root / tiny.NAME / tiny.NOTEBOOK)
    return submissions.fill(student, source)


def grade_class(work, notebooks: dict) -> list:
    """Submit {student: notebook} of the tiny assignment to the term folder `work` and grade them
    (sandboxed where this machine can); every one must be graded. Returns the Outcomes."""
    import nbformat

    from autograder import batch, sandbox

    for student, nb in notebooks.items():
        folder = work / "submitted" / student / tiny.NAME
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / tiny.NOTEBOOK)
    outcomes = batch.grade_batch(tiny.NAME, work, limits={"cell_timeout": 30, "notebook_timeout": 60},
                                 progress=False, unsafe=sandbox.check() is not None)
    assert [o.status for o in outcomes] == ["graded"] * len(notebooks), [(o.student, o.reason) for o in outcomes]
    return outcomes


def with_cell(nb, grade_id, source=None, prepend=None):
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            if source is not None:
                cell.source = source
            if prepend is not None:
                cell.source = prepend + "\n" + cell.source
    return nb


def add_markdown(nb, text, **metadata):
    from nbformat.v4 import new_markdown_cell

    nb = copy.deepcopy(nb)
    nb.cells.insert(1, new_markdown_cell(text, metadata=metadata))
    return nb


class _Finder(HTMLParser):
    """Everything in a page that a browser would run: script elements (with their src or text),
    event-handler attributes, javascript: URLs, frames and plugins."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found, self._script = [], None

    def handle_starttag(self, tag, attrs):
        if tag == "script":
            a = dict(attrs)
            self._script = ["script", a.get("type") or "", a.get("src") or "", ""]
        if tag in ("iframe", "object", "embed", "frame", "svg", "base") or (
                tag == "meta" and (dict(attrs).get("http-equiv") or "").lower() == "refresh"):
            self.found.append(f"<{tag} {sorted(attrs)}>")
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}={value!r}>")
            if name in ("href", "src", "action", "formaction") and value and \
                    "".join(value.split()).lower().startswith(("javascript:", "vbscript:", "data:text")):
                self.found.append(f"<{tag} {name}={value!r}>")

    def handle_data(self, data):
        if self._script is not None:
            self._script[3] += data

    def handle_endtag(self, tag):
        if tag == "script" and self._script is not None:
            self.found.append(" ".join(s.strip() for s in self._script))
            self._script = None


def active_content(page: str) -> list[str]:
    f = _Finder()
    f.feed(page)
    f.close()
    return f.found


def added_active_content(page: str, baseline: str) -> list[str]:
    """What page runs that the baseline (the same template on the instructor's notebook) does not."""
    base = list(active_content(baseline))
    extra = []
    for item in active_content(page):
        if item in base:
            base.remove(item)
        else:
            extra.append(item)
    return extra
