"""Figure checks on figures drawn every way students draw them, captured after plt.show() as in the grading kernel,
and judged both live and after the evidence round trip (described to JSON in the kernel, rebuilt elsewhere)."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from autograder.checks import CheckFailed  # noqa: E402
from autograder.checks.figures import (  # noqa: E402
    check_history_figure,
    check_layout,
    check_legends,
    check_panel,
    last_figure,
    panels,
)
from autograder.grading import verdicts
from autograder.grading.kernel import (
    capture,  # noqa: E402
    evidence,
)

HISTORY = {"loss": [0.6, 0.4, 0.3], "val_loss": [0.5, 0.45, 0.44],
           "accuracy": [0.8, 0.85, 0.9], "val_accuracy": [0.82, 0.84, 0.85]}
ACC = {"acc" if k.endswith("accuracy") and not k.startswith("val") else "val_acc" if k.startswith("val_acc") else k: v
       for k, v in HISTORY.items()}


class History:
    """Stands for ``result``: a History with the given series."""

    def __init__(self, history):
        self.history, self.params, self.model = history, {}, None


def draw(labels=("loss", "val_loss", "accuracy", "val_accuracy"), legend=True, two=True, size=(12, 4)):
    plt.figure(figsize=size)
    for panel, keys in ((1, ("loss", "val_loss")), (2, ("accuracy", "val_accuracy"))):
        if two:
            plt.subplot(1, 2, panel)
        for key in keys:
            plt.plot(HISTORY[key], label=labels[list(HISTORY).index(key)])
        if legend:
            plt.legend()
    return shown()


def shown():
    plt.show()
    plt.close("all")  # what the inline backend does after showing
    return last_figure({})


@pytest.fixture(autouse=True)
def captured():
    capture.install()
    yield


def round_trip(tmp_path, figure_is_shown=True):
    """The namespace the checks see in the grading process: the displayed figures described, then rebuilt."""
    folder = tmp_path / "evidence"
    evidence.collect(folder, {"result": History(HISTORY)}, ("result",), figures=True)
    return verdicts.load(folder)


def accepted(figure, hist=HISTORY):
    keys = {"loss": ("loss", "val_loss"),
            "accuracy": ("acc", "val_acc") if "acc" in hist else ("accuracy", "val_accuracy")}
    check_layout(figure)
    check_panel(figure, 0, hist, keys["loss"])
    check_panel(figure, 1, hist, keys["accuracy"])
    check_legends(figure, hist)


def test_lecture_figure_passes_after_show(tmp_path):
    """Is the slide's figure, already closed by plt.show(), still found and accepted, live and rebuilt from evidence?"""
    figure = draw()
    assert plt.get_fignums() == []
    accepted(figure)
    ns = round_trip(tmp_path)
    accepted(last_figure(ns))
    for part in ("layout", "loss", "accuracy", "legend"):
        check_history_figure(ns, part, "問2")


def _subplots_oo():
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4))
    ax1.plot(HISTORY["loss"], label="loss")
    ax1.plot(HISTORY["val_loss"], label="val_loss")
    ax1.set_title("Loss")
    ax1.set_xlabel("epoch")
    ax1.legend()
    ax2.plot(HISTORY["accuracy"], label="accuracy")
    ax2.plot(HISTORY["val_accuracy"], label="val_accuracy")
    ax2.grid(True)
    ax2.legend()


def _subplots_array_with_x_values():
    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    epochs = range(1, 4)
    axes[0].plot(epochs, HISTORY["loss"], "o-", label="train")
    axes[0].plot(epochs, HISTORY["val_loss"], label="validation")
    axes[0].legend()
    axes[1].plot(epochs, HISTORY["accuracy"], label="訓練")
    axes[1].plot(epochs, HISTORY["val_accuracy"], label="検証")
    axes[1].legend()


def _add_subplot_without_fig_name():
    plt.figure(figsize=(12, 4)).add_subplot(121)
    plt.plot(HISTORY["loss"], label="loss")
    plt.plot(HISTORY["val_loss"], label="val_loss")
    plt.legend()
    plt.title("loss")
    plt.gcf().add_subplot(122)
    plt.plot(HISTORY["accuracy"], label="accuracy")
    plt.plot(HISTORY["val_accuracy"], label="val_accuracy")
    plt.axhline(0.85, color="gray")  # a reference line: needs no name in the legend
    plt.legend()


