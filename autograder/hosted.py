"""The student pack on a hosted runtime: Colab and Binder, from the pack's public repository.

The instructor pushes each student pack (autograder/pack.py) to one public git repository, which
course.toml's [pack] table names. Everything a hosted runtime needs follows from that URL:

- `HostedConfig`: the URL, the branch the website links to, the tag of each release, and the torch
  versions a hosted runtime may keep (`load_config` reads and checks course.toml);
- `colab_url` / `binder_url`: one notebook of the pack, at a branch or tag, opened in Colab or in
  Binder; only paths under lectures/ and assignments/ have links (never solutions/);
- `course_setup`: the first cell of every notebook in the pack is this function's source and one
  call of it. Where cnnkit is importable (the student's machine, the course's JupyterHub, Binder,
  nbgrader) it does nothing; on Colab or another hosted Jupyter it clones the pack at the
  release's tag, installs its cnnkit with pip, keeps the runtime's own torch when the course
  supports its version, and copies the notebook's data files beside it. It prints one line.
- `binder_files`: what repo2docker needs to build the pack (the CPU build of torch).
"""
from __future__ import annotations

import inspect
import re
import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import quote

from .course import CALENDAR_FILE, REPO, CourseError

CALENDAR = REPO / CALENDAR_FILE
GITHUB = re.compile(r"https://github\.com/(?P<owner>[A-Za-z0-9][A-Za-z0-9-]*)/(?P<repo>[A-Za-z0-9._-]+)\Z")
PUBLISHED = ("lectures", "assignments")  # the pack's folders a link may point into
SETUP_ID = "course-setup"                # the setup cell's id in every pack notebook
TORCH_RANGE = re.compile(r">=\s*(\d+)\.(\d+)\s*,\s*<\s*(\d+)(?:\.(\d+))?\Z")


@dataclass(frozen=True)
class HostedConfig:
    """course.toml [pack]: where the student pack is published and what a hosted runtime keeps."""

    url: str                           # https://github.com/OWNER/REPO, the public repository of the pack
    branch: str = "main"               # the branch each release is pushed to; the website links to it
    tag: str = "release-{as_of}"       # each release's tag ({as_of}: its date); the pack's links use it
    keep_torch: tuple = ((2, 3), (3, 0))  # a runtime's torch in [oldest, below) is kept

    @property
    def owner_repo(self) -> str:
        return "/".join(GITHUB.fullmatch(self.url).group("owner", "repo"))

    def release_tag(self, as_of) -> str:
        return self.tag.format(as_of=as_of)


def _parse_torch_range(text: str, where: str) -> tuple:
    m = TORCH_RANGE.fullmatch(str(text).strip())
    if not m:
        raise CourseError(f"{where} must read like \">=2.3,<3\" (oldest supported, first unsupported), got {text!r}")
    low, high = (int(m[1]), int(m[2])), (int(m[3]), int(m[4] or 0))
    if not low < high:
        raise CourseError(f"{where}: {text!r} holds no version")
    return low, high


def _normalised(url: str) -> str:
    """A git URL as host/owner/repo, lower case: https, ssh (git@host:owner/repo) and .git agree."""
    url = url.strip().removesuffix("/").removesuffix(".git")
    url = re.sub(r"^[a-z+]+://(?:[^@/]+@)?", "", url)
    url = re.sub(r"^[^@/]+@([^:/]+):", r"\1/", url)
    return url.lower()


def instructor_remotes(repo: Path = REPO) -> list[str]:
    """The URLs of the instructor repository's git remotes (none when it has none or is no repository)."""
    try:
        out = subprocess.run(["git", "remote", "-v"], cwd=repo, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return []
    return sorted({line.split()[1] for line in out.stdout.splitlines() if len(line.split()) >= 2})


def check_config(config: HostedConfig, where: str = "course.toml [pack]", remotes: list[str] | None = None) -> HostedConfig:
    """Refuse a pack URL that Colab and Binder cannot open, or that is the instructor's repository."""
    if not GITHUB.fullmatch(config.url):
        raise CourseError(f"{where} url must be a public GitHub repository such as https://github.com/OWNER/REPO "
                          f"(Colab and Binder open notebooks from GitHub), got {config.url!r}")
    remotes = instructor_remotes() if remotes is None else remotes
    mine = [r for r in remotes if _normalised(r) == _normalised(config.url)]
    if mine:
        raise CourseError(f"{where} url {config.url} is this instructor repository's remote ({mine[0]}), which holds "
                          "solutions/: give the separate public repository that the student pack is pushed to")
    for name, value in (("branch", config.branch), ("tag", config.release_tag("2026-01-01"))):
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._/-]*", value) or ".." in value or value.endswith((".", "/", ".lock")):
            raise CourseError(f"{where} {name} {value!r} is not a git branch or tag name")
    if "{as_of}" not in config.tag:
        raise CourseError(f"{where} tag must contain {{as_of}} (each release needs its own tag), got {config.tag!r}")
    return config


