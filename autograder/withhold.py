"""The grading copy of a course-library module: its withheld definitions without their bodies.

A test that says the student must not call the library's reference (`no_calls_to(cnnkit.layers)`)
is decided by the sandbox's copy of cnnkit, in which those references raise (autograder.gradedlib).
The copy must not hold the references themselves in any form: not their source under a few
appended lines that replace them at import (a student can read the file and run it without the
end), not their bytecode. So each withheld module is generated again from its syntax tree, and
only that new source is compiled:

- a top-level function that is withheld becomes one with the same name, decorators and defaults
  whose body raises (no docstring, no annotations);
- a withheld class keeps its name, bases, decorators and class-level statements (fields, constants:
  the library's own subclasses and dataclasses still import), and each of its methods becomes such
  a stub;
- what is withheld: every function and class the module defines (also inside a top-level if, try
  or with) except the names kept (those the instructor's setup cells import for the student to
  use) and dunder names; and of the private helpers (`_windows`, `_shortcut`, ...) those that no
  kept definition and no import-time code calls, directly or through another helper. A public
  name that is not kept is withheld even where a kept function uses it, as it is for the student;
- everything else (imports, constants, kept definitions) is written back as it was, comments left
  out.

`withheld_source(source, module, kept)` returns the new source and the qualified names it
withheld; tests/test_withheld_copy.py greps the copy for every line of each withheld body.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass, field

MESSAGE = ("{qual} is the course library's reference implementation; it is not available while your "
           "notebook is graded. Write it yourself.")

_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_BLOCKS = (ast.If, ast.Try, ast.With, ast.AsyncWith, ast.For, ast.AsyncFor, ast.While) + (
    (ast.TryStar,) if hasattr(ast, "TryStar") else ())


def _is_dunder(name: str) -> bool:
    return name.startswith("__") and name.endswith("__")


def _blocks(node) -> list[list[ast.stmt]]:
    """The statement lists directly inside a compound top-level statement."""
    out = [getattr(node, f) for f in ("body", "orelse", "finalbody") if getattr(node, f, None)]
    out += [h.body for h in getattr(node, "handlers", [])]
    return out


def _top_defs(body: list[ast.stmt], out: dict[str, list]) -> None:
    for st in body:
        if isinstance(st, _DEFS):
            out.setdefault(st.name, []).append(st)
        elif isinstance(st, _BLOCKS):
            for block in _blocks(st):
                _top_defs(block, out)


def _import_time(node) -> list[ast.AST]:
    """The parts of a definition Python evaluates when the module is imported."""
    # a decorator is called: `@helper` counts as `helper(...)`
    parts = [ast.Call(func=d, args=[], keywords=[]) if isinstance(d, ast.Name) else d for d in node.decorator_list]
    if isinstance(node, ast.ClassDef):
        parts += node.bases + [k.value for k in node.keywords]
        for st in node.body:
            parts += _import_time(st) if isinstance(st, _DEFS) else [st]
    else:
        parts += node.args.defaults + [d for d in node.args.kw_defaults if d is not None]
    return parts


def _module_import_time(body: list[ast.stmt]) -> list[ast.AST]:
    parts: list[ast.AST] = []
    for st in body:
        if isinstance(st, _DEFS):
            parts += _import_time(st)
        elif isinstance(st, _BLOCKS):
            parts += [getattr(st, f) for f in ("test", "iter", "target") if getattr(st, f, None) is not None]
            parts += [i.context_expr for i in getattr(st, "items", [])]
            for block in _blocks(st):
                parts += _module_import_time(block)
        else:
            parts.append(st)
    return parts


def _called(parts: list[ast.AST]) -> set[str]:
    """Names called in parts (f(...))."""
    out = set()
    for part in parts:
        for node in ast.walk(part):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                out.add(node.func.id)
    return out


def _loaded(node) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _stub_function(node, qual: str):
    a = node.args
    args = ast.arguments(
        posonlyargs=[ast.arg(x.arg) for x in a.posonlyargs], args=[ast.arg(x.arg) for x in a.args],
        vararg=ast.arg(a.vararg.arg) if a.vararg else None, kwonlyargs=[ast.arg(x.arg) for x in a.kwonlyargs],
        kw_defaults=a.kw_defaults, kwarg=ast.arg(a.kwarg.arg) if a.kwarg else None, defaults=a.defaults)
    body = [ast.Raise(exc=ast.Call(func=ast.Name("RuntimeError", ast.Load()),
                                   args=[ast.Constant(MESSAGE.format(qual=qual))], keywords=[]), cause=None)]
    cls = ast.AsyncFunctionDef if isinstance(node, ast.AsyncFunctionDef) else ast.FunctionDef
    return cls(name=node.name, args=args, body=body, decorator_list=node.decorator_list, returns=None,
               type_comment=None, **({"type_params": []} if "type_params" in cls._fields else {}))


def _stub_class(node: ast.ClassDef, qual: str) -> ast.ClassDef:
    body = []
    for i, st in enumerate(node.body):
        if i == 0 and isinstance(st, ast.Expr) and isinstance(st.value, ast.Constant) and isinstance(st.value.value, str):
            continue  # the docstring
        if isinstance(st, ast.ClassDef):
            body.append(_stub_class(st, f"{qual}.{st.name}"))
        elif isinstance(st, (ast.FunctionDef, ast.AsyncFunctionDef)):
            body.append(_stub_function(st, f"{qual}.{st.name}"))
        else:
            body.append(st)
    new = ast.ClassDef(name=node.name, bases=node.bases, keywords=node.keywords, body=body or [ast.Pass()],
                       decorator_list=node.decorator_list,
                       **({"type_params": []} if "type_params" in ast.ClassDef._fields else {}))
    return new


@dataclass
class Withheld:
    """A module's grading source and what it withholds (qualified names of the top-level
    definitions whose bodies are gone)."""
    source: str
    names: list[str] = field(default_factory=list)


def withheld_source(source: str, module: str, kept) -> Withheld:
    """The source of `module` (dotted name) with every definition withheld but those in `kept`
    (see the module docstring). The result compiles; nothing of a withheld body is in it."""
    tree = ast.parse(source)
    kept = set(kept)
    defs: dict[str, list] = {}
    _top_defs(tree.body, defs)
    # private helpers that must keep working: called at import, or by kept code (transitively)
    needed = {n for n in _called(_module_import_time(tree.body)) if n in defs and n.startswith("_")}
    todo = [n for n in defs if n in kept or _is_dunder(n)] + sorted(needed)
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen or name not in defs:
            continue
        seen.add(name)
        for node in defs[name]:
            for used in _loaded(node):
                if used in defs and used.startswith("_") and used not in seen:
                    needed.add(used)
                    todo.append(used)

    def withheld(name: str) -> bool:
        if name in kept or _is_dunder(name):
            return False
        return not name.startswith("_") or name not in needed

    names: list[str] = []

    def rewrite(body: list[ast.stmt]) -> list[ast.stmt]:
        out = []
        for st in body:
            if isinstance(st, _DEFS) and withheld(st.name):
                qual = f"{module}.{st.name}"
                out.append(_stub_class(st, qual) if isinstance(st, ast.ClassDef) else _stub_function(st, qual))
                names.append(qual)
            elif isinstance(st, _BLOCKS):
                for f in ("body", "orelse", "finalbody"):
                    if getattr(st, f, None):
                        setattr(st, f, rewrite(getattr(st, f)))
                for h in getattr(st, "handlers", []):
                    h.body = rewrite(h.body)
                out.append(st)
            else:
                out.append(st)
        return out

    tree.body = rewrite(tree.body)
    text = ast.unparse(ast.fix_missing_locations(tree)) + "\n"
    compile(text, f"<grading copy of {module}>", "exec")  # a rewrite that does not compile fails here, not in a kernel
    return Withheld(text, sorted(set(names)))
