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
- typesets the math of the markdown cells and outputs to MathML (autograder.mathrender), so the page
  needs no script: MathJax is left out of it and its policy allows none;
- puts a summary of the grades in `resources["autograder"]["summary"]`: per part of the
  assignment (the cells under one heading), the points earned and the first failing check's
  message, or HIDDEN_SUMMARY where a hidden test failed; the page template (TEMPLATES) shows it at
  the top of the page, above nbgrader's list of graded cells.
Every page gets a Content-Security-Policy meta tag as the first element of its head: no script
at all, nothing fetched; inline images and styles only.
"""
from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path

from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor, Preprocessor
from nbgrader.preprocessors import GetGrades
from traitlets import Bool, Unicode

from . import mathrender, sanitize
from .testplan import is_test_cell

CSP = ("default-src 'none'; script-src 'none'; style-src 'unsafe-inline'; font-src data:; "
       "img-src data:; base-uri 'none'; form-action 'none'")
HIDDEN_FAILED = "a hidden test of this cell failed (hidden tests are not shown in feedback)"
HIDDEN_SUMMARY = "a hidden test failed"
# Errors the grader itself writes into a test cell that did not run or ran out of time
# (autograder.notebookrun): their message is the grader's, never a test's, also in a hidden test's cell.
GRADER_ERRORS = ("NotRun", "CellTimeoutError")
MAX_MESSAGE = 700  # characters of a failure message in the summary
# What an error without a message means in this course (the stubs raise NotImplementedError).
NO_MESSAGE = {"NotImplementedError": "not written yet (the code of this part still raises NotImplementedError)"}
# The page template: feedback_template/feedback/ comes before nbgrader's template folder of the
# same name (nbgrader's API insists on template_name 'feedback'), and holds only TEMPLATE_FILE,
# which extends nbgrader's index.html.j2.
TEMPLATES = Path(__file__).resolve().parent / "feedback_template"
TEMPLATE_FILE = "autograder_feedback.html.j2"
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
ARROW = re.compile(r"^-*>\s*\d+\s?(.*)$")  # IPython's "----> 4 check_close(...)"
CSP_META = f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'


class FeedbackContent(Preprocessor):
    """Sanitise a graded notebook and take the hidden tests out of it (see the module docstring)."""

    enabled = Bool(True).tag(config=True)  # nbconvert's preprocessors are off unless enabled
    # the course's autograded/ folder: each submission's grading.json there may hold notices for
    # the student (the late days used, the attempt: notices())
    autograded = Unicode("").tag(config=True)
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
        self.strip_hidden_tests(nb)
        resources.setdefault("autograder", {})["summary"] = summary_html(parts(nb))
        who = resources.get("nbgrader", {})
        status = Path(self.autograded) / str(who.get("student", "")) / str(who.get("assignment", "")) / "grading.json"
        resources["autograder"]["notices"] = notices_html(notices(status) if self.autograded else [])
        budget = mathrender.typeset_notebook(nb)
        resources["autograder"]["math"] = {"typeset": budget.typeset, "left_as_text": budget.left_as_text}
        return nb, resources

    @staticmethod
    def strip_quoted(cell, hidden: list[str]) -> None:
        """Replace a printed output of a test cell that quotes a hidden line (a warning raised on
        that line prints it, with its expected values) by QUOTED (in place)."""
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and _quotes(str(out.get("text", "")), hidden):
                out["text"] = QUOTED + "\n"
            elif out.get("output_type") in ("display_data", "execute_result"):
                data = out.get("data", {})
                if any(_quotes(str(v), hidden) for v in data.values()):
                    out["data"] = {"text/plain": QUOTED}

    def strip_hidden_tests(self, nb) -> None:
        """Take the hidden tests out of every test cell, and their failures' details (in place)."""
        for cell in nb.cells:
            if not is_test_cell(cell):
                continue
            original = cell.source
            cell.source, hidden = self.strip_hidden(original)
            if not hidden:
                continue
            grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", "")
            self.strip_quoted(cell, hidden)
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
                if _grader_error(out):
                    continue
                if not visible:  # a hidden test failed: say so, not what it checks
                    out["evalue"] = HIDDEN_FAILED
                out["traceback"] = [f"{out.get('ename', '')}: {out.get('evalue', '')}"]


