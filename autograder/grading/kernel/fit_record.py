"""What each Keras model was trained on, written down in the grading kernel: a bounded sample of the rows each ``fit``
call trained on (never its validation rows), kept beside the model's evidence.

Why: a model trained on the test set (``fit(x_test, y_test)``) cannot be told from its weights reliably.  Measured on
kadai4's 問8 model with the solution's ``validation_split=0.2`` (issue 22): trained on 8,000 test images it scores
0.887 on the test set and 0.860 on training images, a gap inside what an honest model can show.  What ``fit`` received
is direct evidence.  The kernel only copies values (which rows, how many); the grading process decides what they
are by comparing them with the data set it loads itself (``autograder.checks.datasets.rows_from``), never by a
verdict of the student's process.

Installed by the kernel's start-up (``autograder.grading.kernel.startup``) on ``keras.Model.fit``, after
``fast_keras``: reading the arguments changes nothing in the training (no data set or generator is iterated; a
``tf.data.Dataset`` or a generator is written down by its type only, and judged by other signals).
"""
from __future__ import annotations

import functools
import inspect
import math
import weakref
from dataclasses import dataclass

SAMPLE_ROWS = 64
"""Rows sampled from what one ``fit`` trained on, evenly spaced from the first to the last trained row: enough that a
share of test images (a whole ``x_test``, or ``x_test`` appended to ``x_train``) shows, few enough to stay small."""

MAX_ROW_VALUES = 4096
"""Values of one row above which rows are not sampled (an image of 28 × 28 is 784; 32 × 32 × 3 is 3,072)."""

MAX_FITS = 8
"""``fit`` calls remembered per model, the latest ones."""

FITS = "__fits__"
"""Key, in a namespace rebuilt from evidence, of the fits of each model variable: ``{name: [FitSample, ...]}``
(``autograder.grading.verdicts``); set by the judging code only, never a student's variable."""


@dataclass(frozen=True)
class FitSample:
    """One ``fit`` call of a model, as the grading reads it."""

    data: str
    """The type of the ``x`` it received (``ndarray``, ``EagerTensor``, ``_PrefetchDataset``, ``generator``…)."""

    rows: int | None = None
    """Rows of ``x`` (None if ``x`` is not an array: a data set, a generator, several inputs)."""

    trained_rows: int | None = None
    """Rows it trained on: ``rows`` less those ``validation_split`` keeps aside (Keras takes the last ones)."""

    sample: object = None
    """Rows evenly spaced among the trained ones, flattened to float32 (``SAMPLE_ROWS`` × values), or None."""


_fits: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_installed = False


def _trained_rows(rows: int, validation_split, validation_data) -> int:
    """Rows ``fit`` trains on: Keras keeps the last ``floor``-split rows aside only without ``validation_data``."""
    try:
        split = float(validation_split or 0.0)
    except (TypeError, ValueError):
        split = 0.0
    if validation_data is not None or not 0.0 < split < 1.0:
        return rows
    kept = int(math.floor(rows * (1.0 - split)))
    return rows if kept in (0, rows) else kept


def describe(x, validation_split=0.0, validation_data=None) -> FitSample:
    """What ``fit(x, ..., validation_split=..., validation_data=...)`` trains on, as a ``FitSample``."""
    import numpy as np

    kind = type(x).__name__
    if x is None or isinstance(x, (dict, list, tuple)) and not _is_rows(x):
        return FitSample(kind)
    if not (isinstance(x, np.ndarray) or hasattr(x, "__array__") or isinstance(x, list)):
        return FitSample(kind)  # a data set, a generator, a Sequence: never iterated here
    array = x if isinstance(x, np.ndarray) else np.asarray(x)
    if array.ndim < 1 or array.dtype.kind not in "biuf" or len(array) == 0:
        return FitSample(kind)
    rows = int(array.shape[0])
    trained = _trained_rows(rows, validation_split, validation_data)
    per_row = math.prod(array.shape[1:])
    if per_row > MAX_ROW_VALUES:
        return FitSample(kind, rows, trained)
    picked = np.unique(np.linspace(0, trained - 1, min(SAMPLE_ROWS, trained)).astype(int))
    sample = np.asarray(array[picked], dtype="float32").reshape(len(picked), per_row)
    return FitSample(kind, rows, trained, sample)


def _is_rows(x) -> bool:
    """A list of numbers or of lists (rows written as lists), not a list of several inputs (arrays)."""
    return isinstance(x, list) and bool(x) and not hasattr(x[0], "shape")


def install() -> bool:
    """Wrap ``keras.Model.fit`` so that each call remembers what its model trained on (idempotent).

    Returns False (and changes nothing) if Keras is not installed."""
    global _installed
    if _installed:
        return True
    try:
        import keras
    except ImportError:  # a kernel for an assignment without Keras: no fit to watch
        return False
    original = keras.Model.fit
    signature = inspect.signature(original)

    @functools.wraps(original)
    def fit(self, *args, **kwargs):
        try:
            given = signature.bind(self, *args, **kwargs).arguments
        except TypeError:  # wrong arguments: Keras itself raises its own message
            given = None
        if given is not None:
            try:
                sample = describe(given.get("x"), given.get("validation_split", 0.0), given.get("validation_data"))
            except Exception as e:  # noqa: BLE001 -- an x we cannot read is written down as unreadable, never raised
                sample = FitSample(f"{type(given.get('x')).__name__} ({type(e).__name__})")
            try:
                _fits.setdefault(self, []).append(sample)
                del _fits[self][:-MAX_FITS]
            except TypeError:  # a model that cannot be weakly referenced: its fits stay unknown
                pass
        return original(self, *args, **kwargs)

    fit._autograder_fit_record = True
    keras.Model.fit = fit
    _installed = True
    return True


def recorded(model) -> list[FitSample] | None:
    """The fits of ``model`` seen in this process, oldest first; None if none was seen (or recording is off)."""
    if not _installed:
        return None
    try:
        return list(_fits.get(model, [])) or None
    except TypeError:
        return None


def fits_of(ns: dict, name: str) -> list[FitSample] | None:
    """The fits of the model ``ns[name]``: from the evidence when ``ns`` was rebuilt from it (``FITS``), else from
    this process's own record; None when none is known (a model whose fits were not watched)."""
    if FITS in ns:
        return ns[FITS].get(name) or None
    return recorded(ns.get(name))
