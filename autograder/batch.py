"""Grade many submissions at once: in parallel, isolated, resumable, with a reason for every grade.

For each student the work has three steps:
1. prepare (here, with the gradebook): nbgrader sanitises the submission (clears outputs, restores
   the test cells, hidden tests included, from the gradebook) into autograded/<student>/<a>/;
2. execute (a worker: a local process or a Dask worker): autograder.execute.run_job runs the
   notebooks in the sandbox; it needs only the notebooks and the assignment's files;
3. save (here): nbgrader's own preprocessors score the executed notebooks into the gradebook.
Only this process touches the gradebook, so parallel workers cannot lose or duplicate grades.

A submission is regraded only when it or the assignment changed since its last grading (or with
force); grading.json beside each autograded submission records its fingerprint, status and reason,
and is written last, so an interrupted run resumes where it stopped.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import shutil
import stat
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import nbformat

from . import collect as intake, late, sandbox, sanitize, testplan
from .course import STATUS_FILE, Assignment, CourseDir, CourseError, release
from .execute import Job, Result, run_job
from .limits import BACKSTOP, Limits, notebook_too_big
from .pool import SurvivingPool, WorkerDied


@dataclass
class Outcome:
    student: str
    status: str   # 'graded', 'failed' (the submission's own fault, scored), 'not graded' (the grader failed), 'unchanged'
    reason: str   # 'ok' or what went wrong
    seconds: float = 0.0


def fingerprint(folder: Path, assignment_dir: Path) -> str:
    """Hash of a submission's files and of the instructor's notebooks it is graded against. A link,
    device or pipe counts by its name and kind: nothing is followed or read through it."""
    h = hashlib.sha256()
    for base in (folder, assignment_dir):
        for p in sorted(base.rglob("*")):
            if p.name == STATUS_FILE or p.name.endswith(".pct.py"):
                continue
            mode = p.lstat().st_mode
            if stat.S_ISREG(mode):
                h.update(str(p.relative_to(base)).encode())
                with open(p, "rb") as f:
                    while chunk := f.read(1 << 20):
                        h.update(chunk)
            elif not stat.S_ISDIR(mode):
                h.update(f"{p.relative_to(base)}\0{intake.kind(mode)}".encode())
    return h.hexdigest()


def checked_submission(course: CourseDir, student: str, assignment: str) -> Path:
    """The folder submitted/<student>/<assignment>, refused (CourseError, before anything is graded)
    when it or the student's folder is a symbolic link or not a folder: grade follows no link in
    submitted/, since one could show a kernel any file of this machine."""
    folder = course.submission(student, assignment)
    for p in (folder.parent, folder):
        st = os.lstat(p)
        if not stat.S_ISDIR(st.st_mode):
            raise CourseError(f"{p} is {intake.kind(st.st_mode)}, not a folder: grade follows no link in "
                              f"{course.submitted}/ (a link could show a submission any file of this machine). "
                              "Put the files themselves there (e.g. cp -rL) and run grade again.")
    return folder


def read_status(course: CourseDir | Path, assignment: str, student: str) -> dict | None:
    """A submission's grading.json (None if it has none or it cannot be read)."""
    p = CourseDir.of(course).status_file(student, assignment)
    try:
        return json.loads(p.read_text())
    except (OSError, ValueError):
        return None


def _write_status(course: CourseDir, assignment: str, student: str, data: dict) -> None:
    folder = course.autograded_submission(student, assignment)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / (STATUS_FILE + ".tmp")
    tmp.write_text(json.dumps(data, indent=1))
    tmp.replace(folder / STATUS_FILE)


