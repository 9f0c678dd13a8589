import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from cnnkit import plots  # noqa: E402


def test_plot_functions_one_panel_per_function_with_both_curves():
    fig = plots.plot_functions({"relu": (lambda x: np.maximum(0, x), lambda x: (x > 0) * 1.0),
                                "id": (lambda x: x, np.ones_like)}, ncols=3)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in visible] == ["relu", "id"]
    assert all(len(ax.lines) == 4 for ax in visible)  # f, f' and the two axis lines
    x, y = visible[0].lines[0].get_data()
    assert np.allclose(y, np.maximum(0, x))


def test_plot_history_splits_loss_and_accuracy():
    fig = plots.plot_history({"train_loss": [2, 1], "val_loss": [2.1, 1.2], "val_acc": [0.5, 0.8]})
    assert [ax.get_ylabel() for ax in fig.axes] == ["loss", "accuracy"]
    assert len(fig.axes[0].lines) == 2 and len(fig.axes[1].lines) == 1
    with pytest.raises(ValueError, match="no keys ending in 'loss' or 'acc'"):
        plots.plot_history({"lr": [0.1]})


def test_show_images_grid():
    fig = plots.show_images(np.zeros((3, 1, 8, 8)), labels=[0, 1, 2], ncols=2)
    shown = [ax for ax in fig.axes if ax.images]
    assert len(shown) == 3 and shown[2].get_title() == "2"
