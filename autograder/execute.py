"""Run one submission's notebooks: the part of grading that executes untrusted code.

A notebook with a checker plan (autograder.testplan, from the instructor's notebook) runs split in
two: its student and locked cells in the sandboxed kernel, its test cells in the checker
(autograder.checker, its own process, sandboxed without network as well) right after the cells
before them, as nbgrader would order them. The test cells' source never reaches the kernel; the
checker reaches the student's code only through autograder.wire, over a socket pair made here for
the notebook (one end given to the kernel, the other to the checker, each when it starts); this
worker starts the kernel's server for each test cell that needs it and watches that it runs.

`run_job(job)` is a plain function of plain data, so a process pool or a Dask worker on another
machine can run it: it needs the notebooks to run (already sanitised by nbgrader, test cells
restored) and the files the submission and the released assignment ship, nothing else. The
notebooks are never written where the student's code can see them: the kernel runs in a scratch
folder that holds only the other files, inside the sandbox (autograder.sandbox), and receives
the cells one at a time.
"""
from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import queue
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import nbformat
import zmq
from jupyter_client.manager import AsyncKernelManager
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
from nbformat.v4 import new_output
from traitlets import Bool, Int, Unicode

from . import sandbox, wire, withhold
from .limits import (DEFAULTS, WALL_FACTOR, CpuClock, LimitedNotebookClient, backstop_reason, cap_worker_memory,
                     cpu_limit_reason, limited_context)

DEFAULT_LIMITS = DEFAULTS


class SandboxedKernelManager(AsyncKernelManager):
    """Starts the kernel inside bubblewrap (or only under a memory limit when unsafe) and talks
    to it over unix sockets: inside the sandbox they live in its own tmpfs, reached from here
    through /proc/<pid>/root, since the sandbox has no network and no writable host folder."""

    scratch = Unicode("")      # the host folder with the submission's files (read-only inside)
    kdir = Unicode("")         # the host folder with the connection file (read-only inside)
    limits_json = Unicode("{}")
    cgroup = Unicode("")       # the cgroup folder this kernel gets, or ''
    use_sandbox = Bool(True)
    kernel_env = Unicode("")  # 'KEY=VALUE\n' lines
    cnnkit_copy = Unicode("")  # the grading copy of cnnkit shown in place of the real one
    channel_fd = Int(-1)       # the kernel's end of the checker's channel, kept open in the kernel

    @property
    def limits(self) -> dict:
        return {**DEFAULT_LIMITS, **json.loads(self.limits_json)}

    def _env(self) -> dict[str, str]:
        return dict(line.split("=", 1) for line in self.kernel_env.splitlines() if "=" in line)

    def format_kernel_cmd(self, extra_arguments=None):
        cmd = super().format_kernel_cmd(extra_arguments)
        if cmd[1:2] == ["-m"]:  # -P: the working folder (the submission's files) is not on sys.path, so no
            cmd = [cmd[0], "-P", *cmd[1:]]  # submitted file (ipykernel_launcher.py...) runs before the kernel
        if self.use_sandbox:
            return sandbox.wrap(cmd, Path(self.kdir), Path(self.scratch), self.limits, env=self._env(),
                                cgroup=self.cgroup or None, library=self.cnnkit_copy or None)
        return sandbox.limit_only(cmd, self.limits["memory_bytes"] or None)

    async def _async_launch_kernel(self, kernel_cmd, **kw):
        self.context = limited_context(self.limits)
        if not self.use_sandbox:  # the same threads and course library as in the sandbox
            kw["env"] = sandbox.unsafe_env({**(kw.get("env") or {}), **self._env()})
        if self.channel_fd >= 0:
            kw["pass_fds"] = (self.channel_fd,)
        await super()._async_launch_kernel(kernel_cmd, **kw)
        self.ip = await sandbox.wait_for_sockets(self.provisioner.process, self.ip,
                                                 [self.shell_port, self.iopub_port, self.stdin_port,
                                                  self.control_port, self.hb_port], in_sandbox=self.use_sandbox)

    def client(self, **kwargs):
        ctx = limited_context(self.limits)
        self._contexts = [*getattr(self, "_contexts", []), ctx]
        return super().client(context=ctx, **kwargs)

    def release(self) -> None:
        """Remove this kernel's cgroup once its processes are gone, and destroy its zmq contexts:
        a context left to the garbage collector keeps its threads and descriptors, and a worker
        that grades a few hundred notebooks ran out of them ("Too many open files")."""
        if self.cgroup:
            sandbox.remove_cgroup(self.cgroup)
        for ctx in [*getattr(self, "_contexts", []), getattr(self, "context", None)]:
            if isinstance(ctx, zmq.Context) and not ctx.closed:
                ctx.destroy(linger=0)
        self._contexts = []


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


