"""The student pack's stand-ins (cnnkit._standins) match the numpy references they replace.

Until an assignment is due, the pack ships these torch-backed versions in place of the library
functions the assignment grades; every lecture must print what it printed with the references,
so each stand-in must agree with its reference in float64 to rounding, raise the same errors, and
be watched by cnnkit.grading.no_calls_to like the function it replaces.
"""
import types

import numpy as np
import pytest

from cnnkit import _standins, conv, gradcheck, grading, inspect, layers

rng = np.random.default_rng(0)
TOL = 1e-12


def close(a, b, tol=TOL):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape and a.dtype == b.dtype, (a.shape, a.dtype, b.shape, b.dtype)
    assert gradcheck.rel_error(a, b) <= tol, gradcheck.rel_error(a, b)


def both(fwd_name, bwd_name, module, args, dout_shape=None):
    """Forward and backward of the reference and of the stand-in on the same arguments."""
    results = []
    for fwd, bwd in ((getattr(module, fwd_name), getattr(module, bwd_name)),
                     (getattr(_standins, fwd_name), getattr(_standins, bwd_name))):
        out, cache = fwd(*[a.copy() if isinstance(a, np.ndarray) else a for a in args])
        dout = np.random.default_rng(1).standard_normal(out.shape)
        grads = bwd(dout, cache)
        results.append((out, grads if isinstance(grads, tuple) else (grads,)))
    (o1, g1), (o2, g2) = results
    close(o1, o2)
    assert len(g1) == len(g2)
    for a, b in zip(g1, g2):
        close(a, b)


@pytest.mark.parametrize("shape", [(4, 5), (3, 2, 3, 2)])
def test_affine(shape):
    x = rng.standard_normal(shape)
    D = int(np.prod(shape[1:]))
    both("affine_forward", "affine_backward", layers, (x, rng.standard_normal((D, 6)), rng.standard_normal(6)))


@pytest.mark.parametrize("name", ["relu", "sigmoid"])
def test_activations(name):
    x = rng.standard_normal((5, 7)) * 30  # large |x|: the sigmoid must not overflow
    x[0, :3] = 0.0                        # the subgradient of ReLU at 0
    both(f"{name}_forward", f"{name}_backward", layers, (x,))


def test_losses():
    scores, y = rng.standard_normal((8, 5)) * 10, rng.integers(0, 5, 8)
    (l1, d1), (l2, d2) = layers.softmax_loss(scores, y), _standins.softmax_loss(scores, y)
    assert abs(l1 - l2) < 1e-12 * max(1, abs(l1)) and isinstance(l2, float)
    close(d1, d2)
    pred, target = rng.standard_normal((6, 3)), rng.standard_normal((6, 3))
    (l1, d1), (l2, d2) = layers.l2_loss(pred, target), _standins.l2_loss(pred, target)
    assert abs(l1 - l2) < 1e-12 * max(1, abs(l1))
    close(d1, d2)


CONV_CASES = [((2, 3, 7, 7), (4, 3, 3, 3), 1, 1), ((1, 2, 9, 8), (3, 2, 3, 2), 2, 0),
              ((2, 1, 11, 11), (2, 1, 5, 5), 3, 2), ((1, 3, 6, 6), (2, 3, 1, 1), 1, 0)]


@pytest.mark.parametrize("xs, ws, stride, pad", CONV_CASES)
def test_im2col_col2im(xs, ws, stride, pad):
    x = rng.standard_normal(xs)
    HH, WW = ws[2:]
    cols = conv.im2col(x, HH, WW, stride, pad)
    close(conv.im2col(x, HH, WW, stride, pad), _standins.im2col(x, HH, WW, stride, pad), 0)
    c = rng.standard_normal(cols.shape)
    close(conv.col2im(c, xs, HH, WW, stride, pad), _standins.col2im(c, xs, HH, WW, stride, pad))


@pytest.mark.parametrize("kind", ["", "_naive"])
@pytest.mark.parametrize("xs, ws, stride, pad", CONV_CASES)
def test_conv(kind, xs, ws, stride, pad):
    args = (rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[0]), {"stride": stride, "pad": pad})
    both(f"conv_forward{kind}", f"conv_backward{kind}", conv, args)


