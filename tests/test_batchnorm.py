"""Batch normalisation (cnnkit.layers): against torch.nn.BatchNorm1d/2d in float64, in training
and evaluation mode, and against finite differences."""
import numpy as np
import pytest
import torch

from cnnkit import layers
from cnnkit.gradcheck import numerical_gradient_array, rel_error


def _torch_bn(cls, D, gamma, beta, momentum=0.1, eps=1e-5):
    bn = cls(D, eps=eps, momentum=momentum).double()
    with torch.no_grad():
        bn.weight.copy_(torch.from_numpy(gamma))
        bn.bias.copy_(torch.from_numpy(beta))
    return bn


@pytest.mark.parametrize("momentum,eps", [(0.1, 1e-5), (0.3, 1e-3)])
def test_batchnorm_matches_torch_in_training_and_evaluation(momentum, eps):
    rng = np.random.default_rng(0)
    N, D = 7, 5
    gamma, beta = rng.standard_normal(D), rng.standard_normal(D)
    bn = _torch_bn(torch.nn.BatchNorm1d, D, gamma, beta, momentum, eps)
    param = {"mode": "train", "momentum": momentum, "eps": eps}
    for step in range(3):  # the running statistics follow torch's over several batches
        x = rng.standard_normal((N, D)) * (step + 2) + step
        xt = torch.from_numpy(x).requires_grad_()
        ref = bn.train()(xt)
        out, cache = layers.batchnorm_forward(x, gamma, beta, param)
        assert np.abs(out - ref.detach().numpy()).max() < 1e-10
        dout = rng.standard_normal((N, D))
        ref.backward(torch.from_numpy(dout))
        dx, dgamma, dbeta = layers.batchnorm_backward(dout, cache)
        assert np.abs(dx - xt.grad.numpy()).max() < 1e-10
        assert np.abs(dgamma - bn.weight.grad.numpy()).max() < 1e-10
        assert np.abs(dbeta - bn.bias.grad.numpy()).max() < 1e-10
        bn.zero_grad()
        assert np.abs(param["running_mean"] - bn.running_mean.numpy()).max() < 1e-12
        assert np.abs(param["running_var"] - bn.running_var.numpy()).max() < 1e-12
    x = rng.standard_normal((3, D))
    out, cache = layers.batchnorm_forward(x, gamma, beta, {**param, "mode": "eval"})
    assert cache is None
    assert np.abs(out - bn.eval()(torch.from_numpy(x)).detach().numpy()).max() < 1e-10
    # in evaluation mode each example is normalised on its own: a batch of one gives the same row
    one, _ = layers.batchnorm_forward(x[:1], gamma, beta, {**param, "mode": "eval"})
    assert np.array_equal(one[0], out[0])


def test_training_output_is_normalised_per_feature():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((200, 3)) * [1.0, 5.0, 0.1] + [3.0, -2.0, 10.0]
    out, _ = layers.batchnorm_forward(x, np.ones(3), np.zeros(3), {"mode": "train"})
    assert np.abs(out.mean(axis=0)).max() < 1e-12 and np.abs(out.std(axis=0) - 1).max() < 1e-3
    out, _ = layers.batchnorm_forward(x, np.array([2.0, 3.0, 4.0]), np.array([1.0, 0.0, -1.0]), {"mode": "train"})
    assert np.allclose(out.mean(axis=0), [1.0, 0.0, -1.0]) and np.allclose(out.std(axis=0), [2.0, 3.0, 4.0], atol=1e-2)


def test_batchnorm_backward_matches_finite_differences():
    rng = np.random.default_rng(2)
    N, D = 6, 4
    x, gamma, beta = rng.standard_normal((N, D)), rng.standard_normal(D), rng.standard_normal(D)
    dout = rng.standard_normal((N, D))
    _, cache = layers.batchnorm_forward(x, gamma, beta, {"mode": "train"})
    dx, dgamma, dbeta = layers.batchnorm_backward(dout, cache)

    def f_x(z):
        return layers.batchnorm_forward(z, gamma, beta, {"mode": "train"})[0]

    def f_g(z):
        return layers.batchnorm_forward(x, z, beta, {"mode": "train"})[0]

    def f_b(z):
        return layers.batchnorm_forward(x, gamma, z, {"mode": "train"})[0]

    assert rel_error(dx, numerical_gradient_array(f_x, x.copy(), dout)) < 1e-8
    assert rel_error(dgamma, numerical_gradient_array(f_g, gamma.copy(), dout)) < 1e-8
    assert rel_error(dbeta, numerical_gradient_array(f_b, beta.copy(), dout)) < 1e-8


