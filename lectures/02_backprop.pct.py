# %% [markdown]
# # Lecture 02: Backpropagation, derived
#
# A neural network is trained by nudging every weight against the gradient of a loss. This
# lecture derives those gradients by hand, in vector form, for four small networks:
#
# 1. one layer, sigmoid output, L2 loss;
# 2. two layers, sigmoid hidden and output units, L2 loss;
# 3. one layer, softmax output, cross-entropy loss;
# 4. two layers, sigmoid hidden units, softmax output, cross-entropy loss.
#
# Every formula is followed by a check. There are two independent referees: **centred finite
# differences** (which only need the forward pass) and **`torch.autograd`** (which differentiates
# the forward pass for us). Both run in float64; at the end we see why float32 is not good enough
# for this job. In between, the gradients are put to work: gradient descent, the learning rate,
# and the classic twenty-line numpy training loop, then the same loop with autograd.

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch
from threadpoolctl import threadpool_limits

from cnnkit.device import pick_device, seed_everything
from cnnkit.gradcheck import numerical_gradient, rel_error, report
from cnnkit.plots import plot_curves

rng = seed_everything(0)
# Everything here is small and in float64, which Apple's MPS backend does not support,
# so this lecture computes on the CPU on every machine.
device = pick_device("cpu")
# One thread for numpy's and torch's matrix products: the results then do not depend on the
# number of cores, and the training loops below stay quick on a busy machine.
threadpool_limits(1)
torch.set_num_threads(1)
print("device:", device)

# %% [markdown]
# ## Notation and the chain rule in vector form
#
# Vectors are columns. For a scalar loss $L$ and a vector $\mathbf{v}$, the gradient
# $\frac{\partial L}{\partial \mathbf{v}}$ is the column of partial derivatives
# $\frac{\partial L}{\partial v_i}$: it has the shape of $\mathbf{v}$. A matrix $\mathbf{W}$ gets a
# gradient of the shape of $\mathbf{W}$.
#
# If a vector $\mathbf{a}$ is computed from a vector $\mathbf{b}$, its Jacobian $\mathbf{J}$ has the
# entries $J_{ij} = \frac{\partial a_i}{\partial b_j}$. When $L$ depends on $\mathbf{b}$ only through
# $\mathbf{a}$, the chain rule sums over every path from $b_j$ to $L$:
#
# $$
# \frac{\partial L}{\partial b_j} = \sum_i \frac{\partial a_i}{\partial b_j}\,\frac{\partial L}{\partial a_i}
# \qquad\Longleftrightarrow\qquad
# \frac{\partial L}{\partial \mathbf{b}} = \mathbf{J}^T \frac{\partial L}{\partial \mathbf{a}} .
# $$
#
# Slides often write $\frac{\partial \mathbf{a}}{\partial \mathbf{b}}$ for $\mathbf{J}^T$, so that
# the rule reads $\frac{\partial L}{\partial \mathbf{b}} = \frac{\partial \mathbf{a}}{\partial \mathbf{b}}
# \frac{\partial L}{\partial \mathbf{a}}$. Backpropagation is this rule applied layer by layer, from
# the loss back to the input: each step multiplies the incoming gradient by one transposed Jacobian.
# Two kinds of step cover cases 1 and 2; the softmax of cases 3 and 4 adds a third.
#
# **An element-wise function** $\mathbf{p} = \sigma(\mathbf{s})$, with the sigmoid
# $\sigma(s) = \frac{1}{1 + e^{-s}}$. Each $p_i$ depends on $s_i$ alone, so
# $\mathbf{J} = \operatorname{diag}(\sigma'(s_i))$, and differentiating gives
# $\sigma'(s) = \frac{e^{-s}}{(1+e^{-s})^2} = \sigma(s)\,(1 - \sigma(s))$. Multiplying by a diagonal
# matrix is an element-wise (Hadamard) product, written $\odot$:
#
# $$
# \frac{\partial L}{\partial \mathbf{s}} = (1 - \sigma(\mathbf{s})) \odot \sigma(\mathbf{s}) \odot \frac{\partial L}{\partial \mathbf{p}} .
# $$
#
# **An affine map** $\mathbf{s} = \mathbf{W}\mathbf{x} + \mathbf{b}$, that is
# $s_j = \mathbf{w}_j^T\mathbf{x} + b_j = \sum_k W_{jk} x_k + b_j$, where $\mathbf{w}_j^T$ is row $j$ of
# $\mathbf{W}$. The weight $W_{jk}$ reaches the loss only through $s_j$, with
# $\frac{\partial s_j}{\partial W_{jk}} = x_k$; so $\frac{\partial L}{\partial W_{jk}} =
# \frac{\partial L}{\partial s_j}\, x_k$, which is an outer product. Likewise
# $\frac{\partial s_j}{\partial b_j} = 1$, and the Jacobian of $\mathbf{s}$ with respect to
# $\mathbf{x}$ is $\mathbf{W}$ itself:
#
# $$
# \frac{\partial L}{\partial \mathbf{W}} = \frac{\partial L}{\partial \mathbf{s}}\,\mathbf{x}^T, \qquad
# \frac{\partial L}{\partial \mathbf{b}} = \frac{\partial L}{\partial \mathbf{s}}, \qquad
# \frac{\partial L}{\partial \mathbf{x}} = \mathbf{W}^T \frac{\partial L}{\partial \mathbf{s}} .
# $$
#
# The first claim to check is $\sigma' = \sigma(1-\sigma)$. The centred difference
# $\frac{f(x+h) - f(x-h)}{2h}$ of `cnnkit.gradcheck.numerical_gradient`, applied to
# $\sum_i \sigma(s_i)$, returns exactly the vector of $\sigma'(s_i)$. We compare two arrays with
# `rel_error`, the largest element-wise relative error:
#
# $$
# \operatorname{rel\_error}(\mathbf{x}, \mathbf{y}) = \max_i \frac{|x_i - y_i|}{\max\left(10^{-8},\ |x_i| + |y_i|\right)} .
# $$
#
# A correct gradient in float64 typically agrees with its centred difference to better than
# $10^{-7}$, and that is the tolerance used below.

