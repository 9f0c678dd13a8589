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
from pathlib import Path

import nbformat
import nbgrader
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


def _scores(term: CourseDir, name: str = plain.NAME) -> dict:
    """{student: {grade id: (auto score, manual score, needs a human)}} from the gradebook."""
    out = {}
    with term.gradebook() as gb:
        for sub in gb.find_assignment(name).submissions:
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


# ---- nbgrader's own fixtures: the problem set and the submissions its test suite grades ----------

NBGRADER_FILES = Path(nbgrader.__file__).parent / "tests" / "apps" / "files"
FIXTURE_SUBMISSIONS = sorted(p.name for p in NBGRADER_FILES.glob("submitted-*.ipynb"))
PS1 = "ps1"
PS1_BLOCK = f"[assignments.{PS1}]\nrelease = 2026-12-01\ndue = 2026-12-14\n"


@pytest.fixture(scope="module")
def nbgraders_own(tmp_path_factory):
    """nbgrader's fixture problem set (submitted-unchanged.ipynb as the instructor's p1.ipynb, as
    nbgrader's own autograde tests use it) and its submitted-*.ipynb files, each one student's
    p1.ipynb, graded by this autograder and by plain `nbgrader autograde`; the gradebooks' scores."""
    if not FIXTURE_SUBMISSIONS:
        pytest.skip(f"this nbgrader installs no test fixtures in {NBGRADER_FILES}")
    root = tmp_path_factory.mktemp("nbgraderps1")
    (root / "solutions" / PS1).mkdir(parents=True)
    shutil.copy(NBGRADER_FILES / "submitted-unchanged.ipynb", root / "solutions" / PS1 / "p1.ipynb")
    (root / "course.toml").write_text(PS1_BLOCK)
    students = {name.removesuffix(".ipynb").removeprefix("submitted-").replace("-", "_"): name
                for name in FIXTURE_SUBMISSIONS}
    scores = []
    for which in ("ours", "theirs"):
        term = CourseDir(root / which, source=Course(root))
        api.release(PS1, term, release_dir=root / f"release-{which}")
        for student, name in students.items():
            folder = term.submission(student, PS1)
            folder.mkdir(parents=True)
            shutil.copy(NBGRADER_FILES / name, folder / "p1.ipynb")
        if which == "ours":  # the fixture's own solution fails its tests (a is never set): no self-check
            outcomes = batch.grade_batch(PS1, term, workers=2, unsafe=UNSAFE, progress=False, self_check=False)
            assert all(o.status == "graded" for o in outcomes), [(o.student, o.reason) for o in outcomes]
        else:
            nbg = term.nbgrader_api(release_dir=root / "release-theirs")
            for student in students:
                result = nbg.autograde(PS1, student, force=True, create=True)
                assert result.get("success"), result.get("error") or result.get("log")
        scores.append(_scores(term, PS1))
    return students, *scores


def test_nbgraders_own_submissions_get_nbgraders_grades(nbgraders_own):
    """Unchanged, changed, a changed test cell and a changed read-only cell (both restored from the
    instructor's copy), and two attempts to hide a failing test's traceback: every cell's score as
    plain nbgrader gives it."""
    students, ours, theirs = nbgraders_own
    assert sorted(ours) == sorted(theirs) == sorted(students)
    for student in students:
        assert ours[student] == theirs[student], (student, ours[student], theirs[student])
    # and what they should be: the changed submission sets a = 1, the unchanged one sets nothing
    assert ours["changed"]["bar"][0] == 1 and ours["unchanged"]["bar"][0] == 0
    assert ours["grade_cell_changed"]["bar"][0] == 0, "the test restored, not the student's #assert"
    # both cheats replace IPython's showtraceback so that a failing test prints nothing: `a` is never
    # set, and the test still fails, in nbgrader (which reads the reply's status) and here
    assert ours["cheat_attempt"]["bar"][0] == 0 == ours["cheat_attempt_alternative"]["bar"][0]
    assert all(ours[s]["foo"][0] == 1 for s in students), "print('Success!') passes for everyone"


def test_release_refuses_nbgraders_example_test_that_deletes_a_students_function(tmp_path):
    """nbgrader's example problem set tests that sum_of_squares uses squares by `del squares`: in
    this autograder's checker that deletes only the checker's binding, so release says so."""
    (tmp_path / "solutions" / PS1).mkdir(parents=True)
    shutil.copy(NBGRADER_FILES / "test.ipynb", tmp_path / "solutions" / PS1 / "problem1.ipynb")
    (tmp_path / "course.toml").write_text(PS1_BLOCK)
    term = CourseDir(tmp_path / "term", source=Course(tmp_path))
    with pytest.raises(CourseError, match=r"problem1.ipynb, cell sum_of_squares_uses_squares, line 3: `del squares`"):
        api.release(PS1, term, release_dir=tmp_path / "release")
