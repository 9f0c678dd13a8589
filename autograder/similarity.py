"""Which answers of an assignment look copied: a ranked HTML report for the instructor to read.

`python -m autograder similarity A2` reads every COURSE_DIR/submitted/<student>/A2/ notebook, takes
its answer cells (the cells the released notebook marks as solution cells, by grade id) and compares
each submission with every other, with the course library's reference implementations of the
graded functions (cnnkit, the names course.toml withholds or that the solution cells define) and
with the instructor's solutions. Code is compared as copydetect (MOSS's winnowing) sees it:
Pygments tokens with every identifier replaced by one letter, comments, strings and whitespace
dropped, so renaming, re-commenting and reformatting change nothing. The released notebook's own
code (signatures, `raise NotImplementedError()`) is boilerplate and never counts.

The report lists pairs above the threshold, most similar first, with the matching regions side by
side. Every piece of student content in it (code, student ids) is HTML-escaped, and the page carries
a Content-Security-Policy that runs no script. It flags pairs for a person to read; it never
changes a grade and never writes to the gradebook.
"""
from __future__ import annotations

import html
import io
import itertools
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import course
from .course import REPO, Assignment, CourseError

THRESHOLD = 0.6      # fraction of a submission's fingerprinted code found in the other document
NOISE = 25           # copydetect's noise threshold: matches shorter than this many filtered characters never count
GUARANTEE = 30       # and matches at least this long always do
MAX_NOTEBOOK_BYTES = 20 * 1024 * 1024
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'none'; base-uri 'none'; form-action 'none'"
SOLUTION_MARKER = re.compile(r"^[ \t]*### (BEGIN|END) (SOLUTION|HIDDEN TESTS)[ \t]*\n?", re.M)


@dataclass
class Document:
    name: str          # a student id, or "cnnkit reference" / "solution"
    kind: str          # "submission" or "reference"
    code: str


@dataclass
class Pair:
    a: str
    b: str
    score: float                   # the larger of the two sides' similarities (references: the submission's)
    similarity: tuple[float, float]
    overlap: int                   # matching tokens
    slices: tuple                  # matching regions in a's and b's code (character offsets)


def _answer_ids(a: Assignment) -> dict[str, list[str]]:
    """notebook file name -> grade ids of its answer (solution) code cells, from the released version."""
    out = {}
    for nb_path in sorted(a.released.glob("*.ipynb")):
        nb = json.loads(nb_path.read_text())
        out[nb_path.name] = [c["metadata"]["nbgrader"]["grade_id"] for c in nb["cells"]
                             if c["cell_type"] == "code" and c.get("metadata", {}).get("nbgrader", {}).get("solution")]
    return out


def _cells(nb: dict) -> dict[str, str]:
    """grade id -> source of the first code cell with that id (student metadata is only used to find cells)."""
    found = {}
    for c in nb.get("cells", []) if isinstance(nb, dict) else []:
        if not isinstance(c, dict) or c.get("cell_type") != "code":
            continue
        meta = c.get("metadata", {})
        gid = meta.get("nbgrader", {}).get("grade_id") if isinstance(meta, dict) and isinstance(meta.get("nbgrader"), dict) else None
        src = c.get("source", "")
        src = "".join(s for s in src if isinstance(s, str)) if isinstance(src, list) else src
        if isinstance(gid, str) and isinstance(src, str) and gid not in found:
            found[gid] = src
    return found


