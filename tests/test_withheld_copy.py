"""The sandbox's copy of cnnkit holds nothing of what it withholds (issue 25, item 2).

For every assignment whose tests say "must not call the library's version" (the `disable` of its
plan, autograder.testplan), the copy that grading binds into the kernel's sandbox
(autograder.gradedlib.graded_copy) is checked against the real library, with rules of its own:

- what must be withheld is found in the real library's bytecode: every function and class of a
  disabled module except the names kept for the student and the private helpers a kept one uses;
- no file of the copy (source or bytecode) holds any line of the body of such a definition that
  occurs nowhere else in the real library (its distinctive lines, docstrings included);
- every compiled file of the copy is the compilation of the source beside it (no original bytecode);
- the copy imports whole; each withheld function raises when called and each withheld method is a
  stub; every function that is not withheld has the real one's code.
"""
import ast
import json
import marshal
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder import course, sandbox, testplan
from autograder.gradedlib import graded_copy

STUB = "not available while your notebook is graded"

# Run in a fresh interpreter with a cnnkit folder's parent first on sys.path: what each module
# defines, and a digest of each function's code (not its file name), methods of classes included.
INTROSPECT = r"""
import hashlib, importlib, inspect, json, pkgutil, sys, types
sys.path.insert(0, sys.argv[1])
import cnnkit
assert cnnkit.__file__.startswith(sys.argv[1]), cnnkit.__file__

def digest(code):
    h = hashlib.sha256(code.co_code + repr(code.co_names).encode())
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            h.update(digest(c).encode())
        else:  # a frozenset's order moves with the string hash seed of the process
            h.update(repr(sorted(map(repr, c)) if isinstance(c, frozenset) else c).encode())
    return h.hexdigest()

def names(code):
    out = set(code.co_names)
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            out |= names(c)
    return out

def functions(cls, module):  # the methods written in its body, not those a dataclass or namedtuple made
    for name, f in vars(cls).items():
        f = inspect.unwrap(getattr(f, "fget", None) or getattr(f, "__func__", None) or f)
        if isinstance(f, types.FunctionType) and f.__code__.co_filename == module.__file__:
            yield name, f

out = {"failed": [], "modules": {}}
for info in pkgutil.walk_packages(cnnkit.__path__, "cnnkit."):
    try:
        mod = importlib.import_module(info.name)
    except Exception as exc:
        out["failed"].append(f"{info.name}: {exc!r}")
        continue
    defs = {}
    for name, obj in vars(mod).items():
        if getattr(obj, "__module__", None) != info.name or getattr(obj, "__name__", None) != name:
            continue  # imported, or an alias of a definition listed under its own name
        if isinstance(obj, types.FunctionType):
            obj = inspect.unwrap(obj)  # a decorated function (torch.no_grad()): the function written
            defs[name] = {"kind": "function", "digest": digest(obj.__code__), "uses": sorted(names(obj.__code__)),
                          "consts": [c for c in obj.__code__.co_consts if isinstance(c, str)]}
        elif isinstance(obj, type):
            methods = {m: {"digest": digest(f.__code__), "stub": f.__code__.co_names == ("RuntimeError",)
                           and any(isinstance(c, str) and "STUB" in c for c in f.__code__.co_consts)}
                       for m, f in functions(obj, mod)}
            defs[name] = {"kind": "class", "methods": methods,
                          "uses": sorted(set().union(*(names(f.__code__) for _, f in functions(obj, mod))))}
    out["modules"][info.name] = defs
print(json.dumps(out))
""".replace("STUB", STUB)

# Run with the copy: call each withheld function with None for every required argument.
CALL = r"""
import importlib, inspect, json, sys
sys.path.insert(0, sys.argv[1])
got = {}
for qual in json.loads(sys.argv[2]):
    module, name = qual.rsplit(".", 1)
    f = getattr(importlib.import_module(module), name)
    args = [None for p in inspect.signature(f).parameters.values()
            if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    kwargs = {p.name: None for p in inspect.signature(f).parameters.values()
              if p.default is p.empty and p.kind == p.KEYWORD_ONLY}
    try:
        f(*args, **kwargs)
        got[qual] = "returned"
    except BaseException as exc:
        got[qual] = f"{type(exc).__name__}: {exc}"
print(json.dumps(got))
"""


