"""Architecture diagrams drawn from the model object itself, so a diagram cannot disagree with the code.

    from cnnkit.diagrams import draw
    from cnnkit.models.resnet import BasicBlock
    d = draw(BasicBlock(64, 64), (64, 56, 56))     # a block, with its shapes
    d = draw(resnet18(), (3, 224, 224), leaves=(BasicBlock,))   # a network, one box per block

How it works: ``torch.fx`` traces the model's ``forward`` into a graph of the operations it really
performs (each layer, each ``+`` of a shortcut, each ``torch.cat`` of an inception module), a pass
on the meta device (no weights, no arithmetic) records every tensor's shape, and the graph is laid
out in layers from the input down: node k sits one layer below the lowest of its inputs, parallel
branches side by side. ``graph`` returns that structure; ``draw`` also draws it with matplotlib and
returns the drawn boxes and arrows with it, which is what the tests check against the modules.

``split_groups=True`` draws a grouped convolution with g groups as g side-by-side boxes, and keeps
the channel-wise layers after it (ReLU, normalisation, pooling) split the same way until a layer
mixes the groups again: AlexNet's two-GPU towers (``alexnet(groups=2)``).
"""
from __future__ import annotations

import copy
import operator
from dataclasses import dataclass, field

import torch
import torch.fx as fx
import torch.nn as nn
from torch.fx.passes.shape_prop import ShapeProp

__all__ = ["Node", "Diagram", "graph", "draw", "describe"]

# layers that act on each channel separately: a split into groups passes through them
_CHANNELWISE = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.GELU, nn.Tanh, nn.Sigmoid, nn.LocalResponseNorm,
                nn.MaxPool2d, nn.AvgPool2d, nn.BatchNorm2d, nn.Dropout, nn.Identity)
_KIND_COLOURS = {"input": "#dddddd", "output": "#dddddd", "conv": "#9ecae1", "norm": "#fdd0a2", "act": "#c7e9c0",
                 "pool": "#fcbba1", "fc": "#dadaeb", "merge": "#ffffff", "other": "#f0f0f0"}


@dataclass
class Node:
    name: str                    # the fx node's name (unique)
    label: str                   # what the box says, e.g. 'conv 3x3, 64, /2'
    kind: str                    # 'input', 'conv', 'norm', 'act', 'pool', 'fc', 'merge', 'output', 'other'
    shape: tuple | None          # output shape without the batch axis
    target: str = ""             # the module's qualified name for layers, the operation otherwise
    inputs: list[str] = field(default_factory=list)
    layer: int = 0               # rows from the input
    x: float = 0.0               # position in its row
    lane: int | None = None      # which group, for split grouped convolutions


@dataclass
class Diagram:
    nodes: dict[str, Node]
    edges: list[tuple[str, str]]
    fig: object = None
    ax: object = None
    boxes: dict = field(default_factory=dict)   # node name -> the drawn patch
    arrows: dict = field(default_factory=dict)  # (from, to) -> the drawn arrow

    def of_kind(self, kind: str) -> list[Node]:
        return [n for n in self.nodes.values() if n.kind == kind]

    def modules(self) -> list[str]:
        """Qualified names of the modules drawn as boxes, in order."""
        return [n.target for n in self.nodes.values() if n.kind not in ("input", "output", "merge")
                and n.target and not n.target.startswith("<")]


def _pair(v) -> str:
    v = v if isinstance(v, tuple) else (v, v)
    return f"{v[0]}x{v[1]}"