def load_config(path: Path = CALENDAR, remotes: list[str] | None = None) -> HostedConfig:
    """The [pack] table of course.toml, checked (see check_config)."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise CourseError(f"no course calendar {path}: its [pack] table names the student pack's public URL") from None
    except tomllib.TOMLDecodeError as exc:
        raise CourseError(f"{path} is not valid TOML: {exc}") from None
    table = data.get("pack")
    where = f"{path.name} [pack]"
    if not isinstance(table, dict) or "url" not in table:
        raise CourseError(f"{where} is missing: it needs url = \"https://github.com/OWNER/REPO\", the public "
                          "repository that each student pack is pushed to")
    unknown = sorted(set(table) - {"url", "branch", "tag", "keep_torch"})
    if unknown:
        raise CourseError(f"{where} has unknown keys {', '.join(unknown)} (known: url, branch, tag, keep_torch)")
    config = HostedConfig(
        url=str(table["url"]).removesuffix("/"), branch=str(table.get("branch", "main")),
        tag=str(table.get("tag", "release-{as_of}")),
        keep_torch=_parse_torch_range(table.get("keep_torch", ">=2.3,<3"), f"{where} keep_torch"))
    return check_config(config, where, remotes)


# ------------------------------------------------------------------------------------- links

def _published(path: str) -> str:
    rel = PurePosixPath(path)
    if rel.is_absolute() or ".." in rel.parts or rel.suffix != ".ipynb" or rel.parts[0] not in PUBLISHED:
        raise CourseError(f"no hosted link for {path!r}: links point at notebooks under "
                          f"{' or '.join(p + '/' for p in PUBLISHED)} of the student pack only")
    return rel.as_posix()


def colab_url(config: HostedConfig, ref: str, path: str) -> str:
    """Colab opening the pack's notebook `path` (e.g. lectures/01_mlp_activations.ipynb) at branch or tag `ref`."""
    return f"https://colab.research.google.com/github/{config.owner_repo}/blob/{quote(ref)}/{quote(_published(path))}"


def binder_url(config: HostedConfig, ref: str, path: str) -> str:
    """mybinder.org building the pack at `ref` and opening `path` in JupyterLab."""
    return f"https://mybinder.org/v2/gh/{config.owner_repo}/{quote(ref, safe='')}?labpath={quote(_published(path), safe='')}"


COLAB_BADGE = "https://colab.research.google.com/assets/colab-badge.svg"
BINDER_BADGE = "https://mybinder.org/badge_logo.svg"


def badges(config: HostedConfig, ref: str, path: str) -> str:
    """Markdown: the two badges of one notebook (images hosted by Colab and Binder)."""
    return (f"[![Open in Colab]({COLAB_BADGE})]({colab_url(config, ref, path)}) "
            f"[![Launch Binder]({BINDER_BADGE})]({binder_url(config, ref, path)})")


# -------------------------------------------------------------------------------- setup cell

def course_setup(url, ref, keep_torch, torch_pin, data):
    """Install the course library on a hosted runtime (Colab, Binder, any Jupyter without it).

    Does nothing where `cnnkit` is importable, or when nbgrader runs the notebook. Otherwise it
    clones the course's student release `ref` from `url`, installs its cnnkit with pip (with
    `torch_pin` only when this runtime's torch is missing or outside `keep_torch`), copies the
    data files this notebook reads ({path in the release: path here}) and returns one line.
    """
    import importlib
    import importlib.metadata as md
    import importlib.util as iu
    import os
    import re
    import shutil
    import subprocess
    import sys
    import tempfile
    import time

    if iu.find_spec("cnnkit") is not None:
        return "course setup: cnnkit is installed, nothing to do"
    if os.environ.get("NBGRADER_EXECUTION"):
        return "course setup: nbgrader runs this notebook, nothing to do"

    def run(*cmd):
        try:
            r = subprocess.run(cmd, capture_output=True, text=True)
        except FileNotFoundError:
            raise RuntimeError(f"course setup needs {cmd[0]}, which this runtime lacks") from None
        if r.returncode:
            raise RuntimeError(f"course setup: {' '.join(cmd[:4])} ... failed:\n{(r.stderr or r.stdout)[-1500:]}\n"
                               "Check that this runtime is online, then run this cell again.")

    start = time.monotonic()
    try:
        torch = md.version("torch")
    except md.PackageNotFoundError:
        torch = None
    keep = torch is not None and keep_torch[0] <= tuple(int(n) for n in re.findall(r"\d+", torch)[:2]) < keep_torch[1]
    work = tempfile.mkdtemp(prefix="course-release-")
    try:
        run("git", "clone", "--quiet", "--depth", "1", "--branch", ref, url, work)
        pip = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        try:  # build with the runtime's own setuptools when it is recent enough: nothing to fetch
            if int(md.version("setuptools").split(".")[0]) >= 68:
                pip.append("--no-build-isolation")
        except (md.PackageNotFoundError, ValueError):
            pass
        run(*pip, work, *([] if keep else [torch_pin]))
        for src, dest in data.items():
            if not os.path.exists(dest):
                os.makedirs(os.path.dirname(dest) or ".", exist_ok=True)
                shutil.copyfile(os.path.join(work, src), dest)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    importlib.invalidate_caches()
    if iu.find_spec("cnnkit") is None:
        raise RuntimeError("course setup installed cnnkit where this Python does not look yet: restart the "
                           "runtime (Colab: Runtime > Restart session) and run this cell again")
    line = (f"course setup: installed cnnkit from {url} at {ref} in {time.monotonic() - start:.0f} s, "
            + (f"kept this runtime's torch {torch}" if keep else f"with {torch_pin}"))
    if data:
        line += f", fetched {len(data)} data file(s)"
    if "google.colab" in sys.modules or iu.find_spec("google") and iu.find_spec("google.colab"):
        import torch as _torch

        line += ("; GPU: " + _torch.cuda.get_device_name() if _torch.cuda.is_available()
                 else "; no GPU here (Runtime > Change runtime type > T4 GPU adds one)")
    return line


