"""The checker: runs an assignment's test cells outside the student's kernel.

At grading time the student's notebook runs in the sandboxed kernel without its test cells; the
worker (autograder.checkerproc) starts this program beside it, sends it the instructor's locked and
test cells in notebook order, and relays its requests to the kernel. A test cell runs here, in
the instructor's own Python, numpy, torch and cnnkit, against *proxies* of the names the
student's cells define (the names come from the instructor's notebook, never from the kernel).

Using a proxy is a request to the kernel: call a function, build an object, get or set an
attribute, index, take a length, iterate, test isinstance. What comes back is plain data decoded
by `autograder.wire.decode` (numbers, strings, numpy arrays and torch tensors without pickle,
lists, tuples and dicts of these), or a new proxy for anything else. A checker function passed to
the student's code (a callback, e.g. a recording `model.loss`) runs here when the student's code
calls it. Nothing the student produced is imported, unpickled or run here; every comparison
happens here.

Protocol with the worker: one JSON object per line on stdin (from the worker) and on the file
descriptor that was stdout (to the worker):
    worker -> checker  {"op": "solutions", "defs": {...}}   (once, first)
                       {"op": "run", "name": ..., "source": ..., "names": [...] or null}
                       {"op": "reply", "open": true} or {"op": "reply", "error": WHY}
                       {"op": "gone", "error": WHY}   (the kernel's server stopped mid-cell)
                       {"op": "end"}   (the notebook is done: a zygote's child exits)
    checker -> worker  {"op": "kernel", "session": WORD}   (start the kernel's server; a "reply")
                       {"op": "done", "outputs": [nbformat outputs]}
"names" is null for an instructor cell that needs no kernel (setup code), else the student names
to bind before the cell runs. The requests themselves do not pass through the worker: once the
server runs, they go to the kernel over the notebook's own socket (autograder.wire), each line
tagged with the session word, and the answers come back the same way: a call costs one write
and one read on each side, where a relay through the worker over the kernel's stdin channel cost
four Jupyter messages.

Run as a script (`python checker.py --kernel-fd FD`), beside a copy of wire.py, inside a sandbox
without network; `python checker.py --zygote FD` is the same checker started once per worker
(see zygote()).
"""
from __future__ import annotations

import ast
import builtins
import contextlib
import io
import json
import linecache
import os
import secrets
import socket
import sys
import traceback

try:
    from . import wire
except ImportError:  # run as a script beside wire.py
    import wire  # type: ignore[no-redef]

# Exceptions raised by the student's code are re-raised here as the builtin of the same name
# (a test may expect a ValueError); anything else becomes StudentError.
_SAME_NAME = {e.__name__: e for e in (ValueError, TypeError, IndexError, KeyError, AttributeError,
                                        RuntimeError, NotImplementedError, ZeroDivisionError,
                                        ArithmeticError, LookupError, FloatingPointError, OverflowError,
                                        RecursionError, NameError, UnboundLocalError, MemoryError,
                                        AssertionError)}


class StudentError(Exception):
    """An exception of a type the checker does not share, raised in the student's code."""


class KernelGone(Exception):
    """The student's kernel stopped answering (it died, timed out or left the channel)."""


