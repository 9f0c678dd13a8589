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


# ---------------------------------------------------------------------------------------------
# small models whose every figure is worked out by hand
# ---------------------------------------------------------------------------------------------
def _small_cnn():
    from collections import OrderedDict
    return nn.Sequential(OrderedDict([
        ("conv", nn.Conv2d(1, 8, 3, padding=1)), ("relu", nn.ReLU(inplace=True)), ("pool", nn.MaxPool2d(2)),
        ("a_very_long_module_name_that_is_cut", nn.Flatten()), ("fc", nn.Linear(8 * 32 * 32, 10)),
        ("drop", nn.Dropout(0.5))]))


def test_summary_of_a_small_cnn_line_by_line():
    # conv: 8*9 + 8 = 80 params, 8*64*64 = 32,768 outputs, each 9 multiply-adds; the in-place ReLU
    # repeats the conv's output; pool and flatten: 8*32*32 = 8,192; fc: 8,192*10 + 10 params,
    # 81,920 multiply-adds; dropout: 10 outputs, counted in the totals but not listed
    rule = "-" * 111
    assert summary(_small_cnn(), (1, 64, 64)).splitlines() == [
        "layer                        type               output shape                 params  activations"
        "           MACs",
        rule,
        "conv                         Conv2d             8x64x64                          80       32,768"
        "        294,912",
        "relu                         ReLU               8x64x64                           0       32,768"
        "              0",
        "pool                         MaxPool2d          8x32x32                           0        8,192"
        "              0",
        "a_very_long_module_name_that Flatten            8192                              0        8,192"
        "              0",
        "fc                           Linear             10                           81,930           10"
        "         81,920",
        rule,
        "input size: (1, 1, 64, 64)",
        "parameters: 82,010 (82.01K)",
        "multiply-adds (conv + linear): 376,832 (376.83K)",
        # (2 * 32,768 + 2 * 8,192 + 10 + 10) values of 4 bytes = 327,760 bytes
        "activations, all leaf outputs: 81,940 values, 0.3 MB",
        # without the ReLU's 32,768: 196,688 bytes
        "activations, without in-place outputs: 49,172 values, 0.2 MB",
    ]


def test_summary_skip_leaves_dropout_in_the_totals_only():
    model = _small_cnn()
    rows = layer_table(model, (1, 64, 64))
    assert [r.type for r in rows] == ["Conv2d", "ReLU", "MaxPool2d", "Flatten", "Linear", "Dropout"]
    assert rows[-1].output_shape == (1, 10) and rows[-1].activations == 10 and rows[-1].params == 0
    assert [r.inplace for r in rows] == [False, True, False, False, False, False]
    shown = summary(model, (1, 64, 64), skip=())
    assert "drop                         Dropout            10" in shown
    assert "81,940 values" in shown
    assert "Conv2d" not in summary(model, (1, 64, 64), skip=("Conv2d", "Dropout"))


@pytest.mark.parametrize("in_features,shown", [(999, "999 (999)"), (1000, "1,000 (1.00K)"),
                                               (1_000_000, "1,000,000 (1.00M)"),
                                               (1_234_567, "1,234,567 (1.23M)"), (1_000_000_000, "1,000,000,000 (1.00G)"),
                                               (1_500_000_000, "1,500,000,000 (1.50G)")])
def test_summary_rounds_large_counts(in_features, shown):
    model = meta(nn.Linear, in_features=in_features, out_features=1, bias=False)
    text = summary(model, (1, in_features))
    assert f"parameters: {shown}" in text and f"multiply-adds (conv + linear): {shown}" in text


class _Pair(nn.Module):
    """A leaf with two outputs."""

    def forward(self, x):
        return x, x[:, :1]


