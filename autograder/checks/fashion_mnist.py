"""The checker's own measurement of a model on the real Fashion-MNIST test set, flat rows of 784 (kadai3/4).

The test set is loaded with ``fashion_mnist.load_data()`` (``datasets.keras_data``, one
copy per process), never taken from the student's variables, and scores are computed
here, never read from a printout.  These helpers measure on the lecture's own
preprocessing, ``reshape(N, 784) / 255``; an assignment whose students may preprocess
otherwise (images of (28, 28, 1), standardised values) measures with
``datasets.measure_accuracy`` on the student's ``x_test`` instead.
"""
from __future__ import annotations

import functools

import numpy as np

from autograder.checks import datasets
from autograder.checks.errors import CheckFailed


def fashion_mnist_raw() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """``fashion_mnist.load_data()`` as the checker loads it: 28×28 uint8 images and labels 0–9 (read-only)."""
    return datasets.keras_data("fashion_mnist")


@functools.cache
def test_set() -> tuple[np.ndarray, np.ndarray]:
    """The 10,000 test images as float32 rows of 784 in [0, 1], and their labels 0–9."""
    _, (x_test, y_test) = fashion_mnist_raw()
    return x_test.reshape(len(x_test), 784).astype("float32") / 255, y_test.astype("int64")


