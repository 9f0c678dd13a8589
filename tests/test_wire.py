"""The checker's decoder (autograder.wire.decode) is the only code that reads what a student's
kernel sends: it must give back plain data or handles, and refuse everything else with WireError."""
import base64
import io
import json
import pickle

import numpy as np
import pytest
import torch

from autograder import testplan, wire


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


def test_other_objects_become_handles():
    seen = []

    def handle_for(obj):
        seen.append(obj)
        return {"$": "h", "id": 7, "i": {"type": type(obj).__name__}}

    out = wire.decode(wire.encode([object(), np.array(["x"])], handle_for), lambda hid, info: ("handle", hid, info["type"]))
    assert out == [("handle", 7, "object"), ("handle", 7, "ndarray")]  # a str array is not plain data
    assert len(seen) == 2


def _npy(arr, allow_pickle=False):
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=allow_pickle)
    return base64.b64encode(buf.getvalue()).decode()


@pytest.mark.parametrize("text, what", [
    (json.dumps({"$": "nd", "d": _npy(np.array([object()], dtype=object), allow_pickle=True)}), "not a numpy array"),
    (json.dumps({"$": "nd", "d": _npy(np.array(["a"]))}), "not accepted"),
    (json.dumps({"$": "nd", "d": _npy(np.zeros(2, dtype=[("a", "f8")]))}), "not accepted"),
    (json.dumps({"$": "nd", "d": base64.b64encode(pickle.dumps([1])).decode()}), "not a numpy array"),
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
    assert p["names"]["f__tests"] == ["f"]  # np is the setup's, whatever a solution cell assigns
    assert p["names"]["n__tests"] == ["f", "helper", "numerical_gradient"]
    assert p["disable"] == {"cnnkit.layers": []}
    assert set(p["tests"]) == {"f__tests", "n__tests"} and set(p["setup"]) == {"setup"}
