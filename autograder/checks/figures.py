"""Checks of the training-history figure from the lecture (plt.subplot(1,2,k), loss | accuracy).

The figure is the last one the student displayed, as kept by ``autograder.capture``
in the grading kernel; the data of its lines are compared with ``result.history``.
"""
from __future__ import annotations

import numpy as np

from autograder import capture
from autograder.checks import history
from autograder.checks.errors import CheckFailed, NotAttempted, variable
from autograder.evidence import FIGURES

SIDES = ("左（1つ目）", "右（2つ目）")


def shown(ns: dict) -> list:
    """Every figure the student's code displayed, oldest first: rebuilt from the evidence, or as captured here."""
    if FIGURES in ns:
        return ns[FIGURES]
    if not capture.is_installed():
        raise RuntimeError(
            "figure capture is not installed in this kernel: grade with `python -m autograder grade` "
            "(図の記録が有効ではありません。python -m autograder で採点してください)"
        )
    return capture.figures()


def last_figure(ns: dict):
    """The last figure the student's code displayed; raises ``NotAttempted`` if none."""
    figures = shown(ns)
    if not figures:
        raise NotAttempted("グラフが表示されていません。作図のセルを実行して plt.show() で表示しましょう。")
    return figures[-1]


def panels(figure) -> list:
    """The figure's plotting axes, left to right (legends and colorbars excluded)."""
    axes = [ax for ax in figure.axes if ax.get_subplotspec() is not None]
    return sorted(axes, key=lambda ax: ax.get_subplotspec().colspan.start)


def check_layout(figure, figsize=(12, 4)) -> None:
    """Raise ``CheckFailed`` unless the figure is ``figsize`` inches with two panels side by side."""
    axes = panels(figure)
    geometries = {ax.get_subplotspec().get_geometry()[:2] for ax in axes}
    if len(axes) != 2 or geometries != {(1, 2)}:
        raise CheckFailed(
            f"グラフが {len(axes)} 個あります（縦・横の並び: {sorted(geometries)}）。"
            "plt.subplot(1,2,1) と plt.subplot(1,2,2) で横に2つ並べてください。"
        )
    size = tuple(float(v) for v in figure.get_size_inches())
    if not np.allclose(size, figsize):
        raise CheckFailed(
            f"図の大きさが {size} です。最初に plt.figure(figsize={figsize}) と書きましょう。"
        )


def _matches(line, values) -> bool:
    ydata = np.asarray(line.get_ydata(), dtype=float)
    values = np.asarray(values, dtype=float)
    return ydata.shape == values.shape and np.allclose(ydata, values, rtol=1e-6, atol=1e-9)


def check_panel(figure, index: int, history: dict, keys: tuple[str, str]) -> None:
    """Raise ``CheckFailed`` unless panel ``index`` draws ``history[key]`` with ``label=key`` for each key."""
    axes = panels(figure)
    side = SIDES[index]
    if len(axes) <= index:
        raise CheckFailed(f"{side}のグラフがありません。plt.subplot(1,2,{index + 1}) のあとに {keys} の線を描きましょう。")
    lines = axes[index].get_lines()
    for key in keys:
        if key not in history:
            raise CheckFailed(f"result.history に '{key}' がありません。")
        labelled = [line for line in lines if line.get_label() == key]
        if not labelled:
            same_data = [line.get_label() for line in lines if _matches(line, history[key])]
            if same_data:
                raise CheckFailed(
                    f"{side}のグラフで result.history['{key}'] の線に label='{key}' が付いていません"
                    f"（いまのラベル: '{same_data[0]}'）。plt.plot(result.history['{key}'], label='{key}') と書きましょう。"
                )
            raise CheckFailed(
                f"{side}のグラフに result.history['{key}'] の線がありません。"
                f"plt.plot(result.history['{key}'], label='{key}') を描きましょう。"
            )
        if not _matches(labelled[0], history[key]):
            actual = [other for other in history if _matches(labelled[0], history[other])]
            what = f"result.history['{actual[0]}']" if actual else "別のデータ"
            raise CheckFailed(
                f"{side}のグラフの label='{key}' の線が {what} を描いています。"
                f"result.history['{key}'] とラベル '{key}' の組み合わせを確認しましょう。"
            )


def check_legends(figure) -> None:
    """Raise ``CheckFailed`` unless every panel with lines shows a legend naming its labelled lines."""
    drawn = [ax for ax in panels(figure) if ax.get_lines()]
    if not drawn:
        raise CheckFailed("線が描かれたグラフがありません。")
    for index, ax in enumerate(drawn):
        side = SIDES[index] if index < len(SIDES) else f"{index + 1}つ目"
        legend = ax.get_legend()
        if legend is None:
            raise CheckFailed(f"{side}のグラフに凡例がありません。plt.plot(...) のあとに plt.legend() を書きましょう。")
        shown = {text.get_text() for text in legend.get_texts()}
        if not shown:
            raise CheckFailed(f"{side}のグラフの凡例に線の名前がありません。plt.plot(..., label='loss') のように label= を付けましょう。")
        labels = {line.get_label() for line in ax.get_lines() if not line.get_label().startswith("_")}
        if not labels <= shown:
            raise CheckFailed(f"{side}のグラフの凡例に {sorted(labels - shown)} がありません。")


PANELS = {"loss": (0, ("loss", "val_loss")), "accuracy": (1, ("accuracy", "val_accuracy"))}


def check_history_figure(ns: dict, part: str, made_by: str, genuine=None) -> None:
    """One mark of the lecture's history figure: ``part`` is ``layout``, ``loss``, ``accuracy`` or ``legend``.

    ``made_by`` names the question whose ``result = model.fit(...)`` the figure draws;
    ``genuine(result)`` raises ``CheckFailed`` if that History is not its model's (a History written by
    hand earns no point for drawing it).
    """
    if part == "layout":
        check_layout(last_figure(ns))
    elif part == "legend":
        check_legends(last_figure(ns))
    else:
        result = variable(ns, "result", made_by)
        hist = history.history_of(result)
        if genuine is not None:
            genuine(result)
        index, keys = PANELS[part]
        check_panel(last_figure(ns), index, hist, keys)
