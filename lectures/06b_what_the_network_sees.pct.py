# %% [markdown]
# # Lecture 06b: What the network sees
#
# ZFNet (lecture 06) was designed by looking. Zeiler and Fergus projected the activations of a
# trained AlexNet back to pixel space, saw first-layer filters that were dead or aliased by the
# stride of 4, and changed CONV1 to 7x7 at stride 2; the same paper covered parts of images with a
# grey square and watched the class score fall. Since then "what does the network look at?" has
# had many answers. This lecture builds three of them, checks each against a definition it must
# satisfy, and tests them on a network whose answer we know: digits placed at random positions of
# a larger canvas, so that the right answer is "the digit's box".
#
# **You will learn**
#
# 1. saliency maps: the gradient of a class score with respect to the pixels;
# 2. occlusion sensitivity: the drop of the class probability when a patch is covered;
# 3. Grad-CAM: feature maps of a late conv layer weighted by their average gradient, and why it
#    equals the class activation map (CAM) for a network that ends in global average pooling;
# 4. how to test an explanation: how much of each map falls on the object, and whether the map of
#    an *untrained* network looks just as convincing.
#
# It trains one small VGG (`cnnkit.models.small`) for a few seconds; the whole lecture runs on the
# CPU in well under a minute. (First-layer filters and feature maps of trained networks are in
# lecture 11.)

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from cnnkit.data import load_digits
from cnnkit.device import make_repeatable, pick_device, seed_everything
from cnnkit.models.small import small_vgg
from cnnkit.train import evaluate, fit
from cnnkit.visualize import grad_cam, occlusion, saliency

rng = seed_everything(0)
device = pick_device()
print("device:", device)
make_repeatable(device)  # on the CPU: one thread, deterministic kernels (see cnnkit.device)

# %% [markdown]
# ## 1. A task whose answer we know
#
# Each of the course's digits, upsampled to 16x16, is pasted at a random position of a black
# 32x32 canvas (three equal channels, the input the course's small models take). The digit covers
# a quarter of the canvas, and everything outside its box is zero: a network can only classify
# from inside the box, so an explanation that points elsewhere is wrong.

# %%
digits = load_digits(size=16)


def on_canvas(X, rng, canvas=32):
    """Paste each 16x16 digit of X (N, 1, 16, 16) at a random position of a black canvas, on three
    channels; return the images (N, 3, canvas, canvas) and each digit's top-left corner (N, 2)."""
    side = X.shape[-1]
    out = np.zeros((len(X), 3, canvas, canvas), np.float32)
    corners = rng.integers(0, canvas - side + 1, size=(len(X), 2))
    for img, src, (r, c) in zip(out, X, corners):
        img[:, r:r + side, c:c + side] = src[0]
    return out, corners


place_rng = np.random.default_rng(0)
(X_train, _), (X_val, _), (X_test, corners) = (on_canvas(getattr(digits, f"X_{k}"), place_rng)
                                               for k in ("train", "val", "test"))
fig, axes = plt.subplots(1, 8, figsize=(9, 1.5))
for ax, img, (r, c), label in zip(axes, X_test, corners, digits.y_test):
    ax.imshow(img[0], cmap="gray")
    ax.add_patch(plt.Rectangle((c - 0.5, r - 0.5), 16, 16, fill=False, color="tab:orange", lw=1))
    ax.set_title(str(label), fontsize=8)
    ax.axis("off")
plt.show()

# %% [markdown]
# The network is the course's small VGG (three stages of two 3x3 conv-BN-ReLU layers and a max
# pool, global average pooling, one FC layer), here with 16, 32 and 64 filters, trained with
# `cnnkit.train.fit`'s default recipe for 8 epochs. A second copy of the same architecture stays
# untrained, for comparison.

# %%
seed_everything(0)
model = small_vgg(widths=(16, 32, 64))
history = fit(model, (X_train, digits.y_train), (X_val, digits.y_val), epochs=8, batch_size=64, lr=0.05,
              device=device, progress=False, seed=0)
