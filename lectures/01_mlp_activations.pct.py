# %% [markdown]
# # Lecture 01 — Multi-layer perceptrons and activation functions
#
# A linear classifier scores an image with one matrix product. A neural network puts a simple
# non-linear function between several such products. This lecture builds that idea up one
# step at a time and checks every claim with a few lines of code.
#
# **You will learn**
#
# 1. how 2- and 3-layer networks are written, and why they need a non-linearity;
# 2. the common activation functions, their derivatives, and the two ways they fail:
#    *saturation* and *dead units*;
# 3. what a fully connected layer does to an image and how many parameters it has;
# 4. the two naming conventions for network depth.
#
# Everything runs on the CPU, in well under a minute.

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch

from cnnkit.data import load_digits
from cnnkit.device import pick_device, seed_everything
from cnnkit.gradcheck import numerical_gradient_array, rel_error, report
from cnnkit.layers import affine_backward, affine_forward, relu_backward, relu_forward
from cnnkit.plots import plot_functions, show_images

rng = seed_everything(0)
device = pick_device()
print("device:", device)

# %% [markdown]
# ## 1. From a linear score to a neural network
#
# A linear classifier maps an input vector $x \in \mathbb{R}^{D}$ to class scores with one matrix:
#
# $$f = W x, \qquad W \in \mathbb{R}^{C \times D}.$$
#
# A **2-layer neural network** puts an element-wise non-linearity, here $\max(0, \cdot)$, between
# two matrices:
#
# $$f = W_2 \max(0, W_1 x), \qquad W_1 \in \mathbb{R}^{H \times D},\; W_2 \in \mathbb{R}^{C \times H}.$$
#
# The vector $h = \max(0, W_1 x)$ is the **hidden layer**, with $H$ units. A **3-layer network**
# repeats the pattern once more:
#
# $$f = W_3 \max\bigl(0, W_2 \max(0, W_1 x)\bigr).$$
#
# Below, $x$ has the size of a small colour image ($D = 32 \cdot 32 \cdot 3$), there are $C = 10$
# classes, and the hidden layers have $H = 100$ units. (Biases are left out here to keep the
# formulas short; they come back in Section 4.)

# %%
D, H, C = 32 * 32 * 3, 100, 10
x = rng.standard_normal(D)

W = rng.standard_normal((C, D)) / np.sqrt(D)     # linear classifier
f_linear = W @ x

W1 = rng.standard_normal((H, D)) / np.sqrt(D)    # 2-layer net: D -> H -> C
W2 = rng.standard_normal((C, H)) / np.sqrt(H)
hidden = np.maximum(0, W1 @ x)
f_2layer = W2 @ hidden

print(f"x {x.shape} -> f = Wx {f_linear.shape}")
print(f"x {x.shape} -> h = max(0, W1 x) {hidden.shape} -> f = W2 h {f_2layer.shape}")

# %% [markdown]
# In the 3-layer net the middle matrix maps the $H$ hidden units to another $H$ hidden units, and
# a third matrix produces the scores.

# %%
W2 = rng.standard_normal((H, H)) / np.sqrt(H)    # 3-layer net: D -> H -> H -> C
W3 = rng.standard_normal((C, H)) / np.sqrt(H)
f_3layer = W3 @ np.maximum(0, W2 @ np.maximum(0, W1 @ x))
for name, f in [("linear", f_linear), ("2-layer", f_2layer), ("3-layer", f_3layer)]:
    print(f"{name:8s} scores: shape {f.shape}, first three {np.round(f[:3], 4)}")

# %% [markdown]
# All three produce ten scores. What differs is the family of functions each one can represent.
#
# ### Without a non-linearity, depth buys nothing
#
# Remove the $\max(0, \cdot)$ and the 3-layer network becomes $W_3 W_2 W_1 x$. Matrix products are
# associative, so this is $(W_3 W_2 W_1)\, x = W x$ with a single $C \times D$ matrix $W$: the
# "deep" network is a linear classifier in disguise. Let us compute that matrix and compare the
# outputs on a whole batch of inputs.

# %%
X_batch = rng.standard_normal((D, 64))           # 64 inputs as columns
deep_linear = W3 @ (W2 @ (W1 @ X_batch))         # layer by layer
W_single = W3 @ W2 @ W1                          # the one matrix they collapse to
one_matrix = W_single @ X_batch

