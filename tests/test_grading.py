import contextlib
import sys
import types
import warnings
from pathlib import Path

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


# ---------------------------------------------------------------------------------------------
# every failure path: the exact message, with and without a hint, and no library frame shown
# ---------------------------------------------------------------------------------------------
class _Unconvertible:
    def __array__(self, dtype=None, copy=None):
        raise RuntimeError("no array here")


FAILURES = [
    (lambda **kw: grading.check_close("out", None, np.zeros(2), **kw),
     "out: got None. Did the function reach its `return` statement?"),
    (lambda **kw: grading.check_close("out", (np.zeros(2), {}), np.zeros(2), **kw),
     "out: got a tuple of 2 items, expected one array. A forward pass returns (out, cache): unpack it first"),
    (lambda **kw: grading.check_close("out", _Unconvertible(), np.zeros(2), **kw),
     "out: could not turn the value into an array (no array here)"),
    (lambda **kw: grading.check_close("out", {"a": 1}, np.zeros(2), **kw),
     "out: got dict that is not a numeric array"),
    (lambda **kw: grading.check_close("out", ["1.0", "2.0"], np.zeros(2), **kw),
     "out: expected real numbers, got an array of <U3"),
    (lambda **kw: grading.check_close("out", np.zeros(3), np.zeros(2), **kw),
     "out: expected shape (2,), got (3,)"),
    (lambda **kw: grading.check_close("out", np.array([[1.0, np.inf], [np.nan, 0.0]]), np.zeros((2, 2)), **kw),
     "out: contains nan or inf (first at index (0, 1)); look for a division by zero, a log of 0 or an exp "
     "that overflows"),
    (lambda **kw: grading.check_close("out", np.array([1.0, 3.0]), np.array([1.0, 1.0]), **kw),
     "out: relative error 5.00e-01 is above the tolerance 1e-07; worst at index (1,): expected 1.0, got 3.0"),
    (lambda **kw: grading.check_close("loss", 3.0, 1.0, **kw),
     "loss: relative error 5.00e-01 is above the tolerance 1e-07; worst: expected 1.0, got 3.0"),
    (lambda **kw: grading.check_shape("s", np.zeros((2, 3)), [3, 2], **kw),
     "s: expected shape (3, 2), got (2, 3)"),
    (lambda **kw: grading.check_shape("s", None, (3, 2), **kw),
     "s: got None. Did the function reach its `return` statement?"),
    (lambda **kw: grading.check_hash("p", "abc", grading.answer_hash(1), **kw),
     "p: expected a number, got <U3"),
    (lambda **kw: grading.check_hash("p", None, grading.answer_hash(1), **kw),
     "p: got None. Did the function reach its `return` statement?"),
    (lambda **kw: grading.check_hash("p", 0.5, grading.answer_hash(0.25), **kw),
     "p: your answer 0.5 is not the expected one (checked to 6 decimals, by hash, so the test does not give "
     "the answer away)"),
    (lambda **kw: grading.check_hash("p", np.array([1.0, 2.0]), grading.answer_hash([1.0, 3.0]), decimals=3, **kw),
     "p: your answer an array of shape (2,) is not the expected one (checked to 3 decimals, by hash, so the "
     "test does not give the answer away)"),
    (lambda **kw: grading.check_raises("size", {}.__getitem__, ("k",), **kw),
     "size: expected ValueError, but it raised KeyError: 'k'"),
    (lambda **kw: grading.check_raises("size", int, ("3",), exc_type=TypeError, **kw),
     "size: expected TypeError to be raised, but the call returned normally"),
]

@pytest.mark.parametrize("call,message", FAILURES)
def test_every_failure_says_what_was_checked_and_carries_the_hint(call, message):
    with pytest.raises(AssertionError) as info:
        call()
    assert str(info.value) == message  # no "Hint:" line when there is no hint
    # pytest (and IPython) show the student's line, not the frames of cnnkit/grading.py
    shown = [Path(str(entry.path)) for entry in info.traceback.filter(info)]
    assert not [p for p in shown if p.name == "grading.py" and p.parent.name == "cnnkit"], shown
    assert Path(__file__).name in {p.name for p in shown}
    with pytest.raises(AssertionError) as info:
        call(hint="divide by N")
    assert str(info.value) == message + "\nHint: divide by N"