def _kernel_env() -> dict[str, str]:
    """The environment of a kernel and its checker. One thread for every numerical library, on
    every machine: the kernel's CPU time is then its work (autograder.limits), floating-point sums
    run in the same order whatever the grading machine's core count, and N workers use N cores."""
    env = {"NBGRADER_EXECUTION": "autograde", "PYTHONHASHSEED": "0", "OMP_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE"}
    for key in ("CNNKIT_DEVICE", "CUDA_VISIBLE_DEVICES", "MPLBACKEND"):
        if key in os.environ:
            env[key] = os.environ[key]
    return env


class GraderFault(Exception):
    """A failure of the grader itself, not of the submission: the checker or the kernel could not
    start, or the checker stopped. The submission is then not graded (autograder.batch), never
    scored 0. The message says what failed, with the end of the checker's standard error."""


class StderrTail:
    """The last `keep` bytes a process wrote to its standard error: a pipe drained by a thread, so
    the process never blocks on it and a flood costs no memory."""

    def __init__(self, keep: int = 4000):
        import threading
        from collections import deque

        self.keep = keep
        self._chunks: deque[bytes] = deque()
        self._size = 0
        self._lock = threading.Lock()
        self.read_fd, self.write_fd = os.pipe()
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        while True:
            try:
                chunk = os.read(self.read_fd, 65536)
            except OSError:
                return
            if not chunk:
                os.close(self.read_fd)
                return
            with self._lock:
                self._chunks.append(chunk)
                self._size += len(chunk)
                while self._size - len(self._chunks[0]) >= self.keep:
                    self._size -= len(self._chunks.popleft())

    def started(self) -> None:
        """The child has its copy of the write end: close ours, so the thread sees the end."""
        if self.write_fd >= 0:
            os.close(self.write_fd)
            self.write_fd = -1

    def text(self) -> str:
        with self._lock:
            data = b"".join(self._chunks)[-self.keep:]
        return data.decode("utf-8", "replace").strip()


def _fault(what: str, tail: StderrTail | None) -> GraderFault:
    err = tail.text() if tail is not None else ""
    return GraderFault(what + (f"; the checker's standard error ends with:\n{err}" if err else
                               "; the checker wrote nothing to its standard error"))


def _cnnkit_dir() -> str:
    return sandbox.library_dir()


