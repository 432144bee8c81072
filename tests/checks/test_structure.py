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
    with pytest.raises(CheckFailed, match=r"層の数が 3 です（Dense\(32, activation='relu'\) → Activation\('relu'\) → "):
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


def _through_evidence(tmp_path, **values) -> dict:
    """``values`` written down as a kernel's collecting does and read back as the grading process reads them."""
    from autograder.grading import verdicts
    from autograder.grading.kernel import evidence

    evidence.collect(tmp_path / "e", values, tuple(values), figures=False)
    return verdicts.load(tmp_path / "e")


def _trained(model, loss="categorical_crossentropy"):
    import numpy as np

    x = np.random.default_rng(0).uniform(0, 1, (64, 784)).astype("float32")
    model.compile(loss=loss, optimizer="adam", metrics=["accuracy"])
    return model, model.fit(x, np.eye(10)[np.arange(64) % 10], epochs=2, batch_size=16, verbose=0), x


def test_a_tensorflow_activation_is_judged_by_what_it_computes(tmp_path):
    """Does Dense(10, activation=tf.nn.softmax), which Keras cannot reload, pass the structure check through the
    record of its layers, predict as the student's model did, and keep its loss and steps for the other checks?"""
    import numpy as np
    import tensorflow as tf

    model, result, x = _trained(Sequential([keras.Input((784,)), Dense(32, activation=tf.nn.relu),
                                            Dense(10, activation=tf.nn.softmax)]))
    check_structure(model, MODEL1)  # in-process too: tf.nn.softmax is named 'softmax_v2' in Python
    ns = _through_evidence(tmp_path, model=model, result=result)
    rebuilt = ns["model"]
    check_structure(rebuilt, MODEL1)
    assert np.allclose(rebuilt.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5)
    assert int(rebuilt.optimizer.iterations) == int(model.optimizer.iterations) == 8
    y = np.eye(10)[np.arange(64) % 10]
    assert np.isclose(np.ravel(rebuilt.evaluate(x, y, verbose=0))[0], model.evaluate(x, y, verbose=0)[0], rtol=1e-5)
    assert ns["result"].model is rebuilt


def test_a_subclassed_model_is_judged_when_its_layers_chain():
    """Is a subclassed keras.Model whose call chains its layers judged like the Sequential it computes, and one whose
    call does something else (a skip connection) said plainly to be one grading could not reproduce?"""
    import tempfile
    from pathlib import Path

    class Chain(keras.Model):
        def __init__(self):
            super().__init__()
            self.hidden, self.out = Dense(32, activation="relu"), Dense(10, activation="softmax")

        def call(self, x):
            return self.out(self.hidden(x))

    class Skip(keras.Model):
        def __init__(self):
            super().__init__()
            self.hidden, self.out = Dense(784, activation="relu"), Dense(10, activation="softmax")

        def call(self, x):
            return self.out(self.hidden(x) + x)

    chain, _, _ = _trained(Chain())
    skip, _, _ = _trained(Skip())
    ns = _through_evidence(Path(tempfile.mkdtemp()), model=chain, other=skip)
    check_structure(ns["model"], MODEL1)
    with pytest.raises(CheckFailed, match="採点側で model を再現できなかったため.*同じ予測をしません") as failed:
        check_structure(ns["other"], MODEL1)
    assert "Error" not in str(failed.value)  # Keras's English error stays in the instructor's log


def test_activation_names_are_found_by_what_the_function_computes():
    """Are TensorFlow's functions, Keras's and a student's own wrapper named as the activation they compute, and a
    function computing none of them named None?"""
    import tensorflow as tf

    from autograder.grading.kernel.model_record import activation_name

    assert activation_name(tf.nn.softmax) == "softmax" and activation_name(tf.nn.relu) == "relu"
    assert activation_name(tf.nn.sigmoid) == "sigmoid" and activation_name(keras.activations.tanh) == "tanh"
    assert activation_name(lambda x: tf.nn.relu(x)) == "relu" and activation_name(None) == "linear"
    assert activation_name(tf.nn.relu6) == "relu6" and activation_name(lambda x: x * 2) is None