test_acc = evaluate(model, (X_test, digits.y_test), device)[1]
print("test accuracy above 0.9 on the placed digits:", test_acc > 0.9)
seed_everything(1)
untrained = small_vgg(widths=(16, 32, 64)).to(device)
model = model.to(device).eval()
n_show = 100
x = torch.from_numpy(X_test[:n_show]).to(device)
y = torch.from_numpy(digits.y_test[:n_show]).to(device)
box = corners[:n_show]

# %% [markdown]
# ## 2. Saliency maps
#
# Simonyan et al. (2014) asked which pixels the class score $S_c$ is most sensitive to: the
# gradient $\partial S_c / \partial x$, computed by one backward pass to the input, with its
# largest absolute value over the colour channels at each pixel. It is a local, linear answer:
# how the score would change if a pixel changed *a little*. `cnnkit.visualize.saliency` computes
# it; the check compares it with centred finite differences on a float64 copy of the model, at
# pixels on the digit. (On the black background every max-pooling window holds equal values: at
# such ties the gradient is not defined, PyTorch sends it to one of the tied inputs, and a finite
# difference averages the two sides, as at lecture 05's kinks.)

# %%
model64 = small_vgg(widths=(16, 32, 64)).double()
model64.load_state_dict({k: v.double() for k, v in model.state_dict().items()})
model64.eval()
x64 = x[:1].double().cpu()
sal64 = saliency(model64, x64, y[:1].cpu())
h = 1e-6
worst = 0.0
r0, c0 = corners[0]
for i, j in [(r0 + 8, c0 + 8), (r0 + 3, c0 + 12), (r0 + 12, c0 + 5)]:
    fd = []
    for ch in range(3):
        xp, xm = x64.clone(), x64.clone()
        xp[0, ch, i, j] += h
        xm[0, ch, i, j] -= h
        with torch.no_grad():
            fd.append(abs((model64(xp)[0, int(y[0])] - model64(xm)[0, int(y[0])]).item()) / (2 * h))
    worst = max(worst, abs(sal64[0, i, j].item() - max(fd)))
print("saliency equals the finite-difference gradient at three pixels (to 1e-5):", worst < 1e-5)

# %% [markdown]
# ## 3. Occlusion sensitivity
#
# Zeiler and Fergus's test needs no gradient at all: cover a square patch of the image with a
# constant, run the network again, and record how much the probability of the true class drops;
# slide the patch over the whole image. Each pixel gets the mean drop of the patches that cover
# it (`cnnkit.visualize.occlusion`, here 8x8 patches at stride 4, filled with 0, the canvas's
# background). It answers a different question than saliency: what happens when a region is
# *removed*, not nudged. The check recomputes one patch's drop by hand:

# %%
occ = occlusion(model, x, y, size=8, stride=4)
with torch.no_grad():
    p_full = F.softmax(model(x[:1]), 1)[0, y[0]]
    covered = x[:1].clone()
    covered[..., 16:24, 16:24] = 0
    p_cov = F.softmax(model(covered), 1)[0, y[0]]
one_patch = occlusion(model, x[:1], y[:1], size=8, stride=8)  # patches that do not overlap
print("a pixel covered by one patch gets that patch's drop:",
      torch.allclose(one_patch[0, 16:24, 16:24], (p_full - p_cov).expand(8, 8), atol=1e-6))

# %% [markdown]
# ## 4. Grad-CAM
#
# A late conv layer's feature maps $A_k$ still have a spatial layout and already encode parts of
# the object. Grad-CAM (Selvaraju et al., 2017) weighs each map by how much the class score
# depends on it on average, and keeps the positive evidence:
#
# $$\alpha_k = \frac{1}{hw} \sum_{i,j} \frac{\partial S_c}{\partial A_k(i,j)}, \qquad
#   L^c = \operatorname{ReLU}\Big(\sum_k \alpha_k A_k\Big),$$
#
# then upsamples $L^c$ to the image. Its origin is the **class activation map** (CAM, Zhou et al.,
# 2016) of networks that end in global average pooling and one linear layer: there
# $S_c = \sum_k w_{ck} \frac{1}{hw}\sum_{i,j} A_k(i,j)$, so $\partial S_c / \partial A_k(i,j) = w_{ck}/(hw)$
# at every position, $\alpha_k = w_{ck}/(hw)$, and Grad-CAM is exactly CAM,
# $\operatorname{ReLU}\big(\sum_k w_{ck} A_k\big)/(hw)$. The small VGG is such a network, so the check
# computes both at its last pooling layer (4x4 maps):

