"""Data sets by name, and the student's preprocessing judged on the real data (Fashion-MNIST from Keras's cache)."""
from __future__ import annotations

import functools

import keras
import numpy as np
import pytest
from keras import layers as L

from autograder.checks import CheckFailed, datasets, fashion_mnist
from autograder.grading.data import keras_cache_dir

IMAGE = (28, 28, 1)
KADAI5 = datasets.Split(0.2, random_state=1, relabel=(1, 0))
"""kadai5's set-up cell: 悪性 (malignant, 0 in scikit-learn) relabelled 1, then train_test_split(test_size=0.2, random_state=1)."""


def _assert_for_students(message: str) -> None:
    """A student's message: Japanese, without exception names or tracebacks."""
    assert any("\u3040" <= ch <= "\u30ff" for ch in message), message
    for word in ("Error", "Exception", "Traceback"):
        assert word not in message, message


def _raw():
    return datasets.load("fashion_mnist")


# ---- loading by name

def test_keras_and_sklearn_data_sets_by_name():
    """Does every name load with its shapes, row counts and classes, read-only, and is an unknown name the
    instructor's error (ValueError), not a student's?"""
    data = _raw()
    assert (data.sample_shape, data.features, data.train_rows, data.test_rows, data.classes) == ((28, 28), 784, 60000, 10000, 10)
    assert data.x_test.dtype == np.uint8 and not data.x_test.flags.writeable
    assert fashion_mnist.fashion_mnist_raw()[1][0] is data.x_test  # kadai3/4's helpers read the same copy
    shapes = {name: (datasets.load(name).x_train.shape, datasets.load(name).classes)
              for name in ("breast_cancer", "digits", "iris", "wine")}
    assert shapes == {"breast_cancer": ((569, 30), 2), "digits": ((1797, 64), 10), "iris": ((150, 4), 3), "wine": ((178, 13), 3)}
    assert datasets.load("iris").x_test is None
    with pytest.raises(ValueError, match="split=Split"):
        datasets.load("iris").part("test")
    with pytest.raises(ValueError, match="unknown data set 'cifar'"):
        datasets.load("cifar")


def test_a_sklearn_split_is_the_notebooks_split():
    """Is load('breast_cancer', Split(0.2, random_state=1, relabel=(1, 0))) the split kadai5's set-up cell makes
    (悪性 = 1 before splitting)?"""
    from autograder.checks import kadai5

    data = datasets.load("breast_cancer", KADAI5)
    _, x_test, _, y_test = kadai5.split()
    assert (data.train_rows, data.test_rows, data.classes) == (455, 114, 2)
    np.testing.assert_allclose(data.x_test, x_test, rtol=1e-6)
    assert np.array_equal(data.y_test, y_test)
    plain = datasets.load("breast_cancer", datasets.Split(0.2, random_state=1))
    assert not np.array_equal(plain.x_test, data.x_test)  # stratified on other labels, another split


@pytest.mark.skipif(not (keras_cache_dir().parent / "mnist.npz").is_file(), reason="MNIST is not in Keras's cache here")
def test_mnist_by_name():
    """Does MNIST load from Keras's cache with its 60,000 + 10,000 images (where the cache holds it)?"""
    data = datasets.load("mnist")
    assert (data.sample_shape, data.train_rows, data.test_rows) == ((28, 28), 60000, 10000)


# ---- the student's x_test, preprocessed their way

def _forms():
    x = _raw().x_test
    flat = x.reshape(-1, 784)
    return {
        "reshape(-1, 784) / 255": flat / 255,
        "astype('float32') / 255.0, (N, 28, 28, 1)": x.reshape(-1, 28, 28, 1).astype("float32") / 255.0,
        "/ 255 then astype('float32'), (N, 28, 28)": (x / 255).astype("float32"),
        "not scaled (uint8)": x,
        "standardised with one mean": ((flat - flat.mean()) / flat.std()).astype("float32"),
        "scaled to -1..1": (x / 127.5 - 1).reshape(-1, 28, 28, 1),
        "float16": (flat / 255).astype("float16"),
    }


def test_every_affine_preprocessing_is_the_test_set():
    """Do / 255, / 255.0, float32 or float16, (N, 784), (N, 28, 28) or (N, 28, 28, 1), no scaling, standardising
    and -1..1 all count as the test set, and does the checker rebuild exactly the student's array from its own copy?"""
    real = _raw().x_test
    for form, x in _forms().items():
        found = datasets.check_preprocessed(x)
        assert found.shape == x.shape and found.dtype == x.dtype, form
        rebuilt = found.rebuild(real)
        assert rebuilt.shape == x.shape and rebuilt.dtype == x.dtype, form
        every_50th = slice(None, None, 50)  # 200 rows: enough to see a wrong scale, cheap on a shared machine
        np.testing.assert_allclose(rebuilt[every_50th].astype("float64"), x[every_50th].astype("float64"),
                                   atol=1e-3 if x.dtype == np.float16 else 1e-6, err_msg=form)
    for x in (real.reshape(-1, 784) / 255, real.reshape(-1, 28, 28, 1).astype("float32") / 255.0):
        found = datasets.check_preprocessed(x)
        assert np.array_equal(found.rebuild(real), x)  # / 255 rebuilt bit for bit, float64 or float32
        assert (found.low, found.high) == pytest.approx((0.0, 1.0), abs=1e-6)


