"""Time one Keras training on the real Fashion-MNIST, as a grading kernel would run it.

Run from the repository (after ``make env data``)::

    .venv/bin/python bench/train_micro.py --threads 1 --spe 32 --layers 512-d0.3-128 --batch 256 --epochs 3
    .venv/bin/python bench/train_micro.py --threads 1 --spe 32 --layers 32 --batch 64 --epochs 5 --jit

``--layers`` lists the hidden layers: a number is a ReLU Dense layer, ``dX`` a Dropout(X);
the output is always Dense(10, softmax), as in kadai4.  Prints the wall time of ``fit``
(``validation_split=0.2``, like the notebook) and the last validation accuracy, so that two
settings can be compared for speed and for whether they change the result.
"""
from __future__ import annotations

import argparse
import os
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="TensorFlow intra- and inter-op threads")
    parser.add_argument("--spe", type=int, default=1, help="Keras steps_per_execution")
    parser.add_argument("--layers", default="128", help="hidden layers, e.g. 512-d0.3-128")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--jit", action="store_true", help="compile with jit_compile=True (XLA)")
    args = parser.parse_args()

    os.environ["TF_NUM_INTRAOP_THREADS"] = os.environ["TF_NUM_INTEROP_THREADS"] = str(args.threads)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    from keras.datasets import fashion_mnist

    (x, y), _ = fashion_mnist.load_data()
    x = x.reshape(60000, 784).astype("float32") / 255
    y = keras.utils.to_categorical(y, 10)
    keras.utils.set_random_seed(0)
    layers: list = [keras.Input((784,))]
    for part in args.layers.split("-"):
        if part.startswith("d"):
            layers.append(keras.layers.Dropout(float(part[1:])))
        else:
            layers.append(keras.layers.Dense(int(part), activation="relu"))
    model = keras.Sequential([*layers, keras.layers.Dense(10, activation="softmax")])
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"],
                  steps_per_execution=args.spe, jit_compile=args.jit)
    start = time.perf_counter()
    history = model.fit(x, y, epochs=args.epochs, batch_size=args.batch, validation_split=0.2, verbose=0)
    seconds = time.perf_counter() - start
    print(f"threads={args.threads} spe={args.spe} layers={args.layers} batch={args.batch} "
          f"epochs={args.epochs} jit={args.jit}: {seconds:.1f} s, "
          f"val_accuracy={history.history['val_accuracy'][-1]:.6f}")


if __name__ == "__main__":
    main()
