"""Stored outputs do not depend on how the machine rounds (tools/check_outputs_stable.py).

nbval re-runs each notebook the way it was built (one thread) and compares it with its stored
outputs; here each one runs again with two BLAS, OpenMP and PyTorch threads (the work split
differently, partial sums added in another order) and must still give every stored output. The
second perturbation of tools/check_outputs_stable.py (PyTorch's oneDNN convolutions off) makes
the training notebooks several times slower, so authors run it with that command instead. A figure that prints the last digits of a float sum fails here
before it fails on another CPU. One class per notebook, so pytest-xdist's loadscope spreads them.
"""
import copy

import nbformat
import pytest

from tools import check_outputs_stable as stable

NOTEBOOKS = sorted(p for g in stable.NOTEBOOK_GLOBS for p in stable.ROOT.glob(g))


def _check(path):
    found = stable.check_notebook(path, "threads")
    assert not found, (f"{path.relative_to(stable.ROOT)} prints outputs that move with rounding "
                       "(print them exactly, coarsely rounded, or as a verdict against a tolerance):\n"
                       + "\n".join(found))


# Notebooks known to move with rounding, each with its reason; remove an entry once its notebook
# passes. None now: lecture 10 states a CPU target of 0.30, 0.05 below the worst of 20 runs over
# seeds and thread counts (0.350), and A4's recipe reaches 0.559 or more against its 0.50 target
# on seeds 0-4 under one and two threads (tools/a4_recipe_seeds.py).
UNSTABLE: dict[str, str] = {}

for _p in NOTEBOOKS:
    _rel = str(_p.relative_to(stable.ROOT))
    _name = "TestStable_" + "".join(ch if ch.isalnum() else "_" for ch in _rel)
    _body = {"test_outputs_survive_other_rounding": (lambda self, _path=_p: _check(_path))}
    if _rel in UNSTABLE:
        _body["pytestmark"] = [pytest.mark.skip(reason=f"known unstable, to fix: {UNSTABLE[_rel]}")]
    globals()[_name] = type(_name, (), _body)


def _nb(*cells):
    nb = nbformat.v4.new_notebook()
    for source, outputs in cells:
        cell = nbformat.v4.new_code_cell(source)
        cell.outputs = [nbformat.v4.new_output(**o) for o in outputs]
        nb.cells.append(cell)
    return nb


def test_there_are_notebooks_to_check():
    assert len(NOTEBOOKS) >= 15  # eleven lectures and four solutions


def test_differences_finds_a_moved_digit_and_ignores_what_nbval_ignores():
    stored = _nb(("print(err)", [dict(output_type="stream", name="stdout", text="1.234567e-09\n")]),
                 ("# NBVAL_IGNORE_OUTPUT\n# wall-clock time\nprint(t)", [dict(output_type="stream", name="stdout", text="3 s\n")]),
                 ("f", [dict(output_type="execute_result", data={"text/plain": "<Figure size 640x480 with 1 Axes>"},
                             execution_count=1)]))
    same = copy.deepcopy(stored)
    same.cells[1].outputs[0].text = "4 s\n"                                       # ignored cell
    same.cells[2].outputs[0].data["text/plain"] = "<Figure size 800x600 with 2 Axes>"  # sanitised
    same.cells[0].outputs = [nbformat.v4.new_output("stream", name="stdout", text="1.2345"),   # one stream,
                             nbformat.v4.new_output("stream", name="stdout", text="67e-09\n")]  # two chunks
    assert stable.differences(stored, same) == []
    moved = copy.deepcopy(stored)
    moved.cells[0].outputs[0].text = "1.234568e-09\n"
    found = stable.differences(stored, moved)
    assert len(found) == 1 and "code cell 0" in found[0] and "1.234568e-09" in found[0]


def test_run_under_changes_the_kernel_configuration(tmp_path):
    """Both perturbations reach the kernel (the combined configuration sets both)."""
    path = tmp_path / "probe.ipynb"
    nb = _nb(("import os, torch\nprint(os.environ['OMP_NUM_THREADS'], os.environ['OMP_WAIT_POLICY'], "
              "torch.get_num_threads(), torch.backends.mkldnn.enabled)\ntorch.set_num_threads(1)\n"
              "print(torch.get_num_threads())", []))
    nbformat.write(nb, path)
    env, startup = stable.COMBINED
    _, fresh = stable.run_under(path, env, startup)
    assert fresh.cells[0].outputs[0].text == "2 PASSIVE 2 False\n2\n"
    assert nbformat.read(path, as_version=4).cells[0].outputs == []  # the file is not touched