# %%
last_pool = [m for m in model if isinstance(m, nn.MaxPool2d)][-1]
fc = model[-1]
cam = grad_cam(model, last_pool, x[:8], y[:8], upsample=False)
maps = {}
handle = last_pool.register_forward_hook(lambda mod, inp, out: maps.setdefault("A", out.detach()))
with torch.no_grad():
    model(x[:8])
handle.remove()
A = maps["A"]
expected = F.relu(torch.einsum("nk,nkij->nij", fc.weight[y[:8]].detach(), A)) / (A.shape[2] * A.shape[3])
print(f"Grad-CAM at the last pooling layer ({A.shape[2]}x{A.shape[3]} maps) equals CAM (to 1e-6):",
      torch.allclose(cam, expected, atol=1e-6))

# %% [markdown]
# A 4x4 map is coarse; the usual choice is the last conv layer before it, here the last ReLU of
# the third stage (8x8 maps), upsampled bilinearly to 32x32.

# %%
last_relu = [m for m in model if isinstance(m, nn.ReLU)][-1]
gcam = grad_cam(model, last_relu, x, y)
sal = saliency(model, x, y)

fig, axes = plt.subplots(4, 6, figsize=(9, 6.4))
rows = [("input", x[:, 0]), ("saliency", sal), ("occlusion", occ), ("Grad-CAM", gcam)]
for r, (name, maps_r) in enumerate(rows):
    for k in range(6):
        ax = axes[r, k]
        ax.imshow(maps_r[k].detach().cpu(), cmap="gray" if r == 0 else "magma")
        rr, cc = box[k]
        ax.add_patch(plt.Rectangle((cc - 0.5, rr - 0.5), 16, 16, fill=False, color="tab:cyan", lw=0.8))
        ax.set_xticks([])
        ax.set_yticks([])
        if k == 0:
            ax.set_ylabel(name, fontsize=9)
fig.suptitle("the trained small VGG, true class of each test digit (box: where the digit is)", fontsize=10)
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 5. Testing the explanations
#
# A picture that "looks right" is weak evidence: we see what we expect. Two measurements are
# stronger. First, the **share of each map inside the digit's box**, averaged over the 100 test
# images shown to the methods; the box is a quarter of the canvas, so a map that ignored the digit
# would put about 0.25 there. (Negative occlusion drops, patches whose removal *raises* the
# probability, are set to 0 for this.) Second, the same maps for the **untrained** copy: an
# explanation method that gives an untrained network's maps the same shape is showing the input
# and the architecture, not what was learned (Adebayo et al., 2018, "Sanity checks for saliency
# maps").

# %%
def share_inside(maps, corners, side=16):
    """Mean over images of (map's mass inside the digit's box) / (map's total mass); maps with no
    mass are left out."""
    shares = []
    for m, (r, c) in zip(maps.detach().cpu().numpy(), corners):
        total = m.sum()
        if total > 0:
            shares.append(m[r:r + side, c:c + side].sum() / total)
    return float(np.mean(shares))


untrained_relu = [m for m in untrained if isinstance(m, nn.ReLU)][-1]
share = {
    "saliency": (share_inside(sal, box), share_inside(saliency(untrained, x, y), box)),
    "occlusion": (share_inside(occ.clamp(min=0), box), share_inside(occlusion(untrained, x, y, 8, 4).clamp(min=0), box)),
    "Grad-CAM": (share_inside(gcam, box), share_inside(grad_cam(untrained, untrained_relu, x, y), box)),
}
print("trained network: every method puts more than 0.4 of its map inside the box (chance 0.25):",
      all(t > 0.4 for t, _ in share.values()))
