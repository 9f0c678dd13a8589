"""Run a student's kernel where it can do no harm: bubblewrap on Linux.

What the kernel gets, whoever runs the grader (root included):
- its own user namespace, in which it is uid 65534 with no capabilities at all (`--cap-drop ALL`),
  no way to make further user namespaces (`--disable-userns`), and no new privileges;
- its own mount, process, network, IPC and UTS namespaces: no network at all (not even the grading
  machine's loopback), only its own processes in /proc;
- the system (/usr), the Python installation and the course library read-only; of /etc only what
  the dynamic loader and Python need (no passwd, shadow, ssl keys...), plus a one-line passwd;
- no writable host path at all: /tmp and the scratch folder are tmpfs of a fixed size (`--size`),
  the scratch folder filled with the submission's files by a small stub before the kernel starts;
  the kernel's sockets live in a third tiny tmpfs and the grader reaches them through
  /proc/<pid>/root, so the grader's disk cannot be filled or written;
- an empty environment for the launcher (bwrap is started by `execve` with `{}`), so /proc/1/environ
  inside shows nothing of the grader's; the kernel's own environment is the short list `wrap` sets;
- limits: per process RLIMIT_AS (memory) and RLIMIT_FSIZE; RLIMIT_NPROC (process count, counted in
  the sandbox's own user namespace), which Linux does not apply when the sandbox maps to host root;
  and, where this user may create a cgroup v2 with the memory and pids controllers, memory.max and
  pids.max for the whole kernel (all its processes and its tmpfs together).

`facts()` probes what this machine allows; `unenforced()` states each limit that cannot be had
here, and grading records those statements. `check()` is None when the sandbox works, else why not.
"""
from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cnnkit

from .limits import Limits

SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64")
# What the loader and Python read of /etc. Nothing here holds a secret.
ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "alternatives", "fonts",
             "mime.types", "nsswitch.conf")
SANDBOX_UID = 65534
SCRATCH = "/scratch"          # the kernel's working folder inside (a tmpfs)
INBOX = "/.submission"        # the host staging folder, read-only, copied into SCRATCH at start
IPC_DIR = "/.kernel"          # the kernel's sockets (a tiny tmpfs), reached via /proc/<pid>/root
# The course library the grader means, shown at LIB_DIR/cnnkit and first on the sandbox's
# PYTHONPATH: the kernel and the checker import exactly that copy, wherever (or however) the
# environment installed cnnkit (an editable install of another checkout, a cluster worker).
LIB_DIR = "/.course"
CGROUP_ENV = "AUTOGRADER_CGROUP"  # a delegated cgroup v2 folder to create the kernels' cgroups in

# Runs on the host as the grader, from `python -I -S -c`: joins the kernel's cgroup (when there is
# one), then becomes bwrap with an empty environment.
LAUNCHER = r"""
import json, os, sys
spec = json.loads(sys.argv[1])
cg = spec.get("cgroup")
if cg:
    os.mkdir(cg, 0o755)
    for key, value in spec["cgroup_limits"].items():
        with open(os.path.join(cg, key), "w") as f:
            f.write(str(value))
    with open(os.path.join(cg, "cgroup.procs"), "w") as f:
        f.write(str(os.getpid()))
os.execve(spec["bwrap"], [spec["bwrap"]] + sys.argv[2:], {})
"""

# Runs inside the sandbox before the kernel, from `python -I -S -c`: limits, then the scratch copy.
STUB = r"""
import json, os, resource, shutil, sys
spec = json.loads(sys.argv[1])
for name, value in spec["rlimits"].items():
    resource.setrlimit(getattr(resource, name), (value, value))
if os.path.isdir(spec["inbox"]):
    shutil.copytree(spec["inbox"], spec["scratch"], dirs_exist_ok=True, symlinks=True)
os.chdir(spec["scratch"])
os.execv(sys.argv[2], sys.argv[2:])
"""


