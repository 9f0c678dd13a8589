"""Limits on one submission's run, enforced while it runs, and where each limit comes from.

- Where a limit comes from: the defaults (`Limits()`), then the assignment's block in course.toml
  (`[assignments.A4.limits]`, read by `limits_from_table` into `course.Assignment.limits`: A1-A3
  cells get about a minute, A4's training cells ten), then what the instructor passed on the
  command line (`Limits.of(overrides, base=assignment.limits)`).
- `LimitedNotebookClient`: counts the bytes of every output message as it arrives, per cell and per
  notebook (stream text, rich data of any type, dict-valued `application/json` included, error
  names, messages and tracebacks, the number of outputs), and stops the kernel at once, with a
  reason, when a cap is passed. The transport itself refuses any single message over a hard size
  (ZMQ_MAXMSGSIZE), so one `print` of a gigabyte never reaches the grader's memory: the kernel is
  stopped when its connection is dropped for that.
- `notebook_too_big(path)`: a submitted notebook over the size or cell-count limit is refused
  before nbgrader parses it (100,000 cells would cost a minute of the main process).
- Time: `cell_timeout` and `notebook_timeout` are seconds of **CPU time** of the kernel and every
  process it started (`CpuClock`, read from /proc), so how much an honest cell may compute does
  not depend on what else the machine runs. The kernel computes with one thread, so its CPU time
  is its work. Wall-clock time is only a backstop, `WALL_FACTOR` times the limit: a cell that
  meets it (a busy machine, or code that sleeps or waits) stops with a reason that says so, and
  `autograder.batch` grades that submission again alone before charging it. Where /proc cannot
  tell a process's CPU time, the limits are wall-clock seconds, and grading says so.
"""
from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import signal
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import zmq
import zmq.asyncio
from jupyter_core.utils import ensure_async
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionComplete
from nbformat.v4 import new_output
from traitlets import Integer


@dataclass(frozen=True)
class Limits:
    """Every limit one submission is graded under: one value, made by `Limits.of` (the defaults,
    then overrides) or `limits_from_table` (a course.toml block), and passed as it is to the workers, the kernel and the
    checker."""
    cell_timeout: int = 600            # seconds per cell
    notebook_timeout: int = 1800       # seconds per notebook
    memory_bytes: int = 6 * 1024**3    # per process (RLIMIT_AS); the whole kernel where a cgroup exists
    max_processes: int = 256           # processes and threads of one kernel
    disk_bytes: int = 512 * 1024**2    # each of the kernel's /tmp and scratch tmpfs
    max_output_bytes: int = 100_000    # text of one output kept after its cell ends (longer is cut)
    max_cell_output_bytes: int = 2_000_000       # output bytes of one cell: over it the kernel is stopped
    max_notebook_output_bytes: int = 10_000_000  # output bytes of one notebook: likewise
    max_outputs: int = 500             # displays, results and errors of one cell (stream text counts by bytes)
    max_cells: int = 2_000             # cells of a submitted notebook
    max_notebook_bytes: int = 20 * 1024**2       # size of a submitted notebook file

    @classmethod
    def of(cls, overrides: Mapping | None = None, base: Limits | None = None) -> Limits:
        """base (default: the defaults) with overrides {name: value}; None values are skipped, an
        unknown name is a ValueError that lists the known ones."""
        given = {k: v for k, v in (overrides or {}).items() if v is not None}
        unknown = sorted(set(given) - set(DEFAULTS))
        if unknown:
            raise ValueError(f"unknown limit(s) {', '.join(unknown)}; expected some of {', '.join(DEFAULTS)}")
        return dataclasses.replace(base or cls(), **given)

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


DEFAULTS = dataclasses.asdict(Limits())  # {name: default}, for messages and the command line's help
CUT = "[output cut by the autograder]"
WALL_FACTOR = 4  # the wall-clock backstop of a cell or notebook, as a multiple of its CPU-time limit
BACKSTOP = "wall-clock backstop"  # in a status: the submission met the backstop, not a limit


def limits_from_table(table: Mapping, where: str = "limits") -> Limits:
    """The defaults with a course.toml table of limits ({name: positive whole number}); a
    ValueError that names `where` for an unknown name or a bad value."""
    if not isinstance(table, Mapping):
        raise ValueError(f"{where} must be a table of limits such as cell_timeout = 60")
    unknown = sorted(set(table) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"{where}: unknown limit(s) {', '.join(unknown)}; expected some of {', '.join(DEFAULTS)}")
    bad = sorted(k for k, v in table.items() if not isinstance(v, int) or isinstance(v, bool) or v <= 0)
    if bad:
        raise ValueError(f"{where}: {', '.join(bad)} must be positive whole numbers")
    return Limits.of(table)


