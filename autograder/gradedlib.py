"""The graded copy of the course library: cnnkit with the withheld definitions of an assignment
taken out (autograder.withhold), bound over the real one in the grading sandbox."""
from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from . import sandbox, withhold


def _cnnkit_dir() -> str:
    return sandbox.library_dir()


def graded_cnnkit(disable: dict, into: Path) -> Path:
    """A copy of cnnkit in which each module of `disable` ({'cnnkit.layers': [names kept]}; a
    package: each of its modules) is generated again without its withheld definitions: each
    becomes a stub that raises (autograder.withhold). Bound over cnnkit in the grading sandbox, it
    decides "your function must not call the library's version" where the student's code cannot
    interfere: the real code is simply not there, as source or as bytecode."""
    dest = Path(into) / "cnnkit"
    shutil.copytree(_cnnkit_dir(), dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo"))
    for module, kept in disable.items():
        parts = module.split(".")[1:]
        path = dest.joinpath(*parts).with_suffix(".py")
        paths = [path] if path.exists() else sorted(dest.joinpath(*parts).rglob("*.py"))  # a package: all of it
        for path in paths:
            rel = path.relative_to(dest.parent).with_suffix("").parts
            name = ".".join(rel[:-1] if rel[-1] == "__init__" else rel)
            path.write_text(withhold.withheld_source(path.read_text(), name, kept).source)
    return dest


_COPIES: dict[str, str] = {}  # this process's graded cnnkit copies, by what they disable


def graded_copy(disable: dict) -> str:
    """The graded cnnkit for `disable`, made once per worker process and compiled, so that each
    submission's kernel imports bytecode instead of compiling cnnkit again (the sandbox binds it
    read-only, so no submission can change it for the next). Removed when the process ends."""
    key = json.dumps(disable, sort_keys=True)
    if key not in _COPIES or not Path(_COPIES[key]).is_dir():
        import atexit
        import compileall

        into = Path(tempfile.mkdtemp(prefix="cnnkit-"))
        atexit.register(shutil.rmtree, into, True)
        dest = graded_cnnkit(disable, into)
        compileall.compile_dir(str(dest), quiet=1, workers=1)
        _COPIES[key] = str(dest)
    return _COPIES[key]
