"""Grades that student code cannot forge.

A corpus of blank or partly solved A1 submissions, each with one attack on the interpreter it
runs in (the student's kernel), graded in one batch with good submissions; A2 and A3 (torch
modules) have their own, smaller corpora. The test cells run in
the checker, outside that kernel, so each attack earns exactly what its honest part earns (0 for
a blank) and the good submissions keep full marks. A canary, on the tiny assignment, shows that
the hidden tests' source never reaches the kernel: a submission that searches every file,
environment variable, incoming message and object it can reach finds a control string that the
instructor's setup cell sent it, and never the hidden test's.
"""
import copy
import re

import nbformat
import pytest

from autograder import api, batch, course, submissions
from tests import tiny_assignment as tiny
from tests.isolation import needs_sandbox

A1 = "A1"
A1_NB = "A1_mlp_backprop.ipynb"


def _prepend(nb, grade_id, code):
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            cell.source = code + "\n" + cell.source
            return nb
    raise KeyError(grade_id)


# Each attack goes in front of the first answer cell (activations) of a submission.
ATTACKS = {
    # IPython's error display silenced: a failing cell shows no error
    "error_display": "ip = get_ipython()\nip.showtraceback = lambda *a, **k: None\nip._showtraceback = lambda *a, **k: None\n"
                     "ip.showsyntaxerror = lambda *a, **k: None",
    # every later cell becomes `pass` before it runs
    "input_transformer": "get_ipython().input_transformers_post.append(lambda lines: ['pass\\n'])",
    # an AST transformer that drops every statement of later cells
    "ast_transformer": "import ast\nclass _Drop(ast.NodeTransformer):\n    def visit_Module(self, node):\n"
                       "        node.body = [ast.Pass()]\n        return node\nget_ipython().ast_transformers.append(_Drop())",
    # the shell's code runner swallows every exception
    "patched_runner": "ip = get_ipython()\nasync def _run_code(code_obj, result=None, *, async_=False):\n    try:\n"
                      "        exec(code_obj, ip.user_global_ns, ip.user_ns)\n    except BaseException:\n        pass\n"
                      "    return False\nip.run_code = _run_code",
    # a tracer that widens every tolerance of cnnkit.grading.check_close
    "settrace": "import sys, ctypes\ndef _tr(frame, event, arg):\n    if event == 'call' and frame.f_code.co_name == 'check_close':\n"
                "        frame.f_locals['tol'] = float('inf')\n"
                "        ctypes.pythonapi.PyFrame_LocalsToFast(ctypes.py_object(frame), ctypes.c_int(0))\n    return None\n"
                "sys.settrace(_tr)",
    # a profiler that replaces the checking helpers the first time it sees them run
    "setprofile": "import sys\ndef _pr(frame, event, arg):\n    if event == 'call' and frame.f_code.co_name in ('check_close', 'check_shape', '_fail'):\n"
                  "        frame.f_globals['_fail'] = lambda *a, **k: None\nsys.setprofile(_pr)",
    # builtins patched: AssertionError becomes a warning, sorted and any always agree
    "builtins": "import builtins\nbuiltins.AssertionError = type('AssertionError', (Warning,), {})\n"
                "builtins.sorted = lambda x, **k: ['W1', 'W2', 'b1', 'b2']\nbuiltins.any = lambda x: False",
    # numpy patched: every difference is zero, so every relative error is zero
    "numpy": "import numpy\nnumpy.abs = lambda x, *a, **k: numpy.zeros(numpy.shape(x))\n"
             "numpy.allclose = lambda *a, **k: True\nnumpy.isfinite = lambda x, *a, **k: numpy.ones(numpy.shape(x), bool)",
    # an import hook that serves a cnnkit.grading whose checks pass
    "import_hook": "import sys, types, importlib.abc, importlib.util\nclass _Fake(importlib.abc.MetaPathFinder, importlib.abc.Loader):\n"
                   "    def find_spec(self, name, path, target=None):\n"
                   "        return importlib.util.spec_from_loader(name, self) if name == 'cnnkit.grading' else None\n"
                   "    def create_module(self, spec):\n        return None\n"
                   "    def exec_module(self, module):\n"
                   "        for n in ('check_close', 'check_shape', 'check_hash', 'check_raises'):\n"
                   "            setattr(module, n, lambda *a, **k: None)\n"
                   "        import contextlib\n        module.no_calls_to = lambda *a, **k: contextlib.nullcontext()\n"
                   "        module.quiet = contextlib.nullcontext\n"
                   "sys.meta_path.insert(0, _Fake())\nsys.modules.pop('cnnkit.grading', None)",
    # arrays whose every comparison and ufunc says 'equal', returned by every function
    "ndarray_subclass": "import numpy as np\nclass _Yes(np.ndarray):\n"
                        "    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):\n"
                        "        return np.zeros(np.broadcast_shapes(*(np.shape(i) for i in inputs))).view(_Yes)\n"
                        "    __eq__ = lambda self, other: True\n"
                        "def _yes(*a, **k):\n    x = a[0] if a else np.zeros(1)\n"
                        "    return np.zeros(np.shape(x)).view(_Yes), None\n"
                        "sigmoid_forward = relu_forward = leaky_relu_forward = _yes",
    # objects that equal everything and pretend to be arrays
    "always_equal": "class _Any:\n    __eq__ = lambda self, other: True\n    __array_priority__ = 1000\n"
                    "    shape = property(lambda self: (2, 3))\n    def __getattr__(self, name):\n        return lambda *a, **k: self\n"
                    "def sigmoid_forward(x):\n    return _Any(), None\nrelu_forward = leaky_relu_forward = sigmoid_forward",
    # the channel's answers replaced: nested too deep, then too big, then passed on as they were
    "deep_and_huge": "import os, re\n_n = [0]\n_real_write = os.write\n"
                     "def _write(fd, data):\n    b = bytes(data)\n    tag = re.match(rb'[0-9a-f]{16} ', b)\n"
                     "    if not tag or not b.endswith(b'\\n'):\n        return _real_write(fd, data)\n"
                     "    _n[0] += 1\n"
                     "    if _n[0] % 3 == 1:\n        b = tag.group(0) + b'[' * 100000 + b']' * 100000 + b'\\n'\n"
                     "    elif _n[0] % 3 == 2:\n        b = tag.group(0) + b'{\"ok\": \"' + b'x' * (80 * 1024 * 1024) + b'\"}\\n'\n"
                     "    view = memoryview(b)\n    while view:\n        view = view[_real_write(fd, view):]\n"
                     "    return len(data)\nos.write = _write",
    # every function hands back what it was given
    "echo_inputs": "def _echo(*a, **k):\n    return (a[0] if a else None), (a if a else None)\n"
                   "sigmoid_forward = relu_forward = leaky_relu_forward = _echo\n"
                   "sigmoid_backward = relu_backward = leaky_relu_backward = lambda dout, cache: dout\n"
                   "affine_forward = lambda x, w, b: (x, (x, w, b))\naffine_backward = lambda dout, cache: cache",
    # shadowing the checker's names with the student's own
    "shadow_names": "import types\nnp = types.SimpleNamespace()\ncheck_close = check_shape = lambda *a, **k: None\n"
                    "quiet = no_calls_to = lambda *a, **k: __import__('contextlib').nullcontext()",
    # the library's reference implementation under the student's names
    "reference_impl": "import cnnkit.layers, cnnkit.gradcheck\nfrom cnnkit.layers import sigmoid_forward, sigmoid_backward, relu_forward, "
                      "relu_backward, affine_forward, affine_backward, l2_loss, softmax_loss\n"
                      "leaky_relu_forward = lambda x, slope=0.1: cnnkit.layers.relu_forward(x)\n"
                      "numerical_gradient = cnnkit.gradcheck.numerical_gradient",
    # memory and incoming messages searched for the test source, answers copied from it if found
    "search_tests": "import gc, os, jupyter_client.session as _s\n_msgs = []\n_deser = _s.Session.deserialize\n"
                    "def _spy(self, *a, **k):\n    m = _deser(self, *a, **k)\n    _msgs.append(repr(m.get('content')))\n    return m\n"
                    "_s.Session.deserialize = _spy\n_read = os.read\n"
                    "def _rspy(fd, n):\n    d = _read(fd, n)\n    _msgs.append(repr(d))\n    return d\nos.read = _rspy\n"
                    "def _found():\n    needle = 'snoitavitca_neddih_'[::-1]\n"
                    "    pool = _msgs + [o for o in gc.get_objects() if type(o) is str and o is not needle]\n"
                    "    return any(needle in t for t in pool)\n"
                    "import numpy as np\ndef relu_forward(x):\n    return (np.maximum(0, x) if _found() else 0 * x), x",
}

