"""Example submissions made from an assignment: the student version filled in with the solution,
the typical mistakes students make, and correct answers written other ways (variants), each a few
edits of answer cells.

The demo grades a few of them; the tests grade every one and check that each mistake loses
exactly the points of the checks it breaks, and that every variant earns full marks.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

DELIMITER = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n?", re.MULTILINE)


@dataclass(frozen=True)
class Mistake:
    """A typical mistake: text replaced in one answer cell, and what grading must make of it."""

    name: str
    description: str
    """What the student did (Japanese)."""

    edits: tuple[tuple[str, str, str], ...]
    """``(grade_id of the answer cell, old text, new text)``; each old text must occur in that cell."""

    lost: frozenset[str]
    """grade_ids of the checks that must lose their points (all others keep theirs)."""

    says: str
    """A phrase the message of the first lost check must contain."""


PLOT_LOSS = "plt.plot(result.history['loss'], label='loss')\nplt.plot(result.history['val_loss'], label='val_loss')"

KADAI4_MISTAKES = (
    Mistake("wrong_units", "問1で Dense(64) にした", (("q1_code", "Dense(32, input_shape", "Dense(64, input_shape"),),
            frozenset({"q1_model"}), "ユニット数が 64 です"),
    Mistake("too_few_epochs", "問2で epochs=10 にした", (("q2_code", "epochs=30", "epochs=10"),),
            frozenset({"q2_fit"}), "10 個です"),
    Mistake("swapped_labels", "問3で loss と val_loss のラベルを入れ替えた",
            (("q3_code", PLOT_LOSS, PLOT_LOSS.replace("label='loss'", "label='TMP'")
              .replace("label='val_loss'", "label='loss'").replace("label='TMP'", "label='val_loss'")),),
            frozenset({"q3_plot_loss"}), "label='loss' の線が result.history['val_loss'] を描いています"),
    Mistake("missing_labels", "問3で label= を付けなかった",
            tuple(("q3_code", f", label='{key}')", ")") for key in ("loss", "val_loss", "accuracy", "val_accuracy")),
            frozenset({"q3_plot_legend"}), "凡例に線の名前がありません"),
    Mistake("no_legend", "問3で plt.legend() を書かなかった", (("q3_code", "plt.legend()\n", ""),),
            frozenset({"q3_plot_legend"}), "凡例がありません"),
    Mistake("one_panel", "問3で plt.subplot を使わず1つのグラフに描いた",
            (("q3_code", "plt.subplot(1,2,1)\n", ""), ("q3_code", "plt.subplot(1,2,2)\n", "")),
            frozenset({"q3_plot_layout", "q3_plot_accuracy"}), "グラフが 1 個あります"),
    Mistake("syntax_error", "問4の predict のセルで括弧を閉じ忘れた",
            (("q4_predict_code", "model.predict(x_test)", "model.predict(x_test"),),
            frozenset({"q4_predict"}), "変数 test2 がありません"),
    Mistake("exception", "問5で activation='softmx' と書き間違えた（エラーで止まる）",
            (("q5_code", "Dense(10, activation='softmax')", "Dense(10, activation='softmx')"),),
            frozenset({"q5_neurons"}), "層の数が 1 です"),
    Mistake("missing_dropout", "問7で Dropout を入れなかった", (("q7_code", "model.add(Dropout(0.5))\n", ""),),
            frozenset({"q7_dropout"}), "層の数が 4 です"),
    Mistake("low_accuracy", "問8で小さなモデルを1エポックだけ学習した",
            (("q8_code", "Dense(512,", "Dense(4,"), ("q8_code", "epochs=12", "epochs=1")),
            frozenset({"q8_free"}), "目標"),
)


KADAI3_MISTAKES = (
    Mistake("wrong_image", "問1で x_test[0] を表示した", (("q1_code", "x_test[1], 'gray'", "x_test[0], 'gray'"),),
            frozenset({"q1_image"}), "2枚目 x_test[1]"),
    Mistake("no_gray", "問1で 'gray' を付けなかった", (("q1_code", "x_test[1], 'gray'", "x_test[1]"),),
            frozenset({"q1_image"}), "画像の色が 'viridis' です"),
    Mistake("no_float32", "問2で x_train に astype('float32') を付けなかった",
            (("q2_code", "x_train.reshape(60000, 784).astype('float32') / 255", "x_train.reshape(60000, 784) / 255"),),
            frozenset({"q2_reshape"}), "x_train の型が float64 です"),
    Mistake("wrong_units", "問3で Dense(64) にした", (("q3_code", "Dense(32, input_shape", "Dense(64, input_shape"),),
            frozenset({"q3_model"}), "ユニット数が 64 です"),
    Mistake("too_few_epochs", "問4で epochs=20 にした", (("q4_code", "epochs=30", "epochs=20"),),
            frozenset({"q4_fit"}), "20 個です"),
    Mistake("rounded_to_1", "問5で np.around(test[1], 1) にした", (("q5_code", "np.around(test[1], 3)", "np.around(test[1], 1)"),),
            frozenset({"q5_around"}), "np.around(test[1], 3) と一致しません"),
    Mistake("syntax_error", "問5の predict のセルで括弧を閉じ忘れた", (("q5_code", "model.predict(x_test)", "model.predict(x_test"),),
            frozenset({"q5_predict", "q5_around"}), "変数 test がありません"),
)

KADAI5_MISTAKES = (
    Mistake("test_statistics", "問1で x_test をテストデータ自身の平均と標準偏差で標準化した",
            (("q1_code", "x_test = (x_test_raw - mean) / std",
              "x_test = (x_test_raw - x_test_raw.mean(axis=0)) / x_test_raw.std(axis=0)"),),
            frozenset({"q1_no_leak"}), "テストデータ自身の平均"),
    Mistake("all_data_statistics", "問1で全データ x の平均と標準偏差を使った（リーク）",
            (("q1_code", "mean = x_train_raw.mean(axis=0)\nstd = x_train_raw.std(axis=0)", "mean = x.mean(axis=0)\nstd = x.std(axis=0)"),),
            frozenset({"q1_scaled", "q1_no_leak"}), "x_train が標準化されていません"),
    Mistake("wrong_units", "問2で1層目を Dense(32) にした", (("q2_code", "Dense(64, input_shape", "Dense(32, input_shape"),),
            frozenset({"q2_model"}), "ユニット数が 32 です"),
    Mistake("wrong_loss", "問2で loss='mean_squared_error' にした",
            (("q2_code", "loss='binary_crossentropy'", "loss='mean_squared_error'"),),
            frozenset({"q2_model"}), "損失関数が 'mean_squared_error' です"),
    Mistake("too_few_epochs", "問3で epochs=50 にした", (("q3_code", "epochs=100", "epochs=50"),),
            frozenset({"q3_fit"}), "50 個です"),
    Mistake("no_legend", "問4で plt.legend() を書かなかった", (("q4_code", "plt.legend()\n", ""),),
            frozenset({"q4_plot_legend"}), "凡例がありません"),
    Mistake("no_dropout", "問5で Dropout を入れなかった", (("q5_code", "model.add(Dropout(0.5))\n", ""),),
            frozenset({"q5_dropout"}), "層の数が 3 です"),
    Mistake("no_restore", "問5で restore_best_weights=True を付けなかった",
            (("q5_code", ", restore_best_weights=True", ""),),
            frozenset({"q5_early_stopping"}), "restore_best_weights=True"),
    Mistake("syntax_error", "問6で recall_score の括弧を閉じ忘れた",
            (("q6_code", "recall_score(y_test, pred)", "recall_score(y_test, pred"),),
            frozenset({"q6_recall", "q7_confusion"}), "変数 recall がありません"),
)

MISTAKES = {"kadai3": KADAI3_MISTAKES, "kadai4": KADAI4_MISTAKES, "kadai5": KADAI5_MISTAKES}
"""Every assignment's typical mistakes, by assignment id."""


