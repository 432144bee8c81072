"""The hidden checks of 課題3 (kadai3, MLP①), one function per graded cell.

The data the student's work is compared with is loaded here with
``fashion_mnist.load_data()``, never taken from the student's variables.
"""
from __future__ import annotations

import numpy as np

from autograder.checks import compiled, fashion_mnist, figures, history, structure
from autograder.checks.errors import CheckFailed, NotAttempted, settings
from autograder.checks.errors import variable as _get
from autograder.checks.kadai4 import MODEL1, steps
from autograder.grading.kernel.evidence import uses

ASSIGNMENT_ID = "kadai3"
EPOCHS, BATCH_SIZE = 30, 64  # the lecture's 前回まで slide


@uses(figures=True)
def check_image(ns: dict) -> None:
    """問1: ``plt.imshow(x_test[1], 'gray')`` shows test image 1 (before any reshaping) in grey."""
    shown = [figure for figure in figures.shown(ns) if any(ax.get_images() for ax in figure.axes)]
    if not shown:
        raise NotAttempted("画像が表示されていません。plt.imshow(x_test[1], 'gray') と plt.show() を実行しましょう。")
    _, (x_test, _) = fashion_mnist.fashion_mnist_raw()
    images = [image for figure in shown for ax in figure.axes for image in ax.get_images()]
    shown = [image for image in images if np.asarray(image.get_array()).shape == x_test[1].shape
             and np.array_equal(np.asarray(image.get_array()), x_test[1])]
    if not shown:
        shapes = sorted({np.asarray(image.get_array()).shape for image in images})
        raise CheckFailed(
            f"表示された画像がテストデータの2枚目 x_test[1]（28×28）ではありません（表示された画像の形: {shapes}）。"
            "reshape する前に plt.imshow(x_test[1], 'gray') で表示しましょう。"
        )
    if shown[-1].get_cmap().name != "gray":
        raise CheckFailed(f"画像の色が '{shown[-1].get_cmap().name}' です。plt.imshow(x_test[1], 'gray') で白黒にしましょう。")


@uses("label")
def check_label(ns: dict) -> None:
    """問1: ``label = y_test[1]``, the class number of test image 1."""
    label = _get(ns, "label", "問1")
    _, (_, y_test) = fashion_mnist.fashion_mnist_raw()
    try:
        value = int(np.asarray(label).item())
    except (TypeError, ValueError):
        raise CheckFailed(f"label は1つの数（クラスの番号）になるはずです（いまは {label!r}）。label = y_test[1] と書きましょう。") from None
    if value != int(y_test[1]):
        raise CheckFailed(f"label が {value} です。テストデータの2枚目の正解は y_test[1] で確認できます。label = y_test[1] と書きましょう。")


@uses("x_train", "x_test")
def check_reshape(ns: dict) -> None:
    """問2: ``x_train``/``x_test`` as float32 rows of 784 values in [0, 1]."""
    (x_train_raw, _), (x_test_raw, _) = fashion_mnist.fashion_mnist_raw()
    for name, raw in (("x_train", x_train_raw), ("x_test", x_test_raw)):
        value = np.asarray(_get(ns, name, "問2"))
        rows = len(raw)
        if value.shape != (rows, 784):
            raise CheckFailed(
                f"{name} の形が {value.shape} です。{name} = {name}.reshape({rows}, 784) で ({rows}, 784) にしましょう。"
            )
        if value.dtype != np.float32:
            raise CheckFailed(f"{name} の型が {value.dtype} です。.astype('float32') で float32 にしましょう。")
        expected = raw.reshape(rows, 784).astype("float32") / 255
        if not np.allclose(value, expected, atol=1e-6):
            biggest = float(value.max())
            hint = "255 で割って 0〜1 の範囲にしましょう。" if biggest > 1 else "元の画像を reshape して 255 で割ったものになっていません。"
            raise CheckFailed(f"{name} の値が正しくありません（最大値 {biggest:g}）。{hint}")


