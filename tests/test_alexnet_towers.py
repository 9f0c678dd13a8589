"""cnnkit.models.alexnet_towers: the paper's two-tower AlexNet has the grouped model's parameters and,
with its weights, computes the same function except where each tower normalises only its own maps."""
import pytest
import torch
import torch.nn as nn

from cnnkit.inspect import count_params, layer_table, on_meta
from cnnkit.models import alexnet
from cnnkit.models.alexnet_towers import AlexNetTwoGPU


def _without_lrn(model):
    for name, child in model.named_children():
        if isinstance(child, nn.LocalResponseNorm):
            setattr(model, name, nn.Identity())
        else:
            _without_lrn(child)
    return model


def test_parameters_and_shapes_are_the_papers():
    towers = on_meta(AlexNetTwoGPU)
    assert count_params(towers) == count_params(on_meta(alexnet, variant="lecture", groups=2)) == 60_965_224
    convs = [r for r in layer_table(towers, (3, 227, 227)) if r.type == "Conv2d"]
    shapes = sorted(r.output_shape[1:] for r in convs)  # each layer twice, once per tower
    assert shapes == sorted(2 * [(48, 55, 55), (128, 27, 27), (192, 13, 13), (192, 13, 13), (128, 13, 13)])


def test_same_function_as_the_grouped_model_but_for_the_normalisation_at_the_split():
    torch.manual_seed(0)
    grouped = alexnet(variant="lecture", groups=2, num_classes=10).eval()
    towers = AlexNetTwoGPU(num_classes=10).eval().load_grouped(grouped)
    x = torch.rand(2, 3, 227, 227)
    with torch.no_grad():
        pooled = grouped.features[:3](x)
        lrn_g = grouped.features[3](pooled)
        lrn_t = torch.cat([towers.front_a[3](pooled[:, :48]), towers.front_b[3](pooled[:, 48:])], 1)
        differ = torch.nonzero((lrn_g - lrn_t).abs().amax(dim=(0, 2, 3)) > 0).flatten().tolist()
        assert differ == [46, 47, 48, 49]
        assert torch.equal(_without_lrn(towers)(x), _without_lrn(grouped)(x))


def test_load_grouped_refuses_another_model():
    with pytest.raises(ValueError, match="groups=2"):
        AlexNetTwoGPU().load_grouped(alexnet(variant="lecture"))