@pytest.mark.parametrize("xs, ph, pw, s", [((2, 3, 8, 8), 2, 2, 2), ((1, 2, 7, 9), 3, 3, 2), ((2, 1, 5, 5), 2, 3, 1)])
def test_max_pool(xs, ph, pw, s):
    x = rng.standard_normal(xs)
    both("max_pool_forward", "max_pool_backward", conv, (x, {"pool_height": ph, "pool_width": pw, "stride": s}))


def test_max_pool_ties_go_to_the_first_maximum():
    x = np.zeros((1, 1, 4, 4))  # every window is a tie
    pp = {"pool_height": 2, "pool_width": 2, "stride": 1}  # overlapping windows add up
    both("max_pool_forward", "max_pool_backward", conv, (x, pp))


def test_receptive_fields_are_measured_like_the_rule():
    stacks = [[(3, 1)] * 3, [(3, 1), (2, 2), (3, 1)], [(7, 2), (3, 2), (3, 1), (3, 1), (3, 2, 2)],
              [(11, 4), (3, 2), (5, 1), (3, 2), (3, 1), (3, 1), (3, 1), (3, 2)], [(1, 1)], [(5, 3, 3)]]
    stacks += [[tuple(int(v) for v in rng.integers(1, 5, 2)) + (int(rng.integers(1, 3)),)
                for _ in range(rng.integers(1, 8))] for _ in range(10)]
    for stack in stacks:
        assert _standins.receptive_field_steps(stack) == inspect.receptive_field_steps(stack), stack
        assert _standins.receptive_field(stack) == inspect.receptive_field(stack), stack
    assert _standins.receptive_field([]) == inspect.receptive_field([]) == 1


ERRORS = [
    ("affine_forward", layers, (np.ones((2, 3)), np.ones((4, 2)), np.ones(2))),
    ("affine_forward", layers, (np.ones((2, 3)), np.ones((3, 2)), np.ones(3))),
    ("softmax_loss", layers, (np.ones((2, 3)), np.array([0, 3]))),
    ("l2_loss", layers, (np.ones((2, 3)), np.ones((3, 2)))),
    ("im2col", conv, (np.ones((1, 1, 3, 3)), 5, 5, 1, 0)),
    ("col2im", conv, (np.ones((4, 5)), (1, 1, 4, 4), 2, 2, 1, 0)),
    ("conv_forward_naive", conv, (np.ones((1, 2, 5, 5)), np.ones((1, 3, 3, 3)), np.ones(1), {"stride": 1, "pad": 0})),
    ("conv_forward", conv, (np.ones((1, 1, 5, 5)), np.ones((1, 1, 3, 3)), np.ones(2), {"stride": 1, "pad": 0})),
    ("max_pool_forward", conv, (np.ones((1, 1, 4, 4)), {"pool_height": 2})),
    ("receptive_field", inspect, ([(3, 1, 1, 1)],)),
    ("receptive_field_steps", inspect, ([(0, 1)],)),
]


@pytest.mark.parametrize("name, module, args", ERRORS, ids=[e[0] for e in ERRORS])
def test_same_errors(name, module, args):
    with pytest.raises(Exception) as ref:
        getattr(module, name)(*args)
    with pytest.raises(type(ref.value)) as got:
        getattr(_standins, name)(*args)
    assert str(got.value) == str(ref.value)


def test_backward_checks_dout_shape_like_the_reference():
    x, w, b, cp = np.ones((1, 1, 4, 4)), np.ones((1, 1, 3, 3)), np.ones(1), {"stride": 1, "pad": 0}
    for name in ("conv_forward", "conv_forward_naive"):
        _, cache = getattr(conv, name)(x, w, b, cp)
        _, scache = getattr(_standins, name)(x, w, b, cp)
        back = name.replace("forward", "backward")
        with pytest.raises(ValueError) as ref:
            getattr(conv, back)(np.ones((1, 1, 3, 3)), cache)
        with pytest.raises(ValueError) as got:
            getattr(_standins, back)(np.ones((1, 1, 3, 3)), scache)
        assert str(got.value) == str(ref.value)