def test_a_per_pixel_standardisation_is_the_test_set():
    """Does a StandardScaler-like standardisation (one mean and deviation per pixel) count as the test set?"""
    flat = _raw().x_test.reshape(-1, 784).astype("float64")
    per_pixel = (flat - flat.mean(axis=0)) / (flat.std(axis=0) + 1e-7)
    found = datasets.check_preprocessed(per_pixel, "x_test", "test")
    assert found.scale is None and found.shape == (10000, 784)


@pytest.mark.parametrize(("make", "message"), [
    (lambda d: d.x_train / 255, r"x_test の行数が 60000 です。Fashion-MNIST のテストデータは 10,000 行です。訓練データと取り違えていませんか？"),
    (lambda d: d.x_test[:5000] / 255, r"x_test の行数が 5000 です。"),
    (lambda d: d.x_test[np.random.default_rng(1).permutation(10000)] / 255, r"x_test が Fashion-MNIST のテストデータから作られたものになっていません。行を並べ替えたり"),
    (lambda d: d.x_test[::-1] / 255, r"テストデータから作られたものになっていません"),
    (lambda d: d.x_test[:, ::-1] / 255, r"テストデータから作られたものになっていません"),  # images flipped upside down
    (lambda d: d.x_train[:10000] / 255, r"テストデータから作られたものになっていません"),
    (lambda d: np.zeros((10000, 784)), r"テストデータから作られたものになっていません"),
    (lambda d: np.random.default_rng(2).random((10000, 784)), r"テストデータから作られたものになっていません"),
    (lambda d: d.x_test.reshape(-1, 392, 2)[:, :300] / 255, r"x_test の形が \(10000, 300, 2\) です。1件あたりの値の数が 784 になるはずです"),
    (lambda d: np.where(d.x_test == 0, np.nan, d.x_test / 255), r"nan や inf"),
    (lambda d: "x_test", r"x_test が数の配列ではありません（str です）"),
    (lambda d: [[1, 2], [3]], r"x_test が数の配列ではありません"),
])
def test_what_is_not_the_test_set_says_so(make, message):
    """Are the training set, a cut, shuffled, reversed or flipped test set, other data, a wrong shape and nan each
    refused with a Japanese message saying which?"""
    with pytest.raises(CheckFailed, match=message) as failure:
        datasets.check_preprocessed(make(_raw()))
    _assert_for_students(str(failure.value))


# ---- scaled or not, a wrong shape apart

@pytest.mark.parametrize(("part", "make", "message"), [
    ("train", lambda d: d.x_train.reshape(-1, 28, 28, 1), r"^x_train の値の範囲が 0〜255 です。255 で割りましょう。$"),
    ("test", lambda d: d.x_test.reshape(-1, 28, 28, 1).astype("float32"), r"^x_test の値の範囲が 0〜255 です。255 で割りましょう。$"),
    ("test", lambda d: d.x_test.reshape(-1, 28, 28, 1) / 255 / 255, r"x_test の値の範囲が 0〜0.0039 です。読み込んだ値を 255 で割ったもの"),
    ("test", lambda d: (d.x_test.reshape(-1, 28, 28, 1) - 127.5) / 127.5, r"x_test の値の範囲が -1〜1 です。"),
    ("train", lambda d: d.x_train, r"x_train の形が \(60000, 28, 28\) です。x_train = x_train.reshape\(-1, 28, 28, 1\) で \(60000, 28, 28, 1\) にしましょう。"),
    ("test", lambda d: d.x_test.reshape(-1, 784) / 255, r"x_test の形が \(10000, 784\) です。"),
    ("train", lambda d: d.x_test.reshape(-1, 28, 28, 1) / 255, r"x_train が Fashion-MNIST の訓練データから作られたものになっていません。テストデータと取り違えていませんか？"),
    ("test", lambda d: d.x_train.reshape(-1, 28, 28, 1)[:20000], r"x_test の行数が 20000 です。Fashion-MNIST のテストデータは 10,000 行です。"),
])
def test_unscaled_images_are_told_apart_from_a_wrong_shape(part, make, message):
    """Is forgetting / 255 one message (「値の範囲が 0〜255 です。255 で割りましょう」), a wrong reshape another,
    the test set in the training set's place a third?"""
    with pytest.raises(CheckFailed, match=message) as failure:
        datasets.check_scaled(make(_raw()), f"x_{part}", part, shape=(28, 28, 1))
    _assert_for_students(str(failure.value))


