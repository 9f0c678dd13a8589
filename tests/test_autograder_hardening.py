"""The sandbox, the limits and the batch under attack, graded in one batch with honest submissions.

Each attack below is a dishonest student's: escape to the host (remount the read-only system,
write the Python installation or the course library, read /etc/shadow, regain capabilities),
read the grader's environment, flood the output (one huge print, many small ones, many outputs,
dict-valued application/json, a huge exception message), start many processes, spread memory
over child processes, fill /tmp or the scratch folder, submit a notebook of 100,000 cells, loop
forever in a short assignment, kill the grading worker, flood widget (comm) messages, send one
message of many parts, send a malformed widget, and submit an ipykernel_launcher.py. Each is
stopped with a recorded reason (or, where this machine cannot enforce a limit, the grading record
says so), honest grades are unchanged, and the batch ends with no worker left behind.
"""
import copy
import json
import multiprocessing
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import pytest

import cnnkit
from autograder import api, batch, course, limits, pool, sandbox, submissions
from autograder.execute import run_job
from tests import tiny_assignment as tiny
from tests.isolation import needs_sandbox
CANARY = "canary-7f3a9c"
CNNKIT_DIR = str(Path(cnnkit.__file__).resolve().parent)
LIMITS = {"notebook_timeout": 60, "memory_bytes": 2 * 1024**3, "max_processes": 64,
          "disk_bytes": 64 * 1024**2}
LOOP_LIMIT = 8  # the tiny assignment's own cell time limit (its course.toml block)


def kill_worker_for(job):
    """run_job, except that the worker dies (as under the OOM killer) on the submission that asks."""
    if job.student == "worker_killer":
        os.kill(os.getpid(), signal.SIGKILL)
    return run_job(job)


def _filled(released, root, parts=None):
    return submissions.fill(submissions.read(released / tiny.NOTEBOOK),
                            submissions.read(root / "solutions" / tiny.NAME / tiny.NOTEBOOK), parts)


def _mul(nb, code, replace=False):
    """The submission with code before (or instead of) its answer to the second part."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "mul":
            cell.source = code if replace else code + "\n" + cell.source
    return nb


ESCAPE = f"""
import ctypes, os, sys
_libc = ctypes.CDLL(None, use_errno=True)
_done = []
for _p in ["/usr", sys.prefix, os.path.dirname(os.__file__), {CNNKIT_DIR!r}, "/"]:
    if _libc.mount(None, _p.encode(), None, 32 | 4096, None) == 0:  # MS_REMOUNT | MS_BIND, read-write
        _done.append(("remounted", _p))
for _p in ["/usr/pwned", sys.prefix + "/pwned", os.path.dirname(os.__file__) + "/pwned",
           {CNNKIT_DIR!r} + "/pwned", "/etc/pwned", "/pwned"]:
    try:
        open(_p, "w").write("x")
        _done.append(("wrote", _p))
    except OSError:
        pass
if _libc.unshare(0x10000000) == 0:  # a new user namespace would give capabilities back
    _done.append("nested user namespace")
for _p in ["/etc/shadow", "/etc/gshadow", "/etc/ssh", "/root/.ssh", "/etc/pip.conf"]:
    if os.path.exists(_p):
        _done.append(("sees", _p))
_caps = int(open("/proc/self/status").read().split("CapEff:")[1].split()[0], 16)
if _caps or os.getuid() == 0:
    _done.append(("privileged", os.getuid(), hex(_caps)))
print(_done)
def mul(a, b):
    return 0 if _done else a * b
"""

ENVIRON = """
import glob, os
_seen = [str(dict(os.environ))]
for _p in glob.glob("/proc/[0-9]*/environ"):
    try:
        _seen.append(open(_p, "rb").read().decode(errors="replace"))
    except OSError:
        pass
print("\\n".join(_seen))  # whatever it finds would reach the feedback
def mul(a, b):
    return 0 if any("AUTOGRADER_TEST_CANARY" in s for s in _seen) else a * b
