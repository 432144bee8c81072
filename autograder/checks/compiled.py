"""Checks of how a model was compiled: the loss the question names.

A model trained with another loss (``loss='mean_squared_error'`` where the question asks for categorical
cross-entropy) may still reach a fair accuracy, so the loss is checked itself, at the question that compiles the
model, and the message names it there (never at a later question that measures the model).  The loss is read by its
name, however it was written: the string, Keras's function (``keras.losses.categorical_crossentropy``) or its class
(``keras.losses.CategoricalCrossentropy()``), before or after the evidence round trip.
"""
from __future__ import annotations

from autograder.checks.errors import CheckFailed

CATEGORICAL = ("categorical_crossentropy", "CategoricalCrossentropy")
"""Categorical cross-entropy (one-hot labels, softmax output): the string, the function and the class."""

BINARY = ("binary_crossentropy", "BinaryCrossentropy")
"""Binary cross-entropy (0/1 labels, one sigmoid output): the string, the function and the class."""


def loss_names(model) -> list[str]:
    """Every name ``model``'s compiled loss goes by, most readable first: the string it was given, a loss object's
    ``name`` (``'mean_squared_error'``) and class (``'MeanSquaredError'``), a function's name (a wrapped one's too);
    ``['None']`` if it was never compiled."""
    loss = getattr(model, "loss", None)
    if isinstance(loss, str) or loss is None:
        return [str(loss)]
    names = [getattr(loss, "name", None), getattr(loss, "__name__", None),
             getattr(getattr(loss, "fn", None), "__name__", None), type(loss).__name__]
    return list(dict.fromkeys(str(name) for name in names if isinstance(name, str) and name))


def loss_name(model) -> str:
    """The most readable name of ``model``'s compiled loss (``loss_names``)."""
    return loss_names(model)[0]


def uses_loss(model, accepted: tuple[str, ...]) -> bool:
    """Whether ``model`` was compiled with one of the ``accepted`` losses, by any of its names."""
    wanted = {_canonical(a) for a in accepted}
    return any(_canonical(name) in wanted for name in loss_names(model))


def check_loss(model, accepted: tuple[str, ...], write: str, why: str = "") -> None:
    """Raise ``CheckFailed`` unless ``model`` was compiled with one of the ``accepted`` losses, or with it computed
    from logits (the output layer already gives probabilities).  ``write`` is how the question writes it
    (``"loss='categorical_crossentropy'"``); ``why`` says why that loss (for the message)."""
    if not uses_loss(model, accepted):
        raise CheckFailed(f"損失関数が '{loss_name(model)}' です。{why}{write} で compile しましょう。")
    if getattr(getattr(model, "loss", None), "from_logits", False):
        raise CheckFailed(f"損失関数が from_logits=True です。出力はすでに確率なので、from_logits=True を外して {write} で"
                          "compile しましょう。")


def _canonical(name: str) -> str:
    """``CategoricalCrossentropy`` and ``categorical_crossentropy`` alike."""
    return str(name).replace("_", "").lower()
