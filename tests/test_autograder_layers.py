"""The autograder's layering: cli parses, api does, nothing below imports them; one CourseDir value
carries a course folder's paths and gradebook URL (no environment variable)."""
import ast
import os
import pickle
from pathlib import Path

import pytest

from autograder import api, batch, cli
from autograder.course import Course, CourseDir, CourseError

PACKAGE = Path(api.__file__).resolve().parent


def autograder_imports() -> dict[str, set[str]]:
    """{module: the autograder modules it imports}, at the top or inside functions."""
    graph = {}
    for path in sorted(PACKAGE.glob("*.py")):
        deps = set()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                deps |= {node.module.split(".")[0]} if node.module else {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("autograder."):
                deps.add(node.module.split(".")[1])
            elif isinstance(node, ast.ImportFrom) and node.module == "autograder":
                deps |= {a.name for a in node.names}
            elif isinstance(node, ast.Import):
                deps |= {a.name.split(".")[1] for a in node.names if a.name.startswith("autograder.")}
        graph[path.stem] = deps
    return graph


def test_the_graph_reads_the_imports_it_should():
    graph = autograder_imports()
    assert {"api", "course", "limits"} <= graph["cli"]
    assert {"batch", "collect", "export", "feedback", "course"} <= graph["api"]
    assert {"course", "execute", "pool"} <= graph["batch"]


def test_nothing_below_cli_imports_cli_or_api():
    graph = autograder_imports()
    assert sorted(m for m, deps in graph.items() if "cli" in deps) == ["__main__"]
    assert sorted(m for m, deps in graph.items() if "api" in deps) == ["cli"]


def test_course_imports_nothing_of_the_autograder_and_there_is_no_cycle():
    graph = autograder_imports()
    # course reads an assignment's limits into a limits.Limits; limits is a leaf
    assert graph["course"] == {"limits"} and graph["limits"] == set()
    done, active = set(), []

    def visit(m):
        assert m not in active, f"import cycle: {' -> '.join(active[active.index(m):] + [m])}"
        if m in done or m not in graph:
            return
        active.append(m)
        for d in sorted(graph[m]):
            visit(d)
        active.pop()
        done.add(m)

    for m in graph:
        visit(m)


def test_course_dir_paths_url_and_pickling(tmp_path):
    cd = CourseDir(tmp_path / "term")
    assert cd.submission("s1", "A1") == tmp_path / "term" / "submitted" / "s1" / "A1"
    assert cd.status_file("s1", "A1") == tmp_path / "term" / "autograded" / "s1" / "A1" / "grading.json"
    assert cd.gradebook_url == f"sqlite:///{(tmp_path / 'term' / 'gradebook.db').resolve()}"
    assert not cd.has_gradebook()
    other = CourseDir(str(tmp_path / "term"), db_url="postgresql+psycopg://grader@db/cnn")
    assert other.gradebook_url == "postgresql+psycopg://grader@db/cnn" and other.has_gradebook()
    assert pickle.loads(pickle.dumps(other)) == other  # what a pool or Dask worker would receive
    assert CourseDir.of(cd) is cd and CourseDir.of(tmp_path / "term") == cd
    assert CourseDir(tmp_path, db_url="").db_url is None  # an empty --db means the default


def test_db_reaches_the_gradebook_without_the_environment(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("AUTOGRADER_DB", raising=False)
    roster = tmp_path / "students.csv"
    roster.write_text("id,first_name\ns1,Ada\ns2,Alan\n")
    work, db = tmp_path / "course", tmp_path / "elsewhere.db"
    assert cli.main(["roster", str(roster), "--course-dir", str(work), "--db", f"sqlite:///{db}"]) == 0
    assert "2 students in the gradebook" in capsys.readouterr().out
    assert db.exists() and not (work / "gradebook.db").exists()
    assert "AUTOGRADER_DB" not in os.environ
    assert api.roster_ids(CourseDir(work, db_url=f"sqlite:///{db}")) == {"s1", "s2"}
    assert api.roster_ids(work) is None  # the folder's own gradebook was never made


def test_api_errors_name_the_folder(tmp_path):
    with pytest.raises(CourseError, match=f"no gradebook in {tmp_path}"):
        api.export(CourseDir(tmp_path))
    with pytest.raises(CourseError, match="nothing to grade: no folders .*submitted/<student>/"):
        batch.grade_batch(Course().assignment_names()[0], CourseDir(tmp_path))


def test_execution_is_split_by_job():
    """execute runs a job; notebookrun runs one notebook's cells; kernel, checkerproc and gradedlib
    each make one thing (the sandboxed kernel, the checker's processes, the graded library copy)
    and import none of the others."""
    graph = autograder_imports()
    assert {"notebookrun", "gradedlib", "checkerproc"} <= graph["execute"]
    assert {"kernel", "checkerproc"} <= graph["notebookrun"]
    parts = {"execute", "notebookrun", "kernel", "checkerproc", "gradedlib", "batch"}
    for part in ("kernel", "checkerproc", "gradedlib"):
        assert not graph[part] & (parts - {part}), (part, graph[part] & parts)


def test_the_worker_takes_a_job_and_returns_a_result():
    import dataclasses
    import typing

    from autograder import execute
    from autograder.limits import Limits

    assert typing.get_type_hints(execute.run_job) == {"job": execute.Job, "return": execute.Result}
    job = execute.Job("s", "A1", {"n": "{}"}, limits=Limits(cell_timeout=5))
    assert job.limits == Limits.of({"cell_timeout": 5})
    assert pickle.loads(pickle.dumps(job)) == job  # what a pool or Dask worker receives
    with pytest.raises(dataclasses.FrozenInstanceError):
        job.student = "t"


def test_every_verb_goes_through_api():
    """Each runner of cli (the function a verb's parser sets as run) calls api and no other module's
    function: what a verb does is api's, and a Python caller gets the same."""
    import argparse

    tree = ast.parse((PACKAGE / "cli.py").read_text())
    funcs = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    sub = next(a for a in cli.build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    runners = {name: p.get_default("run").__name__ for name, p in sub.choices.items()}
    assert len(runners) >= 11, runners
    for verb, runner in runners.items():
        calls = {(c.func.value.id, c.func.attr) for c in ast.walk(funcs[runner]) if isinstance(c, ast.Call)
                 and isinstance(c.func, ast.Attribute) and isinstance(c.func.value, ast.Name)}
        ours = {m for m, _ in calls} & set(autograder_imports())  # names of autograder modules
        assert ours == {"api"}, f"{verb}: {runner} calls {sorted(calls)}"
        assert not [n for n in ast.walk(funcs[runner]) if isinstance(n, (ast.Import, ast.ImportFrom))], verb


def test_no_function_of_the_autograder_is_over_60_lines():
    """One job per function. The one exception is hosted.course_setup, which must stay one
    self-contained function: its source is the setup cell of every notebook in the student pack."""
    long = []
    for path in sorted(PACKAGE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > 60 and (path.stem, node.name) != ("hosted", "course_setup"):
                    long.append(f"{path.stem}.{node.name}: {lines} lines")
    assert long == []