def _answers(nb_dir: Path, ids: dict[str, list[str]]) -> tuple[str, list[str]]:
    """The answer cells of one submission (or of the solutions), joined; and problems found."""
    parts, problems = [], []
    for name, gids in ids.items():
        path = nb_dir / name
        if path.is_symlink():
            problems.append(f"{name} is a link, not read")
            continue
        if not path.is_file():
            problems.append(f"{name} missing")
            continue
        if path.stat().st_size > MAX_NOTEBOOK_BYTES:
            problems.append(f"{name} is over {MAX_NOTEBOOK_BYTES // 2**20} MiB, not read")
            continue
        try:
            cells = _cells(json.loads(path.read_text(errors="replace")))
        except (json.JSONDecodeError, RecursionError):
            problems.append(f"{name} is not a notebook")
            continue
        for gid in gids:
            if gid in cells:
                parts.append(SOLUTION_MARKER.sub("", cells[gid]).rstrip() + "\n")
    return "\n".join(parts), problems


def reference_code(a: Assignment) -> str:
    """The library's reference implementations of what the assignment grades (the names its
    solution cells define that the library also defines, and those its block withholds)."""
    from . import pack

    names = set(pack.graded_library_names(a)) | set(a.withhold)
    parts = []
    for q in sorted(names):
        module, name = q.rsplit(".", 1)
        src = pack.definition_source(REPO / Path(*module.split(".")).with_suffix(".py"), name)
        if src:
            parts.append(src)
    return "\n\n".join(parts)


def _fingerprint(doc: Document, boilerplate):
    from copydetect.detector import CodeFingerprint

    return CodeFingerprint(f"{doc.name}.py", NOISE, GUARANTEE - NOISE + 1, boilerplate=boilerplate,
                           language="python", fp=io.StringIO(doc.code))


def compare(docs: list[Document], boilerplate_code: str = "") -> list[Pair]:
    """Every pair of documents with at least one submission, most similar first."""
    from copydetect.detector import CodeFingerprint, compare_files

    template = CodeFingerprint("template.py", NOISE, GUARANTEE - NOISE + 1, language="python",
                               fp=io.StringIO(boilerplate_code))
    boilerplate = np.array(sorted(template.hashes), dtype=np.int64) if template.hashes else None
    prints = {d.name: _fingerprint(d, boilerplate) for d in docs}
    pairs = []
    for d1, d2 in itertools.combinations(docs, 2):
        if d1.kind == "reference" and d2.kind == "reference":
            continue
        if d1.kind == "reference":
            d1, d2 = d2, d1
        f1, f2 = prints[d1.name], prints[d2.name]
        if not f1.hashes or not f2.hashes:
            continue
        overlap, sims, slices = compare_files(f1, f2)
        sims = (float(sims[0]), float(sims[1]))
        score = sims[0] if d2.kind == "reference" else max(sims)
        pairs.append(Pair(d1.name, d2.name, score, sims, int(overlap), slices))
    return sorted(pairs, key=lambda p: (-p.score, p.a, p.b))


def load_batch(a: Assignment, course_dir: course.CourseDir) -> tuple[list[Document], str, list[str]]:
    """The submissions and the two references of an assignment; the released template; notes."""
    assignment = a.name
    ids = _answer_ids(a)
    if not any(ids.values()):
        raise CourseError(f"{a.released} has no answer cells: run `python -m autograder release {assignment}`")
    docs, notes = [], []
    where = course.CourseDir.of(course_dir)
    for student in where.submitted_students(assignment):
        code, problems = _answers(where.submission(student, assignment), ids)
        notes += [f"{student}: {p}" for p in problems]
        docs.append(Document(student, "submission", code))
    docs.append(Document("cnnkit reference", "reference", reference_code(a)))
    solution, _ = _answers(a.source, ids)
    docs.append(Document("solution", "reference", solution))
    template, _ = _answers(a.released, ids)
    return docs, template, notes


def _highlight(code: str, slices) -> str:
    arr = np.asarray(slices)
    if arr.size == 0:
        return html.escape(code)
    out, pos = [], 0
    for s, e in zip(arr[0].astype(int), arr[1].astype(int)):
        s, e = max(int(s), pos), max(int(e), pos)
        out.append(html.escape(code[pos:s]))
        out.append(f"<mark>{html.escape(code[s:e])}</mark>")
        pos = e
    out.append(html.escape(code[pos:]))
    return "".join(out)


