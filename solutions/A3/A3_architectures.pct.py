# %% [markdown]
# # Assignment 3: CNN architectures
#
# In this assignment you take the classic architectures apart and build them again.
#
# 1. **Sizes** (6 points): two small functions for output sizes and parameter counts.
# 2. **AlexNet** (8) and **VGG16** (10): shapes, parameters and memory of their layers.
# 3. **Inception cost** (10): multiply-adds and output depth of a naive and a bottleneck module.
# 4. **PyTorch modules** (61): LeNet-5, a VGG stage, an inception module, basic and bottleneck
#    residual blocks, ResNet-18, a squeeze-and-excitation block and a ResNeXt block.
# 5. **A written answer** (5) about residual connections.
#
# Write your code between the lines marked `# YOUR CODE HERE` (delete the `raise
# NotImplementedError()`). Each part has visible tests; hidden tests with other sizes run when
# the assignment is graded. A test cell that runs silently has passed; a failing one says what it
# checked, what it expected, what it got, and gives a hint. The visible tests of the numeric
# answers check their form and their consistency only; their exact values are hidden tests. A
# module is checked by what it computes: the tests load its weights into the architecture the
# part describes and compare the outputs, so a layer that differs is found.
#
# Rules: use `torch` and `torch.nn` only. Do not import models from the course library
# (`cnnkit.models`, or `cnnkit.reference`, which the tests compare your modules with) or from
# anywhere else: while your notebook is graded, the library's versions are not there to call.
# Everything here runs on the CPU in well under a minute.

# %% nb="locked setup"
import numbers

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import cnnkit.conv
import cnnkit.grading
import cnnkit.inspect
import cnnkit.models
import cnnkit.reference
from cnnkit import reference as ref
from cnnkit.device import seed_everything
from cnnkit.grading import _fail, check_close, check_shape, no_calls_to, quiet
from cnnkit.modcheck import check_module, param_count, swapped_names

rng = seed_everything(0)
torch.set_num_threads(1)  # small models: one thread is fastest on a shared CPU


def count_params(model):
    """Number of trainable numbers in a module, read from its state_dict (batch norm's running
    statistics are not trained, so they do not count)."""
    return param_count(model.state_dict())


def _own_work(name, build, allow=()):
    """Build a module through `build()`; in your kernel, check that no layer of it is a class of
    the course library (other than those in `allow`) and that its class is defined in this
    notebook. (While the notebook is graded, the library's models are not there to use.)"""
    model = build()
    if not isinstance(model, nn.Module):
        return model  # the grader's view of your module: checked by what it computes
    for sub in model.modules():
        if type(sub) in allow:
            continue
        for klass in type(sub).__mro__:
            if klass.__module__.startswith("cnnkit"):
                _fail(name, f"uses {klass.__module__}.{klass.__name__} from the course library",
                      "write the module yourself with torch.nn layers")
    return model


def _is_shape(name, value, ndim=3):
    """A tuple of `ndim` positive ints. Any tuple counts: a torch.Size (what `tensor.shape` gives)
    and a named tuple are tuples, and while the notebook is graded every tuple arrives as a plain
    one, so the test means the same in your kernel and at grading. A list is not a shape."""
    if not isinstance(value, tuple) or len(value) != ndim or not all(
            isinstance(v, numbers.Integral) and not isinstance(v, bool) and v > 0 for v in value):
        _fail(name, f"expected a tuple of {ndim} positive ints, got {value!r}",
              "(channels, height, width), e.g. a tuple of ints or a torch.Size")


def _is_count(name, value):
    """A positive int."""
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value <= 0:
        _fail(name, f"expected a positive int, got {value!r}", "a count of numbers is an int")

# %% [markdown]
# ## Part 1: sizes (6 points)
#
# A convolution or pooling window of side $K$ that moves with stride $S$ over an input of side $W$
# padded by $P$ on each side gives an output of side
# $$W_\text{out} = \left\lfloor \frac{W - K + 2P}{S} \right\rfloor + 1 .$$
# A convolution from $C_\text{in}$ to $C_\text{out}$ channels with $K \times K$ filters has
# $K^2 C_\text{in} C_\text{out}$ weights and, with a bias, $C_\text{out}$ more numbers.
#
# Write `conv_output_size(size, kernel, stride=1, pad=0)`, which returns an `int` (use integer
# division: a float such as `55.0` is a bug waiting to happen), and
# `conv_param_count(in_ch, out_ch, kernel, bias=True)`.

# %% nb="solution sizes"
def conv_output_size(size, kernel, stride=1, pad=0):
    """Side of the output of a conv or pooling layer (floor rounding, as in PyTorch)."""
    ### BEGIN SOLUTION
    return (size - kernel + 2 * pad) // stride + 1
    ### END SOLUTION


def conv_param_count(in_ch, out_ch, kernel, bias=True):
    """Trainable numbers in a conv layer with square kernel x kernel filters."""
    ### BEGIN SOLUTION
    return kernel * kernel * in_ch * out_ch + (out_ch if bias else 0)
    ### END SOLUTION

# %% nb="tests sizes__tests 3"
with quiet():
    check_close("conv_output_size(32, 5, 1, 2)", conv_output_size(32, 5, 1, 2), 32,
                hint="'same' padding of 2 keeps a 5x5 conv's output at 32")
    check_close("conv_output_size(32, 2, 2)", conv_output_size(32, 2, 2), 16,
                hint="a 2x2 pool with stride 2 halves the side")
    check_close("conv_output_size(7, 3, 2)", conv_output_size(7, 3, 2), 3, hint="(7 - 3) / 2 + 1")
    check_close("conv_output_size(6, 3, 2)", conv_output_size(6, 3, 2), 2,
                hint="a window that does not fit is dropped: floor((6 - 3) / 2) + 1")
    check_close("conv_param_count(3, 8, 3)", conv_param_count(3, 8, 3), 3 * 3 * 3 * 8 + 8,
                hint="K*K*C_in weights per filter, one bias per filter")
    check_close("conv_param_count(3, 8, 3, bias=False)", conv_param_count(3, 8, 3, bias=False), 216)

