"""The channel between the grading checker and the student's kernel: the data format, and the small
server the kernel runs while a test cell is checked.

This file is self-contained (numpy only; torch where the process uses it): the checker imports it, and the
worker sends its source to the student's kernel, which runs `serve()` inside the sandbox.

The two sides talk over a socket of their own (one per notebook, made by the worker and given to
each process when it starts), one message per line. Each line starts with the session word of
the test cell it belongs to, so a line left over from an earlier cell (or written by the
student's code at some other time) is skipped, never taken for an answer.

Messages are JSON text. Plain data travels by value: None, bool, int, float, str, and tagged
objects {"$": tag, ...} for tuples, lists, dicts, slices of ints, numpy arrays and scalars (dtype
string, shape and raw bytes, read back with `np.frombuffer`: numeric or bool dtypes only, nothing
unpickled) and torch tensors (sent as their numpy array). Anything else is a handle {"$": "h",
"id": n}: a number that names an object kept on the side that owns it, and that can only be
passed back. A request may ask for its answer by handle even where it is data ("keep": the
checker then drives the kernel's torch with its own code, the tensors staying in the kernel),
and names the handles it no longer needs ("free").

`decode` is the only function that reads what the other side sent. On the checker's side the
sender is the student's code, so decode trusts nothing: it caps the size of the text, the depth
of nesting and the number of items, and returns only the types listed above (or the handle
objects the caller makes).
"""
from __future__ import annotations

import base64
import collections
import json
import math
import operator
import os
import re
import select
import sys

import numpy as np

MAX_TEXT = 64 * 1024 * 1024       # characters of one message
MAX_DEPTH = 24                    # nesting of lists, tuples and dicts
MAX_ITEMS = 200_000               # values in one message
ARRAY_KINDS = "biuf"              # bool, signed, unsigned, float


class WireError(ValueError):
    """A message that is not valid channel data (too big, too deep, a forbidden type...)."""


def frame(session: str, text: str) -> bytes:
    """One line of the channel: the session word, a space, the message."""
    return f"{session} {text}\n".encode()


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


class LineReader:
    """Lines from a file descriptor (a socket or a pipe), each at most cap bytes: a longer line
    is read to its end and dropped, and stands as TOO_LONG. At the end of the stream: None."""

    TOO_LONG = object()

    def __init__(self, fd: int, cap: int | None = None):
        self.fd, self.cap = fd, cap
        self.lines: collections.deque = collections.deque()  # whole lines read, not yet taken
        self.parts: list[bytes] = []  # the start of the next line, as read (joined once it ends:
        self.size = 0                 # joining at every read made a 60 MB answer take seconds)
        self.skipping = False   # inside a line over the cap: dropped up to its newline
        self.eof = False

    def ready(self) -> bool:
        """A line (or the end) can be taken without waiting."""
        return self.eof or bool(self.lines)

    def _line(self, line: bytes) -> None:
        self.lines.append(self.TOO_LONG if self.cap is not None and len(line) > self.cap else line)

    def fill(self) -> None:
        """One read from the descriptor (it must be readable, or this waits)."""
        chunk = os.read(self.fd, 1 << 20)
        if not chunk:
            self.eof = True
            return
        cut = chunk.find(b"\n")
        if self.skipping:
            if cut < 0:
                return
            self.skipping = False
            self.lines.append(self.TOO_LONG)
        elif cut < 0:
            self.parts.append(chunk)
            self.size += len(chunk)
        else:
            self._line(b"".join(self.parts) + chunk[:cut])
        if cut >= 0:
            *whole, tail = chunk[cut + 1:].split(b"\n")
            for line in whole:
                self._line(line)
            self.parts, self.size = ([tail], len(tail)) if tail else ([], 0)
        if self.cap is not None and self.size > self.cap:
            self.parts, self.size, self.skipping = [], 0, True

    def take(self):
        """The next whole line without its newline, TOO_LONG, or None at the end (when ready())."""
        return self.lines.popleft() if self.lines else None

    def readline(self):
        while not self.ready():
            self.fill()
        return self.take()


