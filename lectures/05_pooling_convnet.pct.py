# %% [markdown]
# # Lecture 05: Pooling, fully connected layers and a whole ConvNet
#
# Convolution layers keep the spatial size (with padding) or shrink it slowly. **Pooling layers**
# shrink it on purpose, making the representation smaller and cheaper to process, and making
# later layers see larger regions of the image. At the end of the network, fully connected
# layers turn the last volume into class scores. This lecture adds those pieces and trains a
# small ConvNet written entirely in numpy.

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F

from cnnkit import conv, layers
from cnnkit.data import load_digits
from cnnkit.device import pick_device, seed_everything
from cnnkit.gradcheck import numerical_gradient, numerical_gradient_array, rel_error, report

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
# Max pooling is by far the most common; the other two are rarely used today. The usual setting
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

# %%
def init_params(in_ch, size, n_filters, hidden, n_classes, rng, dtype=np.float64):
    """He-initialised parameters of conv - relu - pool - fc - relu - fc."""
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
# (The tolerance is a little looser than for single layers: a ReLU or a max can switch branch
# inside the finite-difference step.)
#
# ## 7. Training on real handwritten digits
#
# The 1,797 digits that ship with scikit-learn are $8 \times 8$ grey images. We train the network
# with 16 filters and 64 hidden units using SGD with momentum 0.9 and a learning rate that starts
# at 0.05 and shrinks by a factor 0.75 after every epoch, in float32 for speed.

# %%
data = load_digits(size=8)
print(data)
print("digits in all:", len(data.y_train) + len(data.y_val) + len(data.y_test))
params = init_params(in_ch=1, size=8, n_filters=16, hidden=64, n_classes=10, rng=rng, dtype=np.float32)
n_params = sum(p.size for p in params.values())
print(f"parameters: {n_params}")


def accuracy(params, X, y, batch=500):
    preds = np.concatenate([convnet_loss(params, X[i:i + batch]).argmax(axis=1) for i in range(0, len(X), batch)])
    return float((preds == y).mean())


lr, momentum, batch_size, epochs = 0.05, 0.9, 64, 10
decay = 0.75  # the learning rate is multiplied by this after every epoch
velocity = {k: np.zeros_like(v) for k, v in params.items()}
history = {"loss": [], "val acc": []}
t0 = time.perf_counter()
for epoch in range(epochs):
    order = rng.permutation(len(data.X_train))
    losses = []
    for i in range(0, len(order), batch_size):
        idx = order[i:i + batch_size]
        loss, grads = convnet_loss(params, data.X_train[idx], data.y_train[idx])
        losses.append(loss)
        for k in params:
            velocity[k] = momentum * velocity[k] - lr * grads[k]
            params[k] += velocity[k]
    lr *= decay
    history["loss"].append(float(np.mean(losses)))
    history["val acc"].append(accuracy(params, data.X_val, data.y_val))
train_seconds = time.perf_counter() - t0
for epoch in (0, 3, 6, 9):
    print(f"epoch {epoch + 1:2d}: train loss {history['loss'][epoch]:.2f}, val accuracy {history['val acc'][epoch]:.2f}")

# %%
# NBVAL_IGNORE_OUTPUT
# (the training time is a wall-clock measurement)
print(f"training took {train_seconds:.1f} s on the CPU")

# %%
fig, axes = plt.subplots(1, 2, figsize=(9, 3))
axes[0].plot(range(1, epochs + 1), history["loss"])
axes[0].set_xlabel("epoch")
axes[0].set_ylabel("training loss")
axes[1].plot(range(1, epochs + 1), history["val acc"])
axes[1].set_xlabel("epoch")
axes[1].set_ylabel("validation accuracy")
fig.tight_layout()
plt.show()

# %%
test_acc = accuracy(params, data.X_test, data.y_test)
print(f"test accuracy: {test_acc:.2f} on {len(data.y_test)} test digits")

# %% [markdown]
# About 17,000 parameters and a few seconds of numpy give well over 90% on digits the network
# never saw. The 16 learned filters of the first layer:

# %%
fig, axes = plt.subplots(2, 8, figsize=(8, 2.2))
for ax, f in zip(axes.ravel(), params["w1"][:, 0]):
    ax.imshow(f, cmap="gray")
    ax.axis("off")
fig.suptitle("first-layer filters (3x3)")
plt.show()

# %% [markdown]
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
#    single convolution layer?
