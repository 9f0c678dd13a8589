"""What the checker needs to know about a notebook, read from the INSTRUCTOR's source notebook
(solutions/), never from a submission:

- the trusted cells, by grade id: test cells (run only in the checker) and locked cells such as
  the setup (run in the student's kernel, whose code needs their imports and data, and in the
  checker too);
- the student's names at each test cell: every top-level name (def, class, assignment, import,
  for/with targets) whose last definition before that cell, in the instructor's notebook, is in
  a solution cell or an ordinary cell, not in a test cell, and that no locked cell defines. A
  student who defines `np` or `check_close` therefore cannot hand the checker their own; and a
  name the kernel does not have is simply absent;
- the course library's reference code a test says the student must not call
  (`no_calls_to(cnnkit.layers, ...)`): at grading time the kernel's copy of those modules
  raises instead (autograder.gradedlib), except for the names the instructor's cells import from
  them for the student to use.
"""
from __future__ import annotations

import ast

def _meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def is_test_cell(cell) -> bool:
    m = _meta(cell)
    return cell.get("cell_type") == "code" and bool(m.get("grade")) and not m.get("solution")


def is_locked_code_cell(cell) -> bool:
    m = _meta(cell)
    return (cell.get("cell_type") == "code" and bool(m.get("locked")) and not m.get("solution")
            and not m.get("grade") and bool(m.get("grade_id")))


def _parse(source: str):
    lines = [ln for ln in source.splitlines() if not ln.lstrip().startswith(("%", "!"))]
    try:
        return ast.parse("\n".join(lines))
    except SyntaxError:
        return None


def _targets(node, out: set) -> None:
    if isinstance(node, ast.Name):
        out.add(node.id)
    elif isinstance(node, (ast.Tuple, ast.List)):
        for elt in node.elts:
            _targets(elt, out)
    elif isinstance(node, ast.Starred):
        _targets(node.value, out)


def defined_names(source: str) -> set[str]:
    """Top-level names a cell binds (not those inside functions or classes)."""
    tree = _parse(source)
    out: set[str] = set()
    if tree is None:
        return out

    def visit(stmts):
        for st in stmts:
            if isinstance(st, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                out.add(st.name)
            elif isinstance(st, ast.Assign):
                for t in st.targets:
                    _targets(t, out)
            elif isinstance(st, (ast.AugAssign, ast.AnnAssign)):
                _targets(st.target, out)
            elif isinstance(st, (ast.Import, ast.ImportFrom)):
                for alias in st.names:
                    out.add((alias.asname or alias.name).split(".")[0])
            elif isinstance(st, (ast.For, ast.AsyncFor)):
                _targets(st.target, out)
                visit(st.body)
                visit(st.orelse)
            elif isinstance(st, (ast.With, ast.AsyncWith)):
                for item in st.items:
                    if item.optional_vars is not None:
                        _targets(item.optional_vars, out)
                visit(st.body)
            elif isinstance(st, (ast.If, ast.While)):
                visit(st.body)
                visit(st.orelse)
            elif isinstance(st, ast.Try):
                visit(st.body)
                visit(st.orelse)
                visit(st.finalbody)
                for h in st.handlers:
                    if h.name:
                        out.add(h.name)
                    visit(h.body)
        for node in ast.walk(tree):  # walrus targets anywhere at top level
            if isinstance(node, ast.NamedExpr):
                _targets(node.target, out)

    visit(tree.body)
    return out


def _dotted(node) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def forbidden_modules(sources: list[str]) -> set[str]:
    """cnnkit modules named as targets of no_calls_to(...) in the given cells."""
    mods: set[str] = set()
    for source in sources:
        tree = _parse(source)
        if tree is None:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                fname = _dotted(node.func) or ""
                if fname.split(".")[-1] == "no_calls_to":
                    for arg in node.args:
                        d = _dotted(arg)
                        if d and d.startswith("cnnkit.") and d.count(".") == 1:
                            mods.add(d)
    return mods


def imported_from(sources: list[str]) -> dict[str, set[str]]:
    """{module: names} of `from MODULE import a, b` in the given cells."""
    out: dict[str, set[str]] = {}
    for source in sources:
        tree = _parse(source)
        if tree is None:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                out.setdefault(node.module, set()).update(a.name for a in node.names)
    return out


def is_solution_code_cell(cell) -> bool:
    return cell.get("cell_type") == "code" and bool(_meta(cell).get("solution"))


def solution_definitions(source_nb) -> dict[str, dict]:
    """The functions and classes the instructor's solution cells define: {name: {"source": its
    definition (decorators included), "uses": [names it reads]}}, a later definition replacing an
    earlier one. Nothing else of those cells (no top-level statement). At grading time
    cnnkit.grading.course_solutions runs the definitions a test asks for, with those they use, in
    the checker, on the student's kernel's objects (autograder.checker); none is sent there."""
    out: dict[str, dict] = {}
    for cell in source_nb.cells:
        if not is_solution_code_cell(cell):
            continue
        blanked = ["" if ln.lstrip().startswith(("%", "!")) else ln for ln in cell.source.splitlines()]
        try:
            tree = ast.parse("\n".join(blanked))
        except SyntaxError:
            continue
        for st in tree.body:
            if isinstance(st, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                first = min([st.lineno] + [d.lineno for d in st.decorator_list])
                uses = sorted({n.id for n in ast.walk(st) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)})
                out[st.name] = {"source": "\n".join(blanked[first - 1:st.end_lineno]) + "\n", "uses": uses}
    return out


def plan(source_nb) -> dict:
    """The checker's plan for one notebook, plain data for the worker: {'tests': {grade_id:
    source}, 'setup': {grade_id: source}, 'names': {test grade_id: [student names]}, 'disable':
    {module: [names kept]}, 'solutions': {name: {'source', 'uses'}}} (solution_definitions).

    A test cell's student names are those whose last definition before it, in the instructor's
    notebook, is in a student cell (solution or ordinary): as in the kernel, where a later `def
    numerical_gradient` replaces a test cell's `from cnnkit.gradcheck import numerical_gradient`.
    A name a locked cell defines is never the student's."""
    tests, setup, names = {}, {}, {}
    owner: dict[str, str] = {}
    locked: set[str] = set()  # names of the locked cells (imports of np, torch, check_close...): never the student's
    for cell in source_nb.cells:
        if cell.get("cell_type") != "code":
            continue
        src = cell.source
        if is_test_cell(cell):
            gid = _meta(cell)["grade_id"]
            tests[gid] = src
            names[gid] = sorted(n for n, o in owner.items() if o == "student" and n not in locked)
            owner.update(dict.fromkeys(defined_names(src), "instructor"))
        elif is_locked_code_cell(cell):
            setup[_meta(cell)["grade_id"]] = src
            locked |= defined_names(src)
            owner.update(dict.fromkeys(defined_names(src), "instructor"))
        else:
            owner.update(dict.fromkeys(defined_names(src), "student"))
    kept = imported_from(list(setup.values()))
    disable = {m: sorted(kept.get(m, set())) for m in sorted(forbidden_modules(list(tests.values())))}
    return {"tests": tests, "setup": setup, "names": names, "disable": disable,
            "solutions": solution_definitions(source_nb)}
