"""The checker's decoder (autograder.wire.decode) is the only code that reads what a student's
kernel sends: it must give back plain data or handles, and refuse everything else with WireError."""
import base64
import json
import pickle
import subprocess
import sys

import nbformat
import numpy as np
import pytest
import torch

from autograder import checker, testplan, wire


def _no_handles(obj):
    raise AssertionError(f"unexpected handle for {obj!r}")


def roundtrip(value):
    return wire.decode(wire.encode(value, _no_handles), lambda hid, info: ("handle", hid))


def test_plain_data_round_trips_with_its_types():
    value = {"a": [1, 2.5, None, True, "s"], 3: (np.arange(6, dtype=np.int32).reshape(2, 3),),
             ("k", 1): np.float64(0.25), "nan": float("nan"), "big": float("-inf")}
    out = roundtrip(value)
    assert out["a"] == [1, 2.5, None, True, "s"]
    arr = out[3][0]
    assert type(out[3]) is tuple and arr.dtype == np.int32 and arr.tolist() == [[0, 1, 2], [3, 4, 5]]
    assert type(out[("k", 1)]) is np.float64 and out[("k", 1)] == 0.25
    assert np.isnan(out["nan"]) and out["big"] == float("-inf")


def test_tensors_come_back_as_tensors():
    t = torch.arange(4.0, requires_grad=True)
    out = roundtrip([t])[0]
    assert isinstance(out, torch.Tensor) and out.tolist() == [0.0, 1.0, 2.0, 3.0] and out.requires_grad


