"""collect: an LMS export (folder or zip) filed under submitted/, with nothing dropped silently."""
import datetime as dt
import os
import zipfile

import pytest

from autograder import api, cli, collect, course
from tests import tiny_assignment as tiny

UTC = dt.timezone.utc


def _export(folder, files):
    folder.mkdir(parents=True, exist_ok=True)
    for name, (text, when) in files.items():
        p = folder / name
        p.write_text(text)
        os.utime(p, (when.timestamp(), when.timestamp()))
    return folder


def test_collect_folder_reports_every_kind_of_problem(tmp_path):
    t0 = dt.datetime(2026, 10, 1, 12, tzinfo=UTC)
    export = _export(tmp_path / "export", {
        f"s1_{tiny.NOTEBOOK}": ("one", t0),
        f"s2_{tiny.NOTEBOOK}": ("two old", t0),
        f"s2_copy_{tiny.NOTEBOOK}": ("two", t0),          # another name for the same notebook: renamed
        "s3_homework.ipynb": ("three", t0 + dt.timedelta(days=2)),  # renamed, and late
        "stranger_T1_tiny.ipynb": ("?", t0),              # not in the roster
        "README.txt": ("no student id here", t0),          # wrong name
        "s1_notes.pdf": ("pdf", t0),                        # not part of the assignment
    })
    entries = collect.read_export(export)
    report = collect.collect(entries, tiny.value(), tmp_path / "submitted",
                             roster={"s1", "s2", "s3", "s4"}, due=t0 + dt.timedelta(days=1))
    assert sorted(report.filed) == [("s1", tiny.NOTEBOOK), ("s2", tiny.NOTEBOOK), ("s3", tiny.NOTEBOOK)]
    assert ("s3", "homework.ipynb", tiny.NOTEBOOK) in report.renamed
    assert [d[0] for d in report.duplicates] == ["s2"]
    assert report.unknown == [("stranger", "stranger_T1_tiny.ipynb")]
    assert {n for n, _ in report.wrong_name} == {"README.txt", "s1_notes.pdf"}
    assert [s for s, _, _ in report.late] == ["s3"]
    assert report.missing == ["s4"]
    assert (tmp_path / "submitted" / "s1" / tiny.NAME / tiny.NOTEBOOK).read_text() == "one"
    stamp = (tmp_path / "submitted" / "s1" / tiny.NAME / "timestamp.txt").read_text()
    assert stamp.startswith("2026-10-01 12:00:00")
    text = "\n".join(report.lines())
    for word in ("renamed", "late", "duplicate", "unknown", "wrong name", "missing"):
        assert word in text


def test_collect_never_overwrites_without_force(tmp_path):
    t0 = dt.datetime(2026, 10, 1, tzinfo=UTC)
    dest = tmp_path / "submitted"
    first = collect.read_export(_export(tmp_path / "e1", {f"s1_{tiny.NOTEBOOK}": ("v1", t0)}))
    second = collect.read_export(_export(tmp_path / "e2", {f"s1_{tiny.NOTEBOOK}": ("v2", t0)}))
    collect.collect(first, tiny.value(), dest)
    report = collect.collect(second, tiny.value(), dest)
    assert report.existing == [("s1", tiny.NOTEBOOK)] and report.filed == []
    assert (dest / "s1" / tiny.NAME / tiny.NOTEBOOK).read_text() == "v1"
    collect.collect(second, tiny.value(), dest, force=True)
    assert (dest / "s1" / tiny.NAME / tiny.NOTEBOOK).read_text() == "v2"


def test_collect_zip_with_custom_pattern_and_unsafe_paths(tmp_path):
    z = tmp_path / "moodle.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr(zipfile.ZipInfo(f"Ada Lovelace_1815_assignsubmission_file_{tiny.NOTEBOOK}", (2026, 10, 1, 9, 0, 0)), "ada")
        zf.writestr("__MACOSX/._junk", "x")
    pattern = r"^[^_]+_(?P<student>\d+)_assignsubmission_file_(?P<file>.+)$"
    report = collect.collect(collect.read_export(z), tiny.value(), tmp_path / "sub", pattern=pattern)
    assert report.filed == [("1815", tiny.NOTEBOOK)]
    bad = tmp_path / "evil.zip"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("../../etc/passwd_T1_tiny.ipynb", "x")
    with pytest.raises(course.CourseError, match="unsafe path"):
        collect.read_export(bad)


def test_pattern_and_roster_errors(tmp_path):
    with pytest.raises(course.CourseError, match="named groups"):
        collect.collect([], tiny.value(), tmp_path, pattern=r"(\w+)")
    roster = tmp_path / "students.csv"
    roster.write_text("name,email\nx,y\n")
    with pytest.raises(course.CourseError, match="'id' column"):
        collect.read_roster(roster)
    roster.write_text("id,first_name\nok_1,Ada\nbad id,Bob\n")
    with pytest.raises(course.CourseError, match="line 3"):
        collect.read_roster(roster)
    with pytest.raises(course.CourseError, match="does not exist"):
        collect.read_export(tmp_path / "nope")


def test_roster_import_and_cli_collect(tmp_path, capsys):
    tiny.write_course(tmp_path)
    work = tmp_path / "course"
    roster = tmp_path / "students.csv"
    roster.write_text("id,first_name,last_name,email\ns1,Ada,Lovelace,ada@example.org\ns2,Alan,Turing,\n")
    assert cli.main(["roster", str(roster), "--course-dir", str(work)]) == 0
    assert api.roster_ids(work) == {"s1", "s2"}
    export = _export(tmp_path / "export", {f"s1_{tiny.NOTEBOOK}": ("x", dt.datetime(2026, 1, 1, tzinfo=UTC)),
                                           f"zz_{tiny.NOTEBOOK}": ("y", dt.datetime(2026, 1, 1, tzinfo=UTC))})
    assert cli.main(["collect", tiny.NAME, str(export), "--source", str(tmp_path), "--course-dir", str(work)]) == 0
    out = capsys.readouterr().out
    assert "filed 1 file(s) for 1 student(s)" in out and "unknown   zz" in out and "missing   s2" in out
    assert cli.main(["collect", tiny.NAME, str(export), "--source", str(tmp_path), "--course-dir", str(work), "--due", "tomorrow"]) == 2
