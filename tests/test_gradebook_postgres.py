"""The gradebook on a real PostgreSQL server, not only sqlite: `--db postgresql+psycopg://...`.

The fixture starts a throwaway PostgreSQL cluster from the machine's own binaries (Debian's
postgresql package, which .ci/run installs), listening only on a unix socket in a temporary folder
and run by an unprivileged user (PostgreSQL refuses root). A small class of the tiny assignment
(tests/tiny_assignment.py: a complete, a half-done and a blank submission) is released, graded,
given feedback and exported once with the gradebook on that server and once on sqlite, and the two
must agree, student by student, with the points each submission's code earns. Skipped, with the
reason, where no server can be started.
"""
from __future__ import annotations

import csv
import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from autograder import api, submissions
from autograder.course import Course, CourseDir
from tests import tiny_assignment as tiny
from tests.isolation import UNSAFE

EXPECTED = {"complete": 5.0, "half": 2.0, "blank": 0.0}  # the tiny assignment: add 2 points, mul 3


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def _as_server_user(cmd: list[str]) -> list[str]:
    """PostgreSQL will not run as root: as root, run it as the postgres system user (or nobody)."""
    if os.geteuid() != 0:
        return cmd
    user = "postgres" if subprocess.run(["id", "postgres"], capture_output=True).returncode == 0 else "nobody"
    return ["setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups", "--"] + cmd


@pytest.fixture(scope="module")
def pg_url():
    bindir = _pg_bin()
    if bindir is None:
        pytest.skip("no PostgreSQL server binaries (/usr/lib/postgresql/*/bin): apt-get install postgresql")
    try:
        import psycopg  # noqa: F401 - SQLAlchemy's postgresql+psycopg driver
    except ImportError as exc:
        pytest.skip(f"psycopg is not installed ({exc}): pip install -r requirements.txt")
    base = Path(tempfile.mkdtemp(prefix="ag-pg-"))
    base.chmod(0o755)
    data, sock = base / "data", base / "sock"
    for d in (data, sock):
        d.mkdir()
        if os.geteuid() == 0:
            shutil.chown(d, *(("postgres",) * 2 if subprocess.run(["id", "postgres"], capture_output=True).returncode == 0
                              else ("nobody", "nogroup")))
    log = base / "server.log"
    log.touch()
    log.chmod(0o666)
    init = subprocess.run(_as_server_user([str(bindir / "initdb"), "-D", str(data), "-U", "grader", "--auth=trust",
                                           "-E", "UTF8", "--no-sync"]), capture_output=True, text=True)
    if init.returncode != 0:
        shutil.rmtree(base, ignore_errors=True)
        pytest.skip(f"initdb failed here: {init.stderr.strip()[-500:]}")
    start = subprocess.run(_as_server_user([str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60",
                                            "-o", f"-c listen_addresses='' -k {sock} -c fsync=off", "start"]),
                           capture_output=True, text=True)
    if start.returncode != 0:
        shutil.rmtree(base, ignore_errors=True)
        pytest.skip(f"the PostgreSQL server did not start: {start.stderr.strip()[-300:]} {log.read_text()[-500:]}")
    try:
        subprocess.run([str(bindir / "createdb"), "-h", str(sock), "-U", "grader", "gradebook"], check=True,
                       capture_output=True, text=True)
        yield f"postgresql+psycopg://grader@/gradebook?host={sock}"
    finally:
        subprocess.run(_as_server_user([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
                       capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def tiny_class(tmp_path_factory):
    """The tiny assignment's source, and a class of three submissions of it in a folder of their own."""
    root = tmp_path_factory.mktemp("pgcourse")
    released = api.release(tiny.NAME, tiny.term(root, folder="scratch"), release_dir=root / "release")
    source = submissions.read(root / "solutions" / tiny.NAME / tiny.NOTEBOOK)
    blank = submissions.read(released / tiny.NOTEBOOK)
    notebooks = {"complete": submissions.fill(blank, source), "half": submissions.fill(blank, source, {"add"}),
                 "blank": blank}
    return root, notebooks


def _round_trip(root: Path, notebooks: dict, where: CourseDir, out: Path) -> dict:
    """Release, submit, grade, feedback and export in `where`; {student: (autograded, exported score)}."""
    for student, nb in notebooks.items():
        folder = where.submission(student, tiny.NAME)
        folder.mkdir(parents=True)
        submissions.nbformat.write(nb, folder / tiny.NOTEBOOK)
    api.release(tiny.NAME, where, release_dir=out / "release")
    outcome = api.grade(tiny.NAME, where, workers=1, unsafe=UNSAFE, self_check=False)
    assert outcome == {s: "ok" for s in notebooks}, outcome
    pages = api.feedback(tiny.NAME, where)
    assert sorted(p.parent.parent.name for p in pages.glob(f"*/{tiny.NAME}/*.html")) == sorted(notebooks)
    with open(api.export(where, out / "grades.csv")) as fh:
        exported = {r["student_id"]: float(r["score"]) for r in csv.DictReader(fh) if r["assignment"] == tiny.NAME}
    return {r["student"]: (r["autograded"], exported[r["student"]]) for r in api.grade_rows(where, tiny.NAME)}


def test_a_class_graded_on_postgresql_gets_the_grades_it_gets_on_sqlite(pg_url, tiny_class, tmp_path):
    root, notebooks = tiny_class
    on_pg = CourseDir(tmp_path / "pg", db_url=pg_url, source=Course(root))
    assert not (tmp_path / "pg" / "gradebook.db").exists()
    pg = _round_trip(root, notebooks, on_pg, tmp_path / "pg-out")
    assert not (tmp_path / "pg" / "gradebook.db").exists(), "the grades went to a sqlite file, not the server"
    lite = _round_trip(root, notebooks, CourseDir(tmp_path / "lite", source=Course(root)), tmp_path / "lite-out")
    assert pg == lite == {s: (p, p) for s, p in EXPECTED.items()}
