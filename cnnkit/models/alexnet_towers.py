"""AlexNet as the paper drew it: two towers, one per GPU (Krizhevsky, Sutskever and Hinton, 2012, figure 2).

Each GPU holds half of every layer's filters. The towers exchange data only where the paper says
they do: CONV3, FC6 and FC7 read the outputs of both towers; every other layer reads its own.

    tower (x2)   CONV1 48 11x11/4 -> pool -> LRN -> CONV2 128 5x5 -> pool -> LRN
                 -> CONV3 192 3x3 (reads both towers) -> CONV4 192 3x3 -> CONV5 128 3x3 -> pool
    then         FC6 2x2048 (reads both) -> FC7 2x2048 (reads both) -> FC8 num_classes

on a 3x227x227 input (the size whose arithmetic gives the paper's 55x55, lecture 06). The pooling
comes before the normalisation, as in ``alexnet(variant="lecture")`` (the paper's order is the
reverse; no shape and no parameter changes).

It has exactly the parameters of ``alexnet(variant="lecture", groups=2)`` (60,965,224 for 1000
classes), and ``load_grouped`` copies that model's weights into the towers. The two then compute
the same function except in the local response normalisation: here each tower normalises over
its own maps only, as each GPU did; the grouped model's ``LocalResponseNorm`` over all 96 (256)
channels also mixes the channels on either side of the split.
"""
from __future__ import annotations

import torch
import torch.nn as nn

__all__ = ["AlexNetTwoGPU"]


def _tower_front():
    return nn.Sequential(
        nn.Conv2d(3, 48, kernel_size=11, stride=4), nn.ReLU(inplace=True),       # CONV1, half
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.LocalResponseNorm(size=5, alpha=1e-4, beta=0.75, k=2.0),
        nn.Conv2d(48, 128, kernel_size=5, padding=2), nn.ReLU(inplace=True),     # CONV2, own tower
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.LocalResponseNorm(size=5, alpha=1e-4, beta=0.75, k=2.0),
    )


def _tower_back():
    return nn.Sequential(
        nn.Conv2d(192, 192, kernel_size=3, padding=1), nn.ReLU(inplace=True),   # CONV4, own tower
        nn.Conv2d(192, 128, kernel_size=3, padding=1), nn.ReLU(inplace=True),   # CONV5, own tower
        nn.MaxPool2d(kernel_size=3, stride=2),
    )


class AlexNetTwoGPU(nn.Module):
    def __init__(self, num_classes: int = 1000, dropout: float = 0.5):
        super().__init__()
        self.front_a, self.front_b = _tower_front(), _tower_front()
        self.conv3_a = nn.Conv2d(256, 192, kernel_size=3, padding=1)   # CONV3 reads both towers
        self.conv3_b = nn.Conv2d(256, 192, kernel_size=3, padding=1)
        self.relu3 = nn.ReLU(inplace=True)
        self.back_a, self.back_b = _tower_back(), _tower_back()
        self.drop6, self.drop7 = nn.Dropout(dropout), nn.Dropout(dropout)
        self.fc6_a, self.fc6_b = nn.Linear(256 * 6 * 6, 2048), nn.Linear(256 * 6 * 6, 2048)
        self.fc7_a, self.fc7_b = nn.Linear(4096, 2048), nn.Linear(4096, 2048)
        self.relu6, self.relu7 = nn.ReLU(inplace=True), nn.ReLU(inplace=True)
        self.fc8 = nn.Linear(4096, num_classes)

    def forward(self, x):
        a, b = self.front_a(x), self.front_b(x)
        both = torch.cat([a, b], 1)
        a, b = self.relu3(self.conv3_a(both)), self.relu3(self.conv3_b(both))
        a, b = self.back_a(a), self.back_b(b)
        both = self.drop6(torch.flatten(torch.cat([a, b], 1), 1))
        both = self.drop7(torch.cat([self.relu6(self.fc6_a(both)), self.relu6(self.fc6_b(both))], 1))
        both = torch.cat([self.relu7(self.fc7_a(both)), self.relu7(self.fc7_b(both))], 1)
        return self.fc8(both)

    @torch.no_grad()
    def load_grouped(self, grouped: nn.Module) -> "AlexNetTwoGPU":
        """Copy the weights of ``alexnet(variant="lecture", groups=2)``: each layer's first half of
        filters (output units) to tower a, the second to tower b. Returns self."""
        convs = [m for m in grouped.features if isinstance(m, nn.Conv2d)]
        fcs = [m for m in grouped.classifier if isinstance(m, nn.Linear)]
        if len(convs) != 5 or len(fcs) != 3 or convs[1].groups != 2:
            raise ValueError("load_grouped expects alexnet(variant='lecture', groups=2): 5 convs (CONV2, 4, 5 "
                             f"grouped) and 3 FC layers; got {len(convs)} convs and {len(fcs)} FC layers")
        ours = [(self.front_a[0], self.front_b[0]), (self.front_a[4], self.front_b[4]), (self.conv3_a, self.conv3_b),
                (self.back_a[0], self.back_b[0]), (self.back_a[2], self.back_b[2]),
                (self.fc6_a, self.fc6_b), (self.fc7_a, self.fc7_b)]
        for (a, b), src in zip(ours, convs + fcs[:2]):
            for half, dst in zip((src.weight.chunk(2, 0), src.bias.chunk(2, 0)), ((a.weight, b.weight), (a.bias, b.bias))):
                if half[0].shape != dst[0].shape:
                    raise ValueError(f"load_grouped: a half of {tuple(src.weight.shape)} does not fit {tuple(dst[0].shape)}")
                dst[0].copy_(half[0])
                dst[1].copy_(half[1])
        self.fc8.weight.copy_(fcs[2].weight)
        self.fc8.bias.copy_(fcs[2].bias)
        return self
