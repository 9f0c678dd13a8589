"""The course on a shared JupyterHub: nbgrader's exchange directory instead of an LMS export.

    python -m autograder exchange release A1   [--exchange DIR]   student version -> DIR/<course>/outbound/A1
    python -m autograder exchange collect A1   [--exchange DIR]   DIR/<course>/inbound -> COURSE_DIR/submitted/
    python -m autograder exchange feedback A1  [--exchange DIR]   COURSE_DIR/feedback/ -> DIR/<course>/feedback/

The transfers are nbgrader's own (nbgrader.exchange.default: ExchangeReleaseAssignment,
ExchangeCollect, ExchangeReleaseFeedback), configured with the course's nbgrader_config.py
(CourseDirectory.course_id) and Exchange.root = DIR (default /srv/nbgrader/exchange, nbgrader's
documented location). Students use nbgrader's side of the same exchange: the Assignment List in
JupyterLab, or `nbgrader fetch_assignment / submit / fetch_feedback` (hub/nbgrader_config.py).

`collect` treats the inbound folder as hostile, like an LMS export: every student may write there.
nbgrader copies each student's newest submission into a private staging folder; from there the
files go through autograder.collect.collect, so the report and the rules are the ones of
`python -m autograder collect` (late, unknown student, duplicate, wrong name, never overwriting a
different file without --force, the size and cell limits). Beyond that, a submission is refused,
not collected, when its name is not a valid student id, when its folder is not owned by the unix
user its name claims (anyone can write a folder named `alice+A1+...`; --no-check-owner accepts
names as they are, for hubs whose containers share one uid), or when it holds a symbolic link or
anything but plain files and folders (a link to /dev/zero would never finish copying). The time of
a submission is the one in its name, unless the exchange's own record (the folder's ctime, which
no user can set back) is more than a minute later or earlier: a name can be back- or forward-dated,
the ctime cannot. Each chosen folder is copied here, its plain files only and following nothing,
before nbgrader's ExchangeCollect sees the copy (never the student's folder).
"""
from __future__ import annotations

import datetime as dt
import glob
import os
import re
import shutil
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from . import collect as lms
from . import course
from .course import ID_PATTERN, CourseError

DEFAULT_ROOT = "/srv/nbgrader/exchange"  # nbgrader's documented exchange location on a hub
# The staged files are handed to autograder.collect under this name: <student>+<file>.
_PATTERN = r"^(?P<student>[^+/]+)\+(?P<file>[^/]+)$"
_SECRET = re.compile(r"[0-9a-f]{16,256}\Z")  # nbgrader writes secrets.token_hex(64)
# How much later (or earlier) than the time in its name the exchange may have received a submission before the
# exchange's time is used instead (clock skew between the student's server and the file system).
CLOCK_SKEW = dt.timedelta(seconds=60)
# The exchange's files nbgrader adds to a submission; not the student's, so not collected as such.
_EXCHANGE_FILES = ("timestamp.txt", "submission_secret.txt")


@dataclass
class ExchangeReport:
    """What `exchange collect` did: autograder.collect's Report plus what only the exchange has."""

    report: lms.Report
    notes: list = field(default_factory=list)  # (student, text): times taken from the exchange, ...

    def lines(self) -> list[str]:
        return self.report.lines() + [f"note      {s}: {text}" for s, text in self.notes]


def _config(course_dir: Path, root: str | os.PathLike, assignment: str, release_dir: Path | None = None):
    """nbgrader's CourseDirectory and config for this course, with Exchange.root set."""
    from nbgrader.coursedir import CourseDirectory

    where = course.CourseDir.of(course_dir)
    where.root.mkdir(parents=True, exist_ok=True)
    config = where.nbgrader_config(release_dir)
    config.Exchange.root = str(Path(root).resolve())
    coursedir = CourseDirectory(config=config)
    coursedir.assignment_id = assignment
    return coursedir, config