def _twin_axes_and_colorbar():
    fig = plt.figure(figsize=(12, 4))
    ax1 = fig.add_subplot(1, 2, 1)
    first = ax1.plot(HISTORY["loss"], label="loss")
    twin = ax1.twinx()
    second = twin.plot(HISTORY["val_loss"], "r", label="val_loss")
    ax1.legend(first + second, ["loss", "val_loss"])
    ax2 = fig.add_subplot(1, 2, 2)
    ax2.plot(HISTORY["accuracy"], label="accuracy")
    ax2.plot(HISTORY["val_accuracy"], label="val_accuracy")
    ax2.legend()
    fig.colorbar(ax2.scatter([0, 1, 2], HISTORY["accuracy"], c=[0, 1, 2], s=0), ax=ax2)


@pytest.mark.parametrize("draw_it", [_subplots_oo, _subplots_array_with_x_values, _add_subplot_without_fig_name,
                                     _twin_axes_and_colorbar])
def test_other_ways_of_drawing_pass(tmp_path, draw_it):
    """Do plt.subplots, ax.plot, x values, other labels, add_subplot, twin axes and a colorbar all earn every mark?"""
    draw_it()
    accepted(shown())
    ns = round_trip(tmp_path)
    for part in ("layout", "loss", "accuracy", "legend"):
        check_history_figure(ns, part, "問2")


def test_twin_axes_are_one_panel_and_colorbars_none():
    """Is a twinx panel with a colorbar beside it still two panels, left to right?"""
    _twin_axes_and_colorbar()
    figure = shown()
    assert len(figure.axes) == 4
    assert [(p.row, p.column, len(p.axes)) for p in panels(figure)] == [(0, 0, 2), (0, 1, 1)]


def test_acc_keys_are_the_accuracy(tmp_path):
    """Does metrics=['acc'] (History keys acc/val_acc) draw the accuracy panel, labelled 'acc' or 'accuracy'?"""
    plt.figure(figsize=(12, 4))
    plt.subplot(1, 2, 1)
    plt.plot(ACC["loss"], label="loss")
    plt.plot(ACC["val_loss"], label="val_loss")
    plt.legend()
    plt.subplot(1, 2, 2)
    plt.plot(ACC["acc"], label="accuracy")
    plt.plot(ACC["val_acc"], label="val_acc")
    plt.legend()
    accepted(shown(), ACC)
    ns = {**round_trip(tmp_path), "result": History(ACC)}
    check_history_figure(ns, "accuracy", "問2")


def test_swapped_labels_are_named():
    """Are swapped loss/val_loss labels reported with the data each line really shows?"""
    figure = draw(labels=("val_loss", "loss", "accuracy", "val_accuracy"))
    with pytest.raises(CheckFailed, match=r"label='loss' の線が result.history\['val_loss'\]"):
        check_panel(figure, 0, HISTORY, ("loss", "val_loss"))
    check_panel(figure, 1, HISTORY, ("accuracy", "val_accuracy"))


def test_label_of_another_key_is_named():
    """Is a label naming another History key than the data it draws reported, saying what was found?"""
    figure = draw(labels=("loss", "val_loss", "val_accuracy", "validation"))
    with pytest.raises(CheckFailed, match=r"label='val_accuracy' の線が result.history\['accuracy'\] を描いています"):
        check_panel(figure, 1, HISTORY, ("accuracy", "val_accuracy"))
    figure = draw(labels=("loss", "val_loss", "loss", "val_accuracy"))
    with pytest.raises(CheckFailed, match=r"result.history\['accuracy'\] の線に label='loss' が付いています"):
        check_panel(figure, 1, HISTORY, ("accuracy", "val_accuracy"))


def test_one_panel_small_figure_and_no_legend():
    """Are one panel, the default figure size and a missing legend each reported with what was found?"""
    with pytest.raises(CheckFailed, match="グラフが 1 個あります"):
        check_layout(draw(two=False))
    with pytest.raises(CheckFailed, match=r"図の大きさが \(6.4, 4.8\).*figsize=\(12, 4\)"):
        check_layout(draw(size=(6.4, 4.8)))
    with pytest.raises(CheckFailed, match="凡例がありません"):
        check_legends(draw(legend=False), HISTORY)


