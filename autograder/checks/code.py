"""Checks of how the notebook's code computed a value, for what no value can show.

Some mistakes give the right number on one split by coincidence: ``recall_score(pred, y_test)`` is the precision,
equal to the recall whenever false positives and false negatives are as many.  The property the question names
(the truth first) is then checked on the code itself: the cells as the student ran them, which IPython keeps in
``In`` (a check declares it reads ``"In"``, collected as a list of strings like any variable).  Only the student's own
point depends on it: code that cannot be read (no ``In`` outside IPython, a cell that does not parse) is skipped
and the value is judged alone.
"""
from __future__ import annotations

import ast

MAX_CELLS = 500
"""Cells of ``In`` read (the last ones): a notebook of this course runs a few dozen."""


def sources(ns: dict) -> list[str]:
    """The code of the cells the notebook ran, oldest first (IPython's ``In``); [] if there is none to read."""
    cells = ns.get("In")
    if not isinstance(cells, (list, tuple)):
        return []
    return [cell for cell in list(cells)[-MAX_CELLS:] if isinstance(cell, str)]


def _names(node) -> set[str]:
    """The variables an argument reads: ``{'y_test'}`` for ``y_test``, ``y_test.values``, ``np.asarray(y_test)``."""
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} if node is not None else set()


def _called(call: ast.Call, function: str) -> bool:
    func = call.func
    return (isinstance(func, ast.Name) and func.id == function) or (isinstance(func, ast.Attribute) and func.attr == function)


def swapped_arguments(cells: list[str], function: str, *, assigned_to: str, truth: tuple[str, ...]) -> str | None:
    """The last call of ``function`` whose result the cells assign to ``assigned_to`` (``recall = recall_score(...)``),
    written back as code, if it passes the truth (a variable named in ``truth``) second rather than first; None if
    the truth comes first, or no such call can be read.  ``y_true=``/``y_pred=`` keywords count by their names."""
    last = None
    for cell in cells:
        try:
            tree = ast.parse(cell)
        except (SyntaxError, ValueError):
            continue  # an IPython magic or a cell that did not run: nothing to read there
        for node in ast.walk(tree):
            if (isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) and _called(node.value, function)
                    and any(isinstance(t, ast.Name) and t.id == assigned_to for t in node.targets)):
                last = node.value
    if last is None:
        return None
    keywords = {k.arg: k.value for k in last.keywords if k.arg}
    first = keywords.get("y_true", last.args[0] if last.args else None)
    second = keywords.get("y_pred", last.args[1] if len(last.args) > 1 else None)
    if _names(first) & set(truth) or not _names(second) & set(truth):
        return None
    return ast.unparse(last)
