"""The checker's processes (autograder.checker): where a notebook's test cells run, sandboxed without
network where the kernel is. Each grading worker keeps one long-lived checker per sandbox
configuration and assignment (a zygote: numpy, cnnkit and what the checked cells import, imported
once) and forks a fresh one per notebook;
where no zygote can run, each notebook gets a process of its own.

A failure here is the grader's, not the submission's: GraderFault, with the end of the checker's
standard error. The submission is then not graded (autograder.batch), never scored 0.
"""
from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import sandbox, wire
from .limits import Limits


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


def fault(what: str, tail: StderrTail | None) -> GraderFault:
    err = tail.text() if tail is not None else ""
    return GraderFault(what + (f"; the checker's standard error ends with:\n{err}" if err else
                               "; the checker wrote nothing to its standard error"))


class _Zygote:
    """This worker process's long-lived checker for one sandbox configuration
    and set of modules (`checker.py --zygote FD MODULES`): it has imported numpy, cnnkit and the
    modules the notebook's checked cells import once and forks a fresh checker for each notebook, sent with the notebook's channel over a unix socket (control).
    Each notebook's event loop reads and writes its pipes through duplicates of their
    descriptors, so a loop that ends closes only its own."""

    def __init__(self, use_sandbox: bool, limits: Limits, env: dict[str, str], imports: tuple[str, ...] = ()):
        self.dir = Path(tempfile.mkdtemp(prefix="checker-"))
        here = Path(__file__).resolve().parent
        for name in ("checker.py", "wire.py"):
            shutil.copy(here / name, self.dir / name)
        self.control, theirs = socket.socketpair()
        cmd = [sys.executable, str(self.dir / "checker.py"), "--zygote", str(theirs.fileno()), ",".join(imports)]
        if use_sandbox:  # the same isolation and limits as the kernel, its own folder read-only
            cmd, popen_env = sandbox.wrap(cmd, self.dir, self.dir, limits, env=env), None
        else:
            cmd, popen_env = sandbox.limit_only(cmd, limits.memory_bytes or None), sandbox.unsafe_env(env)
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
        self.library_error = first.get("error") if self.ready else None  # why cnnkit did not import

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


def _zygote_for(use_sandbox: bool, limits: Limits, env: dict[str, str], imports: tuple[str, ...]) -> _Zygote | None:
    key = json.dumps([use_sandbox, limits.as_dict(), env, imports], sort_keys=True)
    if key in _NO_ZYGOTE or os.environ.get("AUTOGRADER_NO_ZYGOTE") == "1":
        return None
    z = _ZYGOTES.get(key)
    if z is not None and not z.alive():
        z.stop()
        z = None
    if z is None:
        import atexit

        z = _Zygote(use_sandbox, limits, env, imports)
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

    def __init__(self, use_sandbox: bool, limits: Limits, env: dict[str, str], imports: tuple[str, ...] = ()):
        self.use_sandbox, self.limits, self.env, self.imports = use_sandbox, limits, env, tuple(imports)
        self.zygote: _Zygote | None = None
        self.proc = None
        self.dir: Path | None = None
        self.reader = self.writer = self.read_transport = None
        self.closed = False
        self.stderr: StderrTail | None = None

    async def start(self, channel: socket.socket | None = None):
        """channel: the checker's end of the socket pair whose other end the kernel has (None:
        a checker for instructor cells only). The caller closes its copy afterwards."""
        self.zygote = _zygote_for(self.use_sandbox, self.limits, self.env, self.imports)
        if self.zygote is not None:
            self.stderr = self.zygote.stderr
            meant = sandbox.LIB_DIR + "/cnnkit" if self.use_sandbox else sandbox.library_dir()
            if self.zygote.library != meant:
                got = f"from {self.zygote.library}" if self.zygote.library else "no cnnkit at all"
                if self.zygote.library_error:
                    got += f" ({self.zygote.library_error})"
                self.zygote = None  # nothing of it to close here: the worker keeps it for the next notebook
                raise fault(f"the checker imported {got}, not the course library the grader means ({meant})",
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
            cmd = sandbox.limit_only(cmd, self.limits.memory_bytes or None)
            popen_env = sandbox.unsafe_env(self.env)
        self.stderr = StderrTail()
        try:
            self.proc = await asyncio.create_subprocess_exec(
                *cmd, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                stderr=self.stderr.write_fd, env=popen_env, cwd=str(self.dir), limit=wire.MAX_TEXT + 4096,
                pass_fds=(channel.fileno(),) if channel is not None else ())
        except OSError as exc:
            raise fault(f"the checker could not start: {exc}", None) from exc
        finally:
            self.stderr.started()
        self.reader, self.writer = self.proc.stdout, self.proc.stdin

    async def send(self, msg: dict):
        try:
            self.writer.write((json.dumps(msg) + "\n").encode())
            await self.writer.drain()
        except (ConnectionError, OSError) as exc:
            raise fault(f"the checker stopped ({type(exc).__name__})", self.stderr) from exc

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
            raise fault(f"the checker's output could not be read ({type(exc).__name__}: {exc})", self.stderr) from exc
        if not line:
            raise fault("the checker stopped", self.stderr)
        try:
            msg = json.loads(line)
        except ValueError:
            raise fault(f"the checker wrote a line that is not JSON: {line[:200]!r}", self.stderr) from None
        if not isinstance(msg, dict):
            raise fault(f"the checker wrote {type(msg).__name__}, not a message", self.stderr)
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
