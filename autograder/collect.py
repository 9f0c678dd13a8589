"""File a learning-management system's export of submissions under submitted/<student>/<assignment>/.

An export is a folder or a zip with one file per student and notebook, the student id in the file
name. A regular expression with the named groups `student` and `file` takes the name apart; the
default reads `<student>_<notebook file>` (e.g. `s1234_A1_mlp_backprop.ipynb`). Two examples of
other exports:

    Moodle   ^[^_]+_(?P<student>\\d+)_assignsubmission_file_(?P<file>.+)$
    Canvas   ^(?P<student>[a-z0-9]+)_(?:LATE_)?\\d+_\\d+_(?P<file>.+)$

Nothing is dropped silently and nothing is overwritten without --force: every file lands in the
report as filed, renamed, duplicate, unknown student, wrong name, late or already there.
"""
from __future__ import annotations

import csv
import datetime as dt
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from .course import ID_PATTERN, CourseError

DEFAULT_PATTERN = r"^(?P<student>[A-Za-z0-9.-]+)_(?P<file>.+)$"


@dataclass
class Entry:
    """One file of the export."""

    name: str          # path inside the export
    data: bytes
    mtime: dt.datetime  # UTC


@dataclass
class Report:
    filed: list = field(default_factory=list)       # (student, file)
    renamed: list = field(default_factory=list)     # (student, from, to)
    duplicates: list = field(default_factory=list)  # (student, ignored name, kept name)
    unknown: list = field(default_factory=list)     # (student, name)
    wrong_name: list = field(default_factory=list)  # (name, why)
    late: list = field(default_factory=list)        # (student, name, how late)
    existing: list = field(default_factory=list)    # (student, file)
    missing: list = field(default_factory=list)     # roster students with nothing filed

    def lines(self) -> list[str]:
        out = [f"filed {len(self.filed)} file(s) for {len({s for s, _ in self.filed})} student(s)"]
        out += [f"renamed   {s}: {a} -> {b}" for s, a, b in self.renamed]
        out += [f"late      {s}: {n} ({d})" for s, n, d in self.late]
        out += [f"duplicate {s}: ignored {a}, kept the newer {b}" for s, a, b in self.duplicates]
        out += [f"unknown   {s}: {n} (not in the roster; use --add-unknown to file it)" for s, n in self.unknown]
        out += [f"wrong name {n}: {why}" for n, why in self.wrong_name]
        out += [f"kept      {s}: {f} is already in submitted/ and differs (use --force to replace it)" for s, f in self.existing]
        out += [f"missing   {s}: nothing submitted" for s in self.missing]
        return out


def read_export(path: Path) -> list[Entry]:
    """The files of a folder (recursively) or a zip; folders, hidden files and __MACOSX are skipped."""
    path = Path(path)
    entries = []
    if path.is_dir():
        for p in sorted(path.rglob("*")):
            rel = p.relative_to(path)
            if p.is_file() and not any(part.startswith((".", "__MACOSX")) for part in rel.parts):
                mtime = dt.datetime.fromtimestamp(p.stat().st_mtime, tz=dt.timezone.utc)
                entries.append(Entry(str(rel), p.read_bytes(), mtime))
    elif zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                pure = PurePosixPath(info.filename)
                if pure.is_absolute() or ".." in pure.parts:
                    raise CourseError(f"{path}: refusing the unsafe path {info.filename!r} in the zip")
                if info.is_dir() or any(part.startswith((".", "__MACOSX")) for part in pure.parts):
                    continue
                mtime = dt.datetime(*info.date_time, tzinfo=dt.timezone.utc)
                entries.append(Entry(info.filename, zf.read(info), mtime))
    elif path.exists():
        raise CourseError(f"{path} is neither a folder nor a zip file")
    else:
        raise CourseError(f"{path} does not exist: give the folder or zip of submissions")
    return entries


def read_roster(path: Path) -> list[dict]:
    """students.csv with a header; column `id` is required, first_name, last_name, email optional."""
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or "id" not in reader.fieldnames:
            raise CourseError(f"{path}: the first line must be a header with an 'id' column, got {reader.fieldnames}")
        rows = []
        for i, row in enumerate(reader, start=2):
            sid = (row.get("id") or "").strip()
            if not ID_PATTERN.match(sid):
                raise CourseError(f"{path}, line {i}: {sid!r} is not a valid student id (letters, digits, _ . -)")
            rows.append({k: (row.get(k) or "").strip() or None for k in ("first_name", "last_name", "email")} | {"id": sid})
    return rows


def collect(entries: list[Entry], assignment: str, expected: list[str], dest_root: Path,
            pattern: str = DEFAULT_PATTERN, roster: set[str] | None = None, due: dt.datetime | None = None,
            add_unknown: bool = False, force: bool = False) -> Report:
    """File entries under dest_root/<student>/<assignment>/. expected: the notebook file names."""
    rx = re.compile(pattern)
    if not {"student", "file"} <= set(rx.groupindex):
        raise CourseError(f"the pattern {pattern!r} needs the named groups (?P<student>...) and (?P<file>...)")
    report = Report()
    chosen: dict[tuple[str, str], Entry] = {}
    for e in entries:
        base = PurePosixPath(e.name).name
        m = rx.match(base)
        if not m:
            report.wrong_name.append((e.name, f"does not match the pattern {pattern}"))
            continue
        student, fname = m.group("student"), m.group("file")
        if not ID_PATTERN.match(student):
            report.wrong_name.append((e.name, f"{student!r} is not a valid student id"))
            continue
        if roster is not None and student not in roster and not add_unknown:
            report.unknown.append((student, e.name))
            continue
        if fname not in expected:
            notebooks = [x for x in expected if x.endswith(".ipynb")]
            if fname.endswith(".ipynb") and len(notebooks) == 1:
                report.renamed.append((student, fname, notebooks[0]))
                fname = notebooks[0]
            else:
                report.wrong_name.append((e.name, f"{fname!r} is not one of {', '.join(expected)}"))
                continue
        key = (student, fname)
        if key in chosen:
            old = chosen[key]
            keep, drop = (e, old) if e.mtime >= old.mtime else (old, e)
            report.duplicates.append((student, drop.name, keep.name))
            chosen[key] = keep
        else:
            chosen[key] = e
    for (student, fname), e in sorted(chosen.items()):
        folder = Path(dest_root) / student / assignment
        target = folder / fname
        if target.exists() and target.read_bytes() != e.data and not force:
            report.existing.append((student, fname))
            continue
        folder.mkdir(parents=True, exist_ok=True)
        target.write_bytes(e.data)
        stamp = folder / "timestamp.txt"
        latest = max([e.mtime] + ([_read_stamp(stamp)] if stamp.exists() else []))
        stamp.write_text(latest.strftime("%Y-%m-%d %H:%M:%S.%f UTC"))
        report.filed.append((student, fname))
        if due is not None and e.mtime > due:
            report.late.append((student, e.name, str(e.mtime - due).split(".")[0] + " late"))
    if roster is not None:
        report.missing = sorted(roster - {s for s, _ in report.filed} - {s for s, _ in report.existing})
    return report


def _read_stamp(path: Path) -> dt.datetime:
    text = path.read_text().strip().replace(" UTC", "")
    return dt.datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=dt.timezone.utc)
