"""Build the course website from the stored notebooks, without running them.

    python tools/build_site.py                 # -> build/site/index.html
    python tools/build_site.py --out DIR       # somewhere else

Sphinx with MyST-NB reads the lectures and the released (student) assignments as they are
stored, outputs and plots included, with execution off; Furo gives the navigation (sidebar,
previous/next) and Sphinx's own search. Math is rendered by a copy of MathJax 3 that ships with
sphinx-mathjax-offline, so the site needs no network to build or to read.

The pages come from the repository's own files, so the site cannot disagree with them:
- the home page is README.md's introduction and course map, each notebook linked;
- "Running the course" is README.md's sections on setting up, students and GPUs;
- "Instructor guide" is autograder/README.md.
Only `lectures/` and `assignments/` (the student versions) are published: never `solutions/`.
Every notebook page opens with an "Open in Colab" and a "Launch Binder" link to the same notebook
in the student pack's public repository (course.toml [pack], at its branch; autograder/hosted.py).
The build fails (exit 1) on any Sphinx warning: a broken cross-reference, a missing image, or a
notebook that is not in the table of contents.
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from pathlib import Path

from autograder import hosted

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "build" / "site"
LECTURES = "lectures/*.ipynb"
ASSIGNMENTS = "assignments/*/*.ipynb"
RUNNING_SECTIONS = ("Two commands", "Students", "GPU")

CONF = '''\
project = "CNN architectures, from backprop to ResNet"
author = "the course authors"
extensions = ["myst_nb", "sphinx-mathjax-offline"]
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3
nb_execution_mode = "off"          # the stored outputs are the ones the tests compare
nb_merge_streams = True
html_theme = "furo"
html_title = project
html_static_path = []
html_favicon = "favicon.svg"
exclude_patterns = ["_build"]
suppress_warnings = ["myst.header"]  # notebooks may start at '##' after a title cell
'''


def sections(markdown: str) -> dict[str, str]:
    """README-style '## Title' sections: {title: body}."""
    parts = re.split(r"^## (.+)$", markdown, flags=re.M)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts), 2)}


def _title(nb_path: Path) -> str:
    import nbformat

    nb = nbformat.read(nb_path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return nb_path.stem


def home_page(readme: str, lectures: list[str], assignments: list[str]) -> str:
    """README's title, introduction and course map, with each notebook linked, then the tables
    of contents."""
    title, _, rest = readme.partition("\n")
    intro = rest.split("\n## ", 1)[0].strip()
    course_map = sections(readme).get("Course map", "")
    pages = {Path(p).with_suffix("").as_posix(): p for p in lectures}
    for p in assignments:
        pages[Path(p).parent.as_posix()] = p

    def link(match):
        target = pages.get(match.group(1))
        if target is None:
            raise SystemExit(f"README.md's course map names {match.group(1)}, which is not published")
        return f"[`{match.group(1)}`]({target})"

    course_map = re.sub(r"`((?:lectures|assignments)/[^`]+)`", link, course_map)
    toc = ["", "```{toctree}", ":caption: Lectures", ":maxdepth: 1", "", *lectures, "```", "",
           "```{toctree}", ":caption: Assignments (student versions)", ":maxdepth: 1", "", *assignments, "```", "",
           "```{toctree}", ":caption: Using the course", ":maxdepth: 1", "", "running", "instructors", "```", ""]
    return "\n".join([title, "", intro, "", "## Course map", course_map.strip(), *toc])


def running_page(readme: str, config: hosted.HostedConfig | None = None) -> str:
    found = sections(readme)
    body = ["# Running the course", "",
            "How to set the course up and open it: on your own machine, on a shared JupyterHub, and on "
            "a GPU machine. (From the repository's README.)", ""]
    for name in RUNNING_SECTIONS:
        if name not in found:
            raise SystemExit(f"README.md has no '## {name}' section for the 'Running the course' page")
        body += [f"## {name}", found[name].strip(), ""]
    body += ["## On a shared JupyterHub",
             "Install `requirements.txt` into the hub's single-user image (a GPU image picks the GPU "
             "automatically), and give each student a copy of the repository, e.g. with nbgitpuller or a "
             "`git clone` in their home folder; the README's open command is then the hub's "
             "JupyterLab. Assignments are handed out and collected through your LMS; see the "
             "[instructor guide](instructors.md).", ""]
    if config is not None:
        body += ["## In the browser: Colab or Binder",
                 "Every lecture and assignment page starts with an *Open in Colab* and a *Launch Binder* link. "
                 f"They open the notebook from the student release ({config.url}, branch `{config.branch}`), "
                 "which holds the lectures and assignments released so far: a notebook appears there on its "
                 "release day. Its first cell, *Course setup*, installs the course library on Colab (keeping "
                 "Colab's own PyTorch) and does nothing on Binder or your own machine. On Colab, *Runtime > "
                 "Change runtime type > T4 GPU* gives lecture 10 and A4 a GPU (training there uses fp16 with a "
                 "gradient scaler). To hand in from Colab, *File > Download > Download .ipynb* and upload the "
                 "file to the LMS: the grader accepts Colab's notebooks as they are.", ""]
    return "\n".join(body)


HOSTED_CELL_ID = "hosted-links"


def hosted_links(config: hosted.HostedConfig, rel: str) -> str:
    """The markdown line of a notebook page that opens the notebook in Colab or Binder, from the
    student pack's repository at its branch (text links: the site loads nothing from elsewhere)."""
    return (f"**Run it yourself:** [Open in Colab]({hosted.colab_url(config, config.branch, rel)}) · "
            f"[Launch Binder]({hosted.binder_url(config, config.branch, rel)}) "
            "(the student release of this notebook; its first cell sets Colab up)")


