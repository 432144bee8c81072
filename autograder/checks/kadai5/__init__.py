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

from autograder.checks import figures, history, structure
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


def standardised() -> tuple[np.ndarray, np.ndarray]:
    """The training and test features standardised with the training data's mean and standard deviation."""
    x_train_raw, x_test_raw, _, _ = split()
    mean, std = x_train_raw.mean(axis=0), x_train_raw.std(axis=0)
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
    """問1: ``x_train`` standardised with the training data's own mean and standard deviation."""
    expected, _ = standardised()
    x_train = _array(ns, "x_train", "問1", expected.shape)
    if not _close(x_train, expected):
        means = np.abs(x_train.mean(axis=0)).max()
        raise CheckFailed(
            f"x_train が標準化されていません（列ごとの平均の絶対値の最大が {means:.3g}、0 になるはずです）。"
            "mean = x_train_raw.mean(axis=0), std = x_train_raw.std(axis=0) として x_train = (x_train_raw - mean) / std と書きましょう。"
        )


@uses("x_test")
def check_no_leak(ns: dict) -> None:
    """問1: ``x_test`` standardised with the *training* statistics (no leakage from the test set)."""
    x_train_raw, x_test_raw, _, _ = split()
    _, expected = standardised()
    x_test = _array(ns, "x_test", "問1", expected.shape)
    if _close(x_test, expected):
        return
    everything = np.concatenate([x_train_raw, x_test_raw])
    if _close(x_test, (x_test_raw - everything.mean(axis=0)) / everything.std(axis=0)):
        raise CheckFailed(
            "x_test を全データ（テストデータを含む）の平均・標準偏差で標準化しています。これはテストデータの情報が"
            "学習側に漏れる「リーク」です。平均と標準偏差は学習用データ x_train_raw だけから求めましょう。"
        )
    if _close(x_test, (x_test_raw - x_test_raw.mean(axis=0)) / x_test_raw.std(axis=0)):
        raise CheckFailed(
            "x_test をテストデータ自身の平均・標準偏差で標準化しています。テストデータにも、学習用データ x_train_raw から"
            "求めた mean と std を使いましょう: x_test = (x_test_raw - mean) / std"
        )
    raise CheckFailed("x_test が、学習用データの平均と標準偏差で標準化した値になっていません。x_test = (x_test_raw - mean) / std と書きましょう。")


BINARY_LOSSES = ("binary_crossentropy", "BinaryCrossentropy")
"""``loss=`` of a compiled model that are binary cross-entropy: the string, the function
``keras.losses.binary_crossentropy`` and the object ``keras.losses.BinaryCrossentropy()`` (named so after reloading)."""


def _loss_name(model) -> str:
    loss = getattr(model, "loss", None)
    if isinstance(loss, str):
        return loss
    return getattr(loss, "__name__", None) or getattr(loss, "name", None) or type(loss).__name__


@uses("model")
def check_model(ns: dict) -> None:
    """問2: 30→64→64→1 with a sigmoid output (6,209 parameters), compiled with binary_crossentropy."""
    model = _get(ns, "model", "問2")
    structure.check_structure(model, MODEL, inputs=FEATURES)
    if _loss_name(model) not in BINARY_LOSSES:
        raise CheckFailed(
            f"損失関数が '{_loss_name(model)}' です。2つのクラス（悪性・良性）を sigmoid で出力するときは "
            "loss='binary_crossentropy' で compile しましょう。"
        )
    if getattr(getattr(model, "loss", None), "from_logits", False):
        raise CheckFailed(
            "損失関数が BinaryCrossentropy(from_logits=True) です。出力はすでに sigmoid で 0〜1 の確率なので、"
            "from_logits=True を外して loss='binary_crossentropy' で compile しましょう。"
        )


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


@uses(figures=True)
def check_plot_layout(ns: dict) -> None:
    """問4: figsize=(12,4), two panels side by side."""
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
    """問4: each panel has a legend naming the History's lines it draws."""
    figures.check_history_figure(ns, "legend", "問3")


@uses("model")
def check_dropout(ns: dict) -> None:
    """問5: the model is rebuilt with Dropout(0.5) after each hidden Dense layer."""
    structure.check_structure(_get(ns, "model", "問5"), CURE, inputs=FEATURES)


@uses("model", "result", "x_train", "y_train")
def check_early_stopping(ns: dict) -> None:
    """問5: trained with EarlyStopping(restore_best_weights=True): the model is the one of the best val_loss.

    Keras takes the last 20% of ``x_train`` for validation; the checker evaluates the
    model there and compares with the smallest ``val_loss`` of the history.
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
    try:
        loss = float(np.ravel(model.evaluate(x_val, y_val, verbose=0))[0])
    except Exception as e:
        raise CheckFailed(f"検証用データで model を評価できませんでした: {type(e).__name__}: {e}") from e
    best, epochs = min(hist["val_loss"]), len(hist["val_loss"])
    if not math.isclose(loss, best, rel_tol=1e-3, abs_tol=1e-5):
        stopped = "途中で止まっています" if epochs < int((getattr(result, "params", None) or {}).get("epochs", epochs)) else f"{epochs} エポック最後まで学習しています"
        raise CheckFailed(
            f"最後のモデルの val_loss は {loss:.4f} ですが、いちばん小さい val_loss は {best:.4f}"
            f"（{int(np.argmin(hist['val_loss'])) + 1} エポック目）です（学習は{stopped}）。"
            "EarlyStopping(monitor='val_loss', patience=10, restore_best_weights=True) を callbacks=[...] に入れて学習しましょう。"
        )


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


@uses("model", "recall", "x_test")
def check_recall(ns: dict, threshold: float | None = None) -> None:
    """問6: recall of the malignant class reaches the threshold, and ``recall`` holds it."""
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
