"""Plotting helpers. Each returns the matplotlib Figure; notebooks end the cell with plt.show()."""
from __future__ import annotations

from typing import Callable, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

WIDTH = 10.0  # inches: fits a JupyterLab page at the default zoom


def plot_functions(funcs: Mapping[str, tuple[Callable, Callable]], x=None, ncols: int = 3,
                   ylim=(-1.5, 3.0)):
    """One panel per activation: the function f (solid) and its derivative f' (dashed).

    funcs: {name: (f, df)} with f, df element-wise on numpy arrays.
    """
    x = np.linspace(-4, 4, 801) if x is None else np.asarray(x)
    curves = {name: (f(x), df(x)) for name, (f, df) in funcs.items()}  # a failing f leaves no empty figure
    n = len(curves)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(WIDTH, 2.8 * nrows), squeeze=False)
    for ax, (name, (y, dy)) in zip(axes.ravel(), curves.items()):
        ax.plot(x, y, label="f(x)")
        ax.plot(x, dy, "--", label="f'(x)")
        ax.axhline(0, color="0.7", lw=0.8)
        ax.axvline(0, color="0.7", lw=0.8)
        ax.set_title(name)
        ax.set_ylim(*ylim)
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    axes.ravel()[0].legend(loc="upper left")
    fig.tight_layout()
    return fig


def plot_curves(curves: Mapping[str, Sequence[float]], xlabel: str = "step", ylabel: str = "loss",
                logy: bool = False, title: str | None = None, ax=None):
    """Plot named curves (e.g. {'train': [...], 'val': [...]}) against their index."""
    if ax is None:
        fig, ax = plt.subplots(figsize=(WIDTH * 0.6, 3.2))
    else:
        fig = ax.figure
    for label, ys in curves.items():
        ax.plot(np.arange(1, len(ys) + 1), ys, label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if logy:
        ax.set_yscale("log")
    if title:
        ax.set_title(title)
    if len(curves) > 1:
        ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_history(history: Mapping[str, Sequence[float]], xlabel: str = "epoch"):
    """Loss curves on the left, accuracy curves on the right.

    history: keys ending in 'loss' go left, keys ending in 'acc' go right, e.g.
    {'train_loss': [...], 'val_loss': [...], 'train_acc': [...], 'val_acc': [...]}.
    """
    losses = {k: v for k, v in history.items() if k.endswith("loss")}
    accs = {k: v for k, v in history.items() if k.endswith("acc")}
    if not losses and not accs:
        raise ValueError(f"history has no keys ending in 'loss' or 'acc': {list(history)}")
    fig, axes = plt.subplots(1, 2 if losses and accs else 1, figsize=(WIDTH, 3.2), squeeze=False)
    axes = list(axes.ravel())
    if losses:
        plot_curves(losses, xlabel, "loss", ax=axes.pop(0))
    if accs:
        plot_curves(accs, xlabel, "accuracy", ax=axes.pop(0))
    fig.tight_layout()
    return fig


def show_images(images, labels=None, ncols: int = 10, cmap: str = "gray"):
    """A grid of images. images: (N, H, W), (N, 1, H, W) or (N, 3, H, W) arrays in [0, 1]."""
    images = np.asarray(images)
    if images.ndim == 4:
        images = images[:, 0] if images.shape[1] == 1 else images.transpose(0, 2, 3, 1)
    n = len(images)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(WIDTH, WIDTH / ncols * nrows * 1.15), squeeze=False)
    for i, ax in enumerate(axes.ravel()):
        ax.axis("off")
        if i < n:
            ax.imshow(images[i], cmap=cmap if images[i].ndim == 2 else None, vmin=0, vmax=1)
            if labels is not None:
                ax.set_title(str(labels[i]), fontsize=9)
    fig.tight_layout()
    return fig
