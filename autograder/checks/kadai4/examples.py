"""課題4 (kadai4) の例: typical mistakes, valid variants and the demo's students (see ``autograder.checks.kit``)."""
from __future__ import annotations

from autograder.checks.kit import (
    LECTURE_MODEL32,
    LECTURE_PLOT,
    PLOT_LOSS,
    SUBPLOTS_PLOT,
    DemoStudent,
    Mistake,
    Variant,
    history_plot,
)

MISTAKES = (
    Mistake("wrong_units", "問1で Dense(64) にした", (("q1_code", "Dense(32, input_shape", "Dense(64, input_shape"),),
            frozenset({"q1_model"}), "ユニット数が 64 です"),
    Mistake("mse_loss", "問1で loss='mean_squared_error' にした（問4の evaluate の損失もその値になる）",
            (("q1_code", "loss='categorical_crossentropy'", "loss='mean_squared_error'"),),
            frozenset({"q1_model"}), "損失関数が 'mean_squared_error' です"),
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
    Mistake("trained_on_test", "問8でテストデータで学習した（fit(x_test, y_test)）うえでテストデータで評価した",
            (("q8_code", "model.fit(x_train, y_train, epochs=12", "model.fit(x_test, y_test, epochs=12"),),
            frozenset({"q8_free"}), "テストデータ x_test, y_test で学習していませんか"),
)
"""Typical mistakes: each must lose exactly the points of ``lost``, with ``says`` in its message."""

VARIANTS = (
    Variant("functional_api", "問1で Functional API（keras.Input と keras.Model(inputs, outputs)）で作った",
            (("q1_code", LECTURE_MODEL32,
              "inputs = keras.Input(shape=(784,))\nhidden = Dense(32, activation='relu')(inputs)\n"
              "outputs = Dense(10, activation='softmax')(hidden)\nmodel = keras.Model(inputs, outputs)\n"),)),
    Variant("acc_metric", "問1で metrics=['acc'] にし、問3で result.history['acc'] と 'val_acc' を描いた",
            (("q1_code", "metrics=['accuracy']", "metrics=['acc']"),
             ("q3_code", LECTURE_PLOT, history_plot(accuracy=("acc", "val_acc"))))),
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
    Variant("validation_data_test", "問8で検証に validation_data=(x_test, y_test) を使った（授業のスライドの書き方。学習は x_train）",
            (("q8_code", "model.fit(x_train, y_train, epochs=12, batch_size=256, validation_split=0.2)",
              "model.fit(x_train, y_train, epochs=12, batch_size=256, validation_data=(x_test, y_test))"),)),
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
"""Correct answers written other ways than the solution: each must earn every automatic point."""

DEMO_STUDENTS = (
    DemoStudent("s2027001", "正解の提出 / the correct submission"),
    DemoStudent("s2027002", "一部まちがい: 問1を Dense(64)、問3の凡例なし / partly wrong: 64 units, no legend",
                mistakes=("wrong_units", "no_legend")),
    DemoStudent("s2027003", "壊れたファイル: 途中で切れた JSON / broken: a truncated file", broken=True),
)
"""The example students ``python -m autograder demo`` grades."""
