"""What an assignment's examples are made of: typical mistakes, valid variants, the demo's students, and the pieces
of student code several assignments share (the lecture's history figure, its models).

``autograder/checks/<id>/examples.py`` builds its ``MISTAKES``, ``VARIANTS`` and ``DEMO_STUDENTS`` from these; the
machinery that applies them to notebooks and grades them is ``autograder.tools.examples`` (the instructor's side,
which the checks never import).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Mistake:
    """A typical mistake: text replaced in one answer cell, and what grading must make of it."""

    name: str
    description: str
    """What the student did (Japanese)."""

    edits: tuple[tuple[str, str, str], ...]
    """``(grade_id of the answer cell, old text, new text)``; each old text must occur in that cell."""

    lost: frozenset[str]
    """grade_ids of the checks that must lose their points (all others keep theirs)."""

    says: str
    """A phrase the message of the first lost check must contain."""


PLOT_LOSS = "plt.plot(result.history['loss'], label='loss')\nplt.plot(result.history['val_loss'], label='val_loss')"


@dataclass(frozen=True)
class DemoStudent:
    """A student of ``python -m autograder demo``: the solution, with some typical mistakes, or a broken file."""

    student_id: str
    description: str
    """What they submitted (Japanese / English), printed by the demo."""

    mistakes: tuple[str, ...] = ()
    """Names of the assignment's typical mistakes in their notebook."""

    broken: bool = False
    """A file cut short: not a notebook at all."""


@dataclass(frozen=True)
class Variant:
    """A correct answer written another way than the solution: it must earn every automatic point."""

    name: str
    description: str
    """What the student wrote instead (Japanese)."""

    edits: tuple[tuple[str, str, str], ...]
    """``(grade_id of the answer cell, old text, new text)`` on the solution-filled notebook, as for ``Mistake``."""


def history_plot(loss=("loss", "val_loss"), accuracy=("accuracy", "val_accuracy")) -> str:
    """The lecture's history figure with other History keys (``acc`` after ``metrics=['acc']``)."""
    return ("fig = plt.figure(figsize=(12,4))\nplt.subplot(1,2,1)\n"
            + "".join(f"plt.plot(result.history['{k}'], label='{k}')\n" for k in loss) + "plt.legend()\nplt.subplot(1,2,2)\n"
            + "".join(f"plt.plot(result.history['{k}'], label='{k}')\n" for k in accuracy) + "plt.legend()\nplt.show()\n")


LECTURE_PLOT = history_plot()

SUBPLOTS_PLOT = """fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4))
epochs = range(1, len(result.history['loss']) + 1)
ax1.plot(epochs, result.history['loss'], label='train')
ax1.plot(epochs, result.history['val_loss'], label='validation')
ax1.set_title('loss')
ax1.set_xlabel('epoch')
ax1.legend()
ax2.plot(epochs, result.history['accuracy'], label='訓練')
ax2.plot(epochs, result.history['val_accuracy'], label='検証')
ax2.set_title('accuracy')
ax2.grid(True)
ax2.legend()
plt.show()
"""

TWIN_PLOT = """fig = plt.figure(figsize=(12, 4))
ax1 = fig.add_subplot(121)
first = ax1.plot(result.history['loss'], 'b', label='loss')
ax1b = ax1.twinx()
second = ax1b.plot(result.history['val_loss'], 'r', label='val_loss')
ax1.legend(first + second, ['loss', 'val_loss'])
ax2 = fig.add_subplot(122)
epochs = np.arange(1, len(result.history['accuracy']) + 1)
ax2.plot(epochs, result.history['accuracy'], label='accuracy')
ax2.plot(epochs, result.history['val_accuracy'], label='val_accuracy')
points = ax2.scatter(epochs, result.history['val_accuracy'], c=epochs, s=8)
fig.colorbar(points, ax=ax2, label='epoch')
ax2.legend()
plt.show()
"""

PYPLOT_NO_NAME_PLOT = """plt.figure(figsize=(12, 4))
plt.subplot(121)
plt.plot(range(1, len(result.history['loss']) + 1), result.history['loss'], label='train')
plt.plot(range(1, len(result.history['loss']) + 1), result.history['val_loss'], label='validation')
plt.title('損失')
plt.xlabel('epoch')
plt.ylabel('loss')
plt.grid()
plt.legend()
plt.subplot(122)
plt.plot(result.history['accuracy'], label='train')
plt.plot(result.history['val_accuracy'], label='validation')
plt.title('正解率')
plt.legend(loc='lower right')
plt.show()
"""

LECTURE_MODEL32 = ("model = Sequential()\nmodel.add(Dense(32, input_shape=(784,), activation='relu'))\n"
                   "model.add(Dense(10, activation='softmax'))\n")
KADAI5_MODEL = ("model = Sequential()\nmodel.add(Dense(64, input_shape=(30,), activation='relu'))\n"
                "model.add(Dense(64, activation='relu'))\nmodel.add(Dense(1, activation='sigmoid'))\n")
KADAI5_CURE = ("model = Sequential()\nmodel.add(Dense(64, input_shape=(30,), activation='relu'))\nmodel.add(Dropout(0.5))\n"
               "model.add(Dense(64, activation='relu'))\nmodel.add(Dropout(0.5))\nmodel.add(Dense(1, activation='sigmoid'))\n")
