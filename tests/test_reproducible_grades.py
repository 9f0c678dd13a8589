"""A grade is a function of the submission alone: not of the grading machine's load, speed, paths or
health (autograder/README.md, "What a grade depends on").

- time limits count the kernel's CPU time, so an honest cell that computes for a while passes on a
  loaded machine; a loop meets the CPU limit; a cell that only waits meets the wall-clock backstop
  and is graded again alone before it is charged;
- a grader that cannot run (here: a course library that does not import in the sandbox) is named
  by the self-check before any submission is graded (the suite turns the self-check off elsewhere:
  conftest.py), and without the self-check every submission
  is recorded as not graded, with the checker's error, nothing in the gradebook, exit status 1;
- a worker whose course library differs from the grader's refuses the job;
- a real Dask scheduler and two workers, started as their own processes from another working
  folder, grade like the local pool.
"""
import copy
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from autograder import api, batch, cli, course, limits, sandbox
from autograder.execute import Job, run_job
from autograder.kernel import kernel_env
from tests import tiny_assignment as tiny
from tests.isolation import UNSAFE

HAS_PROC = Path("/proc/self/stat").exists()
BURN = "_t = __import__('time').process_time()\nwhile __import__('time').process_time() - _t < {s}:\n    pass\n"


@pytest.fixture(scope="module")
def tiny_source(tmp_path_factory):
    root = tmp_path_factory.mktemp("reprocourse")
    mp = pytest.MonkeyPatch()
    mp.setenv("AUTOGRADER_CACHE", str(root / "cache"))  # the self-check runs here, not from a cache
    released = api.release(tiny.NAME, tiny.term(root, folder="first"), release_dir=root / "release")
    yield root, released
    mp.undo()


def _filled(root, released, parts=None):
    from autograder import submissions

    return submissions.fill(submissions.read(released / tiny.NOTEBOOK),
                            submissions.read(root / "solutions" / tiny.NAME / tiny.NOTEBOOK), parts)


def _with_mul(nb, code):
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "mul":
            cell.source = code + "\n" + cell.source
    return nb


def _term(root, folder) -> course.CourseDir:
    """A term folder that grades the tiny course at root."""
    return course.CourseDir(folder, source=course.Course(root))


def _submit(work, cases: dict) -> None:
    for student, nb in cases.items():
        folder = work / "submitted" / student / tiny.NAME
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, folder / tiny.NOTEBOOK)


def _burners(n: int) -> list[subprocess.Popen]:
    """n processes that keep a core busy: the machine under load."""
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]


def _stop(procs) -> None:
    for p in procs:
        p.kill()
        p.wait()


@pytest.mark.skipif(not HAS_PROC, reason="reads CPU time from /proc (Linux)")
def test_cpu_clock_counts_the_processes_a_kernel_starts():
    parent = subprocess.Popen([sys.executable, "-c",
                               "import subprocess, sys, time\n"
                               f"subprocess.Popen([sys.executable, '-c', {BURN.format(s=1.0)!r}])\n"
                               "time.sleep(60)\n"])
    try:
        clock = limits.CpuClock(parent.pid)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (clock.seconds() or 0) < 0.9:
            time.sleep(0.1)
        assert clock.seconds() >= 0.9, "the child's busy second, counted through its parent"
    finally:
        parent.kill()
        parent.wait()
    assert limits.CpuClock(parent.pid).seconds() is None  # gone: nothing to read


