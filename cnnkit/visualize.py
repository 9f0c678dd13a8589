"""What a trained network looks at: saliency maps, occlusion sensitivity and Grad-CAM.

All three explain one class score of one image as a map over the image's pixels (N, H, W):

- `saliency` (Simonyan et al., 2014): |d score / d pixel|, the largest over the colour channels;
  how much an infinitesimal change of each pixel moves the score.
- `occlusion` (Zeiler and Fergus, 2014): how much the class's probability drops when a square
  patch is covered with a constant, for every patch position; each pixel gets the mean drop of
  the patches that cover it. No gradients: any model, any change, at the price of one forward
  pass per position.
- `grad_cam` (Selvaraju et al., 2017): the feature maps A_k of a conv layer, weighted by the
  average gradient of the score over each map, alpha_k = mean_ij d score / d A_k(i, j), summed
  over k and passed through a ReLU, then upsampled to the image. For a network that ends in global
  average pooling and one linear layer this is the class activation map (CAM) of Zhou et al.
  (2016), sum_k w_ck A_k / (H W): lecture 06b checks it.

The score is the class's logit (before the softmax), as in the Grad-CAM paper. The model is put in
evaluation mode for the call and restored afterwards.
"""
from __future__ import annotations

import contextlib

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["saliency", "occlusion", "grad_cam"]


def _check(x, target):
    if not isinstance(x, torch.Tensor) or x.ndim != 4:
        raise ValueError(f"expected images as a tensor (N, C, H, W), got {type(x).__name__} "
                         f"of shape {tuple(getattr(x, 'shape', ()))}")
    target = torch.as_tensor(target, device=x.device).long().reshape(-1)
    if len(target) == 1 and len(x) > 1:
        target = target.expand(len(x))
    if len(target) != len(x):
        raise ValueError(f"target must be one class index or one per image ({len(x)}), got {len(target)}")
    return target


@contextlib.contextmanager
def _eval(model: nn.Module):
    was = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was)


def saliency(model: nn.Module, x: torch.Tensor, target) -> torch.Tensor:
    """|d logit[target] / d x|, the maximum over channels: (N, H, W)."""
    target = _check(x, target)
    with _eval(model), torch.enable_grad():
        xg = x.detach().clone().requires_grad_(True)
        scores = model(xg).gather(1, target[:, None]).sum()
        (grad,) = torch.autograd.grad(scores, xg)
    return grad.abs().amax(dim=1)


def occlusion(model: nn.Module, x: torch.Tensor, target, size: int = 8, stride: int = 4, fill: float = 0.0,
              batch: int = 256) -> torch.Tensor:
    """Drop of the target's softmax probability when a size x size patch (set to `fill`) covers
    each position at `stride`; each pixel gets the mean drop of the patches covering it: (N, H, W).
    (H - size) and (W - size) must be multiples of stride, so that the patches cover the image."""
    target = _check(x, target)
    n, c, h, w = x.shape
    if size < 1 or stride < 1 or size > min(h, w) or (h - size) % stride or (w - size) % stride:
        raise ValueError(f"occlusion: patches of {size} at stride {stride} do not tile a {h}x{w} image; "
                         f"(H - size) and (W - size) must be non-negative multiples of stride")
    tops, lefts = range(0, h - size + 1, stride), range(0, w - size + 1, stride)
    positions = [(t, l) for t in tops for l in lefts]
    drops = torch.empty(n, len(positions), device=x.device, dtype=x.dtype if x.is_floating_point() else torch.float32)
    with _eval(model), torch.no_grad():
        base = F.softmax(model(x), dim=1).gather(1, target[:, None])[:, 0]
        for i in range(n):
            occluded = x[i:i + 1].repeat(len(positions), 1, 1, 1)
            for k, (t, l) in enumerate(positions):
                occluded[k, :, t:t + size, l:l + size] = fill
            probs = torch.cat([F.softmax(model(occluded[j:j + batch]), dim=1)[:, target[i]]
                               for j in range(0, len(positions), batch)])
            drops[i] = base[i] - probs
    cols = drops[:, None, :].expand(n, size * size, len(positions))
    total = F.fold(cols, (h, w), size, stride=stride)
    count = F.fold(torch.ones_like(cols[:1]), (h, w), size, stride=stride)
    return (total / count)[:, 0]


def grad_cam(model: nn.Module, layer: nn.Module, x: torch.Tensor, target, upsample: bool = True) -> torch.Tensor:
    """Grad-CAM of the target class at `layer` (a module of the model whose output is (N, K, h, w)):
    ReLU(sum_k alpha_k A_k) with alpha_k the mean over positions of d logit / d A_k; upsampled
    bilinearly to the image's H x W unless upsample=False. Returns (N, H, W) (or (N, h, w))."""
    target = _check(x, target)
    store = {}

    def keep(module, inputs, output):
        if not isinstance(output, torch.Tensor) or output.ndim != 4:
            raise ValueError(f"grad_cam: the layer must output feature maps (N, K, h, w), got "
                             f"{type(output).__name__} of shape {tuple(getattr(output, 'shape', ()))}")
        store["maps"] = output

    handle = layer.register_forward_hook(keep)
    try:
        with _eval(model), torch.enable_grad():
            scores = model(x.detach()).gather(1, target[:, None]).sum()
            if "maps" not in store:
                raise ValueError("grad_cam: the layer was not called in the model's forward pass")
            (grads,) = torch.autograd.grad(scores, store["maps"])
    finally:
        handle.remove()
    maps = store["maps"].detach()
    alpha = grads.mean(dim=(2, 3), keepdim=True)
    cam = F.relu((alpha * maps).sum(dim=1, keepdim=True))
    if upsample:
        cam = F.interpolate(cam, size=x.shape[2:], mode="bilinear", align_corners=False)
    return cam[:, 0]
