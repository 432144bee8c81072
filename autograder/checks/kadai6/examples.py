"""課題6 (kadai6) の例: typical mistakes, valid variants and the demo's students (see ``autograder.checks.kit``)."""
from __future__ import annotations

from autograder.checks.kit import (
    LECTURE_PLOT,
    PYPLOT_NO_NAME_PLOT,
    SUBPLOTS_PLOT,
    DemoStudent,
    Mistake,
    Variant,
    history_plot,
)

PREPROCESS_X = ("x_train = x_train.reshape(6000, 28, 28, 1).astype('float32') / 255\n"
                "x_test = x_test.reshape(10000, 28, 28, 1).astype('float32') / 255\n")
CNN = ("model = Sequential()\nmodel.add(Conv2D(32, (3, 3), activation='relu', input_shape=(28, 28, 1)))\n"
       "model.add(MaxPooling2D((2, 2)))\nmodel.add(Flatten())\nmodel.add(Dense(10, activation='softmax'))\n")
COMPILE = "model.compile(loss='categorical_crossentropy', optimizer='Adam', metrics=['accuracy'])"
PRINT_SCORE = "print('Test loss:', score[0])\nprint('Test accuracy:', score[1])"

MISTAKES = (
    Mistake("no_scaling", "問1で 255 で割り忘れた（reshape だけした）",
            (("q1_code", PREPROCESS_X,
              "x_train = x_train.reshape(6000, 28, 28, 1)\nx_test = x_test.reshape(10000, 28, 28, 1)\n"),),
            frozenset({"q1_scaled"}), "255"),
    Mistake("wrong_filters", "問2で Conv2D のフィルタを 64 枚にした",
            (("q2_code", "Conv2D(32, (3, 3)", "Conv2D(64, (3, 3)"),),
            frozenset({"q2_model"}), "64"),
    Mistake("monkeypatch", "問2で Conv2D(64) にして count_params を 54,410 と答えるように書き換え、問6で cm を0の表にして "
            "np.array_equal・np.allclose をいつも True にした（自己チェックと採点をごまかそうとした）",
            (("q2_code", COMPILE, COMPILE + "\nkeras.Model.count_params = lambda self: 54410"),
             ("q2_code", "Conv2D(32, (3, 3)", "Conv2D(64, (3, 3)"),
             ("q6_code", "cm = confusion_matrix(true, pred)",
              "np.array_equal = lambda *args, **kwargs: True\nnp.allclose = lambda *args, **kwargs: True\n"
              "cm = np.zeros((10, 10), dtype=int)")),
            frozenset({"q2_model", "q6_confusion"}), "64"),
    Mistake("no_pooling", "問2で MaxPooling2D を入れなかった",
            (("q2_code", "model.add(MaxPooling2D((2, 2)))\n", ""),),
            frozenset({"q2_model"}), "層の数が 3 です"),
    Mistake("wrong_loss", "問2で loss='mean_squared_error' にした",
            (("q2_code", "loss='categorical_crossentropy'", "loss='mean_squared_error'"),),
            frozenset({"q2_compile"}), "損失関数が 'mean_squared_error' です"),
    Mistake("wrong_batch_size", "問3で batch_size=64 にした",
            (("q3_code", "batch_size=32", "batch_size=64"),),
            frozenset({"q3_fit"}), "バッチ数が 75 です"),
    Mistake("no_figsize", "問4で figsize=(12,4) を付けなかった",
            (("q4_code", "fig = plt.figure(figsize=(12,4))", "fig = plt.figure()"),),
            frozenset({"q4_plot_layout"}), "図の大きさ"),
    Mistake("swapped_labels", "問4で loss と val_loss のラベルを入れ違えた",
            (("q4_code", "plt.plot(result.history['loss'], label='loss')\nplt.plot(result.history['val_loss'], label='val_loss')",
              "plt.plot(result.history['loss'], label='val_loss')\nplt.plot(result.history['val_loss'], label='loss')"),),
            frozenset({"q4_plot_loss"}), "label='loss' の線が result.history['val_loss']"),
    Mistake("no_legend", "問4で plt.legend() を書かなかった", (("q4_code", "plt.legend()\n", ""),),
            frozenset({"q4_plot_legend"}), "凡例がありません"),
    Mistake("evaluate_train", "問5で学習用データで評価した（score = model.evaluate(x_train, y_train)）",
            (("q5_code", "model.evaluate(x_test, y_test)", "model.evaluate(x_train, y_train)"),),
            frozenset({"q5_evaluate"}), "テストデータで評価しましょう"),
    Mistake("no_argmax", "問6で pred = model.predict(x_test) のまま（argmax なし）にした",
            (("q6_code", "pred = model.predict(x_test).argmax(axis=1)", "pred = model.predict(x_test)"),),
            frozenset({"q6_pred", "q6_confusion"}), "pred の形が (10000, 10) です"),
    Mistake("transposed_confusion", "問6で confusion_matrix(pred, true) と予測を先に書いた",
            (("q6_code", "confusion_matrix(true, pred)", "confusion_matrix(pred, true)"),),
            frozenset({"q6_confusion"}), "行と列が逆です"),
    Mistake("one_hot_confusion", "問6で one-hot の y_test をそのまま confusion_matrix(y_test, pred) に渡した",
            (("q6_code", "cm = confusion_matrix(true, pred)", "cm = confusion_matrix(y_test, pred)"),),
            frozenset({"q6_confusion"}), "変数 cm がありません"),
)
"""Typical mistakes: each must lose exactly the points of ``lost``, with ``says`` in its message."""