@dataclass(frozen=True)
class Variant:
    """A correct answer written another way than the solution: it must earn every automatic point."""

    name: str
    description: str
    """What the student wrote instead (Japanese)."""

    edits: tuple[tuple[str, str, str], ...]
    """``(grade_id of the answer cell, old text, new text)`` on the solution-filled notebook, as for ``Mistake``."""


def _plot(loss=("loss", "val_loss"), accuracy=("accuracy", "val_accuracy")) -> str:
    """The lecture's history figure with other History keys (``acc`` after ``metrics=['acc']``)."""
    return ("fig = plt.figure(figsize=(12,4))\nplt.subplot(1,2,1)\n"
            + "".join(f"plt.plot(result.history['{k}'], label='{k}')\n" for k in loss) + "plt.legend()\nplt.subplot(1,2,2)\n"
            + "".join(f"plt.plot(result.history['{k}'], label='{k}')\n" for k in accuracy) + "plt.legend()\nplt.show()\n")


LECTURE_PLOT = _plot()

SUBPLOTS_PLOT = """fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4))
epochs = range(1, len(result.history['loss']) + 1)
ax1.plot(epochs, result.history['loss'], label='train')
ax1.plot(epochs, result.history['val_loss'], label='validation')
ax1.set_title('loss')
ax1.set_xlabel('epoch')
ax1.legend()
ax2.plot(epochs, result.history['accuracy'], label='訓練')
ax2.plot(epochs, result.history['val_accuracy'], label='検証')
ax2.set_title('accuracy')
ax2.grid(True)
ax2.legend()
plt.show()
"""