# %%
def sigmoid(s):
    return 1.0 / (1.0 + np.exp(-s))


s = rng.standard_normal(7)
numeric = numerical_gradient(lambda v: np.sum(sigmoid(v)), s.copy())
exact = sigmoid(s) * (1 - sigmoid(s))
report("sigma'(s) = sigma(s) (1 - sigma(s))", rel_error(exact, numeric))
print("sigma'(s), first three entries:", np.round(exact[:3], 4))

# %% [markdown]
# To check a whole network we repeat this for every parameter, and ask the second referee as well:
# the same loss written with torch tensors of dtype float64, differentiated by `backward()`.
# Autograd does the same arithmetic as our formulas in a different order, so it should agree to
# rounding error, far below the finite-difference tolerance. How far below depends on the machine
# (the order in which it adds numbers up), so only the verdict against the tolerance $10^{-12}$ is
# printed, never the error's digits. The helper below prints one line per parameter and referee.

# %%
def check_gradients(case, grads, loss_np, loss_torch, params, tol_fd=1e-7, tol_autograd=1e-12):
    """Compare hand-derived grads[name] with finite differences and with torch.autograd."""
    for name, value in params.items():
        # numerical_gradient perturbs `value` in place, so loss_np sees every change
        numeric = numerical_gradient(lambda _: loss_np(**params), value)
        report(f"{case} dL/d{name} vs finite differences", rel_error(grads[name], numeric), tol_fd)
    tensors = {name: torch.tensor(value, dtype=torch.float64, requires_grad=True)
               for name, value in params.items()}
    loss_torch(**tensors).backward()
    for name, t in tensors.items():
        report(f"{case} dL/d{name} vs autograd", rel_error(grads[name], t.grad.numpy()), tol_autograd)


# %% [markdown]
# ## Case 1: one layer, sigmoid output, L2 loss
#
# The network maps an input $\mathbf{x} \in \mathbb{R}^d$ to $n$ outputs and compares them with a
# target $\mathbf{z}$:
#
# $$
# \mathbf{s} = \mathbf{W}\mathbf{x} + \mathbf{b}, \qquad \mathbf{p} = \sigma(\mathbf{s}), \qquad
# L = \lVert \mathbf{z} - \mathbf{p} \rVert^2 = \sum_j (z_j - p_j)^2 ,
# $$
#
# with $\mathbf{W}$ of shape $n \times d$. Going backwards, one step at a time:
#
# $$
# \frac{\partial L}{\partial \mathbf{p}} = -2(\mathbf{z} - \mathbf{p}), \qquad
# \frac{\partial L}{\partial \mathbf{s}} = (1 - \sigma(\mathbf{s})) \odot \sigma(\mathbf{s}) \odot \frac{\partial L}{\partial \mathbf{p}}
# = -2 \begin{bmatrix} (1 - \sigma(s_1))\,\sigma(s_1)\,(z_1 - p_1) \\ \vdots \\ (1 - \sigma(s_n))\,\sigma(s_n)\,(z_n - p_n) \end{bmatrix},
# $$
#
# $$
# \frac{\partial L}{\partial \mathbf{W}} = \frac{\partial L}{\partial \mathbf{s}}\,\mathbf{x}^T, \qquad
# \frac{\partial L}{\partial \mathbf{b}} = \frac{\partial L}{\partial \mathbf{s}}, \qquad
# \frac{\partial L}{\partial \mathbf{x}} = \mathbf{W}^T \frac{\partial L}{\partial \mathbf{s}} .
# $$
#
# A warning for readers of the lecture slides: they print the stacked vector
# $-2\,[(1-\sigma(s_j))\,\sigma(s_j)\,(z_j - p_j)]_j$ under the label
# $\frac{\partial L}{\partial \mathbf{p}}$. That vector already contains the sigmoid's derivative: it
# is $\frac{\partial L}{\partial \mathbf{s}}$, as written above. $\frac{\partial L}{\partial \mathbf{p}}$
# is just $-2(\mathbf{z} - \mathbf{p})$.
#
# The input $\mathbf{x}$ is data, fixed during training, so $\frac{\partial L}{\partial \mathbf{x}}$ is
# not needed to update this network. It is computed anyway because in a deeper network the "input"
# of a layer is the previous layer's output, and this is the gradient that flows on (case 2).
#
# In code, the forward pass keeps what the backward pass needs in a `cache`. Since
# $\mathbf{p} = \sigma(\mathbf{s})$, the factor $(1-\sigma(\mathbf{s}))\,\sigma(\mathbf{s})$ is
# `(1 - p) * p`.

# %%
def net1_forward(W, b, x, z):
    s = W @ x + b
    p = sigmoid(s)
    loss = np.sum((z - p) ** 2)
    return loss, (W, x, p, z)


def net1_backward(cache):
    W, x, p, z = cache
    dp = -2 * (z - p)           # dL/dp
    ds = (1 - p) * p * dp       # dL/ds: the sigmoid's diagonal Jacobian
    return {"W": np.outer(ds, x), "b": ds, "x": W.T @ ds}


d, n = 6, 4
params1 = {"W": rng.standard_normal((n, d)), "b": rng.standard_normal(n), "x": rng.standard_normal(d)}
z1 = rng.uniform(0, 1, n)  # targets in (0, 1), where the sigmoid can reach them

