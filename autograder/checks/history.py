"""Checks of the History that ``model.fit`` returns (``result`` in the lecture)."""
from __future__ import annotations

import math

from autograder.checks.errors import CheckFailed

KEYS = ("loss", "accuracy", "val_loss", "val_accuracy")


def history_of(result) -> dict:
    """``result.history``; raises ``CheckFailed`` if ``result`` is not what ``model.fit`` returns."""
    history = getattr(result, "history", None)
    if not isinstance(history, dict):
        raise CheckFailed(
            f"result が model.fit(...) の戻り値ではありません（{type(result).__name__} です）。"
            "result = model.fit(...) と書きましょう。"
        )
    return history


def check_history(result, epochs: int, steps: int | None = None) -> None:
    """Raise ``CheckFailed`` unless ``result`` holds ``epochs`` finite values for each of ``KEYS``.

    ``steps`` is the expected batches per epoch: ``ceil(48000 / batch_size)`` with
    ``validation_split=0.2``, so it checks both settings at once.
    """
    history = history_of(result)
    missing = [key for key in KEYS if key not in history]
    if missing:
        hint = "validation_split=0.2 を指定しましたか？" if any(k.startswith("val_") for k in missing) else ""
        hint += " metrics=['accuracy'] で compile しましたか？" if "accuracy" in missing else ""
        raise CheckFailed(f"result.history に {missing} がありません（あるのは {list(history)}）。{hint}".strip())
    for key in KEYS:
        values = history[key]
        if len(values) != epochs:
            raise CheckFailed(
                f"result.history['{key}'] の値が {len(values)} 個です。epochs={epochs} で学習すると {epochs} 個になります。"
            )
        if not all(math.isfinite(float(v)) for v in values):
            raise CheckFailed(f"result.history['{key}'] に nan や inf が含まれています。学習がうまく進んでいません。")
    if steps is not None:
        params = getattr(result, "params", None) or {}
        if params.get("steps") != steps:
            raise CheckFailed(
                f"1エポックあたりのバッチ数が {params.get('steps')} です（期待値 {steps}）。"
                "batch_size と validation_split=0.2 の指定を確認しましょう。"
            )
