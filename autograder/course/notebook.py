"""Whether a file is a notebook of an assignment: the one answer ``collect``, ``grade``, the portal and the report share."""
from __future__ import annotations

import nbformat

NOT_READABLE = "ノートブックとして読めません / not a readable notebook"
OTHER_ASSIGNMENT = ("この課題の採点用のセルが1つもありません（別の課題のノートブックではありませんか？） / "
                    "none of this assignment's graded cells is in the notebook (another assignment's notebook?)")
TOO_FEW_CELLS = ("この課題のノートブックではないか、採点用のセルの半分以上が消えています / "
                 "not this assignment's notebook (fewer than half of its graded cells)")


def grade_ids(notebook: nbformat.NotebookNode) -> set[str]:
    """The nbgrader ``grade_id`` of every cell that has one (metadata of any shape a student's file may hold)."""
    ids = set()
    for cell in notebook.get("cells", []):
        meta = cell.get("metadata", {}) if isinstance(cell, dict) else {}
        nbgrader = meta.get("nbgrader") if isinstance(meta, dict) else None
        grade_id = nbgrader.get("grade_id") if isinstance(nbgrader, dict) else None
        if isinstance(grade_id, str):
            ids.add(grade_id)
    return ids


def read_notebook(data: bytes | str) -> tuple[nbformat.NotebookNode | None, str | None]:
    """``(notebook, None)`` if ``data`` is a valid notebook (any nbformat nbformat reads, as version 4), else ``(None, why)``."""
    try:
        notebook = nbformat.reads(data.decode("utf-8") if isinstance(data, bytes) else data, as_version=4)
        nbformat.validate(notebook)
    except Exception as e:  # noqa: BLE001 -- nbformat raises many types for bad files; each is a verdict here
        return None, f"{NOT_READABLE}: {type(e).__name__}: {str(e)[:200]}"
    return notebook, None


def notebook_problem(data: bytes | str, graded_ids: set[str] | None = None, *, at_least: float = 0.0) -> str | None:
    """Why ``data`` is not a notebook of the assignment whose graded cells are ``graded_ids``, or None.

    ``at_least``: the share of those cells it must hold; 0 means one (``grade``: a notebook holding none is
    another assignment's), 0.5 half (``collect``: with fewer it is another assignment's or badly damaged).
    """
    notebook, problem = read_notebook(data)
    if problem:
        return problem
    if graded_ids:
        present = len(grade_ids(notebook) & graded_ids)
        if at_least and present < at_least * len(graded_ids):
            return TOO_FEW_CELLS
        if present == 0:
            return OTHER_ASSIGNMENT
    return None