loss, cache = net1_forward(**params1, z=z1)
grads1 = net1_backward(cache)
print(f"L = {loss:.4f}")
print("dL/dW has shape", grads1["W"].shape, "like W", params1["W"].shape)

# %% [markdown]
# Now both referees, for $\mathbf{W}$, $\mathbf{b}$ and $\mathbf{x}$:

# %%
check_gradients(
    "case 1", grads1,
    loss_np=lambda W, b, x: net1_forward(W, b, x, z1)[0],
    loss_torch=lambda W, b, x: torch.sum((torch.from_numpy(z1) - torch.sigmoid(W @ x + b)) ** 2),
    params=params1,
)

# %% [markdown]
# And the point about the labels: the slides' vector matches $\frac{\partial L}{\partial \mathbf{s}}$
# (the finite-difference gradient of $L$ as a function of $\mathbf{s}$), not
# $\frac{\partial L}{\partial \mathbf{p}}$.

# %%
s1 = params1["W"] @ params1["x"] + params1["b"]
slide_vector = -2 * (1 - sigmoid(s1)) * sigmoid(s1) * (z1 - sigmoid(s1))
dL_ds_numeric = numerical_gradient(lambda v: np.sum((z1 - sigmoid(v)) ** 2), s1.copy())
dL_dp_numeric = numerical_gradient(lambda v: np.sum((z1 - v) ** 2), sigmoid(s1))
for name, reference in [("dL/ds", dL_ds_numeric), ("dL/dp (expected to fail)", dL_dp_numeric)]:
    report(f"slide vector vs {name}", rel_error(slide_vector, reference))

# %% [markdown]
# ## Case 2: two layers, L2 loss
#
# Put a sigmoid hidden layer of $m$ units in front of case 1:
#
# $$
# \mathbf{s}_1 = \mathbf{W}_1\mathbf{x} + \mathbf{b}_1, \quad \mathbf{p}_1 = \sigma(\mathbf{s}_1), \quad
# \mathbf{s}_2 = \mathbf{W}_2\mathbf{p}_1 + \mathbf{b}_2, \quad \mathbf{p}_2 = \sigma(\mathbf{s}_2), \quad
# L = \lVert \mathbf{z} - \mathbf{p}_2 \rVert^2 .
# $$
#
# The second layer is exactly case 1 with input $\mathbf{p}_1$:
#
# $$
# \frac{\partial L}{\partial \mathbf{p}_2} = -2(\mathbf{z} - \mathbf{p}_2), \quad
# \frac{\partial L}{\partial \mathbf{s}_2} = (1 - \sigma(\mathbf{s}_2)) \odot \sigma(\mathbf{s}_2) \odot \frac{\partial L}{\partial \mathbf{p}_2}, \quad
# \frac{\partial L}{\partial \mathbf{W}_2} = \frac{\partial L}{\partial \mathbf{s}_2}\,\mathbf{p}_1^T, \quad
# \frac{\partial L}{\partial \mathbf{b}_2} = \frac{\partial L}{\partial \mathbf{s}_2} .
# $$
#
# What case 1 called $\frac{\partial L}{\partial \mathbf{x}}$ is now the gradient with respect to the
# hidden layer, and it becomes the incoming gradient of the first layer, which is case 1 again:
#
# $$
# \frac{\partial L}{\partial \mathbf{p}_1} = \mathbf{W}_2^T \frac{\partial L}{\partial \mathbf{s}_2}, \quad
# \frac{\partial L}{\partial \mathbf{s}_1} = (1 - \sigma(\mathbf{s}_1)) \odot \sigma(\mathbf{s}_1) \odot \frac{\partial L}{\partial \mathbf{p}_1}, \quad
# \frac{\partial L}{\partial \mathbf{W}_1} = \frac{\partial L}{\partial \mathbf{s}_1}\,\mathbf{x}^T, \quad
# \frac{\partial L}{\partial \mathbf{b}_1} = \frac{\partial L}{\partial \mathbf{s}_1} .
# $$
#
# This is all of backpropagation: a stack of layers is differentiated by passing one vector
# backwards and letting each layer apply its own two rules.

# %%
def net2_forward(W1, b1, W2, b2, x, z):
    p1 = sigmoid(W1 @ x + b1)
    p2 = sigmoid(W2 @ p1 + b2)
    loss = np.sum((z - p2) ** 2)
    return loss, (W1, W2, x, p1, p2, z)


def net2_backward(cache):
    W1, W2, x, p1, p2, z = cache
    ds2 = (1 - p2) * p2 * (-2 * (z - p2))   # layer 2: case 1 with input p1
    dp1 = W2.T @ ds2                        # the gradient handed back to layer 1
    ds1 = (1 - p1) * p1 * dp1               # layer 1: case 1 with input x
    return {"W2": np.outer(ds2, p1), "b2": ds2, "W1": np.outer(ds1, x), "b1": ds1}


d, m, n = 6, 5, 3
params2 = {"W1": rng.standard_normal((m, d)), "b1": rng.standard_normal(m),
           "W2": rng.standard_normal((n, m)), "b2": rng.standard_normal(n)}
x2, z2 = rng.standard_normal(d), rng.uniform(0, 1, n)

loss, cache = net2_forward(**params2, x=x2, z=z2)
print(f"L = {loss:.4f}")
check_gradients(
    "case 2", net2_backward(cache),
    loss_np=lambda W1, b1, W2, b2: net2_forward(W1, b1, W2, b2, x2, z2)[0],
    loss_torch=lambda W1, b1, W2, b2: torch.sum(
        (torch.from_numpy(z2) - torch.sigmoid(W2 @ torch.sigmoid(W1 @ torch.from_numpy(x2) + b1) + b2)) ** 2),
    params=params2,
)