class Channel:
    """The checker's end of one notebook's channel to the student's kernel (autograder.wire): for
    each test cell that uses it, the worker starts the kernel's server (a session), and the
    requests and answers then go straight between the two processes, over kernel_fd. The worker
    can still say, on its own pipe, that the session is over (the server's cell ended, or the
    kernel died)."""

    def __init__(self, send, worker: wire.LineReader, kernel_fd: int | None):
        self._send, self.worker = send, worker
        self.kernel = wire.LineReader(kernel_fd, cap=wire.MAX_TEXT + 64) if kernel_fd is not None else None
        self.callbacks: dict[int, object] = {}
        self.gone: str | None = None
        self.session: str | None = None
        self.live: dict[int, int] = {}   # handle id -> how many proxies of this session hold it
        self.freed: set[int] = set()     # handles no proxy holds: the next request frees them
        self.generation = 0              # sessions so far: a proxy of an earlier one frees nothing

    def hold(self, hid: int) -> int:
        """A proxy of handle hid is made: it is in use again. Returns the session's number."""
        self.live[hid] = self.live.get(hid, 0) + 1
        self.freed.discard(hid)
        return self.generation

    def drop(self, hid: int, generation: int) -> None:
        """A proxy of handle hid has gone: the last one frees the kernel's object (a driven
        training run makes a tensor per step; the kernel's server would keep them all)."""
        if generation != self.generation:
            return
        left = self.live.get(hid, 0) - 1
        if left > 0:
            self.live[hid] = left
        else:
            self.live.pop(hid, None)
            self.freed.add(hid)

    def worker_message(self) -> dict:
        line = self.worker.readline()
        if line is None:
            raise SystemExit(0)  # the worker has gone: so has this notebook
        return json.loads(line)

    # what the checker sends: plain data, proxies (by handle), and its own callables (callbacks)
    def _handle_for(self, obj):
        if isinstance(obj, Remote):
            return {"$": "h", "id": object.__getattribute__(obj, "_h")}
        if callable(obj):
            cid = len(self.callbacks) + 1
            self.callbacks[cid] = obj
            return {"$": "cb", "id": cid, "deep": True} if isinstance(obj, Driven) else {"$": "cb", "id": cid}
        raise TypeError(f"the grader cannot send a {type(obj).__name__} to your code")

    def _open(self) -> None:
        """Ask the worker for a session of the kernel's server; wait for the server's first line."""
        if self.kernel is None:
            raise KernelGone("this cell has no access to your code")
        session = secrets.token_hex(8)
        self._send({"op": "kernel", "session": session})
        msg = self.worker_message()
        if msg.get("op") != "reply" or "error" in msg:
            self.gone = str(msg.get("error", f"unexpected message from the worker: {msg.get('op')!r}"))
            raise KernelGone(self.gone)
        self.session = session
        self._answer()  # the server's {"ready": true}

    def _answer(self) -> str:
        """The next line of this session from the kernel (lines of other sessions are skipped)."""
        prefix = self.session.encode() + b" "
        while True:
            if self.worker in wire.wait_readable([self.kernel, self.worker]):
                msg = self.worker_message()
                if msg.get("op") == "gone":  # the worker saw the server's cell end, or the kernel die
                    self.gone = str(msg.get("error", "your kernel stopped answering the grader"))
                    raise KernelGone(self.gone)
                continue
            line = self.kernel.take()
            if line is None:
                self.gone = "your kernel is not running (it exited, crashed or was stopped)"
                raise KernelGone(self.gone)
            if line is wire.LineReader.TOO_LONG:
                raise wire.WireError(f"an answer over the limit of {wire.MAX_TEXT} characters")
            if line.startswith(prefix):
                return line[len(prefix):].decode("utf-8", errors="replace")

    def _kernel(self, text: str) -> str:
        if self.gone:
            raise KernelGone(self.gone)
        if self.session is None:
            self._open()
        try:
            wire.write_all(self.kernel.fd, wire.frame(self.session, text))
        except OSError:
            self.gone = "your kernel is not running (it exited, crashed or was stopped)"
            raise KernelGone(self.gone) from None
        return self._answer()

    def end(self) -> None:
        """The test cell is done: its session ends (the kernel's server returns)."""
        if self.session is not None:
            try:
                wire.write_all(self.kernel.fd, wire.frame(self.session, wire.encode({"op": "end"}, self._handle_for)))
            except OSError:
                pass
        self.session, self.gone = None, None
        self.callbacks.clear()
        self.generation += 1
        self.live.clear()
        self.freed.clear()

    def decode(self, text):
        return wire.decode(text, lambda hid, info: Remote(self, hid, info))

    def request(self, req: dict, keep: bool = False):
        """Send a request to the kernel; run callbacks it asks for; return the decoded answer.
        keep: the answer comes by handle unless it is None, a bool, an int, a float or a str, as a
        DeepRemote (the checker's code then works on the kernel's object itself)."""
        if keep:
            req = {**req, "keep": True}
        if self.freed:
            req = {**req, "free": sorted(self.freed)}
            self.freed.clear()
        text = wire.encode(req, self._handle_for)
        callback_error = None
        while True:
            try:
                reply = self.decode(self._kernel(text))
            except wire.WireError as exc:
                raise StudentError(f"your code sent back something the grader cannot read: {exc}") from None
            if type(reply) is not dict:
                raise StudentError("the answer from your kernel is not a grader message")
            if "cb" in reply:
                func = self.callbacks.get(reply["cb"])
                args, kwargs = reply.get("a", []), reply.get("k", {})
                try:
                    if func is None or type(args) is not list or type(kwargs) is not dict \
                            or not all(type(k) is str for k in kwargs):
                        raise StudentError("a malformed callback request")
                    if isinstance(func, Driven):
                        args, kwargs = [DeepRemote.of(a) for a in args], {k: DeepRemote.of(v) for k, v in kwargs.items()}
                    result = func(*args, **kwargs)
                    text = wire.encode({"op": "return", "v": result}, self._handle_for)
                except KernelGone:
                    raise
                except Exception as exc:  # noqa: BLE001 - re-raised below, whatever the student does
                    callback_error = callback_error or exc
                    text = wire.encode({"op": "raise", "m": f"{type(exc).__name__}: {exc}"[:2000]}, self._handle_for)
                continue
            if callback_error is not None:
                raise callback_error
            if "ok" in reply:
                if keep:
                    return [DeepRemote.of(v) for v in reply["ok"]] if type(reply["ok"]) is list else DeepRemote.of(reply["ok"])
                return reply["ok"]
            if "err" in reply:
                name, msg = str(reply.get("err"))[:100], str(reply.get("m", ""))[:2000]
                if name in _SAME_NAME:
                    raise _SAME_NAME[name](msg)
                raise StudentError(f"{name}: {msg}")
            raise StudentError("the answer from your kernel is not a grader message")


