"""LeNet-5 (LeCun, Bottou, Bengio and Haffner, 1998), in two flavours.

``variant="modern"`` is a version many courses train today: 5x5 convs (the first padded by 2 so
a 28x28 digit keeps its size; the FC sizes assume 28x28 inputs), average pooling, ReLU, and fully connected
layers 120 -> 84 -> ``num_classes``. On a 1x32x32 (or 1x28x28 with padding) input it has 61,706
parameters.

``variant="paper"`` follows the 1998 paper on a 1x32x32 input, layer by layer:

=====  ==========================================================  ==========
layer  what it is                                                   parameters
=====  ==========================================================  ==========
C1     6 maps, 5x5 conv -> 28x28                                    156
S2     2x2 sum, times one trainable coefficient, plus a bias        12
C3     16 maps, 5x5 conv with the sparse connection table           1,516
S4     like S2, 16 maps                                              32
C5     120 maps, 5x5 conv -> 1x1                                     48,120
F6     84 units                                                      10,164
out    radial basis function units, one per class                   840 fixed
=====  ==========================================================  ==========

Total 60,000 trainable parameters, as the paper states, plus the 840 values of the output
units' prototypes, which the paper set by hand and kept fixed (a buffer here, not a parameter;
see RBFOutput): 60,840 numbers in all. The squashing function is the paper's scaled tanh,
1.7159 tanh(2x/3). The RBF unit for class i outputs the squared distance ||x - w_i||^2; the model
returns its negative, so that the largest output is the predicted class, as with ordinary logits.

"Modern LeNet-5" names no single network. This module's modern variant uses ReLU; A3 asks for
the same layers with tanh (cnnkit.reference.LeNet5, closer to the paper); lecture 11's
cnnkit.models.small.small_lenet5 keeps tanh and the unpadded 32x32 input, with three input
channels. All three have dense layers where the paper had the sparse C3 and the RBF outputs.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["LeNet5", "lenet5", "C3_TABLE", "SparseConv2d", "Subsampling", "RBFOutput", "ScaledTanh"]

# Table I of the paper: which S2 maps (0-5) each of the 16 C3 maps reads.
C3_TABLE = (
    (0, 1, 2), (1, 2, 3), (2, 3, 4), (3, 4, 5), (4, 5, 0), (5, 0, 1),
    (0, 1, 2, 3), (1, 2, 3, 4), (2, 3, 4, 5), (3, 4, 5, 0), (4, 5, 0, 1), (5, 0, 1, 2),
    (0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5),
    (0, 1, 2, 3, 4, 5),
)


class ScaledTanh(nn.Module):
    """The paper's squashing function f(a) = A tanh(S a) with A = 1.7159, S = 2/3."""

    def forward(self, x):
        return 1.7159 * torch.tanh(x * (2.0 / 3.0))


class Subsampling(nn.Module):
    """S2/S4 of the paper: sum each 2x2 block, multiply by a trainable coefficient per map, add a
    trainable bias per map (2 parameters per map)."""

    def __init__(self, channels: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x):
        s = F.avg_pool2d(x, 2) * 4.0  # sum over the 2x2 block
        return s * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)