# %% [markdown]
# ## Case 3: one layer, softmax classifier, cross-entropy
#
# For classification into $n$ classes the scores $\mathbf{s} = \mathbf{W}\mathbf{x} + \mathbf{b}$ are
# turned into probabilities by the softmax, and the loss is the cross-entropy with the one-hot
# target $\mathbf{z}$ of the true class $y$:
#
# $$
# p_a = \frac{e^{s_a}}{\sum_c e^{s_c}}, \qquad
# L = -\sum_a z_a \log p_a = -\log p_y .
# $$
#
# Only $p_y$ appears in the loss, so $\frac{\partial L}{\partial \mathbf{p}}$ is zero except for
# its $y$-th entry, $-1/p_y$. Unlike the sigmoid, the softmax is not element-wise: every $p_a$
# depends on every score through the denominator. Write $S = \sum_c e^{s_c}$. By the quotient rule,
# $\frac{\partial p_a}{\partial s_a} = \frac{e^{s_a} S - e^{s_a} e^{s_a}}{S^2} = p_a - p_a^2$ and, for
# $b \ne a$, $\frac{\partial p_a}{\partial s_b} = \frac{-e^{s_a} e^{s_b}}{S^2} = -p_a p_b$. Together
# the Jacobian is
#
# $$
# D_{ab} = \frac{\partial p_a}{\partial s_b} = p_a(\delta_{ab} - p_b), \qquad
# \delta_{ab} = \begin{cases} 1 & a = b \\ 0 & \text{otherwise,} \end{cases}
# \qquad\text{that is}\qquad \mathbf{D} = \operatorname{diag}(\mathbf{p}) - \mathbf{p}\mathbf{p}^T .
# $$
#
# Let us build $\mathbf{D}$ explicitly and compare it with the Jacobian that
# `torch.autograd.functional.jacobian` computes from the softmax itself. (Subtracting the largest
# score before exponentiating changes nothing in $\mathbf{p}$ and keeps $e^{s}$ from overflowing.)

# %%
def softmax(s):
    e = np.exp(s - s.max())
    return e / e.sum()


n = 4
s3 = rng.standard_normal(n)
p3 = softmax(s3)
D = np.diag(p3) - np.outer(p3, p3)
D_torch = torch.autograd.functional.jacobian(lambda v: torch.softmax(v, dim=0),
                                             torch.from_numpy(s3)).numpy()
print("D =\n", np.round(D, 4))
report("softmax Jacobian D vs autograd", rel_error(D, D_torch), 1e-12)
print("D is symmetric:", np.allclose(D, D.T))
print("columns of D sum to zero:", np.allclose(D.sum(axis=0), 0, atol=1e-12))

# %% [markdown]
# $\mathbf{D}$ is symmetric, so $\mathbf{D}^T = \mathbf{D}$ and the chain rule gives
# $\frac{\partial L}{\partial \mathbf{s}} = \mathbf{D}\,\frac{\partial L}{\partial \mathbf{p}}$. Only the
# $y$-th entry of $\frac{\partial L}{\partial \mathbf{p}}$ is non-zero, so
#
# $$
# \frac{\partial L}{\partial s_b} = D_{yb}\left(-\frac{1}{p_y}\right) = -\frac{p_y(\delta_{yb} - p_b)}{p_y} = p_b - \delta_{yb},
# \qquad\text{that is}\qquad
# \frac{\partial L}{\partial \mathbf{s}} = \mathbf{p} - \mathbf{z} .
# $$
#
# The $1/p_y$ of the loss cancels the $p_y$ of the softmax: the gradient of the scores is simply
# "predicted minus true". (The columns of $\mathbf{D}$ sum to zero, as printed above, because
# $\sum_a p_a = 1$ whatever the scores; hence the entries of $\mathbf{p} - \mathbf{z}$ sum to zero
# too.) The matrix route and the short formula agree:

# %%
y3 = 2
z3 = np.eye(n)[y3]
dL_dp = -z3 / p3                       # zero except -1/p_y in row y
report("D @ dL/dp vs p - z", rel_error(D @ dL_dp, p3 - z3), 1e-12)
print("p =", np.round(p3, 4), " y =", y3, " p - z =", np.round(p3 - z3, 4))

# %% [markdown]
# The rest is the affine step again:
# $\frac{\partial L}{\partial \mathbf{W}} = \frac{\partial L}{\partial \mathbf{s}}\,\mathbf{x}^T$,
# $\frac{\partial L}{\partial \mathbf{b}} = \frac{\partial L}{\partial \mathbf{s}}$,
# $\frac{\partial L}{\partial \mathbf{x}} = \mathbf{W}^T\frac{\partial L}{\partial \mathbf{s}}$.
# In torch, `torch.log_softmax` followed by picking entry $y$ is the same loss.

# %%
def softmax1_forward(W, b, x, y):
    p = softmax(W @ x + b)
    return -np.log(p[y]), (W, x, p, y)


def softmax1_backward(cache):
    W, x, p, y = cache
    ds = p - np.eye(len(p))[y]          # dL/ds = p - z
    return {"W": np.outer(ds, x), "b": ds, "x": W.T @ ds}


d = 6  # small weights below keep every probability well away from 0
params3 = {"W": 0.5 * rng.standard_normal((n, d)), "b": 0.5 * rng.standard_normal(n), "x": rng.standard_normal(d)}
loss, cache = softmax1_forward(**params3, y=y3)
print(f"L = {loss:.4f}")
check_gradients(
    "case 3", softmax1_backward(cache),
    loss_np=lambda W, b, x: softmax1_forward(W, b, x, y3)[0],
    loss_torch=lambda W, b, x: -torch.log_softmax(W @ x + b, dim=0)[y3],
    params=params3,
)

