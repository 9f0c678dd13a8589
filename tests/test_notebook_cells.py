"""Text meant as markdown is in markdown cells.

A jupytext source whose `# %% [markdown]` marker is missing turns the section that follows into
comments of the code cell above: the heading and its explanation do not render, the table of
contents skips them, and a reader sees a block of comments (lecture 03's "3. Zero padding" and
lecture 09's "8. Neural architecture search" were built that way). A code cell never holds a
markdown heading, so one there means a lost marker.
"""
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p for g in ("lectures/*.ipynb", "solutions/*/*.ipynb", "assignments/*/*.ipynb") for p in ROOT.glob(g))

# A commented markdown heading: "# ## 3. Zero padding", "#   ### Check yourself". nbgrader's
# "### BEGIN SOLUTION" is not one: it has no space between the comment mark and the hashes.
HEADING = re.compile(r"^\s*#\s+#{1,6}\s+\S")


def headings_in_code(nb) -> list[str]:
    """'code cell K: LINE' for every markdown heading inside a code cell of the notebook."""
    found = []
    for k, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):
        for line in cell.source.splitlines():
            if HEADING.match(line):
                found.append(f"code cell {k}: {line.strip()!r}")
    return found


def test_there_are_notebooks():
    assert any("lectures" in str(p) for p in NOTEBOOKS) and any("assignments" in str(p) for p in NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_markdown_heading_in_a_code_cell(path):
    found = headings_in_code(nbformat.read(path, as_version=4))
    assert not found, (f"{path.relative_to(ROOT)} has markdown headings inside code cells (a missing "
                       "'# %% [markdown]' marker in its .pct.py source?):\n" + "\n".join(found))


def test_finds_a_lost_marker_and_leaves_code_alone():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("print(1)\n\n# ## 3. Zero padding\n#\n# Without padding ..."),
                nbformat.v4.new_markdown_cell("## 4. A worked example"),
                nbformat.v4.new_code_cell("def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION\n"
                                          "# a comment with # inside\nx = 1  # ## not at the start\n"),
                nbformat.v4.new_code_cell("#   ### Check yourself")]
    assert headings_in_code(nb) == ["code cell 0: '# ## 3. Zero padding'", "code cell 2: '#   ### Check yourself'"]
