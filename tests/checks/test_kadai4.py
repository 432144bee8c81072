"""kadai4's checks that judge the model's own measurements: the free model's training data, 問4's score."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from autograder.checks import CheckFailed, fashion_mnist, kadai4


def test_a_model_trained_on_the_test_set_loses_the_free_question():
    """Is a model far better on the test images than on training images (it learnt the test set) refused, and an
    honest one (better on what it trained on) judged on its accuracy alone?"""
    handed = SimpleNamespace(accuracy_threshold=0.87)
    memorised = SimpleNamespace(predict=lambda x, verbose=0, batch_size=None: _answers(x, on_train=0.84, on_test=0.97))
    with pytest.raises(CheckFailed, match="テストデータ x_test, y_test で学習していませんか"):
        kadai4.check_free({"model": memorised, "__assignment__": handed})
    honest = SimpleNamespace(predict=lambda x, verbose=0, batch_size=None: _answers(x, on_train=0.91, on_test=0.89))
    kadai4.check_free({"model": honest, "__assignment__": handed})


def _answers(x, *, on_train: float, on_test: float) -> np.ndarray:
    """Probabilities right with the given share: on the test images (told by their pixels) or on training images."""
    (x_train, y_train), (x_test, y_test) = fashion_mnist.fashion_mnist_raw()
    flat_test = x_test.reshape(len(x_test), 784).astype("float32") / 255
    is_test = len(x) == len(x_test) and np.array_equal(np.asarray(x[:5]), flat_test[:5])
    labels, share = (y_test, on_test) if is_test else (y_train[:len(x)], on_train)
    wrong = np.random.default_rng(1).random(len(labels)) > share
    return np.eye(10, dtype="float32")[np.where(wrong, (labels + 1) % 10, labels)]


def test_score_of_another_loss_is_compared_by_its_accuracy_only():
    """Is 問4's score of a model compiled with mse (charged at 問1) compared by its accuracy only, so that the same
    mistake is not charged twice, while a wrong accuracy still loses?"""
    model = SimpleNamespace(loss="mean_squared_error",
                            predict=lambda x, verbose=0, batch_size=None: _answers(x, on_train=0.9, on_test=0.88))
    _, accuracy = fashion_mnist.measure(model)
    kadai4.check_evaluate({"model": model, "score": [0.017, accuracy]})
    with pytest.raises(CheckFailed, match="model.evaluate\\(x_test, y_test\\)"):
        kadai4.check_evaluate({"model": model, "score": [0.017, accuracy - 0.01]})
    model.loss = "categorical_crossentropy"
    with pytest.raises(CheckFailed, match="model.evaluate\\(x_test, y_test\\)"):
        kadai4.check_evaluate({"model": model, "score": [0.017, accuracy]})
