"""Structure checks on Keras 3 models, in both styles the lecture and Keras docs use."""
from __future__ import annotations

import keras
import pytest
from keras.layers import Dense, Dropout
from keras.models import Sequential

from autograder.checks import CheckFailed
from autograder.checks.kadai4 import MODEL1, MODEL3, MODEL4
from autograder.checks.structure import check_structure, layer_table


def lecture_style(*layers):
    model = Sequential()
    first = True
    for layer in layers:
        if isinstance(layer, float):
            model.add(Dropout(layer))
        elif first:
            model.add(Dense(layer[0], input_shape=(784,), activation=layer[1]))
        else:
            model.add(Dense(layer[0], activation=layer[1]))
        first = first and isinstance(layer, float)
    return model


def test_both_input_styles_pass():
    """Do Dense(32, input_shape=(784,)) and keras.Input((784,)) both pass, with the slide's 25,450 parameters?"""
    check_structure(lecture_style((32, "relu"), (10, "softmax")), MODEL1)
    model = Sequential([keras.Input((784,)), Dense(32, activation="relu"), Dense(10, activation="softmax")])
    check_structure(model, MODEL1)
    assert [row["params"] for row in layer_table(model)] == [25120, 330]
    assert [row["output_shape"] for row in layer_table(model)] == [(None, 32), (None, 10)]


def test_dropout_model_counts_like_the_slide():
    """Does the Dropout model read as 128 → Dropout → 64 → 32 → 10 with 111,146 parameters?"""
    model = lecture_style((128, "relu"), 0.5, (64, "relu"), (32, "relu"), (10, "softmax"))
    check_structure(model, MODEL4)
    assert model.count_params() == 111146
    with pytest.raises(CheckFailed, match="層の数が 5 です"):
        check_structure(model, MODEL3)


@pytest.mark.parametrize("layers, message", [
    ([(64, "relu"), (10, "softmax")], "ユニット数が 64 です"),
    ([(32, "sigmoid"), (10, "softmax")], "活性化関数が 'sigmoid'"),
    ([(32, "relu"), (16, "relu"), (10, "softmax")], "層の数が 3 です"),
])
def test_wrong_models_say_what_is_wrong(layers, message):
    """Does a wrong model fail with a Japanese message naming the difference and model.summary()?"""
    with pytest.raises(CheckFailed, match=message) as failure:
        check_structure(lecture_style(*layers), MODEL1)
    assert "model.summary()" in str(failure.value) or "activation=" in str(failure.value)


def test_wrong_dropout_rate_and_missing_input():
    """Are a Dropout(0.2) and a model without input shape both reported?"""
    with pytest.raises(CheckFailed, match=r"Dropout\(0.5\)"):
        check_structure(lecture_style((128, "relu"), 0.2, (64, "relu"), (32, "relu"), (10, "softmax")), MODEL4)
    model = Sequential()
    model.add(Dense(32, activation="relu"))
    with pytest.raises(CheckFailed, match="input_shape=\\(784,\\)"):
        check_structure(model, MODEL1)
    with pytest.raises(CheckFailed, match="Keras のモデルではありません"):
        check_structure("model", MODEL1)


def _round_trip(model, tmp_path):
    """The model as the grading process sees it: saved as .keras and reloaded with safe_mode."""
    path = tmp_path / "model.keras"
    keras.saving.save_model(model, path)
    return keras.saving.load_model(path, safe_mode=True)


def _functional():
    inputs = keras.Input(shape=(784,))
    hidden = Dense(32, activation="relu")(inputs)
    return keras.Model(inputs, Dense(10, activation="softmax")(hidden))


def _activation_layers():
    from keras.layers import Activation, ReLU, Softmax

    return Sequential([keras.Input(shape=(784,)), Dense(128), ReLU(), Dropout(0.5), Dense(64), Activation("relu"),
                       Dense(32, activation=keras.activations.relu), Dense(10), Softmax()])


def _tf_functions():
    import tensorflow as tf

    return Sequential([Dense(32, input_shape=(784,), activation=tf.nn.relu), Dense(10, activation="softmax")])


@pytest.mark.parametrize(("build", "expected"), [
    (_functional, MODEL1),
    (lambda: Sequential([Dense(32, input_shape=(784,), activation="relu"), Dense(10, activation="softmax")]), MODEL1),
    (_tf_functions, MODEL1),
    (_activation_layers, MODEL4),
])
def test_equivalent_models_pass_live_and_reloaded(tmp_path, build, expected):
    """Do the Functional API, a Sequential list, tf.nn.relu and separate Activation/ReLU/Softmax layers pass,
    also after the save/load round trip of the evidence?"""
    model = build()
    check_structure(model, expected)
    check_structure(_round_trip(model, tmp_path), expected)


def test_functional_table_skips_the_input_layer():
    """Does the Functional API's table list only the two Dense layers (no InputLayer), with shapes and parameters?"""
    rows = layer_table(_functional())
    assert [(r["kind"], r["activation"], r["output_shape"], r["params"]) for r in rows] == [
        ("Dense", "relu", (None, 32), 25120), ("Dense", "softmax", (None, 10), 330)]


def test_activation_layers_fold_only_after_a_linear_dense():
    """Is an Activation layer folded into the linear Dense before it, but an extra one after relu kept as a layer?"""
    from keras.layers import Activation

    rows = layer_table(_activation_layers())
    assert [(r["kind"], r["activation"]) for r in rows] == [
        ("Dense", "relu"), ("Dropout", None), ("Dense", "relu"), ("Dense", "relu"), ("Dense", "softmax")]
    doubled = Sequential([keras.Input((784,)), Dense(32, activation="relu"), Activation("relu"), Dense(10, activation="softmax")])
    with pytest.raises(CheckFailed, match=r"層の数が 3 です（Dense\(32, activation='relu'\) → Activation → "):
        check_structure(doubled, MODEL1)
    wrong = Sequential([keras.Input((784,)), Dense(32), Activation("sigmoid"), Dense(10, activation="softmax")])
    with pytest.raises(CheckFailed, match="活性化関数が 'sigmoid'"):
        check_structure(wrong, MODEL1)


def test_dropout_in_the_wrong_place_says_what_was_found():
    """Does a Dropout after the second Dense name the structure found and the one expected?"""
    model = lecture_style((128, "relu"), (64, "relu"), 0.5, (32, "relu"), (10, "softmax"))
    with pytest.raises(CheckFailed, match=r"2層目が Dense になっています。Dropout\(0.5\) にしてください。いまの構成: "
                                         r"Dense\(128, activation='relu'\) → Dense\(64"):
        check_structure(model, MODEL4)


def test_a_model_keras_cannot_reload_says_why(tmp_path):
    """Is a model with activation=tf.nn.softmax (Keras cannot reload it in safe mode) told to use the name instead?"""
    import tensorflow as tf

    from autograder.grading import verdicts
    from autograder.grading.kernel import evidence

    model = Sequential([keras.Input((784,)), Dense(32, activation="relu"), Dense(10, activation=tf.nn.softmax)])
    evidence.collect(tmp_path / "e", {"model": model}, ("model",), figures=False)
    with pytest.raises(CheckFailed, match="activation='softmax' のように名前で"):
        check_structure(verdicts.load(tmp_path / "e")["model"], MODEL1)
