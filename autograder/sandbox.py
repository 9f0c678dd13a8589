"""Run a student's kernel where it can do no harm: bubblewrap on Linux.

Inside the sandbox the kernel sees the operating system read-only (/usr, /etc, ...), the Python
installation and the course library read-only, a private /tmp, and one scratch folder that holds
only the submission and the files the released assignment ships. It has its own network
namespace (no network at all, not even the grading machine's loopback services), its own process
namespace, and a memory limit (RLIMIT_AS). The course directory, solutions/, the gradebook and
other students' work are simply not there, whatever path the code tries.

Where bubblewrap is missing (macOS, Windows, a Linux without user namespaces), `check()` says
why and grading refuses to run unless the instructor accepts the risk (--unsafe-no-sandbox).
"""
from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cnnkit

SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/etc")


@functools.lru_cache(maxsize=1)
def check() -> str | None:
    """None when the sandbox works here, else the reason it cannot be had."""
    if not sys.platform.startswith("linux"):
        return f"bubblewrap sandboxing needs Linux; this is {sys.platform}"
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return "bubblewrap (bwrap) is not installed: on Debian/Ubuntu `apt-get install bubblewrap`"
    probe = wrap(["/bin/true"], Path("/tmp"), memory_bytes=None, writable=False)
    try:
        res = subprocess.run(probe, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bubblewrap failed to start: {exc}"
    if res.returncode != 0:
        return f"bubblewrap cannot create namespaces here: {res.stderr.strip() or res.returncode}"
    return None


def readonly_paths() -> list[str]:
    """What the kernel may read: the system, the Python installation, the course library."""
    paths = [p for p in SYSTEM_DIRS if os.path.isdir(p) and not os.path.islink(p)]
    paths += [sys.base_prefix, sys.prefix, str(Path(cnnkit.__file__).resolve().parent)]
    out: list[str] = []
    for p in paths:
        real = os.path.realpath(p)
        if real not in out and os.path.exists(real):
            out.append(real)
    return out


def wrap(cmd: list[str], scratch: Path, memory_bytes: int | None, writable: bool = True,
         env: dict[str, str] | None = None, overlays: list[tuple[str, str]] | None = None) -> list[str]:
    """The bwrap command line that runs cmd inside the sandbox, in the scratch folder.

    overlays: (source, target) folders bound read-only over a path the sandbox already shows, e.g.
    the grading copy of cnnkit whose reference functions raise (autograder.execute)."""
    scratch = str(Path(scratch).resolve())
    args = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session",
            "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    for p in SYSTEM_DIRS:  # merged-/usr systems keep /bin, /lib... as symlinks into /usr
        if os.path.islink(p):
            args += ["--symlink", os.readlink(p), p]
    for p in readonly_paths():
        args += ["--ro-bind", p, p]
    for src, dest in overlays or []:
        args += ["--ro-bind", str(src), str(dest)]
    args += ["--bind" if writable else "--ro-bind", scratch, scratch, "--remount-ro", "/",
             "--chdir", scratch, "--clearenv"]
    base_env = {"HOME": scratch, "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
                "MPLCONFIGDIR": "/tmp/matplotlib", "LANG": "C.UTF-8"}
    for k, v in {**base_env, **(env or {})}.items():
        args += ["--setenv", k, v]
    if memory_bytes:
        limit = ("import os, resource, sys; "
                 f"resource.setrlimit(resource.RLIMIT_AS, ({int(memory_bytes)}, {int(memory_bytes)})); "
                 "os.execv(sys.argv[1], sys.argv[1:])")
        cmd = [sys.executable, "-c", limit] + list(cmd)
    return args + ["--"] + list(cmd)


def limit_only(cmd: list[str], memory_bytes: int | None) -> list[str]:
    """Without a sandbox (the instructor accepted the risk): only the memory limit."""
    if not memory_bytes:
        return list(cmd)
    limit = ("import os, resource, sys; "
             f"resource.setrlimit(resource.RLIMIT_AS, ({int(memory_bytes)}, {int(memory_bytes)})); "
             "os.execv(sys.argv[1], sys.argv[1:])")
    return [sys.executable, "-c", limit] + list(cmd)
