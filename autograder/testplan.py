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


def _nodes(sources: list[str]):
    """Every AST node of every given cell that parses (a cell that does not is skipped)."""
    for source in sources:
        tree = _parse(source)
        if tree is not None:
            yield from ast.walk(tree)


def forbidden_modules(sources: list[str]) -> set[str]:
    """cnnkit modules named as targets of no_calls_to(...) in the given cells."""
    mods: set[str] = set()
    for node in _nodes(sources):
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
    for node in _nodes(sources):
        if isinstance(node, ast.ImportFrom) and node.module:
            out.setdefault(node.module, set()).update(a.name for a in node.names)
    return out


def imported_modules(sources: list[str]) -> list[str]:
    """The modules the given cells import (`import a.b`, `from a.b import c`; relative imports
    left out), sorted: what a checker for them imports once, before it forks (checker.zygote)."""
    out: set[str] = set()
    for node in _nodes(sources):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            out.add(node.module)
    return sorted(out)


def free_names(source: str) -> set[str]:
    """Names a cell reads that nothing in it binds (at any depth: assignments, imports, function
    parameters, comprehension and loop targets), other than builtins and dunders."""
    import builtins

    tree = _parse(source)
    if tree is None:
        return set()
    read, bound = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (read if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    return {n for n in read - bound if not hasattr(builtins, n) and not n.startswith("__")}


def stub_values(source: str) -> set[str]:
    """The free names (free_names) a cell reads only as values: never called, never the base of an
    attribute. A test's machinery (check_close, cnnkit.layers) is not among them, so a student
    cannot hand the checker a function or module of theirs under a name no instructor cell
    binds; an answer the instructor's notebook leaves as a stub (`assert largest == 25`) is."""
    tree = _parse(source)
    if tree is None:
        return set()
    machinery = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            machinery.add(node.func.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            machinery.add(node.value.id)
    return free_names(source) - machinery


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
    {module: [names kept]}, 'solutions': {name: {'source', 'uses'}}} (solution_definitions),
    'imports': [the modules those cells import] (a checker's zygote imports them before it forks).

    A test cell's student names are those whose last definition before it, in the instructor's
    notebook, is in a student cell (solution or ordinary): as in the kernel, where a later `def
    numerical_gradient` replaces a test cell's `from cnnkit.gradcheck import numerical_gradient`;
    and the values it reads that no cell before it binds (stub_values), as plain nbgrader's tests
    read whatever the kernel holds. A name a locked or test cell defines is never the student's."""
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
            # the student's names before it, and what it reads that no cell of the instructor's binds
            # (a value their notebook leaves as a stub, or binds where no parser sees it)
            free = {n for n in stub_values(src) if n not in owner and n not in locked}
            names[gid] = sorted({n for n, o in owner.items() if o == "student" and n not in locked} | free)
            owner.update(dict.fromkeys(defined_names(src), "instructor"))
        elif is_locked_code_cell(cell):
            setup[_meta(cell)["grade_id"]] = src
            locked |= defined_names(src)
            owner.update(dict.fromkeys(defined_names(src), "instructor"))
        else:
            owner.update(dict.fromkeys(defined_names(src), "student"))
    kept = imported_from(list(setup.values()))
    disable = {m: sorted(kept.get(m, set())) for m in sorted(forbidden_modules(list(tests.values())))}
    solutions = solution_definitions(source_nb)
    imports = imported_modules([*tests.values(), *setup.values(), *(d["source"] for d in solutions.values())])
    return {"tests": tests, "setup": setup, "names": names, "disable": disable, "solutions": solutions,
            "imports": imports}


# --------------------------------------------------------------------------------------------
# what a test cell may not do: the checker runs it as Python in a process of its own, and reaches
# the student's kernel only through the names it binds (autograder.checker); plain nbgrader runs it
# in the kernel itself. Where the two differ, release names the cell and line.
# --------------------------------------------------------------------------------------------
# (globals() and friends are not among them: the checker binds every name of the student's that the
# cell could use, so `"net" in globals()` answers as in the kernel.)
NAMESPACE_CALLS = ("get_ipython",)
NAMESPACE_NAMES = ("In", "Out", "_ih", "_oh", "__main__")


def _module_level(stmts):
    """The nodes of a cell that run in its own namespace: not inside a def, class or lambda body."""
    for st in stmts:
        yield st
        if isinstance(st, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            yield from st.decorator_list
            continue
        stack = list(ast.iter_child_nodes(st))
        while stack:
            node = stack.pop()
            if isinstance(node, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
                continue  # a scope of its own
            yield node
            if isinstance(node, ast.stmt):
                continue  # a nested statement is reached through the recursion below
            stack.extend(ast.iter_child_nodes(node))
        for field in ("body", "orelse", "finalbody"):
            yield from _module_level(getattr(st, field, []) or [])
        for h in getattr(st, "handlers", []) or []:
            yield from _module_level(h.body)


def _cell_problems(src: str, student: set[str]) -> list[tuple[int, str]]:
    found = []
    for i, line in enumerate(src.splitlines(), start=1):
        if line.lstrip().startswith(("%", "!")):
            found.append((i, f"an IPython magic or shell line (`{line.strip()[:40]}`); the checker runs a "
                             "test cell as Python, not in the student's IPython kernel"))
    tree = _parse(src)
    if tree is None:
        return found
    for node in _module_level(tree.body):
        if isinstance(node, ast.Delete):
            for t in node.targets:
                if isinstance(t, ast.Name) and t.id in student:
                    found.append((node.lineno, f"`del {t.id}` removes the checker's binding only; the student's "
                                               f"code in their kernel still finds {t.id}"))
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store) and node.id in student:
            found.append((node.lineno, f"assigns to {node.id}, the student's name: that rebinds it in the checker "
                                       "only, and the student's code in their kernel still uses their own"))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name in student:
            found.append((node.lineno, f"assigns to {node.name}, the student's name (a def or class): the student's "
                                       "code in their kernel still uses their own"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in NAMESPACE_CALLS:
            found.append((node.lineno, f"{node.func.id}() is the kernel's IPython, which the checker does not have"))
        elif isinstance(node, ast.Name) and node.id in NAMESPACE_NAMES:
            found.append((node.lineno, f"{node.id} is the kernel's own state, which the checker does not have"))
        elif isinstance(node, (ast.Import, ast.ImportFrom)) and any(
                (a.name if isinstance(node, ast.Import) else node.module) == "__main__" for a in node.names):
            found.append((node.lineno, "imports __main__, the checker's module, not the student's kernel"))
    return sorted(set(found))


def _live_answer_names(source_nb) -> set[str]:
    """The names whose binding the student's code still reads after its cell ran: the functions and
    classes the solution cells define, and the globals their bodies read. Rebinding one of these in
    a test changes what the student's code does in plain nbgrader's kernel, not in the checker; a
    value an answer computed once (a loop variable, a total) is not among them."""
    live: set[str] = set()
    for cell in source_nb.cells:
        if not is_solution_code_cell(cell):
            continue
        tree = _parse(cell.source)
        for st in tree.body if tree is not None else []:
            if isinstance(st, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                live.add(st.name)
                live |= {n.id for n in ast.walk(st) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    return live


def unreachable(source_nb, notebook: str) -> list[str]:
    """Each place where a test cell of the instructor's notebook uses what the checker cannot reach
    through its channel to the student's kernel ("NOTEBOOK, cell ID, line N: what"), so that it
    would not be graded as plain nbgrader grades it: it deletes or rebinds a student's name, runs
    an IPython magic or shell line, or reads a namespace itself (globals(), get_ipython(), In...)."""
    p = plan(source_nb)
    live = _live_answer_names(source_nb)
    out = []
    for gid, src in p["tests"].items():
        theirs = set(p["names"][gid]) & live
        for line, what in _cell_problems(src, theirs):
            out.append(f"{notebook}, cell {gid}, line {line}: {what}")
    return out
