# %% [markdown]
# # Lecture 05: Pooling, fully connected layers and a whole ConvNet
#
# Convolution layers keep the spatial size (with padding) or shrink it slowly. **Pooling layers**
# shrink it on purpose, making the representation smaller and cheaper to process, and making
# later layers see larger regions of the image. At the end of the network, fully connected
# layers turn the last volume into class scores. This lecture adds those pieces and trains a
# small ConvNet written entirely in numpy.
#
# **You will learn**
#
# 1. max, average and L2 pooling, and the backward pass of max pooling;
# 2. why average pooling and fully connected layers are convolutions in disguise;
# 3. the typical CONV-RELU-POOL-FC architecture;
# 4. He initialisation, mini-batch SGD with momentum and a decaying learning rate, and why the
#    library averages the loss over a batch where lecture 02 summed it;
# 5. how to check a whole network's gradient, and why crossing a kink breaks the check;
# 6. whether a ConvNet beats logistic regression and an MLP, and on what kind of input;
# 7. batch normalisation: its forward pass in training and evaluation, its backward pass derived
#    and simplified, spatial batch norm for conv layers, and what it does for a deep network.

# %%
import dataclasses
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F

from cnnkit import conv, layers
from cnnkit.data import load_digits
from cnnkit.device import pick_device, seed_everything
from cnnkit.gradcheck import numerical_gradient, numerical_gradient_array, rel_error, report
from cnnkit.train import fit

rng = seed_everything(0)
device = pick_device()
print("device:", device)

# %% [markdown]
# ## 1. Pooling
#
# A pooling layer slides a window over each channel **separately** and summarises it with one
# number:
#
# - **max pooling** keeps the largest value, $\max_{(i,j) \in \text{window}} x_{ij}$;
# - **average pooling** keeps the mean, $\frac{1}{|\text{window}|} \sum x_{ij}$;
# - **L2-norm pooling** keeps $\sqrt{\sum x_{ij}^2}$.
#
# Max pooling is the usual choice between convolutions. Average pooling is far from obsolete:
# **global** average pooling (one window the size of the whole map) turns the last volume into a
# vector in GoogLeNet, ResNet and DenseNet, and DenseNet's transition layers average-pool
# $2 \times 2$. L2-norm pooling is the rare one. The usual setting
# is a $2 \times 2$ window at stride 2, which halves width and height and drops 75% of the values.
# A pooling layer has **no parameters**, and since each channel is pooled on its own, the depth
# is unchanged:

# %%
x = rng.standard_normal((1, 64, 224, 224))
pp = {"pool_height": 2, "pool_width": 2, "stride": 2}
mx, _ = conv.max_pool_forward(x, pp)
av, _ = conv.avg_pool_forward(x, pp)
l2 = np.sqrt(conv.avg_pool_forward(x ** 2, pp)[0] * 4)        # sqrt of the sum of squares over 4 values
print("input", x.shape[1:], "-> max pool", mx.shape[1:], ", avg pool", av.shape[1:], ", L2 pool", l2.shape[1:])
print(f"2x2 pooling at stride 2 keeps {mx.size / x.size:.0%} of the values")
print("parameters of torch.nn.MaxPool2d(2):", sum(p.numel() for p in torch.nn.MaxPool2d(2).parameters()))
xt = torch.tensor(x)
print("agree with torch max_pool2d / avg_pool2d / lp_pool2d(p=2):",
      np.allclose(mx, F.max_pool2d(xt, 2).numpy()), np.allclose(av, F.avg_pool2d(xt, 2).numpy()),
      np.allclose(l2, F.lp_pool2d(xt, 2, 2).numpy()))

# %% [markdown]
# The textbook example: a $4 \times 4$ single-channel input, $2 \times 2$ max pooling at stride 2.

# %%
ex = np.array([[1, 1, 2, 4],
               [5, 6, 7, 8],
               [3, 2, 1, 0],
               [1, 2, 3, 4]], dtype=np.float64)[None, None]
ex_out, ex_cache = conv.max_pool_forward(ex, pp)
print(ex_out[0, 0])

# %% [markdown]
# Each $2 \times 2$ block gives its maximum: 6, 8, 3 and 4.
#
# ## 2. The backward pass of max pooling
#
# Inside a window only the maximum affects the output; a small change of any other value
# changes nothing. So the gradient of each output goes, in full, to the position of its window's
# maximum (the "argmax", which the forward pass records), and every other input gets 0. With
# upstream gradients $\begin{bmatrix}10 & 20\\ 30 & 40\end{bmatrix}$:

# %%
dout = np.array([[10.0, 20.0], [30.0, 40.0]])[None, None]
print(conv.max_pool_backward(dout, ex_cache)[0, 0])

# %% [markdown]
# The 10 lands where the 6 was, the 20 on the 8, the 30 on the 3 and the 40 on the last 4.
# A numerical gradient check (float64, overlapping $3 \times 3$ windows at stride 2, where an
# input can be the maximum of two windows and collects both gradients):

# %%
xg = rng.standard_normal((2, 3, 7, 9))
pg = {"pool_height": 3, "pool_width": 3, "stride": 2}
og, cg = conv.max_pool_forward(xg, pg)
dg = rng.standard_normal(og.shape)
ok = report("max pool dx", rel_error(conv.max_pool_backward(dg, cg),
                                     numerical_gradient_array(lambda z: conv.max_pool_forward(z, pg)[0], xg, dg)), 1e-8)

# %% [markdown]
# ## 3. Average pooling is a fixed convolution
#
# Averaging a $2 \times 2$ window is a dot product with the weights $\frac14$, applied to one
# channel at a time. So average pooling is a convolution with stride 2 whose filter $f$ has
# $\frac14$ in channel $f$ and zeros elsewhere, and no bias: a convolution whose weights are not
# learned.

# %%
Cs = 4
xs = rng.standard_normal((2, Cs, 8, 6))
w_avg = np.zeros((Cs, Cs, 2, 2))
for c in range(Cs):
    w_avg[c, c] = 0.25
