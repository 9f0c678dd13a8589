# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # A1: MLPs and backpropagation
#
# In this assignment you write, with numpy only, the pieces of a small neural network and the
# backward pass that trains it: activation functions, a fully connected (affine) layer, two
# losses, a numerical gradient checker, a two-layer classifier, and a minibatch SGD loop that
# trains it on real handwritten digits. Two short derivations, graded by hand, close it.
#
# | part | what you write | points |
# | --- | --- | --- |
# | 1 | activations: sigmoid, ReLU, leaky ReLU, forward and backward | 12 |
# | 2 | affine layer, forward and backward | 12 |
# | 3 | L2 and softmax cross-entropy losses with their gradients | 14 |
# | 4 | numerical gradient (centred differences) | 8 |
# | 5 | `TwoLayerNet`: affine - ReLU - affine - softmax, with L2 regularisation | 18 |
# | 6 | minibatch SGD (10), and settings that train a model on the digits (6) | 16 |
# | 7 | two written derivations (graded by hand) | 20 |
#
# **How this notebook is graded.**
# - Replace each `# YOUR CODE HERE` / `raise NotImplementedError()` with your code. Keep every
#   function's name, signature and the lines around your code (a `return` after it names the
#   variables your code must set).
# - Each part has a visible test cell (run it: a failure says what was expected, what came and
#   gives a hint) and a hidden test cell that checks the same things on other shapes, seeds and
#   settings. Both are worth points.
# - Write everything with numpy. The course library `cnnkit` has reference versions of some of
#   these functions (`cnnkit.layers`, `cnnkit.gradcheck`); the hidden tests check that your
#   functions do not call them.
# - A test cell that prints anything to stderr (a numpy warning, for example) earns no points,
#   even when its checks pass. Avoid overflow and division by zero rather than silencing them.
# - Before you submit: *Kernel > Restart & Run All*. The whole notebook runs in well under a minute
#   on a laptop CPU.
#
# **Conventions** (as in CS231n): a layer is a pair of functions. `f_forward(x, ...)` returns
# `(out, cache)`, where `cache` holds whatever the backward pass needs; `f_backward(dout, cache)`
# receives `dout` $= \partial L / \partial\,\text{out}$ (same shape as `out`) and returns the
# gradients of $L$ with respect to the inputs, each with the shape of its input. $N$ is the batch
# size.

# %% nb="locked setup"
import numpy as np
import matplotlib.pyplot as plt

from cnnkit.data import load_digits
from cnnkit.device import seed_numpy
from cnnkit.gradcheck import rel_error, report
from cnnkit.plots import plot_functions, plot_history

rng = seed_numpy(0)  # numpy only: this assignment never imports torch

# %% [markdown]
# ## Part 1: Activation functions (12 points)
#
# Each activation acts element-wise on an array of any shape, and its backward pass multiplies
# `dout` element-wise by the local derivative:
#
# | name | forward | derivative |
# | --- | --- | --- |
# | sigmoid | $\sigma(x) = \dfrac{1}{1 + e^{-x}}$ | $\sigma(x)\,(1 - \sigma(x))$ |
# | ReLU | $\max(0, x)$ | $1$ if $x > 0$, else $0$ (we take $0$ at $x = 0$) |
# | leaky ReLU | $\max(a x, x)$ with slope $a = 0.1$ by default | $1$ if $x > 0$, else $a$ |
#
# Hints: the sigmoid's backward pass is cheapest from the forward *output*, so that is a good
# cache. For large negative $x$, `np.exp(-x)` overflows (numpy warns, and the result is still
# right); for $x < 0$ the equal form $e^{x} / (1 + e^{x})$ does not overflow. The leaky ReLU's
# cache must remember the slope, so that `leaky_relu_backward` uses the one `leaky_relu_forward`
# was called with.

# %% nb="solution activations"
def sigmoid_forward(x):
    """Logistic sigmoid, element-wise.

    x: array of any shape. Returns out (shaped like x) and a cache for sigmoid_backward.
    """
    ### BEGIN SOLUTION
    out = np.empty_like(x, dtype=np.result_type(x, np.float64))
    pos = x >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-x[pos]))
    ex = np.exp(x[~pos])
    out[~pos] = ex / (1.0 + ex)
    cache = out
    ### END SOLUTION
    return out, cache


def sigmoid_backward(dout, cache):
    """Gradient of the sigmoid. dout: upstream gradient, shaped like x. Returns dx (shaped like x)."""
    ### BEGIN SOLUTION
    s = cache
    dx = dout * s * (1.0 - s)
    ### END SOLUTION
    return dx


def relu_forward(x):
    """ReLU max(0, x), element-wise. x: any shape. Returns out (shaped like x) and a cache."""
    ### BEGIN SOLUTION
    out = np.maximum(0, x)
    cache = x
    ### END SOLUTION
    return out, cache


def relu_backward(dout, cache):
    """Gradient of ReLU: dout where x > 0, 0 elsewhere (also at x = 0). Returns dx (shaped like x)."""
    ### BEGIN SOLUTION
    x = cache
    dx = dout * (x > 0)
    ### END SOLUTION
    return dx


def leaky_relu_forward(x, slope=0.1):
    """Leaky ReLU max(slope * x, x) for 0 < slope < 1, element-wise.

    x: any shape. Returns out (shaped like x) and a cache that also holds the slope.
    """
    ### BEGIN SOLUTION
    out = np.where(x > 0, x, slope * x)
    cache = (x, slope)
    ### END SOLUTION
    return out, cache


def leaky_relu_backward(dout, cache):
    """Gradient of the leaky ReLU: dout where x > 0, slope * dout elsewhere. Returns dx."""
    ### BEGIN SOLUTION
    x, slope = cache
    dx = np.where(x > 0, dout, slope * dout)
    ### END SOLUTION
    return dx


# %% [markdown]
# Plot your functions and their derivatives (the backward pass with `dout = 1`). Compare with the
# table above: where is each derivative close to zero, and what does that mean for the gradient
# that reaches earlier layers?

# %%
def derivative(forward, backward):
    """f'(x) through the backward pass: backward(1, cache)."""
    def df(x):
        out, cache = forward(x)
        return backward(np.ones_like(out), cache)
    return df


plot_functions({
    "sigmoid": (lambda x: sigmoid_forward(x)[0], derivative(sigmoid_forward, sigmoid_backward)),
    "ReLU": (lambda x: relu_forward(x)[0], derivative(relu_forward, relu_backward)),
    "leaky ReLU (slope 0.1)": (lambda x: leaky_relu_forward(x)[0],
                               derivative(leaky_relu_forward, leaky_relu_backward)),
})
plt.show()

# %% nb="tests activations__tests 6"
# Part 1, visible tests: fixed inputs; backward passes against numerical gradients in float64.
import numpy as np
from cnnkit.grading import check_close, check_shape, quiet
from cnnkit.gradcheck import numerical_gradient_array


def _test_activations():
    x = np.array([[-2.0, -0.5, 0.0], [0.5, 1.0, 3.0]])
    with quiet():
        s, _ = sigmoid_forward(x)
        r, _ = relu_forward(x)
        lk, _ = leaky_relu_forward(x)
        lk2, _ = leaky_relu_forward(x, slope=0.2)
    check_close("sigmoid_forward(x)", s, 1.0 / (1.0 + np.exp(-x)), hint="sigma(x) = 1 / (1 + exp(-x))")
    check_close("relu_forward(x)", r, [[0.0, 0.0, 0.0], [0.5, 1.0, 3.0]], hint="max(0, x), element-wise")
    check_close("leaky_relu_forward(x)", lk, [[-0.2, -0.05, 0.0], [0.5, 1.0, 3.0]],
                hint="the default slope is 0.1: max(0.1 x, x)")
    check_close("leaky_relu_forward(x, slope=0.2)", lk2, [[-0.4, -0.1, 0.0], [0.5, 1.0, 3.0]],
                hint="use the slope argument, not a fixed 0.1")

    big = np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0])
    with quiet():
        sb, _ = sigmoid_forward(big)
    check_close("sigmoid_forward at large |x|", sb, [0.0, 0.0, 0.5, 1.0, 1.0],
                hint="the sigmoid lies in [0, 1]; for x < 0 use exp(x) / (1 + exp(x)) to avoid overflow")

    # Backward passes, on a 3-D input with no entry near the kink at 0.
    g = np.random.default_rng(1)
    x3 = g.uniform(0.2, 2.0, size=(2, 3, 4)) * g.choice([-1.0, 1.0], size=(2, 3, 4))
    dout = g.standard_normal((2, 3, 4))
    cases = [
        ("sigmoid", sigmoid_forward, sigmoid_backward, {}),
        ("relu", relu_forward, relu_backward, {}),
        ("leaky_relu", leaky_relu_forward, leaky_relu_backward, {}),
        ("leaky_relu (slope 0.2)", leaky_relu_forward, leaky_relu_backward, {"slope": 0.2}),
    ]
    for name, fwd, bwd, kw in cases:
        with quiet():
            out, cache = fwd(x3.copy(), **kw)
            dx = bwd(dout, cache)
        check_shape(f"{name} forward output", out, x3.shape, hint="an activation keeps the shape of its input")
        expected = numerical_gradient_array(lambda z: fwd(z, **kw)[0], x3.copy(), dout)
        check_close(f"{name}_backward", dx, expected, tol=1e-6,
                    hint="dx = dout * f'(x), element-wise; take what you need from the cache")

    with quiet():
        _, c0 = relu_forward(np.array([0.0, 1.0]))
        d0 = relu_backward(np.array([1.0, 1.0]), c0)
    check_close("relu_backward at x = 0", d0, [0.0, 1.0], hint="we take the derivative of ReLU at 0 to be 0")


