"""DenseNet (Huang, Liu, van der Maaten and Weinberger, 2016), laid out as torchvision lays it out.

These are the paper's **DenseNet-BC** networks (B: bottleneck layers, C: compression): every
dense layer first reduces its input with a 1x1 conv to ``bn_size * growth_rate`` = 4k channels
(B), and every transition keeps only half of the channels (compression 0.5, C). The plain
DenseNet of the paper has neither (one BN-ReLU-3x3 conv per layer, transitions that keep the width).

Inside a dense block every layer receives the concatenation of all earlier feature maps of the
block and adds ``growth_rate`` new maps (BN-ReLU-1x1 conv to ``bn_size * growth_rate``, then
BN-ReLU-3x3 conv to ``growth_rate``). Between blocks a transition (BN-ReLU-1x1 conv that halves
the channels, 2x2 average pool) halves the resolution.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["DenseLayer", "DenseBlock", "Transition", "DenseNet", "densenet121"]


class DenseLayer(nn.Module):
    def __init__(self, in_channels: int, growth_rate: int, bn_size: int = 4, drop_rate: float = 0.0):
        super().__init__()
        self.norm1 = nn.BatchNorm2d(in_channels)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(in_channels, bn_size * growth_rate, 1, bias=False)
        self.norm2 = nn.BatchNorm2d(bn_size * growth_rate)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(bn_size * growth_rate, growth_rate, 3, padding=1, bias=False)
        self.drop_rate = drop_rate

    def forward(self, features):
        x = torch.cat(features, 1) if isinstance(features, (list, tuple)) else features
        x = self.conv1(self.relu1(self.norm1(x)))
        x = self.conv2(self.relu2(self.norm2(x)))
        return F.dropout(x, p=self.drop_rate, training=self.training) if self.drop_rate else x


class DenseBlock(nn.Module):
    """``num_layers`` dense layers; output channels = in_channels + num_layers * growth_rate."""

    def __init__(self, num_layers: int, in_channels: int, growth_rate: int = 32, bn_size: int = 4,
                 drop_rate: float = 0.0):
        super().__init__()
        self.layers = nn.ModuleList(
            DenseLayer(in_channels + i * growth_rate, growth_rate, bn_size, drop_rate)
            for i in range(num_layers))
        self.out_channels = in_channels + num_layers * growth_rate

    def forward(self, x):
        features = [x]
        for layer in self.layers:
            features.append(layer(features))
        return torch.cat(features, 1)


class Transition(nn.Sequential):
    def __init__(self, in_channels: int, out_channels: int):
        super().__init__(nn.BatchNorm2d(in_channels), nn.ReLU(inplace=True),
                         nn.Conv2d(in_channels, out_channels, 1, bias=False),
                         nn.AvgPool2d(kernel_size=2, stride=2))


class DenseNet(nn.Module):
    def __init__(self, growth_rate=32, block_config=(6, 12, 24, 16), num_init_features=64,
                 bn_size=4, drop_rate=0.0, num_classes=1000):
        super().__init__()
        layers = [nn.Conv2d(3, num_init_features, 7, stride=2, padding=3, bias=False),
                  nn.BatchNorm2d(num_init_features), nn.ReLU(inplace=True),
                  nn.MaxPool2d(3, stride=2, padding=1)]
        c = num_init_features
        for i, n in enumerate(block_config):
            block = DenseBlock(n, c, growth_rate, bn_size, drop_rate)
            layers.append(block)
            c = block.out_channels
            if i != len(block_config) - 1:
                layers.append(Transition(c, c // 2))
                c //= 2
        layers.append(nn.BatchNorm2d(c))
        self.features = nn.Sequential(*layers)
        self.relu = nn.ReLU(inplace=True)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.classifier = nn.Linear(c, num_classes)

    def forward(self, x):
        x = self.avgpool(self.relu(self.features(x)))
        return self.classifier(torch.flatten(x, 1))


def densenet121(num_classes: int = 1000) -> DenseNet:
    """DenseNet-121 (growth rate 32, blocks of 6/12/24/16 layers): 7,978,856 parameters."""
    return DenseNet(32, (6, 12, 24, 16), 64, num_classes=num_classes)