as_conv, _ = conv.conv_forward(xs, w_avg, np.zeros(Cs), {"stride": 2, "pad": 0})
as_pool, _ = conv.avg_pool_forward(xs, pp)
print("average pool == conv with fixed 1/4 weights:", np.allclose(as_conv, as_pool, rtol=0, atol=1e-12))

# %% [markdown]
# ## 4. A fully connected layer is a convolution too
#
# A fully connected (FC) layer on an $H \times W \times C$ volume connects every output to every
# input. A convolution whose filters are exactly $H \times W \times C$, one per output, fits in
# one position and also sees everything: its output is $1 \times 1 \times M$, the same numbers as
# the FC layer once the weights are reshaped. This view lets a network trained on small images
# slide over larger ones.

# %%
N, Cv, Hv, Wv, M = 3, 8, 4, 4, 10
vol = rng.standard_normal((N, Cv, Hv, Wv))
w_fc = rng.standard_normal((Cv * Hv * Wv, M))       # affine layer weights (D, M), D = C*H*W
b_fc = rng.standard_normal(M)
fc_out, _ = layers.affine_forward(vol, w_fc, b_fc)
w_conv = w_fc.T.reshape(M, Cv, Hv, Wv)                # one 4x4x8 filter per output
conv_out, _ = conv.conv_forward(vol, w_conv, b_fc, {"stride": 1, "pad": 0})
print("FC output", fc_out.shape, "; conv output", conv_out.shape)
print("equal (to 1e-10):", np.allclose(fc_out, conv_out[:, :, 0, 0], rtol=0, atol=1e-10))

# %% [markdown]
# ## 5. The typical architecture
#
# ConvNets stack these layers in a regular pattern:
#
# $$\big[(\text{CONV} - \text{RELU}) \times N - \text{POOL}\big] \times M - (\text{FC} - \text{RELU}) \times K - \text{SOFTMAX},$$
#
# with $N$ up to about 5, $M$ large and $0 \le K \le 2$. Convolutions extract features at one
# scale, pooling moves to a coarser scale, and the FC layers at the end turn the last volume into
# class scores. (Recent designs use fewer pooling and FC layers, as later lectures show.)
#
# ## 6. A small ConvNet in numpy
#
# We build $N = M = K = 1$:
# CONV(3x3, pad 1) - RELU - POOL(2x2) - FC - RELU - FC - SOFTMAX, out of the library's layers.
#
# **He initialisation.** The weights start random, and their scale matters. A layer with
# $n_{\text{in}}$ inputs per output (a $3 \times 3$ filter on $C$ channels has $9C$) adds up
# $n_{\text{in}}$ products, so its outputs have variance $n_{\text{in}} \operatorname{Var}(w)
# \operatorname{E}[x^2]$. A ReLU zeroes half of a symmetric input, which halves
# $\operatorname{E}[x^2]$. Drawing $w \sim \mathcal{N}(0, 2/n_{\text{in}})$ makes the two effects
# cancel, so the signal keeps its size through any number of layers (He et al., 2015). Ten
# affine-ReLU layers of width 256 show what happens otherwise:

# %%
def signal_after(depth, scale, width=256):
    """Root mean square of the activations after `depth` affine-ReLU layers, weights N(0, scale^2)."""
    h = rng.standard_normal((500, width))
    for _ in range(depth):
        h = np.maximum(0, h @ (rng.standard_normal((width, width)) * scale))
    return float(np.sqrt(np.mean(h ** 2)))


for label, scale in {"He, std sqrt(2 / 256)": np.sqrt(2 / 256), "std 0.01": 0.01, "std 0.2": 0.2}.items():
    rms = signal_after(10, scale)
    verdict = "keeps its size (0.3 to 3)" if 0.3 < rms < 3 else "vanishes (< 1e-3)" if rms < 1e-3 else "explodes (> 1e3)" if rms > 1e3 else "drifts"
    print(f"{label}: the signal after 10 layers {verdict}")

