"""Data sets by name, and checks that a student's arrays are those data sets under their own preprocessing.

The checker loads the data itself (Keras's cache for Fashion-MNIST and MNIST, scikit-learn's bundled
files for the others), never from the student's variables.  A student's ``x_test`` is accepted as the
test set when each of its rows, flattened, is an affine function of the real row: ``/ 255``, ``/ 255.0``,
``astype('float32') / 255``, standardised with one mean and deviation or one per feature, reshaped to
(N, 784) or (N, 28, 28, 1).  This is tested on a bounded sample (at most ``SAMPLE_ROWS`` rows and
``SAMPLE_FEATURES`` values of each), not the whole array, so a check costs milliseconds on 60,000 images.

Accuracy is then measured on the student's own preprocessing, so that a mistake in the preprocessing
question costs that question only: the model trained on unscaled images is measured on unscaled test
images.  When one scale and offset explain the sample, the checker rebuilds the whole test set from its
own copy with that scale, offset, shape and dtype, and predicts on that (rows the sample did not look at
cannot be edited to help); only for a per-feature standardisation does it predict on the student's rows.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from autograder.checks.errors import CheckFailed

KERAS_DATASETS = {"fashion_mnist": "Fashion-MNIST", "mnist": "MNIST"}
"""Data sets ``keras.datasets.<name>.load_data()`` gives, with a train/test split of their own; name → title."""

SKLEARN_DATASETS = {"breast_cancer": "乳がん (Breast Cancer Wisconsin)", "digits": "手書き数字 (digits)",
                    "iris": "アヤメ (iris)", "wine": "ワイン (wine)"}
"""Data sets ``sklearn.datasets.load_<name>()`` ships (no download); split with ``train_test_split`` as the notebook does."""

SAMPLE_ROWS = 256
"""Rows of an array compared with the real data (all of them when there are fewer)."""

SAMPLE_FEATURES = 1024
"""Values of each sampled row compared (all 784 of an image)."""

TOLERANCE = 1e-3
"""How far (as a share of the real data's range, in the real data's units) a value may sit from the fitted
transformation: 0.26 of a grey level, so float16 or float32 rounding passes, a different image does not."""


@dataclass(frozen=True)
class Split:
    """How the notebook splits a scikit-learn data set: ``train_test_split(x, y, test_size=..., random_state=...,
    stratify=y)``, after relabelling ``y`` if the notebook does (the split depends on the labels it is given)."""

    test_size: float | int
    """``test_size=`` of ``train_test_split`` (0.2: a fifth of the rows)."""

    random_state: int | None = None
    """``random_state=`` of ``train_test_split``."""

    stratify: bool = True
    """Whether the notebook passes ``stratify=y``."""

    relabel: tuple[int, ...] | None = None
    """New label of each original class, applied before splitting: ``(1, 0)`` makes breast_cancer's 悪性 (0) = 1."""


@dataclass(frozen=True, eq=False)
class Dataset:
    """One data set as the checker loads it, split into training and test rows."""

    name: str
    """The name it is loaded by: ``fashion_mnist``, ``breast_cancer``, ..."""

    title: str
    """How messages name it: ``Fashion-MNIST``."""

    x_train: np.ndarray
    """Training inputs, as ``load_data()`` (uint8 images) or scikit-learn (float64 features) gives them."""

    y_train: np.ndarray
    """Training labels (class numbers)."""

    x_test: np.ndarray | None
    """Test inputs; None for a scikit-learn data set loaded without a ``Split``."""

    y_test: np.ndarray | None
    """Test labels; None with ``x_test``."""

    classes: int
    """Number of classes (10 for Fashion-MNIST, 2 for breast_cancer)."""

    @property
    def sample_shape(self) -> tuple:
        """The shape of one sample: (28, 28) for an image, (30,) for breast_cancer."""
        return tuple(self.x_train.shape[1:])

    @property
    def features(self) -> int:
        """Values per sample (784 for a 28×28 image)."""
        return int(np.prod(self.sample_shape))

    @property
    def train_rows(self) -> int:
        return len(self.x_train)

    @property
    def test_rows(self) -> int:
        return 0 if self.x_test is None else len(self.x_test)

    def __iter__(self):
        """Unpacks as ``load_data()`` does: ``(x_train, y_train), (x_test, y_test) = datasets.load("fashion_mnist")``."""
        return iter(((self.x_train, self.y_train), (self.x_test, self.y_test)))

    def part(self, part: str) -> tuple[np.ndarray, np.ndarray]:
        """``(x, y)`` of ``part`` (``"train"`` or ``"test"``)."""
        if part not in ("train", "test"):
            raise ValueError(f"part must be 'train' or 'test', not {part!r}")
        x, y = (self.x_train, self.y_train) if part == "train" else (self.x_test, self.y_test)
        if x is None:
            raise ValueError(f"{self.name} has no test rows: pass split=Split(test_size=..., random_state=...) as the "
                             "notebook's train_test_split / テストデータの分け方 (split=Split(...)) を指定してください")
        return x, y


