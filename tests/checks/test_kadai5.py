"""kadai5's hidden checks on the real Breast Cancer Wisconsin split: leakage, structure, recall, confusion matrix."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from keras.layers import Dense, Dropout
from keras.models import Sequential

from autograder.checks import CheckFailed, NotAttempted, kadai5


def scaled(statistics_from):
    x_train_raw, x_test_raw, y_train, y_test = kadai5.split()
    mean, std = statistics_from.mean(axis=0), statistics_from.std(axis=0)
    return {"x_train_raw": x_train_raw, "x_test_raw": x_test_raw, "y_train": y_train, "y_test": y_test,
            "x_train": (x_train_raw - mean) / std, "x_test": (x_test_raw - mean) / std}


def test_split_is_the_notebooks():
    """Is the checker's split the set-up cell's: 455 / 114 patients, stratified (170 / 42 malignant)?"""
    x_train_raw, x_test_raw, y_train, y_test = kadai5.split()
    assert x_train_raw.shape == (455, 30) and x_test_raw.shape == (114, 30)
    assert int(y_train.sum()) == 170 and int(y_test.sum()) == 42


def test_training_statistics_pass_and_scikit_learn_too():
    """Do hand-written standardisation and StandardScaler fitted on the training data both pass?"""
    from sklearn.preprocessing import StandardScaler

    ns = scaled(kadai5.split()[0])
    kadai5.check_scaled(ns)
    kadai5.check_no_leak(ns)
    scaler = StandardScaler().fit(ns["x_train_raw"])
    ns = {"x_train": scaler.transform(ns["x_train_raw"]), "x_test": scaler.transform(ns["x_test_raw"])}
    kadai5.check_scaled(ns)
    kadai5.check_no_leak(ns)


def test_leakage_is_named():
    """Are the test set's own statistics and all the data's statistics each caught, with their own message?"""
    x_train_raw, x_test_raw, _, _ = kadai5.split()
    ns = scaled(np.concatenate([x_train_raw, x_test_raw]))
    with pytest.raises(CheckFailed, match="全データ"):
        kadai5.check_no_leak(ns)
    with pytest.raises(CheckFailed, match="標準化されていません"):
        kadai5.check_scaled(ns)
    ns = scaled(x_train_raw)
    ns["x_test"] = (x_test_raw - x_test_raw.mean(axis=0)) / x_test_raw.std(axis=0)
    with pytest.raises(CheckFailed, match="テストデータ自身"):
        kadai5.check_no_leak(ns)
    with pytest.raises(CheckFailed, match="形が"):
        kadai5.check_no_leak({"x_test": x_test_raw[:, :10]})
    with pytest.raises(NotAttempted):
        kadai5.check_scaled({})


def model(*units, loss="binary_crossentropy", dropout=False):
    m = Sequential()
    m.add(Dense(units[0], input_shape=(30,), activation="relu"))
    for u in units[1:]:
        if dropout:
            m.add(Dropout(0.5))
        m.add(Dense(u, activation="relu" if u != 1 else "sigmoid"))
    m.compile(loss=loss, optimizer="Adam", metrics=["accuracy"])
    return m


def test_structure_and_loss():
    """Does 30→64→64→1 with binary_crossentropy pass (6,209 parameters), and another loss or Dropout count fail?"""
    kadai5.check_model({"model": model(64, 64, 1)})
    assert model(64, 64, 1).count_params() == 6209
    with pytest.raises(CheckFailed, match="損失関数が 'mean_squared_error'"):
        kadai5.check_model({"model": model(64, 64, 1, loss="mean_squared_error")})
    kadai5.check_dropout({"model": model(64, 64, 1, dropout=True)})
    with pytest.raises(CheckFailed, match="層の数が 3"):
        kadai5.check_dropout({"model": model(64, 64, 1)})


def _reloaded(m, tmp_path):
    """``m`` as the grading process sees it: saved as .keras and reloaded with safe_mode (``model.loss`` changes form)."""
    import keras

    keras.saving.save_model(m, tmp_path / "m.keras")
    return keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)


def test_every_form_of_binary_crossentropy_passes_reloaded(tmp_path):
    """Do the string, the function and the BinaryCrossentropy object all pass after the evidence round trip,
    and from_logits=True on a sigmoid output fail, saying what was found?"""
    import keras

    for loss in ("binary_crossentropy", keras.losses.binary_crossentropy, keras.losses.BinaryCrossentropy()):
        kadai5.check_model({"model": _reloaded(model(64, 64, 1, loss=loss), tmp_path)})
    logits = _reloaded(model(64, 64, 1, loss=keras.losses.BinaryCrossentropy(from_logits=True)), tmp_path)
    with pytest.raises(CheckFailed, match="from_logits=True"):
        kadai5.check_model({"model": logits})
    with pytest.raises(CheckFailed, match="損失関数が 'mean_squared_error'"):
        kadai5.check_model({"model": _reloaded(model(64, 64, 1, loss=keras.losses.MeanSquaredError()), tmp_path)})


class Fixed:
    """A trained-looking model whose predictions are given: enough for the recall and confusion-matrix arithmetic."""

    def __init__(self, predicted):
        self.optimizer = SimpleNamespace(iterations=1)
        self.predicted = np.asarray(predicted, dtype="float32").reshape(-1, 1)

    def predict(self, x, verbose=0):
        return self.predicted[: len(x)]


def test_recall_and_confusion_matrix():
    """Are recall and the confusion matrix computed by the checker, and a student's transposed matrix named?"""
    ns = scaled(kadai5.split()[0])
    truth = ns["y_test"].astype(int)
    predicted = truth.copy()
    malignant = np.flatnonzero(truth == 1)
    predicted[malignant[:3]] = 0  # three false negatives
    predicted[np.flatnonzero(truth == 0)[:1]] = 1  # one false positive
    ns["model"] = Fixed(predicted)
    ns["recall"] = (len(malignant) - 3) / len(malignant)
    kadai5.check_recall(ns, threshold=0.9)
    with pytest.raises(CheckFailed, match="再現率"):
        kadai5.check_recall(ns, threshold=0.95)
    ns["recall"] = 1.0
    with pytest.raises(CheckFailed, match="recall が 1.0000"):
        kadai5.check_recall(ns, threshold=0.9)
    cm = np.array([[71, 1], [3, 39]])
    kadai5.check_confusion({**ns, "cm": cm})
    with pytest.raises(CheckFailed, match="正解が先"):
        kadai5.check_confusion({**ns, "cm": cm.T})
    kadai5.check_accuracy(ns, threshold=0.96)
    with pytest.raises(CheckFailed, match="正解率は 0.9649"):
        kadai5.check_accuracy(ns, threshold=0.97)
    handed = SimpleNamespace(accuracy_threshold=0.97, recall_threshold=0.9)  # as the judging hands them in
    with pytest.raises(CheckFailed, match="目標 0.97 以上"):
        kadai5.check_accuracy({**ns, "__assignment__": handed})
    kadai5.check_recall({**ns, "recall": (len(malignant) - 3) / len(malignant), "__assignment__": handed})


