"""Checks of a Keras model's structure: layer kinds, their settings, shapes, parameters.

Works on Keras 3, which removed ``layer.output_shape``: shapes are computed from
the model's input with ``compute_output_shape``.  Accepts every way of writing the
same network: ``Sequential`` with ``.add`` or a list, ``Dense(32, input_shape=(784,))``
or ``keras.Input((784,))``, the Functional API ``keras.Model(inputs, outputs)`` (its
``InputLayer`` is not a layer of the network), and an activation given by name, as a
function of Keras or TensorFlow (named by what it computes: ``tf.nn.softmax`` is ``softmax``), or as a separate ``Activation``/``ReLU``/``Softmax`` layer right after a
layer whose own activation is linear (read as that layer's activation, so
``Conv2D(32, (3, 3))`` + ``ReLU()`` is ``Conv2D(32, (3, 3), activation='relu')``).

A layer is described by a ``LayerSpec``: its Keras class name, the values of
``layer.get_config()`` that matter (units, filters, kernel_size, pool_size, rate,
return_sequences, ...), optionally its output shape, and its parameter count.  The
helpers below (``dense``, ``conv2d``, ``max_pooling2d``, ``lstm``, ...) compute the
parameters the way ``model.summary()`` counts them, so a hidden test states the
lecture's network in the lecture's words.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from autograder.checks.errors import UNLOADABLE, CheckFailed, judgeable
from autograder.grading.kernel.model_record import activation_name

SUMMARY_HINT = "model.summary() で各層の Output Shape と Param # を確認しましょう。"

ACTIVATION_LAYERS = ("Activation", "ReLU", "Softmax")
"""Layers that only apply an activation: after a layer with a linear activation they are read as its ``activation=``."""

SIGNATURES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "Dense": (("units",), ("activation",)),
    "Dropout": (("rate",), ()),
    "Conv1D": (("filters", "kernel_size"), ("strides", "padding", "activation")),
    "Conv2D": (("filters", "kernel_size"), ("strides", "padding", "activation")),
    "MaxPooling1D": (("pool_size",), ("strides", "padding")),
    "MaxPooling2D": (("pool_size",), ("strides", "padding")),
    "AveragePooling1D": (("pool_size",), ("strides", "padding")),
    "AveragePooling2D": (("pool_size",), ("strides", "padding")),
    "Embedding": (("input_dim", "output_dim"), ()),
    "SimpleRNN": (("units",), ("activation", "return_sequences")),
    "LSTM": (("units",), ("activation", "return_sequences")),
    "GRU": (("units",), ("activation", "return_sequences")),
    "Activation": (("activation",), ()),
}
"""How each kind is written in a notebook: the arguments given by position, then those given by keyword.

