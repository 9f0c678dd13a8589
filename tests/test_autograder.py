"""The assignment round trip: release from solutions/, submit, autograde, feedback, export.

For every assignment: the instructor's solution earns every autograded point, the untouched
student notebook earns 0 (and grading still completes), and a notebook with only the first half
of the parts solved earns exactly the points of those parts' tests.
"""
import csv

import nbformat
import pytest
from nbformat.v4 import new_output

from autograder import api, cli, course, submissions

from tests.isolation import UNSAFE

ASSIGNMENTS = course.Course().assignment_names()


class RoundTrip:
    """Tests for one assignment; a subclass per assignment below, so that pytest-xdist's loadscope
    can grade different assignments on different workers."""

    assignment = None

    @pytest.fixture(scope="class")
    @classmethod
    def graded(cls, tmp_path_factory):
        return grade_samples(cls.assignment, tmp_path_factory)

    def test_every_submission_graded(self, graded):
        check_every_submission_graded(graded)

    def test_solution_earns_every_autograded_point(self, graded):
        check_solution(graded)

    def test_blank_earns_nothing(self, graded):
        assert graded[3]["blank"]["autograded"] == 0

    def test_half_done_earns_exactly_its_parts(self, graded):
        check_half(graded)

    def test_total_is_100_points(self, graded):
        assert graded[3]["correct"]["max_score"] == 100

    def test_feedback_and_export(self, graded, tmp_path):
        check_feedback_and_export(graded, tmp_path)


for _a in ASSIGNMENTS:
    globals()[f"TestRoundTrip{_a}"] = type(f"TestRoundTrip{_a}", (RoundTrip,), {"assignment": _a})


def grade_samples(assignment, tmp_path_factory):
    work = tmp_path_factory.mktemp(f"course-{assignment}")
    released = api.release(assignment, work, release_dir=work / "release")
    expected = submissions.write_samples(assignment, released, course.Course().solutions / assignment, work / "submitted")
    outcome = api.grade(assignment, work, unsafe=UNSAFE)
    rows = {r["student"]: r for r in api.grade_rows(work, assignment)}
    return assignment, work, outcome, rows, expected


def check_every_submission_graded(graded):
    _, _, outcome, rows, _ = graded
    assert outcome == {"blank": "ok", "correct": "ok", "half": "ok"}
    assert set(rows) == {"blank", "correct", "half"}


def check_solution(graded):
    _, _, _, rows, expected = graded
    assert expected["correct"] > 0
    assert rows["correct"]["autograded"] == rows["correct"]["autograded_max"] == expected["correct"]


def check_half(graded):
    _, _, _, rows, expected = graded
    assert 0 < expected["half"] < expected["correct"], "the first half of the parts should carry some but not all points"
    assert rows["half"]["autograded"] == expected["half"]


def check_feedback_and_export(graded, tmp_path):
    assignment, work, _, rows, _ = graded
    out = api.feedback(assignment, work)
    assert sorted(p.parent.parent.name for p in out.glob(f"*/{assignment}/*.html")) == ["blank", "correct", "half"]
    csv_path = api.export(work, tmp_path / "grades.csv")
    with open(csv_path) as fh:
        table = {r["student_id"]: float(r["score"]) for r in csv.DictReader(fh) if r["assignment"] == assignment}
    assert table == {s: r["score"] for s, r in rows.items()}
    with pytest.raises(course.CourseError, match="exists; pass --force"):
        api.export(work, csv_path)


def test_cli_reports_unknown_assignment(capsys):
    assert cli.main(["release", "A99", "--course-dir", "/nonexistent-course"]) == 2
    assert "no assignment 'A99'" in capsys.readouterr().err


def test_grade_with_no_submissions_is_a_clear_error(tmp_path):
    with pytest.raises(course.CourseError, match="nothing to grade"):
        api.grade(ASSIGNMENTS[0], tmp_path)


def test_config_sets_timeout_and_ignores_warnings_on_stderr(tmp_path):
    from nbgrader.preprocessors import Execute, IgnorePattern

    config = course.CourseDir(tmp_path).nbgrader_config()
    assert Execute(config=config).timeout == 600
    ignore = IgnorePattern(config=config)
    assert ignore.enabled
    cell = nbformat.v4.new_code_cell("x")
    cell.outputs = [
        new_output("stream", name="stderr", text="/x/y.py:3: UserWarning: something is deprecated\n  warn()\n"),
        new_output("stream", name="stderr", text="Traceback: real trouble\n"),
    ]
    cell, _ = ignore.preprocess_cell(cell, {}, 0)
    assert [o.text for o in cell.outputs] == ["Traceback: real trouble\n"]