def _bwrap() -> str | None:
    return shutil.which("bwrap") or next((p for p in ("/usr/bin/bwrap", "/bin/bwrap") if os.path.exists(p)), None)


def _probe(args: list[str], cmd: list[str]) -> tuple[bool, str]:
    try:
        res = subprocess.run([_bwrap(), *args, "--", *cmd], capture_output=True, text=True, timeout=30, env={})
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, str(exc)
    return res.returncode == 0, (res.stdout + res.stderr).strip()


def _cgroup_parent() -> tuple[str | None, str]:
    """A cgroup v2 folder this process may create children in, with memory and pids delegated;
    (None, why) when there is none."""
    mount = None
    try:
        for line in Path("/proc/self/mounts").read_text().splitlines():
            parts = line.split()
            if len(parts) > 2 and parts[2] == "cgroup2":
                mount = parts[1]
                break
    except OSError:
        pass
    if mount is None:
        return None, "no cgroup v2 hierarchy is mounted"
    candidates = [os.environ[CGROUP_ENV]] if os.environ.get(CGROUP_ENV) else []
    try:
        own = next(ln[3:] for ln in Path("/proc/self/cgroup").read_text().splitlines() if ln.startswith("0::"))
        candidates.append(os.path.join(mount, own.lstrip("/")))
    except (OSError, StopIteration):
        pass
    why = f"the cgroup v2 hierarchy at {mount} has no memory and pids controllers for this user"
    for parent in candidates:
        try:
            enabled = Path(parent, "cgroup.subtree_control").read_text().split()
        except OSError:
            continue
        if {"memory", "pids"} <= set(enabled) and os.access(parent, os.W_OK):
            return parent, ""
        why = (f"{parent} does not delegate the memory and pids controllers to its children "
               f"(cgroup.subtree_control: {' '.join(enabled) or 'empty'}); set {CGROUP_ENV} to a "
               "folder that does (see autograder/README.md)")
    return None, why


@functools.lru_cache(maxsize=1)
def facts() -> dict:
    """What this machine allows, probed once: bubblewrap, its options, cgroup v2, who we are."""
    out = {"platform": sys.platform, "root": os.geteuid() == 0 if hasattr(os, "geteuid") else False,
           "bwrap": _bwrap(), "userns": False, "cap_drop": False, "disable_userns": False,
           "tmpfs_size": False, "nproc_binds": False, "cgroup": None, "cgroup_why": "", "error": ""}
    if not sys.platform.startswith("linux"):
        out["error"] = f"bubblewrap sandboxing needs Linux; this is {sys.platform}"
        return out
    if out["bwrap"] is None:
        out["error"] = "bubblewrap (bwrap) is not installed: on Debian/Ubuntu `apt-get install bubblewrap`"
        return out
    base = ["--unshare-all", "--die-with-parent", "--new-session", "--clearenv"] + _system_binds() + [
        "--proc", "/proc", "--dev", "/dev"]
    ok, msg = _probe(base + ["--unshare-user", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID)], ["/bin/true"])
    if not ok:
        out["error"] = f"bubblewrap cannot create a user namespace with a non-root uid here: {msg}"
        return out
    out["userns"] = True
    user = ["--unshare-user", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID)]
    ok, msg = _probe(base + user + ["--cap-drop", "ALL"], ["/bin/sh", "-c", "grep CapEff /proc/self/status"])
    if not ok or not msg.endswith("0000000000000000"):
        out["error"] = f"bubblewrap cannot drop all capabilities here: {msg}"
        return out
    out["cap_drop"] = True
    out["disable_userns"] = _probe(base + user + ["--cap-drop", "ALL", "--disable-userns"], ["/bin/true"])[0]
    ok, msg = _probe(base + user + ["--size", "65536", "--tmpfs", "/tmp"],
                     ["/bin/sh", "-c", "dd if=/dev/zero of=/tmp/x bs=4096 count=64 2>/dev/null; test $(wc -c </tmp/x) -le 65536"])
    out["tmpfs_size"] = ok
    if not ok:
        out["error"] = f"bubblewrap cannot limit the size of a tmpfs here (--size needs bubblewrap 0.5): {msg}"
        return out
    # Linux exempts processes of host uid 0 from RLIMIT_NPROC, even in a user namespace
    out["nproc_binds"] = not out["root"]
    out["cgroup"], out["cgroup_why"] = _cgroup_parent()
    return out


