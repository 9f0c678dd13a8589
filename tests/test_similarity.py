"""The similarity report ranks copied answers first and leaves independent ones below its threshold.

A batch of A2 submissions: bob, frank and grace wrote their answers independently
(tests/similarity_batch/); carol handed in bob's answers with every name changed, new comments and
new formatting; dave retyped the course library's numpy references (cnnkit) with his own names;
erin copied the instructor's solutions. The three copies must be the three most similar pairs,
above the threshold; no pair of independent answers, and no independent answer against a
reference, may reach it.
"""
import io
import json
import re
import tokenize

import nbformat
import pytest

from autograder import cli, similarity
from autograder.course import REPO, Course

SOLUTIONS, ASSIGNMENTS = Course().solutions, Course().released
from autograder.pack import definition_source
from tests.similarity_batch import bob, frank, grace

NB = "A2_convolution.ipynb"
HONEST = {"bob": bob.ANSWERS, "frank": frank.ANSWERS, "grace": grace.ANSWERS}
LIBRARY = {"conv_output_size": "conv", "conv_forward_naive": "conv", "conv_backward_naive": "conv",
           "im2col": "conv", "max_pool_forward": "conv", "max_pool_backward": "conv",
           "receptive_field": "inspect"}


def rename(code: str, names: dict) -> str:
    """code with every identifier in `names` renamed (tokens, so strings and attributes keep theirs)."""
    toks = []
    for tok in tokenize.generate_tokens(io.StringIO(code).readline):
        if tok.type == tokenize.NAME and tok.string in names:
            tok = tok._replace(string=names[tok.string])
        toks.append(tok)
    return tokenize.untokenize(toks)


def restyle(code: str, comment: str) -> str:
    """New comments and formatting: a comment above every line, spaces doubled around '=' and ','."""
    out = []
    for line in code.splitlines():
        indent = line[: len(line) - len(line.lstrip())]
        if line.strip() and not line.lstrip().startswith("def "):
            out.append(f"{indent}# {comment}")
        out.append(re.sub(r"(?<![=!<>])=(?!=)", " = ", line).replace(", ", " ,  "))
    return "\n\n".join(out) + "\n"


def carol_answers():
    names = {"total": "span", "num": "batch", "height": "rows", "width": "cols_", "nf": "n_filters",
             "fh": "kh", "fw": "kw", "oh": "h_out", "ow": "w_out", "padded": "xpad", "result": "y",
             "r": "row", "c": "col", "top": "y0", "left": "x0", "patch": "window", "grad_padded": "dxp",
             "grad_w": "dw", "grad_b": "db", "grad_x": "dx", "g": "upstream", "columns": "vectors",
             "img": "n", "ph": "pool_h", "pw": "pool_w", "block": "region", "grad": "dx", "k": "idx",
             "size": "field", "step": "jump", "kernel": "ksize", "ch": "channel"}
    out = {gid: restyle(rename(code, names), "my own work")
           for gid, code in bob.ANSWERS.items()}
    out["max_pool_forward"] = out["max_pool_forward"].replace(
        "# my own work", "# </pre><script>alert('carol')</script>", 1)
    return out


def dave_answers():
    """cnnkit's references retyped: docstrings and comments dropped, every local name changed."""
    names = {"x": "inp", "w": "kern", "b": "bias", "out": "res", "xp": "xpadded", "dout": "upstream",
             "cache": "saved", "n": "idx", "f": "filt", "i": "row", "j": "col", "window": "patch",
             "stride": "step", "pad": "margin", "win": "view", "flat": "vals", "arg": "where",
             "dx": "grad_in", "dw": "grad_k", "db": "grad_b", "dxp": "grad_pad", "g": "up",
             "hs": "h_end", "ws": "w_end", "r": "field", "k": "ksize", "s": "st", "d": "dil",
             "span": "last", "reach": "extent", "kernel": "fsize", "padding": "p_", "steps": "hist"}
    out = {}
    for gid, module in LIBRARY.items():
        src = definition_source(REPO / "cnnkit" / f"{module}.py", "receptive_field_steps" if gid == "receptive_field" else gid)
        src = re.sub(r'\n(\s+)"""[\s\S]*?"""\n', "\n", src, count=1)
        src = "\n".join(ln for ln in src.splitlines() if not ln.strip().startswith("#"))
        out[gid] = rename(src, names)
    return out


