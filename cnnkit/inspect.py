"""Looking inside a model: parameters, output shapes, activation memory, multiply-adds, receptive
fields.

What is counted
---------------
- **Parameters**: every element of every parameter tensor (weights and biases; batch-norm scale
  and shift included; running statistics are buffers, not parameters, and are not counted).
- **Multiply-adds (MACs)**: the multiply-accumulate operations of the convolution and
  fully connected (linear) layers, nothing else. A conv whose output has ``N x C_out x H x W``
  values, with a ``k_h x k_w`` kernel over ``C_in / groups`` input channels, does
  ``N * C_out * H * W * (C_in / groups) * k_h * k_w`` of them; a linear layer does
  ``N * out_features * in_features``. Bias additions, pooling, batch norm, activation functions
  and the additions of residual shortcuts are **not** counted: they are a few percent at most, and
  leaving them out is what torchvision's published "GFLOPS" figures do (their numbers are really
  multiply-adds of convs and linear layers). A module may define ``count_macs(inputs, output)`` to
  report its own (e.g. the sparse C3 layer of LeNet-5). One multiply-add is 2 FLOPs, which is how
  ``torch.utils.flop_counter.FlopCounterMode`` counts: ``flop_counter_macs`` uses it as an
  independent check.
- **Activations**: the number of values in each leaf module's output (and their bytes, from the
  output's dtype). Summing them over all leaves counts an in-place ReLU's output again even
  though it shares the conv's memory: the ``inplace`` flag of a row says so, and ``summary``
  reports both totals.

Everything runs on the meta device by default: shapes and counts are computed without allocating
weights or doing arithmetic, so VGG-16 or ResNet-152 are inspected in a fraction of a second. Big
models are best also *built* on the meta device::

    with torch.device("meta"):
        model = vgg16()
"""
from __future__ import annotations

from typing import Iterable, NamedTuple, Sequence

import torch
import torch.nn as nn

from .conv import conv_output_size  # one function for conv and pooling sizes, re-exported here

__all__ = ["LayerRow", "on_meta", "count_params", "layer_table", "summary", "count_macs", "flop_counter_macs",
           "receptive_field", "receptive_field_steps", "measure_receptive_field", "conv_output_size"]


class LayerRow(NamedTuple):
    """One leaf module's line of the table."""

    name: str            # qualified name in the model, e.g. "features.0"
    type: str            # class name, e.g. "Conv2d"
    output_shape: tuple  # shape of the output (with the batch dimension)
    params: int          # parameters owned by this module
    activations: int     # values in its output
    activation_bytes: int
    macs: int            # multiply-adds (conv and linear only; see the module docstring)
    inplace: bool = False  # output overwrites the input (shares its memory)


def on_meta(builder, *args, **kwargs) -> nn.Module:
    """builder(*args, **kwargs) built on the meta device: shapes and counts, no weights allocated."""
    with torch.device("meta"):
        return builder(*args, **kwargs)