class AVeryLongCustomLayerName(nn.Module):
    """A leaf with a dict of outputs, a parameter and a long class name."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(3))

    def forward(self, x):
        return {"a": x * self.scale[:, None, None], "b": [x.sum(), x[:, :1]]}


class _Nothing(nn.Module):
    def forward(self, x):
        return None


class _Branches(nn.Module):
    def __init__(self):
        super().__init__()
        self.pair, self.named, self.nothing = _Pair(), AVeryLongCustomLayerName(), _Nothing()

    def forward(self, x):
        a, b = self.pair(x)
        self.nothing(a)
        return self.named(a + b)["a"]


def test_layer_table_counts_every_tensor_a_leaf_returns():
    rows = layer_table(_Branches(), (3, 4, 5))   # batch 1 is added
    assert [r.name for r in rows] == ["pair", "named"]  # a leaf that returns no tensor has no row
    pair, named = rows
    assert pair.output_shape == ((1, 3, 4, 5), (1, 1, 4, 5))
    assert pair.activations == 60 + 20 and pair.activation_bytes == 4 * 80 and pair.params == 0
    assert named.output_shape == ((1, 3, 4, 5), (), (1, 1, 4, 5))
    assert named.activations == 60 + 1 + 20 and named.params == 3 and named.macs == 0
    text = summary(_Branches(), (3, 4, 5)).splitlines()
    # names cut to 28 characters, types to 18, shapes to 22
    assert text[2] == "pair                         _Pair              ((1, 3, 4, 5), (1, 1,             0           80              0"
    assert text[3] == "named                        AVeryLongCustomLay ((1, 3, 4, 5), (), (1,            3           81              0"


def test_count_params_trainable_only_leaves_out_frozen_parameters():
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))  # 8 + 4 parameters; running stats are buffers
    assert count_params(model) == 12 and count_params(model, trainable_only=True) == 12
    model[0].weight.requires_grad_(False)
    assert count_params(model) == 12
    assert count_params(model, trainable_only=True) == 6


def test_macs_of_transposed_convs_and_bilinear_layers():
    # a transposed conv: every input value meets out_channels / groups kernels of 3x3
    up = nn.ConvTranspose2d(4, 6, 3, stride=2, groups=2)
    assert count_macs(up, (4, 5, 5)) == 4 * 5 * 5 * (6 // 2) * 9 == flop_counter_macs(up, (4, 5, 5))

    class Bil(nn.Module):
        def __init__(self):
            super().__init__()
            self.b = nn.Bilinear(3, 4, 5)

        def forward(self, x):
            return self.b(x[:, :3], x)

    assert count_macs(Bil(), (2, 4)) == 2 * 5 * 3 * 4  # a 2-d input size is taken as it is


def test_layer_table_puts_the_model_in_eval_mode_and_back():
    seen = []

    class Spy(nn.Module):
        def forward(self, x):
            seen.append(self.training)
            return x

    model = nn.Sequential(nn.Linear(2, 2), Spy())
    for device in ("meta", None, "cpu"):
        for training in (True, False):
            model.train(training)
            layer_table(model, (3, 2), device=device)
            assert model.training is training and model[1].training is training
    assert seen == [False] * 6
    assert all(not m._forward_hooks for m in model.modules())  # the hooks are removed again


def test_layer_table_on_any_device_gives_the_same_rows():
    built_on_meta = meta(M.lenet5)
    rows = layer_table(built_on_meta, (1, 28, 28))
    assert [r[:7] for r in layer_table(built_on_meta, (1, 28, 28), device="cpu")] == [r[:7] for r in rows]
    assert all(p.device.type == "meta" for p in built_on_meta.parameters())
    on_cpu = M.lenet5()
    assert [r[:7] for r in layer_table(on_cpu, (1, 28, 28), device="cpu")] == [r[:7] for r in rows]
    assert count_macs(on_cpu, (1, 28, 28), device=None) == count_macs(on_cpu, (1, 28, 28))
    assert flop_counter_macs(on_cpu, (1, 28, 28), device=None) == flop_counter_macs(built_on_meta, (1, 28, 28))
    # a model without parameters runs on the CPU
    assert layer_table(nn.ReLU(), (2, 3, 3), device=None)[0].output_shape == (1, 2, 3, 3)


def test_layer_table_lists_a_module_called_twice_twice():
    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)

        def forward(self, x):
            return self.fc(self.fc(x))

    rows = layer_table(Twice(), (1, 4))
    assert [(r.name, r.params, r.macs) for r in rows] == [("fc", 20, 16), ("fc", 20, 16)]
    assert count_macs(Twice(), (1, 4)) == 32


def test_on_meta_passes_arguments():
    from cnnkit.inspect import on_meta

    fc = on_meta(nn.Linear, 3, 2, bias=False)
    assert fc.bias is None and fc.weight.shape == (2, 3) and fc.weight.device.type == "meta"


def test_receptive_field_steps_with_dilation_and_bad_layers():
    assert receptive_field_steps([(3, 1, 2), (2, 2), (3, 1)]) == [(5, 1), (6, 2), (10, 2)]
    assert receptive_field([(1, 1)]) == 1 and receptive_field(iter([(3, 1), (3, 1)])) == 5
    for bad in [(0, 1), (3, 0), (3, 1, 0)]:
        with pytest.raises(ValueError) as info:
            receptive_field_steps([(3, 1), bad])
        assert str(info.value) == f"kernel, stride and dilation must be >= 1, got {bad}"


def test_summary_megabytes():
    # one leaf of 1,012,501 float32 values: 4,050,004 bytes, 4.05 MB, shown to one decimal
    text = summary(nn.Flatten(), (1, 1_012_501))
    assert "activations, all leaf outputs: 1,012,501 values, 4.1 MB" in text
    assert "activations, without in-place outputs: 1,012,501 values, 4.1 MB" in text


def test_summary_skips_a_type_in_the_middle_and_lists_the_rest():
    lines = summary(_small_cnn(), (1, 64, 64), skip=("ReLU",)).splitlines()
    assert [ln.split()[0] for ln in lines[2:7]] == ["conv", "pool", "a_very_long_module_name_that", "fc", "drop"]


class _DeviceSpy(nn.Module):
    def __init__(self, seen):
        super().__init__()
        self.fc, self.seen = nn.Linear(3, 2), seen

    def forward(self, x):
        self.seen.append(x.device.type)
        return self.fc(x)


def test_every_function_runs_on_the_meta_device_unless_told_otherwise():
    seen = []
    model = _DeviceSpy(seen)  # its weights are on the CPU
    layer_table(model, (1, 3)), count_macs(model, (1, 3)), flop_counter_macs(model, (1, 3)), summary(model, (1, 3))
    assert seen == ["meta"] * 4
    seen.clear()
    layer_table(model, (1, 3), None), count_macs(model, (1, 3), None), flop_counter_macs(model, (1, 3), None)
    summary(model, (1, 3), None)
    assert seen == ["cpu"] * 4
    # device=None runs where the weights are, also when they are on the meta device
    seen.clear()
    on_meta_model = meta(_DeviceSpy, seen=seen)
    assert layer_table(on_meta_model, (1, 3), device=None)[0].output_shape == (1, 2) and seen == ["meta"]


def test_the_input_is_float32_whatever_torchs_default_dtype():
    model = nn.Sequential(nn.Linear(3, 2))  # float32 weights
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        for device in ("meta", None, "cpu"):
            row = layer_table(model, (1, 3), device=device)[0]
            assert row.activation_bytes == 2 * 4
    finally:
        torch.set_default_dtype(old)


def test_a_modules_own_count_macs_sees_its_inputs_and_output():
    class Custom(nn.Module):
        def forward(self, x):
            return x[:, :2]

        def count_macs(self, inputs, output):
            return inputs[0].numel() * 10 + output.numel()

    assert count_macs(Custom(), (1, 5)) == 5 * 10 + 2


def test_flop_counter_macs_is_an_int():
    m = nn.Linear(3, 5)
    got = flop_counter_macs(m, (2, 3))
    assert got == 2 * 5 * 3 and type(got) is int


def test_receptive_field_refuses_layers_of_other_lengths():
    for bad in [(3,), (3, 1, 1, 1)]:
        with pytest.raises(ValueError) as info:
            receptive_field([(3, 1), bad])
        assert str(info.value) == f"each layer is (kernel, stride) or (kernel, stride, dilation), got {bad}"


def test_flop_counter_macs_prints_nothing(capsys):
    flop_counter_macs(nn.Linear(3, 5), (2, 3))
    assert capsys.readouterr().out == ""


def test_measure_receptive_field_of_a_known_stack():
    from cnnkit.inspect import measure_receptive_field

    # a 3x5 kernel: the field is 3 rows by 5 columns, wherever the unit is (torch.rand is never 0 here)
    conv = nn.Conv2d(2, 1, (3, 5), bias=False)
    nn.init.constant_(conv.weight, 1.0)
    assert measure_receptive_field(conv, (2, 9, 12)) == (3, 5)
    assert measure_receptive_field(conv, (2, 9, 12), unit=(0, 7)) == (3, 5)
    # two stacked: 5 x 9; the output is 5 x 4, its centre (2, 2)
    stack = nn.Sequential(conv, nn.Conv2d(1, 1, (3, 5), bias=False))
    nn.init.constant_(stack[1].weight, 1.0)
    assert measure_receptive_field(stack, (2, 9, 12)) == (5, 9)
    # a unit that sees nothing (a zero kernel) has an empty field
    zero = nn.Conv2d(1, 1, 3, bias=False)
    nn.init.constant_(zero.weight, 0.0)
    assert measure_receptive_field(zero, (1, 6, 6)) == (0, 0)


def test_measure_receptive_field_is_taken_at_the_centre_of_a_non_square_map():
    from cnnkit.inspect import measure_receptive_field

    # a 5x7 kernel with 'same' padding on a 5x7 input: only the centre unit (2, 3) sees the whole
    # input; any other unit's field is cut by the padding
    conv = nn.Conv2d(1, 1, (5, 7), padding=(2, 3), bias=False)
    nn.init.constant_(conv.weight, 1.0)
    assert measure_receptive_field(conv, (1, 5, 7)) == (5, 7)
    assert measure_receptive_field(conv, (1, 5, 7), unit=(0, 3)) == (3, 7)
    assert measure_receptive_field(conv, (1, 5, 7), unit=(2, 0)) == (5, 4)
    one = nn.Conv2d(1, 1, 1, bias=False)
    nn.init.constant_(one.weight, 1.0)
    assert measure_receptive_field(one, (1, 4, 4)) == (1, 1)