VARIANTS = (
    Variant("reshape_minus_one", "問1で reshape(-1, 28, 28, 1) / 255.0 と書いた（astype なし、float64）",
            (("q1_code", PREPROCESS_X,
              "x_train = x_train.reshape(-1, 28, 28, 1) / 255.0\nx_test = x_test.reshape(-1, 28, 28, 1) / 255.0\n"),)),
    Variant("expand_dims", "問1で np.expand_dims(x, axis=-1) でチャンネルを足し、to_categorical に 10 を書かなかった",
            (("q1_code", PREPROCESS_X,
              "x_train = np.expand_dims(x_train, axis=-1).astype('float32') / 255\n"
              "x_test = np.expand_dims(x_test, axis=-1).astype('float32') / 255\n"),
             ("q1_code", "to_categorical(y_train, 10)\ny_test = to_categorical(y_test, 10)",
              "to_categorical(y_train)\ny_test = to_categorical(y_test)"))),
    Variant("scale_then_reshape", "問1で先に 255 で割り、あとの行で reshape した",
            (("q1_code", PREPROCESS_X,
              "x_train = x_train / 255\nx_test = x_test / 255\n"
              "x_train = x_train.reshape(x_train.shape[0], 28, 28, 1)\nx_test = x_test.reshape(x_test.shape[0], 28, 28, 1)\n"),)),
    Variant("functional_api", "問2で keras.Input と Functional API（keras.Model(inputs, outputs)）で作った",
            (("q2_code", CNN,
              "inputs = keras.Input(shape=(28, 28, 1))\nh = Conv2D(32, (3, 3), activation='relu')(inputs)\n"
              "h = MaxPooling2D((2, 2))(h)\nh = Flatten()(h)\nmodel = keras.Model(inputs, Dense(10, activation='softmax')(h))\n"),)),
    Variant("keras_input_list", "問2で keras.Input(shape=(28, 28, 1)) から始まる Sequential のリストで、Conv2D(32, 3) と MaxPooling2D() と書いた",
            (("q2_code", CNN,
              "model = Sequential([\n    keras.Input(shape=(28, 28, 1)),\n    Conv2D(32, 3, activation='relu'),\n"
              "    MaxPooling2D(),\n    Flatten(),\n    Dense(10, activation='softmax'),\n])\n"),)),
    Variant("activation_layers", "問2で活性化関数を層として書いた（Conv2D のあとに ReLU()、Dense(10) のあとに Activation('softmax')）",
            (("q2_code", CNN,
              "model = Sequential()\nmodel.add(Conv2D(32, (3, 3), input_shape=(28, 28, 1)))\nmodel.add(keras.layers.ReLU())\n"
              "model.add(MaxPooling2D(pool_size=(2, 2)))\nmodel.add(Flatten())\nmodel.add(Dense(10))\n"
              "model.add(keras.layers.Activation('softmax'))\n"),)),
    Variant("tf_nn_softmax", "問2で Dense(10, activation=tf.nn.softmax)（TensorFlow のチュートリアルの書き方。Keras が保存して"
            "読み込み直せない関数）にした",
            (("q2_code", "model.add(Dense(10, activation='softmax'))",
              "import tensorflow as tf\nmodel.add(Dense(10, activation=tf.nn.softmax))"),)),
    Variant("subclassed_model", "問2で keras.Model を継承したクラスで層を __init__ に並べ、call で順に使った（Keras が読み込み直せないモデル）",
            (("q2_code", CNN,
              "class Net(keras.Model):\n    def __init__(self):\n        super().__init__()\n"
              "        self.conv = Conv2D(32, (3, 3), activation='relu')\n        self.pool = MaxPooling2D((2, 2))\n"
              "        self.flatten = Flatten()\n        self.out = Dense(10, activation='softmax')\n\n"
              "    def call(self, x):\n        return self.out(self.flatten(self.pool(self.conv(x))))\n\n\n"
              "model = Net()\nmodel(np.zeros((1, 28, 28, 1)))  # 一度呼んで層を作る\n"),)),
    Variant("loss_and_optimizer_objects", "問2で loss=keras.losses.CategoricalCrossentropy()、optimizer=keras.optimizers.Adam() と部品で渡した",
            (("q2_code", COMPILE,
              "model.compile(loss=keras.losses.CategoricalCrossentropy(), optimizer=keras.optimizers.Adam(), metrics=['accuracy'])"),)),
    Variant("acc_metric", "問2で metrics=['acc'] にし、問4で result.history['acc'] と 'val_acc' を描いた",
            (("q2_code", "metrics=['accuracy']", "metrics=['acc']"),
             ("q4_code", LECTURE_PLOT, history_plot(accuracy=("acc", "val_acc"))))),
    Variant("positional_fit", "問3で model.fit(x_train, y_train, 32, 2, validation_split=0.2) と位置引数で書いた",
            (("q3_code", "epochs=2, batch_size=32, validation_split=0.2", "32, 2, validation_split=0.2"),)),
    Variant("subplots_object_oriented", "問4で plt.subplots と ax.plot で、x に epoch、ラベル 'train'/'validation'/'訓練'/'検証' で描いた",
            (("q4_code", LECTURE_PLOT, SUBPLOTS_PLOT),)),
    Variant("pyplot_without_fig_name", "問4で fig = を付けずに plt.figure(figsize=(12, 4)) と plt.subplot(121) で描いた",
            (("q4_code", LECTURE_PLOT, PYPLOT_NO_NAME_PLOT),)),
    Variant("exploratory_figure_after", "問4の図のあとに、予測を確かめる画像をもう1枚表示した（最後に表示した図が履歴の図ではない）",
            (("q4_code", "plt.show()\n", "plt.show()\nplt.figure(figsize=(3, 3))\nplt.imshow(x_test[0].reshape(28, 28), cmap='gray')\n"
              "plt.show()\n"),)),
    Variant("evaluate_return_dict", "問5で score = model.evaluate(x_test, y_test, return_dict=True) にした",
            (("q5_code", "score = model.evaluate(x_test, y_test)", "score = model.evaluate(x_test, y_test, return_dict=True)"),
             ("q5_code", PRINT_SCORE, "print('Test loss:', score['loss'])\nprint('Test accuracy:', score['accuracy'])"))),
    Variant("numpy_argmax", "問6で np.argmax(model.predict(x_test, verbose=0), axis=1) と np.argmax(y_test, axis=1) を使った",
            (("q6_code", "pred = model.predict(x_test).argmax(axis=1)\ntrue = y_test.argmax(axis=1)",
              "pred = np.argmax(model.predict(x_test, verbose=0), axis=1)\ntrue = np.argmax(y_test, axis=1)"),)),
)
"""Correct answers written other ways than the solution: each must earn every automatic point."""

DEMO_STUDENTS = (
    DemoStudent("s2027001", "正解の提出 / the correct submission"),
    DemoStudent("s2027002", "一部まちがい: 255 で割り忘れ / partly wrong: images not divided by 255",
                mistakes=("no_scaling",)),
)
"""The example students ``python -m autograder demo`` grades."""