def test_check_close_compares_unequal_values_to_the_tolerance():
    exp = np.array([2.0, -3.0, 4.0])
    grading.check_close("x", exp * (1 + 1e-9), exp)          # rel. error 5e-10 < 1e-7
    grading.check_close("x", exp * (1 + 1e-5), exp, tol=1e-5)  # 5e-6 < 1e-5
    with pytest.raises(AssertionError, match="relative error 5.00e-06"):
        grading.check_close("x", exp * (1 + 1e-5), exp)
    # the error is |got - exp| / (|got| + |exp|): 3 against 1 is 2 / 4, whatever the signs
    grading.check_close("x", 3.0, 1.0, tol=0.5000001)
    with pytest.raises(AssertionError):   # equal to the tolerance is not below it
        grading.check_close("x", 3.0, 1.0, tol=0.5)
    grading.check_close("x", -3.0, -1.0, tol=0.5000001)
    with pytest.raises(AssertionError, match="relative error 1.00e"):
        grading.check_close("x", 1.0, -1.0, tol=0.5)  # opposite signs: |1 - (-1)| / 2 = 1


def test_check_close_names_the_worst_of_several_wrong_elements():
    exp = np.array([[1.0, 1.0], [1.0, 1.0]])
    got = np.array([[1.1, 1.0], [1.0, 2.0]])
    with pytest.raises(AssertionError, match=r"worst at index \(1, 1\): expected 1.0, got 2.0$"):
        grading.check_close("x", got, exp)


def test_check_close_tiny_values_count_as_absolute_error():
    # both near 0: divided by 1e-8 instead of their own size, so 1e-12 against 0 is 1e-4
    grading.check_close("x", np.array([1e-12]), np.array([0.0]), tol=1.1e-4)
    with pytest.raises(AssertionError, match="relative error 1.00e-04"):
        grading.check_close("x", np.array([1e-12]), np.array([0.0]), tol=0.9e-4)


def test_check_close_atol_with_a_nonzero_expected_value():
    exp = np.array([100.0, 0.25])
    got = np.array([100.0005, 0.5])  # relative errors 2.5e-6 and 1/3
    with pytest.raises(AssertionError):
        grading.check_close("x", got, exp, tol=1e-2, atol=1e-3)  # 0.25 is far above atol
    grading.check_close("x", got, exp, tol=1e-2, atol=0.25)  # |0.5 - 0.25| is exactly atol: within it
    grading.check_close("x", got, exp, tol=1e-5, atol=0.25)
    with pytest.raises(AssertionError, match="relative error 2.50e-06"):
        grading.check_close("x", 100.0005, 100.0, tol=1e-6)
    grading.check_close("x", 100.0005, 100.0, tol=1e-6, atol=6e-4)
    with pytest.raises(AssertionError, match="relative error 2.50e-06"):
        grading.check_close("x", 100.0005, 100.0, tol=1e-6, atol=4e-4)
    # atol is about the difference, not the sum: -0.25 against 0.25 differ by 0.5
    with pytest.raises(AssertionError):
        grading.check_close("x", np.array([-0.25]), np.array([0.25]), atol=0.3)


def test_check_close_accepts_lists_ints_and_empty_arrays():
    grading.check_close("x", [1, 2], np.array([1.0, 2.0]))
    grading.check_close("x", (1.0, 2.0), [1, 2])  # a tuple of two numbers is not a forward pass' (out, cache)
    grading.check_close("x", np.zeros((0, 3)), np.zeros((0, 3)))
    grading.check_close("x", np.int64(7), 7.0)


def test_check_close_torch_tensors_that_require_grad():
    w = torch.ones(3, requires_grad=True)
    out = w * 2  # part of an autograd graph: numpy() alone would refuse it
    grading.check_close("t", out, np.full(3, 2.0))
    grading.check_close("t", w, np.ones(3))
    with pytest.raises(AssertionError, match=r"expected 2.0, got 3.0"):
        grading.check_close("t", w * 3, np.full(3, 2.0))
    grading.check_shape("t", out, (3,))
    grading.check_hash("t", out.sum(), grading.answer_hash(6))


