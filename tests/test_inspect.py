"""cnnkit.inspect: layer tables, multiply-adds (against torchvision's published figures and
against PyTorch's own FlopCounterMode), activation memory, receptive fields."""
import pytest
import torch
import torch.nn as nn

import cnnkit.models as M
from cnnkit.inspect import (conv_output_size, count_macs, count_params, flop_counter_macs,
                            layer_table, receptive_field, receptive_field_steps, summary)

# torchvision's published GFLOPS (really multiply-adds of convs and linear layers), 224x224
TORCHVISION_GMACS = {
    "alexnet": 0.714, "vgg16": 15.47, "googlenet": 1.498, "resnet18": 1.814, "resnet34": 3.664,
    "resnet50": 4.089, "densenet121": 2.834, "resnext50_32x4d": 4.23, "squeezenet1_0": 0.819,
    "squeezenet1_1": 0.349,
}


def meta(builder, **kw):
    with torch.device("meta"):
        return builder(**kw)


@pytest.mark.parametrize("name,gmacs", sorted(TORCHVISION_GMACS.items()))
def test_macs_match_torchvision(name, gmacs):
    model = meta(M.BUILDERS[name])
    macs = count_macs(model, (3, 224, 224))
    assert abs(macs / 1e9 - gmacs) / gmacs < 0.02
    assert flop_counter_macs(model, (3, 224, 224)) == macs  # PyTorch's own count agrees exactly


def test_alexnet_exact_macs_by_hand():
    # conv1..conv5 then fc6..fc8 of torchvision's AlexNet on 224x224
    by_hand = (64 * 55 * 55 * 3 * 121 + 192 * 27 * 27 * 64 * 25 + 384 * 13 * 13 * 192 * 9
               + 256 * 13 * 13 * 384 * 9 + 256 * 13 * 13 * 256 * 9
               + 9216 * 4096 + 4096 * 4096 + 4096 * 1000)
    assert count_macs(meta(M.alexnet), (3, 224, 224)) == by_hand == 714_188_480


def test_macs_scale_with_batch_and_groups():
    m = meta(M.resnet18)
    assert count_macs(m, (4, 3, 224, 224)) == 4 * count_macs(m, (3, 224, 224))
    dense = nn.Conv2d(64, 64, 3, padding=1)
    grouped = nn.Conv2d(64, 64, 3, padding=1, groups=4)
    assert count_macs(dense, (64, 10, 10)) == 4 * count_macs(grouped, (64, 10, 10)) == 64 * 100 * 64 * 9


def test_layer_table_vgg16():
    rows = layer_table(meta(M.vgg16), (3, 224, 224))
    convs = [r for r in rows if r.type == "Conv2d"]
    fcs = [r for r in rows if r.type == "Linear"]
    assert len(convs) == 13 and len(fcs) == 3
    assert convs[0].output_shape == (1, 64, 224, 224) and convs[0].params == 1_792
    assert convs[0].activations == 3_211_264 and convs[0].activation_bytes == 4 * 3_211_264
    assert fcs[0].params == 102_760_448 + 4_096
    assert sum(r.params for r in rows) == count_params(meta(M.vgg16)) == 138_357_544
    relus = [r for r in rows if r.type == "ReLU"]
    assert relus and all(r.inplace for r in relus)
    # the values a forward pass stores: conv, pool and FC outputs (the slides' table, minus input)
    stored = sum(r.activations for r in rows if r.type in ("Conv2d", "MaxPool2d", "Linear"))
    assert stored + 3 * 224 * 224 == 15_237_608


def test_layer_table_runs_where_the_model_is_and_leaves_it_alone():
    model = M.lenet5()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rows_meta = layer_table(model, (1, 28, 28))
    rows_cpu = layer_table(model, (1, 28, 28), device=None)
    assert [r[:7] for r in rows_meta] == [r[:7] for r in rows_cpu]
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert model.training and next(model.parameters()).device.type == "cpu"
    assert rows_meta[0].output_shape == (1, 6, 28, 28)


