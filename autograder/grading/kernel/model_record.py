"""A Keras model written down as plain data in the student's kernel: its layers, their weights, and what it predicts.

Keras's own file (``.keras``) is reloaded by deserialising the student's Python objects, which fails for correct
work: ``Dense(10, activation=tf.nn.softmax)`` (the TensorFlow tutorials' style: the function is saved as
``softmax_v2``, a name Keras cannot find again) or a subclassed ``keras.Model`` (its class lives in the notebook).
So beside that file the kernel writes this record, which needs none of the student's code to be read back:

- each layer's kind, whether it is one of Keras's own layer classes, its settings (``get_config()``) with the
  activation given **by name whenever it computes a known activation** (``tf.nn.softmax`` is ``softmax``: the name
  is found by what the function computes on a fixed probe, not by its Python name), and its weights;
- the model's input shape, its loss (a name, or a Keras loss class and its plain settings) and its optimizer's class
  and steps taken;
- a **probe**: a fixed, bounded sample of inputs (at most ``PROBE_ROWS`` rows, ``MAX_PROBE_VALUES`` values) and the
  model's own predictions on it.

The grading process (``autograder.grading.model_rebuild``) rebuilds the layers in order and keeps the rebuilt model
only if it predicts the probe as the student's model did: then every check (structure, accuracy, history) judges it
as it would the original.  When it does not (custom layers, a ``call`` that does not chain its layers), the model
is said plainly to be one the grading could not reproduce, and the checks that do not need it are judged as usual.
"""
from __future__ import annotations

from pathlib import Path

PROBE_ROWS = 32
"""Rows of the probe: enough that two different networks cannot agree on all of it by chance."""

MAX_PROBE_VALUES = 2**20
"""Values of the probe's inputs together (4 MB as float32): fewer rows for large inputs, at least one."""

PROBE_SEED = 22
FREE_LENGTH = 8
"""Length given to an input dimension the model leaves free (``None``: a sequence of any length)."""

ACTIVATIONS = ("linear", "relu", "sigmoid", "softmax", "tanh", "elu", "selu", "softplus", "softsign", "gelu", "silu",
               "exponential", "hard_sigmoid", "relu6", "leaky_relu", "log_softmax", "mish")
"""Keras's activations by name, in the order a function is compared with them (``relu`` before ``relu6``)."""

_PROBE = None


def _activation_probe():
    import numpy as np

    global _PROBE
    if _PROBE is None:  # wide enough that relu and relu6, sigmoid and hard_sigmoid differ on it
        _PROBE = np.linspace(-8.0, 8.0, 48, dtype="float32").reshape(4, 12)
    return _PROBE


def activation_name(function) -> str | None:
    """The name of the Keras activation ``function`` computes (``'softmax'`` for ``tf.nn.softmax``, ``'relu'`` for
    ``keras.activations.relu``, ``'linear'`` for None), or None if it computes none of ``ACTIVATIONS``.

    Found first by the function's own name when Keras's function of that name is this very function, else by
    comparing what it computes on a fixed probe with each of Keras's activations: a function is named for what it
    does, whichever module it comes from."""
    import keras
    import numpy as np

    if function is None:
        return "linear"
    name = getattr(function, "__name__", None)
    if name in ACTIVATIONS:
        try:
            if keras.activations.get(name) is function:
                return name
        except (ValueError, TypeError):
            pass
    probe = _activation_probe()
    try:
        have = np.asarray(keras.ops.convert_to_numpy(function(keras.ops.convert_to_tensor(probe))), dtype="float64")
    except Exception:  # noqa: BLE001 -- a function that does not take a tensor computes no known activation
        return None
    for candidate in ACTIVATIONS:
        want = np.asarray(keras.ops.convert_to_numpy(keras.activations.get(candidate)(probe)), dtype="float64")
        if have.shape == want.shape and np.allclose(have, want, rtol=1e-5, atol=1e-6):
            return candidate
    return None


def _plain_config(value, depth: int = 0):
    """A layer's config as JSON data: numbers, strings, lists and dicts of them; anything else left out (None)."""
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    if depth > 8:
        return None
    if isinstance(value, (list, tuple)):
        return [_plain_config(v, depth + 1) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain_config(v, depth + 1) for k, v in value.items()}
    try:
        import numpy as np

        if isinstance(value, np.generic):
            return value.item()
    except ImportError:
        pass
    return None


