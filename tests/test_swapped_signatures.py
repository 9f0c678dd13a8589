"""What a test swaps in for a student's function keeps the signature the notebook gives the student.

A part's tests run the student's code on the course's versions of the other parts
(`using(name=reference)`, `swapped_names(owner, Name=reference)`, or a test's own method put in
place of the student's, `net.loss = ...`). A student may call those by keyword with the names the
notebook's own `def` gives them (`conv_output_size(H, HH, stride=S, pad=P)`): the reference must
accept exactly that call, or a correct submission loses the part (issue 32: A2 once swapped in
cnnkit.conv.conv_output_size, whose parameters carry PyTorch's names, for the notebook's
`conv_output_size(n, f, stride=1, pad=0, exact=False)`). For every swap in the assignments'
test cells, the reference's parameters (names, kinds, defaults) must equal those of the
notebook's definition. The corpus (tests/mutants) has variants that make such calls by keyword.
"""
from __future__ import annotations

import ast
import inspect
import re

import pytest

from autograder.course import Course

SOLUTIONS = Course().solutions

SOURCES = sorted(SOLUTIONS.glob("*/*.pct.py"))


def _cells(source: str) -> list[tuple[str, str]]:
    """(kind, code) of each code cell of a percent source: kind is the nb="KIND ..." attribute
    ('solution', 'tests', 'locked') or '' for an ordinary cell; markdown cells are left out."""
    out = []
    for chunk in re.split(r"^# %%", source, flags=re.M)[1:]:
        header, _, body = chunk.partition("\n")
        if "[markdown]" in header:
            continue
        kind = re.search(r'nb="(\w+)', header)
        out.append((kind.group(1) if kind else "", body))
    return out


def _params(args: ast.arguments, drop_self: bool = False) -> list[tuple[str, str, object]]:
    """(name, kind, default) of a def's parameters, as inspect.Parameter would give them."""
    positional = [*args.posonlyargs, *args.args]
    defaults = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    out = []
    for i, (a, d) in enumerate(zip(positional, defaults)):
        kind = "POSITIONAL_ONLY" if i < len(args.posonlyargs) else "POSITIONAL_OR_KEYWORD"
        out.append((a.arg, kind, inspect.Parameter.empty if d is None else ast.literal_eval(d)))
    if args.vararg:
        out.append((args.vararg.arg, "VAR_POSITIONAL", inspect.Parameter.empty))
    for a, d in zip(args.kwonlyargs, args.kw_defaults):
        out.append((a.arg, "KEYWORD_ONLY", inspect.Parameter.empty if d is None else ast.literal_eval(d)))
    if args.kwarg:
        out.append((args.kwarg.arg, "VAR_KEYWORD", inspect.Parameter.empty))
    return out[1:] if drop_self else out


def signature_of(obj) -> list[tuple[str, str, object]]:
    """(name, kind, default) of a callable's parameters; a class's are those of its constructor."""
    return [(p.name, p.kind.name, p.default) for p in inspect.signature(obj).parameters.values()]


def mismatches(expected, got) -> list[str]:
    """How a reference with parameters `got` fails a call that the notebook's parameters `expected`
    allow: every argument by position (each landing on the parameter of the same name, or in a
    *args), every argument by keyword, the required ones alone by keyword; and a default that
    differs from the notebook's. Empty when every such call means the same to both."""
    sig = inspect.Signature([inspect.Parameter(n, getattr(inspect.Parameter, k), default=d) for n, k, d in got])
    named = [n for n, k, _ in expected if k in ("POSITIONAL_ONLY", "POSITIONAL_OR_KEYWORD", "KEYWORD_ONLY")]
    positional = [n for n, k, _ in expected if k in ("POSITIONAL_ONLY", "POSITIONAL_OR_KEYWORD")]
    required = [n for n, k, d in expected if d is inspect.Parameter.empty and k == "POSITIONAL_OR_KEYWORD"]
    problems = []
    try:
        bound = sig.bind(*positional)
        kinds = {p.name: p.kind for p in sig.parameters.values()}
        for i, name in enumerate(positional):
            lands = next((k for k, v in bound.arguments.items() if v == name or (isinstance(v, tuple) and name in v)), None)
            if lands != name and kinds.get(lands) != inspect.Parameter.VAR_POSITIONAL:
                problems.append(f"argument {i + 1} by position lands on {lands!r}, not {name!r}")
    except TypeError as exc:
        problems.append(f"every argument by position: {exc}")
    for what, call in (("every argument by keyword", named), ("the required ones by keyword", required)):
        try:
            sig.bind(**{n: n for n in call})
        except TypeError as exc:
            problems.append(f"{what}: {exc}")
    theirs = {n: d for n, _, d in got}
    problems += [f"{n}'s default is {theirs[n]!r}, not {d!r}" for n, _, d in expected
                 if d is not inspect.Parameter.empty and n in theirs and theirs[n] != d]
    return problems