def check() -> str | None:
    """None when the sandbox works here, else the reason it cannot be had."""
    return facts()["error"] or None


ALLOW_ROOT_ENV = "AUTOGRADER_ALLOW_UNLIMITED_ROOT"  # "1": as --allow-unlimited-root (CI, scripts)


def root_refusal(allow: bool | None = None) -> str | None:
    """Why grading here is refused, or None: as root, without a delegated cgroup v2 with the
    memory and pids controllers, nothing bounds a kernel's processes (Linux exempts host uid 0
    from RLIMIT_NPROC, and the sandbox maps to it) nor the memory of all of them together, so one
    submission's fork bomb or memory spread over children can take the grading machine down.
    allow (the instructor's --allow-unlimited-root; None: $AUTOGRADER_ALLOW_UNLIMITED_ROOT=1)
    accepts that.

    Why refuse rather than drop to an unprivileged host uid (which would make RLIMIT_NPROC bind):
    that bounds the process count only, not memory; one uid for every kernel would make the count
    a budget shared by all the submissions graded at once (one fork bomb would starve its
    neighbours of processes, so a grade would depend on what ran beside it), and a uid per worker
    needs uids set aside on every machine; and that uid must be able to read the Python
    installation and the course folder, which as root are often under /root. A cgroup gives
    every kernel its own memory and process budget; grade says how to get one."""
    f = facts()
    if allow is None:
        allow = os.environ.get(ALLOW_ROOT_ENV) == "1"
    if f["error"] or not f["root"] or f["cgroup"] or allow:
        return None
    return ("grading as root without a cgroup for the kernels: nothing would limit the number of processes "
            "a submission starts (Linux does not apply RLIMIT_NPROC to root) or the memory of all of them "
            f"together, so one submission could take this machine down ({f['cgroup_why']}). Delegate a cgroup "
            "v2 with the memory and pids controllers, e.g. as root on a systemd machine: "
            "mkdir /sys/fs/cgroup/autograder && echo '+memory +pids' > /sys/fs/cgroup/cgroup.subtree_control, "
            f"then {CGROUP_ENV}=/sys/fs/cgroup/autograder (see autograder/README.md); or grade as a normal user; "
            "or pass --allow-unlimited-root to accept the risk")


def unenforced(limits: Limits) -> list[str]:
    """One sentence per limit that this machine cannot enforce (empty when all hold)."""
    f = facts()
    if f["error"]:
        return [f"no sandbox: {f['error']}"]
    out = []
    if not f["cgroup"]:
        out.append(f"memory is limited per process ({limits.memory_bytes / 1024**3:g} GiB each, RLIMIT_AS) "
                   f"and per tmpfs, not for the whole kernel: {f['cgroup_why']}")
        if not f["nproc_binds"]:
            out.append("the process count is not limited: there is no cgroup v2 pids controller here and "
                       "Linux does not apply RLIMIT_NPROC to a sandbox that maps to host root "
                       "(run the grader as a normal user, or delegate a cgroup)")
    if not f["disable_userns"]:
        out.append("the kernel may create nested user namespaces (this bubblewrap lacks --disable-userns)")
    return out


def _system_binds() -> list[str]:
    args = []
    for p in SYSTEM_DIRS:
        if os.path.islink(p):  # merged-/usr systems keep /bin, /lib... as symlinks into /usr
            args += ["--symlink", os.readlink(p), p]
        elif os.path.isdir(p):
            args += ["--ro-bind", p, p]
    for name in ETC_FILES:
        p = os.path.join("/etc", name)
        if os.path.exists(p):
            args += ["--ro-bind", p, p]
    return args