def wait_readable(readers) -> list:
    """The readers of the list that have a line (or their end) ready, waiting for one if none has."""
    ready = [r for r in readers if r.ready()]
    while not ready:
        fds = select.select([r.fd for r in readers], [], [])[0]
        for r in readers:
            if r.fd in fds:
                r.fill()
        ready = [r for r in readers if r.ready()]
    return ready


def _torch_if_imported():
    """torch where this process has imported it, else None. A value can only be a tensor where
    torch is imported, so the channel never imports it to send: a kernel whose notebook does not
    use torch (and a checker that never receives a tensor) does not pay its second of import."""
    return sys.modules.get("torch")


def _torch_to_build():
    """torch, imported to rebuild a tensor the other side sent; None where it cannot be."""
    try:
        import torch
    except Exception:  # noqa: BLE001 - torch is optional on both sides
        return None
    return torch


_DTYPE = re.compile(r"[<>|=]?[biuf][0-9]{1,2}\Z")  # numpy's dtype.str of a numeric or bool dtype


def _array_fields(arr: np.ndarray) -> dict:
    """An array as its dtype string, shape and raw bytes (base64)."""
    arr = np.asarray(arr)  # tobytes() is in C order whatever the strides
    return {"dt": arr.dtype.str, "sh": list(arr.shape), "d": base64.b64encode(arr.tobytes()).decode("ascii")}


def _array_from(obj: dict) -> np.ndarray:
    """The array _array_fields described: built with np.frombuffer from a dtype that the pattern
    allows (numbers and booleans only, never objects, so nothing is unpickled)."""
    dt, shape, data = obj.get("dt"), obj.get("sh"), obj.get("d")
    if type(dt) is not str or not _DTYPE.match(dt):
        raise WireError(f"arrays of dtype {str(dt)[:40]!r} are not accepted")
    if type(shape) is not list or len(shape) > 32 or not all(type(n) is int and 0 <= n < 2**40 for n in shape):
        raise WireError("an array needs a shape: a list of at most 32 sizes")
    if not isinstance(data, str):
        raise WireError("array data must be a base64 string")
    try:
        raw = bytearray(base64.b64decode(data.encode("ascii"), validate=True))
    except Exception:  # noqa: BLE001 - not base64
        raise WireError("not a numpy array (its data are not base64)") from None
    dtype = np.dtype(dt)
    if math.prod(shape) * dtype.itemsize != len(raw):
        raise WireError("not a numpy array (its data do not match its dtype and shape)")
    return np.frombuffer(raw, dtype=dtype).reshape(shape)


def encode(value, handle_for) -> str:
    """JSON text for value; handle_for(obj) -> dict is called for anything that is not plain data."""
    return json.dumps(to_wire(value, handle_for, 0))


def to_wire(value, handle_for, depth: int):
    if depth > MAX_DEPTH:
        return handle_for(value)
    t = type(value)
    if value is None or t in (bool, str):
        return value
    if t is int:
        return value if -2**63 <= value < 2**63 else handle_for(value)
    if t is float:
        return value if value == value and abs(value) != float("inf") else {"$": "f", "v": repr(value)}
    if isinstance(value, np.ndarray) and value.dtype.kind in ARRAY_KINDS and value.dtype.fields is None:
        return {"$": "nd", **_array_fields(value)}
    if isinstance(value, np.generic) and np.asarray(value).dtype.kind in ARRAY_KINDS:
        return {"$": "ns", **_array_fields(np.asarray(value))}
    torch = _torch_if_imported()
    if torch is not None and isinstance(value, torch.Tensor):
        try:
            t_ = value.detach().cpu()
            if t_.dtype == torch.bfloat16:
                t_ = t_.float()
            return {"$": "tn", **_array_fields(t_.numpy()), "g": bool(value.requires_grad)}
        except Exception:  # noqa: BLE001 - a tensor numpy cannot hold
            return handle_for(value)
    if t is slice:
        return {"$": "sl", "v": [v if v is None else operator.index(v) for v in (value.start, value.stop, value.step)]}
    if isinstance(value, (tuple, list)):
        items = tuple.__iter__(value) if isinstance(value, tuple) else list.__iter__(value)
        return {"$": "t" if isinstance(value, tuple) else "l", "v": [to_wire(v, handle_for, depth + 1) for v in items]}
    if isinstance(value, dict):
        keys, vals = [], []
        for k, v in dict.items(value):
            if type(k) not in (str, int, float, bool, tuple) and k is not None:
                return handle_for(value)
            keys.append(to_wire(k, handle_for, depth + 1))
            vals.append(to_wire(v, handle_for, depth + 1))
        return {"$": "d", "k": keys, "v": vals}
    return handle_for(value)