def _stage(course: CourseDir, assignment: str, student: str, expected: list[str],
           limits: Limits | None = None) -> tuple[Path, list[str]]:
    """Copy a submission to a staging folder, leaving out notebooks that cannot be read.

    The student's own files in submitted/ are never changed. Only plain files and folders are
    copied: a symbolic link, device or pipe anywhere in the submission is refused, named in the
    problems, and never followed or read (intake.copy_plain). Returns the staging root and the
    problems found (one line each)."""
    src = checked_submission(course, student, assignment)
    root = course.staging
    dest = root / student / assignment
    shutil.rmtree(dest, ignore_errors=True)
    refused = intake.copy_plain(src, dest, ignore=(".ipynb_checkpoints",))
    problems = [f"refused (not a plain file; nothing is followed or read through it): {', '.join(refused)}"] if refused else []
    extra = sorted(p.name for p in dest.glob("*.ipynb") if p.name not in expected)
    for name in expected:
        path = dest / name
        if not path.exists():
            found = f"; found {', '.join(extra)} instead: the file must keep its released name" if extra else ""
            problems.append(f"{name} is missing (scored 0){found}")
            continue
        too_big = notebook_too_big(path, limits) if limits else None
        if too_big:  # refused before nbgrader parses it: 100,000 cells would cost a minute here
            problems.append(too_big)
            path.unlink()
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # duplicate cell ids: nbgrader's DeduplicateIds fixes them
                nbformat.validate(nbformat.read(path, as_version=4))
        except Exception as exc:  # noqa: BLE001 - any unreadable notebook is the student's to fix
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            problems.append(f"{name} is not a valid notebook ({first[:120]}); scored 0")
            path.unlink()
    return root, problems


def _zero_missing(course: CourseDir, assignment: str, student: str) -> None:
    """Every autograded test cell still without a score gets 0 automatically (nothing ran for it).
    A code answer graded by hand (a graded solution cell) is left as nbgrader's SaveAutoGrades left
    it: 0 when untouched, else waiting for a human."""
    from nbgrader.api import MissingEntry

    with course.gradebook() as gb:
        try:
            sub = gb.find_submission(assignment, student)
        except MissingEntry:
            gb.update_or_create_student(student)
            sub = gb.add_submission(assignment, student)
        for nb in sub.notebooks:
            by_hand = {c.name for c in nb.notebook.solution_cells}
            for g in nb.grades:
                if g.auto_score is None and g.cell.cell_type == "code" and g.name not in by_hand:
                    g.auto_score = 0
                    g.needs_manual_grade = False
        gb.db.commit()


_PLANS: dict[tuple, dict] = {}


def _plan(source: Path) -> dict:
    """testplan.plan of an instructor notebook, made once per version of the file (a batch of 300
    submissions parses it once, not 300 times)."""
    st = source.stat()
    key = (str(source.resolve()), st.st_mtime_ns, st.st_size)
    if key not in _PLANS:
        _PLANS[key] = testplan.plan(nbformat.read(source, as_version=4))
    return _PLANS[key]


def _prepare(api, course: CourseDir, a: Assignment, student: str,
             limits: Limits | None = None) -> tuple[Job | None, list[str]]:
    assignment, expected = a.name, list(a.notebooks)
    staging, problems = _stage(course, assignment, student, expected, limits)
    if not any((staging / student / assignment / name).exists() for name in expected):
        return None, problems  # nothing nbgrader could grade: every notebook missing or unreadable
    api.coursedir.submitted_directory = str(staging)
    result = api.autograde(assignment, student, force=True, create=True)
    if not result.get("success"):
        log = (result.get("error") or "") + (result.get("log") or "")
        lines = [ln for ln in log.strip().splitlines() if ln.strip()]
        detail = next((ln for ln in reversed(lines) if "Error" in ln or "error" in ln), lines[-1] if lines else "")
        return None, problems + [f"nbgrader could not prepare the submission: {detail.strip()[:200]}"]
    folder = course.autograded_submission(student, assignment)
    notebooks, files, plans = {}, {}, {}
    for p in sorted(folder.rglob("*")):
        if not p.is_file() or p.name in (STATUS_FILE, "timestamp.txt"):
            continue
        rel = str(p.relative_to(folder))
        if p.suffix == ".ipynb" and p.parent == folder:
            text = p.read_text()
            notebooks[p.stem] = text  # one of the instructor's notebooks (_stage keeps no other)
            plans[p.stem] = _plan(a.source / p.name)
            clean = p.with_name(p.name + ".clean")  # nbgrader leaves the file read-only: replace it
            clean.write_text(sanitize.notebook_text(text))
            clean.replace(p)  # what Formgrader may show until it is graded
        else:
            files[rel] = p.read_bytes()
    return Job(student, assignment, notebooks, files, plans), problems