LIBRARY_ENV = "AUTOGRADER_LIBRARY"  # another cnnkit folder to grade with (default: the one imported here)


def library_dir() -> str:
    """The folder of the course library grades are decided with: $AUTOGRADER_LIBRARY, else the
    cnnkit this grader imported. Kernels, checkers and workers all use this one."""
    return str(Path(os.environ.get(LIBRARY_ENV) or Path(cnnkit.__file__).parent).resolve())


def library_hash() -> str:
    """A hash of library_dir()'s source as it is now (about a millisecond): the grader puts it in
    every job of a batch, and a worker (on this machine or another) compares it with its own."""
    import hashlib

    folder = Path(library_dir())
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*.py")):
        if "__pycache__" not in p.parts:
            h.update(str(p.relative_to(folder)).encode() + b"\0" + p.read_bytes())
    return h.hexdigest()


def readonly_paths() -> list[str]:
    """What the kernel may read besides the system: the Python installation (the course library is
    bound on its own: see `wrap`'s library)."""
    paths = [sys.base_prefix, sys.prefix]
    out: list[str] = []
    for p in paths:
        real = os.path.realpath(p)
        if real not in out and os.path.exists(real) and not any(real == s or real.startswith(s + "/") for s in SYSTEM_DIRS):
            out.append(real)
    return out


def cgroup_limits(limits: Limits) -> dict[str, str]:
    mem = limits.memory_bytes
    return {"memory.max": str(mem), "memory.swap.max": "0", "memory.oom.group": "1",
            "pids.max": str(limits.max_processes)}


def wrap(cmd: list[str], kdir: Path, inbox: Path, limits: Limits, env: dict[str, str] | None = None,
         cgroup: str | None = None, library: str | None = None) -> list[str]:
    """The command line that starts cmd (a kernel, or the checker) inside the sandbox.

    kdir: a host folder holding the connection file and the passwd file (bound read-only);
    inbox: the host folder with the submission's files (bound read-only, copied to SCRATCH);
    cgroup: the cgroup folder to create for this kernel, or None;
    library: the cnnkit folder to import inside (default: library_dir(), the grader's own; the
    kernel gets the grading copy whose reference functions raise, autograder.gradedlib), bound at
    LIB_DIR/cnnkit, first on PYTHONPATH, and also over the grader's cnnkit where the sandbox would
    otherwise show it (a cnnkit installed inside the Python installation)."""
    f = facts()
    kdir, inbox = str(Path(kdir).resolve()), str(Path(inbox).resolve())
    Path(kdir, "passwd").write_text(f"student:x:{SANDBOX_UID}:{SANDBOX_UID}:student:{SCRATCH}:/bin/sh\n")
    Path(kdir, "group").write_text(f"student:x:{SANDBOX_UID}:\n")
    disk = str(limits.disk_bytes)
    args = ["--unshare-all", "--unshare-user", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID),
            "--cap-drop", "ALL", "--die-with-parent", "--new-session", "--clearenv"]
    if f["disable_userns"]:
        args.append("--disable-userns")
    # the tmpfs first, then what is bound into the tree: the Python installation, the course
    # library (a clone under /tmp, as in CI) and the kernel's connection folder may all sit under
    # the host's /tmp, and a tmpfs mounted after them would hide them
    args += ["--proc", "/proc", "--dev", "/dev",
             "--size", disk, "--tmpfs", "/tmp", "--size", disk, "--tmpfs", SCRATCH,
             "--size", "1048576", "--tmpfs", IPC_DIR, "--size", "1048576", "--tmpfs", "/dev/shm"]
    args += _system_binds()
    shown = readonly_paths()
    for p in shown:
        args += ["--ro-bind", p, p]
    library = str(Path(library or library_dir()).resolve())
    args += ["--ro-bind", library, f"{LIB_DIR}/cnnkit"]
    real = library_dir()
    if any(real == p or real.startswith(p + "/") for p in shown):
        args += ["--ro-bind", library, real]
    args += ["--ro-bind", kdir, kdir, "--ro-bind", str(Path(kdir, "passwd")), "/etc/passwd",
             "--ro-bind", str(Path(kdir, "group")), "/etc/group", "--ro-bind", inbox, INBOX,
             "--remount-ro", "/", "--chdir", "/"]
    base_env = {"HOME": SCRATCH, "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
                "MPLCONFIGDIR": "/tmp/matplotlib", "IPYTHONDIR": "/tmp/ipython", "LANG": "C.UTF-8",
                "TMPDIR": "/tmp", "PYTHONPATH": LIB_DIR}
    for k, v in {**base_env, **(env or {})}.items():
        args += ["--setenv", k, v]
    rlimits = {"RLIMIT_AS": limits.memory_bytes, "RLIMIT_FSIZE": limits.disk_bytes,
               "RLIMIT_CORE": 0, "RLIMIT_NPROC": limits.max_processes}
    stub = json.dumps({"rlimits": rlimits, "inbox": INBOX, "scratch": SCRATCH})
    inner = [sys.executable, "-I", "-S", "-c", STUB, stub] + list(cmd)
    spec = json.dumps({"bwrap": f["bwrap"], "cgroup": cgroup, "cgroup_limits": cgroup_limits(limits)})
    return [sys.executable, "-I", "-S", "-c", LAUNCHER, spec] + args + ["--"] + inner