def test_spatial_batchnorm_matches_torch_batchnorm2d():
    rng = np.random.default_rng(3)
    N, C, H, W = 3, 4, 5, 2
    gamma, beta = rng.standard_normal(C), rng.standard_normal(C)
    bn = _torch_bn(torch.nn.BatchNorm2d, C, gamma, beta)
    param = {"mode": "train"}
    x = rng.standard_normal((N, C, H, W)) * 3 + 1
    xt = torch.from_numpy(x).requires_grad_()
    ref = bn.train()(xt)
    out, cache = layers.spatial_batchnorm_forward(x, gamma, beta, param)
    assert out.shape == x.shape and np.abs(out - ref.detach().numpy()).max() < 1e-10
    dout = rng.standard_normal(x.shape)
    ref.backward(torch.from_numpy(dout))
    dx, dgamma, dbeta = layers.spatial_batchnorm_backward(dout, cache)
    assert np.abs(dx - xt.grad.numpy()).max() < 1e-10
    assert np.abs(dgamma - bn.weight.grad.numpy()).max() < 1e-10
    assert np.abs(dbeta - bn.bias.grad.numpy()).max() < 1e-10
    assert np.abs(param["running_var"] - bn.running_var.numpy()).max() < 1e-12
    x2 = rng.standard_normal((2, C, H, W))
    out2, _ = layers.spatial_batchnorm_forward(x2, gamma, beta, {**param, "mode": "eval"})
    assert np.abs(out2 - bn.eval()(torch.from_numpy(x2)).detach().numpy()).max() < 1e-10


def test_spatial_backward_matches_finite_differences():
    rng = np.random.default_rng(4)
    x, gamma, beta = rng.standard_normal((2, 3, 3, 2)), rng.standard_normal(3), rng.standard_normal(3)
    dout = rng.standard_normal(x.shape)
    _, cache = layers.spatial_batchnorm_forward(x, gamma, beta, {"mode": "train"})
    dx, _, _ = layers.spatial_batchnorm_backward(dout, cache)
    num = numerical_gradient_array(lambda z: layers.spatial_batchnorm_forward(z, gamma, beta, {"mode": "train"})[0],
                                   x.copy(), dout)
    assert rel_error(dx, num) < 1e-8


def test_batchnorm_errors_say_what_was_expected():
    x = np.zeros((4, 3))
    with pytest.raises(ValueError, match="'train' or 'eval'"):
        layers.batchnorm_forward(x, np.ones(3), np.zeros(3), {})
    with pytest.raises(ValueError, match=r"must both be \(3,\)"):
        layers.batchnorm_forward(x, np.ones(2), np.zeros(3), {"mode": "train"})
    with pytest.raises(ValueError, match="spatial_batchnorm_forward"):
        layers.batchnorm_forward(np.zeros((2, 3, 4, 4)), np.ones(3), np.zeros(3), {"mode": "train"})
    with pytest.raises(ValueError, match="at least 2 examples"):
        layers.batchnorm_forward(x[:1], np.ones(3), np.zeros(3), {"mode": "train"})
    _, cache = layers.batchnorm_forward(x, np.ones(3), np.zeros(3), {"mode": "eval"})
    with pytest.raises(ValueError, match="'eval' mode"):
        layers.batchnorm_backward(np.zeros((4, 3)), cache)
    _, cache = layers.batchnorm_forward(np.arange(12.0).reshape(4, 3), np.ones(3), np.zeros(3), {"mode": "train"})
    with pytest.raises(ValueError, match=r"dout has shape \(4, 2\)"):
        layers.batchnorm_backward(np.zeros((4, 2)), cache)