# The sandbox's copy of cnnkit used to keep each withheld reference's source (and bytecode), with
# lines appended that replaced them at import: a submission ran the file again without those lines
# and got the real references back (A1: 46/80 and A3: 95/95 with nothing written). Appended to
# every answer cell of a blank notebook, this rebinds each of the student's names to the library
# function or class of that name, taken from the copy's source with any appended part cut off.
REFERENCE_SOURCE = """
import importlib as _il, pkgutil as _pk
import cnnkit as _ck
def _unwithheld(names):
    _found = {}
    for _m in [_m.name for _m in _pk.walk_packages(_ck.__path__, 'cnnkit.')]:
        try:
            _mod = _il.import_module(_m)
            _src = open(_mod.__file__).read().split('# --- added by the autograder')[0]
            _ns = {'__name__': _m, '__file__': _mod.__file__, '__package__': _m.rpartition('.')[0]}
            exec(compile(_src, _mod.__file__, 'exec'), _ns)
        except Exception:
            continue
        _found.update({k: v for k, v in _ns.items() if k in names and callable(v) and not k.startswith('_')})
    return _found
globals().update(_unwithheld(set(globals())))
"""


def _append_to_answers(nb, code):
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = cell.source + "\n" + code
    return nb


PARTIAL = {"setprofile", "numpy"}  # these two also solve part 1 honestly: they must earn its 12 points


