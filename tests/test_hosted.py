"""Students on a hosted runtime: the student pack's setup cell, its Binder files, a T4's training
choice, and a notebook handed in from Colab (autograder/hosted.py, autograder/pack.py).

The simulated Colab is a fresh virtual environment whose Python sees the course's packages (torch,
numpy, Jupyter, pip, setuptools) but not cnnkit, holds a stand-in `google.colab` module, and whose
git fetches the pack's configured URL (course.toml [pack]) from the pack built here, a local
file:// repository (git's url.<base>.insteadOf). Nothing is downloaded: pip runs with PIP_NO_INDEX.
In it the setup cell of lecture 01 and of the A1 release installs cnnkit from the release's tag,
and each notebook then runs top to bottom (A1 with the instructor's answers in its answer cells).
In the course's own environment the cell does nothing. A notebook saved the way Colab saves it
is collected from an LMS export and graded exactly like the same notebook saved by Jupyter.
"""
from __future__ import annotations

import copy
import datetime as dt
import json
import os
import re
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest
import torch

from autograder import api, hosted, pack, submissions
from autograder.course import REPO, Course, CourseError

SOLUTIONS = Course().solutions
from cnnkit import train
from tests.isolation import UNSAFE

AS_OF = dt.date(2026, 9, 14)  # lectures 01-02 and A1 are out, A1 is open (its layers are stand-ins)
CONFIG = hosted.load_config()
TAG = CONFIG.release_tag(AS_OF)
SITE_PACKAGES = Path(torch.__file__).resolve().parents[1]  # the course environment's


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("hosted") / "pack"
    return pack.build(root, AS_OF, make_zip=False)


def notebook(root: Path, rel: str) -> dict:
    return json.loads((root / rel).read_text())


# ------------------------------------------------------------------------------ the setup cell

def test_every_pack_notebook_starts_with_the_setup_cell(built):
    root = built.root
    paths = [p.relative_to(root).as_posix() for p in pack._notebooks(root)]
    assert paths == ["lectures/01_mlp_activations.ipynb", "lectures/02_backprop.ipynb",
                     "assignments/A1/A1_mlp_backprop.ipynb"]
    for rel in paths:
        nb = notebook(root, rel)
        first = nb["cells"][0]
        assert hosted.is_setup_cell(first) and first["cell_type"] == "code", rel
        assert "nbgrader" not in first["metadata"]  # not an answer, test or locked cell
        src = "".join(first["source"])
        assert f"print(course_setup({CONFIG.url!r}, {TAG!r}, ((2, 3), (3, 0)), 'torch==2.13.0', {{}}))" in src
        assert first["outputs"] == [] and "nbval-ignore-output" in first["metadata"]["tags"]
        nbformat.validate(nbformat.reads(json.dumps(nb), as_version=4))
        rest = [c["id"] for c in nb["cells"][1:] if c["id"] != "student-pack-note"]  # A1 open: lecture 01 notes stand-ins
        assert rest == [c["id"] for c in notebook(REPO, rel)["cells"]]  # the notebook's own cells follow, as they were
    git = subprocess.run(["git", "tag", "--points-at", "HEAD"], cwd=root, capture_output=True, text=True)
    assert git.stdout.split() == [TAG] and built.tag == TAG


def test_setup_cell_does_nothing_in_the_course_environment(built, monkeypatch, capsys):
    """Where cnnkit is importable the cell prints its one line and runs nothing (no git, no pip)."""
    def refuse(*a, **k):
        raise AssertionError(f"the setup cell ran {a} in the course's own environment")

    monkeypatch.setattr(subprocess, "run", refuse)
    monkeypatch.setattr(subprocess, "Popen", refuse)
    for path in pack._notebooks(built.root):
        source = "".join(json.loads(path.read_text())["cells"][0]["source"])
        names = {}
        exec(compile(source, str(path), "exec"), names)
        assert capsys.readouterr().out == hosted.SETUP_MESSAGE, path
        assert "course_setup" not in names  # the cell leaves no name behind in the student's namespace


