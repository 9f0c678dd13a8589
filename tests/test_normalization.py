"""cnnkit.normalization: layer norm and group norm against torch.nn.functional (forward and every
gradient, float64) and finite differences; what each averages over; bad input refused."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cnnkit import normalization as nz
from cnnkit.gradcheck import numerical_gradient_array, rel_error


def _torch_grads(fn, x, gamma, beta, dout):
    xt, gt, bt = (torch.tensor(a, requires_grad=True) for a in (x, gamma, beta))
    out = fn(xt, gt, bt)
    out.backward(torch.tensor(dout))
    return out.detach().numpy(), xt.grad.numpy(), gt.grad.numpy(), bt.grad.numpy()


@pytest.mark.parametrize("groups", [1, 2, 3, 6])
def test_group_norm_matches_torch(groups):
    rng = np.random.default_rng(groups)
    x = rng.standard_normal((4, 6, 3, 5)) * 3 + 2
    gamma, beta, dout = rng.standard_normal(6), rng.standard_normal(6), rng.standard_normal(x.shape)
    out, cache = nz.groupnorm_forward(x, gamma, beta, groups)
    ours = (out, *nz.groupnorm_backward(dout, cache))
    ref = _torch_grads(lambda a, g, b: F.group_norm(a, groups, g, b), x, gamma, beta, dout)
    for a, b in zip(ours, ref):
        assert np.abs(a - b).max() < 1e-10


def test_layer_norm_matches_torch():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 7)) * 2 - 1
    gamma, beta, dout = rng.standard_normal(7), rng.standard_normal(7), rng.standard_normal(x.shape)
    out, cache = nz.layernorm_forward(x, gamma, beta)
    ours = (out, *nz.layernorm_backward(dout, cache))
    ref = _torch_grads(lambda a, g, b: F.layer_norm(a, (7,), g, b), x, gamma, beta, dout)
    for a, b in zip(ours, ref):
        assert np.abs(a - b).max() < 1e-10


def test_gradients_match_finite_differences():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 4, 3, 3))
    gamma, beta, dout = rng.standard_normal(4), rng.standard_normal(4), rng.standard_normal(x.shape)
    _, cache = nz.groupnorm_forward(x, gamma, beta, 2)
    dx = nz.groupnorm_backward(dout, cache)[0]
    num = numerical_gradient_array(lambda z: nz.groupnorm_forward(z, gamma, beta, 2)[0], x.copy(), dout)
    assert rel_error(dx, num) < 1e-5   # columns of dx sum to zero: small entries carry the FD rounding


def test_each_example_is_normalised_on_its_own():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 4, 5, 5)) * np.array([1.0, 10.0, 100.0])[:, None, None, None]
    out, _ = nz.groupnorm_forward(x, np.ones(4), np.zeros(4), 2)
    groups = out.reshape(3, 2, -1)
    assert np.allclose(groups.mean(-1), 0, atol=1e-12) and np.allclose(groups.var(-1), 1, atol=1e-3)
    alone, _ = nz.groupnorm_forward(x[1:2], np.ones(4), np.zeros(4), 2)
    assert np.allclose(alone, out[1:2], rtol=0, atol=1e-12)   # no batch statistics
    ln, _ = nz.groupnorm_forward(x, np.ones(4), np.zeros(4), 1)
    assert np.allclose(ln, F.layer_norm(torch.tensor(x), (4, 5, 5)).numpy(), atol=1e-10)
    inst, _ = nz.groupnorm_forward(x, np.ones(4), np.zeros(4), 4)
    assert np.allclose(inst, F.instance_norm(torch.tensor(x)).numpy(), atol=1e-10)


@pytest.mark.parametrize("call, message", [
    (lambda: nz.groupnorm_forward(np.zeros((2, 6, 3, 3)), np.ones(6), np.zeros(6), 4), "positive divisor"),
    (lambda: nz.groupnorm_forward(np.zeros((2, 6)), np.ones(6), np.zeros(6), 2), r"\(N, C, H, W\)"),
    (lambda: nz.groupnorm_forward(np.zeros((2, 6, 3, 3)), np.ones(3), np.zeros(6), 2), "gamma and beta"),
    (lambda: nz.layernorm_forward(np.zeros((2, 3, 4, 4)), np.ones(3), np.zeros(3)), "groups=1"),
    (lambda: nz.layernorm_backward(np.zeros((3, 3)), nz.layernorm_forward(np.ones((2, 3)), np.ones(3), np.zeros(3))[1]),
     "dout has shape"),
])
def test_bad_input_is_refused(call, message):
    with pytest.raises(ValueError, match=message):
        call()