@pytest.fixture(scope="module")
def a1_corpus(tmp_path_factory):
    work = tmp_path_factory.mktemp("forgery-A1")
    released = api.release(A1, work, release_dir=work / "release")
    student = submissions.read(released / A1_NB)
    source = submissions.read(course.Course().solutions / A1 / A1_NB)
    part1 = submissions.fill(student, source, {"activations"})
    cases = {"good_a": (submissions.fill(student, source), 80), "good_b": (submissions.fill(student, source), 80),
             "half": (submissions.fill(student, source, {"activations", "affine", "losses"}), 38)}
    for name, code in ATTACKS.items():
        base = part1 if name in PARTIAL else student
        cases[f"attack_{name}"] = (_prepend(base, "activations", code), 12 if name in PARTIAL else 0)
    cases["attack_reference_source"] = (_append_to_answers(student, REFERENCE_SOURCE), 0)
    for name, (nb, _) in cases.items():
        folder = work / "submitted" / name / A1
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / A1_NB)
    limits = {"cell_timeout": 120, "notebook_timeout": 600}
    outcomes = {o.student: o for o in batch.grade_batch(A1, work, workers=2, limits=limits, progress=False)}
    rows = {r["student"]: r for r in api.grade_rows(work, A1)}
    return cases, outcomes, rows, work


@needs_sandbox
def test_corpus_has_a_dozen_mechanisms():
    assert len(ATTACKS) >= 12


@needs_sandbox
@pytest.mark.parametrize("student", ["good_a", "good_b", "half"] + [f"attack_{a}" for a in ATTACKS]
                         + ["attack_reference_source"])
def test_each_earns_exactly_its_honest_part(a1_corpus, student):
    cases, outcomes, rows, work = a1_corpus
    _, points = cases[student]
    assert rows[student]["autograded"] == points, outcomes[student].reason
    assert rows[student]["autograded_max"] == 80
    assert outcomes[student].status == "graded" and outcomes[student].reason


@needs_sandbox
def test_a_failed_test_says_why(a1_corpus):
    """The reason a forged submission lost its points is in its graded notebook, for feedback."""
    *_, work = a1_corpus
    nb = nbformat.read(work / "autograded" / "attack_input_transformer" / A1 / A1_NB, as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "activations__tests")
    errors = [o for o in cell.outputs if o.get("output_type") == "error"]
    assert errors and re.search("kernel did not answer|NameError|not defined", errors[0]["evalue"] + errors[0]["ename"])


# ----------------------------------------------------------------------------------------------
# A2 (numpy convolutions): torch patched in the kernel, and a fast convolution that secretly
# calls the naive one, next to a good submission.

A2 = "A2"
A2_NB = "A2_convolution.ipynb"

A2_ATTACKS = {
    # torch patched: every parameter count is 0, every comparison succeeds
    "torch": ("import torch\ntorch.Tensor.numel = lambda self: 0\ntorch.allclose = lambda *a, **k: True\n"
              "torch.nn.Conv2d.parameters = lambda self: iter(())\n"
              "def conv_param_count(in_channels, out_channels, kernel_size, bias=True):\n    return 0", 0),
    # error display and the code runner both silenced
    "silenced_runner": ("ip = get_ipython()\nip.showtraceback = lambda *a, **k: None\n"
                        "_orig = ip.run_cell\ndef _run_cell(*a, **k):\n    r = _orig(*a, **k)\n"
                        "    r.error_in_exec = None\n    return r\nip.run_cell = _run_cell", 0),
}


_THREAD = "import threading\ndef _in_thread(call):\n    box = []\n    t = threading.Thread(target=lambda: box.append(call()))\n" \
          "    t.start()\n    t.join()\n    return box[0]\n"
_FWD = ("def conv_forward_im2col(x, w, b, conv_param{arg}):\n{pre}    out, _ = {call}\n"
        "    return out, (x, w, b, conv_param, im2col(x, w.shape[2], w.shape[3], conv_param['stride'], conv_param['pad']))\n")
_BWD = "def conv_backward_im2col(dout, cache{arg}):\n{pre}    return {call}\n"
_LOOPS = ("import numpy as np\ndef _loops(x, w, b, conv_param, dout=None):\n    S, P = conv_param['stride'], conv_param['pad']\n"
          "    N, C, H, W = x.shape\n    Fn, _, HH, WW = w.shape\n    Ho, Wo = (H + 2 * P - HH) // S + 1, (W + 2 * P - WW) // S + 1\n"
          "    xp = np.pad(x, ((0, 0), (0, 0), (P, P), (P, P)))\n    out, dxp, dw = np.empty((N, Fn, Ho, Wo)), np.zeros_like(xp), np.zeros_like(w)\n"
          "    for n in range(N):\n        for f in range(Fn):\n            for i in range(Ho):\n                for j in range(Wo):\n"
          "                    win = xp[n, :, i * S:i * S + HH, j * S:j * S + WW]\n"
          "                    out[n, f, i, j] = np.sum(win * w[f]) + b[f]\n"
          "                    if dout is not None:\n                        dw[f] += win * dout[n, f, i, j]\n"
          "                        dxp[n, :, i * S:i * S + HH, j * S:j * S + WW] += w[f] * dout[n, f, i, j]\n"
          "    if dout is None:\n        if C != w.shape[1]:\n            raise ValueError('channels')\n        return out, None\n"
          "    return dxp[:, :, P:P + H, P:P + W], dw, dout.sum(axis=(0, 2, 3))\n")