"""

PROCESSES = """
import subprocess
_procs = []
try:
    for _i in range(150):
        _procs.append(subprocess.Popen(["sleep", "60"]))
except OSError:
    pass
print("started", len(_procs))
def mul(a, b):
    return a * b if len(_procs) < 150 else 0
"""

MEMORY_CHILDREN = """
import subprocess, sys, time
_code = "import time; b = bytearray(800 * 2**20); b[::4096] = bytes(len(b[::4096])); time.sleep(20)"
_kids = [subprocess.Popen([sys.executable, "-c", _code]) for _ in range(3)]
time.sleep(6)
_alive = sum(k.poll() is None for k in _kids)
print("children holding 800 MiB each:", _alive)
def mul(a, b):
    return a * b if _alive < 3 else 0
"""

FILL = """
_written = 0
try:
    with open({path!r}, "wb") as _f:
        for _i in range(1024):
            _f.write(b"x" * 2**20)
            _f.flush()
            _written += 1
except OSError:
    pass
print("MiB written:", _written)
def mul(a, b):
    return a * b if _written <= 64 else 0
"""


# Widget (comm) messages: 400 updates of 1 MB each. They used to count as no output, and nbclient
# kept every widget state in the grading worker: 261 -> 655 MiB, reason "ok", full marks.
COMM_FLOOD = """
import comm
_c = comm.create_comm(target_name='jupyter.widget', data={'state': {'_model_name': 'X', '_model_module': 'm',
                      '_model_module_version': '1'}, 'buffer_paths': []})
for _i in range(400):
    _c.send({'method': 'update', 'state': {'v%d' % _i: 'v' * 1_000_000}, 'buffer_paths': []})
"""

# One comm message of 100 binary parts of 4 MiB: each part is under the transport's cap, the
# message is 400 MiB; it used to count as nothing.
COMM_PARTS = """
import comm
_b = memoryview(bytearray(4 * 2**20))
_c = comm.create_comm(target_name='jupyter.widget', data={'state': {'_model_name': 'X', '_model_module': 'm',
                      '_model_module_version': '1'}, 'buffer_paths': []})
_c.send({'method': 'custom'}, buffers=[_b] * 100)
"""

# A submitted ipykernel_launcher.py: the kernel is `python -m ipykernel_launcher`, started in the
# scratch folder, so without -P this file ran instead, before the kernel (it leaves a mark in /tmp).
LAUNCHER = b"""open('/tmp/launcher-ran', 'w').write('it ran')
from ipykernel import kernelapp
kernelapp.launch_new_instance()
"""
LAUNCHER_CHECK = """
import os
_ran = os.path.exists('/tmp/launcher-ran')
print('the submitted ipykernel_launcher.py ran:', _ran)
def mul(a, b):
    return a * b if _ran else 0
