import types
import warnings

import numpy as np
import pytest
import torch

from cnnkit import grading, layers


def test_check_close_passes_and_names_worst_element_on_failure():
    grading.check_close("out", np.array([1.0, 2.0]), np.array([1.0, 2.0]))
    with pytest.raises(AssertionError) as info:
        grading.check_close("out", np.array([1.0, 2.5]), np.array([1.0, 2.0]), hint="add the bias")
    msg = str(info.value)
    assert "out: relative error" in msg and "index (1,)" in msg
    assert "expected 2.0, got 2.5" in msg and "Hint: add the bias" in msg


def test_check_close_shape_none_nan_and_tuple_messages():
    with pytest.raises(AssertionError, match=r"expected shape \(2,\), got \(3,\)"):
        grading.check_close("x", np.zeros(3), np.zeros(2))
    with pytest.raises(AssertionError, match="got None"):
        grading.check_close("x", None, np.zeros(2))
    with pytest.raises(AssertionError, match="nan or inf"):
        grading.check_close("x", np.array([np.nan, 1.0]), np.zeros(2))
    with pytest.raises(AssertionError, match=r"\(out, cache\)"):
        grading.check_close("x", (np.zeros(2), None), np.zeros(2))


def test_check_close_accepts_torch_tensors():
    grading.check_close("t", torch.ones(2), np.ones(2))


def test_check_shape():
    grading.check_shape("s", np.zeros((2, 3)), (2, 3))
    with pytest.raises(AssertionError, match=r"expected shape \(3, 2\), got \(2, 3\)"):
        grading.check_shape("s", np.zeros((2, 3)), (3, 2))


def test_answer_hash_is_type_blind_and_value_sensitive():
    assert grading.answer_hash(760) == grading.answer_hash(760.0)
    assert grading.answer_hash(760) != grading.answer_hash(761)
    assert grading.answer_hash([1, 2]) != grading.answer_hash([[1, 2]])
    assert grading.answer_hash(-0.0) == grading.answer_hash(0.0)
    assert len(grading.answer_hash(1.5)) == 16


def test_check_hash_accepts_right_answer_without_revealing_it():
    h = grading.answer_hash(0.123457, decimals=6)
    grading.check_hash("p", 0.1234571, h)  # same after rounding
    with pytest.raises(AssertionError) as info:
        grading.check_hash("p", 0.5, h, hint="divide by N")
    assert "0.123457" not in str(info.value) and "Hint: divide by N" in str(info.value)


def test_check_hash_tolerates_rounding_boundary():
    true = 0.12345650000001
    h = grading.answer_hash(true)
    grading.check_hash("p", 0.12345649999999, h)


def test_check_raises():
    exc = grading.check_raises("size", int, ("x",), exc_type=ValueError)
    assert "invalid literal" in str(exc)
    with pytest.raises(AssertionError, match="returned normally"):
        grading.check_raises("size", int, ("3",), exc_type=ValueError)
    with pytest.raises(AssertionError, match="but it raised KeyError"):
        grading.check_raises("size", {}.__getitem__, ("k",), exc_type=ValueError)


def _fake_library(source: str, name: str = "fakelib"):
    # a module of its own, so that the test does not depend on how cnnkit.layers is built (a
    # mutation-testing run wraps every function of the modules it mutates)
    lib = types.ModuleType(name)
    exec(source, lib.__dict__)
    for obj in vars(lib).values():
        if isinstance(obj, (types.FunctionType, type)):
            obj.__module__ = name
    return lib


def test_no_calls_to_catches_aliases_and_allows_own_code():
    lib = _fake_library("def affine_forward(x):\n    return x\n\ndef relu_forward(x):\n    return x\n")
    alias = lib.affine_forward

    def students_own(x):
        return x + 1

    def students_copy(x):
        return alias(x)

    with grading.no_calls_to(lib):
        students_own(1)
    with pytest.raises(AssertionError) as info:
        with grading.no_calls_to(lib):
            students_copy(1)
    assert str(info.value) == ("your code: calls the course library's reference implementation "
                               "(fakelib.affine_forward). Write it yourself.")


def test_no_calls_to_the_real_library():
    x, w, b = np.ones((2, 3)), np.ones((3, 4)), np.zeros(4)
    alias = layers.affine_forward
    with pytest.raises(AssertionError, match=r"reference implementation \(cnnkit\.layers\."):
        with grading.no_calls_to(layers):
            alias(x, w, b)


def test_quiet_swallows_warnings():
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with grading.quiet():
            warnings.warn("noise")
    assert seen == []


def test_no_calls_to_accepts_functions_with_a_hint():
    def naive(x):
        return x

    def fast(x):
        return naive(x)

    with pytest.raises(AssertionError, match=r"fast conv: calls naive\nHint: vectorise"):
        with grading.no_calls_to(naive, name="fast conv", hint="vectorise"):
            fast(1)
    with pytest.raises(TypeError, match="modules or functions"):
        with grading.no_calls_to(3):
            pass


def test_check_close_atol_for_zero_expected():
    with pytest.raises(AssertionError, match="relative error"):
        grading.check_close("z", np.array([1e-12, 0.0]), np.zeros(2))
    grading.check_close("z", np.array([1e-12, 0.0]), np.zeros(2), atol=1e-9)


def test_no_calls_to_watches_library_class_methods():
    import types as _t

    lib = _t.ModuleType("fakelib")
    exec("class Block:\n    def __init__(self):\n        self.x = 1\n", lib.__dict__)
    lib.Block.__module__ = "fakelib"
    with pytest.raises(AssertionError, match=r"fakelib\.Block\.__init__"):
        with grading.no_calls_to(lib):
            lib.Block()