def erin_answers():
    nb = nbformat.read(SOLUTIONS / "A2" / NB, as_version=4)
    cells = {c.metadata.get("nbgrader", {}).get("grade_id"): c.source for c in nb.cells}
    return {gid: rename(similarity.SOLUTION_MARKER.sub("", cells[gid]), {"out": "result", "xp": "xpad"})
            for gid in LIBRARY}


def write_batch(course_dir, batch):
    released = nbformat.read(ASSIGNMENTS / "A2" / NB, as_version=4)
    for student, answers in batch.items():
        nb = nbformat.from_dict(json.loads(json.dumps(released)))
        for cell in nb.cells:
            gid = cell.metadata.get("nbgrader", {}).get("grade_id")
            if cell.metadata.get("nbgrader", {}).get("solution") and gid in answers:
                cell.source = answers[gid]
        folder = course_dir / "submitted" / student / "A2"
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / NB)


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    course_dir = tmp_path_factory.mktemp("course")
    write_batch(course_dir, {**HONEST, "carol": carol_answers(), "dave": dave_answers(), "erin": erin_answers()})
    broken = course_dir / "submitted" / "mallory" / "A2"
    broken.mkdir(parents=True)
    (broken / NB).write_text('{"cells": [<img src=x onerror=alert(1)>')  # not a notebook
    linked = course_dir / "submitted" / "trent" / "A2"
    linked.mkdir(parents=True)
    (linked / NB).symlink_to(SOLUTIONS / "A2" / NB)  # a link is never followed
    path, flagged, pairs = similarity.report(Course().assignment("A2"), course_dir)
    return course_dir, path, flagged, pairs


COPIES = [{"bob", "carol"}, {"dave", "cnnkit reference"}, {"erin", "solution"}]


def test_the_three_copies_rank_first_above_the_threshold(result):
    _, _, flagged, pairs = result
    top = [{p.a, p.b} for p in pairs[:3]]
    assert sorted(map(sorted, top)) == sorted(map(sorted, COPIES)), [(p.a, p.b, round(p.score, 3)) for p in pairs[:6]]
    assert all(p.score >= similarity.THRESHOLD for p in pairs[:3])


INDEPENDENT = [{"bob", "frank"}, {"bob", "grace"}, {"frank", "grace"}, {"carol", "frank"}, {"carol", "grace"}] + [
    {author, ref} for author in ("bob", "carol", "frank", "grace") for ref in ("cnnkit reference", "solution")]


def test_independent_answers_stay_below_the_threshold(result):
    _, _, _, pairs = result
    scores = {frozenset((p.a, p.b)): p.score for p in pairs}
    for pair in INDEPENDENT:  # carol is bob's copy: against anyone else she is as independent as bob
        assert scores[frozenset(pair)] < similarity.THRESHOLD, (sorted(pair), scores[frozenset(pair)])


def test_report_shows_matches_escaped_and_changes_no_grade(result):
    course_dir, path, flagged, _ = result
    page = path.read_text()
    assert "<script>" not in page and "&lt;script&gt;alert(" in page
    assert "Content-Security-Policy" in page and "<mark>" in page
    for p in flagged:
        assert f"{p.a}</a>" in page or f"{p.a}</h3>" in page
    assert not (course_dir / "gradebook.db").exists()
    assert "mallory: A2_convolution.ipynb is not a notebook" in page and "trent: A2_convolution.ipynb is a link" in page
    assert "<img" not in page


def test_cli_similarity(result, capsys):
    course_dir = result[0]
    to = course_dir / "report.html"
    assert cli.main(["similarity", "A2", "--course-dir", str(course_dir), "--to", str(to), "--threshold", "0.9"]) == 0
    out = capsys.readouterr().out
    assert f"report: {to}" in out and to.exists()
    assert cli.main(["similarity", "A2", "--course-dir", str(course_dir), "--threshold", "3"]) == 2
