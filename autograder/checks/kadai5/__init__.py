"""The hidden checks of 課題5 (kadai5): an MLP on the Breast Cancer Wisconsin (Diagnostic) data.

The data set ships inside scikit-learn.  The checker makes the same fixed,
stratified split as the notebook's locked set-up cell, from its own copy of the
data, and measures accuracy and recall on it itself; the student's variables are
only compared with it.  Labels: 悪性 (malignant) = 1, 良性 (benign) = 0.
"""
from __future__ import annotations

import functools
import math

import numpy as np

from autograder.checks import code, compiled, figures, history, structure
from autograder.checks.errors import CheckFailed, NotAttempted, settings
from autograder.checks.errors import variable as _get
from autograder.checks.structure import dense, dropout
from autograder.grading.kernel.evidence import uses

ASSIGNMENT_ID = "kadai5"
SPLIT_SEED = 1  # train_test_split(..., random_state=1) in the set-up cell
FEATURES = 30
EPOCHS, BATCH_SIZE, VALIDATION_SPLIT = 100, 32, 0.2
MODEL = [dense(64, "relu", FEATURES), dense(64, "relu", 64), dense(1, "sigmoid", 64)]  # 6,209 parameters
CURE = [MODEL[0], dropout(0.5), MODEL[1], dropout(0.5), MODEL[2]]


@functools.cache
def split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``x_train_raw, x_test_raw, y_train, y_test`` exactly as the set-up cell makes them."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    data = load_breast_cancer()
    x = data.data.astype("float32")
    y = (data.target == 0).astype("float32")
    return tuple(train_test_split(x, y, test_size=0.2, stratify=y, random_state=SPLIT_SEED))


STANDARD_DEVIATIONS = (0, 1)
"""``ddof`` of the standard deviations a student may standardise with: NumPy's (and StandardScaler's) population
standard deviation, or the sample standard deviation (``std(ddof=1)``, pandas' default).  Both are computed from the
training data alone, which is what 問1 asks; they differ by a factor of sqrt(455/454) (0.1 %), which no later
question can notice, so a fair instructor gives the marks for either (issue 22)."""


