"""Figure checks on figures drawn the lecture's way, captured after plt.show() as in the grading kernel."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from autograder import capture  # noqa: E402
from autograder.checks import CheckFailed  # noqa: E402
from autograder.checks.figures import check_layout, check_legends, check_panel, last_figure  # noqa: E402

HISTORY = {"loss": [0.6, 0.4, 0.3], "val_loss": [0.5, 0.45, 0.44],
           "accuracy": [0.8, 0.85, 0.9], "val_accuracy": [0.82, 0.84, 0.85]}


def draw(labels=("loss", "val_loss", "accuracy", "val_accuracy"), legend=True, two=True, size=(12, 4)):
    plt.figure(figsize=size)
    for panel, keys in ((1, ("loss", "val_loss")), (2, ("accuracy", "val_accuracy"))):
        if two:
            plt.subplot(1, 2, panel)
        for key in keys:
            plt.plot(HISTORY[key], label=labels[list(HISTORY).index(key)])
        if legend:
            plt.legend()
    plt.show()
    plt.close("all")  # what the inline backend does after showing
    return last_figure({})


@pytest.fixture(autouse=True)
def captured():
    capture.install()
    yield


def test_lecture_figure_passes_after_show():
    """Is the slide's figure, already closed by plt.show(), still found and accepted?"""
    figure = draw()
    assert plt.get_fignums() == []
    check_layout(figure)
    check_panel(figure, 0, HISTORY, ("loss", "val_loss"))
    check_panel(figure, 1, HISTORY, ("accuracy", "val_accuracy"))
    check_legends(figure)


def test_swapped_labels_are_named():
    """Are swapped loss/val_loss labels reported with the data each line really shows?"""
    figure = draw(labels=("val_loss", "loss", "accuracy", "val_accuracy"))
    with pytest.raises(CheckFailed, match=r"label='loss' の線が result.history\['val_loss'\]"):
        check_panel(figure, 0, HISTORY, ("loss", "val_loss"))
    check_panel(figure, 1, HISTORY, ("accuracy", "val_accuracy"))


def test_one_panel_small_figure_and_no_legend():
    """Are one panel, the default figure size and a missing legend each reported?"""
    with pytest.raises(CheckFailed, match="グラフが 1 個あります"):
        check_layout(draw(two=False))
    with pytest.raises(CheckFailed, match=r"figsize=\(12, 4\)"):
        check_layout(draw(size=(6.4, 4.8)))
    with pytest.raises(CheckFailed, match="凡例がありません"):
        check_legends(draw(legend=False))


def test_legend_without_labels_counts_as_missing():
    """Is plt.legend() over unlabelled lines (an empty legend box) reported as a missing label?"""
    figure = draw(labels=("_a", "_b", "_c", "_d"))
    with pytest.raises(CheckFailed, match="label= を付けましょう"):
        check_legends(figure)
    with pytest.raises(CheckFailed, match="label='loss' が付いていません"):
        check_panel(figure, 0, HISTORY, ("loss", "val_loss"))