# %%
def init_params(in_ch, size, n_filters, hidden, n_classes, rng, dtype=np.float64):
    """He-initialised parameters of conv - relu - pool - fc - relu - fc; biases start at 0."""
    pooled = n_filters * (size // 2) ** 2
    return {
        "w1": (rng.standard_normal((n_filters, in_ch, 3, 3)) * np.sqrt(2 / (in_ch * 9))).astype(dtype),
        "b1": np.zeros(n_filters, dtype),
        "w2": (rng.standard_normal((pooled, hidden)) * np.sqrt(2 / pooled)).astype(dtype),
        "b2": np.zeros(hidden, dtype),
        "w3": (rng.standard_normal((hidden, n_classes)) * np.sqrt(2 / hidden)).astype(dtype),
        "b3": np.zeros(n_classes, dtype),
    }


def convnet_loss(params, X, y=None):
    """Class scores for X (N, C, H, W); with labels y also (loss, grads)."""
    pool = {"pool_height": 2, "pool_width": 2, "stride": 2}
    h1, c1 = conv.conv_forward(X, params["w1"], params["b1"], {"stride": 1, "pad": 1})
    r1, cr1 = layers.relu_forward(h1)
    p1, cp1 = conv.max_pool_forward(r1, pool)
    h2, c2 = layers.affine_forward(p1, params["w2"], params["b2"])
    r2, cr2 = layers.relu_forward(h2)
    scores, c3 = layers.affine_forward(r2, params["w3"], params["b3"])
    if y is None:
        return scores
    loss, dscores = layers.softmax_loss(scores, y)
    grads = {}
    dr2, grads["w3"], grads["b3"] = layers.affine_backward(dscores, c3)
    dh2 = layers.relu_backward(dr2, cr2)
    dp1, grads["w2"], grads["b2"] = layers.affine_backward(dh2, c2)
    dr1 = conv.max_pool_backward(dp1, cp1)
    dh1 = layers.relu_backward(dr1, cr1)
    _, grads["w1"], grads["b1"] = conv.conv_backward(dh1, c1)
    return loss, grads


# %% [markdown]
# Before training, a gradient check of the whole network, end to end, in float64 on a tiny
# problem (3 images of $6 \times 6 \times 2$, 3 filters, 5 hidden units):

# %%
check_params = init_params(in_ch=2, size=6, n_filters=3, hidden=5, n_classes=4, rng=rng)
Xc = rng.standard_normal((3, 2, 6, 6))
yc = np.array([0, 3, 1])
_, analytic = convnet_loss(check_params, Xc, yc)
for name in ("w1", "b1", "w2", "b2", "w3", "b3"):
    num = numerical_gradient(lambda _: convnet_loss(check_params, Xc, yc)[0], check_params[name])
    ok = report(f"d loss / d {name}", rel_error(analytic[name], num), 1e-6)

# %% [markdown]
# **Why a looser tolerance, and what a kink does.** The loss is piecewise smooth: a ReLU has a
# kink at 0, and a max pool switches its argmax where two inputs of a window are equal. If a
# finite-difference step $x \pm h$ crosses such a kink, the centred difference averages the slopes
# of two pieces and is wrong by $O(1)$ in that entry, a relative error near 1, which no tolerance
# would hide: the check would fail, and the cure is a smaller $h$ or another random draw, not a
# looser bound. Here no pre-activation and no pair of candidates for a maximum lies within $h$ of
# a kink, as the next cell verifies. The tolerance is $10^{-6}$ rather than $10^{-7}$ for a smooth
# reason: the finite difference of the whole loss carries a rounding error of about
# $\varepsilon |L| / h$, and after several layers some gradient entries are small compared with
# $|L|$, so their relative error is larger than in a single layer's check.

# %%
h_step = 1e-5
p = check_params
a1, _ = conv.conv_forward(Xc, p["w1"], p["b1"], {"stride": 1, "pad": 1})
r1 = np.maximum(a1, 0)
win = np.lib.stride_tricks.sliding_window_view(r1, (2, 2), axis=(2, 3))[:, :, ::2, ::2].reshape(*r1.shape[:2], 3, 3, 4)
top2 = np.sort(win, axis=-1)[..., -2:]
pool_gap = (top2[..., 1] - top2[..., 0])[top2[..., 1] > 0]      # windows whose max is not a ReLU zero
a2 = conv.max_pool_forward(r1, pp)[0].reshape(3, -1) @ p["w2"] + p["b2"]
print("every ReLU input at least 10 h from 0:", bool(np.abs(a1).min() > 10 * h_step and np.abs(a2).min() > 10 * h_step))
print("every max pool's winner at least 10 h ahead of the runner-up:", bool(pool_gap.min() > 10 * h_step))

# %% [markdown]
# ## 7. Training: mini-batch SGD, momentum, a decaying learning rate
#
# Lecture 02 took full gradient steps on the whole training set. With more data that is wasteful:
# the gradient of a random **mini-batch** of $B$ examples (here 64) is an unbiased, noisy estimate
# of the full one at a fraction of the cost. One pass over the shuffled training set is an
# **epoch**. This is **stochastic gradient descent** (SGD).
#
# **Mean, not sum.** Lecture 02 summed the loss over the batch. `layers.softmax_loss` averages it,
# $L = \frac{1}{B}\sum_n L_n$, so its gradient is $\frac1B$ times the summed one. With the mean, the
# size of a step does not change with the batch size, and one learning rate serves any $B$; with
# the sum, doubling $B$ doubles the step. The two differ by exactly that factor:

# %%
scores_demo = rng.standard_normal((5, 10))
y_demo = np.array([3, 1, 4, 1, 5])
loss_mean, d_mean = layers.softmax_loss(scores_demo, y_demo)
per_example = [layers.softmax_loss(scores_demo[i:i + 1], y_demo[i:i + 1]) for i in range(5)]
print("softmax_loss == mean of the per-example losses:", np.isclose(loss_mean, np.mean([l for l, _ in per_example])))
print("B * its gradient == the gradient of the summed loss:",
      np.allclose(5 * d_mean, np.concatenate([d for _, d in per_example]), rtol=0, atol=1e-12))

# %% [markdown]
# **Momentum.** Noisy gradients make SGD zig-zag. Momentum keeps a running velocity $v$, an
# exponentially decaying sum of past steps, and moves along it:
#
# $$v \leftarrow \mu v - \alpha \nabla L, \qquad w \leftarrow w + v ,$$
#
# with $\mu = 0.9$: the components of successive gradients that agree add up (up to $1/(1-\mu) = 10$
# times a plain step), those that alternate cancel.
#
# **Learning-rate decay.** Late in training the gradient noise keeps SGD bouncing around the
# minimum; shrinking $\alpha$ lets it settle. Here $\alpha$ is multiplied by $\gamma = 0.9$ after every
# epoch (a step or cosine schedule does the same job).
#
# The whole loop, written once and used for every model below (float32 for speed; the gradient
# check above used float64):

# %%
def sgd(loss_fn, params, data, epochs=30, lr=0.05, momentum=0.9, decay=0.9, batch_size=64, seed=0):
    """Mini-batch SGD with momentum and per-epoch learning-rate decay; updates params in place.

    loss_fn(params, X, y) -> (mean loss, grads); data: a Split. Returns the history:
    {"loss": mean training loss per epoch, "val acc": validation accuracy per epoch}.
    """
    order_rng = np.random.default_rng(seed)
    velocity = {k: np.zeros_like(v) for k, v in params.items()}
    history = {"loss": [], "val acc": []}
    for _ in range(epochs):
        order = order_rng.permutation(len(data.X_train))
        losses = []
        for i in range(0, len(order), batch_size):
            idx = order[i:i + batch_size]
            loss, grads = loss_fn(params, data.X_train[idx], data.y_train[idx])
            losses.append(loss)
            for k in params:
                velocity[k] = momentum * velocity[k] - lr * grads[k]
                params[k] += velocity[k]
        lr *= decay
        history["loss"].append(float(np.mean(losses)))
        history["val acc"].append(accuracy(loss_fn, params, data.X_val, data.y_val))
    return history


def accuracy(loss_fn, params, X, y, batch=500):
    """Fraction of X whose highest score is the true label."""
    preds = np.concatenate([loss_fn(params, X[i:i + batch]).argmax(axis=1) for i in range(0, len(X), batch)])
    return float((preds == y).mean())


# %% [markdown]
# ## 8. Training on real handwritten digits, against two baselines
#
# The 1,797 digits that ship with scikit-learn are $8 \times 8$ grey images. A ConvNet is only
# worth its cost if it beats simpler models on the same split, with the same loop and the same
# number of epochs, so we train three:
#
# - **logistic regression**: one affine layer and the softmax;
# - an **MLP**: affine (64 hidden units) - ReLU - affine;
# - the **ConvNet**: 16 filters and 64 hidden units.

# %%
def logreg_loss(params, X, y=None):
    """Softmax regression on the flattened image."""
    scores, cache = layers.affine_forward(X, params["w"], params["b"])
    if y is None:
        return scores
    loss, dscores = layers.softmax_loss(scores, y)
    _, dw, db = layers.affine_backward(dscores, cache)
    return loss, {"w": dw, "b": db}


def mlp_loss(params, X, y=None):
    """affine - relu - affine on the flattened image."""
    h, c1 = layers.affine_forward(X, params["w1"], params["b1"])
    r, cr = layers.relu_forward(h)
    scores, c2 = layers.affine_forward(r, params["w2"], params["b2"])
    if y is None:
        return scores
    loss, dscores = layers.softmax_loss(scores, y)
    grads = {}
    dr, grads["w2"], grads["b2"] = layers.affine_backward(dscores, c2)
    _, grads["w1"], grads["b1"] = layers.affine_backward(layers.relu_backward(dr, cr), c1)
    return loss, grads


def make_models(size, rng, dtype=np.float32):
    """Freshly initialised (loss function, parameters) of the three models for size x size inputs."""
    D = size * size
    return {
        "logistic regression": (logreg_loss, {"w": np.zeros((D, 10), dtype), "b": np.zeros(10, dtype)}),
        "MLP": (mlp_loss, {"w1": (rng.standard_normal((D, 64)) * np.sqrt(2 / D)).astype(dtype),
                           "b1": np.zeros(64, dtype),
                           "w2": (rng.standard_normal((64, 10)) * np.sqrt(2 / 64)).astype(dtype),
                           "b2": np.zeros(10, dtype)}),
        "ConvNet": (convnet_loss, init_params(1, size, 16, 64, 10, rng, dtype)),
    }


def compare(data, size, rng):
    """Train the three models on data; return {name: (params, history, val acc, test acc)}."""
    results = {}
    for name, (loss_fn, params) in make_models(size, rng).items():
        history = sgd(loss_fn, params, data)
        results[name] = (params, history, history["val acc"][-1], accuracy(loss_fn, params, data.X_test, data.y_test))
    return results


def plot_comparison(results, title):
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.2))
    for name, (_, hist, _, _) in results.items():
        epochs = range(1, len(hist["loss"]) + 1)
        axes[0].plot(epochs, hist["loss"], label=name)
        axes[1].plot(epochs, hist["val acc"], label=name)
    axes[0].set(xlabel="epoch", ylabel="training loss", yscale="log")
    axes[1].set(xlabel="epoch", ylabel="validation accuracy", ylim=(0, 1))
    pos = np.arange(len(results))
    for k, split in enumerate(("val", "test")):
        accs = [r[2 + k] for r in results.values()]
        bars = axes[2].bar(pos + (k - 0.5) * 0.4, accs, 0.4, label=split)
        axes[2].bar_label(bars, fmt="%.3f", fontsize=7)
    axes[2].set_xticks(pos, list(results), fontsize=8)
    axes[2].set(ylabel="accuracy", ylim=(0, 1.1))
    for ax in axes:
        ax.legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    plt.show()