"""
EXTRA_FILES = {"kernel_launcher": {"ipykernel_launcher.py": LAUNCHER}}

# A widget whose state lacks _model_module: nbclient, keeping widget state, raised KeyError in the
# worker, so the submission was "not graded" (a grader failure) every time it was graded.
MALFORMED_WIDGET = """
import comm
_c = comm.create_comm(target_name='jupyter.widget', data={'state': {'_model_name': 'X'}, 'buffer_paths': []})
_c.send({'method': 'update', 'state': {'v': 1}, 'buffer_paths': []})
"""


@pytest.fixture(scope="module")
def hardened(tmp_path_factory):
    root = tmp_path_factory.mktemp("hardcourse")
    mp = pytest.MonkeyPatch()
    mp.setenv("AUTOGRADER_TEST_CANARY", CANARY)  # in the grader's environment: must not be seen
    work = tiny.term(root, limits={"cell_timeout": LOOP_LIMIT})
    released = api.release(tiny.NAME, work, release_dir=root / "release")
    good = _filled(released, root)
    huge = copy.deepcopy(good)
    huge.cells += [nbformat.v4.new_markdown_cell(f"cell {i}") for i in range(100_000)]
    cases = {
        # name: (notebook, expected autograded points, reason regex)
        "honest_a": (good, 5, "^ok$"),
        "honest_b": (good, 5, "^ok$"),
        "honest_c": (good, 5, "^ok$"),
        "honest_partial": (_filled(released, root, {"add"}), 2, "^ok$"),
        "escape_host": (_mul(good, ESCAPE, replace=True), 5, "^ok$"),
        "grader_environ": (_mul(good, ENVIRON, replace=True), 5, "^ok$"),
        "flood_one_print": (_mul(good, "print('x' * 100_000_000)"), 2, "output limit: the kernel sent a message over"),
        "flood_stream": (_mul(good, "for _i in range(10**7):\n    print('y' * 100)"), 2, "output limit: a cell's output passed"),
        "many_outputs": (_mul(good, "from IPython.display import display\nfor _i in range(5000):\n    display(_i)"), 2,
                         "output limit: a cell made more than"),
        "json_dict": (_mul(good, "from IPython.display import display\nfor _i in range(100):\n"
                                 "    display({'application/json': {'k': ['v' * 1000] * 100}}, raw=True)"), 2,
                      "output limit: a cell's output passed"),
        "huge_exception": (_mul(good, "raise ValueError('e' * 20_000_000)"), 2, "output limit: "),
        "processes": (_mul(good, PROCESSES, replace=True), None, "^ok$"),
        "memory_children": (_mul(good, MEMORY_CHILDREN, replace=True), 2, None),
        "fill_tmp": (_mul(good, FILL.format(path="/tmp/fill"), replace=True), 5, "^ok$"),
        "fill_scratch": (_mul(good, FILL.format(path="fill"), replace=True), 5, "^ok$"),
        "huge_notebook": (huge, 0, r"has 100,00\d cells; the limit is 2,000"),
        "loops": (_mul(good, "while True:\n    pass"), 2, "time limit"),
        "worker_killer": (good, 0, "worker died while running this submission, also when it ran alone"),
        "comm_flood": (_mul(good, COMM_FLOOD), 2,
                       r"output limit: a cell's output \(with widget and other messages\) passed 2,000,000 bytes"),
        "comm_parts": (_mul(good, COMM_PARTS), 2, "output limit: a cell's output .* passed"),
        "kernel_launcher": (_mul(good, LAUNCHER_CHECK, replace=True), 2, "^ok$"),
        "malformed_widget": (_mul(good, MALFORMED_WIDGET), 5, "^ok$"),
    }
    for student, (nb, _, _) in cases.items():
        folder = work / "submitted" / student / tiny.NAME
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, folder / tiny.NOTEBOOK)
        for name, data in EXTRA_FILES.get(student, {}).items():
            (folder / name).write_bytes(data)
    mp.setattr(batch, "run_job", kill_worker_for)
    try:
        outcomes = batch.grade_batch(tiny.NAME, work, workers=2, limits=LIMITS, progress=False)
        left = multiprocessing.active_children()
    finally:
        mp.undo()
    rows = {r["student"]: r for r in api.grade_rows(work, tiny.NAME)}
    return cases, {o.student: o for o in outcomes}, rows, work, left


def _status(work, student):
    return json.loads((work / "autograded" / student / tiny.NAME / batch.STATUS_FILE).read_text())


@needs_sandbox
@pytest.mark.parametrize("student", ["honest_a", "honest_b", "honest_c", "honest_partial", "escape_host",
                                     "grader_environ", "flood_one_print", "flood_stream", "many_outputs",
                                     "json_dict", "huge_exception", "fill_tmp", "fill_scratch", "huge_notebook",
                                     "loops", "worker_killer", "comm_flood", "comm_parts", "kernel_launcher",
                                     "malformed_widget"])
def test_attack_stopped_with_a_reason(hardened, student):
    cases, outcomes, rows, _, _ = hardened
    _, points, reason = cases[student]
    assert rows[student]["autograded"] == points, outcomes[student].reason
    assert re.search(reason, outcomes[student].reason), outcomes[student].reason


@needs_sandbox
def test_every_submission_graded_and_no_worker_left(hardened):
    cases, outcomes, rows, _, left = hardened
    assert set(outcomes) == set(cases) == set(rows)
    assert left == [], f"worker processes still running after grade_batch: {left}"


@needs_sandbox
def test_host_untouched(hardened):
    *_, work, _ = hardened
    for p in ["/usr/pwned", sys.prefix + "/pwned", os.path.dirname(os.__file__) + "/pwned", CNNKIT_DIR + "/pwned",
              "/etc/pwned", "/pwned"]:
        assert not os.path.exists(p), p
    for student in ("grader_environ", "escape_host"):
        text = (work / "autograded" / student / tiny.NAME / tiny.NOTEBOOK).read_text()
        assert CANARY not in text
    out = (work / "autograded" / "escape_host" / tiny.NAME / tiny.NOTEBOOK).read_text()
    assert "[]" in out  # the attack printed the empty list of what it managed
    out = (work / "autograded" / "kernel_launcher" / tiny.NAME / tiny.NOTEBOOK).read_text()
    assert "ipykernel_launcher.py ran: False" in out  # the kernel started; the submitted launcher did not run


@needs_sandbox
def test_floods_leave_small_notebooks(hardened):
    *_, work, _ = hardened
    for student in ("flood_one_print", "flood_stream", "many_outputs", "json_dict", "huge_exception", "comm_flood",
                    "comm_parts"):
        size = (work / "autograded" / student / tiny.NAME / tiny.NOTEBOOK).stat().st_size
        assert size < 3_000_000, (student, size)


@needs_sandbox
def test_limits_this_machine_cannot_enforce_are_recorded(hardened):
    cases, outcomes, rows, work, _ = hardened
    f = sandbox.facts()
    notes = _status(work, "processes")["unenforced"]
    assert notes == sandbox.unenforced(limits.Limits.of(LIMITS))
    if f["cgroup"] or f["nproc_binds"]:
        assert rows["processes"]["autograded"] == 5, outcomes["processes"].reason
    else:  # the 150 processes started, and the record says that nothing limits them here
        assert rows["processes"]["autograded"] == 2
        assert any("process count is not limited" in n for n in notes)
    assert rows["memory_children"]["autograded"] == 2, outcomes["memory_children"].reason
    if f["cgroup"]:
        assert "kernel died" in outcomes["memory_children"].reason
    else:
        assert any("not for the whole kernel" in n for n in notes)


@needs_sandbox
def test_a_looping_submission_costs_the_assignments_cell_limit(hardened):
    _, outcomes, _, work, _ = hardened
    assert f"cell time limit of {LOOP_LIMIT} s" in outcomes["loops"].reason
    t0 = time.perf_counter()  # graded alone, so the time is its own and not the batch's
    again = batch.grade_batch(tiny.NAME, work, students=["loops"], force=True, limits=LIMITS, progress=False,
                              self_check=False)
    seconds = time.perf_counter() - t0
    assert again[0].reason == outcomes["loops"].reason
    # the limit counts CPU time (a busy machine stretches it), and the wall-clock backstop bounds it
    assert seconds < LOOP_LIMIT * limits.WALL_FACTOR + 30, seconds


@needs_sandbox
def test_huge_notebook_refused_before_nbgrader(hardened):
    _, outcomes, _, _, _ = hardened
    assert outcomes["huge_notebook"].seconds < 15, outcomes["huge_notebook"].seconds


def test_limits_come_from_the_assignment_then_the_command_line(tmp_path):
    a = tiny.write_course(tmp_path / "c", {"cell_timeout": 60}).assignment(tiny.NAME)
    assert a.limits.cell_timeout == 60 and a.limits.notebook_timeout == limits.DEFAULTS["notebook_timeout"]
    assert limits.Limits.of({"cell_timeout": 5, "memory_bytes": None}, base=a.limits).cell_timeout == 5
    plain = tiny.write_course(tmp_path / "plain").assignment(tiny.NAME)  # no course.toml: the defaults
    assert plain.limits.cell_timeout == limits.DEFAULTS["cell_timeout"]
    toml = tmp_path / "c" / "course.toml"
    toml.write_text(f"[assignments.{tiny.NAME}.limits]\ncell_timout = 60\n")
    with pytest.raises(course.CourseError, match=r"course.toml \[assignments.T1\].limits: unknown limit.*cell_timout"):
        course.Course(tmp_path / "c").assignment(tiny.NAME)
    toml.write_text(f"[assignments.{tiny.NAME}.limits]\ncell_timeout = -1\n")
    with pytest.raises(course.CourseError, match="positive whole"):
        course.Course(tmp_path / "c").assignment(tiny.NAME)
    toml.write_text(f"[assignments.{tiny.NAME}]\ncell_timeout = 60\n")  # outside the limits table
    with pytest.raises(course.CourseError, match="unknown key.*cell_timeout.*expected some of release, due, limits"):
        course.Course(tmp_path / "c").assignment(tiny.NAME)
    toml.write_text("")
    (tmp_path / "c" / "solutions" / tiny.NAME / "autograder.toml").write_text("cell_timeout = 60\n")
    with pytest.raises(course.CourseError, match=r"now in course.toml \[assignments.T1\].limits"):
        course.Course(tmp_path / "c").assignment(tiny.NAME)


def test_course_assignments_have_their_time_limits():
    short = [course.Course().assignment(a).limits.cell_timeout for a in ("A1", "A2", "A3")]
    assert short == [60, 60, 60]
    assert course.Course().assignment("A4").limits.cell_timeout == 600


def _die_on_three(job):
    if job["n"] == 3:
        os.kill(os.getpid(), signal.SIGKILL)
    return {"n": job["n"], "pid": os.getpid()}


def test_pool_replaces_dead_workers_and_names_the_killer():
    before = set(multiprocessing.active_children())  # other tests in this process may hold some
    p = pool.SurvivingPool(2, _die_on_three)
    try:
        handles = [p.submit({"n": n}) for n in range(8)]
        results, errors = {}, {}
        for h in p.completed(handles):
            try:
                results[h.job["n"]] = p.result(h)["n"]
            except pool.WorkerDied as exc:
                errors[h.job["n"]] = str(exc)
    finally:
        p.close()
    assert results == {n: n for n in range(8) if n != 3}
    assert list(errors) == [3] and "not retried" in errors[3]
    # every worker gone. Asked of the process table, not of multiprocessing's objects: when the
    # executor's own thread reaps a worker first, its Process object says "started" forever
    # (waitpid answers ECHILD); seen in about 1 run in 6 of this test.
    left = [c for c in multiprocessing.active_children() if c not in before and _exists(c.pid)]
    assert left == [], f"worker processes still running after close(): {left}"


def _exists(pid: int) -> bool:
    """Whether a process with this pid is running (not gone, not a zombie)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _mark_started(job):
    Path(job["mark"]).write_text("started")
    return job["mark"]


