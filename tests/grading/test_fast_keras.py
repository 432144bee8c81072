"""Grading kernels train with several batches per round trip: same results, and only where nothing can differ."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np

from autograder.grading.kernel.startup import kernel_environment

# The lecture's first model on the real Fashion-MNIST, trained briefly, with or without the grading default.
TRAIN = """
import json, sys
import numpy as np
import autograder.grading.kernel.fast_keras
steps = int(sys.argv[1])
installed = autograder.grading.kernel.fast_keras.install(steps)
import keras
from keras.datasets import fashion_mnist
from keras.utils import to_categorical
(x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
x_train = x_train.reshape(60000, 784).astype('float32') / 255
x_test = x_test.reshape(10000, 784).astype('float32') / 255
y_train, y_test = to_categorical(y_train, 10), to_categorical(y_test, 10)
keras.utils.set_random_seed(0)
model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(32, activation='relu'),
                          keras.layers.Dense(10, activation='softmax')])
model.compile(optimizer='adam', loss='categorical_crossentropy', metrics=['accuracy'])
history = model.fit(x_train, y_train, batch_size=64, epochs=2, validation_split=0.2, verbose=0)
np.savez(sys.argv[2], *model.get_weights(), predict=model.predict(x_test[:1000], verbose=0))
print(json.dumps({"installed": installed, "steps": model.steps_per_execution, "history": history.history,
                  "evaluate": model.evaluate(x_test, y_test, verbose=0), "params": history.params}))
"""

CALLBACKS = """
import json
import numpy as np
import autograder.grading.kernel.fast_keras
autograder.grading.kernel.fast_keras.install(32)
import keras

class CountBatches(keras.callbacks.Callback):
    calls = 0
    def on_train_batch_end(self, batch, logs=None):
        CountBatches.calls += 1

def model(**compile_args):
    m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    m.compile(optimizer='sgd', loss='mse', **compile_args)
    return m

x, y = np.zeros((640, 4), 'float32'), np.zeros((640, 2), 'float32')
plain = model(); plain.fit(x, y, batch_size=10, epochs=1, verbose=0)
stopping = model(); stopping.fit(x, y, batch_size=10, epochs=1, verbose=0,
                                 callbacks=[keras.callbacks.EarlyStopping(monitor='loss')])
counted = model(); counted.fit(x, y, 10, 1, 0, [CountBatches()])  # callbacks passed by position
chosen = model(steps_per_execution=4); chosen.fit(x, y, batch_size=10, epochs=1, verbose=0, callbacks=[CountBatches()])
print(json.dumps({"plain": plain.steps_per_execution, "stopping": stopping.steps_per_execution,
                  "counted": counted.steps_per_execution, "chosen": chosen.steps_per_execution,
                  "batch_calls": CountBatches.calls}))
"""


def _run(code: str, *args: str, course) -> dict:
    env = {**os.environ, **{k: v for k, v in kernel_environment(course, course.root).items() if k.startswith("TF_")}}
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_same_weights_history_and_metrics_as_a_plain_run(course, tmp_path):
    """Does training with steps_per_execution=32 give bit-identical weights, History, evaluate and predict on Fashion-MNIST?"""
    plain = _run(TRAIN, "1", str(tmp_path / "plain.npz"), course=course)
    fast = _run(TRAIN, "32", str(tmp_path / "fast.npz"), course=course)
    assert (plain["installed"], plain["steps"]) == (False, 1)
    assert (fast["installed"], fast["steps"]) == (True, 32)
    assert fast["history"] == plain["history"]  # exact float equality, every epoch, every metric
    assert fast["evaluate"] == plain["evaluate"]
    assert fast["params"]["steps"] == plain["params"]["steps"] == 750  # batches per epoch are still counted one by one
    with np.load(tmp_path / "plain.npz") as a, np.load(tmp_path / "fast.npz") as b:
        assert sorted(a.files) == sorted(b.files)
        for name in a.files:
            assert np.array_equal(a[name], b[name]), name


def test_per_batch_callbacks_keep_one_batch_per_round_trip(course):
    """Does a fit with a callback that may look at batches run one batch per round trip, and a student's choice stay?"""
    seen = _run(CALLBACKS, course=course)
    assert seen["plain"] == 32 and seen["stopping"] == 32  # no callbacks, or epoch-only ones: the grading default
    assert seen["counted"] == 1  # a custom callback: back to Keras's own default
    assert seen["chosen"] == 4  # the student's own steps_per_execution is never changed
    assert seen["batch_calls"] == 64 + 16  # every batch seen by the first custom callback; 64/4 by the student's
