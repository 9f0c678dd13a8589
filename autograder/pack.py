"""The student pack: the course as a student may hold it on a given day.

`python -m autograder pack DIR --as-of DATE` writes DIR (a git repository) and DIR.zip with

- the lectures released by DATE (course.toml, [lectures]) and the released assignments
  (assignments/AN, nbgrader's student versions) whose release date has come;
- the helper library cnnkit/, in which every function an assignment grades (course.toml,
  `withhold`) is, until the day after the assignment is due, a stand-in from cnnkit/_standins.py
  (PyTorch and autograd, same API and results) instead of its numpy reference; a lecture that uses
  one says so in a note at its top;
- a student README with two commands (open the course; check my work), an "Open in Colab" and a
  "Launch Binder" link for every notebook, how to save and hand in from Colab, requirements.txt
  and a pyproject.toml that installs cnnkit alone;
- in every notebook, a first cell that installs cnnkit on a hosted runtime and does nothing
  anywhere else (autograder/hosted.py), and binder/ for repo2docker (the CPU build of torch).

The pack's git repository has one commit, on the branch and with the tag that course.toml's
[pack] table names (the links and the setup cell use them): the instructor pushes it to the public
repository named there.

Never in it: solutions/, hidden tests, the instructor's autograder/, tests/, tools/. The pack is
checked before it is written: no file may hold an nbgrader solution or hidden-test marker, and no
withheld function may still be defined in its cnnkit.
"""
from __future__ import annotations

import ast
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import zipfile
from dataclasses import dataclass
from pathlib import Path

from . import hosted
from .course import LIBRARY, REPO, Assignment, Calendar, Course, CourseError
MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
# What a student installs: the course's own pins for these, then cnnkit itself.
STUDENT_PACKAGES = ("torch", "numpy", "matplotlib", "scikit-learn", "tqdm", "ipywidgets", "ipykernel",
                    "jupyterlab", "notebook", "nbgrader")


def parse_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise CourseError(f"--as-of {text!r} is not a date such as 2026-10-12") from None


# --------------------------------------------------------------------------------------------
# which library functions an assignment grades
# --------------------------------------------------------------------------------------------
def library_definitions(root: Path = REPO / LIBRARY) -> dict[str, list[str]]:
    """Every top-level function and class the library defines: name -> ['cnnkit.module.name', ...]."""
    found: dict[str, list[str]] = {}
    for path in sorted(root.rglob("*.py")):
        if path.name.startswith("_standins"):
            continue
        module = ".".join(path.relative_to(root.parent).with_suffix("").parts).removesuffix(".__init__")
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                found.setdefault(node.name, []).append(f"{module}.{node.name}")
    return found


def graded_names(a: Assignment) -> list[str]:
    """The functions and classes an assignment's solution cells define (### BEGIN SOLUTION cells
    of the instructor's notebooks)."""
    import nbformat

    names = []
    for nb_name in a.notebooks:
        for cell in nbformat.read(a.source / nb_name, as_version=4).cells:
            if cell.cell_type == "code" and "BEGIN SOLUTION" in cell.source:
                names += re.findall(r"^(?:def|class) (\w+)", cell.source, flags=re.M)
    return names


def graded_library_names(a: Assignment) -> list[str]:
    """'cnnkit.module.name' for every graded name the library also defines."""
    lib = library_definitions()
    return sorted({q for n in graded_names(a) for q in lib.get(n, [])})


# --------------------------------------------------------------------------------------------
# building the pack
# --------------------------------------------------------------------------------------------
@dataclass
class Pack:
    root: Path
    zip: Path | None
    as_of: dt.date
    lectures: list[str]
    assignments: list[str]
    standins: dict[str, list[str]]        # assignment -> withheld names replaced by stand-ins
    noted_lectures: dict[str, list[str]]  # lecture -> the assignments its note names
    hosting: hosted.HostedConfig | None = None
    tag: str = ""                         # the release's git tag (the setup cells install from it)

    def lines(self) -> list[str]:
        out = [f"student pack as of {self.as_of}: {self.root}" + (f" (and {self.zip})" if self.zip else ""),
               f"  lectures: {', '.join(self.lectures) or 'none'}",
               f"  assignments: {', '.join(self.assignments) or 'none'}"]
        for a, names in self.standins.items():
            out.append(f"  {a} still open: stand-ins for {', '.join(n.rsplit('.', 1)[1] for n in names)}")
        if self.hosting:
            out.append(f"  publish it (its Colab and Binder links and setup cells need it): git -C {self.root} push "
                       f"--force {self.hosting.url} {self.hosting.branch} {self.tag}")
        return out