def _start(cls, coursedir, config, **traits) -> None:
    """Run one of nbgrader's exchange transfers; its failures become CourseErrors."""
    from nbgrader.auth import Authenticator
    from nbgrader.exchange import ExchangeError

    transfer = cls(coursedir=coursedir, authenticator=Authenticator(config=config), config=config)
    for name, value in traits.items():
        setattr(transfer, name, value)
    try:
        transfer.start()
    except ExchangeError as exc:
        raise CourseError(f"nbgrader's exchange ({cls.__name__}): {exc}") from exc


def _check_root(root: str | os.PathLike) -> Path:
    root = Path(root)
    if not root.is_dir():
        raise CourseError(f"the exchange directory {root} does not exist; create it (as root) with "
                          f"`hub/setup_exchange.sh {root}`, or pass --exchange DIR (autograder/README.md, "
                          "'The course on a JupyterHub')")
    return root


def release(a: course.Assignment, course_dir: course.CourseDir, root: str | os.PathLike = DEFAULT_ROOT,
            force: bool = False, release_dir: Path | None = None) -> Path:
    """Generate the student version (as `release` does) and put it in the exchange's outbound folder.

    A second release of the same assignment is refused unless force: students may have fetched it."""
    root = _check_root(root)
    released = course.release(a, course_dir, release_dir=release_dir)
    assignment = a.name
    from nbgrader.exchange.default import ExchangeReleaseAssignment

    coursedir, config = _config(course_dir, root, assignment, release_dir)
    _start(ExchangeReleaseAssignment, coursedir, config, force=force)
    dest = Path(config.Exchange.root) / coursedir.course_id / "outbound" / assignment
    if not dest.is_dir():
        raise CourseError(f"nbgrader reported no error, but {dest} was not written from {released}")
    return dest


def _records(inbound: Path, assignment: str):
    """{name in the file name: [(time in the name, folder), newest first]} of the inbound folder."""
    from nbgrader.utils import parse_utc

    found: dict[str, list] = {}
    for path in sorted(inbound.glob(f"*+{glob.escape(assignment)}+*")):
        parts = path.name.rsplit("+", 3)  # student+assignment+timestamp[+random], as nbgrader reads it
        if len(parts) < 3 or parts[1] != assignment:
            continue
        try:
            stamp = parse_utc(parts[2])
        except Exception:  # noqa: BLE001 - an unparseable time: the name is not nbgrader's
            stamp = None
        found.setdefault(parts[0], []).append((stamp, path))
    epoch = dt.datetime.min.replace(tzinfo=dt.timezone.utc)
    for rows in found.values():
        rows.sort(key=lambda r: r[0] or epoch, reverse=True)
    return found


def _unsafe_entry(folder: Path) -> str | None:
    """Why a submission folder cannot be copied safely (a link, a device, a pipe), or None."""
    if folder.is_symlink() or not folder.is_dir():
        return "is not a plain folder"
    for top, dirs, files in os.walk(folder, followlinks=False):
        for name in dirs + files:
            mode = os.lstat(os.path.join(top, name)).st_mode
            if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                rel = os.path.relpath(os.path.join(top, name), folder)
                return f"holds {rel!r}, which is not a plain file (a symbolic link, device or pipe)"
    return None


def _size(folder: Path) -> int:
    """The bytes of the plain files under folder (nothing followed)."""
    total = 0
    for top, _, files in os.walk(folder, followlinks=False):
        for name in files:
            try:
                st = os.lstat(os.path.join(top, name))
            except OSError:
                continue
            total += st.st_size if stat.S_ISREG(st.st_mode) else 0
    return total


def _owner(path: Path) -> str:
    import pwd

    uid = path.lstat().st_uid
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def _utc(value) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


@dataclass
class _Intake:
    """What collecting from the exchange found so far (see collect)."""
    refused: list = field(default_factory=list)     # (entry, why)
    wrong: list = field(default_factory=list)       # (entry, why): not a file this assignment takes
    duplicates: list = field(default_factory=list)  # (student, dropped, kept)
    notes: list = field(default_factory=list)       # (student, note)
    entries: list = field(default_factory=list)     # lms.Entry, named student+file
    secrets: dict = field(default_factory=dict)     # student -> submission_secret.txt


