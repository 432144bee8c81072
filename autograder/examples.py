"""Example submissions made from an assignment: the student version filled in with the solution,
and the typical mistakes students make, each an edit of one answer cell.

The demo grades a few of them; the tests grade every one and check that each
mistake loses exactly the points of the checks it breaks.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

DELIMITER = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n?", re.MULTILINE)


@dataclass(frozen=True)
class Mistake:
    """A typical mistake: text replaced in one answer cell, and what grading must make of it."""

    name: str
    description: str
    """What the student did (Japanese)."""

    edits: tuple[tuple[str, str, str], ...]
    """``(grade_id of the answer cell, old text, new text)``; each old text must occur in that cell."""

    lost: frozenset[str]
    """grade_ids of the checks that must lose their points (all others keep theirs)."""

    says: str
    """A phrase the message of the first lost check must contain."""


PLOT_LOSS = "plt.plot(result.history['loss'], label='loss')\nplt.plot(result.history['val_loss'], label='val_loss')"

KADAI4_MISTAKES = (
    Mistake("wrong_units", "問1で Dense(64) にした", (("q1_code", "Dense(32, input_shape", "Dense(64, input_shape"),),
            frozenset({"q1_model"}), "ユニット数が 64 です"),
    Mistake("too_few_epochs", "問2で epochs=10 にした", (("q2_code", "epochs=30", "epochs=10"),),
            frozenset({"q2_fit"}), "10 個です"),
    Mistake("swapped_labels", "問3で loss と val_loss のラベルを入れ替えた",
            (("q3_code", PLOT_LOSS, PLOT_LOSS.replace("label='loss'", "label='TMP'")
              .replace("label='val_loss'", "label='loss'").replace("label='TMP'", "label='val_loss'")),),
            frozenset({"q3_plot_loss"}), "label='loss' の線が result.history['val_loss'] を描いています"),
    Mistake("missing_labels", "問3で label= を付けなかった",
            tuple(("q3_code", f", label='{key}')", ")") for key in ("loss", "val_loss", "accuracy", "val_accuracy")),
            frozenset({"q3_plot_loss", "q3_plot_accuracy", "q3_plot_legend"}), "label='loss' が付いていません"),
    Mistake("no_legend", "問3で plt.legend() を書かなかった", (("q3_code", "plt.legend()\n", ""),),
            frozenset({"q3_plot_legend"}), "凡例がありません"),
    Mistake("one_panel", "問3で plt.subplot を使わず1つのグラフに描いた",
            (("q3_code", "plt.subplot(1,2,1)\n", ""), ("q3_code", "plt.subplot(1,2,2)\n", "")),
            frozenset({"q3_plot_layout", "q3_plot_accuracy"}), "グラフが 1 個あります"),
    Mistake("syntax_error", "問4の predict のセルで括弧を閉じ忘れた",
            (("q4_predict_code", "model.predict(x_test)", "model.predict(x_test"),),
            frozenset({"q4_predict"}), "変数 test2 がありません"),
    Mistake("exception", "問5で activation='softmx' と書き間違えた（エラーで止まる）",
            (("q5_code", "Dense(10, activation='softmax')", "Dense(10, activation='softmx')"),),
            frozenset({"q5_neurons"}), "層の数が 1 です"),
    Mistake("missing_dropout", "問7で Dropout を入れなかった", (("q7_code", "model.add(Dropout(0.5))\n", ""),),
            frozenset({"q7_dropout"}), "層の数が 4 です"),
    Mistake("low_accuracy", "問8で小さなモデルを1エポックだけ学習した",
            (("q8_code", "Dense(512,", "Dense(4,"), ("q8_code", "epochs=12", "epochs=1")),
            frozenset({"q8_free"}), "目標"),
)


def _cells_by_id(notebook) -> dict[str, nbformat.NotebookNode]:
    return {c.metadata["nbgrader"]["grade_id"]: c for c in notebook.cells if "nbgrader" in c.metadata}


def filled_in(source: Path, release: Path, only: set[str] | None = None) -> nbformat.NotebookNode:
    """The release notebook with its answer cells holding the solution, as a student would submit it.

    ``only``: fill just the answer cells with these grade_ids (a student who stopped half-way);
    the others keep the release's stub.
    """
    solutions = _cells_by_id(nbformat.read(source, as_version=4))
    notebook = nbformat.read(release, as_version=4)
    if only is not None and (unknown := only - solutions.keys()):
        raise KeyError(f"no answer cells {sorted(unknown)} in {source}")
    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution") and (only is None or meta["grade_id"] in only):
            cell.source = DELIMITER.sub("", solutions[meta["grade_id"]].source)
    return notebook


def with_mistakes(notebook: nbformat.NotebookNode, *mistakes: Mistake) -> nbformat.NotebookNode:
    """A copy of ``notebook`` with each mistake's edits applied; raises ``ValueError`` if an edit no longer fits."""
    notebook = nbformat.from_dict(notebook)
    cells = _cells_by_id(notebook)
    for mistake in mistakes:
        for grade_id, old, new in mistake.edits:
            cell = cells[grade_id]
            if old not in cell.source:
                raise ValueError(f"mistake {mistake.name}: {old!r} is not in cell {grade_id}")
            cell.source = cell.source.replace(old, new)
    return notebook


def mistake(name: str) -> Mistake:
    return next(m for m in KADAI4_MISTAKES if m.name == name)