def notebook_too_big(path: Path, limits: Limits) -> str | None:
    """Why a submitted notebook is refused before any expensive step, or None."""
    size = Path(path).stat().st_size
    if size > limits.max_notebook_bytes:
        return f"{path.name} is {size:,} bytes; the limit is {limits.max_notebook_bytes:,} (scored 0)"
    try:
        cells = json.loads(Path(path).read_bytes()).get("cells")
    except (ValueError, AttributeError, UnicodeDecodeError):
        return None  # not JSON: the notebook check that follows names the problem
    if isinstance(cells, list) and len(cells) > limits.max_cells:
        return f"{path.name} has {len(cells):,} cells; the limit is {limits.max_cells:,} (scored 0)"
    return None


class CpuClock:
    """CPU seconds (user and system, finished children included) used so far by the process `root`
    and every process below it, read from /proc. `seconds()` is None where /proc cannot tell
    (not Linux, or root is gone)."""

    def __init__(self, root: int):
        self.root = root
        self._tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

    def seconds(self) -> float | None:
        parents: dict[int, int] = {}
        ticks: dict[int, int] = {}
        try:
            entries = os.listdir("/proc")
        except OSError:
            return None
        for d in entries:
            if not d.isdigit():
                continue
            try:
                with open(f"/proc/{d}/stat", "rb") as f:
                    data = f.read()
            except OSError:
                continue
            fields = data[data.rfind(b")") + 2:].split()  # after "pid (comm) ": state, ppid, ...
            if len(fields) < 15:
                continue
            pid = int(d)
            parents[pid] = int(fields[1])
            ticks[pid] = sum(int(x) for x in fields[11:15])  # utime, stime, cutime, cstime
        if self.root not in ticks:
            return None
        children: dict[int, list[int]] = {}
        for pid, parent in parents.items():
            children.setdefault(parent, []).append(pid)
        total, stack = 0, [self.root]
        while stack:
            pid = stack.pop()
            total += ticks.get(pid, 0)
            stack += children.get(pid, [])
        return total / self._tick


def cpu_limit_reason(scope: str, limit: float) -> str:
    """The status of a cell or notebook stopped by its CPU-time limit (scope: 'cell', 'notebook')."""
    return f"a {scope} ran past the {scope} time limit of {limit:g} s (CPU time of your kernel); the kernel was stopped"


def backstop_reason(scope: str, wall: float, cpu: float | None) -> str:
    """The status of a cell or notebook stopped by the wall-clock backstop, not by its limit."""
    used = f" after {cpu:.0f} s of CPU time" if cpu is not None else ""
    return (f"a {scope} ran past the {BACKSTOP} of {wall:g} s{used}: it was waiting, sleeping, or the "
            "grading machine was too busy")


def message_cap(limits: Limits) -> int:
    """The largest single message part the grader accepts from a kernel (bytes on the wire): twice
    a cell's output limit (a larger one would pass that limit anyway). The checker's answers do not
    come this way (they have their own channel, autograder.wire)."""
    return 2 * limits.max_cell_output_bytes + 1_000_000


_WORKER_CAP: list[int] = []  # the address-space limit this worker process set itself, once


def cap_worker_memory(headroom: int) -> int | None:
    """Limit this grading worker's address space to its size now plus headroom (a soft
    RLIMIT_AS, set once per process; kernels and checkers set their own, the hard limit is left
    as it is). A message part is capped (message_cap), but one message may have any number of
    parts, and the transport takes it in whole before the grader sees it: a kernel that sends one
    with a thousand parts makes the worker fail to allocate and die, which charges that
    submission (autograder.pool), instead of taking the grading machine's memory. Returns the
    limit, or None where it cannot be read or set (not Linux)."""
    if _WORKER_CAP:
        return _WORKER_CAP[0]
    try:
        import resource

        size = next(int(line.split()[1]) * 1024 for line in Path("/proc/self/status").read_text().splitlines()
                    if line.startswith("VmSize:"))
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        cap = size + int(headroom)
        if hard != resource.RLIM_INFINITY:
            cap = min(cap, hard)
        if soft == resource.RLIM_INFINITY or soft > cap:
            resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    except (OSError, ValueError, StopIteration, ImportError):
        return None
    _WORKER_CAP.append(cap)
    return cap


SEND_TIMEOUT_MS = 10_000


