"""What the checker decides about the student's code it decides itself, by data flow it controls
(issue 25): a call of the student's naive function is recorded by a callback of the checker, a
reference module's forward and the course's solutions run in the checker on the kernel's objects,
and none of their source enters the kernel.

Each test starts a real kernel-side server (autograder.wire.serve) in a fresh Python process over a
socket pair, with a namespace made from a few lines of "notebook" code, and talks to it through
the checker's own Channel, as at grading time. The kernel process records every byte it reads, so
a test can show that a piece of the instructor's source never arrived.
"""
from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import cnnkit.grading
import cnnkit.reference as ref
from autograder import checker, testplan, wire
from cnnkit.modcheck import check_module, param_count, swapped_names

ROOT = Path(__file__).resolve().parents[1]
SESSION = "0123456789abcdef"

_KERNEL = """
import json, os, sys
sys.path.insert(0, {root!r})
from autograder import wire
heard = []  # every byte the kernel's side reads
_read = os.read
def spy(fd, n):
    data = _read(fd, n)
    heard.append(data)
    return data
os.read = spy
ns = {{"__name__": "__main__"}}
exec({source!r}, ns)
wire.serve(ns, {fd}, {session!r})
blob = b"".join(heard)
print(json.dumps({{n: n.encode() in blob for n in {needles!r}}}))
"""


class Kernel:
    """A kernel's server in its own process, and the checker's channel to it (checker._CHANNEL
    and checker._NS set as main() sets them, _NS holding proxies of `names`)."""

    def __init__(self, source: str, names, needles=()):
        theirs, self.mine = socket.socketpair()
        code = _KERNEL.format(root=str(ROOT), source=source, fd=theirs.fileno(), session=SESSION,
                              needles=list(needles))
        self.proc = subprocess.Popen([sys.executable, "-c", code], pass_fds=[theirs.fileno()],
                                     stdout=subprocess.PIPE, text=True)
        theirs.close()
        self.worker = os.pipe()
        self.ch = checker.Channel(lambda msg: None, wire.LineReader(self.worker[0]), self.mine.fileno())
        self.ch.session = SESSION
        self.ch._answer()  # the server's first line
        checker._CHANNEL = self.ch
        checker._NS.clear()
        checker._NS.update(self.ch.request({"op": "names", "names": list(names)}))

    def close(self) -> dict:
        """End the session; what the kernel heard of the needles."""
        self.ch.end()
        checker._NS.clear()
        checker._CHANNEL = None
        out, _ = self.proc.communicate(timeout=30)
        self.mine.close()
        for fd in self.worker:
            os.close(fd)
        return json.loads(out.strip().splitlines()[-1])


@pytest.fixture
def hooks(monkeypatch):
    """cnnkit.grading as the checker sets it up (main())."""
    monkeypatch.setattr(cnnkit.grading, "no_calls_to", checker._no_calls_to)
    monkeypatch.setattr(cnnkit.grading, "swapped_names_hook", checker._swapped_names, raising=False)
    monkeypatch.setattr(cnnkit.grading, "solutions_hook", checker._course_solutions)
    monkeypatch.setattr(checker, "_SOLUTIONS", {})
    yield


NAIVE = """
import sys, threading
def naive(x):
    return x + 1
_n = naive
def fast_honest(x):
    return x + 1
def fast_calls(x):
    return naive(x)
def fast_thread(x):
    box = []
    t = threading.Thread(target=lambda: box.append(naive(x)))
    t.start()
    t.join()
    return box[0]
def fast_unprofiled(x):
    sys.setprofile(None)
    return naive(x)
def fast_alias(x):
    return _n(x)
def fast_default(x, _f=naive):
    return _f(x)
def where():
    return sorted(k for k, v in globals().items() if v is naive)
"""


