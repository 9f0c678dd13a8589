"""Run one submission's notebooks: the part of grading that executes untrusted code.

`run_job(Job) -> Result` is a plain function of plain values, so a process pool or a Dask worker on
another machine can run it: it needs the notebooks to run (already sanitised by nbgrader, test
cells restored), each one's checker plan (autograder.testplan, from the instructor's notebook) and
the files the submission and the released assignment ship, nothing else. The notebooks are never
written where the student's code can see them: the kernel runs in a scratch folder that holds only
the other files, inside the sandbox (autograder.sandbox), and receives the cells one at a time.

The parts, one job each: autograder.kernel (the sandboxed kernel), autograder.checkerproc (the
checker's processes), autograder.gradedlib (the graded copy of the course library) and
autograder.notebookrun (one notebook's cells, in the kernel and the checker, under the limits).
"""
from __future__ import annotations

import asyncio
import multiprocessing
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from . import sandbox
from .checkerproc import GraderFault
from .gradedlib import graded_copy
from .limits import Limits, cap_worker_memory
from .notebookrun import run_notebook


@dataclass(frozen=True)
class Job:
    """One submission to execute. notebooks: {name: notebook JSON text}; plans: {name: the checker
    plan of that notebook} (a notebook without one runs every cell in the kernel); files: {path
    relative to the submission folder: bytes}; limits: the submission's (autograder.limits.Limits);
    library: the grader's sandbox.library_hash(), which the worker's must
    equal; allow_unlimited_root: see sandbox.root_refusal."""
    student: str
    assignment: str
    notebooks: dict[str, str]
    files: dict[str, bytes] = field(default_factory=dict)
    plans: dict[str, dict] = field(default_factory=dict)
    limits: Limits = field(default_factory=Limits)
    sandbox: bool = True
    library: str | None = None
    allow_unlimited_root: bool | None = None


@dataclass(frozen=True)
class Result:
    """What a Job's run gave: notebooks {name: executed JSON text} and status {name: 'ok' or why
    the notebook stopped early}, or a fault: what failed in the grader (the checker, the kernel's
    start, this worker's configuration), in which case nothing else of the run counts and the
    submission is not graded."""
    student: str
    notebooks: dict[str, str] = field(default_factory=dict)
    status: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    fault: str | None = None


def _refusal(job: Job) -> str | None:
    """Why this worker cannot run the job at all, or None."""
    if job.sandbox and sandbox.check() is not None:
        return f"the sandbox is unavailable on this worker: {sandbox.check()}"
    if job.sandbox and sandbox.root_refusal(job.allow_unlimited_root):  # a worker of a cluster, as root
        return f"this worker refuses: {sandbox.root_refusal(job.allow_unlimited_root)}"
    if job.library and job.library != sandbox.library_hash():
        return (f"this worker's course library ({sandbox.library_dir()}) is not the grader's: their source "
                "differs; install the same version of the course on every worker")
    return None


def _write_files(files: dict[str, bytes], scratch: Path) -> None:
    """The submission's other files, in its scratch folder; a path that would leave it is not written."""
    for rel, data in files.items():
        target = (scratch / rel).resolve()
        if scratch.resolve() not in target.parents:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def run_job(job: Job) -> Result:
    """Execute a submission's notebooks, each in a fresh kernel and checker (see the module docstring)."""
    t0 = time.perf_counter()
    limits = job.limits
    if multiprocessing.parent_process() is not None and limits.memory_bytes:
        cap_worker_memory(max(limits.memory_bytes, 1024**3))  # a worker process of grade's, not a caller's own
    why = _refusal(job)
    if why:
        return Result(job.student, fault=why)
    notebooks, status = {}, {}
    for name, text in job.notebooks.items():
        scratch = Path(tempfile.mkdtemp(prefix=f"grade-{job.student}-"))
        try:
            _write_files(job.files, scratch)
            nb = nbformat.reads(text, as_version=4)
            plan = job.plans.get(name)
            copy = graded_copy(plan["disable"]) if plan is not None and plan.get("disable") and job.sandbox else ""
            try:
                status[name] = asyncio.run(run_notebook(nb, scratch, limits, job.sandbox, plan, copy))
            except GraderFault as exc:
                return Result(job.student, seconds=time.perf_counter() - t0, fault=f"{name}.ipynb: {exc}")
            notebooks[name] = nbformat.writes(nb)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    return Result(job.student, notebooks, status, time.perf_counter() - t0)