QUOTED = "[output left out: it quotes a hidden test]"


def _quotes(text: str, hidden: list[str]) -> bool:
    """Whether text holds one of the hidden lines (stripped, of 8 characters or more)."""
    return any(len(line.strip()) >= 8 and line.strip() in text for line in hidden)


def _grader_error(out) -> bool:
    """An error output that the grader wrote itself (one line, autograder.notebookrun's form)."""
    return (out.get("ename") in GRADER_ERRORS
            and out.get("traceback") == [f"{out.get('ename')}: {out.get('evalue', '')}"])


@dataclass(frozen=True)
class Part:
    """One part of an assignment on the feedback page: the graded cells under one heading."""
    title: str          # the heading's text (from the student's notebook: escaped when shown)
    earned: float       # points earned so far (a written answer not graded yet counts 0)
    possible: float
    pending: bool       # a written answer awaits its grade
    manual: bool        # holds a cell graded by hand
    message: str | None  # the first failing check's message; None when none failed
    anchor: str         # grade id of the cell the message is about (or the part's first)
    tests: bool = False  # holds a test cell


_HEADING = re.compile(r"<h([1-3])\b[^>]*>(.*?)</h\1>", re.S)
_ANCHOR_LINK = re.compile(r"<a class=\"anchor-link\"[^>]*>.*?</a>", re.S)


def _headings(cell) -> list[str]:
    """The text of a markdown cell's headings of levels 1-3 (as rendered)."""
    try:
        rendered = sanitize.render_markdown(cell.get("source", ""), cell.get("attachments") or None)
    except Exception:  # noqa: BLE001 - a cell nbconvert cannot render has no heading to show
        return []
    titles = []
    for m in _HEADING.finditer(rendered):
        text = re.sub(r"<[^>]+>", "", _ANCHOR_LINK.sub("", m.group(2)))
        text = " ".join(html.unescape(text).split())
        if text:
            titles.append(text)
    return titles


def _failure(cell) -> str | None:
    """The message of a graded cell's first error output, as the feedback shows it."""
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            if out.get("evalue") == HIDDEN_FAILED:
                return HIDDEN_SUMMARY
            ename, evalue = ANSI.sub("", str(out.get("ename", ""))), ANSI.sub("", str(out.get("evalue", "")))
            if not evalue.strip():
                evalue = NO_MESSAGE.get(ename, "(raised without a message)")
            message = f"{ename}: {evalue}"
            return message[:MAX_MESSAGE] + (" [...]" if len(message) > MAX_MESSAGE else "")
    return None


def parts(nb) -> list[Part]:
    """The graded cells of a graded notebook (after FeedbackContent's cleaning) grouped under the
    heading above them, in order, with their scores from nbgrader (GetGradesAndState)."""
    groups: dict[str, list] = {}
    title = "Before the first heading"
    for cell in nb.cells:
        if cell.get("cell_type") == "markdown":
            found = _headings(cell)
            title = found[-1] if found else title
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade") or meta.get("task"):
            groups.setdefault(title, []).append(cell)
    result = []
    for title, cells in groups.items():
        metas = [c.metadata.nbgrader for c in cells]
        message, anchor = None, metas[0].get("grade_id", "")
        for c in cells:
            if is_test_cell(c) and (found := _failure(c)) is not None:
                message, anchor = found, c.metadata.nbgrader.get("grade_id", "")
                break
        result.append(Part(
            title=title, earned=sum(float(m.get("score") or 0) for m in metas),
            possible=sum(float(m.get("points") or 0) for m in metas),
            pending=any(m.get("needs_manual_grade") for m in metas),
            manual=any(m.get("solution") and m.get("grade") or m.get("task") for m in metas),
            message=message, anchor=anchor, tests=any(is_test_cell(c) for c in cells)))
    return result


