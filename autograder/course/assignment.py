"""An assignment's source notebook: its graded cells, their points, and its agreement with course_config."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

GOAL_PATTERN = re.compile(r"^ACCURACY_GOAL\s*=\s*([0-9.]+)\s*$", re.MULTILINE)
RECALL_PATTERN = re.compile(r"^RECALL_GOAL\s*=\s*([0-9.]+)\s*$", re.MULTILINE)


@dataclass(frozen=True)
class GradedCell:
    """A cell nbgrader scores."""

    grade_id: str
    points: float
    manual: bool
    """True for an answer the instructor reads (a solution cell that is also graded)."""


def graded_cells(notebook_path: Path) -> list[GradedCell]:
    """The graded cells of a notebook, in notebook order."""
    notebook = nbformat.read(notebook_path, as_version=4)
    cells = []
    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade"):
            cells.append(GradedCell(meta["grade_id"], float(meta.get("points", 0)), bool(meta.get("solution"))))
    return cells


def total_points(notebook_path: Path) -> float:
    """What the notebook is worth: the points of all its graded cells, automatic and manual."""
    return sum(c.points for c in graded_cells(notebook_path))


def disagreements(notebook_path: Path, assignment) -> list[str]:
    """Where the source notebook disagrees with its ``AssignmentConfig`` (bilingual sentences); empty if none."""
    problems = []
    total = total_points(notebook_path)
    if total != assignment.points:
        problems.append(
            f"採点セルの点数の合計が {total:g} 点ですが course_config.py では {assignment.points} 点です / "
            f"graded cells add up to {total:g} points, course_config.py says {assignment.points}"
        )
    text = "\n".join(cell.source for cell in nbformat.read(notebook_path, as_version=4).cells)
    goals = [float(v) for v in GOAL_PATTERN.findall(text)]
    if goals and any(goal != assignment.accuracy_threshold for goal in goals):
        problems.append(
            f"ノートブックの ACCURACY_GOAL = {goals} が course_config.py の accuracy_threshold = "
            f"{assignment.accuracy_threshold} と違います / ACCURACY_GOAL in the notebook differs from course_config.py"
        )
    recalls = [float(v) for v in RECALL_PATTERN.findall(text)]
    if recalls and any(goal != assignment.recall_threshold for goal in recalls):
        problems.append(
            f"ノートブックの RECALL_GOAL = {recalls} が course_config.py の recall_threshold = "
            f"{assignment.recall_threshold} と違います / RECALL_GOAL in the notebook differs from course_config.py"
        )
    return problems