# ---- layers beyond Dense/Dropout: the CNN of kadai6, recurrent layers, any layer by its config

from keras import layers as L  # noqa: E402

from autograder.checks import structure  # noqa: E402
from autograder.checks.structure import LayerSpec, describe  # noqa: E402

IMAGE = (28, 28, 1)
CNN = [structure.conv2d(32, (3, 3), "relu", input_shape=IMAGE), structure.max_pooling2d((2, 2)),
       structure.flatten(), structure.dense(10, "softmax", inputs=5408)]
"""kadai6's network: 320 + 0 + 0 + 54,090 = 54,410 parameters."""


def _cnn(*layers, start=None):
    """A Sequential CNN on (28, 28, 1); ``layers`` default to kadai6's."""
    return Sequential([keras.Input(start or IMAGE), *(layers or (
        L.Conv2D(32, (3, 3), activation="relu"), L.MaxPooling2D((2, 2)), L.Flatten(), L.Dense(10, activation="softmax")))])


def _functional_cnn():
    inputs = keras.Input(shape=IMAGE)
    x = L.ReLU()(L.Conv2D(32, 3)(inputs))
    x = L.Flatten()(L.MaxPooling2D(pool_size=2, strides=2)(x))
    return keras.Model(inputs, L.Dense(10, activation="softmax")(x))


@pytest.mark.parametrize("build", [
    _cnn,
    lambda: Sequential([L.Conv2D(32, (3, 3), activation="relu", input_shape=IMAGE), L.MaxPooling2D((2, 2)),
                        L.Flatten(), L.Dense(10, activation="softmax")]),
    _functional_cnn,
    lambda: _cnn(L.Conv2D(32, 3), L.Activation("relu"), L.MaxPooling2D(2), L.Flatten(), L.Dense(10), L.Softmax()),
])
def test_the_kadai6_cnn_passes_written_every_way(tmp_path, build):
    """Do Input or input_shape=, the Functional API, kernel_size=3, pool_size=2 with strides=2 and separate
    ReLU/Activation/Softmax layers all pass as Conv2D → MaxPooling2D → Flatten → Dense, also after the reload?"""
    model = build()
    structure.check_structure(model, CNN, input_shape=IMAGE)
    structure.check_structure(_round_trip(model, tmp_path), CNN, input_shape=IMAGE)
    rows = layer_table(model, input_shape=IMAGE)
    assert [(r["kind"], r["output_shape"], r["params"]) for r in rows] == [
        ("Conv2D", (None, 26, 26, 32), 320), ("MaxPooling2D", (None, 13, 13, 32), 0),
        ("Flatten", (None, 5408), 0), ("Dense", (None, 10), 54090)]
    assert describe(rows) == ("Conv2D(32, (3, 3), activation='relu') → MaxPooling2D((2, 2)) → Flatten() → "
                              "Dense(10, activation='softmax')")


def test_an_expected_activation_layer_accepts_both_writings():
    """Does an expected list with activation('relu') as its own layer accept Conv2D(activation='relu') and the
    Conv2D + ReLU() pair alike?"""
    expected = [structure.conv2d(32, (3, 3), None, input_shape=IMAGE), structure.activation("relu"), *CNN[1:]]
    structure.check_structure(_cnn(), expected, input_shape=IMAGE)
    structure.check_structure(_cnn(L.Conv2D(32, 3), L.ReLU(), L.MaxPooling2D(2), L.Flatten(), L.Dense(10, activation="softmax")),
                              expected, input_shape=IMAGE)