# %% [markdown]
# ## Case 4: two layers, softmax classifier
#
# A sigmoid hidden layer followed by a softmax output:
#
# $$
# \mathbf{s}_1 = \mathbf{W}_1\mathbf{x} + \mathbf{b}_1, \quad \mathbf{p}_1 = \sigma(\mathbf{s}_1), \quad
# \mathbf{s}_2 = \mathbf{W}_2\mathbf{p}_1 + \mathbf{b}_2, \quad \mathbf{p}_2 = \operatorname{softmax}(\mathbf{s}_2), \quad
# L = -\log p_{2,y} .
# $$
#
# Case 3 gives the top of the backward pass and case 2 the rest:
#
# $$
# \frac{\partial L}{\partial \mathbf{s}_2} = \mathbf{D}\,\frac{\partial L}{\partial \mathbf{p}_2} = \mathbf{p}_2 - \mathbf{z}, \quad
# \frac{\partial L}{\partial \mathbf{W}_2} = \frac{\partial L}{\partial \mathbf{s}_2}\,\mathbf{p}_1^T, \quad
# \frac{\partial L}{\partial \mathbf{b}_2} = \frac{\partial L}{\partial \mathbf{s}_2}, \quad
# \frac{\partial L}{\partial \mathbf{p}_1} = \mathbf{W}_2^T \frac{\partial L}{\partial \mathbf{s}_2},
# $$
#
# $$
# \frac{\partial L}{\partial \mathbf{s}_1} = (1 - \sigma(\mathbf{s}_1)) \odot \sigma(\mathbf{s}_1) \odot \frac{\partial L}{\partial \mathbf{p}_1}, \quad
# \frac{\partial L}{\partial \mathbf{W}_1} = \frac{\partial L}{\partial \mathbf{s}_1}\,\mathbf{x}^T, \quad
# \frac{\partial L}{\partial \mathbf{b}_1} = \frac{\partial L}{\partial \mathbf{s}_1} .
# $$

# %%
def softmax2_forward(W1, b1, W2, b2, x, y):
    p1 = sigmoid(W1 @ x + b1)
    p2 = softmax(W2 @ p1 + b2)
    return -np.log(p2[y]), (W2, x, p1, p2, y)


def softmax2_backward(cache):
    W2, x, p1, p2, y = cache
    ds2 = p2 - np.eye(len(p2))[y]       # case 3
    ds1 = (1 - p1) * p1 * (W2.T @ ds2)  # case 2's hidden layer
    return {"W2": np.outer(ds2, p1), "b2": ds2, "W1": np.outer(ds1, x), "b1": ds1}


d, m, n, y4 = 6, 5, 4, 1
params4 = {"W1": 0.5 * rng.standard_normal((m, d)), "b1": 0.5 * rng.standard_normal(m),
           "W2": 0.5 * rng.standard_normal((n, m)), "b2": 0.5 * rng.standard_normal(n)}
x4 = rng.standard_normal(d)

loss, cache = softmax2_forward(**params4, x=x4, y=y4)
print(f"L = {loss:.4f}")
check_gradients(
    "case 4", softmax2_backward(cache),
    loss_np=lambda W1, b1, W2, b2: softmax2_forward(W1, b1, W2, b2, x4, y4)[0],
    loss_torch=lambda W1, b1, W2, b2: -torch.log_softmax(
        W2 @ torch.sigmoid(W1 @ torch.from_numpy(x4) + b1) + b2, dim=0)[y4],
    params=params4,
)

# %% [markdown]
# ### Check yourself
#
# 1. In case 1, suppose a score is large, $s_j = 10$, while its target is $z_j = 0$: the output is
#    confidently wrong. How large is $\frac{\partial L}{\partial s_j}$, and why is that bad news for
#    learning? What would the softmax with cross-entropy (case 3) give for an equally wrong output?
# 2. Why do the entries of $\frac{\partial L}{\partial \mathbf{s}} = \mathbf{p} - \mathbf{z}$ in case 3
#    always sum to zero?
#
# <details><summary>Answers</summary>
#
# 1. $\frac{\partial L}{\partial s_j} = -2(z_j - p_j)\,p_j(1-p_j)$. With $p_j = \sigma(10)$ close to 1
#    the error $z_j - p_j$ is close to $-1$, but the factor $p_j(1-p_j)$ is tiny, so the gradient is
#    about $10^{-4}$ (computed below): a saturated sigmoid barely learns from its biggest mistakes.
#    Cross-entropy on a softmax has no such factor: $\frac{\partial L}{\partial \mathbf{s}} = \mathbf{p} - \mathbf{z}$
#    has entries close to $\pm 1$ when the prediction is confidently wrong.
# 2. Because $\sum_a p_a = 1 = \sum_a z_a$. Equivalently, adding the same constant to every score
#    leaves $\mathbf{p}$ and hence $L$ unchanged, so moving all scores together cannot change the
#    loss: the gradient is orthogonal to $(1, \dots, 1)$. The column sums of $\mathbf{D}$ printed in
#    case 3 vanish for the same reason.
#
# </details>

# %%
p_sat = sigmoid(10.0)
print(f"sigmoid + L2, s = 10, z = 0:    dL/ds = {-2 * (0 - p_sat) * p_sat * (1 - p_sat):.2e}")
p_wrong = softmax(np.array([10.0, 0.0]))  # true class 1, almost all probability on class 0
print("softmax + cross-entropy, y = 1: dL/ds =", np.round(p_wrong - np.eye(2)[1], 4))
print("entries of p - z in case 3 sum to zero:", np.isclose(np.sum(p3 - z3), 0, atol=1e-12))

