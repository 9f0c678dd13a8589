"""Tests of cnnkit.conv against torch.nn.functional and against numerical gradients (float64)."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cnnkit import conv
from cnnkit.gradcheck import numerical_gradient_array, rel_error

# (N, C, H, W), (F, HH, WW), stride, pad: non-square inputs and filters, strides 1-3, pads 0-3
CONV_CASES = [
    ((2, 3, 7, 7), (4, 3, 3), 1, 0),
    ((2, 3, 7, 7), (2, 3, 3), 2, 0),
    ((1, 2, 9, 11), (3, 3, 5), 2, 1),
    ((3, 1, 10, 7), (2, 4, 1), 3, 0),
    ((2, 4, 8, 6), (5, 3, 3), 1, 1),
    ((1, 3, 10, 14), (2, 5, 3), 3, 2),
    ((2, 2, 5, 9), (3, 1, 1), 1, 3),
    ((1, 3, 6, 6), (4, 6, 6), 1, 0),
    ((2, 3, 15, 12), (3, 3, 3), 3, 3),
    ((1, 2, 5, 7), (2, 5, 5), 2, 3),
]


def _case(shape, fshape, seed, dtype=np.float64):
    rng = np.random.default_rng(seed)
    N, C, H, W = shape
    Fn, HH, WW = fshape
    x = rng.standard_normal(shape).astype(dtype)
    w = rng.standard_normal((Fn, C, HH, WW)).astype(dtype)
    b = rng.standard_normal(Fn).astype(dtype)
    return x, w, b


def _torch_conv(x, w, b, stride, pad, dout=None):
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    out = F.conv2d(xt, wt, bt, stride=stride, padding=pad)
    if dout is None:
        return out.detach().numpy()
    out.backward(torch.tensor(dout))
    return out.detach().numpy(), xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy()


@pytest.mark.parametrize("shape,fshape,stride,pad", CONV_CASES)
def test_conv_matches_torch(shape, fshape, stride, pad):
    x, w, b = _case(shape, fshape, seed=sum(shape) + stride)
    param = {"stride": stride, "pad": pad}
    out, cache = conv.conv_forward(x, w, b, param)
    dout = np.random.default_rng(1).standard_normal(out.shape)
    ref, dx_ref, dw_ref, db_ref = _torch_conv(x, w, b, stride, pad, dout)
    assert out.shape == ref.shape
    assert rel_error(out, ref) < 1e-9
    dx, dw, db = conv.conv_backward(dout, cache)
    assert rel_error(dx, dx_ref) < 1e-9
    assert rel_error(dw, dw_ref) < 1e-9
    assert rel_error(db, db_ref) < 1e-9
    # the naive loops give the same numbers
    out_n, cache_n = conv.conv_forward_naive(x, w, b, param)
    assert rel_error(out_n, ref) < 1e-9
    for got, want in zip(conv.conv_backward_naive(dout, cache_n), (dx_ref, dw_ref, db_ref)):
        assert rel_error(got, want) < 1e-9


@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize("shape,fshape,stride,pad", [CONV_CASES[2], CONV_CASES[3], CONV_CASES[9]])
def test_conv_numerical_gradients(shape, fshape, stride, pad, fast):
    fwd, bwd = (conv.conv_forward, conv.conv_backward) if fast else (conv.conv_forward_naive, conv.conv_backward_naive)
    x, w, b = _case(shape, fshape, seed=7)
    param = {"stride": stride, "pad": pad}
    out, cache = fwd(x, w, b, param)
    dout = np.random.default_rng(2).standard_normal(out.shape)
    dx, dw, db = bwd(dout, cache)
    assert rel_error(dx, numerical_gradient_array(lambda z: fwd(z, w, b, param)[0], x, dout)) < 1e-7
    assert rel_error(dw, numerical_gradient_array(lambda z: fwd(x, z, b, param)[0], w, dout)) < 1e-7
    assert rel_error(db, numerical_gradient_array(lambda z: fwd(x, w, z, param)[0], b, dout)) < 1e-7


def test_float32_stays_float32():
    x, w, b = _case((2, 3, 8, 8), (4, 3, 3), seed=0, dtype=np.float32)
    out, cache = conv.conv_forward(x, w, b, {"stride": 1, "pad": 1})
    assert out.dtype == np.float32
    assert all(g.dtype == np.float32 for g in conv.conv_backward(np.ones_like(out), cache))
    ref = _torch_conv(x, w, b, 1, 1)
    assert np.allclose(out, ref, rtol=1e-4, atol=1e-4)
    assert conv.max_pool_forward(x, {"pool_height": 2, "pool_width": 2, "stride": 2})[0].dtype == np.float32


def test_alexnet_conv1_im2col_shape():
    x = np.zeros((1, 3, 227, 227), dtype=np.float32)
    cols = conv.im2col(x, 11, 11, stride=4, pad=0)
    assert cols.shape == (363, 3025)
    assert conv.conv_output_size(227, 11, 4, 0) == 55


def test_im2col_columns_are_windows():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 7, 8))
    cols = conv.im2col(x, 3, 2, stride=2, pad=1)
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    Ho, Wo = 4, 5
    assert cols.shape == (3 * 3 * 2, 2 * Ho * Wo)
    for n, h, w in [(0, 0, 0), (1, 3, 4), (0, 2, 1)]:
        col = cols[:, n * Ho * Wo + h * Wo + w]
        assert np.array_equal(col, xp[n, :, 2 * h:2 * h + 3, 2 * w:2 * w + 2].ravel())


@pytest.mark.parametrize("shape,fshape,stride,pad", CONV_CASES[:6])
def test_col2im_is_adjoint_of_im2col(shape, fshape, stride, pad):
    rng = np.random.default_rng(4)
    _, HH, WW = fshape
    x = rng.standard_normal(shape)
    cols = conv.im2col(x, HH, WW, stride, pad)
    y = rng.standard_normal(cols.shape)
    lhs = np.sum(cols * y)
    rhs = np.sum(x * conv.col2im(y, shape, HH, WW, stride, pad))
    assert abs(lhs - rhs) < 1e-10 * max(1.0, abs(lhs))


def test_col2im_counts_overlaps():
    # col2im of all-ones counts how many windows cover each pixel
    shape = (1, 1, 5, 5)
    cols = conv.im2col(np.ones(shape), 3, 3, 1, 0)
    counts = conv.col2im(np.ones_like(cols), shape, 3, 3, 1, 0)[0, 0]
    assert counts[2, 2] == 9 and counts[0, 0] == 1 and counts[0, 2] == 3


@pytest.mark.parametrize("n,f,s,p,expected", [
    (7, 3, 1, 0, 5), (7, 3, 2, 0, 3), (32, 5, 1, 2, 32), (32, 5, 1, 0, 28), (227, 11, 4, 0, 55),
    (5, 5, 1, 0, 1), (4, 2, 2, 0, 2), (6, 3, 3, 0, 2),
    # the stride does not divide n + 2p - f: floored, as frameworks do
    (7, 3, 3, 0, 2), (224, 7, 2, 3, 112), (56, 3, 2, 1, 28), (64, 3, 2, 1, 32), (112, 3, 2, 1, 56),
    (224, 11, 4, 2, 55), (8, 3, 2, 0, 3)])
def test_conv_output_size(n, f, s, p, expected):
    got = conv.conv_output_size(n, f, s, p)
    assert got == expected and isinstance(got, int)


@pytest.mark.parametrize("n,f,s,p", [(7, 3, 3, 0), (224, 7, 2, 3), (56, 3, 2, 1), (9, 4, 2, 1), (33, 5, 3, 2)])
def test_conv_output_size_matches_torch_conv(n, f, s, p):
    out = torch.nn.functional.conv2d(torch.zeros(1, 1, n, n), torch.zeros(1, 1, f, f), stride=s, padding=p)
    assert conv.conv_output_size(n, f, s, p) == out.shape[-1]


def test_conv_output_size_exact_mode():
    assert conv.conv_output_size(7, 3, 2, 0, exact=True) == 3
    with pytest.raises(ValueError) as exc:
        conv.conv_output_size(7, 3, 3, 0, exact=True)
    msg = str(exc.value)
    assert "does not fit exactly" in msg and "2.33" in msg and "padding 1 would fit" in msg
    assert "stride 1, 2, 4" in msg and "last 1 row(s)" in msg


def test_conv_output_size_errors():
    with pytest.raises(ValueError, match="padding >= 2"):
        conv.conv_output_size(3, 7, 1, 0)
    with pytest.raises(ValueError, match="stride must be >= 1"):
        conv.conv_output_size(7, 3, 0, 0)
    with pytest.raises(TypeError, match="integer"):
        conv.conv_output_size(7.0, 3, 1, 0)


def test_layers_floor_like_torch_when_the_filter_does_not_fit_exactly():
    # 3x3 / stride 2 / pad 1 on 8x8 (8 + 2 - 3 = 7 is odd): torch floors, and so do the layers
    rng = np.random.default_rng(7)
    x, w, b = rng.standard_normal((2, 3, 8, 8)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    ref = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b),
                                     stride=2, padding=1).numpy()
    for fwd in (conv.conv_forward, conv.conv_forward_naive):
        out, _ = fwd(x, w, b, {"stride": 2, "pad": 1})
        assert out.shape == ref.shape == (2, 4, 4, 4)
        assert np.abs(out - ref).max() < 1e-12
    xt = torch.from_numpy(x).requires_grad_()
    wt = torch.from_numpy(w).requires_grad_()
    yt = torch.nn.functional.conv2d(xt, wt, torch.from_numpy(b), stride=2, padding=1)
    dout = rng.standard_normal(yt.shape)
    yt.backward(torch.from_numpy(dout))
    for fwd, bwd in ((conv.conv_forward, conv.conv_backward), (conv.conv_forward_naive, conv.conv_backward_naive)):
        _, cache = fwd(x, w, b, {"stride": 2, "pad": 1})
        dx, dw, _ = bwd(dout, cache)
        assert np.abs(dx - xt.grad.numpy()).max() < 1e-12 and np.abs(dw - wt.grad.numpy()).max() < 1e-12
    pooled = conv.max_pool_forward(x, {"pool_height": 2, "pool_width": 2, "stride": 3})[0]
    assert np.array_equal(pooled, torch.nn.functional.max_pool2d(torch.from_numpy(x), 2, 3).numpy())


def test_shape_errors():
    x, w, b = _case((1, 3, 7, 7), (2, 3, 3), seed=0)
    with pytest.raises(ValueError, match="x has 3 channels.*w expects 4"):
        conv.conv_forward(x, np.zeros((2, 4, 3, 3)), b, {"stride": 1, "pad": 0})
    with pytest.raises(ValueError, match="x has 3 channels.*w expects 4"):
        conv.conv_forward_naive(x, np.zeros((2, 4, 3, 3)), b, {"stride": 1, "pad": 0})
    with pytest.raises(ValueError, match="does not fit"):
        conv.conv_forward(x, np.zeros((2, 3, 9, 9)), b, {"stride": 1, "pad": 0})
    with pytest.raises(ValueError, match="b has shape"):
        conv.conv_forward(x, w, np.zeros(3), {"stride": 1, "pad": 0})
    with pytest.raises(ValueError, match="4 dimensions"):
        conv.conv_forward(x[0], w, b, {"stride": 1, "pad": 0})
    with pytest.raises(ValueError, match="'stride' and 'pad'"):
        conv.conv_forward(x, w, b, {"stride": 1})
    with pytest.raises(ValueError, match="does not fit"):
        conv.max_pool_forward(x, {"pool_height": 9, "pool_width": 2, "stride": 2})
    with pytest.raises(ValueError, match="cols has shape"):
        conv.col2im(np.zeros((5, 5)), (1, 3, 7, 7), 3, 3, 1, 0)


# (N, C, H, W), pool (PH, PW), stride: overlapping and non-square windows included
POOL_CASES = [
    ((2, 3, 8, 8), (2, 2), 2),
    ((1, 2, 9, 7), (3, 3), 2),
    ((2, 1, 7, 10), (1, 4), 3),
    ((1, 3, 6, 9), (3, 3), 3),
    ((2, 2, 5, 5), (2, 3), 1),
]


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("shape,pool,stride", POOL_CASES)
def test_pool_matches_torch(shape, pool, stride, kind):
    rng = np.random.default_rng(sum(shape))
    x = rng.standard_normal(shape)
    param = {"pool_height": pool[0], "pool_width": pool[1], "stride": stride}
    fwd, bwd, tfn = {"max": (conv.max_pool_forward, conv.max_pool_backward, F.max_pool2d),
                     "avg": (conv.avg_pool_forward, conv.avg_pool_backward, F.avg_pool2d)}[kind]
    out, cache = fwd(x, param)
    xt = torch.tensor(x, requires_grad=True)
    ref = tfn(xt, pool, stride=stride)
    dout = rng.standard_normal(ref.shape)
    ref.backward(torch.tensor(dout))
    assert rel_error(out, ref.detach().numpy()) < 1e-12
    assert rel_error(bwd(dout, cache), xt.grad.numpy()) < 1e-12


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("shape,pool,stride", POOL_CASES[1:3])
def test_pool_numerical_gradients(shape, pool, stride, kind):
    rng = np.random.default_rng(5)
    x = rng.standard_normal(shape)
    param = {"pool_height": pool[0], "pool_width": pool[1], "stride": stride}
    fwd, bwd = {"max": (conv.max_pool_forward, conv.max_pool_backward),
                "avg": (conv.avg_pool_forward, conv.avg_pool_backward)}[kind]
    out, cache = fwd(x, param)
    dout = rng.standard_normal(out.shape)
    num = numerical_gradient_array(lambda z: fwd(z, param)[0], x, dout)
    assert rel_error(bwd(dout, cache), num) < 1e-8


def test_max_pool_example():
    x = np.array([[1, 1, 2, 4], [5, 6, 7, 8], [3, 2, 1, 0], [1, 2, 3, 4]], dtype=float)[None, None]
    out, cache = conv.max_pool_forward(x, {"pool_height": 2, "pool_width": 2, "stride": 2})
    assert np.array_equal(out[0, 0], [[6, 8], [3, 4]])
    dx = conv.max_pool_backward(np.ones_like(out), cache)[0, 0]
    assert dx.sum() == 4 and dx[1, 1] == 1 and dx[1, 3] == 1 and dx[2, 0] == 1 and dx[3, 3] == 1


# ---------------------------------------------------------------------------------------------
# conv_output_size: padding > 1, dilation, ceil mode, exact fits, and every message
# ---------------------------------------------------------------------------------------------
def test_conv_output_size_matches_torch_over_a_grid():
    # padding up to 3, dilation up to 2, strides 1-4, conv (floor) and max pooling (floor and ceil)
    for n in range(1, 14):
        for k in (1, 2, 3, 5):
            for s in (1, 2, 3, 4):
                for d in (1, 2):
                    for p in range(0, 4):
                        reach = d * (k - 1) + 1
                        if n + 2 * p < reach:
                            with pytest.raises(ValueError, match="does not fit"):
                                conv.conv_output_size(n, k, s, p, d)
                            continue
                        out = F.conv2d(torch.zeros(1, 1, n, n), torch.zeros(1, 1, k, k), stride=s, padding=p,
                                       dilation=d).shape[-1]
                        assert conv.conv_output_size(n, k, s, p, d) == out, (n, k, s, p, d)
                        if p <= k // 2:  # what torch's pooling allows
                            for ceil in (False, True):
                                pooled = F.max_pool2d(torch.zeros(1, 1, n, n), k, s, p, d, ceil_mode=ceil).shape[-1]
                                assert conv.conv_output_size(n, k, s, p, d, ceil_mode=ceil) == pooled, \
                                    (n, k, s, p, d, ceil)


def test_conv_output_size_ceil_mode_drops_a_window_that_starts_in_the_padding():
    # 5 wide, padding 1, windows of 2 at stride 2: rounding up would start a 4th window at
    # padded position 6, which is the right padding only: PyTorch drops it, and so do we
    assert conv.conv_output_size(5, 2, 2, 1, ceil_mode=True) == 3
    assert conv.conv_output_size(6, 2, 2, 1, ceil_mode=True) == 4
    assert conv.conv_output_size(5, 2, 2, 1) == 3


@pytest.mark.parametrize("args,kwargs", [((7, 3, 2), {}), ((9, 3, 3), {}), ((6, 2, 2, 1), {}), ((5, 3, 1, 2), {}),
                                         ((9, 3, 2, 0, 2), {}), ((5, 5, 3), {})])
def test_conv_output_size_exact_fits_are_accepted(args, kwargs):
    assert conv.conv_output_size(*args, exact=True) == conv.conv_output_size(*args)


@pytest.mark.parametrize("args,message", [
    ((7, 3, 3, 0), "a window of size 3 with stride 3 does not fit exactly an input of size 7 with padding 0: "
                   "(n + 2*padding - kernel) / stride + 1 = (7 + 0 - 3) / 3 + 1 = 2.33 is not an integer, so the "
                   "last 1 row(s) would never be covered; stride 1, 2, 4 would fit; with stride 3, padding 1 "
                   "would fit"),
    ((8, 3, 2, 0), "a window of size 3 with stride 2 does not fit exactly an input of size 8 with padding 0: "
                   "(n + 2*padding - kernel) / stride + 1 = (8 + 0 - 3) / 2 + 1 = 3.50 is not an integer, so the "
                   "last 1 row(s) would never be covered; stride 1, 5 would fit"),  # no padding fixes stride 2
    ((39, 3, 5, 0), "a window of size 3 with stride 5 does not fit exactly an input of size 39 with padding 0: "
                    "(n + 2*padding - kernel) / stride + 1 = (39 + 0 - 3) / 5 + 1 = 8.20 is not an integer, so "
                    "the last 1 row(s) would never be covered; stride 1, 2, 3, 4, 6, 9, 12, 18, ... would fit; "
                    "with stride 5, padding 2 would fit"),
    ((10, 3, 2, 2, 2), "a window of size 5 with stride 2 does not fit exactly an input of size 10 with padding 2: "
                       "(n + 2*padding - kernel) / stride + 1 = (10 + 4 - 5) / 2 + 1 = 5.50 is not an integer, so "
                       "the last 1 row(s) would never be covered; stride 1, 3, 9 would fit"),
    ((13, 3, 4, 0), "a window of size 3 with stride 4 does not fit exactly an input of size 13 with padding 0: "
                    "(n + 2*padding - kernel) / stride + 1 = (13 + 0 - 3) / 4 + 1 = 3.50 is not an integer, so "
                    "the last 2 row(s) would never be covered; stride 1, 2, 5, 10 would fit; with stride 4, "
                    "padding 1 would fit"),
    ((27, 3, 5, 0), "a window of size 3 with stride 5 does not fit exactly an input of size 27 with padding 0: "
                    "(n + 2*padding - kernel) / stride + 1 = (27 + 0 - 3) / 5 + 1 = 5.80 is not an integer, so "
                    "the last 4 row(s) would never be covered; stride 1, 2, 3, 4, 6, 8, 12, 24 would fit; with "
                    "stride 5, padding 3 would fit"),  # eight strides: all shown
    ((6, 3, 3, 2), "a window of size 3 with stride 3 does not fit exactly an input of size 6 with padding 2: "
                   "(n + 2*padding - kernel) / stride + 1 = (6 + 4 - 3) / 3 + 1 = 3.33 is not an integer, so the "
                   "last 1 row(s) would never be covered; stride 1, 7 would fit; with stride 3, padding 3 would "
                   "fit"),  # padding 0 would fit too, but the hint is the next larger one
    ((8, 3, 3, 0), "a window of size 3 with stride 3 does not fit exactly an input of size 8 with padding 0: "
                   "(n + 2*padding - kernel) / stride + 1 = (8 + 0 - 3) / 3 + 1 = 2.67 is not an integer, so the "
                   "last 2 row(s) would never be covered; stride 1, 5 would fit; with stride 3, padding 2 would "
                   "fit"),
])
def test_conv_output_size_exact_refusals_say_what_would_fit(args, message):
    with pytest.raises(ValueError) as info:
        conv.conv_output_size(*args, exact=True)
    assert str(info.value) == message


@pytest.mark.parametrize("args,kwargs,exc,message", [
    ((3, 7, 1, 0), {}, ValueError, "a window of size 7 does not fit an input of size 3 with padding 0: the padded "
                                   "input has size 3 < 7; padding >= 2 or a window of size <= 3 would fit"),
    ((4, 3), {"dilation": 2}, ValueError, "a window of size 5 does not fit an input of size 4 with padding 0: the "
                                          "padded input has size 4 < 5; padding >= 1 or a window of size <= 4 would fit"),
    ((2, 9, 1, 1), {}, ValueError, "a window of size 9 does not fit an input of size 2 with padding 1: the padded "
                                   "input has size 4 < 9; padding >= 4 or a window of size <= 4 would fit"),
    ((2.0, 1), {}, TypeError, "n (input size) must be an integer, got 2.0 (float)"),
    ((True, 1), {}, TypeError, "n (input size) must be an integer, got True (bool)"),
    ((5, "3"), {}, TypeError, "kernel (filter size) must be an integer, got '3' (str)"),
    ((5, 3, 1.0), {}, TypeError, "stride must be an integer, got 1.0 (float)"),
    ((5, 3, 1, None), {}, TypeError, "padding must be an integer, got None (NoneType)"),
    ((5, 3), {"dilation": 1.5}, TypeError, "dilation must be an integer, got 1.5 (float)"),
    ((0, 1), {}, ValueError, "n (input size) must be >= 1, got 0"),
    ((5, 0), {}, ValueError, "kernel (filter size) must be >= 1, got 0"),
    ((5, 3, 0), {}, ValueError, "stride must be >= 1, got 0"),
    ((5, 3, 1, -1), {}, ValueError, "padding must be >= 0, got -1"),
    ((5, 3), {"dilation": 0}, ValueError, "dilation must be >= 1, got 0"),
])
def test_conv_output_size_bad_arguments(args, kwargs, exc, message):
    with pytest.raises(exc) as info:
        conv.conv_output_size(*args, **kwargs)
    assert str(info.value) == message


def test_conv_output_size_takes_numpy_integers_and_minimal_values():
    got = conv.conv_output_size(np.int64(7), np.int32(3), np.int64(2))
    assert got == 3 and type(got) is int
    assert conv.conv_output_size(1, 1) == 1
    assert conv.conv_output_size(7, 3) == 5  # stride 1, no padding, no dilation by default
    assert conv.conv_output_size(1, 3, 1, 1) == 1


# ---------------------------------------------------------------------------------------------
# the layers: argument errors, a dout of the wrong shape, float32
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fwd", [conv.conv_forward, conv.conv_forward_naive])
def test_conv_argument_errors_name_the_function(fwd):
    what = fwd.__name__
    x, w, b = _case((1, 3, 7, 7), (2, 3, 3), seed=0)
    p = {"stride": 1, "pad": 0}
    cases = [
        ((x, w[0], b, p), f"{what}: w must have 4 dimensions (F, C, HH, WW), got shape (3, 3, 3)"),
        ((x[0], w, b, p), f"{what}: x must have 4 dimensions (N, C, H, W), got shape (3, 7, 7)"),
        ((x, np.zeros((2, 4, 3, 3)), b, p), f"{what}: x has 3 channels (shape (1, 3, 7, 7)) but w expects 4 "
                                            "(shape (2, 4, 3, 3)); w must be (F, 3, HH, WW)"),
        ((x, w, np.zeros((2, 1)), p), f"{what}: b has shape (2, 1), expected (2,), one bias per filter"),
        ((x, w, b, {"pad": 0}), f"{what}: conv_param must be a dict with 'stride' and 'pad', got {{'pad': 0}}"),
        ((x, w, b, {"stride": 1}), f"{what}: conv_param must be a dict with 'stride' and 'pad', got {{'stride': 1}}"),
        ((x, w, b, [1, 0]), f"{what}: conv_param must be a dict with 'stride' and 'pad', got [1, 0]"),
        ((x, np.zeros((2, 3, 9, 9)), b, p), f"{what}: input 7x7, window 9x9, stride 1, pad 0: a window of size 9 "
                                            "does not fit an input of size 7 with padding 0: the padded input has "
                                            "size 7 < 9; padding >= 1 or a window of size <= 7 would fit"),
    ]
    for args, message in cases:
        with pytest.raises(ValueError) as info:
            fwd(*args)
        assert str(info.value) == message
    # lists are accepted
    out, _ = fwd(x.tolist(), w.tolist(), b.tolist(), p)
    assert rel_error(out, _torch_conv(x, w, b, 1, 0)) < 1e-12


def test_conv_window_errors_name_the_side_that_does_not_fit():
    x = np.zeros((1, 1, 9, 4))
    with pytest.raises(ValueError, match=r"^conv_forward: input 9x4, window 3x5, stride 1, pad 0: a window of size 5 "
                                         r"does not fit an input of size 4 with padding 0"):
        conv.conv_forward(x, np.zeros((1, 1, 3, 5)), np.zeros(1), {"stride": 1, "pad": 0})
    with pytest.raises(ValueError, match=r"^im2col: x must have 4 dimensions \(N, C, H, W\), got shape \(9, 4\)$"):
        conv.im2col(x[0, 0], 3, 3)
    with pytest.raises(ValueError, match=r"^col2im: x must have 4 dimensions"):
        conv.col2im(np.zeros((9, 4)), (9, 4), 3, 3)


@pytest.mark.parametrize("fwd,bwd", [(conv.conv_forward, conv.conv_backward),
                                     (conv.conv_forward_naive, conv.conv_backward_naive)])
def test_conv_backward_refuses_a_dout_of_the_wrong_shape(fwd, bwd):
    x, w, b = _case((2, 3, 6, 8), (4, 3, 3), seed=1)
    out, cache = fwd(x, w, b, {"stride": 1, "pad": 0})
    assert out.shape == (2, 4, 4, 6)
    for wrong in [(2, 4, 6, 4), (2, 4, 4, 5), (1, 4, 4, 6), (2, 3, 4, 6), (2, 4, 24), (4, 4, 6)]:
        with pytest.raises(ValueError) as info:
            bwd(np.zeros(wrong), cache)
        assert str(info.value) == (f"{bwd.__name__}: dout has shape {wrong}, expected (2, 4, 4, 6), the shape of "
                                   "the forward output")
    dx, dw, db = bwd(np.ones(out.shape).tolist(), cache)  # a list of the right shape is fine
    assert dx.shape == x.shape and dw.shape == w.shape and db.shape == b.shape


@pytest.mark.parametrize("fwd,bwd", [(conv.max_pool_forward, conv.max_pool_backward),
                                     (conv.avg_pool_forward, conv.avg_pool_backward)])
def test_pool_backward_refuses_a_dout_of_the_wrong_shape(fwd, bwd):
    x = np.random.default_rng(0).standard_normal((2, 3, 6, 8))
    out, cache = fwd(x, {"pool_height": 2, "pool_width": 2, "stride": 2})
    assert out.shape == (2, 3, 3, 4)
    for wrong in [(2, 3, 4, 3), (2, 3, 2, 4), (2, 3, 3, 5), (2, 3, 12)]:
        with pytest.raises(ValueError) as info:
            bwd(np.zeros(wrong), cache)
        assert str(info.value) == (f"{bwd.__name__}: dout has shape {wrong}, expected (2, 3, 3, 4), the shape of "
                                   "the forward output")
    assert bwd(np.ones(out.shape).tolist(), cache).shape == x.shape


@pytest.mark.parametrize("fwd", [conv.max_pool_forward, conv.avg_pool_forward])
def test_pool_argument_errors(fwd):
    what = fwd.__name__
    x = np.zeros((1, 1, 4, 4))
    for bad in [{"pool_height": 2, "pool_width": 2}, {"pool_width": 2, "stride": 2}, {"pool_height": 2, "stride": 2},
                (2, 2, 2)]:
        with pytest.raises(ValueError) as info:
            fwd(x, bad)
        assert str(info.value) == (f"{what}: pool_param must be a dict with 'pool_height', 'pool_width' and "
                                   f"'stride', got {bad!r}")
    with pytest.raises(ValueError, match=rf"^{what}: input 4x4, window 2x5, stride 1, pad 0: a window of size 5"):
        fwd(x, {"pool_height": 2, "pool_width": 5, "stride": 1})
    with pytest.raises(ValueError, match=rf"^{what}: x must have 4 dimensions"):
        fwd(x[0], {"pool_height": 2, "pool_width": 2, "stride": 2})
    out, _ = fwd(x.tolist(), {"pool_height": 2, "pool_width": 2, "stride": 2})  # lists are accepted
    assert out.shape == (1, 1, 2, 2)


def test_float32_stays_float32_in_the_naive_conv_and_the_pools():
    x, w, b = _case((2, 3, 7, 6), (4, 3, 3), seed=3, dtype=np.float32)
    p = {"stride": 2, "pad": 1}
    out, cache = conv.conv_forward_naive(x, w, b, p)
    assert out.dtype == np.float32
    ref = _torch_conv(x, w, b, 2, 1)
    assert np.abs(out - ref).max() < 1e-4
    dout = np.random.default_rng(4).standard_normal(out.shape).astype(np.float32)
    grads = conv.conv_backward_naive(dout, cache)
    assert [g.dtype for g in grads] == [np.float32] * 3
    fast = conv.conv_backward(dout, conv.conv_forward(x, w, b, p)[1])
    assert all(np.abs(g - h).max() < 1e-4 for g, h in zip(grads, fast))
    pool = {"pool_height": 2, "pool_width": 3, "stride": 2}
    for fwd, bwd in [(conv.max_pool_forward, conv.max_pool_backward), (conv.avg_pool_forward, conv.avg_pool_backward)]:
        out, cache = fwd(x, pool)
        assert out.dtype == np.float32
        dx = bwd(np.ones(out.shape, dtype=np.float32), cache)
        assert dx.dtype == np.float32 and dx.shape == x.shape
    # float32 images with float64 weights are computed in float64
    out, cache = conv.conv_forward_naive(x, w.astype(np.float64), b, p)
    assert out.dtype == np.float64
    assert all(g.dtype == np.float64 for g in conv.conv_backward_naive(dout, cache))
    assert conv.im2col(x, 3, 3, 2, 1).dtype == np.float32
    assert conv.col2im(conv.im2col(x, 3, 3, 2, 1), x.shape, 3, 3, 2, 1).dtype == np.float32


def test_pool_backward_of_overlapping_windows_adds_up():
    x = np.arange(25.0).reshape(1, 1, 5, 5)  # increasing: each window's maximum is its bottom-right corner
    p = {"pool_height": 3, "pool_width": 3, "stride": 1}
    out, cache = conv.max_pool_forward(x, p)
    assert np.array_equal(out[0, 0], [[12, 13, 14], [17, 18, 19], [22, 23, 24]])
    dx = conv.max_pool_backward(np.ones((1, 1, 3, 3)), cache)[0, 0]
    assert np.array_equal(dx[2:, 2:], np.ones((3, 3))) and dx.sum() == 9
    out, cache = conv.avg_pool_forward(x, p)
    assert np.array_equal(out[0, 0], [[6, 7, 8], [11, 12, 13], [16, 17, 18]])
    dx = conv.avg_pool_backward(np.full((1, 1, 3, 3), 9.0), cache)[0, 0]
    assert np.array_equal(dx, [[1, 2, 3, 2, 1], [2, 4, 6, 4, 2], [3, 6, 9, 6, 3], [2, 4, 6, 4, 2], [1, 2, 3, 2, 1]])


def test_max_pool_ties_go_to_the_first_maximum():
    x = np.ones((1, 1, 2, 2))
    out, cache = conv.max_pool_forward(x, {"pool_height": 2, "pool_width": 2, "stride": 2})
    assert np.array_equal(conv.max_pool_backward(np.full((1, 1, 1, 1), 3.0), cache)[0, 0], [[3, 0], [0, 0]])


def test_im2col_and_col2im_defaults_are_stride_1_and_no_padding():
    x = np.random.default_rng(5).standard_normal((1, 2, 4, 5))
    cols = conv.im2col(x, 2, 3)
    assert np.array_equal(cols, conv.im2col(x, 2, 3, 1, 0)) and cols.shape == (2 * 2 * 3, 3 * 3)
    assert np.array_equal(conv.col2im(cols, x.shape, 2, 3), conv.col2im(cols, x.shape, 2, 3, 1, 0))


def test_col2im_shape_error_gives_the_expected_shape():
    with pytest.raises(ValueError) as info:
        conv.col2im(np.zeros((5, 5)), (2, 2, 7, 8), 3, 4, 1, 0)
    assert str(info.value) == ("col2im: cols has shape (5, 5), expected (24, 50) = (C*HH*WW, N*H_out*W_out) for "
                               "x_shape (2, 2, 7, 8) and a 3x4 window")


@pytest.mark.parametrize("fwd,bwd", [(conv.conv_forward, conv.conv_backward),
                                     (conv.conv_forward_naive, conv.conv_backward_naive)])
def test_conv_computes_in_the_most_precise_dtype_of_its_arguments(fwd, bwd):
    x, w, b = _case((1, 2, 5, 5), (3, 3, 3), seed=6, dtype=np.float32)
    p = {"stride": 1, "pad": 1}
    for args in [(x.astype(np.float64), w, b), (x, w.astype(np.float64), b), (x, w, b.astype(np.float64))]:
        out, cache = fwd(*args, p)
        assert out.dtype == np.float64
    out, cache = fwd(x, w, b, p)
    assert out.dtype == np.float32
    assert all(g.dtype == np.float64 for g in bwd(np.ones(out.shape), cache))  # a float64 dout
    _, cache = fwd(x.astype(np.float64), w, b, p)  # a float64 forward pass with a float32 dout
    assert all(g.dtype == np.float64 for g in bwd(np.ones(out.shape, dtype=np.float32), cache))


@pytest.mark.parametrize("fwd,bwd", [(conv.max_pool_forward, conv.max_pool_backward),
                                     (conv.avg_pool_forward, conv.avg_pool_backward)])
def test_pool_gradient_has_the_more_precise_dtype_of_x_and_dout(fwd, bwd):
    x = np.random.default_rng(7).standard_normal((1, 2, 4, 4))
    p = {"pool_height": 2, "pool_width": 2, "stride": 2}
    out, cache = fwd(x, p)
    assert bwd(np.ones(out.shape, dtype=np.float32), cache).dtype == np.float64
    out, cache = fwd(x.astype(np.float32), p)
    assert bwd(np.ones(out.shape, dtype=np.float32), cache).dtype == np.float32
    assert bwd(np.ones(out.shape), cache).dtype == np.float64
