"""Checking a student's torch module by what it computes, not by what it says about itself.

``check_module(name, model, reference, inputs)`` takes the module's ``state_dict()`` (plain
tensors), gives every weight a new random value (``load_state_dict``), loads the same values
into the reference module the part describes (``cnnkit.reference``), and requires the same
outputs on the test's inputs in eval mode, then in training mode. It only calls ``state_dict``,
``load_state_dict``, ``eval``, ``train`` and the module itself, so it works on a module in the student's kernel (their
JupyterLab) and on the grader's proxy of one (autograder.checker), where the weights and outputs
come back as data and every comparison happens in the grader.

Weights are matched by layout, not by name: the entries of both state dicts are grouped by the
layer they belong to (``stages.0.conv1.weight`` -> ``stages.0.conv1``), each layer described by
its entries' leaf names and shapes (trailing 1s of a weight's shape dropped, so a 1x1 conv and a
linear layer of the same sizes agree). Layers of one description are paired in the order the
modules register them; when that order gives other outputs, the other pairings are tried (a block
that creates its shortcut before its first conv is right too).
"""
from __future__ import annotations

import itertools
from contextlib import contextmanager

import torch

from . import grading
from .grading import _fail

BUFFERS = ("running_mean", "running_var", "num_batches_tracked")
MAX_PAIRINGS = 48


def _state(name, model, hint):
    __tracebackhide__ = True
    try:
        state = model.state_dict()
    except Exception as exc:  # noqa: BLE001 - the student's module decides what state_dict does
        _fail(name, f"state_dict() raised {type(exc).__name__}: {exc}", hint)
    if not isinstance(state, dict) or not all(type(k) is str and isinstance(v, torch.Tensor) for k, v in state.items()):
        _fail(name, "state_dict() did not return a dict of tensors. Is it a torch.nn.Module?", hint)
    return dict(state)


def param_count(state: dict) -> int:
    """Trainable numbers in a state_dict: every entry but batch norm's running statistics."""
    return sum(int(v.numel()) for k, v in state.items() if k.rsplit(".", 1)[-1] not in BUFFERS)


def _shape(key, tensor):
    shape = tuple(tensor.shape)
    if key.rsplit(".", 1)[-1] == "weight":
        while len(shape) > 2 and shape[-1] == 1:
            shape = shape[:-1]
    return shape


def layout(state: dict) -> list[tuple[str, tuple]]:
    """[(layer, description)] in order: description = ((leaf, shape), ...), num_batches_tracked left out."""
    groups: dict[str, list] = {}
    for key, value in state.items():
        layer, _, leaf = key.rpartition(".")
        if leaf == "num_batches_tracked":
            continue
        groups.setdefault(layer, []).append((leaf, _shape(key, value)))
    return [(layer, tuple(sorted(items))) for layer, items in groups.items()]


def describe(desc) -> str:
    """A layer's description in words: 'a 3x3 conv 64 -> 128 without bias', 'a batch norm of 64 channels'."""
    leaves = dict(desc)
    w = leaves.get("weight")
    if "running_mean" in leaves:
        return f"a batch norm of {leaves['running_mean'][0]} channels"
    if w is not None and len(w) == 4:
        return f"a {w[2]}x{w[3]} conv {w[1]} -> {w[0]} {'with' if 'bias' in leaves else 'without'} bias (weight {w})"
    if w is not None and len(w) == 2:
        return f"a 1x1 conv or linear layer {w[1]} -> {w[0]} {'with' if 'bias' in leaves else 'without'} bias"
    return "a layer with " + ", ".join(f"{k} {s}" for k, s in desc)


def _random_state(state: dict, seed: int) -> dict:
    gen = torch.Generator().manual_seed(seed)
    out = {}
    for key, value in state.items():
        leaf = key.rsplit(".", 1)[-1]
        if not value.is_floating_point():
            out[key] = value.clone()
        elif leaf == "running_var" or (leaf == "weight" and value.dim() == 1):
            out[key] = 0.5 + torch.rand(value.shape, generator=gen)
        elif value.dim() <= 1:
            out[key] = 0.3 * torch.randn(value.shape, generator=gen)
        else:
            fan_in = max(1, value[0].numel())
            out[key] = torch.randn(value.shape, generator=gen) * (1.5 / fan_in ** 0.5)
        out[key] = out[key].to(value.dtype)
    return out


def _pairings(mine, ref):
    """Pairings {ref layer: my layer}, the registration order first, then other orders of layers
    that share a description (at most MAX_PAIRINGS in all)."""
    by_desc_mine, by_desc_ref = {}, {}
    for layer, desc in mine:
        by_desc_mine.setdefault(desc, []).append(layer)
    for layer, desc in ref:
        by_desc_ref.setdefault(desc, []).append(layer)
    descs = list(by_desc_ref)
    options = [itertools.permutations(by_desc_mine[d]) for d in descs]
    for count, combo in enumerate(itertools.product(*options)):
        if count >= MAX_PAIRINGS:
            return
        pairing = {}
        for d, order in zip(descs, combo):
            pairing.update(zip(by_desc_ref[d], order))
        yield pairing


def _load(reference, values: dict, pairing: dict) -> None:
    ref_state = reference.state_dict()
    new = {}
    for key, target in ref_state.items():
        layer, _, leaf = key.rpartition(".")
        mine = pairing.get(layer, layer)
        src = f"{mine}.{leaf}" if mine else leaf
        new[key] = values[src].reshape(target.shape).to(target.dtype) if src in values else target
    reference.load_state_dict(new)