@pytest.mark.parametrize(("build", "message"), [
    (lambda: _cnn(L.Conv2D(16, (3, 3), activation="relu"), L.MaxPooling2D((2, 2)), L.Flatten(), L.Dense(10, activation="softmax")),
     r"1層目の Conv2D のフィルタの数が 16 です。filters=32 にしてください（期待される層: Conv2D\(32, \(3, 3\), activation='relu'\)）"),
    (lambda: _cnn(L.Conv2D(32, (5, 5), activation="relu"), L.MaxPooling2D((2, 2)), L.Flatten(), L.Dense(10, activation="softmax")),
     r"1層目の Conv2D のカーネルの大きさが \(5, 5\) です。kernel_size=\(3, 3\) にしてください"),
    (lambda: _cnn(L.Conv2D(32, (3, 3), activation="sigmoid"), L.MaxPooling2D((2, 2)), L.Flatten(), L.Dense(10, activation="softmax")),
     r"1層目の Conv2D の活性化関数が 'sigmoid' です。activation='relu' にしてください"),
    (lambda: _cnn(L.Conv2D(32, (3, 3), activation="relu", padding="same"), L.MaxPooling2D((2, 2)), L.Flatten(), L.Dense(10, activation="softmax")),
     r"1層目の Conv2D のパディングが 'same' です。padding='valid' にしてください"),
    (lambda: _cnn(L.Conv2D(32, (3, 3), activation="relu"), L.MaxPooling2D((3, 3)), L.Flatten(), L.Dense(10, activation="softmax")),
     r"2層目の MaxPooling2D のプーリングの大きさが \(3, 3\) です。pool_size=\(2, 2\) にしてください"),
    (lambda: _cnn(L.Conv2D(32, (3, 3), activation="relu"), L.AveragePooling2D((2, 2)), L.Flatten(), L.Dense(10, activation="softmax")),
     r"2層目が AveragePooling2D になっています。MaxPooling2D\(\(2, 2\)\) にしてください。いまの構成: Conv2D\(32, \(3, 3\), "
     r"activation='relu'\) → AveragePooling2D\(\(2, 2\)\) → Flatten\(\) → "),
    (lambda: _cnn(L.Conv2D(32, (3, 3), activation="relu"), L.Flatten(), L.Dense(10, activation="softmax")),
     r"層の数が 3 です（.*）。期待される構成は Conv2D\(32, \(3, 3\), activation='relu'\) → MaxPooling2D\(\(2, 2\)\) → Flatten\(\) → "
     r"Dense\(10, activation='softmax'\) の 4 層です"),
    (lambda: Sequential([keras.Input((784,)), L.Dense(32, activation="relu"), L.Dense(10, activation="softmax")]),
     r"入力の形が \(None, 784\) です。\(None, 28, 28, 1\) になるように input_shape=\(28, 28, 1\) を指定しましょう。"
     r"学習に使うデータも reshape\(-1, 28, 28, 1\) で同じ形にしておきます。"),
    (lambda: Sequential([keras.Input((28, 28)), L.Flatten(), L.Dense(10, activation="softmax")]),
     r"入力の形が \(None, 28, 28\) です。\(None, 28, 28, 1\) になるように"),
    (lambda: Sequential([L.Conv2D(32, (3, 3), activation="relu"), L.Flatten()]),
     r"最初の層に input_shape=\(28, 28, 1\) を指定しましょう（例: model.add\(Conv2D\(32, \(3, 3\), activation='relu', "
     r"input_shape=\(28, 28, 1\)\)\)）"),
])
def test_cnn_mistakes_name_the_setting(build, message):
    """Does each CNN mistake (filters, kernel, activation, padding, pool size, pooling kind, a missing layer, a flat
    or channel-less input, no input at all) fail on its own setting, in Japanese, naming what to write?"""
    model = build()
    with pytest.raises(CheckFailed, match=message) as failure:
        structure.check_structure(model, CNN, input_shape=IMAGE)
    _assert_for_students(str(failure.value))


def _assert_for_students(message: str) -> None:
    """A student's message: Japanese, without exception names or tracebacks."""
    assert any("\u3040" <= ch <= "\u30ff" for ch in message), message
    for word in ("Error", "Exception", "Traceback", "None of", "expected"):
        assert word not in message, message


def test_a_wrong_width_into_dense_says_where_it_comes_from():
    """Is a Dense after the wrong shape told what it receives (21,632 instead of 5,408), not only the parameter count?"""
    expected = [structure.conv2d(32, (3, 3), "relu", input_shape=IMAGE), structure.flatten(),
                structure.dense(10, "softmax", inputs=5408)]
    model = _cnn(L.Conv2D(32, (3, 3), activation="relu"), L.Flatten(), L.Dense(10, activation="softmax"))
    with pytest.raises(CheckFailed, match=r"3層目のパラメータ数が 216,330 です。54,090 になるはずです（この層が受け取る形が "
                                         r"\(None, 21632\) で、最後の次元が 5408 ではなく 21632 です"):
        structure.check_structure(model, expected, input_shape=IMAGE)