def _naive_in(how):
    """Parts 7 and 8 answered by the naive passes, called in the way `how` names."""
    fwd, bwd = "conv_forward_naive(x, w, b, conv_param)", "conv_backward_naive(dout, cache[:4])"
    if how == "thread":
        return {"conv_forward_im2col": _THREAD + _FWD.format(arg="", pre="", call=f"_in_thread(lambda: {fwd})"),
                "conv_backward_im2col": _THREAD + _BWD.format(arg="", pre="", call=f"_in_thread(lambda: {bwd})")}
    if how == "unprofiled":
        pre = "    import sys\n    sys.setprofile(None)\n"
        return {"conv_forward_im2col": _FWD.format(arg="", pre=pre, call=fwd),
                "conv_backward_im2col": _BWD.format(arg="", pre=pre, call=bwd)}
    if how == "default_argument":
        return {"conv_forward_im2col": _FWD.format(arg=", _f=conv_forward_naive", pre="", call="_f(x, w, b, conv_param)"),
                "conv_backward_im2col": _BWD.format(arg=", _f=conv_backward_naive", pre="", call="_f(dout, cache[:4])")}
    return {"conv_forward_im2col": _LOOPS + _FWD.format(arg="", pre="", call="_loops(x, w, b, conv_param)"),
            "conv_backward_im2col": _LOOPS + _BWD.format(arg="", pre="", call="_loops(*cache[:4], dout=dout)")}


# Issue 25: answers that a full solution gets from elsewhere, and the points each must lose. The
# naive convolution called after sys.setprofile(None) or from a thread was not seen by the call
# watch in the kernel (16 and 12 of 16 points, where calling it plainly earns 4); copied loops
# need no call at all (16 of 16), a default-argument alias no call by name; receptive_field came
# from cnnkit.inspect (4 of 4). The checker now records calls itself and checks that the output flows from the test's
# own im2col and col2im, and the sandbox's cnnkit.inspect has no receptive_field.
A2_IN_PARTS = {**{f"naive_{how}": (_naive_in(how), 16) for how in ("thread", "unprofiled", "default_argument", "copied")},
               "receptive_field_imported": ({"receptive_field": "from cnnkit.inspect import receptive_field\n"}, 4)}


@pytest.fixture(scope="module")
def a2_corpus(tmp_path_factory):
    work = tmp_path_factory.mktemp("forgery-A2")
    released = api.release(A2, work, release_dir=work / "release")
    student = submissions.read(released / A2_NB)
    source = submissions.read(course.Course().solutions / A2 / A2_NB)
    good = submissions.fill(student, source)
    first = submissions.solution_parts(source)[0]
    cases = {"good": (good, submissions.autograded_points(source))}
    for name, (code, points) in A2_ATTACKS.items():
        cases[f"attack_{name}"] = (_prepend(student, first, code), points)
    for name, (answers, lost) in A2_IN_PARTS.items():
        nb = good
        for grade_id, code in answers.items():
            nb = _replace_answer(nb, grade_id, code)
        cases[f"attack_{name}"] = (nb, submissions.autograded_points(source) - lost)
    for name, (nb, _) in cases.items():
        folder = work / "submitted" / name / A2
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / A2_NB)
    outcomes = {o.student: o for o in batch.grade_batch(A2, work, workers=2, limits={"cell_timeout": 120},
                                                          progress=False)}
    rows = {r["student"]: r for r in api.grade_rows(work, A2)}
    return cases, outcomes, rows


@needs_sandbox
@pytest.mark.parametrize("student", ["good"] + [f"attack_{a}" for a in A2_ATTACKS] + [f"attack_{a}" for a in A2_IN_PARTS])
def test_a2_each_earns_exactly_its_honest_part(a2_corpus, student):
    cases, outcomes, rows = a2_corpus
    assert rows[student]["autograded"] == cases[student][1], outcomes[student].reason


# ----------------------------------------------------------------------------------------------
# The canary, on the tiny assignment (it runs in seconds).

CANARY = "canary-" + "5e0f0c41d7a94b3c"          # only in the hidden test of the tiny assignment
CONTROL = "control-" + "b6d1e0a2c9f34a87"        # in its setup cell, which the kernel does run

SEARCH = """
import gc, os, sys, jupyter_client.session as _s
_msgs = []
_deser = _s.Session.deserialize
def _spy(self, *a, **k):
    m = _deser(self, *a, **k)
    _msgs.append(repr(m))
    return m
_s.Session.deserialize = _spy
_read = os.read
def _rspy(fd, n):  # what the checker's channel brings in
    d = _read(fd, n)
    _msgs.append(repr(d))
    return d
os.read = _rspy

def _search(needle):
    if any(needle in v for v in os.environ.values()):
        return True
    if any(needle in m for m in _msgs):
        return True
    for o in gc.get_objects():
        if type(o) is str and o is not needle and needle in o:
            return True
        if type(o) in (list, tuple) and any(type(x) is str and x is not needle and needle in x for x in o):
            return True
    paths = ['/proc/self/environ', '/proc/self/cmdline']
    for top in ('/tmp', os.getcwd(), os.path.expanduser('~')):
        for root, dirs, files in os.walk(top):
            paths += [os.path.join(root, f) for f in files]
    for path in paths:
        try:
            if path.startswith('/proc') or os.path.isfile(path):
                with open(path, 'rb') as fh:
                    if needle.encode() in fh.read(20_000_000):
                        return True
        except OSError:
            pass
    return False

def add(a, b):
    canary = {canary!r}[::-1]
    control = {control!r}[::-1]
    return a + b if (_search(control) and not _search(canary)) else 0
"""