def test_installed_standins_are_watched_by_no_calls_to():
    host = types.ModuleType("cnnkit.fake_conv")
    _standins.install(vars(host), ["im2col", "conv_forward_naive"])
    assert host.im2col.__module__ == "cnnkit.fake_conv"
    with pytest.raises(AssertionError, match="im2col"):
        with grading.no_calls_to(host):
            host.im2col(np.ones((1, 1, 3, 3)), 2, 2)
    with pytest.raises(AssertionError, match="conv_forward_naive"):  # reached under another name
        with grading.no_calls_to(host):
            _standins.conv_forward_naive(np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2)), np.ones(1), {"stride": 1, "pad": 0})
    with pytest.raises(ValueError, match="no stand-in for 'TwoLayerNet'"):
        _standins.install(vars(host), ["TwoLayerNet"])


def test_standins_never_change_their_arguments():
    x, w, b = rng.standard_normal((2, 3, 5, 5)), rng.standard_normal((2, 3, 3, 3)), rng.standard_normal(2)
    keep = [a.copy() for a in (x, w, b)]
    out, cache = _standins.conv_forward_naive(x, w, b, {"stride": 1, "pad": 1})
    _standins.conv_backward_naive(np.ones_like(out), cache)
    for a, k in zip((x, w, b), keep):
        assert np.array_equal(a, k)


@pytest.mark.parametrize("shape,eps,momentum", [((8, 5), 1e-5, 0.1), ((3, 2), 1e-3, 0.4)])
def test_batchnorm(shape, eps, momentum):
    x, gamma, beta = rng.standard_normal(shape) * 3 + 1, rng.standard_normal(shape[1]), rng.standard_normal(shape[1])
    params = [{"mode": "train", "eps": eps, "momentum": momentum} for _ in range(2)]
    for step in range(2):  # the running statistics: created, then updated
        for i, module in enumerate((layers, _standins)):
            both_out = module.batchnorm_forward(x + step, gamma, beta, params[i])
        both("batchnorm_forward", "batchnorm_backward", layers, (x + step, gamma, beta, {"mode": "train", "eps": eps}))
    for key in ("running_mean", "running_var"):
        close(params[0][key], params[1][key])
    evals = [m.batchnorm_forward(x[:1], gamma, beta, {**p, "mode": "eval"}) for m, p in zip((layers, _standins), params)]
    close(evals[0][0], evals[1][0])
    assert evals[0][1] is None and evals[1][1] is None and both_out[1] is not None
    for module in (layers, _standins):
        with pytest.raises(ValueError, match="at least 2 examples"):
            module.batchnorm_forward(x[:1], gamma, beta, {"mode": "train"})
        with pytest.raises(ValueError, match="'eval' mode, which keeps no cache"):
            module.batchnorm_backward(x, None)


@pytest.mark.parametrize("shape,p,dtype", [((8, 5), 0.5, np.float64), ((2, 3, 4, 4), 0.2, np.float32), ((6,), 0.0, np.float64)])
def test_dropout(shape, p, dtype):
    x = rng.standard_normal(shape).astype(dtype)
    both("dropout_forward", "dropout_backward", layers, (x, {"p": p, "mode": "train", "seed": 5}))
    results = []
    for module in (layers, _standins):  # without a seed: numpy's global generator, in the same order
        np.random.seed(3)
        results.append([module.dropout_forward(x, {"p": p, "mode": "train"})[0] for _ in range(2)])
    for a, b in zip(*results):
        close(a, b, tol=0)
    both("dropout_forward", "dropout_backward", layers, (x, {"p": p, "mode": "eval"}))
    for module in (layers, _standins):
        with pytest.raises(ValueError, match=r"must lie in \[0, 1\), got 1"):
            module.dropout_forward(x, {"p": 1, "mode": "train"})
        _, cache = module.dropout_forward(np.ones((2, 3)), {"p": 0.5, "mode": "train", "seed": 0})
        with pytest.raises(ValueError, match=r"dout has shape \(3, 2\), expected \(2, 3\)"):
            module.dropout_backward(np.ones((3, 2)), cache)
