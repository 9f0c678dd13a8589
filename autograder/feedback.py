"""HTML feedback that shows a student their grades, and nothing that runs or gives the tests away.

nbgrader's generate_feedback renders each autograded notebook with its feedback template. Before it
does, `FeedbackContent` (an nbconvert preprocessor added to nbgrader's list):
- cleans the notebook again with autograder.sanitize (it is idempotent; notebooks graded by an
  older autograder are cleaned too);
- removes the hidden tests from every test cell: the lines between nbgrader's BEGIN/END HIDDEN
  TESTS markers and the markers themselves, and the tracebacks of such cells, since an IPython
  traceback quotes the lines around the failing one. The error's type stays, and its message
  when the failing line is a visible test; a failing hidden test reads HIDDEN_FAILED instead.
  Which line failed comes from IPython's arrow in a traceback of the student's kernel, and from
  the frame's line number in one of the checker (autograder.checker), where a test cell runs at
  grading time.
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

    def hidden_line_numbers(self, source: str) -> set[int]:
        """1-based numbers of the lines from BEGIN to END HIDDEN TESTS, markers included."""
        numbers, inside = set(), False
        for n, line in enumerate(source.split("\n"), 1):
            if self.begin in line:
                inside = True
            if inside:
                numbers.add(n)
            if self.end in line:
                inside = False
        return numbers

    @staticmethod
    def checker_failing_line(traceback: list[str], grade_id: str) -> tuple[int, str] | None:
        """(line number, text) of the deepest frame in the cell itself, from a traceback the
        checker wrote (autograder.checker: its frames are '  File "<grader cell GRADE_ID>", line
        N, ...' followed by the line); None for any other traceback. Only the frames are read:
        the exception's message, which the student's code may have written, comes after them."""
        if not traceback or traceback[0] != "Traceback (most recent call last):":
            return None
        found = None
        where = re.compile(r'^  File "<grader cell ' + re.escape(grade_id) + r'>", line (\d+), in ')
        for chunk in traceback[1:]:
            if not chunk.startswith('  File "'):
                break
            lines = chunk.split("\n")
            m = where.match(lines[0])
            if m:
                found = (int(m.group(1)), lines[1].strip() if len(lines) > 1 else "")
        return found if found is not None else (0, "")

    def preprocess(self, nb, resources):
        sanitize.notebook(nb)
        for cell in nb.cells:
            if not _is_test_cell(cell):
                continue
            original = cell.source
            cell.source, hidden = self.strip_hidden(original)
            if not hidden:
                continue
            grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", "")
            numbered = self.hidden_line_numbers(original)
            source_lines = original.split("\n")
            for out in cell.get("outputs", []):
                if out.get("output_type") != "error":
                    continue
                at = self.checker_failing_line(out.get("traceback", []), grade_id)
                if at is not None:  # the checker's traceback: decided by the line's number
                    n, text = at
                    visible = (1 <= n <= len(source_lines) and n not in numbered
                               and source_lines[n - 1].strip() == text)
                else:
                    line = self.failing_line(out.get("traceback", []))
                    visible = line is not None and line not in hidden
                if not visible:  # a hidden test failed: say so, not what it checks
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
