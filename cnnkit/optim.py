"""Optimisers as numpy update rules, in the form PyTorch's torch.optim computes them.

Each rule takes a parameter array, its gradient and a config dict, and returns the updated array
and the config (CS231n's API):

    w, config = adam(w, dw, config)      # config: hyperparameters + the rule's state

A rule fills in the defaults of a missing hyperparameter and keeps its state (velocity, running
averages, step count) in the config, so that the next call continues where the last one stopped.
Every rule follows torch.optim's arithmetic (its defaults, where the learning rate enters, how
weight decay is added), so that the same gradients give the same weights step for step (lecture
05b checks it; tests/test_optim.py too). With g = dw + weight_decay * w:

    sgd       w <- w - lr g
    momentum  v <- mu v + g;                       w <- w - lr v
    nesterov  v <- mu v + g;                       w <- w - lr (g + mu v)
    rmsprop   s <- a s + (1 - a) g^2;               w <- w - lr g / (sqrt(s) + eps)
    adam      m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2;  t <- t + 1
              w <- w - lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)

The momentum form is PyTorch's. CS231n writes v <- mu v - lr g, w <- w + v, which is the same
sequence of weights while the learning rate is constant (its v is -lr times this one) and differs
once a schedule changes lr.

`NumpyOptimizer` wraps a rule as a torch optimizer, so that `cnnkit.train.fit` can train a
PyTorch model with it (each step copies the parameter and its gradient to numpy and back).
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch

__all__ = ["sgd", "momentum", "nesterov", "rmsprop", "adam", "RULES", "NumpyOptimizer"]

Rule = Callable[[np.ndarray, np.ndarray, dict], tuple]

_DEFAULTS = {
    "sgd": {"lr": 1e-2, "weight_decay": 0.0},
    "momentum": {"lr": 1e-2, "momentum": 0.9, "weight_decay": 0.0},
    "nesterov": {"lr": 1e-2, "momentum": 0.9, "weight_decay": 0.0},
    "rmsprop": {"lr": 1e-2, "alpha": 0.99, "eps": 1e-8, "weight_decay": 0.0},
    "adam": {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.0},
}


def _start(name: str, w, dw, config):
    """Check the arrays, fill in the rule's defaults; return (w, g with weight decay, config)."""
    w, dw = np.asarray(w), np.asarray(dw)
    if w.shape != dw.shape:
        raise ValueError(f"{name}: the gradient has shape {dw.shape}, expected the parameter's shape {w.shape}")
    config = {} if config is None else config
    if not isinstance(config, dict):
        raise TypeError(f"{name}: config must be a dict of hyperparameters and state, got {type(config).__name__}")
    unknown = set(config) - set(_DEFAULTS[name]) - {"velocity", "square_avg", "m", "v", "t"}
    if unknown:
        raise ValueError(f"{name}: unknown hyperparameter(s) {sorted(unknown)}; it takes {sorted(_DEFAULTS[name])}")
    for key, value in _DEFAULTS[name].items():
        config.setdefault(key, value)
    if not config["lr"] > 0:
        raise ValueError(f"{name}: the learning rate must be positive, got lr={config['lr']!r}")
    g = dw + config["weight_decay"] * w if config["weight_decay"] else dw
    return w, g, config


def sgd(w, dw, config=None):
    """Plain gradient descent: w <- w - lr g."""
    w, g, config = _start("sgd", w, dw, config)
    return w - config["lr"] * g, config


def momentum(w, dw, config=None):
    """Heavy-ball momentum (torch.optim.SGD with momentum): v <- mu v + g, w <- w - lr v.
    The first step sets v = g, as PyTorch does."""
    w, g, config = _start("momentum", w, dw, config)
    v = config.get("velocity")
    v = g.copy() if v is None else config["momentum"] * v + g
    config["velocity"] = v
    return w - config["lr"] * v, config


def nesterov(w, dw, config=None):
    """Nesterov momentum (torch.optim.SGD with nesterov=True): v <- mu v + g, w <- w - lr (g + mu v).
    The gradient is taken at w, and the step looks ahead along the updated velocity."""
    w, g, config = _start("nesterov", w, dw, config)
    v = config.get("velocity")
    v = g.copy() if v is None else config["momentum"] * v + g
    config["velocity"] = v
    return w - config["lr"] * (g + config["momentum"] * v), config


def rmsprop(w, dw, config=None):
    """RMSProp (torch.optim.RMSprop): s <- a s + (1 - a) g^2, w <- w - lr g / (sqrt(s) + eps)."""
    w, g, config = _start("rmsprop", w, dw, config)
    s = config.get("square_avg")
    s = np.zeros_like(g) if s is None else s
    s = config["alpha"] * s + (1 - config["alpha"]) * g * g
    config["square_avg"] = s
    return w - config["lr"] * g / (np.sqrt(s) + config["eps"]), config


def adam(w, dw, config=None):
    """Adam (torch.optim.Adam): running averages of g and g^2 with bias correction."""
    w, g, config = _start("adam", w, dw, config)
    m = config.get("m")
    v = config.get("v")
    m = np.zeros_like(g) if m is None else m
    v = np.zeros_like(g) if v is None else v
    t = config.get("t", 0) + 1
    m = config["beta1"] * m + (1 - config["beta1"]) * g
    v = config["beta2"] * v + (1 - config["beta2"]) * g * g
    config.update(m=m, v=v, t=t)
    m_hat = m / (1 - config["beta1"] ** t)
    v_hat = v / (1 - config["beta2"] ** t)
    return w - config["lr"] * m_hat / (np.sqrt(v_hat) + config["eps"]), config


RULES: dict[str, Rule] = {"sgd": sgd, "momentum": momentum, "nesterov": nesterov, "rmsprop": rmsprop, "adam": adam}


class NumpyOptimizer(torch.optim.Optimizer):
    """A numpy update rule of this module as a torch optimizer:

        opt = NumpyOptimizer(model.parameters(), "adam", lr=1e-3)
        fit(model, data, optimizer=opt, schedule=None)

    Hyperparameters live in the param groups (so a learning-rate scheduler can change lr); the
    rule's state (velocity, averages, step count) is kept per parameter in self.state.
    """

    def __init__(self, params, rule: str, **hyper):
        if rule not in RULES:
            raise ValueError(f"unknown rule {rule!r}; expected one of {', '.join(RULES)}")
        defaults = {**_DEFAULTS[rule], **hyper}
        unknown = set(hyper) - set(_DEFAULTS[rule])
        if unknown:
            raise ValueError(f"{rule}: unknown hyperparameter(s) {sorted(unknown)}; it takes {sorted(_DEFAULTS[rule])}")
        self.rule = rule
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        update = RULES[self.rule]
        for group in self.param_groups:
            hyper = {k: group[k] for k in _DEFAULTS[self.rule]}
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                config = {**state, **hyper}
                w = p.detach().cpu().numpy()
                dw = p.grad.detach().cpu().numpy()
                new_w, config = update(w, dw, config)
                state.update({k: v for k, v in config.items() if k not in hyper})
                p.copy_(torch.from_numpy(np.asarray(new_w, dtype=w.dtype)).to(p.device))
        return loss