def test_a_call_of_the_naive_function_is_recorded_by_the_checker(hooks):
    """no_calls_to(naive) at grading time: the names that hold naive (its own and an alias) call a
    recording callback of the checker for the block. A call from a thread, or after
    sys.setprofile(None) (which blinded the in-kernel profiler), is recorded; a function that is
    handed naive some other way (a default argument) is not: the A2 tests decide that case by
    data flow (their own im2col and col2im). The names hold naive again afterwards."""
    k = Kernel(NAIVE, ["naive", "fast_honest", "fast_calls", "fast_thread", "fast_unprofiled", "fast_alias",
                       "fast_default", "where"])
    verdicts = {}
    try:
        for name in ("fast_honest", "fast_calls", "fast_thread", "fast_unprofiled", "fast_alias", "fast_default"):
            try:
                with cnnkit.grading.no_calls_to(checker._NS["naive"], name=name, hint="vectorise"):
                    assert checker._NS[name](1) == 2
                verdicts[name] = "passes"
            except AssertionError as exc:
                verdicts[name] = str(exc)
        assert checker._NS["where"]() == ["_n", "naive"]
    finally:
        k.close()
    calls = {n: f"{n}: calls naive\nHint: vectorise" for n in ("fast_calls", "fast_thread", "fast_unprofiled", "fast_alias")}
    assert verdicts == {"fast_honest": "passes", "fast_default": "passes", **calls}


DRIVEN = """
import weakref
import torch
class Thing:
    pass
alive = []
def make():
    thing = Thing()
    alive.append(weakref.ref(thing))
    return thing
def gone():
    return alive[-1]() is None
"""


def test_a_driven_proxy_keeps_tensors_in_the_kernel_and_frees_what_the_checker_drops(hooks):
    """DeepRemote: answers that are not None, bool, int, float or str stay in the kernel as
    handles, and operators, conversions, slices and `with` work on them; a handle the checker no
    longer holds is freed at its next request."""
    k = Kernel(DRIVEN, ["make", "gone"])
    try:
        T = checker.DeepRemote.of(checker._student_module(k.ch, "torch"))
        t = T.arange(6)
        assert isinstance(t, checker.DeepRemote) and len(t) == 6
        assert int((t[1:4] == T.tensor([1, 0, 3])).sum()) == 2
        assert float(t.sum()) == 15.0 and isinstance(t * 2 + 1, checker.DeepRemote)
        assert int((-t)[5]) == -5 and bool(t[2] > 1) is True
        with T.no_grad():
            assert T.is_grad_enabled() is False
        assert T.is_grad_enabled() is True
        thing = checker._NS["make"]()
        assert checker._NS["gone"]() is False
        del thing
        assert checker._NS["gone"]() is True  # that request freed the handle: the kernel let go of it
    finally:
        k.close()


STUDENT_LOOP = """
import math, time
import torch, torch.nn as nn, torch.nn.functional as F
def tiny():
    torch.manual_seed(1)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.AdaptiveAvgPool2d(2),
                         nn.Flatten(), nn.Linear(32, 10))
def train_model(model, X_train, y_train, X_val, y_val, epochs, lr, batch_size=64, max_seconds=None, seed=0):
    return {"train_loss": [0.0] * epochs}  # the student's (wrong) loop
def train_final():
    g = torch.Generator().manual_seed(0)
    X, y = torch.rand(120, 3, 8, 8, generator=g), torch.randint(0, 10, (120,), generator=g)
    model = tiny()
    history = train_model(model, X[:90], y[:90], X[90:], y[90:], epochs=3, lr=0.1, batch_size=16, seed=3)
    return {k: v.clone() for k, v in model.state_dict().items()}, history
"""


def _a4_solutions():
    return testplan.plan(nbformat.read(ROOT / "solutions" / "A4" / "A4_training.ipynb", as_version=4))["solutions"]