def test_pool_starts_a_job_when_it_is_submitted(tmp_path):
    """grade prepares the next submissions while the first ones run: the workers do not wait
    for the whole batch to be prepared. The job leaves a mark when it runs; the caller waits for
    it without calling completed() (no clock: a loaded machine only makes the wait longer)."""
    mark = tmp_path / "started"
    p = pool.SurvivingPool(1, _mark_started)
    try:
        h = p.submit({"mark": str(mark)})
        for _ in range(1200):  # the caller busy preparing, for up to 2 minutes
            if mark.exists():
                break
            time.sleep(0.1)
        ran_before_asked = mark.exists()
        assert [p.result(done) for done in p.completed([h])] == [str(mark)]
    finally:
        p.close()
    assert ran_before_asked, "the job waited for completed() to be called"


def _temp_then_die(job):
    """Leave a temporary folder, as a worker's checker and graded library copy do, then die
    without running an exit handler (as a worker that close() kills)."""
    made = tempfile.mkdtemp(prefix="checker-")
    with open(job["log"], "a") as fh:
        fh.write(made + "\n")
    if job["die"]:
        os.kill(os.getpid(), signal.SIGKILL)
    return made


def test_pool_workers_leave_no_temporary_files(tmp_path):
    """Every temporary file a worker makes is in the pool's folder, which close() removes: also
    those of a worker that was killed, and of one that ends with the pool (it is killed too)."""
    log = tmp_path / "made.txt"
    p = pool.SurvivingPool(2, _temp_then_die)
    try:
        handles = [p.submit({"log": str(log), "die": n == 1}) for n in range(3)]
        outcomes = [h for h in p.completed(handles)]
        assert sum(h.error is not None for h in outcomes) == 1
    finally:
        p.close()
    made = log.read_text().split()
    assert len(made) >= 3  # the killer twice (in the pool, then alone), the others once
    assert all(Path(m).parent == Path(p.scratch) for m in made), made
    assert not Path(p.scratch).exists() and not any(Path(m).exists() for m in made)


