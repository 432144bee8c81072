"""Checks of the training-history figure from the lecture (two panels side by side: loss | accuracy).

The figure that answers is found by its content among those the student displayed (kept by
``autograder.grading.kernel.capture`` in the grading kernel): the last one drawing a series of the History, else
the last with two panels of lines, else the last one shown (``history_figure``), so an exploratory figure shown
after it changes nothing.  A line is named by what the legend shows for it, whatever made the legend
(``legend_names``): ``label=`` and ``plt.legend()``, ``plt.legend(['loss', 'val_loss'])`` (texts given to the
lines in order), one ``fig.legend()`` for both panels, or proxy handles such as seaborn's (an entry whose handle is
not a drawn line names the one line of the panel that looks like it: colour, line style, marker).
Every way of drawing it counts the same: ``plt.figure`` with
``plt.subplot(1,2,k)``, ``plt.subplots(1, 2, figsize=...)``, ``fig.add_subplot(121)``,
``ax.plot``, x values, titles, axis labels, grids, colorbars (their axes are not panels)
and twin axes (``ax.twinx()`` shares its panel's place).  Lines are identified by the
data they draw, compared with ``result.history``; a line's label matters only in the
legend, and where it names a *different* History key than the data it draws.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from autograder.checks import history
from autograder.checks.errors import CheckFailed, NotAttempted, variable
from autograder.grading.kernel import capture
from autograder.grading.kernel.evidence import FIGURES

SIDES = ("左（1つ目）", "右（2つ目）")
COLORBAR = "<colorbar>"
"""``ax.get_label()`` of the axes matplotlib makes for a colorbar."""

SUBPLOTS_HINT = ("plt.subplot(1,2,1) と plt.subplot(1,2,2)（または fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4))）"
                 "で横に2つ並べてください。")


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


def _draws_any(figure, hist: dict) -> bool:
    return any(_matches(line, values) for ax in figure.axes for line in ax.get_lines() for values in hist.values())


def answering_figure(figures: list, hist: dict | None = None):
    """Of ``figures`` (the figures shown, oldest first), the one that answers the history question, by its content:
    the last that draws a series of ``hist`` (``result.history``), else the last with two panels drawing lines, else
    the last one.  Raises ``NotAttempted`` if there is none.  (A plain hidden test passes ``shown_figures``.)"""
    if not figures:
        raise NotAttempted("グラフが表示されていません。作図のセルを実行して plt.show() で表示しましょう。")
    drawing = [figure for figure in figures if hist and _draws_any(figure, hist)]
    two = [figure for figure in figures if len(panels(figure)) == 2 and any(p.lines() for p in panels(figure))]
    return (drawing or two or figures)[-1]


def history_figure(ns: dict, hist: dict | None = None):
    """``answering_figure`` of the figures the notebook showed (``shown``)."""
    return answering_figure(shown(ns), hist)


@dataclass(frozen=True)
class Panel:
    """One place of the figure's grid that is drawn on: its axes (more than one with ``twinx``)."""

    grid: tuple[int, int]
    """Rows and columns of the figure's grid (``(1, 2)`` for the lecture's figure)."""

    row: int
    column: int
    axes: tuple
    """The axes at this place (a real matplotlib Axes or the evidence's description of one)."""

    def lines(self) -> list:
        return [line for ax in self.axes for line in ax.get_lines()]

    def legend_texts(self) -> list[str] | None:
        """The names shown in this panel's legends (one per twin axes, merged); None if it has no legend."""
        legends = [ax.get_legend() for ax in self.axes if ax.get_legend() is not None]
        if not legends:
            return None
        return [text.get_text() for legend in legends for text in legend.get_texts()]


def _place(ax) -> tuple | None:
    """``(grid, row, column)`` of ``ax`` in the figure's own grid; None for axes outside any grid or colorbars."""
    spec = ax.get_subplotspec()
    if spec is None or ax.get_label() == COLORBAR:
        return None
    spec = spec.get_topmost_subplotspec()  # a colorbar nests its parent in a sub-grid
    return tuple(int(v) for v in spec.get_geometry()[:2]), int(spec.rowspan.start), int(spec.colspan.start)


def panels(figure) -> list[Panel]:
    """The figure's panels, top to bottom and left to right (twin axes merged, legends and colorbars excluded)."""
    places: dict[tuple, list] = {}
    for ax in figure.axes:
        place = _place(ax)
        if place is not None:
            places.setdefault(place, []).append(ax)
    return [Panel(grid, row, column, tuple(axes))
            for (grid, row, column), axes in sorted(places.items(), key=lambda item: (item[0][1], item[0][2]))]