print("collapsed matrix shape:", W_single.shape)
print("same outputs (np.allclose):", np.allclose(deep_linear, one_matrix))
print("relative difference below 1e-10:", rel_error(deep_linear, one_matrix) < 1e-10)

# %% [markdown]
# The two agree up to floating-point rounding. With the ReLU in place this cannot happen, because
# the network is no longer linear: a linear map satisfies $f(a + b) = f(a) + f(b)$, and the
# ReLU network breaks that rule.

# %%
def net3_linear(v):
    return W3 @ (W2 @ (W1 @ v))


def net3_relu(v):
    return W3 @ np.maximum(0, W2 @ np.maximum(0, W1 @ v))


a, b = rng.standard_normal(D), rng.standard_normal(D)
for name, net in [("no activation", net3_linear), ("with ReLU", net3_relu)]:
    additive = np.allclose(net(a + b), net(a) + net(b))
    gap = np.abs(net(a + b) - net(a) - net(b)).max()
    print(f"{name:14s} f(a+b) == f(a)+f(b): {additive}   largest gap {gap:.4f}")

# %% [markdown]
# > **Check yourself.** Real layers also have biases: $W_1 x + b_1$, then $W_2(\cdot) + b_2$.
# > Does the collapse still happen without an activation?
#
# <details><summary>Answer</summary>
#
# Yes. $W_2(W_1 x + b_1) + b_2 = (W_2 W_1)\,x + (W_2 b_1 + b_2)$: an affine map of an affine map is
# again affine, with weight $W_2 W_1$ and bias $W_2 b_1 + b_2$. The next cell checks it.
#
# </details>

# %%
Wa, ba = rng.standard_normal((H, D)), rng.standard_normal(H)   # W_1, b_1 of the formula
Wb, bb = rng.standard_normal((C, H)), rng.standard_normal(C)   # W_2, b_2
two_affine = Wb @ (Wa @ x + ba) + bb
one_affine = (Wb @ Wa) @ x + (Wb @ ba + bb)
print("affine of affine is affine:", np.allclose(two_affine, one_affine))

# %% [markdown]
# ## 2. Activation functions
#
# The non-linearity is called the **activation function**. It acts on each number separately.
# Here are the six we study, each with the derivative that backpropagation will need:
#
# | name | $f(x)$ | $f'(x)$ |
# | --- | --- | --- |
# | sigmoid | $\sigma(x) = \dfrac{1}{1 + e^{-x}}$ | $\sigma(x)\,(1 - \sigma(x))$ |
# | tanh | $\tanh(x) = \dfrac{e^{x} - e^{-x}}{e^{x} + e^{-x}}$ | $1 - \tanh^2(x)$ |
# | ReLU | $\max(0, x)$ | $1$ if $x > 0$, else $0$ |
# | Leaky ReLU | $\max(0.1x, x)$ | $1$ if $x > 0$, else $0.1$ |
# | ELU | $x$ if $x \ge 0$, else $\alpha(e^{x} - 1)$ | $1$ if $x \ge 0$, else $\alpha e^{x}$ |
# | Maxout | $\max(w_1^\top x + b_1,\; w_2^\top x + b_2)$ | the $w$ of the larger piece |
#
# ReLU, Leaky ReLU and Maxout have a kink; at the kink we use the convention in the table (a
# *subgradient*). The definitions below are plain numpy and work on arrays of any shape.

# %%
def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def d_sigmoid(x):
    s = sigmoid(x)
    return s * (1.0 - s)


def d_tanh(x):
    return 1.0 - np.tanh(x) ** 2


def relu(x):
    return np.maximum(0.0, x)


def d_relu(x):
    return (x > 0).astype(float)


def leaky_relu(x, slope=0.1):
    return np.maximum(slope * x, x)


def d_leaky_relu(x, slope=0.1):
    return np.where(x > 0, 1.0, slope)


def elu(x, alpha=1.0):
    return np.where(x >= 0, x, alpha * np.expm1(np.minimum(x, 0.0)))  # expm1(t) = e^t - 1


def d_elu(x, alpha=1.0):
    return np.where(x >= 0, 1.0, alpha * np.exp(np.minimum(x, 0.0)))

