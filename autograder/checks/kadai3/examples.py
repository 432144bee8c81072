"""課題3 (kadai3) の例: typical mistakes, valid variants and the demo's students (see ``autograder.checks.kit``)."""
from __future__ import annotations

from autograder.checks.kit import LECTURE_MODEL32, DemoStudent, Mistake, Variant

MISTAKES = (
    Mistake("wrong_image", "問1で x_test[0] を表示した", (("q1_code", "x_test[1], 'gray'", "x_test[0], 'gray'"),),
            frozenset({"q1_image"}), "2枚目 x_test[1]"),
    Mistake("no_gray", "問1で 'gray' を付けなかった", (("q1_code", "x_test[1], 'gray'", "x_test[1]"),),
            frozenset({"q1_image"}), "画像の色が 'viridis' です"),
    Mistake("no_float32", "問2で x_train に astype('float32') を付けなかった",
            (("q2_code", "x_train.reshape(60000, 784).astype('float32') / 255", "x_train.reshape(60000, 784) / 255"),),
            frozenset({"q2_reshape"}), "x_train の型が float64 です"),
    Mistake("wrong_units", "問3で Dense(64) にした", (("q3_code", "Dense(32, input_shape", "Dense(64, input_shape"),),
            frozenset({"q3_model"}), "ユニット数が 64 です"),
    Mistake("mse_loss", "問3で loss='mean_squared_error' にした（問題は交差エントロピー）",
            (("q3_code", "loss='categorical_crossentropy'", "loss='mean_squared_error'"),),
            frozenset({"q3_model"}), "損失関数が 'mean_squared_error' です"),
    Mistake("too_few_epochs", "問4で epochs=20 にした", (("q4_code", "epochs=30", "epochs=20"),),
            frozenset({"q4_fit"}), "20 個です"),
    Mistake("rounded_to_1", "問5で np.around(test[1], 1) にした", (("q5_code", "np.around(test[1], 3)", "np.around(test[1], 1)"),),
            frozenset({"q5_around"}), "np.around(test[1], 3) と一致しません"),
    Mistake("syntax_error", "問5の predict のセルで括弧を閉じ忘れた", (("q5_code", "model.predict(x_test)", "model.predict(x_test"),),
            frozenset({"q5_predict", "q5_around"}), "変数 test がありません"),
)
"""Typical mistakes: each must lose exactly the points of ``lost``, with ``says`` in its message."""

VARIANTS = (
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
"""Correct answers written other ways than the solution: each must earn every automatic point."""

DEMO_STUDENTS = (
    DemoStudent("s2027001", "正解の提出 / the correct submission"),
    DemoStudent("s2027002", "一部まちがい: 問1で 'gray' なし / partly wrong: no 'gray'", mistakes=("no_gray",)),
)
"""The example students ``python -m autograder demo`` grades."""