def check_layout(figure, figsize=(12, 4)) -> None:
    """Raise ``CheckFailed`` unless the figure is ``figsize`` inches with two panels side by side."""
    found = panels(figure)
    grids = sorted({panel.grid for panel in found})
    if len(found) != 2 or grids != [(1, 2)]:
        raise CheckFailed(f"グラフが {len(found)} 個あります（縦・横の並び: {grids}）。{SUBPLOTS_HINT}")
    size = tuple(round(float(v), 2) for v in figure.get_size_inches())
    if not np.allclose(size, figsize):
        raise CheckFailed(
            f"図の大きさが {size}（横 {size[0]:g}・縦 {size[1]:g} インチ）です。横 {figsize[0]}・縦 {figsize[1]} にするため、"
            f"最初に plt.figure(figsize={tuple(figsize)}) と書きましょう"
            f"（plt.subplots なら plt.subplots(1, 2, figsize={tuple(figsize)})）。"
        )


def _matches(line, values) -> bool:
    ydata = np.asarray(line.get_ydata(), dtype=float)
    values = np.asarray(values, dtype=float)
    return ydata.shape == values.shape and np.allclose(ydata, values, rtol=1e-6, atol=1e-9)


_SAME = {"acc": "accuracy", "categorical_accuracy": "accuracy", "binary_accuracy": "accuracy"}


def _canonical(name: str) -> str:
    """A History key (or a label naming one) by the lecture's name: ``val_acc`` → ``val_accuracy``."""
    name = name.strip()
    validation = name.startswith("val_")
    base = name[4:] if validation else name
    base = _SAME.get(base, base)
    return f"val_{base}" if validation else base


def named_key(label: str, hist: dict) -> str | None:
    """The History key ``label`` names (``'val_loss'``, or ``'accuracy'`` for ``'acc'``), or None if it names none."""
    wanted = _canonical(str(label))
    return next((key for key in hist if _canonical(key) == wanted), None)


def _hex(color) -> str:
    from matplotlib.colors import to_hex

    try:
        return to_hex(color, keep_alpha=False)
    except (ValueError, TypeError):
        return str(color)


def _look(artist) -> tuple:
    """Colour, line style and marker of a line or a legend handle (empty where it has none)."""
    def read(getter):
        method = getattr(artist, getter, None)
        try:
            return method() if callable(method) else ""
        except Exception:  # noqa: BLE001 -- a handle without this property (a patch) has none
            return ""

    return _hex(read("get_color")), str(read("get_linestyle")), str(read("get_marker"))


def _handles(legend) -> list:
    """The handles a legend was made from (kept by ``capture``; a rebuilt legend has them as ``legend_handles``),
    else matplotlib's copies drawn in the legend box (matched with their lines by their look only)."""
    kept = list(getattr(legend, capture.HANDLES, None) or [])
    if kept and len(kept) == len(legend.get_texts()):
        return kept
    return list(getattr(legend, "legend_handles", None) or getattr(legend, "legendHandles", None) or [])


def _has_data(line) -> bool:
    return len(np.asarray(line.get_ydata()).ravel()) > 0


def legend_names(figure, panel: Panel) -> dict[int, str] | None:
    """``id(line)`` → the text the legend shows for it, for the lines of ``panel``; None if no legend covers the
    panel (none of its axes has one and no figure legend names one of its lines).

    An entry names a line when its handle is that line (``label=`` with ``plt.legend()``, ``plt.legend(['loss',
    'val_loss'])``, ``fig.legend()``); an entry whose handle is no line of the figure (a proxy, as seaborn draws) names
    the one line of the panel that looks the same (colour, line style, marker), none if several do; so does an
    entry whose handle is a line without data (seaborn adds such proxies to the axes).  A legend read
    without its handles (older evidence) names the lines whose label is one of its texts."""
    lines = panel.lines()
    everywhere = {id(line) for ax in figure.axes for line in ax.get_lines()}
    own = [ax.get_legend() for ax in panel.axes if ax.get_legend() is not None]
    names: dict[int, str] = {}
    covered = bool(own)
    for legend in own + list(getattr(figure, "legends", None) or []):
        texts = [str(text.get_text()) for text in legend.get_texts()]
        handles = _handles(legend)
        if not handles:
            for line in lines:
                if str(line.get_label()) in texts:
                    names[id(line)] = str(line.get_label())
            continue
        for text, handle in zip(texts, handles):
            named = [line for line in lines if line is handle and _has_data(line)]
            if not named and (id(handle) not in everywhere or not _has_data(handle)):  # a proxy (seaborn's are empty lines)
                named = [line for line in lines if _has_data(line) and _look(line) == _look(handle)]
            if len(named) == 1:
                names.setdefault(id(named[0]), text)
                covered = True
    return names if covered else None


def _shown_names(figure, panel: Panel) -> dict[int, str]:
    """``id(line)`` → the name a reader sees for it: its legend entry's text, else its label."""
    names = legend_names(figure, panel) or {}
    return {id(line): names.get(id(line), str(line.get_label())) for line in panel.lines()}


