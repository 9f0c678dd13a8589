"""HTML feedback that shows a student their grades, and nothing that runs or gives the tests away.

nbgrader's generate_feedback renders each autograded notebook with its feedback template. Before it
does, `FeedbackContent` (an nbconvert preprocessor added to nbgrader's list):
- cleans the notebook again with autograder.sanitize (it is idempotent; notebooks graded by an
  older autograder are cleaned too);
- removes the hidden tests from every test cell: the lines between nbgrader's BEGIN/END HIDDEN
  TESTS markers and the markers themselves, and the tracebacks of such cells, since an IPython
  traceback quotes the lines around the failing one. The error's type stays, and its message
  when the failing line is a visible test; a failing hidden test reads HIDDEN_FAILED instead.
After it, every page gets a Content-Security-Policy meta tag as the first element of its head:
no script runs but MathJax from its CDN path, nothing is fetched but inline images and styles.
"""
from __future__ import annotations

import re
from pathlib import Path

from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor, Preprocessor
from traitlets import Bool, Unicode

from . import sanitize

MATHJAX = "https://cdnjs.cloudflare.com/ajax/libs/mathjax/2.7.7/"
CSP = (f"default-src 'none'; script-src {MATHJAX}; style-src 'unsafe-inline' {MATHJAX}; "
       f"font-src data: {MATHJAX}; img-src data:; base-uri 'none'; form-action 'none'")
HIDDEN_FAILED = "a hidden test of this cell failed (hidden tests are not shown in feedback)"
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
ARROW = re.compile(r"^-*>\s*\d+\s?(.*)$")  # IPython's "----> 4 check_close(...)"
CSP_META = f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'


def _is_test_cell(cell) -> bool:
    m = cell.get("metadata", {}).get("nbgrader", {})
    return cell.get("cell_type") == "code" and bool(m.get("grade")) and not m.get("solution")


class FeedbackContent(Preprocessor):
    """Sanitise a graded notebook and take the hidden tests out of it (see the module docstring)."""

    enabled = Bool(True).tag(config=True)  # nbconvert's preprocessors are off unless enabled
    begin = Unicode("BEGIN HIDDEN TESTS").tag(config=True)
    end = Unicode("END HIDDEN TESTS").tag(config=True)

    def strip_hidden(self, source: str) -> tuple[str, list[str]]:
        """The source without the hidden tests, and the hidden lines (stripped)."""
        kept, hidden, inside = [], [], False
        for line in source.split("\n"):
            if self.begin in line:
                inside = True
                hidden.append(line.strip())
            elif self.end in line:
                inside = False
            elif inside:
                hidden.append(line.strip())
            else:
                kept.append(line)
        return "\n".join(kept), [h for h in hidden if h]

    @staticmethod
    def failing_line(traceback: list[str]) -> str | None:
        """The text of the first line IPython marks with its arrow (the cell's own failing line)."""
        for chunk in traceback:
            for line in ANSI.sub("", chunk).splitlines():
                m = ARROW.match(line)
                if m:
                    return m.group(1).strip()
        return None

    def preprocess(self, nb, resources):
        sanitize.notebook(nb)
        for cell in nb.cells:
            if not _is_test_cell(cell):
                continue
            cell.source, hidden = self.strip_hidden(cell.source)
            if not hidden:
                continue
            for out in cell.get("outputs", []):
                if out.get("output_type") != "error":
                    continue
                line = self.failing_line(out.get("traceback", []))
                if line is None or line in hidden:  # a hidden test failed: say so, not what it checks
                    out["evalue"] = HIDDEN_FAILED
                out["traceback"] = [f"{out.get('ename', '')}: {out.get('evalue', '')}"]
        return nb, resources


def configure(api) -> None:
    """Have nbgrader's generate_feedback run FeedbackContent after reading the grades."""
    from nbgrader.preprocessors import GetGrades

    api.config.GenerateFeedback.preprocessors = [GetGrades, CSSHTMLHeaderPreprocessor, FeedbackContent]


def add_csp(page: Path) -> bool:
    """Put the policy first in the page's head (the head is the template's; student content
    comes after it). Returns whether the page changed."""
    text = page.read_text(encoding="utf-8")
    if CSP_META in text:
        return False
    head = text.find("<head>")
    if head < 0:
        raise ValueError(f"{page}: no <head> to put the Content-Security-Policy in")
    at = head + len("<head>")
    page.write_text(text[:at] + "\n" + CSP_META + text[at:], encoding="utf-8")
    return True


def protect_pages(feedback_dir: Path, assignment: str) -> list[Path]:
    """add_csp on every feedback page of an assignment; returns the pages."""
    pages = sorted(Path(feedback_dir).glob(f"*/{assignment}/*.html"))
    for page in pages:
        add_csp(page)
    return pages