def decode(text, make_handle, make_callback=None):
    """The value a message holds. make_handle(id, info) builds what stands for the other side's
    object; make_callback(id, deep) likewise for a callback (None: callbacks are refused; deep: it
    wants its arguments by handle, see _KernelServer.make_callback)."""
    if not isinstance(text, str):
        raise WireError("a message must be text")
    if len(text) > MAX_TEXT:
        raise WireError(f"a message of {len(text)} characters is over the limit of {MAX_TEXT}")
    try:
        raw = json.loads(text)
    except RecursionError:
        raise WireError("the message is nested too deeply") from None
    except ValueError as exc:
        raise WireError(f"not JSON ({exc})") from None
    count = [0]
    return _from_wire(raw, make_handle, make_callback, 0, count)


def _from_wire(obj, make_handle, make_callback, depth, count):
    count[0] += 1
    if count[0] > MAX_ITEMS:
        raise WireError(f"more than {MAX_ITEMS} values in one message")
    if depth > MAX_DEPTH + 2:
        raise WireError(f"nested deeper than {MAX_DEPTH}")
    t = type(obj)
    if obj is None or t in (bool, int, float, str):
        if t is int and not -2**63 <= obj < 2**63:
            raise WireError("integer out of range")
        return obj
    if t is not dict:
        raise WireError(f"unexpected JSON {t.__name__}")
    tag = obj.get("$")
    if tag in ("t", "l", "d"):
        return _container_from(tag, obj, make_handle, make_callback, depth, count)
    if tag in ("h", "cb"):
        return _reference_from(tag, obj, make_handle, make_callback)
    return _value_from(tag, obj)


def _container_from(tag, obj, make_handle, make_callback, depth, count):
    """A tuple ('t'), list ('l') or dict ('d'), its items decoded one level deeper."""
    if tag in ("t", "l"):
        items = obj.get("v")
        if type(items) is not list:
            raise WireError("a sequence needs a list of values")
        out = [_from_wire(v, make_handle, make_callback, depth + 1, count) for v in items]
        return tuple(out) if tag == "t" else out
    keys, vals = obj.get("k"), obj.get("v")
    if type(keys) is not list or type(vals) is not list or len(keys) != len(vals):
        raise WireError("a dict needs lists of keys and values of one length")
    out = {}
    for k, v in zip(keys, vals):
        key = _from_wire(k, make_handle, make_callback, depth + 1, count)
        if not _hashable_plain(key):
            raise WireError("dict keys must be numbers, strings, None or tuples of them")
        out[key] = _from_wire(v, make_handle, make_callback, depth + 1, count)
    return out


def _reference_from(tag, obj, make_handle, make_callback):
    """A handle ('h') to an object that stays on the other side, or a callback ('cb') into it."""
    hid = obj.get("id")
    if tag == "h":
        if type(hid) is not int:
            raise WireError("a handle needs an integer id")
        info = obj.get("i")
        return make_handle(hid, info if type(info) is dict else {})
    if make_callback is None or type(hid) is not int:
        raise WireError("callbacks are not accepted here")
    return make_callback(hid, obj.get("deep") is True)


def _value_from(tag, obj):
    """A slice, special float, numpy array or scalar, or tensor; any other tag is refused."""
    if tag == "sl":
        parts = obj.get("v")
        if type(parts) is not list or len(parts) != 3 or not all(p is None or type(p) is int for p in parts):
            raise WireError("a slice needs three ints or nulls")
        return slice(*parts)
    if tag == "f":
        if obj.get("v") not in ("nan", "inf", "-inf"):
            raise WireError("bad special float")
        return float(obj["v"])
    if tag == "nd":
        return _array_from(obj)
    if tag == "ns":
        arr = _array_from(obj)
        if arr.ndim != 0:
            raise WireError("a numpy scalar must have 0 dimensions")
        return arr[()]
    if tag == "tn":
        arr = _array_from(obj)
        torch = _torch_to_build()
        if torch is None:
            return arr
        tensor = torch.from_numpy(arr.copy())
        if obj.get("g") is True and tensor.is_floating_point():
            tensor.requires_grad_(True)
        return tensor
    raise WireError(f"unknown tag {tag!r}")


