"""GoogLeNet (Szegedy et al., 2014) and its Inception module.

The layout follows torchvision's ``googlenet`` (batch norm after every conv, which the 2014 paper
did not have), so that the parameter count matches its published 6,624,904 without the auxiliary
classifiers. One detail to know: torchvision's "5x5" branch actually uses a 3x3 kernel (a long
standing quirk kept for its pretrained weights). ``googlenet(five_by_five=True)`` uses real 5x5
kernels as in the paper's Table 1.
"""
from __future__ import annotations

from collections import namedtuple

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["BasicConv2d", "InceptionModule", "Inception", "InceptionAux", "GoogLeNet",
           "googlenet", "GOOGLENET_MODULES", "GoogLeNetOutputs"]

GoogLeNetOutputs = namedtuple("GoogLeNetOutputs", ["logits", "aux_logits2", "aux_logits1"])

# Table 1 of the paper: (in, #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj)
GOOGLENET_MODULES = {
    "3a": (192, 64, 96, 128, 16, 32, 32),
    "3b": (256, 128, 128, 192, 32, 96, 64),
    "4a": (480, 192, 96, 208, 16, 48, 64),
    "4b": (512, 160, 112, 224, 24, 64, 64),
    "4c": (512, 128, 128, 256, 24, 64, 64),
    "4d": (512, 112, 144, 288, 32, 64, 64),
    "4e": (528, 256, 160, 320, 32, 128, 128),
    "5a": (832, 256, 160, 320, 32, 128, 128),
    "5b": (832, 384, 192, 384, 48, 128, 128),
}


class BasicConv2d(nn.Module):
    """conv (no bias) -> batch norm -> ReLU; with ``bn=False``: conv (with bias) -> ReLU."""

    def __init__(self, in_channels: int, out_channels: int, bn: bool = True, **kwargs):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, bias=not bn, **kwargs)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001) if bn else nn.Identity()
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        return self.relu(self.bn(self.conv(x)))


class InceptionModule(nn.Module):
    """Four parallel branches concatenated along the channels:

    1. 1x1 conv (``ch1x1`` outputs);
    2. 1x1 reduction to ``ch3x3red`` then 3x3 conv (``ch3x3``);
    3. 1x1 reduction to ``ch5x5red`` then a ``kernel5`` x ``kernel5`` conv (``ch5x5``);
    4. 3x3 max pool (stride 1) then a 1x1 projection to ``pool_proj``.

    A reduction of ``None`` leaves the 1x1 conv out, and ``pool_proj=None`` leaves the pooled
    input as it is: with all three ``None`` this is the "naive" module of the lecture, whose
    output depth is ch1x1 + ch3x3 + ch5x5 + in_channels.
    """

    def __init__(self, in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj,
                 kernel5: int = 5, bn: bool = True):
        super().__init__()

        def conv(cin, cout, k):
            return BasicConv2d(cin, cout, bn=bn, kernel_size=k, padding=k // 2)

        self.branch1 = conv(in_channels, ch1x1, 1)
        self.branch2 = nn.Sequential(*([conv(in_channels, ch3x3red, 1)] if ch3x3red else []),
                                     conv(ch3x3red or in_channels, ch3x3, 3))
        self.branch3 = nn.Sequential(*([conv(in_channels, ch5x5red, 1)] if ch5x5red else []),
                                     conv(ch5x5red or in_channels, ch5x5, kernel5))
        self.branch4 = nn.Sequential(nn.MaxPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=True),
                                     *([conv(in_channels, pool_proj, 1)] if pool_proj else []))
        self.out_channels = ch1x1 + ch3x3 + ch5x5 + (pool_proj or in_channels)

    def forward(self, x):
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


Inception = InceptionModule


class InceptionAux(nn.Module):
    """Auxiliary classifier: average pool to 4x4 -> 1x1 conv 128 -> FC 1024 -> dropout 0.7 -> FC."""

    def __init__(self, in_channels: int, num_classes: int, dropout: float = 0.7):
        super().__init__()
        self.conv = BasicConv2d(in_channels, 128, kernel_size=1)
        self.fc1 = nn.Linear(2048, 1024)
        self.fc2 = nn.Linear(1024, num_classes)
        self.dropout = nn.Dropout(p=dropout)

    def forward(self, x):
        x = self.conv(F.adaptive_avg_pool2d(x, (4, 4)))
        x = self.dropout(F.relu(self.fc1(torch.flatten(x, 1)), inplace=True))
        return self.fc2(x)


class GoogLeNet(nn.Module):
    def __init__(self, num_classes: int = 1000, aux_logits: bool = False, kernel5: int = 3,
                 dropout: float = 0.2, dropout_aux: float = 0.7, bn: bool = True):
        super().__init__()
        self.aux_logits = aux_logits
        self.conv1 = BasicConv2d(3, 64, bn=bn, kernel_size=7, stride=2, padding=3)
        self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2 = BasicConv2d(64, 64, bn=bn, kernel_size=1)
        self.conv3 = BasicConv2d(64, 192, bn=bn, kernel_size=3, padding=1)
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        m = {k: InceptionModule(*v, kernel5=kernel5, bn=bn) for k, v in GOOGLENET_MODULES.items()}
        self.inception3a, self.inception3b = m["3a"], m["3b"]
        self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception4a, self.inception4b, self.inception4c = m["4a"], m["4b"], m["4c"]
        self.inception4d, self.inception4e = m["4d"], m["4e"]
        self.maxpool4 = nn.MaxPool2d(2, stride=2, ceil_mode=True)
        self.inception5a, self.inception5b = m["5a"], m["5b"]
        if aux_logits:
            self.aux1 = InceptionAux(512, num_classes, dropout_aux)   # after 4a
            self.aux2 = InceptionAux(528, num_classes, dropout_aux)   # after 4d
        else:
            self.aux1 = self.aux2 = None
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))                     # global average pooling
        self.dropout = nn.Dropout(p=dropout)
        self.fc = nn.Linear(1024, num_classes)

    def forward(self, x):
        x = self.maxpool1(self.conv1(x))
        x = self.maxpool2(self.conv3(self.conv2(x)))
        x = self.maxpool3(self.inception3b(self.inception3a(x)))
        x = self.inception4a(x)
        aux1 = self.aux1(x) if self.aux1 is not None and self.training else None
        x = self.inception4d(self.inception4c(self.inception4b(x)))
        aux2 = self.aux2(x) if self.aux2 is not None and self.training else None
        x = self.maxpool4(self.inception4e(x))
        x = self.inception5b(self.inception5a(x))
        x = self.fc(self.dropout(torch.flatten(self.avgpool(x), 1)))
        if self.aux_logits and self.training:
            return GoogLeNetOutputs(x, aux2, aux1)
        return x


def googlenet(num_classes: int = 1000, aux_logits: bool = False, five_by_five: bool = False,
              batch_norm: bool = True) -> GoogLeNet:
    """GoogLeNet as torchvision builds it (6,624,904 parameters without the auxiliary heads).

    With ``aux_logits=True`` the two auxiliary classifiers are added; in training mode the model
    then returns ``(logits, aux_logits2, aux_logits1)``, in eval mode only the logits.
    ``five_by_five=True`` gives the third branch real 5x5 kernels, and ``batch_norm=False`` replaces
    every conv-BN pair by a conv with a bias (the auxiliary heads keep theirs): both as in the
    2014 paper, which predates batch norm.
    """
    return GoogLeNet(num_classes=num_classes, aux_logits=aux_logits, kernel5=5 if five_by_five else 3,
                     bn=batch_norm)