TWIN_PLOT = """fig = plt.figure(figsize=(12, 4))
ax1 = fig.add_subplot(121)
first = ax1.plot(result.history['loss'], 'b', label='loss')
ax1b = ax1.twinx()
second = ax1b.plot(result.history['val_loss'], 'r', label='val_loss')
ax1.legend(first + second, ['loss', 'val_loss'])
ax2 = fig.add_subplot(122)
epochs = np.arange(1, len(result.history['accuracy']) + 1)
ax2.plot(epochs, result.history['accuracy'], label='accuracy')
ax2.plot(epochs, result.history['val_accuracy'], label='val_accuracy')
points = ax2.scatter(epochs, result.history['val_accuracy'], c=epochs, s=8)
fig.colorbar(points, ax=ax2, label='epoch')
ax2.legend()
plt.show()
"""

PYPLOT_NO_NAME_PLOT = """plt.figure(figsize=(12, 4))
plt.subplot(121)
plt.plot(range(1, len(result.history['loss']) + 1), result.history['loss'], label='train')
plt.plot(range(1, len(result.history['loss']) + 1), result.history['val_loss'], label='validation')
plt.title('損失')
plt.xlabel('epoch')
plt.ylabel('loss')
plt.grid()
plt.legend()
plt.subplot(122)
plt.plot(result.history['accuracy'], label='train')
plt.plot(result.history['val_accuracy'], label='validation')
plt.title('正解率')
plt.legend(loc='lower right')
plt.show()
"""

LECTURE_MODEL32 = ("model = Sequential()\nmodel.add(Dense(32, input_shape=(784,), activation='relu'))\n"
                   "model.add(Dense(10, activation='softmax'))\n")
KADAI5_MODEL = ("model = Sequential()\nmodel.add(Dense(64, input_shape=(30,), activation='relu'))\n"
                "model.add(Dense(64, activation='relu'))\nmodel.add(Dense(1, activation='sigmoid'))\n")
KADAI5_CURE = ("model = Sequential()\nmodel.add(Dense(64, input_shape=(30,), activation='relu'))\nmodel.add(Dropout(0.5))\n"
               "model.add(Dense(64, activation='relu'))\nmodel.add(Dropout(0.5))\nmodel.add(Dense(1, activation='sigmoid'))\n")

