"""cnnkit.visualize: saliency is the input gradient (finite differences), occlusion the probability
drop computed patch by patch, Grad-CAM equals CAM for a global-average-pooled linear head; each
finds the one pixel region a hand-made model looks at; bad input refused; the model's mode restored."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from cnnkit.visualize import grad_cam, occlusion, saliency


class Spot(nn.Module):
    """Class 1's logit is the mean of a 4x4 window at rows 8-11, columns 4-7; class 0's is 0."""

    def forward(self, x):
        s = x[:, :, 8:12, 4:8].mean((1, 2, 3))
        return torch.stack([torch.zeros_like(s), s], 1)


def _cnn():
    torch.manual_seed(0)
    conv = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.ReLU(), nn.Conv2d(6, 5, 3, padding=1))
    return nn.Sequential(conv, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(5, 4)).double(), conv


def test_saliency_is_the_input_gradient():
    model, _ = _cnn()
    x = torch.rand(2, 3, 8, 8, dtype=torch.float64)
    sal = saliency(model, x, [1, 3])
    h = 1e-6
    for n, c, i, j in [(0, 0, 2, 3), (1, 2, 5, 1)]:
        grads = []
        for cc in range(3):
            xp, xm = x.clone(), x.clone()
            xp[n, cc, i, j] += h
            xm[n, cc, i, j] -= h
            t = [1, 3][n]
            grads.append(((model(xp)[n, t] - model(xm)[n, t]) / (2 * h)).abs().item())
        assert abs(sal[n, i, j].item() - max(grads)) < 1e-6


def test_each_method_finds_the_region_the_model_reads():
    x = torch.rand(3, 2, 16, 12) + 0.5
    inside = torch.zeros(16, 12, dtype=torch.bool)
    inside[8:12, 4:8] = True
    sal = saliency(Spot(), x, 1)
    assert torch.all(sal[:, ~inside] == 0) and torch.all(sal[:, inside] > 0)
    occ = occlusion(Spot(), x, 1, size=4, stride=4)
    assert torch.all(occ[:, inside] > 0) and torch.all(occ[:, ~inside].abs() < 1e-7)


def test_occlusion_is_the_probability_drop_of_each_patch():
    model, _ = _cnn()
    x = torch.rand(1, 3, 8, 8, dtype=torch.float64)
    occ = occlusion(model, x, 2, size=4, stride=4)
    p = F.softmax(model(x), 1)[0, 2]
    for top, left in [(0, 0), (4, 4), (0, 4)]:
        xo = x.clone()
        xo[..., top:top + 4, left:left + 4] = 0
        drop = p - F.softmax(model(xo), 1)[0, 2]
        assert torch.allclose(occ[0, top:top + 4, left:left + 4], drop.expand(4, 4).detach(), atol=1e-12)
    overlapping = occlusion(model, x, 2, size=4, stride=2)            # a pixel covered by 4 patches
    assert overlapping.shape == (1, 8, 8)


def test_grad_cam_of_a_pooled_linear_head_is_the_class_activation_map():
    model, conv = _cnn()
    x = torch.rand(2, 3, 8, 8, dtype=torch.float64)
    cam = grad_cam(model, conv, x, [0, 3], upsample=False)
    maps = conv(x)
    w = model[3].weight
    expected = F.relu(torch.stack([(w[c][:, None, None] * maps[n]).sum(0) / 64 for n, c in enumerate([0, 3])]))
    assert torch.allclose(cam, expected.detach(), atol=1e-12)
    assert grad_cam(model, conv, x, 0).shape == (2, 8, 8)


def test_mode_restored_and_bad_input_refused():
    model, conv = _cnn()
    model.train()
    saliency(model, torch.rand(1, 3, 8, 8, dtype=torch.float64), 0)
    assert model.training
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        saliency(model, torch.rand(3, 8, 8), 0)
    with pytest.raises(ValueError, match="one per image"):
        saliency(model, torch.rand(2, 3, 8, 8, dtype=torch.float64), [0, 1, 2])
    with pytest.raises(ValueError, match="do not tile"):
        occlusion(model, torch.rand(1, 3, 8, 8, dtype=torch.float64), 0, size=3, stride=2)
    with pytest.raises(ValueError, match="was not called"):
        grad_cam(model, nn.Conv2d(1, 1, 1), torch.rand(1, 3, 8, 8, dtype=torch.float64), 0)
    with pytest.raises(ValueError, match="feature maps"):
        grad_cam(model, model[3], torch.rand(1, 3, 8, 8, dtype=torch.float64), 0)
