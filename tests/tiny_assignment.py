"""A tiny nbgrader assignment (two parts, 5 autograded points, 1 written) for the autograder's
own tests: it runs in a second, so a whole corpus of bad submissions can be graded quickly."""
import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

NAME = "T1"
NOTEBOOK = "T1_tiny.ipynb"


def _nbg(grade_id, solution=False, grade=False, points=None, locked=False):
    m = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3, "solution": solution, "task": False}
    if points is not None:
        m["points"] = points
    return {"nbgrader": m}


ADD = "def add(a, b):\n    ### BEGIN SOLUTION\n    return a + b\n    ### END SOLUTION\n"
MUL = "def mul(a, b):\n    ### BEGIN SOLUTION\n    return a * b\n    ### END SOLUTION\n"
ADD_TESTS = ("from cnnkit.grading import check_close\n"
             "check_close('add(2, 3)', add(2, 3), 5, hint='use +')\n"
             "### BEGIN HIDDEN TESTS\n"
             "check_close('add(-1.5, 4)', add(-1.5, 4), 2.5)\n"
             "### END HIDDEN TESTS\n")
MUL_TESTS = "from cnnkit.grading import check_close\ncheck_close('mul(2, 3)', mul(2, 3), 6)\n"


def source_notebook():
    cells = [
        new_markdown_cell("# T1: add and multiply"),
        new_code_cell("import cnnkit.grading", metadata=_nbg("setup", locked=True)),
        new_code_cell(ADD, metadata=_nbg("add", solution=True)),
        new_code_cell(ADD_TESTS, metadata=_nbg("add__tests", grade=True, points=2, locked=True)),
        new_code_cell(MUL, metadata=_nbg("mul", solution=True)),
        new_code_cell(MUL_TESTS, metadata=_nbg("mul__tests", grade=True, points=3, locked=True)),
        new_markdown_cell("Why is addition commutative?", metadata=_nbg("why", solution=True, grade=True, points=1)),
    ]
    for i, c in enumerate(cells):
        c["id"] = f"t1-{i}"
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    return nb


def write_source(solutions_root):
    folder = solutions_root / NAME
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(source_notebook(), folder / NOTEBOOK)
    return folder


def write_course(root, limits: dict | None = None):
    """A course folder at root with the tiny assignment in solutions/ (and, with limits, its
    course.toml block [assignments.T1.limits]); returns its autograder.course.Course."""
    from pathlib import Path

    from autograder.course import Course

    root = Path(root)
    write_source(root / "solutions")
    if limits:
        lines = [f"[assignments.{NAME}.limits]"] + [f"{k} = {v}" for k, v in limits.items()]
        (root / "course.toml").write_text("\n".join(lines) + "\n")
    return Course(root)


def term(root, limits: dict | None = None, folder: str = "course"):
    """The tiny course at root (write_course) and its term folder root/folder, as a CourseDir."""
    from autograder.course import CourseDir

    return CourseDir(root / folder, source=write_course(root, limits))


def value(name: str = NAME, files=(NOTEBOOK,)):
    """The tiny assignment (or another name with other files) as an autograder.course.Assignment,
    without writing a course (for the intake's tests, which need only its name and the files a
    student hands in)."""
    from pathlib import Path

    from autograder.course import Assignment
    from autograder.limits import Limits

    files = tuple(files)
    notebooks = tuple(f for f in files if f.endswith(".ipynb"))
    return Assignment(name, Path("solutions") / name, Path("assignments") / name, notebooks, files, Limits())