def _outputs(module, inputs):
    with torch.no_grad():
        out = module(*inputs)
    return out


def check_module(name, model, reference, inputs, hint="", diagnoses=(), tol=1e-4, seed=0, randomize=True):
    """Fail unless `model` has the layers of `reference` and computes the same function.

    model: the student's module (or the grader's proxy of it); reference: a fresh reference module
    built with the same arguments; inputs: a tuple of tensors for forward. diagnoses: pairs
    (what, module) of references with one typical mistake each ("ReLU instead of tanh"): the
    failure names the first that matches. randomize=False keeps the module's own weights: then
    a model whose weights are all zero and whose forward returns zeros agrees with the reference,
    so a graded test keeps the default. Returns the student's state_dict (its values as the test
    loaded them)."""
    __tracebackhide__ = True
    state = _state(name, model, hint)
    mine, ref = layout(state), layout(reference.state_dict())
    missing = _difference([d for _, d in ref], [d for _, d in mine])
    extra = _difference([d for _, d in mine], [d for _, d in ref])
    if missing or extra:
        parts = []
        if missing:
            parts.append("it lacks " + "; ".join(describe(d) for d in missing[:4]))
        if extra:
            parts.append("it has, in addition, " + "; ".join(describe(d) for d in extra[:4]))
        _fail(name, f"its layers are not those the part asks for: {' and '.join(parts)}", hint)
    if randomize:
        state = _random_state(state, seed)
        try:
            model.load_state_dict(state)
        except Exception as exc:  # noqa: BLE001
            _fail(name, f"load_state_dict() of its own state raised {type(exc).__name__}: {exc}", hint)
    try:
        model.eval()
        got = _outputs(model, inputs)
    except Exception as exc:  # noqa: BLE001 - a shape error in forward is the student's to fix
        _fail(name, f"forward on inputs of shape {[tuple(x.shape) for x in inputs]} raised "
                    f"{type(exc).__name__}: {str(exc)[:300]}", hint)
    if not isinstance(got, torch.Tensor):
        _fail(name, f"forward returned {type(got).__name__}, expected a tensor", hint)
    got = got.detach().double()
    reference.eval()
    first = None
    for pairing in _pairings(mine, ref):
        _load(reference, state, pairing)
        want = _outputs(reference, inputs).double()
        if first is None:
            first = want
        if want.shape == got.shape and _close(got, want, tol):
            if randomize:
                _same_in_training(name, model, reference, inputs, tol, hint)
            return state
    if first.shape != got.shape:
        _fail(name, f"expected an output of shape {tuple(first.shape)}, got {tuple(got.shape)}", hint)
    for what, wrong in diagnoses:
        wrong.eval()
        for pairing in _pairings(mine, layout(wrong.state_dict())):
            _load(wrong, state, pairing)
            out = _outputs(wrong, inputs).double()
            if out.shape == got.shape and _close(got, out, tol):
                _fail(name, f"it computes {what}", hint)
    diff = (got - first).abs()
    _fail(name, f"with its weights loaded into the reference, the outputs differ (largest difference "
                f"{float(diff.max()):.3g} where the reference's outputs are up to {float(first.abs().max()):.3g})", hint)


def _same_in_training(name, model, reference, inputs, tol, hint):
    """Training mode too: batch norm then normalises with the batch's statistics, so a layer that
    eval mode cannot tell apart (a stride moved past a batch norm) shows."""
    __tracebackhide__ = True
    try:
        model.train()
        got = _outputs(model, inputs)
    except Exception as exc:  # noqa: BLE001
        _fail(name, f"forward in training mode raised {type(exc).__name__}: {str(exc)[:300]}", hint)
    reference.train()
    want = _outputs(reference, inputs).double()
    if not isinstance(got, torch.Tensor) or tuple(got.shape) != tuple(want.shape) or not _close(got.detach().double(), want, tol):
        _fail(name, "in eval mode it matches the reference, but in training mode (batch norm on the batch's "
                    "statistics) its outputs differ", hint)


def _close(got, want, tol) -> bool:
    if not bool(torch.isfinite(got).all()):
        return False
    scale = float(want.abs().max()) if want.numel() else 0.0
    return bool(((got - want).abs() <= tol * (1.0 + scale)).all())


def _difference(a: list, b: list) -> list:
    rest = list(b)
    out = []
    for item in a:
        if item in rest:
            rest.remove(item)
        else:
            out.append(item)
    return out


@contextmanager
def swapped_names(owner, **names):
    """Inside the block, the global names of `owner`'s module (a class or function of the
    student's notebook) are the given objects: the ResNet-18 test builds the student's network
    from the reference BasicBlock, so a bug in their block costs only the block's part.
    (At grading time, `cnnkit.grading.swapped_names_hook`, set by the checker: the student's name
    is bound, in their kernel, to a callback that builds the reference here, in the checker, and
    hands back a kernel module that holds its weights and whose forward runs here; the
    reference's source never enters the kernel.)"""
    func = owner.__init__ if isinstance(owner, type) else owner
    space = getattr(func, "__globals__", None)
    hook = getattr(grading, "swapped_names_hook", None)
    if space is None and hook is not None:  # the grader's proxy of the student's class
        with hook(owner, **names):
            yield
        return
    if space is None:
        raise TypeError(f"swapped_names needs a class or function of the notebook, got {owner!r}")
    missing = object()
    old = {n: space.get(n, missing) for n in names}
    space.update(names)
    try:
        yield
    finally:
        for n, v in old.items():
            if v is missing:
                space.pop(n, None)
            else:
                space[n] = v
