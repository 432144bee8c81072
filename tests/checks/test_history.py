"""History checks: keys, one finite value per epoch, batches per epoch."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from autograder.checks import CheckFailed
from autograder.checks.history import check_history


def result(epochs=30, steps=750, keys=("loss", "accuracy", "val_loss", "val_accuracy"), value=0.5):
    return SimpleNamespace(history={k: [value] * epochs for k in keys}, params={"steps": steps, "epochs": epochs})


def test_lecture_history_passes():
    """Does the history of fit(epochs=30, batch_size=64, validation_split=0.2) pass?"""
    check_history(result(), epochs=30, steps=750)


@pytest.mark.parametrize("bad, message", [
    (result(epochs=10), "10 個です"),
    (result(keys=("loss", "accuracy")), "validation_split=0.2"),
    (result(steps=938), "バッチ数が 938"),
    (result(value=float("nan")), "nan"),
    ([0.1, 0.2], "model.fit"),
])
def test_bad_histories_say_why(bad, message):
    """Do too few epochs, no validation, another batch size, nan and a non-History each fail clearly?"""
    with pytest.raises(CheckFailed, match=message):
        check_history(bad, epochs=30, steps=750)
