"""The grading worker's checker zygote (autograder.checker.zygote, autograder.checkerproc.Checker):
each notebook gets a fresh fork of one long-lived checker that imported numpy, cnnkit and the
modules the assignment's checked cells import once (torch only where they import it); nothing one notebook's test cells did is there for the next; a checker stuck in a cell
takes its zygote with it and the next notebook gets a new one."""
import asyncio

import pytest

from autograder import checkerproc, limits

LIMITS = limits.Limits()
ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}


def _cells(*sources, close_timeout_cell=False, imports=("torch",)):
    """Run instructor cells (no kernel) in one notebook's checker, whose zygote imports `imports`;
    their outputs, and the zygote."""
    async def go():
        checker = checkerproc.Checker(False, LIMITS, ENV, imports)
        await checker.start()
        outs = []
        try:
            for i, src in enumerate(sources):
                await checker.send({"op": "run", "name": f"c{i}", "source": src, "names": None})
                if close_timeout_cell and i == len(sources) - 1:
                    break  # the cell is still running when the notebook ends
                outs.append((await asyncio.wait_for(checker.read(), timeout=60))["outputs"])
        finally:
            await checker.close()
        return outs, checker.zygote
    return asyncio.run(go())


@pytest.fixture(autouse=True)
def _fresh_zygotes():
    yield
    for z in list(checkerproc._ZYGOTES.values()):
        z.stop()
    checkerproc._ZYGOTES.clear()
    checkerproc._NO_ZYGOTE.clear()


def _text(outputs):
    return "".join(o.get("text", "") + o.get("evalue", "") for o in outputs)


def test_each_notebook_gets_a_fresh_checker_from_one_zygote():
    first, z1 = _cells("import sys, os, cnnkit\ncnnkit._left_behind = 1\nprint(os.getpid(), 'torch' in sys.modules)")
    second, z2 = _cells("import os, cnnkit\nprint(os.getpid(), hasattr(cnnkit, '_left_behind'))")
    assert z1 is not None and z1 is z2 and z1.alive()  # one zygote, still there
    pid1, preloaded = _text(first[0]).split()
    pid2, leaked = _text(second[0]).split()
    assert preloaded == "True"       # the zygote had imported torch before forking
    assert pid1 != pid2              # a new process for each notebook
    assert leaked == "False"         # the first notebook's change is not in the second's checker


def test_a_zygote_imports_what_its_assignments_cells_import_and_no_more():
    """A numpy assignment's checker does not import torch (a second of CPU per worker and batch);
    another assignment's list of modules gets a zygote of its own."""
    probe = "import sys\nprint(sorted(m for m in ('torch', 'numpy', 'cnnkit', 'cnnkit.grading') if m in sys.modules))"
    plain, z_plain = _cells(probe, imports=())
    with_torch, z_torch = _cells(probe, imports=("torch",))
    assert _text(plain[0]).strip() == "['cnnkit', 'cnnkit.grading', 'numpy']"
    assert _text(with_torch[0]).strip() == "['cnnkit', 'cnnkit.grading', 'numpy', 'torch']"
    assert z_plain is not z_torch and z_plain.alive() and z_torch.alive()


def test_the_plan_lists_what_the_checked_cells_import():
    """A1 (numpy) has no torch among its checker's imports; A3 (torch modules) has."""
    import nbformat

    from autograder import testplan
    from autograder.course import Course

    def imports(name):
        a = Course().assignment(name)
        return {m for nb in a.notebooks for m in testplan.plan(nbformat.read(a.source / nb, as_version=4))["imports"]}

    a1, a3 = imports("A1"), imports("A3")
    assert "cnnkit.grading" in a1 and not any(m.split(".")[0] == "torch" for m in a1), sorted(a1)
    assert {"torch", "cnnkit.modcheck"} <= a3, sorted(a3)


def test_a_checker_stuck_in_a_cell_takes_its_zygote_with_it():
    _, stuck = _cells("import time\ntime.sleep(600)", close_timeout_cell=True)
    assert stuck is not None and not stuck.alive()
    outs, fresh = _cells("print('graded')")
    assert fresh is not stuck and fresh.alive() and _text(outs[0]) == "graded\n"


def test_without_a_zygote_each_notebook_starts_its_own_checker(monkeypatch):
    monkeypatch.setenv("AUTOGRADER_NO_ZYGOTE", "1")
    outs, z = _cells("print(1 + 1)")
    assert z is None and _text(outs[0]) == "2\n"