def test_scaled_images_pass_whatever_the_float_type():
    """Do / 255 and astype('float32') / 255.0 in the (N, 28, 28, 1) shape pass, and any shape without shape=?"""
    x = _raw().x_test
    datasets.check_scaled(np.divide(_raw().x_train.reshape(-1, 28, 28, 1), 255, dtype="float32"), "x_train",
                          shape=(28, 28, 1))
    datasets.check_scaled(x.reshape(-1, 28, 28, 1) / 255, "x_test", "test", shape=(28, 28, 1))
    datasets.check_scaled(x.reshape(-1, 28, 28, 1).astype("float32") / 255.0, "x_test", "test", shape=(28, 28, 1))
    datasets.check_scaled(x.reshape(-1, 784) / 255, "x_test", "test")


def test_kadai6s_calls_on_its_first_6000_training_images():
    """Does kadai6's hidden test, check_scaled(x_train, "x_train", part="train") on the set-up cell's x_train[:6000],
    pass once scaled and say 「0〜255 です。255 で割りましょう」 when not, and does load() unpack like load_data()?"""
    (x_train, y_train), (x_test, y_test) = datasets.load("fashion_mnist")
    assert (len(x_train), len(y_test)) == (60000, 10000)
    first = x_train[:6000].reshape(6000, 28, 28, 1)
    datasets.check_scaled(first.astype("float32") / 255, "x_train", part="train")
    datasets.check_scaled(np.expand_dims(x_test, axis=-1) / 255.0, "x_test", part="test")
    with pytest.raises(CheckFailed, match=r"^x_train の値の範囲が 0〜255 です。255 で割りましょう。$"):
        datasets.check_scaled(first, "x_train", part="train")
    with pytest.raises(CheckFailed, match="x_train が Fashion-MNIST の訓練データから作られたものになっていません"):
        datasets.check_scaled(x_train[6000:12000] / 255, "x_train", part="train")  # not the rows the set-up cell keeps
    datasets.check_labels(keras.utils.to_categorical(y_train[:6000], 10), "y_train")


def test_labels_one_hot_or_numbers():
    """Are to_categorical labels and plain class numbers accepted where asked, and raw or shuffled labels refused?"""
    data = _raw()
    datasets.check_labels(keras.utils.to_categorical(data.y_train, 10), "y_train", "train")
    datasets.check_labels(data.y_test, "y_test", "test", one_hot=False)
    with pytest.raises(CheckFailed, match=r"y_train の形が \(60000,\) です。to_categorical\(y_train, 10\) で \(60000, 10\) にしましょう"):
        datasets.check_labels(data.y_train, "y_train", "train")
    with pytest.raises(CheckFailed, match="one-hot 表現になっていません"):
        datasets.check_labels(keras.utils.to_categorical(data.y_train[::-1], 10), "y_train", "train")
    with pytest.raises(CheckFailed, match="y_test がテストデータの正解ラベル"):
        datasets.check_labels(data.y_test[::-1], "y_test", "test", one_hot=False)


# ---- accuracy on the student's own preprocessing

@functools.cache
def _class_means() -> np.ndarray:
    """The mean image of each class over the first 6,000 training images (a nearest-mean classifier needs no training)."""
    x, y = _raw().x_train[:6000].reshape(-1, 784).astype("float64"), _raw().y_train[:6000]
    return np.stack([x[y == c].mean(axis=0) for c in range(10)])


@functools.cache
def _nearest_mean_model(scale: float, input_shape=(784,)) -> keras.Model:
    """A model for images multiplied by ``scale``: class score x·m - |m|²/2, the nearest class mean (about 0.68)."""
    means = _class_means() * scale
    model = keras.Sequential([keras.Input(input_shape), L.Flatten(), L.Dense(10, activation="softmax")])
    model.layers[-1].set_weights([means.T.astype("float32") / (scale * 255), (-(means ** 2).sum(axis=1) / 2 / (scale * 255)).astype("float32")])
    return model


def _argmax_accuracy(model, x) -> float:
    return float(np.mean(model.predict(x, verbose=0, batch_size=1000).argmax(axis=1) == _raw().y_test))


