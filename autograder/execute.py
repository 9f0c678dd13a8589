"""Run one submission's notebooks: the part of grading that executes untrusted code.

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
import uuid
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import nbformat
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
from nbformat.v4 import new_output
from traitlets import Bool, Integer, Unicode

from . import sandbox
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

    @property
    def limits(self) -> dict:
        return {**DEFAULT_LIMITS, **json.loads(self.limits_json)}

    def format_kernel_cmd(self, extra_arguments=None):
        cmd = super().format_kernel_cmd(extra_arguments)
        env = dict(line.split("=", 1) for line in self.kernel_env.splitlines() if "=" in line)
        if self.use_sandbox:
            return sandbox.wrap(cmd, Path(self.kdir), Path(self.scratch), self.limits, env=env,
                                cgroup=self.cgroup or None)
        return sandbox.limit_only(cmd, self.limits["memory_bytes"] or None)

    async def _async_launch_kernel(self, kernel_cmd, **kw):
        self.context = limited_context(self.limits)
        await super()._async_launch_kernel(kernel_cmd, **kw)
        self.ip = await sandbox.wait_for_sockets(self.provisioner.process, self.ip,
                                                 [self.shell_port, self.iopub_port, self.stdin_port,
                                                  self.control_port, self.hb_port], in_sandbox=self.use_sandbox)

    def client(self, **kwargs):
        return super().client(context=limited_context(self.limits), **kwargs)

    def release(self) -> None:
        """Remove this kernel's cgroup once its processes are gone."""
        if self.cgroup:
            sandbox.remove_cgroup(self.cgroup)


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


async def _run_notebook(nb, scratch: Path, limits: dict, use_sandbox: bool, workers: int) -> str:
    """Execute nb in place; returns 'ok' or why it stopped early (later cells then hold NotRun)."""
    kdir = Path(tempfile.mkdtemp(prefix=".ag-kernel-"))
    cg = sandbox.facts()["cgroup"] if use_sandbox else None
    km = SandboxedKernelManager(kernel_name="python3", transport="ipc",
                                ip=(sandbox.IPC_DIR + "/k") if use_sandbox else str(kdir / "k"),
                                scratch=str(scratch), kdir=str(kdir), limits_json=json.dumps(limits),
                                cgroup=os.path.join(cg, f"ag-{uuid.uuid4().hex}") if cg else "",
                                use_sandbox=use_sandbox,
                                kernel_env="\n".join(f"{k}={v}" for k, v in _kernel_env(workers).items()))
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
    try:
        async with client.async_setup_kernel(cwd=str(scratch), stdout=subprocess.DEVNULL,
                                             stderr=subprocess.DEVNULL):
            for done, (index, cell) in enumerate(code_cells):
                left = deadline - time.monotonic()
                if left <= 0:
                    status = f"notebook time limit of {limits['notebook_timeout']} s reached"
                    break
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
            status = asyncio.run(_run_notebook(nb, scratch, limits, use_sandbox, int(job.get("workers", 1))))
            out["notebooks"][name] = nbformat.writes(nb)
            out["status"][name] = status
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    out["seconds"] = time.perf_counter() - t0
    return out
