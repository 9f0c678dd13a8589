"""Shared test setup. It sits at the root so it also applies to notebooks that nbval collects.
Notebooks and kernels started by the tests run on the CPU so that their outputs can be compared with the stored ones, also on a machine that has a GPU."""
import os
from pathlib import Path

os.environ["CNNKIT_DEVICE"] = "cpu"
os.environ["CUDA_VISIBLE_DEVICES"] = ""
os.environ["PYTHONHASHSEED"] = "0"
# One thread per process: the tests run two workers on two cores, and oversubscribed OpenMP
# threads slow training cells down many times over. The stored outputs are built the same way.
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = "1"
os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
# grade's self-check (autograder/selfcheck.py) grades the instructor's solution before each batch:
# the round trips do exactly that already, and tests/test_reproducible_grades.py tests the
# self-check itself (self_check=True). Off by default here, so no batch pays for it twice.
os.environ.setdefault("AUTOGRADER_SELF_CHECK", "0")
# CI runs the suite as root in a container without a delegated cgroup, where grade refuses unless the
# instructor accepts that nothing limits a submission's processes (autograder.sandbox.root_refusal):
# the tests accept it; tests/test_root_refusal.py clears this to test the refusal itself.
os.environ.setdefault("AUTOGRADER_ALLOW_UNLIMITED_ROOT", "1")

ROOT = Path(__file__).resolve().parent


def _nbval_kernels_under_other_rounding() -> None:
    """nbval's kernels compute with the kernels of an older CPU (tools/check_outputs_stable.py's
    'other-cpu' configuration: AVX2 instead of AVX-512, say), while the stored outputs are built with
    this one's (tools/build_notebooks.py). So one run of each notebook both re-executes it and
    compares its outputs under another summation order: a figure that moves with the CPU's BLAS
    kernels fails here, before it fails on a student's laptop. Still one thread: on two cores beside
    the other test worker, two-thread kernels were up to five times slower.
    (nbval starts every kernel through nbval.kernel.start_new_kernel, which passes keyword arguments
    on to jupyter_client's KernelManager.start_kernel.)"""
    try:
        import nbval.kernel
    except ImportError:  # nbval not installed: no notebook is collected either
        return
    from tools.check_outputs_stable import CONFIGS

    env, startup = CONFIGS["other-cpu"]
    start = nbval.kernel.start_new_kernel
    if getattr(start, "under_other_rounding", False):
        return

    def start_new_kernel(startup_timeout=60, kernel_name="python", **kwargs):
        kwargs["env"] = {**os.environ, **env, **kwargs.get("env", {})}
        kwargs["extra_arguments"] = [*kwargs.get("extra_arguments", []),
                                     *(f"--InteractiveShellApp.exec_lines={line}" for line in startup)]
        return start(startup_timeout=startup_timeout, kernel_name=kernel_name, **kwargs)

    start_new_kernel.under_other_rounding = True
    nbval.kernel.start_new_kernel = start_new_kernel


_nbval_kernels_under_other_rounding()


def pytest_terminal_summary(terminalreporter):
    """Say once, at the end, what ran without isolation or was skipped for want of a tool."""
    from autograder import sandbox

    why = sandbox.check()
    if why:
        terminalreporter.write_line(
            "note: bubblewrap is unavailable here, so the assignment round trips and the Dask test graded "
            f"their own sample submissions WITHOUT isolation, and the sandbox tests were skipped ({why})")