def test_answer_hash_is_pinned():
    # stored in released assignments: a change to the canonical form breaks every one of them
    assert grading.answer_hash(760) == "54ba749717c7020c"
    assert grading.answer_hash(760.0000001) == "54ba749717c7020c"
    assert grading.answer_hash([[1, 2]]) == "78efb9edd3430c4d"
    assert grading.answer_hash(5) == "47e7b4509d40d357"
    assert grading.answer_hash([5]) == "93f93693086f4c43"  # an array of one value is not the scalar
    assert grading.answer_hash(0.125, decimals=2) == "4469f737b2dd8040"
    assert grading.answer_hash(-1e-9) == grading.answer_hash(0) == grading.answer_hash(0.0)
    assert grading.answer_hash(True) == grading.answer_hash(1)


def test_answer_hash_decimals():
    assert grading.answer_hash(0.1234, decimals=2) == grading.answer_hash(0.12, decimals=2)
    assert grading.answer_hash(0.1234, decimals=2) != grading.answer_hash(0.13, decimals=2)
    assert grading.answer_hash(0.1234, decimals=3) != grading.answer_hash(0.12, decimals=3)
    assert grading.answer_hash([0.5, 0.25]) != grading.answer_hash([0.25, 0.5])


@pytest.mark.parametrize("got", [0.1234564, 0.12345651, 0.123457, 0.1234574, 0.1234576, 0.12345749999])
def test_check_hash_accepts_within_0_4_units_on_either_side(got):
    # the right answer 0.123457: values that round to it, and those within 0.4e-6 of rounding to it
    grading.check_hash("p", got, grading.answer_hash(0.123457))


@pytest.mark.parametrize("got", [0.1234560, 0.1234558, 0.123458, 0.1234581, 0.0, -0.123457])
def test_check_hash_rejects_beyond_0_4_units(got):
    with pytest.raises(AssertionError, match="is not the expected one"):
        grading.check_hash("p", got, grading.answer_hash(0.123457))


def test_check_hash_tolerance_follows_decimals():
    h = grading.answer_hash(0.12, decimals=2)  # accepted: [0.115 - 0.004, 0.125 + 0.004)
    grading.check_hash("p", 0.1115, h, decimals=2)
    grading.check_hash("p", 0.1285, h, decimals=2)
    for wrong in (0.1105, 0.1295):
        with pytest.raises(AssertionError, match="checked to 2 decimals"):
            grading.check_hash("p", wrong, h, decimals=2)


def test_check_hash_arrays_have_no_tolerance_and_a_wrong_array_fails():
    h = grading.answer_hash([1.0, 2.0])
    grading.check_hash("a", np.array([1.0, 2.0]), h)
    grading.check_hash("a", [1, 2], h)
    for wrong in (np.array([1.0, 2.1]), np.array([2.0, 1.0]), np.array([1.0, 2.0, 0.0]), np.array([[1.0, 2.0]]),
                  np.array([1.0, 1.9999994])):
        with pytest.raises(AssertionError, match="an array of shape"):
            grading.check_hash("a", wrong, h)
    grading.check_hash("b", np.int32(3), grading.answer_hash(3.0))
    grading.check_hash("b", True, grading.answer_hash(1))


def test_check_raises_passes_kwargs_and_returns_the_exception():
    def needs_keyword(*, a):
        return 1 / a

    exc = grading.check_raises("div", needs_keyword, kwargs={"a": 0}, exc_type=ZeroDivisionError)
    assert isinstance(exc, ZeroDivisionError)
    exc = grading.check_raises("int", int, ("x",))  # ValueError by default
    assert isinstance(exc, ValueError)
    assert isinstance(grading.check_raises("lookup", {}.__getitem__, ("k",), exc_type=LookupError), KeyError)


