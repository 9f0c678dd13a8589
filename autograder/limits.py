"""Limits on one submission's run, enforced while it runs, and where each limit comes from.

- `assignment_limits(a)`: the defaults, then `solutions/<a>/autograder.toml` (the assignment's own
  configuration: A1-A3 cells get about a minute, A4's training cells ten), then what the instructor
  passed on the command line.
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
import json
import os
import signal
import tomllib
from pathlib import Path

import zmq
import zmq.asyncio
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionComplete
from nbformat.v4 import new_output
from traitlets import Integer

DEFAULTS = {
    "cell_timeout": 600,            # seconds per cell
    "notebook_timeout": 1800,       # seconds per notebook
    "memory_bytes": 6 * 1024**3,    # per process (RLIMIT_AS); the whole kernel where a cgroup exists
    "max_processes": 256,           # processes and threads of one kernel
    "disk_bytes": 512 * 1024**2,    # each of the kernel's /tmp and scratch tmpfs
    "max_output_bytes": 100_000,    # text of one output kept after its cell ends (longer is cut)
    "max_cell_output_bytes": 2_000_000,      # output bytes of one cell: over it the kernel is stopped
    "max_notebook_output_bytes": 10_000_000,  # output bytes of one notebook: likewise
    "max_outputs": 500,             # displays, results and errors of one cell (stream text counts by bytes)
    "max_cells": 2_000,             # cells of a submitted notebook
    "max_notebook_bytes": 20 * 1024**2,      # size of a submitted notebook file
}
CONFIG_FILE = "autograder.toml"
CUT = "[output cut by the autograder]"
WALL_FACTOR = 4  # the wall-clock backstop of a cell or notebook, as a multiple of its CPU-time limit
BACKSTOP = "wall-clock backstop"  # in a status: the submission met the backstop, not a limit


def assignment_limits(assignment_dir: Path, overrides: dict | None = None) -> dict:
    """DEFAULTS, then the assignment's autograder.toml, then overrides (None values skipped)."""
    limits = dict(DEFAULTS)
    path = Path(assignment_dir) / CONFIG_FILE
    if path.exists():
        try:
            conf = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"{path} is not valid TOML: {exc}") from exc
        unknown = sorted(set(conf) - set(DEFAULTS))
        if unknown:
            raise ValueError(f"{path}: unknown limit(s) {', '.join(unknown)}; expected some of {', '.join(DEFAULTS)}")
        bad = sorted(k for k, v in conf.items() if not isinstance(v, int) or isinstance(v, bool) or v <= 0)
        if bad:
            raise ValueError(f"{path}: {', '.join(bad)} must be positive whole numbers")
        limits.update(conf)
    limits.update({k: v for k, v in (overrides or {}).items() if v is not None})
    return limits


def notebook_too_big(path: Path, limits: dict) -> str | None:
    """Why a submitted notebook is refused before any expensive step, or None."""
    size = Path(path).stat().st_size
    if size > limits["max_notebook_bytes"]:
        return f"{path.name} is {size:,} bytes; the limit is {limits['max_notebook_bytes']:,} (scored 0)"
    try:
        cells = json.loads(Path(path).read_bytes()).get("cells")
    except (ValueError, AttributeError, UnicodeDecodeError):
        return None  # not JSON: the notebook check that follows names the problem
    if isinstance(cells, list) and len(cells) > limits["max_cells"]:
        return f"{path.name} has {len(cells):,} cells; the limit is {limits['max_cells']:,} (scored 0)"
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


def message_cap(limits: dict) -> int:
    """The largest single message the grader accepts from a kernel (bytes on the wire): twice a
    cell's output limit, but never less than the largest answer the checker's channel may carry
    (autograder.wire.MAX_TEXT, e.g. AlexNet's 363 x 3025 im2col matrix), since the answers come
    over the same transport."""
    from .wire import MAX_TEXT

    return max(2 * int(limits["max_cell_output_bytes"]), MAX_TEXT) + 1_000_000


SEND_TIMEOUT_MS = 10_000


def limited_context(limits: dict) -> zmq.asyncio.Context:
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


def output_size(msg: dict) -> int:
    """Bytes an output message adds to a notebook."""
    content = msg.get("content", {})
    kind = msg.get("msg_type", "")
    if kind == "stream":
        return _size(content.get("text", ""))
    if kind in ("display_data", "execute_result", "update_display_data"):
        return sum(_size(v) for v in (content.get("data") or {}).values()) + _size(content.get("metadata") or {})
    if kind == "error":
        return _size(content.get("ename", "")) + _size(content.get("evalue", "")) + _size(content.get("traceback", []))
    return 0


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

    def process_message(self, msg, cell, cell_index):
        if self.stop_reason is not None:
            raise CellExecutionComplete()  # nothing more is taken from a stopped kernel
        size = output_size(msg)
        if size:
            items = self._cell_items.get(cell_index, 0) + (msg.get("msg_type") != "stream")
            cell_bytes = self._cell_bytes.get(cell_index, 0) + size
            self._cell_items[cell_index], self._cell_bytes[cell_index] = items, cell_bytes
            self._total += size
            why = None
            if cell_bytes > self.max_cell_output_bytes:
                why = f"a cell's output passed {self.max_cell_output_bytes:,} bytes"
            elif self._total > self.max_notebook_output_bytes:
                why = f"the notebook's output passed {self.max_notebook_output_bytes:,} bytes"
            elif items > self.max_outputs:
                why = f"a cell made more than {self.max_outputs:,} outputs"
            if why:
                reason = f"output limit: {why}; the kernel was stopped"
                cell.setdefault("outputs", []).append(
                    new_output("stream", name="stderr", text=f"\n{CUT}: {reason}\n"))
                self.stop(reason)
                raise CellExecutionComplete()
        return super().process_message(msg, cell, cell_index)

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
                          f"{message_cap({'max_cell_output_bytes': self.max_cell_output_bytes}):,} "
                          "bytes; the kernel was stopped")
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