def _save(config, course: CourseDir, assignment: str, student: str, result: Result) -> list[str]:
    """Score executed notebooks into the gradebook with nbgrader's own preprocessors."""
    from nbconvert.preprocessors import ClearMetadataPreprocessor
    from nbgrader.preprocessors import (AssignLatePenalties, CheckCellMetadata, IgnorePattern,
                                        LimitOutput, SaveAutoGrades)

    problems = []
    folder = course.autograded_submission(student, assignment)
    with course.gradebook() as gb:  # the autograded test cells: graded code cells that are not answers
        tests = {n.name: {c.name for c in n.grade_cells if c.cell_type == "code"} - {c.name for c in n.solution_cells}
                 for n in gb.find_assignment(assignment).notebooks}
    for name, text in result.notebooks.items():
        nb = nbformat.reads(text, as_version=4)
        present = {c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells if testplan.is_test_cell(c)}
        gone = sorted(tests.get(name, set()) - present)
        if gone:
            problems.append(f"{name}.ipynb: test cell(s) {', '.join(gone)} deleted (scored 0)")
        resources = {"nbgrader": {"student": student, "assignment": assignment, "notebook": name,
                                  "db_url": course.gradebook_url}}
        try:
            for cls in (IgnorePattern, ClearMetadataPreprocessor, LimitOutput, SaveAutoGrades,
                        AssignLatePenalties, CheckCellMetadata):
                nb, resources = cls(config=config)(nb, resources)
        except Exception as exc:  # noqa: BLE001
            problems.append(f"{name}.ipynb: {str(exc).strip().splitlines()[-1][:200]}")
        nbformat.write(sanitize.notebook(nb), folder / f"{name}.ipynb")  # inert where the instructor looks
        status = result.status.get(name, "ok")
        if status != "ok":
            problems.append(f"{name}.ipynb: {status}")
    return problems


class _Executor:
    """Local processes, or a Dask cluster ('local' starts one on this machine)."""

    def __init__(self, workers: int, scheduler: str | None):
        self.workers, self.scheduler, self.client, self.pool, self.cluster = workers, scheduler, None, None, None
        if scheduler:
            try:
                from dask.distributed import Client, LocalCluster
            except ImportError as exc:  # pragma: no cover - dask is in requirements.txt
                raise CourseError("--scheduler needs dask.distributed: pip install 'dask[distributed]'") from exc
            if scheduler == "local":
                self.cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                            dashboard_address=None)
                self.client = Client(self.cluster)
            else:
                self.client = Client(scheduler)
        else:  # a worker that dies is replaced and its jobs retried (autograder.pool)
            self.pool = SurvivingPool(workers, run_job)

    def submit(self, job):
        if self.client is not None:
            return self.client.submit(run_job, job, pure=False)
        return self.pool.submit(job)

    def completed(self, futures):
        if self.client is not None:
            from dask.distributed import as_completed as dask_completed
            yield from dask_completed(futures)
        else:
            yield from self.pool.completed(futures)

    def result(self, fut):
        if self.pool is not None:
            return self.pool.result(fut)
        return fut.result()

    def close(self):
        if self.pool is not None:
            self.pool.close()
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def require_reachable_tests(a: Assignment) -> None:
    """CourseError, naming each cell and line, when a test cell of the assignment uses what the
    checker cannot reach through its channel to the student's kernel (testplan.unreachable): such
    a test would not be graded as plain nbgrader grades it, so nothing is released or graded."""
    problems = [p for name in a.notebooks
                for p in testplan.unreachable(nbformat.read(a.source / name, as_version=4), name)]
    if problems:
        raise CourseError(
            f"{a.name}: {len(problems)} place(s) in its tests would not be graded as plain nbgrader grades them. "
            "The autograder runs test cells in a checker process that reaches the student's kernel only "
            "through the names the cell uses, so a test may call the student's functions and compare values, "
            "but not change the student's names or use the kernel itself:\n  " + "\n  ".join(problems)
            + "\nRewrite these lines (docs/AUTHORING.md, 'An assignment written for plain nbgrader'); "
            "nothing was released or graded.")