def graded_cnnkit(disable: dict, into: Path) -> Path:
    """A copy of cnnkit in which each module of `disable` ({'cnnkit.layers': [names kept]}; a
    package: each of its modules) is generated again without its withheld definitions: each
    becomes a stub that raises (autograder.withhold). Bound over cnnkit in the grading sandbox, it
    decides "your function must not call the library's version" where the student's code cannot
    interfere: the real code is simply not there, as source or as bytecode."""
    dest = Path(into) / "cnnkit"
    shutil.copytree(_cnnkit_dir(), dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo"))
    for module, kept in disable.items():
        parts = module.split(".")[1:]
        path = dest.joinpath(*parts).with_suffix(".py")
        paths = [path] if path.exists() else sorted(dest.joinpath(*parts).rglob("*.py"))  # a package: all of it
        for path in paths:
            rel = path.relative_to(dest.parent).with_suffix("").parts
            name = ".".join(rel[:-1] if rel[-1] == "__init__" else rel)
            path.write_text(withhold.withheld_source(path.read_text(), name, kept).source)
    return dest


_GRADED_COPIES: dict[str, str] = {}  # this process's graded cnnkit copies, by what they disable


def _graded_copy(disable: dict) -> str:
    """The graded cnnkit for `disable`, made once per worker process and compiled, so that each
    submission's kernel imports bytecode instead of compiling cnnkit again (the sandbox binds it
    read-only, so no submission can change it for the next). Removed when the process ends."""
    key = json.dumps(disable, sort_keys=True)
    if key not in _GRADED_COPIES or not Path(_GRADED_COPIES[key]).is_dir():
        import atexit
        import compileall

        into = Path(tempfile.mkdtemp(prefix="cnnkit-"))
        atexit.register(shutil.rmtree, into, True)
        dest = graded_cnnkit(disable, into)
        compileall.compile_dir(str(dest), quiet=1, workers=1)
        _GRADED_COPIES[key] = str(dest)
    return _GRADED_COPIES[key]


# Run in the student's kernel at each test cell: installs autograder.wire as a module (never a
# global of the student's namespace) and answers the checker until it says end.
_SERVE = ("(lambda _m: (exec({src!r}, _m.__dict__), _m.serve(globals(), {fd}, {session!r})))"
          "(__import__('types').ModuleType('_grader_wire'))\n")


class _Zygote:
    """This worker process's long-lived checker for one sandbox configuration
    (`checker.py --zygote`): it has imported numpy, torch and cnnkit once and forks a fresh
    checker for each notebook, sent with the notebook's channel over a unix socket (control).
    Each notebook's event loop reads and writes its pipes through duplicates of their
    descriptors, so a loop that ends closes only its own."""

    def __init__(self, use_sandbox: bool, limits: dict, env: dict[str, str]):
        self.dir = Path(tempfile.mkdtemp(prefix="checker-"))
        here = Path(__file__).resolve().parent
        for name in ("checker.py", "wire.py"):
            shutil.copy(here / name, self.dir / name)
        self.control, theirs = socket.socketpair()
        cmd = [sys.executable, str(self.dir / "checker.py"), "--zygote", str(theirs.fileno())]
        if use_sandbox:  # the same isolation and limits as the kernel, its own folder read-only
            cmd, popen_env = sandbox.wrap(cmd, self.dir, self.dir, limits, env=env), None
        else:
            cmd, popen_env = sandbox.limit_only(cmd, limits["memory_bytes"] or None), sandbox.unsafe_env(env)
        self.stderr = StderrTail()
        try:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=self.stderr.write_fd, env=popen_env, cwd=str(self.dir),
                                         pass_fds=(theirs.fileno(),))
        finally:
            theirs.close()
            self.stderr.started()
        first = self._first_line(timeout=120.0)
        self.ready = isinstance(first, dict) and first.get("op") == "ready"
        self.library = first.get("cnnkit") if self.ready else None

    def fork(self, channel: socket.socket | None) -> None:
        """A new checker for one notebook, with its end of the channel to the kernel."""
        socket.send_fds(self.control, [b"fork\n"], [channel.fileno()] if channel is not None else [])

    def _first_line(self, timeout: float):
        import select

        line, end = b"", time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while not line.endswith(b"\n") and time.monotonic() < end:
            if not select.select([fd], [], [], max(0.0, end - time.monotonic()))[0]:
                break
            chunk = os.read(fd, 1)
            if not chunk:
                break
            line += chunk
        try:
            return json.loads(line)
        except ValueError:
            return None

    def alive(self) -> bool:
        return self.ready and self.proc.poll() is None

    async def streams(self):
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=wire.MAX_TEXT + 4096)
        rt, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader),
                                             os.fdopen(os.dup(self.proc.stdout.fileno()), "rb", buffering=0))
        wt, wp = await loop.connect_write_pipe(asyncio.streams.FlowControlMixin,
                                               os.fdopen(os.dup(self.proc.stdin.fileno()), "wb", buffering=0))
        return reader, asyncio.StreamWriter(wt, wp, reader, loop), rt

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.control.close()
        shutil.rmtree(self.dir, ignore_errors=True)


_ZYGOTES: dict[str, _Zygote] = {}
_NO_ZYGOTE: set[str] = set()  # configurations whose zygote could not start: one checker per notebook


def _zygote_for(use_sandbox: bool, limits: dict, env: dict[str, str]) -> _Zygote | None:
    key = json.dumps([use_sandbox, limits, env], sort_keys=True, default=str)
    if key in _NO_ZYGOTE or os.environ.get("AUTOGRADER_NO_ZYGOTE") == "1":
        return None
    z = _ZYGOTES.get(key)
    if z is not None and not z.alive():
        z.stop()
        z = None
    if z is None:
        import atexit

        z = _Zygote(use_sandbox, limits, env)
        if not z.ready:
            z.stop()
            _NO_ZYGOTE.add(key)
            return None
        _ZYGOTES[key] = z
        atexit.register(z.stop)
    return z


