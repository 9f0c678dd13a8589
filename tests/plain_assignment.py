"""An assignment written for plain nbgrader, as an instructor who adopts the course might bring
one: its tests are bare asserts on the student's functions, values and arrays (no helper of this
course), one test gives partial credit through the value of its last line, one code answer is
graded by hand, one written answer too, one test is in this course's own style (cnnkit's
check_close) among the plain ones, and one value is left as a stub in the instructor's own
notebook (bound through globals(), which no parser of the notebook sees as a definition).

tests/test_plain_nbgrader.py adds it to a temporary course as one folder and one course.toml
block, and grades submissions of it with this autograder and with plain `nbgrader autograde`.
"""
import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

NAME = "P1"
NOTEBOOK = "P1_squares.ipynb"
BLOCK = f"""[assignments.{NAME}]
release = 2026-12-01
due = 2026-12-14

[assignments.{NAME}.limits]
cell_timeout = 30
notebook_timeout = 120
"""


def _nbg(grade_id, solution=False, grade=False, points=None, locked=False):
    m = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3, "solution": solution,
         "task": False}
    if points is not None:
        m["points"] = points
    return {"nbgrader": m}


SQUARES = '''def squares(n):
    """The squares of 1, 2, ..., n as a list; ValueError for n < 1."""
    ### BEGIN SOLUTION
    if n < 1:
        raise ValueError("n must be at least 1")
    return [i ** 2 for i in range(1, n + 1)]
    ### END SOLUTION
'''
SQUARES_TESTS = '''"""squares returns the right list"""
assert squares(1) == [1]
assert squares(2) == [1, 4]
### BEGIN HIDDEN TESTS
assert squares(10) == [1, 4, 9, 16, 25, 36, 49, 64, 81, 100]
### END HIDDEN TESTS
'''
SQUARES_INVALID = '''"""squares refuses n < 1"""
try:
    squares(0)
except ValueError:
    pass
else:
    raise AssertionError("squares(0) should raise a ValueError")
'''
# partial credit, as nbgrader gives it: the cell's value is the points earned
SQUARES_PARTIAL = '''"""partial credit: 0.5 point for each of the first four squares"""
sum(a == b for a, b in zip(squares(4), [1, 4, 9, 16])) / 2
'''
SUM = '''def sum_of_squares(n):
    """1 + 4 + ... + n**2"""
    ### BEGIN SOLUTION
    return sum(squares(n))
    ### END SOLUTION
'''
SUM_TESTS = '''assert sum_of_squares(1) == 1
assert sum_of_squares(10) == 385
'''
# one test in the course's own style among the plain ones (cnnkit's check_close, with a hint)
SUM_CHECKED = '''from cnnkit.grading import check_close
check_close("sum_of_squares(3)", sum_of_squares(3), 14, hint="1 + 4 + 9")
'''
TABLE = '''import numpy as np

### BEGIN SOLUTION
table = np.array(squares(4)).reshape(2, 2)
### END SOLUTION
'''
TABLE_TESTS = '''import numpy as np
np.testing.assert_array_equal(table, [[1, 4], [9, 16]])
assert table.dtype.kind == "i"
'''
# the instructor's notebook binds `largest` through globals(): a stub to any parser of it
LARGEST = '''### BEGIN SOLUTION
globals()["largest"] = max(squares(5))
### END SOLUTION
'''
LARGEST_TESTS = "assert largest == 25\n"
BY_HAND = '''# Print a table of n and sum_of_squares(n) for n = 1..5 (graded by hand).
### BEGIN SOLUTION
for n in range(1, 6):
    print(n, sum_of_squares(n))
### END SOLUTION
'''


def source_notebook():
    cells = [
        new_markdown_cell("# P1: squares\n\nA plain nbgrader assignment."),
        new_code_cell(SQUARES, metadata=_nbg("squares", solution=True)),
        new_code_cell(SQUARES_TESTS, metadata=_nbg("correct_squares", grade=True, points=1, locked=True)),
        new_code_cell(SQUARES_INVALID, metadata=_nbg("squares_invalid_input", grade=True, points=1, locked=True)),
        new_code_cell(SQUARES_PARTIAL, metadata=_nbg("squares_partial", grade=True, points=2, locked=True)),
        new_code_cell(SUM, metadata=_nbg("sum_of_squares", solution=True)),
        new_code_cell(SUM_TESTS, metadata=_nbg("correct_sum_of_squares", grade=True, points=2, locked=True)),
        new_code_cell(SUM_CHECKED, metadata=_nbg("sum_checked", grade=True, points=1, locked=True)),
        new_code_cell(TABLE, metadata=_nbg("table", solution=True)),
        new_code_cell(TABLE_TESTS, metadata=_nbg("table_test", grade=True, points=1, locked=True)),
        new_code_cell(LARGEST, metadata=_nbg("largest", solution=True)),
        new_code_cell(LARGEST_TESTS, metadata=_nbg("largest_test", grade=True, points=1, locked=True)),
        new_code_cell(BY_HAND, metadata=_nbg("by_hand", solution=True, grade=True, points=2)),
        new_markdown_cell("Why does `squares` refuse 0?\n\n=== BEGIN MARK SCHEME ===\nno squares to list\n"
                          "=== END MARK SCHEME ===", metadata=_nbg("why", solution=True, grade=True, points=1)),
    ]
    for i, c in enumerate(cells):
        c["id"] = f"p1-{i}"
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    return nb


def write_course(root) -> None:
    """The assignment's folder solutions/P1/ and its course.toml block, in the course at root."""
    folder = root / "solutions" / NAME
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(source_notebook(), folder / NOTEBOOK)
    toml = root / "course.toml"
    toml.write_text((toml.read_text() + "\n" if toml.exists() else "") + BLOCK)
