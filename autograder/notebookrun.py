"""One notebook's run: its student and locked cells in the sandboxed kernel (autograder.kernel), its
test cells in the checker (autograder.checkerproc) right after the cells before them, as nbgrader
would order them, under the notebook's time and output limits (autograder.limits).

The test cells' source never reaches the kernel; the checker reaches the student's code only
through autograder.wire, over a socket pair made here for the notebook (one end given to the
kernel, the other to the checker, each when it starts); this loop starts the kernel's server for
each test cell that needs it and watches that it runs.
"""
from __future__ import annotations

import asyncio
import os
import queue
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import nbformat
import zmq
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
from nbformat.v4 import new_output

from . import sandbox
from .checkerproc import Checker, GraderFault
from .kernel import SandboxedKernelManager, kernel_env
from .limits import WALL_FACTOR, CpuClock, Limits, LimitedNotebookClient, backstop_reason, cpu_limit_reason


def _cap_outputs(cell, max_bytes: int) -> None:
    """Cut stream text, plain-text results and error messages and tracebacks longer than max_bytes
    (a print of 30 MB on one line, or a test's message that shows a huge value, would otherwise
    land in the gradebook's notebook and the feedback)."""
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream" and len(out.get("text", "")) > max_bytes:
            out["text"] = out["text"][:max_bytes] + f"\n[output cut at {max_bytes} characters by the autograder]\n"
        if out.get("output_type") == "error":
            if len(str(out.get("ename", ""))) > 200:
                out["ename"] = str(out["ename"])[:200]
            if len(str(out.get("evalue", ""))) > max_bytes:
                out["evalue"] = str(out["evalue"])[:max_bytes] + " [cut by the autograder]"
            lines, left = [], max_bytes
            for line in out.get("traceback") or []:
                line = str(line)
                if len(line) > left:
                    lines.append(line[:left] + " [traceback cut by the autograder]")
                    break
                lines.append(line)
                left -= len(line)
            out["traceback"] = lines
        data = out.get("data", {})
        for mime, value in list(data.items()):
            if isinstance(value, str) and len(value) > max_bytes:
                data[mime] = value[:max_bytes] + "\n[cut by the autograder]"


def _not_run(cell, reason: str) -> None:
    cell.outputs = [new_output("error", ename="NotRun", evalue=reason,
                               traceback=[f"NotRun: {reason}"])]


# Run in the student's kernel at each test cell: installs autograder.wire as a module (never a
# global of the student's namespace) and answers the checker until it says end.
_SERVE = ("(lambda _m: (exec({src!r}, _m.__dict__), _m.serve(globals(), {fd}, {session!r})))"
          "(__import__('types').ModuleType('_grader_wire'))\n")


_NOT_RUNNING = "your kernel is not running (it exited, crashed or was stopped)"


async def _watch_serve(kc, km, serve_id: str) -> str:
    """Wait until the kernel's server for this cell has ended; why it did, for the checker if it
    was still using the kernel: its cell finished (the checker said end, or the student's code
    stopped or replaced it) or the kernel died."""
    while True:
        try:
            reply = await kc.get_shell_msg(timeout=0.5)
        except queue.Empty:
            if not await km.is_alive():
                return _NOT_RUNNING
            continue
        if reply["parent_header"].get("msg_id") == serve_id:
            return "your kernel did not answer the grader (it stopped, or its code replaced the channel)"


async def _open_kernel(kc, km, msg: dict, names, serve) -> tuple[asyncio.Future | None, str | None]:
    """The checker asked for the kernel (msg): start the kernel's server for this cell. Returns
    the watch on that server, or why the kernel cannot be had (then the watch is unchanged)."""
    session = str(msg.get("session", ""))
    if names is None:
        return serve, "this cell has no access to your code"
    if serve is not None:
        return serve, "the grader asked for your kernel twice in one cell"
    if not (session.isalnum() and len(session) <= 32):
        return serve, "a malformed request from the grader"
    if not await km.is_alive():
        return serve, _NOT_RUNNING
    try:
        serve_id = kc.execute(_SERVE.format(src=_WIRE_SOURCE, fd=km.channel_fd, session=session),
                              silent=True, store_history=False, allow_stdin=False)
    except zmq.Again:  # the kernel went away between the check and the send
        return serve, _NOT_RUNNING
    return asyncio.ensure_future(_watch_serve(kc, km, serve_id)), None


async def _end_serve(km, serve) -> None:
    """The kernel's server ends when the checker says end (or goes): wait for that, then interrupt."""
    try:
        await asyncio.wait_for(asyncio.shield(serve), 10.0)
    except asyncio.TimeoutError:
        await km.interrupt_kernel()
        try:
            await asyncio.wait_for(serve, 10.0)
        except asyncio.TimeoutError:
            pass