_test_activations()

# %% nb="tests activations__hidden 6"
# Part 1, hidden tests: other shapes, slopes and seeds; your functions must not call cnnkit.layers or cnnkit.gradcheck.
### BEGIN HIDDEN TESTS
import numpy as np
import cnnkit.gradcheck
import cnnkit.layers
from cnnkit.grading import check_close, check_shape, no_calls_to, quiet


def _hidden_activations():
    g = np.random.default_rng(2024)
    x = g.standard_normal((3, 5, 2, 4)) * 4.0
    x[np.abs(x) < 0.05] = 0.5  # keep away from the kink for the numerical gradients
    dout = g.standard_normal(x.shape)
    slope = 0.3
    with quiet(), no_calls_to(cnnkit.layers, cnnkit.gradcheck):
        s, sc = sigmoid_forward(x.copy())
        ds = sigmoid_backward(dout, sc)
        r, rc = relu_forward(x.copy())
        dr = relu_backward(dout, rc)
        lk, lc = leaky_relu_forward(x.copy(), slope=slope)
        dl = leaky_relu_backward(dout, lc)
        lk0, lc0 = leaky_relu_forward(x.copy())
        dl0 = leaky_relu_backward(dout, lc0)
        big, _ = sigmoid_forward(np.array([-800.0, -30.0, 30.0, 800.0]))
    s_ref, s_cache = cnnkit.layers.sigmoid_forward(x)
    r_ref, r_cache = cnnkit.layers.relu_forward(x)
    check_close("sigmoid_forward (hidden)", s, s_ref, tol=1e-9)
    check_close("sigmoid_backward (hidden)", ds, cnnkit.layers.sigmoid_backward(dout, s_cache), tol=1e-9)
    check_close("relu_forward (hidden)", r, r_ref, tol=1e-12)
    check_close("relu_backward (hidden)", dr, cnnkit.layers.relu_backward(dout, r_cache), tol=1e-12)
    check_close("leaky_relu_forward slope 0.3 (hidden)", lk, np.where(x > 0, x, slope * x), tol=1e-12)
    check_close("leaky_relu_backward slope 0.3 (hidden)", dl, np.where(x > 0, dout, slope * dout), tol=1e-12)
    check_close("leaky_relu_forward default slope (hidden)", lk0, np.where(x > 0, x, 0.1 * x), tol=1e-12)
    check_close("leaky_relu_backward default slope (hidden)", dl0, np.where(x > 0, dout, 0.1 * dout), tol=1e-12)
    zeros = np.array([[0.0, -1.0, 2.0], [0.0, 0.0, -0.5]])
    with quiet(), no_calls_to(cnnkit.layers, cnnkit.gradcheck):
        dr0 = relu_backward(np.ones_like(zeros), relu_forward(zeros.copy())[1])
        dl0z = leaky_relu_backward(np.ones_like(zeros), leaky_relu_forward(zeros.copy(), slope=0.3)[1])
    check_close("relu_backward at x = 0 (hidden)", dr0, (zeros > 0).astype(float), tol=1e-12)
    check_close("leaky_relu_backward at x = 0 (hidden)", dl0z, np.where(zeros > 0, 1.0, 0.3), tol=1e-12)
    check_close("sigmoid_forward at large |x| (hidden)", big, [0.0, np.exp(-30.0) / (1 + np.exp(-30.0)), 1 / (1 + np.exp(-30.0)), 1.0], tol=1e-7)
    # numerical gradients of the reference forward passes, float64
    xs = x[:1, :2].copy()
    ds_small = dout[:1, :2]
    num_s = cnnkit.gradcheck.numerical_gradient_array(lambda z: cnnkit.layers.sigmoid_forward(z)[0], xs.copy(), ds_small)
    num_l = cnnkit.gradcheck.numerical_gradient_array(lambda z: np.maximum(slope * z, z), xs.copy(), ds_small)
    check_close("sigmoid_backward vs numerical gradient (hidden)", ds[:1, :2], num_s, tol=1e-6)
    check_close("leaky_relu_backward vs numerical gradient (hidden)", dl[:1, :2], num_l, tol=1e-6)


_hidden_activations()
### END HIDDEN TESTS

# %% [markdown]
# ## Part 2: The affine (fully connected) layer (12 points)
#
# An affine layer maps each example to $M$ outputs: $\text{out} = x\,W + b$. A batch may arrive
# with any trailing shape, `x` of shape $(N, d_1, \dots, d_k)$, for example images; flatten each
# example to a row of $D = d_1 \cdots d_k$ numbers first. `w` has shape $(D, M)$ and `b` shape
# $(M,)$, added to every row.
#
# For the backward pass, with $X$ the flattened $(N, D)$ input and $G$ = `dout` of shape $(N, M)$:
#
# $$\frac{\partial L}{\partial X} = G\,W^\top, \qquad
#   \frac{\partial L}{\partial W} = X^\top G, \qquad
#   \frac{\partial L}{\partial b} = \sum_{n=1}^{N} G_{n,:}.$$
#
# Check the shapes: each gradient has the shape of what it is the gradient of, and `dx` must be
# reshaped back to `x`'s original shape.

# %% nb="solution affine"
def affine_forward(x, w, b):
    """Fully connected layer.

    x: (N, d_1, ..., d_k), flattened to (N, D) with D = d_1 * ... * d_k; w: (D, M); b: (M,).
    Returns out (N, M) = x_flat @ w + b, and cache (whatever affine_backward needs).
    """
    ### BEGIN SOLUTION
    N = x.shape[0]
    out = x.reshape(N, -1) @ w + b
    cache = (x, w, b)
    ### END SOLUTION
    return out, cache


def affine_backward(dout, cache):
    """Gradients of the affine layer. dout: (N, M).

    Returns dx (shaped like the original x: (N, d_1, ..., d_k)), dw (D, M) and db (M,).
    """
    ### BEGIN SOLUTION
    x, w, b = cache
    N = x.shape[0]
    dx = (dout @ w.T).reshape(x.shape)
    dw = x.reshape(N, -1).T @ dout
    db = dout.sum(axis=0)
    ### END SOLUTION
    return dx, dw, db


# %% nb="tests affine__tests 6"
# Part 2, visible tests: a fixed small case; gradients against numerical gradients in float64.
import numpy as np
from cnnkit.grading import check_close, check_shape, quiet
from cnnkit.gradcheck import numerical_gradient_array


def _test_affine():
    x = np.array([[1.0, 2.0], [3.0, -1.0]])
    w = np.array([[1.0, 0.0, -1.0], [0.5, 2.0, 1.0]])
    b = np.array([0.1, -0.2, 0.3])
    with quiet():
        out, _ = affine_forward(x, w, b)
    check_close("affine_forward on a 2x2 input", out, [[2.1, 3.8, 1.3], [2.6, -2.2, -3.7]],
                hint="out = x @ w + b; b is added to every row")

    g = np.random.default_rng(7)
    x = g.standard_normal((3, 2, 4))          # N = 3 examples of shape (2, 4): D = 8
    w = g.standard_normal((8, 5))
    b = g.standard_normal(5)
    dout = g.standard_normal((3, 5))
    with quiet():
        out, cache = affine_forward(x, w, b)
        grads = affine_backward(dout, cache)
    check_shape("affine_forward output for x of shape (3, 2, 4)", out, (3, 5),
                hint="flatten each example first: x.reshape(N, -1)")
    check_close("affine_forward with x of shape (3, 2, 4)", out, x.reshape(3, -1) @ w + b)
    if not (isinstance(grads, (tuple, list)) and len(grads) == 3):
        raise AssertionError(f"affine_backward: expected (dx, dw, db), got {type(grads).__name__}"
                             f"{f' of length {len(grads)}' if isinstance(grads, (tuple, list)) else ''}")
    dx, dw, db = grads
    check_shape("dx", dx, x.shape, hint="reshape dx back to the shape of the original x")
    check_shape("dw", dw, w.shape)
    check_shape("db", db, b.shape, hint="sum dout over the batch axis")
    with quiet():
        num_dx = numerical_gradient_array(lambda v: affine_forward(v, w, b)[0], x.copy(), dout)
        num_dw = numerical_gradient_array(lambda v: affine_forward(x, v, b)[0], w.copy(), dout)
        num_db = numerical_gradient_array(lambda v: affine_forward(x, w, v)[0], b.copy(), dout)
    check_close("dx", dx, num_dx, tol=1e-6, hint="dx = (dout @ w.T), reshaped like x")
    check_close("dw", dw, num_dw, tol=1e-6, hint="dw = x_flat.T @ dout")
    check_close("db", db, num_db, tol=1e-6, hint="db = dout summed over the batch axis")


_test_affine()

# %% nb="tests affine__hidden 6"
# Part 2, hidden tests: other shapes and seeds, compared with the course's reference layer.
### BEGIN HIDDEN TESTS
import numpy as np
import cnnkit.gradcheck
import cnnkit.layers
from cnnkit.grading import check_close, no_calls_to, quiet