def test_no_calls_to_nested_blocks_both_watch():
    def f():
        return 1

    def g():
        return 2

    before = sys.getprofile()
    with pytest.raises(AssertionError, match="^outer: calls f$"):
        with grading.no_calls_to(f, name="outer"):
            with grading.no_calls_to(g, name="inner"):
                f()  # only the outer block forbids it
    with pytest.raises(AssertionError, match="^inner: calls g$"):
        with grading.no_calls_to(f, name="outer"):
            with grading.no_calls_to(g, name="inner"):
                g()
    with pytest.raises(AssertionError, match="^outer: calls f$"):
        with grading.no_calls_to(f, name="outer"):
            with grading.no_calls_to(g, name="inner"):
                pass
            f()  # after the inner block, the outer one still watches
    assert sys.getprofile() is before


def test_no_calls_to_restores_the_profiler_when_the_block_raises():
    before = sys.getprofile()
    with pytest.raises(KeyError):
        with grading.no_calls_to(grading.answer_hash):
            raise KeyError("student bug")
    assert sys.getprofile() is before


def test_no_calls_to_lists_each_call_once_in_order_and_watches_only_the_targets():
    def a():
        return 1

    def b():
        return 2

    def fine():
        return 3

    with pytest.raises(AssertionError, match="^your code: calls a, b$"):
        with grading.no_calls_to(b, a):
            b(), a(), b(), fine()
    with grading.no_calls_to(a):
        fine()


def test_no_calls_to_watches_only_what_a_module_defines():
    def outsider():
        return 0

    lib = _fake_library("class Block:\n    size = 3\n    def forward(self):\n        return 1\n\n"
                        "def helper():\n    return 2\n")
    lib.outsider = outsider  # imported into the module, defined elsewhere: not the library's own
    with grading.no_calls_to(lib):
        lib.outsider()
        assert lib.Block.size == 3
    with pytest.raises(AssertionError, match=r"^your code: calls the course library's reference implementation "
                                             r"\(fakelib\.Block\.forward\)\. Write it yourself\.$"):
        with grading.no_calls_to(lib):
            lib.Block().forward()
    # a module and a function: calling only the function is not the library's reference version
    with pytest.raises(AssertionError, match="^your code: calls outsider$"):
        with grading.no_calls_to(lib, outsider):
            outsider()
    with pytest.raises(AssertionError, match=r"^mine: calls the course library's reference implementation "
                                             r"\(fakelib\.helper\)\. Write it yourself\.\nHint: no loops$"):
        with grading.no_calls_to(lib, name="mine", hint="no loops"):
            lib.helper()


def test_no_calls_to_refuses_other_targets():
    with pytest.raises(TypeError, match=r"^no_calls_to takes modules or functions, got 'layers'$"):
        with grading.no_calls_to("layers"):
            pass


# --- using: a part's test runs the student's code on the course's versions of the other parts ----

def _course_double(v):
    return 2 * v


def _student_double(v):
    return 3 * v  # a wrong earlier part


def _student_uses_double(v):
    return _student_double(v) + 1


def test_using_binds_the_names_for_the_block_and_restores_them():
    from cnnkit import grading

    assert _student_uses_double(1) == 4
    with grading.using(_student_double=_course_double, _not_defined_before=_course_double):
        assert _student_uses_double(1) == 3          # the later part runs on the course's version
        assert "_not_defined_before" in globals()
    assert _student_uses_double(1) == 4                # restored
    assert "_not_defined_before" not in globals()      # removed again


def test_using_restores_after_an_error():
    from cnnkit import grading

    with pytest.raises(ZeroDivisionError):
        with grading.using(_student_double=_course_double):
            1 / 0
    assert _student_uses_double(1) == 4


def test_calls_made_by_a_reference_do_not_count_for_no_calls_to():
    import cnnkit.layers
    from cnnkit import grading

    def students_net(x):
        return relu_like(x)

    globals()["relu_like"] = lambda x: x
    try:
        with grading.using(relu_like=cnnkit.layers.relu_forward), grading.no_calls_to(cnnkit.layers):
            out, _ = students_net(np.array([-1.0, 2.0]))
        np.testing.assert_array_equal(out, [0.0, 2.0])
        with pytest.raises(AssertionError, match="reference implementation"):
            with grading.no_calls_to(cnnkit.layers):
                cnnkit.layers.relu_forward(np.zeros(2))   # a direct call still counts
    finally:
        globals().pop("relu_like", None)