@pytest.fixture(scope="module")
def canary_course(tmp_path_factory):
    root = tmp_path_factory.mktemp("canary")
    return _grade_canary(root)


def _grade_canary(root):
    nb = tiny.source_notebook()
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid == "setup":
            cell.source += f"\n# {CONTROL}"
        if gid == "add__tests":
            cell.source = cell.source.replace("### END HIDDEN TESTS", f"# {CANARY}\n### END HIDDEN TESTS")
    (root / "solutions" / tiny.NAME).mkdir(parents=True)
    nbformat.write(nb, root / "solutions" / tiny.NAME / tiny.NOTEBOOK)
    work = course.CourseDir(root / "course", source=course.Course(root))
    released = api.release(tiny.NAME, work, release_dir=root / "release")
    student = submissions.read(released / tiny.NOTEBOOK)
    source = submissions.read(root / "solutions" / tiny.NAME / tiny.NOTEBOOK)
    good = submissions.fill(student, source)
    for cell in good.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "add":
            cell.source = SEARCH.format(canary=CANARY[::-1], control=CONTROL[::-1])
    folder = work / "submitted" / "searcher" / tiny.NAME
    folder.mkdir(parents=True)
    nbformat.write(good, folder / tiny.NOTEBOOK)
    outcomes = batch.grade_batch(tiny.NAME, work, progress=False)
    rows = {r["student"]: r for r in api.grade_rows(work, tiny.NAME)}
    return outcomes, rows, work


@needs_sandbox
def test_canary_never_reaches_the_kernel(canary_course):
    outcomes, rows, work = canary_course
    # 5 points: add's tests pass, so the search found the control string and not the canary
    assert rows["searcher"]["autograded"] == 5, outcomes[0].reason
    graded = (work / "autograded" / "searcher" / tiny.NAME / tiny.NOTEBOOK).read_text()
    assert CANARY in graded  # the hidden test did run (in the checker)


# ----------------------------------------------------------------------------------------------
# A4 (training a CNN): numbers a submission would report about itself. The tests compute them in
# the checker: accuracies from the logits a model returns for new images drawn with a seed the
# submission never sees, architectures from the weights read back, the step and the loop from
# the weights they leave. On top of a submission that honestly solved parts 1 and 2 (32 points):

A4 = "A4"
A4_NB = "A4_training.ipynb"

# A "model" that knows the labels of every image the notebook's data seed makes: it rebuilds
# them with load_shapes(seed=0) and answers by looking each image up. Its state_dict lies: it
# reports the weights of a fresh CifarResNet of the size asked for.
_LOOKUP = '''
class _Lookup(nn.Module):
    def __init__(self, depth=8, residual=True):
        super().__init__()
        self._fake = CifarResNet(depth, 10, residual, widths=WIDTHS)
        data = load_shapes(N_TRAIN, N_VAL, N_TEST, seed=0)
        self._table = {}
        for X, y in ((data.X_train, data.y_train), (data.X_val, data.y_val), (data.X_test, data.y_test)):
            for img, label in zip(X, y):
                self._table[np.asarray(img, np.float32).tobytes()] = int(label)

    def state_dict(self, *a, **k):
        return self._fake.state_dict()

    def load_state_dict(self, *a, **k):
        return self._fake.load_state_dict(*a, **k)

    def forward(self, x):
        out = torch.zeros(len(x), 10)
        for i, img in enumerate(x):
            out[i, self._table.get(np.asarray(img.cpu(), np.float32).tobytes(), 0)] = 10.0
        return out
'''

A4_ATTACKS = {
    # part 4 and 5 answered by the label-lookup model, with histories that claim success
    "rebuilt_labels": {
        "compare": _LOOKUP + "\nnets = {'plain': _Lookup(20, False), 'residual': _Lookup(20, True)}\n"
                   "results = {k: {'train_loss': [0.1] * CMP_EPOCHS, 'train_acc': [1.0] * CMP_EPOCHS,\n"
                   "               'val_loss': [0.1] * CMP_EPOCHS, 'val_acc': [1.0] * CMP_EPOCHS,\n"
                   "               'stopped_early': False} for k in nets}\n",
        "final": "def train_final(seed=0):\n    return _Lookup(8, True), {'val_acc': [1.0], 'stopped_early': False}\n",
    },
    # a loop that trains nothing and reports a perfect history; a train_final whose history
    # reports a perfect accuracy and a short time for an untrained network
    "self_reported": {
        "loop": "def train_model(model, X_train, y_train, X_val, y_val, epochs, lr, batch_size=64, max_seconds=None, seed=0):\n"
                "    return {'train_loss': [0.0] * epochs, 'train_acc': [1.0] * epochs, 'val_loss': [0.0] * epochs,\n"
                "            'val_acc': [1.0] * epochs, 'stopped_early': max_seconds is not None, 'seconds': 0.0}\n",
        "final": "def train_final(seed=0):\n    m = CifarResNet(8, 10, True, widths=WIDTHS)\n"
                 "    return m, {'val_acc': [1.0], 'test_acc': 1.0, 'seconds': 1.0, 'stopped_early': False}\n",
    },
}


