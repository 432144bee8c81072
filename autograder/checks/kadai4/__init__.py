"""The hidden checks of 課題4 (kadai4), one function per graded cell.

Each function takes the notebook's namespace (``globals()`` in the test cell), so
a missing variable gives a Japanese message instead of a ``NameError``.  In a
grading kernel the test cell only collects the variables each check declares
with ``@uses``; the check itself runs on that evidence in the grading process
(``autograder.grading.verdicts``).
"""
from __future__ import annotations

import ast
import math

from autograder.checks import compiled, fashion_mnist, figures, history, structure
from autograder.checks.errors import CheckFailed, settings
from autograder.checks.errors import variable as _get
from autograder.checks.structure import dense, dropout
from autograder.grading.kernel import fit_record
from autograder.grading.kernel.evidence import uses

ASSIGNMENT_ID = "kadai4"
TRAIN_ROWS = 48_000  # 60,000 training images less validation_split=0.2

MODEL1 = [dense(32, "relu", 784), dense(10, "softmax", 32)]  # 25,450 parameters
MODEL2 = [dense(128, "relu", 784), dense(10, "softmax", 128)]  # 101,770
MODEL3 = [dense(128, "relu", 784), dense(64, "relu", 128), dense(32, "relu", 64), dense(10, "softmax", 32)]  # 111,146
MODEL4 = [MODEL3[0], dropout(0.5), *MODEL3[1:]]  # 111,146 with one Dropout


def steps(batch_size: int) -> int:
    """Batches per epoch with ``validation_split=0.2``."""
    return math.ceil(TRAIN_ROWS / batch_size)


@uses("model")
def check_model1(ns: dict) -> None:
    """問1: 784→32→10 (25,450 parameters), compiled with categorical cross-entropy (``compiled.CATEGORICAL``).

    The loss is charged here, where it is written: 問4 then compares ``score``'s loss with the model's own
    measurement only when the model was compiled with categorical cross-entropy."""
    model = _get(ns, "model", "問1")
    structure.check_structure(model, MODEL1)
    compiled.check_loss(model, compiled.CATEGORICAL, "loss='categorical_crossentropy'",
                        "10 クラスの分類を softmax で出力するときは ")


def _check_fit(result, epochs: int, batch_size: int) -> None:
    history.check_history(result, epochs=epochs, steps=steps(batch_size),
                          steps_explained=f"学習に使う {TRAIN_ROWS:,} 枚 ÷ batch_size={batch_size} の切り上げ", rows=60_000)
    _genuine(result)


def _genuine(result) -> None:
    history.check_history_is_models(result, *fashion_mnist.validation_set())


@uses("result")
def check_fit1(ns: dict) -> None:
    """問2: 30 epochs, batch_size=64, validation_split=0.2, and the History is its model's."""
    _check_fit(_get(ns, "result", "問2"), 30, 64)


@uses("result", figures=True)
def check_plot_layout(ns: dict) -> None:
    """問3: figsize=(12,4), two panels side by side, on the figure that draws the History (``figures.history_figure``)."""
    figures.check_history_figure(ns, "layout", "問2")


@uses("result", figures=True)
def check_plot_loss(ns: dict) -> None:
    """問3: left panel draws loss and val_loss with their labels."""
    figures.check_history_figure(ns, "loss", "問2", _genuine)


@uses("result", figures=True)
def check_plot_accuracy(ns: dict) -> None:
    """問3: right panel draws accuracy and val_accuracy with their labels."""
    figures.check_history_figure(ns, "accuracy", "問2", _genuine)


@uses("result", figures=True)
def check_plot_legend(ns: dict) -> None:
    """問3: each panel's lines of the History are named by a legend, whatever made it (``figures.check_legends``)."""
    figures.check_history_figure(ns, "legend", "問2")