data = load_digits(size=8)
print(data)
print("digits in all:", len(data.y_train) + len(data.y_val) + len(data.y_test))
t0 = time.perf_counter()
digits = compare(data, 8, rng)
train_seconds = time.perf_counter() - t0
for name, (params, hist, _, _) in digits.items():
    print(f"{name}: {sum(v.size for v in params.values()):,} parameters; "
          f"training loss fell over the {len(hist['loss'])} epochs: {hist['loss'][-1] < hist['loss'][0]}")

# %%
# NBVAL_IGNORE_OUTPUT
# (the training time is a wall-clock measurement)
print(f"training the three models took {train_seconds:.1f} s on the CPU, most of it the ConvNet")

# %% [markdown]
# The accuracies themselves are in the chart, not printed: after 30 epochs of SGD in float32 the
# last digit of an accuracy can move when the BLAS library adds numbers in another order, which
# would change this notebook's stored output. What is printed is a verdict with a wide margin.

# %%
plot_comparison(digits, "8x8 digits, centred")
acc = {name: r[3] for name, r in digits.items()}
best_baseline = max(acc["logistic regression"], acc["MLP"])
n_test = len(data.y_test)
print(f"every model above 0.85 on the {n_test} test digits:", min(acc.values()) > 0.85)
print("ConvNet above 0.90 on the test digits:", acc["ConvNet"] > 0.90)
print("ConvNet's lead over the better baseline is under 20 of the test digits:",
      (acc["ConvNet"] - best_baseline) * n_test < 20)

# %% [markdown]
# An honest result: on these digits the ConvNet wins by a few points at most (the chart has the
# figures), a handful of the 269 test digits, and the MLP and even logistic regression come
# close. A single split this small cannot separate models whose accuracies differ by a
# percent or two. The digits are centred, size-normalised and only $8 \times 8$: a pixel's
# position already says a lot, and a linear model on the 64 pixels is strong. What a convolution
# adds is **weight sharing**, the same detector at every position, and that pays when the
# position of a pattern varies. So we move the digits: each is pasted at a random position of a
# $16 \times 16$ black canvas (the same for every model; train, validation and test all shifted).