def standardised(ddof: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The training and test features standardised with the training data's mean and standard deviation (``ddof``)."""
    x_train_raw, x_test_raw, _, _ = split()
    mean, std = x_train_raw.mean(axis=0), x_train_raw.std(axis=0, ddof=ddof)
    return (x_train_raw - mean) / std, (x_test_raw - mean) / std


def _array(ns: dict, name: str, made_by: str, shape: tuple) -> np.ndarray:
    value = _get(ns, name, made_by)
    try:
        array = np.asarray(value, dtype="float64")
    except (TypeError, ValueError):
        raise CheckFailed(f"{name} が数の配列ではありません（{type(value).__name__} です）。") from None
    if array.shape != shape:
        raise CheckFailed(f"{name} の形が {array.shape} です。{shape} になるはずです。")
    return array


def _close(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.allclose(a, b, rtol=1e-4, atol=1e-4))


@uses("x_train")
def check_scaled(ns: dict) -> None:
    """問1: ``x_train`` standardised with the training data's own mean and standard deviation (``ddof`` 0 or 1:
    ``STANDARD_DEVIATIONS``)."""
    expected, _ = standardised()
    x_train = _array(ns, "x_train", "問1", expected.shape)
    if any(_close(x_train, standardised(ddof)[0]) for ddof in STANDARD_DEVIATIONS):
        return
    means = np.abs(x_train.mean(axis=0)).max()
    raise CheckFailed(
        f"x_train が標準化されていません（列ごとの平均の絶対値の最大が {means:.3g}、0 になるはずです）。"
        "mean = x_train_raw.mean(axis=0), std = x_train_raw.std(axis=0) として x_train = (x_train_raw - mean) / std と書きましょう。"
    )


@uses("x_test")
def check_no_leak(ns: dict) -> None:
    """問1: ``x_test`` standardised with the *training* statistics (no leakage from the test set; ``ddof`` 0 or 1)."""
    x_train_raw, x_test_raw, _, _ = split()
    x_test = _array(ns, "x_test", "問1", standardised()[1].shape)
    if any(_close(x_test, standardised(ddof)[1]) for ddof in STANDARD_DEVIATIONS):
        return
    everything = np.concatenate([x_train_raw, x_test_raw])
    if any(_close(x_test, (x_test_raw - everything.mean(axis=0)) / everything.std(axis=0, ddof=ddof))
           for ddof in STANDARD_DEVIATIONS):
        raise CheckFailed(
            "x_test を全データ（テストデータを含む）の平均・標準偏差で標準化しています。これはテストデータの情報が"
            "学習側に漏れる「リーク」です。平均と標準偏差は学習用データ x_train_raw だけから求めましょう。"
        )
    if any(_close(x_test, (x_test_raw - x_test_raw.mean(axis=0)) / x_test_raw.std(axis=0, ddof=ddof))
           for ddof in STANDARD_DEVIATIONS):
        raise CheckFailed(
            "x_test をテストデータ自身の平均・標準偏差で標準化しています。テストデータにも、学習用データ x_train_raw から"
            "求めた mean と std を使いましょう: x_test = (x_test_raw - mean) / std"
        )
    raise CheckFailed("x_test が、学習用データの平均と標準偏差で標準化した値になっていません。x_test = (x_test_raw - mean) / std と書きましょう。")


@uses("model")
def check_model(ns: dict) -> None:
    """問2: 30→64→64→1 with a sigmoid output (6,209 parameters), compiled with binary cross-entropy
    (``compiled.BINARY``: the string, the function or the class, not from logits)."""
    model = _get(ns, "model", "問2")
    structure.check_structure(model, MODEL, inputs=FEATURES)
    compiled.check_loss(model, compiled.BINARY, "loss='binary_crossentropy'",
                        "2つのクラス（悪性・良性）を sigmoid で出力するときは ")


def _validation_rows() -> int:
    """Rows Keras keeps for training with ``validation_split=0.2`` (it takes the last 20% for validation)."""
    rows = len(split()[0])
    return math.floor(rows * (1.0 - VALIDATION_SPLIT))


@uses("result", "x_train", "y_train")
def check_fit(ns: dict) -> None:
    """問3: ``result = model.fit(...)`` with epochs=100, batch_size=32, validation_split=0.2, and the History is its model's."""
    result = _get(ns, "result", "問3")
    steps = math.ceil(_validation_rows() / BATCH_SIZE)
    history.check_history(result, epochs=EPOCHS, steps=steps, accuracy=history.BINARY,
                          steps_explained=f"学習に使う {_validation_rows()} 人 ÷ batch_size={BATCH_SIZE} の切り上げ",
                          rows=len(split()[0]))
    _genuine(ns)(result)


def _genuine(ns: dict):
    """Whether a History is its model's, measured on the student's own validation rows (the last 20% of x_train)."""
    def check(result) -> None:
        x_train = np.asarray(_get(ns, "x_train", "問1"), dtype="float32")
        y_train = np.asarray(_get(ns, "y_train", "準備"), dtype="float32")
        history.check_history_is_models(result, *history.validation_rows(x_train, y_train, VALIDATION_SPLIT))

    return check


@uses("result", figures=True)
def check_plot_layout(ns: dict) -> None:
    """問4: figsize=(12,4), two panels side by side, on the figure that draws the History (``figures.history_figure``)."""
    figures.check_history_figure(ns, "layout", "問3")


@uses("result", "x_train", "y_train", figures=True)
def check_plot_loss(ns: dict) -> None:
    """問4: left panel draws loss and val_loss with their labels."""
    figures.check_history_figure(ns, "loss", "問3", _genuine(ns), accuracy=history.BINARY)


@uses("result", "x_train", "y_train", figures=True)
def check_plot_accuracy(ns: dict) -> None:
    """問4: right panel draws accuracy and val_accuracy with their labels."""
    figures.check_history_figure(ns, "accuracy", "問3", _genuine(ns), accuracy=history.BINARY)


@uses("result", figures=True)
def check_plot_legend(ns: dict) -> None:
    """問4: each panel's lines of the History are named by a legend, whatever made it (``figures.check_legends``)."""
    figures.check_history_figure(ns, "legend", "問3")


@uses("model")
def check_dropout(ns: dict) -> None:
    """問5: the model is rebuilt with Dropout(0.5) after each hidden Dense layer."""
    structure.check_structure(_get(ns, "model", "問5"), CURE, inputs=FEATURES)


@uses("model", "result", "x_train", "y_train", "x_test")
def check_early_stopping(ns: dict) -> None:
    """問5: trained with EarlyStopping(restore_best_weights=True) on the validation rows: the model is the one of the
    best val_loss.

    Keras takes the last 20% of ``x_train`` for validation; the checker evaluates the model there and compares with
    the smallest ``val_loss`` of the history.  When it differs, the hint names the cause: a ``val_loss`` measured on
    the test set (``validation_data=(x_test, y_test)``: the test set then chose the model) is told so, the rest is
    told to restore the best weights.
    """
    model = _get(ns, "model", "問5")
    result = _get(ns, "result", "問5")
    hist = history.history_of(result)
    if getattr(result, "model", None) is not model:
        raise CheckFailed("result が問5のモデルの学習結果ではありません。問5で result = model.fit(...) を実行しましょう。")
    if not hist.get("val_loss"):
        raise CheckFailed("result.history に val_loss がありません。validation_split=0.2 を指定しましょう。")
    x_train = np.asarray(_get(ns, "x_train", "問1"), dtype="float32")
    y_train = np.asarray(_get(ns, "y_train", "準備"), dtype="float32")
    x_val, y_val = history.validation_rows(x_train, y_train, VALIDATION_SPLIT)
    loss = _loss_on(model, x_val, y_val)
    best, epochs = min(hist["val_loss"]), len(hist["val_loss"])
    if math.isclose(loss, best, rel_tol=1e-3, abs_tol=1e-5):
        return
    if _validated_on_test(ns, model, hist):
        raise CheckFailed(
            "val_loss がテストデータで測られています（validation_data=(x_test, y_test) で学習しています）。"
            "テストデータで EarlyStopping の止めどころを決めると、テストデータがモデル選びに使われ、"
            "テストの成績が実力より良く見えてしまいます。validation_split=0.2 で学習用データの一部を検証に使いましょう。"
        )
    stopped = "途中で止まっています" if epochs < int((getattr(result, "params", None) or {}).get("epochs", epochs)) else f"{epochs} エポック最後まで学習しています"
    raise CheckFailed(
        f"最後のモデルの val_loss は {loss:.4f} ですが、いちばん小さい val_loss は {best:.4f}"
        f"（{int(np.argmin(hist['val_loss'])) + 1} エポック目）です（学習は{stopped}）。"
        "EarlyStopping(monitor='val_loss', patience=10, restore_best_weights=True) を callbacks=[...] に入れて学習しましょう。"
    )


def _loss_on(model, x, y) -> float:
    try:
        return float(np.ravel(model.evaluate(np.asarray(x, dtype="float32"), np.asarray(y, dtype="float32"), verbose=0))[0])
    except Exception as e:
        raise CheckFailed(f"model を評価できませんでした: {type(e).__name__}: {str(e)[:200]}") from e


def _validated_on_test(ns: dict, model, hist: dict) -> bool:
    """Whether the History's val_loss was measured on the test set: the model's loss on the test set (the student's
    ``x_test``, the checker's own labels) is the val_loss of the model kept (the smallest, or the last)."""
    if "x_test" not in ns:
        return False
    _, _, _, y_test = split()
    try:
        on_test = _loss_on(model, ns["x_test"], y_test)
    except CheckFailed:
        return False
    return any(math.isclose(on_test, float(v), rel_tol=1e-3, abs_tol=1e-5) for v in (min(hist["val_loss"]), hist["val_loss"][-1]))


def _predicted(model, x) -> np.ndarray:
    try:
        probabilities = np.asarray(model.predict(np.asarray(x, dtype="float32"), verbose=0))
    except Exception as e:
        raise CheckFailed(f"model で予測できませんでした: {type(e).__name__}: {e}。入力は30個、出力は Dense(1, activation='sigmoid') です。") from e
    if probabilities.shape != (len(x), 1):
        raise CheckFailed(f"予測の形が {probabilities.shape} です。最後の層を Dense(1, activation='sigmoid') にしましょう。")
    return (probabilities.ravel() > 0.5).astype("int64")


def _trained(ns: dict):
    model = _get(ns, "model", "問5")
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None or int(np.asarray(optimizer.iterations)) == 0:
        raise NotAttempted("model がまだ学習していません。問5の学習を実行しましょう。")
    return model


@uses("model")
def check_accuracy(ns: dict, threshold: float | None = None) -> None:
    """問6: the final model's accuracy on the test set, measured by the checker, reaches the threshold."""
    threshold = settings(ns).accuracy_threshold if threshold is None else threshold
    _, x_test = standardised()
    _, _, _, y_test = split()
    accuracy = float(np.mean(_predicted(_trained(ns), x_test) == y_test))
    if accuracy < threshold:
        raise CheckFailed(
            f"テストデータでの正解率は {accuracy:.4f} でした（目標 {threshold} 以上）。"
            "問5の Dropout と EarlyStopping の設定を見直しましょう。"
        )


def _recall(y_true: np.ndarray, predicted: np.ndarray) -> float:
    malignant = y_true == 1
    return float(np.mean(predicted[malignant] == 1))


@uses("model", "recall", "x_test", "In")
def check_recall(ns: dict, threshold: float | None = None) -> None:
    """問6: recall of the malignant class reaches the threshold, and ``recall`` holds it.

    ``recall`` must equal the recall of the model's predictions on the student's ``x_test``, and, where the notebook's
    code (IPython's ``In``, the cells as run) computes it with ``recall_score``, the truth must come first: with the
    arguments swapped it is the precision, which equals the recall only by a coincidence of one split (FP = FN), so
    the order is checked itself (``code.truth_first``).
    """
    threshold = settings(ns).recall_threshold if threshold is None else threshold
    model = _trained(ns)
    _, x_test = standardised()
    _, _, _, y_test = split()
    measured = _recall(y_test, _predicted(model, x_test))
    if measured < threshold:
        raise CheckFailed(
            f"悪性（1）の再現率 recall は {measured:.4f} でした（目標 {threshold} 以上）。悪性の見逃しが多すぎます。"
        )
    recall = _get(ns, "recall", "問6")
    own = _recall(y_test, _predicted(model, _get(ns, "x_test", "問1")))
    try:
        value = float(recall)
    except (TypeError, ValueError):
        raise CheckFailed(f"recall は1つの数になるはずです（いまは {recall!r}）。recall = recall_score(y_test, pred) と書きましょう。") from None
    swapped = code.swapped_arguments(code.sources(ns), "recall_score", assigned_to="recall", truth=("y_test", "y_true"))
    if swapped:
        raise CheckFailed(
            f"{swapped} と、正解とモデルの予測の順番が逆になっています。recall_score(正解, 予測) の順に書かないと、"
            "求まるのは再現率ではなく適合率（precision）です。recall = recall_score(y_test, pred) と書きましょう。"
        )
    if not math.isclose(value, own, abs_tol=1e-6):
        raise CheckFailed(
            f"recall が {value:.4f} ですが、model の予測（0.5 より大きければ悪性）から求めると {own:.4f} です。"
            "pred = (model.predict(x_test) > 0.5).astype('int').ravel() のあと recall = recall_score(y_test, pred) と書きましょう。"
        )


@uses("cm", "model", "x_test")
def check_confusion(ns: dict) -> None:
    """問7: ``cm = confusion_matrix(y_test, pred)`` of the final model (rows: truth 0/1, columns: prediction 0/1)."""
    cm = _array(ns, "cm", "問7", (2, 2))
    _, _, _, y_test = split()
    predicted = _predicted(_trained(ns), _get(ns, "x_test", "問1"))
    truth = y_test.astype("int64")
    expected = np.array([[np.sum((truth == t) & (predicted == p)) for p in (0, 1)] for t in (0, 1)])
    if not np.array_equal(cm, expected):
        hint = "confusion_matrix(y_test, pred) の順番（正解が先）を確認しましょう。" if np.array_equal(cm, expected.T) else \
            "問6の pred から cm = confusion_matrix(y_test, pred) を作りましょう。"
        raise CheckFailed(f"cm が {cm.astype(int).tolist()} ですが、model の予測から作ると {expected.tolist()} です。{hint}")