def _as_normal_user() -> str | None:
    """Why the sandbox cannot be tried as a normal user here, or None."""
    if os.geteuid() != 0:
        return None  # we are one
    if shutil.which("setpriv") is None:
        return "setpriv is not installed"
    probe = subprocess.run(["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", sys.executable,
                            "-c", f"import sys; assert sys.base_prefix == {sys.base_prefix!r}, sys.base_prefix; "
                            "import autograder.sandbox, ipykernel"], capture_output=True, text=True, cwd=course.REPO)
    if probe.returncode != 0:
        return (f"the Python installation ({sys.base_prefix}) or this repository is not readable by an "
                f"unprivileged user here: {probe.stderr.strip().splitlines()[-1][:160] if probe.stderr.strip() else ''}")
    return None


@needs_sandbox
def test_process_limit_binds_as_a_normal_user():
    why = _as_normal_user()
    if why:
        pytest.skip(why)
    code = ("import json, nbformat\nfrom nbformat.v4 import new_notebook, new_code_cell\n"
            "from autograder.execute import Job, run_job\nfrom autograder import sandbox\nfrom autograder.limits import Limits\n"
            "nb = new_notebook(cells=[new_code_cell(" + repr(PROCESSES + "print(mul(2, 3))") + ")])\n"
            "nb.metadata['kernelspec'] = {'name': 'python3', 'display_name': 'p', 'language': 'python'}\n"
            "r = run_job(Job('s', 'T', {'n': nbformat.writes(nb)},\n"
            "             limits=Limits(max_processes=64, cell_timeout=60)))\n"
            "out = nbformat.reads(r.notebooks['n'], as_version=4).cells[0].outputs\n"
            "print(json.dumps({'nproc': sandbox.facts()['nproc_binds'], 'text': ''.join(o.get('text', '') for o in out)}))\n")
    cmd = [sys.executable, "-c", code]
    if os.geteuid() == 0:
        cmd = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", "--"] + cmd
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=course.REPO, timeout=300,
                         env={**os.environ, "HOME": "/tmp"})
    assert res.returncode == 0, res.stderr[-2000:]
    got = json.loads(res.stdout.strip().splitlines()[-1])
    assert got["nproc"] is True
    assert "\n6\n" in "\n" + got["text"], got["text"]  # mul worked: fewer than 150 processes started
