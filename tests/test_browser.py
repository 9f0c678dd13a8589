"""The course as a student sees it: JupyterLab in a real (headless) browser.

JupyterLab runs on a temp folder that holds copies of the notebooks with their stored outputs
removed, so every plot and error seen here comes from this run, and nothing the browser, the
Validate button or autosave writes reaches the repository. Screenshots go to test-output/browser/.

Needs the system's Chromium and chromedriver (/usr/bin/chromium, /usr/bin/chromedriver; Debian:
apt-get install chromium chromium-driver) and selenium; skipped with the reason when one is missing.
"""
from __future__ import annotations

import shutil
import time
from pathlib import Path

import nbformat
import pytest

try:  # tests/ as a package (tests/__init__.py) or as a plain folder on sys.path
    from tests import browser_lab as bl
except ImportError:
    import browser_lab as bl

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "test-output" / "browser"
LECTURE = "lectures/01_mlp_activations.ipynb"
A1 = "assignments/A1/A1_mlp_backprop.ipynb"
A1_SOLUTION = ROOT / "solutions" / "A1" / "A1_mlp_backprop.ipynb"

_missing = bl.missing_browser()
pytestmark = [
    pytest.mark.skipif(_missing is not None, reason=_missing or ""),
    # One JupyterLab and one browser for the module: loadscope (pyproject) keeps a module's tests on
    # one xdist worker; the group also holds under --dist loadgroup.
    pytest.mark.xdist_group("browser"),
]


def _copy_without_outputs(src: Path, dst: Path) -> None:
    nb = nbformat.read(src, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    dst.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, dst)


def _released_a1(work: Path) -> Path | None:
    """The released student notebook; released here from solutions/ when assignments/ lacks it."""
    if (ROOT / A1).is_file():
        return ROOT / A1
    if not A1_SOLUTION.is_file():
        return None
    from autograder import api

    release = api.release("A1", work / "course", release_dir=work / "release")
    return release / Path(A1).name


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    work = tmp_path_factory.mktemp("browser")
    root = work / "root"
    _copy_without_outputs(ROOT / LECTURE, root / LECTURE)
    a1 = _released_a1(work)
    if a1 is not None:
        _copy_without_outputs(a1, root / A1)
    # nbgrader's Validate button reads the course's configuration from the server's root folder.
    shutil.copy(ROOT / "nbgrader_config.py", root / "nbgrader_config.py")
    (root / "autograder").mkdir()
    shutil.copy(ROOT / "autograder" / "nbgrader_config.py", root / "autograder" / "nbgrader_config.py")

    server = bl.Lab(root, work)
    driver = None
    try:
        driver = bl.start_chromium(work / "chromium-profile")
        yield server, driver, root
    finally:
        if driver is not None:
            driver.quit()
        server.stop()


def _run_all(driver, timeout: float) -> dict:
    """Run > Run All Cells; wait until every queued cell has run (the run stops at an error)."""
    before = _max_count(bl.notebook_state(driver))
    bl.click_menu(driver, "Run", "Run All Cells")
    return bl.wait_until_idle(driver, timeout, started=lambda st: _max_count(st) > before)


def _run_from(driver, index: int, timeout: float) -> dict:
    """Select cell `index` and run it and every cell below it (Run > Run Selected Cell and All Below)."""
    before = _max_count(bl.notebook_state(driver))
    bl.scroll_to_cell(driver, index)
    bl.click_menu(driver, "Run", "Run Selected Cell and All Below")
    return bl.wait_until_idle(driver, timeout, started=lambda st: _max_count(st) > before)


def _max_count(state) -> int:
    return max((c.get("count") or 0 for c in (state or {}).get("cells", [])), default=0)


def _describe(errs) -> str:
    return "\n\n".join(f"cell {i}: {o['ename']}: {o['evalue']}\n{bl.ANSI.sub('', o['traceback'])[-1500:]}"
                       for i, o in errs)