def test_specs_describe_themselves_as_written():
    """Does every kind describe itself by its own name and arguments (no more Dense(None, ...) for a Conv2D)?"""
    assert LayerSpec("Conv2D").describe() == "Conv2D()"
    assert LayerSpec("Dense", units=10).describe() == "Dense(10)"
    assert [spec.describe() for spec in CNN] == [
        "Conv2D(32, (3, 3), activation='relu')", "MaxPooling2D((2, 2))", "Flatten()", "Dense(10, activation='softmax')"]
    assert [spec.describe() for spec in (
        structure.average_pooling2d(2), structure.max_pooling2d((2, 2), strides=1), structure.batch_normalization(),
        structure.embedding(1000, 16), structure.simple_rnn(8), structure.lstm(4, return_sequences=True),
        structure.gru(4, activation="relu"), structure.activation("softmax"), structure.dropout(0.25),
        structure.conv2d(8, 5, None, strides=2, padding="same"), structure.layer("GlobalAveragePooling2D"))] == [
        "AveragePooling2D((2, 2))", "MaxPooling2D((2, 2), strides=(1, 1))", "BatchNormalization()", "Embedding(1000, 16)",
        "SimpleRNN(8)", "LSTM(4, return_sequences=True)", "GRU(4, activation='relu')", "Activation('softmax')",
        "Dropout(0.25)", "Conv2D(8, (5, 5), strides=(2, 2), padding='same', activation='linear')",
        "GlobalAveragePooling2D()"]


def test_parameters_are_counted_as_keras_counts_them():
    """Do the helpers' parameter counts equal count_params() of the real layers?"""
    cases = [
        (structure.conv2d(32, (3, 3), "relu", inputs=3), L.Conv2D(32, (3, 3), activation="relu"), (8, 8, 3)),
        (structure.batch_normalization(inputs=8), L.BatchNormalization(), (5, 5, 8)),
        (structure.embedding(1000, 16), L.Embedding(1000, 16), (7,)),
        (structure.simple_rnn(8, inputs=16), L.SimpleRNN(8), (7, 16)),
        (structure.lstm(4, inputs=8), L.LSTM(4), (7, 8)),
        (structure.gru(4, inputs=3), L.GRU(4), (7, 3)),
        (structure.dense(10, "softmax", inputs=5408), L.Dense(10), (5408,)),
    ]
    for spec, keras_layer, shape in cases:
        keras_layer.build((None, *shape))
        assert spec.params == keras_layer.count_params(), spec


def _recurrent(*middle):
    return Sequential([keras.Input((None,)), L.Embedding(1000, 16), *middle, L.Dense(1, activation="sigmoid")])


RNN = [structure.embedding(1000, 16), structure.simple_rnn(8, inputs=16, return_sequences=True),
       structure.lstm(4, inputs=8), structure.dense(1, "sigmoid", inputs=4)]


def test_recurrent_layers_by_kind_shape_and_parameters(tmp_path):
    """Does Embedding → SimpleRNN(return_sequences=True) → LSTM → Dense pass on sequences of any length, also reloaded,
    and do a GRU in the LSTM's place, a missing return_sequences and a wrong vocabulary each fail on their own point?"""
    model = _recurrent(L.SimpleRNN(8, return_sequences=True), L.LSTM(4))
    structure.check_structure(model, RNN, input_shape=(None,))
    structure.check_structure(_round_trip(model, tmp_path), RNN, input_shape=(None,))
    assert [row["output_shape"] for row in layer_table(model, input_shape=(None,))] == [
        (None, None, 16), (None, None, 8), (None, 4), (None, 1)]
    with pytest.raises(CheckFailed, match=r"3層目が GRU になっています。LSTM\(4\) にしてください"):
        structure.check_structure(_recurrent(L.SimpleRNN(8, return_sequences=True), L.GRU(4)), RNN, input_shape=(None,))
    with pytest.raises(CheckFailed, match=r"1層目の LSTM の return_sequences の設定が True です。return_sequences=False にしてください"):
        structure.check_structure(Sequential([keras.Input((10, 3)), L.LSTM(4, return_sequences=True)]),
                                  [structure.lstm(4, inputs=3)], input_shape=(10, 3))
    with pytest.raises(CheckFailed, match=r"1層目の Embedding の語彙の数が 500 です。input_dim=1000 にしてください"):
        structure.check_structure(Sequential([keras.Input((None,)), L.Embedding(500, 16), L.SimpleRNN(8, return_sequences=True),
                                              L.LSTM(4), L.Dense(1, activation="sigmoid")]), RNN, input_shape=(None,))