KADAI3_VARIANTS = (
    Variant("imshow_cmap_colorbar", "問1で plt.imshow(x_test[1], cmap='gray') に plt.colorbar() とタイトルを付けた",
            (("q1_code", "plt.imshow(x_test[1], 'gray')\n",
              "plt.figure(figsize=(4, 4))\nplt.imshow(x_test[1], cmap='gray')\nplt.colorbar()\nplt.title(f'y_test[1] = {y_test[1]}')\n"),)),
    Variant("float_literal_reshape_minus_one", "問2で reshape(-1, 784)・astype(np.float32)・/ 255.0 と書いた",
            (("q2_code", "x_train.reshape(60000, 784).astype('float32') / 255", "x_train.reshape(-1, 784).astype(np.float32) / 255.0"),
             ("q2_code", "x_test.reshape(10000, 784).astype('float32') / 255", "x_test.reshape(-1, 28 * 28).astype(np.float32) / 255.0"))),
    Variant("sequential_list", "問3で Sequential([...]) にリストで層を並べた",
            (("q3_code", LECTURE_MODEL32,
              "model = Sequential([\n    Dense(32, input_shape=(784,), activation='relu'),\n    Dense(10, activation='softmax'),\n])\n"),)),
    Variant("positional_fit", "問4で model.fit(x_train, y_train, 64, 30, validation_split=0.2) と位置引数で書いた",
            (("q4_code", "epochs=30, batch_size=64, validation_split=0.2", "64, 30, validation_split=0.2"),)),
    Variant("np_round", "問5で np.round(test[1], decimals=3) と書いた",
            (("q5_code", "np.around(test[1], 3)", "np.round(test[1], decimals=3)"),)),
    Variant("cmap_object_int_label", "問1で cmap=plt.cm.gray と label = int(y_test[1]) と書いた",
            (("q1_code", "plt.imshow(x_test[1], 'gray')", "plt.imshow(x_test[1], cmap=plt.cm.gray)"),
             ("q1_code", "label = y_test[1]", "label = int(y_test[1])"))),
    Variant("divide_first_keras_utils", "問2で 255 で割ってから astype と reshape をし、keras.utils.to_categorical(num_classes=10) を使った",
            (("q2_code", "x_train.reshape(60000, 784).astype('float32') / 255", "(x_train / 255).astype('float32').reshape(60000, 784)"),
             ("q2_code", "to_categorical(y_train, 10)", "keras.utils.to_categorical(y_train, num_classes=10)"),
             ("q2_code", "to_categorical(y_test, 10)", "keras.utils.to_categorical(y_test, num_classes=10)"))),
    Variant("functional_tensorflow_keras", "問3で from tensorflow.keras から読み込み、Functional API の Model(inputs, outputs) で作った",
            (("q3_code", LECTURE_MODEL32,
              "from tensorflow.keras import Input, Model\nfrom tensorflow.keras.layers import Dense\n"
              "inputs = Input(shape=(784,))\nhidden = Dense(32, activation='relu')(inputs)\n"
              "outputs = Dense(10, activation='softmax')(hidden)\nmodel = Model(inputs, outputs)\n"),)),
    Variant("categorical_accuracy_metric", "問3で metrics=[keras.metrics.CategoricalAccuracy()] にした",
            (("q3_code", "metrics=['accuracy']", "metrics=[keras.metrics.CategoricalAccuracy()]"),)),
    Variant("keyword_fit_verbose", "問4で x=, y= を名前で渡し、batch_size を先に、verbose=2 を付けた",
            (("q4_code", "model.fit(x_train, y_train, epochs=30, batch_size=64, validation_split=0.2)",
              "model.fit(x=x_train, y=y_train, batch_size=64, epochs=30, verbose=2, validation_split=0.2)"),)),
)