def _withheld(calendar: Calendar, as_of: dt.date) -> dict[str, list[str]]:
    return {a.name: a.withhold for a in calendar.assignments.values() if a.withhold and not a.closed(as_of)}


def _strip_definitions(source: str, names: set[str]) -> tuple[str, set[str]]:
    """The module's source without the top-level definitions of `names`; and the names removed."""
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    cut, removed = [], set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name in names:
            start = min([node.lineno] + [d.lineno for d in node.decorator_list]) - 1
            cut.append((start, node.end_lineno))
            removed.add(node.name)
    for start, end in sorted(cut, reverse=True):
        del lines[start:end]
    return re.sub(r"\n{4,}", "\n\n\n", "".join(lines)), removed


def _write_library(dest: Path, withheld: dict[str, list[str]], calendar: Calendar) -> None:
    src_root = REPO / LIBRARY
    shutil.copytree(src_root, dest / LIBRARY, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    by_module: dict[str, list[tuple[str, str]]] = {}
    for assignment, names in withheld.items():
        for q in names:
            module, name = q.rsplit(".", 1)
            by_module.setdefault(module, []).append((name, assignment))
    for module, items in sorted(by_module.items()):
        rel = Path(*module.split(".")).with_suffix(".py")
        path = dest / rel
        if not path.exists():
            raise CourseError(f"course.toml withholds {module}.{items[0][0]}, but there is no {rel}")
        names = {n for n, _ in items}
        text, removed = _strip_definitions(path.read_text(), names)
        if names - removed:
            raise CourseError(f"course.toml withholds {', '.join(sorted(names - removed))} from {module}, "
                              f"which defines no such function")
        dues = sorted({f"{a} ({calendar.assignments[a].due})" for _, a in items})
        text = text.rstrip("\n") + (
            f"\n\n\n# Student pack: until {', '.join(dues)} is due, these are stand-ins computed by PyTorch\n"
            "# (cnnkit/_standins.py); the numpy versions arrive after the assignment.\n"
            "from ._standins import install as _install_standins  # noqa: E402\n\n"
            f"_install_standins(globals(), {sorted(names)!r})\n")
        path.write_text(text)


def _note_cell(lecture_names: list[str], assignments: list[str], calendar: Calendar, shows_source: bool) -> dict:
    shown = ", ".join(f"`{n}`" for n in lecture_names)
    dues = "; ".join(f"{a} is due on {calendar.assignments[a].due}" for a in assignments)
    text = (f"> **In this student release** the course library's {shown} "
            f"{'is a stand-in' if len(lecture_names) == 1 else 'are stand-ins'} computed by PyTorch "
            f"(`conv2d`, `unfold`/`fold`, autograd for the backward passes), because "
            f"{' and '.join(assignments)} asks you to write {'it' if len(lecture_names) == 1 else 'them'}: "
            f"this lecture runs and prints the same results with {'it' if len(lecture_names) == 1 else 'them'}"
            f"{' (a cell that prints the library source shows the stand-in)' if shows_source else ''}. "
            f"The library's numpy version arrives after the assignment ({dues}).")
    return {"cell_type": "markdown", "id": "student-pack-note", "metadata": {}, "source": text}


def definition_source(path: Path, name: str) -> str | None:
    """The source of a top-level function or class of a file, as inspect.getsource gives it."""
    lines = path.read_text().splitlines(keepends=True)
    for node in ast.parse("".join(lines)).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name == name:
            start = min([node.lineno] + [d.lineno for d in node.decorator_list]) - 1
            return "".join(lines[start:node.end_lineno])
    return None


def reference_sources(withheld: dict[str, list[str]]) -> dict[str, str]:
    """'cnnkit.module.name' -> the numpy reference's source, for every withheld name."""
    out = {}
    for names in withheld.values():
        for q in names:
            module, name = q.rsplit(".", 1)
            out[q] = definition_source(REPO / Path(*module.split(".")).with_suffix(".py"), name) or ""
    return out


def _replace_printed_sources(nb: dict, withheld: dict[str, list[str]]) -> bool:
    """A stored output that shows a withheld reference's source (a lecture's
    print(inspect.getsource(...))) shows the stand-in's instead, as the cell prints in the pack."""
    refs = reference_sources(withheld)
    changed = False
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            if "text" not in out:
                continue
            text = "".join(out["text"])
            for q, ref in refs.items():
                if ref and ref in text:
                    text = text.replace(ref, definition_source(REPO / LIBRARY / "_standins.py", q.rsplit(".", 1)[1]))
            if text != "".join(out["text"]):
                out["text"] = text.splitlines(keepends=True)
                changed = True
    return changed


def _write_lectures(dest: Path, stems: list[str], withheld: dict[str, list[str]], calendar: Calendar,
                    lectures: Path = REPO / "lectures"):
    (dest / "lectures").mkdir()
    noted = {}
    for stem in stems:
        src = lectures / f"{stem}.ipynb"
        nb = json.loads(src.read_text())
        changed = bool(_replace_printed_sources(nb, withheld))
        code = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
        used, by = [], []
        for assignment, names in withheld.items():
            hits = [q for q in names if re.search(rf"\b{re.escape(q.rsplit('.', 1)[1])}\b", code)]
            if hits:
                used += [q.split(".", 1)[1] for q in hits]
                by.append(assignment)
        if used:
            nb["cells"].insert(1, _note_cell(used, by, calendar, changed))
            noted[stem] = by
        if used or changed:
            (dest / "lectures" / f"{stem}.ipynb").write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
        else:
            shutil.copyfile(src, dest / "lectures" / f"{stem}.ipynb")
    return noted


def _notebooks(root: Path) -> list[Path]:
    return sorted(root.glob("lectures/*.ipynb")) + sorted(root.glob("assignments/*/*.ipynb"))


def data_files(root: Path, notebook: Path) -> dict[str, str]:
    """The files a notebook of the pack may read beside it: every file in its folder (and below)
    that is not a notebook, as {path in the pack: path relative to the notebook}."""
    folder = notebook.parent
    out = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if path.is_file() and path.suffix != ".ipynb" and not any(p.startswith((".", "__")) for p in rel.parts):
            out[path.relative_to(root).as_posix()] = rel.as_posix()
    return out


def _add_setup_cells(root: Path, hosting: hosted.HostedConfig, tag: str, torch_pin: str) -> None:
    """Every notebook of the pack starts with the setup cell (autograder/hosted.py)."""
    for path in _notebooks(root):
        nb = json.loads(path.read_text())
        if nb.get("nbformat") != 4 or nb.get("nbformat_minor", 0) < 5:
            raise CourseError(f"{path.relative_to(root)} is nbformat {nb.get('nbformat')}.{nb.get('nbformat_minor')}: "
                              "the setup cell needs 4.5 or newer (cell ids); rebuild it with tools/build_notebooks.py")
        if any(c.get("id") == hosted.SETUP_ID for c in nb["cells"]):
            raise CourseError(f"{path.relative_to(root)} already has a cell with the id {hosted.SETUP_ID!r}")
        nb["cells"].insert(0, hosted.setup_cell(hosting, tag, torch_pin, data_files(root, path)))
        path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")


def _torch_pin(requirements: str) -> str:
    found = re.search(r"^torch==[0-9][0-9.]*$", requirements, flags=re.M)
    if not found:
        raise CourseError("requirements.txt must pin torch (torch==X.Y.Z): the setup cell installs that version "
                          "on a hosted runtime whose own torch the course does not support")
    return found.group(0)


def _requirements() -> str:
    lines = (REPO / "requirements.txt").read_text().splitlines()
    picked = []
    for name in STUDENT_PACKAGES:
        found = [ln for ln in lines if re.match(rf"{re.escape(name)}(\[.*\])?\s*([=<>!~]|$)", ln)]
        if not found:
            raise CourseError(f"requirements.txt has no line for {name}, which the student pack needs")
        picked.append(found[0])
    return ("# The course for students: Python 3.11. torch is pinned (an unpinned torch pulls several GB of\n"
            "# CUDA packages). On a CPU-only Linux machine you can install the small CPU build first:\n"
            "#   pip install torch==<the version below> --index-url https://download.pytorch.org/whl/cpu\n"
            + "\n".join(picked) + "\n# the course library, editable\n-e .\n")


PYPROJECT = """[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "cnnkit"
version = "{version}"
description = "Helper library for the CNN architectures course (student release of {as_of})."
requires-python = ">=3.10"
dependencies = ["numpy", "torch", "matplotlib", "scikit-learn", "tqdm"]

[tool.setuptools.packages.find]
include = ["cnnkit*"]
"""

OPEN_COMMAND = ('python3 -m venv .venv && .venv/bin/pip install -r requirements.txt && '
                '.venv/bin/jupyter lab $([ "$(id -u)" = 0 ] && echo --allow-root)')
CHECK_COMMAND = ".venv/bin/nbgrader validate assignments/{example}"


def _hosted_sections(hosting: hosted.HostedConfig, tag: str, notebooks: list[str], torch_pin: str) -> list[str]:
    low, high = (".".join(map(str, v)) for v in hosting.keep_torch)
    rows = [f"| `{p}` | {hosted.badges(hosting, tag, p)} |" for p in notebooks]
    return [
        "## In the browser: Colab or Binder\n",
        "No Python 3.11 on your machine? Open any notebook of this release in Google Colab (free, with a GPU "
        "on request; needs a Google account) or on Binder (CPU only, slower to start, and nothing is kept "
        "once you close the tab):\n",
        "| notebook | open it in |\n| --- | --- |", *rows, "",
        "Every notebook starts with a **Course setup** cell: run it first. On Colab it installs the course "
        f"library `cnnkit` from this release ({hosting.url}, tag `{tag}`), keeping "
        f"Colab's own PyTorch when it is version {low} or newer and older than {high} (otherwise it installs "
        f"`{torch_pin}`). On your own machine, the course's JupyterHub and Binder it does nothing. It "
        "prints one line saying what it did. Each Colab notebook runs in its own runtime, so each one "
        "runs the setup again.\n",
        "On Colab, *Runtime > Change runtime type > T4 GPU* gives lecture 10 and A4 a GPU. A T4 has no fast "
        "bf16 (compute capability 7.5), so `cnnkit.train.fit` trains there in fp16 with a gradient scaler; "
        "on GPUs of compute capability 8.0 and newer it uses bf16.\n",
        "## Saving and handing in from Colab\n",
        "Colab does not save into this repository: a notebook opened from the link above is lost when its "
        "runtime ends unless you save it. Choose *File > Save a copy in Drive* before you start, and work in "
        "that copy. To hand in an assignment:\n",
        "1. *Runtime > Restart session and run all*, and check that the test cells pass.\n"
        "2. *File > Download > Download .ipynb*.\n"
        "3. Upload the downloaded file to the course's learning-management system (LMS), as your "
        "instructor asks.\n",
        "The grader accepts the file as Colab writes it. Colab adds its own metadata (a `colab` section, "
        "ids on every cell, its own kernel entry, an older notebook format version) and may name the file "
        "`Copy of ...ipynb`; the instructor's `collect` files it under your student id all the same (an "
        "assignment with one notebook accepts any `.ipynb` name), and `grade` clears the outputs, runs the "
        "notebook from the top with the course's own Python kernel, where the setup cell does nothing, "
        "and grades it like any other. The grader finds your answers by the marks that each answer and "
        "test cell of the released notebook carries, so work in the notebook you opened from this "
        "release: do not paste your code into a new notebook.\n",
    ]


def _readme(as_of: dt.date, stems: list[str], assignments: list[Assignment], standins: dict[str, list[str]],
            calendar: Calendar, hosting: hosted.HostedConfig | None = None, tag: str = "",
            notebooks: list[str] = (), torch_pin: str = "") -> str:
    example = "A1/A1_mlp_backprop.ipynb"
    for a in assignments:
        nbs = sorted(a.released.glob("*.ipynb"))
        if nbs:
            example = f"{a.name}/{nbs[0].name}"
    parts = [
        "# CNN architectures, from backprop to ResNet: the course\n",
        f"Lectures and assignments released by {as_of}. Later lectures and assignments come in a new "
        "release of this folder; your own work in `assignments/` is yours to keep (copy it over).\n",
        "## Two commands\n",
        "Open the course in JupyterLab (Python 3.11, Linux or macOS; installs everything first):\n",
        f"<!-- open-command -->\n```\n{OPEN_COMMAND}\n```\n",
        "Check your work on an assignment: runs the notebook from top to bottom and reports every visible "
        "test that fails (save the notebook first). The grader runs more tests than these.\n",
        f"<!-- check-command -->\n```\n{CHECK_COMMAND.format(example=example)}\n```\n",
        "It prints `Success! Your notebook passes all the tests.` when every visible test passes, and "
        "`VALIDATION FAILED ON n CELL(S)` with the failing cells otherwise.\n",
        "## Lectures\n",
        *[f"- `lectures/{s}.ipynb` (released {calendar.lectures[s]})" for s in stems], "",
        "## Assignments\n",
        *([f"- `assignments/{a.name}/`: released {a.release}, due {a.due}" for a in assignments]
          or ["None released yet."]), "",
    ]
    if hosting is not None:
        parts += _hosted_sections(hosting, tag, list(notebooks), torch_pin)
    if standins:
        parts += ["## The course library and open assignments\n",
                  "`cnnkit` is the library every lecture imports. While an assignment is open, the library "
                  "functions it asks you to write are stand-ins computed by PyTorch (same arguments, same "
                  "results); their numpy versions come with the first release after the assignment is due:\n",
                  *[f"- {a} (due {calendar.assignments[a].due}): "
                    + ", ".join(f"`{n.split('.', 1)[1]}`" for n in names) for a, names in standins.items()], ""]
    return "\n".join(parts).rstrip() + "\n"


def scan_for_secrets(root: Path) -> list[str]:
    """Files under root (.git aside) that hold an nbgrader solution or hidden-test marker."""
    bad = []
    for path in sorted(root.rglob("*")):
        if ".git" in path.relative_to(root).parts or not path.is_file():
            continue
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        for marker in MARKERS:
            if marker in text:
                bad.append(f"{path.relative_to(root)}: {marker}")
    return bad


def _git(root: Path, as_of: dt.date, branch: str = "main", tag: str | None = None) -> None:
    # the course's own identity, and no system or user git configuration (hooks, templates) in the way
    env = {"GIT_AUTHOR_NAME": "course", "GIT_AUTHOR_EMAIL": "course@localhost", "GIT_COMMITTER_NAME": "course",
           "GIT_COMMITTER_EMAIL": "course@localhost", "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
           "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull, "HOME": str(root)}
    if not shutil.which("git"):
        raise CourseError("the student pack is a git repository, and git is not installed (apt-get install git)")
    for cmd in (["git", "init", "-q", "-b", branch], ["git", "add", "-A"],
                ["git", "commit", "-q", "-m", f"Course release of {as_of}"],
                *([["git", "tag", "-a", tag, "-m", f"Course release of {as_of}"]] if tag else [])):
        result = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True)
        if result.returncode:
            raise CourseError(f"{' '.join(cmd)} failed in {root}: {result.stderr.strip()}")


def _zip(root: Path, to: Path) -> None:
    with zipfile.ZipFile(to, "w", zipfile.ZIP_DEFLATED) as z:
        for path in sorted(root.rglob("*")):
            rel = path.relative_to(root)
            if ".git" in rel.parts or not path.is_file():
                continue
            z.write(path, Path(root.name) / rel)


def _write_runtime(stage: Path, hosting: hosted.HostedConfig, tag: str) -> tuple[str, str]:
    """What installs and runs the pack: requirements.txt, each notebook's setup cell for a hosted
    runtime, Binder's files. Returns (requirements text, the torch pin)."""
    requirements = _requirements()
    torch_pin = _torch_pin(requirements)
    (stage / "requirements.txt").write_text(requirements)
    _add_setup_cells(stage, hosting, tag, torch_pin)
    for rel, text in hosted.binder_files(requirements).items():
        (stage / rel).parent.mkdir(parents=True, exist_ok=True)
        (stage / rel).write_text(text)
    (stage / "binder" / "postBuild").chmod(0o755)
    return requirements, torch_pin


def build(dest: Path, as_of: dt.date, calendar: Calendar | None = None, make_zip: bool = True,
          hosting: hosted.HostedConfig | None = None, source: Course | None = None) -> Pack:
    """Write the student pack of the course `source` (default: this repository) as of `as_of` to
    dest (which must not exist or be empty) and dest.zip. calendar: default source.calendar();
    hosting: where the pack is published (default: course.toml [pack])."""
    source = source or Course()
    calendar = calendar or source.calendar()
    hosting = hosted.check_config(hosting) if hosting is not None else hosted.load_config()
    tag = hosting.release_tag(as_of)
    dest = Path(dest)
    zip_path = dest.with_name(dest.name + ".zip") if make_zip else None
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise CourseError(f"{dest} exists and is not empty: choose a new folder (nothing is overwritten)")
    if zip_path and zip_path.exists():
        raise CourseError(f"{zip_path} exists: move it away or choose another folder (nothing is overwritten)")
    stems = sorted(s for s, d in calendar.lectures.items() if as_of >= d)
    released = [a for a in sorted(calendar.assignments.values(), key=lambda a: a.name) if a.is_released(as_of)]
    for a in released:
        if not a.released.is_dir():
            raise CourseError(f"{a.name} is released by {as_of} but assignments/{a.name} is missing: "
                              f"run `python -m autograder release {a.name}` first")
    withheld = _withheld(calendar, as_of)

    stage = dest.with_name(dest.name + ".partial")
    if stage.exists():
        shutil.rmtree(stage)
    stage.mkdir(parents=True)
    try:
        noted = _write_lectures(stage, stems, withheld, calendar, source.lectures)
        (stage / "assignments").mkdir()
        for a in released:
            shutil.copytree(a.released, stage / "assignments" / a.name,
                            ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
        _write_library(stage, withheld, calendar)
        from cnnkit import __version__

        (stage / "pyproject.toml").write_text(PYPROJECT.format(version=__version__, as_of=as_of))
        requirements, torch_pin = _write_runtime(stage, hosting, tag)
        notebooks = [p.relative_to(stage).as_posix() for p in _notebooks(stage)]
        (stage / "README.md").write_text(_readme(as_of, stems, released, withheld, calendar, hosting, tag,
                                                 notebooks, torch_pin))
        (stage / ".gitignore").write_text(".venv/\n__pycache__/\n*.pyc\n.ipynb_checkpoints/\n*.egg-info/\n")
        bad = scan_for_secrets(stage)
        if bad:
            raise CourseError("the pack would hold solution or hidden-test text; nothing was written:\n  "
                              + "\n  ".join(bad))
        _check_withheld(stage, withheld)
        _git(stage, as_of, hosting.branch, tag)
        if dest.exists():
            dest.rmdir()
        stage.rename(dest)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    if zip_path:
        _zip(dest, zip_path)
    return Pack(dest, zip_path, as_of, stems, [a.name for a in released], withheld, noted, hosting, tag)


def distinctive_lines(withheld: dict[str, list[str]]) -> dict[str, list[str]]:
    """For each withheld reference, the lines of its body (stripped, over 20 characters) that no
    other part of the library holds: the lines that would give it away."""
    refs = reference_sources(withheld)
    rest = []
    for path in sorted((REPO / LIBRARY).rglob("*.py")):
        text = path.read_text()
        for src in refs.values():
            if src:
                text = text.replace(src, "")
        rest.append(text)
    known = {ln.strip() for text in rest for ln in text.splitlines()}
    return {q: [ln.strip() for ln in src.splitlines()[1:] if len(ln.strip()) > 20 and ln.strip() not in known]
            for q, src in refs.items()}


def _text_of(path: Path) -> str:
    text = path.read_text()
    if path.suffix == ".ipynb":  # sources and outputs as they read, not JSON-escaped
        nb = json.loads(text)
        text = "\n".join("".join(c.get("source", "")) + "\n" + "".join(
            "".join(o.get("text", "")) + "".join(o.get("data", {}).get("text/plain", ""))
            for o in c.get("outputs", [])) for c in nb["cells"])
    return text


def _check_withheld(root: Path, withheld: dict[str, list[str]]) -> None:
    """No withheld name may still be defined in the pack's library, nor a line of its body that
    only it holds appear in any file of the pack."""
    lines = distinctive_lines(withheld)
    for path in sorted(root.rglob("*")):
        if ".git" in path.relative_to(root).parts or not path.is_file():
            continue
        try:
            text = {ln.strip() for ln in _text_of(path).splitlines()}
        except (UnicodeDecodeError, json.JSONDecodeError):
            continue
        for q, body in lines.items():
            found = [ln for ln in body if ln in text]
            if found:
                raise CourseError(f"{path.relative_to(root)} holds the source of {q} ({found[0]!r}), "
                                  f"which stays out of the pack until its assignment is due")
    for names in withheld.values():
        for q in names:
            module, name = q.rsplit(".", 1)
            path = root / Path(*module.split(".")).with_suffix(".py")
            for node in ast.parse(path.read_text()).body:
                if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name == name:
                    raise CourseError(f"internal error: {q} is still defined in the pack's {path.name}")
