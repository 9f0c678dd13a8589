"""Files of a submission: nothing but plain files and folders is read, nothing is followed (issue
25, item 4). Grading a corpus with links, pipes and devices in submitted/ is in
tests/test_autograder_faults.py; here, the pieces: the copy grading stages a submission with,
the fingerprint that decides what to regrade, and the export reader of `collect`."""
import os
import stat

import pytest

from autograder import batch, collect
from autograder.course import CourseDir, CourseError


@pytest.fixture
def secret(tmp_path):
    path = tmp_path / "elsewhere" / "solution.ipynb"
    path.parent.mkdir()
    path.write_text("the hidden tests")
    return path


def _submission(root, secret):
    sub = root / "submitted" / "alice" / "A1"
    (sub / "data").mkdir(parents=True)
    (sub / "A1.ipynb").write_text("{}")
    (sub / "data" / "x.csv").write_text("1,2")
    (sub / "data" / "solution.ipynb").symlink_to(secret)
    (sub / "linked_folder").symlink_to(secret.parent)
    os.mkfifo(sub / "data" / "pipe")
    return sub


def test_copy_plain_copies_plain_files_and_refuses_the_rest(tmp_path, secret):
    sub = _submission(tmp_path, secret)
    refused = collect.copy_plain(sub, tmp_path / "staged")
    assert sorted(refused) == ["data/pipe (a pipe)", "data/solution.ipynb (a symbolic link)",
                               "linked_folder (a symbolic link)"]
    got = sorted(str(p.relative_to(tmp_path / "staged")) for p in (tmp_path / "staged").rglob("*"))
    assert got == ["A1.ipynb", "data", "data/x.csv"]
    assert (tmp_path / "staged" / "data" / "x.csv").read_text() == "1,2"
    assert not any("hidden" in p.read_text() for p in (tmp_path / "staged").rglob("*") if p.is_file())


def test_copy_plain_refuses_a_linked_folder_itself(tmp_path, secret):
    (tmp_path / "link").symlink_to(secret.parent)
    assert collect.copy_plain(tmp_path / "link", tmp_path / "staged") == [". (a symbolic link)"]
    assert not (tmp_path / "staged").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="only root makes device files")
def test_copy_plain_refuses_a_device(tmp_path):
    (tmp_path / "sub").mkdir()
    os.mknod(tmp_path / "sub" / "zero", 0o666 | stat.S_IFCHR, os.makedev(1, 5))  # /dev/zero: a copy never ends
    assert collect.copy_plain(tmp_path / "sub", tmp_path / "staged") == ["zero (a device)"]


def test_stage_names_what_it_refused(tmp_path, secret):
    course = CourseDir(tmp_path)
    _submission(tmp_path, secret)
    root, problems = batch._stage(course, "A1", "alice", ["A1.ipynb"])
    assert len(problems) == 2  # the refusal, then the unreadable '{}' notebook
    assert problems[0].startswith("refused (not a plain file; nothing is followed or read through it): ")
    for name in ("data/pipe (a pipe)", "data/solution.ipynb (a symbolic link)", "linked_folder (a symbolic link)"):
        assert name in problems[0]
    assert not (root / "alice" / "A1" / "linked_folder").exists()


def test_a_linked_student_folder_is_the_instructors_to_fix(tmp_path, secret):
    course = CourseDir(tmp_path)
    _submission(tmp_path, secret)
    (tmp_path / "submitted" / "mallory").symlink_to(tmp_path / "submitted" / "alice")
    assert batch.checked_submission(course, "alice", "A1") == course.submission("alice", "A1")
    with pytest.raises(CourseError, match="mallory is a symbolic link, not a folder"):
        batch.checked_submission(course, "mallory", "A1")


def test_fingerprint_follows_nothing(tmp_path, secret):
    sub = _submission(tmp_path, secret)
    solutions = tmp_path / "sol"
    solutions.mkdir()
    before = batch.fingerprint(sub, solutions)
    secret.write_text("changed where the link points")  # not read, so no change
    assert batch.fingerprint(sub, solutions) == before
    (sub / "data" / "solution.ipynb").unlink()  # but the link itself counts
    assert batch.fingerprint(sub, solutions) != before


def test_an_export_folder_names_pipes_instead_of_skipping_them(tmp_path):
    export = tmp_path / "export"
    export.mkdir()
    (export / "s1_A1.ipynb").write_text("{}")
    os.mkfifo(export / "s2_A1.ipynb")
    entries = {e.name: e.problem for e in collect._read_folder(export, collect.DEFAULT_LIMITS)}
    assert entries == {"s1_A1.ipynb": None, "s2_A1.ipynb": "a pipe; not read"}