def _hidden_affine():
    g = np.random.default_rng(99)
    for shape, M in (((4, 3, 2, 2), 6), ((1, 7), 3), ((6, 5), 1)):
        x = g.standard_normal(shape)
        D = int(np.prod(shape[1:]))
        w = g.standard_normal((D, M))
        b = g.standard_normal(M)
        dout = g.standard_normal((shape[0], M))
        with quiet(), no_calls_to(cnnkit.layers, cnnkit.gradcheck):
            out, cache = affine_forward(x.copy(), w.copy(), b.copy())
            dx, dw, db = affine_backward(dout, cache)
        out_ref, c_ref = cnnkit.layers.affine_forward(x, w, b)
        dx_ref, dw_ref, db_ref = cnnkit.layers.affine_backward(dout, c_ref)
        check_close(f"affine_forward {shape} (hidden)", out, out_ref, tol=1e-9)
        check_close(f"affine_backward dx {shape} (hidden)", dx, dx_ref, tol=1e-9)
        check_close(f"affine_backward dw {shape} (hidden)", dw, dw_ref, tol=1e-9)
        check_close(f"affine_backward db {shape} (hidden)", db, db_ref, tol=1e-9)
        num_dw = cnnkit.gradcheck.numerical_gradient_array(lambda v: cnnkit.layers.affine_forward(x, v, b)[0], w.copy(), dout)
        check_close(f"affine_backward dw vs numerical {shape} (hidden)", dw, num_dw, tol=1e-6)


_hidden_affine()
### END HIDDEN TESTS

# %% [markdown]
# ## Part 3: Losses (14 points)
#
# A loss function returns the scalar loss and its gradient with respect to its first argument,
# `(loss, dpred)` or `(loss, dscores)`; there is no cache, since the gradient comes with the loss.
# Both losses are **means over the batch**, so their gradients carry a factor $1/N$.
#
# **L2 loss.** For predictions and targets of shape $(N, D)$,
# $L = \frac{1}{N}\sum_{i=1}^{N} \lVert t_i - p_i \rVert^2$, so
# $\partial L / \partial p_i = -\frac{2}{N}(t_i - p_i)$. Raise a `ValueError` that names both
# shapes when `pred` and `target` differ in shape (numpy would otherwise broadcast silently).
#
# **Softmax cross-entropy.** For scores $s_i \in \mathbb{R}^C$ and an integer label $y_i$,
# $p_{ia} = e^{s_{ia}} / \sum_b e^{s_{ib}}$ and $L = -\frac{1}{N}\sum_i \log p_{i y_i}$. The
# gradient is $\partial L / \partial s_i = (p_i - z_i)/N$ with $z_i$ the one-hot vector of $y_i$
# (you derive it in part 7). Compute it **stably**: subtract each row's maximum from the scores
# (the probabilities do not change) and take the log-probabilities as
# $\log p_{ia} = \tilde s_{ia} - \log \sum_b e^{\tilde s_{ib}}$ (with $\tilde s$ the shifted scores)
# rather than the logarithm of a probability that may have underflowed to 0.

# %% nb="solution losses"
def l2_loss(pred, target):
    """Mean squared L2 loss L = (1/N) sum_i ||target_i - pred_i||^2.

    pred, target: (N, D) (any equal shapes with the batch first). Raises ValueError if the shapes
    differ. Returns loss (float) and dpred (shaped like pred).
    """
    ### BEGIN SOLUTION
    if pred.shape != target.shape:
        raise ValueError(f"l2_loss: pred {pred.shape} and target {target.shape} must have the same shape")
    N = pred.shape[0]
    diff = target - pred
    loss = float(np.sum(diff ** 2) / N)
    dpred = -2.0 * diff / N
    ### END SOLUTION
    return loss, dpred


def softmax_loss(scores, y):
    """Mean softmax cross-entropy, computed without overflow.

    scores: (N, C); y: (N,) integer labels in [0, C). Returns loss (float) and dscores (N, C).
    """
    ### BEGIN SOLUTION
    N = scores.shape[0]
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = float(-log_probs[np.arange(N), y].mean())
    dscores = np.exp(log_probs)
    dscores[np.arange(N), y] -= 1.0
    dscores /= N
    ### END SOLUTION
    return loss, dscores


# %% nb="tests losses__tests 7"
# Part 3, visible tests: properties of the losses, gradients against numerical ones.
import numpy as np
from cnnkit.grading import check_close, check_raises, check_shape, quiet
from cnnkit.gradcheck import numerical_gradient