def _usable(student: str, rows: list, check_owner: bool, intake: _Intake) -> list:
    """A student's submissions (stamp, path), newest first, without those refused (with the reason)."""
    usable = []
    for stamp, path in rows:
        problem = None if stamp is not None else "the time in its name cannot be read; not nbgrader's"
        problem = problem or _unsafe_entry(path)
        if problem is None and check_owner and _owner(path) != student:
            problem = (f"is named for {student!r} but owned by {_owner(path)!r}; only the student's own "
                       "unix user can submit as them (--no-check-owner accepts names as they are)")
        if problem:
            intake.refused.append((path.name, problem))
        else:
            usable.append((stamp, path))
    return usable


def _submitted_at(student: str, chosen: Path, stamp, intake: _Intake) -> dt.datetime:
    """The time its name says, unless the exchange received it more than CLOCK_SKEW earlier or later."""
    received = dt.datetime.fromtimestamp(chosen.lstat().st_ctime, tz=dt.timezone.utc)
    when = _utc(stamp)
    if abs(received - when) > CLOCK_SKEW:
        intake.notes.append((student, f"{chosen.name}: its name says {when:%Y-%m-%d %H:%M:%S} UTC, the exchange "
                                      f"received it at {received:%Y-%m-%d %H:%M:%S} UTC; the latter is used"))
        when = received
    return when


def _take(student: str, chosen: Path, when: dt.datetime, assignment: str, expected: list[str], coursedir,
          config, staging: Path, intake: _Intake) -> None:
    """Let nbgrader's ExchangeCollect copy the chosen submission into staging, and read its files."""
    from nbgrader.exchange.default import ExchangeCollect

    # nbgrader's ExchangeCollect takes a student's newest folder by its name, and copies it following
    # links; show it only the chosen one, as a private copy of its plain files made here without
    # following anything (lms.copy_plain): the student owns the folder and could swap a file for a
    # link to the solutions or /dev/zero between any check of it and nbgrader's copy
    view = staging / "exchange" / student
    (view / coursedir.course_id / "inbound").mkdir(parents=True)
    size = _size(chosen)
    if size > coursedir.max_dir_size * 1000:
        intake.refused.append((chosen.name, f"holds {size:,} bytes, over the limit of {coursedir.max_dir_size * 1000:,}"))
        return
    refused = lms.copy_plain(chosen, view / coursedir.course_id / "inbound" / chosen.name)
    if refused:
        intake.refused.append((chosen.name, f"holds {', '.join(refused)}: only plain files and folders are taken"))
        return
    config.Exchange.root = str(view)
    coursedir.student_id = student
    try:
        _start(ExchangeCollect, coursedir, config, check_owner=False, update=True)
    except (CourseError, OSError, RuntimeError) as exc:  # nbgrader refuses a folder over max_dir_size
        intake.refused.append((chosen.name, f"nbgrader could not collect it: {exc}"))
        return
    staged = staging / "submitted" / student / assignment
    for e in lms.read_export(staged):
        if e.name in _EXCHANGE_FILES:
            continue
        if "/" in e.name:
            intake.wrong.append((f"{chosen.name}/{e.name}", f"is in a subfolder; {assignment} expects only "
                                                           f"{', '.join(expected)}"))
            continue
        intake.entries.append(lms.Entry(f"{student}+{e.name}", e.data, when, e.problem))
    secret_file = staged / "submission_secret.txt"
    secret = secret_file.open("rb").read(300).decode("ascii", "replace").strip() if secret_file.is_file() else ""
    if _SECRET.fullmatch(secret):
        intake.secrets[student] = secret
    else:
        intake.notes.append((student, "no valid submission_secret.txt: nbgrader's feedback cannot be "
                                      "released to this submission"))