# %% [markdown]
# ## Gradient descent and the learning rate
#
# With the gradient in hand, the simplest way to reduce the loss is to step against it:
#
# $$
# \mathbf{W} \leftarrow \mathbf{W} - \alpha\,\frac{\partial L}{\partial \mathbf{W}},
# $$
#
# for every parameter at once. The step size $\alpha$ is the **learning rate**. Too small and the
# loss creeps down; too large and each step overshoots the valley it was aiming at, so the loss
# oscillates or grows.
#
# A tiny problem shows all three regimes: least squares with two weights, $L(\mathbf{w}) =
# \frac{1}{N}\lVert \mathbf{X}\mathbf{w} - \mathbf{y}\rVert^2$. Its gradient is
# $\frac{2}{N}\mathbf{X}^T(\mathbf{X}\mathbf{w} - \mathbf{y})$, its curvature the constant matrix
# $\mathbf{H} = \frac{2}{N}\mathbf{X}^T\mathbf{X}$, and along the direction of the largest eigenvalue
# $\lambda_{\max}$ of $\mathbf{H}$ each step multiplies the error by $1 - \alpha\lambda_{\max}$.
# Gradient descent therefore converges exactly when $\alpha < 2/\lambda_{\max}$. We try fractions of
# that limit.

# %%
N_ls = 50
X_ls = rng.standard_normal((N_ls, 2)) * np.array([1.0, 0.3])  # one steep and one flat direction
y_ls = X_ls @ np.array([2.0, -1.0]) + 0.1 * rng.standard_normal(N_ls)
lam_max = np.linalg.eigvalsh(2 / N_ls * X_ls.T @ X_ls).max()
alpha_limit = 2 / lam_max
print(f"2 / lambda_max = {alpha_limit:.3f}")


def gradient_descent(alpha, steps=40):
    w = np.zeros(2)
    path, losses = [w.copy()], []
    for _ in range(steps):
        residual = X_ls @ w - y_ls
        losses.append(np.mean(residual ** 2))
        w = w - alpha * (2 / N_ls) * X_ls.T @ residual
        path.append(w.copy())
    return np.array(path), losses


runs = {}
for fraction in (0.1, 0.5, 0.95, 1.05):
    alpha = fraction * alpha_limit
    runs[f"alpha = {alpha:.3f} ({fraction} x limit)"] = gradient_descent(alpha)
for label, (path, losses) in runs.items():
    print(f"{label:30s} loss after {len(losses)} steps: {losses[-1]:.4g}")

# %%
fig, (ax_path, ax_loss) = plt.subplots(1, 2, figsize=(10, 3.6))
g0, g1 = np.meshgrid(np.linspace(-1, 5, 200), np.linspace(-2, 0.5, 200))
grid_loss = np.mean((X_ls @ np.stack([g0.ravel(), g1.ravel()]) - y_ls[:, None]) ** 2, axis=0)
ax_path.contour(g0, g1, grid_loss.reshape(g0.shape), levels=np.geomspace(0.01, 20, 10), colors="0.8")
w_opt = np.linalg.lstsq(X_ls, y_ls, rcond=None)[0]              # the least-squares optimum
for label, (path, _) in runs.items():
    ax_path.plot(path[:8, 0], path[:8, 1], ".-", ms=5, lw=1, label=label)  # the first 8 steps
ax_path.plot(*w_opt, "k*", ms=12, label="optimum")
ax_path.set(xlim=(-1, 5), ylim=(-2, 0.5), xlabel="$w_1$ (steep)", ylabel="$w_2$ (flat)",
            title="first 8 steps from w = 0")
ax_path.legend(fontsize=7, loc="lower right")
plot_curves({label: losses for label, (_, losses) in runs.items()}, logy=True, ax=ax_loss,
            title="loss vs step")
ax_loss.legend(fontsize=7)
plt.show()

# %% [markdown]
# The smallest rate crawls along the flat direction. At half the limit, $\alpha = 1/\lambda_{\max}$,
# the factor $1 - \alpha\lambda_{\max}$ is zero and the steep direction is solved in a single step.
# The rate just below the limit zig-zags across the steep direction but still settles; the rate just
# above it diverges. Real networks are
# not quadratic and their curvature changes as they train, so the limit is not known in advance:
# the learning rate is found by trying a few values, on a log scale.
#
# ## The twenty-line training loop
#
# Here is the classic complete example: a two-layer network trained with plain numpy on random
# data. $N = 64$ inputs of dimension $D_{in} = 1000$ are mapped through $H = 100$ sigmoid hidden
# units to $D_{out} = 10$ linear outputs (no sigmoid on the output, and no biases), with the L2 loss
# summed over the whole batch and gradient descent at $\alpha = 10^{-4}$ for 2000 steps.
#
# **Sum or mean?** This classic example sums the loss over the batch; the least-squares problem
# above, and the library's losses (`cnnkit.layers.softmax_loss`, `l2_loss`, and PyTorch's by
# default), take the **mean**. The mean's gradient is the sum's divided by the batch size $N$, so
# the two train identically with learning rates that differ by the factor $N$: $\alpha = 10^{-4}$
# on the sum is $\alpha = 64 \cdot 10^{-4}$ on the mean here. The mean keeps one learning rate
# valid for any batch size, which is why lecture 05 and later use it.
#
# The code stores one example per **row**, so a layer is `x @ w1` with `w1` of shape
# $D_{in} \times H$: this is the transpose of the column convention used above. The formulas carry
# over with transposes, and the loss is a sum over the batch, so each weight gradient is the sum of
# the per-example outer products: `h.T @ grad_y_pred` is
# $\sum_n \frac{\partial L}{\partial \mathbf{s}_2^{(n)}}\,\mathbf{p}_1^{(n)T}$ transposed.
# Compared with case 2 only the output layer differs: it is linear, so there is no sigmoid factor
# before `grad_w2`.

