"""The autograder's pieces that decide points, without running nbgrader: counting a notebook's
points by part, the status file that makes a run resumable, the printed summaries, and how
collect turns an export's file names into students and notebooks."""
import datetime as dt
import json

import nbformat
import pytest

from autograder import api, batch, collect, submissions
from autograder.course import CourseDir, CourseError
from tests import tiny_assignment as tiny

UTC = dt.timezone.utc


def _cell(kind, grade_id=None, source="", **nbgrader):
    cell = nbformat.v4.new_code_cell(source) if kind == "code" else nbformat.v4.new_markdown_cell(source)
    if grade_id is not None:
        cell.metadata["nbgrader"] = {"grade_id": grade_id, **nbgrader}
    return cell


def _notebook():
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        _cell("markdown", source="# intro"),
        _cell("code", "affine", "# YOUR CODE", solution=True, grade=False),
        _cell("code", "affine__tests", "assert 1", grade=True, solution=False, points=3),
        _cell("code", "affine__hidden", "assert 1", grade=True, solution=False, points="2"),
        _cell("code", "relu__x", "# YOUR CODE", solution=True, grade=False),
        _cell("code", "relu__tests", "assert 1", grade=True, solution=False, points=1.5),
        _cell("markdown", "why", "answer here", solution=True, grade=True, points=4),   # written answer
        _cell("code", "loss", "# YOUR CODE", solution=True, grade=True, points=7),       # graded by hand
        _cell("code", "conv__tests", "assert 1", grade=True, solution=False),            # no points given
        _cell("code", "affine", "# YOUR CODE", solution=True, grade=False),              # a part seen before
    ]
    return nb


def test_parts_and_autograded_points():
    nb = _notebook()
    assert submissions.part_of("affine__hidden") == "affine" and submissions.part_of("relu") == "relu"
    assert submissions.solution_parts(nb) == ["affine", "relu", "loss"]  # code solutions, in order, once
    assert submissions.autograded_points(nb) == 6.5          # 3 + 2 + 1.5; hand-graded cells are not autograded
    assert submissions.autograded_points(nb, {"affine"}) == 5.0
    assert submissions.autograded_points(nb, {"relu", "conv"}) == 1.5
    assert submissions.autograded_points(nb, set()) == 0.0


def test_fill_puts_the_instructors_code_into_the_chosen_parts_only():
    source = _notebook()
    for cell in source.cells:
        if cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
            cell.source = "solved " + cell.metadata["nbgrader"]["grade_id"]
    released = _notebook()
    half = submissions.fill(released, source, {"relu"})
    assert [c.source for c in half.cells if c.metadata.get("nbgrader", {}).get("solution")] == [
        "# YOUR CODE", "solved relu__x", "answer here", "# YOUR CODE", "# YOUR CODE"]
    full = submissions.fill(released, source)
    assert [c.source for c in full.cells if c.metadata.get("nbgrader", {}).get("solution")] == [
        "solved affine", "solved relu__x", "solved why", "solved loss", "solved affine"]
    assert released.cells[1].source == "# YOUR CODE"  # the released notebook itself is untouched


def test_status_file_round_trip_and_unreadable_status(tmp_path):
    assert batch.read_status(tmp_path, "A1", "s1") is None
    batch._write_status(CourseDir(tmp_path), "A1", "s1", {"status": "graded", "reason": "ok", "fingerprint": "ab"})
    folder = tmp_path / "autograded" / "s1" / "A1"
    assert batch.read_status(tmp_path, "A1", "s1") == {"status": "graded", "reason": "ok", "fingerprint": "ab"}
    assert sorted(p.name for p in folder.iterdir()) == ["grading.json"]  # no temporary file is left
    (folder / "grading.json").write_text("{half written")
    assert batch.read_status(tmp_path, "A1", "s1") is None  # an interrupted write means: grade again
    assert batch.read_status(tmp_path, "A1", "s2") is None