# %%
def shift_digits(X, rng, canvas=16):
    """Paste each 8x8 image of X (N, 1, 8, 8) at a random position of a canvas x canvas image."""
    out = np.zeros((len(X), 1, canvas, canvas), X.dtype)
    offsets = rng.integers(0, canvas - X.shape[-1] + 1, size=(len(X), 2))
    for img, src, (r0, c0) in zip(out, X, offsets):
        img[0, r0:r0 + X.shape[-2], c0:c0 + X.shape[-1]] = src[0]
    return out


shift_rng = np.random.default_rng(123)
shifted = dataclasses.replace(data, **{f"X_{k}": shift_digits(getattr(data, f"X_{k}"), shift_rng)
                                       for k in ("train", "val", "test")})
print(shifted)
fig, axes = plt.subplots(1, 8, figsize=(8, 1.3))
for ax, img, label in zip(axes, shifted.X_train, shifted.y_train):
    ax.imshow(img[0], cmap="gray_r")
    ax.set_title(str(label), fontsize=8)
    ax.axis("off")
plt.show()

# %%
moved = compare(shifted, 16, rng)
plot_comparison(moved, "8x8 digits at random positions of a 16x16 canvas")
acc_moved = {name: r[3] for name, r in moved.items()}
print("ConvNet ahead of both baselines by more than 20 points on the test digits:",
      acc_moved["ConvNet"] - max(acc_moved["logistic regression"], acc_moved["MLP"]) > 0.20)
print("logistic regression below 0.5:", acc_moved["logistic regression"] < 0.5)

# %% [markdown]
# Now the difference is unmistakable. Logistic regression has one weight per pixel and class, and
# a "3" at the top left shares no pixels with a "3" at the bottom right; the MLP does better but
# must learn every position separately from 1,259 examples. The ConvNet's filters detect strokes
# wherever they are, and max pooling forgives small shifts. (Its FC layer still sees positions,
# which is why it is far from perfect; global pooling, in later lectures, removes that too.)
#
# The 16 learned first-layer filters of the ConvNet trained on the centred digits, on one colour
# scale so that their strengths can be compared:

# %%
w1 = digits["ConvNet"][0]["w1"][:, 0]
vmax = np.abs(w1).max()
fig, axes = plt.subplots(2, 8, figsize=(9, 2.6))
for ax, f in zip(axes.ravel(), w1):
    im = ax.imshow(f, cmap="RdBu_r", vmin=-vmax, vmax=vmax)
    ax.axis("off")
fig.colorbar(im, ax=axes, shrink=0.8, label="weight")
fig.suptitle("first-layer filters (3x3), one colour scale")
plt.show()

# %% [markdown]
# ## 9. Batch normalisation
#
# In a deep network every layer's input is the output of all the layers below it, so its scale
# depends on all of them: a few layers that shrink (or grow) their input compound into a signal
# that vanishes (or explodes) by the time it reaches the top. **Batch normalisation** (Ioffe and
# Szegedy, 2015, who introduced it in "BN-Inception", a GoogLeNet with batch norm; it is part of
# every ResNet and DenseNet) normalises each feature over the mini-batch, then lets the network
# choose the scale and offset it wants. For a batch $x_1, \dots, x_N$ of $D$-vectors, in
# **training**:
#
# $$\mu = \frac1N \sum_i x_i, \qquad \sigma^2 = \frac1N \sum_i (x_i - \mu)^2, \qquad
#   \hat x_i = \frac{x_i - \mu}{\sqrt{\sigma^2 + \epsilon}}, \qquad y_i = \gamma \odot \hat x_i + \beta,$$
#
# all element-wise per feature, with learned $\gamma, \beta \in \mathbb{R}^D$. In **evaluation** a
# prediction must not depend on the other examples of its batch, so $\mu$ and $\sigma^2$ are
# replaced by running averages kept during training,
# $\mu_{\text{run}} \leftarrow (1 - m)\,\mu_{\text{run}} + m\,\mu$ (PyTorch's momentum $m = 0.1$;
# its running variance uses the unbiased $\frac{N}{N-1}\sigma^2$).
#
# **The backward pass.** Write $g_i = \frac{\partial L}{\partial \hat x_i} = \frac{\partial L}{\partial y_i} \odot \gamma$
# and $s = (\sigma^2 + \epsilon)^{-1/2}$. Every $x_i$ reaches the loss three ways: through its own
# $\hat x_i$, through $\mu$ and through $\sigma^2$:
#
# $$\frac{\partial L}{\partial \sigma^2} = -\frac{s^3}{2} \sum_j g_j \odot (x_j - \mu), \qquad
#   \frac{\partial L}{\partial \mu} = -s \sum_j g_j \quad \Big(\text{the } \sigma^2 \text{ term vanishes: } \textstyle\sum_j (x_j - \mu) = 0\Big),$$
#
# $$\frac{\partial L}{\partial x_i} = s\, g_i + \frac{2 (x_i - \mu)}{N} \odot \frac{\partial L}{\partial \sigma^2}
#   + \frac1N \frac{\partial L}{\partial \mu}
#   = \frac{s}{N} \odot \Big( N g_i - \sum_j g_j - \hat x_i \odot \sum_j g_j \odot \hat x_j \Big),$$
#
# using $x_j - \mu = \hat x_j / s$. The simplified form needs only $\hat x$, $\gamma$ and $s$
# from the forward pass; and $\frac{\partial L}{\partial \gamma} = \sum_i \frac{\partial L}{\partial y_i} \odot \hat x_i$,
# $\frac{\partial L}{\partial \beta} = \sum_i \frac{\partial L}{\partial y_i}$.
# `cnnkit.layers.batchnorm_forward` / `batchnorm_backward` implement exactly this. Checked in
# float64 against PyTorch's `BatchNorm1d` (both modes, running statistics included) and against
# finite differences. The tolerance of that last check is 1e-5, not the 1e-7 of lecture 02: each
# column of $dx$ sums to zero (shifting a column leaves $\hat x$ unchanged), so some entries are
# small and their relative error is mostly the finite difference's own rounding (here it is a
# few times 1e-7); a wrong formula gives errors near 1.

