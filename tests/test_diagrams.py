"""cnnkit.diagrams: the drawn boxes and arrows are the model's own modules and data flow."""
import importlib

import matplotlib
import pytest
import torch
import torch.nn as nn

from cnnkit.diagrams import draw, graph
from cnnkit.inspect import on_meta
from cnnkit.models import alexnet, lenet5, resnet18, resnext50_32x4d
from cnnkit.models.densenet import DenseBlock
from cnnkit.models.resnet import BasicBlock, Bottleneck, SEBlock, conv1x1

matplotlib.use("Agg")
googlenet_module = importlib.import_module("cnnkit.models.googlenet")
lenet_module = importlib.import_module("cnnkit.models.lenet")


def called_leaves(model, shape, leaf_types=()) -> list[str]:
    """Qualified names of the leaf modules (no children, or of a leaf type) that a forward pass on
    the meta device calls, once per call: found with forward hooks, independently of torch.fx."""
    model = model.to("meta").eval()
    calls, handles, inside = [], [], ()
    for name, m in model.named_modules():
        if not name or name.startswith(inside):
            continue
        if isinstance(m, leaf_types) or not list(m.children()):
            if isinstance(m, leaf_types):
                inside = (*inside, f"{name}.")
            handles.append(m.register_forward_hook(lambda mod, i, o, name=name: calls.append(name)))
    with torch.no_grad():
        model(torch.empty((1, *shape), device="meta"))
    for h in handles:
        h.remove()
    return calls


def projection_block():
    return BasicBlock(64, 128, stride=2, downsample=nn.Sequential(conv1x1(64, 128, 2), nn.BatchNorm2d(128)))


CASES = {
    "basic block": (lambda: BasicBlock(64, 64), (64, 56, 56), ()),
    "projection block": (projection_block, (64, 56, 56), ()),
    "bottleneck": (lambda: Bottleneck(256, 64), (256, 56, 56), ()),
    "inception naive": (lambda: googlenet_module.InceptionModule(192, 64, 96, 128, 16, 32, 32), (192, 28, 28), ()),
    "dense block": (lambda: DenseBlock(4, 64, 32), (64, 28, 28), ()),
    "SE block": (lambda: SEBlock(64), (64, 14, 14), ()),
    "LeNet-5 (paper)": (lambda: lenet5(variant="paper"), (1, 32, 32),
                        (lenet_module.SparseConv2d, lenet_module.Subsampling, lenet_module.RBFOutput,
                         lenet_module.ScaledTanh)),
    "ResNet-18": (lambda: on_meta(resnet18), (3, 224, 224), ()),
}


@pytest.mark.parametrize("case", list(CASES))
def test_boxes_are_the_modules_and_arrows_the_data_flow(case):
    build, shape, leaf_types = CASES[case]
    model = build()
    d = draw(model, shape, leaves=leaf_types)
    assert sorted(d.modules()) == sorted(called_leaves(model, shape, leaf_types))
    assert set(d.boxes) == set(d.nodes) and set(d.arrows) == set(d.edges)
    assert all(p in d.ax.patches for p in [*d.boxes.values(), *d.arrows.values()])
    inputs, outputs = d.of_kind("input"), d.of_kind("output")
    assert len(inputs) == 1 and len(outputs) == 1
    for node in d.nodes.values():  # every arrow goes down the page
        assert all(d.nodes[i].layer < node.layer for i in node.inputs)
    out = model.to("meta")(torch.empty((1, *shape), device="meta")) if case != "ResNet-18" else \
        model(torch.empty((1, *shape), device="meta"))
    final = d.nodes[outputs[0].inputs[0]]
    assert final.shape == tuple(out.shape[1:])
    import matplotlib.pyplot as plt
    plt.close(d.fig)


def _merges(d, label):
    return [n for n in d.nodes.values() if n.kind == "merge" and n.label == label]


def test_residual_blocks_add_their_shortcut():
    d = graph(BasicBlock(64, 64), (64, 56, 56))
    (add,) = _merges(d, "+")
    assert sorted(d.nodes[i].target for i in add.inputs) == ["<input>", "bn2"]   # identity shortcut
    d = graph(projection_block(), (64, 56, 56))
    (add,) = _merges(d, "+")
    assert sorted(d.nodes[i].target for i in add.inputs) == ["bn2", "downsample.1"]
    assert d.nodes[next(n for n in d.nodes if d.nodes[n].target == "downsample.0")].label == "conv 1x1, 128, /2"


def test_inception_concatenates_four_branches():
    d = graph(googlenet_module.InceptionModule(192, 64, 96, 128, 16, 32, 32), (192, 28, 28))
    (cat,) = _merges(d, "concat")
    assert len(cat.inputs) == 4
    assert cat.shape == (64 + 128 + 32 + 32, 28, 28)
    assert len({d.nodes[i].x for i in cat.inputs}) == 4  # side by side


def test_networks_at_the_layer_and_block_level():
    model = on_meta(resnet18)
    d = graph(model, (3, 224, 224))
    assert len(_merges(d, "+")) == 8
    assert len([n for n in d.nodes.values() if n.kind == "conv"]) == sum(isinstance(m, nn.Conv2d) for m in model.modules()) == 20
    blocks = graph(model, (3, 224, 224), leaves=(BasicBlock,))
    assert [n.target for n in blocks.nodes.values() if n.label == "BasicBlock"] == [
        f"layer{s}.{b}" for s in range(1, 5) for b in range(2)]
    assert blocks.nodes[blocks.of_kind("output")[0].inputs[0]].shape == (1000,)


def test_resnext_and_se_blocks():
    model = on_meta(resnext50_32x4d)
    d = graph(model.layer1[0], (64, 56, 56))
    assert any(n.label == "conv 3x3, 128, 32 groups" for n in d.nodes.values())
    d = graph(SEBlock(64), (64, 14, 14))
    (scale,) = _merges(d, "×")
    assert sorted(d.nodes[i].target for i in scale.inputs) == ["<input>", "sigmoid"]  # x times its channel weights


def test_dense_block_concatenates_every_earlier_output():
    d = graph(DenseBlock(4, 64, 32), (64, 28, 28))
    cats = _merges(d, "concat")
    # layer k concatenates the block's input and the k-1 outputs before it; the block ends with all five
    # (the first layer's 'concatenation' of its input alone is drawn as a plain step, not a merge)
    assert [len(c.inputs) for c in cats] == [2, 3, 4, 5]
    assert cats[-1].shape == (64 + 4 * 32, 28, 28)


def test_alexnet_two_gpu_split():
    model = on_meta(alexnet, groups=2)
    d = graph(model, (3, 224, 224), split_groups=True)
    convs = [n for n in d.nodes.values() if n.kind == "conv"]
    grouped = sum(m.groups for m in model.modules() if isinstance(m, nn.Conv2d) and m.groups > 1)
    assert len(convs) == sum(1 for m in model.modules() if isinstance(m, nn.Conv2d) and m.groups == 1) + grouped
    lanes = [n for n in convs if n.lane is not None]
    assert {n.lane for n in lanes} == {0, 1}
    # a group's conv feeds only its own tower until a layer mixes them
    for n in d.nodes.values():
        if n.lane is not None:
            assert all(d.nodes[i].lane in (None, n.lane) for i in n.inputs)
    assert all(n.x < 0 for n in lanes if n.lane == 0) and all(n.x > 0 for n in lanes if n.lane == 1)


def test_graph_refuses_a_bad_input_shape():
    with pytest.raises(ValueError, match="without the batch axis"):
        graph(BasicBlock(64, 64), (1, 64, 0, 56))