KADAI4_VARIANTS = (
    Variant("functional_api", "問1で Functional API（keras.Input と keras.Model(inputs, outputs)）で作った",
            (("q1_code", LECTURE_MODEL32,
              "inputs = keras.Input(shape=(784,))\nhidden = Dense(32, activation='relu')(inputs)\n"
              "outputs = Dense(10, activation='softmax')(hidden)\nmodel = keras.Model(inputs, outputs)\n"),)),
    Variant("acc_metric", "問1で metrics=['acc'] にし、問3で result.history['acc'] と 'val_acc' を描いた",
            (("q1_code", "metrics=['accuracy']", "metrics=['acc']"),
             ("q3_code", LECTURE_PLOT, _plot(accuracy=("acc", "val_acc"))))),
    Variant("positional_fit", "問2で model.fit(x_train, y_train, 64, 30, validation_split=0.2) と位置引数で書いた",
            (("q2_code", "epochs=30, batch_size=64, validation_split=0.2", "64, 30, validation_split=0.2"),)),
    Variant("evaluate_return_dict", "問4で score = model.evaluate(x_test, y_test, return_dict=True) にした",
            (("q4_evaluate_code", "score = model.evaluate(x_test, y_test)\nprint('Test loss:', score[0])\nprint('Test accuracy:', score[1])",
              "score = model.evaluate(x_test, y_test, return_dict=True)\nprint('Test loss:', score['loss'])\nprint(score)"),)),
    Variant("tf_nn_relu", "問5で activation=tf.nn.relu（TensorFlow の関数）を渡した",
            (("q5_code", "model = Sequential()\nmodel.add(Dense(128, input_shape=(784,), activation='relu'))",
              "import tensorflow as tf\nmodel = Sequential()\nmodel.add(Dense(128, input_shape=(784,), activation=tf.nn.relu))"),)),
    Variant("activation_layers", "問6で活性化関数を Activation('relu')・ReLU()・Softmax() の層として Dense の後に置いた",
            (("q6_code", "model.add(Dense(64, activation='relu'))\nmodel.add(Dense(32, activation='relu'))\nmodel.add(Dense(10, activation='softmax'))",
              "model.add(Dense(64))\nmodel.add(keras.layers.Activation('relu'))\nmodel.add(Dense(32, activation=keras.activations.relu))\n"
              "model.add(Dense(10))\nmodel.add(keras.layers.Softmax())"),
             ("q6_code", "model.add(Dense(128, input_shape=(784,), activation='relu'))",
              "model.add(Dense(128, input_shape=(784,)))\nmodel.add(keras.layers.ReLU())"))),
    Variant("keras_input_list", "問7で keras.Input(shape=(784,)) から始まる Sequential のリストで作った",
            (("q7_code", "model = Sequential()\nmodel.add(Dense(128, input_shape=(784,), activation='relu'))\nmodel.add(Dropout(0.5))\n"
              "model.add(Dense(64, activation='relu'))\nmodel.add(Dense(32, activation='relu'))\nmodel.add(Dense(10, activation='softmax'))",
              "model = Sequential([\n    keras.Input(shape=(784,)),\n    Dense(128, activation='relu'),\n    Dropout(0.5),\n"
              "    Dense(64, activation='relu'),\n    Dense(32, activation='relu'),\n    Dense(10, activation='softmax'),\n])"),)),
    Variant("tensorflow_keras_imports", "問8で from tensorflow.keras import layers, models として layers.Dense などで作った",
            (("q8_code", "model = Sequential()\nmodel.add(Dense(512, input_shape=(784,), activation='relu'))\nmodel.add(Dropout(0.3))\n"
              "model.add(Dense(128, activation='relu'))\nmodel.add(Dense(10, activation='softmax'))",
              "from tensorflow.keras import layers, models\nmodel = models.Sequential([\n    layers.Input(shape=(784,)),\n"
              "    layers.Dense(512, activation='relu'),\n    layers.Dropout(0.3),\n    layers.Dense(128, activation='relu'),\n"
              "    layers.Dense(10, activation='softmax'),\n])"),)),
    Variant("sequential_list", "問1で Sequential([...]) にリストで層を並べた",
            (("q1_code", LECTURE_MODEL32,
              "model = Sequential([\n    Dense(32, input_shape=(784,), activation='relu'),\n    Dense(10, activation='softmax'),\n])\n"),)),
    Variant("keyword_fit_verbose", "問2で batch_size を先に書き、verbose=2 を付けた",
            (("q2_code", "epochs=30, batch_size=64, validation_split=0.2", "batch_size=64, epochs=30, validation_split=0.2, verbose=2"),)),
    Variant("subplots_object_oriented", "問3で fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4)) と ax.plot で、x に epoch、"
            "ラベル 'train'/'validation'/'訓練'/'検証'、タイトル・軸ラベル・グリッドを付けて描いた",
            (("q3_code", LECTURE_PLOT, SUBPLOTS_PLOT),)),
    Variant("categorical_accuracy_object", "問5で metrics=[keras.metrics.CategoricalAccuracy()] にした",
            (("q5_code", "metrics=['accuracy']", "metrics=[keras.metrics.CategoricalAccuracy()]"),)),
    Variant("categorical_accuracy_name", "問6で metrics=['categorical_accuracy'] にした",
            (("q6_code", "metrics=['accuracy']", "metrics=['categorical_accuracy']"),)),
    Variant("functional_dropout", "問7で Functional API に Dropout(0.5) を入れて作った",
            (("q7_code", "model = Sequential()\nmodel.add(Dense(128, input_shape=(784,), activation='relu'))\nmodel.add(Dropout(0.5))\n"
              "model.add(Dense(64, activation='relu'))\nmodel.add(Dense(32, activation='relu'))\nmodel.add(Dense(10, activation='softmax'))",
              "inputs = keras.Input(shape=(784,))\nh = Dense(128, activation='relu')(inputs)\nh = Dropout(0.5)(h)\n"
              "h = Dense(64, activation='relu')(h)\nh = Dense(32, activation='relu')(h)\n"
              "model = keras.Model(inputs=inputs, outputs=Dense(10, activation='softmax')(h))"),)),
)

