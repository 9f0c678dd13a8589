"""ResNet (He, Zhang, Ren and Sun, 2015) for ImageNet, laid out as torchvision lays it out, plus
the variants the course discusses: pre-activation ResNet, Wide ResNet, ResNeXt and SE-ResNet.

Blocks:

- ``BasicBlock``: 3x3 conv -> BN -> ReLU -> 3x3 conv -> BN, plus the shortcut, then ReLU (18/34).
- ``Bottleneck``: 1x1 reduce -> 3x3 -> 1x1 expand (x4), plus the shortcut (50/101/152). By
  default the stride of a downsampling block sits on the 3x3 conv ("ResNet v1.5", as in
  torchvision and its pretrained weights); ``stride_in_1x1=True`` puts it on the first 1x1 conv
  as in the 2015 paper and its Caffe models, so that the 3x3 conv already runs at the lower
  resolution: the same parameters, fewer multiply-adds (ResNet-50: 3.86 G instead of 4.09 G).
  ``groups`` and ``base_width`` give ResNeXt and Wide ResNet; ``se=True`` adds a
  squeeze-and-excitation block before the addition.
- ``PreActBlock``: BN -> ReLU -> conv -> BN -> ReLU -> conv, plus the identity (He et al., 2016).

When a block changes the resolution or the width, its shortcut is a projection (1x1 conv with the
block's stride, then BN); otherwise it is the identity.
"""
from __future__ import annotations

import torch
import torch.nn as nn

__all__ = ["BasicBlock", "Bottleneck", "PreActBlock", "SEBlock", "ResNet", "resnet18", "resnet34",
           "resnet50", "resnet101", "resnet152", "preact_resnet18", "wide_resnet50_2",
           "resnext50_32x4d", "se_resnet50"]


def conv3x3(cin, cout, stride=1, groups=1):
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1, groups=groups, bias=False)


def conv1x1(cin, cout, stride=1):
    return nn.Conv2d(cin, cout, 1, stride=stride, bias=False)


class SEBlock(nn.Module):
    """Squeeze-and-excitation (Hu et al., 2017): squeeze = global average pool to one value per
    channel; excitation = FC (C -> C/r) -> ReLU -> FC (C/r -> C) -> sigmoid; the result rescales
    each channel of the input."""

    def __init__(self, channels: int, reduction: int = 16):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Linear(channels, channels // reduction)
        self.relu = nn.ReLU(inplace=True)
        self.fc2 = nn.Linear(channels // reduction, channels)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x):
        s = torch.flatten(self.pool(x), 1)
        s = self.sigmoid(self.fc2(self.relu(self.fc1(s))))
        return x * s[:, :, None, None]


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None, groups=1, base_width=64, se=False,
                 stride_in_1x1=False):
        super().__init__()
        if groups != 1 or base_width != 64:
            raise ValueError("BasicBlock only supports groups=1 and base_width=64")
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.se = SEBlock(planes) if se else None
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.se is not None:
            out = self.se(out)
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """1x1 reduce -> 3x3 -> 1x1 expand; x (N, inplanes, H, W) -> (N, 4 planes, H / stride, W / stride).

    stride_in_1x1: False (torchvision, "v1.5"): the 3x3 conv has the stride; True (the paper,
    "v1"): the first 1x1 conv has it.
    """

    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None, groups=1, base_width=64, se=False,
                 stride_in_1x1=False):
        super().__init__()
        width = int(planes * (base_width / 64.0)) * groups
        s1, s3 = (stride, 1) if stride_in_1x1 else (1, stride)
        self.conv1 = conv1x1(inplanes, width, s1)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = conv3x3(width, width, s3, groups)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.se = SEBlock(planes * self.expansion) if se else None
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.se is not None:
            out = self.se(out)
        return self.relu(out + identity)


class PreActBlock(nn.Module):
    """Full pre-activation basic block: BN-ReLU-conv-BN-ReLU-conv, plus the shortcut, no ReLU
    after the addition."""

    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None, groups=1, base_width=64, se=False,
                 stride_in_1x1=False):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(inplanes)
        self.relu = nn.ReLU(inplace=False)
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes)
        self.downsample = downsample

    def forward(self, x):
        out = self.relu(self.bn1(x))
        # a projection shortcut reads the pre-activated input, the identity the raw input
        identity = x if self.downsample is None else self.downsample(out)
        out = self.conv1(out)
        out = self.conv2(self.relu(self.bn2(out)))
        return out + identity