# %% [markdown]
# **Maxout** is different from the others: it is not a fixed curve but the larger of two learned
# affine functions of the input, so it has its own parameters. For a scalar input each piece is a
# line. We plot it with the pieces $z_1 = x$ and $z_2 = -0.5x - 1$.

# %%
def maxout(x, w1, b1, w2, b2):
    """max(w1^T x + b1, w2^T x + b2) for a batch x of shape (N, D), or scalars."""
    return np.maximum(x @ w1 + b1, x @ w2 + b2) if np.ndim(w1) else np.maximum(w1 * x + b1, w2 * x + b2)


def d_maxout(x, w1, b1, w2, b2):
    """Derivative for a scalar input: the slope of whichever piece is larger."""
    return np.where(w1 * x + b1 >= w2 * x + b2, float(w1), float(w2))


MAXOUT_PIECES = (1.0, 0.0, -0.5, -1.0)  # (w1, b1, w2, b2)

activations = {
    "sigmoid": (sigmoid, d_sigmoid),
    "tanh": (np.tanh, d_tanh),
    "ReLU": (relu, d_relu),
    "Leaky ReLU (slope 0.1)": (leaky_relu, d_leaky_relu),
    "ELU (alpha = 1)": (elu, d_elu),
    "Maxout (two lines)": (lambda x: maxout(x, *MAXOUT_PIECES), lambda x: d_maxout(x, *MAXOUT_PIECES)),
}

# %% [markdown]
# Before we trust the derivative formulas, we compare each with a centred finite difference
# $\frac{f(x + h) - f(x - h)}{2h}$ at a few points away from the kinks.

# %%
points = np.array([-2.7, -1.3, -0.4, 0.3, 1.1, 2.6])
for name, (f, df) in activations.items():
    numeric = numerical_gradient_array(f, points.copy(), np.ones_like(points))
    report(f"{name:24s} f'", rel_error(df(points), numeric))

# %% [markdown]
# Now the picture: each function (solid) beside its derivative (dashed).

# %%
plot_functions(activations, ncols=3)
plt.show()

# %% [markdown]
# Things to notice:
#
# * sigmoid and tanh flatten out on both sides, so their derivatives fade to zero there;
# * ReLU's derivative is exactly $0$ for every negative input. Leaky ReLU keeps the slope $0.1$
#   on the whole left side. ELU's slope $\alpha e^{x}$ is close to 1 just left of zero but fades
#   to $0$ for large negative inputs, where its output flattens at $-\alpha$: **ELU saturates** on
#   the left (by design: a strongly negative input gives a fixed, noise-robust output), so only
#   inputs not far below zero get a useful gradient (the cell after the next prints it);
# * sigmoid's outputs are all positive, while tanh, Leaky ReLU and ELU also produce negative values;
# * Maxout with well-chosen pieces reproduces ReLU and Leaky ReLU, at the cost of twice the
#   parameters. The next cell checks those two special cases on a batch of vector inputs.

# %%
D_small = 5
X_small = rng.standard_normal((200, D_small))
w = rng.standard_normal(D_small)
pre = X_small @ w                                  # the affine part w^T x
zero = np.zeros(D_small)
print("ReLU       == maxout(w, 0; 0, 0):     ", np.allclose(relu(pre), maxout(X_small, w, 0.0, zero, 0.0)))
print("Leaky ReLU == maxout(w, 0; 0.1 w, 0): ", np.allclose(leaky_relu(pre), maxout(X_small, w, 0.0, 0.1 * w, 0.0)))

# %%
for x_left in (-0.5, -2.0, -5.0, -10.0):
    print(f"x = {x_left:5.1f}: ELU(x) = {elu(np.array(x_left)):.4f}, ELU'(x) = {d_elu(np.array(x_left)):.1e}, "
          f"Leaky ReLU'(x) = {d_leaky_relu(np.array(x_left)):.1f}")

# %% [markdown]
# ### Saturation: the sigmoid passes on at most a quarter of the gradient
#
# During training, the gradient flowing backwards through an activation is multiplied by
# $f'(s)$ at the unit's input $s$. For the sigmoid, $\sigma'(s) = \sigma(s)(1 - \sigma(s))$ is a
# product of two numbers that sum to $1$, so it is largest when both equal $\tfrac12$. Let us find
# the maximum on a grid and look at what is left for larger $|s|$.

