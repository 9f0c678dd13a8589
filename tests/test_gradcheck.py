import numpy as np
import pytest

from cnnkit.gradcheck import numerical_gradient, numerical_gradient_array, rel_error, report


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


def test_report_hides_the_digits_of_a_passing_error(capsys):
    # two errors that differ only in their last digits print the same line
    assert report("dW", 2.1e-9, tol=1e-7) is True
    assert report("dW", 7.9e-12, tol=1e-7) is True
    assert report("dW", 0.0, tol=1e-7) is True
    out = capsys.readouterr().out.splitlines()
    assert out == ["dW: rel error below the tolerance 1e-07: ok"] * 3


def test_report_shows_a_failing_error_and_its_tolerance(capsys):
    assert report("db", 0.3, tol=1e-7) is False
    assert report("db", 1e-7, tol=1e-7) is False          # equal to the tolerance is not below it
    assert report("db", float("nan"), tol=1e-7) is False
    out = capsys.readouterr().out.splitlines()
    assert out == ["db: rel error 3.0e-01 is above the tolerance 1e-07: FAILED",
                   "db: rel error 1.0e-07 is above the tolerance 1e-07: FAILED",
                   "db: rel error nan is above the tolerance 1e-07: FAILED"]


def test_report_refuses_a_tolerance_that_is_not_positive():
    with pytest.raises(ValueError, match="positive"):
        report("dW", 1e-9, tol=0)