# %%
Nb, Db = 16, 5
gamma_b, beta_b = rng.standard_normal(Db), rng.standard_normal(Db)
bn_torch = torch.nn.BatchNorm1d(Db).double()
with torch.no_grad():
    bn_torch.weight.copy_(torch.from_numpy(gamma_b))
    bn_torch.bias.copy_(torch.from_numpy(beta_b))
bn_param = {"mode": "train"}
worst = {"out": 0.0, "dx": 0.0, "running": 0.0}
for step in range(3):
    xb = rng.standard_normal((Nb, Db)) * 3 + 2
    xt = torch.from_numpy(xb).requires_grad_()
    ref = bn_torch.train()(xt)
    out_b, cache_b = layers.batchnorm_forward(xb, gamma_b, beta_b, bn_param)
    dout_b = rng.standard_normal((Nb, Db))
    ref.backward(torch.from_numpy(dout_b))
    dx_b, _, _ = layers.batchnorm_backward(dout_b, cache_b)
    worst["out"] = max(worst["out"], np.abs(out_b - ref.detach().numpy()).max())
    worst["dx"] = max(worst["dx"], np.abs(dx_b - xt.grad.numpy()).max())
    worst["running"] = max(worst["running"], np.abs(bn_param["running_var"] - bn_torch.running_var.numpy()).max())
x_eval = rng.standard_normal((4, Db))
out_eval, _ = layers.batchnorm_forward(x_eval, gamma_b, beta_b, {**bn_param, "mode": "eval"})
worst["eval"] = np.abs(out_eval - bn_torch.eval()(torch.from_numpy(x_eval)).detach().numpy()).max()
for name, err in worst.items():
    print(f"{name:8s} vs torch.nn.BatchNorm1d: max difference below 1e-10: {err < 1e-10}")
num_dx = numerical_gradient_array(lambda z: layers.batchnorm_forward(z, gamma_b, beta_b, {"mode": "train"})[0],
                                  xb.copy(), dout_b)
ok = report("batch norm dx vs finite differences", rel_error(layers.batchnorm_backward(dout_b, cache_b)[0], num_dx),
            tol=1e-5)

# %% [markdown]
# **Spatial batch norm.** After a convolution every position of a channel comes from the same
# filter, so a channel is one feature: its mean and variance are taken over the batch *and* all
# $H \times W$ positions, and $\gamma, \beta$ have one entry per channel
# (`spatial_batchnorm_forward` reshapes $(N, C, H, W)$ to $(NHW, C)$ and calls the layer above;
# PyTorch's `BatchNorm2d`):

# %%
xs = rng.standard_normal((4, 3, 5, 5)) * 2 + 1
gs, bs = rng.standard_normal(3), rng.standard_normal(3)
out_s, _ = layers.spatial_batchnorm_forward(xs, gs, bs, {"mode": "train"})
bn2 = torch.nn.BatchNorm2d(3).double()
with torch.no_grad():
    bn2.weight.copy_(torch.from_numpy(gs))
    bn2.bias.copy_(torch.from_numpy(bs))
print("output shape", out_s.shape, "; gamma and beta:", gs.shape,
      "; matches torch.nn.BatchNorm2d below 1e-10:", np.abs(out_s - bn2(torch.from_numpy(xs)).detach().numpy()).max() < 1e-10)
xhat_s, _ = layers.spatial_batchnorm_forward(xs, np.ones(3), np.zeros(3), {"mode": "train"})
print("per channel over (N, H, W), with gamma = 1, beta = 0: mean 0:",
      np.allclose(xhat_s.mean(axis=(0, 2, 3)), 0, atol=1e-12), "; variance 1:", np.allclose(xhat_s.var(axis=(0, 2, 3)), 1, atol=1e-4))

# %% [markdown]
# **Does it help?** The same 10-layer sigmoid MLP on the 8x8 digits, trained with the same recipe
# (SGD with momentum, learning rate 0.1, 10 epochs, `cnnkit.train.fit`), with and without a
# `BatchNorm1d` after each linear layer, three seeds each. Without it the loss stays near chance,
# $\ln 10 \approx 2.30$; why is the measurement after the plot.

# %%
digits_flat = load_digits(size=8, flatten=True)


def deep_mlp(batch_norm: bool, depth: int = 10, width: int = 64) -> torch.nn.Sequential:
    parts, c = [], 64
    for _ in range(depth):
        parts += [torch.nn.Linear(c, width)] + ([torch.nn.BatchNorm1d(width)] if batch_norm else []) + [torch.nn.Sigmoid()]
        c = width
    return torch.nn.Sequential(*parts, torch.nn.Linear(c, 10))


bn_runs = {}
for batch_norm in (False, True):
    for seed in range(3):
        seed_everything(seed)
        bn_runs[batch_norm, seed] = fit(deep_mlp(batch_norm), (digits_flat.X_train, digits_flat.y_train),
                                        (digits_flat.X_val, digits_flat.y_val), epochs=10, lr=0.1, batch_size=64,
                                        device="cpu", seed=seed, progress=False)
fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
for (batch_norm, seed), h in bn_runs.items():
    style = dict(color="tab:blue" if batch_norm else "tab:red", alpha=0.8,
                 label=("with batch norm" if batch_norm else "without") if seed == 0 else None)
    axes[0].plot(range(1, h.epochs + 1), h.train_loss, **style)
    axes[1].plot(range(1, h.epochs + 1), h.val_acc, **style)
axes[0].axhline(np.log(10), color="gray", ls=":", label="chance, ln 10")
axes[0].set(xlabel="epoch", ylabel="training loss", title="10-layer sigmoid MLP, 3 seeds each")
axes[1].set(xlabel="epoch", ylabel="validation accuracy", ylim=(0, 1))
for ax in axes:
    ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    ax.legend()
