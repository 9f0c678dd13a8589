"""Unix users for the tests of the course on a JupyterHub (tests/test_exchange.py,
tests/test_exchange_browser.py): students the test creates with useradd, each with a private
home, running commands as themselves.

A student must be able to run the course's Python. Where this environment's interpreter is not
reachable by other users (a pyenv build under /root, mode 700), the students get a small virtual
environment of their own, made from a system interpreter of the same version (say
/usr/bin/python3.11) that sees this environment's packages: nbgrader and JupyterLab are the same
code, only the student cannot reach root's folders.
"""
from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
VERSION = f"python{sys.version_info.major}.{sys.version_info.minor}"


def why_no_users() -> str | None:
    """Why students cannot be created here, or None."""
    if sys.platform != "linux":
        return "needs Linux users"
    if os.geteuid() != 0:
        return "creating unix users for the students needs root (CI runs as root)"
    for tool in ("useradd", "userdel"):
        if shutil.which(tool) is None:
            return f"no {tool} on this machine: cannot create the students' unix users"
    return None


def _runs_as(python: str, uid: int, gid: int) -> bool:
    try:
        return subprocess.run([python, "-c", "import nbgrader"], user=uid, group=gid, extra_groups=[],
                              cwd="/", env={"PATH": "/usr/bin:/bin"}, capture_output=True, timeout=120).returncode == 0
    except OSError:
        return False


def student_python(work: Path, uid: int, gid: int) -> tuple[str | None, str]:
    """An interpreter the user uid can run that imports this environment's packages: (path, how), or
    (None, why not)."""
    if _runs_as(sys.executable, uid, gid):
        return sys.executable, "the course's own interpreter"
    env = work / "student-env"
    if not env.exists():
        base = next((p for p in (f"/usr/bin/{VERSION}", f"/usr/local/bin/{VERSION}") if os.access(p, os.X_OK)), None)
        if base is None:
            return None, (f"{sys.executable} cannot be run by another user and there is no system {VERSION} to "
                          "make the students an environment from")
        subprocess.run([base, "-m", "venv", "--without-pip", str(env)], check=True, capture_output=True)
        purelib = Path(subprocess.run([str(env / "bin" / "python"), "-c", "import sysconfig; "
                                       "print(sysconfig.get_paths()['purelib'])"], check=True, capture_output=True,
                                      text=True).stdout.strip())
        ours = sysconfig.get_paths()["purelib"]
        (purelib / "course-packages.pth").write_text(f"import site; site.addsitedir({ours!r})\n")
        # Jupyter's data and config of the environment (the JupyterLab extensions, nbgrader's server
        # extensions enabled), found under sys.prefix as in the course's own environment
        for sub in ("share/jupyter", "etc/jupyter"):
            if (Path(sys.prefix) / sub).is_dir():
                (env / sub).parent.mkdir(parents=True, exist_ok=True)
                (env / sub).symlink_to(Path(sys.prefix) / sub)
    python = str(env / "bin" / "python")
    if not _runs_as(python, uid, gid):
        return None, f"neither {sys.executable} nor a {VERSION} environment made for them can import nbgrader as a student"
    return python, f"a {VERSION} environment that sees the course's packages"


class Student:
    """A unix user with a private home folder under work, removed by remove()."""

    def __init__(self, name: str, work: Path, python: str | None = None):
        self.name = name
        self.home = work / f"home-{name}"
        subprocess.run(["useradd", "--no-create-home", "--home-dir", str(self.home), "--shell", "/bin/sh",
                        "--user-group", name], check=True, capture_output=True)
        self.pw = pwd.getpwnam(name)
        self.home.mkdir(mode=0o700)
        os.chown(self.home, self.pw.pw_uid, self.pw.pw_gid)
        self.python = python
        self.env = {"HOME": str(self.home), "USER": name, "LOGNAME": name, "LANG": "C.UTF-8",
                    "PATH": "/usr/bin:/bin", "JUPYTER_CONFIG_DIR": str(self.home / ".jupyter")}

    def setup(self, python: str) -> None:
        """The student side of the hub, for this user only: hub/single_user_setup.sh --user."""
        self.python = python
        self.env["PATH"] = f"{Path(python).parent}:/usr/bin:/bin"
        self.env["PYTHON"] = python
        self.run(["sh", str(ROOT / "hub" / "single_user_setup.sh"), "--user"])

    def run(self, cmd, check: bool = True, timeout: float = 300, **kw) -> subprocess.CompletedProcess:
        result = subprocess.run(cmd, cwd=self.home, env=self.env, user=self.pw.pw_uid, group=self.pw.pw_gid,
                                extra_groups=[], umask=0o022, capture_output=True, text=True, timeout=timeout, **kw)
        if check and result.returncode != 0:
            raise AssertionError(f"{self.name}: {' '.join(map(str, cmd))} failed ({result.returncode}):\n"
                                 f"{result.stdout}\n{result.stderr}")
        return result

    def popen(self, cmd, **kw) -> subprocess.Popen:
        return subprocess.Popen(cmd, cwd=self.home, env=self.env, user=self.pw.pw_uid, group=self.pw.pw_gid,
                                extra_groups=[], umask=0o022, start_new_session=True, **kw)

    def nbgrader(self, verb: str, assignment: str, exchange_root: Path, check: bool = True):
        """nbgrader's student command; course id and exchange come from hub/nbgrader_config.py, only the
        exchange's place is given (a temporary folder here, /srv/nbgrader/exchange on a hub)."""
        return self.run([self.python, "-m", "nbgrader", verb, assignment, f"--Exchange.root={exchange_root}"],
                        check=check)

    def write(self, path: Path, nb) -> None:
        """Save a notebook into the student's folder as the student (root only prepares the text)."""
        self.run([self.python, "-c", "import sys; open(sys.argv[1], 'w').write(sys.stdin.read())", str(path)],
                 input=nbformat.writes(nb))

    def remove(self) -> None:
        subprocess.run(["userdel", self.name], capture_output=True)


def add_students(work: Path, prefix: str, roles, users: list) -> list:
    """Create a student per role (named prefix + a random tag + role), each set up as the hub's image
    sets up a student; each is appended to `users` as soon as it exists, so that the caller's
    cleanup removes it (Student.remove) whatever fails later. Skips the test, saying why, where the
    students cannot run nbgrader."""
    import secrets

    import pytest

    tag = secrets.token_hex(3)
    for role in roles:
        users.append(Student(f"{prefix}{tag}{role}", work))
    python, how = student_python(work, users[0].pw.pw_uid, users[0].pw.pw_gid)
    if python is None:
        pytest.skip(f"the students cannot run nbgrader: {how}")
    for user in users:
        user.setup(python)
    return users