def describe(module: nn.Module) -> tuple[str, str]:
    """(label, kind) of a layer, e.g. (conv 3x3, 64, /2', 'conv')."""
    if isinstance(module, nn.Conv2d):
        s = module.stride[0]
        label = f"conv {_pair(module.kernel_size)}, {module.out_channels}" + (f", /{s}" if s > 1 else "")
        if module.groups > 1:
            label += f", {module.groups} groups"
        return label, "conv"
    if isinstance(module, nn.Linear):
        return f"FC {module.out_features}", "fc"
    if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
        return "batch norm", "norm"
    if isinstance(module, nn.LocalResponseNorm):
        return "LRN", "norm"
    if isinstance(module, (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.GELU, nn.Tanh, nn.Sigmoid, nn.SiLU)):
        return type(module).__name__, "act"
    if isinstance(module, nn.MaxPool2d):
        s = module.stride if isinstance(module.stride, int) else module.stride[0]
        return f"max pool {_pair(module.kernel_size)}" + (f", /{s}" if s > 1 else ""), "pool"
    if isinstance(module, nn.AvgPool2d):
        s = module.stride if isinstance(module.stride, int) else module.stride[0]
        return f"avg pool {_pair(module.kernel_size)}" + (f", /{s}" if s > 1 else ""), "pool"
    if isinstance(module, nn.AdaptiveAvgPool2d):
        return "global avg pool" if module.output_size in (1, (1, 1)) else f"adaptive avg pool {module.output_size}", "pool"
    if isinstance(module, nn.Dropout):
        return f"dropout {module.p:g}", "other"
    if isinstance(module, nn.Flatten):
        return "flatten", "other"
    return type(module).__name__, "other"


def _function_label(node: fx.Node) -> tuple[str, str]:
    target = node.target
    if target in (operator.add, torch.add, operator.iadd):
        return "+", "merge"
    if target in (operator.mul, torch.mul):
        return "×", "merge"
    if target is torch.cat:
        return "concat", "merge"
    if target is torch.flatten:
        return "flatten", "other"
    if target in (torch.relu, nn.functional.relu):
        return "ReLU", "act"
    name = getattr(target, "__name__", str(target))
    return name, "other"


class _Tracer(fx.Tracer):
    def __init__(self, leaves: tuple[type, ...]):
        super().__init__()
        self.leaves = leaves

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        return isinstance(m, self.leaves) or super().is_leaf_module(m, qualname)


def graph(model: nn.Module, input_shape: tuple, leaves: tuple[type, ...] = (), split_groups: bool = False) -> Diagram:
    """The diagram's structure (no drawing). input_shape excludes the batch axis, e.g. (3, 224, 224).

    leaves: module classes drawn as one box (e.g. BasicBlock for a network at the block level).
    The model is copied to the meta device for the shape pass; the original is not touched.
    """
    if len(input_shape) < 1 or not all(isinstance(s, int) and s > 0 for s in input_shape):
        raise ValueError(f"graph: input_shape must be positive integers without the batch axis, got {input_shape!r}")
    meta = copy.deepcopy(model).to("meta").eval()
    tracer = _Tracer(tuple(leaves))
    gm = fx.GraphModule(meta, tracer.trace(meta))
    ShapeProp(gm).propagate(torch.empty((1, *input_shape), device="meta"))
    modules = dict(gm.named_modules())
    nodes: dict[str, Node] = {}
    alias: dict[str, str] = {}  # dropped nodes (getattr, getitem...) -> the node they pass on

    def resolve(arg) -> list[str]:
        found = []
        for a in (arg if isinstance(arg, (list, tuple)) else [arg]):
            if isinstance(a, (list, tuple)):
                found += resolve(a)
            elif isinstance(a, fx.Node):
                name = alias.get(a.name, a.name)
                if name in nodes and name not in found:
                    found.append(name)
        return found

    for n in gm.graph.nodes:
        meta_shape = n.meta.get("tensor_meta")
        shape = tuple(meta_shape.shape[1:]) if hasattr(meta_shape, "shape") else None
        inputs = resolve(list(n.args) + list(n.kwargs.values()))
        if n.op == "placeholder":
            nodes[n.name] = Node(n.name, "input", "input", shape, "<input>")
        elif n.op == "output":
            nodes[n.name] = Node(n.name, "output", "output", None, "<output>", inputs)
        elif n.op == "call_module":
            label, kind = describe(modules[n.target])
            nodes[n.name] = Node(n.name, label, kind, shape, str(n.target), inputs)
        elif n.op == "get_attr" or (n.op == "call_function" and n.target in (getattr, operator.getitem)) \
                or (n.op == "call_method" and n.target in ("size", "dim")):
            if inputs:
                alias[n.name] = inputs[0]
        elif n.op == "call_function":
            label, kind = _function_label(n)
            if len(inputs) == 1 and kind == "merge":  # x * constant and the like
                kind = "other"
            nodes[n.name] = Node(n.name, label, kind, shape, f"<{label}>", inputs)
        else:  # call_method
            nodes[n.name] = Node(n.name, str(n.target), "other", shape, f"<{n.target}>", inputs)
    if split_groups:
        nodes = _split(nodes, modules)
    edges = [(src, dst.name) for dst in nodes.values() for src in dst.inputs]
    _layout(nodes)
    return Diagram(nodes, edges)


