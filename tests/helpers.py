"""Helpers of the tests (imported as ``from helpers import ...``; fixtures live in conftest.py).

Besides the course of this repository and grading a notebook end to end, small nbgrader-style notebook
builders (as nbgrader's own tests make them) give verdicts, the feedback sanitiser and intake fast unit
tests that need no grading run.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import nbformat

from autograder.course import Course
from autograder.grading.grade import grade

ROOT = Path(__file__).resolve().parent.parent
"""This repository: the course folder the tests read (course_config.py, source/, release/, docs/)."""


def copy_course(released: Course, folder: Path) -> Course:
    """A private copy of ``released`` in ``folder``, so tests grading in parallel never share a gradebook."""
    shutil.copytree(released.root, folder)
    return Course(root=folder, config=released.config)


def submit_and_grade(course: Course, student_id: str, notebook, assignment_id: str = "kadai4") -> object:
    """File ``notebook`` (a NotebookNode or raw text) as ``student_id``'s work on ``assignment_id`` and grade it."""
    course.file_submission(assignment_id, student_id, notebook if isinstance(notebook, str) else nbformat.writes(notebook))
    (result,) = grade(course, assignment_id, [student_id])
    return result


def _nbgrader(grade_id: str, **fields) -> dict:
    return {"nbgrader": {"grade_id": grade_id, "schema_version": 3, "locked": False, "solution": False,
                         "grade": False, "task": False, **fields}}


def answer_cell(grade_id: str, source: str, *, markdown: bool = False) -> nbformat.NotebookNode:
    """An answer cell (``solution: true``), code or Markdown."""
    make = nbformat.v4.new_markdown_cell if markdown else nbformat.v4.new_code_cell
    return make(source, metadata=_nbgrader(grade_id, solution=True, grade=markdown, **({"points": 1} if markdown else {})))


def test_cell(grade_id: str, source: str, points: float = 1, outputs: list | None = None) -> nbformat.NotebookNode:
    """A graded, locked test cell, with the outputs a kernel left in it."""
    cell = nbformat.v4.new_code_cell(source, metadata=_nbgrader(grade_id, grade=True, locked=True, points=points))
    cell.outputs = [nbformat.from_dict(o) for o in outputs or []]
    return cell


test_cell.__test__ = False  # a builder, not a test for pytest to collect


def notebook(*cells) -> nbformat.NotebookNode:
    """A notebook of ``cells`` with the python3 kernel."""
    return nbformat.v4.new_notebook(cells=list(cells), metadata={"kernelspec": {"name": "python3", "language": "python",
                                                                                "display_name": "Python 3"}})