def test_missing_data_is_reported_with_what_is_drawn():
    """Is a panel without the val_loss line reported, naming the lines it does have?"""
    plt.figure(figsize=(12, 4))
    plt.subplot(1, 2, 1)
    plt.plot(HISTORY["loss"], label="loss")
    plt.subplot(1, 2, 2)
    figure = shown()
    with pytest.raises(CheckFailed, match=r"result.history\['val_loss'\] の線がありません（描かれている線: 1 本、ラベル \['loss'\]）"):
        check_panel(figure, 0, HISTORY, ("loss", "val_loss"))


def test_unlabelled_lines_lose_the_legend_mark_only(tmp_path):
    """Do lines without label= still count as the right data, and fail only the legend mark (an empty legend box)?"""
    figure = draw(labels=("_a", "_b", "_c", "_d"))
    check_layout(figure)
    check_panel(figure, 0, HISTORY, ("loss", "val_loss"))
    check_panel(figure, 1, HISTORY, ("accuracy", "val_accuracy"))
    with pytest.raises(CheckFailed, match="凡例に線の名前がありません"):
        check_legends(figure, HISTORY)
    ns = round_trip(tmp_path)
    with pytest.raises(CheckFailed, match="凡例に線の名前がありません"):
        check_history_figure(ns, "legend", "問2")
    check_history_figure(ns, "loss", "問2")


def test_a_history_line_left_out_of_the_legend_is_named():
    """Is a History line missing from a legend given explicit handles reported by its label?"""
    plt.figure(figsize=(12, 4))
    plt.subplot(1, 2, 1)
    first = plt.plot(HISTORY["loss"], label="loss")
    plt.plot(HISTORY["val_loss"], label="val_loss")
    plt.legend(handles=first)
    figure = shown()
    with pytest.raises(CheckFailed, match=r"凡例に \['val_loss'\] がありません"):
        check_legends(figure, HISTORY)


def test_evidence_keeps_panels_json_serialisable(tmp_path):
    """Does the evidence of a subplots figure with twin axes and a colorbar write plain JSON and rebuild the same panels?"""
    _twin_axes_and_colorbar()
    live = shown()
    ns = round_trip(tmp_path)
    rebuilt = last_figure(ns)
    assert [(p.grid, p.row, p.column, len(p.axes)) for p in panels(rebuilt)] == \
           [(p.grid, p.row, p.column, len(p.axes)) for p in panels(live)]
    assert [ax.get_label() for ax in rebuilt.axes].count("<colorbar>") == 1
    assert np.allclose(rebuilt.get_size_inches(), (12, 4))


# ---- the figure found by its content, legends read by what they show (issue 22)


def _lecture_then_exploration():
    draw()
    plt.figure()
    plt.hist(np.random.default_rng(0).normal(size=100))  # an exploratory figure shown after the answer
    plt.show()
    plt.close("all")


@pytest.mark.parametrize("live", [True, False], ids=["live", "rebuilt"])
def test_an_exploratory_figure_after_the_history_changes_nothing(tmp_path, live):
    """Is the history figure found by its content although another figure was shown after it, live and rebuilt?"""
    _lecture_then_exploration()
    ns = round_trip(tmp_path) if not live else {"result": History(HISTORY)}
    for part in ("layout", "loss", "accuracy", "legend"):
        check_history_figure(ns, part, "問2")


def _legend_of_texts():
    plt.figure(figsize=(12, 4))
    plt.subplot(1, 2, 1)
    plt.plot(HISTORY["loss"])
    plt.plot(HISTORY["val_loss"])
    plt.legend(["loss", "val_loss"])
    plt.subplot(1, 2, 2)
    plt.plot(HISTORY["accuracy"])
    plt.plot(HISTORY["val_accuracy"])
    plt.legend(["accuracy", "val_accuracy"])