def _read_only(*arrays: np.ndarray) -> None:
    """The cached arrays are shared by every check: one that wrote into them would corrupt the next."""
    for array in arrays:
        array.setflags(write=False)


@functools.cache
def keras_data(name: str) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """``keras.datasets.<name>.load_data()`` (read from Keras's cache), once per process, read-only."""
    import importlib

    if name not in KERAS_DATASETS:
        raise ValueError(f"unknown Keras data set {name!r}; known: {', '.join(KERAS_DATASETS)}")
    (x_train, y_train), (x_test, y_test) = importlib.import_module(f"keras.datasets.{name}").load_data()
    _read_only(x_train, y_train, x_test, y_test)
    return (x_train, y_train), (x_test, y_test)


@functools.cache
def load(name: str, split: Split | None = None) -> Dataset:
    """The data set ``name`` (``fashion_mnist``, ``mnist``, ``breast_cancer``, ``digits``, ``iris``, ``wine``).

    Keras's data sets come with their own split.  A scikit-learn one is all training rows unless ``split``
    says how the notebook splits it (``Split(test_size=0.2, random_state=1)``).  Raises ``ValueError`` for an
    unknown name or a split of a Keras data set (the instructor's mistakes, not a student's).
    """
    if name in KERAS_DATASETS:
        if split is not None:
            raise ValueError(f"{name} comes with its own test set; a Split does not apply")
        (x_train, y_train), (x_test, y_test) = keras_data(name)
        return Dataset(name, KERAS_DATASETS[name], x_train, y_train, x_test, y_test, classes=10)
    if name not in SKLEARN_DATASETS:
        raise ValueError(f"unknown data set {name!r}; known: {', '.join([*KERAS_DATASETS, *SKLEARN_DATASETS])}"
                         f" / 未知のデータセットです")
    import sklearn.datasets

    bunch = getattr(sklearn.datasets, f"load_{name}")()
    x, y = bunch.data, bunch.target
    if split is not None and split.relabel is not None:
        y = np.asarray(split.relabel)[y]
    classes = len(np.unique(y))
    if split is None:
        _read_only(x, y)
        return Dataset(name, SKLEARN_DATASETS[name], x, y, None, None, classes)
    from sklearn.model_selection import train_test_split

    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=split.test_size, random_state=split.random_state,
                                                        stratify=y if split.stratify else None)
    _read_only(x_train, x_test, y_train, y_test)
    return Dataset(name, SKLEARN_DATASETS[name], x_train, y_train, x_test, y_test, classes)


@dataclass(frozen=True)
class Preprocessing:
    """How a student's array was made from the real one: ``x.reshape(N, -1) == scale * real.reshape(N, -1) + offset``."""

    shape: tuple
    """The student's array's shape: (10000, 784), (10000, 28, 28, 1), ..."""

    dtype: np.dtype
    """The student's array's dtype."""

    scale: float | None
    """One factor for every value (1/255 for ``/ 255``); None when each feature has its own."""

    offset: float | None
    """One offset for every value (0 for ``/ 255``); None when each feature has its own."""

    low: float
    """The smallest value the real data becomes under this transformation (over the whole real array)."""

    high: float
    """The largest value the real data becomes."""

    def rebuild(self, real: np.ndarray) -> np.ndarray:
        """The real array under this transformation: what the student's array holds, made from the checker's copy."""
        if self.scale is None:
            raise ValueError("a per-feature transformation is not rebuilt from a sample")
        real = real.reshape(self.shape)
        divisor = 1 / self.scale
        if abs(self.offset) <= 1e-4 * abs(self.scale) and abs(divisor - round(divisor)) <= 1e-6 * abs(divisor):
            made = real / round(divisor)  # x / 255 exactly as the student divided
        else:
            made = real * self.scale + self.offset
        return made.astype(self.dtype, copy=False)