class Checker:
    """The checker for one notebook (autograder.checker), sandboxed without network where the
    kernel is: a fork of this worker's zygote, or, where none can run (AUTOGRADER_NO_ZYGOTE=1,
    or it did not start), a process of its own."""

    def __init__(self, use_sandbox: bool, limits: dict, env: dict[str, str]):
        self.use_sandbox, self.limits, self.env = use_sandbox, limits, env
        self.zygote: _Zygote | None = None
        self.proc = None
        self.dir: Path | None = None
        self.reader = self.writer = self.read_transport = None
        self.closed = False
        self.stderr: StderrTail | None = None

    async def start(self, channel: socket.socket | None = None):
        """channel: the checker's end of the socket pair whose other end the kernel has (None:
        a checker for instructor cells only). The caller closes its copy afterwards."""
        self.zygote = _zygote_for(self.use_sandbox, self.limits, self.env)
        if self.zygote is not None:
            self.stderr = self.zygote.stderr
            meant = sandbox.LIB_DIR + "/cnnkit" if self.use_sandbox else sandbox.library_dir()
            if self.zygote.library != meant:
                got = f"from {self.zygote.library}" if self.zygote.library else "no cnnkit at all"
                self.zygote = None  # nothing of it to close here: the worker keeps it for the next notebook
                raise _fault(f"the checker imported {got}, not the course library the grader means ({meant})",
                             self.stderr)
            self.reader, self.writer, self.read_transport = await self.zygote.streams()
            try:
                self.zygote.fork(channel)
                return
            except OSError:  # the zygote went away since it was checked: a checker of its own
                self.writer.close()
                self.read_transport.close()
                self.zygote.stop()
                self.zygote = None
        self.dir = Path(tempfile.mkdtemp(prefix="checker-"))
        here = Path(__file__).resolve().parent
        for name in ("checker.py", "wire.py"):
            shutil.copy(here / name, self.dir / name)
        cmd = [sys.executable, str(self.dir / "checker.py")]
        if channel is not None:
            cmd += ["--kernel-fd", str(channel.fileno())]
        popen_env = None
        if self.use_sandbox:
            cmd = sandbox.wrap(cmd, self.dir, self.dir, self.limits, env=self.env)
        else:
            cmd = sandbox.limit_only(cmd, self.limits["memory_bytes"] or None)
            popen_env = sandbox.unsafe_env(self.env)
        self.stderr = StderrTail()
        try:
            self.proc = await asyncio.create_subprocess_exec(
                *cmd, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                stderr=self.stderr.write_fd, env=popen_env, cwd=str(self.dir), limit=wire.MAX_TEXT + 4096,
                pass_fds=(channel.fileno(),) if channel is not None else ())
        except OSError as exc:
            raise _fault(f"the checker could not start: {exc}", None) from exc
        finally:
            self.stderr.started()
        self.reader, self.writer = self.proc.stdout, self.proc.stdin

    async def send(self, msg: dict):
        try:
            self.writer.write((json.dumps(msg) + "\n").encode())
            await self.writer.drain()
        except (ConnectionError, OSError) as exc:
            raise _fault(f"the checker stopped ({type(exc).__name__})", self.stderr) from exc

    async def read(self) -> dict:
        try:
            line = await self.reader.readline()
        except ValueError as exc:  # a line over the reader's limit: the outputs of a test (a huge value's repr)
            while "is not found" in str(exc):  # the rest of that line is still to come: skip it to its end
                try:
                    await self.reader.readline()
                    break
                except ValueError as more:
                    exc = more
            return {"op": "done", "outputs": [], "overlong": True}
        except (ConnectionError, OSError) as exc:
            raise _fault(f"the checker's output could not be read ({type(exc).__name__}: {exc})", self.stderr) from exc
        if not line:
            raise _fault("the checker stopped", self.stderr)
        try:
            msg = json.loads(line)
        except ValueError:
            raise _fault(f"the checker wrote a line that is not JSON: {line[:200]!r}", self.stderr) from None
        if not isinstance(msg, dict):
            raise _fault(f"the checker wrote {type(msg).__name__}, not a message", self.stderr)
        return msg

    async def close(self):
        if self.closed:
            return
        self.closed = True
        if self.zygote is not None:
            ended = False
            try:  # the child ends; the zygote says so, and forks the next notebook's checker later
                await self.send({"op": "end"})
                while not ended:
                    ended = (await asyncio.wait_for(self.read(), timeout=5.0)).get("op") == "exited"
            except (Exception, asyncio.TimeoutError):  # noqa: BLE001 - a child that does not end: start afresh
                pass
            self.writer.close()
            self.read_transport.close()
            if not ended:  # a checker still busy (a cell past its time limit) goes with its zygote
                self.zygote.stop()
            return
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)


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


