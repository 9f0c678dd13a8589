"""Every byte a kernel sends is counted, and the grading worker keeps none it need not (issue 25,
item 3).

- every message type counts against the cell's and the notebook's output budgets (widget and comm
  messages, clear_output, display updates, status, binary buffers), not only the outputs; only
  the kernel's echo of the cell it was sent is free;
- nbclient keeps no widget state and plays no widget front end in the worker;
- the checker's outputs of a test cell are charged like the kernel's, and a line of them too long
  to read is charged as over the limit, not taken for a failure of the grader;
- measured in a worker process as grade runs it: a 400 MB comm flood stops the kernel with a reason
  and costs the worker no memory; one message of many parts is bounded by the worker's own limit.
"""
import asyncio
import json
import subprocess
import sys

import nbformat
import pytest
from nbclient.exceptions import CellExecutionComplete

from autograder import limits
from autograder.checkerproc import Checker
from autograder.limits import LimitedNotebookClient, output_size
from tests.isolation import UNSAFE


def _msg(kind, content, buffers=(), parent="p1"):
    return {"msg_type": kind, "header": {"msg_type": kind, "msg_id": "m"}, "parent_header": {"msg_id": parent},
            "metadata": {}, "content": content, "buffers": list(buffers)}


COMM_ID = "c" * 32
TYPES = {
    "comm_open": {"comm_id": COMM_ID, "target_name": "jupyter.widget", "data": {"state": {"v": "x" * 1000}}},
    "comm_msg": {"comm_id": COMM_ID, "data": {"method": "update", "state": {"v": "x" * 1000}}},
    "comm_close": {"comm_id": COMM_ID, "data": {"bye": "x" * 1000}},
    "clear_output": {"wait": False, "pad": "x" * 1000},
    "update_display_data": {"data": {"text/plain": "x" * 1000}, "metadata": {}, "transient": {"display_id": "d"}},
    "status": {"execution_state": "busy", "pad": "x" * 1000},
    "some_future_type": {"x": "x" * 1000},
}


@pytest.mark.parametrize("kind", list(TYPES))
def test_every_message_type_counts(kind):
    assert output_size(_msg(kind, TYPES[kind])) >= 1000


def test_binary_buffers_and_display_ids_count():
    msg = _msg("comm_msg", {"comm_id": COMM_ID, "data": {}}, buffers=[memoryview(bytes(5000)), b"12345"])
    assert output_size(msg) >= 5005
    shown = _msg("display_data", {"data": {"text/plain": "x"}, "metadata": {}, "transient": {"display_id": "d" * 9000}})
    assert output_size(shown) >= 9000


def test_only_the_echo_of_the_cell_is_free():
    echo = _msg("execute_input", {"code": "print(1)", "execution_count": 1})
    assert output_size(echo, "print(1)") == 0
    assert output_size(_msg("execute_input", {"code": "y" * 5000, "execution_count": 1}), "print(1)") >= 5000


def _client(**kw):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("pass"), nbformat.v4.new_code_cell("pass")])
    return nb, LimitedNotebookClient(nb, **kw)


def test_widget_state_is_not_kept():
    nb, client = _client()
    cell = nb.cells[0]
    for kind in ("comm_open", "comm_msg", "comm_msg", "comm_close"):
        assert client.process_message(_msg(kind, TYPES[kind]), cell, 0) is None
    assert client.widget_state == {} and client.widget_buffers == {} and client.comm_objects == {}
    assert client._cell_bytes[0] >= 4000  # but every message was counted
    assert cell.outputs == []


def test_a_comm_flood_passes_the_cell_budget_with_a_reason():
    nb, client = _client(max_cell_output_bytes=50_000)
    cell = nb.cells[0]
    with pytest.raises(CellExecutionComplete):
        for _ in range(100):
            client.process_message(_msg("comm_msg", TYPES["comm_msg"]), cell, 0)
    assert client.stop_reason == ("output limit: a cell's output (with widget and other messages) passed 50,000 "
                                  "bytes; the kernel was stopped")
    assert limits.CUT in cell.outputs[-1]["text"]
    with pytest.raises(CellExecutionComplete):  # nothing more is taken from a stopped kernel
        client.process_message(_msg("stream", {"name": "stdout", "text": "x"}), cell, 0)


def test_the_checker_outputs_are_charged_like_the_kernels():
    nb, client = _client(max_cell_output_bytes=1_000_000, max_notebook_output_bytes=1_500_000)
    small = [{"output_type": "error", "ename": "AssertionError", "evalue": "x" * 100, "traceback": ["y" * 800_000]}]
    client.charge_outputs(nb.cells[0], 0, small)
    assert client.stop_reason is None
    client.charge_outputs(nb.cells[1], 1, small)  # the notebook's budget counts both cells
    assert client.stop_reason.startswith("output limit: the notebook's output (the test's output) passed 1,500,000")
    nb, client = _client()
    client.charge_outputs(nb.cells[0], 0, [], over=True)  # a line too long to read
    assert "a cell's output (the test's output) passed" in client.stop_reason