def test_lecture_01_runs_clean_and_shows_plots(lab):
    server, driver, _ = lab
    t0 = time.monotonic()
    bl.open_notebook(driver, server, LECTURE)
    state = _run_all(driver, timeout=150)

    code = [c for c in state["cells"] if c["type"] == "code"]
    errs = bl.errors(state)
    bl.shot(driver, SHOTS, "lecture01_end")
    assert not errs, f"{LECTURE} shows errors in JupyterLab:\n{_describe(errs)}"
    not_run = [c["i"] for c in code if not c["count"]]
    assert not not_run, f"cells {not_run} of {LECTURE} did not run"
    warned = [(c["i"], o["text"]) for c in code for o in c["outputs"]
              if o["type"] == "stream" and o["name"] == "stderr" and "Warning" in o["text"]]
    assert not warned, f"{LECTURE} prints warnings: {warned}"

    plots = [c["i"] for c in code if any("image/png" in o["mimes"] for o in c["outputs"])]
    assert plots, f"{LECTURE} rendered no plot"
    bl.scroll_to_cell(driver, plots[0])
    sizes = driver.execute_script(bl.JS_PANEL + """
return Array.from(w.content.widgets[arguments[0]].node.querySelectorAll('.jp-OutputArea-output img'))
  .map(img => ({complete: img.complete, natural: img.naturalWidth, shown: img.getBoundingClientRect().width,
                area: img.closest('.jp-OutputArea-output').getBoundingClientRect().width}));""", plots[0])
    bl.shot(driver, SHOTS, "lecture01_plot")
    assert sizes and all(s["complete"] and s["natural"] > 0 for s in sizes), f"plot not drawn: {sizes}"
    assert all(s["shown"] <= s["area"] + 1 for s in sizes), f"plot wider than the page: {sizes}"
    print(f"lecture 01 in the browser: {len(code)} code cells, plots in cells {plots}, "
          f"img sizes {sizes}, {time.monotonic() - t0:.0f} s")