def unsafe_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a kernel or checker run without the sandbox: this process's, then env,
    with the grader's course library first on PYTHONPATH (the same library as in the sandbox)."""
    parent = str(Path(library_dir()).parent)
    rest = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != parent]
    return {**os.environ, **(env or {}), "PYTHONPATH": os.pathsep.join([parent, *rest])}


def limit_only(cmd: list[str], memory_bytes: int | None) -> list[str]:
    """Without a sandbox (the instructor accepted the risk): only the memory limit."""
    if not memory_bytes:
        return list(cmd)
    limit = ("import os, resource, sys; "
             f"resource.setrlimit(resource.RLIMIT_AS, ({int(memory_bytes)}, {int(memory_bytes)})); "
             "os.execv(sys.argv[1], sys.argv[1:])")
    return [sys.executable, "-c", limit] + list(cmd)


def sandbox_pid(launcher_pid: int) -> int | None:
    """A process inside the sandbox started by launcher_pid (bwrap's child), or None yet."""
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            status = Path("/proc", d, "status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("PPid:"):
                if int(line.split()[1]) == launcher_pid:
                    return int(d)
                break
    return None


async def wait_for_sockets(process, inside_ip: str, ports: list[int], timeout: float = 120.0,
                           in_sandbox: bool = True) -> str:
    """Wait until the kernel in the sandbox has bound its sockets; returns the path prefix the
    grader connects to (/proc/<pid>/root + inside_ip). Connecting only once they exist, with
    reconnection off, means a kernel cannot later swap a socket for a link to a host socket.
    Without a sandbox (in_sandbox False) the sockets are on the host, at inside_ip itself."""
    import asyncio
    import stat
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        pid = sandbox_pid(process.pid) if in_sandbox else process.pid
        if pid is not None:
            prefix = f"/proc/{pid}/root{inside_ip}" if in_sandbox else inside_ip
            try:
                if all(stat.S_ISSOCK(os.lstat(f"{prefix}-{port}").st_mode) for port in ports):
                    return prefix
            except OSError:
                pass
        await asyncio.sleep(0.05)
    return f"/proc/{process.pid}/root{inside_ip}" if in_sandbox else inside_ip  # dead or too slow: the client's start fails with a reason


def remove_cgroup(path: str) -> None:
    """Kill what is left in a kernel's cgroup and remove it."""
    import time

    try:
        Path(path, "cgroup.kill").write_text("1")
    except OSError:
        pass
    for _ in range(50):
        try:
            os.rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.1)