def ensure_in_gradebook(assignment: Assignment, course: CourseDir) -> None:
    """Autograde needs the assignment's cells in the gradebook: add them if this course dir lacks
    them. An assignment already there is left as it is, so students are graded against what was
    released."""
    from nbgrader.api import MissingEntry

    with course.gradebook() as gb:
        try:
            if gb.find_assignment(assignment.name).notebooks:
                return
        except MissingEntry:
            pass
    release(assignment, course, release_dir=course.scratch_release)


NOT_GRADED = "not graded"  # the status (and the start of the reason) of a submission the grader failed on


def _drop_from_gradebook(course: CourseDir, assignment: str, student: str) -> None:
    """Remove what preparing a submission put in the gradebook: a submission the grader failed on
    has no grade at all (an export shows it blank), never a 0."""
    from nbgrader.api import MissingEntry

    with course.gradebook() as gb:
        try:
            gb.remove_submission(assignment, student)
        except MissingEntry:
            pass


def settle_late(course: CourseDir, rules: late.Rules, student: str, graded: str | None = None) -> dict | None:
    """Apply a student's late charges to the gradebook (late.apply_student: the budget is spent in
    deadline order, so scoring one assignment can move another's charge) and bring the `late` entry
    of their other scored grading.json files up to date; returns the entry for `graded` (None when
    it has no submission in the gradebook)."""
    with course.gradebook() as gb:
        charges = late.apply_student(gb, rules, student)
    for name, charge in charges.items():
        old = read_status(course, name, student) if name != graded else None
        if old and old.get("status") in ("graded", "failed") and old.get("late") != charge.record():
            _write_status(course, name, student, {**old, "late": charge.record()})
    return charges[graded].record() if graded in charges else None


def not_graded(course: CourseDir) -> set[tuple[str, str]]:
    """(student, assignment) of every submission the grader failed on (its grading.json says so):
    it has no grade, which an export shows blank, never as 0."""
    found = set()
    for p in sorted(course.autograded.glob(f"*/*/{STATUS_FILE}")):
        student, assignment = p.parent.parent.name, p.parent.name
        if (read_status(course, assignment, student) or {}).get("status") == NOT_GRADED:
            found.add((student, assignment))
    return found


@dataclass
class _Run:
    """One pass over some submissions with one executor (see grade_batch)."""
    api: object
    course: CourseDir
    a: Assignment
    limits: Limits
    unsafe: bool
    unenforced: list[str]
    library: str = ""  # sandbox.library_hash() when the batch began: every worker must have the same
    allow_unlimited_root: bool = False  # every worker checks sandbox.root_refusal with it
    rules: late.Rules | None = None  # the late rule (autograder.late); None: course.toml has no [late_days]

    def status(self, student, fp, status, reason, fault=None) -> None:
        data = {"fingerprint": fp, "status": status, "reason": reason, "unenforced": self.unenforced}
        if fault:
            data["grader_error"] = fault
        if self.rules is not None and status != NOT_GRADED:  # scored ("graded" or "failed"): charge it
            data["late"] = settle_late(self.course, self.rules, student, self.a.name)
        _write_status(self.course, self.a.name, student, data)

    def not_graded(self, student, fp, fault: str, t0: float) -> Outcome:
        _drop_from_gradebook(self.course, self.a.name, student)
        reason = f"{NOT_GRADED}: {fault.splitlines()[0][:300]}"
        self.status(student, fp, NOT_GRADED, reason, fault=fault[-4000:])
        return Outcome(student, NOT_GRADED, reason, time.perf_counter() - t0)

    def grade(self, executor, todo, bar, alone: bool = False) -> list[Outcome]:
        """Prepare, execute and save every (student, fingerprint) of todo."""
        outcomes, pending, meta = [], [], {}
        for student, fp in todo:
            t0 = time.perf_counter()
            job, problems = _prepare(self.api, self.course, self.a, student, self.limits)
            if job is None:
                _zero_missing(self.course, self.a.name, student)
                reason = "; ".join(problems)
                self.status(student, fp, "failed", reason)
                outcomes.append(Outcome(student, "failed", reason, time.perf_counter() - t0))
                bar.update()
                continue
            job = dataclasses.replace(job, limits=self.limits, sandbox=not self.unsafe, library=self.library,
                                      allow_unlimited_root=self.allow_unlimited_root)
            fut = executor.submit(job)
            pending.append(fut)
            meta[id(fut)] = (student, fp, problems, t0)
        for fut in executor.completed(pending):
            student, fp, problems, t0 = meta[id(fut)]
            try:
                result = executor.result(fut)
            except WorkerDied as exc:  # it killed its worker again when it ran alone: its own doing
                _zero_missing(self.course, self.a.name, student)
                reason = "; ".join(problems + [f"grading failed: {type(exc).__name__}: {exc}"])
                self.status(student, fp, "failed", reason)
                outcomes.append(Outcome(student, "failed", reason, time.perf_counter() - t0))
                bar.update()
                continue
            except Exception as exc:  # noqa: BLE001 - anything else that broke a worker is the grader's
                outcomes.append(self.not_graded(student, fp, f"the grading worker failed: {type(exc).__name__}: {exc}", t0))
                bar.update()
                continue
            if result.fault:
                outcomes.append(self.not_graded(student, fp, result.fault, t0))
                bar.update()
                continue
            problems = problems + _save(self.api.config, self.course, self.a.name, student, result)
            _zero_missing(self.course, self.a.name, student)
            reason = "; ".join(problems) or "ok"
            if alone and BACKSTOP in reason:
                reason += " (also when graded again alone)"
            self.status(student, fp, "graded", reason)
            outcomes.append(Outcome(student, "graded", reason, time.perf_counter() - t0))
            bar.update()
        return outcomes