def _introspect(folder: Path) -> dict:
    res = subprocess.run([sys.executable, "-I", "-c", INTROSPECT, str(folder)], capture_output=True, text=True,
                         timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    return json.loads(res.stdout.strip().splitlines()[-1])


def _plans() -> list[tuple[str, dict]]:
    out = []
    for folder in sorted(p for p in course.Course().solutions.iterdir() if p.is_dir()):
        for nb_path in sorted(folder.glob("*.ipynb")):
            disable = testplan.plan(nbformat.read(nb_path, as_version=4))["disable"]
            if disable:
                out.append((nb_path.name, disable))
    return out


PLANS = _plans()


@pytest.fixture(scope="module")
def real():
    return _introspect(Path(sandbox.library_dir()).parent)


def _modules(disable: dict, real: dict) -> dict[str, list[str]]:
    """{module: names kept} for every module a plan disables (a package: each of its modules)."""
    out = {}
    for module, kept in disable.items():
        for name in real["modules"]:
            if name == module or name.startswith(module + "."):
                out[name] = list(kept)
    return out


def _expected_withheld(defs: dict, kept: list[str]) -> set[str]:
    """Every definition of a disabled module but the kept names, dunders and the private helpers
    a kept definition uses (followed through the helpers' own code)."""
    needed, todo = set(), [n for n in defs if n in kept]
    while todo:
        for used in defs[todo.pop()]["uses"]:
            if used in defs and used.startswith("_") and used not in needed:
                needed.add(used)
                todo.append(used)
    return {n for n in defs if n not in kept and not (n.startswith("__") and n.endswith("__"))
            and (not n.startswith("_") or n not in needed)}


_COMPOUND = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.If, ast.For, ast.AsyncFor, ast.While,
             ast.With, ast.AsyncWith, ast.Try, ast.Match)


def _statements(nodes) -> list[str]:
    """Each simple statement under nodes (assignments, calls, returns...), written out by ast so
    that quoting and spacing do not matter; and each string constant of 20 characters or more
    (docstrings, messages), as text."""
    out = []
    for top in nodes:
        for node in ast.walk(top):
            if isinstance(node, ast.stmt) and not isinstance(node, _COMPOUND):
                out.append(ast.unparse(node))
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and len(node.value) >= 20:
                out.append(node.value)
    return out


def _strings(code) -> set[str]:
    """The string constants of 20 characters or more of a code object and those it holds."""
    out = set()
    for c in code.co_consts:
        if isinstance(c, str) and len(c) >= 20:
            out.add(c)
        elif hasattr(c, "co_consts"):
            out |= _strings(c)
    return out


def _file(module: str) -> Path:
    path = Path(sandbox.library_dir()).parent.joinpath(*module.split("."))
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def _bodies(module: str) -> dict[str, list[str]]:
    """The statements of each top-level definition's body in the real library (its def or class
    line, decorators and defaults left out: a stub keeps those; for a class, its methods' bodies
    and its docstring: its fields stay)."""
    out = {}
    for node in ast.parse(_file(module).read_text()).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            out[node.name] = _statements(node.body)
        elif isinstance(node, ast.ClassDef):
            methods = [m for m in node.body if isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef))]
            doc = node.body[:1] if ast.get_docstring(node) is not None else []
            out[node.name] = _statements([st for m in methods for st in m.body] + doc)
    return out


def _outside(withheld_bodies: list[list[str]]) -> set[str]:
    """The statements of the real library that also occur outside the bodies of what is withheld."""
    counts: dict[str, int] = {}
    for p in Path(sandbox.library_dir()).rglob("*.py"):
        for st in _statements([ast.parse(p.read_text())]):
            counts[st] = counts.get(st, 0) + 1
    for body in withheld_bodies:
        for st in body:
            counts[st] = counts.get(st, 0) - 1
    return {st for st, n in counts.items() if n > 0}