def _verdict(p: Part) -> tuple[str, str]:
    """(row class, HTML) of the summary's last column for one part."""
    if p.message is not None:
        return ("hidden" if p.message == HIDDEN_SUMMARY else "failed",
                f'<pre class="autograder-message">{html.escape(p.message, quote=False)}</pre>')
    if p.pending:
        return "manual", "a written answer is not graded yet"
    if p.earned < p.possible:
        return ("manual", "written answer: see the comments below") if p.manual else \
            ("failed", "no check failed, but not every point was earned: see the cells below")
    return "passed", "every check passed" if not p.manual else "full marks"


def summary_html(found: list[Part]) -> str:
    """The summary table: every value escaped (titles, messages and ids are the notebook's)."""
    budget = mathrender.Budget()
    rows = []
    for p in found:
        css, what = _verdict(p)
        points = f"{p.earned:g} / {p.possible:g}" + (" (so far)" if p.pending else "")
        rows.append(f'<tr class="autograder-{css}"><td><a href="#{html.escape(p.anchor, quote=True)}">'
                    f'{mathrender.typeset_text(p.title, budget)}</a></td>'
                    f'<td class="autograder-points">{points}</td><td>{what}</td></tr>')
    return ('<table class="autograder-summary"><thead><tr><th>Part</th><th>Points</th>'
            '<th>What to fix first</th></tr></thead><tbody>' + "".join(rows) + "</tbody></table>")


def notices(status_file: Path) -> list[str]:
    """What the grader tells the student above the summary, from a submission's grading.json: its
    late days ("late": {"text": ...}, autograder.late) and its attempt ("attempt": {"text": ...},
    autograder.serve). Plain text; [] when there is none."""
    import json

    try:
        data = json.loads(Path(status_file).read_text())
    except (OSError, ValueError):
        return []
    found = []
    for key in ("attempt", "late"):
        item = data.get(key) if isinstance(data, dict) else None
        text = item.get("text") if isinstance(item, dict) else None
        if isinstance(text, str) and text.strip():
            found.append(text.strip())
    return found


def notices_html(lines: list[str]) -> str:
    """The notices as an escaped list ('' for none)."""
    if not lines:
        return ""
    return ('<ul class="autograder-notices">' + "".join(f"<li>{html.escape(t, quote=False)}</li>" for t in lines)
            + "</ul>")


VISIBLE_PASSED = "the visible tests passed"
VISIBLE_WRITTEN = "a written answer: graded by hand, shown after the due date"


