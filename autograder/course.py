"""Where things are: the repository's assignments, and a course folder with its gradebook.

The repository holds the assignments (solutions/ -> assignments/); a separate working folder, the
course directory, holds what a term produces: submitted/, autograded/, feedback/, gradebook.db.
`CourseDir` names every path of that folder and the gradebook's URL, in one picklable value that
is passed to whatever needs it (no environment variable carries `--db`). The nbgrader objects for
a course folder (its config, the NbGraderAPI, the Gradebook) are made here too.

This module imports nothing else of the autograder; every other module may import it.
"""
from __future__ import annotations

import logging
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from traitlets.config import Config, PyFileConfigLoader

REPO = Path(__file__).resolve().parents[1]
SOLUTIONS = REPO / "solutions"
ASSIGNMENTS = REPO / "assignments"
DEFAULT_COURSE_DIR = REPO / "course"
CONFIG_FILE = Path(__file__).resolve().with_name("nbgrader_config.py")
STATUS_FILE = "grading.json"  # beside each autograded submission: fingerprint, status, reason
LIMITS_FILE = "autograder.toml"  # an assignment's grading limits, in its solutions folder (autograder.limits)
# \Z, not $: $ also matches before a trailing newline. Use it with fullmatch.
ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\Z")


class CourseError(Exception):
    """A problem the instructor can fix; the message says what and how."""


def available_assignments() -> list[str]:
    return sorted(p.name for p in SOLUTIONS.iterdir() if p.is_dir() and any(p.glob("*.ipynb")))


def solution_dir(assignment: str) -> Path:
    """The instructor's folder of an assignment (solutions/<assignment>), read when called."""
    return SOLUTIONS / assignment


def assignment_files(assignment: str) -> list[str]:
    """The names of the files a student hands in for the assignment: those of solutions/AN that
    `release` gives them (notebooks and data), not its jupytext sources or grading limits."""
    return sorted(p.name for p in solution_dir(assignment).iterdir()
                  if p.is_file() and not p.name.endswith(".pct.py") and p.name != LIMITS_FILE)


def parse_due(due: str | None):
    """A due date given as an ISO date (2026-10-01T23:59), as an aware datetime (UTC unless it
    says otherwise); None for none."""
    import datetime as dt

    if not due:
        return None
    try:
        due_at = dt.datetime.fromisoformat(due)
    except ValueError as exc:
        raise CourseError(f"--due {due!r} is not an ISO date such as 2026-10-01T23:59") from exc
    return due_at if due_at.tzinfo else due_at.replace(tzinfo=dt.timezone.utc)


def check_assignment(assignment: str) -> str:
    names = available_assignments()
    if assignment not in names:
        raise CourseError(f"no assignment {assignment!r} in {SOLUTIONS}: available {', '.join(names) or 'none'}")
    return assignment


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
    None means ROOT/gradebook.db (sqlite).

        root/
          submitted/<student>/<assignment>/     what collect files, what grade reads (never changed)
          autograded/<student>/<assignment>/    nbgrader's graded copy, and grading.json
          feedback/<student>/<assignment>/      HTML feedback
          gradebook.db                          unless db_url names another database
          grades.csv                            export's default
          .staging/, .release/                  grade's scratch folders
    """

    root: Path
    db_url: str | None = None

    def __post_init__(self):
        object.__setattr__(self, "root", Path(self.root))
        if self.db_url == "":
            object.__setattr__(self, "db_url", None)

    @classmethod
    def of(cls, where: CourseDir | str | os.PathLike) -> CourseDir:
        """A CourseDir as it is, or a folder whose gradebook is FOLDER/gradebook.db."""
        return where if isinstance(where, cls) else cls(Path(where))

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
        c.CourseDirectory.source_directory = str(SOLUTIONS)
        c.CourseDirectory.release_directory = str(Path(release_dir or ASSIGNMENTS).resolve())
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


def release(assignment: str, course: CourseDir | str | os.PathLike, release_dir: Path | None = None) -> Path:
    """Generate the student version of an assignment (in release_dir, default assignments/) and
    record it in the course's gradebook; returns the released folder."""
    check_assignment(assignment)
    api = CourseDir.of(course).nbgrader_api(release_dir)
    result = api.generate_assignment(assignment, force=True, create=True)
    if not result.get("success"):
        detail = (result.get("error") or "") + (result.get("log") or "")
        raise CourseError(f"release {assignment} failed:\n{detail.strip()}")
    return Path(release_dir or ASSIGNMENTS) / assignment
