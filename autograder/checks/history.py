"""Checks of the History that ``model.fit`` returns (``result`` in the lecture)."""
from __future__ import annotations

import math

import numpy as np

from autograder.checks.errors import CheckFailed, judgeable

KEYS = ("loss", "accuracy", "val_loss", "val_accuracy")
"""The History's series, by the lecture's names (``accuracy`` stands for whichever accuracy key the metric gave)."""

CATEGORICAL = ("accuracy", "acc", "categorical_accuracy")
"""History keys of the accuracy of one-hot labels: ``metrics=['accuracy']``, ``['acc']``, ``['categorical_accuracy']``
or ``[keras.metrics.CategoricalAccuracy()]``."""

BINARY = ("accuracy", "acc", "binary_accuracy")
"""History keys of the accuracy of 0/1 labels with one sigmoid output: ``'accuracy'``, ``'acc'``, ``'binary_accuracy'``."""


def history_of(result) -> dict:
    """``result.history``; raises ``CheckFailed`` if ``result`` is not what ``model.fit`` returns."""
    history = getattr(result, "history", None)
    if not isinstance(history, dict):
        raise CheckFailed(
            f"result が model.fit(...) の戻り値ではありません（{type(result).__name__} です）。"
            "result = model.fit(...) と書きましょう。"
        )
    return history


def keys_of(history: dict, accuracy: tuple[str, ...] = CATEGORICAL) -> dict[str, str]:
    """The lecture's names (``KEYS``) → the keys this History really has (``accuracy`` → ``acc`` after ``metrics=['acc']``).

    A name whose series the History lacks maps to itself.
    """
    found = next((name for name in accuracy if name in history), accuracy[0])
    return {"loss": "loss", "val_loss": "val_loss", "accuracy": found, "val_accuracy": f"val_{found}"}


COMMON_BATCH_SIZES = (8, 16, 32, 64, 100, 128, 256, 512, 1000, 1024)
COMMON_SPLITS = (0.2, 0.1, 0.25, 0.3, 0.15)


def likely_settings(rows: int, steps: int) -> str:
    """The common ``batch_size``/``validation_split`` that give ``steps`` batches per epoch from ``rows`` training rows.

    ``rows`` are all the rows given to ``fit``; returns e.g. ``"batch_size=32, validation_split=0.2"``, or "".
    """
    for split in COMMON_SPLITS:
        for batch_size in COMMON_BATCH_SIZES:
            if math.ceil(math.floor(rows * (1 - split)) / batch_size) == steps:
                return f"batch_size={batch_size}, validation_split={split}"
    for batch_size in COMMON_BATCH_SIZES:
        if math.ceil(rows / batch_size) == steps:
            return f"batch_size={batch_size}, validation_split なし"
    return ""


def check_history(result, epochs: int, steps: int | None = None, accuracy: tuple[str, ...] = CATEGORICAL,
                  steps_explained: str = "", rows: int | None = None) -> None:
    """Raise ``CheckFailed`` unless ``result`` holds ``epochs`` finite values for each of ``KEYS``.

    ``accuracy`` lists the History keys accepted for the accuracy (``CATEGORICAL`` or ``BINARY``).
    ``steps`` is the expected batches per epoch: ``ceil(48000 / batch_size)`` with
    ``validation_split=0.2``, so it checks both settings at once; ``steps_explained`` says how it is computed,
    and ``rows`` (all the rows given to ``fit``) lets the message name the settings that were likely used.
    """
    history = history_of(result)
    keys = keys_of(history, accuracy)
    missing = [keys[key] for key in KEYS if keys[key] not in history]
    if missing:
        hint = "validation_split=0.2 を指定しましたか？" if any(k.startswith("val_") for k in missing) else ""
        if keys["accuracy"] in missing:
            hint += (f" metrics=['accuracy'] で compile しましたか？（正解率のキーは {' / '.join(accuracy)} の"
                     "どれでも構いません）")
        raise CheckFailed(f"result.history に {missing} がありません（あるのは {list(history)}）。{hint}".strip())
    for name in KEYS:
        key = keys[name]
        values = history[key]
        if len(values) != epochs:
            raise CheckFailed(
                f"result.history['{key}'] の値が {len(values)} 個です（{len(values)} エポック学習しています）。"
                f"epochs={epochs} で学習すると {epochs} 個になります。"
            )
        if not all(math.isfinite(float(v)) for v in values):
            raise CheckFailed(f"result.history['{key}'] に nan や inf が含まれています。学習がうまく進んでいません。")
    if steps is not None:
        params = getattr(result, "params", None) or {}
        found = params.get("steps")
        if found != steps:
            likely = likely_settings(rows, int(found)) if rows and isinstance(found, int) else ""
            raise CheckFailed(
                f"1エポックあたりのバッチ数が {found} です（期待値 {steps}{'：' + steps_explained if steps_explained else ''}）。"
                + (f"{likely} で学習したようです。" if likely else "")
                + "batch_size と validation_split=0.2 の指定を確認しましょう。"
            )


def validation_rows(x, y, validation_split: float = 0.2) -> tuple:
    """The rows ``fit(x, y, validation_split=...)`` keeps aside for validation: the last ``validation_split`` of each."""
    keep = math.floor(len(x) * (1.0 - validation_split))
    return x[keep:], y[keep:]


def check_history_is_models(result, x_val, y_val) -> None:
    """Raise ``CheckFailed`` unless ``result`` is what its own model's training returned.

    The checker evaluates ``result.model`` on the validation rows ``x_val, y_val``
    (the last 20% of the training data, which ``validation_split=0.2`` keeps
    aside): the loss must be the History's last ``val_loss`` (or its smallest,
    when EarlyStopping restored the best weights), and the model's optimizer must
    have taken at least as many steps as the History's epochs times batches per
    epoch.  A History written by hand, or kept from another model, fails here.
    """
    history = history_of(result)
    model = judgeable(getattr(result, "model", None))
    if model is None or not callable(getattr(model, "evaluate", None)):
        raise CheckFailed("result に学習したモデルがありません。result = model.fit(...) の戻り値をそのまま使いましょう。")
    values = [float(v) for v in history.get("val_loss", [])]
    steps = int((getattr(result, "params", None) or {}).get("steps") or 0)
    optimizer = getattr(model, "optimizer", None)
    done = int(np.asarray(optimizer.iterations)) if optimizer is not None else 0
    if done < steps * len(values):
        raise CheckFailed(
            f"モデルが学習したバッチ数は {done:,} ですが、result によると {steps * len(values):,}"
            f"（{len(values)} エポック × {steps}）のはずです。result = model.fit(...) の戻り値をそのまま使いましょう。"
        )
    if not values:
        return
    try:
        loss = float(np.ravel(model.evaluate(np.asarray(x_val), np.asarray(y_val), verbose=0, batch_size=1000))[0])
    except Exception as e:
        raise CheckFailed(f"検証用データでモデルを評価できませんでした: {type(e).__name__}: {str(e)[:200]}") from e
    if not any(math.isclose(loss, v, rel_tol=1e-3, abs_tol=1e-5) for v in (values[-1], min(values))):
        raise CheckFailed(
            f"result.history の最後の val_loss は {values[-1]:.4f} ですが、result のモデルを検証用データで測ると {loss:.4f} です。"
            "result = model.fit(...) の戻り値をそのまま使いましょう。"
        )