class Remote:
    """Stands for an object in the student's kernel. Its operations are requests to the kernel;
    comparisons, truth and hashing stay here (a student object cannot make == succeed)."""

    __slots__ = ("_ch", "_h", "_info", "_g")

    def __init__(self, ch, hid, info):
        object.__setattr__(self, "_ch", ch)
        object.__setattr__(self, "_h", hid)
        object.__setattr__(self, "_info", info)
        object.__setattr__(self, "_g", ch.hold(hid) if isinstance(ch, Channel) else None)

    def __del__(self):
        try:
            ch = object.__getattribute__(self, "_ch")
            if isinstance(ch, Channel):
                ch.drop(object.__getattribute__(self, "_h"), object.__getattribute__(self, "_g"))
        except Exception:  # noqa: BLE001 - at exit, or a proxy half made
            pass

    def _req(self, op, **kw):
        return object.__getattribute__(self, "_ch").request({"op": op, "h": object.__getattribute__(self, "_h"), **kw})

    def __call__(self, *args, **kwargs):
        return self._req("call", a=list(args), k=kwargs)

    def __getattr__(self, name):
        if name.startswith("__") and name.endswith("__"):
            if name == "__name__":
                return str(object.__getattribute__(self, "_info").get("name", ""))
            raise AttributeError(name)  # numpy and the like probe these; they stay local
        return self._req("getattr", n=name)

    def __setattr__(self, name, value):
        self._req("setattr", n=name, v=value)

    def __getitem__(self, key):
        return self._req("getitem", k=key)

    def __setitem__(self, key, value):
        self._req("setitem", k=key, v=value)

    def __len__(self):
        n = self._req("len")
        if type(n) is not int or n < 0:
            raise StudentError("len() of your object did not give a non-negative int")
        return n

    def __iter__(self):
        items = self._req("list")
        if type(items) is not list:
            raise StudentError("iterating over your object did not give a list")
        return iter(items)

    def __instancecheck__(self, obj):
        result = self._req("isinstance", v=obj)
        return result is True

    def __repr__(self):
        info = object.__getattribute__(self, "_info")
        what = info.get("name") or info.get("type", "object")
        return f"<your {info.get('type', 'object')} {what}>" if info.get("name") else f"<your {what}>"

    __str__ = __repr__


class DeepRemote(Remote):
    """A proxy whose results stay in the kernel: every answer that is not a None, bool, int,
    float or str comes back as another DeepRemote (a tensor stays a tensor on the kernel's
    device), and operators, conversions and `with` are requests too. The checker runs its own
    code on these, driving the kernel's torch step by step: course_solutions runs the course's
    train_model here this way, so its source never enters the kernel."""

    __slots__ = ()

    @staticmethod
    def of(value):
        if type(value) is not Remote:
            return value
        get = object.__getattribute__
        return DeepRemote(get(value, "_ch"), get(value, "_h"), get(value, "_info"))

    def _req(self, op, **kw):
        get = object.__getattribute__
        return get(self, "_ch").request({"op": op, "h": get(self, "_h"), **kw}, keep=True)

    def _convert(self, to, kind):
        value = self._req("convert", to=to)
        if type(value) is not kind:
            raise StudentError(f"{to}() of your object did not give a {kind.__name__}")
        return value

    def __bool__(self):
        return self._convert("bool", bool)

    def __int__(self):
        return self._convert("int", int)

    def __index__(self):
        return self._convert("index", int)

    def __float__(self):
        return self._convert("float", float)

    __hash__ = object.__hash__  # the operators below include ==; a proxy is still its own key here

    def __enter__(self):
        return self._req("getattr", n="__enter__")()

    def __exit__(self, *exc):
        self._req("getattr", n="__exit__")(None, None, None)
        return False  # an exception of the checker's code is never swallowed


