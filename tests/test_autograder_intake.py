"""collect against a hostile export: another student's folder, symbolic links, zip bombs, huge
notebooks and ids with a trailing newline are refused with a reason; honest files are filed."""
import json
import os
import tracemalloc
import zipfile

import pytest

from autograder import collect
from tests import tiny_assignment as tiny



def _write(path, text="nb"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _filed(report, dest):
    return {s: (dest / s / tiny.NAME / f).read_text() for s, f in report.filed}


def test_folder_per_student_export_files_by_folder_and_refuses_disagreement(tmp_path):
    export = tmp_path / "export"
    _write(export / "alice" / f"alice_{tiny.NOTEBOOK}", "alice's work")
    _write(export / "bob" / tiny.NOTEBOOK, "bob's work")               # the released name: id from the folder
    _write(export / "mallory" / f"alice_{tiny.NOTEBOOK}", "mallory's")  # names another student
    dest = tmp_path / "submitted"
    report = collect.collect(collect.read_export(export), tiny.value(), dest,
                             roster={"alice", "bob", "mallory"})
    assert _filed(report, dest) == {"alice": "alice's work", "bob": "bob's work"}
    assert [n for n, _ in report.refused] == [f"mallory/alice_{tiny.NOTEBOOK}"]
    assert "folder and file must agree" in report.refused[0][1]
    assert report.duplicates == []
    assert "refused" in "\n".join(report.lines())


def test_flat_export_in_a_wrapper_folder_still_files_by_name(tmp_path):
    export = tmp_path / "export"
    _write(export / "submissions" / f"alice_{tiny.NOTEBOOK}", "a")
    _write(export / "submissions" / f"bob_{tiny.NOTEBOOK}", "b")
    dest = tmp_path / "submitted"
    report = collect.collect(collect.read_export(export), tiny.value(), dest)
    assert _filed(report, dest) == {"alice": "a", "bob": "b"} and report.refused == []


def test_symlinks_are_not_followed(tmp_path):
    secret = _write(tmp_path / "solutions" / "T1_tiny.ipynb", "THE SOLUTION")
    export = tmp_path / "export"
    _write(export / f"alice_{tiny.NOTEBOOK}", "alice")
    os.symlink(secret, export / f"eve_{tiny.NOTEBOOK}")
    os.symlink(secret.parent, export / "linked_dir")
    dest = tmp_path / "submitted"
    report = collect.collect(collect.read_export(export), tiny.value(), dest)
    assert _filed(report, dest) == {"alice": "alice"}
    assert sorted(n for n, _ in report.refused) == [f"eve_{tiny.NOTEBOOK}", "linked_dir"]
    assert all("symbolic link" in why for _, why in report.refused)
    zpath = tmp_path / "links.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        info = zipfile.ZipInfo(f"eve_{tiny.NOTEBOOK}")
        info.external_attr = (0o120777 << 16)
        zf.writestr(info, str(secret))
    (entry,) = collect.read_export(zpath)
    assert entry.problem == "a symbolic link; not followed" and entry.data == b""


def test_zip_bomb_is_refused_before_it_is_read(tmp_path, monkeypatch):
    limits = collect.Limits(entry_bytes=1024**2)
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"mallory_{tiny.NOTEBOOK}", b"0" * (64 * 1024**2))  # 64 MiB of zeros, ~64 kB zipped
        zf.writestr(f"alice_{tiny.NOTEBOOK}", "alice")
    assert bomb.stat().st_size < 200_000
    opened = []
    real_open = zipfile.ZipFile.open
    monkeypatch.setattr(zipfile.ZipFile, "open", lambda self, name, *a, **k: opened.append(
        getattr(name, "filename", name)) or real_open(self, name, *a, **k))
    tracemalloc.start()
    entries = collect.read_export(bomb, limits)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert f"mallory_{tiny.NOTEBOOK}" not in opened  # the zip's directory said 64 MiB: never decompressed
    assert peak < 8 * 1024**2, peak
    by_name = {e.name: e for e in entries}
    assert "over the limit" in by_name[f"mallory_{tiny.NOTEBOOK}"].problem
    assert by_name[f"mallory_{tiny.NOTEBOOK}"].data == b"" and by_name[f"alice_{tiny.NOTEBOOK}"].data == b"alice"