class SparseConv2d(nn.Module):
    """A convolution in which output map o reads only the input maps listed in ``table[o]``.

    Only the connected kernels are parameters: ``weight`` holds one k x k kernel per connection
    (60 for the C3 table, so 60*25 = 1,500 weights) and ``bias`` one value per output map. The
    forward pass scatters them into a dense kernel whose unconnected entries are zero.
    """

    def __init__(self, table, in_channels: int, kernel_size: int = 5):
        super().__init__()
        pairs = [(o, i) for o, ins in enumerate(table) for i in ins]
        self.in_channels, self.out_channels, self.kernel_size = in_channels, len(table), kernel_size
        self.register_buffer("out_idx", torch.tensor([o for o, _ in pairs]), persistent=False)
        self.register_buffer("in_idx", torch.tensor([i for _, i in pairs]), persistent=False)
        self.weight = nn.Parameter(torch.empty(len(pairs), kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(len(table)))
        fan_in = len(pairs) / len(table) * kernel_size**2
        nn.init.uniform_(self.weight, -2.4 / fan_in, 2.4 / fan_in)  # the paper's +-2.4/F_i

    def dense_weight(self) -> torch.Tensor:
        k = self.kernel_size
        w = self.weight.new_zeros(self.out_channels, self.in_channels, k, k)
        return w.index_put((self.out_idx, self.in_idx), self.weight)

    def forward(self, x):
        return F.conv2d(x, self.dense_weight(), self.bias)

    def count_macs(self, inputs, output) -> int:
        """Multiply-adds of the connected kernels only (what the sparse table saves)."""
        return int(output[0, 0].numel() * output.shape[0] * self.weight.numel())


class RBFOutput(nn.Module):
    """Euclidean radial basis function units: y_i = sum_j (x_j - w_ij)^2. Returns -y so that the
    closest prototype gets the largest score.

    The prototypes w_i are fixed, not trained, as in the paper, whose 10 x 84 values were set by
    hand to -1 or +1 (stylised 7x12 bitmaps of the digits) and kept fixed: a buffer here, so
    the paper variant's 60,000 trainable parameters are its parameters and these 840 values are
    not among them. Deviation: instead of the paper's hand-drawn bitmaps, each class gets a
    code of -1s and +1s drawn once from a generator with a fixed seed (the same codes in every
    model; 84 random signs per class are nearly orthogonal, so the classes start far apart).
    """

    def __init__(self, in_features: int, num_classes: int, seed: int = 0):
        super().__init__()
        signs = torch.randint(0, 2, (num_classes, in_features), generator=torch.Generator().manual_seed(seed))
        self.register_buffer("prototypes", signs.float() * 2 - 1)

    def forward(self, x):
        d = (x.unsqueeze(1) - self.prototypes.unsqueeze(0)).pow(2).sum(-1)
        return -d

    def count_macs(self, inputs, output) -> int:
        return int(output.numel() * self.prototypes.shape[1])


class LeNet5(nn.Module):
    """LeNet-5; see the module docstring for the two variants."""

    def __init__(self, num_classes: int = 10, variant: str = "modern", in_channels: int = 1):
        super().__init__()
        if variant == "modern":
            self.features = nn.Sequential(
                nn.Conv2d(in_channels, 6, kernel_size=5, padding=2), nn.ReLU(inplace=True),
                nn.AvgPool2d(2),
                nn.Conv2d(6, 16, kernel_size=5), nn.ReLU(inplace=True),
                nn.AvgPool2d(2),
            )
            self.classifier = nn.Sequential(
                nn.Flatten(),
                nn.Linear(16 * 5 * 5, 120), nn.ReLU(inplace=True),
                nn.Linear(120, 84), nn.ReLU(inplace=True),
                nn.Linear(84, num_classes),
            )
        elif variant == "paper":
            self.features = nn.Sequential(
                nn.Conv2d(in_channels, 6, kernel_size=5), ScaledTanh(),       # C1 -> 28x28
                Subsampling(6), ScaledTanh(),                                 # S2 -> 14x14
                SparseConv2d(C3_TABLE, 6, kernel_size=5), ScaledTanh(),      # C3 -> 10x10
                Subsampling(16), ScaledTanh(),                                # S4 -> 5x5
                nn.Conv2d(16, 120, kernel_size=5), ScaledTanh(),              # C5 -> 1x1
            )
            self.classifier = nn.Sequential(
                nn.Flatten(),
                nn.Linear(120, 84), ScaledTanh(),                             # F6
                RBFOutput(84, num_classes),                                   # output
            )
        else:
            raise ValueError(f"variant must be 'modern' or 'paper', got {variant!r}")
        self.variant = variant

    def forward(self, x):
        return self.classifier(self.features(x))


def lenet5(num_classes: int = 10, variant: str = "modern", in_channels: int = 1) -> LeNet5:
    """LeNet-5: ``variant="modern"`` (61,706 parameters) or ``"paper"`` (60,000 trainable parameters
    and 840 fixed prototype values)."""
    return LeNet5(num_classes=num_classes, variant=variant, in_channels=in_channels)