# Issue 25: part 1's model was the kernel's `_tiny` (a locked cell's name), so a train_step that
# forgets model.train() passed with a `_tiny` whose eval() does nothing (18 of 18); the checker now
# builds it with its own `_tiny`. Part 5's course_solutions sent the solutions of parts 1-3 to the
# kernel, where a spy on compile() could raise them into the feedback; they now run in the checker.
_STEP_WITHOUT_TRAIN = ("def train_step(model, x, y, optimizer):\n    logits = model(x)\n    loss = F.cross_entropy(logits, y)\n"
                       "    optimizer.zero_grad()\n    loss.backward()\n    optimizer.step()\n"
                       "    return loss.item(), int((logits.argmax(1) == y).sum())\n")
A4_IN_PARTS = {
    "eval_undone": ({"step": "_real_tiny = _tiny\ndef _tiny(*args, **kwargs):\n    m = _real_tiny(*args, **kwargs)\n"
                             "    m.eval = lambda *a, **k: m\n    return m\n" + _STEP_WITHOUT_TRAIN}, 18),
    "solution_source_spy": ({"final": (
        "import builtins\n_seen, _compile = [], builtins.compile\ndef _spy(src, *a, **k):\n"
        "    if isinstance(src, str) and 'OneCycleLR' in src:\n        _seen.append(src)\n    return _compile(src, *a, **k)\n"
        "builtins.compile = _spy\ndef train_final(seed=0):\n    seed_everything(seed)\n"
        "    model = CifarResNet(8, 10, True, widths=WIDTHS).to(device)\n"
        "    history = train_model(model, X_train[:256], y_train[:256], X_val[:64], y_val[:64], epochs=1, lr=0.2)\n"
        "    if _seen:\n        raise RuntimeError('LEAKED ' + ''.join(_seen)[:1900])\n    return model, history\n")}, 0),
}


def _replace_answer(nb, grade_id, code):
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            cell.source = code
            return nb
    raise KeyError(grade_id)


# A3 (torch modules): the checker takes a module's state_dict and outputs through the channel and
# compares them with its own reference (cnnkit.modcheck), so modules that echo their input, lie
# about their class, patch torch or send back monsters earn nothing; wrong parts cost exactly
# their points, and a bug in the basic block is not charged again in ResNet-18.

A3 = "A3"
A3_NB = "A3_architectures.ipynb"
A3_FULL = 95

_ECHO = ("import torch.nn as _nn\nclass _Echo(_nn.Module):\n    def __init__(self, *a, **k):\n"
         "        super().__init__()\n        self.w = _nn.Parameter(torch.zeros(1))\n"
         "    def forward(self, x):\n        return x\n")
_DEEP = ("import torch.nn as _nn\nclass _Deep(_nn.Module):\n    def __init__(self, *a, **k):\n"
         "        super().__init__()\n    def state_dict(self, *a, **k):\n        x = {}\n"
         "        for _ in range(5000):\n            x = {'w': x}\n        return x\n"
         "    def forward(self, x):\n        return torch.zeros(len(x), 20_000_000)\n")
_LIE = ("import cnnkit.reference as _r, cnnkit.conv as _cv\n"
        "def _mine(cls):\n    return type(cls.__name__, (cls,), {'__module__': '__main__'})\n")

A3_ATTACKS = {
    # every module hands back the input it was given (the checker's own tensors)
    "echo_forward": {"lenet5": _ECHO + "LeNet5 = _Echo", "resblocks": "BasicBlock = Bottleneck = _Echo",
                     "se": "SEBlock = _Echo", "resnext": "ResNeXtBlock = _Echo", "inception": "InceptionModule = _Echo"},
    # state_dict nested 5000 deep, outputs of 80 MB
    "deep_and_huge": {"lenet5": _DEEP + "LeNet5 = _Deep", "resblocks": "BasicBlock = Bottleneck = _Deep",
                      "se": "SEBlock = _Deep", "resnext": "ResNeXtBlock = _Deep"},
    # torch patched in the kernel: no state, no counts, every comparison true, outputs of the right shape
    "patched_torch": {"sizes": "import torch\ntorch.Tensor.numel = lambda self: 0\ntorch.allclose = lambda *a, **k: True\n"
                               "torch.nn.Module.state_dict = lambda self, *a, **k: {}\n"
                               "torch.nn.Module.load_state_dict = lambda self, *a, **k: None",
                      "lenet5": "class LeNet5(torch.nn.Module):\n    def __init__(self, num_classes=10):\n"
                                "        super().__init__()\n        self.k = num_classes\n"
                                "    def forward(self, x):\n        return torch.zeros(len(x), self.k)"},
    # the course library's modules under the student's names, their classes claiming to be the notebook's
    "lying_module": {"sizes": _LIE + "conv_output_size = _cv.conv_output_size",
                     "lenet5": "LeNet5 = _mine(_r.LeNet5)", "vgg_stage": "vgg_stage = _r.vgg_stage",
                     "inception": "InceptionModule = _mine(_r.InceptionModule)",
                     "resblocks": "BasicBlock = _mine(_r.BasicBlock)\nBottleneck = _mine(_r.Bottleneck)",
                     "resnet18": "ResNet18 = _mine(_r.ResNet18)", "se": "SEBlock = _mine(_r.SEBlock)",
                     "resnext": "ResNeXtBlock = _mine(_r.ResNeXtBlock)"},
}