async def _checker_outputs(kc, km, checker: Checker, names, timeout: float) -> tuple[list, bool]:
    """Answer the checker's requests for the kernel until it says the cell is done; returns its
    outputs and whether they were over the line limit. Raises asyncio.TimeoutError past timeout."""
    serve, told = None, False  # the watch on the kernel's server (once started); the checker told it ended
    end = time.monotonic() + timeout
    reading = asyncio.ensure_future(checker.read())
    try:
        while True:
            waits = {reading} if serve is None or told else {reading, serve}
            finished, _ = await asyncio.wait(waits, timeout=max(0.0, end - time.monotonic()),
                                             return_when=asyncio.FIRST_COMPLETED)
            if not finished:
                raise asyncio.TimeoutError
            if serve in finished and not told:
                told = True
                await checker.send({"op": "gone", "error": serve.result()})
            if reading not in finished:
                continue
            msg = reading.result()
            if msg.get("op") == "done":
                outputs = msg.get("outputs") if isinstance(msg.get("outputs"), list) else []
                return [o for o in outputs if isinstance(o, dict)], msg.get("overlong", False)
            reading = asyncio.ensure_future(checker.read())
            if msg.get("op") == "kernel":
                serve, why = await _open_kernel(kc, km, msg, names, serve)
                await checker.send({"op": "reply", "error": why} if why else {"op": "reply", "open": True})
    except asyncio.TimeoutError:
        await checker.close()  # first: a checker that goes ends the kernel's server for this cell
        raise
    finally:
        if not reading.done():
            reading.cancel()
        if serve is not None:
            await _end_serve(km, serve)


async def _check_cell(client, km, checker: Checker, cell, index: int, grade_id: str, source: str, names,
                      timeout: float, max_output_bytes: int):
    """Run a trusted cell in the checker; with names, start the kernel's server when it asks.
    Whatever the kernel sends meanwhile, and the checker's own outputs, count against the cell's
    and the notebook's output budgets (autograder.limits); the outputs kept are cut like a cell's."""
    await checker.send({"op": "run", "name": grade_id, "source": source, "names": names})
    cell.outputs = []
    stopped = client.stop_reason
    draining = asyncio.ensure_future(client.drain(cell, index))
    try:
        outputs, overlong = await _checker_outputs(client.kc, km, checker, names, timeout)
    except asyncio.TimeoutError:
        outputs = [{"output_type": "error", "ename": "CellTimeoutError",
                    "evalue": f"the test ran past {timeout:.0f} s of wall-clock time",
                    "traceback": [f"CellTimeoutError: the test ran past {timeout:.0f} s of wall-clock time"]}]
        raise _CheckerTimeout(outputs) from None
    finally:
        draining.cancel()
    cut = list(cell.outputs)  # the notice of an output limit the kernel met meanwhile
    client.charge_outputs(cell, index, outputs, over=overlong)
    cell.outputs = [nbformat.from_dict(o) for o in outputs] + cut + cell.outputs[len(cut):]
    _cap_outputs(cell, max_output_bytes)
    if client.stop_reason is not None and client.stop_reason != stopped:  # this test met it: it fails
        cell.outputs.append(new_output("error", ename="OutputLimit", evalue=client.stop_reason,
                                       traceback=[f"OutputLimit: {client.stop_reason}"]))
    cell.execution_count = None


class _CheckerTimeout(Exception):
    def __init__(self, outputs):
        super().__init__("checker timeout")
        self.outputs = outputs


_WIRE_SOURCE = Path(__file__).with_name("wire.py").read_text()


class _Clock:
    """The time limits of one notebook (autograder.limits): the kernel's CPU time where /proc tells
    it, with a wall-clock backstop WALL_FACTOR times longer; wall-clock time alone elsewhere."""

    def __init__(self, limits: Limits):
        self.cell_limit, self.nb_limit = float(limits.cell_timeout), float(limits.notebook_timeout)
        self.cpu: CpuClock | None = None
        self.factor = 1
        self.nb_start = self.cell_start = 0.0
        self.deadline = time.monotonic() + self.nb_limit  # until the kernel runs

    def kernel_started(self, pid: int | None) -> None:
        clock = CpuClock(pid) if pid else None
        now = clock.seconds() if clock is not None else None
        if now is not None:
            self.cpu, self.factor, self.nb_start = clock, WALL_FACTOR, now
        self.deadline = time.monotonic() + self.nb_limit * self.factor

    @property
    def cell_wall(self) -> float:
        return self.cell_limit * self.factor

    def _used(self, since: float) -> float | None:
        now = self.cpu.seconds() if self.cpu is not None else None
        return None if now is None else now - since

    def cell_timeout(self) -> str:
        if self.cpu is None:
            return f"a cell ran past the cell time limit of {self.cell_limit:g} s"
        return backstop_reason("cell", self.cell_wall, self._used(self.cell_start))

    def notebook_timeout(self) -> str:
        if self.cpu is None:
            return f"notebook time limit of {self.nb_limit:g} s reached"
        return backstop_reason("notebook", self.nb_limit * self.factor, self._used(self.nb_start))

    async def watch(self, client: LimitedNotebookClient) -> None:
        """While a cell runs: stop the kernel when the cell or the notebook passes its CPU time."""
        if self.cpu is None:
            return
        start = self.cpu.seconds()
        if start is None:
            return
        self.cell_start = start
        while True:
            await asyncio.sleep(0.2)
            now = self.cpu.seconds()
            if now is None:
                return
            if now - start > self.cell_limit:
                client.stop(cpu_limit_reason("cell", self.cell_limit))
                return
            if now - self.nb_start > self.nb_limit:
                client.stop(cpu_limit_reason("notebook", self.nb_limit))
                return