def test_an_activation_after_batch_normalization_stays_a_layer():
    """Is Conv2D → BatchNormalization → Activation('relu') three layers (BatchNormalization has no activation to fold
    into), with 4 parameters per channel, and a Conv2D(activation='relu') → BatchNormalization refused?"""
    expected = [structure.conv2d(8, (3, 3), None, input_shape=IMAGE), structure.batch_normalization(inputs=8),
                structure.activation("relu"), structure.flatten(), structure.dense(10, "softmax", inputs=26 * 26 * 8)]
    model = _cnn(L.Conv2D(8, (3, 3)), L.BatchNormalization(), L.Activation("relu"), L.Flatten(), L.Dense(10, activation="softmax"))
    structure.check_structure(model, expected, input_shape=IMAGE)
    assert [row["kind"] for row in layer_table(model, input_shape=IMAGE)][:3] == ["Conv2D", "BatchNormalization", "Activation"]
    with pytest.raises(CheckFailed, match="層の数が 4 です"):
        structure.check_structure(_cnn(L.Conv2D(8, (3, 3), activation="relu"), L.BatchNormalization(), L.Flatten(),
                                       L.Dense(10, activation="softmax")), expected, input_shape=IMAGE)


def test_any_layer_by_its_config():
    """Does layer(kind, **config) check a layer the helpers do not name, lists and tuples alike, a missing setting named?"""
    model = Sequential([keras.Input((20, 3)), L.Conv1D(8, 3), L.GlobalAveragePooling1D(), L.Dense(2, activation="softmax")])
    expected = [structure.layer("Conv1D", filters=8, kernel_size=[3], params=80), structure.layer("GlobalAveragePooling1D"),
                structure.dense(2, "softmax", inputs=8)]
    structure.check_structure(model, expected, input_shape=(20, 3))
    assert hash(expected[0]) == hash(structure.layer("Conv1D", filters=8, kernel_size=(3,), params=80))
    with pytest.raises(CheckFailed, match=r"1層目の Conv1D のフィルタの数が 8 です。filters=16 にしてください"):
        structure.check_structure(model, [structure.layer("Conv1D", filters=16), *expected[1:]], input_shape=(20, 3))
    with pytest.raises(CheckFailed, match=r"2層目の GlobalAveragePooling1D の keepdims が False です。keepdims=True"):
        structure.check_structure(model, [expected[0], structure.layer("GlobalAveragePooling1D", keepdims=True), expected[2]],
                                  input_shape=(20, 3))
    with pytest.raises(CheckFailed, match=r"2層目の GlobalAveragePooling1D のユニット数が指定されていません。units=4 にしてください"):
        structure.check_structure(model, [expected[0], structure.layer("GlobalAveragePooling1D", units=4), expected[2]],
                                  input_shape=(20, 3))


def test_an_expected_output_shape_is_checked():
    """Is an output shape the spec states compared (without the batch dimension), None matching any size?"""
    model = _cnn()
    structure.check_structure(model, [CNN[0], CNN[1], structure.flatten(output_shape=(5408,)), CNN[3]], input_shape=IMAGE)
    with pytest.raises(CheckFailed, match=r"3層目（Flatten）の出力の形が \(None, 5408\) です。\(None, 2704\) になるはずです"):
        structure.check_structure(model, [CNN[0], CNN[1], structure.flatten(output_shape=(2704,)), CNN[3]], input_shape=IMAGE)
