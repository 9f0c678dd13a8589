"""The course website (tools/build_site.py): built from the stored notebooks, checked in files
and in headless Chromium.

The site is built once into a temporary folder. File checks: every lecture and released
assignment has a page, nothing of solutions/ (solution code, hidden tests) is on any page, and
the build fails on a broken reference, a missing image or a notebook outside the table of
contents. Every notebook page links the same notebook in Colab and Binder, from the student pack's
repository (course.toml [pack]), and nothing else there. Browser checks (the system's Chromium, as
in test_browser.py): the home page lists every lecture and assignment, every notebook page shows
its two links, a lecture shows rendered math and loaded plots with no console errors, and the
search finds a term of lecture 08. Screenshots go to test-output/browser/.
"""
from __future__ import annotations

import functools
import http.server
import re
import threading
from pathlib import Path

import pytest

from autograder import hosted
from tests import browser_lab as bl
from tools import build_site

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "test-output" / "browser"
LECTURES = sorted(p.stem for p in ROOT.glob(build_site.LECTURES))
ASSIGNMENTS = sorted(p.parent.name for p in ROOT.glob(build_site.ASSIGNMENTS))
NOTEBOOKS = sorted(p.relative_to(ROOT).as_posix() for p in [*ROOT.glob(build_site.LECTURES), *ROOT.glob(build_site.ASSIGNMENTS)])
PACK = hosted.load_config()
HOSTED = re.compile(r"https://(?:colab\.research\.google\.com|mybinder\.org)/")


def expected_links(rel: str) -> list[str]:
    """The Colab and Binder links of a notebook's page: the pack's repository, its branch, the same path."""
    owner_repo = PACK.url.removeprefix("https://github.com/")
    return [f"https://colab.research.google.com/github/{owner_repo}/blob/{PACK.branch}/{rel}",
            f"https://mybinder.org/v2/gh/{owner_repo}/{PACK.branch}?labpath={rel.replace('/', '%2F')}"]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    return build_site.build(tmp_path_factory.mktemp("site") / "html").parent


def _flat(text: str) -> str:
    """Source as a reader sees it: comment markers dropped, whitespace runs made one space."""
    return " ".join(re.sub(r"^\s*# ?", "", text, flags=re.M).split())


HIDDEN = r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS"
SOLUTION = r"### BEGIN SOLUTION\n(.*?)### END SOLUTION"


def _public_text() -> str:
    """What may be published: the lectures, and the solution notebooks less their solutions and
    hidden tests (what the release keeps), flattened."""
    texts = [p.read_text() for p in ROOT.glob("lectures/*.pct.py")]
    for src in ROOT.glob("solutions/*/*.pct.py"):
        texts.append(re.sub(SOLUTION, "", re.sub(HIDDEN, "", src.read_text(), flags=re.S), flags=re.S))
    return _flat("\n".join(texts))


def _secret_lines(pattern: str, min_len: int) -> list[str]:
    """Distinctive lines inside the solutions' blocks of this kind that nothing public shares."""
    public = _public_text()
    lines = []
    for src in ROOT.glob("solutions/*/*.pct.py"):
        for block in re.findall(pattern, src.read_text(), re.S):
            lines += [ln.strip() for ln in block.splitlines() if len(ln.strip()) >= min_len and _flat(ln) not in public]
    return lines


def test_every_lecture_and_assignment_has_a_page(site):
    for stem in LECTURES:
        assert (site / "lectures" / f"{stem}.html").is_file(), stem
    for name in ASSIGNMENTS:
        assert list((site / "assignments" / name).glob("*.html")), name
    assert (site / "running.html").is_file() and (site / "instructors.html").is_file()
    assert "python3 -m venv .venv" in (site / "running.html").read_text()