def test_assignment_a1_fails_with_helpful_messages(lab):
    server, driver, root = lab
    if not (root / A1).is_file():
        pytest.skip(f"no {A1} and no solutions/A1 to release it from")
    t0 = time.monotonic()
    bl.open_notebook(driver, server, A1)

    # The untouched student notebook, Run All. Should a run stop at a failing cell, go on from the
    # first cell that did not run, so that every visible test cell runs.
    state = _run_all(driver, timeout=120)
    for _ in range(len(state["cells"])):
        not_run = [c["i"] for c in state["cells"] if c["type"] == "code" and not c["count"]]
        if not not_run:
            break
        state = _run_from(driver, not_run[0], timeout=120)

    errs = bl.errors(state)
    assert errs, "the released notebook, with nothing written, raised no error"
    cells = {c["i"]: c for c in state["cells"]}
    from_library = [(i, o) for i, o in errs if not _raised_by_student_code_or_grading(o)]
    assert not from_library, ("errors raised inside the course library instead of the student's code or "
                              f"cnnkit.grading:\n{_describe(from_library)}")

    tests = [c for c in state["cells"] if ((c["nbgrader"] or {}).get("grade_id") or "").endswith("__tests")]
    assert tests, "no visible test cells (grade ids ending in __tests) in the released notebook"
    for c in tests:
        assert c["count"], f"visible test cell {c['i']} ({c['nbgrader']['grade_id']}) never ran"
        es = [o for o in c["outputs"] if o["type"] == "error"]
        assert es, f"visible test cell {c['nbgrader']['grade_id']} passes with nothing written"
        assert es[0]["ename"] in ("NotImplementedError", "AssertionError"), (
            f"test cell {c['nbgrader']['grade_id']}: {_describe([(c['i'], es[0])])}")
        assert es[0]["ename"] in c["shown"], f"the error of cell {c['i']} is not shown on the page"
    stubs = [i for i, o in errs if o["ename"] == "NotImplementedError"]
    assert stubs, "no NotImplementedError from the stubs"
    bl.scroll_to_output_end(driver, tests[0]["i"])
    bl.shot(driver, SHOTS, "A1_first_test_fails")

    # A student's first, wrong attempt at part 1: the grading helper's message must say what was
    # expected, what came and give a hint.
    part1 = _solution_source("activations")
    idx = next((c["i"] for c in state["cells"] if (c["nbgrader"] or {}).get("grade_id") == "activations"), None)
    test_idx = next((c["i"] for c in tests if c["nbgrader"]["grade_id"] == "activations__tests"), None)
    if part1 is not None and idx is not None and test_idx is not None:
        attempt = part1 + ("\n\n\ndef sigmoid_forward(x):\n    out = 1.0 / (1.0 + np.exp(x))  # a slip: exp(x), not exp(-x)\n"
                           "    return out, out\n")
        driver.execute_script(bl.JS_PANEL + "w.content.widgets[arguments[0]].model.sharedModel.setSource(arguments[1]);",
                              idx, attempt)
        state = _run_from(driver, idx, timeout=90)
        es = [o for o in state["cells"][test_idx]["outputs"] if o["type"] == "error"]
        assert es and es[0]["ename"] == "AssertionError", f"the wrong sigmoid gave {es}"
        assert bl.innermost_frame(es[0]["traceback"]).endswith("cnnkit/grading.py"), _describe([(test_idx, es[0])])
        for words in ("sigmoid_forward", "expected", "got", "Hint:"):
            assert words in es[0]["evalue"], f"the failure message lacks {words!r}: {es[0]['evalue']!r}"
        assert "AssertionError" in state["cells"][test_idx]["shown"]
        plot_cells = [c["i"] for c in state["cells"][idx:test_idx]
                      if c["type"] == "code" and any("image/png" in o["mimes"] for o in c["outputs"])]
        bl.scroll_to_output_end(driver, test_idx)
        bl.shot(driver, SHOTS, "A1_wrong_attempt")
        assert plot_cells, "the plot of the student's activations did not render"

    # nbgrader's Validate button (lab extension + server extension) on the student notebook.
    from selenium.webdriver.common.by import By

    buttons = [e for e in driver.find_elements(By.CSS_SELECTOR, ".jp-NotebookPanel-toolbar .jp-Toolbar-item")
               if e.text.strip() == "Validate"]
    assert buttons, "nbgrader's Validate button is missing from the notebook toolbar"
    buttons[0].click()
    dialog = bl.wait_for("nbgrader's validation results", lambda: [
        d for d in driver.find_elements(By.CSS_SELECTOR, ".jp-Dialog") if "Validation Results" in d.text
        and ("failed" in d.text or "passed" in d.text or "Success" in d.text)], timeout=120, interval=1)
    text = dialog[0].text
    bl.shot(driver, SHOTS, "A1_validate")
    assert "failed" in text, f"Validate did not report the failing tests: {text[:500]}"
    for b in dialog[0].find_elements(By.CSS_SELECTOR, "button"):
        if b.text.strip() in ("Ok", "OK"):
            b.click()
    print(f"A1 in the browser: errors in cells {[i for i, _ in errs]}, {time.monotonic() - t0:.0f} s")


def _raised_by_student_code_or_grading(output: dict) -> bool:
    """The error comes from a notebook cell (a stub, a test's own check, a name a failed cell did
    not define) or from cnnkit.grading's message, not from deep inside the course library."""
    frame = bl.innermost_frame(output["traceback"])
    return frame.startswith("Cell In[") or frame.endswith("cnnkit/grading.py")


def _solution_source(grade_id: str) -> str | None:
    """The instructor's solution of one cell, without nbgrader's solution markers."""
    if not A1_SOLUTION.is_file():
        return None
    for cell in nbformat.read(A1_SOLUTION, as_version=4).cells:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id:
            return "\n".join(line for line in cell.source.splitlines()
                             if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION"))
    return None
