"""kadai4's checks that judge the model's own measurements: the free model's training data, 問4's score."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from autograder.checks import CheckFailed, fashion_mnist, kadai4
from autograder.grading.kernel import fit_record


def test_a_model_trained_on_the_test_set_loses_the_free_question():
    """When no fit of the model is known: is a model far better on the test images than on training images (it learnt
    the test set) refused, and an honest one (better on what it trained on) judged on its accuracy alone?"""
    handed = SimpleNamespace(accuracy_threshold=0.87)
    memorised = SimpleNamespace(predict=lambda x, verbose=0, batch_size=None: _answers(x, on_train=0.84, on_test=0.97))
    with pytest.raises(CheckFailed, match="テストデータ x_test, y_test で学習していませんか"):
        kadai4.check_free({"model": memorised, "__assignment__": handed})
    honest = SimpleNamespace(predict=lambda x, verbose=0, batch_size=None: _answers(x, on_train=0.91, on_test=0.89))
    kadai4.check_free({"model": honest, "__assignment__": handed})


def _fit(x, validation_split=0.0, validation_data=None):
    return fit_record.describe(x, validation_split, validation_data)


def test_what_fit_trained_on_decides_when_it_is_known():
    """Does the free question judge what ``fit`` received: test images (as they are, rescaled, reshaped, appended to
    x_train) lose with the hint, x_train (a part of it, validated on the test set) keeps the point whatever the
    accuracies look like, and rows of an unknown kind (a data set, a per-pixel standardisation) fall back on them?"""
    handed = SimpleNamespace(accuracy_threshold=0.87)
    (x_train, _), (x_test, _) = fashion_mnist.fashion_mnist_raw()
    train, test = x_train.reshape(60000, 784) / 255, x_test.reshape(10000, 784) / 255
    honest = SimpleNamespace(predict=lambda x, verbose=0, batch_size=None: _answers(x, on_train=0.91, on_test=0.89))
    looks_memorised = SimpleNamespace(predict=lambda x, verbose=0, batch_size=None: _answers(x, on_train=0.84, on_test=0.97))
    for wrong in ([_fit(test, 0.2)], [_fit(x_test[:, :, :, None])], [_fit(np.concatenate([train, test]))],
                  [_fit(train), _fit(test * 255 - 3)]):
        with pytest.raises(CheckFailed, match="テストデータ x_test, y_test で学習していませんか"):
            kadai4.check_free({"model": honest, "__assignment__": handed, fit_record.FITS: {"model": wrong}})
    for right in ([_fit(train, 0.2)], [_fit(train[:50000], validation_data=(test, None))], [_fit(x_train[5000:, :, :, None])],
                  [_fit(train.tolist()[:500])]):
        kadai4.check_free({"model": looks_memorised, "__assignment__": handed, fit_record.FITS: {"model": right}})
    standardised = (train - train.mean(axis=0)) / (train.std(axis=0) + 1e-7)
    for unknown in ([fit_record.FitSample("_BatchDataset")], [_fit(standardised)]):
        assert fashion_mnist.trained_on_test(unknown) is None
        kadai4.check_free({"model": honest, "__assignment__": handed, fit_record.FITS: {"model": unknown}})
        with pytest.raises(CheckFailed, match="学習用データでの正解率"):
            kadai4.check_free({"model": looks_memorised, "__assignment__": handed, fit_record.FITS: {"model": unknown}})


def test_test_images_changed_a_little_or_a_part_of_them_are_still_test_images():
    """Red team (issue 24's review of issue 22): are cheap disguises of training on the test set caught — a little
    noise, a mirror, the rows reversed or scaled, a part of x_test appended before or after x_train — and does honest
    work stay unflagged: x_train shuffled, as uint8 or float64, mirrored, shifted a pixel, with noise, augmented by its
    own mirror?  (Before: ``x_test + noise`` and a flipped ``x_test`` fell back on the weak accuracy gap, and 6,000 test
    images appended to x_train were judged trained on the training set, the fallback skipped.)"""
    (x_train, _), (x_test, _) = fashion_mnist.fashion_mnist_raw()
    rng = np.random.default_rng(0)
    test, train = x_test[:2000] / 255, x_train[:12000] / 255  # fit samples 64 rows evenly: a part judges as the whole
    wrong = {"noise": test + rng.normal(0, 0.02, test.shape), "mirrored": x_test[:, :, ::-1],
             "reversed": x_test[::-1], "scaled": test * 1.0001, "a part appended": np.concatenate([x_train, x_test[:6000]]),
             "a part first": np.concatenate([x_test[:6000], x_train]),
             "mirrored and noisy": test[:, :, ::-1] + rng.normal(0, 0.01, test.shape)}
    for name, x in wrong.items():
        assert fashion_mnist.trained_on_test([_fit(x)]) is True, name
    order = rng.permutation(len(x_train))
    honest = {"shuffled": x_train[order], "uint8": x_train, "float64": train.astype("float64"),
              "mirrored": x_train[:, :, ::-1], "augmented by its mirror": np.concatenate([x_train, x_train[:, :, ::-1]]),
              "validated on the test set": np.concatenate([x_train, x_test])}
    for name, x in honest.items():
        split = 1 / 7 if name == "validated on the test set" else 0.0  # Keras keeps the last 10,000 (x_test) aside
        assert fashion_mnist.trained_on_test([_fit(x, split)]) is False, name
    for name, x in {"shifted a pixel": np.roll(x_train, 1, axis=2), "noise 0.05": train + rng.normal(0, 0.05, train.shape),
                    "cropped": np.pad(x_train, ((0, 0), (1, 1), (1, 1)))[:, :28, :28]}.items():
        assert fashion_mnist.trained_on_test([_fit(x)]) is not True, name  # unknown: the accuracy gap judges


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