class ResNet(nn.Module):
    def __init__(self, block, layers, num_classes=1000, groups=1, width_per_group=64, se=False,
                 preact=False, stride_in_1x1=False):
        super().__init__()
        if stride_in_1x1 and block is not Bottleneck:
            raise ValueError(f"stride_in_1x1 only applies to Bottleneck blocks (a {block.__name__} has no "
                             "1x1 conv before its 3x3); leave it False for ResNet-18/34")
        self.stride_in_1x1 = stride_in_1x1
        self.inplanes = 64
        self.groups, self.base_width, self.se, self.preact = groups, width_per_group, se, preact
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2)
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2)
        # pre-activation nets end with a BN-ReLU, since their blocks end with a bare addition
        self.final_bn = nn.BatchNorm2d(512 * block.expansion) if preact else nn.Identity()
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")  # He init

    def _make_layer(self, block, planes, blocks, stride=1):
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            proj = [conv1x1(self.inplanes, planes * block.expansion, stride)]
            if not self.preact:
                proj.append(nn.BatchNorm2d(planes * block.expansion))
            downsample = nn.Sequential(*proj)
        layers = [block(self.inplanes, planes, stride, downsample, self.groups, self.base_width, self.se,
                        self.stride_in_1x1)]
        self.inplanes = planes * block.expansion
        for _ in range(1, blocks):
            layers.append(block(self.inplanes, planes, groups=self.groups,
                                base_width=self.base_width, se=self.se))
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        if self.preact:
            x = self.relu(self.final_bn(x))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def resnet18(num_classes: int = 1000) -> ResNet:
    """11,689,512 parameters."""
    return ResNet(BasicBlock, [2, 2, 2, 2], num_classes)


def resnet34(num_classes: int = 1000) -> ResNet:
    """21,797,672 parameters."""
    return ResNet(BasicBlock, [3, 4, 6, 3], num_classes)


def resnet50(num_classes: int = 1000, stride_in_1x1: bool = False) -> ResNet:
    """25,557,032 parameters (either stride placement; see Bottleneck for ``stride_in_1x1``)."""
    return ResNet(Bottleneck, [3, 4, 6, 3], num_classes, stride_in_1x1=stride_in_1x1)


def resnet101(num_classes: int = 1000, stride_in_1x1: bool = False) -> ResNet:
    """44,549,160 parameters (either stride placement; see Bottleneck for ``stride_in_1x1``)."""
    return ResNet(Bottleneck, [3, 4, 23, 3], num_classes, stride_in_1x1=stride_in_1x1)


def resnet152(num_classes: int = 1000, stride_in_1x1: bool = False) -> ResNet:
    """60,192,808 parameters (either stride placement; see Bottleneck for ``stride_in_1x1``)."""
    return ResNet(Bottleneck, [3, 8, 36, 3], num_classes, stride_in_1x1=stride_in_1x1)


def preact_resnet18(num_classes: int = 1000) -> ResNet:
    """ResNet-18 with full pre-activation blocks (BN and ReLU before each conv)."""
    return ResNet(PreActBlock, [2, 2, 2, 2], num_classes, preact=True)


def wide_resnet50_2(num_classes: int = 1000) -> ResNet:
    """ResNet-50 with bottlenecks twice as wide (width factor 2): 68,883,240 parameters."""
    return ResNet(Bottleneck, [3, 4, 6, 3], num_classes, width_per_group=128)


def resnext50_32x4d(num_classes: int = 1000) -> ResNet:
    """ResNeXt-50, cardinality 32, 4 channels per group in the first stage: 25,028,904 parameters."""
    return ResNet(Bottleneck, [3, 4, 6, 3], num_classes, groups=32, width_per_group=4)


def se_resnet50(num_classes: int = 1000, stride_in_1x1: bool = False) -> ResNet:
    """ResNet-50 with a squeeze-and-excitation block (reduction 16) in every bottleneck.
    The SENet paper's ResNet-50 figures are for the paper's stride placement (``stride_in_1x1=True``)."""
    return ResNet(Bottleneck, [3, 4, 6, 3], num_classes, se=True, stride_in_1x1=stride_in_1x1)