def test_course_solutions_run_in_the_checker_on_the_kernels_model(hooks, monkeypatch):
    """course_solutions(train_final, "train_model") at grading time: the student's train_final
    trains with the course's train_model (and its train_step and evaluate), which run in the
    checker on the kernel's model and tensors: the same history and weights as the solution run
    in one process, and no line of the solution reaches the kernel."""
    defs = _a4_solutions()
    monkeypatch.setattr(checker, "_SOLUTIONS", defs)
    space = {"torch": torch, "F": F, "math": math, "time": time}
    exec(checker.solutions_source(defs, ["train_model"]), space)  # noqa: S102 - the course's own solution
    exec(STUDENT_LOOP.replace("def train_model", "def _unused"), space)  # noqa: S102
    state, history = space["train_final"]()
    secret = [ln.strip() for ln in defs["train_step"]["source"].splitlines() if "optimizer" in ln][:2]
    assert secret
    k = Kernel(STUDENT_LOOP, ["train_final", "train_model"], needles=secret + ["def train_model", "OneCycleLR("])
    try:
        checker._NS.update({"torch": torch, "F": F, "math": math, "time": time})
        with cnnkit.grading.course_solutions(checker._NS["train_final"], "train_model"):
            got_state, got = checker._NS["train_final"]()
        assert got == history
        assert all(torch.equal(got_state[key], value) for key, value in state.items())
        assert checker._NS["train_model"](None, None, None, None, None, 2, 0.1) == {"train_loss": [0.0, 0.0]}
    finally:
        heard = k.close()
    assert heard == {"def train_model": False, "OneCycleLR(": False, **{s: False for s in secret}}, heard


STUDENT_NET = """
import torch, torch.nn as nn, torch.nn.functional as F
class BasicBlock(nn.Module):  # wrong: no second conv, no shortcut
    def __init__(self, in_ch, out_ch, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_ch)
    def forward(self, x):
        return F.relu(self.bn1(self.conv1(x)))
class Net(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.blocks = nn.Sequential(BasicBlock(8, 8), BasicBlock(8, 16, 2))
        self.fc = nn.Linear(16, num_classes)
    def forward(self, x):
        return self.fc(self.blocks(self.stem(x)).mean(dim=(2, 3)))
"""


class _RefNet(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.blocks = nn.Sequential(ref.BasicBlock(8, 8), ref.BasicBlock(8, 16, 2))
        self.fc = nn.Linear(16, num_classes)

    def forward(self, x):
        return self.fc(self.blocks(self.stem(x)).mean(dim=(2, 3)))


def test_swapped_names_builds_the_reference_block_in_the_checker(hooks):
    """swapped_names(Net, BasicBlock=ref.BasicBlock) at grading time: the student's network is
    built from blocks whose weights live in the kernel (so its state_dict is whole) and whose
    forward runs in the checker; it then matches the reference network with the checker's random
    weights, in eval and training mode, and no line of cnnkit.reference reaches the kernel."""
    k = Kernel(STUDENT_NET, ["Net", "BasicBlock"], needles=["class BasicBlock", "F.relu(out + self.shortcut(x))"])
    try:
        with swapped_names(checker._NS["Net"], BasicBlock=ref.BasicBlock):
            net = checker._NS["Net"](num_classes=4)
            state = check_module("Net(4)", net, _RefNet(4), (torch.randn(2, 3, 9, 9),), seed=3)
        assert param_count(state) == param_count(_RefNet(4).state_dict())
        with pytest.raises(AssertionError, match="its layers are not those"):  # the student's own block again
            check_module("Net(4)", checker._NS["Net"](num_classes=4), _RefNet(4), (torch.randn(2, 3, 9, 9),))
    finally:
        heard = k.close()
    assert heard == {"class BasicBlock": False, "F.relu(out + self.shortcut(x))": False}, heard


def test_slices_travel_as_data_and_nothing_else_does():
    assert wire.decode(wire.encode([slice(1, None, 2)], lambda o: None), lambda *a: None) == [slice(1, None, 2)]
    with pytest.raises(wire.WireError, match="three ints"):
        wire.decode('{"$": "sl", "v": [1, "a", null]}', lambda *a: None)
