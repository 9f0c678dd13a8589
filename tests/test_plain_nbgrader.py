"""An assignment written for plain nbgrader is added as one folder and one course.toml block, and
graded as plain nbgrader grades it (issue 33, part 5).

The assignment (tests/plain_assignment.py) has bare-assert tests on functions, a value and a
numpy array, a test whose last line's value is its partial credit, a value the instructor's own
notebook leaves as a stub (bound through globals()), a code answer and a written answer graded
by hand. In a temporary course that also holds the tiny assignment (so the course has more than
one), it is released and a correct, a half-done, a partly wrong and a blank submission are graded
in the sandbox; the same submissions are graded by plain `nbgrader autograde` (nbgrader's own
preprocessors, executing in an ordinary kernel: the submissions are ours). Every cell's score, and
which cells wait for a human, must agree.

A test that uses what the checker cannot reach through its channel to the student's kernel (it
deletes or rebinds a student's name, runs an IPython magic or shell line, or reads the namespace
itself) is named by `release`, with its cell and line, instead of being graded wrongly.
"""
from __future__ import annotations

import copy
import shutil

import nbformat
import pytest

from autograder import api, batch, submissions
from autograder.course import Course, CourseDir, CourseError
from tests import plain_assignment as plain
from tests import tiny_assignment as tiny
from tests.isolation import UNSAFE

STUDENTS = ("correct", "half", "partly_wrong", "blank")


def _meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def _with(nb, grade_id: str, source: str):
    nb = copy.deepcopy(nb)
    next(c for c in nb.cells if _meta(c).get("grade_id") == grade_id).source = source
    return nb


@pytest.fixture(scope="module")
def course_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("plaincourse")
    tiny.write_course(root)
    plain.write_course(root)
    return root


@pytest.fixture(scope="module")
def submitted(course_root):
    """The released notebook and the four students' notebooks."""
    term = CourseDir(course_root / "release-term", source=Course(course_root))
    released = api.release(plain.NAME, term, release_dir=course_root / "release")
    blank = submissions.read(released / plain.NOTEBOOK)
    source = submissions.read(course_root / "solutions" / plain.NAME / plain.NOTEBOOK)
    correct = submissions.fill(blank, source)
    wrong = "def squares(n):\n    if n < 1:\n        raise ValueError()\n    return [2 * i for i in range(1, n + 1)]\n"
    return released, {
        "correct": _with(correct, "largest", "largest = 25"),
        "half": submissions.fill(blank, source, {"squares"}),
        "partly_wrong": _with(correct, "squares", wrong),
        "blank": blank,
    }


def _scores(term: CourseDir) -> dict:
    """{student: {grade id: (score, needs a human)}} from the gradebook."""
    out = {}
    with term.gradebook() as gb:
        for sub in gb.find_assignment(plain.NAME).submissions:
            out[sub.student.id] = {g.name: (g.auto_score, g.manual_score, g.needs_manual_grade)
                                   for nb in sub.notebooks for g in nb.grades}
    return out


def _write(term: CourseDir, notebooks: dict) -> None:
    for student, nb in notebooks.items():
        folder = term.submission(student, plain.NAME)
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / plain.NOTEBOOK)


@pytest.fixture(scope="module")
def graded_both_ways(course_root, submitted, tmp_path_factory):
    released, notebooks = submitted
    ours = CourseDir(tmp_path_factory.mktemp("ours"), source=Course(course_root))
    _write(ours, notebooks)
    outcomes = {o.student: o for o in batch.grade_batch(plain.NAME, ours, workers=2, unsafe=UNSAFE,
                                                        progress=False, self_check=True)}
    theirs = CourseDir(tmp_path_factory.mktemp("theirs"), source=Course(course_root))
    _write(theirs, notebooks)
    api.release(plain.NAME, theirs, release_dir=course_root / "release-theirs")  # the gradebook's entry
    nbgrader = theirs.nbgrader_api(release_dir=course_root / "release-theirs")
    for student in notebooks:  # nbgrader's own autograde: its Execute preprocessor, an ordinary kernel
        result = nbgrader.autograde(plain.NAME, student, force=True, create=True)
        assert result.get("success"), result.get("error") or result.get("log")
    return outcomes, _scores(ours), _scores(theirs)


