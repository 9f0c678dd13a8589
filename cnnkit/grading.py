"""Checks for assignment test cells. Each failure raises AssertionError with a message a student
can act on: what was checked, what was expected, what came, and a hint.

    check_close("affine_forward out", out, expected, hint="did you add the bias?")
    check_hash("parameter count", n_params, "3f1c...")      # the answer stays secret
    with no_calls_to(cnnkit.layers): student_affine(x, w, b)  # their own work, not the library's
"""
from __future__ import annotations

import hashlib
import sys
import types
import warnings
from contextlib import contextmanager

import numpy as np

from .gradcheck import rel_error


def _fail(name: str, problem: str, hint: str = "") -> None:
    __tracebackhide__ = True  # IPython and pytest show the student's line, not ours
    msg = f"{name}: {problem}"
    if hint:
        msg += f"\nHint: {hint}"
    raise AssertionError(msg)


def _as_array(name: str, value, hint: str) -> np.ndarray:
    __tracebackhide__ = True  # IPython and pytest show the student's line, not ours
    if value is None:
        _fail(name, "got None. Did the function reach its `return` statement?", hint)
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], np.ndarray):
        _fail(name, "got a tuple of 2 items, expected one array. A forward pass returns (out, cache): "
                    "unpack it first", hint)
    try:
        arr = np.asarray(value.detach().cpu().numpy() if hasattr(value, "detach") else value)
    except Exception as exc:  # noqa: BLE001 - anything that cannot become an array is the student's to fix
        _fail(name, f"could not turn the value into an array ({exc})", hint)
    if arr.dtype == object:
        _fail(name, f"got {type(value).__name__} that is not a numeric array", hint)
    return arr


def check_shape(name: str, got, expected_shape, hint: str = "") -> None:
    """Fail unless np.shape(got) equals expected_shape."""
    __tracebackhide__ = True  # IPython and pytest show the student's line, not ours
    arr = _as_array(name, got, hint)
    if tuple(arr.shape) != tuple(expected_shape):
        _fail(name, f"expected shape {tuple(expected_shape)}, got {tuple(arr.shape)}", hint)


def check_close(name: str, got, expected, tol: float = 1e-7, hint: str = "", atol: float = 0.0) -> None:
    """Fail unless got matches expected in shape and to a relative error (see rel_error) below tol.

    Elements within atol of the expected value pass whatever their relative error: use it where
    the expected value is 0 and float noise of the student's computation is fine. The message
    names the worst element: its index, the expected and the received value.
    """
    __tracebackhide__ = True
    got_a = _as_array(name, got, hint)
    exp_a = np.asarray(expected)
    if got_a.dtype.kind not in "biuf":  # strings cannot be compared; complex would lose its imaginary part
        _fail(name, f"expected real numbers, got an array of {got_a.dtype}", hint)
    if got_a.shape != exp_a.shape:
        _fail(name, f"expected shape {exp_a.shape}, got {got_a.shape}", hint)
    got_f = got_a.astype(np.float64)
    exp_f = exp_a.astype(np.float64)
    if not np.all(np.isfinite(got_f)):
        bad = np.argwhere(~np.isfinite(got_f))[0]
        _fail(name, f"contains nan or inf (first at index {tuple(int(i) for i in bad)}); "
                    "look for a division by zero, a log of 0 or an exp that overflows", hint)
    per = np.abs(got_f - exp_f) / np.maximum(1e-8, np.abs(got_f) + np.abs(exp_f))
    per = np.where(np.abs(got_f - exp_f) <= atol, 0.0, per)
    err = float(per.max()) if per.size else 0.0
    if err >= tol:
        idx = np.unravel_index(int(np.argmax(per)), per.shape) if per.ndim else ()
        where = f" at index {tuple(int(i) for i in idx)}" if idx else ""
        _fail(name, f"relative error {err:.2e} is above the tolerance {tol:.0e}; "
                    f"worst{where}: expected {exp_f[idx].item()!r}, got {got_f[idx].item()!r}", hint)


ROUNDOFF_ULPS = 16  # machine epsilons of slack: a few additions and subtractions, with room to spare