KADAI5_VARIANTS = (
    Variant("standard_scaler", "問1で StandardScaler を学習用データで fit し、テスト用データは transform だけにした",
            (("q1_code", "mean = x_train_raw.mean(axis=0)\nstd = x_train_raw.std(axis=0)\nx_train = (x_train_raw - mean) / std\nx_test = (x_test_raw - mean) / std",
              "from sklearn.preprocessing import StandardScaler\nscaler = StandardScaler()\n"
              "x_train = scaler.fit_transform(x_train_raw)\nx_test = scaler.transform(x_test_raw)"),)),
    Variant("functional_loss_object", "問2で Functional API で作り、loss=keras.losses.BinaryCrossentropy() にした",
            (("q2_code", KADAI5_MODEL,
              "inputs = keras.Input(shape=(30,))\nh = Dense(64, activation='relu')(inputs)\nh = Dense(64, activation='relu')(h)\n"
              "model = keras.Model(inputs, Dense(1, activation='sigmoid')(h))\n"),
             ("q2_code", "loss='binary_crossentropy'", "loss=keras.losses.BinaryCrossentropy()"))),
    Variant("positional_fit", "問3で model.fit(x_train, y_train, 32, 100, validation_split=0.2) と位置引数で書いた",
            (("q3_code", "epochs=100, batch_size=32, validation_split=0.2", "32, 100, validation_split=0.2"),)),
    Variant("subplots_object_oriented", "問4で plt.subplots と ax.plot で、x に epoch、ラベル 'train'/'validation'/'訓練'/'検証' で描いた",
            (("q4_code", LECTURE_PLOT, SUBPLOTS_PLOT),)),
    Variant("activation_layers", "問5で活性化関数を Activation('relu') の層として Dense の後に置き、最後を Dense(1) と Activation('sigmoid') にした",
            (("q5_code", KADAI5_CURE,
              "model = Sequential()\nmodel.add(Dense(64, input_shape=(30,)))\nmodel.add(keras.layers.Activation('relu'))\n"
              "model.add(Dropout(0.5))\nmodel.add(Dense(64))\nmodel.add(keras.layers.ReLU())\nmodel.add(Dropout(0.5))\n"
              "model.add(Dense(1))\nmodel.add(keras.layers.Activation('sigmoid'))\n"),)),
    Variant("ravel_then_threshold", "問6で pred = (model.predict(x_test).ravel() > 0.5).astype(int) と書いた",
            (("q6_code", "pred = (model.predict(x_test) > 0.5).astype('int').ravel()",
              "pred = (model.predict(x_test, verbose=0).ravel() > 0.5).astype(int)"),)),
    Variant("numpy_statistics", "問1で np.mean(x_train_raw, axis=0) と np.std(x_train_raw, axis=0) を使った",
            (("q1_code", "mean = x_train_raw.mean(axis=0)\nstd = x_train_raw.std(axis=0)",
              "mean = np.mean(x_train_raw, axis=0)\nstd = np.std(x_train_raw, axis=0)"),)),
    Variant("loss_function", "問2で loss=keras.losses.binary_crossentropy（関数）を渡した",
            (("q2_code", "loss='binary_crossentropy'", "loss=keras.losses.binary_crossentropy"),)),
    Variant("acc_metric", "問2で metrics=['acc'] にし、問4で result.history['acc'] と 'val_acc' を描いた",
            (("q2_code", "metrics=['accuracy']", "metrics=['acc']"),
             ("q4_code", LECTURE_PLOT, _plot(accuracy=("acc", "val_acc"))))),
    Variant("keras_input_list", "問5で keras.Input(shape=(30,)) から始まる Sequential のリストで作った",
            (("q5_code", KADAI5_CURE,
              "model = Sequential([\n    keras.Input(shape=(30,)),\n    Dense(64, activation='relu'),\n    Dropout(0.5),\n"
              "    Dense(64, activation='relu'),\n    Dropout(0.5),\n    Dense(1, activation='sigmoid'),\n])\n"),)),
    Variant("binary_accuracy_metric", "問2で metrics=['binary_accuracy'] にし、問4で result.history['binary_accuracy'] を描いた",
            (("q2_code", "metrics=['accuracy']", "metrics=['binary_accuracy']"),
             ("q4_code", LECTURE_PLOT, _plot(accuracy=("binary_accuracy", "val_binary_accuracy"))))),
    Variant("tensorflow_keras_imports", "問5で from tensorflow.keras から Dense・Dropout・EarlyStopping を読み込んで使った",
            (("q5_code", "model = Sequential()\n",
              "from tensorflow.keras.models import Sequential\nfrom tensorflow.keras.layers import Dense, Dropout\n"
              "from tensorflow.keras.callbacks import EarlyStopping\nmodel = Sequential()\n"),)),
    Variant("evaluate_return_dict", "問6で score = model.evaluate(x_test, y_test, return_dict=True) にした",
            (("q6_code", "score = model.evaluate(x_test, y_test)", "score = model.evaluate(x_test, y_test, return_dict=True)"),
             ("q6_code", "print('Test loss:', score[0])\nprint('Test accuracy:', score[1])",
              "print('Test loss:', score['loss'])\nprint('Test accuracy:', score['accuracy'])"))),
    Variant("twin_axes_colorbar", "問4で fig.add_subplot(121) と twinx で loss と val_loss を別の目盛りに描き、右に x 値と colorbar を付けた",
            (("q4_code", LECTURE_PLOT, TWIN_PLOT),)),
    Variant("scaler_fit_then_transform", "問1で StandardScaler().fit(x_train_raw) のあと transform した",
            (("q1_code", "mean = x_train_raw.mean(axis=0)\nstd = x_train_raw.std(axis=0)\nx_train = (x_train_raw - mean) / std\nx_test = (x_test_raw - mean) / std",
              "from sklearn.preprocessing import StandardScaler\nscaler = StandardScaler().fit(x_train_raw)\n"
              "x_train = scaler.transform(x_train_raw)\nx_test = scaler.transform(x_test_raw)"),)),
    Variant("tf_nn_activations", "問2で activation=tf.nn.relu と tf.nn.sigmoid（TensorFlow の関数）を渡した",
            (("q2_code", KADAI5_MODEL,
              "import tensorflow as tf\nmodel = Sequential()\nmodel.add(Dense(64, input_shape=(30,), activation=tf.nn.relu))\n"
              "model.add(Dense(64, activation=tf.nn.relu))\nmodel.add(Dense(1, activation=tf.nn.sigmoid))\n"),)),
    Variant("pyplot_without_fig_name", "問4で fig = を付けずに plt.figure(figsize=(12, 4)) と plt.subplot(121) で、x 値・タイトル・軸ラベル・グリッドを付けて描いた",
            (("q4_code", LECTURE_PLOT, PYPLOT_NO_NAME_PLOT),)),
    Variant("functional_dropout", "問5で Functional API に Dropout(0.5) を入れて作った",
            (("q5_code", KADAI5_CURE,
              "inputs = keras.Input(shape=(30,))\nh = Dropout(0.5)(Dense(64, activation='relu')(inputs))\n"
              "h = Dropout(0.5)(Dense(64, activation='relu')(h))\nmodel = keras.Model(inputs, Dense(1, activation='sigmoid')(h))\n"),)),
)