class FakeRuntime:
    """course_setup's view of a runtime without cnnkit: versions of torch and setuptools, and a git
    and pip that only record what they were asked (git clone writes a release's files)."""

    def __init__(self, monkeypatch, tmp_path, torch_version="2.8.0+cu126", release_files=None, fail=None):
        import importlib.metadata as md
        import importlib.util as iu

        self.calls, self.installed = [], False
        self.release_files = release_files or {}
        real_find, real_version = iu.find_spec, md.version

        def find_spec(name, *a):
            if name == "cnnkit":
                return real_find("json") if self.installed else None
            return real_find(name, *a)

        def version(name):
            if name == "torch":
                if torch_version is None:
                    raise md.PackageNotFoundError(name)
                return torch_version
            return real_version(name)

        def run(cmd, **kw):
            cmd = list(cmd)
            self.calls.append(cmd)
            if fail and fail in cmd:
                return subprocess.CompletedProcess(cmd, 128, "", f"fatal: unable to access '{cmd[-2]}'")
            if cmd[:2] == ["git", "clone"]:
                for rel, text in self.release_files.items():
                    (Path(cmd[-1]) / rel).parent.mkdir(parents=True, exist_ok=True)
                    (Path(cmd[-1]) / rel).write_text(text)
            if "pip" in cmd:
                self.installed = True
            return subprocess.CompletedProcess(cmd, 0, "", "")

        monkeypatch.setattr(iu, "find_spec", find_spec)
        monkeypatch.setattr(md, "version", version)
        monkeypatch.setattr(subprocess, "run", run)
        monkeypatch.chdir(tmp_path)

    def pip(self):
        return next(c for c in self.calls if "pip" in c)


@pytest.mark.parametrize("version, kept", [("2.8.0+cu126", True), ("2.3.1", True), ("2.13.0+cpu", True),
                                           ("2.2.2", False), ("3.0.0", False), (None, False)])
def test_setup_keeps_a_supported_torch_and_installs_the_pin_otherwise(monkeypatch, tmp_path, version, kept):
    rt = FakeRuntime(monkeypatch, tmp_path, torch_version=version)
    line = hosted.course_setup(CONFIG.url, TAG, CONFIG.keep_torch, "torch==2.13.0", {})
    clone = rt.calls[0]
    assert clone[:2] == ["git", "clone"] and clone[-3:-1] == [TAG, CONFIG.url] and "--depth" in clone
    pip = rt.pip()
    assert pip[:4] == [sys.executable, "-m", "pip", "install"] and pip[pip.index("--no-build-isolation") + 1] == clone[-1]
    assert ("torch==2.13.0" in pip) is (not kept)
    assert line.startswith(f"course setup: installed cnnkit from {CONFIG.url} at {TAG} in ")
    assert (f"kept this runtime's torch {version}" in line) is kept and ("with torch==2.13.0" in line) is (not kept)
    assert "\n" not in line


def test_setup_fetches_the_notebooks_data_files_and_keeps_the_students_own(monkeypatch, tmp_path):
    files = {"assignments/A9/data/faces.npz": "release copy", "assignments/A9/notes.txt": "release notes"}
    (tmp_path / "notes.txt").write_text("the student's own")
    FakeRuntime(monkeypatch, tmp_path, release_files=files)
    line = hosted.course_setup(CONFIG.url, TAG, CONFIG.keep_torch, "torch==2.13.0",
                               {"assignments/A9/data/faces.npz": "data/faces.npz", "assignments/A9/notes.txt": "notes.txt"})
    assert (tmp_path / "data" / "faces.npz").read_text() == "release copy"
    assert (tmp_path / "notes.txt").read_text() == "the student's own"
    assert "fetched 2 data file(s)" in line


def test_pack_lists_a_notebooks_data_files_for_its_setup_cell(tmp_path):
    (tmp_path / "assignments" / "A9" / "data").mkdir(parents=True)
    nb = tmp_path / "assignments" / "A9" / "A9.ipynb"
    nb.write_text("{}")
    (tmp_path / "assignments" / "A9" / "data" / "faces.npz").write_text("x")
    (tmp_path / "assignments" / "A9" / ".ipynb_checkpoints").mkdir()
    (tmp_path / "assignments" / "A9" / ".ipynb_checkpoints" / "A9-checkpoint.ipynb").write_text("{}")
    assert pack.data_files(tmp_path, nb) == {"assignments/A9/data/faces.npz": "data/faces.npz"}