def _test_losses():
    pred = np.array([[0.5, -1.0, 2.0], [1.5, 0.0, -0.5]])
    target = np.array([[1.0, -1.0, 0.0], [0.0, 0.5, 0.5]])
    with quiet():
        loss, dpred = l2_loss(pred.copy(), target)
    with quiet():
        one, _ = l2_loss(np.array([[1.0, 2.0]]), np.zeros((1, 2)))
        twice, _ = l2_loss(np.vstack([pred, pred]), np.vstack([target, target]))
        zero, _ = l2_loss(target.copy(), target)
    check_shape("l2_loss value", loss, (), hint="return the loss as one number")
    check_close("l2_loss([[1, 2]], [[0, 0]])", one, 5.0, hint="sum the squared differences of a row")
    check_close("l2_loss of the batch stacked twice", twice, loss,
                hint="sum the squared differences over everything, then divide by N (the number of rows) only")
    check_close("l2_loss(target, target)", zero, 0.0, atol=1e-12)
    check_shape("dpred", dpred, pred.shape)
    with quiet():
        num = numerical_gradient(lambda p: l2_loss(p, target)[0], pred.copy())
    check_close("l2_loss dpred", dpred, num, tol=1e-6, hint="dL/dpred = -2 (target - pred) / N")
    check_raises("l2_loss with shapes (2, 3) and (2, 1)", l2_loss, (pred, target[:, :1]), exc_type=ValueError,
                 hint="numpy broadcasts (2, 3) against (2, 1) without complaint: compare pred.shape and "
                      "target.shape and raise ValueError if they differ")

    with quiet():
        loss0, _ = softmax_loss(np.zeros((4, 5)), np.array([0, 1, 2, 4]))
    if abs(float(loss0) - 4 * np.log(5.0)) < 1e-9:
        raise AssertionError("softmax_loss with all scores 0, N = 4 and C = 5: got 4 log(5), the sum over the "
                             "batch\nHint: the loss is the mean over the batch of -log p[i, y[i]]; divide by N")
    check_close("softmax_loss with all scores 0 and C = 5", loss0, np.log(5.0),
                hint="equal scores give p = 1/C for every class, so the loss is log(C)")

    scores = np.array([[1.0, 2.0, 0.5, -1.0], [0.0, -2.0, 3.0, 1.0], [2.5, 2.5, 0.0, -0.5]])
    y = np.array([1, 2, 0])
    with quiet():
        loss, dscores = softmax_loss(scores.copy(), y)
    with quiet():
        one, _ = softmax_loss(np.array([[0.0, np.log(3.0)]]), np.array([0]))
        shifted, _ = softmax_loss(scores + 3.0, y)
        twice, _ = softmax_loss(np.vstack([scores, scores]), np.concatenate([y, y]))
    check_shape("softmax_loss value", loss, (), hint="return the loss as one number")
    check_close("softmax_loss([[0, log 3]], [0])", one, np.log(4.0), hint="p[0] = 1 / (1 + 3); the loss is -log p[y]")
    check_close("softmax_loss with every score shifted by 3", shifted, loss, tol=1e-9,
                hint="adding a constant to a row of scores does not change the probabilities")
    check_close("softmax_loss of the batch stacked twice", twice, loss, tol=1e-9,
                hint="the mean over the batch of -log p[i, y[i]]")
    check_shape("dscores", dscores, scores.shape)
    with quiet():
        num = numerical_gradient(lambda s: softmax_loss(s, y)[0], scores.copy())
    check_close("softmax_loss dscores", dscores, num, tol=1e-6, hint="dscores = (p - onehot(y)) / N")

    extreme = np.array([[1000.0, 0.0, -1000.0], [-1000.0, 1000.0, 0.0]])
    with quiet():
        loss_e, d_e = softmax_loss(extreme.copy(), np.array([0, 1]))
        loss_u, _ = softmax_loss(extreme.copy(), np.array([2, 2]))
    check_close("softmax_loss with scores of +-1000 (correct class has the top score)", loss_e, 0.0,
                hint="subtract each row's max before exponentiating")
    check_close("softmax_loss dscores with scores of +-1000", d_e, [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    check_close("softmax_loss with scores of +-1000 (correct classes 2000 and 1000 below the top)", loss_u, 1500.0,
                hint="use log p = shifted - log(sum(exp(shifted))), not log of a probability that underflowed to 0")


_test_losses()

# %% nb="tests losses__hidden 7"
# Part 3, hidden tests: other shapes and seeds, compared with the course's reference losses.
### BEGIN HIDDEN TESTS
import numpy as np
import cnnkit.gradcheck
import cnnkit.layers
from cnnkit.grading import check_close, check_raises, no_calls_to, quiet


def _hidden_losses():
    g = np.random.default_rng(31)
    pred = g.standard_normal((7, 4))
    target = g.standard_normal((7, 4))
    scores = g.standard_normal((9, 6)) * 3.0
    y = g.integers(0, 6, size=9)
    huge = g.standard_normal((5, 8)) * 1e4
    y_huge = g.integers(0, 8, size=5)
    small, y_small = g.standard_normal((4, 3)), np.array([2, 0, 0, 1])
    with quiet(), no_calls_to(cnnkit.layers, cnnkit.gradcheck):
        l2, dp = l2_loss(pred.copy(), target)
        sl, ds = softmax_loss(scores.copy(), y)
        hl, dh = softmax_loss(huge.copy(), y_huge)
        _, d_small = softmax_loss(small.copy(), y_small)
    l2_ref, dp_ref = cnnkit.layers.l2_loss(pred, target)
    sl_ref, ds_ref = cnnkit.layers.softmax_loss(scores, y)
    hl_ref, dh_ref = cnnkit.layers.softmax_loss(huge, y_huge)
    check_close("l2_loss (hidden)", l2, l2_ref, tol=1e-10)
    check_close("l2_loss dpred (hidden)", dp, dp_ref, tol=1e-10)
    check_close("softmax_loss (hidden)", sl, sl_ref, tol=1e-10)
    check_close("softmax_loss dscores (hidden)", ds, ds_ref, tol=1e-9)
    check_close("softmax_loss with scores ~1e4 (hidden)", hl, hl_ref, tol=1e-9)
    check_close("softmax_loss dscores with scores ~1e4 (hidden)", dh, dh_ref, tol=1e-9)
    num = cnnkit.gradcheck.numerical_gradient(lambda s: cnnkit.layers.softmax_loss(s, y_small)[0], small.copy())
    check_close("softmax_loss dscores vs numerical (hidden)", d_small, num, tol=1e-6)
    check_raises("l2_loss with shapes (7, 4) and (7, 1) (hidden)", l2_loss, (pred, target[:, :1]), exc_type=ValueError)


_hidden_losses()
### END HIDDEN TESTS

# %% [markdown]
# ## Part 4: Numerical gradients (8 points)
#
# Backward passes are easy to get subtly wrong, so we check them against the definition of the
# derivative. For a scalar function $f$ of an array $x$, the **centred difference**
#
# $$\frac{\partial f}{\partial x_i} \approx \frac{f(x + h\,e_i) - f(x - h\,e_i)}{2h}$$
#
# ($e_i$ is 1 at position $i$ and 0 elsewhere) has an error of order $h^2$, against $h$ for the
# one-sided difference. Compare results with the relative error
# $\max_i |a_i - b_i| / \max(10^{-8}, |a_i| + |b_i|)$ (`rel_error` from `cnnkit.gradcheck`); a
# correct gradient in float64 with $h = 10^{-5}$ typically agrees to about $10^{-7}$ or better.
# This only works in **float64**: in float32 the rounding error of $f$, about $10^{-7}$, divided by
# $h$ swamps the answer. So your function refuses other dtypes with a `TypeError`.
#
# Write `numerical_gradient` yourself (not `cnnkit.gradcheck.numerical_gradient`). Perturb `x` in
# place, one entry at a time, for any number of dimensions (`np.ndindex(x.shape)` visits every
# index), and put each entry back as it was: the caller's `x` must be unchanged afterwards, and
# `f` must see one perturbed entry at a time. Keeping the old value and assigning it back is
# exact; putting it back by arithmetic (`x[i] -= h`) can leave it a unit in the last place away,
# which the tests accept as float round-off.

# %% nb="solution numgrad"
def numerical_gradient(f, x, h=1e-5):
    """Gradient of the scalar function f at x by centred differences.

    f: callable taking an array shaped like x and returning a float. x: float64 array of any
    shape (raise TypeError for any other dtype); perturbed in place and restored. h: the step.
    Returns grad, a float64 array shaped like x. Calls f exactly 2 * x.size times.
    """
    ### BEGIN SOLUTION
    if not isinstance(x, np.ndarray) or x.dtype != np.float64:
        raise TypeError(f"numerical_gradient needs a float64 numpy array, got {getattr(x, 'dtype', type(x))}")
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        old = x[idx]
        x[idx] = old + h
        f_plus = float(f(x))
        x[idx] = old - h
        f_minus = float(f(x))
        x[idx] = old
        grad[idx] = (f_plus - f_minus) / (2.0 * h)
    ### END SOLUTION
    return grad


# %% [markdown]
# Use it: check your affine layer's `dw` and your softmax loss's `dscores` on random float64 data.

# %%
g = np.random.default_rng(0)
x_chk, w_chk, b_chk = g.standard_normal((4, 6)), g.standard_normal((6, 3)), g.standard_normal(3)
s_chk, y_chk = g.standard_normal((5, 4)), g.integers(0, 4, size=5)
dout_chk = g.standard_normal((4, 3))
_, cache_chk = affine_forward(x_chk, w_chk, b_chk)
_, dw_chk, _ = affine_backward(dout_chk, cache_chk)
num_dw = numerical_gradient(lambda v: np.sum(affine_forward(x_chk, v, b_chk)[0] * dout_chk), w_chk)
report("affine dw", rel_error(dw_chk, num_dw))
num_ds = numerical_gradient(lambda s: softmax_loss(s, y_chk)[0], s_chk)
ok = report("softmax dscores", rel_error(softmax_loss(s_chk, y_chk)[1], num_ds))

# %% nb="tests numgrad__tests 4"
# Part 4, visible tests: known derivatives, the number of calls, the step h, float64 only.
import numpy as np
from cnnkit.gradcheck import rel_error
from cnnkit.grading import changed_entries, check_close, check_raises, check_shape, check_unchanged, quiet


def _one_entry_at_a_time(seen, x_before, h, what="numerical_gradient"):
    """Every x that f saw differs from x_before in exactly one entry; float round-off of entries
    put back by arithmetic (a few units in the last place) does not count as a difference."""
    for k, v in enumerate(seen):
        moved = np.argwhere(changed_entries(v, x_before, scale=h))
        if len(moved) == 1:
            continue
        if len(moved) == 0:
            raise AssertionError(f"{what}: call {k + 1} of f saw x with no entry perturbed\nHint: evaluate f at "
                                 "x + h e_i and at x - h e_i, with the h argument")
        shown = ", ".join(f"{tuple(int(i) for i in idx)} off by {abs(v[tuple(idx)] - x_before[tuple(idx)]):.1e}"
                          for idx in moved[:4])
        raise AssertionError(f"{what}: call {k + 1} of f saw x with {len(moved)} entries away from their values "
                             f"({shown}); expected exactly one, the entry being perturbed. Differences within "
                             "float round-off (a few units in the last place) are accepted: these are larger.\n"
                             "Hint: put each entry back to its old value (old = x[i] ... x[i] = old) before you "
                             "perturb the next one")


def _test_numgrad():
    x = np.array([[1.0, -2.0], [0.5, 3.0], [-1.5, 0.25]])
    x_before = x.copy()
    calls = []

    def f(v):
        calls.append(np.array(v, copy=True))
        return float(np.sum(v ** 2))

    # For a cubic the centred difference is exactly 3x^2 + h^2; the one-sided ones give 3x^2 +- 3xh + h^2.
    xc = np.array([1.0, -2.0, 0.5])
    with quiet():
        grad_c = numerical_gradient(lambda v: float(np.sum(v ** 3)), xc.copy(), h=0.5)
    check_shape("numerical_gradient of sum(x**3)", grad_c, xc.shape)
    centred = 3 * xc ** 2 + 0.25
    if rel_error(np.asarray(grad_c, dtype=float), centred) > 1e-10:
        for what, value in (("a one-sided difference (f(x + h) - f(x)) / h", centred + 1.5 * xc),
                            ("a one-sided difference (f(x) - f(x - h)) / h", centred - 1.5 * xc),
                            ("(f(x + h) - f(x - h)) / h, without the 2 of 2h", 2 * centred),
                            ("the default step instead of the h argument", 3 * xc ** 2 + 1e-10)):
            if rel_error(np.asarray(grad_c, dtype=float), value) < 1e-6:
                raise AssertionError(f"numerical_gradient of sum(x**3) with h=0.5: your result matches {what}\n"
                                     "Hint: use the centred difference (f(x + h) - f(x - h)) / (2h) with the h "
                                     "argument; its error is of order h**2, a one-sided one's of order h")
        check_close("numerical_gradient of sum(x**3) with h=0.5", grad_c, centred, tol=1e-10,
                    hint="use the h argument, and (f(x + h) - f(x - h)) / (2h)")

    with quiet():
        grad = numerical_gradient(f, x)
    check_shape("numerical_gradient of sum(x**2)", grad, x.shape)
    check_unchanged("x after numerical_gradient", x, x_before, scale=1e-5,
                    hint="put each entry back to its old value after perturbing it (old = x[i] ... x[i] = old)")
    check_close("numerical_gradient of sum(x**2)", grad, 2 * x_before, tol=1e-8,
                hint="the centred difference of x**2 is exactly 2x (up to rounding)")
    if len(calls) != 2 * x.size:
        raise AssertionError(f"numerical_gradient: f was called {len(calls)} times for x of size {x.size}; "
                             f"expected 2 * x.size = {2 * x.size}\nHint: centred differences evaluate f at "
                             "x + h e_i and x - h e_i for every entry i, and nothing else")
    _one_entry_at_a_time(calls, x_before, 1e-5)
    if np.asarray(grad).dtype != np.float64:
        raise AssertionError(f"numerical_gradient: returned dtype {np.asarray(grad).dtype}, expected float64")

    g = np.random.default_rng(3)
    x3 = g.standard_normal((2, 3, 2))
    c = g.standard_normal((2, 3, 2))
    with quiet():
        grad3 = numerical_gradient(lambda v: float(np.sum(np.sin(v) * c)), x3.copy())
    check_close("numerical_gradient of sum(sin(x) * c) on a 3-D x", grad3, np.cos(x3) * c, tol=1e-7,
                hint="loop over every index of x, e.g. with np.ndindex(x.shape)")

    check_raises("numerical_gradient on a float32 x", numerical_gradient,
                 (lambda v: float(np.sum(v)), np.ones(3, dtype=np.float32)), exc_type=TypeError,
                 hint="check x.dtype and raise TypeError unless it is np.float64")


_test_numgrad()

# %% nb="tests numgrad__hidden 4"
# Part 4, hidden tests: other functions, shapes and steps; compared with the course's reference.
### BEGIN HIDDEN TESTS
import numpy as np
import cnnkit.gradcheck
import cnnkit.layers
from cnnkit.grading import check_close, check_raises, check_unchanged, no_calls_to, quiet


def _hidden_numgrad():
    g = np.random.default_rng(12)
    x = g.standard_normal((2, 3, 4))
    W = g.standard_normal((2, 3, 4))
    seen = []
    f = lambda v: (seen.append(np.array(v, copy=True)), float(np.sum(np.tanh(v) * W) + 0.5 * np.sum(v) ** 2))[1]
    x_before = x.copy()
    with quiet(), no_calls_to(cnnkit.layers, cnnkit.gradcheck):
        grad = numerical_gradient(f, x)
        grad_c = numerical_gradient(lambda v: float(np.sum(v ** 3)), np.array([[0.3, -1.2], [2.0, 0.0]]), h=0.1)
        grad_1 = numerical_gradient(lambda v: float(np.exp(v[0])), np.array([0.7]))
    mine = list(seen)
    ref = cnnkit.gradcheck.numerical_gradient(f, x.copy())
    exact = (1 - np.tanh(x) ** 2) * W + np.sum(x)
    check_unchanged("x unchanged (hidden)", x, x_before, scale=1e-5)
    if len(mine) != 2 * x.size:
        raise AssertionError(f"numerical_gradient: f must be called 2 * x.size = {2 * x.size} times, "
                             f"was called {len(mine)} times (hidden)")
    _one_entry_at_a_time(mine, x_before, 1e-5, "numerical_gradient (hidden)")
    check_close("numerical_gradient vs reference (hidden)", grad, ref, tol=1e-8)
    check_close("numerical_gradient vs exact (hidden)", grad, exact, tol=1e-7)
    check_close("numerical_gradient cubic h=0.1 (hidden)", grad_c,
                3 * np.array([[0.3, -1.2], [2.0, 0.0]]) ** 2 + 0.01, tol=1e-9)
    check_close("numerical_gradient 1 entry (hidden)", grad_1, [np.exp(0.7)], tol=1e-8)
    check_raises("numerical_gradient on int (hidden)", numerical_gradient,
                 (lambda v: float(np.sum(v)), np.arange(3)), exc_type=TypeError)
    check_raises("numerical_gradient on float32 (hidden)", numerical_gradient,
                 (lambda v: float(np.sum(v)), np.ones((2, 2), dtype=np.float32)), exc_type=TypeError)


_hidden_numgrad()
### END HIDDEN TESTS

# %% [markdown]
# ## Part 5: A two-layer network (18 points)
#
# Now assemble a classifier from your layers: **affine - ReLU - affine - softmax**. For a batch
# $X$ of shape $(N, D)$ with labels $y$:
#
# $$S_1 = X W_1 + b_1 \;(N \times H), \quad A = \max(0, S_1), \quad S_2 = A W_2 + b_2 \;(N \times C),$$
#
# $$L = \underbrace{-\frac{1}{N}\sum_{i} \log \operatorname{softmax}(S_2)_{i, y_i}}_{\text{data loss}}
#     \; + \; \frac{\lambda}{2}\left(\lVert W_1 \rVert^2 + \lVert W_2 \rVert^2\right).$$
#
# **Regularisation convention:** $\lVert W \rVert^2$ is the sum of the squares of all entries, the
# factor is $\lambda / 2$ (`0.5 * reg`), so its gradient is $\lambda W$; the biases are not
# regularised.
#
# - `__init__`: make `rng = np.random.default_rng(seed)` and fill `self.params` with
#   `W1 = weight_scale * rng.standard_normal((input_dim, hidden_dim))`, then
#   `W2 = weight_scale * rng.standard_normal((hidden_dim, num_classes))` (in that order), and
#   biases `b1`, `b2` of zeros.
# - `loss(X)` (no labels) returns the scores $S_2$; `loss(X, y)` returns `(loss, grads)` where
#   `grads` has the same keys and shapes as `self.params`. Read the parameters from `self.params`
#   each time (training and the tests change them there). Use your functions from parts 1-3: the
#   backward pass runs the forward layers in reverse.

# %% nb="solution twolayer"
class TwoLayerNet:
    """affine - ReLU - affine - softmax classifier with L2 regularisation 0.5 * reg * (||W1||^2 + ||W2||^2).

    params: W1 (D, H), b1 (H,), W2 (H, C), b2 (C,) with D = input_dim, H = hidden_dim,
    C = num_classes.
    """

    def __init__(self, input_dim=64, hidden_dim=100, num_classes=10, weight_scale=1e-2, reg=0.0, seed=0):
        self.reg = reg
        self.params = {}
        ### BEGIN SOLUTION
        rng = np.random.default_rng(seed)
        self.params["W1"] = weight_scale * rng.standard_normal((input_dim, hidden_dim))
        self.params["b1"] = np.zeros(hidden_dim)
        self.params["W2"] = weight_scale * rng.standard_normal((hidden_dim, num_classes))
        self.params["b2"] = np.zeros(num_classes)
        ### END SOLUTION

    def loss(self, X, y=None):
        """X: (N, D); y: (N,) integer labels or None.

        Returns the scores (N, C) if y is None, else (loss, grads) with grads a dict shaped like
        self.params.
        """
        W1, b1 = self.params["W1"], self.params["b1"]
        W2, b2 = self.params["W2"], self.params["b2"]
        ### BEGIN SOLUTION
        s1, cache1 = affine_forward(X, W1, b1)
        a1, cache_relu = relu_forward(s1)
        scores, cache2 = affine_forward(a1, W2, b2)
        if y is None:
            return scores
        data_loss, dscores = softmax_loss(scores, y)
        loss = data_loss + 0.5 * self.reg * (np.sum(W1 ** 2) + np.sum(W2 ** 2))
        da1, dW2, db2 = affine_backward(dscores, cache2)
        ds1 = relu_backward(da1, cache_relu)
        _, dW1, db1 = affine_backward(ds1, cache1)
        grads = {"W1": dW1 + self.reg * W1, "b1": db1, "W2": dW2 + self.reg * W2, "b2": db2}
        return loss, grads
        ### END SOLUTION


# %% [markdown]
# Gradient-check your network with your own `numerical_gradient` (small sizes, float64). Each
# relative error should be below about $10^{-7}$.

# %%
net_chk = TwoLayerNet(input_dim=5, hidden_dim=6, num_classes=3, weight_scale=0.5, reg=0.1, seed=1)
X_chk = np.random.default_rng(1).standard_normal((4, 5))
y_chk = np.array([0, 2, 1, 2])
loss_chk, grads_chk = net_chk.loss(X_chk, y_chk)
print(f"loss: {loss_chk:.4f}")
for name in ("W1", "b1", "W2", "b2"):
    num = numerical_gradient(lambda _: net_chk.loss(X_chk, y_chk)[0], net_chk.params[name])
    report(f"d{name}", rel_error(grads_chk[name], num))

# %% nb="tests twolayer__tests 9"
# Part 5, visible tests: initialisation, scores, the loss, gradients against numerical ones. The
# network runs on the course's layers (cnnkit.layers) in place of yours, so a mistake in parts
# 1-3 is not charged again here.
import numpy as np
import cnnkit.layers
from cnnkit.grading import check_close, check_shape, quiet, using
from cnnkit.gradcheck import numerical_gradient as _ref_numerical_gradient, rel_error

_COURSE_LAYERS = {name: getattr(cnnkit.layers, name) for name in
                  ("affine_forward", "affine_backward", "relu_forward", "relu_backward", "softmax_loss")}


def _course_twolayer(params, X, y, reg):
    """The two-layer network's scores, or (loss, grads), from the course's layers."""
    L = cnnkit.layers
    s1, c1 = L.affine_forward(X, params["W1"], params["b1"])
    a1, cr = L.relu_forward(s1)
    s2, c2 = L.affine_forward(a1, params["W2"], params["b2"])
    if y is None:
        return s2
    loss, ds = L.softmax_loss(s2, y)
    loss += 0.5 * reg * (np.sum(params["W1"] ** 2) + np.sum(params["W2"] ** 2))
    da, dW2, db2 = L.affine_backward(ds, c2)
    _, dW1, db1 = L.affine_backward(L.relu_backward(da, cr), c1)
    return loss, {"W1": dW1 + reg * params["W1"], "b1": db1, "W2": dW2 + reg * params["W2"], "b2": db2}


def _test_twolayer():
    with quiet():
        net = TwoLayerNet(input_dim=200, hidden_dim=100, num_classes=10, weight_scale=0.05, seed=3)
        same = TwoLayerNet(input_dim=200, hidden_dim=100, num_classes=10, weight_scale=0.05, seed=3)
        other = TwoLayerNet(input_dim=200, hidden_dim=100, num_classes=10, weight_scale=0.05, seed=4)
    if not isinstance(net.params, dict) or sorted(net.params) != ["W1", "W2", "b1", "b2"]:
        raise AssertionError(f"TwoLayerNet.params: expected a dict with keys W1, b1, W2, b2, got "
                             f"{sorted(net.params) if isinstance(net.params, dict) else type(net.params).__name__}")
    for name, shape in (("W1", (200, 100)), ("b1", (100,)), ("W2", (100, 10)), ("b2", (10,))):
        check_shape(f"params['{name}']", net.params[name], shape)
    check_close("params['b1']", net.params["b1"], np.zeros(100), hint="biases start at zero")
    check_close("params['b2']", net.params["b2"], np.zeros(10), hint="biases start at zero")
    std = float(np.std(net.params["W1"]))
    if not 0.045 < std < 0.055:
        raise AssertionError(f"params['W1']: standard deviation {std:.4f}, expected about weight_scale = 0.05\n"
                             "Hint: weight_scale * rng.standard_normal(shape)")
    check_close("W1 for the same seed", same.params["W1"], net.params["W1"], tol=1e-15,
                hint="make rng = np.random.default_rng(seed) and draw W1 from it")
    if np.allclose(other.params["W1"], net.params["W1"]):
        raise AssertionError("TwoLayerNet: seeds 3 and 4 gave the same W1\nHint: use the seed argument")

    g = np.random.default_rng(0)
    with quiet():
        net = TwoLayerNet(input_dim=5, hidden_dim=7, num_classes=4, weight_scale=1.0, reg=0.1, seed=0)
    params = {"W1": g.standard_normal((5, 7)), "b1": g.standard_normal(7),
              "W2": g.standard_normal((7, 4)), "b2": g.standard_normal(4)}
    net.params = params
    X = g.standard_normal((3, 5))
    y = np.array([3, 0, 1])
    with quiet(), using(**_COURSE_LAYERS):
        scores = net.loss(X)
        loss, grads = net.loss(X, y)
        net.reg = 0.0
        loss_noreg, _ = net.loss(X, y)
        net.reg = 0.1
    if isinstance(scores, tuple):
        raise AssertionError("TwoLayerNet.loss(X) without labels: expected the scores array, got a tuple\n"
                             "Hint: return the scores before computing the loss when y is None")
    check_close("TwoLayerNet.loss(X) scores", scores, _course_twolayer(params, X, None, 0.1), hint="affine - ReLU - affine")
    penalty = 0.05 * (np.sum(params["W1"] ** 2) + np.sum(params["W2"] ** 2))
    with_b = 0.05 * sum(np.sum(v ** 2) for v in params.values())
    if abs((loss - loss_noreg) - with_b) < 1e-9 * abs(with_b):
        raise AssertionError("loss(reg=0.1) - loss(reg=0): your penalty includes the biases\n"
                             "Hint: biases are not regularised: 0.5 * reg * (sum(W1**2) + sum(W2**2))")
    check_close("loss(reg=0.1) - loss(reg=0)", loss - loss_noreg, penalty,
                hint="the penalty is 0.5 * reg * (sum(W1**2) + sum(W2**2)); biases are not regularised")
    check_close("loss(reg=0)", loss_noreg, _course_twolayer(params, X, y, 0.0)[0], tol=1e-9,
                hint="data loss: the mean softmax cross-entropy of the scores")
    for name in ("W1", "b1", "W2", "b2"):
        check_shape(f"grads['{name}']", grads[name], params[name].shape)
        num = _ref_numerical_gradient(lambda v, name=name: _course_twolayer({**params, name: v}, X, y, 0.1)[0],
                                      params[name].copy())
        if name.startswith("W") and np.allclose(np.asarray(grads[name]), num - 0.1 * params[name], rtol=1e-5, atol=1e-7):
            raise AssertionError(f"grads['{name}']: the gradient of the data loss is right, but the gradient of the "
                                 f"penalty is missing\nHint: add reg * {name} to the gradient of {name}")
        check_close(f"grads['{name}']", grads[name], num, tol=1e-6,
                    hint="run the layers' backward passes in reverse order; add reg * W for the weights")


_test_twolayer()

# %% nb="tests twolayer__hidden 9"
# Part 5, hidden tests: other sizes, seeds and reg, compared with a reference built from cnnkit.layers.
### BEGIN HIDDEN TESTS
import numpy as np
import cnnkit.gradcheck
import cnnkit.layers
from cnnkit.grading import check_close, check_shape, no_calls_to, quiet, using

_ref_twolayer = _course_twolayer


def _hidden_twolayer():
    g = np.random.default_rng(77)
    D, H, C, N, reg = 9, 6, 5, 8, 0.3
    with quiet(), no_calls_to(cnnkit.layers, cnnkit.gradcheck):
        net = TwoLayerNet(input_dim=D, hidden_dim=H, num_classes=C, weight_scale=0.7, reg=reg, seed=5)
    for name, shape in (("W1", (D, H)), ("b1", (H,)), ("W2", (H, C)), ("b2", (C,))):
        check_shape(f"params['{name}'] (hidden)", net.params[name], shape)
    draw = np.random.default_rng(5)
    check_close("params['W1'] drawn from default_rng(seed) (hidden)", net.params["W1"],
                0.7 * draw.standard_normal((D, H)), tol=1e-12)
    check_close("params['W2'] drawn after W1 (hidden)", net.params["W2"], 0.7 * draw.standard_normal((H, C)), tol=1e-12)
    net.params = {**net.params, "b1": g.standard_normal(H) * 0.5, "b2": g.standard_normal(C) * 0.5}
    X = g.standard_normal((N, D))
    y = g.integers(0, C, size=N)
    params = {k: v.copy() for k, v in net.params.items()}
    with quiet(), no_calls_to(cnnkit.layers, cnnkit.gradcheck), using(**_COURSE_LAYERS):
        scores = net.loss(X)
        loss, grads = net.loss(X, y)
    scores_ref = _ref_twolayer(params, X, None, reg)
    loss_ref, grads_ref = _ref_twolayer(params, X, y, reg)
    check_close("TwoLayerNet scores (hidden)", scores, scores_ref, tol=1e-9)
    check_close("TwoLayerNet loss (hidden)", loss, loss_ref, tol=1e-9)
    for name in ("W1", "b1", "W2", "b2"):
        check_close(f"TwoLayerNet grads['{name}'] (hidden)", grads[name], grads_ref[name], tol=1e-8)
        num = cnnkit.gradcheck.numerical_gradient(lambda _: _ref_twolayer(params, X, y, reg)[0], params[name])
        check_close(f"TwoLayerNet grads['{name}'] vs numerical (hidden)", grads[name], num, tol=1e-6)


_hidden_twolayer()
### END HIDDEN TESTS

# %% [markdown]
# ## Part 6: Training on real digits (16 points)
#
# **Minibatch SGD.** Write `train`, which changes `model.params` in place:
#
# 1. Make `rng = np.random.default_rng(seed)` once, before the first epoch.
# 2. For each of `num_epochs` epochs: shuffle the training indices with `rng.permutation(N)` and
#    cut them into consecutive batches of `batch_size` (the last batch may be smaller, so every
#    example is used exactly once per epoch). For each batch, call
#    `loss, grads = model.loss(X_batch, y_batch)` and take a step `p -= learning_rate * grads[name]`
#    for every parameter.
# 3. At the end of each epoch, append to the history the mean of that epoch's batch losses
#    (`"train_loss"`), the accuracy on the whole training set (`"train_acc"`) and on the
#    validation set (`"val_acc"`), both with the `accuracy` helper below; then multiply the
#    learning rate by `lr_decay`.
#
# Return the history, a dict of three lists with one entry per epoch.

# %% nb="solution train"
def accuracy(model, X, y):
    """Fraction of rows of X whose highest score is the label y."""
    return float(np.mean(np.argmax(model.loss(X), axis=1) == y))


def train(model, X_train, y_train, X_val, y_val, learning_rate=0.1, lr_decay=1.0, num_epochs=10,
          batch_size=64, seed=0):
    """Minibatch SGD on model.params (changed in place).

    X_train: (N, D), y_train: (N,); X_val, y_val likewise. Returns history, a dict with lists
    'train_loss' (mean batch loss of each epoch), 'train_acc' and 'val_acc' (after each epoch).
    """
    history = {"train_loss": [], "train_acc": [], "val_acc": []}
    ### BEGIN SOLUTION
    rng = np.random.default_rng(seed)
    N = X_train.shape[0]
    lr = learning_rate
    for _ in range(num_epochs):
        order = rng.permutation(N)
        losses = []
        for start in range(0, N, batch_size):
            idx = order[start:start + batch_size]
            loss, grads = model.loss(X_train[idx], y_train[idx])
            losses.append(loss)
            for name in model.params:
                model.params[name] -= lr * grads[name]
        history["train_loss"].append(float(np.mean(losses)))
        history["train_acc"].append(accuracy(model, X_train, y_train))
        history["val_acc"].append(accuracy(model, X_val, y_val))
        lr *= lr_decay
    ### END SOLUTION
    return history


# %% nb="tests train__tests 6"
# Part 6, visible tests: SGD steps on a tiny problem. The model's loss is the course's two-layer
# network (from the part 5 tests), so a mistake in parts 1-5 is not charged again here.
import numpy as np
from cnnkit.grading import check_close, quiet, reference


def _course_model(kw, seed):
    """A TwoLayerNet whose params are drawn as part 5 says and whose loss is the course's."""
    with quiet():
        net = TwoLayerNet(**kw)
    rng = np.random.default_rng(seed)
    D, H, C, ws = kw["input_dim"], kw["hidden_dim"], kw["num_classes"], kw["weight_scale"]
    net.params = {"W1": ws * rng.standard_normal((D, H)), "b1": np.zeros(H),
                  "W2": ws * rng.standard_normal((H, C)), "b2": np.zeros(C)}
    # the notebook's signature, loss(X, y=None): a train() that calls model.loss(X=..., y=...) works
    net.loss = reference(lambda X, y=None: _course_twolayer(net.params, X, y, kw["reg"]))
    return net


def _test_train():
    g = np.random.default_rng(5)
    X, y = g.standard_normal((12, 5)), g.integers(0, 3, size=12)
    Xv, yv = g.standard_normal((6, 5)), g.integers(0, 3, size=6)
    kw = dict(input_dim=5, hidden_dim=7, num_classes=3, weight_scale=0.5, reg=0.1, seed=1)
    net = _course_model(kw, 1)
    p0 = {k: np.array(v, copy=True) for k, v in net.params.items()}

    def grads_at(params):
        return _course_twolayer(params, X, y, kw["reg"])

    calls, original = [], net.loss

    def recording_loss(X, y=None):
        out = original(X, y)
        if y is not None:
            calls.append((len(X), out[0]))
        return out

    net.loss = recording_loss
    # One batch holds the whole set, so each epoch is one step: p1 = p0 - 0.3 g(p0), p2 = p1 - 0.15 g(p1).
    with quiet():
        hist = train(net, X, y, Xv, yv, learning_rate=0.3, lr_decay=0.5, num_epochs=2, batch_size=100, seed=0)
        loss0, g0 = grads_at(p0)
        p1 = {k: p0[k] - 0.3 * g0[k] for k in p0}
        loss1, g1 = grads_at(p1)
        p2 = {k: p1[k] - 0.15 * g1[k] for k in p1}
    if len(calls) != 2 or any(n != 12 for n, _ in calls):
        raise AssertionError(f"train: with 12 examples, batch_size=100 and 2 epochs, expected 2 calls of "
                             f"model.loss(X_batch, y_batch) with 12 rows each; got batch sizes {[n for n, _ in calls]}\n"
                             "Hint: the last batch may be smaller: for start in range(0, N, batch_size): "
                             "idx = order[start:start + batch_size]")
    for k in ("W1", "b1", "W2", "b2"):
        check_close(f"params['{k}'] after 2 full-batch epochs", net.params[k], p2[k], tol=1e-9,
                    hint="p -= learning_rate * grads[name] for every parameter; after each epoch "
                         "learning_rate *= lr_decay")
    if not isinstance(hist, dict) or any(len(hist.get(key, [])) != 2 for key in ("train_loss", "train_acc", "val_acc")):
        raise AssertionError("train: expected a history dict with lists 'train_loss', 'train_acc', 'val_acc' "
                             "of one entry per epoch (2 here)")
    check_close("history['train_loss']", hist["train_loss"], [loss0, loss1], tol=1e-9,
                hint="the mean of the batch losses of each epoch, as model.loss returned them")
    params = {k: np.array(v) for k, v in net.params.items()}
    acc_v = float(np.mean(np.argmax(_course_twolayer(params, Xv, None, 0.0), axis=1) == yv))
    acc_t = float(np.mean(np.argmax(_course_twolayer(params, X, None, 0.0), axis=1) == y))
    check_close("history['val_acc'][-1]", hist["val_acc"][-1], acc_v, hint="accuracy(model, X_val, y_val) after the epoch")
    check_close("history['train_acc'][-1]", hist["train_acc"][-1], acc_t, hint="accuracy(model, X_train, y_train)")

    # Minibatches: 12 examples in batches of 5 give batches of 5, 5 and 2 in every epoch.
    net = _course_model(kw, 1)
    calls.clear()
    original = net.loss
    net.loss = recording_loss
    with quiet():
        hist = train(net, X, y, Xv, yv, learning_rate=0.1, num_epochs=1, batch_size=5, seed=0)
    sizes = sorted(n for n, _ in calls)
    if sizes != [2, 5, 5]:
        raise AssertionError(f"train: 12 examples with batch_size=5 should give batches of 5, 5 and 2 in one epoch; "
                             f"got {sizes}\nHint: the last batch may be smaller; walk through one permutation of "
                             "all N indices per epoch")
    check_close("history['train_loss'] with 3 batches", hist["train_loss"], [np.mean([l for _, l in calls])],
                tol=1e-9, hint="the plain mean of the epoch's batch losses")


_test_train()

# %% nb="tests train__hidden 4"
# Part 6, hidden tests: train on other settings, against SGD steps of the course's network.
### BEGIN HIDDEN TESTS
import numpy as np
import cnnkit.gradcheck
import cnnkit.layers
from cnnkit.grading import check_close, no_calls_to, quiet


def _hidden_train():
    g = np.random.default_rng(8)
    X, y = g.standard_normal((10, 4)), g.integers(0, 5, size=10)
    Xv, yv = g.standard_normal((3, 4)), g.integers(0, 5, size=3)
    kw = dict(input_dim=4, hidden_dim=3, num_classes=5, weight_scale=0.8, reg=0.05, seed=2)
    net = _course_model(kw, 2)
    p = {k: np.array(v, copy=True) for k, v in net.params.items()}
    losses = []
    for lr in (0.2, 0.2 * 0.7, 0.2 * 0.7 ** 2):
        loss, grads = _course_twolayer(p, X, y, kw["reg"])
        losses.append(loss)
        p = {k: p[k] - lr * grads[k] for k in p}
    with quiet(), no_calls_to(cnnkit.layers, cnnkit.gradcheck):
        hist = train(net, X, y, Xv, yv, learning_rate=0.2, lr_decay=0.7, num_epochs=3, batch_size=10, seed=4)
    for k in p:
        check_close(f"params['{k}'] after 3 full-batch epochs (hidden)", net.params[k], p[k], tol=1e-9)
    check_close("history['train_loss'] (hidden)", hist["train_loss"], losses, tol=1e-9)
    for key in ("train_acc", "val_acc"):
        if len(hist[key]) != 3:
            raise AssertionError(f"history['{key}']: expected 3 entries, got {len(hist[key])} (hidden)")

    net = _course_model(kw, 2)
    sizes, losses, original = [], [], net.loss

    def recording(X, y=None):
        out = original(X, y)
        if y is not None:
            sizes.append(len(X))
            losses.append(out[0])
        return out

    net.loss = recording
    with quiet(), no_calls_to(cnnkit.layers, cnnkit.gradcheck):
        hist = train(net, X, y, Xv, yv, learning_rate=0.05, num_epochs=2, batch_size=4, seed=1)
    if sorted(sizes) != [2, 2, 4, 4, 4, 4]:
        raise AssertionError(f"train: 10 examples, batch_size=4, 2 epochs: expected batches 4, 4, 2 per epoch, "
                             f"got {sizes} (hidden)")
    check_close("history['train_loss'] with 3 batches per epoch (hidden)", hist["train_loss"],
                [np.mean(losses[:3]), np.mean(losses[3:])], tol=1e-9)


_hidden_train()
### END HIDDEN TESTS
# %% [markdown]
# **Train on the digits.** The data are 1,797 real handwritten digits (8x8 grey images, scaled to
# $[0, 1]$) that ship with scikit-learn, split into training, validation and test sets; we
# flatten each image to 64 numbers.

# %%
data = load_digits(flatten=True, dtype=np.float64)
print(f"{len(data.y_train) + len(data.y_val) + len(data.y_test)} images: {data}")

# %% [markdown]
# Build a `TwoLayerNet` for 64 inputs and 10 classes, and train it with your `train` so that
# **the validation accuracy reaches at least 0.93**; the hidden test also asks for at least
# **0.90 on the test set**, which you never train or tune on. Keep the result in a variable named
# `model` and the history in `history`, and your choices in two dicts: `net_settings`
# (`hidden_dim`, `weight_scale`, `reg`) and `train_settings` (`learning_rate`, `lr_decay`,
# `num_epochs`, `batch_size`), both with seed 0 as below. The tests train the course's own
# two-layer network as `train` is specified with these settings, and compute the accuracies
# from its parameters themselves (so a mistake in parts 1-5, or in `train`, is not charged again
# here): use these dicts for `model` too, so that what you see is what the tests measure. A hidden layer of about 100
# units and a few dozen epochs are enough, and the training should take a few seconds. If the
# loss does not fall, try a larger learning rate; if it jumps about or becomes `nan`, a smaller one.

# %% nb="solution digits"
# Choose the settings, then build `model`, a TwoLayerNet for 64 inputs and 10 classes, and train it.
### BEGIN SOLUTION
net_settings = dict(hidden_dim=100, weight_scale=0.1, reg=1e-3)
train_settings = dict(learning_rate=0.5, lr_decay=0.95, num_epochs=30, batch_size=64)
### END SOLUTION
model = TwoLayerNet(input_dim=64, num_classes=10, seed=0, **net_settings)
history = train(model, data.X_train, data.y_train, data.X_val, data.y_val, seed=0, **train_settings)

# %%
print(f"after {len(history['val_acc'])} epochs: train accuracy {history['train_acc'][-1]:.4f}, "
      f"validation accuracy {history['val_acc'][-1]:.4f}")
plot_history(history)
plt.show()

# %% nb="tests digits__tests 6"
# Part 6: the course's two-layer network trained by minibatch SGD as `train` is specified, with
# your `net_settings` and `train_settings`, must reach a validation accuracy of at least 0.93
# (checked here) and a test accuracy of at least 0.90 (hidden). Your `train` is graded above.
import numpy as np
from cnnkit.data import load_digits as _load_digits
from cnnkit.grading import quiet


def _digits_accuracy(params, X, y):
    scores = np.maximum(0, X @ params["W1"] + params["b1"]) @ params["W2"] + params["b2"]
    return float(np.mean(np.argmax(scores, axis=1) == y))


def _settings(name, value, keys):
    if not isinstance(value, dict) or sorted(value) != sorted(keys):
        got = sorted(value) if isinstance(value, dict) else type(value).__name__
        raise AssertionError(f"{name}: expected a dict with the keys {sorted(keys)}, got {got}\n"
                             "Hint: keep the settings cell as it is given and fill in the values")
    return dict(value)


for _name in ("net_settings", "train_settings"):
    if _name not in globals():
        raise AssertionError(f"{_name}: there is no variable named `{_name}`; run your training cell above first")
_net_kw = _settings("net_settings", net_settings, ("hidden_dim", "weight_scale", "reg"))
_net_kw["hidden_dim"] = int(_net_kw["hidden_dim"])
_train_kw = _settings("train_settings", train_settings, ("learning_rate", "lr_decay", "num_epochs", "batch_size"))


def _course_sgd(X, y, hidden_dim, weight_scale, reg, learning_rate, lr_decay, num_epochs, batch_size, seed=0):
    """Part 6's training, done here with the course's network: params after num_epochs epochs."""
    rng = np.random.default_rng(seed)
    p = {"W1": weight_scale * rng.standard_normal((X.shape[1], hidden_dim)), "b1": np.zeros(hidden_dim),
         "W2": weight_scale * rng.standard_normal((hidden_dim, 10)), "b2": np.zeros(10)}
    rng, lr = np.random.default_rng(seed), learning_rate
    for _ in range(int(num_epochs)):
        order = rng.permutation(len(X))
        for start in range(0, len(X), int(batch_size)):
            idx = order[start:start + int(batch_size)]
            _, grads = _course_twolayer(p, X[idx], y[idx], reg)
            p = {k: p[k] - lr * grads[k] for k in p}
        lr *= lr_decay
    return p


_digits = _load_digits(flatten=True, dtype=np.float64)
if not float(_net_kw["weight_scale"]) > 0:
    raise AssertionError(f"settings: weight_scale must be positive, got {_net_kw['weight_scale']}: with zero weights "
                         "every hidden unit gets the same (zero) gradient and the network cannot learn")
if not (0 < float(_train_kw["num_epochs"]) <= 200 and 1 <= float(_train_kw["batch_size"])
        and 1 <= float(_net_kw["hidden_dim"]) <= 1000):
    raise AssertionError("settings: expected 1-200 epochs, a batch size of at least 1 and 1-1000 hidden units, got "
                         f"{_train_kw['num_epochs']}, {_train_kw['batch_size']} and {_net_kw['hidden_dim']}")
with quiet(), np.errstate(all="ignore"):
    _digits_params = _course_sgd(_digits.X_train, _digits.y_train, **_net_kw, **_train_kw)
_val_acc = _digits_accuracy(_digits_params, _digits.X_val, _digits.y_val)
if not _val_acc >= 0.93:
    raise AssertionError(f"settings: the course's network trained with your settings reaches a validation accuracy "
                         f"of {_val_acc:.4f}, below 0.93\n"
                         "Hint: check the loss curve; tune the learning rate and the number of epochs first")
### BEGIN HIDDEN TESTS
from cnnkit.grading import check_close, no_calls_to
import cnnkit.gradcheck
import cnnkit.layers

_test_acc = _digits_accuracy(_digits_params, _digits.X_test, _digits.y_test)
if _test_acc < 0.90:
    raise AssertionError(f"settings: test accuracy {_test_acc:.4f} is below 0.90 (hidden test)")
### END HIDDEN TESTS

# %% [markdown]
# ## Part 7: Two derivations (20 points, graded by hand)
#
# Write your answers in the markdown cells below, with LaTeX (`$...$`, `$$...$$`). Show the
# steps, not only the results; state the shape of every matrix you use.
#
# ### 7a: Softmax and cross-entropy (10 points)
#
# For one example with scores $s \in \mathbb{R}^C$, probabilities $p_a = e^{s_a} / \sum_b e^{s_b}$,
# label $y$ and its one-hot vector $z$, the loss is $L = -\sum_a z_a \log p_a = -\log p_y$.
#
# 1. Show that the Jacobian of the softmax is $D_{ab} = \dfrac{\partial p_a}{\partial s_b} = p_a(\delta_{ab} - p_b)$,
#    where $\delta_{ab}$ is 1 if $a = b$ and 0 otherwise.
# 2. Use it and the chain rule to show $\dfrac{\partial L}{\partial s} = p - z$.
# 3. In one or two sentences: why does your `softmax_loss` divide this gradient by $N$?

# %% [markdown] nb="written deriv_softmax 10"
# **1. The Jacobian.** Write $Z = \sum_c e^{s_c}$, so $p_a = e^{s_a}/Z$ and
# $\partial Z / \partial s_b = e^{s_b}$. By the quotient rule,
#
# $$\frac{\partial p_a}{\partial s_b} = \frac{\delta_{ab}\, e^{s_a}\, Z - e^{s_a} e^{s_b}}{Z^2}
#   = \frac{e^{s_a}}{Z}\left(\delta_{ab} - \frac{e^{s_b}}{Z}\right) = p_a(\delta_{ab} - p_b).$$
#
# So $D = \operatorname{diag}(p) - p\,p^\top$, a symmetric $C \times C$ matrix.
#
# **2. The gradient.** $L = -\sum_a z_a \log p_a$, so $\partial L / \partial p_a = -z_a / p_a$
# (only the entry $a = y$ is nonzero: $-1/p_y$). By the chain rule,
#
# $$\frac{\partial L}{\partial s_b} = \sum_a \frac{\partial L}{\partial p_a}\,\frac{\partial p_a}{\partial s_b}
#   = \sum_a \left(-\frac{z_a}{p_a}\right) p_a(\delta_{ab} - p_b)
#   = -\sum_a z_a \delta_{ab} + p_b \sum_a z_a = -z_b + p_b,$$
#
# using $\sum_a z_a = 1$. In vector form $\partial L / \partial s = D^\top\,\partial L / \partial p = p - z$.
#
# **3. The factor $1/N$.** The batch loss is the mean $\frac{1}{N}\sum_i L_i$, and each $L_i$
# depends only on its own row of scores, so $\partial L / \partial s_i = (p_i - z_i)/N$. The mean
# keeps the size of the loss and of the gradient independent of the batch size.
#
# *Marking guide (10):* quotient rule or log-derivative giving $D_{ab}$, both cases $a = b$ and
# $a \ne b$ covered (4); $\partial L / \partial p$ correct (2); chain-rule sum, use of
# $\sum_a z_a = 1$ to reach $p - z$ (3); the mean over the batch (1).

# %% [markdown]
# ### 7b: The gradient for the first layer, and what the ReLU is for (10 points)
#
# Use the batch notation of part 5: $X$ is $N \times D$, $S_1 = X W_1 + \mathbf{1} b_1^\top$,
# $A = \max(0, S_1)$, $S_2 = A W_2 + \mathbf{1} b_2^\top$, and let $G_2 = \partial L_\text{data} / \partial S_2 = (P - Z)/N$
# (an $N \times C$ matrix, from 7a) where $L = L_\text{data} + \frac{\lambda}{2}(\lVert W_1\rVert^2 + \lVert W_2\rVert^2)$.
#
# 1. Derive $\partial L / \partial W_1$ and $\partial L / \partial b_1$ as matrix expressions in
#    $X$, $S_1$, $W_1$, $W_2$, $G_2$ and $\lambda$, giving the shape of each intermediate result.
# 2. Remove the ReLU ($A = S_1$). Show that the network then computes a single affine map
#    $X W + \mathbf{1} b^\top$ (give $W$ and $b$), and say in one or two sentences what this means
#    for the functions it can represent, however many such layers are stacked.

# %% [markdown] nb="written deriv_twolayer 10"
# **1. Backward through the layers.** Go backwards from $G_2$ ($N \times C$):
#
# - $S_2 = A W_2 + \mathbf{1} b_2^\top$ gives $\dfrac{\partial L}{\partial A} = G_2 W_2^\top$
#   ($N \times C$ times $C \times H$: $N \times H$).
# - The ReLU acts element-wise with derivative $\mathbb{I}[S_1 > 0]$, so
#   $G_1 = \dfrac{\partial L}{\partial S_1} = (G_2 W_2^\top) \odot \mathbb{I}[S_1 > 0]$ ($N \times H$).
# - $S_1 = X W_1 + \mathbf{1} b_1^\top$, so with the regularisation term
#
# $$\frac{\partial L}{\partial W_1} = X^\top G_1 + \lambda W_1
#   = X^\top\left[(G_2 W_2^\top) \odot \mathbb{I}[S_1 > 0]\right] + \lambda W_1 \quad (D \times N \cdot N \times H = D \times H),$$
#
# $$\frac{\partial L}{\partial b_1} = G_1^\top \mathbf{1} = \sum_{n=1}^{N} (G_1)_{n,:} \quad (H,).$$
#
# Entry-wise: $\partial L / \partial (W_1)_{dh} = \sum_n X_{nd}\,\mathbb{I}[(S_1)_{nh} > 0] \sum_c (G_2)_{nc} (W_2)_{hc} + \lambda (W_1)_{dh}$;
# the $\lambda W_1$ term comes from $\frac{\partial}{\partial W_1} \frac{\lambda}{2}\lVert W_1 \rVert^2$.
#
# **2. Without the ReLU** $S_2 = (X W_1 + \mathbf{1} b_1^\top) W_2 + \mathbf{1} b_2^\top
# = X (W_1 W_2) + \mathbf{1}(W_2^\top b_1 + b_2)^\top$, i.e. one affine map with
# $W = W_1 W_2$ ($D \times C$) and $b = W_2^\top b_1 + b_2$ ($C$). A stack of any number of affine
# layers is still one affine map (a product of matrices is a matrix), so the deeper network can
# represent nothing a single linear classifier cannot: its class boundaries stay hyperplanes,
# and a narrow hidden layer only restricts $W$ to rank at most $H$. The nonlinearity between the
# layers is what lets depth add expressive power. (In the gradient, the mask
# $\mathbb{I}[S_1 > 0]$ disappears: $\partial L / \partial W_1 = X^\top G_2 W_2^\top + \lambda W_1$.)
#
# *Marking guide (10):* $\partial L / \partial A$ with the transpose in the right place (2); the
# ReLU mask, element-wise (2); $X^\top G_1$ plus $\lambda W_1$ with shapes (2); $b_1$ as the column
# sum (1); the collapse with $W$ and $b$ given (2); the consequence stated (1).