# %%
grid = np.arange(-600, 601) / 100                  # -6.00 ... 6.00, includes 0 exactly
i_max = np.argmax(d_sigmoid(grid))
print(f"max sigmoid'(s) = {d_sigmoid(grid)[i_max]:.4f} at s = {grid[i_max]:.2f}")
for s in [2.0, 5.0, 10.0]:
    print(f"sigmoid'({s:4.1f}) = {d_sigmoid(s):.6f}")
print(f"for comparison: max tanh'(s) = {d_tanh(grid).max():.4f}, ReLU'(s) = {d_relu(np.array(1.0)):.0f} for s > 0")

# %% [markdown]
# A unit whose input is far from zero is **saturated**: it barely changes its output, and it
# passes back almost no gradient.
#
# Stacking makes this worse. Chain $k$ sigmoids, $h_k = \sigma(h_{k-1})$ with $h_0 = x$. By the
# chain rule
#
# $$\frac{d h_k}{d x} = \prod_{i=1}^{k} \sigma'(h_{i-1}) \;\le\; 0.25^{k}.$$
#
# (With weights, $h_k = \sigma(w_k h_{k-1})$, each factor becomes $w_k\,\sigma'(\cdot)$; the bound
# is then $\prod_i 0.25\,|w_i|$.) The cell computes the product at $x = 0$, where the first factor is
# as large as it can be, and compares it with the bound.

# %%
def sigmoid_chain_grad(x, k):
    """d h_k / d x for h_k = sigmoid(h_{k-1}), h_0 = x, by the chain rule."""
    grad, h = 1.0, x
    for _ in range(k):
        grad *= d_sigmoid(h)
        h = sigmoid(h)
    return grad


print(" k   d h_k/dx at x=0   bound 0.25^k")
for k in [1, 2, 3, 5, 10]:
    print(f"{k:2d}   {sigmoid_chain_grad(0.0, k):.3e}         {0.25 ** k:.3e}")

# %% [markdown]
# After ten sigmoid layers less than a millionth of the gradient survives: the early layers of a
# deep sigmoid network learn extremely slowly. This is the **vanishing gradient** problem. The
# product is even below the bound for $k \ge 2$, because the later sigmoids receive inputs in
# $(0, 1)$, where $\sigma' < 0.25$.
#
# The hand-written chain rule agrees with PyTorch's automatic differentiation:

# %%
x0 = torch.zeros((), dtype=torch.float64, device=device, requires_grad=True)
h = x0
for _ in range(10):
    h = torch.sigmoid(h)
h.backward()
ok = report("10 sigmoids: chain rule vs autograd", rel_error(sigmoid_chain_grad(0.0, 10), x0.grad.item()))

# %% [markdown]
# ### Dead ReLUs: units that never fire
#
# ReLU does not saturate for positive inputs ($\text{ReLU}' = 1$ there), which is why it replaced the
# sigmoid as the default activation of deep networks. Its weakness is the other side. If a unit's pre-activation
# $w_j^\top x + b_j$ is negative **for every input**, the unit always outputs $0$ and always has
# derivative $0$. No gradient reaches $w_j$ or $b_j$, so nothing can revive it: the unit is
# **dead**. A strongly negative bias (from a bad initialisation or a too-large update) is a
# typical cause.
#
# We take a layer with 200 units, feed it a random batch of 256 inputs, and count the units whose
# output is $0$ for all of them, for a range of biases (the same bias for every unit).

# %%
N, D_in, H_units = 256, 100, 200
X = rng.standard_normal((N, D_in))
W = rng.standard_normal((D_in, H_units)) / np.sqrt(D_in)   # pre-activations have variance ~ 1


def dead_fraction(X, W, b):
    out = relu(X @ W + b)
    return np.all(out == 0, axis=0).mean()         # dead: zero for every input in the batch


for bias in [0.0, -1.0, -2.0, -3.0, -4.0]:
    print(f"bias {bias:5.1f}: dead units {dead_fraction(X, W, np.full(H_units, bias)):.1%}")

