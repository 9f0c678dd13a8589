import numpy as np
import pytest
import torch

from cnnkit import layers
from cnnkit.gradcheck import numerical_gradient, numerical_gradient_array, rel_error

rng = np.random.default_rng(0)


def test_affine_matches_torch_linear_and_gradients():
    x = rng.standard_normal((4, 2, 3))
    w = rng.standard_normal((6, 5))
    b = rng.standard_normal(5)
    out, cache = layers.affine_forward(x, w, b)
    xt = torch.tensor(x, requires_grad=True)
    wt = torch.tensor(w, requires_grad=True)
    bt = torch.tensor(b, requires_grad=True)
    ref = xt.reshape(4, -1) @ wt + bt
    assert rel_error(out, ref.detach().numpy()) < 1e-12
    dout = rng.standard_normal(out.shape)
    ref.backward(torch.tensor(dout))
    dx, dw, db = layers.affine_backward(dout, cache)
    assert dx.shape == x.shape
    assert rel_error(dx, xt.grad.numpy()) < 1e-12
    assert rel_error(dw, wt.grad.numpy()) < 1e-12
    assert rel_error(db, bt.grad.numpy()) < 1e-12


def test_affine_shape_errors_say_what_was_expected():
    with pytest.raises(ValueError, match=r"expected w of shape \(6, M\)"):
        layers.affine_forward(np.zeros((2, 6)), np.zeros((5, 3)), np.zeros(3))
    with pytest.raises(ValueError, match=r"expected \(3,\)"):
        layers.affine_forward(np.zeros((2, 6)), np.zeros((6, 3)), np.zeros(4))


@pytest.mark.parametrize("name", ["relu", "sigmoid"])
def test_activation_backward_matches_numerical(name):
    fwd = getattr(layers, f"{name}_forward")
    bwd = getattr(layers, f"{name}_backward")
    x = rng.standard_normal((3, 7))
    x[np.abs(x) < 1e-3] = 0.5  # keep away from ReLU's kink
    dout = rng.standard_normal(x.shape)
    _, cache = fwd(x)
    num = numerical_gradient_array(lambda v: fwd(v)[0], x, dout)
    assert rel_error(bwd(dout, cache), num) < 1e-8


def test_sigmoid_is_stable_for_large_inputs():
    with np.errstate(over="raise"):
        out, _ = layers.sigmoid_forward(np.array([-1000.0, 0.0, 1000.0]))
    assert np.allclose(out, [0.0, 0.5, 1.0])


def test_softmax_loss_matches_torch_and_numerical_gradient():
    scores = rng.standard_normal((5, 4))
    y = rng.integers(0, 4, size=5)
    loss, dscores = layers.softmax_loss(scores, y)
    ref = torch.nn.functional.cross_entropy(torch.tensor(scores), torch.tensor(y))
    assert loss == pytest.approx(ref.item(), rel=1e-12)
    num = numerical_gradient(lambda s: layers.softmax_loss(s, y)[0], scores.copy())
    assert rel_error(dscores, num) < 1e-7


def test_softmax_loss_rejects_bad_labels():
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\)"):
        layers.softmax_loss(np.zeros((2, 3)), np.array([0, 3]))
    with pytest.raises(ValueError, match=r"expected \(2,\)"):
        layers.softmax_loss(np.zeros((2, 3)), np.array([0, 1, 2]))


def test_l2_loss_and_gradient():
    pred = rng.standard_normal((3, 2))
    target = rng.standard_normal((3, 2))
    loss, dpred = layers.l2_loss(pred, target)
    assert loss == pytest.approx(((target - pred) ** 2).sum() / 3)
    num = numerical_gradient(lambda p: layers.l2_loss(p, target)[0], pred.copy())
    assert rel_error(dpred, num) < 1e-8
    with pytest.raises(ValueError, match="same shape"):
        layers.l2_loss(pred, target[:, :1])


def test_relu_gradient_at_zero_is_zero():
    x = np.array([[-1.0, 0.0, 2.0]])
    out, cache = layers.relu_forward(x)
    assert np.array_equal(out, [[0.0, 0.0, 2.0]])
    assert np.array_equal(layers.relu_backward(np.full((1, 3), 5.0), cache), [[0.0, 0.0, 5.0]])


