"""Run one submission's notebooks: the part of grading that executes untrusted code.

A notebook with a checker plan (autograder.testplan, from the instructor's notebook) runs split in
two: its student and locked cells in the sandboxed kernel, its test cells in the checker
(autograder.checker, its own process, sandboxed without network as well) right after the cells
before them, as nbgrader would order them. The test cells' source never reaches the kernel; the
checker reaches the student's code only through autograder.wire, relayed here over the kernel's
stdin channel.

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
import os
import queue
import shutil
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
from traitlets import Bool, Unicode

from . import sandbox, wire
from .limits import DEFAULTS, LimitedNotebookClient, limited_context

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

    @property
    def limits(self) -> dict:
        return {**DEFAULT_LIMITS, **json.loads(self.limits_json)}

    def format_kernel_cmd(self, extra_arguments=None):
        cmd = super().format_kernel_cmd(extra_arguments)
        env = dict(line.split("=", 1) for line in self.kernel_env.splitlines() if "=" in line)
        if self.use_sandbox:
            overlays = [(self.cnnkit_copy, _cnnkit_dir())] if self.cnnkit_copy else None
            return sandbox.wrap(cmd, Path(self.kdir), Path(self.scratch), self.limits, env=env,
                                cgroup=self.cgroup or None, overlays=overlays)
        return sandbox.limit_only(cmd, self.limits["memory_bytes"] or None)

    async def _async_launch_kernel(self, kernel_cmd, **kw):
        self.context = limited_context(self.limits)
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
    """Cut stream text and plain-text results longer than max_bytes (a print of 30 MB on one line
    would otherwise land in the gradebook's notebook and the feedback)."""
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream" and len(out.get("text", "")) > max_bytes:
            out["text"] = out["text"][:max_bytes] + f"\n[output cut at {max_bytes} characters by the autograder]\n"
        data = out.get("data", {})
        for mime, value in list(data.items()):
            if isinstance(value, str) and len(value) > max_bytes:
                data[mime] = value[:max_bytes] + "\n[cut by the autograder]"


def _not_run(cell, reason: str) -> None:
    cell.outputs = [new_output("error", ename="NotRun", evalue=reason,
                               traceback=[f"NotRun: {reason}"])]


def _kernel_env(workers: int) -> dict[str, str]:
    threads = str(max(1, (os.cpu_count() or 1) // max(1, workers)))
    env = {"NBGRADER_EXECUTION": "autograde", "PYTHONHASHSEED": "0", "OMP_NUM_THREADS": threads,
           "MKL_NUM_THREADS": threads, "OPENBLAS_NUM_THREADS": threads}
    for key in ("CNNKIT_DEVICE", "CUDA_VISIBLE_DEVICES", "MPLBACKEND"):
        if key in os.environ:
            env[key] = os.environ[key]
    return env


def _cnnkit_dir() -> str:
    import cnnkit

    return str(Path(cnnkit.__file__).resolve().parent)


_DISABLE = """

# --- added by the autograder for grading: the reference implementations are not available ---
def _autograder_disable(_kept):
    import types as _types

    def _stub(_qual):
        def disabled(*args, **kwargs):
            raise RuntimeError(f"{_qual} is the course library's reference implementation; it is not "
                               "available while your notebook is graded. Write it yourself.")
        disabled.__name__ = _qual.rsplit(".", 1)[-1]
        return disabled

    _g = globals()
    for _n, _o in list(_g.items()):
        if _n in _kept or _n.startswith("_"):
            continue
        if isinstance(_o, _types.FunctionType) and _o.__module__ == __name__:
            _g[_n] = _stub(f"{__name__}.{_n}")
        elif isinstance(_o, type) and _o.__module__ == __name__ and any(
                _b.__name__ == "Module" and _b.__module__.startswith("torch.nn") for _b in _o.__mro__):
            # a model class stays a class (the library's own subclasses still import), its methods raise
            for _m, _f in list(vars(_o).items()):
                if isinstance(_f, (_types.FunctionType, staticmethod, classmethod)):
                    setattr(_o, _m, _stub(f"{__name__}.{_n}.{_m}"))


_autograder_disable(KEPT)
del _autograder_disable
"""


def graded_cnnkit(disable: dict, into: Path) -> Path:
    """A copy of cnnkit whose modules in `disable` ({'cnnkit.layers': [names kept]}) have every
    public function replaced by one that raises. Bound over cnnkit in the grading sandbox, it
    decides "your function must not call the library's version" where the student's code cannot
    interfere: the real code is simply not there."""
    dest = Path(into) / "cnnkit"
    shutil.copytree(_cnnkit_dir(), dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for module, kept in disable.items():
        parts = module.split(".")[1:]
        path = dest.joinpath(*parts).with_suffix(".py")
        paths = [path] if path.exists() else sorted(dest.joinpath(*parts).rglob("*.py"))  # a package: all of it
        for path in paths:
            path.write_text(path.read_text() + _DISABLE.replace("KEPT", repr(set(kept))))
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
_SERVE = ("(lambda _m: (exec({src!r}, _m.__dict__), _m.serve(globals())))"
          "(__import__('types').ModuleType('_grader_wire'))\n")


class _Zygote:
    """This worker process's long-lived checker for one sandbox configuration
    (`checker.py --zygote`): it has imported numpy, torch and cnnkit once and forks a fresh
    checker for each notebook. Each notebook's event loop reads and writes its pipes through
    duplicates of their descriptors, so a loop that ends closes only its own."""

    def __init__(self, use_sandbox: bool, limits: dict, env: dict[str, str]):
        self.dir = Path(tempfile.mkdtemp(prefix="checker-"))
        here = Path(__file__).resolve().parent
        for name in ("checker.py", "wire.py"):
            shutil.copy(here / name, self.dir / name)
        cmd = [sys.executable, str(self.dir / "checker.py"), "--zygote"]
        if use_sandbox:  # the same isolation and limits as the kernel, its own folder read-only
            cmd, popen_env = sandbox.wrap(cmd, self.dir, self.dir, limits, env=env), None
        else:
            cmd, popen_env = sandbox.limit_only(cmd, limits["memory_bytes"] or None), {**os.environ, **env}
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     env=popen_env, cwd=str(self.dir))
        self.ready = self._first_line(timeout=120.0) == {"op": "ready"}

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

    async def start(self):
        self.zygote = _zygote_for(self.use_sandbox, self.limits, self.env)
        if self.zygote is not None:
            self.reader, self.writer, self.read_transport = await self.zygote.streams()
            self.writer.write(b"fork\n")
            await self.writer.drain()
            return
        self.dir = Path(tempfile.mkdtemp(prefix="checker-"))
        here = Path(__file__).resolve().parent
        for name in ("checker.py", "wire.py"):
            shutil.copy(here / name, self.dir / name)
        cmd = [sys.executable, str(self.dir / "checker.py")]
        popen_env = None
        if self.use_sandbox:
            cmd = sandbox.wrap(cmd, self.dir, self.dir, self.limits, env=self.env)
        else:
            cmd = sandbox.limit_only(cmd, self.limits["memory_bytes"] or None)
            popen_env = {**os.environ, **self.env}
        self.proc = await asyncio.create_subprocess_exec(
            *cmd, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=subprocess.DEVNULL, env=popen_env, cwd=str(self.dir), limit=wire.MAX_TEXT + 4096)
        self.reader, self.writer = self.proc.stdout, self.proc.stdin

    async def send(self, msg: dict):
        self.writer.write((json.dumps(msg) + "\n").encode())
        await self.writer.drain()

    async def read(self) -> dict:
        line = await self.reader.readline()
        if not line:
            raise RuntimeError("the checker stopped")
        return json.loads(line)

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


async def _next_prompt(kc, msg_id: str, timeout: float, km=None) -> str | None:
    """The kernel's next input_request prompt for msg_id, or None if the request ended (the
    student's code replaced or stopped the channel), the kernel died or nothing came in time."""
    end = time.monotonic() + timeout
    polls = 0
    while time.monotonic() < end:
        polls += 1
        if km is not None and polls % 10 == 0 and not await km.is_alive():
            return None
        try:
            msg = await kc.get_stdin_msg(timeout=0.2)
            if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "input_request":
                return msg["content"].get("prompt", "")
            continue
        except queue.Empty:
            pass
        try:
            while True:
                reply = await kc.get_shell_msg(timeout=0)
                if reply["parent_header"].get("msg_id") == msg_id:
                    return None
        except queue.Empty:
            pass
    return None


async def _check_cell(client, km, checker: Checker, cell, grade_id: str, source: str, names, timeout: float):
    """Run a trusted cell in the checker; with names, relay its requests to the kernel."""
    kc = client.kc
    serve_id, gone, waiting = None, None, False
    await checker.send({"op": "run", "name": grade_id, "source": source, "names": names})
    end = time.monotonic() + timeout
    try:
        while True:
            left = end - time.monotonic()
            if left <= 0:
                raise asyncio.TimeoutError
            msg = await asyncio.wait_for(checker.read(), timeout=left)
            if msg.get("op") == "done":
                outputs = msg.get("outputs", [])
                break
            if msg.get("op") != "kernel":
                continue
            if names is None:
                gone = "this cell has no access to your code"
            if gone is None and serve_id is None and not await km.is_alive():
                gone = "your kernel is not running (it exited, crashed or was stopped)"
            if gone is None and serve_id is None:
                try:
                    serve_id = kc.execute(_SERVE.format(src=_WIRE_SOURCE), silent=True, store_history=False,
                                          allow_stdin=True)
                except zmq.Again:  # the kernel went away between the check and the send
                    gone = "your kernel is not running (it exited, crashed or was stopped)"
                    await checker.send({"op": "reply", "error": gone})
                    continue
                if await _next_prompt(kc, serve_id, end - time.monotonic(), km) is None:
                    gone = "your kernel did not answer the grader (it stopped, or its code replaced the channel)"
                waiting = gone is None
            if gone is None:
                try:
                    kc.input(str(msg.get("payload", "")))
                except zmq.Again:
                    gone = "your kernel stopped answering the grader"
                    waiting = False
                    await checker.send({"op": "reply", "error": gone})
                    continue
                waiting = False
                answer = await _next_prompt(kc, serve_id, end - time.monotonic(), km)
                if answer is None:
                    gone = "your kernel did not answer the grader in time (or its code left the channel)"
                else:
                    waiting = True
                    await checker.send({"op": "reply", "payload": answer})
                    continue
            await checker.send({"op": "reply", "error": gone})
    except asyncio.TimeoutError:
        outputs = [{"output_type": "error", "ename": "CellTimeoutError",
                    "evalue": f"the test ran past the cell time limit of {timeout:.0f} s",
                    "traceback": [f"CellTimeoutError: the test ran past the cell time limit of {timeout:.0f} s"]}]
        await checker.close()
        raise _CheckerTimeout(outputs)
    finally:
        if serve_id is not None:
            if waiting:
                try:
                    kc.input(wire.encode({"op": "end"}, lambda o: None))
                except zmq.Again:
                    pass
            if not await _finished(kc, serve_id, 10.0):
                await km.interrupt_kernel()
                await _finished(kc, serve_id, 10.0)
    cell.outputs = [nbformat.from_dict(o) for o in outputs]
    cell.execution_count = None


class _CheckerTimeout(Exception):
    def __init__(self, outputs):
        super().__init__("checker timeout")
        self.outputs = outputs


async def _finished(kc, msg_id: str, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            reply = await kc.get_shell_msg(timeout=max(0.01, end - time.monotonic()))
        except queue.Empty:
            return False
        if reply["parent_header"].get("msg_id") == msg_id:
            return True
    return False


_WIRE_SOURCE = Path(__file__).with_name("wire.py").read_text()


async def _run_notebook(nb, scratch: Path, limits: dict, use_sandbox: bool, workers: int, plan: dict | None = None,
                        cnnkit_copy: str = "") -> str:
    """Execute nb in place; returns 'ok' or why it stopped early (later cells then hold NotRun).

    With a plan, test cells run in the checker and locked cells in both; see the module docstring."""
    kdir = Path(tempfile.mkdtemp(prefix=".ag-kernel-"))
    env = _kernel_env(workers)
    cg = sandbox.facts()["cgroup"] if use_sandbox else None
    km = SandboxedKernelManager(kernel_name="python3", transport="ipc",
                                ip=(sandbox.IPC_DIR + "/k") if use_sandbox else str(kdir / "k"),
                                scratch=str(scratch), kdir=str(kdir), limits_json=json.dumps(limits),
                                cgroup=os.path.join(cg, f"ag-{uuid.uuid4().hex}") if cg else "",
                                use_sandbox=use_sandbox, cnnkit_copy=cnnkit_copy,
                                kernel_env="\n".join(f"{k}={v}" for k, v in env.items()))
    km.connection_file = str(kdir / "connection.json")
    client = LimitedNotebookClient(
        nb, km=km, timeout=int(limits["cell_timeout"]), allow_errors=True, record_timing=False,
        interrupt_on_timeout=False, resources={"metadata": {"path": str(scratch)}},
        max_cell_output_bytes=int(limits["max_cell_output_bytes"]), max_outputs=int(limits["max_outputs"]),
        max_notebook_output_bytes=int(limits["max_notebook_output_bytes"]))
    deadline = time.monotonic() + float(limits["notebook_timeout"])
    status = "ok"
    code_cells = [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    done = 0
    checker = None
    if plan is not None:
        checker = Checker(use_sandbox, limits, env)
    try:
        if checker is not None:
            await checker.start()
            await checker.send({"op": "solutions", "defs": plan.get("solutions", {})})
        async with client.async_setup_kernel(cwd=str(scratch), stdout=subprocess.DEVNULL,
                                             stderr=subprocess.DEVNULL):
            for done, (index, cell) in enumerate(code_cells):
                left = deadline - time.monotonic()
                if left <= 0:
                    status = f"notebook time limit of {limits['notebook_timeout']} s reached"
                    break
                gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
                if plan is not None and gid in plan["tests"]:
                    try:
                        await _check_cell(client, km, checker, cell, gid, plan["tests"][gid], plan["names"][gid],
                                          min(left, float(limits["cell_timeout"])))
                    except _CheckerTimeout as exc:
                        cell.outputs = [nbformat.from_dict(o) for o in exc.outputs]
                        status = f"a cell ran past the cell time limit of {limits['cell_timeout']} s"
                        done += 1
                        break
                    continue
                if plan is not None and gid in plan["setup"]:
                    cell.source = plan["setup"][gid]
                try:
                    await asyncio.wait_for(client.async_execute_cell(cell, index), timeout=left)
                except CellTimeoutError:  # before asyncio.TimeoutError: since Python 3.11 it is one
                    status = f"a cell ran past the cell time limit of {limits['cell_timeout']} s"
                    _not_run(cell, status)
                    done += 1
                    break
                except asyncio.TimeoutError:
                    status = f"notebook time limit of {limits['notebook_timeout']} s reached"
                    _not_run(cell, status)
                    done += 1
                    break
                except CellExecutionError:
                    pass  # the error is in the cell's outputs; grading goes on
                except DeadKernelError:
                    status = client.stop_reason or "the kernel died (it exited, crashed or ran out of memory)"
                    if time.monotonic() >= deadline - 1.0 and await km.is_alive():
                        # nbclient turns the cancellation by wait_for into DeadKernelError
                        status = f"notebook time limit of {limits['notebook_timeout']} s reached"
                    _not_run(cell, status)
                    done += 1
                    break
                _cap_outputs(cell, int(limits["max_output_bytes"]))
                if any(o.get("ename") == "CellTimeoutError" for o in cell.get("outputs", [])):
                    status = f"a cell ran past the cell time limit of {limits['cell_timeout']} s"
                    done += 1
                    break
                if client.stop_reason:  # stopped while its output streamed in
                    status = client.stop_reason
                    done += 1
                    break
                if any(o.get("ename") == "MemoryError" for o in cell.get("outputs", [])):
                    status = "a cell ran out of memory (limit reached)"
                if plan is not None and gid in plan["setup"]:  # the trusted setup runs in the checker too
                    shadow = nbformat.v4.new_code_cell()
                    await _check_cell(client, km, checker, shadow, gid, plan["setup"][gid], None,
                                      float(limits["cell_timeout"]))
            else:
                done = len(code_cells)
    except DeadKernelError:
        status = client.stop_reason or "the kernel died (it exited, crashed or ran out of memory)"
    except Exception as exc:  # noqa: BLE001 - anything else still gets a grade and a reason
        status = f"execution failed: {type(exc).__name__}: {exc}"
    finally:
        if await km.is_alive():
            await km.shutdown_kernel(now=True)
        km.release()
        if checker is not None:
            await checker.close()
        shutil.rmtree(kdir, ignore_errors=True)
    for _, cell in code_cells[done:]:
        if not cell.get("outputs") or status != "ok":
            _not_run(cell, status)
    return status


def run_job(job: dict) -> dict:
    """Execute a submission. job: {'student', 'assignment', 'notebooks': {name: json text},
    'files': {relative path: bytes}, 'limits': {...}, 'sandbox': bool, 'workers': int}.
    Returns {'student', 'notebooks': {name: executed json text}, 'status': {name: 'ok' or reason},
    'seconds'}."""
    t0 = time.perf_counter()
    limits = {**DEFAULT_LIMITS, **(job.get("limits") or {})}
    use_sandbox = bool(job.get("sandbox", True))
    if use_sandbox and sandbox.check() is not None:
        raise RuntimeError(f"sandbox unavailable on this worker: {sandbox.check()}")
    out = {"student": job["student"], "notebooks": {}, "status": {}}
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
            status = asyncio.run(_run_notebook(nb, scratch, limits, use_sandbox, int(job.get("workers", 1)),
                                               plan, copy))
            out["notebooks"][name] = nbformat.writes(nb)
            out["status"][name] = status
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    out["seconds"] = time.perf_counter() - t0
    return out