def test_every_notebook_page_links_colab_and_binder_at_the_pack(site):
    import html as htmllib

    assert len(NOTEBOOKS) == len(LECTURES) + len(ASSIGNMENTS)
    for rel in NOTEBOOKS:
        page = (site / rel).with_suffix(".html").read_text()
        found = [htmllib.unescape(u) for u in re.findall(r'href="([^"]+)"', page) if HOSTED.match(htmllib.unescape(u))]
        assert found == expected_links(rel), rel
    allowed = {u for rel in NOTEBOOKS for u in expected_links(rel)}
    for page in site.rglob("*.html"):  # no page links Colab or Binder anywhere else (solutions/, another repository)
        hrefs = {htmllib.unescape(u) for u in re.findall(r'href="([^"]+)"', page.read_text())}
        assert not {u for u in hrefs if HOSTED.match(u)} - allowed, page


def _leaks(site: Path) -> list[str]:
    """Pages of the built site that hold solution markers, solution lines or hidden test lines."""
    import html as htmllib

    hidden, solution = _secret_lines(HIDDEN, 30), _secret_lines(SOLUTION, 40)
    assert len(hidden) > 20 and len(solution) > 20  # the check has something to look for
    found = []
    for page in [*site.rglob("*.html"), *site.rglob("*.txt"), *site.rglob("*.js"), *site.rglob("*.ipynb")]:
        text = htmllib.unescape(re.sub(r"<[^>]+>", "", page.read_text(errors="replace")))
        found += [f"{page.relative_to(site)}: '{m}'" for m in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS",
                                                                "END HIDDEN TESTS") if m in text]
        found += [f"{page.relative_to(site)}: hidden test line {ln!r}" for ln in hidden if ln in text]
        found += [f"{page.relative_to(site)}: solution line {ln!r}" for ln in solution if ln in text]
    return found


def test_no_page_holds_solutions_or_hidden_tests(site):
    assert _leaks(site) == []


def test_the_leak_check_finds_a_leak(site, tmp_path):
    copy = tmp_path / "site"
    copy.mkdir()
    page = next(site.glob("assignments/A1/*.html"))
    (copy / page.name).write_text(page.read_text().replace(
        "</article>", "<pre>" + _secret_lines(HIDDEN, 30)[0] + "</pre></article>"))
    assert len(_leaks(copy)) == 1
def test_build_fails_on_broken_reference_missing_image_or_orphan_notebook(tmp_path):
    src = tmp_path / "src"
    build_site.stage(src)
    index = src / "index.md"
    good = index.read_text()
    index.write_text(good + "\nSee [the lost lecture](lectures/99_missing.ipynb).\n")
    with pytest.raises(SystemExit, match="site build failed"):
        build_site.sphinx_build(src, tmp_path / "out-ref")
    index.write_text(good + "\n![a plot](figures/missing.png)\n")
    with pytest.raises(SystemExit, match="site build failed"):
        build_site.sphinx_build(src, tmp_path / "out-img")
    index.write_text(good)
    (src / "lectures" / "11_orphan.ipynb").write_text((src / "lectures" / f"{LECTURES[0]}.ipynb").read_text())
    with pytest.raises(SystemExit, match="site build failed"):
        build_site.sphinx_build(src, tmp_path / "out-orphan")


# ------------------------------------------------------------------------------------------
# in the browser
# ------------------------------------------------------------------------------------------
_missing = bl.missing_browser()
browser = pytest.mark.skipif(_missing is not None, reason=_missing or "")


@pytest.fixture(scope="module")
def served(site):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    if _missing:
        pytest.skip(_missing)
    d = bl.start_chromium(tmp_path_factory.mktemp("chromium-site"), console_log=True)
    yield d
    d.quit()


def _scroll_to(driver, selector):
    import time

    driver.execute_script("const e = document.querySelector(arguments[0]);"
                          "window.scrollTo({top: e.getBoundingClientRect().top + window.scrollY - 150, behavior: 'instant'});",
                          selector)
    time.sleep(0.5)


def _shot(driver, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(SHOTS / name))


def _open(driver, url: str) -> None:
    """Go to url and wait until the browser shows it loaded, its article there. On a loaded machine
    Chromium has twice answered a query run right after get() before the page was there (an empty
    list of links for a page whose links are in its HTML)."""
    driver.get(url)
    bl.wait_for(f"{url} to load", lambda: driver.current_url == url and driver.execute_script(
        "return document.readyState === 'complete' && document.querySelector('article') !== null"), timeout=30)