def _split(nodes: dict[str, Node], modules: dict) -> dict[str, Node]:
    """Replace each grouped convolution (and the channel-wise layers after it) by one node per group."""
    lanes: dict[str, list[str]] = {}   # original name -> its lane nodes' names
    out: dict[str, Node] = {}
    for name, node in nodes.items():
        module = modules.get(node.target)
        groups = getattr(module, "groups", 1) if isinstance(module, nn.Conv2d) else 1
        split_inputs = [lanes[i] for i in node.inputs if i in lanes]
        if groups > 1 or (isinstance(module, _CHANNELWISE) and len(node.inputs) == 1 and split_inputs):
            g = groups if groups > 1 else len(split_inputs[0])
            source = split_inputs[0] if split_inputs and len(split_inputs[0]) == g else None
            shape = (node.shape[0] // g, *node.shape[1:]) if node.shape else None
            names = []
            for k in range(g):
                label = node.label.replace(f", {groups} groups", "")
                if isinstance(module, nn.Conv2d):
                    label = f"conv {_pair(module.kernel_size)}, {module.out_channels // g}" + \
                            (f", /{module.stride[0]}" if module.stride[0] > 1 else "")
                inputs = [source[k]] if source else [i for ins in ([lanes.get(i, [i]) for i in node.inputs]) for i in ins]
                lane_name = f"{name}.g{k}"
                out[lane_name] = Node(lane_name, f"{label} (group {k + 1})", node.kind, shape, node.target, inputs, lane=k)
                names.append(lane_name)
            lanes[name] = names
        else:
            inputs = [i for ins in ([lanes.get(i, [i]) for i in node.inputs]) for i in ins]
            out[name] = Node(name, node.label, node.kind, node.shape, node.target, inputs)
    return out


def _layout(nodes: dict[str, Node]) -> None:
    """Rows by longest path from the input. Columns: the longest path runs straight down the
    middle; a node's other outputs branch off to the nearest free column on either side and run
    straight down theirs; a merge sits on the column of its longest input."""
    order = list(nodes.values())  # fx order is topological
    for node in order:
        node.layer = 1 + max((nodes[i].layer for i in node.inputs), default=-1)
    children: dict[str, list[Node]] = {n.name: [] for n in order}
    for node in order:
        for i in node.inputs:
            children[i].append(node)
    to_end: dict[str, int] = {}
    for node in reversed(order):
        to_end[node.name] = 1 + max((to_end[c.name] for c in children[node.name]), default=0)
    taken: dict[int, set[float]] = {}
    preferred: dict[str, float] = {}

    def place(node: Node, col: float) -> None:
        used = taken.setdefault(node.layer, set())
        k = 0
        while True:
            for c in ((col,) if k == 0 else (col + k, col - k)):
                if c not in used:
                    node.x = c
                    used.add(c)
                    return
            k += 1

    for node in order:
        if not node.inputs:
            place(node, 0.0)
        elif len(node.inputs) > 1:
            main = max(node.inputs, key=lambda i: (nodes[i].layer, -abs(nodes[i].x)))
            place(node, nodes[main].x)
        else:
            place(node, preferred.get(node.name, nodes[node.inputs[0]].x))
        kids = sorted(children[node.name], key=lambda c: -to_end[c.name])
        side = 1
        for rank, kid in enumerate(kids):
            if kid.name in preferred:
                continue
            if len(kid.inputs) > 1:
                continue  # a merge is placed on its own longest input's column
            if rank == 0:
                preferred[kid.name] = node.x
            else:
                preferred[kid.name] = node.x + side * ((rank + 1) // 2)
                side = -side
    if any(n.lane is not None for n in order):  # split groups: lanes side by side in group order
        for layer in {n.layer for n in order}:
            row = sorted((n for n in order if n.layer == layer), key=lambda n: n.x)
            lanes = [n for n in row if n.lane is not None]
            for k, n in enumerate(sorted(lanes, key=lambda n: n.lane)):
                n.x = k - (len(lanes) - 1) / 2


def _shape_text(shape) -> str:
    return "" if not shape else "×".join(str(s) for s in shape)


def draw(model: nn.Module, input_shape: tuple, leaves: tuple[type, ...] = (), split_groups: bool = False,
         ax=None, title: str | None = None, width: float = 2.6, row_height: float = 0.62) -> Diagram:
    """Draw the model as boxes (layers, with their output shapes) and arrows (what feeds what).

    Returns the Diagram, with .fig, .ax, and .boxes / .arrows: the patches drawn for each node and edge.
    A row_height under 0.45 (inches) puts each box's label and shape on one line, for tall networks.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
    from matplotlib.path import Path as MplPath

    d = graph(model, input_shape, leaves=leaves, split_groups=split_groups)
    compact = row_height < 0.45  # tall networks: label and shape on one line, in wider boxes
    spacing = 2.0 if compact else 1.0
    box_w, box_h = (1.8 if compact else 0.86), 0.5
    rows = 1 + max(n.layer for n in d.nodes.values())
    across = max(1, max(sum(1 for n in d.nodes.values() if n.layer == r) for r in range(rows)))
    if ax is None:
        fig, ax = plt.subplots(figsize=(max(4.0, across * width * 0.95 * (1.6 if compact else 1.0)),
                                        max(2.0, rows * row_height)))
    else:
        fig = ax.figure
    for node in d.nodes.values():
        x, y = node.x * spacing, -node.layer
        w = box_w if node.kind != "merge" else 0.28
        patch = FancyBboxPatch((x - w / 2, y - box_h / 2), w, box_h, boxstyle="round,pad=0.02,rounding_size=0.08",
                               facecolor=_KIND_COLOURS.get(node.kind, "#f0f0f0"), edgecolor="#444444", linewidth=0.8)
        patch.set_gid(node.name)
        ax.add_patch(patch)
        d.boxes[node.name] = patch
        if compact and node.shape and node.kind != "merge":  # one line: label, then the shape in grey
            ax.text(x - w / 2 + 0.04, y, node.label, ha="left", va="center", fontsize=6.5)
            ax.text(x + w / 2 - 0.04, y, _shape_text(node.shape), ha="right", va="center", fontsize=5.5, color="#555555")
            continue
        ax.text(x, y + (0.07 if node.shape else 0), node.label, ha="center", va="center",
                fontsize=7.5 if node.kind != "merge" else 10)
        if node.shape and node.kind != "merge":
            ax.text(x, y - 0.14, _shape_text(node.shape), ha="center", va="center", fontsize=6, color="#555555")
    for src, dst in d.edges:
        a, b = d.nodes[src], d.nodes[dst]
        ax_, bx_ = a.x * spacing, b.x * spacing
        if b.layer - a.layer > 1 and abs(a.x - b.x) < 0.5:
            # a shortcut down its own column: out of the source's right side, down beside the
            # boxes in between, into the target's right side
            wb = box_w if b.kind != "merge" else 0.28
            rail = ax_ + box_w / 2 + 0.12
            route = MplPath([(ax_ + box_w / 2, -a.layer), (rail, -a.layer), (rail, -b.layer), (bx_ + wb / 2, -b.layer)],
                            [MplPath.MOVETO, MplPath.LINETO, MplPath.LINETO, MplPath.LINETO])
            arrow = FancyArrowPatch(path=route, arrowstyle="-|>", mutation_scale=8, linewidth=0.8, color="#333333")
        else:
            rad = 0.0 if b.layer - a.layer == 1 else (0.2 if a.x >= b.x else -0.2)
            arrow = FancyArrowPatch((ax_, -a.layer - box_h / 2), (bx_, -b.layer + box_h / 2), arrowstyle="-|>",
                                    mutation_scale=8, linewidth=0.8, color="#333333",
                                    connectionstyle=f"arc3,rad={rad}", shrinkA=0, shrinkB=0)
        arrow.set_gid(f"{src}->{dst}")
        ax.add_patch(arrow)
        d.arrows[(src, dst)] = arrow
    half = max(abs(n.x) for n in d.nodes.values()) * spacing + box_w / 2 + 0.45
    ax.set_xlim(-half, half)
    ax.set_ylim(-rows + 0.4, 0.6)
    ax.set_aspect("auto")
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=10)
    d.fig, d.ax = fig, ax
    return d