print("occlusion and Grad-CAM put more inside the box for the trained network than for the untrained one, "
      "by more than 0.1:", all(share[k][0] - share[k][1] > 0.1 for k in ("occlusion", "Grad-CAM")))
print("saliency puts more inside the box for the UNTRAINED network than for the trained one:",
      share["saliency"][1] > share["saliency"][0])

# %%
# NBVAL_IGNORE_OUTPUT
# The trained network's shares follow its training trajectory, which moves with float rounding;
# the verdicts above do not. The tests do not compare this cell.
print(f"{'share inside the box':22s} {'trained':>8s} {'untrained':>10s}   (chance 0.25)")
for name, (t, u) in share.items():
    print(f"{name:22s} {t:8.2f} {u:10.2f}")

# %% [markdown]
# What the measurements say:
#
# * **Occlusion** and **Grad-CAM** pass both tests: their maps concentrate on the digit for the
#   trained network, and much less for the untrained one, so they reflect what training changed.
# * **Saliency** puts more than chance on the digit too, but the *untrained* network's saliency
#   is even more concentrated there. The gradient with respect to the input of a ReLU network is
#   large wherever the input is non-zero, trained or not; on this data that alone draws the
#   digit. A saliency map that looks like the object is therefore not evidence that the network
#   uses the object: it fails the sanity check here, as Adebayo et al. found for several gradient
#   methods on ImageNet.
# * Each answers its own question. Saliency is local (a small change of one pixel), occlusion is
#   a real intervention but depends on the patch's size and fill value and costs one forward
#   pass per position (49 per image here), Grad-CAM costs one backward pass and is as coarse as its
#   layer (8x8 here, upsampled).
#
# This is one small network on one data set with a known answer; the lesson that carries over is
# the method: test an explanation against a case where you know the answer, and against a network
# that learned nothing.
#
# ## Summary
#
# * Saliency: $|\partial S_c / \partial x|$, one backward pass; checked against finite
#   differences.
# * Occlusion sensitivity: the drop of $p_c$ when a patch is covered, per position; no gradients.
# * Grad-CAM: $\operatorname{ReLU}(\sum_k \alpha_k A_k)$ with $\alpha_k$ the mean gradient over map
#   $k$; for global average pooling and one linear layer it is exactly CAM, $\operatorname{ReLU}
#   (\sum_k w_{ck} A_k)/(hw)$.
# * On digits whose position is known, occlusion and Grad-CAM point at the digit and do so because
#   of training; saliency points there for an untrained network as well.
#
# ## Check yourself
#
# 1. Occlusion with 8x8 patches at stride 4 on a 32x32 image: how many forward passes per image?
#    With stride 2?
# 2. For a network ending in global average pooling over $h \times w$ maps and a linear layer, what
#    is $\partial S_c / \partial A_k(i, j)$, and why does it not depend on $(i, j)$?
# 3. Why is the untrained network's saliency concentrated on the digit, here?
#
# The cell below computes the first answer.

# %%
for stride in (4, 2):
    per_side = (32 - 8) // stride + 1
    print(f"1. stride {stride}: {per_side} x {per_side} = {per_side ** 2} forward passes (plus one for the unoccluded image)")

# %% [markdown]
# <details><summary>Answers</summary>
#
# 1. $(32 - 8)/4 + 1 = 7$ positions per side, 49 passes; at stride 2, $13^2 = 169$.
# 2. $w_{ck}/(hw)$: the score is $\sum_k w_{ck}$ times the *mean* of map $k$, and every position
#    contributes to a mean with the same weight. That is why Grad-CAM's $\alpha_k$ equals CAM's
#    weight up to the constant $1/(hw)$.
# 3. A likely reason, not measured here: outside the box the input is exactly zero, so the
#    first layer computes the same thing at every position there, and the ReLU units whose
#    gates open or close with the input, the ones that carry the gradient back, sit mostly where
#    the input varies: on the digit's strokes. The input and the architecture draw the digit,
#    whatever the weights learned; that is what the sanity check is for.
#
# </details>