async def _check_cell(client, km, checker: Checker, cell, index: int, grade_id: str, source: str, names,
                      timeout: float, max_output_bytes: int):
    """Run a trusted cell in the checker; with names, start the kernel's server when it asks.
    Whatever the kernel sends meanwhile, and the checker's own outputs, count against the cell's
    and the notebook's output budgets (autograder.limits); the outputs kept are cut like a cell's."""
    kc = client.kc
    serve, told = None, False  # the watch on the kernel's server (once started); the checker told it ended
    await checker.send({"op": "run", "name": grade_id, "source": source, "names": names})
    end = time.monotonic() + timeout
    cell.outputs = []
    stopped = client.stop_reason
    draining = asyncio.ensure_future(client.drain(cell, index))
    reading = asyncio.ensure_future(checker.read())
    try:
        while True:
            left = end - time.monotonic()
            if left <= 0:
                raise asyncio.TimeoutError
            waits = {reading} if serve is None or told else {reading, serve}
            finished, _ = await asyncio.wait(waits, timeout=left, return_when=asyncio.FIRST_COMPLETED)
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
                break
            reading = asyncio.ensure_future(checker.read())
            if msg.get("op") != "kernel":
                continue
            session = str(msg.get("session", ""))
            why = None
            if names is None:
                why = "this cell has no access to your code"
            elif serve is not None:
                why = "the grader asked for your kernel twice in one cell"
            elif not (session.isalnum() and len(session) <= 32):
                why = "a malformed request from the grader"
            elif not await km.is_alive():
                why = _NOT_RUNNING
            else:
                try:
                    serve_id = kc.execute(_SERVE.format(src=_WIRE_SOURCE, fd=km.channel_fd, session=session),
                                          silent=True, store_history=False, allow_stdin=False)
                    serve = asyncio.ensure_future(_watch_serve(kc, km, serve_id))
                except zmq.Again:  # the kernel went away between the check and the send
                    why = _NOT_RUNNING
            await checker.send({"op": "reply", "error": why} if why else {"op": "reply", "open": True})
    except asyncio.TimeoutError:
        outputs = [{"output_type": "error", "ename": "CellTimeoutError",
                    "evalue": f"the test ran past {timeout:.0f} s of wall-clock time",
                    "traceback": [f"CellTimeoutError: the test ran past {timeout:.0f} s of wall-clock time"]}]
        await checker.close()
        raise _CheckerTimeout(outputs)
    finally:
        draining.cancel()
        if not reading.done():
            reading.cancel()
        if serve is not None:  # the server ends when the checker says end (or goes): wait for that
            try:
                await asyncio.wait_for(asyncio.shield(serve), 10.0)
            except asyncio.TimeoutError:
                await km.interrupt_kernel()
                try:
                    await asyncio.wait_for(serve, 10.0)
                except asyncio.TimeoutError:
                    pass
    cut = list(cell.outputs)  # the notice of an output limit the kernel met meanwhile
    outputs = [o for o in outputs if isinstance(o, dict)]
    client.charge_outputs(cell, index, outputs, over=msg.get("overlong", False))
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

    def __init__(self, limits: dict):
        self.cell_limit, self.nb_limit = float(limits["cell_timeout"]), float(limits["notebook_timeout"])
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