def test_missing_input_names_thirty_features():
    """Is a kadai5 model without input shape told to use input_shape=(30,), not Fashion-MNIST's 784?"""
    m = Sequential()
    m.add(Dense(64, activation="relu"))
    with pytest.raises(CheckFailed, match=r"input_shape=\(30,\)"):
        kadai5.check_model({"model": m})


def test_the_sample_standard_deviation_earns_the_marks():
    """Does standardising with the training data's sample standard deviation (ddof=1, no leakage) pass both marks,
    while all the data's statistics with ddof=1 are still named as leakage?"""
    x_train_raw, x_test_raw, _, _ = kadai5.split()
    mean, std = x_train_raw.mean(axis=0), x_train_raw.std(axis=0, ddof=1)
    ns = {"x_train": (x_train_raw - mean) / std, "x_test": (x_test_raw - mean) / std}
    kadai5.check_scaled(ns)
    kadai5.check_no_leak(ns)
    everything = np.concatenate([x_train_raw, x_test_raw])
    leaked = (x_test_raw - everything.mean(axis=0)) / everything.std(axis=0, ddof=1)
    with pytest.raises(CheckFailed, match="全データ"):
        kadai5.check_no_leak({"x_test": leaked})


def test_recall_with_swapped_arguments_loses_even_when_the_numbers_agree():
    """Is recall_score(pred, y_test) (the precision) refused by its code although FP = FN makes the number right,
    and recall_score(y_test, pred) written with keywords accepted?"""
    ns = scaled(kadai5.split()[0])
    truth = ns["y_test"].astype(int)
    predicted = truth.copy()
    predicted[np.flatnonzero(truth == 1)[:2]] = 0  # two false negatives
    predicted[np.flatnonzero(truth == 0)[:2]] = 1  # two false positives: precision == recall
    ns["model"] = Fixed(predicted)
    ns["recall"] = (42 - 2) / 42
    ns["In"] = ["", "pred = (model.predict(x_test) > 0.5).astype('int').ravel()\nrecall = recall_score(pred, y_test)"]
    with pytest.raises(CheckFailed, match=r"recall_score\(pred, y_test\) と、正解とモデルの予測の順番が逆"):
        kadai5.check_recall(ns, threshold=0.9)
    ns["In"] = ["recall = recall_score(y_pred=pred, y_true=y_test)"]
    kadai5.check_recall(ns, threshold=0.9)
    del ns["In"]  # no code to read (outside IPython): the value is judged alone
    kadai5.check_recall(ns, threshold=0.9)


def test_early_stopping_on_the_test_set_is_told_so():
    """Is a model whose val_loss was measured on the test set (validation_data=(x_test, y_test)) told that, not told
    to add EarlyStopping it already has?"""
    import keras

    ns = scaled(kadai5.split()[0])
    keras.utils.set_random_seed(0)
    m = model(8, 1)
    result = m.fit(ns["x_train"], ns["y_train"], validation_data=(ns["x_test"], ns["y_test"]), epochs=3, verbose=0,
                   callbacks=[keras.callbacks.EarlyStopping(patience=1, restore_best_weights=True)])
    with pytest.raises(CheckFailed, match="val_loss がテストデータで測られています"):
        kadai5.check_early_stopping({**ns, "model": m, "result": result})
