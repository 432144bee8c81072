"""A student's Keras model rebuilt in the grading process from its plain record, when Keras cannot reload its file.

The record (``autograder.grading.kernel.model_record``) lists the layers in order with their settings, weights and
activations by name, and the student's own predictions on a fixed probe.  The rebuilt model is a ``Sequential`` of
Keras's own layer classes, from settings that are plain numbers and strings only (nested objects such as
initialisers are left to their defaults: the weights are set afterwards), so nothing of the student's code or of
a module the evidence names is run here.  It is kept only if it predicts the probe as the student's model did;
it then stands for the student's model in every check (compiled with the recorded loss, its optimizer's step count
restored).  Otherwise ``Unrebuildable`` says in Japanese what could not be reproduced.
"""
from __future__ import annotations

import numpy as np

from autograder.grading.evidence_limits import EvidenceRefused, Reading

REFUSED_LAYERS = frozenset({"Lambda", "TFSMLayer", "TorchModuleWrapper", "JaxLayer", "FlaxLayer", "InputLayer"})
"""Keras layer classes never rebuilt from evidence: they run code or files named in their settings."""


class Unrebuildable(Exception):
    """The record does not give back the student's model; the message (Japanese) says why."""


def _scalar_config(config: dict) -> dict:
    """The settings a layer is rebuilt from: plain values and lists of them; a dtype policy by its name."""
    kept = {}
    for key, value in config.items():
        if key == "dtype" and isinstance(value, dict):
            name = (value.get("config") or {}).get("name") if isinstance(value.get("config"), dict) else None
            if isinstance(name, str):
                kept[key] = name
            continue
        if isinstance(value, (bool, int, float, str)) or value is None:
            kept[key] = value
        elif isinstance(value, list) and all(isinstance(v, (bool, int, float, str)) or v is None for v in value):
            kept[key] = value
    return kept


def _layer(entry: dict):
    import keras

    kind = str(entry.get("kind"))
    cls = getattr(keras.layers, kind, None)
    if (not entry.get("keras") or kind in REFUSED_LAYERS or not isinstance(cls, type)
            or not issubclass(cls, keras.layers.Layer) or issubclass(cls, keras.Model)):
        raise Unrebuildable(f"Keras の標準の層ではない {kind}（自作の層など）が含まれています")
    config = _scalar_config(dict(entry.get("config") or {}))
    if "activation" in config and config["activation"] is None:
        raise Unrebuildable(f"{kind} 層の活性化関数が Keras の活性化関数のどれとも同じ計算になりません")
    try:
        return cls.from_config(config)
    except MemoryError:
        raise
    except Exception as e:  # noqa: BLE001 -- settings Keras refuses: the record does not give the layer back
        raise Unrebuildable(f"{kind} 層を設定から作り直せません") from e


def _compile(model, record: dict) -> None:
    import keras

    loss = record.get("loss") or {}
    compiled = None
    if isinstance(loss.get("name"), str):
        try:
            compiled = keras.losses.get(loss["name"])
        except (ValueError, TypeError):
            compiled = None
    elif isinstance(loss.get("class"), str):
        cls = getattr(keras.losses, loss["class"], None)
        if isinstance(cls, type) and issubclass(cls, keras.losses.Loss):
            config = {k: v for k, v in (loss.get("config") or {}).items()
                      if isinstance(v, (bool, int, float, str)) or v is None}
            try:
                compiled = cls.from_config(config)
            except Exception:  # noqa: BLE001 -- a loss Keras cannot rebuild: the model is judged without one
                compiled = cls()
    optimizer_entry = record.get("optimizer") or {}
    cls = getattr(keras.optimizers, str(optimizer_entry.get("class")), None)
    optimizer = cls() if isinstance(cls, type) and issubclass(cls, keras.optimizers.Optimizer) else "adam"
    if compiled is None and optimizer_entry == {}:
        return  # never compiled in the notebook: neither is the stand-in
    model.compile(loss=compiled, optimizer=optimizer)
    model.optimizer.iterations.assign(int(optimizer_entry.get("iterations") or 0))


def rebuild(reading: Reading, record: dict):
    """The student's model rebuilt from ``record`` (see the module's docstring); raises ``Unrebuildable`` if it cannot
    be, ``EvidenceRefused`` for a record our collecting cannot have written."""
    import keras

    if not isinstance(record, dict) or not isinstance(record.get("layers"), list):
        raise EvidenceRefused("a model record of the wrong shape")
    shape = record.get("input_shape")
    if not isinstance(shape, list) or len(shape) < 2:
        raise Unrebuildable("モデルの入力の形が決まっていません（一度も学習・予測していません）")
    probe = record.get("probe")
    if not isinstance(probe, dict):
        raise Unrebuildable("モデルが自分の入力の形のデータで予測できませんでした")
    layers = [_layer(entry) for entry in record["layers"] if isinstance(entry, dict)]
    if len(layers) != len(record["layers"]):
        raise EvidenceRefused("a model record of the wrong shape")
    try:
        model = keras.Sequential([keras.Input(shape=tuple(None if d is None else int(d) for d in shape[1:])), *layers])
        for layer, entry in zip(layers, record["layers"]):
            layer.set_weights([reading.array(file) for file in entry.get("weights") or []])
    except (MemoryError, EvidenceRefused):
        raise
    except Exception as e:  # noqa: BLE001 -- layers that do not chain, or weights of other shapes
        raise Unrebuildable("層を順につないでも元のモデルになりません（層の形や重みが合いません）") from e
    inputs, wanted = reading.array(probe.get("inputs")), reading.array(probe.get("outputs"))
    try:
        got = np.asarray(model(inputs, training=False), dtype="float32")
    except MemoryError:
        raise
    except Exception as e:  # noqa: BLE001 -- the rebuilt layers do not take the recorded input
        raise Unrebuildable("層を順につないだモデルが元のモデルの入力を受け付けません") from e
    if got.shape != wanted.shape or not np.allclose(got, wanted, rtol=1e-4, atol=1e-5):
        raise Unrebuildable("層を順につないだモデルが、元のモデルと同じ予測をしません（call の中で層を順に使っていない、など）")
    _compile(model, record)
    return model
