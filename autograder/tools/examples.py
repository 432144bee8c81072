"""Example submissions made from an assignment: the student version filled in with the solution,
the typical mistakes students make, and correct answers written other ways (variants), each a few
edits of answer cells.  Each assignment keeps its own in ``autograder/checks/<id>/examples.py``
(``MISTAKES``, ``VARIANTS``, ``DEMO_STUDENTS``); this module holds the machinery and the pieces of
student code several assignments share.

The demo grades a few of them; the tests grade every one and check that each mistake loses
exactly the points of the checks it breaks, and that every variant earns full marks.
"""
from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

DELIMITER = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n?", re.MULTILINE)


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






def _cells_by_id(notebook) -> dict[str, nbformat.NotebookNode]:
    return {c.metadata["nbgrader"]["grade_id"]: c for c in notebook.cells if "nbgrader" in c.metadata}


def filled_in(source: Path, release: Path, only: set[str] | None = None) -> nbformat.NotebookNode:
    """The release notebook with its answer cells holding the solution, as a student would submit it.

    ``only``: fill just the answer cells with these grade_ids (a student who stopped half-way);
    the others keep the release's stub.
    """
    solutions = _cells_by_id(nbformat.read(source, as_version=4))
    notebook = nbformat.read(release, as_version=4)
    if only is not None and (unknown := only - solutions.keys()):
        raise KeyError(f"no answer cells {sorted(unknown)} in {source}")
    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution") and (only is None or meta["grade_id"] in only):
            cell.source = DELIMITER.sub("", solutions[meta["grade_id"]].source)
    return notebook


def with_mistakes(notebook: nbformat.NotebookNode, *mistakes: Mistake | Variant) -> nbformat.NotebookNode:
    """A copy of ``notebook`` with each mistake's (or variant's) edits applied, in order; raises ``ValueError``
    if an edit no longer fits (its old text is not in the cell, for example because an earlier one rewrote it)."""
    notebook = nbformat.from_dict(notebook)
    cells = _cells_by_id(notebook)
    for mistake in mistakes:
        for grade_id, old, new in mistake.edits:
            cell = cells[grade_id]
            if old not in cell.source:
                raise ValueError(f"{type(mistake).__name__.lower()} {mistake.name}: {old!r} is not in cell {grade_id}")
            cell.source = cell.source.replace(old, new)
    return notebook


def with_variants(notebook: nbformat.NotebookNode, *variants: Variant) -> nbformat.NotebookNode:
    """A copy of ``notebook`` answered in each of ``variants``' ways (several, each on its own questions, in one notebook)."""
    return with_mistakes(notebook, *variants)


def pack_variants(notebook: nbformat.NotebookNode, variants: tuple[Variant, ...]) -> list[tuple[Variant, ...]]:
    """``variants`` of ``notebook`` (the solution-filled release) packed into few notebooks, each variant once.

    A greedy packing, in the variants' order: a variant joins the first group none of whose variants edits the
    same answer cells, else the first group with which its edits still apply (``with_variants`` raises no
    ``ValueError`` and every variant's new text is still in its cell: two variants may rewrite different lines
    of one cell), else it starts a group.  Fewer notebooks cost less grading; sharing a cell only where no
    group is free keeps each variant on its own questions where it can be.  Raises ``ValueError`` if a variant
    does not apply even alone.
    """
    alone = {v.name: _cells_by_id(with_variants(notebook, v)) for v in variants}  # raises for a stale variant

    def cells(group) -> set[str]:
        return {grade_id for v in group for grade_id, _, _ in v.edits}

    def applies(group) -> bool:
        try:
            combined = _cells_by_id(with_variants(notebook, *group))
        except ValueError:
            return False
        return all(new in combined[grade_id].source or new not in alone[v.name][grade_id].source
                   for v in group for grade_id, _, new in v.edits)  # nothing of one variant rewritten by another

    groups: list[list[Variant]] = []
    for v in variants:
        home = (next((g for g in groups if not cells(g) & cells([v])), None)
                or next((g for g in groups if applies([*g, v])), None))
        if home is None:
            groups.append([v])
        else:
            home.append(v)
    return [tuple(g) for g in groups]


def variant(name: str, assignment_id: str) -> Variant:
    """The variant called ``name`` of ``assignment_id``."""
    return next(v for v in variants(assignment_id) if v.name == name)


def mistake(name: str, assignment_id: str = "kadai4") -> Mistake:
    """The mistake called ``name`` of ``assignment_id``."""
    return next(m for m in mistakes(assignment_id) if m.name == name)


def _examples(assignment_id: str):
    """The module ``autograder/checks/<id>/examples.py`` of an assignment."""
    return importlib.import_module(f"autograder.checks.{assignment_id}.examples")


def assignments() -> list[str]:
    """Every assignment that has a folder under ``autograder/checks/`` (with its checks and examples), sorted."""
    folder = Path(__file__).resolve().parent.parent / "checks"
    return sorted(p.name for p in folder.iterdir() if (p / "__init__.py").is_file())


def mistakes(assignment_id: str) -> tuple[Mistake, ...]:
    """The typical mistakes of ``assignment_id`` (``MISTAKES`` of its examples module)."""
    return _examples(assignment_id).MISTAKES


def variants(assignment_id: str) -> tuple[Variant, ...]:
    """The valid variants of ``assignment_id`` (``VARIANTS`` of its examples module)."""
    return _examples(assignment_id).VARIANTS


def demo_students(assignment_id: str) -> tuple[DemoStudent, ...]:
    """The demo's students of ``assignment_id`` (``DEMO_STUDENTS`` of its examples module)."""
    return _examples(assignment_id).DEMO_STUDENTS