def student_signatures(cells) -> dict[str, list]:
    """name -> parameters of every function, class (its __init__) and method (Class.method) that
    the solution cells define at the top level."""
    out = {}
    for kind, code in cells:
        if kind != "solution":
            continue
        for node in ast.parse(code).body:
            if isinstance(node, ast.FunctionDef):
                out[node.name] = _params(node.args)
            elif isinstance(node, ast.ClassDef):
                for item in node.body:
                    if isinstance(item, ast.FunctionDef):
                        key = node.name if item.name == "__init__" else f"{node.name}.{item.name}"
                        out[key] = _params(item.args, drop_self=True)
    return out


def swaps(cells) -> list[tuple[str, object, str]]:
    """(student name, reference object, where) for every swap the test cells make.

    The references are evaluated in a namespace built from the notebook's locked cells and the
    imports, definitions and dicts of its test cells (so `_COURSE_LAYERS`, the setup's wrappers and
    `cnnkit.*` resolve); a test's method put in place of the student's (`net.loss = f`) is
    compared through the def or lambda it assigns.
    """
    ns: dict = {}
    for kind, code in cells:
        if kind == "locked":
            exec(compile(code, "<setup>", "exec"), ns)  # noqa: S102 - the course's own setup cell
    for kind, code in cells:
        if kind != "tests":
            continue
        for node in ast.parse(code).body:
            if isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef)) or (
                    isinstance(node, ast.Assign) and isinstance(node.value, (ast.Dict, ast.DictComp))):
                exec(compile(ast.Module([node], []), "<tests>", "exec"), ns)  # noqa: S102
    found = []
    for kind, code in cells:
        if kind != "tests":
            continue
        tree = ast.parse(code)
        defs = {n.name: n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
        made = {t.id: n.value.func.id for n in ast.walk(tree) if isinstance(n, ast.Assign)
                for t in n.targets if isinstance(t, ast.Name) and isinstance(n.value, ast.Call)
                and isinstance(n.value.func, ast.Name)}  # local = SomeClass(...)
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("using", "swapped_names"):
                for kw in node.keywords:
                    where = f"{node.func.id}({ast.unparse(kw)})"
                    v = kw.value
                    if isinstance(v, ast.Name) and v.id in defs and v.id not in ns:  # a def inside a test function
                        found.append((kw.arg, _params(defs[v.id].args), where))
                        continue
                    if (isinstance(v, ast.Attribute) and isinstance(v.value, ast.Name) and v.value.id not in ns
                            and isinstance(ns.get(made.get(v.value.id)), type)):  # obj.method, obj = Class(...)
                        method = getattr(ns[made[v.value.id]], v.attr)
                        found.append((kw.arg, signature_of(method)[1:], where))
                        continue
                    value = eval(compile(ast.Expression(v), "<swap>", "eval"), ns)  # noqa: S307
                    pairs = value.items() if kw.arg is None else [(kw.arg, value)]
                    found += [(name, ref, where) for name, ref in pairs]
            elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Attribute):
                method, value = node.targets[0].attr, node.value
                if isinstance(value, ast.Call) and getattr(value.func, "id", None) == "reference":
                    value = value.args[0]  # reference(lambda ...): the function it marks
                if isinstance(value, ast.Lambda):
                    found.append((f".{method}", _params(value.args), ast.unparse(node)))
                elif isinstance(value, ast.Name) and value.id in defs:
                    found.append((f".{method}", _params(defs[value.id].args), ast.unparse(node)))
    return found