plt.tight_layout()
plt.show()
print("without batch norm, final training loss above 2.0 in",
      sum(bn_runs[False, s].train_loss[-1] > 2.0 for s in range(3)), "of 3 seeds")
print("with batch norm, final training loss below 0.5 and validation accuracy above 0.9 in",
      sum(bn_runs[True, s].train_loss[-1] < 0.5 and bn_runs[True, s].val_acc[-1] > 0.9 for s in range(3)), "of 3 seeds")

# %% [markdown]
# **Why the plain network does not train.** The tempting explanation, "the sigmoids saturate", is
# wrong here, and one forward and backward pass at initialisation shows it. PyTorch starts a
# `Linear` layer with $n_{\text{in}}$ inputs at $w \sim U(-1/\sqrt{n_{\text{in}}}, 1/\sqrt{n_{\text{in}}})$, a
# standard deviation of $1/\sqrt{3 n_{\text{in}}}$. The pre-activations are then small, every
# sigmoid sits near $z = 0$, its most linear point, and $\sigma'(z) \approx 0.25$, its maximum. The
# network is close to a product of ten linear maps, each of which multiplies a small change of its
# input, and likewise the gradient on its way back, by about
#
# $$\underbrace{\sigma'(0)}_{0.25} \cdot \sqrt{n_{\text{in}}} \cdot \operatorname{std}(w)
#   = 0.25 \cdot \sqrt{64} \cdot \frac{1}{\sqrt{3 \cdot 64}} = \frac{0.25}{\sqrt 3} \approx 0.144 .$$
#
# Forward, that factor shrinks how much the examples of a batch differ from one another: the
# *spread* of each unit across the batch. After ten layers every image gives almost the same
# vector, and the scores cannot depend on the input. Backward, the same factor shrinks the
# gradient, and the first layer gets about $0.144^{9}$ of the last one's. The cell measures all
# three per layer (in float64, so that rounding does not blur the smallest values), with and
# without batch norm.

# %%
def layer_profile(model, X, y):
    """Per sigmoid layer, at the model's current weights: mean sigmoid'(z), the spread of its outputs
    across the batch (std over the examples, averaged over the units) and the norm of dL/d(output)."""
    outs = []
    hooks = [m.register_forward_hook(lambda mod, inp, out: (out.retain_grad(), outs.append(out), None)[-1])
             for m in model if isinstance(m, torch.nn.Sigmoid)]
    torch.nn.functional.cross_entropy(model(X), y).backward()
    for h in hooks:
        h.remove()
    return (np.array([(o * (1 - o)).mean().item() for o in outs]), np.array([o.std(0).mean().item() for o in outs]),
            np.array([o.grad.norm().item() for o in outs]))


X_probe = torch.from_numpy(digits_flat.X_train[:256]).double()
y_probe = torch.from_numpy(digits_flat.y_train[:256])
profiles = {}
for batch_norm in (False, True):
    seed_everything(0)
    profiles[batch_norm] = layer_profile(deep_mlp(batch_norm).double(), X_probe, y_probe)
predicted = 0.25 * np.sqrt(64) / np.sqrt(3 * 64)
d_sig, spread, grad = profiles[False]
print(f"without batch norm: mean sigmoid'(z) between 0.24 and 0.25 at every layer (0.25 is its maximum): "
      f"{bool(np.all((d_sig > 0.24) & (d_sig <= 0.25)))}")
print(f"  spread across the batch shrinks by a factor between 0.1 and 0.2 from each layer to the next "
      f"(predicted {predicted:.3f}): {bool(np.all((spread[1:] / spread[:-1] > 0.1) & (spread[1:] / spread[:-1] < 0.2)))}")
print(f"  the gradient shrinks by a factor between 0.1 and 0.2 per layer on its way down: "
      f"{bool(np.all((grad[:-1] / grad[1:] > 0.1) & (grad[:-1] / grad[1:] < 0.2)))}")
print(f"  spread after the tenth layer below 1e-7: {spread[-1] < 1e-7}; gradient at the first layer below 1e-6 "
      f"of the last one's: {grad[0] / grad[-1] < 1e-6}")
d_sig, spread, grad = profiles[True]
print(f"with batch norm: spread between 0.15 and 0.3 at every layer: {bool(np.all((spread > 0.15) & (spread < 0.3)))}; "
      f"gradient norms within a factor 2 of one another: {grad.max() / grad.min() < 2}")

fig, axes = plt.subplots(1, 2, figsize=(10, 3.3))
for batch_norm, (_, spread, grad) in profiles.items():
    style = dict(marker=".", color="tab:blue" if batch_norm else "tab:red", label="with batch norm" if batch_norm else "without")
    axes[0].semilogy(range(1, 11), spread, **style)
    axes[1].semilogy(range(1, 11), grad, **style)
axes[0].set(xlabel="sigmoid layer", ylabel="spread across the batch", title="forward: how much the examples differ")
axes[1].set(xlabel="sigmoid layer", ylabel=r"$\|\partial L / \partial$ output$\|$", title="backward: the gradient")
for ax in axes:
    ax.legend()
plt.tight_layout()
plt.show()

# %% [markdown]
# So the units are not saturated; the signal is **shrunk**, forward and backward, by a factor of
# about 0.14 per layer, exactly as the formula predicts. Batch norm acts on precisely that:
# it divides each pre-activation by its standard deviation over the batch, so whatever the layer
# below did to the spread, the next sigmoid again sees inputs of spread about 1 (the forward
# curve is flat); and its backward pass multiplies the gradient by the same $1/\sigma$, which undoes
# the shrinking of the backward signal (the gradient curve is flat too). A better initialisation
# (larger weights, lecture 05b) would fix this network as well; batch norm fixes it whatever the
# initialisation.
#
# **Why batch norm works is still debated.** Ioffe and Szegedy motivated it by *internal
# covariate shift*: the distribution of each layer's inputs changes as the layers below learn, and
# normalising should spare each layer from chasing it. Santurkar et al. (2018) tested that story:
# batch-normalised networks trained just as well when noise that re-creates a shifting
# distribution was added after every batch norm, and measured no less shift than plain ones. They
# argue that batch norm helps by making the loss smoother (gradients that change less from step to
# step), which allows larger learning rates. Take internal covariate shift as the historical
# motivation, not as the explanation; the measurement above is one mechanism, in one network.
#
# Batch norm also makes the network less sensitive to its initialisation and allows larger
# learning rates; its price is that training-mode outputs depend on the batch (small batches give
# noisy statistics, lecture 05c) and that the two modes differ, which is why `model.eval()` matters.

