"""Stored outputs do not depend on how the machine rounds (tools/check_outputs_stable.py).

The stored outputs are built with one thread (tools/build_notebooks.py); nbval re-runs each
notebook with two BLAS, OpenMP and PyTorch threads (conftest.py starts its kernels under
check_outputs_stable's 'threads' configuration: the work split differently, partial sums added in
another order) and requires every stored output. So each notebook runs once in the suite and is
still compared under changed rounding: a figure that prints the last digits of a float sum fails
there before it fails on another CPU. The second perturbation of tools/check_outputs_stable.py
(PyTorch's oneDNN convolutions off) makes the training notebooks several times slower, so authors
run it with that command before a release. This file tests that comparison and that nbval's
kernels really run under the changed configuration.
"""
import copy

import nbformat

from tools import check_outputs_stable as stable

NOTEBOOKS = sorted(p for g in stable.NOTEBOOK_GLOBS for p in stable.ROOT.glob(g))


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


def test_nbval_runs_each_notebook_under_the_other_rounding():
    """The kernels nbval starts (tests/../conftest.py) compute with two threads and passive OpenMP
    waits, also where the notebook asks torch for one thread, as check_outputs_stable's 'threads'."""
    import nbval.kernel

    assert getattr(nbval.kernel.start_new_kernel, "under_other_rounding", False)
    kernel = nbval.kernel.RunningKernel(nbval.kernel.CURRENT_ENV_KERNEL_NAME)
    try:
        msg_id = kernel.execute_cell_input(
            "import os, torch\ntorch.set_num_threads(1)\n"
            "print(os.environ['OMP_NUM_THREADS'], os.environ['MKL_NUM_THREADS'], os.environ['OMP_WAIT_POLICY'], "
            "torch.get_num_threads())", allow_stdin=False)
        text = ""
        while True:
            msg = kernel.get_message("iopub", timeout=120)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "stream":
                text += msg["content"]["text"]
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                break
    finally:
        kernel.stop()
    assert text == "2 2 PASSIVE 2\n", text
