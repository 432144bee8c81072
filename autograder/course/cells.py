"""nbgrader's metadata of a notebook cell, read in one place (nbgrader's ``utils.is_grade`` and friends).

A cell's ``metadata.nbgrader`` says what the cell is to nbgrader: an answer (``solution``), a graded cell
(``grade``, with its ``points``), read-only (``locked``), under its ``grade_id``.  In the course's own notebooks
(source, release) it is what the author wrote; in a student's notebook it may be anything, so every reader here
takes a mapping of the wrong shape as no metadata and a ``grade_id`` that is not a string as none.
(``autograder.course.notebook`` refuses such a submission before grading; these readers never raise.)
"""
from __future__ import annotations


def nbgrader_metadata(cell) -> dict:
    """The cell's ``metadata.nbgrader`` mapping; ``{}`` if it has none or it is not a mapping."""
    metadata = cell.get("metadata", {})
    meta = metadata.get("nbgrader") if isinstance(metadata, dict) else None
    return meta if isinstance(meta, dict) else {}


def grade_id(cell) -> str | None:
    """The cell's ``grade_id``, or None when it has none or it is not a string."""
    value = nbgrader_metadata(cell).get("grade_id")
    return value if isinstance(value, str) else None


def is_grade(cell) -> bool:
    """Whether nbgrader scores the cell (a test cell, or a written answer graded by hand)."""
    return bool(nbgrader_metadata(cell).get("grade"))


def is_solution(cell) -> bool:
    """Whether the cell is an answer the student writes."""
    return bool(nbgrader_metadata(cell).get("solution"))


def is_locked(cell) -> bool:
    """Whether the author marked the cell read-only (``locked``), as written in its metadata.

    Unlike nbgrader's ``utils.is_locked``, a graded cell does not count as locked unless it says so (nbgrader's
    "create assignment" marks every test cell locked; a student's cell saying ``locked`` proves nothing)."""
    return bool(nbgrader_metadata(cell).get("locked"))


def points(cell) -> float:
    """The points nbgrader gives the cell (0 for a cell that is not graded)."""
    return float(nbgrader_metadata(cell).get("points", 0))
