"""The 32x32 networks of the ResNet paper's CIFAR-10 experiments (He et al., 2015, section 4.2).

A 3x3 conv with 16 filters, then three stages of ``n`` blocks with 16, 32 and 64 filters on 32x32,
16x16 and 8x8 maps (the first conv of stages 2 and 3 has stride 2), global average pooling and a
fully connected layer: 6n + 2 weighted layers (n = 3: ResNet-20, n = 9: ResNet-56).

The shortcuts are the paper's option A: the identity, and where the shape changes, the input
subsampled by 2 and padded with zero channels. They have no parameters, so a residual network
and its plain twin (``residual=False``, the same layers without shortcuts) have exactly the same
parameter count: any difference in how they train comes from the shortcuts alone.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["CifarBlock", "CifarResNet", "cifar_resnet", "resnet20", "resnet56", "plain20", "plain56"]


class CifarBlock(nn.Module):
    """conv3x3 -> BN -> ReLU -> conv3x3 -> BN, (+ shortcut), ReLU."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, residual: bool = True):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.residual = residual
        self.stride, self.extra = stride, out_channels - in_channels

    def shortcut(self, x):
        """Option A: subsample by the stride and pad the new channels with zeros (no parameters)."""
        if self.stride != 1:
            x = x[:, :, ::self.stride, ::self.stride]
        if self.extra > 0:
            x = F.pad(x, (0, 0, 0, 0, self.extra // 2, self.extra - self.extra // 2))
        return x

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.residual:
            out = out + self.shortcut(x)
        return self.relu(out)


class CifarResNet(nn.Module):
    def __init__(self, depth: int = 20, num_classes: int = 10, residual: bool = True,
                 in_channels: int = 3, widths=(16, 32, 64)):
        super().__init__()
        if (depth - 2) % 6 != 0 or depth < 8:
            raise ValueError(f"depth must be 6n + 2 with n >= 1 (8, 14, 20, 32, 44, 56, 110, ...), got {depth}")
        n = (depth - 2) // 6
        self.depth, self.residual = depth, residual
        self.conv1 = nn.Conv2d(in_channels, widths[0], 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        stages, c = [], widths[0]
        for i, w in enumerate(widths):
            blocks = []
            for j in range(n):
                stride = 2 if (i > 0 and j == 0) else 1
                blocks.append(CifarBlock(c, w, stride, residual))
                c = w
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = stages
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def cifar_resnet(depth: int = 20, num_classes: int = 10, residual: bool = True, in_channels: int = 3) -> CifarResNet:
    """ResNet-``depth`` for 32x32 inputs (``residual=False``: its plain twin)."""
    return CifarResNet(depth, num_classes, residual, in_channels)


def resnet20(num_classes: int = 10, in_channels: int = 3) -> CifarResNet:
    return cifar_resnet(20, num_classes, True, in_channels)


def resnet56(num_classes: int = 10, in_channels: int = 3) -> CifarResNet:
    return cifar_resnet(56, num_classes, True, in_channels)


def plain20(num_classes: int = 10, in_channels: int = 3) -> CifarResNet:
    return cifar_resnet(20, num_classes, False, in_channels)


def plain56(num_classes: int = 10, in_channels: int = 3) -> CifarResNet:
    return cifar_resnet(56, num_classes, False, in_channels)
