"""Assignment 3's modules exactly as its parts specify them, for its tests.

A test never trusts what a student's module says about itself: it takes the module's weights
(its ``state_dict``), loads them into the reference below that the part describes, and requires
the same outputs on inputs the test chooses (``cnnkit.modcheck.check_module``). The layouts
follow the assignment, not torchvision (``cnnkit.models`` has the torchvision layouts: its
LeNet-5 uses ReLU, its blocks take a ``downsample`` module).

This file imports only torch. While a notebook is graded, the copy of this module that the
student's code can import has its methods disabled, and when a test builds the student's ResNet-18
from the reference ``BasicBlock`` the block is built and run in the grader's checker, which hands
the kernel only layers holding its weights (autograder.checker): no source of it is sent.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class LeNet5(nn.Module):
    """conv 6 (5x5, pad 2) -> act -> pool 2 -> conv 16 (5x5) -> act -> pool 2 -> FC 120 -> act ->
    FC 84 -> act -> FC num_classes; (N, 1, 28, 28) -> (N, num_classes). act, pool: the part asks
    for tanh and average pooling; the others exist to name a student's mistake."""

    def __init__(self, num_classes=10, act=nn.Tanh, pool=nn.AvgPool2d):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), act(), pool(2),
                                      nn.Conv2d(6, 16, 5), act(), pool(2))
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(400, 120), act(), nn.Linear(120, 84), act(),
                                        nn.Linear(84, num_classes))

    def forward(self, x):
        return self.classifier(self.features(x))


def vgg_stage(in_ch, out_ch, num_convs):
    """num_convs x (3x3 conv with bias, pad 1 -> ReLU), then a 2x2 max pool with stride 2."""
    layers = []
    for i in range(num_convs):
        layers += [nn.Conv2d(in_ch if i == 0 else out_ch, out_ch, 3, padding=1), nn.ReLU()]
    return nn.Sequential(*layers, nn.MaxPool2d(2, 2))


class InceptionModule(nn.Module):
    """Branches 1x1 | 1x1 -> 3x3 | 1x1 -> 5x5 | 3x3 max pool -> 1x1, each conv with bias and a
    ReLU, concatenated in that order along the channels."""

    def __init__(self, in_ch, c1, c3_reduce, c3, c5_reduce, c5, pool_proj):
        super().__init__()

        def conv(a, b, k):
            return [nn.Conv2d(a, b, k, padding=k // 2), nn.ReLU()]

        self.branch1 = nn.Sequential(*conv(in_ch, c1, 1))
        self.branch3 = nn.Sequential(*conv(in_ch, c3_reduce, 1), *conv(c3_reduce, c3, 3))
        self.branch5 = nn.Sequential(*conv(in_ch, c5_reduce, 1), *conv(c5_reduce, c5, 5))
        self.branch_pool = nn.Sequential(nn.MaxPool2d(3, 1, 1), *conv(in_ch, pool_proj, 1))

    def forward(self, x):
        return torch.cat([self.branch1(x), self.branch3(x), self.branch5(x), self.branch_pool(x)], 1)


def _shortcut(in_ch, out_ch, stride):
    if stride == 1 and in_ch == out_ch:
        return nn.Identity()
    return nn.Sequential(nn.Conv2d(in_ch, out_ch, 1, stride=stride, bias=False), nn.BatchNorm2d(out_ch))


class BasicBlock(nn.Module):
    """relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)), 3x3 convs without bias."""

    def __init__(self, in_ch, out_ch, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_ch)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_ch)
        self.shortcut = _shortcut(in_ch, out_ch, stride)

    def forward(self, x):
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(out + self.shortcut(x))


class Bottleneck(nn.Module):
    """1x1 to width -> 3x3 (stride) -> 1x1 to expansion * width, BN after each, plus the shortcut."""

    def __init__(self, in_ch, width, stride=1, expansion=4):
        super().__init__()
        out_ch = expansion * width
        self.conv1 = nn.Conv2d(in_ch, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out_ch, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_ch)
        self.shortcut = _shortcut(in_ch, out_ch, stride)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        return F.relu(self.bn3(self.conv3(out)) + self.shortcut(x))


class ResNet18(nn.Module):
    """Stem (7x7/2 conv, BN, ReLU, 3x3/2 max pool), four stages of two blocks (64, 128, 256, 512
    channels, stride 2 at the start of stages 2-4), global average pool, FC."""

    def __init__(self, num_classes=1000, block=BasicBlock):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False), nn.BatchNorm2d(64),
                                  nn.ReLU(), nn.MaxPool2d(3, stride=2, padding=1))
        blocks, in_ch = [], 64
        for out_ch, stride in [(64, 1), (128, 2), (256, 2), (512, 2)]:
            blocks += [block(in_ch, out_ch, stride), block(out_ch, out_ch)]
            in_ch = out_ch
        self.stages = nn.Sequential(*blocks)
        self.fc = nn.Linear(512, num_classes)

    def forward(self, x):
        x = self.stages(self.stem(x))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


class SEBlock(nn.Module):
    """x * sigmoid(fc2(relu(fc1(mean of x over H, W)))) per channel; fc1: C -> C // reduction."""

    def __init__(self, channels, reduction=16):
        super().__init__()
        self.fc1 = nn.Linear(channels, channels // reduction)
        self.fc2 = nn.Linear(channels // reduction, channels)

    def forward(self, x):
        s = torch.sigmoid(self.fc2(F.relu(self.fc1(x.mean(dim=(2, 3))))))
        return x * s[:, :, None, None]


class ResNeXtBlock(nn.Module):
    """1x1 to D = cardinality * group_width -> grouped 3x3 (stride) -> 1x1 to out_ch, BN after
    each, plus the shortcut, then ReLU."""

    def __init__(self, in_ch, out_ch, cardinality=32, group_width=4, stride=1):
        super().__init__()
        d = cardinality * group_width
        self.conv1 = nn.Conv2d(in_ch, d, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(d)
        self.conv2 = nn.Conv2d(d, d, 3, stride=stride, padding=1, groups=cardinality, bias=False)
        self.bn2 = nn.BatchNorm2d(d)
        self.conv3 = nn.Conv2d(d, out_ch, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_ch)
        self.shortcut = _shortcut(in_ch, out_ch, stride)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        return F.relu(self.bn3(self.conv3(out)) + self.shortcut(x))