def limited_context(limits: Limits) -> zmq.asyncio.Context:
    """A zmq context whose sockets drop any message over message_cap and never reconnect (a
    kernel cannot point a reconnection at another socket of the host)."""
    ctx = zmq.asyncio.Context()
    ctx.setsockopt(zmq.MAXMSGSIZE, message_cap(limits))
    ctx.setsockopt(zmq.RECONNECT_IVL, -1)
    # a kernel that died leaves no peer, and with reconnection off a send would then wait forever
    # (blocking the event loop, so no time limit fires): give up after SEND_TIMEOUT_MS instead
    ctx.setsockopt(zmq.SNDTIMEO, SEND_TIMEOUT_MS)
    return ctx


def _size(value) -> int:
    if isinstance(value, str):
        return len(value.encode("utf-8", "replace"))
    return len(json.dumps(value, default=str).encode())


def _buffers(msg: dict) -> int:
    return sum(memoryview(b).nbytes for b in msg.get("buffers") or [])


def output_size(msg: dict, source: str | None = None) -> int:
    """Bytes a message from the kernel counts against the output budgets. Every type counts: the
    outputs by what they add to the notebook (stream text, rich data and its metadata, display
    ids, error names, messages and tracebacks), every other message (widget and comm messages,
    clear_output, status...) by its whole content and binary buffers. Only the kernel's echo of
    the cell it was sent (execute_input with source) is free."""
    content = msg.get("content") or {}
    kind = msg.get("msg_type", "")
    if kind == "stream":
        size = _size(content.get("text", ""))
    elif kind in ("display_data", "execute_result", "update_display_data"):
        size = (sum(_size(v) for v in (content.get("data") or {}).values()) + _size(content.get("metadata") or {})
                + (_size(content["transient"]) if content.get("transient") else 0))
    elif kind == "error":
        size = _size(content.get("ename", "")) + _size(content.get("evalue", "")) + _size(content.get("traceback", []))
    elif kind == "execute_input" and source is not None and content.get("code") == source:
        size = 0
    else:
        size = _size(content)
    return size + _buffers(msg)


OUTPUT_TYPES = ("display_data", "execute_result", "update_display_data", "error")  # what max_outputs counts


def outputs_size(outputs: list[dict]) -> int:
    """Bytes of a list of nbformat outputs (the checker's outputs of a test cell), counted as the
    kernel's messages that make them."""
    total = 0
    for out in outputs:
        kind = out.get("output_type", "")
        if kind == "stream":
            total += _size(out.get("text", ""))
        elif kind == "error":
            total += _size(out.get("ename", "")) + _size(out.get("evalue", "")) + _size(out.get("traceback", []))
        else:
            total += _size(out)
    return total


