"""cnnkit.inspect.measure_receptive_field against the rule r_l = r_(l-1) + (k_l - 1) prod(s_i, i < l)."""
import pytest
import torch
import torch.nn as nn

from cnnkit.inspect import measure_receptive_field, receptive_field, receptive_field_steps


def _positive_convs(model):
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Conv2d):
                m.weight.uniform_(0.1, 1.0)
    return model


@pytest.mark.parametrize("spec", [
    [("conv", 3, 1), ("conv", 3, 1)],
    [("conv", 3, 1), ("pool", 2, 2), ("conv", 3, 1)],
    [("conv", 5, 2), ("pool", 3, 2), ("conv", 3, 1), ("conv", 3, 2), ("conv", 3, 1)],
])
def test_measured_field_equals_the_strided_rule(spec):
    torch.manual_seed(0)
    mods = [nn.Conv2d(1, 1, k, s, padding=k // 2) if kind == "conv" else nn.AvgPool2d(k, s) for kind, k, s in spec]
    model = _positive_convs(nn.Sequential(*mods))
    rule = receptive_field([(k, s) for _, k, s in spec])
    assert measure_receptive_field(model, (1, 96, 96)) == (rule, rule)


def test_rule_with_a_pool_between_convs():
    assert receptive_field_steps([(3, 1), (2, 2), (3, 1)]) == [(3, 1), (4, 2), (8, 2)]


def test_max_pool_hides_pixels_of_the_field():
    torch.manual_seed(0)
    model = _positive_convs(nn.Sequential(nn.Conv2d(1, 1, 3, padding=1), nn.MaxPool2d(4, 4), nn.Conv2d(1, 1, 3, padding=1)))
    h, w = measure_receptive_field(model, (1, 64, 64))
    rule = receptive_field([(3, 1), (4, 4), (3, 1)])
    assert h <= rule and w <= rule and (h, w) != (rule, rule)


def test_parameter_gradients_untouched_and_bad_input():
    model = nn.Conv2d(1, 1, 3)
    measure_receptive_field(model, (1, 9, 9))
    assert model.weight.grad is None
    with pytest.raises(ValueError, match=r"input_size must be \(C, H, W\)"):
        measure_receptive_field(model, (9, 9))
    with pytest.raises(ValueError, match=r"must return \(N, C, H, W\)"):
        measure_receptive_field(nn.Sequential(nn.Conv2d(1, 1, 3), nn.Flatten()), (1, 9, 9))
