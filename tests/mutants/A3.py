"""A3's mutation corpus: legitimate variants and typical mistakes, as edits of the solution.

The module parts are checked by what they compute (cnnkit.modcheck): a variant that registers its
layers in another order or writes forward another way computes the same function; a mistake that
changes a layer (ReLU for tanh, max for average pooling, no projection, a wrong expansion) is
found by the comparison with the reference, or by the layout of the weights, and the visible
test names it. The numeric parts keep their exact values in hidden tests; their visible tests
catch the mistakes that show in the form or the consistency of the answers.
"""
from tests.mutants import Mutant, Variant

_LENET = ("self.features = nn.Sequential(\n            nn.Conv2d(1, 6, 5, padding=2), nn.Tanh(), nn.AvgPool2d(2),\n            nn.Conv2d(6, 16, 5), nn.Tanh(), nn.AvgPool2d(2),\n        )\n        self.classifier = nn.Sequential(\n            nn.Flatten(), nn.Linear(16 * 5 * 5, 120), nn.Tanh(),\n            nn.Linear(120, 84), nn.Tanh(), nn.Linear(84, num_classes),")

EDITS = [
    # Part 1: sizes
    Variant("sizes", "sizes", "floor of a float division",
            "return (size - kernel + 2 * pad) // stride + 1",
            "return int(np.floor((size - kernel + 2 * pad) / stride)) + 1"),
    Variant("sizes", "sizes", "bias as a 0/1 factor",
            "return kernel * kernel * in_ch * out_ch + (out_ch if bias else 0)",
            "return in_ch * out_ch * kernel ** 2 + int(bias) * out_ch"),
    Mutant("sizes", "sizes", "rounds up", "return (size - kernel + 2 * pad) // stride + 1",
           "return -(-(size - kernel + 2 * pad) // stride) + 1", "conv_output_size(6, 3, 2)"),
    Mutant("sizes", "sizes", "padding counted once", "return (size - kernel + 2 * pad) // stride + 1",
           "return (size - kernel + pad) // stride + 1", "conv_output_size(32, 5, 1, 2)"),
    Mutant("sizes", "sizes", "bias flag ignored", "(out_ch if bias else 0)", "out_ch",
           "conv_param_count(3, 8, 3, bias=False)"),

    # Part 2: AlexNet
    Variant("alexnet", "alexnet", "formula written inline",
            "alexnet_conv1_shape = (96, conv_output_size(227, 11, 4), conv_output_size(227, 11, 4))",
            "alexnet_conv1_shape = (96, (227 - 11) // 4 + 1, (227 - 11) // 4 + 1)"),
    Variant("alexnet", "alexnet", "parameter count written out",
            "alexnet_conv1_params = conv_param_count(3, 96, 11)", "alexnet_conv1_params = 11 * 11 * 3 * 96 + 96"),
    Mutant("alexnet", "alexnet", "(height, width, channels) order",
           "alexnet_conv1_shape = (96, conv_output_size(227, 11, 4), conv_output_size(227, 11, 4))",
           "alexnet_conv1_shape = (conv_output_size(227, 11, 4), conv_output_size(227, 11, 4), 96)",
           "alexnet_conv1_shape[0]"),
    Mutant("alexnet", "alexnet", "POOL1 applied to the input image",
           "alexnet_pool1_shape = (96, conv_output_size(55, 3, 2), conv_output_size(55, 3, 2))",
           "alexnet_pool1_shape = (96, conv_output_size(227, 3, 2), conv_output_size(227, 3, 2))",
           "POOL1 is not smaller"),
    Mutant("alexnet", "alexnet", "float sides from / division",
           "alexnet_conv1_shape = (96, conv_output_size(227, 11, 4), conv_output_size(227, 11, 4))",
           "alexnet_conv1_shape = (96, (227 - 11) / 4 + 1, (227 - 11) / 4 + 1)",
           "expected a tuple of 3 positive ints"),

    # Part 3: VGG16
    Variant("vgg16", "vgg16", "bytes from numpy's itemsize",
            "vgg16_forward_bytes = 4 * vgg16_activation_count",
            "vgg16_forward_bytes = np.dtype(np.float32).itemsize * vgg16_activation_count"),
    Variant("vgg16", "vgg16", "FC6 as a 7x7 conv", "vgg16_fc6_params = 7 * 7 * 512 * 4096 + 4096",
            "vgg16_fc6_params = conv_param_count(512, 4096, 7)"),
    Mutant("vgg16", "vgg16", "float64 bytes", "vgg16_forward_bytes = 4 * vgg16_activation_count",
           "vgg16_forward_bytes = 8 * vgg16_activation_count", "vgg16_forward_bytes / vgg16_activation_count"),
    Mutant("vgg16", "vgg16", "counts as floats", "vgg16_activation_count = sum(_acts)",
           "vgg16_activation_count = float(sum(_acts))", "expected a positive int"),
    Mutant("vgg16", "vgg16", "FC6 fed from the 14x14 map", "vgg16_fc6_params = 7 * 7 * 512 * 4096 + 4096",
           "vgg16_fc6_params = 14 * 14 * 512 * 4096 + 4096", "is not smaller than the whole network's count"),

    # Part 4: the cost of an inception module
    Variant("inception_cost", "inception_cost", "c_in factored out",
            "macs = H * W * (n1 * c_in + n3 * 9 * c_in + n5 * 25 * c_in)",
            "macs = H * W * c_in * (n1 + 9 * n3 + 25 * n5)"),
    Variant("inception_cost", "inception_cost", "explicit ints",
            "return macs, n1 + n3 + n5 + pool_proj", "return int(macs), int(n1 + n3 + n5 + pool_proj)"),
    Mutant("inception_cost", "inception_cost", "pool branch left out of the naive depth",
           "return macs, n1 + n3 + n5 + c_in", "return macs, n1 + n3 + n5",
           "inception_naive_cost(1, 1, 1, 1, 0, 0)"),
    Mutant("inception_cost", "inception_cost", "3x3 and 5x5 convs counted on the input channels",
           "n3 * 9 * r3 + r5 * c_in + n5 * 25 * r5", "n3 * 9 * c_in + r5 * c_in + n5 * 25 * c_in",
           "does not cost less"),
    Mutant("inception_cost", "inception_cost", "returns a list", "return macs, n1 + n3 + n5 + c_in",
           "return [macs, n1 + n3 + n5 + c_in]", "expected a tuple"),

    # Part 5: LeNet-5
    Variant("lenet5", "lenet5", "activations and pooling in forward",
            "return self.classifier(self.features(x))",
            "x = self.features[2](torch.tanh(self.features[0](x)))\n"
            "        x = F.avg_pool2d(torch.tanh(self.features[3](x)), 2)\n"
            "        return self.classifier(x)"),
    Variant("lenet5", "lenet5", "flatten in forward",
            "return self.classifier(self.features(x))",
            "return self.classifier(self.features(x).reshape(len(x), -1))"),
    Mutant("lenet5", "lenet5", "ReLU instead of tanh", _LENET, _LENET.replace("Tanh", "ReLU"),
           "ReLU where the part asks for tanh"),
    Mutant("lenet5", "lenet5", "max pooling", _LENET, _LENET.replace("AvgPool2d", "MaxPool2d"),
           "max pooling where the part asks for average pooling"),
    Mutant("lenet5", "lenet5", "ReLU and max pooling (the torchvision-era LeNet)", _LENET,
           _LENET.replace("Tanh", "ReLU").replace("AvgPool2d", "MaxPool2d"),
           "ReLU and max pooling where the part asks for tanh and average pooling"),
    Mutant("lenet5", "lenet5", "no padding on the first conv", "nn.Conv2d(1, 6, 5, padding=2)", "nn.Conv2d(1, 6, 5)",
           "conv (pad 2)"),

    # Part 6: a VGG stage
    Variant("vgg_stage", "vgg_stage", "a list comprehension",
            "    layers = []\n    for i in range(num_convs):\n"
            "        layers += [nn.Conv2d(in_ch if i == 0 else out_ch, out_ch, 3, padding=1), nn.ReLU(inplace=True)]\n",
            "    chans = [in_ch] + [out_ch] * num_convs\n"
            "    layers = [m for a, b in zip(chans, chans[1:]) for m in (nn.Conv2d(a, b, 3, 1, 1), nn.ReLU())]\n"),
    Variant("vgg_stage", "vgg_stage", "pool with default stride", "nn.MaxPool2d(2, 2)", "nn.MaxPool2d(2)"),
    Mutant("vgg_stage", "vgg_stage", "every conv from in_ch", "nn.Conv2d(in_ch if i == 0 else out_ch, out_ch",
           "nn.Conv2d(in_ch, out_ch", "its layers are not those the part asks for"),
    Mutant("vgg_stage", "vgg_stage", "average pooling", "nn.MaxPool2d(2, 2)", "nn.AvgPool2d(2, 2)",
           "2x2 max pool"),
    Mutant("vgg_stage", "vgg_stage", "no padding", "3, padding=1)", "3)", "pad 1"),

    # Part 7: an inception module
    Variant("inception", "inception", "pool branch created first",
            "        self.branch1 = nn.Sequential(*conv_relu(in_ch, c1, 1))\n",
            "        self.branch_pool = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1), *conv_relu(in_ch, pool_proj, 1))\n"
            "        self.branch1 = nn.Sequential(*conv_relu(in_ch, c1, 1))\n"),
    Variant("inception", "inception", "concatenation along dim -3",
            "self.branch_pool(x)], dim=1)", "self.branch_pool(x)], dim=-3)"),
    Mutant("inception", "inception", "pool branch first in the output",
           "[self.branch1(x), self.branch3(x), self.branch5(x), self.branch_pool(x)]",
           "[self.branch_pool(x), self.branch1(x), self.branch3(x), self.branch5(x)]", "concatenated in that order"),
    Mutant("inception", "inception", "5x5 padded by 1", "padding=k // 2", "padding=1", "pad 1 for 3x3 and 2 for 5x5"),
    Mutant("inception", "inception", "convs without bias", "nn.Conv2d(a, b, k, padding=k // 2)",
           "nn.Conv2d(a, b, k, padding=k // 2, bias=False)", "without bias"),

    # Part 8: residual blocks
    Variant("resblocks", "resblocks", "shortcut created first",
            "        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=1, bias=False)\n",
            "        self.shortcut = nn.Identity()\n"
            "        if stride != 1 or in_ch != out_ch:\n"
            "            self.shortcut = nn.Sequential(nn.Conv2d(in_ch, out_ch, 1, stride=stride, bias=False),\n"
            "                                          nn.BatchNorm2d(out_ch))\n"
            "        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=1, bias=False)\n"),
    Variant("resblocks", "resblocks", "in-place addition",
            "        out = self.bn2(self.conv2(out))\n        return F.relu(out + self.shortcut(x))",
            "        out = self.bn2(self.conv2(out))\n        out += self.shortcut(x)\n        return torch.relu(out)"),
    Mutant("resblocks", "resblocks", "no projection shortcut",
           "            self.shortcut = nn.Sequential(nn.Conv2d(in_ch, out_ch, 1, stride=stride, bias=False),\n"
           "                                          nn.BatchNorm2d(out_ch))\n        ### END SOLUTION\n\n"
           "    def forward(self, x):\n        ### BEGIN SOLUTION\n        out = F.relu(self.bn1(self.conv1(x)))\n"
           "        out = self.bn2",
           "            pass\n        ### END SOLUTION\n\n"
           "    def forward(self, x):\n        ### BEGIN SOLUTION\n        out = F.relu(self.bn1(self.conv1(x)))\n"
           "        out = self.bn2", "projection"),
    Mutant("resblocks", "resblocks", "bottleneck expansion 2", "out_ch = 4 * width", "out_ch = 2 * width",
           "1x1 to 4 * width"),
    Mutant("resblocks", "resblocks", "ReLU before the addition",
           "        out = self.bn2(self.conv2(out))\n        return F.relu(out + self.shortcut(x))",
           "        out = F.relu(self.bn2(self.conv2(out)))\n        return out + self.shortcut(x)", "then ReLU"),

    # Part 9: ResNet-18 (built from the reference BasicBlock by its tests)
    Variant("resnet18", "resnet18", "four named stages",
            "        self.stages = nn.Sequential(*blocks)\n",
            "        self.layer1, self.layer2, self.layer3, self.layer4 = (nn.Sequential(*blocks[i:i + 2]) for i in (0, 2, 4, 6))\n"
            "        self.stages = lambda x: self.layer4(self.layer3(self.layer2(self.layer1(x))))\n"),
    Variant("resnet18", "resnet18", "mean instead of the pool module",
            "x = self.pool(self.stages(self.stem(x)))", "x = self.stages(self.stem(x)).mean(dim=(2, 3))"),
    Mutant("resnet18", "resnet18", "no max pool in the stem", "            nn.MaxPool2d(3, stride=2, padding=1),\n", "",
           "max pool 3x3/2"),
    Mutant("resnet18", "resnet18", "stride 1 everywhere", "[(64, 1), (128, 2), (256, 2), (512, 2)]",
           "[(64, 1), (128, 1), (256, 1), (512, 1)]", "stride 2 in the first block"),
    Mutant("resnet18", "resnet18", "three blocks per stage",
           "blocks += [BasicBlock(in_ch, out_ch, stride), BasicBlock(out_ch, out_ch)]",
           "blocks += [BasicBlock(in_ch, out_ch, stride), BasicBlock(out_ch, out_ch), BasicBlock(out_ch, out_ch)]",
           "stages of two blocks"),

    # Part 11: squeeze-and-excitation
    Variant("se", "se", "pool module and flatten",
            "        z = x.mean(dim=(2, 3))\n", "        z = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)\n"),
    Variant("se", "se", "view for the scale", "return x * s[:, :, None, None]",
            "return x * s.view(s.shape[0], s.shape[1], 1, 1)"),
    Mutant("se", "se", "squeezes the wrong axes", "z = x.mean(dim=(2, 3))", "z = x.mean(dim=(1, 2))",
           "the mean over height and width (dims 2 and 3)"),
    Mutant("se", "se", "no reduction", "hidden = channels // reduction", "hidden = channels",
           "C -> C / reduction"),
    Mutant("se", "se", "softmax instead of sigmoid", "s = torch.sigmoid(self.fc2(F.relu(self.fc1(z))))",
           "s = torch.softmax(self.fc2(F.relu(self.fc1(z))), dim=1)", "sigmoid"),

    # Part 12: a ResNeXt block
    Variant("resnext", "resnext", "D from group width first", "d = cardinality * group_width",
            "d = group_width * cardinality"),
    Variant("resnext", "resnext", "in-place addition",
            "        out = self.bn3(self.conv3(out))\n        return F.relu(out + self.shortcut(x))",
            "        out = self.bn3(self.conv3(out))\n        out += self.shortcut(x)\n        return F.relu(out)"),
    Mutant("resnext", "resnext", "3x3 conv not grouped", "padding=1, groups=cardinality, bias=False",
           "padding=1, bias=False", "groups=cardinality"),
    Mutant("resnext", "resnext", "D = cardinality (group width left out)", "d = cardinality * group_width",
           "d = cardinality",
           "D = cardinality * group_width"),
    Mutant("resnext", "resnext", "stride on the last 1x1 conv",
           "3, stride=stride, padding=1, groups=cardinality, bias=False)\n        self.bn2 = nn.BatchNorm2d(d)\n"
           "        self.conv3 = nn.Conv2d(d, out_ch, 1, bias=False)",
           "3, padding=1, groups=cardinality, bias=False)\n        self.bn2 = nn.BatchNorm2d(d)\n"
           "        self.conv3 = nn.Conv2d(d, out_ch, 1, stride=stride, bias=False)", "grouped 3x3"),
]