def check_panel(figure, index: int, hist: dict, keys: tuple[str, str]) -> None:
    """Raise ``CheckFailed`` unless panel ``index`` draws ``hist[key]`` for each of ``keys``, under no other key's name.

    A line is recognised by its data (with or without x values); its name (what the legend shows for it, else its
    label) may be anything ('train', '検証', ...) except the name of another History key.
    """
    found = panels(figure)
    side = SIDES[index]
    if len(found) <= index:
        raise CheckFailed(f"{side}のグラフがありません。{SUBPLOTS_HINT}")
    lines = found[index].lines()
    shown_as = _shown_names(figure, found[index])
    for key in keys:
        if key not in hist:
            raise CheckFailed(f"result.history に '{key}' がありません（あるのは {list(hist)}）。")
    # A line named with one History key that draws another key's data: swapped labels stay wrong.
    for key in keys:
        for line in lines:
            label = shown_as[id(line)]
            if named_key(label, hist) == key and not _matches(line, hist[key]):
                actual = [other for other in hist if _matches(line, hist[other])]
                if actual:
                    raise CheckFailed(
                        f"{side}のグラフの label='{label}' の線が result.history['{actual[0]}'] を描いています。"
                        f"result.history['{key}'] とラベル '{key}' の組み合わせを確認しましょう。"
                    )
    for key in keys:
        drawn = [line for line in lines if _matches(line, hist[key])]
        if not drawn:
            labels = [shown_as[id(line)] for line in lines if not shown_as[id(line)].startswith("_")]
            raise CheckFailed(
                f"{side}のグラフに result.history['{key}'] の線がありません"
                f"（描かれている線: {len(lines)} 本{'、ラベル ' + str(labels) if labels else ''}）。"
                f"plt.plot(result.history['{key}'], label='{key}') を描きましょう。"
            )
        named = [named_key(shown_as[id(line)], hist) for line in drawn]
        if all(name is not None and name != key for name in named):
            raise CheckFailed(
                f"{side}のグラフの result.history['{key}'] の線に label='{shown_as[id(drawn[0])]}' が付いています。"
                f"これは result.history['{named[0]}'] の名前です。label='{key}' にしましょう。"
            )


def check_legends(figure, hist: dict | None = None) -> None:
    """Raise ``CheckFailed`` unless every panel with lines has a legend naming each line it must name.

    With ``hist`` (``result.history``) those are the lines that draw one of its series (a reference line such as
    ``plt.axhline`` needs no name); without it, every line.  A legend is whatever shows names for the lines, read
    from what it shows (``legend_names``): the panel's own legend or one ``fig.legend()`` for both, its entries made
    from ``label=``, from a list of texts, or from proxy handles.
    """
    drawn = [panel for panel in panels(figure) if panel.lines()]
    if not drawn:
        raise CheckFailed("線が描かれたグラフがありません。")
    for index, panel in enumerate(drawn):
        side = SIDES[index] if index < len(SIDES) else f"{index + 1}つ目"
        names = legend_names(figure, panel)
        if names is None:
            raise CheckFailed(f"{side}のグラフに凡例がありません。plt.plot(...) のあとに plt.legend()（ax.legend()）を書きましょう。")
        texts = panel.legend_texts() or []
        lines = panel.lines()
        if hist is not None:
            lines = [line for line in lines if any(_matches(line, values) for values in hist.values())] or lines
        unnamed = [line for line in lines if id(line) not in names]
        anonymous = [line for line in unnamed if str(line.get_label()).startswith("_")]
        if anonymous:
            raise CheckFailed(
                f"{side}のグラフの凡例に線の名前がありません（名前のない線が {len(anonymous)} 本あります）。"
                "plt.plot(result.history['loss'], label='loss') のように label= を付けましょう。"
            )
        if unnamed:
            missing = sorted({str(line.get_label()) for line in unnamed})
            raise CheckFailed(f"{side}のグラフの凡例に {missing} がありません（凡例にあるのは {texts}）。"
                              "線を描いたあとで plt.legend() を書きましょう。")


PANELS = {"loss": (0, ("loss", "val_loss")), "accuracy": (1, ("accuracy", "val_accuracy"))}


def check_history_figure(ns: dict, part: str, made_by: str, genuine=None,
                         accuracy: tuple[str, ...] = history.CATEGORICAL) -> None:
    """One mark of the lecture's history figure: ``part`` is ``layout``, ``loss``, ``accuracy`` or ``legend``, judged on
    the figure found by its content (``history_figure``; ``ns["result"]``, when collected, says what the History is).

    ``made_by`` names the question whose ``result = model.fit(...)`` the figure draws;
    ``genuine(result)`` raises ``CheckFailed`` if that History is not its model's (a History written by
    hand earns no point for drawing it).  ``accuracy`` lists the History keys accepted for the accuracy.
    """
    result = ns.get("result")
    hist = getattr(result, "history", None)
    hist = hist if isinstance(hist, dict) else None
    if part == "layout":
        check_layout(history_figure(ns, hist))
    elif part == "legend":
        check_legends(history_figure(ns, hist), hist)
    else:
        result = variable(ns, "result", made_by)
        hist = history.history_of(result)
        if genuine is not None:
            genuine(result)
        index, names = PANELS[part]
        keys = history.keys_of(hist, accuracy)
        check_panel(history_figure(ns, hist), index, hist, tuple(keys[name] for name in names))
