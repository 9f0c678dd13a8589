"""cnnkit.models.small: the architectures at 32x32, each built from its family's blocks."""
import pytest
import torch
import torch.nn as nn

from cnnkit.inspect import count_macs, count_params, on_meta
from cnnkit.models.densenet import DenseBlock
from cnnkit.models.googlenet import InceptionModule
from cnnkit.models.resnet import PreActBlock
from cnnkit.models.small import SMALL_MODELS

# parameter counts computed by hand from the layer definitions (see each builder's docstring)
LENET_PARAMS = (3 * 25 * 6 + 6) + (6 * 25 * 16 + 16) + (400 * 120 + 120) + (120 * 84 + 84) + (84 * 10 + 10)


@pytest.mark.parametrize("name", list(SMALL_MODELS))
def test_each_small_model_maps_32x32_images_to_10_logits(name):
    torch.manual_seed(0)
    model = SMALL_MODELS[name]().eval()
    x = torch.randn(2, 3, 32, 32)
    out = model(x)
    assert out.shape == (2, 10) and torch.isfinite(out).all()
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    assert 10_000 < count_params(model) < 1_000_000
    assert 0 < count_macs(on_meta(SMALL_MODELS[name]), (1, 3, 32, 32)) < 100_000_000


def test_each_keeps_what_defines_its_family():
    kinds = {name: [type(m) for m in build().modules()] for name, build in SMALL_MODELS.items()}
    assert count_params(SMALL_MODELS["LeNet-5"]()) == LENET_PARAMS == 62_006
    assert nn.Tanh in kinds["LeNet-5"] and nn.AvgPool2d in kinds["LeNet-5"]
    assert nn.LocalResponseNorm in kinds["AlexNet"] and nn.Dropout in kinds["AlexNet"]
    assert kinds["GoogLeNet"].count(InceptionModule) == 4
    assert kinds["pre-act ResNet-20"].count(PreActBlock) == 9
    assert kinds["DenseNet-BC"].count(DenseBlock) == 3
    vgg_convs = [m for m in SMALL_MODELS["VGG"]().modules() if isinstance(m, nn.Conv2d)]
    assert len(vgg_convs) == 6 and all(m.kernel_size == (3, 3) for m in vgg_convs)
    # pre-activation differs from ResNet-20 by its two 1x1 projection shortcuts (16->32, 32->64);
    # its batch norms move (before each conv, one at the end instead of after the stem) but total the same
    gap = count_params(SMALL_MODELS["pre-act ResNet-20"]()) - count_params(SMALL_MODELS["ResNet-20"]())
    assert gap == 16 * 32 + 32 * 64