# %% nb="tests sizes__hidden 3"
# Hidden tests: other sizes, floor rounding, integer results.
### BEGIN HIDDEN TESTS
with quiet():
    with no_calls_to(cnnkit.conv, cnnkit.inspect, name="conv_output_size"):
        conv_output_size(10, 3, 1, 1)
        conv_param_count(3, 4, 3)
    for args, want in [((227, 11, 4, 0), 55), ((55, 3, 2, 0), 27), ((8, 3, 2, 1), 4), ((10, 3, 3, 0), 3),
                       ((224, 7, 2, 3), 112), ((1, 1, 1, 0), 1)]:
        got = conv_output_size(*args)
        check_close(f"conv_output_size{args}", got, want, hint="floor((W - K + 2P) / S) + 1")
        if not isinstance(got, numbers.Integral):
            raise AssertionError(f"conv_output_size{args}: returned {type(got).__name__}, expected an int.\n"
                                 "Hint: use // for integer division.")
    check_close("conv_param_count(96, 256, 5)", conv_param_count(96, 256, 5), 25 * 96 * 256 + 256)
    check_close("conv_param_count(256, 64, 1, bias=False)", conv_param_count(256, 64, 1, bias=False), 16384)
### END HIDDEN TESTS

# %% [markdown]
# ## Part 2: AlexNet (8 points)
#
# AlexNet takes a $227 \times 227 \times 3$ image here. The paper's figure says 224: its code
# (cuda-convnet) counted filter positions rounding up, so 224 gave the same maps as 227 does
# with the floor rule of Part 1 and no padding, and torchvision keeps 224 and pads CONV1 by 2
# (lecture 06, "224 or 227?", computes all three). Its first layers are
#
# | layer | filters | size | stride | pad |
# | --- | --- | --- | --- | --- |
# | CONV1 | 96 | 11x11 | 4 | 0 |
# | POOL1 (max) | | 3x3 | 2 | 0 |
#
# and, much later, POOL3 produces a $6 \times 6 \times 256$ volume that is flattened into FC6
# with 4096 outputs. Every conv and FC layer has biases.
#
# Set the four variables below. Shapes are tuples in PyTorch's order `(channels, height, width)`
# for one image. You may use your Part 1 functions.

# %% nb="solution alexnet"
### BEGIN SOLUTION
alexnet_conv1_shape = (96, conv_output_size(227, 11, 4), conv_output_size(227, 11, 4))
alexnet_conv1_params = conv_param_count(3, 96, 11)
alexnet_pool1_shape = (96, conv_output_size(55, 3, 2), conv_output_size(55, 3, 2))
alexnet_pool1_params = 0
alexnet_fc6_params = 6 * 6 * 256 * 4096 + 4096
### END SOLUTION

# %% nb="tests alexnet__tests 2"
with quiet():
    _is_shape("alexnet_conv1_shape", alexnet_conv1_shape)
    _is_shape("alexnet_pool1_shape", alexnet_pool1_shape)
    check_close("alexnet_conv1_shape[0]", alexnet_conv1_shape[0], 96, hint="one output channel per filter")
    check_close("alexnet_pool1_shape[0]", alexnet_pool1_shape[0], alexnet_conv1_shape[0],
                hint="pooling keeps the depth")
    if not alexnet_pool1_shape[1] < alexnet_conv1_shape[1]:
        _fail("alexnet_pool1_shape", "POOL1 is not smaller than CONV1's output", "a stride-2 pool halves the side, about")
    for _name, _v in [("alexnet_conv1_params", alexnet_conv1_params), ("alexnet_fc6_params", alexnet_fc6_params)]:
        _is_count(_name, _v)
    if not (isinstance(alexnet_pool1_params, numbers.Integral) and alexnet_pool1_params >= 0):
        _fail("alexnet_pool1_params", f"expected an int, got {alexnet_pool1_params!r}")

# %% nb="tests alexnet__hidden 6"
# Hidden tests: the exact shapes and counts.
### BEGIN HIDDEN TESTS
with quiet():
    _is_shape("alexnet_conv1_shape", alexnet_conv1_shape)
    _is_shape("alexnet_pool1_shape", alexnet_pool1_shape)
    for _name, _v in [("alexnet_conv1_params", alexnet_conv1_params), ("alexnet_fc6_params", alexnet_fc6_params)]:
        _is_count(_name, _v)
    check_close("alexnet_conv1_shape", np.array(alexnet_conv1_shape), np.array([96, 55, 55]),
                hint="(number of filters, output side, output side)")
    check_close("alexnet_conv1_params", alexnet_conv1_params, 11 * 11 * 3 * 96 + 96,
                hint="each filter sees all 3 input channels; do not forget the biases")
    check_close("alexnet_pool1_shape", np.array(alexnet_pool1_shape), np.array([96, 27, 27]),
                hint="pooling keeps the depth and works on CONV1's output")
    check_close("alexnet_pool1_params", alexnet_pool1_params, 0, hint="what does a max pool learn?")
    check_close("alexnet_fc6_params", alexnet_fc6_params, 6 * 6 * 256 * 4096 + 4096,
                hint="every one of the 6*6*256 inputs connects to every output, plus one bias per output")
### END HIDDEN TESTS

# %% [markdown]
# ## Part 3: VGG16 (10 points)
#
# VGG16 uses only $3 \times 3$ convolutions with stride 1 and padding 1 and $2 \times 2$ max
# pools with stride 2. On a $224 \times 224 \times 3$ image its layers are
#
# `conv64, conv64, pool, conv128, conv128, pool, conv256 x3, pool, conv512 x3, pool, conv512 x3, pool, FC4096, FC4096, FC1000`
#
# (FC6 sees the flattened $7 \times 7 \times 512$ output of the last pool). Every conv and FC
# layer has biases.
#
# * `vgg16_activation_count`: how many numbers a forward pass of one image stores, counting the
#   input image and the output of every conv, pool and FC layer once (the ReLUs work in place:
#   do not count them).
# * `vgg16_forward_bytes`: the same in bytes, in float32.
# * `vgg16_param_count`: all trainable numbers of the network.
# * `vgg16_fc6_params`: those of FC6 alone.
#
# Compute them with code (a loop over a configuration list works well), not by hand.

