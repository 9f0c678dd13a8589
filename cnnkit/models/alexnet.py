"""AlexNet (Krizhevsky, Sutskever and Hinton, 2012).

``variant="torchvision"`` is the one-stream model torchvision ships (channels 64/192/384/256/256,
adaptive average pooling to 6x6, 61,100,840 parameters for 1000 classes); it takes 224x224 inputs.

``variant="lecture"`` is the network of the paper as the lecture tables describe it: 227x227x3
input, CONV1 96 11x11 stride 4, POOL1, NORM1 (local response normalisation), CONV2 256 5x5 pad 2,
POOL2, NORM2, CONV3 384, CONV4 384, CONV5 256 (3x3 pad 1), POOL3 -> 6x6x256, FC6 4096, FC7 4096,
FC8 ``num_classes``. (The paper applies LRN before the pooling; the order changes no shape and no
parameter count.)

``groups=2`` reproduces the paper's split over two GPUs: CONV2, CONV4 and CONV5 only see the
feature maps on their own GPU, i.e. they are grouped convolutions with half the weights. CONV3 and
the FC layers read both halves, so they stay ungrouped.
"""
from __future__ import annotations

import torch
import torch.nn as nn

__all__ = ["AlexNet", "alexnet"]


class AlexNet(nn.Module):
    def __init__(self, num_classes: int = 1000, variant: str = "torchvision", groups: int = 1,
                 dropout: float = 0.5):
        super().__init__()
        g = groups
        if variant == "torchvision":
            self.features = nn.Sequential(
                nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2), nn.ReLU(inplace=True),
                nn.MaxPool2d(kernel_size=3, stride=2),
                nn.Conv2d(64, 192, kernel_size=5, padding=2, groups=g), nn.ReLU(inplace=True),
                nn.MaxPool2d(kernel_size=3, stride=2),
                nn.Conv2d(192, 384, kernel_size=3, padding=1), nn.ReLU(inplace=True),
                nn.Conv2d(384, 256, kernel_size=3, padding=1, groups=g), nn.ReLU(inplace=True),
                nn.Conv2d(256, 256, kernel_size=3, padding=1, groups=g), nn.ReLU(inplace=True),
                nn.MaxPool2d(kernel_size=3, stride=2),
            )
            self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        elif variant == "lecture":
            self.features = nn.Sequential(
                nn.Conv2d(3, 96, kernel_size=11, stride=4), nn.ReLU(inplace=True),       # CONV1
                nn.MaxPool2d(kernel_size=3, stride=2),                                   # POOL1
                nn.LocalResponseNorm(size=5, alpha=1e-4, beta=0.75, k=2.0),             # NORM1
                nn.Conv2d(96, 256, kernel_size=5, padding=2, groups=g), nn.ReLU(inplace=True),
                nn.MaxPool2d(kernel_size=3, stride=2),                                   # POOL2
                nn.LocalResponseNorm(size=5, alpha=1e-4, beta=0.75, k=2.0),             # NORM2
                nn.Conv2d(256, 384, kernel_size=3, padding=1), nn.ReLU(inplace=True),    # CONV3
                nn.Conv2d(384, 384, kernel_size=3, padding=1, groups=g), nn.ReLU(inplace=True),
                nn.Conv2d(384, 256, kernel_size=3, padding=1, groups=g), nn.ReLU(inplace=True),
                nn.MaxPool2d(kernel_size=3, stride=2),                                   # POOL3
            )
            self.avgpool = nn.Identity()
        else:
            raise ValueError(f"variant must be 'torchvision' or 'lecture', got {variant!r}")
        self.variant = variant
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(inplace=True),   # FC6
            nn.Dropout(p=dropout), nn.Linear(4096, 4096), nn.ReLU(inplace=True),          # FC7
            nn.Linear(4096, num_classes),                                                 # FC8
        )

    def forward(self, x):
        x = self.avgpool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


def alexnet(num_classes: int = 1000, variant: str = "torchvision", groups: int = 1) -> AlexNet:
    """AlexNet: torchvision's one-stream model, or the lecture's 227x227 network (``groups=2``
    for the two-GPU split)."""
    return AlexNet(num_classes=num_classes, variant=variant, groups=groups)
