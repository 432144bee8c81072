"""Example submissions made from an assignment: the student version filled in with the solution,
the typical mistakes students make, and correct answers written other ways (variants), each a few
edits of answer cells.  Each assignment keeps its own in ``autograder/checks/<id>/examples.py``
(``MISTAKES``, ``VARIANTS``, ``DEMO_STUDENTS``, made of ``autograder.checks.kit``'s dataclasses and shared
pieces of student code); this module holds the machinery.

The demo grades a few of them; the tests grade every one and check that each mistake loses
exactly the points of the checks it breaks, and that every variant earns full marks.
"""
from __future__ import annotations

import importlib
import re
from pathlib import Path

import nbformat

from autograder.checks.kit import DemoStudent, Mistake, Variant
from autograder.course.cells import grade_id as grade_id_of
from autograder.course.cells import is_solution

DELIMITER = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n?", re.MULTILINE)


def _cells_by_id(notebook) -> dict[str, nbformat.NotebookNode]:
    return {grade_id_of(c): c for c in notebook.cells if grade_id_of(c) is not None}


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
        if is_solution(cell) and (only is None or grade_id_of(cell) in only):
            cell.source = DELIMITER.sub("", solutions[grade_id_of(cell)].source)
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