def test_setup_says_what_failed_and_what_to_do(monkeypatch, tmp_path):
    rt = FakeRuntime(monkeypatch, tmp_path, fail="clone")
    with pytest.raises(RuntimeError, match=r"(?s)git clone.*unable to access.*Check that this runtime is online"):
        hosted.course_setup(CONFIG.url, TAG, CONFIG.keep_torch, "torch==2.13.0", {})
    assert not any("pip" in c for c in rt.calls)


def test_setup_does_nothing_under_nbgrader(monkeypatch, tmp_path):
    rt = FakeRuntime(monkeypatch, tmp_path)
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert hosted.course_setup(CONFIG.url, TAG, CONFIG.keep_torch, "torch==2.13.0", {}) == \
        "course setup: nbgrader runs this notebook, nothing to do"
    assert rt.calls == []


# ----------------------------------------------------------------------- the simulated Colab

STAND_IN_COLAB = '''"""Stand-in for Colab's google.colab (tests/test_hosted.py): present, as on Colab."""
'''

RUN_NOTEBOOK = '''
import sys
import nbformat
from nbclient import NotebookClient

nb = nbformat.read(sys.argv[1], as_version=4)
NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": "."}}).execute()
nbformat.write(nb, sys.argv[2])
'''


def hosted_runtime(root: Path, pack_root: Path) -> tuple[Path, dict]:
    """A fresh virtual environment without cnnkit (see the module docstring); returns its Python
    and the environment to run it in."""
    base = root / "base"  # the course environment's site-packages, cnnkit's files left out
    base.mkdir(parents=True)
    for entry in SITE_PACKAGES.iterdir():
        if "cnnkit" not in entry.name.lower():
            (base / entry.name).symlink_to(entry)
    venv = root / "venv"
    subprocess.run([sys.base_prefix + "/bin/python3", "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next((venv / "lib").glob("python3*/site-packages"))
    (site / "zz_course_packages.pth").write_text(f"import site; site.addsitedir({str(base)!r})\n")
    (site / "google" / "colab").mkdir(parents=True)
    (site / "google" / "colab" / "__init__.py").write_text(STAND_IN_COLAB)
    gitconfig = root / "gitconfig"
    gitconfig.write_text(f'[url "file://{pack_root}"]\n\tinsteadOf = {CONFIG.url}\n')
    home = root / "home"
    home.mkdir()
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "GIT_CONFIG_GLOBAL": str(gitconfig),
           "GIT_CONFIG_NOSYSTEM": "1", "PIP_NO_INDEX": "1", "PIP_NO_CACHE_DIR": "1", "CNNKIT_DEVICE": "cpu",
           "CUDA_VISIBLE_DEVICES": "", "CNNKIT_PROGRESS": "0", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "OPENBLAS_NUM_THREADS": "1", "PYTHONHASHSEED": "0", "JUPYTER_PLATFORM_DIRS": "1",
           "MPLBACKEND": "module://matplotlib_inline.backend_inline"}
    return venv / "bin" / "python", env


def run_hosted(tmp_path: Path, pack_root: Path, nb: dict, name: str) -> dict:
    """Run a notebook top to bottom in a fresh simulated Colab, from an empty folder (Colab opens a
    notebook alone, nothing beside it); returns the executed notebook."""
    python, env = hosted_runtime(tmp_path / "runtime", pack_root)
    work = tmp_path / "content"
    work.mkdir()
    nb = copy.deepcopy(nb)
    nb["cells"].append({"cell_type": "code", "execution_count": None, "id": "where-is-cnnkit", "metadata": {},
                        "outputs": [], "source": "import cnnkit, sys\nprint(cnnkit.__file__)\nprint(sys.prefix)"})
    (tmp_path / f"{name}.ipynb").write_text(json.dumps(nb))
    before = sorted(p.name for p in SITE_PACKAGES.iterdir())
    r = subprocess.run(["nice", "-n", "5", str(python), "-c", RUN_NOTEBOOK, str(tmp_path / f"{name}.ipynb"),
                        str(tmp_path / f"{name}.out.ipynb")], cwd=work, env=env, capture_output=True, text=True,
                       timeout=1500)
    assert r.returncode == 0, r.stderr[-5000:]
    assert sorted(p.name for p in SITE_PACKAGES.iterdir()) == before  # the course environment untouched
    out = nbformat.read(tmp_path / f"{name}.out.ipynb", as_version=4)  # multiline text joined
    setup = "".join(o.get("text", "") for o in out["cells"][0]["outputs"])
    assert re.fullmatch(rf"course setup: installed cnnkit from {re.escape(CONFIG.url)} at {TAG} in \d+ s, kept this "
                        rf"runtime's torch {re.escape(torch.__version__)}; no GPU here \(Runtime > Change runtime type "
                        r"> T4 GPU adds one\)\n", setup), setup
    where = out["cells"][-1]["outputs"][0]["text"].split()
    venv = (tmp_path / "runtime" / "venv").resolve()
    assert Path(where[0]).resolve().is_relative_to(venv) and Path(where[1]).resolve() == venv, where
    return out


def test_lecture_01_runs_on_a_simulated_colab(built, tmp_path):
    out = run_hosted(tmp_path, built.root, notebook(built.root, "lectures/01_mlp_activations.ipynb"), "lecture01")
    errors = [o for c in out["cells"] for o in c.get("outputs", []) if o["output_type"] == "error"]
    assert not errors
    assert sum(c["cell_type"] == "code" for c in out["cells"]) > 10


def test_a1_release_runs_on_a_simulated_colab(built, tmp_path):
    released = nbformat.reads(json.dumps(notebook(built.root, "assignments/A1/A1_mlp_backprop.ipynb")), as_version=4)
    solved = submissions.fill(released, submissions.read(SOLUTIONS / "A1" / "A1_mlp_backprop.ipynb"))
    out = run_hosted(tmp_path, built.root, json.loads(nbformat.writes(solved)), "A1")
    tests = [c for c in out["cells"] if c.get("metadata", {}).get("nbgrader", {}).get("grade")
             and c["cell_type"] == "code"]
    assert len(tests) > 10 and not [o for c in out["cells"] for o in c.get("outputs", []) if o["output_type"] == "error"]


# ------------------------------------------------------------------------ handed in from Colab

def colab_saved(nb: dict) -> dict:
    """A notebook as Colab's File > Download > Download .ipynb writes it: nbformat 4.0 (no top-level
    cell ids; Colab keeps its own in each cell's metadata), a `colab` section, Colab's kernelspec
    (no `language`) and language_info, an accelerator, execution metadata and output ids on code
    cells, `colab` metadata on results. The kernel name is one the grading machine does not have:
    Colab writes `python3`, but a notebook last saved elsewhere may name any kernel."""
    out = {"nbformat": 4, "nbformat_minor": 0,
           "metadata": {"colab": {"provenance": [], "toc_visible": True, "gpuType": "T4"},
                        "kernelspec": {"name": "python3-colab-gpu", "display_name": "Python 3"},
                        "language_info": {"name": "python"}, "accelerator": "GPU"},
           "cells": []}
    for i, cell in enumerate(nb["cells"]):
        c = {k: v for k, v in cell.items() if k != "id"}
        c["metadata"] = {**cell.get("metadata", {}), "id": f"Xk{i:04d}colab"}
        c["source"] = "".join(cell["source"]).splitlines(keepends=True)
        if cell["cell_type"] == "code":
            c["metadata"].update(colab={"base_uri": "https://localhost:8080/"}, outputId=f"{i:08x}-colab",
                                 executionInfo={"status": "ok", "timestamp": 1789000000000 + i, "user_tz": -120,
                                                "elapsed": 12, "user": {"displayName": "A Student", "userId": "1"}})
            c["execution_count"] = i + 1
            c["outputs"] = [{"output_type": "execute_result", "execution_count": i + 1,
                             "metadata": {"colab": {"base_uri": "https://localhost:8080/"}},
                             "data": {"text/plain": ["'as Colab ran it'"]}}]
        out["cells"].append(c)
    out["cells"][0]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": [
        f"course setup: installed cnnkit from {CONFIG.url} at {TAG} in 41 s, kept this runtime's torch "
        "2.8.0+cu126; GPU: Tesla T4\n"]}]
    return out