# %%
N, D_in, H, D_out = 64, 1000, 100, 10
x, y = rng.standard_normal((N, D_in)), rng.standard_normal((N, D_out))
w1_init, w2_init = rng.standard_normal((D_in, H)), rng.standard_normal((H, D_out))


def train_numpy(w1, w2, lr=1e-4, steps=2000):
    w1, w2, losses = w1.copy(), w2.copy(), []
    for t in range(steps):
        h = 1 / (1 + np.exp(-x @ w1))          # hidden layer, (N, H)
        y_pred = h @ w2                        # linear output, (N, D_out)
        loss = np.square(y_pred - y).sum()
        losses.append(loss)

        grad_y_pred = 2.0 * (y_pred - y)       # dL/dy_pred
        grad_w2 = h.T @ grad_y_pred            # dL/ds2 p1^T, summed over the batch
        grad_h = grad_y_pred @ w2.T            # W2^T dL/ds2
        grad_w1 = x.T @ (grad_h * h * (1 - h))  # sigmoid factor, then dL/ds1 x^T

        w1 -= lr * grad_w1
        w2 -= lr * grad_w2
    return np.array(losses)


losses_np = train_numpy(w1_init, w2_init)
for t in (0, 1, 10, 100, 500, 1000, 1999):
    print(f"step {t:4d}: loss {losses_np[t]:.5g}")

# %%
plot_curves({"numpy": losses_np}, logy=True, title="2-layer sigmoid net, numpy, lr 1e-4")
plt.show()

# %% [markdown]
# The loss falls by orders of magnitude: with 64 examples and $1000 \cdot 100 + 100 \cdot 10$
# weights the network can memorise random targets. (It fits them, it learns nothing: there is no
# pattern in random data to generalise from.)
#
# ## The same network with autograd
#
# Autograd removes the four gradient lines. We start from the same initial weights, in float64,
# call `loss.backward()` to fill each weight's `.grad`, and step inside `torch.no_grad()` so the
# update itself is not recorded. The gradients accumulate across `backward()` calls, so they are
# reset after every step.

# %%
def train_torch(w1, w2, lr=1e-4, steps=2000):
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    w1 = torch.tensor(w1, dtype=torch.float64, requires_grad=True)
    w2 = torch.tensor(w2, dtype=torch.float64, requires_grad=True)
    losses = []
    for t in range(steps):
        y_pred = torch.sigmoid(xt @ w1) @ w2
        loss = (y_pred - yt).pow(2).sum()
        losses.append(loss.item())
        loss.backward()
        with torch.no_grad():
            w1 -= lr * w1.grad
            w2 -= lr * w2.grad
            w1.grad.zero_()
            w2.grad.zero_()
    return np.array(losses)


losses_torch = train_torch(w1_init, w2_init)
report("loss curves, numpy vs autograd (all 2000 steps)", rel_error(losses_np, losses_torch), 1e-12)
for t in (0, 1999):
    print(f"step {t:4d}: numpy loss {losses_np[t]:.5g}, autograd loss {losses_torch[t]:.5g}")

# %%
plot_curves({"numpy, hand-written gradients": losses_np, "torch.autograd": losses_torch}, logy=True,
            title="the two curves lie on top of each other")
plt.show()

# %% [markdown]
# ## Numerical gradient checking, and why float64
#
# The finite-difference referee deserves a closer look, because it is how you will test every
# backward pass you write in this course. By Taylor's theorem the centred difference has an error
# of order $h^2$:
#
# $$
# \frac{f(x+h) - f(x-h)}{2h} = f'(x) + \frac{h^2}{6} f'''(x) + O(h^4),
# $$
#
# while the one-sided $\frac{f(x+h) - f(x)}{h}$ is off by order $h$. Against this truncation error
# stands rounding: each value of $f$ carries a relative error of about the machine epsilon
# $\varepsilon$, and dividing the difference by $2h$ turns it into an error of order
# $\varepsilon |f| / h$. In float64 ($\varepsilon \approx 2 \cdot 10^{-16}$) the step $h = 10^{-5}$
# leaves about $10^{-10}$ of truncation and a few times $10^{-11}$ of rounding. In float32
# ($\varepsilon \approx 10^{-7}$) the rounding term alone is about $10^{-2}$ at the same step.

# %%
for dtype in (np.float64, np.float32):
    eps = np.finfo(dtype).eps
    print(f"{np.dtype(dtype).name}: eps = {eps:.1e}, eps / h at h = 1e-5: {eps / 1e-5:.0e}")
print(f"truncation at h = 1e-5: h^2 = {1e-5 ** 2:.0e}")

# %% [markdown]
# `numerical_gradient` refuses anything but float64, for this reason:

# %%
try:
    numerical_gradient(lambda v: np.sum(v ** 2), np.ones(3, dtype=np.float32))
except TypeError as err:
    print("TypeError:", err)


# %% [markdown]
# To see the failure, we write the centred difference ourselves, evaluate the case 1 loss entirely
# in float32 and compare its gradient for $\mathbf{W}$ with the exact one from our backward pass.
# Then we sweep the step $h$ in both precisions.

# %%
def centred_difference(f, x, h):
    """Centred differences in the dtype of x (no float64 guard)."""
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        f_plus = f(x)
        x[i] = old - h
        f_minus = f(x)
        x[i] = old
        grad[i] = (f_plus - f_minus) / (2 * h)
    return grad


def case1_error(dtype, h):
    W, b, x_in, z = (np.array(v, dtype=dtype) for v in (params1["W"], params1["b"], params1["x"], z1))
    numeric = centred_difference(lambda w: np.sum((z - 1 / (1 + np.exp(-(w @ x_in + b)))) ** 2), W, h)
    return rel_error(grads1["W"], numeric)