def render(assignment: str, pairs: list[Pair], docs: list[Document], threshold: float, notes: list[str]) -> str:
    code = {d.name: d.code for d in docs}
    flagged = [p for p in pairs if p.score >= threshold]
    e = html.escape
    rows = "".join(
        f'<tr><td>{i}</td><td><a href="#pair-{i}">{e(p.a)}</a></td><td>{e(p.b)}</td><td>{p.score:.0%}</td>'
        f"<td>{p.similarity[0]:.0%} / {p.similarity[1]:.0%}</td><td>{p.overlap}</td></tr>"
        for i, p in enumerate(flagged, 1))
    details = "".join(
        f'<section id="pair-{i}"><h2>{i}. {e(p.a)} and {e(p.b)}: {p.score:.0%}</h2><div class="side">'
        f"<div><h3>{e(p.a)}</h3><pre>{_highlight(code[p.a], p.slices[0])}</pre></div>"
        f"<div><h3>{e(p.b)}</h3><pre>{_highlight(code[p.b], p.slices[1])}</pre></div></div></section>"
        for i, p in enumerate(flagged, 1))
    note_html = "".join(f"<li>{e(n)}</li>" for n in notes)
    n_sub = sum(d.kind == "submission" for d in docs)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<title>Similar answers in {e(assignment)}</title>
<style>body{{font-family:sans-serif;margin:2em}} table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:.2em .6em}} .side{{display:flex;gap:1em}} .side>div{{flex:1;min-width:0}}
pre{{background:#f6f6f6;padding:.5em;overflow-x:auto;font-size:85%}} mark{{background:#ffd54f}}</style>
</head><body>
<h1>Similar answers in {e(assignment)}</h1>
<p>{n_sub} submissions compared with each other, with the course library's reference implementations and
with the solutions, on normalised code (identifiers, comments, strings and formatting ignored; the
released notebook's code never counts). Pairs at or above {threshold:.0%} of one side's code, most
similar first. This report flags pairs for a person to read; it changes no grade.</p>
<table><tr><th>#</th><th>submission</th><th>compared with</th><th>score</th><th>share of each side</th>
<th>matching tokens</th></tr>{rows or '<tr><td colspan="6">no pair above the threshold</td></tr>'}</table>
{f'<h2>Notes</h2><ul>{note_html}</ul>' if notes else ''}
{details}
</body></html>
"""


def report(a: Assignment, course_dir: course.CourseDir, to: Path | None = None, threshold: float | None = None):
    """Compare the batch and write the HTML report; returns (path, pairs above the threshold, all pairs)."""
    assignment = a.name
    threshold = THRESHOLD if threshold is None else threshold
    if not 0 < threshold <= 1:
        raise CourseError(f"--threshold {threshold} must lie in (0, 1], e.g. {THRESHOLD}")
    docs, template, notes = load_batch(a, course_dir)
    if sum(d.kind == "submission" for d in docs) == 0:
        raise CourseError(f"no submissions of {assignment} under {course.CourseDir.of(course_dir).submitted}")
    pairs = compare(docs, template)
    to = Path(to or course.CourseDir.of(course_dir).root / "similarity" / f"{assignment}.html")
    to.parent.mkdir(parents=True, exist_ok=True)
    to.write_text(render(assignment, pairs, docs, threshold, notes))
    return to, [p for p in pairs if p.score >= threshold], pairs


def main(a: Assignment, course_dir: course.CourseDir, to: Path | None = None,
         threshold: float | None = None) -> list[str]:
    path, flagged, pairs = report(a, course_dir, to, threshold)
    lines = [f"{len(pairs)} pairs compared; {len(flagged)} at or above the threshold; report: {path}"]
    lines += [f"  {p.score:4.0%}  {p.a}  ~  {p.b}" for p in flagged]
    return lines