@pytest.mark.parametrize("split", [False, True])
def test_a_checker_line_over_the_reader_limit_is_output_not_a_fault(split):
    """The worker reads the checker's lines with a limit; a longer one (a test message showing a
    huge value) is skipped to its end and charged as output over the limit, and the next message
    is read intact. split: the long line arrives in pieces, its end after the limit was met."""
    async def go():
        checker = Checker(False, limits.Limits(), {})
        checker.reader = reader = asyncio.StreamReader(limit=1000)
        long = b'{"op": "done", "outputs": [{"output_type": "stream", "name": "stdout", "text": "' + b"z" * 5000 + b'"}]}\n'
        if split:
            reader.feed_data(long[:3000])
            asyncio.get_running_loop().call_later(0.05, reader.feed_data, long[3000:] + b'{"op": "kernel", "session": "a1"}\n')
        else:
            reader.feed_data(long + b'{"op": "kernel", "session": "a1"}\n')
        return await checker.read(), await checker.read()

    first, second = asyncio.run(go())
    assert first == {"op": "done", "outputs": [], "overlong": True}
    assert second == {"op": "kernel", "session": "a1"}


# Grades a notebook of a print and CODE in a worker of grade's pool, then prints the job's status
# and the largest peak RSS of the pool's processes (the worker; its kernel is smaller).
WORKER = r"""
import json, resource, sys
import nbformat
from nbformat.v4 import new_code_cell, new_notebook
from autograder.execute import Job, run_job
from autograder.limits import Limits
from autograder.pool import SurvivingPool
code, memory, sandbox = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
nb = new_notebook(cells=[new_code_cell("print(1)"), new_code_cell(code), new_code_cell("print(2)")])
nb.metadata["kernelspec"] = {"name": "python3", "display_name": "p", "language": "python"}
job = Job("s", "T", {"n": nbformat.writes(nb)}, sandbox=sandbox,
          limits=Limits(cell_timeout=120, notebook_timeout=300, memory_bytes=memory))
if __name__ == "__main__":
    pool = SurvivingPool(1, run_job)
    try:
        [done] = list(pool.completed([pool.submit(job)]))
        status = pool.result(done).status["n"]
    finally:
        pool.close()
    print(json.dumps({"status": status, "peak_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
"""

COMM = ("import comm\n_c = comm.create_comm(target_name='jupyter.widget', data={'state': {'_model_name': 'X', "
        "'_model_module': 'm', '_model_module_version': '1'}, 'buffer_paths': []})\n")
FLOOD = COMM + "for _i in range(400):\n    _c.send({'method': 'update', 'state': {'v%d' % _i: 'v' * 1_000_000}, 'buffer_paths': []})\n"
PARTS = COMM + "_c.send({'method': 'custom'}, buffers=[memoryview(bytearray(4 * 2**20))] * 600)\n"


def _in_worker(code: str, memory: int) -> dict:
    from autograder import course

    res = subprocess.run([sys.executable, "-c", WORKER, code, str(memory), "0" if UNSAFE else "1"],
                         capture_output=True, text=True, timeout=600, cwd=course.REPO)
    assert res.returncode == 0, res.stderr[-3000:]
    return json.loads(res.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def honest_worker():
    return _in_worker("x = 6 * 7", 2 * 1024**3)


def test_a_comm_flood_stops_the_kernel_and_costs_the_worker_nothing(honest_worker):
    """400 MB of widget updates: before, the worker kept them all (261 -> 655 MiB, reason "ok")."""
    got = _in_worker(FLOOD, 2 * 1024**3)
    assert honest_worker["status"] == "ok"
    assert got["status"].startswith("output limit: a cell's output (with widget and other messages) passed")
    assert got["peak_mib"] < honest_worker["peak_mib"] + 60, (got, honest_worker)


def test_one_message_of_many_parts_stays_within_the_workers_limit(honest_worker):
    """A message of 600 parts of 4 MiB (each under the transport's cap, 2.4 GiB in all) is taken in
    whole by the transport before the grader sees it: the worker's own limit (its size when it
    took its first job plus the kernel's memory limit, 1 GiB here) bounds it, and the kernel is
    stopped with a reason."""
    got = _in_worker(PARTS, 1024**3)
    assert got["status"].startswith("output limit:"), got
    assert got["peak_mib"] < honest_worker["peak_mib"] + 1200, (got, honest_worker)
