"""Where things are: a course's assignments (`Course`, `Assignment`), and a term's folder with its
gradebook (`CourseDir`).

A course is a folder (this repository, or an instructor's own) that holds `solutions/<A>/` (the
instructor's notebooks), `assignments/<A>/` (the student versions `release` writes) and
`course.toml` (each assignment's block: dates, grading limits, withheld library code; the lectures'
calendar; the pack's hosting). `Course(root).assignment("A5")` reads an assignment once into a
frozen `Assignment`, validated with a message that says what to fix. A term's folder, `CourseDir`,
holds what a term produces (submitted/, autograded/, feedback/, gradebook.db) and names the course
it grades (`source`); every path and the gradebook's URL are named there, in one picklable value
passed to whatever needs it (no environment variable carries `--db`, no module-level path is
patched). The nbgrader objects for a course folder (its config, the NbGraderAPI, the Gradebook) are
made here too.

Of the autograder this module imports only `limits` (a leaf: `Assignment.limits` is a
`limits.Limits`, imported when an assignment is read); every other module may import it.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import re
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from traitlets.config import Config, PyFileConfigLoader

if TYPE_CHECKING:
    from .limits import Limits

REPO = Path(__file__).resolve().parents[1]
DEFAULT_COURSE_DIR = REPO / "course"
CONFIG_FILE = Path(__file__).resolve().with_name("nbgrader_config.py")
CALENDAR_FILE = "course.toml"  # in a course's root: the assignments' blocks, the lectures' dates, the pack
STATUS_FILE = "grading.json"  # beside each autograded submission: fingerprint, status, reason
OLD_LIMITS_FILE = "autograder.toml"  # where limits lived before course.toml's blocks held them
LIBRARY = "cnnkit"  # the course's helper library, whose graded functions a block may withhold
BLOCK_KEYS = ("release", "due", "limits", "withhold", "keep", "submission")
# \Z, not $: $ also matches before a trailing newline. Use it with fullmatch.
ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\Z")


class CourseError(Exception):
    """A problem the instructor can fix; the message says what and how."""


def parse_due(due: str | None):
    """A due date given as an ISO date (2026-10-01T23:59), as an aware datetime (UTC unless it
    says otherwise); None for none."""
    if not due:
        return None
    try:
        due_at = dt.datetime.fromisoformat(due)
    except ValueError as exc:
        raise CourseError(f"--due {due!r} is not an ISO date such as 2026-10-01T23:59") from exc
    return due_at if due_at.tzinfo else due_at.replace(tzinfo=dt.timezone.utc)


def _date(value, where: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    raise CourseError(f"{where} must be a date such as 2026-10-18 (TOML date, no quotes), got {value!r}")


@dataclass(frozen=True)
class Assignment:
    """One assignment, read once from its folder and its course.toml block (Course.assignment).

    name: the folder's name (A1). source: solutions/<name>, the instructor's notebooks. released:
    assignments/<name>, where `release` writes the student version. notebooks: the instructor's
    notebooks' file names; files: every file a student hands in (notebooks and data; not the
    jupytext sources). limits: the defaults, then the block's [limits]. release, due: the calendar
    (None where the block gives none). withhold: library names (cnnkit.module.name) the student
    pack replaces by stand-ins until the day after `due`; keep: graded library names shipped
    anyway, with the reason. submission: the block's [submission] table as written (attempts, which
    counts, what a student sees before the due date), read by autograder.attempts.rules."""

    name: str
    source: Path
    released: Path
    notebooks: tuple[str, ...]
    files: tuple[str, ...]
    limits: Limits
    release: dt.date | None = None
    due: dt.date | None = None
    withhold: tuple[str, ...] = ()
    keep: dict[str, str] = field(default_factory=dict, hash=False)
    submission: dict = field(default_factory=dict, hash=False)

    def is_released(self, as_of: dt.date) -> bool:
        return self.release is not None and as_of >= self.release

    def closed(self, as_of: dt.date) -> bool:
        return self.due is not None and as_of > self.due


@dataclass(frozen=True)
class Calendar:
    """course.toml's dates: each lecture's release, and the assignments that have a block."""

    lectures: dict[str, dt.date]
    assignments: dict[str, Assignment]


@dataclass(frozen=True)
class Course:
    """A course folder: solutions/, assignments/, lectures/ and course.toml under root."""

    root: Path = REPO

    def __post_init__(self):
        object.__setattr__(self, "root", Path(self.root))

    @property
    def solutions(self) -> Path:
        return self.root / "solutions"

    @property
    def released(self) -> Path:
        """assignments/: the student versions `release` writes."""
        return self.root / "assignments"

    @property
    def lectures(self) -> Path:
        return self.root / "lectures"

    @property
    def calendar_file(self) -> Path:
        return self.root / CALENDAR_FILE

    def config(self) -> dict:
        """course.toml as a dict ({} when the course has none)."""
        try:
            return tomllib.loads(self.calendar_file.read_text())
        except FileNotFoundError:
            return {}
        except tomllib.TOMLDecodeError as exc:
            raise CourseError(f"{self.calendar_file} is not valid TOML: {exc}") from None

    def assignment_names(self) -> list[str]:
        """The assignments: the folders of solutions/ that hold a notebook."""
        if not self.solutions.is_dir():
            return []
        return sorted(p.name for p in self.solutions.iterdir() if p.is_dir() and any(p.glob("*.ipynb")))

    def assignment(self, name: str) -> Assignment:
        """The assignment `name`, read from solutions/<name>/ and course.toml [assignments.<name>]."""
        names = self.assignment_names()
        if name not in names:
            raise CourseError(f"no assignment {name!r} in {self.solutions} (a folder with the instructor's "
                              f"notebooks): available {', '.join(names) or 'none'}")
        block = self.config().get("assignments", {}).get(name, {})
        return self._read(name, block, f"{CALENDAR_FILE} [assignments.{name}]")

    def resolve(self, assignment: Assignment | str) -> Assignment:
        """An Assignment as it is, or the one of that name."""
        return assignment if isinstance(assignment, Assignment) else self.assignment(assignment)

    def calendar(self) -> Calendar:
        """The lectures' dates and every assignment with a block, each with release and due dates."""
        data = self.config()
        lectures = {str(k): _date(v, f"{CALENDAR_FILE} [lectures] {k}") for k, v in data.get("lectures", {}).items()}
        for stem in lectures:
            if not (self.lectures / f"{stem}.ipynb").exists():
                raise CourseError(f"{CALENDAR_FILE} [lectures] names {stem!r}, but there is no lectures/{stem}.ipynb")
        assignments = {}
        for name in data.get("assignments", {}):
            a = self.assignment(name) if name in self.assignment_names() else None
            if a is None:
                raise CourseError(f"{CALENDAR_FILE} [assignments.{name}]: there is no folder {self.solutions / name} "
                                  "with the assignment's notebooks")
            if a.release is None or a.due is None:
                raise CourseError(f"{CALENDAR_FILE} [assignments.{name}] needs release = DATE and due = DATE")
            assignments[name] = a
        return Calendar(lectures, assignments)

    def _read(self, name: str, block, where: str) -> Assignment:
        from .limits import limits_from_table

        if not isinstance(block, dict):
            raise CourseError(f"{where} must be a table (release = ..., due = ..., [assignments.{name}.limits])")
        unknown = sorted(set(block) - set(BLOCK_KEYS))
        if unknown:
            raise CourseError(f"{where}: unknown key(s) {', '.join(unknown)}; expected some of {', '.join(BLOCK_KEYS)}")
        source = self.solutions / name
        if (source / OLD_LIMITS_FILE).exists():
            raise CourseError(f"{source / OLD_LIMITS_FILE}: an assignment's limits are now in {where}.limits "
                              f"(a table [assignments.{name}.limits] of the same keys); move them there and remove the file")
        try:
            limits = limits_from_table(block.get("limits", {}), f"{where}.limits")
        except ValueError as exc:
            raise CourseError(str(exc)) from None
        release = _date(block["release"], f"{where} release") if "release" in block else None
        due = _date(block["due"], f"{where} due") if "due" in block else None
        if release and due and due < release:
            raise CourseError(f"{where}: due {due} is before release {release}")
        withhold = tuple(block.get("withhold", []))
        for q in withhold:
            if not isinstance(q, str) or q.count(".") < 2 or not q.startswith(LIBRARY + "."):
                raise CourseError(f"{where} withhold: {q!r} is not a name such as {LIBRARY}.conv.im2col")
        files = sorted(p.name for p in source.iterdir() if p.is_file() and not p.name.endswith(".pct.py"))
        return Assignment(name, source, self.released / name, tuple(n for n in files if n.endswith(".ipynb")),
                          tuple(files), limits, release, due, withhold, dict(block.get("keep", {})),
                          dict(block.get("submission", {})))


