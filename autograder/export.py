"""The grades CSV: one row per folder under submitted/, one column per graded cell."""
from __future__ import annotations

import csv
from pathlib import Path

from autograder.assignment import graded_cells, total_points
from autograder.course import Course
from autograder.grade import saved_result, student_ids
from autograder.results import SubmissionResult

BASE_COLUMNS = ["student_id", "score", "max_score", "status", "message"]


def collect(course: Course, assignment_id: str) -> list[SubmissionResult]:
    """The latest outcome for every student folder of ``assignment_id`` (graded or not)."""
    return [saved_result(course, assignment_id, student_id) for student_id in student_ids(course)]


def export_grades(course: Course, assignment_id: str, out: Path) -> list[SubmissionResult]:
    """Write the grades CSV of ``assignment_id`` to ``out`` (UTF-8 with BOM, so Excel reads Japanese) and return its rows.

    Ungraded, invalid and failed submissions get 0 points, their status and a message.
    """
    cells = graded_cells(course.source_notebook(assignment_id))
    max_score = total_points(course.source_notebook(assignment_id))
    results = collect(course, assignment_id)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="", encoding="utf-8-sig") as f:
        writer = csv.writer(f)
        writer.writerow(BASE_COLUMNS + [c.grade_id for c in cells])
        for result in results:
            points = {c.grade_id: c.points for c in result.checks}
            row = [result.student_id, f"{result.score:g}", f"{max_score:g}", result.status, result.message]
            row += ["" if points.get(c.grade_id) is None else f"{points[c.grade_id]:g}" for c in cells]
            writer.writerow(row)
    return results
