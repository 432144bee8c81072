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
            frozenset({"q3_plot_legend"}), "凡例に線の名前がありません"),
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


KADAI3_MISTAKES = (
    Mistake("wrong_image", "問1で x_test[0] を表示した", (("q1_code", "x_test[1], 'gray'", "x_test[0], 'gray'"),),
            frozenset({"q1_image"}), "2枚目 x_test[1]"),
    Mistake("no_gray", "問1で 'gray' を付けなかった", (("q1_code", "x_test[1], 'gray'", "x_test[1]"),),
            frozenset({"q1_image"}), "画像の色が 'viridis' です"),
    Mistake("no_float32", "問2で x_train に astype('float32') を付けなかった",
            (("q2_code", "x_train.reshape(60000, 784).astype('float32') / 255", "x_train.reshape(60000, 784) / 255"),),
            frozenset({"q2_reshape"}), "x_train の型が float64 です"),
    Mistake("wrong_units", "問3で Dense(64) にした", (("q3_code", "Dense(32, input_shape", "Dense(64, input_shape"),),
            frozenset({"q3_model"}), "ユニット数が 64 です"),
    Mistake("too_few_epochs", "問4で epochs=20 にした", (("q4_code", "epochs=30", "epochs=20"),),
            frozenset({"q4_fit"}), "20 個です"),
    Mistake("rounded_to_1", "問5で np.around(test[1], 1) にした", (("q5_code", "np.around(test[1], 3)", "np.around(test[1], 1)"),),
            frozenset({"q5_around"}), "np.around(test[1], 3) と一致しません"),
    Mistake("syntax_error", "問5の predict のセルで括弧を閉じ忘れた", (("q5_code", "model.predict(x_test)", "model.predict(x_test"),),
            frozenset({"q5_predict", "q5_around"}), "変数 test がありません"),
)

KADAI5_MISTAKES = (
    Mistake("test_statistics", "問1で x_test をテストデータ自身の平均と標準偏差で標準化した",
            (("q1_code", "x_test = (x_test_raw - mean) / std",
              "x_test = (x_test_raw - x_test_raw.mean(axis=0)) / x_test_raw.std(axis=0)"),),
            frozenset({"q1_no_leak"}), "テストデータ自身の平均"),
    Mistake("all_data_statistics", "問1で全データ x の平均と標準偏差を使った（リーク）",
            (("q1_code", "mean = x_train_raw.mean(axis=0)\nstd = x_train_raw.std(axis=0)", "mean = x.mean(axis=0)\nstd = x.std(axis=0)"),),
            frozenset({"q1_scaled", "q1_no_leak"}), "x_train が標準化されていません"),
    Mistake("wrong_units", "問2で1層目を Dense(32) にした", (("q2_code", "Dense(64, input_shape", "Dense(32, input_shape"),),
            frozenset({"q2_model"}), "ユニット数が 32 です"),
    Mistake("wrong_loss", "問2で loss='mean_squared_error' にした",
            (("q2_code", "loss='binary_crossentropy'", "loss='mean_squared_error'"),),
            frozenset({"q2_model"}), "損失関数が 'mean_squared_error' です"),
    Mistake("too_few_epochs", "問3で epochs=50 にした", (("q3_code", "epochs=100", "epochs=50"),),
            frozenset({"q3_fit"}), "50 個です"),
    Mistake("no_legend", "問4で plt.legend() を書かなかった", (("q4_code", "plt.legend()\n", ""),),
            frozenset({"q4_plot_legend"}), "凡例がありません"),
    Mistake("no_dropout", "問5で Dropout を入れなかった", (("q5_code", "model.add(Dropout(0.5))\n", ""),),
            frozenset({"q5_dropout"}), "層の数が 3 です"),
    Mistake("no_restore", "問5で restore_best_weights=True を付けなかった",
            (("q5_code", ", restore_best_weights=True", ""),),
            frozenset({"q5_early_stopping"}), "restore_best_weights=True"),
    Mistake("syntax_error", "問6で recall_score の括弧を閉じ忘れた",
            (("q6_code", "recall_score(y_test, pred)", "recall_score(y_test, pred"),),
            frozenset({"q6_recall", "q7_confusion"}), "変数 recall がありません"),
)

MISTAKES = {"kadai3": KADAI3_MISTAKES, "kadai4": KADAI4_MISTAKES, "kadai5": KADAI5_MISTAKES}
"""Every assignment's typical mistakes, by assignment id."""


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


def mistake(name: str, assignment_id: str = "kadai4") -> Mistake:
    """The mistake called ``name`` of ``assignment_id``."""
    return next(m for m in MISTAKES[assignment_id] if m.name == name)