@uses("score", "model")
def check_evaluate(ns: dict) -> None:
    """問4: ``score = model.evaluate(x_test, y_test)`` agrees with the checker's own measurement."""
    score = _get(ns, "score", "問4 (model.evaluate)")
    try:
        loss, acc = _loss_and_accuracy(score)
    except (TypeError, ValueError, SyntaxError) as e:
        raise CheckFailed(f"score は [損失, 正解率] の2つの値になるはずです（いまは {score!r}）。score = model.evaluate(x_test, y_test) と書きましょう。") from e
    model = _get(ns, "model", "問1")
    true_loss, true_acc = fashion_mnist.measure(model)
    # Keras computes the loss from logits, the checker from clipped probabilities:
    # they differ by a few tenths of a percent, evaluating other data differs by far more.
    # Another loss (charged at 問1) gives another number: only the accuracy is compared then.
    same_loss = compiled.uses_loss(model, compiled.CATEGORICAL)
    if abs(acc - true_acc) > 5e-4 or (same_loss and abs(loss - true_loss) > 0.02 * true_loss):
        raise CheckFailed(
            f"score = {[loss, acc]} ですが、テストデータで測ると損失 {true_loss:.4f}・正解率 {true_acc:.4f} です。"
            "model.evaluate(x_test, y_test) でテストデータを評価しましょう。"
        )


def _loss_and_accuracy(score) -> tuple[float, float]:
    """``(loss, accuracy)`` of ``model.evaluate``'s result: a list, or a dict with ``return_dict=True``.

    Evidence keeps a dict of strings to numbers as data; an older record kept its ``repr`` (an ``Opaque`` named
    ``dict``), read back here as a literal only.
    """
    if type(score).__name__ == "dict" and not isinstance(score, dict):
        score = ast.literal_eval(repr(score))
    if isinstance(score, dict):
        key = history.keys_of(score)["accuracy"]
        return float(score["loss"]), float(score[key])
    loss, acc = (float(v) for v in score)
    return loss, acc


@uses("test2", "model")
def check_predict(ns: dict) -> None:
    """問4: ``test2 = model.predict(x_test)`` holds the model's predictions for the test set."""
    fashion_mnist.check_predictions(_get(ns, "test2", "問4 (model.predict)"), _get(ns, "model", "問1"), "test2")


def _check_trained_model(ns: dict, expected, question: str, epochs: int = 10, batch_size: int = 256) -> None:
    structure.check_structure(_get(ns, "model", question), expected)
    result = _get(ns, "result", question)
    if getattr(result, "model", None) is not ns["model"]:
        raise CheckFailed(f"result が{question}のモデルの学習結果ではありません。result = model.fit(...) を実行しましょう。")
    _check_fit(result, epochs, batch_size)


@uses("model", "result")
def check_model2(ns: dict) -> None:
    """問5: 128 units (101,770 parameters), trained 10 epochs."""
    _check_trained_model(ns, MODEL2, "問5")


@uses("model", "result")
def check_model3(ns: dict) -> None:
    """問6: 128-64-32 (111,146 parameters), trained 10 epochs."""
    _check_trained_model(ns, MODEL3, "問6")


@uses("model", "result")
def check_model4(ns: dict) -> None:
    """問7: Dropout(0.5) after the first Dense (111,146 parameters), trained 10 epochs."""
    _check_trained_model(ns, MODEL4, "問7")


@uses("model")
def check_free(ns: dict, threshold: float | None = None) -> None:
    """問8: any model reaching the course's accuracy threshold on the real test set, trained on the training set
    (``fashion_mnist.check_not_trained_on_test``: the rows its ``fit`` calls trained on, as the grading kernel recorded
    them, must not be test images; validating on the test set is allowed)."""
    threshold = settings(ns).accuracy_threshold if threshold is None else threshold
    model = _get(ns, "model", "問8")
    fashion_mnist.check_not_trained_on_test(model, fit_record.fits_of(ns, "model"))
    fashion_mnist.check_accuracy(model, threshold)