def test_course_solutions_changes_nothing_in_the_students_notebook():
    """Without the grader's hook (the student's JupyterLab) the block runs the student's own
    functions; the names must be identifiers."""
    def train_final():
        return "the student's own loop"
    with grading.course_solutions(train_final, "train_model"):
        assert train_final() == "the student's own loop"
    with pytest.raises(TypeError, match="names of solution functions"):
        with grading.course_solutions(train_final):
            pass
    with pytest.raises(TypeError, match="names of solution functions"):
        with grading.course_solutions(train_final, "train model"):
            pass


def test_course_solutions_uses_the_graders_hook(monkeypatch):
    seen = []

    @contextlib.contextmanager
    def hook(owner, *names):
        seen.append(("in", owner, names))
        yield
        seen.append(("out",))
    monkeypatch.setattr(grading, "solutions_hook", hook)
    with grading.course_solutions(len, "train_model", "evaluate"):
        seen.append(("body",))
    assert seen == [("in", len, ("train_model", "evaluate")), ("body",), ("out",)]


def test_changed_entries_ignores_round_off_and_sees_real_changes():
    x = np.array([[1.0, -2.0], [0.5, 3.0], [-1.5, 0.25], [0.0, 1e-9]])
    restored = x.copy()
    for idx in np.ndindex(x.shape):  # put back by arithmetic: a few units in the last place away
        restored[idx] += 1e-5
        restored[idx] -= 2e-5
        restored[idx] += 1e-5
    assert not np.array_equal(restored, x)  # the data do show round-off
    assert not grading.changed_entries(restored, x, scale=1e-5).any()
    grading.check_unchanged("x", restored, x, scale=1e-5)
    left = restored.copy()
    left[1, 0] += 1e-5  # an entry left at x + h
    left[3, 1] = 0.0    # a small entry zeroed: 1e-9 is far above round-off at the step 1e-5
    assert grading.changed_entries(left, x, scale=1e-5).tolist() == [[False, False], [True, False], [False, False],
                                                                     [False, True]]
    with pytest.raises(AssertionError) as info:
        grading.check_unchanged("x after f", left, x, scale=1e-5, hint="put each entry back")
    msg = str(info.value)
    assert "2 of 8 entries changed by more than float round-off" in msg and "index (1, 0)" in msg
    assert "off by 1.0e-05" in msg and "Hint: put each entry back" in msg
    nan = x.copy()
    nan[0, 0] = np.nan
    assert grading.changed_entries(nan, x).tolist()[0] == [True, False]
    with pytest.raises(AssertionError, match=r"expected shape \(4, 2\), got \(8,\)"):
        grading.check_unchanged("x", x.ravel(), x)
    # float32 round-off is judged with float32's epsilon
    x32 = np.array([1.0, 3.0], dtype=np.float32)
    assert not grading.changed_entries(x32 * np.float32(1 + 2 ** -22), x32).any()
    assert grading.changed_entries(x32 * np.float32(1 + 2 ** -10), x32).all()


def test_changed_entries_boundaries_dtypes_and_default_scale():
    one = np.array([1.0])
    edge = one + 2.0 ** -48  # exactly ROUNDOFF_ULPS = 16 machine epsilons of 1.0: still round-off
    assert grading.ROUNDOFF_ULPS * np.finfo(np.float64).eps == 2.0 ** -48
    assert not grading.changed_entries(edge, one).any()
    assert grading.changed_entries(one + 2.0 ** -47, one).all()
    tiny = np.array([1e-9])
    assert grading.changed_entries(tiny * (1 + 1e-12), tiny).all()             # default scale 0: judged against 1e-9
    assert not grading.changed_entries(tiny * (1 + 1e-12), tiny, scale=1.0).any()
    # the common dtype decides the epsilon: float32 values against float64 ones are not round-off
    x64 = np.array([0.1, 0.7])
    assert grading.changed_entries(x64.astype(np.float32), x64).all()
    assert grading.changed_entries(x64, x64.astype(np.float32)).all()
    assert not grading.changed_entries(x64.astype(np.float32), x64.astype(np.float32)).any()
    assert grading.changed_entries(np.array([3, 4]), np.array([3, 5])).tolist() == [False, True]  # integers