def test_plain_nbgrader_grades_every_cell_as_nbgrader_does(graded_both_ways):
    outcomes, ours, theirs = graded_both_ways
    assert sorted(theirs) == sorted(STUDENTS)
    for student in STUDENTS:
        assert outcomes[student].status == "graded", outcomes[student].reason
        assert ours[student] == theirs[student], (student, ours[student], theirs[student])


def test_the_grades_are_the_ones_the_assignment_means(graded_both_ways):
    """Not only equal to nbgrader's: what each submission should earn, cell by cell."""
    _, ours, _ = graded_both_ways
    auto = {s: {g: score for g, (score, _, _) in cells.items()
                if g not in ("by_hand", "why")} for s, cells in ours.items()}
    assert auto["correct"] == {"correct_squares": 1, "squares_invalid_input": 1, "squares_partial": 2,
                               "correct_sum_of_squares": 2, "sum_checked": 1, "table_test": 1, "largest_test": 1}
    assert auto["half"] == {"correct_squares": 1, "squares_invalid_input": 1, "squares_partial": 2,
                            "correct_sum_of_squares": 0, "sum_checked": 0, "table_test": 0, "largest_test": 0}
    # [2, 4, 6, 8] against [1, 4, 9, 16]: one of four right, so 0.5 of the partial cell's 2 points
    assert auto["partly_wrong"] == {"correct_squares": 0, "squares_invalid_input": 1, "squares_partial": 0.5,
                                    "correct_sum_of_squares": 0, "sum_checked": 0, "table_test": 0, "largest_test": 0}
    assert set(auto["blank"].values()) == {0}
    # the code answer graded by hand: a human grades an answer; an untouched cell scores 0 at once
    assert ours["correct"]["by_hand"] == (None, None, True) and ours["blank"]["by_hand"] == (0, None, False)


def test_a_hand_graded_code_cell_is_not_called_a_deleted_test(graded_both_ways):
    outcomes, _, _ = graded_both_ways
    assert all("deleted" not in outcomes[s].reason for s in STUDENTS), {s: outcomes[s].reason for s in STUDENTS}


UNREACHABLE = {  # a test cell's source: what release must say about it
    "del squares\ntry:\n    sum_of_squares(2)\nexcept NameError:\n    pass\n":
        r"P1_squares.ipynb, cell correct_squares, line 1: `del squares`",
    "squares = lambda n: [1] * n\nassert sum_of_squares(3) == 3\n":
        r"cell correct_squares, line 1: assigns to squares",
    "%timeit squares(3)\n": r"cell correct_squares, line 1: an IPython magic or shell line",
    "import __main__\nassert __main__.squares(1) == [1]\n": r"cell correct_squares, line 1: imports __main__",
    "ip = get_ipython()\nassert ip is not None\n": r"cell correct_squares, line 1: get_ipython\(\)",
}


@pytest.mark.parametrize("test_source", list(UNREACHABLE))
def test_release_names_a_test_the_checker_cannot_run_as_nbgrader_would(tmp_path, test_source):
    plain.write_course(tmp_path)
    path = tmp_path / "solutions" / plain.NAME / plain.NOTEBOOK
    nb = _with(submissions.read(path), "correct_squares", test_source)
    nbformat.write(nb, path)
    term = CourseDir(tmp_path / "term", source=Course(tmp_path))
    with pytest.raises(CourseError, match=UNREACHABLE[test_source]) as err:
        api.release(plain.NAME, term, release_dir=tmp_path / "release")
    assert "plain nbgrader" in str(err.value)
    assert not (tmp_path / "release" / plain.NAME).exists(), "nothing released"
    shutil.rmtree(tmp_path / "solutions")
