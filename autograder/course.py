"""Where things are, and an nbgrader API object configured for them.

The repository holds the assignments (solutions/ -> assignments/); a separate working folder, the
course directory, holds what a term produces: submitted/, autograded/, feedback/, gradebook.db.
"""
from __future__ import annotations

import logging
import os
import re
import sys
from pathlib import Path

from traitlets.config import Config, PyFileConfigLoader

REPO = Path(__file__).resolve().parents[1]
SOLUTIONS = REPO / "solutions"
ASSIGNMENTS = REPO / "assignments"
DEFAULT_COURSE_DIR = REPO / "course"
CONFIG_FILE = Path(__file__).resolve().with_name("nbgrader_config.py")
# \Z, not $: $ also matches before a trailing newline. Use it with fullmatch.
ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\Z")


class CourseError(Exception):
    """A problem the instructor can fix; the message says what and how."""


def available_assignments() -> list[str]:
    return sorted(p.name for p in SOLUTIONS.iterdir() if p.is_dir() and any(p.glob("*.ipynb")))


def check_assignment(assignment: str) -> str:
    names = available_assignments()
    if assignment not in names:
        raise CourseError(f"no assignment {assignment!r} in {SOLUTIONS}: available {', '.join(names) or 'none'}")
    return assignment


def make_config(course_dir: Path, release_dir: Path | None = None) -> Config:
    """The course's nbgrader config with the folders of this run filled in (absolute paths)."""
    loader = PyFileConfigLoader(CONFIG_FILE.name, path=str(CONFIG_FILE.parent))
    c = loader.load_config()
    c.CourseDirectory.root = str(Path(course_dir).resolve())
    c.CourseDirectory.source_directory = str(SOLUTIONS)
    c.CourseDirectory.release_directory = str(Path(release_dir or ASSIGNMENTS).resolve())
    c.CourseDirectory.submitted_directory = "submitted"
    c.CourseDirectory.autograded_directory = "autograded"
    c.CourseDirectory.feedback_directory = "feedback"
    c.CourseDirectory.db_url = db_url(course_dir)
    c.Application.log_level = logging.WARNING
    return c


def _put_interpreter_on_path() -> None:
    """nbgrader runs the `alembic` command of its environment; find it even if the venv is not activated."""
    bindir = str(Path(sys.executable).parent)
    if bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")


def make_api(course_dir: Path, release_dir: Path | None = None):
    """An nbgrader.apps.NbGraderAPI for the course directory (created if missing)."""
    _put_interpreter_on_path()
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    Path(course_dir).mkdir(parents=True, exist_ok=True)
    config = make_config(course_dir, release_dir)
    coursedir = CourseDirectory(config=config)
    return NbGraderAPI(coursedir=coursedir, config=config)


def db_url(course_dir: Path) -> str:
    """The gradebook: $AUTOGRADER_DB (e.g. postgresql+psycopg://user@host/course, set by --db) or
    COURSE_DIR/gradebook.db."""
    _put_interpreter_on_path()
    return os.environ.get("AUTOGRADER_DB") or f"sqlite:///{Path(course_dir).resolve() / 'gradebook.db'}"


def has_gradebook(course_dir: Path) -> bool:
    return bool(os.environ.get("AUTOGRADER_DB")) or (Path(course_dir) / "gradebook.db").exists()


def gradebook(course_dir: Path):
    """The course's nbgrader Gradebook (use as a context manager), under the configured course id.

    The id matters on PostgreSQL, which enforces the gradebook's foreign keys: nbgrader's own
    default ('') names no course row there."""
    from nbgrader.api import Gradebook

    return Gradebook(db_url(course_dir), make_config(course_dir).CourseDirectory.course_id)


def release(assignment: str, course_dir: Path, release_dir: Path | None = None) -> Path:
    """Generate the student version of an assignment and record it in the gradebook."""
    check_assignment(assignment)
    api = make_api(course_dir, release_dir)
    result = api.generate_assignment(assignment, force=True, create=True)
    if not result.get("success"):
        detail = (result.get("error") or "") + (result.get("log") or "")
        raise CourseError(f"release {assignment} failed:\n{detail.strip()}")
    return Path(release_dir or ASSIGNMENTS) / assignment


def submitted_students(assignment: str, course_dir: Path) -> list[str]:
    """The students with a folder COURSE_DIR/submitted/<student>/<assignment>/ (valid ids only)."""
    root = Path(course_dir) / "submitted"
    if not root.is_dir():
        return []
    students = []
    for d in sorted(root.iterdir()):
        if (d / assignment).is_dir():
            if not ID_PATTERN.fullmatch(d.name):
                print(f"skipping {d}: '{d.name}' is not a valid student id (letters, digits, _ . -)", file=sys.stderr)
                continue
            students.append(d.name)
    return students
