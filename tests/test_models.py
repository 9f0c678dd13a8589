"""The model zoo: parameter counts equal torchvision's (and the papers' where stated), output
shapes, and the properties the lectures rely on. Big models are built on the meta device."""
import pytest
import torch

import cnnkit.models as M
from cnnkit.inspect import count_params

# torchvision's published counts for 1000 classes
TORCHVISION_PARAMS = {
    "alexnet": 61_100_840,
    "vgg11": 132_863_336,
    "vgg13": 133_047_848,
    "vgg16": 138_357_544,
    "vgg19": 143_667_240,
    "vgg16_bn": 138_365_992,
    "googlenet": 6_624_904,
    "resnet18": 11_689_512,
    "resnet34": 21_797_672,
    "resnet50": 25_557_032,
    "resnet101": 44_549_160,
    "resnet152": 60_192_808,
    "wide_resnet50_2": 68_883_240,
    "resnext50_32x4d": 25_028_904,
    "densenet121": 7_978_856,
    "squeezenet1_0": 1_248_424,
    "squeezenet1_1": 1_235_496,
}


def meta(builder, **kw):
    with torch.device("meta"):
        return builder(**kw)


@pytest.mark.parametrize("name,expected", sorted(TORCHVISION_PARAMS.items()))
def test_params_match_torchvision(name, expected):
    assert count_params(meta(M.BUILDERS[name])) == expected


def test_lenet5_counts_and_layers():
    assert count_params(M.lenet5()) == 61_706
    paper = M.lenet5(variant="paper")
    assert count_params(paper) == 60_000  # the paper's "60,000 trainable free parameters"
    per_layer = [sum(p.numel() for p in m.parameters(recurse=False))
                 for m in paper.modules() if any(True for _ in m.parameters(recurse=False))]
    assert per_layer == [156, 12, 1_516, 32, 48_120, 10_164]  # C1 S2 C3 S4 C5 F6
    rbf = paper.classifier[-1]
    assert isinstance(rbf, M.RBFOutput) and not list(rbf.parameters())
    assert rbf.prototypes.shape == (10, 84) and set(rbf.prototypes.unique().tolist()) == {-1.0, 1.0}
    assert "classifier.3.prototypes" in paper.state_dict()  # saved with the model, never trained
    assert torch.equal(rbf.prototypes, M.lenet5(variant="paper").classifier[-1].prototypes)  # fixed codes
    assert (rbf.prototypes @ rbf.prototypes.T - 84 * torch.eye(10)).abs().max() < 40  # distinct classes
    with pytest.raises(ValueError):
        M.lenet5(variant="1989")


def test_lenet5_c3_table_is_sparse():
    c3 = M.lenet5(variant="paper").features[4]
    dense = c3.dense_weight()
    connected = (dense.abs().sum(dim=(2, 3)) != 0)
    expected = torch.zeros(16, 6, dtype=torch.bool)
    for o, ins in enumerate(M.C3_TABLE):
        expected[o, list(ins)] = True
    assert expected.sum() == 60
    assert torch.equal(connected, expected)


def test_lenet5_forward_shapes():
    x28, x32 = torch.zeros(2, 1, 28, 28), torch.zeros(2, 1, 32, 32)
    assert M.lenet5()(x28).shape == (2, 10)
    assert M.lenet5(variant="paper")(x32).shape == (2, 10)


def test_alexnet_variants():
    lecture = meta(M.alexnet, variant="lecture")
    grouped = meta(M.alexnet, variant="lecture", groups=2)
    # conv2, conv4 and conv5 lose half their weights in the two-GPU split
    saved = (256 * 96 * 25 + 384 * 384 * 9 + 256 * 384 * 9) // 2
    assert count_params(lecture) == 62_378_344
    assert count_params(lecture) - count_params(grouped) == saved == 1_413_120
    conv1 = lecture.features[0]
    assert conv1.weight.numel() == 34_848 and conv1.bias.numel() == 96
    with pytest.raises(ValueError):
        M.alexnet(variant="caffe")


def test_vgg_configurations():
    counts = {c: count_params(meta(M.vgg, config=c)) for c in M.VGG_CONFIGS}
    # the paper's Table 2 (millions): A 133, A-LRN 133, B 133, C 134, D 138, E 144
    assert [round(counts[c] / 1e6) for c in ("A", "A-LRN", "B", "C", "D", "E")] == [133, 133, 133, 134, 138, 144]
    assert counts["A"] == counts["A-LRN"]
    assert meta(M.vgg16).classifier[0].weight.numel() == 102_760_448  # FC6


def test_googlenet_aux_and_paper_kernels():
    assert count_params(meta(M.googlenet, aux_logits=True)) > 6_624_904
    assert count_params(meta(M.googlenet, five_by_five=True)) == 7_005_832
    m = M.googlenet(num_classes=5, aux_logits=True)
    x = torch.zeros(2, 3, 96, 96)
    m.train()
    out = m(x)
    assert len(out) == 3 and all(o.shape == (2, 5) for o in out)
    m.eval()
    assert m(x).shape == (2, 5)


def test_naive_inception_module_depth():
    naive = M.InceptionModule(256, 128, None, 192, None, 96, None, bn=False)
    assert naive.out_channels == 672
    assert meta(M.InceptionModule, in_channels=256, ch1x1=128, ch3x3red=64, ch3x3=192, ch5x5red=64,
                ch5x5=96, pool_proj=64).out_channels == 480
    assert naive(torch.zeros(1, 256, 7, 7)).shape == (1, 672, 7, 7)