def _roundoff(got_a: np.ndarray, before_a: np.ndarray, scale: float) -> np.ndarray:
    """The largest difference float round-off explains, entry by entry: ROUNDOFF_ULPS machine
    epsilons of the arrays' common float dtype (float64 for integers) times max(|before|, scale)."""
    dtype = np.result_type(got_a, before_a)
    eps = np.finfo(dtype if dtype.kind == "f" else np.float64).eps
    return ROUNDOFF_ULPS * eps * np.maximum(np.abs(before_a.astype(np.float64)), scale)


def changed_entries(got, before, scale: float = 0.0) -> np.ndarray:
    """Boolean mask of the entries of `got` that differ from `before` by more than float round-off.

    Round-off is ROUNDOFF_ULPS machine epsilons (of the arrays' float dtype) of max(|before|,
    scale): putting a value back by arithmetic (x += h, then x -= 2*h, then x += h) leaves it a
    few units in the last place away, which this does not count; a real change (an entry left at
    x + h, a zero) is many orders of magnitude larger. Pass the largest step the code takes
    (h) as `scale`, so that entries near zero are judged against the step, not against zero.
    """
    got_a, before_a = np.asarray(got), np.asarray(before)
    diff = np.abs(got_a.astype(np.float64) - before_a.astype(np.float64))
    return ~(diff <= _roundoff(got_a, before_a, scale))  # nan counts as changed


def check_unchanged(name: str, got, before, scale: float = 0.0, hint: str = "") -> None:
    """Fail unless `got` equals `before` up to float round-off (see changed_entries); the message
    names the entry that moved most, by how much, and how much round-off would explain there."""
    __tracebackhide__ = True
    got_a = _as_array(name, got, hint)
    before_a = np.asarray(before)
    if got_a.shape != before_a.shape:
        _fail(name, f"expected shape {before_a.shape}, got {got_a.shape}", hint)
    moved = changed_entries(got_a, before_a, scale)
    if moved.any():
        diff = np.abs(got_a.astype(np.float64) - before_a.astype(np.float64))
        worst = np.unravel_index(int(np.argmax(np.where(moved, np.nan_to_num(diff, nan=np.inf), -1.0))), diff.shape)
        where = f" at index {tuple(int(i) for i in worst)}" if diff.ndim else ""
        slack = _roundoff(got_a, before_a, scale)[worst]
        _fail(name, f"{int(moved.sum())} of {moved.size} entries changed by more than float round-off; "
                    f"the largest{where}: expected {before_a[worst].item()!r}, got {got_a[worst].item()!r} "
                    f"(off by {diff[worst]:.1e}; round-off would explain up to {slack:.1e})", hint)


def _canonical(value, decimals: int) -> str:
    arr = np.asarray(value, dtype=np.float64)
    rounded = np.round(arr, decimals) + 0.0  # + 0.0 turns -0.0 into 0.0
    body = ",".join(f"{v:.{decimals}f}" for v in rounded.ravel())
    return f"{arr.shape}|{body}" if arr.ndim else body


def answer_hash(value, decimals: int = 6) -> str:
    """A short sha256 hash of a number or array rounded to `decimals` places (ints and floats alike).

    Store the hash in a visible test instead of the answer itself: 760 and 760.0 hash the same.
    """
    return hashlib.sha256(_canonical(value, decimals).encode()).hexdigest()[:16]


def check_hash(name: str, got, expected_hash: str, decimals: int = 6, hint: str = "") -> None:
    """Fail unless answer_hash(got) equals expected_hash, without revealing the expected value.

    For scalars, values within 0.4 units of the last decimal on either side also pass, so an answer
    that lands on a rounding boundary is not rejected for its last bit.
    """
    __tracebackhide__ = True
    arr = _as_array(name, got, hint)
    if arr.dtype.kind not in "biuf":
        _fail(name, f"expected a number, got {arr.dtype}", hint)
    candidates = [arr]
    if arr.ndim == 0:
        step = 0.4 * 10.0 ** (-decimals)
        candidates += [arr + step, arr - step]
    if not any(answer_hash(c, decimals) == expected_hash for c in candidates):
        shown = arr.item() if arr.ndim == 0 else f"an array of shape {arr.shape}"
        _fail(name, f"your answer {shown} is not the expected one (checked to {decimals} decimals, "
                    "by hash, so the test does not give the answer away)", hint)


