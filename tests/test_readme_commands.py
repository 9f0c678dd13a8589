"""README.md's open command starts JupyterLab for whoever runs it, root in a container included.

The test command is exercised by CI itself (.ci/run runs exactly that block); the open command
is not, so here its JupyterLab step runs as the current user (root under .ci/run) from the
repository root, with a free port and no browser, and must serve the course.
"""
import re
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests.browser_lab import free_port

ROOT = Path(__file__).resolve().parents[1]


def readme_command(marker: str) -> str:
    text = (ROOT / "README.md").read_text()
    found = re.search(rf"<!-- {marker} -->\s*```\n(.*?)\n```", text, re.S)
    assert found, f"README.md has no code block after <!-- {marker} -->"
    return found.group(1).strip()


def test_open_command_installs_then_opens_the_course():
    steps = [s.strip() for s in readme_command("open-command").split(" && ", 2)]
    assert steps[0] == "python3 -m venv .venv" and "pip install -r requirements.txt" in steps[1]
    assert steps[-1].startswith(".venv/bin/jupyter lab")


def test_open_command_starts_jupyterlab_as_this_user(tmp_path):
    if not (ROOT / ".venv" / "bin" / "jupyter").exists():
        pytest.skip("no .venv/bin/jupyter in the repository: the README's commands have not been run here")
    lab = readme_command("open-command").split(" && ", 2)[-1].strip()  # set up, install, then open
    port = free_port()
    cmd = (f"{lab} --no-browser --port={port} --ServerApp.token=readme-test "
           f"--ServerApp.root_dir={ROOT} --ServerApp.open_browser=False")
    log = tmp_path / "lab.log"
    with open(log, "w") as fh:
        proc = subprocess.Popen(["bash", "-c", f"exec {cmd}"], cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT,
                                env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
                                     "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")})
    try:
        deadline, status = time.monotonic() + 120, None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token=readme-test", timeout=2) as r:
                    status = r.status
                    break
            except OSError:
                time.sleep(1)
        assert status == 200, f"JupyterLab did not start from the README's open command:\n{log.read_text()[-3000:]}"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/contents/lectures?token=readme-test", timeout=10) as r:
            assert b"01_mlp_activations.ipynb" in r.read()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
