"""VGG (Simonyan and Zisserman, 2014): only 3x3 convs (stride 1, pad 1) and 2x2 max pools.

The configurations of the paper's Table 1, as lists: a number is a conv's output channels, "M" a
2x2 max pool, and "1:C" (config C only) a 1x1 conv with C outputs. ``vgg(config)`` builds any of
them; ``vgg11``/``vgg13``/``vgg16``/``vgg19`` are configs A/B/D/E, named and laid out as in
torchvision (same parameter counts).
"""
from __future__ import annotations

import torch
import torch.nn as nn

__all__ = ["VGG", "VGG_CONFIGS", "vgg", "vgg11", "vgg13", "vgg16", "vgg19", "vgg16_bn"]

VGG_CONFIGS = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "A-LRN": [64, "LRN", "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "C": [64, 64, "M", 128, 128, "M", 256, 256, "1:256", "M", 512, 512, "1:512", "M",
          512, 512, "1:512", "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "E": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
          512, 512, 512, 512, "M"],
}


def make_layers(cfg, batch_norm: bool = False, in_channels: int = 3) -> nn.Sequential:
    layers = []
    c = in_channels
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            continue
        if v == "LRN":
            layers.append(nn.LocalResponseNorm(size=5, alpha=1e-4, beta=0.75, k=2.0))
            continue
        k, out = (1, int(v.split(":")[1])) if isinstance(v, str) else (3, v)
        layers.append(nn.Conv2d(c, out, kernel_size=k, padding=k // 2))
        if batch_norm:
            layers.append(nn.BatchNorm2d(out))
        layers.append(nn.ReLU(inplace=True))
        c = out
    return nn.Sequential(*layers)


class VGG(nn.Module):
    def __init__(self, features: nn.Module, num_classes: int = 1000, dropout: float = 0.5):
        super().__init__()
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096), nn.ReLU(inplace=True), nn.Dropout(p=dropout),   # FC6
            nn.Linear(4096, 4096), nn.ReLU(inplace=True), nn.Dropout(p=dropout),          # FC7
            nn.Linear(4096, num_classes),                                                 # FC8
        )

    def forward(self, x):
        x = self.avgpool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


def vgg(config: str = "D", num_classes: int = 1000, batch_norm: bool = False) -> VGG:
    """Any configuration of the paper: "A", "A-LRN", "B", "C", "D" or "E"."""
    if config not in VGG_CONFIGS:
        raise ValueError(f"unknown VGG config {config!r}; choose from {', '.join(VGG_CONFIGS)}")
    return VGG(make_layers(VGG_CONFIGS[config], batch_norm), num_classes=num_classes)


def vgg11(num_classes: int = 1000, batch_norm: bool = False) -> VGG:
    """VGG-11 (config A): 132,863,336 parameters for 1000 classes."""
    return vgg("A", num_classes, batch_norm)


def vgg13(num_classes: int = 1000, batch_norm: bool = False) -> VGG:
    """VGG-13 (config B): 133,047,848 parameters."""
    return vgg("B", num_classes, batch_norm)


def vgg16(num_classes: int = 1000, batch_norm: bool = False) -> VGG:
    """VGG-16 (config D): 138,357,544 parameters (138,365,992 with batch norm)."""
    return vgg("D", num_classes, batch_norm)


def vgg19(num_classes: int = 1000, batch_norm: bool = False) -> VGG:
    """VGG-19 (config E): 143,667,240 parameters."""
    return vgg("E", num_classes, batch_norm)


def vgg16_bn(num_classes: int = 1000) -> VGG:
    return vgg16(num_classes, batch_norm=True)