def _operator(op, name, reflected=False):
    def method(self, *other):
        return self._req(op, o=name, **({"v": other[0], "r": reflected} if other else {}))
    return method


for _dunder, _how in {"eq": "eq", "ne": "ne", "lt": "lt", "le": "le", "gt": "gt", "ge": "ge", "add": "add",
                      "sub": "sub", "mul": "mul", "truediv": "truediv", "floordiv": "floordiv", "mod": "mod",
                      "pow": "pow", "matmul": "matmul", "and": "and_", "or": "or_", "xor": "xor"}.items():
    setattr(DeepRemote, f"__{_dunder}__", _operator("binary", _how))
    if _dunder not in ("eq", "ne", "lt", "le", "gt", "ge"):
        setattr(DeepRemote, f"__r{_dunder}__", _operator("binary", _how, reflected=True))
for _dunder in ("neg", "pos", "abs", "invert"):
    setattr(DeepRemote, f"__{_dunder}__", _operator("unary", _dunder))


class Driven:
    """A checker function the kernel calls with its arguments by handle (DeepRemote), not as
    copies: the course's train_model run here on the student's model and the kernel's tensors."""

    def __init__(self, func):
        self.func = func

    def __call__(self, *args, **kwargs):
        return self.func(*args, **kwargs)


_CHANNEL: "Channel | None" = None  # the channel of the running cell
_NS: dict = {}  # the namespace the test cells run in (the setup's names, the student's proxies)
_SOLUTIONS: dict = {}  # the instructor's solution definitions (autograder.testplan.solution_definitions)
_MISSING = object()


def _hid(remote) -> int:
    return object.__getattribute__(remote, "_h")


class _Rebound:
    """Names of the student's namespace bound, in their kernel, to values the checker sends (its
    callbacks, or handles of the kernel's own objects), and given back at the end: what `using`,
    `no_calls_to` on the student's functions, `swapped_names` and `course_solutions` do there. (The
    kernel's server also gives them back if the cell ends first.)"""

    def __init__(self, ch: Channel):
        self.ch = ch
        self.old: dict = {}

    def bind(self, name: str, value) -> None:
        if name not in self.old:
            found = self.ch.request({"op": "names", "names": [name]})
            self.old[name] = found[name] if type(found) is dict and name in found else _MISSING
        self.ch.request({"op": "bind", "n": name, "v": value})

    def restore(self) -> None:
        try:
            for name, value in self.old.items():
                self.ch.request({"op": "bind", "n": name} if value is _MISSING else {"op": "bind", "n": name, "v": value})
        except KernelGone:
            pass
        self.old = {}


MAX_ALIASES = 64  # names of the student's namespace bound for one function in a no_calls_to block


@contextlib.contextmanager
def _no_calls_to(*targets, name: str = "your code", hint: str = ""):
    """cnnkit.grading.no_calls_to at grading time. The course library's reference versions are
    not there to call (the grading sandbox holds a cnnkit whose graded functions raise), so
    module targets need no watching here. For the student's own functions (a "fast" version that
    must not call the naive one), every global name of their namespace that holds one (the
    notebook's own name, and the aliases the kernel lists) is bound, for the block, to a callback
    that records the call here and then calls the function: the verdict is this record, not a
    report of the kernel's. A call by a reference held elsewhere (a default argument, a copy of
    the code) is not seen here: the tests that matter also check that the result flows from what
    the part must use (A2's im2col tests hand over their own im2col)."""
    from cnnkit.grading import _fail

    remotes = {_hid(t): t for t in targets if isinstance(t, Remote)}
    if not remotes:
        yield
        return
    ch = _CHANNEL
    names = {n: _hid(v) for n, v in _NS.items() if isinstance(v, Remote) and _hid(v) in remotes}
    label = {h: min((n for n, v in _NS.items() if v is t), default=None) for h, t in remotes.items()}  # the test's name
    found = ch.request({"op": "aliases", "hs": sorted(remotes)})
    if type(found) is dict:  # the kernel's word, for more places to record: at most MAX_ALIASES of them
        extra = [(n, h) for n, h in found.items() if type(n) is str and n.isidentifier() and h in remotes]
        names.update(extra[:MAX_ALIASES])
    calls: list[str] = []

    def recorder(hid):
        target, what = remotes[hid], label[hid] or str(object.__getattribute__(remotes[hid], "_info").get("name", "?"))

        def record(*args, **kwargs):
            calls.append(what)
            return target(*args, **kwargs)
        return record

    rebound = _Rebound(ch)
    try:
        for n, h in sorted(names.items()):
            rebound.bind(n, recorder(h))
        yield
    finally:
        rebound.restore()
    if calls:
        _fail(name, f"calls {', '.join(sorted(set(calls)))}", hint)