def test_the_channel_imports_torch_only_to_rebuild_a_tensor():
    """A kernel or checker that never uses torch does not import it (a second of CPU in every
    grading of a numpy assignment); a tensor the other side sends is still rebuilt as a tensor."""
    code = ("import sys, numpy as np\n"
            "from autograder import wire\n"
            "text = wire.encode((np.arange(3.0), 'x'), None)\n"
            "assert 'torch' not in sys.modules, 'imported to send numpy'\n"
            "wire.decode(text, None)\n"
            "assert 'torch' not in sys.modules, 'imported to read numpy'\n"
            f"got = wire.decode({wire.encode(torch.ones(2, requires_grad=True), _no_handles)!r}, None)\n"
            "import torch\n"
            "assert isinstance(got, torch.Tensor) and got.requires_grad and got.tolist() == [1.0, 1.0]\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_other_objects_become_handles():
    seen = []

    def handle_for(obj):
        seen.append(obj)
        return {"$": "h", "id": 7, "i": {"type": type(obj).__name__}}

    out = wire.decode(wire.encode([object(), np.array(["x"])], handle_for), lambda hid, info: ("handle", hid, info["type"]))
    assert out == [("handle", 7, "object"), ("handle", 7, "ndarray")]  # a str array is not plain data
    assert len(seen) == 2


def _nd(dtype, shape, raw: bytes):
    return json.dumps({"$": "nd", "dt": dtype, "sh": shape, "d": base64.b64encode(raw).decode()})


@pytest.mark.parametrize("text, what", [
    (_nd("|O", [1], pickle.dumps([1])), "not accepted"),                       # objects: pickle
    (_nd("<U1", [1], "a".encode("utf-32-le")), "not accepted"),                 # strings
    (_nd(str(np.dtype([("a", "f8")]).descr), [2], bytes(16)), "not accepted"),  # structured
    (_nd("<f8", [3], pickle.dumps([1])), "do not match"),                       # bytes of another thing
    (_nd("<f8", [-1], b""), "shape"),
    (json.dumps({"$": "nd", "dt": "<f8", "sh": [1], "d": "not base64!"}), "not base64"),
    ("[" * 100_000 + "]" * 100_000, "nested"),
    ('{"$": "l", "v": [' * 40 + "]}" * 40, "nested"),
    (json.dumps({"$": "l", "v": [0] * (wire.MAX_ITEMS + 1)}), "values in one message"),
    ('"' + "x" * (wire.MAX_TEXT + 1) + '"', "over the limit"),
    (json.dumps({"$": "d", "k": [{"$": "l", "v": []}], "v": [1]}), "dict keys"),
    (json.dumps({"$": "cb", "id": 1}), "callbacks"),
    (json.dumps({"$": "pickle", "d": "..."}), "unknown tag"),
    (json.dumps(2**70), "out of range"),
])
def test_decode_refuses(text, what):
    with pytest.raises(wire.WireError, match=what):
        wire.decode(text, lambda hid, info: None)


def test_plan_names_follow_the_notebook_order():
    """A name the instructor imports before the student's def is the student's after it."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    def cell(src, **m):
        return new_code_cell(src, metadata={"nbgrader": {"grade_id": m.get("gid", ""), "schema_version": 3,
                                                         "solution": m.get("sol", False), "grade": m.get("grade", False),
                                                         "locked": m.get("locked", False)}} if m else {})

    nb = new_notebook(cells=[
        cell("import numpy as np\nfrom cnnkit.gradcheck import rel_error", gid="setup", locked=True),
        cell("def f(x):\n    return x\nnp = None", gid="f", sol=True),
        cell("from cnnkit.gradcheck import numerical_gradient\nno_calls_to(cnnkit.layers)", gid="f__tests", grade=True),
        cell("def numerical_gradient(g, x):\n    pass\nhelper = 1"),
        cell("numerical_gradient(f, x)", gid="n__tests", grade=True),
    ])
    p = testplan.plan(nbformat.from_dict(nb))
    # np is the setup's, whatever a solution cell assigns; cnnkit and no_calls_to, which no cell
    # binds, are a test's machinery (called, or an attribute's base): never taken from the kernel
    assert p["names"]["f__tests"] == ["f"]
    # x, which no cell binds, is read as a value: the kernel's, as in plain nbgrader
    assert p["names"]["n__tests"] == ["f", "helper", "numerical_gradient", "x"]
    assert p["disable"] == {"cnnkit.layers": []}
    assert set(p["tests"]) == {"f__tests", "n__tests"} and set(p["setup"]) == {"setup"}


def test_names_bound_for_a_block_are_given_back_when_the_session_ends():
    """using, no_calls_to, swapped_names and course_solutions bind names of the student's namespace
    for a block, and the checker gives them back at its end; if the cell ends first (a time
    limit), the kernel's server gives them back itself (also a name that was new)."""
    ns = {"BasicBlock": "the student's", "other": 1}
    lines = iter([wire.encode({"op": "end"}, _no_handles)])
    server = wire._KernelServer(ns, read=lambda text: next(lines))
    server.perform({"op": "bind", "n": "BasicBlock", "v": "the course's"})
    server.perform({"op": "bind", "n": "Extra", "v": 2})
    server.perform({"op": "bind", "n": "BasicBlock", "v": "again"})
    assert ns == {"BasicBlock": "again", "other": 1, "Extra": 2}
    server.run()
    assert ns == {"BasicBlock": "the student's", "other": 1}


def test_plan_carries_the_solution_definitions_only():
    """course_solutions' definitions: the defs and classes of the solution cells, with decorators
    (a later definition wins), none of their top-level statements; a test that asks for one gets
    it and the definitions it uses, nothing else (run in the checker: tests/test_checker_drive.py)."""
    from nbformat.v4 import new_code_cell, new_notebook

    def cell(src, sol):
        return new_code_cell(src, metadata={"nbgrader": {"grade_id": "g", "schema_version": 3, "solution": sol,
                                                         "grade": False, "locked": False}})

    nb = new_notebook(cells=[
        cell("%matplotlib inline\nimport functools\n@functools.cache\ndef step(x):\n    ### BEGIN SOLUTION\n"
             "    return x + 1\n    ### END SOLUTION\nstate = step(1)\n", sol=True),
        cell("def student_helper():\n    return 'not a solution cell'\n", sol=False),
        cell("results = {}\nclass Net:\n    depth = 2\ndef step(x):\n    return x + 2\n", sol=True),
        cell("def uses_step(x):\n    return step(x)\n", sol=True),
    ])
    defs = testplan.plan(nbformat.from_dict(nb))["solutions"]
    assert sorted(defs) == ["Net", "step", "uses_step"]
    src = checker.solutions_source(defs, ["uses_step"])   # what the checker runs for uses_step
    assert "state =" not in src and "results" not in src and "student_helper" not in src and "Net" not in src
    space = {"functools": __import__("functools")}
    exec(src, space)  # noqa: S102
    assert space["uses_step"](1) == 3  # the later step (x + 2)
    assert checker.solutions_source(defs, ["Net"]).startswith("class Net")


def test_a_held_dict_stays_in_the_kernel_and_is_changed_there():
    """cnnkit.grading.in_place at grading time: the kernel keeps the dict and answers with a handle
    (plain data would come back as a copy), so a function the checker calls with it changes the
    kernel's dict, and getitem reads the change back as data."""
    def bump(d):
        d["running_mean"] = d["running_mean"] + 1
    ns = {"bump": bump}
    server = wire._KernelServer(ns, read=None)
    answer = wire.decode(server.answer({"op": "hold", "v": {"running_mean": np.zeros(2), "mode": "train"}}),
                         lambda hid, info: ("handle", hid))
    assert answer["ok"][0] == "handle"
    hid = answer["ok"][1]
    server.perform({"op": "call", "h": server.handle_for(bump)["id"], "a": [server.obj(hid)]})
    back = wire.decode(server.answer({"op": "getitem", "h": hid, "k": "running_mean"}), lambda *a: None)["ok"]
    assert isinstance(back, np.ndarray) and back.tolist() == [1.0, 1.0]
    refused = wire.decode(server.answer({"op": "hold", "v": [1, 2]}), lambda *a: None)
    assert refused["err"] == "TypeError" and "dict" in refused["m"]


def test_a_stale_handle_says_so():
    server = wire._KernelServer({}, read=None)
    with pytest.raises(KeyError, match="a proxy lives for one test cell"):
        server.perform({"op": "call", "h": 8})


def test_feedback_reads_the_failing_line_from_the_checker_frames_only():
    from autograder.feedback import FeedbackContent

    tb = ["Traceback (most recent call last):",
          '  File "<grader cell p__tests>", line 3, in <module>\n    check_close("x", f(1), 2)\n    ^^^',
          '  File "/lib/cnnkit/grading.py", line 26, in _fail\n    raise AssertionError(msg)',
          'AssertionError: x: wrong\n  File "<grader cell p__tests>", line 1, in <module>\n    visible()']
    assert FeedbackContent.checker_failing_line(tb, "p__tests") == (3, 'check_close("x", f(1), 2)')
    assert FeedbackContent.checker_failing_line(tb, "other__tests") == (0, "")
    assert FeedbackContent.checker_failing_line(["NotRun: x"], "p__tests") is None


def test_graded_cnnkit_disables_the_model_classes_of_a_whole_package(tmp_path):
    import subprocess
    import sys

    from autograder.gradedlib import graded_cnnkit

    copy = graded_cnnkit({"cnnkit.models": [], "cnnkit.reference": []}, tmp_path)
    code = ("import cnnkit.reference as r, cnnkit.models as m\n"
            "for make in (lambda: r.LeNet5(), lambda: m.resnet18(), lambda: m.BasicBlock(4, 4),\n"
            "             lambda: type('Mine', (r.SEBlock,), {'__module__': '__main__'})(8)):\n"
            "    try:\n        make()\n        print('built')\n    except RuntimeError as exc:\n"
            "        print('refused' if 'reference implementation' in str(exc) else exc)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=copy.parent, capture_output=True, text=True,
                         env={"PYTHONPATH": str(copy.parent), "PATH": "/usr/bin:/bin"})
    assert out.stdout.split() == ["refused"] * 4, out.stderr


def test_line_reader_drops_a_line_over_its_cap_whole_and_reads_on():
    import os

    r, w = os.pipe()
    os.write(w, b"short\n" + b"x" * 5000 + b"\nnext\n")
    os.close(w)
    reader = wire.LineReader(r, cap=100)
    assert reader.readline() == b"short"
    assert reader.readline() is wire.LineReader.TOO_LONG
    assert reader.readline() == b"next"
    assert reader.readline() is None  # the end of the stream
    os.close(r)


def test_the_checker_takes_only_its_sessions_answers_and_refuses_one_over_the_cap(monkeypatch):
    """Lines of another session (left from an earlier cell, or written by the student's code) are
    skipped; an answer over the cap is refused as such, and the channel stays in step."""
    import os
    import socket
    import threading

    monkeypatch.setattr(wire, "MAX_TEXT", 1000)
    kernel, mine = socket.socketpair()
    session = "0123456789abcdef"

    def fake_kernel():
        reader = wire.LineReader(kernel.fileno())
        for answer in ("x" * 5000, 7):
            reader.readline()  # the checker's request
            stale = wire.frame("ffffffffffffffff", wire.encode({"ok": "forged"}, _no_handles))
            wire.write_all(kernel.fileno(), stale + wire.frame(session, wire.encode({"ok": answer}, _no_handles)))
    t = threading.Thread(target=fake_kernel)
    t.start()
    worker_r, worker_w = os.pipe()
    channel = checker.Channel(lambda msg: None, wire.LineReader(worker_r), mine.fileno())
    channel.session = session  # as after _open
    with pytest.raises(checker.StudentError, match="over the limit"):
        channel.request({"op": "len", "h": 1})
    assert channel.request({"op": "len", "h": 1}) == 7
    t.join(5)
    for fd in (worker_r, worker_w):
        os.close(fd)
    kernel.close()
    mine.close()


def test_the_kernels_server_returns_when_the_checker_ends_its_session():
    """channel.end() is a request the server reads as "end": serve() returns (no exception)."""
    import os
    import socket

    kernel, mine = socket.socketpair()
    pid = os.fork()
    if pid == 0:  # the kernel's side
        code = 1
        try:
            mine.close()
            wire.serve({"f": lambda x: 2 * x}, kernel.fileno(), "0123456789abcdef")
            code = 0
        finally:
            os._exit(code)
    kernel.close()
    worker_r, worker_w = os.pipe()
    channel = checker.Channel(lambda msg: None, wire.LineReader(worker_r), mine.fileno())
    channel.session = "0123456789abcdef"
    channel._answer()  # the server's first line
    assert channel.request({"op": "names", "names": ["f"]})["f"](21) == 42
    channel.end()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    for fd in (worker_r, worker_w):
        os.close(fd)
    mine.close()
