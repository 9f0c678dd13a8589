"""The student's kernel: an IPython kernel started inside the sandbox (autograder.sandbox), or only
under a memory limit where grading runs without one, and reached over unix sockets.

`kernel_env()` is the environment a kernel and its checker run with: one thread for every
numerical library, so the kernel's CPU time is its work and floating-point sums run in the same
order on every grading machine.
"""
from __future__ import annotations

import os
from pathlib import Path

import zmq
from jupyter_client.manager import AsyncKernelManager
from traitlets import Bool, Dict, Instance, Int, Unicode

from . import sandbox
from .limits import Limits, limited_context


class SandboxedKernelManager(AsyncKernelManager):
    """Starts the kernel inside bubblewrap (or only under a memory limit when unsafe) and talks
    to it over unix sockets: inside the sandbox they live in its own tmpfs, reached from here
    through /proc/<pid>/root, since the sandbox has no network and no writable host folder."""

    scratch = Unicode("")      # the host folder with the submission's files (read-only inside)
    kdir = Unicode("")         # the host folder with the connection file (read-only inside)
    limits = Instance(Limits, args=())  # the submission's limits (autograder.limits)
    cgroup = Unicode("")       # the cgroup folder this kernel gets, or ''
    use_sandbox = Bool(True)
    kernel_env = Dict()        # the kernel's environment (kernel_env())
    cnnkit_copy = Unicode("")  # the grading copy of cnnkit shown in place of the real one
    channel_fd = Int(-1)       # the kernel's end of the checker's channel, kept open in the kernel

    def format_kernel_cmd(self, extra_arguments=None):
        cmd = super().format_kernel_cmd(extra_arguments)
        if cmd[1:2] == ["-m"]:  # -P: the working folder (the submission's files) is not on sys.path, so no
            cmd = [cmd[0], "-P", *cmd[1:]]  # submitted file (ipykernel_launcher.py...) runs before the kernel
        if self.use_sandbox:
            return sandbox.wrap(cmd, Path(self.kdir), Path(self.scratch), self.limits, env=dict(self.kernel_env),
                                cgroup=self.cgroup or None, library=self.cnnkit_copy or None)
        return sandbox.limit_only(cmd, self.limits.memory_bytes or None)

    async def _async_launch_kernel(self, kernel_cmd, **kw):
        self.context = limited_context(self.limits)
        if not self.use_sandbox:  # the same threads and course library as in the sandbox
            kw["env"] = sandbox.unsafe_env({**(kw.get("env") or {}), **self.kernel_env})
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


def kernel_env() -> dict[str, str]:
    """The environment of a kernel and its checker. One thread for every numerical library, on
    every machine: the kernel's CPU time is then its work (autograder.limits), floating-point sums
    run in the same order whatever the grading machine's core count, and N workers use N cores."""
    env = {"NBGRADER_EXECUTION": "autograde", "PYTHONHASHSEED": "0", "OMP_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE"}
    for key in ("CNNKIT_DEVICE", "CUDA_VISIBLE_DEVICES", "MPLBACKEND"):
        if key in os.environ:
            env[key] = os.environ[key]
    return env