def collect(a: course.Assignment, course_dir: course.CourseDir, root: str | os.PathLike = DEFAULT_ROOT,
            due: str | None = None, add_unknown: bool = False, force: bool = False,
            check_owner: bool = True, only: str | None = None) -> ExchangeReport:
    """Collect every student's newest submission from the exchange into COURSE_DIR/submitted/.

    only: the name of one inbound folder; that submission alone is considered, by the same rules
    (the grading service files each submission as it arrives: autograder.serve)."""
    assignment = a.name
    root = _check_root(root)
    coursedir, config = _config(course_dir, root, assignment)
    inbound = Path(config.Exchange.root) / coursedir.course_id / "inbound"
    if not inbound.is_dir():
        raise CourseError(f"no {inbound}: release an assignment to this exchange first "
                          f"(python -m autograder exchange release {assignment} --exchange {root})")
    due_at, expected = course.parse_due(due), list(a.files)
    intake = _Intake()
    staging = Path(tempfile.mkdtemp(prefix=".exchange-", dir=course.CourseDir.of(course_dir).root))
    try:
        coursedir.submitted_directory = str(staging / "submitted")
        for student, rows in sorted(_records(inbound, assignment).items()):
            rows = [r for r in rows if only is None or r[1].name == only]
            if not rows:
                continue
            if not ID_PATTERN.fullmatch(student):
                intake.wrong += [(p.name, f"{student!r} is not a valid student id (letters, digits, _ . -)")
                                 for _, p in rows]
                continue
            usable = _usable(student, rows, check_owner, intake)
            if not usable:
                continue
            stamp, chosen = usable[0]
            intake.duplicates += [(student, p.name, chosen.name) for _, p in usable[1:]]
            when = _submitted_at(student, chosen, stamp, intake)
            _take(student, chosen, when, assignment, expected, coursedir, config, staging, intake)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    where = course.CourseDir.of(course_dir)
    report = lms.collect(intake.entries, a, where.submitted, pattern=_PATTERN,
                         roster=where.roster_ids(), due=due_at, add_unknown=add_unknown, force=force)
    report.refused += intake.refused
    report.wrong_name += intake.wrong
    report.duplicates += intake.duplicates
    for student in sorted({s for s, _ in report.filed} & set(intake.secrets)):
        # the secret names the feedback nbgrader releases to this submission (ExchangeReleaseFeedback)
        (where.submission(student, assignment) / "submission_secret.txt").write_text(intake.secrets[student])
    return ExchangeReport(report, intake.notes)


def release_feedback(a: course.Assignment, course_dir: course.CourseDir, root: str | os.PathLike = DEFAULT_ROOT,
                     students: list[str] | None = None) -> tuple[list[str], list[str]]:
    """Put the HTML feedback of COURSE_DIR/feedback/<student>/A/ (`python -m autograder feedback A`)
    in the exchange, where only the submitting student can find it (its name is a hash of their
    submission's secret). Returns (students released, lines about those skipped)."""
    from nbgrader.exchange.default import ExchangeReleaseFeedback

    assignment = a.name
    root = _check_root(root)
    coursedir, config = _config(course_dir, root, assignment)
    base = course.CourseDir.of(course_dir).feedback
    folders = sorted(p.parent for p in base.glob(f"*/{glob.escape(assignment)}/*.html"))
    have = sorted({f.parent.name for f in folders})
    if not have:
        raise CourseError(f"no feedback for {assignment} under {base}: run `python -m autograder feedback "
                          f"{assignment}` first")
    released, skipped = [], []
    for student in have:
        if students and student not in students:
            continue
        folder = base / student / assignment
        if not ID_PATTERN.fullmatch(student):
            skipped.append(f"{student!r}: not a valid student id")
            continue
        if not (folder / "submission_secret.txt").is_file() or not (folder / "timestamp.txt").is_file():
            skipped.append(f"{student}: not submitted through the exchange (no submission_secret.txt); "
                           "give this feedback another way")
            continue
        coursedir.student_id = student
        _start(ExchangeReleaseFeedback, coursedir, config)
        released.append(student)
    return released, skipped