# %% nb="solution vgg16"
### BEGIN SOLUTION
_cfg = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]
_side, _ch = 224, 3
_acts, _params = [3 * 224 * 224], 0
for _v in _cfg:
    if _v == "M":
        _side = conv_output_size(_side, 2, 2)
    else:
        _params += conv_param_count(_ch, _v, 3)
        _ch = _v
    _acts.append(_ch * _side * _side)
for _a, _b in [(_ch * _side * _side, 4096), (4096, 4096), (4096, 1000)]:
    _params += _a * _b + _b
    _acts.append(_b)
vgg16_activation_count = sum(_acts)
vgg16_forward_bytes = 4 * vgg16_activation_count
vgg16_param_count = _params
vgg16_fc6_params = 7 * 7 * 512 * 4096 + 4096
### END SOLUTION

# %% nb="tests vgg16__tests 2"
with quiet():
    for _name, _v in [("vgg16_activation_count", vgg16_activation_count), ("vgg16_forward_bytes", vgg16_forward_bytes),
                      ("vgg16_param_count", vgg16_param_count), ("vgg16_fc6_params", vgg16_fc6_params)]:
        _is_count(_name, _v)
    check_close("vgg16_forward_bytes / vgg16_activation_count", vgg16_forward_bytes / vgg16_activation_count, 4,
                hint="4 bytes per float32")
    if not vgg16_fc6_params < vgg16_param_count:
        _fail("vgg16_fc6_params", "is not smaller than the whole network's count", "FC6 is one layer of 16")

# %% nb="tests vgg16__hidden 8"
# Hidden tests: the exact counts.
### BEGIN HIDDEN TESTS
with quiet():
    for _name, _v in [("vgg16_activation_count", vgg16_activation_count), ("vgg16_forward_bytes", vgg16_forward_bytes),
                      ("vgg16_param_count", vgg16_param_count), ("vgg16_fc6_params", vgg16_fc6_params)]:
        _is_count(_name, _v)
    _sides = [224] * 3 + [112] * 3 + [56] * 4 + [28] * 4 + [14] * 4 + [7]
    _chans = [3, 64, 64, 64, 128, 128, 128, 256, 256, 256, 256, 512, 512, 512, 512, 512, 512, 512, 512]
    _acts = sum(c * w * w for c, w in zip(_chans, _sides)) + 4096 + 4096 + 1000
    check_close("vgg16_activation_count", vgg16_activation_count, _acts,
                hint="input + 13 conv outputs + 5 pool outputs + 3 FC outputs; a conv keeps the side")
    check_close("vgg16_forward_bytes", vgg16_forward_bytes, 4 * _acts, hint="4 bytes per float32")
    check_close("vgg16_param_count", vgg16_param_count, 138357544,
                hint="3*3*C_in*C_out + C_out per conv, n_in*n_out + n_out per FC")
    check_close("vgg16_fc6_params", vgg16_fc6_params, 7 * 7 * 512 * 4096 + 4096)
### END HIDDEN TESTS

# %% [markdown]
# ## Part 4: the cost of an inception module (10 points)
#
# An inception module runs branches side by side on the same input and stacks their outputs
# along the channel axis. Count the cost of a convolution as its multiply-adds,
# $H_\text{out} W_\text{out} C_\text{out} K^2 C_\text{in}$; pooling costs nothing here. Every
# branch keeps the spatial size (stride 1, "same" padding), and the max pool is $3 \times 3$
# with stride 1.
#
# * **Naive** module: a $1\times1$ conv with `n1` filters, a $3\times3$ conv with `n3`, a
#   $5\times5$ conv with `n5`, and the $3\times3$ max pool, all on the input.
# * **Bottleneck** module: the $1\times1$ conv with `n1` filters; a $1\times1$ conv to `r3`
#   channels then the $3\times3$ conv to `n3`; a $1\times1$ conv to `r5` then the $5\times5$ to
#   `n5`; the max pool then a $1\times1$ conv to `pool_proj`.
#
# Both functions return `(multiply_adds, output_depth)` as two ints. The tests use a
# $28 \times 28 \times 256$ input with `n1, n3, n5 = 128, 192, 96` and reductions of 64: work
# out those numbers and see how much the bottlenecks save.

# %% nb="solution inception_cost"
def inception_naive_cost(H, W, c_in, n1, n3, n5):
    """(multiply-adds, output depth) of the naive inception module."""
    ### BEGIN SOLUTION
    macs = H * W * (n1 * c_in + n3 * 9 * c_in + n5 * 25 * c_in)
    return macs, n1 + n3 + n5 + c_in
    ### END SOLUTION


def inception_bottleneck_cost(H, W, c_in, n1, r3, n3, r5, n5, pool_proj):
    """(multiply-adds, output depth) of the inception module with 1x1 bottlenecks."""
    ### BEGIN SOLUTION
    macs = H * W * (n1 * c_in + r3 * c_in + n3 * 9 * r3 + r5 * c_in + n5 * 25 * r5 + pool_proj * c_in)
    return macs, n1 + n3 + n5 + pool_proj
    ### END SOLUTION

# %% nb="tests inception_cost__tests 2"
with quiet():
    for _name, _got in [("inception_naive_cost", inception_naive_cost(28, 28, 256, 128, 192, 96)),
                        ("inception_bottleneck_cost", inception_bottleneck_cost(28, 28, 256, 128, 64, 192, 64, 96, 64))]:
        if not isinstance(_got, tuple) or len(_got) != 2:
            _fail(_name, f"expected a tuple (multiply_adds, output_depth), got {_got!r}")
        _is_count(f"{_name}: multiply-adds", _got[0])
        _is_count(f"{_name}: output depth", _got[1])
    # a 1x1 input with one channel and one 1x1 filter: one multiply-add; the pool passes the channel
    check_close("inception_naive_cost(1, 1, 1, 1, 0, 0)", np.array(inception_naive_cost(1, 1, 1, 1, 0, 0)),
                np.array([1, 2]), hint="the pool branch passes all input channels through")
    _naive = inception_naive_cost(28, 28, 256, 128, 192, 96)[0]
    _bott = inception_bottleneck_cost(28, 28, 256, 128, 64, 192, 64, 96, 64)[0]
    if not _bott < _naive:
        _fail("inception costs", f"the bottleneck module ({_bott}) does not cost less than the naive one ({_naive})",
              "the 3x3 and 5x5 convs now see 64 channels, not 256")