def test_fingerprint_follows_the_submission_and_the_assignment(tmp_path):
    sub, assignment = tmp_path / "sub", tmp_path / "source"
    sub.mkdir(), assignment.mkdir()
    (sub / "A1.ipynb").write_text("student v1")
    (assignment / "A1.ipynb").write_text("instructor v1")
    first = batch.fingerprint(sub, assignment)
    (sub / "grading.json").write_text(json.dumps({"status": "graded"}))     # its own status: ignored
    (assignment / "A1.pct.py").write_text("# the source of the notebook")  # ignored too
    assert batch.fingerprint(sub, assignment) == first
    (sub / "A1.ipynb").write_text("student v2")
    second = batch.fingerprint(sub, assignment)
    assert second != first
    (assignment / "A1.ipynb").write_text("instructor v2")
    assert batch.fingerprint(sub, assignment) not in (first, second)
    (sub / "A1.ipynb").rename(sub / "B1.ipynb")  # same bytes under another name
    assert batch.fingerprint(sub, assignment) != second


def test_batch_summary_names_every_submission_that_is_not_ok():
    outcomes = [batch.Outcome("s1", "graded", "ok"), batch.Outcome("s2", "failed", "kernel died (memory)"),
                batch.Outcome("s3", "unchanged", "ok"), batch.Outcome("s4", "graded", "cell timed out")]
    assert batch.summary(outcomes, 12.345).splitlines() == [
        "2 graded, 1 failed, 1 unchanged (not regraded) in 12.3 s",
        "  s2: kernel died (memory)",
        "  s4: cell timed out",
    ]


def test_grade_table_shows_points_as_earned():
    rows = [dict(student="s1", assignment="A1", autograded=42.5, autograded_max=60.0, manual=0.0, manual_max=40.0,
                 score=42.5, max_score=100.0, needs_manual_grade=True),
            dict(student="s2", assignment="A1", autograded=60.0, autograded_max=60.0, manual=38.0, manual_max=40.0,
                 score=98.0, max_score=100.0, needs_manual_grade=False)]
    assert api.format_table(rows).splitlines() == [
        "student      assignment   autograded            written     total",
        "-----------------------------------------------------------------",
        "s1           A1              42.5/60    0/40 (to grade)  42.5/100",
        "s2           A1                60/60              38/40    98/100",
    ]


# ---------------------------------------------------------------------------------------------
# collect: which student and which notebook a file of the export is
# ---------------------------------------------------------------------------------------------
T0 = dt.datetime(2026, 10, 1, 12, tzinfo=UTC)


def _entries(*names, when=T0):
    return [collect.Entry(name, name.encode(), when) for name in names]


def test_default_pattern_takes_the_student_up_to_the_first_underscore(tmp_path):
    report = collect.collect(_entries("s1_A1_mlp.ipynb", "jane.doe-2_A1_mlp.ipynb"), tiny.value("A1", ["A1_mlp.ipynb"]),
                             tmp_path)
    assert sorted(report.filed) == [("jane.doe-2", "A1_mlp.ipynb"), ("s1", "A1_mlp.ipynb")]
    assert (tmp_path / "s1" / "A1" / "A1_mlp.ipynb").read_bytes() == b"s1_A1_mlp.ipynb"
    assert report.wrong_name == [] and report.renamed == []


def test_names_that_give_no_student_or_no_known_file(tmp_path):
    expected = ["A1_mlp.ipynb", "data.csv"]
    report = collect.collect(_entries("notes.txt", ".hidden_A1_mlp.ipynb", "s1_data.txt", "s1_A1_mlp.ipynb"),
                             tiny.value("A1", expected), tmp_path)
    assert report.wrong_name == [
        ("notes.txt", f"does not match the pattern {collect.DEFAULT_PATTERN}"),
        (".hidden_A1_mlp.ipynb", "'.hidden' is not a valid student id"),
        ("s1_data.txt", "'data.txt' is not one of A1_mlp.ipynb, data.csv"),
    ]
    assert report.filed == [("s1", "A1_mlp.ipynb")]