def check_raises(name: str, func, args=(), kwargs=None, exc_type=ValueError, hint: str = "") -> BaseException:
    """Fail unless func(*args, **kwargs) raises exc_type. Returns the exception for further checks."""
    __tracebackhide__ = True
    try:
        func(*args, **(kwargs or {}))
    except exc_type as exc:
        return exc
    except Exception as exc:  # noqa: BLE001
        _fail(name, f"expected {exc_type.__name__}, but it raised {type(exc).__name__}: {exc}", hint)
    _fail(name, f"expected {exc_type.__name__} to be raised, but the call returned normally", hint)


@contextmanager
def no_calls_to(*targets, name: str = "your code", hint: str = ""):
    """Fail if a function of `targets` runs inside the block.

    targets: modules (every function defined in them) or functions. Assignments use it to make
    sure a student's function is their own: not a call into the course library's reference
    version, whichever name it was imported under, nor into an earlier function of theirs that
    a part must not reuse (a "fast" convolution that calls the naive loops).

    This is the student's notebook's version (a profiler). At grading time the checker decides
    it instead (autograder.checker): the library's references are not in the sandbox to call,
    and the student's functions named here are bound, for the block, to callbacks that record
    each call in the checker.
    """
    codes, library = {}, False
    for target in targets:
        if isinstance(target, types.ModuleType):
            library = True
            for attr, obj in vars(target).items():
                if getattr(obj, "__module__", None) != target.__name__:
                    continue
                if isinstance(obj, types.FunctionType):
                    codes[obj.__code__] = f"{target.__name__}.{attr}"
                elif isinstance(obj, type):  # a library class: its methods count too
                    for meth_name, meth in vars(obj).items():
                        if isinstance(meth, types.FunctionType):
                            codes[meth.__code__] = f"{target.__name__}.{attr}.{meth_name}"
        elif hasattr(target, "__code__"):
            codes[target.__code__] = target.__name__
        else:
            raise TypeError(f"no_calls_to takes modules or functions, got {target!r}")
    seen: list[str] = []
    previous = sys.getprofile()  # an enclosing no_calls_to (or a profiler) keeps watching

    def profiler(frame, event, arg):
        if event == "call" and frame.f_code in codes and not _inside_reference(frame):
            seen.append(codes[frame.f_code])
        if previous is not None:
            previous(frame, event, arg)

    sys.setprofile(profiler)
    try:
        yield
    finally:
        sys.setprofile(previous)
    if seen:
        called = ", ".join(sorted(set(seen)))
        if library and any("." in s for s in seen):
            _fail(name, f"calls the course library's reference implementation ({called}). "
                        "Write it yourself.", hint)
        _fail(name, f"calls {called}", hint)


def _inside_reference(frame) -> bool:
    """Whether `frame` runs inside a reference function that `using` put in the student's place."""
    f = frame.f_back
    while f is not None:
        if f.f_code is _REFERENCE_CODE:
            return True
        f = f.f_back
    return False


def reference(func):
    """func marked as the course's own code: the calls it makes do not count for `no_calls_to`
    (a test's model whose loss is built from cnnkit.layers, handed to the student's `train`)."""
    def reference(*args, **kwargs):
        return func(*args, **kwargs)
    reference.__name__ = getattr(func, "__name__", "reference")
    return reference


_reference = reference
_REFERENCE_CODE = reference(len).__code__


def _caller_globals() -> dict:
    """The global namespace of the code that called into this module (a test cell's): the first
    frame outside this module and outside mutmut's trampolines, which wrap each function of this
    module while tools/mutation.py runs (its stats run failed on `using` without this)."""
    frame = sys._getframe(1)
    while frame.f_back is not None and (frame.f_globals is globals()
                                        or str(frame.f_globals.get("__name__", "")).startswith("mutmut.")):
        frame = frame.f_back
    return frame.f_globals


class using:
    """Within the block, the student's names are bound to the given (reference) functions, so a
    part's test runs the student's code of that part on the course's versions of the others:

        with using(affine_forward=cnnkit.layers.affine_forward, softmax_loss=cnnkit.layers.softmax_loss):
            loss, grads = net.loss(X, y)     # a wrong affine layer is charged in its own part only

    The names are those of the namespace the test cell runs in (the student's in their kernel);
    each is restored (or removed again) at the end. Calls made by these references do not count
    for `no_calls_to`. At grading time the checker binds them in the student's kernel instead,
    and the references run in the checker (autograder.checker).
    """

    def __init__(self, **functions):
        self._ns = _caller_globals()
        self._new = {name: _reference(f) for name, f in functions.items()}
        self._old: dict = {}

    def __enter__(self):
        self._old = {name: self._ns[name] for name in self._new if name in self._ns}
        self._ns.update(self._new)
        return self

    def __exit__(self, *exc):
        for name in self._new:
            if name in self._old:
                self._ns[name] = self._old[name]
            else:
                self._ns.pop(name, None)
        return False