# %% nb="tests inception_cost__hidden 8"
# Hidden tests: the module of the text, GoogLeNet's module 3a (192 input channels) and other sizes.
### BEGIN HIDDEN TESTS
with quiet():
    for _got in [inception_naive_cost(7, 5, 8, 1, 2, 3), inception_bottleneck_cost(7, 5, 8, 1, 2, 3, 4, 5, 6)]:
        if not isinstance(_got, tuple) or len(_got) != 2 or not all(isinstance(v, numbers.Integral) for v in _got):
            _fail("inception costs", f"expected a tuple of two ints, got {_got!r}")
    def _naive(H, W, c, a, b, d):
        return H * W * c * (a + 9 * b + 25 * d), a + b + d + c

    def _bott(H, W, c, a, r3, b, r5, d, p):
        return H * W * (c * (a + r3 + r5 + p) + 9 * r3 * b + 25 * r5 * d), a + b + d + p

    for args in [(28, 28, 256, 128, 192, 96), (28, 28, 192, 64, 128, 32), (14, 7, 480, 192, 208, 48), (1, 1, 3, 1, 2, 3)]:
        check_close(f"inception_naive_cost{args}", np.array(inception_naive_cost(*args)), np.array(_naive(*args)))
    for args in [(28, 28, 256, 128, 64, 192, 64, 96, 64), (28, 28, 192, 64, 96, 128, 16, 32, 32),
                 (14, 14, 480, 192, 96, 208, 16, 48, 64),
                 (7, 5, 8, 1, 2, 3, 4, 5, 6)]:
        check_close(f"inception_bottleneck_cost{args}", np.array(inception_bottleneck_cost(*args)),
                    np.array(_bott(*args)))
### END HIDDEN TESTS

# %% [markdown]
# ## Part 5: LeNet-5 (8 points)
#
# Write this LeNet-5 for $1 \times 28 \times 28$ digits:
#
# `conv 6 (5x5, pad 2) -> tanh -> avgpool 2 -> conv 16 (5x5) -> tanh -> avgpool 2 -> flatten -> FC 120 -> tanh -> FC 84 -> tanh -> FC num_classes`
#
# "Modern LeNet-5" names several networks, and this is one of them: it keeps the paper's tanh
# and average pooling (the paper's subsampling also had a trainable scale and bias per map),
# pads the first conv so that a 28x28 digit keeps its size, and replaces the paper's sparse C3
# and its radial-basis output units by ordinary dense layers. Lecture 06's
# `cnnkit.models.lenet5()` is the same with ReLU; lecture 11's `small_lenet5` keeps tanh and the
# paper's unpadded 32x32 input. With 10 classes this one has 61,706 parameters; the 1998 paper's
# network has 60,000 trainable parameters, plus 840 values of its output units' prototypes that
# were set by hand and never trained (lecture 06 counts both). `forward` returns the logits,
# shape `(N, num_classes)`.

# %% nb="solution lenet5"
class LeNet5(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        ### BEGIN SOLUTION
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, 5, padding=2), nn.Tanh(), nn.AvgPool2d(2),
            nn.Conv2d(6, 16, 5), nn.Tanh(), nn.AvgPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(16 * 5 * 5, 120), nn.Tanh(),
            nn.Linear(120, 84), nn.Tanh(), nn.Linear(84, num_classes),
        )
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        return self.classifier(self.features(x))
        ### END SOLUTION

# %% nb="tests lenet5__tests 4"
with quiet():
    torch.manual_seed(0)
    _net = LeNet5()
    _LENET_MISTAKES = [("ReLU and max pooling where the part asks for tanh and average pooling",
                        ref.LeNet5(act=nn.ReLU, pool=nn.MaxPool2d)),
                       ("ReLU where the part asks for tanh", ref.LeNet5(act=nn.ReLU)),
                       ("max pooling where the part asks for average pooling", ref.LeNet5(pool=nn.MaxPool2d))]
    check_module("LeNet5()", _net, ref.LeNet5(), (torch.randn(2, 1, 28, 28),), diagnoses=_LENET_MISTAKES,
                 hint="conv (pad 2) -> tanh -> average pool, conv -> tanh -> average pool, then FC -> tanh, "
                      "FC -> tanh, FC; the volume before the FCs is 16x5x5")
    check_shape("LeNet5()(x) for x of shape (2, 1, 28, 28)", _net(torch.randn(2, 1, 28, 28)), (2, 10))
    check_close("LeNet5() parameter count", count_params(_net), 61706,
                hint="156 + 2,416 + 48,120 + 10,164 + 850")

# %% nb="tests lenet5__hidden 4"
# Hidden tests: other batch sizes and class counts, the layers, own work.
### BEGIN HIDDEN TESTS
with quiet():
    torch.manual_seed(1)
    with no_calls_to(cnnkit.models, cnnkit.reference, name="LeNet5"):
        _net = _own_work("LeNet5", lambda: LeNet5(num_classes=5))
    check_shape("LeNet5(num_classes=5)(x) for x of shape (7, 1, 28, 28)", _net(torch.randn(7, 1, 28, 28)), (7, 5))
    check_close("LeNet5(num_classes=5) parameter count", count_params(_net), 61706 - 850 + 85 * 5)
    check_module("LeNet5(num_classes=5)", _net, ref.LeNet5(5), (3 * torch.randn(7, 1, 28, 28),), seed=11,
                 diagnoses=[("ReLU where the part asks for tanh", ref.LeNet5(5, act=nn.ReLU)),
                            ("max pooling where the part asks for average pooling", ref.LeNet5(5, pool=nn.MaxPool2d))])
### END HIDDEN TESTS

