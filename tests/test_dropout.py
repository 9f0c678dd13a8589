"""Inverted dropout (cnnkit.layers): against torch.nn.functional.dropout in float64 (the scale of
a kept unit, the share dropped, evaluation, the backward pass through torch's own mask) and
against finite differences with a fixed seed."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cnnkit import layers
from cnnkit.gradcheck import numerical_gradient_array, rel_error


def _x(shape, seed=0):
    """Entries bounded away from zero, so that a zero in the output means a dropped unit."""
    rng = np.random.default_rng(seed)
    return rng.choice([-1.0, 1.0], shape) * rng.uniform(0.5, 2.0, shape)


@pytest.mark.parametrize("p", [0.2, 0.3, 0.5, 0.75])
def test_kept_units_are_scaled_as_torch_scales_them(p):
    x = _x((200, 50))
    out, (param, mask) = layers.dropout_forward(x, {"p": p, "mode": "train", "seed": 3})
    torch.manual_seed(0)
    ref = F.dropout(torch.from_numpy(x), p, training=True).numpy()
    for o in (out, ref):
        kept = o != 0
        assert np.array_equal(o[kept], x[kept] * (1 / (1 - p)))  # bit for bit: both multiply by 1/(1-p)
        # the share dropped is binomial(n, p): within 5 standard deviations
        n = x.size
        assert abs((~kept).sum() - n * p) < 5 * np.sqrt(n * p * (1 - p))
    assert np.array_equal(out, x * mask) and set(np.unique(mask)) == {0.0, 1 / (1 - p)}


def test_expected_output_is_the_input():
    x = _x((4, 5), seed=1)
    mean = np.mean([layers.dropout_forward(x, {"p": 0.6, "mode": "train", "seed": s})[0] for s in range(4000)], axis=0)
    # each entry's mean of 4000 draws has standard deviation |x| sqrt(p/(1-p)) / sqrt(4000) < 0.039
    assert np.abs(mean - x).max() < 0.2


def test_evaluation_is_the_identity_like_torch():
    x = _x((3, 4, 5))
    out, cache = layers.dropout_forward(x, {"p": 0.5, "mode": "eval"})
    assert np.array_equal(out, F.dropout(torch.from_numpy(x), 0.5, training=False).numpy())
    assert cache[1] is None and out is not x
    dout = _x((3, 4, 5), seed=2)
    assert np.array_equal(layers.dropout_backward(dout, cache), dout)


def test_backward_through_torchs_mask_matches_autograd():
    x, dout = _x((30, 20)), _x((30, 20), seed=1)
    xt = torch.from_numpy(x).requires_grad_()
    torch.manual_seed(1)
    ref = F.dropout(xt, 0.4, training=True)
    ref.backward(torch.from_numpy(dout))
    mask = ref.detach().numpy() / x  # torch's mask: 0 or 1/(1-p)
    assert np.allclose(np.unique(mask.round(12)), [0.0, round(1 / 0.6, 12)])
    dx = layers.dropout_backward(dout, ({"p": 0.4, "mode": "train"}, mask))
    assert rel_error(dx, xt.grad.numpy()) < 1e-14


@pytest.mark.parametrize("p", [0.0, 0.3, 0.9])
def test_backward_matches_finite_differences(p):
    param = {"p": p, "mode": "train", "seed": 7}
    x, dout = _x((5, 6), seed=4), _x((5, 6), seed=5)
    _, cache = layers.dropout_forward(x, param)
    dx = layers.dropout_backward(dout, cache)
    num = numerical_gradient_array(lambda z: layers.dropout_forward(z, param)[0], x.copy(), dout)
    assert rel_error(dx, num) < 1e-8
    assert (dx == 0).any() == (p > 0)


def test_seed_fixes_the_mask_and_the_global_generator_otherwise():
    x = _x((10, 10))
    a, _ = layers.dropout_forward(x, {"p": 0.5, "mode": "train", "seed": 1})
    b, _ = layers.dropout_forward(x, {"p": 0.5, "mode": "train", "seed": 1})
    c, _ = layers.dropout_forward(x, {"p": 0.5, "mode": "train", "seed": 2})
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    np.random.seed(0)
    d, _ = layers.dropout_forward(x, {"p": 0.5, "mode": "train"})
    e, _ = layers.dropout_forward(x, {"p": 0.5, "mode": "train"})
    np.random.seed(0)
    f, _ = layers.dropout_forward(x, {"p": 0.5, "mode": "train"})
    assert np.array_equal(d, f) and not np.array_equal(d, e)


def test_dtype_and_arguments_kept():
    x = _x((6, 7)).astype(np.float32)
    keep = x.copy()
    param = {"p": 0.5, "mode": "train", "seed": 0}
    out, cache = layers.dropout_forward(x, param)
    assert out.dtype == np.float32 and np.array_equal(x, keep) and param == {"p": 0.5, "mode": "train", "seed": 0}
    assert layers.dropout_backward(np.ones((6, 7), np.float32), cache).dtype == np.float32
    assert layers.dropout_forward(x.astype(np.float64), param)[1][1].dtype == np.float64  # 1/(1-p) not rounded to float32
    ints, (_, mask) = layers.dropout_forward(np.arange(1, 13).reshape(3, 4), {"p": 0.3, "mode": "train", "seed": 1})
    assert mask.dtype == np.float64 and np.allclose(ints[ints != 0], np.arange(1, 13).reshape(3, 4)[ints != 0] / 0.7)


def test_a_unit_is_kept_when_its_number_equals_p(monkeypatch):
    """keep where u >= p: u is drawn from [0, 1), so p = 0 keeps every unit."""
    monkeypatch.setattr(np.random, "random", lambda shape: np.full(shape, 0.25))
    out, (_, mask) = layers.dropout_forward(np.ones((2, 3)), {"p": 0.25, "mode": "train"})
    assert np.array_equal(mask, np.full((2, 3), 1 / 0.75)) and np.array_equal(out, mask)


@pytest.mark.parametrize("param,match", [
    ({"p": 0.5}, r"'mode'\] must be 'train' or 'eval', got None"),
    ({"p": 0.5, "mode": "test"}, r"must be 'train' or 'eval', got 'test'"),
    ({"mode": "train"}, r"^dropout_forward: dropout_param needs 'p', the probability of dropping each unit, in \[0, 1\)$"),
    ({"p": 1.0, "mode": "train"}, r"must lie in \[0, 1\), got 1.0"),
    ({"p": -0.1, "mode": "eval"}, r"must lie in \[0, 1\), got -0.1"),
    ({"p": "0.5", "mode": "train"}, r"must lie in \[0, 1\), got '0.5'"),
])
def test_bad_parameters_say_what_was_expected(param, match):
    with pytest.raises(ValueError, match=match):
        layers.dropout_forward(np.ones(3), param)


def test_backward_checks_dout_shape():
    _, cache = layers.dropout_forward(np.ones((2, 3)), {"p": 0.5, "mode": "train", "seed": 0})
    with pytest.raises(ValueError, match=r"dout has shape \(3, 2\), expected \(2, 3\)"):
        layers.dropout_backward(np.ones((3, 2)), cache)
