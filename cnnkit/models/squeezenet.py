"""SqueezeNet (Iandola et al., 2016), laid out as torchvision lays it out.

A fire module squeezes the channels with 1x1 convs, then expands them again with 1x1 and 3x3
convs side by side whose outputs are concatenated. There is no fully connected layer: a final 1x1
conv gives one map per class and global average pooling gives the logits.
"""
from __future__ import annotations

import torch
import torch.nn as nn

__all__ = ["FireModule", "Fire", "SqueezeNet", "squeezenet1_0", "squeezenet1_1"]


class FireModule(nn.Module):
    def __init__(self, inplanes: int, squeeze_planes: int, expand1x1_planes: int, expand3x3_planes: int):
        super().__init__()
        self.squeeze = nn.Conv2d(inplanes, squeeze_planes, kernel_size=1)
        self.squeeze_activation = nn.ReLU(inplace=True)
        self.expand1x1 = nn.Conv2d(squeeze_planes, expand1x1_planes, kernel_size=1)
        self.expand1x1_activation = nn.ReLU(inplace=True)
        self.expand3x3 = nn.Conv2d(squeeze_planes, expand3x3_planes, kernel_size=3, padding=1)
        self.expand3x3_activation = nn.ReLU(inplace=True)
        self.out_channels = expand1x1_planes + expand3x3_planes

    def forward(self, x):
        x = self.squeeze_activation(self.squeeze(x))
        return torch.cat([self.expand1x1_activation(self.expand1x1(x)),
                          self.expand3x3_activation(self.expand3x3(x))], 1)


Fire = FireModule


class SqueezeNet(nn.Module):
    def __init__(self, version: str = "1_0", num_classes: int = 1000, dropout: float = 0.5):
        super().__init__()
        pool = lambda: nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True)  # noqa: E731
        if version == "1_0":
            self.features = nn.Sequential(
                nn.Conv2d(3, 96, kernel_size=7, stride=2), nn.ReLU(inplace=True), pool(),
                FireModule(96, 16, 64, 64), FireModule(128, 16, 64, 64),
                FireModule(128, 32, 128, 128), pool(),
                FireModule(256, 32, 128, 128), FireModule(256, 48, 192, 192),
                FireModule(384, 48, 192, 192), FireModule(384, 64, 256, 256), pool(),
                FireModule(512, 64, 256, 256),
            )
        elif version == "1_1":
            self.features = nn.Sequential(
                nn.Conv2d(3, 64, kernel_size=3, stride=2), nn.ReLU(inplace=True), pool(),
                FireModule(64, 16, 64, 64), FireModule(128, 16, 64, 64), pool(),
                FireModule(128, 32, 128, 128), FireModule(256, 32, 128, 128), pool(),
                FireModule(256, 48, 192, 192), FireModule(384, 48, 192, 192),
                FireModule(384, 64, 256, 256), FireModule(512, 64, 256, 256),
            )
        else:
            raise ValueError(f"version must be '1_0' or '1_1', got {version!r}")
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout), nn.Conv2d(512, num_classes, kernel_size=1), nn.ReLU(inplace=True),
            nn.AdaptiveAvgPool2d((1, 1)),
        )

    def forward(self, x):
        return torch.flatten(self.classifier(self.features(x)), 1)


def squeezenet1_0(num_classes: int = 1000) -> SqueezeNet:
    """SqueezeNet 1.0: 1,248,424 parameters."""
    return SqueezeNet("1_0", num_classes)


def squeezenet1_1(num_classes: int = 1000) -> SqueezeNet:
    """SqueezeNet 1.1 (same accuracy, about 2.4x less computation): 1,235,496 parameters."""
    return SqueezeNet("1_1", num_classes)
