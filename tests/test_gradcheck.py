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


def test_rel_error_of_empty_arrays_is_zero():
    assert rel_error(np.zeros(0), np.zeros(0)) == 0.0
    assert rel_error(np.zeros((3, 0)), np.zeros((3, 0))) == 0.0


def test_rel_error_takes_integers_as_float64_without_overflow():
    # in int8, -128 - 127 wraps around and abs(-128) stays -128
    assert rel_error(np.int8([127]), np.int8([-128])) == 1.0
    assert rel_error(np.int8([-128]), np.array([0.0])) == 1.0
    assert rel_error(np.array([0.0]), np.int8([-128])) == 1.0
    assert rel_error([1, 3], [1, 1]) == 0.5


def test_numerical_gradient_uses_its_step():
    # centred differences of x**3 are exact up to h**2: 3 x**2 + h**2
    x = np.array([1.0, 2.0])
    assert np.allclose(numerical_gradient(lambda v: float(np.sum(v ** 3)), x, h=0.1), [3.01, 12.01], rtol=1e-12)
    g = numerical_gradient_array(lambda v: v ** 3, x, np.ones(2), h=0.1)
    assert np.allclose(g, [3.01, 12.01], rtol=1e-12)
    assert np.allclose(numerical_gradient_array(lambda v: v ** 3, x, np.ones(2)), [3.0, 12.0], rtol=1e-9)


def test_numerical_gradient_array_computes_in_float64_whatever_f_returns():
    # f returns float32 values whose product with dout overflows float32 (above 3.4e38)
    x = np.array([1.0])
    grad = numerical_gradient_array(lambda v: (v * 1e30).astype(np.float32), x, np.array([1e10], dtype=np.float32))
    assert np.isfinite(grad).all() and abs(grad[0] / 1e40 - 1) < 0.05


@pytest.mark.parametrize("fn", [lambda x: numerical_gradient(lambda v: float(v.sum()), x),
                                lambda x: numerical_gradient_array(lambda v: v, x, np.ones(3))])
def test_numerical_gradients_refuse_what_is_not_float64_and_say_why(fn):
    with pytest.raises(TypeError) as info:
        fn([1.0, 2.0, 3.0])
    assert str(info.value) == "x must be a numpy array, got list"
    with pytest.raises(TypeError) as info:
        fn(np.ones(3, dtype=np.float32))
    assert str(info.value) == ("x has dtype float32; numerical gradients need float64 (call x.astype(np.float64) "
                               "first): in lower precision the rounding error swamps the check")


def test_report_default_tolerance_is_1e_7(capsys):
    assert report("dx", 9e-8) is True
    assert report("dx", 2e-7) is False
    assert capsys.readouterr().out.splitlines() == ["dx: rel error below the tolerance 1e-07: ok",
                                                    "dx: rel error 2.0e-07 is above the tolerance 1e-07: FAILED"]