# Issue 25: ResNet-18 was checked with the student's own weights, so a net whose weights are all 0
# and whose forward returns zeros agreed with the reference (12 of 12); the reference BasicBlock's
# test sent the source of cnnkit.reference to the kernel, so a ResNet18 that only looks at what
# its BasicBlock carries built parts 11 and 12 from it (13 points). Now the test's weights are the
# checker's, and the block is built in the checker: there is nothing in the kernel to take.
A3_ATTACKS["zero_resnet18"] = {"resnet18": (
    "class ResNet18(nn.Module):\n    def __init__(self, num_classes=1000):\n        super().__init__()\n"
    "        self.stem = nn.Sequential(nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False), nn.BatchNorm2d(64),\n"
    "                                  nn.ReLU(inplace=True), nn.MaxPool2d(3, stride=2, padding=1))\n"
    "        blocks, in_ch = [], 64\n        for out_ch, stride in [(64, 1), (128, 2), (256, 2), (512, 2)]:\n"
    "            blocks += [BasicBlock(in_ch, out_ch, stride), BasicBlock(out_ch, out_ch)]\n            in_ch = out_ch\n"
    "        self.stages = nn.Sequential(*blocks)\n        self.fc = nn.Linear(512, num_classes)\n"
    "        for p in self.parameters():\n            nn.init.zeros_(p)\n        self.k = num_classes\n"
    "    def forward(self, x):\n        return torch.zeros(len(x), self.k)")}
A3_ATTACKS["stolen_reference"] = {
    "resnet18": ("_stolen = {}\nclass ResNet18(nn.Module):\n    def __init__(self, num_classes=1000):\n"
                 "        super().__init__()\n        for f in (getattr(BasicBlock, '__init__', None), BasicBlock):\n"
                 "            g = getattr(f, '__globals__', None)\n            if isinstance(g, dict):\n"
                 "                _stolen.update({k: v for k, v in g.items() if k in ('SEBlock', 'ResNeXtBlock')})\n"
                 "        raise RuntimeError('only here to look')"),
    "se": "SEBlock = _stolen.get('SEBlock')", "resnext": "ResNeXtBlock = _stolen.get('ResNeXtBlock')"}

HUGE_CLASS_NAME = "alexnet_pool1_params = type('C' * 20_000_000, (), {})()"

# Wrong solutions (edits of the full solution: cell, old, new, points lost, a word of the message)
A3_WRONG = {
    "lenet_relu_maxpool": ("lenet5", [("nn.Tanh()", "nn.ReLU()"), ("nn.AvgPool2d(2)", "nn.MaxPool2d(2)")], 8,
                           "ReLU and max pooling where the part asks for tanh and average pooling"),
    "no_projection": ("resblocks", [("            self.shortcut = nn.Sequential(nn.Conv2d(in_ch, out_ch, 1, stride=stride, bias=False),\n"
                                     "                                          nn.BatchNorm2d(out_ch))\n", "            pass\n")],
                      12, "projection"),
    "blank_basic_block": ("resblocks", [("        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=1, bias=False)",
                                         "        raise NotImplementedError()")], 12, "NotImplementedError"),
}


def _append(nb, grade_id, code):
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            cell.source = cell.source + "\n" + code + "\n"
            return nb
    raise KeyError(grade_id)


def _edit(nb, grade_id, pairs):
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            for old, new in pairs:
                assert old in cell.source, (grade_id, old)
                cell.source = cell.source.replace(old, new)
            return nb
    raise KeyError(grade_id)


@pytest.fixture(scope="module")
def a4_corpus(tmp_path_factory):
    work = tmp_path_factory.mktemp("forgery-A4")
    released = api.release(A4, work, release_dir=work / "release")
    student = submissions.read(released / A4_NB)
    source = submissions.read(course.Course().solutions / A4 / A4_NB)
    honest = submissions.fill(student, source, {"step", "evaluate"})
    points = submissions.autograded_points(source, {"step", "evaluate"})
    cases = {"half": (honest, points)}
    for name, answers in A4_ATTACKS.items():
        nb = honest
        for grade_id, code in answers.items():
            nb = _replace_answer(nb, grade_id, code)
        cases[f"attack_{name}"] = (nb, points)
    for name, (answers, lost) in A4_IN_PARTS.items():
        nb = honest
        for grade_id, code in answers.items():
            nb = _replace_answer(nb, grade_id, code)
        cases[f"attack_{name}"] = (nb, points - lost)
    for name, (nb, _) in cases.items():
        folder = work / "submitted" / name / A4
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / A4_NB)
    outcomes = {o.student: o for o in batch.grade_batch(A4, work, workers=2, progress=False)}
    rows = {r["student"]: r for r in api.grade_rows(work, A4)}
    return cases, outcomes, rows, work


