"""As root, limits or no grading (issue 25, item 5).

As root without a delegated cgroup v2 (memory, pids) nothing bounds a kernel's processes (Linux
does not apply RLIMIT_NPROC to host uid 0, which the sandbox maps to) nor their memory together:
one kernel ran 1,500 processes and held 2.5 GiB under a 2 GiB limit. `grade` then refuses, with
the reason and how to delegate a cgroup, unless the instructor passes --allow-unlimited-root (or
sets AUTOGRADER_ALLOW_UNLIMITED_ROOT=1, as the test suite does in conftest.py: CI runs as root
without a cgroup); a worker of a cluster checks the same for itself. These tests clear that
setting and make the machine look like such a root (facts patched), whatever it really is.
"""
import nbformat
import pytest

from autograder import api, batch, cli, course, sandbox
from autograder.execute import Job, run_job
from tests import tiny_assignment as tiny


@pytest.fixture
def root_without_cgroup(monkeypatch):
    facts = {**sandbox.facts(), "root": True, "cgroup": None, "error": "", "nproc_binds": False,
             "cgroup_why": "no cgroup v2 here (a test)"}
    monkeypatch.setattr(sandbox, "facts", lambda: facts)
    monkeypatch.delenv(sandbox.ALLOW_ROOT_ENV, raising=False)
    return facts


@pytest.fixture
def tiny_work(tmp_path):
    work = tiny.term(tmp_path)
    folder = work / "submitted" / "someone" / tiny.NAME
    folder.mkdir(parents=True)
    nbformat.write(tiny.source_notebook(), folder / tiny.NOTEBOOK)
    return work


def test_grade_as_root_without_a_cgroup_refuses_and_says_how_to_delegate(root_without_cgroup, tiny_work):
    with pytest.raises(course.CourseError) as err:
        batch.grade_batch(tiny.NAME, tiny_work, progress=False)
    why = str(err.value)
    for needed in ("as root without a cgroup", "RLIMIT_NPROC", "no cgroup v2 here (a test)",
                   "echo '+memory +pids' > /sys/fs/cgroup/cgroup.subtree_control", sandbox.CGROUP_ENV,
                   "--allow-unlimited-root"):
        assert needed in why, needed
    assert not (tiny_work / "autograded").exists()  # nothing ran


def test_who_is_refused(root_without_cgroup, monkeypatch):
    assert sandbox.root_refusal() is not None
    assert sandbox.root_refusal(True) is None  # the instructor's flag
    monkeypatch.setenv(sandbox.ALLOW_ROOT_ENV, "1")
    assert sandbox.root_refusal() is None and sandbox.root_refusal(False) is not None  # the flag's word wins
    monkeypatch.delenv(sandbox.ALLOW_ROOT_ENV)
    root_without_cgroup["cgroup"] = "/sys/fs/cgroup/autograder"  # a delegated cgroup: limits hold
    assert sandbox.root_refusal() is None
    root_without_cgroup.update(cgroup=None, root=False)  # a normal user: RLIMIT_NPROC binds
    assert sandbox.root_refusal() is None


def test_the_command_line_refuses_and_takes_the_flag(root_without_cgroup, tiny_work, monkeypatch, capsys):
    assert cli.main(["grade", tiny.NAME, "--source", str(tiny_work.source.root), "--course-dir", str(tiny_work), "--no-self-check"]) == 2
    assert "--allow-unlimited-root" in capsys.readouterr().err
    seen = {}

    def fake_grade(*args, **kwargs):
        seen.update(kwargs)
        return {}

    monkeypatch.setattr(api, "grade", fake_grade)
    monkeypatch.setattr(api, "grade_rows", lambda *a, **k: [])
    assert cli.main(["grade", tiny.NAME, "--source", str(tiny_work.source.root), "--course-dir", str(tiny_work), "--allow-unlimited-root"]) == 0
    assert seen["allow_unlimited_root"] is True


def test_a_worker_as_root_refuses_a_job_that_does_not_allow_it(root_without_cgroup):
    """A worker of a cluster checks for itself: the job is not graded (a fault of the grader's
    configuration, never a grade)."""
    job = Job("s", "T", {}, allow_unlimited_root=False)
    out = run_job(job)
    assert out.fault.startswith("this worker refuses: grading as root without a cgroup")
    assert out.notebooks == {} and out.status == {}
