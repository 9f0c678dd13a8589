"""File a learning-management system's export of submissions under submitted/<student>/<assignment>/.

An export is a folder or a zip with one file per student and notebook, the student id in the file
name. A regular expression with the named groups `student` and `file` takes the name apart; the
default reads `<student>_<notebook file>` (e.g. `s1234_A1_mlp_backprop.ipynb`). Two examples of
other exports:

    Moodle   ^[^_]+_(?P<student>\\d+)_assignsubmission_file_(?P<file>.+)$
    Canvas   ^(?P<student>[a-z0-9]+)_(?:LATE_)?\\d+_\\d+_(?P<file>.+)$

Nothing is dropped silently and nothing is overwritten without --force: every file lands in the
report as filed, renamed, duplicate, unknown student, wrong name, refused, late or already there.

An export is hostile input. A folder-per-student export (`alice/A1_mlp_backprop.ipynb`) files
what is in a student's folder under that student: a file whose name says another student is
refused, not filed under either. Symbolic links, devices and pipes are refused, never followed or
read (`copy_plain` copies a folder so; grading stages each submission with it). An entry larger than
Limits.entry_bytes (its size is read from the folder or the zip's directory, then enforced again
while it is decompressed), a notebook with more than Limits.cells cells, and everything after
Limits.total_bytes are refused with the reason. Student ids must match course.ID_PATTERN in full.
"""
from __future__ import annotations

import csv
import datetime as dt
import json
import os
import re
import stat
import unicodedata
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from .course import ID_PATTERN, Assignment, CourseError
from .limits import DEFAULTS

DEFAULT_PATTERN = r"^(?P<student>[A-Za-z0-9.-]+)_(?P<file>.+)$"


@dataclass(frozen=True)
class Limits:
    entry_bytes: int = 20 * 1024**2   # one file of the export, uncompressed
    total_bytes: int = 2 * 1024**3    # the whole export, uncompressed
    cells: int = DEFAULTS["max_cells"]  # cells of one notebook (the grader's own limit, autograder.limits)


DEFAULT_LIMITS = Limits()


@dataclass
class Entry:
    """One file of the export."""

    name: str          # path inside the export
    data: bytes
    mtime: dt.datetime  # UTC
    problem: str | None = None  # why it was refused (then data is empty)


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
    refused: list = field(default_factory=list)     # (name, why): unsafe or over a limit

    def lines(self) -> list[str]:
        out = [f"filed {len(self.filed)} file(s) for {len({s for s, _ in self.filed})} student(s)"]
        out += [f"renamed   {s}: {a} -> {b}" for s, a, b in self.renamed]
        out += [f"late      {s}: {n} ({d})" for s, n, d in self.late]
        out += [f"duplicate {s}: ignored {a}, kept the newer {b}" for s, a, b in self.duplicates]
        out += [f"unknown   {s}: {n} (not in the roster; use --add-unknown to file it)" for s, n in self.unknown]
        out += [f"wrong name {n}: {why}" for n, why in self.wrong_name]
        out += [f"refused   {n!r}: {why}" for n, why in self.refused]
        out += [f"kept      {s}: {f} is already in submitted/ and differs (use --force to replace it)" for s, f in self.existing]
        out += [f"missing   {s}: nothing submitted" for s in self.missing]
        return out


def _hidden(parts) -> bool:
    return any(part.startswith((".", "__MACOSX")) for part in parts)


def _over(size: int, limits: Limits) -> str:
    return f"{size:,} bytes uncompressed, over the limit of {limits.entry_bytes:,} bytes per file"


def _cells_problem(name: str, data: bytes, limits: Limits) -> str | None:
    """A notebook with more cells than the limit (an unreadable one is filed: grading reports it)."""
    if not name.endswith(".ipynb"):
        return None
    try:
        cells = json.loads(data).get("cells")
    except Exception:  # noqa: BLE001 - not JSON, or nested too deep: grade says "not a valid notebook"
        return None
    if isinstance(cells, list) and len(cells) > limits.cells:
        return f"{len(cells):,} cells, over the limit of {limits.cells:,} per notebook"
    return None