def count_params(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameter values (weights, biases, norm scales/shifts; not buffers)."""
    return int(sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only))


def _macs(module: nn.Module, inputs, output) -> int:
    if hasattr(module, "count_macs"):
        return int(module.count_macs(inputs, output))
    if isinstance(module, nn.modules.conv._ConvNd):
        k = 1
        for s in module.kernel_size:
            k *= int(s)
        if isinstance(module, nn.modules.conv._ConvTransposeNd):
            x = inputs[0]
            return int(x.numel() * module.out_channels // module.groups * k)
        return int(output.numel() * (module.in_channels // module.groups) * k)
    if isinstance(module, nn.Linear):
        return int(output.numel() * module.in_features)
    if isinstance(module, nn.Bilinear):
        return int(output.numel() * module.in1_features * module.in2_features)
    return 0


def _tensors(x) -> list:
    if isinstance(x, torch.Tensor):
        return [x]
    if isinstance(x, (list, tuple)):
        return [t for item in x for t in _tensors(item)]
    if isinstance(x, dict):
        return [t for item in x.values() for t in _tensors(item)]
    return []


def _full_size(input_size) -> tuple:
    size = tuple(int(s) for s in input_size)
    return (1,) + size if len(size) == 3 else size


def _run(model: nn.Module, input_size, device, hook=None, dtype=torch.float32):
    """Run one forward pass of a (batch of) zero input, on ``device``; on the meta device the
    model's parameters and buffers are swapped for meta tensors, leaving the model untouched.
    The model is run in eval mode (restored afterwards)."""
    from torch.func import functional_call

    x_size = _full_size(input_size)
    handles = []
    if hook is not None:
        for name, m in model.named_modules():
            if len(list(m.children())) == 0:
                handles.append(m.register_forward_hook(hook(name)))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            if device is None:
                first = next(model.parameters(), None)
                dev = first.device if first is not None else torch.device("cpu")
                return model(torch.zeros(x_size, dtype=dtype, device=dev))
            dev = torch.device(device)
            state = {}
            for n, t in list(model.named_parameters()) + list(model.named_buffers()):
                same = t.device == dev
                state[n] = t if same else torch.empty_like(t, device=dev)
            x = torch.zeros(x_size, dtype=dtype, device=dev)
            return functional_call(model, state, (x,), strict=False, tie_weights=True)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)


def layer_table(model: nn.Module, input_size: Sequence[int], device="meta") -> list[LayerRow]:
    """One ``LayerRow`` per call of a leaf module, in execution order.

    input_size: (C, H, W) (batch 1 is added) or (N, C, H, W). device: "meta" (default, nothing is
    allocated or computed), any real device, or None to run where the model's weights are.
    A module called twice appears twice.
    """
    rows: list[LayerRow] = []

    def hook(name):
        def fn(module, inputs, output):
            outs = _tensors(output)
            if not outs:
                return
            shape = tuple(outs[0].shape) if len(outs) == 1 else tuple(tuple(o.shape) for o in outs)
            own = sum(p.numel() for p in module.parameters(recurse=False))
            values = sum(o.numel() for o in outs)
            nbytes = sum(o.numel() * o.element_size() for o in outs)
            rows.append(LayerRow(name, type(module).__name__, shape, int(own), int(values),
                                 int(nbytes), _macs(module, inputs, outs[0]),
                                 bool(getattr(module, "inplace", False))))
        return fn

    _run(model, input_size, device, hook)
    return rows


def count_macs(model: nn.Module, input_size: Sequence[int], device="meta") -> int:
    """Total multiply-adds of the conv and linear layers for one forward pass of ``input_size``
    (see the module docstring for what is and is not counted)."""
    return int(sum(r.macs for r in layer_table(model, input_size, device)))


def flop_counter_macs(model: nn.Module, input_size: Sequence[int], device="meta") -> int:
    """Multiply-adds according to ``torch.utils.flop_counter.FlopCounterMode`` (its FLOPs / 2).

    PyTorch counts the matrix products and convolutions it dispatches (2 FLOPs per multiply-add,
    no bias, no elementwise ops), so for ordinary conv/linear models this equals ``count_macs``.
    Custom layers built from other operations (such as LeNet-5's RBF output) may differ.
    """
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        _run(model, input_size, device)
    return int(counter.get_total_flops()) // 2


def _human(n: float) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.2f}{unit}"
    return f"{n:.0f}"


def summary(model: nn.Module, input_size: Sequence[int], device="meta", skip=("Dropout", "Identity")) -> str:
    """A printable table of every leaf module (``skip`` lists types to leave out of the lines, not
    the totals) and the totals: parameters, multiply-adds, activation values and megabytes
    (all outputs, and without the outputs of in-place modules)."""
    rows = layer_table(model, input_size, device)
    header = f"{'layer':<28} {'type':<18} {'output shape':<22} {'params':>12} {'activations':>12} {'MACs':>14}"
    lines = [header, "-" * len(header)]
    for r in rows:
        if r.type in skip:
            continue
        shape = "x".join(str(s) for s in r.output_shape[1:]) if r.output_shape and isinstance(r.output_shape[0], int) else str(r.output_shape)
        lines.append(f"{r.name[:28]:<28} {r.type[:18]:<18} {shape[:22]:<22} {r.params:>12,} {r.activations:>12,} {r.macs:>14,}")
    lines.append("-" * len(header))
    acts = sum(r.activations for r in rows)
    acts_bytes = sum(r.activation_bytes for r in rows)
    acts_own = sum(r.activations for r in rows if not r.inplace)
    acts_own_bytes = sum(r.activation_bytes for r in rows if not r.inplace)
    total_params = count_params(model)
    macs = sum(r.macs for r in rows)
    lines.append(f"input size: {tuple(_full_size(input_size))}")
    lines.append(f"parameters: {total_params:,} ({_human(total_params)})")
    lines.append(f"multiply-adds (conv + linear): {macs:,} ({_human(macs)})")
    lines.append(f"activations, all leaf outputs: {acts:,} values, {acts_bytes / 1e6:.1f} MB")
    lines.append(f"activations, without in-place outputs: {acts_own:,} values, {acts_own_bytes / 1e6:.1f} MB")
    return "\n".join(lines)


def receptive_field_steps(layers: Iterable[Sequence[int]]) -> list[tuple[int, int]]:
    """(receptive field, jump) after each layer of a stack of (kernel, stride[, dilation]) layers.

    The jump is the distance, in input pixels, between neighbouring outputs (the product of the
    strides so far); a layer of kernel k and dilation d grows the field by d (k - 1) jumps:
    r_l = r_{l-1} + d_l (k_l - 1) j_{l-1},  j_l = j_{l-1} s_l,  with r_0 = j_0 = 1,
    that is r_l = r_{l-1} + d_l (k_l - 1) prod_{i<l} s_i. A pooling window counts like a conv
    of the same kernel and stride.

    >>> receptive_field_steps([(3, 1), (2, 2), (3, 1)])   # conv 3x3, 2x2 pool at stride 2, conv 3x3
    [(3, 1), (4, 2), (8, 2)]
    """
    r, j, out = 1, 1, []
    for layer in layers:
        if len(layer) not in (2, 3):
            raise ValueError(f"each layer is (kernel, stride) or (kernel, stride, dilation), got {tuple(layer)}")
        k, s, d = (tuple(layer) + (1,))[:3] if len(layer) == 2 else tuple(layer)
        if k < 1 or s < 1 or d < 1:
            raise ValueError(f"kernel, stride and dilation must be >= 1, got {layer}")
        r += d * (k - 1) * j
        j *= s
        out.append((r, j))
    return out


def receptive_field(layers: Iterable[Sequence[int]]) -> int:
    """Side of the input region one output of the stack sees; e.g. three 3x3 stride-1 convs: 7."""
    steps = receptive_field_steps(list(layers))
    return steps[-1][0] if steps else 1


def measure_receptive_field(model: nn.Module, input_size: Sequence[int], unit=None) -> tuple[int, int]:
    """Measure (height, width) of the input region one output unit depends on, by backpropagation.

    model: a module taking (1, C, H, W); input_size: (C, H, W). The input is random in [0, 1)
    (float32, on the CPU); the gradient of output channel 0 at ``unit`` = (row, col) (default: the
    centre of the output map) is taken with respect to the input, and the bounding box of the
    pixels that receive a non-zero gradient is returned. The model's parameter gradients are not
    touched. This is a measurement, so it can only under-count: a zero weight, a ReLU that is off,
    or a max pool (whose gradient reaches only each window's maximum) hides pixels that the
    unit's field contains. Use positive weights, no ReLU and average pooling to see the whole
    field, and an input large enough that the field does not reach the border.
    """
    size = tuple(int(s) for s in input_size)
    if len(size) != 3:
        raise ValueError(f"measure_receptive_field: input_size must be (C, H, W), got {tuple(input_size)}")
    x = torch.rand((1,) + size, requires_grad=True)
    out = model(x)
    if out.dim() != 4:
        raise ValueError(f"measure_receptive_field: the model must return (N, C, H, W), got shape {tuple(out.shape)}")
    if unit is None:
        unit = (out.shape[2] // 2, out.shape[3] // 2)
    (grad,) = torch.autograd.grad(out[0, 0, unit[0], unit[1]], x)
    hit = grad[0].abs().sum(dim=0) > 0
    rows = torch.nonzero(hit.any(dim=1)).flatten()
    cols = torch.nonzero(hit.any(dim=0)).flatten()
    if rows.numel() == 0:
        return (0, 0)
    return (int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1))