@functools.cache
def validation_set(validation_split: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    """The rows ``fit(..., validation_split=0.2)`` keeps aside (the last 20% of the training set), one-hot labels."""
    from autograder.checks.history import validation_rows

    x, y = validation_rows(*fashion_mnist_raw()[0], validation_split)
    return x.reshape(len(x), 784).astype("float32") / 255, np.eye(10, dtype="float32")[y]


def predictions(model) -> np.ndarray:
    """``model``'s class probabilities for the test set, shape (10000, 10)."""
    x_test, _ = test_set()
    try:
        probabilities = np.asarray(model.predict(x_test, verbose=0, batch_size=1000))
    except Exception as e:
        raise CheckFailed(
            "テストデータ (10000, 784) でモデルを予測できませんでした。"
            "入力が 784、出力が 10 のモデルになっているか model.summary() で確認しましょう。"
        ) from e
    if probabilities.shape != (len(x_test), 10):
        raise CheckFailed(f"予測結果の形が {probabilities.shape} です。最後の層を Dense(10, activation='softmax') にしましょう。")
    return probabilities


def check_predictions(value, model, name: str) -> None:
    """Raise ``CheckFailed`` unless ``value`` (the student's ``name``) is ``model.predict(x_test)``."""
    given = np.asarray(value)
    expected = predictions(model)
    if given.shape != expected.shape:
        raise CheckFailed(f"{name} の形が {given.shape} です。{name} = model.predict(x_test) なら {expected.shape} になります。")
    if not np.allclose(given, expected, atol=1e-4):
        raise CheckFailed(
            f"{name} がテストデータ x_test に対する model の予測と一致しません。学習のあとで {name} = model.predict(x_test) と書きましょう。"
        )


def measure(model) -> tuple[float, float]:
    """``(loss, accuracy)`` of ``model`` on the test set: categorical cross-entropy and the share of right answers."""
    probabilities = predictions(model)
    _, labels = test_set()
    picked = np.clip(probabilities[np.arange(len(labels)), labels], 1e-7, 1.0)
    return float(-np.mean(np.log(picked))), float(np.mean(probabilities.argmax(axis=1) == labels))


def check_accuracy(model, threshold: float) -> float:
    """Raise ``CheckFailed`` unless ``model`` reaches ``threshold`` test accuracy; return the accuracy."""
    _, accuracy = measure(model)
    if accuracy < threshold:
        raise CheckFailed(
            f"テストデータでの正解率は {accuracy:.4f} でした（目標 {threshold} 以上）。"
            "ニューロンの数、層、Dropout、エポック数を工夫してみましょう。"
        )
    return accuracy


SAME_IMAGE = 0.9999
"""Correlation of two images (on ``PIXELS``) above which they are the same image under some scale and offset
(``/ 255``, a mean taken off): float rounding keeps the same image above 0.99999, while of the 60,000 training
images only three correlate this well with a test image (one on all 784 pixels)."""

PIXELS = slice(None, None, 4)
"""The pixels images are compared on (196 of 784): tables of 47 MB for the training set, a sample compared in
milliseconds; as telling as all of them for "the same image" (three near-duplicates against one)."""

NEAR_IMAGE = 0.99
"""Correlation (on ``PIXELS``) above which a row that is closer to a test image than to any training image, by
``NEAREST_GAP``, is that test image changed a little (noise added: ``x_test + normal(0, 0.02)`` keeps 94 % of its rows
here).  Measured on 4,000 training images changed as an honest augmentation would (shifted a pixel, flipped, cropped,
noise of 0.05 or 0.1): at most 0.03 % of them meet both, while two different images correlate 0.95 (median) and up to
0.999 (so closeness alone says nothing, being nearer a test image than to every training image does)."""

NEAREST_GAP = 0.005
"""How much closer to its nearest test image than to its nearest training image a row within ``NEAR_IMAGE`` must be."""

TEST_ROWS = 3
"""Sampled rows of one ``fit`` that, when they are test images, make it training on the test set (or all its rows,
when it sampled fewer): a whole ``x_test`` gives all 64, ``x_test[:6000]`` appended to ``x_train`` about 6; an honest
``x_train``, exactly or augmented, none (three such rows by chance: about one in a million)."""

TRAIN_SHARE = 0.5
"""Share of a ``fit``'s sampled rows that must be training images for it to count as trained on the training set;
rows that are neither (a per-pixel standardisation, noisy or shifted images) leave the fit unknown."""


def _standardised(images: np.ndarray) -> np.ndarray:
    """Each image flattened, cut to ``PIXELS``, its mean taken off and of unit length (a blank image: zeros, which
    matches nothing)."""
    rows = np.asarray(images, dtype="float32").reshape(len(images), -1)[:, PIXELS]
    rows = rows - rows.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return np.divide(rows, norms, out=np.zeros_like(rows), where=norms > 0)


@functools.cache
def _table(part: str) -> np.ndarray:
    """``_standardised`` images of the training (``part="train"``) or test set, made once per process."""
    (x_train, _), (x_test, _) = fashion_mnist_raw()
    return _standardised(x_train if part == "train" else x_test)


def _nearest(sample: np.ndarray, part: str) -> np.ndarray:
    """Per row of ``sample`` (rows of 784), its best correlation with an image of ``part``, as it is or mirrored left
    to right (a flipped image is the same picture: flipping ``x_test`` trains on the test set, flipping ``x_train`` is
    an honest augmentation)."""
    images = np.asarray(sample, dtype="float32").reshape(len(sample), 28, 28)
    table = _table(part)
    return np.maximum((_standardised(images) @ table.T).max(axis=1),
                      (_standardised(images[:, :, ::-1]) @ table.T).max(axis=1))


def trained_on_test(fits) -> bool | None:
    """What the ``fit`` calls of a model trained on (``fit_record.FitSample``, as the kernel recorded them): True if
    one of them trained on the test set (at least ``TEST_ROWS`` of its sampled rows are test images, whatever their
    scale, shape, order, a mirror or a little noise: ``fit(x_test, y_test)``, ``x_test`` or a part of it appended to
    ``x_train``), False if every one trained on training images (at least ``TRAIN_SHARE`` of its rows: ``x_train``, a
    part of it, reshaped, rescaled or mirrored), None when no fit is known or one of them is unknown (a ``tf.data``
    data set, rows of another size or preprocessing).

    A row is a test image when it is the same image as one (``SAME_IMAGE``), or near one (``NEAR_IMAGE``) and nearer
    it by ``NEAREST_GAP`` than to any training image; never when it is at least as near a training image.

    Validation data is never looked at: ``validation_data=(x_test, y_test)`` (the lecture's style) and
    ``validation_split`` are correct, only what the model learns from is judged.
    """
    if not fits:
        return None
    known = True
    for fit in fits:
        sample = getattr(fit, "sample", None)
        if sample is None or np.ndim(sample) != 2 or np.shape(sample)[1] != 784 or len(sample) == 0:
            known = False
            continue
        train, test = _nearest(sample, "train"), _nearest(sample, "test")
        is_test = (test > train) & ((test >= SAME_IMAGE) | ((test >= NEAR_IMAGE) & (test >= train + NEAREST_GAP)))
        if int(is_test.sum()) >= min(TEST_ROWS, len(sample)):
            return True
        if float(np.mean(train >= SAME_IMAGE)) < TRAIN_SHARE:
            known = False
    return False if known else None


TRAIN_SAMPLE = 10_000
"""Training images the checker compares the test accuracy with (the first ones: what any split trains on)."""

MEMORISED_MARGIN = 0.03
"""How much better on the test images than on training images a model may be, when what it was trained on is not
known.  An honest model is as good or better on images it trained on (kadai4's solution: 0.90 on these, 0.88 on the
test set).  A weak signal, kept only where the direct evidence is missing: kadai4's 問8 model trained on 8,000 test
images (``fit(x_test, y_test, validation_split=0.2)``) scores 0.887 on the test set and 0.860 on these, inside the
margin (measured for issue 22)."""

TRAINED_ON_TEST_HINT = ("テストデータ x_test, y_test で学習していませんか？テストデータは最後の評価だけに使い、"
                        "model.fit には x_train, y_train を渡しましょう（検証に validation_data=(x_test, y_test) "
                        "や validation_split を使うのはかまいません）。")


def check_not_trained_on_test(model, fits=None) -> None:
    """Raise ``CheckFailed`` if ``model`` was trained on the test set, so that its test score says nothing.

    Judged from what its ``fit`` calls received (``fits``, ``trained_on_test``: the rows themselves, compared with the
    checker's own copy of the data) whenever that is known; only when it is not (no fit watched, a ``tf.data`` data
    set) from its accuracy: a test accuracy more than ``MEMORISED_MARGIN`` above its accuracy on the first
    ``TRAIN_SAMPLE`` training images."""
    verdict = trained_on_test(fits)
    if verdict is True:
        raise CheckFailed("model.fit に渡した学習用のデータにテストデータの画像が入っています。" + TRAINED_ON_TEST_HINT)
    if verdict is False:
        return
    (x_train, y_train), _ = fashion_mnist_raw()
    x = x_train[:TRAIN_SAMPLE].reshape(TRAIN_SAMPLE, 784).astype("float32") / 255
    try:
        train = np.asarray(model.predict(x, verbose=0, batch_size=1000))
    except Exception as e:
        raise CheckFailed("学習用データ (N, 784) でモデルを予測できませんでした。入力が 784 のモデルになっているか確認しましょう。") from e
    on_train = float(np.mean(train.argmax(axis=1) == y_train[:TRAIN_SAMPLE])) if train.ndim == 2 else 0.0
    _, on_test = measure(model)
    if on_test > on_train + MEMORISED_MARGIN:
        raise CheckFailed(
            f"テストデータでの正解率 {on_test:.4f} が、学習用データでの正解率 {on_train:.4f} より大きく上です。" + TRAINED_ON_TEST_HINT
        )