def test_accuracy_is_measured_on_the_students_preprocessing():
    """Does a model trained on unscaled images score on unscaled test images what the scaled one scores on scaled
    ones (forgetting / 255 costs the scaling question only), in the (N, 28, 28, 1) shape too?"""
    real = _raw().x_test
    scaled = datasets.measure_accuracy(_nearest_mean_model(1 / 255), "fashion_mnist", real.reshape(-1, 784) / 255)
    unscaled = datasets.measure_accuracy(_nearest_mean_model(1.0), "fashion_mnist", real.reshape(-1, 784))
    images = datasets.measure_accuracy(_nearest_mean_model(1 / 255, IMAGE), "fashion_mnist",
                                       real.reshape(-1, 28, 28, 1).astype("float32") / 255)
    assert 0.6 < scaled < 0.8
    assert abs(unscaled - scaled) < 1e-3 and abs(images - scaled) < 1e-3
    assert scaled == pytest.approx(_argmax_accuracy(_nearest_mean_model(1 / 255), real.reshape(-1, 784) / 255))
    assert datasets.check_accuracy(_nearest_mean_model(1 / 255), "fashion_mnist", real.reshape(-1, 784) / 255, 0.6) == scaled
    with pytest.raises(CheckFailed, match=r"テストデータでの正解率は 0\.\d{4} でした（目標 0.9 以上）。フィルタの数を増やしましょう。") as failure:
        datasets.check_accuracy(_nearest_mean_model(1 / 255), "fashion_mnist", real.reshape(-1, 784) / 255, 0.9, hint="フィルタの数を増やしましょう。")
    _assert_for_students(str(failure.value))


def test_rows_the_sample_did_not_read_cannot_help():
    """Is the accuracy measured on the checker's own copy in the student's format, so that editing the test rows
    outside the sample (to images the model gets right) changes nothing?"""
    real = _raw().x_test.reshape(-1, 784) / 255
    model = _nearest_mean_model(1 / 255)
    honest = datasets.measure_accuracy(model, "fashion_mnist", real)
    sampled, _ = datasets._sample_positions(10000, 784)
    edited = _class_means()[_raw().y_test] / 255  # every row the class mean of its label: all right
    edited[sampled] = real[sampled]
    assert _argmax_accuracy(model, edited) > 0.95
    assert datasets.measure_accuracy(model, "fashion_mnist", edited) == honest


def test_a_model_that_does_not_fit_the_data_is_told_why():
    """Are data of the wrong shape for the model and a model with the wrong number of outputs explained in Japanese?"""
    real = _raw().x_test
    dense = keras.Sequential([keras.Input((784,)), L.Dense(10, activation="softmax")])
    with pytest.raises(CheckFailed, match=r"x_test（形 \(10000, 28, 28, 1\)）を model で予測できませんでした（model の入力の形は \(None, 784\)）") as failure:
        datasets.measure_accuracy(dense, "fashion_mnist", real.reshape(-1, 28, 28, 1) / 255)
    _assert_for_students(str(failure.value))
    five = keras.Sequential([keras.Input((784,)), L.Dense(5, activation="softmax")])
    with pytest.raises(CheckFailed, match=r"model の出力の形が \(10000, 5\) です。10 クラスの分類なので、最後の層を Dense\(10, activation='softmax'\)"):
        datasets.measure_accuracy(five, "fashion_mnist", real.reshape(-1, 784) / 255)


def test_binary_accuracy_with_standardised_features_and_relabelled_classes():
    """On breast_cancer standardised per column (kadai5's way), is one sigmoid output read as > 0.5 and compared with
    the assignment's own labels (悪性 = 1), and are another split's rows and the training rows refused?"""
    data = datasets.load("breast_cancer", KADAI5)
    mean, std = data.x_train.mean(axis=0), data.x_train.std(axis=0)
    x_test = ((data.x_test - mean) / std).astype("float32")
    model = keras.Sequential([keras.Input((30,)), L.Dense(1, activation="sigmoid")])
    weights = np.zeros((30, 1), dtype="float32")
    weights[[20, 22, 27], 0] = 1.0  # worst radius, perimeter, concave points: large for 悪性
    model.layers[0].set_weights([weights, np.zeros(1, dtype="float32")])
    accuracy = datasets.measure_accuracy(model, "breast_cancer", x_test, split=KADAI5)
    expected = float(np.mean((model.predict(x_test, verbose=0).reshape(-1) > 0.5) == data.y_test))
    assert accuracy == expected and accuracy > 0.85
    with pytest.raises(CheckFailed, match="x_test が 乳がん .* のテストデータから作られたものになっていません"):
        datasets.measure_accuracy(model, "breast_cancer", x_test, split=datasets.Split(0.2, random_state=2, relabel=(1, 0)))
    with pytest.raises(CheckFailed, match="x_test の行数が 455 です。.*テストデータは 114 行です。訓練データと取り違えていませんか？"):
        datasets.measure_accuracy(model, "breast_cancer", (data.x_train - mean) / std, split=KADAI5)
