"""What each fit trained on: recorded in the kernel without changing the training, carried by the evidence, and
judged in the grading process by comparing the rows with the checker's own copy of Fashion-MNIST."""
from __future__ import annotations

import json

import numpy as np
import pytest

from autograder.checks import fashion_mnist
from autograder.grading import verdicts
from autograder.grading.evidence_limits import EvidenceRefused
from autograder.grading.kernel import evidence, fit_record
from autograder.grading.kernel.fit_record import FITS


@pytest.fixture
def recording(monkeypatch):
    """``fit_record`` installed on ``keras.Model.fit`` for one test (the original put back after it)."""
    import keras

    monkeypatch.setattr(keras.Model, "fit", keras.Model.fit)
    monkeypatch.setattr(fit_record, "_installed", False)
    monkeypatch.setattr(fit_record, "_fits", fit_record.weakref.WeakKeyDictionary())
    assert fit_record.install()
    return keras


def _data():
    (x_train, y_train), (x_test, y_test) = fashion_mnist.fashion_mnist_raw()
    flat = lambda x: x.reshape(len(x), 784).astype("float32") / 255  # noqa: E731
    return flat(x_train[:3000]), np.eye(10)[y_train[:3000]], flat(x_test[:3000]), np.eye(10)[y_test[:3000]]


def _model(keras):
    model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(4, activation="relu"),
                              keras.layers.Dense(10, activation="softmax")])
    model.compile(loss="categorical_crossentropy", optimizer="Adam")
    return model


def test_each_fit_records_the_rows_it_trained_on(recording):
    """Does a fit remember its trained rows only (validation_split's last rows left out, validation_data never read),
    and a tf.data data set by its type, without iterating it?"""
    import tensorflow as tf

    x_train, y_train, x_test, y_test = _data()
    model = _model(recording)
    model.fit(x_test, y_test, epochs=1, batch_size=500, validation_split=0.2, verbose=0)
    model.fit(x_train, y_train, epochs=1, batch_size=500, validation_data=(x_test, y_test), verbose=0)
    model.fit(tf.data.Dataset.from_tensor_slices((x_train, y_train)).batch(500), epochs=1, verbose=0)
    first, second, third = fit_record.recorded(model)
    assert (first.data, first.rows, first.trained_rows) == ("ndarray", 3000, 2400)
    assert first.sample.shape == (fit_record.SAMPLE_ROWS, 784)
    assert np.array_equal(first.sample[0], x_test[0]) and np.array_equal(first.sample[-1], x_test[2399])
    assert (second.rows, second.trained_rows) == (3000, 3000) and np.array_equal(second.sample[-1], x_train[2999])
    assert third.rows is None and third.sample is None and "Dataset" in third.data
    assert fit_record.recorded(_model(recording)) is None  # a model never fitted has no fits


def test_fits_travel_with_the_model_evidence(tmp_path, recording):
    """Do the fits reach the grading process's namespace (``FITS``), and is a forged sample refused?"""
    x_train, y_train, x_test, y_test = _data()
    model = _model(recording)
    model.fit(x_test.reshape(-1, 28, 28)[:, :, :, None].reshape(-1, 784), y_test, epochs=1, verbose=0)
    evidence.collect(tmp_path / "q8", {"model": model}, ("model",), figures=False)
    ns = verdicts.load(tmp_path / "q8")
    [fit] = ns[FITS]["model"]
    assert fit.rows == 3000 and np.array_equal(fit.sample, fit_record.recorded(model)[0].sample)
    assert fit_record.fits_of(ns, "model") == ns[FITS]["model"]
    assert fashion_mnist.trained_on_test(ns[FITS]["model"]) is True

    manifest = json.loads((tmp_path / "q8" / evidence.MANIFEST).read_text())
    np.save(tmp_path / "q8" / manifest["names"]["model"]["fits"][0]["sample"], np.zeros((5000, 784), "float32"))
    with pytest.raises(EvidenceRefused):
        verdicts.load(tmp_path / "q8")


def test_a_model_without_watched_fits_has_none(tmp_path):
    """Outside a grading kernel (nothing installed) and for evidence without fits, no fit is known: None, not []."""
    assert fit_record.fits_of({"model": object()}, "model") is None
    assert fit_record.fits_of({FITS: {}, "model": object()}, "model") is None


def test_describe_reads_arrays_and_lists_but_never_iterates_data_sets():
    """Does ``describe`` sample arrays (any shape, as lists too) and leave generators and several inputs alone?"""
    rows = [[float(i)] * 784 for i in range(10)]
    listed = fit_record.describe(rows, validation_split=0.5)
    assert (listed.rows, listed.trained_rows, listed.sample.shape) == (10, 5, (5, 784))

    def generator():
        raise AssertionError("iterated")
        yield

    assert fit_record.describe(generator()).sample is None
    assert fit_record.describe([np.zeros((4, 3)), np.zeros((4, 2))]).sample is None
    assert fit_record.describe(np.zeros((4, 100, 100))).sample is None  # rows too long to sample: counted only
    assert fit_record.describe(np.zeros((4, 100, 100))).rows == 4


def test_how_fit_is_called_does_not_change_what_is_recorded_nor_the_training(recording):
    """Red team: is ``x`` found when given by keyword, beside ``sample_weight`` and ``class_weight``; is a hostile
    ``x`` (its ``__array__`` raises) written down as unreadable while Keras answers the call as it would without us;
    does a fit on a Python generator record its type without drawing a batch from it?"""
    x_train, y_train, x_test, y_test = _data()
    model = _model(recording)
    model.fit(x=x_test, y=y_test, sample_weight=np.ones(len(x_test)), epochs=1, batch_size=500, verbose=0)
    model.fit(y=y_train, x=x_train, class_weight={i: 1.0 for i in range(10)}, epochs=1, batch_size=500, verbose=0)
    weighted, balanced = fit_record.recorded(model)
    assert weighted.rows == 3000 and np.array_equal(weighted.sample[0], x_test[0])
    assert np.array_equal(balanced.sample[-1], x_train[2999])
    assert fashion_mnist.trained_on_test([weighted]) is True and fashion_mnist.trained_on_test([balanced]) is False

    class Hostile:
        def __array__(self, *args, **kwargs):
            raise RuntimeError("no")

        def __len__(self):
            return 3000

    with pytest.raises(Exception) as raised:
        model.fit(Hostile(), y_train, epochs=1, verbose=0)
    assert "RuntimeError" in fit_record.recorded(model)[-1].data and not isinstance(raised.value, AssertionError)
    drawn = []

    def batches():
        while True:
            drawn.append(1)
            yield x_train[:100], y_train[:100]

    model.fit(batches(), steps_per_epoch=2, epochs=1, verbose=0)
    assert fit_record.recorded(model)[-1].data == "generator" and fit_record.recorded(model)[-1].sample is None
    assert len(drawn) <= 4  # Keras's own draws (2 steps, its look-ahead), none of ours