class LimitedNotebookClient(NotebookClient):
    """NotebookClient that stops the kernel as soon as a cell's or the notebook's output passes its
    cap; `stop_reason` then says why."""

    max_cell_output_bytes = Integer(DEFAULTS["max_cell_output_bytes"])
    max_notebook_output_bytes = Integer(DEFAULTS["max_notebook_output_bytes"])
    max_outputs = Integer(DEFAULTS["max_outputs"])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.stop_reason: str | None = None
        self._cell_bytes: dict[int, int] = {}
        self._cell_items: dict[int, int] = {}
        self._total = 0
        self._watch: asyncio.Task | None = None

    def stop(self, reason: str) -> None:
        """Kill the kernel now (the sandbox dies with its launcher) and remember why."""
        if self.stop_reason is None:
            self.stop_reason = reason
        proc = getattr(getattr(self.km, "provisioner", None), "process", None)
        if proc is not None and proc.poll() is None:
            try:
                os.kill(proc.pid, signal.SIGKILL)
            except OSError:
                pass

    def charge(self, cell, cell_index: int, size: int, items: int = 0, what: str = "") -> None:
        """Count size bytes (and items outputs) against the cell's and the notebook's budgets; past
        one, note it in the cell, stop the kernel and raise CellExecutionComplete."""
        if not size and not items:
            return
        items = self._cell_items[cell_index] = self._cell_items.get(cell_index, 0) + items
        cell_bytes = self._cell_bytes[cell_index] = self._cell_bytes.get(cell_index, 0) + size
        self._total += size
        why = None
        if cell_bytes > self.max_cell_output_bytes:
            why = f"a cell's output{what} passed {self.max_cell_output_bytes:,} bytes"
        elif self._total > self.max_notebook_output_bytes:
            why = f"the notebook's output{what} passed {self.max_notebook_output_bytes:,} bytes"
        elif items > self.max_outputs:
            why = f"a cell made more than {self.max_outputs:,} outputs"
        if why:
            reason = f"output limit: {why}; the kernel was stopped"
            cell.setdefault("outputs", []).append(new_output("stream", name="stderr", text=f"\n{CUT}: {reason}\n"))
            self.stop(reason)
            raise CellExecutionComplete()

    def charge_message(self, msg, cell, cell_index: int) -> None:
        """Charge any message the kernel sent while cell ran (its own or not)."""
        if self.stop_reason is not None:
            raise CellExecutionComplete()  # nothing more is taken from a stopped kernel
        kind = msg.get("msg_type", "")
        self.charge(cell, cell_index, output_size(msg, cell.get("source")), int(kind in OUTPUT_TYPES),
                    "" if kind in OUTPUT_TYPES or kind == "stream" else " (with widget and other messages)")

    def process_message(self, msg, cell, cell_index):
        self.charge_message(msg, cell, cell_index)
        return super().process_message(msg, cell, cell_index)

    def handle_comm_msg(self, outs, msg, cell_index) -> None:
        """Widget and comm messages are counted (process_message) and dropped: the grader keeps no
        widget state and plays no widget front end (nbclient would keep every state it is sent)."""

    async def _async_poll_output_msg(self, parent_msg_id, cell, cell_index) -> None:
        """nbclient's loop over the kernel's messages while a cell runs, except that a message for
        another request (which nbclient drops unread) is charged to the cell too."""
        while True:
            msg = await ensure_async(self.kc.iopub_channel.get_msg(timeout=None))
            try:
                if msg["parent_header"].get("msg_id") == parent_msg_id:
                    self.process_message(msg, cell, cell_index)
                else:
                    self.charge_message(msg, cell, cell_index)
            except CellExecutionComplete:
                return

    async def drain(self, cell, cell_index: int) -> None:
        """While the checker runs a test cell: charge whatever the kernel sends meanwhile (the
        student's code it calls may print, or flood) to that cell, and keep none of it."""
        try:
            while True:
                self.charge_message(await ensure_async(self.kc.iopub_channel.get_msg(timeout=None)), cell, cell_index)
        except CellExecutionComplete:
            return

    def charge_outputs(self, cell, cell_index: int, outputs: list[dict], over: bool = False) -> None:
        """The checker's outputs of a test cell, charged like the kernel's (a test message can
        show a value the student made as large as they like). over: they were too large to read."""
        size = self.max_cell_output_bytes + 1 if over else outputs_size(outputs)
        try:
            self.charge(cell, cell_index, size, sum(o.get("output_type") in OUTPUT_TYPES for o in outputs),
                        " (the test's output)")
        except CellExecutionComplete:
            pass

    async def async_start_new_kernel_client(self):
        kc = await super().async_start_new_kernel_client()
        self._watch = asyncio.ensure_future(self._watch_disconnects(kc))
        return kc

    async def _watch_disconnects(self, kc) -> None:
        """A kernel that sends a message over the transport's cap is disconnected by zmq, and,
        since nothing reconnects, would hang: stop it with the reason instead."""
        monitors, watched = [], []
        try:
            for channel in (kc.iopub_channel, kc.shell_channel):
                monitors.append(channel.socket.get_monitor_socket(zmq.EVENT_DISCONNECTED))
                watched.append(channel.socket)
            poller = zmq.asyncio.Poller()
            for m in monitors:
                poller.register(m, zmq.POLLIN)
            await poller.poll()
            await asyncio.sleep(1.0)  # a kernel that exited also disconnects: give it time to be seen dead
            proc = getattr(self.km.provisioner, "process", None)
            if proc is not None and proc.poll() is None:
                self.stop("output limit: the kernel sent a message over "
                          f"{message_cap(Limits(max_cell_output_bytes=self.max_cell_output_bytes)):,} bytes "
                          "(or one larger in all than the grading worker may hold); the kernel was stopped")
        except (asyncio.CancelledError, zmq.ZMQError, AttributeError):
            pass
        finally:
            for sock in watched:
                if not sock.closed:
                    sock.disable_monitor()
            for m in monitors:
                m.close(linger=0)

    async def stop_watching(self) -> None:
        """End the watch on disconnects and close its monitor sockets (a zmq context with them
        open took about a second to terminate)."""
        if self._watch is not None:
            self._watch.cancel()
            await asyncio.gather(self._watch, return_exceptions=True)
            self._watch = None

    async def _async_cleanup_kernel(self):
        await self.stop_watching()
        await super()._async_cleanup_kernel()
