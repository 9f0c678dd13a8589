"""Network in Network (Lin, Chen and Yan, 2013): each "mlpconv" block is a conv followed by two
1x1 convs (a small MLP slid over the image); the last block outputs one map per class and global
average pooling turns the maps into logits, so there is no fully connected layer at all.

This is not a network from the paper, which only trained NiNs on CIFAR-10/100, SVHN and MNIST:
it is the later ImageNet-sized variant (the Caffe model zoo's, also the one most textbooks show)
with AlexNet-like first kernels (11x11 stride 4, 5x5, 3x3). Like that variant, its last mlpconv
ends with a ReLU, so the class scores that global average pooling produces are never negative
(the paper's models feed the pooled maps straight into the softmax).
"""
from __future__ import annotations

import torch
import torch.nn as nn

__all__ = ["NiN", "nin", "mlpconv"]


def mlpconv(in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
            padding: int = 0) -> nn.Sequential:
    """conv k x k, then two 1x1 convs, each followed by ReLU."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding), nn.ReLU(inplace=True),
        nn.Conv2d(out_channels, out_channels, 1), nn.ReLU(inplace=True),
        nn.Conv2d(out_channels, out_channels, 1), nn.ReLU(inplace=True),
    )


class NiN(nn.Module):
    def __init__(self, num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.5):
        super().__init__()
        self.features = nn.Sequential(
            mlpconv(in_channels, 96, 11, stride=4), nn.MaxPool2d(3, stride=2),
            mlpconv(96, 256, 5, padding=2), nn.MaxPool2d(3, stride=2),
            mlpconv(256, 384, 3, padding=1), nn.MaxPool2d(3, stride=2),
            nn.Dropout(dropout),
            mlpconv(384, num_classes, 3, padding=1),
        )
        self.avgpool = nn.AdaptiveAvgPool2d(1)

    def forward(self, x):
        return torch.flatten(self.avgpool(self.features(x)), 1)


def nin(num_classes: int = 1000, in_channels: int = 3) -> NiN:
    return NiN(num_classes=num_classes, in_channels=in_channels)