def _one_figure_legend():
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4))
    ax1.plot(HISTORY["loss"], label="loss")
    ax1.plot(HISTORY["val_loss"], label="val_loss")
    ax2.plot(HISTORY["accuracy"], label="accuracy")
    ax2.plot(HISTORY["val_accuracy"], label="val_accuracy")
    fig.legend()


def _seaborn_lineplot():
    import pandas as pd
    import seaborn as sns

    frame = pd.DataFrame(HISTORY)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4))
    sns.lineplot(data=frame[["loss", "val_loss"]], ax=ax1)
    sns.lineplot(data=frame[["accuracy", "val_accuracy"]], ax=ax2)


@pytest.mark.parametrize("style", [_legend_of_texts, _one_figure_legend, _seaborn_lineplot])
def test_a_legend_counts_whatever_made_it(tmp_path, style):
    """Does a legend count whether it names the lines by plt.legend(['loss', 'val_loss']), by one fig.legend() for both
    panels or by seaborn's proxy handles, live and rebuilt from evidence?"""
    style()
    figure = shown()
    accepted(figure)
    ns = round_trip(tmp_path)
    accepted(last_figure(ns))
    for part in ("layout", "loss", "accuracy", "legend"):
        check_history_figure(ns, part, "問2")


def test_a_legend_of_swapped_texts_is_still_swapped(tmp_path):
    """Is plt.legend(['val_loss', 'loss']) (texts in the wrong order for the lines) still read as swapped names?"""
    plt.figure(figsize=(12, 4))
    plt.subplot(1, 2, 1)
    plt.plot(HISTORY["loss"])
    plt.plot(HISTORY["val_loss"])
    plt.legend(["val_loss", "loss"])
    plt.subplot(1, 2, 2)
    plt.plot(HISTORY["accuracy"], label="accuracy")
    plt.plot(HISTORY["val_accuracy"], label="val_accuracy")
    plt.legend()
    figure = shown()
    with pytest.raises(CheckFailed, match="label='loss' の線が result.history\\['val_loss'\\] を描いています"):
        check_panel(figure, 0, HISTORY, ("loss", "val_loss"))
    ns = round_trip(tmp_path)
    with pytest.raises(CheckFailed, match="label='loss' の線が result.history\\['val_loss'\\] を描いています"):
        check_history_figure(ns, "loss", "問2")


def _visible_self_check(assignment_id: str, grade_id: str) -> tuple[str, str]:
    """The release's set-up cell and the visible self-check of ``grade_id`` (what students run, without the toolkit)."""
    import nbformat
    from helpers import ROOT

    release = nbformat.read(ROOT / "release" / assignment_id / f"{assignment_id}.ipynb", as_version=4)
    cells = {c.metadata.get("nbgrader", {}).get("grade_id"): c.source for c in release.cells if c.cell_type == "code"}
    return cells["setup"], cells[grade_id]


@pytest.mark.parametrize("assignment_id,grade_id", [("kadai4", "q3_plot_legend"), ("kadai5", "q4_plot_legend"),
                                                    ("kadai6", "q4_plot_legend")])
@pytest.mark.parametrize("style", [None, _legend_of_texts, _one_figure_legend, _seaborn_lineplot],
                         ids=["lecture", "texts", "figure_legend", "seaborn"])
def test_the_visible_legend_self_checks_accept_what_grading_accepts(assignment_id, grade_id, style):
    """Does each assignment's visible legend self-check (run as students run it) accept every legend grading accepts,
    and still refuse a figure without legends, as grading does?"""
    setup, self_check = _visible_self_check(assignment_id, grade_id)
    helpers = setup[setup.index("def self_check"):]  # its functions, not its data loading
    ns: dict = {"np": np, "plt": plt}
    exec(compile(helpers, "setup", "exec"), ns)
    for legend in (True, False):
        if style is None or not legend:
            figure = draw(legend=legend)
        else:
            style()
            figure = plt.gcf()
        check_legend = (lambda: check_legends(figure, HISTORY))
        ns.update(fig=figure, result=History(HISTORY))
        if legend:
            check_legend()
            exec(compile(self_check, grade_id, "exec"), ns)
        else:
            with pytest.raises(CheckFailed):
                check_legend()
            with pytest.raises(AssertionError, match="凡例がない"):
                exec(compile(self_check, grade_id, "exec"), ns)
        plt.close("all")