def test_check_unchanged_names_the_largest_change_nan_first_and_scalars():
    before = np.array([[0.25, -2.0], [3.0, 1.0]])
    got = before.copy()
    got[0, 0] = 0.75      # the largest change, on a small value
    got[0, 1] += 1e-5     # a smaller change on a larger value
    with pytest.raises(AssertionError) as info:
        grading.check_unchanged("x", got, before, scale=1e-5)
    assert str(info.value) == ("x: 2 of 4 entries changed by more than float round-off; the largest at index (0, 0): "
                               "expected 0.25, got 0.75 (off by 5.0e-01; round-off would explain up to 8.9e-16)")
    got[1, 1] = np.nan
    with pytest.raises(AssertionError, match=r"3 of 4 entries .* at index \(1, 1\): expected 1.0, got nan"):
        grading.check_unchanged("x", got, before)
    with pytest.raises(AssertionError) as info:
        grading.check_unchanged("s", np.float64(2.5), 2.0, hint="h")
    assert str(info.value) == ("s: 1 of 1 entries changed by more than float round-off; the largest: expected 2.0, "
                               "got 2.5 (off by 5.0e-01; round-off would explain up to 7.1e-15)\nHint: h")
    grading.check_unchanged("s", 2.0 + 2.0 ** -50, 2.0)
    with pytest.raises(AssertionError) as info:
        grading.check_unchanged("x", np.zeros(3), np.zeros((3, 1)), hint="keep the shape")
    assert str(info.value) == "x: expected shape (3, 1), got (3,)\nHint: keep the shape"
    with pytest.raises(AssertionError, match=r"^y: got None.*\nHint: put it back$"):
        grading.check_unchanged("y", None, np.zeros(2), hint="put it back")
    with pytest.raises(AssertionError, match="round-off would explain up to 1.8e-20"):  # the step as the scale
        grading.check_unchanged("z", np.array([1e-9]), np.array([0.0]), scale=5e-6)


def test_check_unchanged_default_scale_and_float32_slack():
    tiny = np.array([1e-9])
    with pytest.raises(AssertionError, match="1 of 1 entries"):
        grading.check_unchanged("t", tiny * (1 + 1e-12), tiny)  # scale 0 by default: judged against 1e-9
    grading.check_unchanged("t", tiny * (1 + 1e-12), tiny, scale=1.0)
    with pytest.raises(AssertionError, match=r"round-off would explain up to 1\.9e-06\)$"):  # float32's epsilon
        grading.check_unchanged("f", np.array([1.5], np.float32), np.array([1.0], np.float32))


def test_student_module_imports_the_module_and_in_place_the_dict_itself():
    """student_module is a module by its dotted name, never a global of the notebook (a locked
    cell's name that a student's cell could rebind)."""
    import sys

    import torch.nn  # noqa: F401 - imported, so that sys.modules holds it

    assert grading.student_module("torch.nn") is sys.modules["torch.nn"]
    for bad in ("torch nn", "", 3, "torch..nn"):
        with pytest.raises(TypeError, match=r"^student_module takes a module's dotted name, got "):
            grading.student_module(bad)
    d = {"mode": "train"}
    assert grading.in_place(d) is d
    with pytest.raises(TypeError, match=r"^in_place takes a dict, got OrderedDict$"):
        import collections
        grading.in_place(collections.OrderedDict())


def test_passed_asks_recheck_in_the_students_notebook_and_refuses_bad_ids():
    """cnnkit.grading.passed: in the student's kernel recheck() decides (the checker answers from
    the cells' own results at grading time: tests/test_reproducible_grades.py)."""
    calls = []
    assert grading.passed("step__tests", recheck=lambda: calls.append(1) or True) is True
    assert grading.passed("step__tests", "loop__tests", recheck=lambda: 0) is False
    assert calls == [1]
    for bad in [(), ("",), (3,)]:
        with pytest.raises(TypeError, match="grade ids"):
            grading.passed(*bad, recheck=lambda: True)
