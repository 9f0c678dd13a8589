"""Stored outputs do not depend on how the machine rounds (tools/check_outputs_stable.py).

The stored outputs are built with this CPU's kernels (tools/build_notebooks.py); nbval re-runs each
notebook with the kernels of the x86 generation below it (conftest.py starts its kernels under
check_outputs_stable's 'other-cpu' configuration: PyTorch's oneDNN and MKL and numpy's OpenBLAS
use another vector width and blocking, so partial sums are added in another order) and requires
every stored output. So each notebook runs once in the suite and is still compared under changed
rounding: a figure that prints the last digits of a float sum fails there before it fails on a
student's laptop. The other perturbations of tools/check_outputs_stable.py (two threads; PyTorch's
oneDNN convolutions off) are slow on two busy cores, so authors run that command before a release. This file tests that comparison and that nbval's
kernels really run under the changed configuration.
"""
import copy
import os

import nbformat
import pytest

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


_CONV = ("import hashlib, torch\n"
         "torch.manual_seed(0)\n"
         "x, conv = torch.randn(8, 16, 24, 24), torch.nn.Conv2d(16, 32, 3)\n"
         "y = conv(x).detach().numpy()\n"
         "import numpy as np\n"
         "a = np.random.default_rng(0).standard_normal((256, 300))\n"
         "print(hashlib.md5(y.tobytes()).hexdigest(), hashlib.md5((a @ a.T).tobytes()).hexdigest())\n")


def test_other_cpu_chooses_the_generation_below():
    assert stable.other_cpu_env({"avx512f", "avx2", "avx"})["ONEDNN_MAX_CPU_ISA"] == "AVX2"
    assert stable.other_cpu_env({"avx2", "avx"}) == {"ONEDNN_MAX_CPU_ISA": "AVX", "MKL_ENABLE_INSTRUCTIONS": "AVX",
                                                     "OPENBLAS_CORETYPE": "Sandybridge"}
    assert stable.other_cpu_env({"avx", "sse4_1"})["OPENBLAS_CORETYPE"] == "Nehalem"
    assert stable.other_cpu_env(set()) == {}


def _run_in_kernel(kernel, code: str) -> str:
    msg_id = kernel.execute_cell_input(code, allow_stdin=False)
    text = ""
    while True:
        msg = kernel.get_message("iopub", timeout=120)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "stream":
            text += msg["content"]["text"]
        if msg["msg_type"] == "error":
            text += f"error: {msg['content']['evalue']}"
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            return text


def test_nbval_runs_each_notebook_under_the_other_rounding():
    """The kernels nbval starts (conftest.py) get the 'other-cpu' variables, and there a convolution
    and a numpy matrix product round differently than in this process (this CPU's own kernels)."""
    import subprocess
    import sys

    import nbval.kernel

    env = stable.CONFIGS["other-cpu"][0]
    if not env:
        pytest.skip(f"this CPU has no older x86 generation to imitate (flags: {sorted(stable.cpu_flags())[:8]}...)")
    assert getattr(nbval.kernel.start_new_kernel, "under_other_rounding", False)
    kernel = nbval.kernel.RunningKernel(nbval.kernel.CURRENT_ENV_KERNEL_NAME)
    try:
        seen = _run_in_kernel(kernel, "import os\nprint(*(os.environ.get(k) for k in %r))\n" % sorted(env))
        theirs = _run_in_kernel(kernel, _CONV)
    finally:
        kernel.stop()
    assert seen.split() == [env[k] for k in sorted(env)], seen
    clean = {k: v for k, v in os.environ.items() if k not in env}
    ours = subprocess.run([sys.executable, "-c", _CONV], env=clean, capture_output=True, text=True, timeout=120).stdout
    conv_ours, mm_ours = ours.split()
    conv_theirs, mm_theirs = theirs.split()
    assert conv_ours != conv_theirs and mm_ours != mm_theirs, (
        "the 'other-cpu' configuration did not change how a convolution and a matrix product round, so nbval "
        f"would compare the notebooks under the rounding they were built with: {ours!r} vs {theirs!r}")