The order is also the order the settings are checked in, so the message names the first difference a
student would see reading their own line of code."""

QUIET_DEFAULTS = {"strides": (1, 1), "padding": "valid", "return_sequences": False}
"""Keyword settings left out of a description when they have Keras's default (a lecture's ``Conv2D(32, (3, 3))``)."""

SETTING_NAMES = {
    "units": "ユニット数",
    "filters": "フィルタの数",
    "kernel_size": "カーネルの大きさ",
    "pool_size": "プーリングの大きさ",
    "strides": "ストライド",
    "padding": "パディング",
    "rate": "割合",
    "input_dim": "語彙の数",
    "output_dim": "ベクトルの次元",
    "return_sequences": " return_sequences の設定",
}
"""Japanese names of the settings, for messages (``activation`` has its own wording); another setting is named by
its keyword, spaced as Japanese text spaces a code word."""


def _normalised(value: Any) -> Any:
    """Lists and tuples as tuples all the way down: a reloaded config gives ``[3, 3]`` where a live one gives ``(3, 3)``."""
    if isinstance(value, (list, tuple)):
        return tuple(_normalised(v) for v in value)
    return value


def _same(have: Any, want: Any) -> bool:
    """Whether a config value ``have`` is the expected ``want``: a scalar stands for a tuple of equal values
    (``kernel_size=3`` is ``(3, 3)``), floats are equal to 1e-9, ``None`` in ``want`` matches anything."""
    if want is None:
        return True
    if isinstance(want, tuple):
        return isinstance(have, tuple) and len(have) == len(want) and all(_same(h, w) for h, w in zip(have, want))
    if isinstance(have, tuple):
        return len(have) > 0 and all(_same(h, want) for h in have)
    if isinstance(want, bool) or isinstance(have, bool):
        return have is want or (isinstance(have, bool) and isinstance(want, bool) and have == want)
    if isinstance(want, (int, float)) and isinstance(have, (int, float)):
        return abs(have - want) <= 1e-9
    return have == want


def _shown(value: Any) -> str:
    """A value as a student writes it in code: ``'relu'``, ``(3, 3)``, ``0.5``, ``True``."""
    return repr(value)


def _describe(kind: str, values: Mapping[str, Any]) -> str:
    """``Conv2D(32, (3, 3), activation='relu')``: a layer as it would be written, from its settings."""
    positional, keywords = SIGNATURES.get(kind, ((), ()))
    args = [_shown(values[key]) for key in positional if values.get(key) is not None]
    quiet = {**QUIET_DEFAULTS, "strides": values.get("pool_size", QUIET_DEFAULTS["strides"])}  # pooling's default: pool_size
    for key in keywords:
        value = values.get(key)
        if value is None or (key in quiet and _same(value, quiet[key])):
            continue
        if key == "activation" and kind in ("SimpleRNN", "LSTM", "GRU") and value == "tanh":
            continue
        args.append(f"{key}={_shown(value)}")
    return f"{kind}({', '.join(args)})"


@dataclass(frozen=True)
class LayerSpec:
    """One expected layer: its kind and the settings, shape and parameters that must match."""

    kind: str
    """Keras class name: ``Dense``, ``Dropout``, ``Conv2D``, ``MaxPooling2D``, ``Flatten``, ``LSTM``, ..."""

    units: int | None = None
    """Units (output width) of a Dense or recurrent layer; None: not checked."""

    activation: str | None = None
    """Activation name, e.g. ``relu`` or ``softmax`` (``linear`` for none); None: not checked."""

    rate: float | None = None
    """Dropout rate; None: not checked."""

    params: int | None = 0
    """Parameters of this layer as ``count_params()`` counts them (``Dense(32)`` after 784 inputs: 25,120);
    None: not checked (nor is the model's total)."""

    config: Mapping[str, Any] = field(default_factory=dict)
    """Other expected values of ``layer.get_config()``: ``{"filters": 32, "kernel_size": (3, 3)}``.
    Lists and tuples are compared alike; a scalar matches a tuple of equal values."""

    output_shape: tuple | None = None
    """Expected output shape without the batch dimension, e.g. ``(26, 26, 32)``; None in it matches any size;
    None: not checked."""

    inputs: int | None = None
    """Width (last dimension) of what the layer receives, for the message when the parameters differ."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "config", {key: _normalised(value) for key, value in dict(self.config).items()})
        if self.output_shape is not None:
            object.__setattr__(self, "output_shape", _normalised(self.output_shape))

    def __hash__(self) -> int:
        return hash((self.kind, self.units, self.activation, self.rate, self.params,
                     tuple(sorted(self.config.items())), self.output_shape, self.inputs))

    def expected(self) -> dict[str, Any]:
        """Every setting this spec checks, in the order the layer is written (``SIGNATURES``)."""
        values = {key: value for key, value in (("units", self.units), ("activation", self.activation),
                                                 ("rate", self.rate)) if value is not None}
        values.update(self.config)
        positional, keywords = SIGNATURES.get(self.kind, ((), ()))
        order = [key for key in positional + keywords if key in values]
        return {key: values[key] for key in order + [key for key in values if key not in order]}

    def describe(self) -> str:
        """The layer as it would be written: ``Dense(10, activation='softmax')``, ``MaxPooling2D((2, 2))``."""
        if self.kind == "Dense" and self.activation is not None:  # the wording every kadai3–5 message has used
            return f"Dense({self.units}, activation='{self.activation}')"
        return _describe(self.kind, self.expected())


def _pair(value) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else tuple(value)


def _linear(activation: str | None) -> str:
    return "linear" if activation is None else activation


def dense(units: int, activation: str | None, inputs: int) -> LayerSpec:
    """``Dense(units, activation=...)`` after a layer of width ``inputs``: inputs*units + units parameters.

    ``activation=None`` means Keras's default, no activation (``'linear'``)."""
    return LayerSpec("Dense", units=units, activation=_linear(activation), params=inputs * units + units, inputs=inputs)


def dropout(rate: float) -> LayerSpec:
    """``Dropout(rate)``: the rate must match, no parameters."""
    return LayerSpec("Dropout", rate=rate)


def conv2d(filters: int, kernel_size, activation: str | None, input_shape: tuple | None = None,
           inputs: int | None = None, *, strides=(1, 1), padding: str = "valid") -> LayerSpec:
    """``Conv2D(filters, kernel_size, activation=...)``: filters, kernel size, strides, padding and activation must match.

    The channels it receives come from ``input_shape`` (its last entry, for the first layer) or ``inputs``;
    with them it has (kh*kw*channels + 1)*filters parameters (``Conv2D(32, (3, 3))`` on (28, 28, 1): 320).
    With ``input_shape`` the output shape is checked too: (26, 26, 32) for ``padding='valid'``.
    Without either the parameters are not checked."""
    kernel, step = _pair(kernel_size), _pair(strides)
    channels = input_shape[-1] if input_shape is not None else inputs
    params = (kernel[0] * kernel[1] * channels + 1) * filters if channels is not None else None
    output_shape = None
    if input_shape is not None:
        height, width = input_shape[0], input_shape[1]
        if padding == "same":
            output_shape = (math.ceil(height / step[0]), math.ceil(width / step[1]), filters)
        else:
            output_shape = ((height - kernel[0]) // step[0] + 1, (width - kernel[1]) // step[1] + 1, filters)
    return LayerSpec("Conv2D", activation=_linear(activation), params=params, output_shape=output_shape, inputs=channels,
                     config={"filters": filters, "kernel_size": kernel, "strides": step, "padding": padding})


def _pooling(kind: str, pool_size, strides, padding: str) -> LayerSpec:
    pool = _pair(pool_size)
    return LayerSpec(kind, config={"pool_size": pool, "strides": pool if strides is None else _pair(strides),
                                   "padding": padding})


def max_pooling2d(pool_size=(2, 2), strides=None, padding: str = "valid") -> LayerSpec:
    """``MaxPooling2D(pool_size)``: pool size, strides (default: the pool size) and padding must match; no parameters."""
    return _pooling("MaxPooling2D", pool_size, strides, padding)


def average_pooling2d(pool_size=(2, 2), strides=None, padding: str = "valid") -> LayerSpec:
    """``AveragePooling2D(pool_size)``: as ``max_pooling2d``, for average pooling."""
    return _pooling("AveragePooling2D", pool_size, strides, padding)


def flatten(output_shape: tuple | None = None) -> LayerSpec:
    """``Flatten()``: no parameters; ``output_shape=(5408,)`` checks the width it gives, if wanted."""
    return LayerSpec("Flatten", output_shape=output_shape)


def batch_normalization(inputs: int | None = None) -> LayerSpec:
    """``BatchNormalization()``: 4 parameters per channel (gamma, beta and the two moving statistics, as
    ``model.summary()`` counts them) when ``inputs`` (the channels it receives) is given; else not checked."""
    return LayerSpec("BatchNormalization", params=4 * inputs if inputs is not None else None, inputs=inputs)


def embedding(input_dim: int, output_dim: int) -> LayerSpec:
    """``Embedding(input_dim, output_dim)``: both must match; input_dim*output_dim parameters."""
    return LayerSpec("Embedding", params=input_dim * output_dim,
                     config={"input_dim": input_dim, "output_dim": output_dim})


def _recurrent(kind: str, gates: int, units: int, inputs: int | None, return_sequences: bool, activation: str,
               biases: int = 1) -> LayerSpec:
    params = gates * units * (units + inputs + biases) if inputs is not None else None
    return LayerSpec(kind, units=units, activation=activation, params=params, inputs=inputs,
                     output_shape=(None, units) if return_sequences else (units,),
                     config={"return_sequences": return_sequences})


def simple_rnn(units: int, inputs: int | None = None, return_sequences: bool = False,
               activation: str = "tanh") -> LayerSpec:
    """``SimpleRNN(units)``: units, activation and return_sequences must match, and the output shape:
    (units,), or (steps, units) with ``return_sequences=True``.  After ``inputs`` features per step it has
    units*(units + inputs + 1) parameters; without ``inputs`` they are not checked."""
    return _recurrent("SimpleRNN", 1, units, inputs, return_sequences, activation)


def lstm(units: int, inputs: int | None = None, return_sequences: bool = False, activation: str = "tanh") -> LayerSpec:
    """``LSTM(units)``: as ``simple_rnn``, with 4*units*(units + inputs + 1) parameters (four gates)."""
    return _recurrent("LSTM", 4, units, inputs, return_sequences, activation)


def gru(units: int, inputs: int | None = None, return_sequences: bool = False, activation: str = "tanh") -> LayerSpec:
    """``GRU(units)``: as ``simple_rnn``, with 3*units*(units + inputs + 2) parameters (Keras 3's ``reset_after=True``)."""
    return _recurrent("GRU", 3, units, inputs, return_sequences, activation, biases=2)


def activation(name: str) -> LayerSpec:
    """``Activation(name)`` as its own layer.  Right after a layer without activation it is read as that
    layer's activation, in the expected list as in the model: ``[dense(10, None, 32), activation('softmax')]``
    is ``dense(10, 'softmax', 32)``, and either accepts both ways of writing it."""
    return LayerSpec("Activation", activation=name)


def layer(kind: str, *, params: int | None = None, output_shape: tuple | None = None, **config) -> LayerSpec:
    """Any other Keras layer by class name, with the ``get_config()`` values that must match:
    ``layer("GlobalAveragePooling2D")``, ``layer("Conv1D", filters=16, kernel_size=3, params=64)``."""
    return LayerSpec(kind, params=params, output_shape=output_shape, config=config)


def _activation_name(layer) -> str | None:
    """The layer's activation by what it computes (``activation=tf.nn.softmax`` is ``'softmax'``), else the function's
    own name."""
    if not hasattr(layer, "activation"):
        return None
    activation = layer.activation
    return activation_name(activation) or getattr(activation, "__name__", None)


def _activation_of_layer(layer) -> str | None:
    """The activation an ``Activation``/``ReLU``/``Softmax`` layer applies, by name (None if it is not a plain one)."""
    kind = type(layer).__name__
    if kind == "Activation":
        return _activation_name(layer)
    if kind == "ReLU":
        plain = (getattr(layer, "max_value", None) is None and not getattr(layer, "negative_slope", 0)
                 and not getattr(layer, "threshold", 0))
        return "relu" if plain else None
    if kind == "Softmax":
        return "softmax"
    return None


def _spec_activation(spec: LayerSpec) -> str | None:
    """The activation an expected ``Activation``/``ReLU``/``Softmax`` layer applies."""
    return {"ReLU": "relu", "Softmax": "softmax"}.get(spec.kind, spec.activation)


def _shape_text(shape: tuple) -> str:
    return repr(tuple(shape))


def _input_example(want: tuple, first: LayerSpec | None) -> str:
    """``model.add(Conv2D(32, (3, 3), activation='relu', input_shape=(28, 28, 1)))``: the first layer with its input."""
    if first is None or first.kind == "Dense":
        return f"model.add(Dense(32, input_shape={_shape_text(want)}, activation='relu'))"
    written = first.describe()
    return f"model.add({written[:-1]}{', ' if not written.endswith('()') else ''}input_shape={_shape_text(want)}))"


def _input_shape(model, want: tuple = (784,), first: LayerSpec | None = None) -> tuple:
    """The shape of the model's input; ``want`` (the expected shape of one sample) only shapes the message."""
    try:
        tensors = model.inputs
    except (AttributeError, ValueError):  # Keras: a Sequential without input has no inputs yet
        tensors = None
    if not tensors:
        raise CheckFailed(
            f"モデルの入力の形が決まっていません。最初の層に input_shape={_shape_text(want)} を指定しましょう"
            f"（例: {_input_example(want, first)}）。"
        )
    return tuple(tensors[0].shape)


def _expected_input(inputs: int, input_shape: tuple | None) -> tuple:
    return tuple(input_shape) if input_shape is not None else (inputs,)


def layer_table(model, inputs: int = 784, input_shape: tuple | None = None) -> list[dict]:
    """Each layer of ``model`` as a dict: kind, units, activation, rate, config, input and output shape, params.

    The Functional API's ``InputLayer`` is left out (it only names the input), and an activation layer
    right after a layer whose activation is linear is folded into that layer's row.
    """
    shape = _input_shape(model, _expected_input(inputs, input_shape))
    rows = []
    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "InputLayer":
            continue
        received, shape = shape, tuple(layer.compute_output_shape(shape))
        folded = _activation_of_layer(layer) if kind in ACTIVATION_LAYERS else None
        if folded and rows and rows[-1]["activation"] == "linear":
            rows[-1] = {**rows[-1], "activation": folded, "output_shape": shape}
            continue
        rows.append({
            "kind": kind,
            "units": getattr(layer, "units", None),
            "activation": _activation_name(layer) if kind not in ACTIVATION_LAYERS else folded,
            "rate": getattr(layer, "rate", None),
            "config": {key: _normalised(value) for key, value in layer.get_config().items()},
            "input_shape": received,
            "output_shape": shape,
            "params": layer.count_params(),
        })
    return rows


def _row_values(row: dict) -> dict:
    """A row's settings as ``_describe`` and the comparison read them: its config, with the folded activation."""
    values = dict(row.get("config", {}))
    for key in ("units", "rate"):
        if row.get(key) is not None:
            values[key] = row[key]
    if row.get("activation") is not None:
        values["activation"] = row["activation"]
    return values


def describe(rows: list[dict]) -> str:
    """The layers of ``layer_table`` as one line: ``Conv2D(32, (3, 3), activation='relu') → MaxPooling2D((2, 2)) → ...``."""
    def one(row: dict) -> str:
        if row["kind"] == "Dense":
            return f"Dense({row['units']}, activation='{row['activation']}')"
        if row["kind"] == "Dropout":
            return f"Dropout({row['rate']})"
        return _describe(row["kind"], _row_values(row))

    return " → ".join(one(row) for row in rows)


def _folded(expected: list[LayerSpec]) -> list[LayerSpec]:
    """The expected layers with an ``activation(...)`` spec after a linear layer folded into it, as the model's rows are."""
    specs: list[LayerSpec] = []
    for spec in expected:
        if spec.kind in ACTIVATION_LAYERS and specs and specs[-1].activation == "linear":
            before = specs[-1]
            params = None if before.params is None or spec.params is None else before.params + spec.params
            specs[-1] = replace(before, activation=_spec_activation(spec), params=params,
                                output_shape=spec.output_shape or before.output_shape)
        else:
            specs.append(spec)
    return specs


def _check_setting(where: str, row: dict, spec: LayerSpec, key: str, want: Any, have_layers: str) -> None:
    """Raise ``CheckFailed`` naming the setting ``key`` of the layer at ``where`` if it is not ``want``."""
    values = _row_values(row)
    have = values.get(key)
    if _same(have, want):
        return
    kind = row["kind"]
    if key == "units" and kind == "Dense":
        raise CheckFailed(
            f"{where}の Dense のユニット数が {have} です。{want} にしてください"
            f"（Output Shape が (None, {want}) になります）。{SUMMARY_HINT}"
        )
    if key == "activation":
        raise CheckFailed(f"{where}の {kind} の活性化関数が '{have}' です。activation='{want}' にしてください。")
    if key == "rate" and kind == "Dropout":
        raise CheckFailed(f"{where}の Dropout の割合が {have} です。Dropout({want}) にしてください（いまの構成: {have_layers}）。")
    name = SETTING_NAMES.get(key, f" {key} ")
    found = "指定されていません" if key not in values else f" {_shown(have)} です"
    raise CheckFailed(
        f"{where}の {kind} の{name}が{found}。{key}={_shown(want)} にしてください"
        f"（期待される層: {spec.describe()}）。{SUMMARY_HINT}"
    )


def _shape_matches(have: tuple, want: tuple) -> bool:
    return len(have) == len(want) and all(w is None or h == w for h, w in zip(have, want))


def _check_input(model, want: tuple, first: LayerSpec | None) -> None:
    shape = _input_shape(model, want, first)
    if _shape_matches(shape[1:], want):
        return
    reshape = ""
    if None not in shape[1:] and None not in want and math.prod(shape[1:]) == math.prod(want) and len(want) > 1:
        reshape = f"学習に使うデータも reshape(-1, {', '.join(str(n) for n in want)}) で同じ形にしておきます。"
    raise CheckFailed(
        f"入力の形が {shape} です。{(None, *want)} になるように input_shape={_shape_text(want)} を指定しましょう。{reshape}"
    )


def check_structure(model, expected: list[LayerSpec], inputs: int = 784, input_shape: tuple | None = None) -> None:
    """Raise ``CheckFailed`` unless ``model`` has exactly the ``expected`` layers for its input.

    The input of one sample must be ``input_shape`` (e.g. ``(28, 28, 1)``), or ``(inputs,)`` when it is not
    given.  Then, layer by layer (activation layers folded as ``layer_table`` does, on both sides): the number
    of layers, each kind, each setting of the spec (``LayerSpec.expected``), the output shape if the spec has
    one, the parameters if it has them; finally the model's total parameters when every spec states its own.
    The message names the first difference, the structure found and the one expected.
    """
    judgeable(model)
    if not hasattr(model, "layers") or not hasattr(model, "count_params"):
        raise CheckFailed(f"model が Keras のモデルではありません（{type(model).__name__} です）。Sequential() で作りましょう。")
    want_input = _expected_input(inputs, input_shape)
    expected = _folded(list(expected))
    _check_input(model, want_input, expected[0] if expected else None)
    rows = layer_table(model, inputs, want_input)
    want = " → ".join(spec.describe() for spec in expected)
    have = describe(rows)
    if len(rows) != len(expected):
        raise CheckFailed(
            f"層の数が {len(rows)} です（{have}）。期待される構成は {want} の {len(expected)} 層です。{SUMMARY_HINT}"
        )
    for position, (row, spec) in enumerate(zip(rows, expected), start=1):
        where = f"{position}層目"
        if row["kind"] != spec.kind:
            raise CheckFailed(
                f"{where}が {row['kind']} になっています。{spec.describe()} にしてください。"
                f"いまの構成: {have}。期待される構成: {want}。{SUMMARY_HINT}"
            )
        for key, value in spec.expected().items():
            _check_setting(where, row, spec, key, value, have)
        if spec.output_shape is not None and not _shape_matches(row["output_shape"][1:], spec.output_shape):
            raise CheckFailed(
                f"{where}（{row['kind']}）の出力の形が {row['output_shape']} です。{(None, *spec.output_shape)} になるはずです。"
                f"{SUMMARY_HINT}"
            )
        if spec.params is not None and row["params"] != spec.params:
            received = row["input_shape"][-1] if row["input_shape"] else None
            why = ""
            if spec.inputs is not None and received is not None and received != spec.inputs:
                why = (f"（この層が受け取る形が {row['input_shape']} で、最後の次元が {spec.inputs} ではなく {received} です。"
                       "前の層を確かめましょう）")
            raise CheckFailed(f"{where}のパラメータ数が {row['params']:,} です。{spec.params:,} になるはずです{why}。{SUMMARY_HINT}")
    if all(spec.params is not None for spec in expected):
        total = sum(spec.params for spec in expected)
        if model.count_params() != total:
            raise CheckFailed(f"パラメータの合計が {model.count_params():,} です。{total:,} になるはずです。{SUMMARY_HINT}")