# %% [markdown]
# ## Part 6: a VGG stage (6 points)
#
# A VGG stage is `num_convs` times (3x3 conv, stride 1, pad 1, with bias -> ReLU), the first conv
# going from `in_ch` to `out_ch` channels and the others from `out_ch` to `out_ch`, followed by a
# 2x2 max pool with stride 2. Return it as an `nn.Sequential`. Five such stages (with 2, 2, 3, 3
# and 3 convs) are VGG16's feature extractor.

# %% nb="solution vgg_stage"
def vgg_stage(in_ch, out_ch, num_convs):
    ### BEGIN SOLUTION
    layers = []
    for i in range(num_convs):
        layers += [nn.Conv2d(in_ch if i == 0 else out_ch, out_ch, 3, padding=1), nn.ReLU(inplace=True)]
    layers.append(nn.MaxPool2d(2, 2))
    return nn.Sequential(*layers)
    ### END SOLUTION

# %% nb="tests vgg_stage__tests 3"
with quiet():
    torch.manual_seed(0)
    check_module("vgg_stage(3, 8, 2)", vgg_stage(3, 8, 2), ref.vgg_stage(3, 8, 2), (torch.randn(2, 3, 16, 16),),
                 hint="num_convs x (3x3 conv with bias, pad 1 -> ReLU), the first from in_ch, then a 2x2 max pool; "
                      "the convs keep the side, the pool halves it")
    _stage = vgg_stage(3, 64, 2)
    check_shape("vgg_stage(3, 64, 2) on (1, 3, 32, 32)", _stage(torch.randn(1, 3, 32, 32)), (1, 64, 16, 16))

# %% nb="tests vgg_stage__hidden 3"
# Hidden tests: VGG16's stage sizes, odd input sides, one and three convs, own work.
### BEGIN HIDDEN TESTS
with quiet():
    torch.manual_seed(2)
    _stage = _own_work("vgg_stage", lambda: vgg_stage(64, 128, 2))
    check_close("vgg_stage(64, 128, 2) parameter count", count_params(_stage), 73856 + 147584)
    check_module("vgg_stage(4, 8, 1)", vgg_stage(4, 8, 1), ref.vgg_stage(4, 8, 1), (torch.randn(2, 4, 33, 33),), seed=3)
    check_module("vgg_stage(5, 6, 3)", vgg_stage(5, 6, 3), ref.vgg_stage(5, 6, 3), (torch.randn(1, 5, 12, 10),), seed=4)
### END HIDDEN TESTS

# %% [markdown]
# ## Part 7: an inception module (10 points)
#
# Write the bottleneck inception module of Part 4 as a module:
# `InceptionModule(in_ch, c1, c3_reduce, c3, c5_reduce, c5, pool_proj)`. Every conv has a bias
# and is followed by a ReLU (no batch norm); the $3\times3$ and $5\times5$ convs pad to keep the
# side; the max pool is $3\times3$, stride 1, pad 1. Concatenate the branches along the channel
# axis in the order 1x1, 3x3, 5x5, pool.
#
# GoogLeNet's module 3a is `InceptionModule(192, 64, 96, 128, 16, 32, 32)`: 192 channels in, 256
# out, on a $28 \times 28$ map.

# %% nb="solution inception"
class InceptionModule(nn.Module):
    def __init__(self, in_ch, c1, c3_reduce, c3, c5_reduce, c5, pool_proj):
        super().__init__()
        ### BEGIN SOLUTION
        def conv_relu(a, b, k):
            return [nn.Conv2d(a, b, k, padding=k // 2), nn.ReLU(inplace=True)]

        self.branch1 = nn.Sequential(*conv_relu(in_ch, c1, 1))
        self.branch3 = nn.Sequential(*conv_relu(in_ch, c3_reduce, 1), *conv_relu(c3_reduce, c3, 3))
        self.branch5 = nn.Sequential(*conv_relu(in_ch, c5_reduce, 1), *conv_relu(c5_reduce, c5, 5))
        self.branch_pool = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1), *conv_relu(in_ch, pool_proj, 1))
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        return torch.cat([self.branch1(x), self.branch3(x), self.branch5(x), self.branch_pool(x)], dim=1)
        ### END SOLUTION

# %% nb="tests inception__tests 5"
with quiet():
    torch.manual_seed(0)
    check_module("InceptionModule(4, 1, 2, 3, 2, 5, 7)", InceptionModule(4, 1, 2, 3, 2, 5, 7),
                 ref.InceptionModule(4, 1, 2, 3, 2, 5, 7), (torch.randn(2, 4, 6, 6),),
                 hint="each conv with bias and a ReLU, pad 1 for 3x3 and 2 for 5x5; branches 1x1 | 1x1 -> 3x3 | "
                      "1x1 -> 5x5 | max pool (3x3, stride 1, pad 1) -> 1x1, concatenated in that order")
    _inc = InceptionModule(192, 64, 96, 128, 16, 32, 32)
    check_shape("module 3a on (1, 192, 28, 28)", _inc(torch.randn(1, 192, 28, 28)), (1, 256, 28, 28),
                hint="64 + 128 + 32 + 32 channels")

# %% nb="tests inception__hidden 5"
# Hidden tests: modules 3a and 3b, other sides, own work.
### BEGIN HIDDEN TESTS
with quiet():
    torch.manual_seed(3)

    def _inc_params(c, a, r3, b, r5, d, p):
        return c * (a + r3 + r5 + p) + 9 * r3 * b + 25 * r5 * d + a + r3 + b + r5 + d + p

    check_close("module 3a parameter count", count_params(InceptionModule(192, 64, 96, 128, 16, 32, 32)),
                _inc_params(192, 64, 96, 128, 16, 32, 32))
    _inc = _own_work("InceptionModule", lambda: InceptionModule(256, 128, 128, 192, 32, 96, 64))
    check_close("module 3b parameter count", count_params(_inc), _inc_params(256, 128, 128, 192, 32, 96, 64))
    check_shape("module 3b on (2, 256, 7, 9)", _inc(torch.randn(2, 256, 7, 9)), (2, 480, 7, 9))
    check_module("InceptionModule(8, 2, 3, 4, 2, 3, 2)", InceptionModule(8, 2, 3, 4, 2, 3, 2),
                 ref.InceptionModule(8, 2, 3, 4, 2, 3, 2), (torch.randn(2, 8, 7, 5),), seed=5)
