"""Helpers for tests/test_browser.py: a JupyterLab server on a private temp folder, and a headless
Chromium (the system's, through the system's chromedriver) that uses it as a student would.

Nothing here downloads a browser or a driver: Selenium is given the driver's path, so its Selenium
Manager never runs.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

CHROMIUM = os.environ.get("CNNKIT_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CNNKIT_CHROMEDRIVER", "/usr/bin/chromedriver")
# The flags headless Chromium needs on a machine without a display or an outside network.
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--window-size=1400,1000"]

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# A frame header in an IPython traceback: "Cell In[4], line 52" or "File /x/y.py:27, in f(...)".
FRAME = re.compile(r"^(?:Cell In\[\d+\], line \d+.*|File (?P<file>\S+?):\d+, in .*)$", re.M)


def missing_browser() -> str | None:
    """Why the browser test cannot run here, or None when it can."""
    for path, what in [(CHROMIUM, "Chromium"), (CHROMEDRIVER, "chromedriver")]:
        if not os.access(path, os.X_OK):
            return (f"no {what} at {path}: install the system's (Debian: apt-get install chromium "
                    f"chromium-driver) to run the browser test")
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -r requirements.txt)"
    return None


def innermost_frame(traceback: str) -> str:
    """The last frame header of an (ANSI-coloured) IPython traceback: 'Cell In[..]' or a file path."""
    frames = list(FRAME.finditer(ANSI.sub("", traceback)))
    if not frames:
        return ""
    last = frames[-1]
    return last.group("file") or last.group(0)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lab:
    """`jupyter lab` on root_dir, on a free port with a random token; stop() always ends it."""

    def __init__(self, root_dir: Path, work: Path, startup_timeout: float = 90):
        self.root_dir = Path(root_dir)
        self.port = free_port()
        self.token = secrets.token_hex(16)
        self.log_path = work / "jupyter-lab.log"
        settings = work / "lab-settings"
        # A student's first start asks whether to fetch Jupyter news; answer once, here, so the
        # popup does not cover the notebook (and nothing tries to reach the outside network).
        notif = settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
        notif.parent.mkdir(parents=True, exist_ok=True)
        notif.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
        env = dict(os.environ)
        env.update({
            "CNNKIT_DEVICE": "cpu",
            # Private Jupyter folders: no user config, kernelspec or workspace of this machine leaks in;
            # the environment's own (sys.prefix) extensions and kernel are still found.
            "JUPYTER_CONFIG_DIR": str(work / "jupyter-config"),
            "JUPYTER_DATA_DIR": str(work / "jupyter-data"),
            "JUPYTER_RUNTIME_DIR": str(work / "jupyter-runtime"),
            "PYTHONUNBUFFERED": "1",
        })
        env.pop("MPLBACKEND", None)  # the kernel picks its inline backend as it does for a student
        env.pop("JUPYTER_PATH", None)
        cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser",
               "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0",
               f"--IdentityProvider.token={self.token}", "--ServerApp.allow_root=True",
               f"--ServerApp.root_dir={self.root_dir}",
               f"--LabApp.user_settings_dir={settings}", f"--LabApp.workspaces_dir={work / 'lab-workspaces'}",
               # window.jupyterapp: lets the test read the notebook model (outputs, kernel status)
               "--LabApp.expose_app_in_browser=True"]
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(cmd, cwd=self.root_dir, env=env, stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        try:
            self._wait_until_up(startup_timeout)
        except BaseException:
            self.stop()
            raise

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return f"{self.base}/{path.lstrip('/')}?token={self.token}&reset"

    def _api(self, path: str, method: str = "GET", timeout: float = 5):
        req = urllib.request.Request(f"{self.base}/api/{path}", method=method,
                                     headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()

    def _wait_until_up(self, timeout: float) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with code {self.proc.returncode}:\n{self.log_tail()}")
            try:
                if self._api("status")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"jupyter lab did not answer within {timeout:.0f} s:\n{self.log_tail()}")

    def log_tail(self, n: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def stop(self) -> None:
        """Ask the server to shut down (it ends its kernels), then signal its process group."""
        if self.proc.poll() is None:
            try:
                self._api("shutdown", method="POST")
            except OSError:
                pass
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                pass
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if self.proc.poll() is not None:
                break
            try:
                os.killpg(self.proc.pid, sig)
            except (ProcessLookupError, PermissionError):
                break
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        self._log.close()


def start_chromium(user_data_dir: Path, console_log: bool = False):
    """Headless Chromium through chromedriver; with console_log, driver.get_log('browser') returns
    the page's console messages."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    if console_log:
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    for flag in CHROMIUM_FLAGS + [f"--user-data-dir={user_data_dir}"]:
        opts.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(30)
    return driver


def wait_for(what: str, check, timeout: float, interval: float = 0.5):
    """Poll check() until it returns something truthy; fail after timeout with what was awaited."""
    end = time.monotonic() + timeout
    last = None
    while time.monotonic() < end:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})")


# JavaScript run in the page. `window.jupyterapp` is the JupyterLab application.
JS_PANEL = """
const app = window.jupyterapp;
if (!app) return null;
// The notebook panel: the current widget, or (when the focus is elsewhere, e.g. in the file browser
// JupyterLab opened the notebook from, which leaves currentWidget null) the visible main-area panel.
const isNb = x => x && x.content && x.content.model && x.sessionContext;
const w = isNb(app.shell.currentWidget) ? app.shell.currentWidget
  : Array.from(app.shell.widgets('main')).find(x => isNb(x) && x.isVisible);
if (!w) return null;
"""