@pytest.mark.parametrize("notebook,disable", PLANS, ids=[p[0] for p in PLANS])
def test_the_copy_holds_no_withheld_body(real, notebook, disable):
    copy = Path(graded_copy(disable))
    bodies = {}
    for module, kept in _modules(disable, real).items():
        found = _bodies(module)
        for name in _expected_withheld(real["modules"][module], kept):
            bodies[f"{module}.{name}"] = found.get(name, [])
    elsewhere = _outside(list(bodies.values()))
    distinctive = {q: {st for st in body if len(st) >= 12 and st not in elsewhere} for q, body in bodies.items()}
    # nearly every withheld definition has a statement of its own to look for (a one-line body may not)
    assert sum(bool(v) for v in distinctive.values()) >= 0.8 * len(distinctive), \
        {q for q, v in distinctive.items() if not v}
    in_copy: dict[str, str] = {}  # every statement and long string of the copy's source and bytecode
    for p in copy.rglob("*.py"):
        for st in _statements([ast.parse(p.read_text())]):
            in_copy.setdefault(st, str(p.relative_to(copy)))
    for p in copy.rglob("*.pyc"):
        for c in _strings(marshal.loads(p.read_bytes()[16:])):
            in_copy.setdefault(c, str(p.relative_to(copy)))
    real_dir = Path(sandbox.library_dir())
    for p in copy.rglob("*"):  # anything else is a file of the library's, as it was
        if p.is_file() and p.suffix not in (".py", ".pyc"):
            assert p.read_bytes() == (real_dir / p.relative_to(copy)).read_bytes(), p
    found = sorted((q, st[:80], in_copy[st]) for q, sts in distinctive.items() for st in sts if st in in_copy)
    assert not found, f"{len(found)} withheld statements found in the copy, e.g. {found[:5]}"


@pytest.mark.parametrize("notebook,disable", PLANS, ids=[p[0] for p in PLANS])
def test_the_copy_compiles_only_its_own_source(notebook, disable):
    copy = Path(graded_copy(disable))
    pycs = list(copy.rglob("*.pyc"))
    assert len(pycs) == len(list(copy.rglob("*.py")))
    for pyc in pycs:
        source = pyc.parent.parent / (pyc.name.split(".")[0] + ".py")
        assert source.exists(), pyc
        code = marshal.loads(pyc.read_bytes()[16:])
        assert code == compile(source.read_text(), str(source), "exec"), f"{pyc} is not compiled from {source}"


@pytest.mark.parametrize("notebook,disable", PLANS, ids=[p[0] for p in PLANS])
def test_the_copy_imports_and_keeps_what_is_not_withheld(real, notebook, disable):
    copy = Path(graded_copy(disable))
    got = _introspect(copy.parent)
    assert got["failed"] == [] and real["failed"] == []
    assert set(got["modules"]) == set(real["modules"])
    modules = _modules(disable, real)
    calls = []
    for module, defs in real["modules"].items():
        withheld = _expected_withheld(defs, modules[module]) if module in modules else set()
        for name, info in defs.items():
            mine = got["modules"][module].get(name)
            assert mine is not None and mine["kind"] == info["kind"], (module, name)
            if name not in withheld:  # the real code, whatever else the module lost
                assert mine == info, f"{module}.{name} differs from the library's"
            elif info["kind"] == "function":
                assert mine["digest"] != info["digest"] and any(STUB in c for c in mine["consts"]), (module, name)
                if not name.startswith("_"):
                    calls.append(f"{module}.{name}")
            else:
                assert set(mine["methods"]) == set(info["methods"]), (module, name)
                assert all(m["stub"] for m in mine["methods"].values()), (module, name)
    assert calls, "a plan that disables modules withholds public functions"
    res = subprocess.run([sys.executable, "-I", "-c", CALL, str(copy.parent), json.dumps(calls)],
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    outcomes = json.loads(res.stdout.strip().splitlines()[-1])
    wrong = {q: o for q, o in outcomes.items() if not (o.startswith("RuntimeError") and STUB in o and q in o)}
    assert not wrong, wrong


def test_a_helper_a_kept_function_calls_keeps_working(tmp_path):
    """A private helper is withheld only where nothing kept calls it: rel_error's own helper
    survives, numerical_gradient's is a stub; a kept function's output is the real one's."""
    from autograder import withhold

    src = ("def _floor(x):\n    return max(x, 1e-8)\n\ndef _centred(f, x, h):\n    return (f(x + h) - f(x - h)) / (2 * h)\n\n"
           "def rel(x, y):\n    return abs(x - y) / _floor(abs(x) + abs(y))\n\n"
           "def grad(f, x, h=1e-5):\n    return _centred(f, x, h)\n\nTABLE = {'rel': rel, 'grad': grad}\n")
    w = withhold.withheld_source(src, "m", ["rel"])
    assert w.names == ["m._centred", "m.grad"]
    assert "(f(x + h) - f(x - h))" not in w.source and "return _centred(f, x, h)" not in w.source
    ns: dict = {}
    exec(compile(w.source, "m", "exec"), ns)
    assert ns["rel"](1.0, 3.0) == 0.5 and ns["TABLE"]["rel"] is ns["rel"]
    with pytest.raises(RuntimeError, match=STUB):
        ns["grad"](lambda v: v * v, 1.0)