### END HIDDEN TESTS

# %% [markdown]
# ## Part 8: residual blocks (12 points)
#
# A residual block computes $H(x) = \mathrm{ReLU}(F(x) + \mathrm{shortcut}(x))$. Write both
# kinds used by ResNet, as in the reference implementation everyone compares parameter counts
# with: convolutions without bias, each followed by batch norm.
#
# * `BasicBlock(in_ch, out_ch, stride=1)`: $F$ is 3x3 conv (stride `stride`) -> BN -> ReLU ->
#   3x3 conv -> BN.
# * `Bottleneck(in_ch, width, stride=1)`, output `4 * width` channels: $F$ is 1x1 conv to
#   `width` -> BN -> ReLU -> 3x3 conv (stride `stride`) -> BN -> ReLU -> 1x1 conv to
#   `4 * width` -> BN.
#
# The shortcut is the identity when the shape does not change; when the stride is not 1 or the
# number of channels changes it is a *projection*: a 1x1 conv with that stride (no bias) and a
# BN. The final ReLU comes after the addition.

# %% nb="solution resblocks"
class BasicBlock(nn.Module):
    def __init__(self, in_ch, out_ch, stride=1):
        super().__init__()
        ### BEGIN SOLUTION
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_ch)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_ch)
        self.shortcut = nn.Identity()
        if stride != 1 or in_ch != out_ch:
            self.shortcut = nn.Sequential(nn.Conv2d(in_ch, out_ch, 1, stride=stride, bias=False),
                                          nn.BatchNorm2d(out_ch))
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))
        ### END SOLUTION


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, in_ch, width, stride=1):
        super().__init__()
        ### BEGIN SOLUTION
        out_ch = 4 * width
        self.conv1 = nn.Conv2d(in_ch, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out_ch, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_ch)
        self.shortcut = nn.Identity()
        if stride != 1 or in_ch != out_ch:
            self.shortcut = nn.Sequential(nn.Conv2d(in_ch, out_ch, 1, stride=stride, bias=False),
                                          nn.BatchNorm2d(out_ch))
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return F.relu(out + self.shortcut(x))
        ### END SOLUTION

# %% nb="tests resblocks__tests 6"
with quiet():
    torch.manual_seed(0)
    _PROJECTION = ("when the stride is not 1 or the channels change, the shortcut is a projection: "
                   "a 1x1 conv with the block's stride (no bias), then a BN")
    check_module("BasicBlock(8, 8)", BasicBlock(8, 8), ref.BasicBlock(8, 8), (torch.randn(2, 8, 6, 6),),
                 hint="3x3 conv -> BN -> ReLU -> 3x3 conv -> BN, plus the identity, then ReLU")
    check_module("BasicBlock(8, 16, stride=2)", BasicBlock(8, 16, 2), ref.BasicBlock(8, 16, 2),
                 (torch.randn(2, 8, 6, 6),), hint=_PROJECTION)
    check_module("Bottleneck(16, 4)", Bottleneck(16, 4), ref.Bottleneck(16, 4), (torch.randn(2, 16, 5, 5),),
                 hint="1x1 to width, 3x3, 1x1 to 4 * width, each followed by BN; ReLU after the first two "
                      "and after the addition")
    check_module("Bottleneck(8, 4, stride=2)", Bottleneck(8, 4, 2), ref.Bottleneck(8, 4, 2),
                 (torch.randn(2, 8, 6, 6),), hint=_PROJECTION)
    check_shape("BasicBlock(64, 64) on (2, 64, 8, 8)", BasicBlock(64, 64)(torch.randn(2, 64, 8, 8)), (2, 64, 8, 8))
    check_shape("Bottleneck(256, 64) on (2, 256, 8, 8)", Bottleneck(256, 64)(torch.randn(2, 256, 8, 8)),
                (2, 256, 8, 8), hint="the output has 4 * width channels")

# %% nb="tests resblocks__hidden 6"
# Hidden tests: other sizes, odd sides, own work.
### BEGIN HIDDEN TESTS
with quiet():
    torch.manual_seed(4)

    def _basic(cin, cout, s):
        return 9 * cin * cout + 9 * cout * cout + 4 * cout + ((cin * cout + 2 * cout) if (s != 1 or cin != cout) else 0)

    def _bottle(cin, w, s):
        return cin * w + 9 * w * w + 4 * w * w + 12 * w + ((cin * 4 * w + 8 * w) if (s != 1 or cin != 4 * w) else 0)

    for args in [(16, 16, 1), (16, 16, 2), (8, 24, 1), (64, 128, 2)]:
        blk = _own_work("BasicBlock", lambda: BasicBlock(*args))
        check_close(f"BasicBlock{args} parameter count", count_params(blk), _basic(*args))
    for args in [(16, 4, 1), (16, 4, 2), (32, 8, 1), (256, 64, 1), (64, 64, 1)]:
        blk = _own_work("Bottleneck", lambda: Bottleneck(*args))
        check_close(f"Bottleneck{args} parameter count", count_params(blk), _bottle(*args))
    check_module("BasicBlock(3, 5, 2)", BasicBlock(3, 5, 2), ref.BasicBlock(3, 5, 2), (torch.randn(3, 3, 9, 9),), seed=6)
    check_module("BasicBlock(6, 4)", BasicBlock(6, 4), ref.BasicBlock(6, 4), (torch.randn(2, 6, 5, 7),), seed=7)
    check_module("Bottleneck(8, 3, 2)", Bottleneck(8, 3, 2), ref.Bottleneck(8, 3, 2), (torch.randn(3, 8, 9, 7),), seed=8)
    check_module("Bottleneck(12, 3)", Bottleneck(12, 3), ref.Bottleneck(12, 3), (torch.randn(2, 12, 4, 4),), seed=9)
### END HIDDEN TESTS