@uses("y_train", "y_test")
def check_onehot(ns: dict) -> None:
    """問2: ``y_train``/``y_test`` one-hot with 10 classes (``to_categorical``)."""
    (_, y_train_raw), (_, y_test_raw) = fashion_mnist.fashion_mnist_raw()
    for name, raw in (("y_train", y_train_raw), ("y_test", y_test_raw)):
        value = np.asarray(_get(ns, name, "問2"))
        if value.shape != (len(raw), 10):
            raise CheckFailed(f"{name} の形が {value.shape} です。to_categorical({name}, 10) で ({len(raw)}, 10) にしましょう。")
        if not np.array_equal(value, np.eye(10, dtype=value.dtype)[raw]):
            raise CheckFailed(f"{name} が正解ラベルの one-hot 表現になっていません。{name} = to_categorical({name}, 10) と書きましょう。")


@uses("model")
def check_model(ns: dict) -> None:
    """問3: 784→32→10 (25,120 + 330 = 25,450 parameters), compiled with categorical cross-entropy
    (``compiled.CATEGORICAL``: the string, the function or the class)."""
    model = _get(ns, "model", "問3")
    structure.check_structure(model, MODEL1)
    compiled.check_loss(model, compiled.CATEGORICAL, "loss='categorical_crossentropy'",
                        "10 クラスの分類を softmax で出力するときは ")


@uses("result", "x_train", "y_train")
def check_fit(ns: dict) -> None:
    """問4: ``result = model.fit(...)`` with epochs=30, batch_size=64, validation_split=0.2, and the History is its model's.

    The History is compared with its model on the student's own ``x_train``/``y_train`` (their last 20%),
    the data it was trained on, so a mistake in 問2 costs 問2's points only.
    """
    result = _get(ns, "result", "問4")
    history.check_history(result, epochs=EPOCHS, steps=steps(BATCH_SIZE),
                          steps_explained=f"学習に使う 48,000 枚 ÷ batch_size={BATCH_SIZE} の切り上げ", rows=60_000)
    x_train, y_train = np.asarray(_get(ns, "x_train", "問2")), np.asarray(_get(ns, "y_train", "問2"))
    history.check_history_is_models(result, *history.validation_rows(x_train, y_train))


@uses("model")
def check_accuracy(ns: dict, threshold: float | None = None) -> None:
    """問4: the trained model reaches the course's accuracy threshold on the real test set."""
    threshold = settings(ns).accuracy_threshold if threshold is None else threshold
    model = _get(ns, "model", "問3")
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None or int(np.asarray(optimizer.iterations)) == 0:
        raise NotAttempted("model がまだ学習していません。問4の result = model.fit(...) を実行しましょう。")
    fashion_mnist.check_accuracy(model, threshold)


@uses("test", "model")
def check_predict(ns: dict) -> None:
    """問5: ``test = model.predict(x_test)`` holds the model's predictions for the test set."""
    fashion_mnist.check_predictions(_get(ns, "test", "問5"), _get(ns, "model", "問3"), "test")


@uses("rounded", "test")
def check_around(ns: dict) -> None:
    """問5: ``rounded = np.around(test[1], 3)``: the second prediction rounded to 3 decimals."""
    rounded = np.asarray(_get(ns, "rounded", "問5"))
    test = np.asarray(_get(ns, "test", "問5"))
    if test.ndim != 2 or len(test) < 2:
        raise CheckFailed(f"test の形が {test.shape} です。先に test = model.predict(x_test) を実行しましょう。")
    if rounded.shape != (10,) or not np.array_equal(rounded, np.around(test[1], 3)):
        raise CheckFailed(
            f"rounded が np.around(test[1], 3) と一致しません（いまは {rounded!r}）。"
            "2枚目の予測 test[1] を小数第3位で四捨五入しましょう。"
        )