def _put_interpreter_on_path() -> None:
    """nbgrader runs the `alembic` command of its environment; find it even if the venv is not activated."""
    bindir = str(Path(sys.executable).parent)
    if bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")


@dataclass(frozen=True)
class CourseDir:
    """A course folder and its gradebook.

    root: the folder (created when something is first written there); paths below keep it as
    given, so messages show what the instructor typed.
    db_url: the gradebook's SQLAlchemy URL (`--db`, e.g. postgresql+psycopg://user@host/course);
    None means ROOT/gradebook.db (sqlite). source: the course whose assignments are graded
    (`--source`; default: this repository).

        root/
          submitted/<student>/<assignment>/     what collect files, what grade reads (never changed)
          autograded/<student>/<assignment>/    nbgrader's graded copy, and grading.json
          feedback/<student>/<assignment>/      HTML feedback
          gradebook.db                          unless db_url names another database
          grades.csv                            export's default
          extensions.csv                        per-student due dates (autograder.late; private, not in git)
          .staging/, .release/                  grade's scratch folders
    """

    root: Path
    db_url: str | None = None
    source: Course = field(default_factory=Course)  # the course whose assignments this term grades

    def __post_init__(self):
        object.__setattr__(self, "root", Path(self.root))
        if self.db_url == "":
            object.__setattr__(self, "db_url", None)

    @classmethod
    def of(cls, where: CourseDir | str | os.PathLike) -> CourseDir:
        """A CourseDir as it is, or a folder whose gradebook is FOLDER/gradebook.db (this repository's course)."""
        return where if isinstance(where, cls) else cls(Path(where))

    def assignment(self, assignment: Assignment | str) -> Assignment:
        """The assignment of the course this term grades (source.resolve)."""
        return self.source.resolve(assignment)

    # a CourseDir is its folder where a path is expected: os.fspath(term), term / "submitted"
    def __fspath__(self) -> str:
        return os.fspath(self.root)

    def __truediv__(self, other) -> Path:
        return self.root / other

    def __str__(self) -> str:
        return str(self.root)

    # the folders of a term
    @property
    def submitted(self) -> Path:
        return self.root / "submitted"

    @property
    def autograded(self) -> Path:
        return self.root / "autograded"

    @property
    def feedback(self) -> Path:
        return self.root / "feedback"

    @property
    def staging(self) -> Path:
        """Copies of submissions while grade prepares them (removed at the end of a run)."""
        return self.root / ".staging"

    @property
    def scratch_release(self) -> Path:
        """Where grade releases an assignment the gradebook lacks (the student version that
        students get is written to assignments/, not here)."""
        return self.root / ".release"

    @property
    def gradebook_file(self) -> Path:
        return self.root / "gradebook.db"

    @property
    def grades_csv(self) -> Path:
        return self.root / "grades.csv"

    @property
    def extensions_csv(self) -> Path:
        """Per-student extensions (student_id,assignment,due), read by autograder.late."""
        return self.root / "extensions.csv"

    def submission(self, student: str, assignment: str) -> Path:
        return self.submitted / student / assignment

    def autograded_submission(self, student: str, assignment: str) -> Path:
        return self.autograded / student / assignment

    def status_file(self, student: str, assignment: str) -> Path:
        return self.autograded_submission(student, assignment) / STATUS_FILE

    # the gradebook
    @property
    def gradebook_url(self) -> str:
        """db_url, or sqlite:///ROOT/gradebook.db (absolute)."""
        return self.db_url or f"sqlite:///{self.gradebook_file.resolve()}"

    def has_gradebook(self) -> bool:
        """A database was named, or ROOT/gradebook.db exists."""
        return bool(self.db_url) or self.gradebook_file.exists()

    def gradebook(self):
        """The course's nbgrader Gradebook (use as a context manager), under the configured course id.

        The id matters on PostgreSQL, which enforces the gradebook's foreign keys: nbgrader's own
        default ('') names no course row there."""
        from nbgrader.api import Gradebook

        _put_interpreter_on_path()
        return Gradebook(self.gradebook_url, self.nbgrader_config().CourseDirectory.course_id)

    # nbgrader
    def nbgrader_config(self, release_dir: Path | None = None) -> Config:
        """The course's nbgrader config with this folder filled in (absolute paths)."""
        _put_interpreter_on_path()
        loader = PyFileConfigLoader(CONFIG_FILE.name, path=str(CONFIG_FILE.parent))
        c = loader.load_config()
        c.CourseDirectory.root = str(self.root.resolve())
        c.CourseDirectory.source_directory = str(self.source.solutions.resolve())
        c.CourseDirectory.release_directory = str(Path(release_dir or self.source.released).resolve())
        c.CourseDirectory.submitted_directory = self.submitted.name
        c.CourseDirectory.autograded_directory = self.autograded.name
        c.CourseDirectory.feedback_directory = self.feedback.name
        c.CourseDirectory.db_url = self.gradebook_url
        c.Application.log_level = logging.WARNING
        return c

    def nbgrader_api(self, release_dir: Path | None = None):
        """An nbgrader.apps.NbGraderAPI for this folder (created if missing)."""
        from nbgrader.apps import NbGraderAPI
        from nbgrader.coursedir import CourseDirectory

        self.root.mkdir(parents=True, exist_ok=True)
        config = self.nbgrader_config(release_dir)
        return NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)

    def roster_ids(self) -> set[str] | None:
        """The students in the gradebook, or None when there is no roster yet."""
        if not self.has_gradebook():
            return None
        with self.gradebook() as gb:
            ids = {s.id for s in gb.students}
        return ids or None

    def submitted_students(self, assignment: str) -> list[str]:
        """The students with a folder submitted/<student>/<assignment>/ (valid ids only)."""
        if not self.submitted.is_dir():
            return []
        students = []
        for d in sorted(self.submitted.iterdir()):
            if (d / assignment).is_dir():
                if not ID_PATTERN.fullmatch(d.name):
                    print(f"skipping {d}: '{d.name}' is not a valid student id (letters, digits, _ . -)", file=sys.stderr)
                    continue
                students.append(d.name)
        return students


def release(assignment: Assignment | str, course: CourseDir | str | os.PathLike, release_dir: Path | None = None) -> Path:
    """Generate the student version of an assignment (in release_dir, default the course's
    assignments/) and record it in the course's gradebook; returns the released folder."""
    course = CourseDir.of(course)
    a = course.assignment(assignment)
    api = course.nbgrader_api(release_dir)
    result = api.generate_assignment(a.name, force=True, create=True)
    if not result.get("success"):
        detail = (result.get("error") or "") + (result.get("log") or "")
        raise CourseError(f"release {a.name} failed:\n{detail.strip()}")
    return Path(release_dir or a.released.parent) / a.name