def test_sigmoid_matches_the_formula_for_negative_and_positive_inputs():
    x = np.linspace(-30, 30, 121)  # includes 0 and -0.5, 0.5
    out, cache = layers.sigmoid_forward(x)
    assert rel_error(out, 1.0 / (1.0 + np.exp(-x))) < 1e-14
    assert rel_error(out, torch.sigmoid(torch.tensor(x)).numpy()) < 1e-14
    assert out[60] == 0.5 and cache is out


def test_sigmoid_dtypes():
    out32, _ = layers.sigmoid_forward(np.array([-2.0, 0.0, 2.0], dtype=np.float32))
    assert out32.dtype == np.float32
    out_int, _ = layers.sigmoid_forward(np.array([-2, 0, 2]))  # integers give float64, not 0 and 1
    assert out_int.dtype == np.float64
    assert np.allclose(out_int, [0.11920292202211755, 0.5, 0.8807970779778823], rtol=1e-15)


def test_softmax_loss_with_large_scores_and_class_zero():
    # rows far apart in scale: each row is shifted by its own maximum, so nothing overflows or underflows
    scores = np.array([[1000.0, 1001.0, 999.0], [-1000.0, -1001.0, -1003.0], [0.0, 0.5, -0.5]])
    y = np.array([0, 0, 2])
    with np.errstate(all="raise"):
        loss, dscores = layers.softmax_loss(scores, y)
    ref = torch.nn.functional.cross_entropy(torch.tensor(scores), torch.tensor(y))
    assert loss == pytest.approx(ref.item(), rel=1e-12)
    st = torch.tensor(scores, requires_grad=True)
    torch.nn.functional.cross_entropy(st, torch.tensor(y)).backward()
    assert rel_error(dscores, st.grad.numpy()) < 1e-12


# ---------------------------------------------------------------------------------------------
# batch normalisation: every message, the smallest batch, the dtype of the running statistics
# ---------------------------------------------------------------------------------------------
def _bn_message(fn, *args):
    with pytest.raises(ValueError) as info:
        fn(*args)
    return str(info.value)


def test_batchnorm_messages():
    g, b = np.ones(3), np.zeros(3)
    assert _bn_message(layers.batchnorm_forward, np.zeros((2, 3, 4, 4)), g, b, {"mode": "train"}) == (
        "batchnorm_forward: x must be (N, D), got shape (2, 3, 4, 4); for (N, C, H, W) use spatial_batchnorm_forward")
    assert _bn_message(layers.batchnorm_forward, np.zeros((2, 3)), np.ones(2), np.zeros(4), {"mode": "train"}) == (
        "batchnorm_forward: gamma (2,) and beta (4,) must both be (3,)")
    assert _bn_message(layers.batchnorm_forward, np.zeros((1, 3)), g, b, {"mode": "train"}) == (
        "batchnorm_forward: training mode needs at least 2 examples to estimate a variance, got 1")
    _, cache = layers.batchnorm_forward(np.zeros((2, 3)), g, b, {"mode": "eval"})
    assert _bn_message(layers.batchnorm_backward, np.zeros((2, 3)), cache) == (
        "batchnorm_backward: the forward pass ran in 'eval' mode, which keeps no cache; run it in 'train' mode "
        "to backpropagate through the batch statistics")
    assert _bn_message(layers.spatial_batchnorm_forward, np.zeros((2, 3)), g, b, {"mode": "train"}) == (
        "spatial_batchnorm_forward: x must be (N, C, H, W), got shape (2, 3)")
    _, cache = layers.spatial_batchnorm_forward(np.zeros((2, 3, 2, 2)), g, b, {"mode": "train"})
    assert _bn_message(layers.spatial_batchnorm_backward, np.zeros((2, 3)), cache) == (
        "spatial_batchnorm_backward: dout must be (N, C, H, W), got shape (2, 3)")


def test_batchnorm_trains_on_two_examples_and_keeps_float32_statistics():
    x = np.array([[1.0, 2.0], [3.0, 6.0]], dtype=np.float32)
    param = {"mode": "train"}
    out, _ = layers.batchnorm_forward(x, np.ones(2, dtype=np.float32), np.zeros(2, dtype=np.float32), param)
    assert np.allclose(out, [[-1, -1], [1, 1]], atol=1e-2)
    assert param["running_mean"].dtype == np.float32 and param["running_var"].dtype == np.float32
    assert np.allclose(param["running_mean"], [0.2, 0.4]) and np.allclose(param["running_var"], [0.9 + 0.2, 0.9 + 0.8])