def add_hosted_links(path: Path, rel: str, config: hosted.HostedConfig) -> None:
    """Put the Colab and Binder links of a staged notebook right after its title cell."""
    nb = json.loads(path.read_text())
    at = next((i + 1 for i, c in enumerate(nb["cells"]) if c["cell_type"] == "markdown"
               and re.search(r"^# ", "".join(c["source"]), flags=re.M)), 0)
    cell = {"cell_type": "markdown", "metadata": {}, "source": hosted_links(config, rel)}
    if nb.get("nbformat_minor", 0) >= 5:
        cell["id"] = HOSTED_CELL_ID
    nb["cells"].insert(at, cell)
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")


def stage(src: Path) -> list[str]:
    """Write the Sphinx source tree into src; returns the published notebooks' paths."""
    if src.exists():
        shutil.rmtree(src)
    src.mkdir(parents=True)
    lectures = sorted(p.relative_to(ROOT).as_posix() for p in ROOT.glob(LECTURES))
    assignments = sorted(p.relative_to(ROOT).as_posix() for p in ROOT.glob(ASSIGNMENTS))
    if not lectures or not assignments:
        raise SystemExit("no notebooks to publish: expected lectures/*.ipynb and assignments/*/*.ipynb")
    config = hosted.load_config()
    for rel in lectures + assignments:
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, src / rel)
        add_hosted_links(src / rel, rel, config)
    readme = (ROOT / "README.md").read_text()
    (src / "conf.py").write_text(CONF)
    shutil.copy2(ROOT / "docs" / "site" / "favicon.svg", src / "favicon.svg")
    (src / "index.md").write_text(home_page(readme, lectures, assignments))
    (src / "running.md").write_text(running_page(readme, config))
    (src / "instructors.md").write_text((ROOT / "autograder" / "README.md").read_text())
    return lectures + assignments


def sphinx_build(src: Path, out: Path, quiet: bool = True) -> None:
    """Run Sphinx on a staged source tree; any warning fails it (SystemExit)."""
    from sphinx.cmd.build import build_main

    if out.exists():
        shutil.rmtree(out)
    args = ["-b", "html", "-W", "--keep-going", "-n", "-E", "-d", str(src / "_doctrees"), str(src), str(out)]
    if quiet:
        args.insert(0, "-q")
    code = build_main(args)
    if code != 0:
        raise SystemExit(f"the site build failed (exit {code}): see the warnings above")


def build(out: Path = DEFAULT_OUT, quiet: bool = True) -> Path:
    """Build the site into out (replacing it; the staged sources go beside it, in OUT-src);
    returns out/index.html. Raises SystemExit on any warning."""
    out = Path(out).resolve()
    src = out.parent / (out.name + "-src")
    stage(src)
    sphinx_build(src, out, quiet)
    return out / "index.html"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT.relative_to(ROOT)})")
    ap.add_argument("--verbose", action="store_true", help="print Sphinx's progress")
    args = ap.parse_args(argv)
    index = build(args.out, quiet=not args.verbose)
    print(f"built {index}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
