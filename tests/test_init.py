"""cnnkit.init: fans and standard deviations as PyTorch's torch.nn.init computes them, and the
signal through a deep net: kept by the matching rule, shrunk by the other."""
import numpy as np
import pytest
import torch

from cnnkit import init


@pytest.mark.parametrize("shape", [(64, 32), (16, 8, 3, 3), (10, 4, 5)])
def test_fans_match_torch(shape):
    assert init.fans(shape) == torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))


def test_fans_refuse_a_vector():
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        init.fans((5,))


@pytest.mark.parametrize("shape", [(400, 300), (64, 32, 3, 3)])
def test_standard_deviations_match_torch_init(shape):
    torch.manual_seed(0)
    tx, th = torch.empty(shape, dtype=torch.float64), torch.empty(shape, dtype=torch.float64)
    torch.nn.init.xavier_normal_(tx)
    torch.nn.init.kaiming_normal_(th, nonlinearity="relu")
    rng = np.random.default_rng(0)
    ours = {"xavier": init.xavier_normal(shape, rng).std(), "he": init.he_normal(shape, rng).std()}
    fan_in, fan_out = init.fans(shape)
    assert abs(ours["xavier"] / init.xavier_std(fan_in, fan_out) - 1) < 0.02
    assert abs(tx.std().item() / init.xavier_std(fan_in, fan_out) - 1) < 0.02
    assert abs(ours["he"] / init.he_std(fan_in) - 1) < 0.02
    assert abs(th.std().item() / init.he_std(fan_in) - 1) < 0.02


def test_he_keeps_relu_signal_and_xavier_halves_its_variance_per_layer():
    he = init.signal_through(20, 256, "relu", "he", np.random.default_rng(0))
    xavier = init.signal_through(20, 256, "relu", "xavier", np.random.default_rng(0))
    assert 0.5 < he.forward[-1] / he.forward[0] < 2 and 0.5 < he.backward[0] / he.backward[-1] < 2
    per_layer = (xavier.forward[-1] / xavier.forward[0]) ** (1 / 19)      # geometric mean: 1/sqrt(2)
    assert abs(per_layer - 2 ** -0.5) < 0.02
    assert xavier.backward[0] / xavier.backward[-1] < 1e-2


def test_linear_layers_with_std_one_over_sqrt_n_keep_the_signal_exactly_in_expectation():
    p = init.signal_through(10, 512, "linear", "fixed", np.random.default_rng(0), std=512 ** -0.5)
    assert np.all(np.abs(p.forward - 1) < 0.1) and np.all(np.abs(p.backward - 1) < 0.1)


@pytest.mark.parametrize("kw, message", [(dict(activation="gelu"), "activation must be"),
                                         (dict(init="lecun"), "init must be"),
                                         (dict(init="fixed"), "needs std")])
def test_signal_through_refuses_bad_input(kw, message):
    args = dict(depth=2, width=4, activation="relu", init="he", rng=np.random.default_rng(0))
    args.update(kw)
    with pytest.raises(ValueError, match=message):
        init.signal_through(**args)