VARIANTS = {"kadai3": KADAI3_VARIANTS, "kadai4": KADAI4_VARIANTS, "kadai5": KADAI5_VARIANTS}
"""Every assignment's correct answers written other ways than the solution, by assignment id: each must earn full marks."""


def _cells_by_id(notebook) -> dict[str, nbformat.NotebookNode]:
    return {c.metadata["nbgrader"]["grade_id"]: c for c in notebook.cells if "nbgrader" in c.metadata}


def filled_in(source: Path, release: Path, only: set[str] | None = None) -> nbformat.NotebookNode:
    """The release notebook with its answer cells holding the solution, as a student would submit it.

    ``only``: fill just the answer cells with these grade_ids (a student who stopped half-way);
    the others keep the release's stub.
    """
    solutions = _cells_by_id(nbformat.read(source, as_version=4))
    notebook = nbformat.read(release, as_version=4)
    if only is not None and (unknown := only - solutions.keys()):
        raise KeyError(f"no answer cells {sorted(unknown)} in {source}")
    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution") and (only is None or meta["grade_id"] in only):
            cell.source = DELIMITER.sub("", solutions[meta["grade_id"]].source)
    return notebook


def with_mistakes(notebook: nbformat.NotebookNode, *mistakes: Mistake | Variant) -> nbformat.NotebookNode:
    """A copy of ``notebook`` with each mistake's (or variant's) edits applied, in order; raises ``ValueError``
    if an edit no longer fits (its old text is not in the cell, for example because an earlier one rewrote it)."""
    notebook = nbformat.from_dict(notebook)
    cells = _cells_by_id(notebook)
    for mistake in mistakes:
        for grade_id, old, new in mistake.edits:
            cell = cells[grade_id]
            if old not in cell.source:
                raise ValueError(f"{type(mistake).__name__.lower()} {mistake.name}: {old!r} is not in cell {grade_id}")
            cell.source = cell.source.replace(old, new)
    return notebook


def with_variants(notebook: nbformat.NotebookNode, *variants: Variant) -> nbformat.NotebookNode:
    """A copy of ``notebook`` answered in each of ``variants``' ways (several, each on its own questions, in one notebook)."""
    return with_mistakes(notebook, *variants)


def variant(name: str, assignment_id: str) -> Variant:
    """The variant called ``name`` of ``assignment_id``."""
    return next(v for v in VARIANTS[assignment_id] if v.name == name)


def mistake(name: str, assignment_id: str = "kadai4") -> Mistake:
    """The mistake called ``name`` of ``assignment_id``."""
    return next(m for m in MISTAKES[assignment_id] if m.name == name)