def _student_module(channel, name: str):
    """cnnkit.grading.student_module at grading time: the module `name` as the kernel imports it
    (a proxy), never a global name of the notebook (which the student's cells can rebind)."""
    if type(name) is not str or not all(part.isidentifier() for part in name.split(".")):
        raise TypeError(f"student_module takes a module's dotted name, got {name!r}")
    module = channel.request({"op": "module", "n": name})
    if not isinstance(module, Remote):
        raise StudentError(f"your kernel did not give the module {name}")
    return module


def _in_place(channel, value: dict):
    """cnnkit.grading.in_place at grading time: a copy of the dict made in the student's kernel,
    as a proxy, so the function under test can change it there and the test reads it back."""
    if type(value) is not dict:
        raise TypeError(f"in_place takes a dict, got {type(value).__name__}")
    held = channel.request({"op": "hold", "v": value})
    if not isinstance(held, Remote):
        raise StudentError("your kernel did not keep the grader's dict")
    return held


def _twin_layer(tnn, module):
    """The layer of the kernel's torch.nn (tnn) of module's kind and sizes (its weights are the
    kernel's own; a test loads its own into the whole model)."""
    kind = type(module).__name__
    if kind in ("Conv1d", "Conv2d"):
        return getattr(tnn, kind)(module.in_channels, module.out_channels, module.kernel_size, stride=module.stride,
                                  padding=module.padding, dilation=module.dilation, groups=module.groups,
                                  bias=module.bias is not None, padding_mode=module.padding_mode)
    if kind in ("BatchNorm1d", "BatchNorm2d"):
        return getattr(tnn, kind)(module.num_features, eps=module.eps, momentum=module.momentum,
                                  affine=module.affine, track_running_stats=module.track_running_stats)
    if kind == "Linear":
        return tnn.Linear(module.in_features, module.out_features, bias=module.bias is not None)
    raise TypeError(f"swapped_names: the grader cannot build a {kind} in your kernel")


def _twin(tnn, module, far: dict, path: str = ""):
    """In the kernel, a module with the layers of `module` that hold parameters or buffers, under
    the same names and in the same order (a layer without any is an nn.Identity there, never
    called); far[path] is each such layer's twin."""
    import torch

    children = list(module.named_children())
    if next(module.parameters(recurse=False), None) is not None or next(module.buffers(recurse=False), None) is not None:
        if children:
            raise TypeError(f"swapped_names: the grader cannot build a {type(module).__name__} in your kernel")
        far[path] = _twin_layer(tnn, module)
        return far[path]
    parts = [(n, _twin(tnn, c, far, f"{path}.{n}" if path else n)) for n, c in children]
    if isinstance(module, torch.nn.Sequential):
        return tnn.Sequential(*[t for _, t in parts])
    box = tnn.Module() if parts else tnn.Identity()
    for n, t in parts:
        setattr(box, n, t)
    return box


def _driven_module(tnn, module):
    """`module` (the checker's own) as a module of the student's kernel whose forward runs here:
    its parameters and buffers live in the kernel's twin layers (so they are part of the student's
    model and its state_dict), the forward of `module` runs in the checker with each such layer
    replaced by a call of its twin, and everything else of it (the additions, the activations)
    never leaves the checker: no source is sent."""
    import torch

    class Far(torch.nn.Module):
        """A layer of the kernel, called from the checker: its input and output cross as data."""

        def __init__(self, twin):
            super().__init__()
            object.__setattr__(self, "twin", twin)

        def forward(self, *args):
            return self.twin(*args)

    far: dict = {}
    shell = _twin(tnn, module, far)
    for path, twin in far.items():
        if not path:
            module = Far(twin)
            continue
        *parents, last = path.split(".")
        owner = module
        for p in parents:
            owner = owner._modules[p]
        owner._modules[last] = Far(twin)

    def forward(*args, **kwargs):
        module.train(getattr(shell, "training") is True)  # the mode the student's model put the block in
        with torch.no_grad():
            return module(*args, **kwargs)

    shell.forward = forward
    return shell