def _check_isolation(unsafe: bool, allow_unlimited_root: bool | None) -> bool:
    """Refuse (CourseError) to grade where student code would not be isolated or limited, unless
    the instructor said so; returns allow_unlimited_root resolved (None: the environment says)."""
    why = sandbox.check()
    if why and not unsafe:
        raise CourseError(
            f"student code cannot be isolated here: {why}.\nGrading without isolation runs each "
            "submission as you, able to read and change your files (the gradebook included). "
            "To accept that risk, pass --unsafe-no-sandbox.")
    if allow_unlimited_root is None:
        allow_unlimited_root = os.environ.get(sandbox.ALLOW_ROOT_ENV) == "1"
    refusal = None if unsafe else sandbox.root_refusal(allow_unlimited_root)
    if refusal:
        raise CourseError(refusal)
    return allow_unlimited_root


def _to_grade(course: CourseDir, a: Assignment, students: list[str], force: bool):
    """([Outcome] of the submissions graded before and unchanged since, [(student, fingerprint)] to grade)."""
    outcomes, todo = [], []
    for student in students:
        fp = fingerprint(checked_submission(course, student, a.name), a.source)
        old = read_status(course, a.name, student)
        if not force and old and old.get("fingerprint") == fp and old.get("status") == "graded":
            outcomes.append(Outcome(student, "unchanged", old.get("reason", "ok")))
        else:
            todo.append((student, fp))
    return outcomes, todo


def _grade_all(run: _Run, todo: list, workers: int, scheduler: str | None, progress: bool) -> list[Outcome]:
    """Grade todo with `workers` workers; a submission that met a wall-clock backstop (a busy
    machine, not the submission?) is graded once more, alone, before it is charged."""
    from tqdm.auto import tqdm

    bar = tqdm(total=len(todo), desc=f"grading {run.a.name}", unit="submission", disable=not progress or not todo)
    executor = _Executor(workers, scheduler)
    try:
        graded = run.grade(executor, todo, bar)
    finally:
        executor.close()
    again = [(o.student, fp) for o in graded for s, fp in todo if s == o.student and BACKSTOP in o.reason]
    if again:
        bar.total += len(again)
        alone = _Executor(1, None)
        try:
            redone = {o.student: o for o in run.grade(alone, again, bar, alone=True)}
        finally:
            alone.close()
        graded = [redone.get(o.student, o) for o in graded]
    bar.close()
    return graded


