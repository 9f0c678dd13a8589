import numpy as np
import pytest

from cnnkit.gradcheck import error_bound, numerical_gradient, numerical_gradient_array, rel_error, report


def test_rel_error_formula_elementwise_max():
    x = np.array([1.0, 0.0, 10.0])
    y = np.array([1.1, 0.0, 10.0])
    # |1 - 1.1| / (1 + 1.1); the zero pair contributes 0 / 1e-8 = 0
    assert rel_error(x, y) == pytest.approx(0.1 / 2.1)
    assert rel_error(y, x) == rel_error(x, y)


def test_rel_error_floor_makes_tiny_values_absolute():
    assert rel_error(np.array([1e-12]), np.array([0.0])) == pytest.approx(1e-12 / 1e-8)


def test_rel_error_shape_mismatch_is_a_clear_error():
    with pytest.raises(ValueError, match=r"same shape.*\(2,\).*\(3,\)"):
        rel_error(np.zeros(2), np.zeros(3))


def test_numerical_gradient_of_quadratic_and_restores_x():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((4, 4))
    x = rng.standard_normal(4)
    x0 = x.copy()
    grad = numerical_gradient(lambda v: v @ A @ v, x)
    assert rel_error(grad, (A + A.T) @ x0) < 1e-8
    assert np.array_equal(x, x0)


def test_numerical_gradient_array_is_vector_jacobian_product():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 5))
    dout = rng.standard_normal((3, 5))
    grad = numerical_gradient_array(np.tanh, x, dout)
    assert rel_error(grad, dout * (1 - np.tanh(x) ** 2)) < 1e-8


def test_numerical_gradient_refuses_float32():
    with pytest.raises(TypeError, match="float64"):
        numerical_gradient(lambda v: float(v.sum()), np.ones(3, dtype=np.float32))


def test_numerical_gradient_array_checks_dout_shape():
    with pytest.raises(ValueError, match="dout has shape"):
        numerical_gradient_array(lambda v: v * 2, np.ones(3), np.ones(4))


@pytest.mark.parametrize("err, bound", [(3.2e-11, "1e-10"), (1e-3, "1e-02"), (0.5, "1e00"), (1.0, "1e01"), (0.0, "0")])
def test_error_bound(err, bound):
    assert error_bound(err) == bound


def test_report_prints_bound_and_verdict(capsys):
    assert report("dW", 2e-9, tol=1e-7) is True
    assert report("db", 0.3, tol=1e-7) is False
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "dW: rel error < 1e-08 (tolerance 1e-07) ok"
    assert out[1] == "db: rel error < 1e00 (tolerance 1e-07) FAILED"