def _sample_positions(rows: int, features: int) -> tuple[np.ndarray, np.ndarray]:
    """Which rows and which values of each row to compare: fixed, spread over the array, first and last row included."""
    rng = np.random.default_rng(20)
    picked = rng.choice(rows, size=min(rows, SAMPLE_ROWS), replace=False) if rows else np.arange(0)
    chosen = np.unique(np.concatenate([picked, [0, rows - 1]] if rows else [picked]))
    columns = np.arange(features) if features <= SAMPLE_FEATURES else np.sort(
        rng.choice(features, size=SAMPLE_FEATURES, replace=False))
    return chosen.astype(int), columns


def _sample(x: np.ndarray, rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """The sampled values of ``x`` as float64, one row per sampled row (only those rows are copied)."""
    return x[rows].reshape(len(rows), -1)[:, columns].astype("float64")


def _fits(student: np.ndarray, real: np.ndarray, scale: np.ndarray, offset: np.ndarray, span: np.ndarray) -> bool:
    """Whether every sampled value sits within ``TOLERANCE`` of the fitted line, measured in the real data's units."""
    with np.errstate(divide="ignore", invalid="ignore"):
        error = np.abs(student - (real * scale + offset)) / np.abs(scale)
    return bool(np.all(np.isfinite(error)) and np.all(error <= TOLERANCE * span + 1e-12))


def _global_fit(student: np.ndarray, real: np.ndarray) -> tuple[float, float] | None:
    """One scale and offset mapping ``real`` onto ``student`` (least squares), or None if none does."""
    spread = real.var()
    if spread == 0 or student.std() == 0:
        return None
    scale = float(((real - real.mean()) * (student - student.mean())).mean() / spread)
    offset = float(student.mean() - scale * real.mean())
    if scale == 0 or not _fits(student, real, scale, offset, real.max() - real.min()):
        return None
    return scale, offset


def _per_feature_fit(student: np.ndarray, real: np.ndarray) -> bool:
    """Whether each column of ``student`` is its own affine function of the same column of ``real``
    (a per-feature standardisation); a column constant in the real sample must be constant in the student's."""
    real_spread = real.std(axis=0)
    varying = real_spread > 0
    if not np.all(np.ptp(student[:, ~varying], axis=0) <= 1e-9 * (1 + np.abs(student[:, ~varying]).max(initial=0))):
        return False
    if not varying.any() or len(student) < 3:
        return False
    r, s = real[:, varying], student[:, varying]
    scale = ((r - r.mean(axis=0)) * (s - s.mean(axis=0))).mean(axis=0) / r.var(axis=0)
    offset = s.mean(axis=0) - scale * r.mean(axis=0)
    return bool(np.all(scale != 0)) and _fits(s, r, scale, offset, np.ptp(r, axis=0))


def _part_name(part: str) -> str:
    return "訓練データ" if part == "train" else "テストデータ"


def _array(x, variable: str) -> np.ndarray:
    """``x`` if it can be indexed by rows as an array; else ``CheckFailed`` saying what it is."""
    if isinstance(x, np.ndarray):
        return x
    try:
        array = np.asarray(x)
    except (TypeError, ValueError):  # NumPy refuses ragged lists and objects it cannot read as numbers
        array = None
    if array is None or array.dtype == object or array.ndim == 0:
        raise CheckFailed(f"{variable} が数の配列ではありません（{type(x).__name__} です）。")
    return array


def check_preprocessed(x, variable: str = "x_test", part: str = "test", *, dataset: str = "fashion_mnist",
                       split: Split | None = None, leading_rows: bool = False) -> Preprocessing:
    """Raise ``CheckFailed`` unless the student's ``variable`` (value ``x``) is the real ``part`` of ``dataset``
    under an allowed preprocessing; return the ``Preprocessing`` found.

    Rule: as many rows as the real part (with ``leading_rows``, any number of its first rows, as a set-up cell's
    ``x_train[:6000]`` keeps), as many values per row in any shape ((N, 784), (N, 28, 28, 1)), and on a sample of
    rows and values each row is the real row under one affine map (``/ 255``, ``/ 255.0``, standardised) or one
    per feature (a standardisation per pixel or column).  The other part, a shuffled, reversed or cut array,
    flipped images or other data fail, the message naming which.
    """
    data = load(dataset, split)
    real, _ = data.part(part)
    x = _array(x, variable)
    shape = tuple(x.shape)
    other = data.test_rows if part == "train" else data.train_rows
    mixed = f"{_part_name('test' if part == 'train' else 'train')}と取り違えていませんか？" if shape[0] == other else ""
    if shape[0] > len(real) or (shape[0] < len(real) and not leading_rows) or shape[0] == 0:
        raise CheckFailed(
            f"{variable} の行数が {shape[0]} です。{data.title} の{_part_name(part)}は {len(real):,} 行です。{mixed}"
        )
    real = real[:shape[0]]
    if int(np.prod(shape[1:])) != data.features:
        raise CheckFailed(
            f"{variable} の形が {shape} です。1件あたりの値の数が {data.features} になるはずです"
            f"（{data.title} の1件の形は {data.sample_shape}）。"
        )
    rows, columns = _sample_positions(len(real), data.features)
    student, truth = _sample(x, rows, columns), _sample(real, rows, columns)
    if not np.all(np.isfinite(student)):
        raise CheckFailed(f"{variable} に nan や inf が入っています。前処理で 0 で割っていないか確かめましょう。")
    fitted = _global_fit(student, truth)
    if fitted is None and not _per_feature_fit(student, truth):
        raise CheckFailed(
            f"{variable} が {data.title} の{_part_name(part)}から作られたものになっていません。{mixed or '行を並べ替えたり、別のデータと取り違えたりしていませんか？'}"
            f" 読み込んだ{_part_name(part)}を reshape して割るなど、行の順番を変えない前処理だけをしましょう。"
        )
    if fitted is None:
        return Preprocessing(shape, x.dtype, None, None, float(student.min()), float(student.max()))
    scale, offset = fitted
    ends = sorted((scale * float(real.min()) + offset, scale * float(real.max()) + offset))
    return Preprocessing(shape, x.dtype, scale, offset, ends[0], ends[1])


def _number(value: float) -> str:
    return f"{round(value, 4):g}"


def check_scaled(x, variable: str = "x_train", part: str = "train", scale: float = 255, *,
                 dataset: str = "fashion_mnist", shape: tuple | None = None, split: Split | None = None) -> None:
    """Raise ``CheckFailed`` unless the student's ``variable`` (value ``x``) is the real ``part`` divided by ``scale``.

    Rule: first the shape (``(N, *shape)`` when ``shape`` is given, e.g. (28, 28, 1)), then the data (as
    ``check_preprocessed``, its first rows allowed: a set-up cell may keep ``x_train[:6000]``), then the
    scale: the values must be the real ones divided by ``scale``.  Each mistake has its own message:
    「x_train の値の範囲が 0〜255 です。255 で割りましょう。」 for unscaled images, a reshape hint for a wrong shape.
    Called as ``datasets.check_scaled(x_train, "x_train", part="train")``.
    """
    array = _array(x, variable)
    if shape is not None and tuple(array.shape[1:]) != tuple(shape):
        wanted = (len(array), *shape)
        raise CheckFailed(
            f"{variable} の形が {tuple(array.shape)} です。{variable} = {variable}.reshape(-1, "
            f"{', '.join(str(n) for n in shape)}) で {wanted} にしましょう。"
        )
    found = check_preprocessed(array, variable, part, dataset=dataset, split=split, leading_rows=True)
    if found.scale is not None and abs(found.scale * scale - 1) <= 1e-4 and abs(found.offset) <= 1e-4 * found.scale:
        return
    if found.scale is not None and abs(found.scale - 1) <= 1e-6 and abs(found.offset) <= 1e-6:
        raise CheckFailed(f"{variable} の値の範囲が {_number(found.low)}〜{_number(found.high)} です。{scale:g} で割りましょう。")
    raise CheckFailed(
        f"{variable} の値の範囲が {_number(found.low)}〜{_number(found.high)} です。読み込んだ値を {scale:g} で割ったもの"
        f"（{variable} = {variable} / {scale:g}）にしましょう。"
    )


def _predicted_classes(model, x: np.ndarray, classes: int, variable: str) -> np.ndarray:
    """The class ``model`` picks for each row of ``x``: argmax of its outputs, or output > 0.5 for one sigmoid output."""
    try:
        outputs = np.asarray(model.predict(x, verbose=0, batch_size=1000))
    except Exception as error:  # any refusal of Keras (shape, dtype, a broken model) is the student's mismatch of data and model
        expected = getattr(model, "inputs", None)
        wanted = f"（model の入力の形は {tuple(expected[0].shape)}）" if expected else ""
        raise CheckFailed(
            f"{variable}（形 {tuple(x.shape)}）を model で予測できませんでした{wanted}。"
            f"学習に使ったデータと同じ前処理をした {variable} で、model.predict({variable}) が動くか確かめましょう。"
        ) from error
    if outputs.ndim == 2 and outputs.shape[1] == classes:
        return outputs.argmax(axis=1)
    if classes == 2 and (outputs.ndim == 1 or (outputs.ndim == 2 and outputs.shape[1] == 1)):
        return (outputs.reshape(-1) > 0.5).astype(int)
    last = "Dense(1, activation='sigmoid')" if classes == 2 else f"Dense({classes}, activation='softmax')"
    raise CheckFailed(f"model の出力の形が {outputs.shape} です。{classes} クラスの分類なので、最後の層を {last} にしましょう。")


def measure_accuracy(model, name: str, x_test_student, *, variable: str = "x_test", split: Split | None = None) -> float:
    """The share of the real test rows of data set ``name`` that ``model`` classifies right, on the student's preprocessing.

    Rule: ``x_test_student`` must pass ``check_preprocessed`` (all the test rows, scaled and reshaped as the
    student chose); the model then predicts the test set in that form (rebuilt by the checker from its own
    copy when one scale and offset explain it) and is compared with the real labels (relabelled as
    ``split.relabel`` says, e.g. 悪性 = 1 for breast_cancer): argmax of the outputs, or > 0.5 for one sigmoid
    output.  Raises ``CheckFailed`` if the data is not the test set or the model cannot predict it.
    """
    found = check_preprocessed(x_test_student, variable, "test", dataset=name, split=split)
    data = load(name, split)
    real, truth = data.part("test")
    x = found.rebuild(real) if found.scale is not None else _array(x_test_student, variable)
    predicted = _predicted_classes(model, x, data.classes, variable)
    return float(np.mean(predicted == np.asarray(truth).reshape(-1)))


def check_accuracy(model, name: str, x_test_student, threshold: float, *, hint: str | None = None,
                   variable: str = "x_test", split: Split | None = None) -> float:
    """Raise ``CheckFailed`` unless ``measure_accuracy`` reaches ``threshold``; return the accuracy.

    ``hint`` replaces the general advice in the message (what to try for this assignment)."""
    accuracy = measure_accuracy(model, name, x_test_student, variable=variable, split=split)
    if accuracy < threshold:
        raise CheckFailed(
            f"テストデータでの正解率は {accuracy:.4f} でした（目標 {threshold} 以上）。"
            + (hint or "層の数やユニット数・フィルタの数、エポック数を工夫してみましょう。")
        )
    return accuracy


def check_labels(y, variable: str = "y_train", part: str = "train", *, one_hot: bool = True,
                 dataset: str = "fashion_mnist", split: Split | None = None) -> None:
    """Raise ``CheckFailed`` unless the student's ``variable`` (value ``y``) holds the real labels of ``part``, or
    its first rows: one-hot ``(N, classes)`` as ``to_categorical(y, classes)`` makes them, or the class numbers
    ``(N,)`` with ``one_hot=False``."""
    data = load(dataset, split)
    _, truth = data.part(part)
    given = _array(y, variable)
    rows = len(given) if 0 < len(given) <= len(truth) else len(truth)
    truth = truth[:rows]
    if one_hot:
        shape = (rows, data.classes)
        if tuple(given.shape) != shape:
            raise CheckFailed(f"{variable} の形が {tuple(given.shape)} です。to_categorical({variable}, {data.classes}) で {shape} にしましょう。")
        if not np.array_equal(given, np.eye(data.classes, dtype=given.dtype)[truth]):
            raise CheckFailed(
                f"{variable} が正解ラベルの one-hot 表現になっていません。{variable} = to_categorical({variable}, {data.classes}) と書きましょう。"
            )
        return
    if given.reshape(-1).shape != truth.shape or not np.array_equal(given.reshape(-1), truth):
        raise CheckFailed(f"{variable} が{_part_name(part)}の正解ラベル（クラスの番号）と一致しません。読み込んだラベルをそのまま使いましょう。")