# %% [markdown]
# Now the consequence. We run one forward and backward pass with bias $-3$ (through the reference
# layers in `cnnkit.layers`) and count the units whose weight gradient $\partial L / \partial w_j$ is
# exactly zero. Leaky ReLU, with its slope $0.1$ on the left, is shown for comparison.

# %%
b_bad = np.full(H_units, -3.0)
scores, cache_fc = affine_forward(X, W, b_bad)
hidden, cache_relu = relu_forward(scores)
dhidden = rng.standard_normal(hidden.shape)        # some upstream gradient

_, dW_relu, _ = affine_backward(relu_backward(dhidden, cache_relu), cache_fc)
_, dW_leaky, _ = affine_backward(dhidden * d_leaky_relu(scores), cache_fc)

dead = np.all(hidden == 0, axis=0)
print(f"dead units:                       {dead.sum()} of {H_units}")
print(f"ReLU units with zero gradient:    {np.all(dW_relu == 0, axis=0).sum()}")
print(f"Leaky units with zero gradient:   {np.all(dW_leaky == 0, axis=0).sum()}")

# %% [markdown]
# Every dead ReLU unit gets an exactly zero gradient, so gradient descent will never change it.
# Leaky ReLU (and ELU) keep a non-zero derivative for negative inputs, so no unit is stuck.
#
# > **Check yourself.** Why doesn't the $0.25^k$ argument apply to a chain of ReLU units? What can
# > go wrong instead?
#
# <details><summary>Answer</summary>
#
# Along a path of units that are active, each ReLU factor is exactly $1$, so the product of the
# activation derivatives does not shrink with depth. The risk is the opposite extreme: a factor is
# exactly $0$ for an inactive unit, and a unit that is inactive for every input (dead) never
# receives a gradient again.
#
# </details>

# %% [markdown]
# ## 3. The fully connected layer
#
# An MLP does not know that its input was a picture. A $32 \times 32 \times 3$ colour image is
# **stretched** into one long vector, and every output of a **fully connected (FC) layer** is a dot
# product of one row of $W$ with that whole vector, plus a bias:
#
# $$s_j = w_j^\top x + b_j, \qquad x \in \mathbb{R}^{3072}.$$

# %%
image = rng.random((32, 32, 3))                   # height x width x channels, values in [0, 1)
x_img = image.reshape(-1)                         # stretch: one row after another
print("image", image.shape, "->", x_img.shape)
print("stretching can be undone:", np.array_equal(x_img.reshape(32, 32, 3), image))

W_fc = rng.standard_normal((10, x_img.size)) * 0.01
b_fc = np.zeros(10)
s = W_fc @ x_img + b_fc
print(f"score of class 3: {s[3]:.4f}; dot product of row 3 with the image: {W_fc[3] @ x_img + b_fc[3]:.4f}")

# %% [markdown]
# The order in which the pixels are stretched is a convention (PyTorch stores channels first); it
# does not matter as long as it is the same for every image. `cnnkit.layers.affine_forward` does the
# stretching itself: it takes a batch of images and flattens each one.

# %%
out, _ = affine_forward(image[None], W_fc.T, b_fc)   # a batch of one image; w is (D, M) there
print("affine_forward on the image == W x + b:", np.allclose(out[0], s))

# %% [markdown]
# **Parameter count.** A fully connected layer from $D$ inputs to $M$ outputs has a $M \times D$
# weight matrix and $M$ biases: $DM + M$ parameters.

# %%
def fc_params(n_in, n_out, bias=True):
    return n_in * n_out + (n_out if bias else 0)


n_ours = fc_params(3072, 10)
n_torch = sum(p.numel() for p in torch.nn.Linear(3072, 10).parameters())
print(f"FC 3072 -> 10: {n_ours:,} parameters ({fc_params(3072, 10, bias=False):,} weights + 10 biases)")
print(f"torch.nn.Linear(3072, 10): {n_torch:,} parameters; equal: {n_ours == n_torch}")

# %% [markdown]
# ## 4. Naming: a "2-layer net" is a "1-hidden-layer net"
#
# Two conventions are in use. One counts the layers that have weights (the input is not a layer);
# the other counts only the hidden layers between input and output. So $f = W_2 \max(0, W_1 x)$ is a
# **2-layer net** or, equally, a **1-hidden-layer net**. The table derives both names and the
# parameter count from a list of layer sizes.

