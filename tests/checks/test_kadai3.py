"""kadai3's hidden checks of the data steps, on the real Fashion-MNIST (no training)."""
from __future__ import annotations

import numpy as np
import pytest
from keras.utils import to_categorical

from autograder.checks import CheckFailed, NotAttempted, kadai3
from autograder.checks.fashion_mnist import fashion_mnist_raw


def prepared():
    (x_train, y_train), (x_test, y_test) = fashion_mnist_raw()
    return {"x_train": x_train.reshape(60000, 784).astype("float32") / 255,
            "x_test": x_test.reshape(10000, 784).astype("float32") / 255,
            "y_train": to_categorical(y_train, 10), "y_test": to_categorical(y_test, 10)}


def test_the_lectures_preprocessing_passes():
    """Do the slide's reshape, astype('float32') / 255 and to_categorical pass?"""
    ns = prepared()
    kadai3.check_reshape(ns)
    kadai3.check_onehot(ns)


def test_numerically_equivalent_preprocessing_passes():
    """Do / 255.0, np.float32, reshape(-1, 784), dividing before the cast and to_categorical(num_classes=10) pass?"""
    (x_train, y_train), (x_test, y_test) = fashion_mnist_raw()
    kadai3.check_reshape({"x_train": x_train.reshape(-1, 784).astype(np.float32) / 255.0,
                          "x_test": (x_test / 255).astype("float32").reshape(-1, 28 * 28)})
    kadai3.check_onehot({"y_train": to_categorical(y_train, num_classes=10), "y_test": np.eye(10)[y_test]})


def test_preprocessing_mistakes_are_named():
    """Are float64, no division by 255, the wrong shape and raw labels each told apart?"""
    (x_train, y_train), _ = fashion_mnist_raw()
    with pytest.raises(CheckFailed, match="float64"):
        kadai3.check_reshape({**prepared(), "x_train": x_train.reshape(60000, 784) / 255})
    with pytest.raises(CheckFailed, match="255 で割って"):
        kadai3.check_reshape({**prepared(), "x_train": x_train.reshape(60000, 784).astype("float32")})
    with pytest.raises(CheckFailed, match=r"\(60000, 28, 28\)"):
        kadai3.check_reshape({**prepared(), "x_train": x_train.astype("float32") / 255})
    with pytest.raises(CheckFailed, match="to_categorical"):
        kadai3.check_onehot({**prepared(), "y_train": y_train})
    with pytest.raises(NotAttempted):
        kadai3.check_reshape({})


def test_label_is_test_image_1s():
    """Is label = y_test[1] (a 2, pullover) accepted in any integer form and another label refused?"""
    _, (_, y_test) = fashion_mnist_raw()
    kadai3.check_label({"label": y_test[1]})
    kadai3.check_label({"label": np.int64(2)})
    with pytest.raises(CheckFailed, match="label が 9 です"):
        kadai3.check_label({"label": y_test[0]})
    with pytest.raises(CheckFailed, match="1つの数"):
        kadai3.check_label({"label": y_test[:2]})