def test_zip_whose_directory_understates_the_size_is_cut_while_streaming(tmp_path):
    limits = collect.Limits(entry_bytes=1024**2)
    liar = tmp_path / "liar.zip"
    big = b"0" * (32 * 1024**2)
    with zipfile.ZipFile(liar, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"mallory_{tiny.NOTEBOOK}", big)
    raw = bytearray(liar.read_bytes())
    size = len(big).to_bytes(4, "little")
    for at in [i for i in range(len(raw) - 3) if raw[i:i + 4] == size]:  # local header and directory
        raw[at:at + 4] = (100).to_bytes(4, "little")
    liar.write_bytes(bytes(raw))
    tracemalloc.start()
    (entry,) = collect.read_export(liar, limits)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert entry.problem and entry.data == b"", entry
    assert peak < 8 * 1024**2, peak


def test_folder_file_over_the_size_limit_is_not_read(tmp_path):
    export = tmp_path / "export"
    big = export / f"mallory_{tiny.NOTEBOOK}"
    big.parent.mkdir()
    with open(big, "wb") as fh:
        fh.truncate(3 * 1024**2)  # sparse: the size is there without the bytes
    _write(export / f"alice_{tiny.NOTEBOOK}", "alice")
    entries = {e.name: e for e in collect.read_export(export, collect.Limits(entry_bytes=1024**2))}
    assert "over the limit" in entries[big.name].problem and entries[big.name].data == b""
    total = collect.read_export(export, collect.Limits(entry_bytes=4 * 1024**2, total_bytes=1024**2))
    assert any("file it in parts" in (e.problem or "") for e in total)


def test_notebook_with_too_many_cells_is_refused(tmp_path):
    export = tmp_path / "export"
    cell = {"cell_type": "markdown", "metadata": {}, "source": "x"}
    _write(export / f"mallory_{tiny.NOTEBOOK}", json.dumps({"cells": [cell] * 5000, "metadata": {},
                                                             "nbformat": 4, "nbformat_minor": 5}))
    _write(export / f"alice_{tiny.NOTEBOOK}", json.dumps({"cells": [cell] * 50, "metadata": {},
                                                           "nbformat": 4, "nbformat_minor": 5}))
    _write(export / f"bob_{tiny.NOTEBOOK}", "{ not json")  # filed: grading reports it as invalid
    dest = tmp_path / "submitted"
    report = collect.collect(collect.read_export(export), tiny.value(), dest)
    assert sorted(s for s, _ in report.filed) == ["alice", "bob"]
    assert report.refused == [(f"mallory_{tiny.NOTEBOOK}", "5,000 cells, over the limit of 2,000 per notebook")]


def test_ids_are_matched_in_full(tmp_path):
    z = tmp_path / "nl.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr(f"alice\n_{tiny.NOTEBOOK}", "x")       # a student id ending in a newline
        zf.writestr(f"bob_{tiny.NOTEBOOK}\n", "y")          # a file name ending in a newline
        zf.writestr(f"carol\n/{tiny.NOTEBOOK}", "z")        # a student folder ending in a newline
        zf.writestr(f"dave_{tiny.NOTEBOOK}", "ok")
    dest = tmp_path / "submitted"
    report = collect.collect(collect.read_export(z), tiny.value(), dest,
                             pattern=r"^(?P<student>[^_]+)_(?P<file>.+)$", roster={"alice", "bob", "carol", "dave"})
    assert [s for s, _ in report.filed] == ["dave"]
    assert sorted(p.name for p in dest.iterdir()) == ["dave"]
    assert len(report.wrong_name) + len(report.unknown) + len(report.refused) == 3


def test_roster_names_and_emails_are_validated(tmp_path):
    from autograder.course import CourseError

    roster = tmp_path / "students.csv"
    good = "id,first_name,last_name,email\ns1,José,O'Brien-Łukasz,jose@example.org\ns2,Mary Ann,de la Cruz,\n"
    roster.write_text(good)
    assert [r["last_name"] for r in collect.read_roster(roster)] == ["O'Brien-Łukasz", "de la Cruz"]
    for bad in ('"Doe, 0,100.0"', "=HYPERLINK(1)", "+1", "@x", "-x", "<script>", "a\tb", "x" * 101):
        roster.write_text(f"id,first_name,last_name\ns1,Ada,{bad}\n")
        with pytest.raises(CourseError, match="line 2: last_name"):
            collect.read_roster(roster)
    for bad in ("=1@x.org", "a b@x.org", "no-at-sign", "a@b@c.org", "x@y"):
        roster.write_text(f"id,email\ns1,{bad}\n")
        with pytest.raises(CourseError, match="email"):
            collect.read_roster(roster)
    roster.write_text("id\ns1\n\n")
    assert [r["id"] for r in collect.read_roster(roster)] == ["s1"]