@dataclass(frozen=True)
class Inbound:
    """One submission folder in the exchange's inbound folder, named student+assignment+time+random
    by nbgrader's submit (the grading service's unit of work: autograder.serve)."""

    path: Path
    student: str                 # as its name says: trust it only after refusal() found nothing
    stamp: dt.datetime | None    # the time in its name (None: unreadable)
    received: dt.datetime        # the folder's ctime: when the exchange got it (no user can set it back)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def when(self) -> dt.datetime:
        """When it counts as submitted: the time in its name, unless the exchange received it more
        than CLOCK_SKEW before or after that (as `collect` decides): a name can be back- or
        forward-dated, the folder's ctime cannot."""
        if self.stamp is None or abs(self.received - _utc(self.stamp)) > CLOCK_SKEW:
            return self.received
        return _utc(self.stamp)


def inbound(root: str | os.PathLike, assignment: str) -> list[Inbound]:
    """Every submission of an assignment in the exchange, in the order the exchange received them."""
    folder = _check_root(root) / _course_id() / "inbound"
    if not folder.is_dir():
        return []
    found = []
    for student, rows in _records(folder, assignment).items():
        for stamp, path in rows:
            try:
                received = dt.datetime.fromtimestamp(path.lstat().st_ctime, tz=dt.timezone.utc)
            except OSError:  # removed meanwhile
                continue
            found.append(Inbound(path, student, stamp, received))
    return sorted(found, key=lambda e: (e.received, e.name))


def _course_id() -> str:
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader(course.CONFIG_FILE.name, path=str(course.CONFIG_FILE.parent)).load_config()
    return config.CourseDirectory.course_id


def refusal(entry: Inbound, check_owner: bool = True) -> str | None:
    """Why a submission folder cannot be taken as its student's (an invalid id, a time nbgrader did
    not write, a link or device inside, a folder that another unix user made), or None."""
    if not ID_PATTERN.fullmatch(entry.student):
        return f"{entry.student!r} is not a valid student id (letters, digits, _ . -)"
    intake = _Intake()
    _usable(entry.student, [(entry.stamp, entry.path)], check_owner, intake)
    return intake.refused[0][1] if intake.refused else None


def secret(entry: Inbound) -> str | None:
    """The submission's submission_secret.txt (nbgrader's key to its feedback), or None if it has no
    valid one. Read only after refusal() found nothing: the folder is its student's."""
    path = entry.path / "submission_secret.txt"
    try:  # the student's folder: never follow a link, never wait on a pipe
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            return None
        text = fh.read(300).decode("ascii", "replace").strip()
    return text if _SECRET.fullmatch(text) else None


def release_pages(a: course.Assignment, course_dir: course.CourseDir, root: str | os.PathLike, student: str,
                  pages: dict[str, str], secret_text: str, timestamp: str) -> None:
    """Put feedback pages ({notebook name without .ipynb: HTML}) in the exchange for one submission,
    through nbgrader's ExchangeReleaseFeedback: the student's *Fetch Feedback* finds them by the
    hash of the submission's secret and the notebook's name, and nobody else can."""
    from nbgrader.exchange.default import ExchangeReleaseFeedback

    root = _check_root(root)
    where = course.CourseDir.of(course_dir)
    where.root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".pages-", dir=where.root))
    try:
        folder = staging / student / a.name
        folder.mkdir(parents=True)
        for stem, text in pages.items():
            (folder / f"{stem}.html").write_text(text, encoding="utf-8")
        (folder / "submission_secret.txt").write_text(secret_text)
        (folder / "timestamp.txt").write_text(timestamp)
        coursedir, config = _config(course_dir, root, a.name)
        coursedir.feedback_directory = str(staging)
        coursedir.student_id = student
        _start(ExchangeReleaseFeedback, coursedir, config)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