JS_STATE = JS_PANEL + """
const kernel = w.sessionContext.session && w.sessionContext.session.kernel;
const cells = w.content.widgets.map((c, i) => {
  const m = c.model;
  const prompt = c.node.querySelector('.jp-InputPrompt');
  const out = {i, type: m.type, nbgrader: m.getMetadata ? (m.getMetadata('nbgrader') || null) : null};
  if (m.type === 'code') {
    out.count = m.executionCount;
    out.running = !!(prompt && prompt.textContent.includes('*'));
    out.outputs = m.outputs.toJSON().map(o => ({
      type: o.output_type, name: o.name || null, ename: o.ename || null, evalue: o.evalue || null,
      traceback: (o.traceback || []).join('\\n'), mimes: Object.keys(o.data || {}),
      text: Array.isArray(o.text) ? o.text.join('') : (o.text || '')}));
    out.shown = Array.from(c.node.querySelectorAll('.jp-OutputArea-output')).map(e => e.textContent).join('\\n');
  }
  return out;
});
return {path: w.context.path, kernel: kernel ? kernel.status : null,
        connection: kernel ? kernel.connectionStatus : null, cells};
"""


def open_notebook(driver, lab: Lab, path: str, timeout: float = 240) -> None:
    driver.get(lab.url(f"lab/tree/{path}"))

    def ready():
        st = driver.execute_script(JS_PANEL + "return {path: w.context.path, kernel: "
                                   "w.sessionContext.session && w.sessionContext.session.kernel && "
                                   "w.sessionContext.session.kernel.status, "
                                   "connection: w.sessionContext.session && w.sessionContext.session.kernel && "
                                   "w.sessionContext.session.kernel.connectionStatus};")
        return st if st and st["path"] == path and st["kernel"] == "idle" and st["connection"] == "connected" else None

    wait_for(f"{path} open with an idle kernel", ready, timeout)
    # Give the notebook the focus, so that the menus a student clicks act on it.
    driver.execute_script(JS_PANEL + "window.jupyterapp.shell.activateById(w.id); return true;")


def notebook_state(driver) -> dict:
    return driver.execute_script(JS_STATE)


def run_command(driver, command: str, args: dict | None = None) -> None:
    driver.execute_script("return window.jupyterapp.commands.execute(arguments[0], arguments[1] || {})",
                          command, args)


def click_menu(driver, menu: str, label: str) -> None:
    """Open a main menu (e.g. 'Run') and click its item called label, as a student would."""
    from selenium.webdriver.common.by import By

    items = [e for e in driver.find_elements(By.CSS_SELECTOR, ".lm-MenuBar-item") if e.text.strip() == menu]
    assert items, f"no '{menu}' menu in the menu bar"
    items[0].click()
    entry = wait_for(f"'{label}' in the {menu} menu", lambda: [
        e for e in driver.find_elements(By.CSS_SELECTOR, ".lm-Menu-item:not(.lm-mod-disabled) .lm-Menu-itemLabel")
        if e.text.strip() == label], 10)
    entry[0].click()


def wait_until_idle(driver, timeout: float, started=lambda st: True) -> dict:
    """Wait until the kernel is idle and no cell shows [*], twice in a row, after started(state)."""
    seen = {"n": 0, "st": None}

    def done():
        st = seen["st"] = notebook_state(driver)
        quiet = (st and st["kernel"] == "idle" and started(st)
                 and not any(c.get("running") for c in st["cells"]))
        seen["n"] = seen["n"] + 1 if quiet else 0
        return st if seen["n"] >= 2 else None

    try:
        return wait_for("the kernel to finish running the cells", done, timeout, interval=0.75)
    except AssertionError as exc:
        st = seen["st"] or {}
        summary = [(c["i"], c.get("count"), c.get("running")) for c in st.get("cells", []) if c["type"] == "code"]
        raise AssertionError(f"{exc}\nkernel {st.get('kernel')!r}; (cell, count, running): {summary}") from None


def errors(state: dict) -> list[tuple[int, dict]]:
    return [(c["i"], o) for c in state["cells"] if c["type"] == "code" for o in c["outputs"] if o["type"] == "error"]


def scroll_to_cell(driver, index: int) -> None:
    driver.execute_script(JS_PANEL + """
const nb = w.content; nb.activeCellIndex = arguments[0];
nb.widgets[arguments[0]].node.scrollIntoView({block: 'start'});""", index)
    time.sleep(0.7)  # let the images in view paint before a screenshot


def scroll_to_output_end(driver, index: int) -> None:
    """Bring the end of a cell's output (where a traceback's message is) to the bottom of the view."""
    driver.execute_script(JS_PANEL + """
const nb = w.content; nb.activeCellIndex = arguments[0];
const outs = nb.widgets[arguments[0]].node.querySelectorAll('.jp-OutputArea-output');
(outs.length ? outs[outs.length - 1] : nb.widgets[arguments[0]].node).scrollIntoView({block: 'end'});""", index)
    time.sleep(0.7)


def shot(driver, out_dir: Path, name: str) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.png"
    driver.save_screenshot(str(path))
    return path