def _hashable_plain(key) -> bool:
    if key is None or type(key) in (str, int, float, bool):
        return True
    return type(key) is tuple and all(_hashable_plain(k) for k in key)


# ---------------------------------------------------------------------------------------------
# The kernel's side. Everything below runs inside the student's kernel, which the student's code
# owns: nothing here is trusted by the checker, it only answers requests.

_MISSING = object()


class _ByHandle:
    """An answer that goes back as a handle even if it is plain data (see the "hold" request)."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value


# What a driven object (see "keep") may be asked to compute, by name: comparisons and arithmetic
# (the checker's code runs `logits.argmax(1) == y` on the kernel's tensors), conversions.
_BINARY = {name: getattr(operator, name) for name in (
    "eq", "ne", "lt", "le", "gt", "ge", "add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul",
    "and_", "or_", "xor")}
_UNARY = {"neg": operator.neg, "pos": operator.pos, "abs": operator.abs, "invert": operator.invert}
_CONVERT = {"int": int, "float": float, "bool": bool, "index": operator.index}
_SCALARS = (type(None), bool, int, float, str)


class _KernelServer:
    def __init__(self, namespace, read):
        self.ns = namespace
        self.read = read            # read(text_to_send) -> the next request (text)
        self.objects = {}           # handle id -> object
        self.ids = {}               # id(object) -> handle id
        self.next_id = 1
        self.bound = {}             # name -> what it held before this session's first bind of it

    # handles
    def handle_for(self, obj):
        if type(obj) is _ByHandle:
            obj = obj.value
        key = id(obj)
        hid = self.ids.get(key)
        if hid is None or self.objects.get(hid) is not obj:
            hid, self.next_id = self.next_id, self.next_id + 1
            self.objects[hid] = obj
            self.ids[key] = hid
        info = {"type": type(obj).__name__, "callable": callable(obj),
                "class": isinstance(obj, type)}
        try:
            info["name"] = str(getattr(obj, "__name__", ""))[:200]
        except Exception:  # noqa: BLE001
            pass
        return {"$": "h", "id": hid, "i": info}

    def obj(self, hid):
        if hid not in self.objects:
            raise KeyError(f"the grader's object {hid} is not in this cell: a proxy lives for one test cell")
        return self.objects[hid]

    def release(self, hids) -> None:
        """The checker holds these handles no more: their objects are this server's no longer."""
        for hid in hids if type(hids) is list else ():
            obj = self.objects.pop(hid, _MISSING)
            if obj is not _MISSING and self.ids.get(id(obj)) == hid:
                del self.ids[id(obj)]

    def make_callback(self, cid, deep=False):
        """A function that runs the checker's callback cid. deep: every argument that is not a
        None, bool, int, float or str goes by handle (the checker's code then works on the kernel's
        objects, a tensor on its device, instead of copies)."""
        server = self

        def callback(*args, **kwargs):
            if deep:
                args = [a if type(a) in _SCALARS else _ByHandle(a) for a in args]
                kwargs = {k: v if type(v) in _SCALARS else _ByHandle(v) for k, v in kwargs.items()}
            reply = server.exchange({"cb": cid, "a": list(args), "k": kwargs})
            return reply
        return callback

    def load(self, text):
        return decode(text, lambda hid, info: self.objects[hid], self.make_callback)

    def send(self, value) -> str:
        return encode(value, self.handle_for)

    def exchange(self, message) -> object:
        """Send a callback request and answer the checker's requests until it returns."""
        text = self.send(message)
        while True:
            request = self.read(text)
            req = self.load(request)
            if req.get("op") == "return":
                return req.get("v")
            if req.get("op") == "raise":
                raise RuntimeError(req.get("m", "the grader's callback failed"))
            text = self.answer(req)

    def answer(self, req) -> str:
        try:
            self.release(req.get("free"))
            result = self.perform(req)
            if req.get("keep") is True and type(result) not in _SCALARS:
                result = [_ByHandle(v) for v in result] if req.get("op") == "list" else _ByHandle(result)
            text = self.send({"ok": result})
            if len(text) > MAX_TEXT:  # the checker would refuse it: say so now, not after a timeout
                raise ValueError(f"the answer is {len(text)} characters of grader data, over the limit of "
                                 f"{MAX_TEXT} (a model of more than about 12 million parameters)")
            return text
        except BaseException as exc:  # noqa: BLE001 - the checker decides what an error means
            try:
                msg = str(exc)[:2000]
            except Exception:  # noqa: BLE001
                msg = "?"
            return self.send({"err": type(exc).__name__, "m": msg})

    def perform(self, req):
        op = req.get("op")
        if op == "names":
            out = {}
            for name in req["names"]:
                if name in self.ns:
                    out[name] = self.ns[name]
            return out
        if op == "aliases":  # the global names that hold these objects (no_calls_to binds each)
            wanted = {id(self.obj(h)): h for h in req["hs"]}
            return {name: wanted[id(value)] for name, value in list(self.ns.items())
                    if type(name) is str and id(value) in wanted}
        if op == "call":
            return self.obj(req["h"])(*req.get("a", []), **req.get("k", {}))
        if op == "getattr":
            return getattr(self.obj(req["h"]), req["n"])
        if op == "setattr":
            setattr(self.obj(req["h"]), req["n"], req["v"])
            return None
        if op == "getitem":
            return self.obj(req["h"])[req["k"]]
        if op == "setitem":
            self.obj(req["h"])[req["k"]] = req["v"]
            return None
        if op == "len":
            return len(self.obj(req["h"]))
        if op == "list":
            return list(self.obj(req["h"]))
        if op == "isinstance":
            return isinstance(req["v"], self.obj(req["h"]))
        if op == "repr":
            return repr(self.obj(req["h"]))[:2000]
        if op == "binary":  # a driven object's operator: obj <o> v, or v <o> obj with "r"
            func, this = _BINARY[req["o"]], self.obj(req["h"])
            return func(req["v"], this) if req.get("r") else func(this, req["v"])
        if op == "unary":
            return _UNARY[req["o"]](self.obj(req["h"]))
        if op == "convert":
            return _CONVERT[req["to"]](self.obj(req["h"]))
        if op == "hold":  # cnnkit.grading.in_place: a dict the student's function may change, kept here
            if type(req.get("v")) is not dict:
                raise TypeError("hold takes a dict")
            return _ByHandle(req["v"])
        if op == "module":  # cnnkit.grading.student_module: a module as imported here, not a global name
            import importlib

            return _ByHandle(importlib.import_module(str(req["n"])))
        if op == "bind":  # a name of the student's namespace set (or removed): using, no_calls_to, swaps
            self.bound.setdefault(str(req["n"]), self.ns.get(str(req["n"]), _MISSING))
            if "v" in req:
                self.ns[str(req["n"])] = req["v"]
            else:
                self.ns.pop(str(req["n"]), None)
            return None
        raise ValueError(f"unknown request {op!r}")

    def run(self):
        text = self.send({"ready": True})
        try:
            while True:
                request = self.read(text)
                req = self.load(request)
                if req.get("op") == "end":
                    return
                text = self.answer(req)
        finally:  # the checker gives each name back at the end of its block; this covers a cell cut short
            for name, old in self.bound.items():
                if old is _MISSING:
                    self.ns.pop(name, None)
                else:
                    self.ns[name] = old


def serve(namespace, fd: int, session: str):
    """Answer the checker's requests on the channel's descriptor fd until it says end or goes
    (run by the grader, inside the kernel, for one test cell)."""
    reader = LineReader(fd)
    prefix = session.encode() + b" "

    def read(text: str) -> str:
        write_all(fd, frame(session, text))
        while True:
            line = reader.readline()
            if line is None:
                raise EOFError("the grader's checker has gone")
            if line is not LineReader.TOO_LONG and line.startswith(prefix):
                return line[len(prefix):].decode()

    try:
        _KernelServer(namespace, read).run()
    except (EOFError, OSError):  # the checker ended (a time limit): nothing left to answer
        pass
