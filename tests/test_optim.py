"""cnnkit.optim: each numpy update rule gives torch.optim's weights step for step (float64, with and
without weight decay, with a learning rate that changes between steps), keeps its state in the
config, refuses bad input with a clear message, and NumpyOptimizer trains a torch model exactly as
the torch optimizer does."""
import numpy as np
import pytest
import torch

from cnnkit import optim

TORCH = {
    "sgd": lambda p, lr, wd: torch.optim.SGD(p, lr=lr, weight_decay=wd),
    "momentum": lambda p, lr, wd: torch.optim.SGD(p, lr=lr, momentum=0.9, weight_decay=wd),
    "nesterov": lambda p, lr, wd: torch.optim.SGD(p, lr=lr, momentum=0.9, nesterov=True, weight_decay=wd),
    "rmsprop": lambda p, lr, wd: torch.optim.RMSprop(p, lr=lr, weight_decay=wd),
    "adam": lambda p, lr, wd: torch.optim.Adam(p, lr=lr, weight_decay=wd),
}


@pytest.mark.parametrize("name", list(optim.RULES))
@pytest.mark.parametrize("wd", [0.0, 0.01])
def test_rule_matches_torch_step_for_step(name, wd):
    rng = np.random.default_rng(1)
    w0 = rng.standard_normal((6, 3))
    wt = torch.tensor(w0, requires_grad=True)
    opt = TORCH[name]([wt], 0.05, wd)
    w, config = w0.copy(), {"lr": 0.05, "weight_decay": wd}
    for step in range(40):
        lr = 0.05 if step < 20 else 0.02          # a schedule: lr enters where torch's does
        for group in opt.param_groups:
            group["lr"] = lr
        config["lr"] = lr
        g = rng.standard_normal(w0.shape)
        wt.grad = torch.tensor(g)
        opt.step()
        w, config = optim.RULES[name](w, g, config)
        assert np.abs(w - wt.detach().numpy()).max() < 1e-12, (name, step)
    assert not np.allclose(w, w0)


def test_adam_bias_correction_makes_the_first_step_lr_sized():
    w, config = optim.adam(np.zeros(4), np.array([1e-3, -3.0, 200.0, 1.0]), {"lr": 0.1})
    assert np.allclose(w, -0.1 * np.sign([1e-3, -3.0, 200.0, 1.0]), rtol=1e-4)  # whatever the gradient's size
    assert config["t"] == 1 and config["m"].shape == (4,)


def test_momentum_state_accumulates_and_rules_do_not_change_their_inputs():
    w0, g = np.ones(3), np.full(3, 2.0)
    w1, config = optim.momentum(w0, g, {"lr": 0.1, "momentum": 0.5})
    w2, config = optim.momentum(w1, g, config)
    assert np.allclose(config["velocity"], 0.5 * 2.0 + 2.0) and np.allclose(w2, 1 - 0.1 * 2 - 0.1 * 3)
    assert np.array_equal(w0, np.ones(3)) and np.array_equal(g, np.full(3, 2.0))


@pytest.mark.parametrize("bad, message", [
    (dict(dw=np.zeros(4)), "the gradient has shape"),
    (dict(config={"lr": 0.1, "momentun": 0.9}), "unknown hyperparameter"),
    (dict(config={"lr": 0.0}), "learning rate must be positive"),
    (dict(config=[0.1]), "config must be a dict"),
])
def test_bad_input_is_refused_clearly(bad, message):
    args = dict(w=np.zeros(3), dw=np.zeros(3), config={"lr": 0.1})
    args.update(bad)
    with pytest.raises((ValueError, TypeError), match=message):
        optim.momentum(args["w"], args["dw"], args["config"])


@pytest.mark.parametrize("name", ["nesterov", "adam"])
def test_numpy_optimizer_trains_a_model_like_torch(name):
    def run(make_opt):
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3)).double()
        opt = make_opt(model.parameters())
        g = torch.Generator().manual_seed(1)
        for _ in range(25):
            x, y = torch.randn(16, 5, generator=g, dtype=torch.float64), torch.randint(0, 3, (16,), generator=g)
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
        return torch.cat([p.detach().flatten() for p in model.parameters()])

    ours = run(lambda p: optim.NumpyOptimizer(p, name, lr=0.01))
    ref = run(lambda p: TORCH[name](p, 0.01, 0.0))
    assert torch.allclose(ours, ref, rtol=0, atol=1e-12)


def test_numpy_optimizer_refuses_unknown_rules_and_hyperparameters():
    p = [torch.nn.Parameter(torch.zeros(2))]
    with pytest.raises(ValueError, match="unknown rule"):
        optim.NumpyOptimizer(p, "adagrad")
    with pytest.raises(ValueError, match="unknown hyperparameter"):
        optim.NumpyOptimizer(p, "adam", betas=(0.9, 0.99))
