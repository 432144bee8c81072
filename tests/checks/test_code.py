"""Reading how the notebook's code computed a value: the order of a metric's arguments."""
from __future__ import annotations

from autograder.checks.code import sources, swapped_arguments


def _swapped(*cells: str) -> str | None:
    return swapped_arguments(list(cells), "recall_score", assigned_to="recall", truth=("y_test", "y_true"))


def test_the_truth_second_is_found_in_every_spelling():
    """Are recall_score(pred, y_test), metrics.recall_score(...) and wrapped arguments found swapped, and the right
    order (positional or by keyword) not?"""
    assert _swapped("recall = recall_score(pred, y_test)") == "recall_score(pred, y_test)"
    assert _swapped("recall = metrics.recall_score(np.ravel(pred), y_test.astype(int))") is not None
    assert _swapped("recall = recall_score(y_pred=y_test, y_true=pred)") is not None
    assert _swapped("recall = recall_score(y_test, pred)") is None
    assert _swapped("recall = recall_score(y_pred=pred, y_true=y_test)") is None
    assert _swapped("recall = tp / (tp + fn)") is None  # not computed with recall_score: the value is judged alone


def test_the_last_assignment_counts_and_unreadable_cells_are_skipped():
    """Does the last cell that sets recall decide, past magics and cells that do not parse?"""
    assert _swapped("recall = recall_score(pred, y_test)", "%matplotlib inline", "recall = recall_score(y_test, pred)") is None
    assert _swapped("recall = recall_score(y_test, pred)", "def f(:", "recall = recall_score(pred, y_test)") is not None
    assert sources({"In": ["", "x = 1", 5]}) == ["", "x = 1"] and sources({}) == []