SETUP_MESSAGE = "course setup: cnnkit is installed, nothing to do\n"  # what the cell prints where cnnkit is


def setup_source(url: str, ref: str, keep_torch: tuple, torch_pin: str, data: dict[str, str]) -> str:
    """The setup cell's source: course_setup's own source and one call of it."""
    call = f"print(course_setup({url!r}, {ref!r}, {keep_torch!r}, {torch_pin!r}, {data!r}))"
    return ("# @title Course setup: run this cell first (on Colab it installs the course library) "
            "{ display-mode: \"form\" }\n"
            + inspect.getsource(course_setup) + "\n\n" + call + "\ndel course_setup\n")


def setup_cell(config: HostedConfig, ref: str, torch_pin: str, data: dict[str, str] | None = None) -> dict:
    """The first cell of a pack notebook (nbformat 4.5 JSON). It stores no output (a student who opens
    the notebook in Colab must not read "nothing to do" before running it); nbval, which compares the
    pack's other cells with their stored outputs, does not compare its output (tag nbval-ignore-output)."""
    return {"cell_type": "code", "execution_count": None, "id": SETUP_ID,
            "metadata": {"cellView": "form", "jupyter": {"source_hidden": True},
                         "tags": [SETUP_ID, "nbval-ignore-output"]},
            "outputs": [], "source": setup_source(config.url, ref, config.keep_torch, torch_pin, dict(data or {}))}


def is_setup_cell(cell: dict) -> bool:
    return cell.get("id") == SETUP_ID or SETUP_ID in cell.get("metadata", {}).get("tags", [])


# ------------------------------------------------------------------------------------- Binder

BINDER_README = """\
What mybinder.org (repo2docker) needs to build this course: Python 3.11, the course's packages
with the CPU build of torch (no GPU on Binder; the CUDA build would add several GB), and cnnkit
installed from this folder by postBuild.
"""


def binder_files(requirements: str) -> dict[str, str]:
    """binder/ for repo2docker, from the pack's requirements.txt: torch from PyTorch's CPU index, the
    rest as pinned there (JupyterLab and the notebook server are Binder's own), cnnkit by postBuild."""
    lines, torch = [], None
    for line in requirements.splitlines():
        name = re.match(r"[A-Za-z0-9_.-]+", line.strip())
        if not name or line.lstrip().startswith(("#", "-")):
            continue
        if name.group(0) == "torch":
            m = re.fullmatch(r"torch==([0-9.]+)", line.strip())
            if not m:
                raise CourseError(f"requirements.txt pins torch as {line.strip()!r}; the Binder build needs torch==X.Y.Z")
            torch = m.group(1)
        elif name.group(0) not in ("jupyterlab", "notebook"):
            lines.append(line.strip())
    if torch is None:
        raise CourseError("requirements.txt has no torch==X.Y.Z line for the Binder build")
    reqs = ("# repo2docker (mybinder.org): the CPU build of torch, the rest as in requirements.txt\n"
            "--extra-index-url https://download.pytorch.org/whl/cpu\n"
            f"torch=={torch}+cpu\n" + "\n".join(lines) + "\n")
    return {"binder/requirements.txt": reqs, "binder/runtime.txt": "python-3.11\n",
            "binder/postBuild": "#!/bin/bash\nset -euo pipefail\n# the course library, from this release\n"
                                "python -m pip install --no-deps .\n",
            "binder/README.md": BINDER_README}