def test_the_kernel_computes_with_one_thread_on_every_machine():
    env = kernel_env()
    assert {env[k] for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")} == {"1"}


@pytest.mark.skipif(not HAS_PROC, reason="the time limits count CPU time only where /proc tells it")
def test_time_limits_count_cpu_time_and_a_busy_machine_costs_nothing(tiny_source, tmp_path):
    """Cell limit 2 s of CPU (backstop 8 s wall). An honest cell that computes for 0.75 s passes
    with three CPU-bound processes running beside two grading workers on this machine; a loop is
    stopped by the CPU limit; a cell that sleeps meets the backstop, is graded again alone, and
    only then charged, with reasons that say which limit it met. (The limits are small because the
    test's time is theirs: the sleeping cell meets its backstop twice and the loop spends its limit,
    all with the burners taking the cores from the rest of the suite.)"""
    root, released = tiny_source
    good = _filled(root, released)
    cases = {"honest_busy": _with_mul(good, BURN.format(s=0.75)), "honest": good,
             "loops": _with_mul(good, "while True:\n    pass"),
             "sleeps": _with_mul(good, "import time\ntime.sleep(100_000)")}
    work = _term(root, tmp_path / "course")
    _submit(work, cases)
    load = _burners(3)
    try:
        outcomes = {o.student: o for o in batch.grade_batch(
            tiny.NAME, work, workers=2, unsafe=UNSAFE, progress=False,
            limits={"cell_timeout": 2, "notebook_timeout": 60})}
    finally:
        _stop(load)
    points = {r["student"]: r["autograded"] for r in api.grade_rows(work, tiny.NAME)}
    assert points == {"honest_busy": 5, "honest": 5, "loops": 2, "sleeps": 2}, outcomes
    assert outcomes["honest_busy"].reason == "ok" and outcomes["honest"].reason == "ok"
    assert "cell time limit of 2 s (CPU time of your kernel)" in outcomes["loops"].reason
    assert limits.BACKSTOP not in outcomes["loops"].reason
    assert f"{limits.BACKSTOP} of 8 s" in outcomes["sleeps"].reason
    assert "also when graded again alone" in outcomes["sleeps"].reason


def _broken_library(tmp_path) -> Path:
    lib = tmp_path / "broken" / "cnnkit"
    shutil.copytree(sandbox.library_dir(), lib, ignore=shutil.ignore_patterns("__pycache__"))
    (lib / "__init__.py").write_text('raise ImportError("this course library is deliberately broken")\n')
    return lib


def test_a_broken_grader_is_named_before_grading_and_never_writes_a_grade(tiny_source, tmp_path, monkeypatch, capsys):
    root, released = tiny_source
    work = _term(root, tmp_path / "course")
    _submit(work, {"alice": _filled(root, released), "bob": _filled(root, released, {"add"})})
    monkeypatch.setenv(sandbox.LIBRARY_ENV, str(_broken_library(tmp_path)))

    # the self-check grades the instructor's solution first, and names the cause
    with pytest.raises(course.CourseError) as exc:
        batch.grade_batch(tiny.NAME, work, workers=1, unsafe=UNSAFE, progress=False, self_check=True)
    message = str(exc.value)
    assert "self-check failed, so no submission was graded" in message
    assert "deliberately broken" in message, message
    assert not (work / "autograded").exists(), "nothing was prepared for any student"

    # without it: every submission is not graded, with the checker's error, and no grade at all
    outcomes = batch.grade_batch(tiny.NAME, work, workers=1, unsafe=UNSAFE, progress=False, self_check=False)
    assert {o.status for o in outcomes} == {batch.NOT_GRADED}
    assert api.grade_rows(work, tiny.NAME) == [], "no row, not a zero, in the gradebook"
    status = json.loads(course.CourseDir(work).status_file("alice", tiny.NAME).read_text())
    assert status["status"] == batch.NOT_GRADED and "deliberately broken" in status["grader_error"]
    assert status["reason"].startswith(batch.NOT_GRADED + ": ")

    # the command line says so and exits with 1
    argv = ["grade", tiny.NAME, "--source", str(root), "--course-dir", str(work), "--force", "--no-self-check"]
    if UNSAFE:
        argv.append("--unsafe-no-sandbox")
    with pytest.raises(SystemExit) as code:
        cli.main(argv)
    assert code.value.code == 1
    assert "2 submission(s) not graded because the grader failed" in capsys.readouterr().err

    # fixed: graded as usual, and the earlier failures left nothing behind
    monkeypatch.delenv(sandbox.LIBRARY_ENV)
    outcomes = batch.grade_batch(tiny.NAME, work, workers=1, unsafe=UNSAFE, progress=False, self_check=True)
    assert {o.student: o.status for o in outcomes} == {"alice": "graded", "bob": "graded"}
    assert {r["student"]: r["autograded"] for r in api.grade_rows(work, tiny.NAME)} == {"alice": 5, "bob": 2}


def test_a_worker_with_another_course_library_refuses_the_job():
    out = run_job(Job("s", tiny.NAME, {"x": "{}"}, sandbox=False, library="0" * 64))
    assert out.notebooks == {} and "is not the grader's" in out.fault


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_real_dask_cluster_grades_like_the_local_pool(tiny_source, tmp_path):
    """`dask scheduler` and two `dask worker` processes on 127.0.0.1, the workers started from
    another working folder: `grade --scheduler tcp://...` gives the local pool's grades."""
    dask = Path(sys.executable).with_name("dask")
    if not dask.exists():
        pytest.skip(f"no dask command beside {sys.executable}")
    root, released = tiny_source
    solved = {"full": None, "half": {"add"}, "none": set()}
    grades = {}
    port = _free_port()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    log = open(tmp_path / "dask.log", "w")
    env = {**os.environ, "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}
    procs = [subprocess.Popen([str(dask), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                               "--no-dashboard"], cwd=elsewhere, stdout=log, stderr=log, env=env)]
    address = f"tcp://127.0.0.1:{port}"
    try:
        procs += [subprocess.Popen([str(dask), "worker", address, "--nthreads", "1", "--nworkers", "1",
                                    "--no-dashboard", "--name", f"w{i}"], cwd=elsewhere, stdout=log, stderr=log,
                                   env=env) for i in range(2)]
        from dask.distributed import Client

        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=120)
        for mode in ("local", "cluster"):
            work = _term(root, tmp_path / mode)
            _submit(work, {s: _filled(root, released, parts) for s, parts in solved.items()})
            outcomes = batch.grade_batch(tiny.NAME, work, workers=2, unsafe=UNSAFE, progress=False,
                                         scheduler=address if mode == "cluster" else None)
            assert [o.status for o in outcomes] == ["graded"] * 3, outcomes
            grades[mode] = {r["student"]: r["autograded"] for r in api.grade_rows(work, tiny.NAME)}
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        log.close()
    assert grades["cluster"] == grades["local"] == {"full": 5, "half": 2, "none": 0}