# %% [markdown]
# ## Summary
#
# - Pooling summarises each channel over a window (max, average, L2); it has no parameters and
#   keeps the depth. Max pooling's gradient goes to each window's maximum; overlapping windows add.
# - Average pooling is a convolution with fixed weights; an FC layer is a convolution whose filter
#   covers the whole input volume.
# - Networks stack $[(\text{CONV-RELU}) \times N - \text{POOL}] \times M - (\text{FC-RELU}) \times K$.
# - He initialisation ($\mathcal{N}(0, 2/n_{\text{in}})$) keeps the signal's size through ReLU
#   layers. Mini-batch SGD with momentum and a decaying learning rate trains the network; the
#   library's loss is the batch mean, so the learning rate does not depend on the batch size.
# - A whole-network gradient check needs a slightly looser tolerance; a step across a kink gives an
#   $O(1)$ error, which a tolerance cannot absorb.
# - On centred $8 \times 8$ digits a ConvNet gains little over logistic regression and an MLP; on
#   digits that move it wins by a wide margin, thanks to weight sharing.
# - Batch norm normalises each feature (each channel, for conv layers) over the mini-batch and
#   rescales it with learned $\gamma, \beta$; evaluation uses running averages. Its backward pass
#   simplifies to $\frac{s}{N}(N g - \sum g - \hat x \sum g \hat x)$. A deep sigmoid MLP that does
#   not train without it trains in a few epochs with it: without it, each layer shrinks the
#   spread of the batch and the gradient by about 0.14 (not saturation); batch norm's division by
#   the batch's standard deviation restores both.
#
# ## Check yourself
#
# 1. A $2 \times 2$ max pool at stride 2 on a $56 \times 56 \times 128$ volume: output size, and
#    number of parameters?
# 2. During the backward pass of max pooling, which inputs of a window receive a gradient? What
#    changes when windows overlap?
# 3. Write the weights of the convolution that performs $3 \times 3$ average pooling at stride 3
#    on a volume with $C$ channels. How many of them are non-zero?
# 4. The last pooling layer of a network outputs $7 \times 7 \times 512$ and the first FC layer
#    has 4096 outputs. Describe the equivalent convolution layer and its number of weights.
# 5. In the gradient check above, why is the tolerance for the whole network looser than for a
#    single convolution layer, and why would a kink not be fixed by loosening it?
#
# The cell below computes the numeric answers.

# %%
side = conv.conv_output_size(56, 2, 2)
print(f"1. {side}x{side}x128, parameters of torch.nn.MaxPool2d(2, 2): "
      f"{sum(q.numel() for q in torch.nn.MaxPool2d(2, 2).parameters())}")
xo = np.array([[1.0, 2.0, 9.0, 3.0, 4.0]])[None, None]           # one row, 1x3 windows at stride 2
po = {"pool_height": 1, "pool_width": 3, "stride": 2}
_, co = conv.max_pool_forward(xo, po)
print("2. 1x3 windows at stride 2 over [1, 2, 9, 3, 4], upstream gradient [1, 1]:",
      conv.max_pool_backward(np.ones((1, 1, 1, 2)), co)[0, 0, 0])
Cq = 4
w_avg3 = np.zeros((Cq, Cq, 3, 3))
for c in range(Cq):
    w_avg3[c, c] = 1 / 9
xq = rng.standard_normal((1, Cq, 9, 9))
same = np.allclose(conv.conv_forward(xq, w_avg3, np.zeros(Cq), {"stride": 3, "pad": 0})[0],
                   conv.avg_pool_forward(xq, {"pool_height": 3, "pool_width": 3, "stride": 3})[0], rtol=0, atol=1e-12)
print(f"3. C = {Cq}: {w_avg3.size} weights (9 C^2), {np.count_nonzero(w_avg3)} non-zero (9 C); equals avg pool: {same}")
print(f"4. 4096 filters of 7x7x512: {4096 * 7 * 7 * 512:,} weights and 4096 biases; torch: "
      f"{sum(q.numel() for q in torch.nn.Conv2d(512, 4096, 7).parameters()):,} parameters in all")

# %% [markdown]
# <details><summary>Answers</summary>
#
# 1. $\lfloor (56 - 2)/2 \rfloor + 1 = 28$: $28 \times 28 \times 128$, and no parameters.
# 2. Only the maximum of each window gets that window's gradient; the others get 0. With
#    overlapping windows an input can be the maximum of several windows and receives the **sum**
#    of their gradients: in the example the 9 wins both windows and collects $1 + 1 = 2$.
# 3. $C$ filters of shape $C \times 3 \times 3$, stride 3, no bias: filter $f$ holds $\frac19$ in
#    channel $f$ and 0 elsewhere. Of the $9C^2$ weights, $9C$ are non-zero.
# 4. 4096 filters of $7 \times 7 \times 512$, stride 1, no padding: one position, output
#    $1 \times 1 \times 4096$; $7 \cdot 7 \cdot 512 \cdot 4096 = 102{,}760{,}448$ weights plus 4096
#    biases, exactly the FC layer's.
# 5. The finite difference of the whole loss has a rounding error of about $\varepsilon|L|/h$, and
#    after several layers some gradient entries are small next to $|L|$, so their relative error
#    grows. A kink is different: a step across it makes one entry wrong by $O(1)$, a relative error
#    near 1, so no reasonable tolerance absorbs it; one checks that no input lies within $h$ of a
#    kink (as above) or picks a smaller $h$.
#
# </details>