@contextlib.contextmanager
def _swapped_names(owner, **names):
    """What cnnkit.modcheck.swapped_names does at grading time, for a proxy of the student's
    class: each name of the student's namespace is bound, in the kernel, to a callback that builds
    the given reference module here and hands back its kernel twin (_driven_module), and is given
    back at the end. The reference's code stays in the checker."""
    import torch

    if not isinstance(owner, Remote):
        raise TypeError("swapped_names needs one of your notebook's classes or functions")
    bad = [n for n, v in names.items() if not (isinstance(v, type) and issubclass(v, torch.nn.Module))]
    if bad:
        raise TypeError(f"swapped_names at grading time takes torch module classes, not {', '.join(bad)}")
    ch = object.__getattribute__(owner, "_ch")
    tnn = _student_module(ch, "torch.nn")

    def builder(cls):
        def build(*args, **kwargs):
            return _driven_module(tnn, cls(*args, **kwargs))
        return build

    rebound = _Rebound(ch)
    try:
        for name, cls in names.items():
            rebound.bind(name, builder(cls))
        yield
    finally:
        rebound.restore()


def solutions_needed(defs: dict, names) -> list[str]:
    """The solution definitions `names` and those they use, in turn, sorted."""
    need, todo = [], list(names)
    while todo:
        n = todo.pop(0)
        if n in defs and n not in need:
            need.append(n)
            todo += defs[n].get("uses", [])
    return sorted(need)


def solutions_source(defs: dict, names) -> str:
    """The source of the solution definitions `names` and of those they use, in turn."""
    return "\n\n".join(str(defs[n]["source"]) for n in solutions_needed(defs, names))


def _driven_solutions(ch: Channel, names) -> dict:
    """The instructor's solution definitions `names` (with those they use), made here, in the
    checker: the names they read from torch (torch, F, nn, ...) are the kernel's modules as
    DeepRemotes, so their tensors and models stay in the kernel and each torch call is a
    request; other modules (math, time, numpy) and the setup's values are the checker's own."""
    import types

    defined = solutions_needed(_SOLUTIONS, names)
    src = solutions_source(_SOLUTIONS, names)
    used = {u for n in defined for u in _SOLUTIONS[n].get("uses", [])} - set(defined)
    space: dict = {"__builtins__": builtins, "__name__": "course_solutions"}
    for name in sorted(used):
        value = _NS.get(name, _MISSING)
        if isinstance(value, types.ModuleType):
            top = value.__name__.split(".")[0]
            space[name] = DeepRemote.of(_student_module(ch, value.__name__)) if top == "torch" else value
        elif value is not _MISSING and not isinstance(value, Remote):
            space[name] = value
    exec(compile(src, "<course solution>", "exec"), space)  # noqa: S102 - the instructor's own code
    return space


@contextlib.contextmanager
def _course_solutions(owner, *names):
    """cnnkit.grading.course_solutions at grading time: `names` of the student's namespace are
    bound, in the kernel, to callbacks that run the instructor's solutions of them here, on the
    kernel's objects (their arguments by handle: _driven_solutions), until the block ends. No
    source of a solution enters the kernel; it sees only the torch calls, one by one."""
    if not isinstance(owner, Remote):
        raise TypeError("course_solutions needs one of your notebook's functions")
    missing = [n for n in names if n not in _SOLUTIONS]
    if missing:
        raise TypeError(f"course_solutions: the instructor's solution cells define no {', '.join(missing)} "
                        f"(they define {', '.join(sorted(_SOLUTIONS)) or 'nothing'})")
    ch = object.__getattribute__(owner, "_ch")
    space = _driven_solutions(ch, names)
    rebound = _Rebound(ch)
    try:
        for name in names:
            rebound.bind(name, Driven(space[name]))
        yield
    finally:
        rebound.restore()


class _Using:
    """cnnkit.grading.using at grading time: the student's names are bound, in their kernel, to
    callbacks that run the given reference functions here (the sandbox's cnnkit raises), and in
    the test cell's namespace to the references themselves; both are restored at the end."""

    def __init__(self, **functions):
        self._ns = sys._getframe(1).f_globals
        self._new = functions
        self._rebound: _Rebound | None = None
        self._local_old: dict = {}

    def __enter__(self):
        self._rebound = _Rebound(_CHANNEL)
        for name, func in self._new.items():
            self._rebound.bind(name, func)
        self._local_old = {n: self._ns[n] for n in self._new if n in self._ns}
        self._ns.update(self._new)
        return self

    def __exit__(self, *exc):
        for name in self._new:
            if name in self._local_old:
                self._ns[name] = self._local_old[name]
            else:
                self._ns.pop(name, None)
        self._rebound.restore()
        return False