def visible_page(nb, title: str, lines: list[str], after: str) -> str:
    """The page a student sees before the due date when the assignment shows the visible tests only
    (autograder.attempts: before_due = "visible"): per part, the first failing visible test's
    message, or that the visible tests passed. No points, and nothing of a hidden test: not even
    whether one failed (a cell whose only failure is hidden reads as passing its visible tests).
    nb: the graded notebook (it is cleaned and its hidden tests stripped here, as for the full
    page). lines: notices (notices()). after: when the full feedback comes, in words. Every text
    is escaped; the page has the policy of every feedback page and no script."""
    import copy

    nb = copy.deepcopy(nb)
    sanitize.notebook(nb)
    FeedbackContent().strip_hidden_tests(nb)
    for cell in nb.cells:  # a hidden test's failure leaves no trace: not even that the cell failed
        if is_test_cell(cell):
            cell["outputs"] = [o for o in cell.get("outputs", []) if o.get("evalue") != HIDDEN_FAILED]
    rows = []
    for p in parts(nb):
        if p.message is not None:
            css, what = "failed", f'<pre class="autograder-message">{html.escape(p.message, quote=False)}</pre>'
        elif p.tests:
            css, what = "passed", VISIBLE_PASSED + (f"; {VISIBLE_WRITTEN}" if p.manual else "")
        else:
            css, what = "manual", VISIBLE_WRITTEN
        rows.append(f'<tr class="autograder-{css}"><td>{html.escape(p.title, quote=False)}</td><td>{what}</td></tr>')
    return ("<!DOCTYPE html>\n<html>\n<head>\n" + CSP_META + '\n<meta charset="utf-8">\n'
            f"<title>{html.escape(title, quote=False)}</title>\n<style>{VISIBLE_STYLE}</style>\n</head>\n<body>\n"
            f"<h1>{html.escape(title, quote=False)}: the visible tests</h1>\n" + notices_html(lines) +
            f"<p>The points, the hidden tests' results and the whole notebook come {html.escape(after, quote=False)}.</p>\n"
            '<table class="autograder-summary"><thead><tr><th>Part</th><th>Visible tests</th></tr></thead><tbody>'
            + "".join(rows) + "</tbody></table>\n</body>\n</html>\n")


def refusal_page(title: str, reason: str) -> str:
    """The page a student fetches for a submission that was not graded, saying why (escaped)."""
    return ("<!DOCTYPE html>\n<html>\n<head>\n" + CSP_META + '\n<meta charset="utf-8">\n'
            f"<title>{html.escape(title, quote=False)}</title>\n<style>{VISIBLE_STYLE}</style>\n</head>\n<body>\n"
            f"<h1>{html.escape(title, quote=False)}</h1>\n<p class=\"autograder-refused\">"
            f"{html.escape(reason, quote=False)}</p>\n</body>\n</html>\n")


VISIBLE_STYLE = ("body { font-family: sans-serif; margin: 2em; } table { border-collapse: collapse; width: 100%; } "
                 "th, td { text-align: left; vertical-align: top; padding: 0.35em 0.6em; border-bottom: 1px solid #ddd; } "
                 "pre { white-space: pre-wrap; margin: 0; } tr.autograder-passed td:last-child { color: #2b7a2b; } "
                 "tr.autograder-failed td:last-child { color: #a12622; }")


class GetGradesAndState(GetGrades):
    """nbgrader's GetGrades, which puts each graded cell's score and points in its metadata, plus
    whether it still needs a grade by hand (for the summary)."""

    def _get_score(self, cell, resources) -> None:  # GetGrades._get_score of nbgrader 0.9.6, plus one line
        grade = self.gradebook.find_grade(cell.metadata["nbgrader"]["grade_id"], self.notebook_id,
                                          self.assignment_id, self.student_id)
        cell.metadata.nbgrader["score"] = grade.score
        cell.metadata.nbgrader["points"] = grade.max_score
        cell.metadata.nbgrader["needs_manual_grade"] = bool(grade.needs_manual_grade)


def configure(api) -> None:
    """Have nbgrader's generate_feedback run FeedbackContent after reading the grades, and render
    with the course's template: nbgrader's feedback template with the summary at the top, the
    policy first in the head and no MathJax."""
    import nbgrader

    api.config.GenerateFeedback.preprocessors = [GetGradesAndState, CSSHTMLHeaderPreprocessor, FeedbackContent]
    theirs = Path(nbgrader.__file__).resolve().parent / "server_extensions" / "formgrader" / "templates"
    api.config.HTMLExporter.extra_template_basedirs = [str(TEMPLATES), str(theirs)]
    api.config.HTMLExporter.template_file = TEMPLATE_FILE
    coursedir = getattr(api, "coursedir", None)  # the notices come from its autograded/ (notices())
    if coursedir is not None:
        api.config.FeedbackContent.autograded = str(Path(coursedir.root) / coursedir.autograded_directory)


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