class _Budget:
    def __init__(self, limits: Limits):
        self.limits, self.used = limits, 0

    def take(self, size: int) -> str | None:
        if self.used + size > self.limits.total_bytes:
            return f"the export is over {self.limits.total_bytes:,} bytes uncompressed by here; file it in parts"
        self.used += size
        return None


def kind(mode: int) -> str:
    """What a file that is not plain is, for a reason: 'a symbolic link', 'a device', ..."""
    for test, name in ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"),
                       (stat.S_ISFIFO, "a pipe"), (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder")):
        if test(mode):
            return name
    return "not a plain file"


_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK  # a pipe swapped in at the last moment does not block


def copy_plain(src: Path, dest: Path, ignore: tuple[str, ...] = ()) -> list[str]:
    """Copy the folder src to dest (created), its plain files and folders only, following nothing:
    every name is opened relative to its folder's descriptor with O_NOFOLLOW, so a link, device or
    pipe anywhere (src itself included) is never read, even one put there while it copies.
    Returns the entries refused, as 'relative/path (a symbolic link)'; names in ignore are skipped."""
    refused: list[str] = []
    try:
        top = os.open(src, _DIR)
    except OSError:
        st = os.lstat(src)
        return [f". ({kind(st.st_mode)})"]

    def walk(fd: int, rel: PurePosixPath, out: Path) -> None:
        out.mkdir(parents=True, exist_ok=True)
        with os.scandir(fd) as it:
            names = sorted(e.name for e in it)
        for name in names:
            if name in ignore:
                continue
            where = rel / name
            st = os.stat(name, dir_fd=fd, follow_symlinks=False)
            if stat.S_ISDIR(st.st_mode):
                try:
                    sub = os.open(name, _DIR, dir_fd=fd)
                except OSError:  # swapped for something else since stat
                    refused.append(f"{where} (not a plain folder)")
                    continue
                try:
                    walk(sub, where, out / name)
                finally:
                    os.close(sub)
            elif stat.S_ISREG(st.st_mode):
                try:
                    fh = os.open(name, _FILE, dir_fd=fd)
                except OSError:
                    refused.append(f"{where} (not a plain file)")
                    continue
                with open(fh, "rb") as f:
                    if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                        refused.append(f"{where} (not a plain file)")
                        continue
                    with open(out / name, "wb") as g:
                        while chunk := f.read(1 << 20):
                            g.write(chunk)
                os.utime(out / name, ns=(st.st_atime_ns, st.st_mtime_ns))
            else:
                refused.append(f"{where} ({kind(st.st_mode)})")

    try:
        walk(top, PurePosixPath(), Path(dest))
    finally:
        os.close(top)
    return refused


def _read_folder(path: Path, limits: Limits) -> list[Entry]:
    entries, budget = [], _Budget(limits)
    for top, dirs, files in os.walk(path, followlinks=False):
        here = Path(top)
        for d in sorted(dirs):
            if (here / d).is_symlink():
                entries.append(Entry(str((here / d).relative_to(path)), b"", _epoch(), "a symbolic link; not followed"))
        dirs[:] = sorted(d for d in dirs if not (here / d).is_symlink() and not _hidden([d]))
        for f in sorted(files):
            p = here / f
            rel = p.relative_to(path)
            if _hidden(rel.parts):
                continue
            st = p.lstat()
            mtime = dt.datetime.fromtimestamp(st.st_mtime, tz=dt.timezone.utc)
            if stat.S_ISLNK(st.st_mode):
                entries.append(Entry(str(rel), b"", mtime, "a symbolic link; not followed"))
                continue
            if not stat.S_ISREG(st.st_mode):
                entries.append(Entry(str(rel), b"", mtime, f"{kind(st.st_mode)}; not read"))
                continue
            problem = _over(st.st_size, limits) if st.st_size > limits.entry_bytes else budget.take(st.st_size)
            if problem:
                entries.append(Entry(str(rel), b"", mtime, problem))
                continue
            with open(p, "rb") as fh:
                data = fh.read(limits.entry_bytes + 1)  # the file may have grown since lstat
            if len(data) > limits.entry_bytes:
                entries.append(Entry(str(rel), b"", mtime, _over(len(data), limits)))
                continue
            entries.append(Entry(str(rel), data, mtime, _cells_problem(str(rel), data, limits)))
    return [e if e.problem is None else Entry(e.name, b"", e.mtime, e.problem) for e in entries]


def _read_zip(path: Path, limits: Limits) -> list[Entry]:
    entries, budget = [], _Budget(limits)
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            pure = PurePosixPath(info.filename)
            if pure.is_absolute() or ".." in pure.parts:
                raise CourseError(f"{path}: refusing the unsafe path {info.filename!r} in the zip")
            if info.is_dir() or _hidden(pure.parts):
                continue
            mtime = dt.datetime(*info.date_time, tzinfo=dt.timezone.utc)
            if stat.S_ISLNK(info.external_attr >> 16):
                entries.append(Entry(info.filename, b"", mtime, "a symbolic link; not followed"))
                continue
            # the directory's size first (nothing decompressed), then the stream itself, capped:
            # a zip's directory can understate what an entry expands to
            problem = _over(info.file_size, limits) if info.file_size > limits.entry_bytes else None
            data = b""
            if problem is None:
                chunks, size = [], 0
                try:
                    with zf.open(info) as fh:
                        while size <= limits.entry_bytes:
                            chunk = fh.read(1 << 20)
                            if not chunk:
                                break
                            chunks.append(chunk)
                            size += len(chunk)
                except (zipfile.BadZipFile, EOFError, OSError, NotImplementedError) as exc:
                    problem = f"cannot be read from the zip ({exc})"
                if problem is None and size > limits.entry_bytes:
                    problem = f"expands beyond {limits.entry_bytes:,} bytes (the limit per file)"
                if problem is None:
                    problem = budget.take(size)
                if problem is None:
                    data = b"".join(chunks)
                    problem = _cells_problem(info.filename, data, limits)
                del chunks
            entries.append(Entry(info.filename, b"" if problem else data, mtime, problem))
    return entries


def _epoch() -> dt.datetime:
    return dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def read_export(path: Path, limits: Limits = DEFAULT_LIMITS) -> list[Entry]:
    """The files of a folder (recursively) or a zip; folders, hidden files and __MACOSX are skipped.
    Symbolic links and entries over a limit come back refused (Entry.problem), without their data."""
    path = Path(path)
    if path.is_dir():
        return _read_folder(path, limits)
    if zipfile.is_zipfile(path):
        return _read_zip(path, limits)
    if path.exists():
        raise CourseError(f"{path} is neither a folder nor a zip file")
    raise CourseError(f"{path} does not exist: give the folder or zip of submissions")


NAME_PUNCTUATION = set(" '\u2019-.,")


def name_problem(text: str) -> str | None:
    """Why a first or last name is refused, or None. Letters (any script) and marks, with spaces,
    apostrophes, hyphens, periods and commas between them; at most 100 characters."""
    if len(text) > 100:
        return "is longer than 100 characters"
    if not unicodedata.category(text[0]).startswith("L"):
        return "must begin with a letter"
    bad = sorted({c for c in text if not unicodedata.category(c).startswith(("L", "M")) and c not in NAME_PUNCTUATION})
    if bad:
        return f"holds {', '.join(repr(c) for c in bad)} (letters, spaces and ' - . , only)"
    return None


def email_problem(text: str) -> str | None:
    local, at, domain = text.partition("@")
    if (not at or not local or "." not in domain or "@" in domain or len(text) > 254
            or any(c.isspace() or not c.isprintable() or c in "<>\"(),;:[]" for c in text)
            or local.startswith(("=", "+", "-"))):
        return "is not an email address such as ada@example.org"
    return None


def read_roster(path: Path) -> list[dict]:
    """students.csv with a header; column `id` is required, first_name, last_name, email optional."""
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or "id" not in reader.fieldnames:
            raise CourseError(f"{path}: the first line must be a header with an 'id' column, got {reader.fieldnames}")
        rows = []
        for i, row in enumerate(reader, start=2):
            sid = (row.get("id") or "").strip()
            if not ID_PATTERN.fullmatch(sid):
                raise CourseError(f"{path}, line {i}: {sid!r} is not a valid student id (letters, digits, _ . -)")
            fields = {k: (row.get(k) or "").strip() or None for k in ("first_name", "last_name", "email")}
            for key, value in fields.items():
                why = value and (email_problem(value) if key == "email" else name_problem(value))
                if why:
                    raise CourseError(f"{path}, line {i}: {key} {value!r} {why}; correct the roster and import it again")
            rows.append(fields | {"id": sid})
    return rows


def _whose(e: Entry, rx: re.Pattern, pattern: str, expected: list[str], roster: set[str] | None,
           per_student: bool, add_unknown: bool, report: Report) -> tuple[str, str] | None:
    """(student, file name) an entry is filed as, or None with the reason added to the report."""
    pure = PurePosixPath(e.name)
    base = pure.name
    m = rx.fullmatch(base)
    folder = pure.parent.name if pure.parent != PurePosixPath(".") else None
    if folder is not None and not (ID_PATTERN.fullmatch(folder) and (per_student or (roster and folder in roster))):
        folder = None
    if folder is not None:
        named = m.group("student") if m else None
        if base in expected or named is None or (named != folder and not ID_PATTERN.fullmatch(named)) \
                or (named != folder and roster is not None and named not in roster):
            student, fname = folder, base
        elif named == folder:
            student, fname = folder, m.group("file")
        else:
            report.refused.append((e.name, f"the folder of student {folder!r} holds a file named for {named!r}; "
                                           "folder and file must agree, so neither gets it"))
            return None
    else:
        if not m:
            report.wrong_name.append((e.name, f"does not match the pattern {pattern}"))
            return None
        student, fname = m.group("student"), m.group("file")
    if not ID_PATTERN.fullmatch(student):
        report.wrong_name.append((e.name, f"{student!r} is not a valid student id"))
        return None
    if roster is not None and student not in roster and not add_unknown:
        report.unknown.append((student, e.name))
        return None
    if fname not in expected:
        notebooks = [x for x in expected if x.endswith(".ipynb")]
        if not (fname.endswith(".ipynb") and len(notebooks) == 1):
            report.wrong_name.append((e.name, f"{fname!r} is not one of {', '.join(expected)}"))
            return None
        report.renamed.append((student, fname, notebooks[0]))
        fname = notebooks[0]
    return student, fname


def _file(chosen: dict[tuple[str, str], Entry], dest_root: Path, assignment: str, due: dt.datetime | None,
          force: bool, report: Report) -> None:
    """Write each chosen entry under dest_root/<student>/<assignment>/, with its folder's timestamp."""
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


def collect(entries: list[Entry], assignment: Assignment, dest_root: Path,
            pattern: str = DEFAULT_PATTERN, roster: set[str] | None = None, due: dt.datetime | None = None,
            add_unknown: bool = False, force: bool = False) -> Report:
    """File entries under dest_root/<student>/<assignment>/; a student hands in assignment.files."""
    expected = list(assignment.files)
    rx = re.compile(pattern)
    if not {"student", "file"} <= set(rx.groupindex):
        raise CourseError(f"the pattern {pattern!r} needs the named groups (?P<student>...) and (?P<file>...)")
    report = Report()
    chosen: dict[tuple[str, str], Entry] = {}
    report.refused = [(e.name, e.problem) for e in entries if e.problem]
    entries = [e for e in entries if not e.problem]
    # Entries in more than one folder: the folders are the students' (a single folder around all
    # of them is the export's wrapper). A folder named for a roster student is always one.
    per_student = len({PurePosixPath(e.name).parent for e in entries}) > 1
    for e in entries:
        key = _whose(e, rx, pattern, expected, roster, per_student, add_unknown, report)
        if key is None:
            continue
        if key in chosen:
            old = chosen[key]
            keep, drop = (e, old) if e.mtime >= old.mtime else (old, e)
            report.duplicates.append((key[0], drop.name, keep.name))
            chosen[key] = keep
        else:
            chosen[key] = e
    _file(chosen, dest_root, assignment.name, due, force, report)
    if roster is not None:
        report.missing = sorted(roster - {s for s, _ in report.filed} - {s for s, _ in report.existing})
    return report


def _read_stamp(path: Path) -> dt.datetime:
    text = path.read_text().strip().replace(" UTC", "")
    return dt.datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=dt.timezone.utc)