def _run_cell(source: str, filename: str, ns: dict):
    """Run a trusted cell as IPython runs it: a last statement that is an expression is the cell's
    value, returned (nbgrader reads a test cell's value as its partial credit)."""
    tree = ast.parse(source, filename)
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    exec(compile(tree, filename, "exec"), ns)  # noqa: S102 - the instructor's own cell
    if last is None:
        return None
    return eval(compile(ast.Expression(last.value), filename, "eval"), ns)  # noqa: S307 - likewise


def _value_output(value) -> list[dict]:
    """The cell's value as the execute_result nbgrader scores: a plain int or float (the checker's
    own, never a student's object or text: their repr cannot choose a partial grade), shown as
    IPython shows it. Any other value earns what no value earns in nbgrader (the cell's points),
    so it is not shown."""
    if type(value) not in (int, float):
        return []
    return [{"output_type": "execute_result", "execution_count": None, "metadata": {},
             "data": {"text/plain": repr(value)}}]


def _outputs_for(stdout: str, stderr: str, exc: BaseException | None, cell_name: str) -> list[dict]:
    outputs = []
    if stdout:
        outputs.append({"output_type": "stream", "name": "stdout", "text": stdout})
    if stderr:
        outputs.append({"output_type": "stream", "name": "stderr", "text": stderr})
    if exc is not None:
        here = {os.path.abspath(__file__), os.path.abspath(wire.__file__)}
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if os.path.abspath(f.filename) not in here]
        lines = ["Traceback (most recent call last):\n"] + traceback.format_list(frames)
        lines += traceback.format_exception_only(type(exc), exc)
        outputs.append({"output_type": "error", "ename": type(exc).__name__, "evalue": str(exc)[:5000],
                        "traceback": [ln.rstrip("\n") for ln in lines]})
    return outputs


def _bind_names(channel: Channel, ns: dict, names) -> None:
    """Bind in the cell's namespace the student's names the cell uses, as the kernel has them now
    (proxies or plain values); a name the kernel lacks is unbound here too."""
    if names is None:
        return
    found = channel.request({"op": "names", "names": list(names)})
    if type(found) is not dict:
        raise StudentError("your kernel did not list its names")
    for n in names:
        if n in found:
            ns[n] = found[n]
        else:
            ns.pop(n, None)


def main(kernel_fd: int | None = None) -> int:
    """One notebook's checker: its protocol with the worker on stdin and stdout, and kernel_fd,
    this notebook's channel to the student's kernel (None: no kernel, instructor cells only)."""
    proto = os.fdopen(os.dup(1), "w", encoding="utf-8")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # stray prints of libraries cannot corrupt the protocol

    def send(msg):
        proto.write(json.dumps(msg) + "\n")
        proto.flush()

    import cnnkit.grading

    cnnkit.grading.no_calls_to = _no_calls_to
    cnnkit.grading.swapped_names_hook = _swapped_names  # cnnkit.modcheck uses it (no torch import here)
    cnnkit.grading.solutions_hook = _course_solutions
    cnnkit.grading.using = _Using
    global _CHANNEL, _NS
    channel = _CHANNEL = Channel(send, wire.LineReader(0), kernel_fd)
    read = channel.worker_message
    cnnkit.grading.student_module = lambda name: _student_module(channel, name)
    cnnkit.grading.in_place = lambda value: _in_place(channel, value)
    results: dict[str, bool] = {}  # each cell run here so far: did it pass (no error, nothing on stderr)
    cnnkit.grading.passed = lambda *ids, recheck=None: bool(ids) and all(results.get(i) is True for i in ids)
    ns = _NS = {"__name__": "__main__", "__builtins__": builtins}
    count = 0
    while True:
        msg = read()
        if msg.get("op") == "end":  # the worker is done with this notebook (a zygote's child)
            return 0
        if msg.get("op") == "solutions":
            defs = msg.get("defs")
            _SOLUTIONS.update(defs if isinstance(defs, dict) else {})
            continue
        if msg.get("op") != "run":  # e.g. a late "gone" for a cell already done
            continue
        count += 1
        name, source = str(msg.get("name", f"cell{count}")), msg["source"]
        filename = f"<grader cell {name}>"
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        out, err = io.StringIO(), io.StringIO()
        exc = value = None
        channel.gone = None
        channel.callbacks.clear()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                _bind_names(channel, ns, msg.get("names"))
                value = _run_cell(source, filename, ns)
            except BaseException as e:  # noqa: BLE001 - every failure is the cell's outcome
                exc = e
        channel.end()
        results[name] = exc is None and not err.getvalue()
        outputs = _outputs_for(out.getvalue(), err.getvalue(), exc, name)
        send({"op": "done", "outputs": outputs + ([] if exc is not None else _value_output(value))})