def test_a_notebook_saved_by_colab_is_collected_and_graded_like_any_other(built, tmp_path):
    """The same answers (half of A1's parts, so that passing and failing tests both count), saved by
    Jupyter and by Colab, handed in through one LMS export: equal grades, the expected points."""
    source = submissions.read(SOLUTIONS / "A1" / "A1_mlp_backprop.ipynb")
    parts = submissions.solution_parts(source)
    half = set(parts[: len(parts) // 2])
    expected = submissions.autograded_points(source, half)
    assert 0 < expected < submissions.autograded_points(source)
    released = nbformat.reads((built.root / "assignments" / "A1" / "A1_mlp_backprop.ipynb").read_text(), as_version=4)
    answers = json.loads(nbformat.writes(submissions.fill(released, source, half)))
    colab = json.dumps(colab_saved(answers), indent=2)
    nbformat.validate(nbformat.reads(colab, as_version=4))  # still a valid notebook (4.0)
    export = tmp_path / "lms.zip"
    with zipfile.ZipFile(export, "w") as z:
        z.writestr("colab1_Copy of A1_mlp_backprop.ipynb", colab)
        z.writestr("jupyter1_A1_mlp_backprop.ipynb", json.dumps(answers, indent=1))
    work = tmp_path / "course"
    api.release("A1", work, release_dir=work / "release")
    report = api.collect("A1", export, work)
    assert sorted(report.filed) == [("colab1", "A1_mlp_backprop.ipynb"), ("jupyter1", "A1_mlp_backprop.ipynb")]
    assert report.renamed == [("colab1", "Copy of A1_mlp_backprop.ipynb", "A1_mlp_backprop.ipynb")]
    assert (work / "submitted" / "colab1" / "A1" / "A1_mlp_backprop.ipynb").read_text() == colab  # filed as it came
    outcome = api.grade("A1", work, workers=2, unsafe=UNSAFE, self_check=False)
    assert outcome == {"colab1": "ok", "jupyter1": "ok"}, outcome
    rows = {r["student"]: r for r in api.grade_rows(work, "A1")}
    assert rows["colab1"]["autograded"] == rows["jupyter1"]["autograded"] == expected, rows
    graded = json.loads((work / "autograded" / "colab1" / "A1" / "A1_mlp_backprop.ipynb").read_text())
    assert graded["metadata"]["kernelspec"]["name"] == "python3"  # nbgrader put the course's kernel back
    outputs = "".join(json.dumps(c.get("outputs", [])) for c in graded["cells"])
    assert "as Colab ran it" not in outputs and "Tesla T4" not in outputs  # rerun here, not Colab's outputs
    assert "course setup: nbgrader runs this notebook, nothing to do" in outputs or hosted.SETUP_MESSAGE.strip() in outputs


# ------------------------------------------------------------------------------------ Binder

def test_binder_builds_the_pack_with_the_cpu_build_of_torch(built):
    from packaging.requirements import Requirement

    root = built.root
    reqs = (root / "binder" / "requirements.txt").read_text().splitlines()
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in reqs
    pinned = {Requirement(ln).name: str(Requirement(ln).specifier) for ln in reqs if ln and not ln.startswith(("#", "-"))}
    student = {Requirement(ln).name: str(Requirement(ln).specifier)
               for ln in (root / "requirements.txt").read_text().splitlines() if ln and not ln.startswith(("#", "-"))}
    assert pinned.pop("torch") == student.pop("torch") + "+cpu" == f"=={torch.__version__.split('+')[0]}+cpu"
    assert pinned == {k: v for k, v in student.items() if k not in ("jupyterlab", "notebook")}
    assert (root / "binder" / "runtime.txt").read_text() == "python-3.11\n"
    post = root / "binder" / "postBuild"
    assert post.stat().st_mode & stat.S_IXUSR and "pip install --no-deps ." in post.read_text()
    ls = subprocess.run(["git", "ls-files", "-s", "binder/postBuild"], cwd=root, capture_output=True, text=True)
    assert ls.stdout.startswith("100755")  # executable in the repository Binder clones


# ------------------------------------------------------------------------ links and the config

def links(markdown: str) -> list[str]:
    """Colab and Binder link targets of a markdown text (the badges' images left out)."""
    found = re.findall(r"\]\((https://(?:colab\.research\.google\.com|mybinder\.org)/[^)\s]+)\)", markdown)
    return [u for u in found if u not in (hosted.COLAB_BADGE, hosted.BINDER_BADGE)]


def test_pack_readme_links_every_notebook_to_colab_and_binder_at_the_release(built):
    root = built.root
    found = links((root / "README.md").read_text())
    notebooks = [p.relative_to(root).as_posix() for p in pack._notebooks(root)]
    assert sorted(found) == sorted([hosted.colab_url(CONFIG, TAG, p) for p in notebooks]
                                   + [hosted.binder_url(CONFIG, TAG, p) for p in notebooks])
    for p in notebooks:
        assert f"https://colab.research.google.com/github/{CONFIG.owner_repo}/blob/{TAG}/{p}" in found
        assert f"https://mybinder.org/v2/gh/{CONFIG.owner_repo}/{TAG}?labpath={p.replace('/', '%2F')}" in found
    assert not [u for u in found if "solutions" in u]
    readme = (root / "README.md").read_text()
    for words in ("File > Download > Download .ipynb", "Save a copy in Drive", "Copy of", "T4 GPU", "fp16"):
        assert words in readme


def test_links_refuse_anything_but_the_packs_notebooks():
    for bad in ("solutions/A1/A1_mlp_backprop.ipynb", "../solutions/A1/x.ipynb", "/lectures/01.ipynb",
                "lectures/../solutions/x.ipynb", "cnnkit/layers.py"):
        with pytest.raises(CourseError, match="notebooks under lectures/ or assignments/"):
            hosted.colab_url(CONFIG, "main", bad)
        with pytest.raises(CourseError, match="notebooks under lectures/ or assignments/"):
            hosted.binder_url(CONFIG, "main", bad)


def test_config_refuses_the_instructors_repository_and_urls_colab_cannot_open(tmp_path):
    for remote in ("git@github.com:cnn-architectures/student-pack.git", "https://github.com/CNN-Architectures/student-pack/"):
        with pytest.raises(CourseError, match="instructor repository's remote"):
            hosted.check_config(CONFIG, remotes=[remote])
    assert hosted.check_config(CONFIG, remotes=["git@github.com:cnn-architectures/instructor.git"]) == CONFIG
    for url in ("https://gitlab.com/a/b", "http://github.com/a/b", "https://github.com/a", "file:///tmp/pack"):
        with pytest.raises(CourseError, match="public GitHub repository"):
            hosted.check_config(hosted.HostedConfig(url), remotes=[])
    with pytest.raises(CourseError, match="must contain"):
        hosted.check_config(hosted.HostedConfig(CONFIG.url, tag="v1"), remotes=[])
    with pytest.raises(CourseError, match="not a git branch or tag name"):
        hosted.check_config(hosted.HostedConfig(CONFIG.url, branch="a b"), remotes=[])
    toml = tmp_path / "course.toml"
    toml.write_text("[lectures]\n")
    with pytest.raises(CourseError, match=r"\[pack\] is missing: it needs url"):
        hosted.load_config(toml, remotes=[])
    toml.write_text('[pack]\nurl = "https://github.com/a/b"\nkeep_torch = "2.3"\n')
    with pytest.raises(CourseError, match="keep_torch must read like"):
        hosted.load_config(toml, remotes=[])
    toml.write_text('[pack]\nurl = "https://github.com/a/b"\nbrnach = "main"\n')
    with pytest.raises(CourseError, match="unknown keys brnach"):
        hosted.load_config(toml, remotes=[])


# -------------------------------------------------------------------------- Colab's GPU, a T4

def test_a_colab_t4_trains_in_fp16_with_a_grad_scaler(monkeypatch):
    """What cnnkit.train.fit picks on a T4 (compute capability 7.5), checked on the CPU by faking
    the capability: fp16 autocast and a CUDA GradScaler, never bf16 (which a T4 only emulates,
    although torch.cuda.is_bf16_supported() says yes). An A100 (8.0) gets bf16 and no scaler."""
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda *a, **k: (7, 5))
    dtype = train.amp_dtype("cuda", "auto")
    assert dtype is torch.float16
    with pytest.warns(UserWarning, match="CUDA is not available"):  # this machine has no GPU to scale on
        scaler = train.make_scaler("cuda", dtype)
    assert isinstance(scaler, torch.amp.GradScaler) and scaler._device == "cuda"
    with pytest.raises(ValueError, match=r"compute capability 7\.5\) has no native bf16"):
        train.amp_dtype("cuda", "bf16")
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda *a, **k: (8, 0))
    assert train.amp_dtype("cuda", "auto") is torch.bfloat16 and train.make_scaler("cuda", torch.bfloat16) is None