async def _run_notebook(nb, scratch: Path, limits: dict, use_sandbox: bool, plan: dict | None = None,
                        cnnkit_copy: str = "") -> str:
    """Execute nb in place; returns 'ok' or why it stopped early (later cells then hold NotRun).
    Raises GraderFault when the grader fails (the checker or the kernel cannot start, the checker
    stops): then nothing of the run counts.

    With a plan, test cells run in the checker and locked cells in both; see the module docstring."""
    kdir = Path(tempfile.mkdtemp(prefix=".ag-kernel-"))
    env = _kernel_env()
    cg = sandbox.facts()["cgroup"] if use_sandbox else None
    km = SandboxedKernelManager(kernel_name="python3", transport="ipc",
                                ip=(sandbox.IPC_DIR + "/k") if use_sandbox else str(kdir / "k"),
                                scratch=str(scratch), kdir=str(kdir), limits_json=json.dumps(limits),
                                cgroup=os.path.join(cg, f"ag-{uuid.uuid4().hex}") if cg else "",
                                use_sandbox=use_sandbox, cnnkit_copy=cnnkit_copy,
                                kernel_env="\n".join(f"{k}={v}" for k, v in env.items()))
    km.connection_file = str(kdir / "connection.json")
    # the checker's channel to the kernel: one end each, given to each process as it starts
    kernel_end, checker_end = socket.socketpair() if plan is not None else (None, None)
    if kernel_end is not None:
        km.channel_fd = kernel_end.fileno()
    clock = _Clock(limits)
    client = LimitedNotebookClient(
        nb, km=km, timeout=int(limits["cell_timeout"]), allow_errors=True, record_timing=False,
        interrupt_on_timeout=False, resources={"metadata": {"path": str(scratch)}},
        max_cell_output_bytes=int(limits["max_cell_output_bytes"]), max_outputs=int(limits["max_outputs"]),
        max_notebook_output_bytes=int(limits["max_notebook_output_bytes"]))
    status = "ok"
    code_cells = [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    done = 0
    started = False
    checker = Checker(use_sandbox, limits, env) if plan is not None else None
    try:
        if checker is not None:
            await checker.start(checker_end)
            checker_end.close()
            await checker.send({"op": "solutions", "defs": plan.get("solutions", {})})
        async with client.async_setup_kernel(cwd=str(scratch), stdout=subprocess.DEVNULL,
                                             stderr=subprocess.DEVNULL):
            started = True
            if kernel_end is not None:
                kernel_end.close()  # the kernel has it: its end closes when the kernel's process ends
            proc = getattr(km.provisioner, "process", None)
            clock.kernel_started(getattr(proc, "pid", None))
            client.timeout = int(clock.cell_wall)
            for done, (index, cell) in enumerate(code_cells):
                left = clock.deadline - time.monotonic()
                if left <= 0:
                    status = clock.notebook_timeout()
                    break
                gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
                if plan is not None and gid in plan["tests"]:
                    try:
                        await _watched(clock, client, _check_cell(
                            client, km, checker, cell, index, gid, plan["tests"][gid], plan["names"][gid],
                            min(left, clock.cell_wall), int(limits["max_output_bytes"])))
                    except _CheckerTimeout as exc:
                        cell.outputs = [nbformat.from_dict(o) for o in exc.outputs]
                        status = clock.cell_timeout()
                        done += 1
                        break
                    if client.stop_reason:  # the kernel was stopped while the test called into it
                        status = client.stop_reason
                        done += 1
                        break
                    continue
                if plan is not None and gid in plan["setup"]:
                    cell.source = plan["setup"][gid]
                try:
                    await asyncio.wait_for(_watched(clock, client, client.async_execute_cell(cell, index)),
                                           timeout=left)
                except CellTimeoutError:  # before asyncio.TimeoutError: since Python 3.11 it is one
                    status = clock.cell_timeout()
                    _not_run(cell, status)
                    done += 1
                    break
                except asyncio.TimeoutError:
                    status = clock.notebook_timeout()
                    _not_run(cell, status)
                    done += 1
                    break
                except CellExecutionError:
                    pass  # the error is in the cell's outputs; grading goes on
                except DeadKernelError:
                    status = client.stop_reason or "the kernel died (it exited, crashed or ran out of memory)"
                    if not client.stop_reason and time.monotonic() >= clock.deadline - 1.0 and await km.is_alive():
                        # nbclient turns the cancellation by wait_for into DeadKernelError
                        status = clock.notebook_timeout()
                    _not_run(cell, status)
                    done += 1
                    break
                _cap_outputs(cell, int(limits["max_output_bytes"]))
                if any(o.get("ename") == "CellTimeoutError" for o in cell.get("outputs", [])):
                    status = clock.cell_timeout()
                    done += 1
                    break
                if client.stop_reason:  # stopped while its output streamed in, or by its CPU time
                    status = client.stop_reason
                    done += 1
                    break
                if any(o.get("ename") == "MemoryError" for o in cell.get("outputs", [])):
                    status = "a cell ran out of memory (limit reached)"
                if plan is not None and gid in plan["setup"]:  # the trusted setup runs in the checker too
                    shadow = nbformat.v4.new_code_cell()
                    await _check_cell(client, km, checker, shadow, index, gid, plan["setup"][gid], None, clock.cell_wall,
                                      int(limits["max_output_bytes"]))
            else:
                done = len(code_cells)
    except GraderFault:
        raise
    except DeadKernelError as exc:
        if not started:
            raise GraderFault(f"the kernel did not start: {exc}") from exc
        status = client.stop_reason or "the kernel died (it exited, crashed or ran out of memory)"
    except Exception as exc:  # noqa: BLE001 - not the submission's doing: it is not graded
        where = "the kernel did not start" if not started else "grading failed"
        raise GraderFault(f"{where}: {type(exc).__name__}: {exc}") from exc
    finally:
        # nbclient leaves running the client of a kernel manager it was given: its watch and its
        # heartbeat thread stop here, before the kernel does (a heartbeat that missed its kernel
        # remakes its socket, and the old one, closed with a ping pending, held the zmq context's
        # end a second)
        await client.stop_watching()
        if getattr(client, "kc", None) is not None:
            client.kc.stop_channels()
        if await km.is_alive():
            await km.shutdown_kernel(now=True)
        km.release()
        if checker is not None:
            await checker.close()
        for end in (kernel_end, checker_end):
            if end is not None:
                end.close()
        shutil.rmtree(kdir, ignore_errors=True)
    for _, cell in code_cells[done:]:
        if not cell.get("outputs") or status != "ok":
            _not_run(cell, status)
    return status


def run_job(job: dict) -> dict:
    """Execute a submission. job: {'student', 'assignment', 'notebooks': {name: json text},
    'files': {relative path: bytes}, 'limits': {...}, 'sandbox': bool, 'library': the grader's
    sandbox.library_hash(), or absent}.
    Returns {'student', 'notebooks': {name: executed json text}, 'status': {name: 'ok' or reason},
    'seconds', 'fault'}: fault is None, or what failed in the grader (GraderFault), in which case
    nothing else of the run counts and the submission is not graded."""
    t0 = time.perf_counter()
    limits = {**DEFAULT_LIMITS, **(job.get("limits") or {})}
    use_sandbox = bool(job.get("sandbox", True))
    out = {"student": job["student"], "notebooks": {}, "status": {}, "fault": None}
    if multiprocessing.parent_process() is not None and limits["memory_bytes"]:
        cap_worker_memory(max(int(limits["memory_bytes"]), 1024**3))  # a worker process of grade's, not a caller's own
    if use_sandbox and sandbox.check() is not None:
        out.update(fault=f"the sandbox is unavailable on this worker: {sandbox.check()}", seconds=0.0)
        return out
    if use_sandbox and sandbox.root_refusal(job.get("allow_unlimited_root")):  # a worker of a cluster, as root
        out.update(fault=f"this worker refuses: {sandbox.root_refusal(job.get('allow_unlimited_root'))}", seconds=0.0)
        return out
    if job.get("library") and job["library"] != sandbox.library_hash():
        out.update(fault=f"this worker's course library ({sandbox.library_dir()}) is not the grader's: their "
                         "source differs; install the same version of the course on every worker", seconds=0.0)
        return out
    for name, text in job["notebooks"].items():
        scratch = Path(tempfile.mkdtemp(prefix=f"grade-{job['student']}-"))
        try:
            for rel, data in job.get("files", {}).items():
                target = (scratch / rel).resolve()
                if scratch.resolve() not in target.parents:
                    continue  # a path that would leave the scratch folder is not written
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
            nb = nbformat.reads(text, as_version=4)
            plan = (job.get("plans") or {}).get(name)
            copy = ""
            if plan is not None and plan.get("disable") and use_sandbox:
                copy = _graded_copy(plan["disable"])
            try:
                status = asyncio.run(_run_notebook(nb, scratch, limits, use_sandbox, plan, copy))
            except GraderFault as exc:
                out.update(fault=f"{name}.ipynb: {exc}", notebooks={}, status={})
                break
            out["notebooks"][name] = nbformat.writes(nb)
            out["status"][name] = status
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    out["seconds"] = time.perf_counter() - t0
    return out