def grade_batch(assignment: Assignment | str, course: CourseDir | Path, students: list[str] | None = None, workers: int = 1,
                scheduler: str | None = None, force: bool = False, unsafe: bool = False,
                limits: dict | None = None, progress: bool = True, self_check: bool | None = None,
                allow_unlimited_root: bool | None = None, notes: bool = True) -> list[Outcome]:
    """Grade every submission of an assignment (or the given students); see the module docstring.
    notes: print the limits this machine cannot enforce (the grading service prints them once).

    assignment: an Assignment, or its name in course.source. course: a CourseDir, or a folder
    whose gradebook is FOLDER/gradebook.db. limits: overrides of the assignment's. self_check: first
    grade the instructor's solution in the same configuration (autograder.selfcheck) and refuse,
    with the reason, unless it earns every autograded point (None: yes, unless the environment
    says AUTOGRADER_SELF_CHECK=0). A submission that meets a wall-clock
    backstop is graded again alone, after the others, before it is charged. As root without a
    cgroup for the kernels, grading is refused (sandbox.root_refusal) unless allow_unlimited_root
    (None: unless the environment says AUTOGRADER_ALLOW_UNLIMITED_ROOT=1)."""
    from sqlalchemy.exc import SAWarning

    warnings.filterwarnings("ignore", category=SAWarning)  # nbgrader's session autoflush notices
    course = CourseDir.of(course)
    a = course.assignment(assignment)
    students = students or course.submitted_students(a.name)
    if not students:
        raise CourseError(f"nothing to grade: no folders {course.submission('<student>', a.name)}")
    allow_unlimited_root = _check_isolation(unsafe, allow_unlimited_root)
    overrides = limits
    try:
        limits = Limits.of(overrides, base=a.limits)
    except ValueError as exc:
        raise CourseError(str(exc)) from exc
    rules = late.Rules.of(course)  # the late rule, read (or refused, saying why) before anything is graded
    if self_check is None:
        self_check = os.environ.get("AUTOGRADER_SELF_CHECK", "1") != "0"
    if self_check:
        from . import selfcheck

        selfcheck.require(a, course.source, overrides, unsafe,
                          functools.partial(grade_batch, allow_unlimited_root=allow_unlimited_root), scheduler)
    require_reachable_tests(a)
    ensure_in_gradebook(a, course)
    api = course.nbgrader_api()
    api.config.Autograde.autograde_preprocessors = []  # execution and scoring happen below
    api.coursedir.max_file_size = 50_000  # kB; larger files are left out with a warning
    unenforced = sandbox.unenforced(limits) if not unsafe else ["no sandbox (--unsafe-no-sandbox)"]
    for line in unenforced if notes else []:
        print(f"note: not enforced on this machine: {line}", file=sys.stderr)
    outcomes, todo = _to_grade(course, a, students, force)
    run = _Run(api, course, a, limits, unsafe, unenforced, sandbox.library_hash(),
               allow_unlimited_root, rules)
    graded = _grade_all(run, todo, workers, scheduler, progress)
    if rules is not None:  # unchanged ones too: an extension, or another assignment graded, may move a charge
        for o in outcomes:
            settle_late(course, rules, o.student)
    shutil.rmtree(course.staging, ignore_errors=True)
    return sorted(outcomes + graded, key=lambda o: o.student)


def summary(outcomes: list[Outcome], seconds: float) -> str:
    graded = sum(o.status == "graded" for o in outcomes)
    failed = [o for o in outcomes if o.status == "failed"]
    unchanged = sum(o.status == "unchanged" for o in outcomes)
    lost = sum(o.status == NOT_GRADED for o in outcomes)
    lines = [f"{graded} graded, {len(failed)} failed, {unchanged} unchanged (not regraded)"
             + (f", {lost} NOT GRADED (the grader failed: nothing was written to the gradebook for them; "
                "fix the cause and run grade again)" if lost else "") + f" in {seconds:.1f} s"]
    lines += [f"  {o.student}: {o.reason}" for o in outcomes if o.reason != "ok"]
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    sys.exit("use: python -m autograder grade ...")