# %%
def describe(sizes):
    pairs = list(zip(sizes[:-1], sizes[1:]))
    return len(pairs), len(sizes) - 2, sum(fc_params(a, b) for a, b in pairs)


def make_mlp(sizes):
    layers = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
    return torch.nn.Sequential(*layers[:-1])        # no ReLU after the score layer


nets = {"linear classifier": [3072, 10], "f = W2 max(0, W1 x)": [3072, 100, 10],
        "f = W3 max(0, W2 max(0, W1 x))": [3072, 100, 100, 10]}
print(f"{'network':32s} {'sizes':22s} {'name':10s} {'also called':18s} {'parameters':>10s} {'torch agrees':>12s}")
for label, sizes in nets.items():
    n_layers, n_hidden, n_params = describe(sizes)
    torch_count = sum(p.numel() for p in make_mlp(sizes).parameters())
    print(f"{label:32s} {str(sizes):22s} {f'{n_layers}-layer':10s} {f'{n_hidden}-hidden-layer':18s} "
          f"{n_params:>10,} {str(n_params == torch_count):>12s}")

# %% [markdown]
# (A linear classifier is a "1-layer net" with no hidden layer.)
#
# ## 5. A first look at real data
#
# The course uses real handwritten digits that ship with scikit-learn: small $8 \times 8$ grey
# images of the digits 0 to 9, already split into training, validation and test sets.

# %%
digits = load_digits()
print(digits)
print(f"pixel values in [{digits.X_train.min():.1f}, {digits.X_train.max():.1f}]")

# %%
show_images(digits.X_train[:20], labels=digits.y_train[:20], ncols=10)
plt.show()

# %% [markdown]
# For an MLP each digit is stretched into $8 \cdot 8 = 64$ numbers. Here is an untrained 2-layer
# net with 32 hidden units applied to the whole training set. Its weights are random, so it does
# no better than guessing one of the ten classes; lecture 02 derives the gradients that train it.

# %%
X_flat = digits.X_train.reshape(len(digits.X_train), -1)
sizes = [X_flat.shape[1], 32, 10]
V1 = rng.standard_normal((sizes[0], sizes[1])) / np.sqrt(sizes[0])
V2 = rng.standard_normal((sizes[1], sizes[2])) / np.sqrt(sizes[1])
hidden_digits = relu(X_flat @ V1)
scores_digits = hidden_digits @ V2
accuracy = (scores_digits.argmax(axis=1) == digits.y_train).mean()
chance = 1 / len(digits.classes)
print(f"input {X_flat.shape} -> hidden {hidden_digits.shape} -> scores {scores_digits.shape}")
print(f"parameters with biases: {describe(sizes)[2]:,}")
print(f"accuracy of the untrained net: {accuracy:.1%} (guessing: {chance:.1%})")

# %% [markdown]
# > **Check yourself.** A network maps the $8 \times 8$ digits through hidden layers of 32 and 16
# > units to 10 scores. What is it called under each convention, and how many parameters (with
# > biases) does it have?
#
# <details><summary>Answer</summary>
#
# It has three weight layers, so it is a **3-layer net**, or a **2-hidden-layer net**. Its
# parameters are $(64 \cdot 32 + 32) + (32 \cdot 16 + 16) + (16 \cdot 10 + 10) = 2{,}778$; the next
# cell computes both.
#
# </details>

# %%
n_layers, n_hidden, n_params = describe([64, 32, 16, 10])
print(f"{n_layers}-layer net = {n_hidden}-hidden-layer net, {n_params:,} parameters")

# %% [markdown]
# ## Summary
#
# * A neural network alternates matrix products with an element-wise non-linearity. Without the
#   non-linearity any stack of linear (or affine) layers collapses to a single one.
# * Sigmoid and tanh saturate; the sigmoid passes back at most a quarter of the gradient per
#   layer, so gradients vanish in deep sigmoid stacks.
# * ReLU passes gradients unchanged on its active side but can die; Leaky ReLU, ELU and Maxout keep
#   a gradient for negative inputs.
# * A fully connected layer stretches its input into a vector; from $D$ inputs to $M$ outputs it
#   has $DM + M$ parameters.
# * "$N$-layer net" counts weight layers; "$(N-1)$-hidden-layer net" names the same network.
