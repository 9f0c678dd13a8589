"""Small versions of the course's architectures for 32x32 colour images and 10 classes, built from the
same blocks as the full-size models, so they can be trained side by side on a CPU in minutes.

Each keeps what defines its family and shrinks the rest: AlexNet's large first filters, local
response normalisation, three stacked 3x3 convolutions and dropout-regularised FC layers; VGG's
stages of two 3x3 convolutions and a pooling (with batch norm, as in ``vgg16_bn``: without it a
plain VGG needs the careful initialisation of its paper to train in a few epochs); GoogLeNet's
inception modules; ResNet-20 from the ResNet paper's CIFAR experiments and its pre-activation
twin; a DenseNet-BC with three dense blocks; LeNet-5 as in its paper, on 32x32 inputs.

    from cnnkit.models.small import SMALL_MODELS
    model = SMALL_MODELS["ResNet-20"]()
"""
from __future__ import annotations

import torch
import torch.nn as nn

from .cifar import resnet20
from .densenet import DenseBlock, Transition
from .googlenet import InceptionModule
from .resnet import PreActBlock, conv1x1

__all__ = ["small_lenet5", "small_alexnet", "small_vgg", "small_googlenet", "preact_resnet20", "small_densenet", "SMALL_MODELS"]


def small_lenet5(num_classes: int = 10) -> nn.Sequential:
    """LeNet-5 on the 32x32 input it was designed for (no padding), with three input channels: two
    5x5 convolutions with tanh and 2x2 average pooling, then FC 120, 84 and the classes."""
    return nn.Sequential(
        nn.Conv2d(3, 6, 5), nn.Tanh(), nn.AvgPool2d(2),            # 28 -> 14
        nn.Conv2d(6, 16, 5), nn.Tanh(), nn.AvgPool2d(2),           # 10 -> 5
        nn.Flatten(), nn.Linear(16 * 5 * 5, 120), nn.Tanh(), nn.Linear(120, 84), nn.Tanh(),
        nn.Linear(84, num_classes),
    )


def small_alexnet(num_classes: int = 10) -> nn.Sequential:
    """5x5 filters, LRN and overlapping 3x3/2 pooling after the first two convolutions, three 3x3
    convolutions, then two dropout + FC layers."""
    return nn.Sequential(
        nn.Conv2d(3, 48, 5), nn.ReLU(inplace=True), nn.LocalResponseNorm(5), nn.MaxPool2d(3, 2),      # 28 -> 13
        nn.Conv2d(48, 96, 5, padding=2), nn.ReLU(inplace=True), nn.LocalResponseNorm(5), nn.MaxPool2d(3, 2),  # 6
        nn.Conv2d(96, 128, 3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(128, 128, 3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(128, 96, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),                  # 2
        nn.Flatten(), nn.Dropout(0.5), nn.Linear(96 * 2 * 2, 256), nn.ReLU(inplace=True),
        nn.Dropout(0.5), nn.Linear(256, num_classes),
    )


def small_vgg(num_classes: int = 10, widths=(32, 64, 128)) -> nn.Sequential:
    """Three VGG stages (two 3x3 convolutions with batch norm, then a 2x2 max pool), global average
    pooling and one FC layer."""
    layers, c = [], 3
    for w in widths:
        for _ in range(2):
            layers += [nn.Conv2d(c, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True)]
            c = w
        layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, num_classes))


class SmallGoogLeNet(nn.Module):
    """A 3x3 stem, two inception modules on 16x16, a max pool, two on 8x8, global average pooling."""

    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 48, 3, padding=1, bias=False), nn.BatchNorm2d(48),
                                  nn.ReLU(inplace=True), nn.MaxPool2d(2))
        # InceptionModule(in, 1x1, 3x3 reduce, 3x3, 5x5 reduce, 5x5, pool projection)
        self.inception3a = InceptionModule(48, 16, 24, 32, 4, 8, 8)        # -> 64
        self.inception3b = InceptionModule(64, 32, 32, 48, 8, 24, 16)      # -> 120
        self.pool = nn.MaxPool2d(2)
        self.inception4a = InceptionModule(120, 48, 24, 52, 4, 12, 16)     # -> 128
        self.inception4b = InceptionModule(128, 40, 28, 56, 6, 16, 16)     # -> 128
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(128, num_classes)

    def forward(self, x):
        x = self.inception3b(self.inception3a(self.stem(x)))
        x = self.inception4b(self.inception4a(self.pool(x)))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def small_googlenet(num_classes: int = 10) -> SmallGoogLeNet:
    return SmallGoogLeNet(num_classes)


class PreActResNet20(nn.Module):
    """ResNet-20's layout (16, 32, 64 filters, three blocks a stage) with full pre-activation blocks
    (He et al., 2016): BN-ReLU-conv twice, the shortcut added last, one BN-ReLU before the pooling.
    Where the shape changes the shortcut is a 1x1 projection (option B): 16*32 + 32*64 = 2,560 more
    parameters than ResNet-20's parameter-free option A (the batch norms total the same)."""

    def __init__(self, num_classes: int = 10, widths=(16, 32, 64), blocks: int = 3):
        super().__init__()
        self.conv1 = nn.Conv2d(3, widths[0], 3, padding=1, bias=False)
        stages, c = [], widths[0]
        for i, w in enumerate(widths):
            layer = []
            for j in range(blocks):
                stride = 2 if i > 0 and j == 0 else 1
                down = conv1x1(c, w, stride) if (stride != 1 or c != w) else None
                layer.append(PreActBlock(c, w, stride, downsample=down))
                c = w
            stages.append(nn.Sequential(*layer))
        self.layer1, self.layer2, self.layer3 = stages
        self.final = nn.Sequential(nn.BatchNorm2d(c), nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.fc = nn.Linear(c, num_classes)

    def forward(self, x):
        x = self.layer3(self.layer2(self.layer1(self.conv1(x))))
        return self.fc(self.final(x))


def preact_resnet20(num_classes: int = 10) -> PreActResNet20:
    return PreActResNet20(num_classes)


class SmallDenseNet(nn.Module):
    """DenseNet-BC: a 3x3 stem, three dense blocks of four layers (growth rate 12, 1x1 bottlenecks
    to 48 channels) with compressing transitions (0.5) between them, BN-ReLU and global pooling."""

    def __init__(self, num_classes: int = 10, growth: int = 12, layers: int = 4):
        super().__init__()
        c = 2 * growth
        parts = [nn.Conv2d(3, c, 3, padding=1, bias=False)]
        for k in range(3):
            parts.append(DenseBlock(layers, c, growth))
            c += layers * growth
            if k < 2:
                parts.append(Transition(c, c // 2))
                c //= 2
        parts += [nn.BatchNorm2d(c), nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        self.features = nn.Sequential(*parts)
        self.fc = nn.Linear(c, num_classes)

    def forward(self, x):
        return self.fc(self.features(x))


def small_densenet(num_classes: int = 10) -> SmallDenseNet:
    return SmallDenseNet(num_classes)


SMALL_MODELS = {
    "LeNet-5": small_lenet5,
    "AlexNet": small_alexnet,
    "VGG": small_vgg,
    "GoogLeNet": small_googlenet,
    "ResNet-20": lambda: resnet20(num_classes=10),
    "pre-act ResNet-20": preact_resnet20,
    "DenseNet-BC": small_densenet,
}