def test_lenet_paper_sparse_macs():
    m = M.lenet5(variant="paper")
    rows = layer_table(m, (1, 32, 32))
    c3 = next(r for r in rows if r.type == "SparseConv2d")
    assert c3.output_shape == (1, 16, 10, 10) and c3.params == 1_516
    assert c3.macs == 100 * 60 * 25                  # only the connected kernels
    assert next(r for r in rows if r.type == "RBFOutput").macs == 840
    # PyTorch sees the dense 16x6 kernel and no RBF matrix product
    assert flop_counter_macs(m, (1, 32, 32)) == count_macs(m, (1, 32, 32)) + 100 * 36 * 25 - 840


def test_googlenet_module_shapes():
    rows = {r.name: r for r in layer_table(meta(M.googlenet), (3, 224, 224))}
    assert rows["inception3a.branch1.conv"].output_shape == (1, 64, 28, 28)
    assert rows["inception5b.branch4.1.conv"].output_shape == (1, 128, 7, 7)
    assert rows["avgpool"].output_shape == (1, 1024, 1, 1)


def test_summary_text():
    text = summary(meta(M.resnet18), (3, 224, 224))
    assert "11,689,512" in text and "1,814,073,344" in text
    assert "layer1.0.conv1" in text and "Dropout" not in text


def test_conv_output_size():
    assert conv_output_size(227, 11, 4) == 55
    assert conv_output_size(224, 11, 4, padding=2) == 55
    assert conv_output_size(7, 3, 2) == 3
    assert conv_output_size(112, 3, 2, ceil_mode=True) == 56
    assert conv_output_size(14, 3, 2, ceil_mode=True) == 7
    with pytest.raises(ValueError):
        conv_output_size(2, 5)
    # agrees with PyTorch's pooling
    for n in range(5, 40):
        for ceil in (False, True):
            out = nn.MaxPool2d(3, 2, ceil_mode=ceil)(torch.zeros(1, 1, n, n)).shape[-1]
            assert conv_output_size(n, 3, 2, ceil_mode=ceil) == out


@pytest.mark.parametrize("layers,expected", [
    ([], 1),
    ([(3, 1)], 3),
    ([(3, 1)] * 2, 5),
    ([(3, 1)] * 3, 7),                       # three 3x3 convs see 7x7
    ([(5, 1)] * 2, 9),                       # two 5x5 convs see 9x9
    ([(3, 1), (2, 2), (3, 1)], 8),
    ([(3, 1, 2)], 5),                        # dilation 2
    ([(3, 1, 1), (3, 1, 2), (3, 1, 4)], 15),  # dilations 1, 2, 4
    ([(11, 4), (3, 2), (5, 1), (3, 2), (3, 1), (3, 1), (3, 1), (3, 2)], 195),  # AlexNet to POOL3
])
def test_receptive_field(layers, expected):
    assert receptive_field(layers) == expected


def test_receptive_field_steps_and_errors():
    assert receptive_field_steps([(3, 2), (3, 2)]) == [(3, 2), (7, 4)]
    with pytest.raises(ValueError):
        receptive_field([(0, 1)])


def test_receptive_field_matches_gradient():
    # the input pixels that influence the centre output of a real stack (average pooling, since
    # max pooling passes the gradient to one pixel of each window only)
    stack = nn.Sequential(nn.Conv2d(1, 1, 3), nn.AvgPool2d(2), nn.Conv2d(1, 1, 3, dilation=2))
    nn.init.constant_(stack[0].weight, 1.0), nn.init.constant_(stack[2].weight, 1.0)
    x = torch.ones(1, 1, 40, 40, requires_grad=True)
    y = stack(x)
    y[0, 0, y.shape[-2] // 2, y.shape[-1] // 2].backward()
    rows = (x.grad[0, 0].abs().sum(1) > 0).nonzero()
    seen = int(rows.max() - rows.min() + 1)
    assert seen == receptive_field([(3, 1), (2, 2), (3, 1, 2)]) == 12


def test_on_meta_builds_without_allocating():
    from cnnkit.inspect import count_params, on_meta
    from cnnkit.models import vgg16

    model = on_meta(vgg16, num_classes=10)
    assert all(p.device.type == "meta" for p in model.parameters())
    assert count_params(model) == 138_357_544 - 4096 * 990 - 990  # 1000 -> 10 classes in FC8