async def _watched(clock: _Clock, client, work):
    """Run the awaitable `work` with the CPU watch beside it."""
    watch = asyncio.ensure_future(clock.watch(client))
    try:
        return await work
    finally:
        watch.cancel()
        await asyncio.gather(watch, return_exceptions=True)


_KERNEL_DIED = "the kernel died (it exited, crashed or ran out of memory)"


class _Stop(Exception):
    """The notebook stops at this cell, for `status`. ran: the cell keeps what it output (else it
    is marked as not run, like the cells after it)."""

    def __init__(self, status: str, ran: bool = True):
        super().__init__(status)
        self.status, self.ran = status, ran


def _stop_at(cell, status: str) -> _Stop:
    _not_run(cell, status)
    return _Stop(status)


class _NotebookRun:
    """One notebook in one kernel (and checker, with a plan); see run_notebook."""

    def __init__(self, nb, scratch: Path, limits: Limits, use_sandbox: bool, plan: dict | None, cnnkit_copy: str):
        self.nb, self.scratch, self.limits, self.plan = nb, scratch, limits, plan
        self.kdir = Path(tempfile.mkdtemp(prefix=".ag-kernel-"))
        env = kernel_env()
        cg = sandbox.facts()["cgroup"] if use_sandbox else None
        self.km = SandboxedKernelManager(kernel_name="python3", transport="ipc",
                                         ip=(sandbox.IPC_DIR + "/k") if use_sandbox else str(self.kdir / "k"),
                                         scratch=str(scratch), kdir=str(self.kdir), limits=limits,
                                         cgroup=os.path.join(cg, f"ag-{uuid.uuid4().hex}") if cg else "",
                                         use_sandbox=use_sandbox, cnnkit_copy=cnnkit_copy, kernel_env=env)
        self.km.connection_file = str(self.kdir / "connection.json")
        # the checker's channel to the kernel: one end each, given to each process as it starts
        self.kernel_end, self.checker_end = socket.socketpair() if plan is not None else (None, None)
        if self.kernel_end is not None:
            self.km.channel_fd = self.kernel_end.fileno()
        self.clock = _Clock(limits)
        self.client = LimitedNotebookClient(
            nb, km=self.km, timeout=limits.cell_timeout, allow_errors=True, record_timing=False,
            interrupt_on_timeout=False, resources={"metadata": {"path": str(scratch)}},
            max_cell_output_bytes=limits.max_cell_output_bytes, max_outputs=limits.max_outputs,
            max_notebook_output_bytes=limits.max_notebook_output_bytes)
        self.checker = Checker(use_sandbox, limits, env, tuple(plan.get("imports", ()))) if plan is not None else None
        self.code_cells = [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
        self.done = 0  # code cells that ran, or stopped the notebook with their outputs kept
        self.started = False

    async def run(self) -> str:
        status = "ok"
        try:
            if self.checker is not None:
                await self.checker.start(self.checker_end)
                self.checker_end.close()
                await self.checker.send({"op": "solutions", "defs": self.plan.get("solutions", {})})
            async with self.client.async_setup_kernel(cwd=str(self.scratch), stdout=subprocess.DEVNULL,
                                                      stderr=subprocess.DEVNULL):
                self.started = True
                if self.kernel_end is not None:
                    self.kernel_end.close()  # the kernel has it: its end closes when the kernel's process ends
                self.clock.kernel_started(getattr(getattr(self.km.provisioner, "process", None), "pid", None))
                self.client.timeout = int(self.clock.cell_wall)
                status = await self._cells()
        except GraderFault:
            raise
        except DeadKernelError as exc:
            if not self.started:
                raise GraderFault(f"the kernel did not start: {exc}") from exc
            status = self.client.stop_reason or _KERNEL_DIED
        except Exception as exc:  # noqa: BLE001 - not the submission's doing: it is not graded
            where = "the kernel did not start" if not self.started else "grading failed"
            raise GraderFault(f"{where}: {type(exc).__name__}: {exc}") from exc
        finally:
            await self._stop()
        for _, cell in self.code_cells[self.done:]:
            if not cell.get("outputs") or status != "ok":
                _not_run(cell, status)
        return status

    async def _cells(self) -> str:
        status = "ok"
        for n, (index, cell) in enumerate(self.code_cells):
            self.done = n
            try:
                status = await self._cell(index, cell) or status
            except _Stop as stop:
                self.done += stop.ran
                return stop.status
        self.done = len(self.code_cells)
        return status

    async def _cell(self, index: int, cell) -> str | None:
        """Run one code cell where it belongs. Returns a status that does not stop the notebook
        (a MemoryError the student's code caught), or None; raises _Stop."""
        left = self.clock.deadline - time.monotonic()
        if left <= 0:
            raise _Stop(self.clock.notebook_timeout(), ran=False)
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if self.plan is not None and gid in self.plan["tests"]:
            await self._test_cell(index, cell, gid, left)
            return None
        setup = self.plan["setup"].get(gid) if self.plan is not None else None
        if setup is not None:
            cell.source = setup
        await self._student_cell(index, cell, left)
        if setup is not None:  # the trusted setup runs in the checker too
            await _check_cell(self.client, self.km, self.checker, nbformat.v4.new_code_cell(), index, gid, setup,
                              None, self.clock.cell_wall, self.limits.max_output_bytes)
        if any(o.get("ename") == "MemoryError" for o in cell.get("outputs", [])):
            return "a cell ran out of memory (limit reached)"
        return None

    async def _test_cell(self, index: int, cell, gid: str, left: float) -> None:
        try:
            await _watched(self.clock, self.client, _check_cell(
                self.client, self.km, self.checker, cell, index, gid, self.plan["tests"][gid], self.plan["names"][gid],
                min(left, self.clock.cell_wall), self.limits.max_output_bytes))
        except _CheckerTimeout as exc:
            cell.outputs = [nbformat.from_dict(o) for o in exc.outputs]
            raise _Stop(self.clock.cell_timeout()) from None
        if self.client.stop_reason:  # the kernel was stopped while the test called into it
            raise _Stop(self.client.stop_reason)

    async def _student_cell(self, index: int, cell, left: float) -> None:
        client, clock = self.client, self.clock
        try:
            await asyncio.wait_for(_watched(clock, client, client.async_execute_cell(cell, index)), timeout=left)
        except CellTimeoutError:  # before asyncio.TimeoutError: since Python 3.11 it is one
            raise _stop_at(cell, clock.cell_timeout()) from None
        except asyncio.TimeoutError:
            raise _stop_at(cell, clock.notebook_timeout()) from None
        except CellExecutionError:
            pass  # the error is in the cell's outputs; grading goes on
        except DeadKernelError:
            status = client.stop_reason or _KERNEL_DIED
            if not client.stop_reason and time.monotonic() >= clock.deadline - 1.0 and await self.km.is_alive():
                status = clock.notebook_timeout()  # nbclient turns the cancellation by wait_for into DeadKernelError
            raise _stop_at(cell, status) from None
        _cap_outputs(cell, self.limits.max_output_bytes)
        if any(o.get("ename") == "CellTimeoutError" for o in cell.get("outputs", [])):
            raise _Stop(clock.cell_timeout())
        if client.stop_reason:  # stopped while its output streamed in, or by its CPU time
            raise _Stop(client.stop_reason)

    async def _stop(self) -> None:
        # nbclient leaves running the client of a kernel manager it was given: its watch and its
        # heartbeat thread stop here, before the kernel does (a heartbeat that missed its kernel
        # remakes its socket, and the old one, closed with a ping pending, held the zmq context's
        # end a second)
        await self.client.stop_watching()
        if getattr(self.client, "kc", None) is not None:
            self.client.kc.stop_channels()
        if await self.km.is_alive():
            await self.km.shutdown_kernel(now=True)
        self.km.release()
        if self.checker is not None:
            await self.checker.close()
        for end in (self.kernel_end, self.checker_end):
            if end is not None:
                end.close()
        shutil.rmtree(self.kdir, ignore_errors=True)


async def run_notebook(nb, scratch: Path, limits: Limits, use_sandbox: bool, plan: dict | None = None,
                       cnnkit_copy: str = "") -> str:
    """Execute nb in place; returns 'ok' or why it stopped early (later cells then hold NotRun).
    Raises GraderFault when the grader fails (the checker or the kernel cannot start, the checker
    stops): then nothing of the run counts. limits: the submission's (autograder.limits.Limits).

    With a plan, test cells run in the checker and locked cells in both; see the module docstring."""
    return await _NotebookRun(nb, scratch, limits, use_sandbox, plan, cnnkit_copy).run()
