"""The loss a model was compiled with, read by its name however it was written and after the evidence round trip."""
from __future__ import annotations

import keras
import pytest
from keras.layers import Dense

from autograder.checks import CheckFailed, compiled


def _model(loss):
    model = keras.Sequential([keras.Input((4,)), Dense(3, activation="softmax")])
    model.compile(loss=loss, optimizer="adam")
    return model


def _reloaded(model, tmp_path):
    keras.saving.save_model(model, tmp_path / "m.keras")
    return keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)


@pytest.mark.parametrize("loss", ["categorical_crossentropy", keras.losses.categorical_crossentropy,
                                  keras.losses.CategoricalCrossentropy()], ids=["string", "function", "class"])
def test_every_form_of_the_loss_passes_live_and_reloaded(tmp_path, loss):
    """Do the string, the function and the class of categorical cross-entropy pass, live and reloaded?"""
    compiled.check_loss(_model(loss), compiled.CATEGORICAL, "loss='categorical_crossentropy'")
    compiled.check_loss(_reloaded(_model(loss), tmp_path), compiled.CATEGORICAL, "loss='categorical_crossentropy'")
    assert compiled.uses_loss(_model(loss), compiled.CATEGORICAL)


def test_another_loss_is_named_as_written(tmp_path):
    """Is mean squared error named as the student wrote it (live and reloaded), and from_logits=True refused?"""
    for model in (_model("mean_squared_error"), _reloaded(_model(keras.losses.MeanSquaredError()), tmp_path)):
        with pytest.raises(CheckFailed, match="損失関数が 'mean_squared_error' です。loss='categorical_crossentropy' で"):
            compiled.check_loss(model, compiled.CATEGORICAL, "loss='categorical_crossentropy'")
    with pytest.raises(CheckFailed, match="from_logits=True"):
        compiled.check_loss(_model(keras.losses.CategoricalCrossentropy(from_logits=True)), compiled.CATEGORICAL, "x")
    assert compiled.loss_name(keras.Sequential()) == "None"