# %% [markdown]
# ## Part 9: ResNet-18 (12 points)
#
# Assemble ResNet-18 from your `BasicBlock`:
#
# * stem: 7x7 conv, 64 filters, stride 2, pad 3, no bias -> BN -> ReLU -> 3x3 max pool, stride 2,
#   pad 1;
# * four stages of two basic blocks each, with 64, 128, 256 and 512 channels; the first block of
#   stages 2-4 has stride 2 (and so a projection shortcut);
# * global average pooling (use `nn.AdaptiveAvgPool2d(1)` so any input side works) and one FC
#   layer to `num_classes`.
#
# For 1000 classes it has the published 11,689,512 parameters.

# %% nb="solution resnet18"
class ResNet18(nn.Module):
    def __init__(self, num_classes=1000):
        super().__init__()
        ### BEGIN SOLUTION
        self.stem = nn.Sequential(
            nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False), nn.BatchNorm2d(64), nn.ReLU(inplace=True),
            nn.MaxPool2d(3, stride=2, padding=1),
        )
        blocks, in_ch = [], 64
        for out_ch, stride in [(64, 1), (128, 2), (256, 2), (512, 2)]:
            blocks += [BasicBlock(in_ch, out_ch, stride), BasicBlock(out_ch, out_ch)]
            in_ch = out_ch
        self.stages = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(512, num_classes)
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        x = self.pool(self.stages(self.stem(x)))
        return self.fc(torch.flatten(x, 1))
        ### END SOLUTION

# %% nb="tests resnet18__tests 6"
# Your ResNet18 is built from the reference BasicBlock here, so that a bug in your block costs
# only Part 8. The test loads weights of its own into it and into the reference ResNet-18.
with quiet(), swapped_names(ResNet18, BasicBlock=ref.BasicBlock):
    torch.manual_seed(0)
    _net = ResNet18(num_classes=10)
    _state = check_module("ResNet18(10)", _net, ref.ResNet18(10), (torch.randn(2, 3, 64, 64),),
                          hint="stem conv 7x7/2 -> BN -> ReLU -> max pool 3x3/2 pad 1; stages of two blocks with "
                               "64, 128, 256, 512 channels, stride 2 in the first block of stages 2-4; "
                               "global average pool; FC")
    check_shape("ResNet18(10) on (2, 3, 64, 64)", _net(torch.randn(2, 3, 64, 64)), (2, 10),
                hint="global average pooling makes the FC independent of the input side")
    check_close("ResNet18(10) parameter count", param_count(_state), 11689512 - 990 * 513,
                hint="the published 11,689,512 for 1000 classes, less 990 outputs of the 512 -> classes FC")

# %% nb="tests resnet18__hidden 6"
# Hidden tests: another class count and an odd input side, own work.
### BEGIN HIDDEN TESTS
with quiet(), swapped_names(ResNet18, BasicBlock=ref.BasicBlock):
    torch.manual_seed(5)
    _net = _own_work("ResNet18", lambda: ResNet18(num_classes=7), allow=(ref.BasicBlock,))
    check_shape("ResNet18(7) on (3, 3, 97, 97)", _net(torch.randn(3, 3, 97, 97)), (3, 7))
    _state = check_module("ResNet18(7)", _net, ref.ResNet18(7), (torch.randn(1, 3, 97, 97),), seed=5)
    check_close("ResNet18(7) parameter count", param_count(_state), 11181642 - 3 * 513)
### END HIDDEN TESTS

# %% [markdown]
# ## Part 10: why residual connections? (5 points, written)
#
# A 56-layer plain network trains to a *higher training error* than a 20-layer one, while the
# same networks with identity shortcuts do not. In four to six sentences: why is this not
# overfitting, what does the identity shortcut make easy for a block to represent, and what does
# the addition do to the gradient that flows back to the early layers? (Lecture 08, section 2,
# measures those gradients in a plain and a residual network.)

# %% [markdown] nb="written residual_why 5"
# *Model answer.* Overfitting would show a low training error and a high test error; here the
# deeper plain network is worse on the training set itself, so the problem is optimisation, not
# generalisation. A deeper network could in principle copy the shallower one and set the extra
# layers to the identity, but stacks of conv-BN-ReLU layers find the identity hard to learn. With
# a shortcut a block computes $F(x) + x$, so the identity only needs $F = 0$ (weights near zero),
# and a block learns a small correction to its input. In the backward pass
# $\partial H / \partial x = \partial F / \partial x + I$: the identity term passes the gradient
# of every later block straight down to the earlier ones, a path that does not go through each
# layer's weights, and the gradient norms of the layers stay within about one order of magnitude
# of each other (lecture 08). This is not a cure for vanishing gradients in the plain network:
# with batch norm its gradients do not vanish (the ResNet paper checked), and lecture 08 measures
# them *growing* more than a thousandfold towards the input at initialisation; the plain stack is
# hard to optimise although the gradient arrives.
#
# *Grading key (5 points).* 2: the evidence is the *training* error, so it is optimisation, not
# overfitting. 1: the identity is easy, $F = 0$. 2: the identity term of the gradient is a direct
# path to the early layers. An answer that blames degradation on gradients vanishing in the plain
# network contradicts lecture 08's measurement: at most 1 of those last 2 points.

# %% [markdown]
# ## Part 11: a squeeze-and-excitation block (6 points)
#
# `SEBlock(channels, reduction=16)` reweights the channels of its input:
#
# 1. *squeeze*: global average pooling gives one number per channel, $z \in \mathbb{R}^C$;
# 2. *excitation*: $s = \sigma(W_2\, \mathrm{ReLU}(W_1 z + b_1) + b_2)$ with
#    $W_1 \in \mathbb{R}^{C/r \times C}$, $W_2 \in \mathbb{R}^{C \times C/r}$ (both layers with
#    bias, $r$ the reduction);
# 3. *scale*: the output is the input with channel $c$ multiplied by $s_c$.
#
# The output has the shape of the input.