def test_a_renamed_notebook_is_filed_under_the_expected_name_only_when_there_is_one(tmp_path):
    one = collect.collect(_entries("s1_my homework.ipynb"), tiny.value("A1", ["A1_mlp.ipynb", "data.csv"]), tmp_path / "a")
    assert one.renamed == [("s1", "my homework.ipynb", "A1_mlp.ipynb")]
    assert one.filed == [("s1", "A1_mlp.ipynb")]
    two = collect.collect(_entries("s1_my homework.ipynb"), tiny.value("A1", ["A1_mlp.ipynb", "A1_cnn.ipynb"]), tmp_path / "b")
    assert two.renamed == [] and two.filed == []
    assert two.wrong_name == [("s1_my homework.ipynb", "'my homework.ipynb' is not one of A1_mlp.ipynb, A1_cnn.ipynb")]


def test_of_two_files_for_one_notebook_the_newer_is_kept(tmp_path):
    old = collect.Entry("s1_A1_mlp.ipynb", b"old", T0)
    new = collect.Entry("s1_copy.ipynb", b"new", T0 + dt.timedelta(minutes=5))
    for order in ([old, new], [new, old]):
        dest = tmp_path / str(len(list(tmp_path.iterdir())))
        report = collect.collect(order, tiny.value("A1", ["A1_mlp.ipynb"]), dest)
        assert report.duplicates == [("s1", "s1_A1_mlp.ipynb", "s1_copy.ipynb")]
        assert (dest / "s1" / "A1" / "A1_mlp.ipynb").read_bytes() == b"new"
        assert (dest / "s1" / "A1" / "timestamp.txt").read_text() == "2026-10-01 12:05:00.000000 UTC"


def test_roster_unknown_students_and_lateness(tmp_path):
    entries = _entries("s1_A1_mlp.ipynb", "s9_A1_mlp.ipynb", when=T0 + dt.timedelta(hours=1, minutes=30, seconds=2))
    report = collect.collect(entries, tiny.value("A1", ["A1_mlp.ipynb"]), tmp_path, roster={"s1", "s2"}, due=T0)
    assert report.filed == [("s1", "A1_mlp.ipynb")] and report.unknown == [("s9", "s9_A1_mlp.ipynb")]
    assert report.late == [("s1", "s1_A1_mlp.ipynb", "1:30:02 late")] and report.missing == ["s2"]
    on_time = collect.collect(entries, tiny.value("A1", ["A1_mlp.ipynb"]), tmp_path / "b", roster={"s1"}, due=entries[0].mtime,
                              add_unknown=True)
    assert sorted(on_time.filed) == [("s1", "A1_mlp.ipynb"), ("s9", "A1_mlp.ipynb")] and on_time.late == []
    assert report.lines() == [
        "filed 1 file(s) for 1 student(s)",
        "late      s1: s1_A1_mlp.ipynb (1:30:02 late)",
        "unknown   s9: s9_A1_mlp.ipynb (not in the roster; use --add-unknown to file it)",
        "missing   s2: nothing submitted",
    ]


def test_a_custom_pattern_needs_both_groups(tmp_path):
    moodle = r"^[^_]+_(?P<student>\d+)_assignsubmission_file_(?P<file>.+)$"
    report = collect.collect(_entries("Jane Doe_12345_assignsubmission_file_A1_mlp.ipynb"), tiny.value("A1", ["A1_mlp.ipynb"]),
                             tmp_path, pattern=moodle)
    assert report.filed == [("12345", "A1_mlp.ipynb")]
    for bad in (r"^(?P<student>\w+)_.+$", r"^(?P<file>.+)$", r"^.+$"):
        with pytest.raises(CourseError) as info:
            collect.collect([], tiny.value("A1", ["A1_mlp.ipynb"]), tmp_path, pattern=bad)
        assert str(info.value) == f"the pattern {bad!r} needs the named groups (?P<student>...) and (?P<file>...)"