@contextmanager
def quiet():
    """Silence warnings inside a test cell: nbgrader takes any stderr output as a failed test."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


solutions_hook = None  # set by the grader's checker (autograder.checker): see course_solutions


@contextmanager
def course_solutions(owner, *names: str):
    """Within the block, `owner` (a function of the student's notebook) calls the course's own
    solutions of `names` (functions of earlier parts) instead of the student's, so a part that
    builds on earlier ones is graded on its own: A4's part 5 times the student's `train_final`
    on the instructor's `train_model` (with its `train_step` and `evaluate`), so a bug in the
    loop costs the loop's points only.

    At grading time the grader's checker binds these names, in the student's kernel, to callbacks
    that run the instructor's solutions in the checker, on the kernel's model and tensors, one
    torch call at a time, until the block ends (`solutions_hook`, set by autograder.checker): no
    solution's source enters the kernel. In the student's own notebook there is no instructor
    solution to use: the block changes nothing and `owner` runs on the student's own functions.
    """
    bad = [n for n in names if not isinstance(n, str) or not n.isidentifier()]
    if not names or bad:
        raise TypeError(f"course_solutions(owner, 'name', ...) takes the names of solution functions, got {names!r}")
    if solutions_hook is None:
        yield
        return
    with solutions_hook(owner, *names):
        yield


def passed(*grade_ids: str, recheck) -> bool:
    """Whether the test cells `grade_ids` of this notebook passed: a later part asks it to judge
    itself on its own (A4's part 5 asks whether parts 1 and 3 passed before it blames a low
    accuracy on the training recipe).

    At grading time the grader's checker answers from the results of those cells as it ran them
    (autograder.checker), so nothing the student's code does in the later cell can change the
    answer. In the student's own notebook there is no such record: `recheck()` decides (it runs
    those parts' visible checks again, quietly, and returns True when they pass).
    """
    bad = [g for g in grade_ids if not isinstance(g, str) or not g]
    if not grade_ids or bad:
        raise TypeError(f"passed('grade id', ..., recheck=...) takes test cells' grade ids, got {grade_ids!r}")
    return bool(recheck())


def in_place(value: dict) -> dict:
    """A dict for the function under test to change in place, read back by the test afterwards.

    CS231n-style layers keep state in an argument: batchnorm_forward(x, gamma, beta, bn_param)
    updates bn_param['running_mean'] and ['running_var']. In the student's kernel this returns
    `value` itself. At grading time the test runs in the checker (autograder.checker), which would
    send the student's function a copy; there this returns a proxy of a dict made in the
    student's kernel, so the change happens where the function runs and `d["running_mean"]`
    brings the new value back as plain data. Read and write it by key (`d[k]`, `d[k] = v`,
    `k in d`); build another dict for another call.
    """
    if type(value) is not dict:
        raise TypeError(f"in_place takes a dict, got {type(value).__name__}")
    return value


def student_module(name: str):
    """The module `name` (dotted: "torch.nn") as the student's code sees it: where it runs.

    A test that must hand the student's function an object built *where that function runs* (a
    model, an optimizer over its parameters) builds it with this module's classes, from code of
    the test: `student_module("torch.optim").SGD(model.parameters(), lr=0.1)`, or a setup helper
    that takes the module, `_tiny(bn=True, nn=student_module("torch.nn"))`. In the student's
    kernel it is the module itself. At grading time the test runs in the checker
    (autograder.checker) and this returns a proxy of the module as the kernel imports it, so the
    model lives in the kernel and only plain data (its state_dict, its logits) comes back. It is
    looked up by import, never as a global name of the notebook: a name a student's cell can
    rebind (a locked cell's `_tiny`, say) is never the test's.
    """
    import importlib

    if type(name) is not str or not all(part.isidentifier() for part in name.split(".")):
        raise TypeError(f"student_module takes a module's dotted name, got {name!r}")
    return importlib.import_module(name)