@pytest.mark.parametrize("source", SOURCES, ids=[p.parent.name for p in SOURCES])
def test_every_swapped_reference_keeps_the_notebooks_signature(source):
    cells = _cells(source.read_text())
    mine = student_signatures(cells)
    checked, bad = 0, []
    for name, ref, where in swaps(cells):
        if name.startswith("."):  # a method the test puts in place of the student's
            owners = [k for k in mine if k.endswith(name)]
            assert owners, f"{source.parent.name}: {where} replaces a method that no solution class defines"
            expected, got = mine[owners[0]], ref
        else:
            assert name in mine, f"{source.parent.name}: {where} swaps {name}, which no solution cell defines"
            expected, got = mine[name], ref if isinstance(ref, list) else signature_of(ref)
        checked += 1
        problems = mismatches(expected, got)
        if problems:
            bad.append(f"{where}: the notebook's {name}({', '.join(n for n, _, _ in expected)}) but the reference's "
                       f"({', '.join(n for n, _, _ in got)}): " + "; ".join(problems))
    assert not bad, f"{source.parent.name}: swapped-in references with another signature:\n" + "\n".join(bad)
    if source.parent.name in ("A1", "A2", "A3"):
        assert checked, f"{source.parent.name}: no swap found; the parser no longer sees them"


def test_a_reference_with_other_parameter_names_is_caught():
    """The check sees the mismatch that issue 32 reported (PyTorch's names for part 1's)."""
    import cnnkit.conv

    cells = [("solution", "def conv_output_size(n, f, stride=1, pad=0, exact=False):\n    pass\n"),
             ("locked", "import cnnkit.conv\n"),
             ("tests", "with using(conv_output_size=cnnkit.conv.conv_output_size):\n    pass\n")]
    (name, ref, _), = swaps(cells)
    assert ref is cnnkit.conv.conv_output_size
    problems = mismatches(student_signatures(cells)[name], signature_of(ref))
    assert problems == ["argument 2 by position lands on 'kernel', not 'f'",
                        "argument 4 by position lands on 'padding', not 'pad'",
                        "argument 5 by position lands on 'dilation', not 'exact'",
                        "every argument by keyword: missing a required argument: 'kernel'",
                        "the required ones by keyword: missing a required argument: 'kernel'"], problems
    # what a recording stand-in may do: take the notebook's leading arguments and pass the rest on
    assert not mismatches(student_signatures(cells)[name],
                          [("n", "POSITIONAL_OR_KEYWORD", inspect.Parameter.empty),
                           ("f", "POSITIONAL_OR_KEYWORD", inspect.Parameter.empty),
                           ("args", "VAR_POSITIONAL", inspect.Parameter.empty),
                           ("kwargs", "VAR_KEYWORD", inspect.Parameter.empty)])
    assert mismatches([("stride", "POSITIONAL_OR_KEYWORD", 1)], [("stride", "POSITIONAL_OR_KEYWORD", 2)]) == [
        "stride's default is 2, not 1"]
    cells[1] = ("locked", "import cnnkit.conv\ndef mine(n, f, stride=1, pad=0, exact=False):\n    pass\n")
    cells[2] = ("tests", "def _t():\n    net.loss = reference(lambda Xb, yb=None: 0)\nwith using(conv_output_size=mine):\n"
                         "    pass\n")
    cells.append(("solution", "class Net:\n    def loss(self, X, y=None):\n        pass\n"))
    found = {n: r for n, r, _ in swaps(cells)}
    assert not mismatches(student_signatures(cells)["conv_output_size"], signature_of(found["conv_output_size"]))
    assert mismatches(student_signatures(cells)["Net.loss"], found[".loss"])