# What every checker imports: the channel's numpy and the course library it decides with. A zygote
# imports these and the modules its notebook's test, setup and solution cells import (the plan's
# "imports", given on its command line): a numpy assignment's checker never imports torch.
BASE_IMPORTS = ("numpy", "cnnkit", "cnnkit.grading")
# cnnkit.data.load_digits imports it when first called (0.8 s): imported with cnnkit.data
LATER_IMPORTS = {"cnnkit.data": ("sklearn.datasets",)}


def zygote(control_fd: int, imports: tuple[str, ...] = ()) -> int:
    """`python checker.py --zygote FD [MODULE,...]`: one long-lived checker per grading worker and
    assignment. It imports numpy, cnnkit and the modules its notebook's cells import once (for
    torch, about a second of CPU that every notebook's checker would spend again), then, for each "fork" the worker sends on the unix socket control_fd (with the
    notebook's channel to the kernel attached, SCM_RIGHTS), runs main() in a fresh fork of itself
    on the same stdin and stdout and says {"op": "exited"} when that child has gone. Each notebook so gets a
    checker in the state of a new one (nothing one notebook's tests did reaches the next), in
    the same sandbox and limits. It forks only while no thread runs but OpenBLAS's idle pool
    (forking a process with other threads can copy a held lock); otherwise it says so and the
    worker starts one checker per notebook as before."""
    import importlib

    wanted = [*BASE_IMPORTS, *imports]
    library_error = None  # why the course library did not import, sent with "ready" (stderr may lag)
    for name in [*wanted, *(later for name in wanted for later in LATER_IMPORTS.get(name, ()))]:
        try:
            importlib.import_module(name)
        except Exception as e:  # noqa: BLE001 - a module this course lacks is imported (or not) by its cells
            if name.split(".")[0] == "cnnkit":  # the course library must import: say why it did not
                traceback.print_exc()
                library_error = library_error or f"import {name}: {type(e).__name__}: {e}"[:2000]
    threads = len(os.listdir("/proc/self/task")) if os.path.isdir("/proc/self/task") else 1
    blas = max(int(os.environ.get(v) or os.cpu_count() or 1) for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"))
    if threads > blas:  # numpy's OpenBLAS starts its pool at import and shuts it down at fork
        os.write(1, (json.dumps({"op": "no-zygote", "why": f"{threads} threads after the imports"}) + "\n").encode())
        return 1
    library = sys.modules.get("cnnkit")  # the library this checker decides with: the worker compares it
    where = os.path.dirname(os.path.realpath(library.__file__)) if library is not None else None
    os.write(1, (json.dumps({"op": "ready", "cnnkit": where, "error": library_error}) + "\n").encode())
    control = socket.socket(fileno=control_fd)
    while True:
        try:
            msg, fds, _, _ = socket.recv_fds(control, 64, 2)
        except OSError:
            return 0
        if not msg:
            return 0
        if msg.strip() != b"fork" or len(fds) > 1:
            for fd in fds:
                os.close(fd)
            continue
        pid = os.fork()
        if pid == 0:  # the child: a checker for one notebook
            code = 1
            try:
                control.close()
                code = main(fds[0] if fds else None)
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else 0
            finally:
                os._exit(code or 0)
        for fd in fds:
            os.close(fd)
        _, status = os.waitpid(pid, 0)
        os.write(1, (json.dumps({"op": "exited", "status": status}) + "\n").encode())


if __name__ == "__main__":
    _args = sys.argv[1:]
    if _args[:1] == ["--zygote"]:
        sys.exit(zygote(int(_args[1]), tuple(m for m in (_args[2] if len(_args) > 2 else "").split(",") if m)))
    sys.exit(main(int(_args[1]) if _args[:1] == ["--kernel-fd"] else None))
