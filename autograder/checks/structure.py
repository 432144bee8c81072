"""Checks of a Keras model's structure: layer kinds, units, activations, shapes, parameters.

Works on Keras 3, which removed ``layer.output_shape``: shapes are computed from
the model's input with ``compute_output_shape``.  Accepts every way of writing the
same network: ``Sequential`` with ``.add`` or a list, ``Dense(32, input_shape=(784,))``
or ``keras.Input((784,))``, the Functional API ``keras.Model(inputs, outputs)`` (its
``InputLayer`` is not a layer of the network), and an activation given by name, as a
function, or as a separate ``Activation``/``ReLU``/``Softmax`` layer right after a
linear ``Dense`` (read as that Dense's activation).
"""
from __future__ import annotations

from dataclasses import dataclass

from autograder.checks.errors import CheckFailed

UNLOADABLE = "壊れたモデル"
"""Type name ``autograder.grading.verdicts`` gives a model Keras could not reload in safe mode."""

SUMMARY_HINT = "model.summary() で各層の Output Shape と Param # を確認しましょう。"


@dataclass(frozen=True)
class LayerSpec:
    """One expected layer."""

    kind: str
    """Keras class name: ``Dense`` or ``Dropout``."""

    units: int | None = None
    """Dense units (output width)."""

    activation: str | None = None
    """Dense activation name, e.g. ``relu`` or ``softmax``."""

    rate: float | None = None
    """Dropout rate."""

    params: int = 0
    """Parameters of this layer (``Dense(32)`` after 784 inputs: 784*32+32 = 25,120)."""

    def describe(self) -> str:
        if self.kind == "Dropout":
            return f"Dropout({self.rate})"
        return f"Dense({self.units}, activation='{self.activation}')"


def dense(units: int, activation: str, inputs: int) -> LayerSpec:
    """The spec of ``Dense(units, activation=...)`` after a layer of width ``inputs``."""
    return LayerSpec("Dense", units=units, activation=activation, params=inputs * units + units)


def dropout(rate: float) -> LayerSpec:
    return LayerSpec("Dropout", rate=rate)


def _activation_name(layer) -> str | None:
    activation = getattr(layer, "activation", None)
    return getattr(activation, "__name__", None)


ACTIVATION_LAYERS = ("Activation", "ReLU", "Softmax")
"""Layers that only apply an activation: after a linear Dense they are read as its ``activation=``."""


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


def _input_shape(model, inputs: int = 784) -> tuple:
    """The shape of the model's input; ``inputs`` (the expected feature count) only shapes the message."""
    try:
        tensors = model.inputs
    except (AttributeError, ValueError):
        tensors = None
    if not tensors:
        raise CheckFailed(
            f"モデルの入力の形が決まっていません。最初の層に input_shape=({inputs},) を指定しましょう"
            f"（例: model.add(Dense(32, input_shape=({inputs},), activation='relu'))）。"
        )
    return tuple(tensors[0].shape)


def layer_table(model, inputs: int = 784) -> list[dict]:
    """Each layer of ``model`` as a dict: kind, units, activation, rate, output shape, params.

    The Functional API's ``InputLayer`` is left out (it only names the input), and an activation
    layer right after a Dense without activation is folded into that Dense's row.
    """
    shape = _input_shape(model, inputs)
    rows = []
    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "InputLayer":
            continue
        shape = tuple(layer.compute_output_shape(shape))
        folded = _activation_of_layer(layer) if kind in ACTIVATION_LAYERS else None
        if folded and rows and rows[-1]["kind"] == "Dense" and rows[-1]["activation"] == "linear":
            rows[-1] = {**rows[-1], "activation": folded, "output_shape": shape}
            continue
        rows.append({
            "kind": kind,
            "units": getattr(layer, "units", None),
            "activation": _activation_name(layer) if kind not in ACTIVATION_LAYERS else folded,
            "rate": getattr(layer, "rate", None),
            "output_shape": shape,
            "params": layer.count_params(),
        })
    return rows


def describe(rows: list[dict]) -> str:
    """The layers of ``layer_table`` as one line: ``Dense(128, activation='relu') → Dropout(0.5) → ...``."""
    def one(row: dict) -> str:
        if row["kind"] == "Dense":
            return f"Dense({row['units']}, activation='{row['activation']}')"
        if row["kind"] == "Dropout":
            return f"Dropout({row['rate']})"
        return row["kind"]

    return " → ".join(one(row) for row in rows)


def check_structure(model, expected: list[LayerSpec], inputs: int = 784) -> None:
    """Raise ``CheckFailed`` unless ``model`` has exactly the ``expected`` layers after ``inputs`` features."""
    if type(model).__name__ == UNLOADABLE:
        raise CheckFailed(
            f"採点側で model を読み込めませんでした（{model!r}）。activation=tf.nn.softmax のような関数や自作の層は、"
            "保存して読み込めないことがあります。activation='softmax' のように名前で書きましょう。"
        )
    if not hasattr(model, "layers") or not hasattr(model, "count_params"):
        raise CheckFailed(f"model が Keras のモデルではありません（{type(model).__name__} です）。Sequential() で作りましょう。")
    shape = _input_shape(model, inputs)
    if shape[1:] != (inputs,):
        raise CheckFailed(f"入力の形が {shape} です。(None, {inputs}) になるように input_shape=({inputs},) を指定しましょう。")
    rows = layer_table(model, inputs)
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
        if spec.kind == "Dense":
            if row["units"] != spec.units:
                raise CheckFailed(
                    f"{where}の Dense のユニット数が {row['units']} です。{spec.units} にしてください"
                    f"（Output Shape が (None, {spec.units}) になります）。{SUMMARY_HINT}"
                )
            if row["activation"] != spec.activation:
                raise CheckFailed(
                    f"{where}の Dense の活性化関数が '{row['activation']}' です。activation='{spec.activation}' にしてください。"
                )
        if spec.kind == "Dropout" and row["rate"] is not None and abs(row["rate"] - spec.rate) > 1e-9:
            raise CheckFailed(f"{where}の Dropout の割合が {row['rate']} です。Dropout({spec.rate}) にしてください（いまの構成: {have}）。")
        if row["params"] != spec.params:
            raise CheckFailed(f"{where}のパラメータ数が {row['params']:,} です。{spec.params:,} になるはずです。{SUMMARY_HINT}")
    total = sum(spec.params for spec in expected)
    if model.count_params() != total:
        raise CheckFailed(f"パラメータの合計が {model.count_params():,} です。{total:,} になるはずです。{SUMMARY_HINT}")