@needs_sandbox
@pytest.mark.parametrize("student", ["half"] + [f"attack_{a}" for a in A4_ATTACKS] + [f"attack_{a}" for a in A4_IN_PARTS])
def test_a4_each_earns_exactly_its_honest_part(a4_corpus, student):
    cases, outcomes, rows, _ = a4_corpus
    assert cases["half"][1] == 32
    assert rows[student]["autograded"] == cases[student][1], outcomes[student].reason


@needs_sandbox
def test_a4_the_course_solutions_never_reach_the_kernel(a4_corpus):
    """Part 5 trained the spying train_final with the course's train_model (it reached the accuracy
    check), and the spy found no line of it to put in the feedback."""
    *_, work = a4_corpus
    nb = nbformat.read(work / "autograded" / "attack_solution_source_spy" / A4 / A4_NB, as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "final__tests")
    errors = " ".join(str(o.get("evalue", "")) for o in cell.outputs if o.get("output_type") == "error")
    assert "below the target" in errors and "LEAKED" not in errors, errors
    assert "OneCycleLR(optimizer" not in nbformat.writes(nb)  # the solution's line (the text names the class)


@pytest.fixture(scope="module")
def a3_corpus(tmp_path_factory):
    work = tmp_path_factory.mktemp("forgery-A3")
    released = api.release(A3, work, release_dir=work / "release")
    student = submissions.read(released / A3_NB)
    source = submissions.read(course.Course().solutions / A3 / A3_NB)
    good = submissions.fill(student, source)
    assert submissions.autograded_points(source) == A3_FULL
    cases = {"good": (good, A3_FULL)}
    for name, cells in A3_ATTACKS.items():
        nb = copy.deepcopy(student)
        for gid, code in cells.items():
            _append(nb, gid, code)
        cases[f"attack_{name}"] = (nb, 0)
    for name, (gid, pairs, lost, _) in A3_WRONG.items():
        cases[f"wrong_{name}"] = (_edit(good, gid, pairs), A3_FULL - lost)
    # a value whose class name is 20 MB, which the alexnet test's message shows (its repr): the
    # checker's outputs were not counted (a 20 MB graded notebook and feedback page, reason "ok",
    # 87 points); now the test's output passes the cell's output limit, so the test fails and the
    # kernel is stopped there, as for a kernel's own flood: the parts before it keep their points
    cases["attack_reference_source"] = (_append_to_answers(student, REFERENCE_SOURCE), 0)
    parts = submissions.solution_parts(source)
    cases["attack_huge_class_name"] = (_append(copy.deepcopy(good), "alexnet", HUGE_CLASS_NAME),
                                       submissions.autograded_points(source, set(parts[:parts.index("alexnet")])))
    for name, (nb, _) in cases.items():
        folder = work / "submitted" / name / A3
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / A3_NB)
    outcomes = {o.student: o for o in batch.grade_batch(A3, work, workers=2, limits={"cell_timeout": 120},
                                                          progress=False)}
    rows = {r["student"]: r for r in api.grade_rows(work, A3)}
    return cases, outcomes, rows, work


@needs_sandbox
@pytest.mark.parametrize("student", ["good"] + [f"attack_{a}" for a in A3_ATTACKS] + [f"wrong_{w}" for w in A3_WRONG]
                         + ["attack_huge_class_name", "attack_reference_source"])
def test_a3_each_earns_exactly_its_honest_part(a3_corpus, student):
    cases, outcomes, rows, _ = a3_corpus
    assert rows[student]["autograded"] == cases[student][1], outcomes[student].reason


@needs_sandbox
def test_a3_a_test_message_is_charged_like_output(a3_corpus):
    """The checker's outputs count against the cell's output limit: the kernel is stopped with the
    reason, the test fails, and the graded notebook and its feedback stay small."""
    _, outcomes, _, work = a3_corpus
    assert "output limit: a cell's output (the test's output) passed" in outcomes["attack_huge_class_name"].reason
    path = work / "autograded" / "attack_huge_class_name" / A3 / A3_NB
    assert path.stat().st_size < 1_000_000
    cell = next(c for c in nbformat.read(path, as_version=4).cells
                if c.metadata.get("nbgrader", {}).get("grade_id") == "alexnet__tests")
    assert any(o.get("ename") == "OutputLimit" for o in cell.outputs)
    pages = list((api.feedback(A3, work) / "attack_huge_class_name" / A3).glob("*.html"))
    assert pages and all(p.stat().st_size < 1_000_000 for p in pages)


@needs_sandbox
@pytest.mark.parametrize("wrong", list(A3_WRONG))
def test_a3_a_wrong_part_is_named_in_its_visible_test(a3_corpus, wrong):
    *_, work = a3_corpus
    gid, _, _, message = A3_WRONG[wrong]
    nb = nbformat.read(work / "autograded" / f"wrong_{wrong}" / A3 / A3_NB, as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == f"{gid}__tests")
    errors = " ".join(f"{o.get('ename', '')}: {o.get('evalue', '')}" for o in cell.outputs if o.get("output_type") == "error")
    assert message in errors, errors