@browser
def test_home_page_lists_every_lecture_and_assignment(driver, served):
    _open(driver, served + "/index.html")
    hrefs = driver.execute_script("return Array.from(document.querySelectorAll('article a')).map(a => a.href)")
    for stem in LECTURES:
        assert any(h.endswith(f"lectures/{stem}.html") for h in hrefs), stem
    for name in ASSIGNMENTS:
        assert any(f"assignments/{name}/" in h for h in hrefs), name
    _shot(driver, "site-home.png")


def _hosted_links(driver, url: str, loaded_only: bool = False):
    """[(text, href, visible)] of the page's links into Colab or Binder, once the browser shows
    url fully loaded; None before (or an empty list when loaded_only and the page has none)."""
    if driver.current_url != url or driver.execute_script("return document.readyState") != "complete":
        return None
    shown = driver.execute_script("""
        return Array.from(document.querySelectorAll('article a'))
            .filter(a => /colab\\.research\\.google\\.com|mybinder\\.org/.test(a.href))
            .map(a => [a.textContent.trim(), a.href, a.getBoundingClientRect().height > 0]);""")
    return shown if shown or loaded_only else None


@browser
def test_every_notebook_page_shows_its_colab_and_binder_links(driver, served):
    """In the browser: each page's first two links into Colab or Binder, by their text, open the
    notebook's own path in the pack's repository (none points at solutions/ or elsewhere)."""
    for rel in NOTEBOOKS:
        url = served + "/" + rel.removesuffix(".ipynb") + ".html"
        _open(driver, url)
        # and until it shows links (a page without them fails after the wait, with its list)
        try:
            shown = bl.wait_for(f"{rel}'s page and its Colab and Binder links", lambda: _hosted_links(driver, url),
                                timeout=20)
        except AssertionError:
            shown = _hosted_links(driver, url, loaded_only=True)
            assert shown is not None, f"{rel}: the browser did not show {url} loaded within 20 s"
        assert [t for t, _, _ in shown] == ["Open in Colab", "Launch Binder"], (rel, shown)
        assert [h for _, h, _ in shown] == expected_links(rel), rel
        assert all(visible for _, _, visible in shown) and not any("solutions" in h for _, h, _ in shown)
    _shot(driver, "site-hosted-links.png")


@browser
def test_lecture_page_shows_math_and_plots_without_console_errors(driver, served):
    driver.get_log("browser")  # drop what earlier pages logged
    _open(driver, served + "/lectures/02_backprop.html")
    rendered = bl.wait_for("MathJax to typeset the page", lambda: driver.execute_script(
        "return document.querySelectorAll('mjx-container').length"), timeout=60)
    assert rendered > 20
    prose = driver.execute_script("""
        const a = document.querySelector('article').cloneNode(true);
        a.querySelectorAll('pre, code, mjx-container, .cell_output').forEach(e => e.remove());
        return a.innerText;""")
    raw = re.findall(r"\$[^$\n]{1,80}\$", prose)
    assert not raw, f"math left as raw TeX: {raw[:5]}"
    images = driver.execute_script("""
        return Array.from(document.querySelectorAll('article img'))
                    .map(i => [i.getAttribute('src'), i.complete && i.naturalWidth > 0]);""")
    assert images and all(ok for _, ok in images), images
    errors = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
    assert not errors, errors
    _scroll_to(driver, "mjx-container[display='true']")
    _shot(driver, "site-lecture-math.png")
    _scroll_to(driver, "article img")
    _shot(driver, "site-lecture-plot.png")


@browser
def test_search_finds_a_term_of_lecture_08(driver, served):
    _open(driver, served + "/search.html?q=degradation")
    bl.wait_for("the search to finish", lambda: driver.execute_script(
        "const s = document.querySelector('#search-results .search-summary');"
        "return s && /found/i.test(s.textContent) ? s.textContent : null"), timeout=60)
    found = driver.execute_script("return Array.from(document.querySelectorAll('#search-results a')).map(a => a.href)")
    assert any("08_resnet" in h for h in found), found
    _shot(driver, "site-search.png")