def _layer_config(layer) -> dict:
    try:
        config = dict(layer.get_config())
    except Exception:  # noqa: BLE001 -- a custom layer without a config: described by its kind and weights only
        config = {}
    config = {key: _plain_config(value) for key, value in config.items()}
    if hasattr(layer, "activation"):
        config["activation"] = activation_name(layer.activation)
    return config


def _input_shape(model) -> list | None:
    """The model's input shape with the batch dimension (``[None, 784]``), from its inputs or, for a subclassed model
    that has none, from the shape its first layer was built with; None if it was never built."""
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        inputs = None
    if inputs:
        return [None if d is None else int(d) for d in inputs[0].shape]
    layers = getattr(model, "layers", None) or []
    shapes = getattr(layers[0], "_build_shapes_dict", None) if layers else None
    if shapes:
        shape = next(iter(shapes.values()))
        if isinstance(shape, (list, tuple)) and shape:
            return [None, *(None if d is None else int(d) for d in shape[1:])]
    return None


def _loss(model) -> dict | None:
    loss = getattr(model, "loss", None)
    if loss is None:
        return None
    if isinstance(loss, str):
        return {"name": loss}
    get_config = getattr(loss, "get_config", None)
    if callable(get_config):
        try:
            config = {key: value for key, value in dict(get_config()).items()
                      if isinstance(value, (bool, int, float, str)) or value is None}
        except Exception:  # noqa: BLE001 -- a loss object without settings is named by its class
            config = {}
        return {"class": type(loss).__name__, "config": config}
    name = getattr(loss, "__name__", None)
    return {"name": str(name)} if name else {"class": type(loss).__name__, "config": {}}


def _optimizer(model) -> dict | None:
    import numpy as np

    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        return None
    try:
        iterations = int(np.asarray(optimizer.iterations))
    except Exception:  # noqa: BLE001 -- an optimizer without a step count has taken none we can see
        iterations = 0
    return {"class": type(optimizer).__name__, "iterations": iterations}


def _probe(folder: Path, stem: str, model, shape: list) -> dict | None:
    """The model's predictions on a fixed sample of inputs, saved beside the record; None if it predicts no one
    array on them."""
    import math

    import numpy as np

    sample = [FREE_LENGTH if d is None else d for d in shape[1:]]
    per_row = max(1, math.prod(sample))
    rows = max(1, min(PROBE_ROWS, MAX_PROBE_VALUES // per_row))
    inputs = np.random.default_rng(PROBE_SEED).uniform(-1.0, 1.0, size=(rows, *sample)).astype("float32")
    try:
        outputs = np.asarray(model(inputs, training=False), dtype="float32")
    except Exception:  # noqa: BLE001 -- a model that does not take its own input shape has no probe
        return None
    if outputs.dtype.kind != "f" or outputs.ndim < 1 or len(outputs) != rows:
        return None
    np.save(folder / f"{stem}.probe_in.npy", inputs, allow_pickle=False)
    np.save(folder / f"{stem}.probe_out.npy", outputs, allow_pickle=False)
    return {"inputs": f"{stem}.probe_in.npy", "outputs": f"{stem}.probe_out.npy"}


def record(folder: Path, stem: str, model) -> dict:
    """Write ``model``'s layers, weights and probe into ``folder`` (files named from ``stem``) and return the record
    (JSON data for the manifest).  Raises what the model raises; the caller writes that down instead."""
    import keras
    import numpy as np

    layers = []
    for i, layer in enumerate(model.layers):
        kind = type(layer).__name__
        weights = []
        for j, weight in enumerate(layer.get_weights()):
            file = f"{stem}.layer{i}.weight{j}.npy"
            np.save(folder / file, np.asarray(weight), allow_pickle=False)
            weights.append(file)
        layers.append({"kind": kind, "keras": getattr(keras.layers, kind, None) is type(layer),
                       "config": _layer_config(layer), "weights": weights})
    shape = _input_shape(model)
    return {"class": type(model).__name__, "input_shape": shape, "layers": layers, "loss": _loss(model),
            "optimizer": _optimizer(model), "probe": _probe(folder, stem, model, shape) if shape else None}