# The variant kinds of issue 32, for every part where they apply: tuple-like values (a torch.Size
# from a tensor's .shape, a named tuple, numpy integers) that the visible tests in the student's
# kernel and the grader must both accept; calls by keyword with the notebook's parameter names
# (the reference BasicBlock that part 9's tests swap in for the student's); arithmetic equal up to
# float round-off.
EDITS += [
    # Part 1: sizes
    Variant("sizes", "sizes", "a numpy integer returned",
            "return (size - kernel + 2 * pad) // stride + 1", "return np.int64(size - kernel + 2 * pad) // stride + 1"),
    # Part 2: AlexNet
    Variant("alexnet", "alexnet", "shapes as torch.Size, read from a pooling layer's output",
            "alexnet_pool1_shape = (96, conv_output_size(55, 3, 2), conv_output_size(55, 3, 2))",
            "alexnet_pool1_shape = nn.MaxPool2d(3, 2)(torch.zeros(1, *alexnet_conv1_shape)).shape[1:]"),
    Variant("alexnet", "alexnet", "sizes called by keyword, counts as numpy integers",
            "alexnet_conv1_shape = (96, conv_output_size(227, 11, 4), conv_output_size(227, 11, 4))\n"
            "alexnet_conv1_params = conv_param_count(3, 96, 11)",
            "alexnet_conv1_shape = torch.Size([96] + [conv_output_size(size=227, kernel=11, stride=4)] * 2)\n"
            "alexnet_conv1_params = np.int64(conv_param_count(in_ch=3, out_ch=96, kernel=11))"),
    # Part 3: VGG16
    Variant("vgg16", "vgg16", "counts as numpy integers (np.sum, np.prod)",
            "vgg16_activation_count = sum(_acts)", "vgg16_activation_count = np.sum(_acts)"),
    # Part 4: the cost of an inception module
    Variant("inception_cost", "inception_cost", "a named tuple of numpy integers",
            "    return macs, n1 + n3 + n5 + c_in\n",
            "    from collections import namedtuple\n"
            "    return namedtuple('Cost', 'multiply_adds depth')(np.int64(macs), np.int64(n1 + n3 + n5 + c_in))\n"),
    # Part 9: ResNet-18 (the tests swap the reference BasicBlock in for the student's)
    Variant("resnet18", "resnet18", "BasicBlock called by keyword",
            "blocks += [BasicBlock(in_ch, out_ch, stride), BasicBlock(out_ch, out_ch)]",
            "blocks += [BasicBlock(in_ch=in_ch, out_ch=out_ch, stride=stride), BasicBlock(in_ch=out_ch, out_ch=out_ch)]"),
    # Part 11: squeeze-and-excitation
    Variant("se", "se", "squeeze as a sum over H*W positions (round-off)",
            "        z = x.mean(dim=(2, 3))\n", "        z = x.sum(dim=(2, 3)) / (x.shape[2] * x.shape[3])\n"),
]