# %% nb="solution se"
class SEBlock(nn.Module):
    def __init__(self, channels, reduction=16):
        super().__init__()
        ### BEGIN SOLUTION
        hidden = channels // reduction
        self.fc1 = nn.Linear(channels, hidden)
        self.fc2 = nn.Linear(hidden, channels)
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        z = x.mean(dim=(2, 3))
        s = torch.sigmoid(self.fc2(F.relu(self.fc1(z))))
        return x * s[:, :, None, None]
        ### END SOLUTION

# %% nb="tests se__tests 3"
with quiet():
    torch.manual_seed(0)
    check_module("SEBlock(32, 4)", SEBlock(32, 4), ref.SEBlock(32, 4), (torch.randn(2, 32, 5, 6),),
                 hint="squeeze: the mean over height and width (dims 2 and 3), one number per channel; "
                      "then FC (C -> C / reduction) -> ReLU -> FC -> sigmoid; multiply channel c by s_c")
    _se = SEBlock(256)
    check_shape("SEBlock(256) on (2, 256, 7, 7)", _se(torch.randn(2, 256, 7, 7)), (2, 256, 7, 7))

# %% nb="tests se__hidden 3"
# Hidden tests: other sizes, the parameter count, own work.
### BEGIN HIDDEN TESTS
with quiet():
    torch.manual_seed(6)
    _se = _own_work("SEBlock", lambda: SEBlock(64, reduction=8))
    check_close("SEBlock(64, 8) parameter count", count_params(_se), 2 * 64 * 8 + 8 + 64)
    check_close("SEBlock(256) parameter count", count_params(SEBlock(256)), 2 * 256 * 16 + 16 + 256)
    check_module("SEBlock(64, 8)", _se, ref.SEBlock(64, 8), (torch.rand(3, 64, 5, 6) + 0.5,), seed=12)
    check_module("SEBlock(12, 3)", SEBlock(12, 3), ref.SEBlock(12, 3), (torch.randn(2, 12, 3, 9),), seed=13)
### END HIDDEN TESTS

# %% [markdown]
# ## Part 12: a ResNeXt block (7 points)
#
# ResNeXt replaces the bottleneck's single 3x3 conv by `cardinality` parallel paths of
# `group_width` channels each; a grouped convolution (`groups=cardinality`) computes all paths at
# once. Write `ResNeXtBlock(in_ch, out_ch, cardinality=32, group_width=4, stride=1)`:
#
# 1x1 conv to $D = $ `cardinality * group_width` channels -> BN -> ReLU -> grouped 3x3 conv
# $D \to D$ (stride `stride`) -> BN -> ReLU -> 1x1 conv to `out_ch` -> BN, plus the shortcut
# (identity or projection, as in Part 8), then ReLU. Convolutions have no bias.
#
# The 32x4d block on 256 channels has about as many parameters as ResNet's bottleneck
# `Bottleneck(256, 64)`: compare the two once your block works.

# %% nb="solution resnext"
class ResNeXtBlock(nn.Module):
    def __init__(self, in_ch, out_ch, cardinality=32, group_width=4, stride=1):
        super().__init__()
        ### BEGIN SOLUTION
        d = cardinality * group_width
        self.conv1 = nn.Conv2d(in_ch, d, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(d)
        self.conv2 = nn.Conv2d(d, d, 3, stride=stride, padding=1, groups=cardinality, bias=False)
        self.bn2 = nn.BatchNorm2d(d)
        self.conv3 = nn.Conv2d(d, out_ch, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_ch)
        self.shortcut = nn.Identity()
        if stride != 1 or in_ch != out_ch:
            self.shortcut = nn.Sequential(nn.Conv2d(in_ch, out_ch, 1, stride=stride, bias=False),
                                          nn.BatchNorm2d(out_ch))
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return F.relu(out + self.shortcut(x))
        ### END SOLUTION

# %% nb="tests resnext__tests 4"
with quiet():
    torch.manual_seed(0)
    check_module("ResNeXtBlock(16, 32, 4, 2, stride=2)", ResNeXtBlock(16, 32, 4, 2, 2),
                 ref.ResNeXtBlock(16, 32, 4, 2, 2), (torch.randn(2, 16, 6, 6),),
                 hint="1x1 to D = cardinality * group_width, grouped 3x3 (groups=cardinality), 1x1 to out_ch, "
                      "BN after each, plus the shortcut (a projection here), then ReLU")
    _blk = ResNeXtBlock(256, 256)
    check_shape("ResNeXtBlock(256, 256) on (2, 256, 8, 8)", _blk(torch.randn(2, 256, 8, 8)), (2, 256, 8, 8))

# %% nb="tests resnext__hidden 3"
# Hidden tests: other cardinalities and widths, stride 2, own work.
### BEGIN HIDDEN TESTS
with quiet():
    torch.manual_seed(7)

    def _resnext(cin, cout, c, w, s):
        d = c * w
        return cin * d + 9 * d * w + d * cout + 4 * d + 2 * cout + ((cin * cout + 2 * cout) if (s != 1 or cin != cout) else 0)

    for args in [(256, 256, 32, 4, 1), (256, 512, 32, 8, 2), (64, 64, 8, 4, 1), (16, 32, 4, 2, 1)]:
        blk = _own_work("ResNeXtBlock", lambda: ResNeXtBlock(*args))
        check_close(f"ResNeXtBlock{args} parameter count", count_params(blk), _resnext(*args))
    check_module("ResNeXtBlock(24, 24, 3, 4)", ResNeXtBlock(24, 24, 3, 4), ref.ResNeXtBlock(24, 24, 3, 4),
                 (torch.randn(2, 24, 5, 5),), seed=14)
    check_module("ResNeXtBlock(8, 12, 2, 3, 2)", ResNeXtBlock(8, 12, 2, 3, 2), ref.ResNeXtBlock(8, 12, 2, 3, 2),
                 (torch.randn(1, 8, 7, 9),), seed=15)
### END HIDDEN TESTS

# %% [markdown]
# ## Done
#
# Compare your blocks: `count_params(ResNeXtBlock(256, 256))` against
# `count_params(Bottleneck(256, 64))`, and `count_params(ResNet18())` against the 138 million of
# VGG16 from Part 3.