def test_blocks():
    x = torch.zeros(2, 64, 8, 8)
    assert M.BasicBlock(64, 64)(x).shape == x.shape
    down = torch.nn.Sequential(torch.nn.Conv2d(64, 256, 1, bias=False), torch.nn.BatchNorm2d(256))
    assert M.Bottleneck(64, 64, downsample=down)(x).shape == (2, 256, 8, 8)
    assert M.SEBlock(64)(x).shape == x.shape
    assert M.FireModule(64, 16, 64, 64)(x).shape == (2, 128, 8, 8)
    block = M.DenseBlock(3, 64, growth_rate=12)
    assert block(x).shape == (2, 64 + 3 * 12, 8, 8) and block.out_channels == 100


def test_cifar_twins():
    for depth in (20, 56):
        res, plain = M.cifar_resnet(depth), M.cifar_resnet(depth, residual=False)
        assert count_params(res) == count_params(plain)
        convs = sum(isinstance(m, torch.nn.Conv2d) for m in res.modules())
        fcs = sum(isinstance(m, torch.nn.Linear) for m in res.modules())
        assert convs + fcs == depth
    assert count_params(M.resnet20()) == 269_722
    assert count_params(M.resnet56()) == 853_018
    assert count_params(M.plain20()) == count_params(M.resnet20())
    assert count_params(M.plain56()) == count_params(M.resnet56())
    assert M.resnet20()(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
    assert M.plain20(num_classes=4, in_channels=1)(torch.zeros(2, 1, 32, 32)).shape == (2, 4)
    with pytest.raises(ValueError):
        M.cifar_resnet(21)


def test_residual_twin_differs_only_in_shortcuts():
    torch.manual_seed(0)
    res = M.resnet20()
    plain = M.plain20()
    plain.load_state_dict(res.state_dict())
    res.eval(), plain.eval()
    x = torch.randn(1, 3, 32, 32)
    assert not torch.allclose(res(x), plain(x))


SMALL = {  # name: (kwargs, input size) small enough to run for real on the CPU
    "squeezenet1_0": ({}, 64), "squeezenet1_1": ({}, 64), "resnet18": ({}, 64),
    "preact_resnet18": ({}, 64), "densenet121": ({}, 64), "googlenet": ({}, 64),
    "resnext50_32x4d": ({}, 32), "se_resnet50": ({}, 32), "nin": ({}, 96),
}


@pytest.mark.parametrize("name", sorted(SMALL))
def test_forward_small_inputs(name):
    kwargs, size = SMALL[name]
    m = M.BUILDERS[name](num_classes=3, **kwargs).eval()
    with torch.no_grad():
        assert m(torch.zeros(1, 3, size, size)).shape == (1, 3)


@pytest.mark.parametrize("name", sorted(TORCHVISION_PARAMS) + ["preact_resnet18", "se_resnet50", "nin"])
def test_forward_on_meta_224(name):
    m = meta(M.BUILDERS[name], num_classes=17).eval()
    assert m(torch.zeros(2, 3, 224, 224, device="meta")).shape == (2, 17)


def test_alexnet_lecture_input_227():
    m = meta(M.alexnet, variant="lecture", groups=2).eval()
    x = torch.zeros(1, 3, 227, 227, device="meta")
    assert m.features(x).shape == (1, 256, 6, 6)
    assert m(x).shape == (1, 1000)


def test_bottleneck_stride_placement():
    """v1.5 (torchvision, default) strides the 3x3 conv; the paper's v1 strides the first 1x1.
    Same parameters, and the paper's multiply-adds (3.86/7.57/11.28 G against 4.09/7.80/11.51 G)."""
    from cnnkit.inspect import count_macs

    expected = {  # builder: (v1.5 MACs, v1 MACs) at 224x224, conv + linear
        M.resnet50: (4_089_184_256, 3_857_973_248),
        M.resnet101: (7_801_405_440, 7_570_194_432),
        M.resnet152: (11_513_626_624, 11_282_415_616),
    }
    for builder, (v15, v1) in expected.items():
        a, b = meta(builder), meta(builder, stride_in_1x1=True)
        assert count_params(a) == count_params(b)
        assert count_macs(a, (1, 3, 224, 224)) == v15
        assert count_macs(b, (1, 3, 224, 224)) == v1
    b = meta(M.resnet50, stride_in_1x1=True).layer2[0]
    assert b.conv1.stride == (2, 2) and b.conv2.stride == (1, 1)
    a = meta(M.resnet50).layer2[0]
    assert a.conv1.stride == (1, 1) and a.conv2.stride == (2, 2)
    x = torch.zeros(1, 256, 8, 8)
    down = torch.nn.Sequential(torch.nn.Conv2d(256, 512, 1, stride=2, bias=False), torch.nn.BatchNorm2d(512))
    assert M.Bottleneck(256, 128, 2, down, stride_in_1x1=True)(x).shape == (1, 512, 4, 4)
    with pytest.raises(ValueError, match="Bottleneck"):
        M.ResNet(M.BasicBlock, [2, 2, 2, 2], stride_in_1x1=True)


def test_nin_variant_has_relu_on_logits():
    """The ImageNet NiN (a later model-zoo variant) ends with a ReLU: its logits are never negative."""
    torch.manual_seed(0)
    m = M.nin(num_classes=5).eval()
    assert isinstance(m.features[-1][-1], torch.nn.ReLU)
    with torch.no_grad():
        assert (m(torch.randn(2, 3, 96, 96)) >= 0).all()


def test_densenet121_is_bc():
    """DenseNet-121 is DenseNet-BC: 1x1 bottlenecks to 4k channels, transitions halve the channels."""
    m = meta(M.densenet121)
    layer = m.features[4].layers[0]
    assert layer.conv1.out_channels == 4 * 32 and layer.conv2.out_channels == 32
    transition = m.features[5]
    assert transition[2].out_channels == transition[2].in_channels // 2
