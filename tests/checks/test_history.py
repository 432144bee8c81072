"""History checks: keys (with the aliases metrics= gives), one finite value per epoch, batches per epoch."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from autograder.checks import CheckFailed
from autograder.checks.history import BINARY, CATEGORICAL, check_history, keys_of


def result(epochs=30, steps=750, keys=("loss", "accuracy", "val_loss", "val_accuracy"), value=0.5):
    return SimpleNamespace(history={k: [value] * epochs for k in keys}, params={"steps": steps, "epochs": epochs})


def test_lecture_history_passes():
    """Does the history of fit(epochs=30, batch_size=64, validation_split=0.2) pass?"""
    check_history(result(), epochs=30, steps=750)


@pytest.mark.parametrize(("name", "accepted"), [
    ("acc", CATEGORICAL), ("categorical_accuracy", CATEGORICAL), ("acc", BINARY), ("binary_accuracy", BINARY)])
def test_metric_aliases_pass(name, accepted):
    """Do metrics=['acc'], 'categorical_accuracy' (one-hot) and 'binary_accuracy' (0/1) count as the accuracy?"""
    given = result(keys=("loss", name, "val_loss", f"val_{name}"))
    check_history(given, epochs=30, steps=750, accuracy=accepted)
    assert keys_of(given.history, accepted) == {"loss": "loss", "val_loss": "val_loss",
                                                "accuracy": name, "val_accuracy": f"val_{name}"}


def test_the_wrong_kind_of_accuracy_fails():
    """Is binary_accuracy on one-hot labels (kadai3/4) refused, naming the keys found and those accepted?"""
    with pytest.raises(CheckFailed, match=r"'accuracy', 'val_accuracy'\] がありません.*binary_accuracy.*accuracy / acc / categorical_accuracy"):
        check_history(result(keys=("loss", "binary_accuracy", "val_loss", "val_binary_accuracy")), epochs=30, steps=750)


@pytest.mark.parametrize("bad, message", [
    (result(epochs=10), "10 個です（10 エポック学習しています）。epochs=30"),
    (result(keys=("loss", "accuracy")), "validation_split=0.2"),
    (result(steps=938), "バッチ数が 938 です（期待値 750"),
    (result(value=float("nan")), "nan"),
    ([0.1, 0.2], "model.fit"),
])
def test_bad_histories_say_why(bad, message):
    """Do too few epochs, no validation, another batch size, nan and a non-History each fail clearly?"""
    with pytest.raises(CheckFailed, match=message):
        check_history(bad, epochs=30, steps=750)


def test_batches_per_epoch_name_the_likely_settings():
    """Does a wrong batch count say which batch_size / validation_split probably gave it?"""
    with pytest.raises(CheckFailed, match=r"バッチ数が 1500 です（期待値 750）。batch_size=32, validation_split=0.2 で学習したようです"):
        check_history(result(steps=1500), epochs=30, steps=750, rows=60_000)
    with pytest.raises(CheckFailed, match="batch_size=64, validation_split=0.1 で学習したようです"):
        check_history(result(steps=844), epochs=30, steps=750, rows=60_000)
