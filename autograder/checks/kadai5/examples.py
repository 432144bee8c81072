"""課題5 (kadai5) の例: typical mistakes, valid variants and the demo's students (see ``autograder.checks.kit``)."""
from __future__ import annotations

from autograder.checks.kit import (
    KADAI5_CURE,
    KADAI5_MODEL,
    LECTURE_PLOT,
    PYPLOT_NO_NAME_PLOT,
    SUBPLOTS_PLOT,
    TWIN_PLOT,
    DemoStudent,
    Mistake,
    Variant,
    history_plot,
)

MISTAKES = (
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
    Mistake("recall_swapped", "問6で recall_score(pred, y_test) と引数を逆にした（求まるのは適合率）",
            (("q6_code", "recall_score(y_test, pred)", "recall_score(pred, y_test)"),),
            frozenset({"q6_recall"}), "順番が逆になっています"),
    Mistake("early_stopping_on_test", "問5で validation_data=(x_test, y_test) にして、テストデータで EarlyStopping を決めた",
            (("q5_code", "validation_split=0.2, callbacks", "validation_data=(x_test, y_test), callbacks"),),
            frozenset({"q5_early_stopping"}), "val_loss がテストデータで測られています"),
    Mistake("syntax_error", "問6で recall_score の括弧を閉じ忘れた",
            (("q6_code", "recall_score(y_test, pred)", "recall_score(y_test, pred"),),
            frozenset({"q6_recall", "q7_confusion"}), "変数 recall がありません"),
)
"""Typical mistakes: each must lose exactly the points of ``lost``, with ``says`` in its message."""

VARIANTS = (
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
             ("q4_code", LECTURE_PLOT, history_plot(accuracy=("acc", "val_acc"))))),
    Variant("keras_input_list", "問5で keras.Input(shape=(30,)) から始まる Sequential のリストで作った",
            (("q5_code", KADAI5_CURE,
              "model = Sequential([\n    keras.Input(shape=(30,)),\n    Dense(64, activation='relu'),\n    Dropout(0.5),\n"
              "    Dense(64, activation='relu'),\n    Dropout(0.5),\n    Dense(1, activation='sigmoid'),\n])\n"),)),
    Variant("binary_accuracy_metric", "問2で metrics=['binary_accuracy'] にし、問4で result.history['binary_accuracy'] を描いた",
            (("q2_code", "metrics=['accuracy']", "metrics=['binary_accuracy']"),
             ("q4_code", LECTURE_PLOT, history_plot(accuracy=("binary_accuracy", "val_binary_accuracy"))))),
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
    Variant("subclassed_model", "問2で keras.Model を継承したクラスで層を __init__ に並べ、call で順に使った（Keras が読み込み直せないモデル）",
            (("q2_code", KADAI5_MODEL,
              "class Net(keras.Model):\n    def __init__(self):\n        super().__init__()\n"
              "        self.hidden1 = Dense(64, activation='relu')\n        self.hidden2 = Dense(64, activation='relu')\n"
              "        self.out = Dense(1, activation='sigmoid')\n\n    def call(self, x):\n"
              "        return self.out(self.hidden2(self.hidden1(x)))\n\n\nmodel = Net()\nmodel(np.zeros((1, 30)))  # 一度呼んで層を作る\n"),)),
    Variant("sample_std", "問1で標本標準偏差 x_train_raw.std(axis=0, ddof=1) で標準化した（学習用データだけから求めている）",
            (("q1_code", "std = x_train_raw.std(axis=0)", "std = x_train_raw.std(axis=0, ddof=1)"),)),
    Variant("extra_metric", "問2で metrics=['accuracy', keras.metrics.Recall(name='recall')] と指標を1つ増やした",
            (("q2_code", "metrics=['accuracy']", "metrics=['accuracy', keras.metrics.Recall(name='recall')]"),)),
    Variant("exploratory_figure_after", "問4の図のあとに、特徴量のヒストグラムをもう1枚表示した",
            (("q4_code", "plt.show()\n", "plt.show()\nplt.figure(figsize=(5, 3))\nplt.hist(x_train[:, 0], bins=20)\n"
              "plt.title('feature 0')\nplt.show()\n"),)),
    Variant("legend_of_texts", "問4で label= を付けずに plt.legend(['loss', 'val_loss']) と凡例の文字を並べた",
            (("q4_code", "plt.plot(result.history['loss'], label='loss')\nplt.plot(result.history['val_loss'], label='val_loss')\nplt.legend()",
              "plt.plot(result.history['loss'])\nplt.plot(result.history['val_loss'])\nplt.legend(['loss', 'val_loss'])"),)),
    Variant("figure_legend", "問4で2つのグラフに plt.legend() ではなく、図全体の凡例 fig.legend() を1つだけ付けた",
            (("q4_code", "plt.legend()\nplt.subplot(1,2,2)\n", "plt.subplot(1,2,2)\n"),
             ("q4_code", "plt.legend()\nplt.show()\n", "fig.legend(loc='upper center', ncol=4)\nplt.show()\n"))),
    Variant("seaborn_lineplot", "問4で pandas の DataFrame にして seaborn の lineplot で描いた（凡例は seaborn が作る）",
            (("q4_code", LECTURE_PLOT,
              "import pandas as pd\nimport seaborn as sns\nframe = pd.DataFrame(result.history)\n"
              "fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4))\nsns.lineplot(data=frame[['loss', 'val_loss']], ax=ax1)\n"
              "sns.lineplot(data=frame[['accuracy', 'val_accuracy']], ax=ax2)\nplt.show()\n"),)),
    Variant("functional_dropout", "問5で Functional API に Dropout(0.5) を入れて作った",
            (("q5_code", KADAI5_CURE,
              "inputs = keras.Input(shape=(30,))\nh = Dropout(0.5)(Dense(64, activation='relu')(inputs))\n"
              "h = Dropout(0.5)(Dense(64, activation='relu')(h))\nmodel = keras.Model(inputs, Dense(1, activation='sigmoid')(h))\n"),)),
)
"""Correct answers written other ways than the solution: each must earn every automatic point."""

DEMO_STUDENTS = (
    DemoStudent("s2027001", "正解の提出 / the correct submission"),
    DemoStudent("s2027002", "一部まちがい: テストデータ自身の平均で標準化 / partly wrong: test set scaled with its own statistics",
                mistakes=("test_statistics",)),
)
"""The example students ``python -m autograder demo`` grades."""
