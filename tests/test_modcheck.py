"""cnnkit.modcheck: a module is checked by what it computes, against the reference of its part."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from cnnkit import reference as ref
from cnnkit.modcheck import check_module, layout, param_count, swapped_names


class ShortcutFirst(nn.Module):
    """A correct basic block that creates its projection before its convs and names them its own way."""

    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.proj = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
        self.body = nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(),
                                  nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = self.body(x)
        out += self.proj(x)
        return torch.relu(out)


def test_a_correct_module_in_another_layout_passes():
    state = check_module("block", ShortcutFirst(4, 8, 2), ref.BasicBlock(4, 8, 2), (torch.randn(2, 4, 6, 6),))
    assert param_count(state) == param_count(ref.BasicBlock(4, 8, 2).state_dict())


def test_lenet_with_relu_and_max_pooling_is_named():
    wrong = ref.LeNet5(act=nn.ReLU, pool=nn.MaxPool2d)
    with pytest.raises(AssertionError, match="computes ReLU where the part asks for tanh"):
        check_module("LeNet5()", wrong, ref.LeNet5(), (torch.randn(2, 1, 28, 28),),
                     diagnoses=[("max pooling", ref.LeNet5(pool=nn.MaxPool2d)),
                                ("ReLU where the part asks for tanh", ref.LeNet5(act=nn.ReLU, pool=nn.MaxPool2d))])


def test_a_missing_projection_is_described_with_the_hint():
    class NoProjection(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1, self.bn1 = nn.Conv2d(4, 8, 3, 2, 1, bias=False), nn.BatchNorm2d(8)
            self.conv2, self.bn2 = nn.Conv2d(8, 8, 3, 1, 1, bias=False), nn.BatchNorm2d(8)

        def forward(self, x):
            return F.relu(self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x))))) + x)

    with pytest.raises(AssertionError, match=r"lacks a 1x1 conv or linear layer 4 -> 8 without bias.*\nHint: projection"):
        check_module("block", NoProjection(), ref.BasicBlock(4, 8, 2), (torch.randn(1, 4, 6, 6),), hint="projection")


def test_a_forward_error_comes_with_the_hint():
    class Broken(ref.SEBlock):
        def forward(self, x):
            return x * self.fc1(x.mean(dim=(1, 2)))

    with pytest.raises(AssertionError, match=r"forward on inputs of shape \[\(2, 8, 3, 5\)\] raised RuntimeError.*\nHint: dims 2 and 3"):
        check_module("SEBlock", Broken(8, 2), ref.SEBlock(8, 2), (torch.randn(2, 8, 3, 5),), hint="dims 2 and 3")


def test_a_wrong_function_with_the_right_layers_fails():
    class Echo(ref.SEBlock):
        def forward(self, x):
            return x

    with pytest.raises(AssertionError, match="the outputs differ"):
        check_module("SEBlock", Echo(8, 2), ref.SEBlock(8, 2), (torch.randn(2, 8, 3, 5),))


def test_state_that_is_not_tensors_fails():
    class Liar(ref.SEBlock):
        def state_dict(self, *a, **k):
            return {"fc1.weight": [[0.0]]}

    with pytest.raises(AssertionError, match="did not return a dict of tensors"):
        check_module("SEBlock", Liar(8, 2), ref.SEBlock(8, 2), (torch.randn(1, 8, 2, 2),))


def test_layout_ignores_names_and_trailing_ones():
    a = layout(nn.Sequential(nn.Conv2d(4, 8, 1)).state_dict())
    b = layout({"fc.weight": torch.zeros(8, 4), "fc.bias": torch.zeros(8)})
    assert [d for _, d in a] == [d for _, d in b]
    assert param_count(nn.BatchNorm2d(3).state_dict()) == 6  # running statistics are not parameters


def test_swapped_names_rebinds_and_restores():
    def build():
        return Block()  # noqa: F821 - bound by swapped_names below

    with swapped_names(build, Block=ref.SEBlock):
        with pytest.raises(TypeError):
            build()  # SEBlock needs its channels: the reference is what was called
    assert "Block" not in build.__globals__


def test_a_stride_moved_past_a_batch_norm_shows_in_training_mode():
    class LateStride(ref.ResNeXtBlock):
        def __init__(self, *a):
            super().__init__(*a)
            self.conv2.stride, self.conv3.stride = (1, 1), (2, 2)

    with pytest.raises(AssertionError, match="in training mode"):
        check_module("block", LateStride(8, 8, 2, 2, 2), ref.ResNeXtBlock(8, 8, 2, 2, 2), (torch.randn(2, 8, 6, 6),))