report("case 1 dL/dW, float64 differences, h = 1e-5", case1_error(np.float64, 1e-5))
err32 = case1_error(np.float32, 1e-5)
print("case 1 dL/dW, float32 differences, h = 1e-5: rel error of 1e-2 or more?", err32 >= 1e-2)

# %% [markdown]
# Why so bad? Near the value of our loss, consecutive float32 numbers lie a fixed spacing apart.
# The difference $f(x+h) - f(x-h)$ is therefore a whole multiple of that spacing, and the centred
# difference a whole multiple of spacing$/2h$: it cannot resolve anything finer.

# %%
L32 = np.float32(net1_forward(**params1, z=z1)[0])
print(f"loss in float32: {L32:.4f}, spacing of float32 numbers there: {np.spacing(L32):.1e}")
quantum = np.spacing(L32) / 2e-5
g_min, g_max = np.abs(grads1["W"]).min(), np.abs(grads1["W"]).max()
print(f"the centred difference moves in steps of spacing / 2h = {quantum:.4f}")
print(f"entries of dL/dW range in size from {g_min:.4f} to {g_max:.4f}")
print(f"step / largest entry = {quantum / g_max:.2f}, step / smallest entry = {quantum / g_min:.2f}")

# %% [markdown]
# The step is a few percent of the largest entry and more than half of the smallest one, so the
# float32 gradient is wrong in the second digit at best. A larger $h$ makes the quantum smaller but
# the truncation error larger. Sweeping $h$ shows that in float32 no step size is good enough:

# %%
steps_h = np.geomspace(1e-1, 1e-8, 29)
errors = {np.dtype(dt).name: [case1_error(dt, h) for h in steps_h] for dt in (np.float64, np.float32)}
for name, errs in errors.items():
    print(f"{name}: some step h reaches the tolerance 1e-7? {min(errs) < 1e-7}")

fig, ax = plt.subplots(figsize=(6, 3.4))
for name, errs in errors.items():
    ax.loglog(steps_h, errs, ".-", label=name)
ax.axhline(1e-7, color="0.5", ls="--", lw=0.8, label="tolerance 1e-7")
ax.set(xlabel="step h", ylabel="rel_error vs exact gradient", title="centred differences on case 1")
ax.invert_xaxis()
ax.legend()
ax.grid(alpha=0.3)
fig.tight_layout()
plt.show()

# %% [markdown]
# Read the plot from left to right. For large $h$ both precisions follow the same line of slope 2
# (truncation, $\propto h^2$). As $h$ shrinks, rounding ($\propto 1/h$) takes over, much earlier in
# float32, whose best error never reaches the tolerance. In float32 a correct gradient and a buggy
# one can look equally wrong; in float64 a correct gradient agrees to many digits and a bug stands
# out. Hence the rule for every check in this course: **centred differences, float64,
# $h \approx 10^{-5}$**, on a small network, since the check costs two forward passes per parameter.
#
# ### Check yourself
#
# 3. Checking the gradient of the twenty-line network above by finite differences: how many
#    forward passes would it take, compared with one forward and one backward pass for
#    backpropagation?
#
# <details><summary>Answer</summary>
#
# Two per weight, and the network has $1000 \cdot 100 + 100 \cdot 10$ weights: the count is computed
# below. Backpropagation gets all of them from one backward pass, which costs about **twice** the
# forward pass: every matrix product of the forward pass has two in the backward pass, one for the
# weight gradient and one for the gradient passed down to the layer below. Only the first layer
# can skip the second, since nobody needs $\partial L/\partial \mathbf{x}$; in this network the
# first layer is almost all of the work, so here the backward pass costs about as much as the
# forward pass. The cell counts the multiply-adds both ways. That is why we train with
# backpropagation and use finite differences only to test it, on small sizes.
#
# </details>

# %%
n_weights = D_in * H + H * D_out
print(f"{n_weights:,} weights -> {2 * n_weights:,} forward passes for one numerical gradient")
fwd = N * D_in * H + N * H * D_out                       # x @ w1, h @ w2
bwd = H * N * D_out + N * D_out * H + D_in * N * H       # grad_w2, grad_h, grad_w1
print(f"multiply-adds: forward {fwd:,}; backward {bwd:,} (ratio {bwd / fwd:.2f}); "
      f"backward with dL/dx too {bwd + N * H * D_in:,} (ratio {(bwd + N * H * D_in) / fwd:.2f})")

# %% [markdown]
# ## Summary
#
# - Backpropagation is the vector chain rule $\frac{\partial L}{\partial \mathbf{b}} = \mathbf{J}^T
#   \frac{\partial L}{\partial \mathbf{a}}$, applied from the loss back to the input.
# - Two rules cover most of a network: an element-wise activation multiplies the gradient by its
#   derivative ($\sigma(1-\sigma)$ for the sigmoid); an affine layer gives
#   $\frac{\partial L}{\partial \mathbf{W}} = \frac{\partial L}{\partial \mathbf{s}}\mathbf{x}^T$,
#   $\frac{\partial L}{\partial \mathbf{b}} = \frac{\partial L}{\partial \mathbf{s}}$ and passes
#   $\mathbf{W}^T\frac{\partial L}{\partial \mathbf{s}}$ back.
# - Softmax with cross-entropy has the Jacobian $D_{ab} = p_a(\delta_{ab} - p_b)$ and the gradient
#   $\frac{\partial L}{\partial \mathbf{s}} = \mathbf{p} - \mathbf{z}$.
# - Gradient descent $\mathbf{W} \leftarrow \mathbf{W} - \alpha \frac{\partial L}{\partial \mathbf{W}}$
#   converges only for a small enough learning rate.
# - Check every hand-written gradient with centred differences in float64 and `rel_error`;
#   `torch.autograd` gives the same gradients to rounding error.
