"""The grades CSV in the LMS's import shape: one row per folder under submitted/, columns from course_config.

Scores are the gradebook's, so a manual grade not yet published (``manual --publish``) is not in them: the CSV
says so (``manual_complete`` is not ``yes``; the ``manual_unpublished`` field names the questions) and a warning
counts them."""
from __future__ import annotations

import csv
from datetime import UTC
from pathlib import Path

from autograder.course import Assignment, ConfigError, Course, CourseConfig
from autograder.course.csv_cells import SpreadsheetSafeWriter
from autograder.course.results import Status, SubmissionResult, saved_result
from autograder.errors import log
from autograder.tools.manual import unpublished

DEFAULT_COLUMNS = CourseConfig.__dataclass_fields__["export_columns"].default
"""The grades CSV's columns unless course_config sets ``export_columns`` (the schema's default: one source)."""
FIELDS = ("student_id", "name", "score", "max_score", "status", "late", "manual_complete", "manual_unpublished",
          "submitted_at", "message")


def all_results(assignment: Assignment) -> list[SubmissionResult]:
    """The latest outcome for every student folder of ``assignment`` (graded or not)."""
    return [saved_result(assignment, student_id) for student_id in assignment.course.student_ids()]


def export_grades(assignment: Assignment, out: Path) -> list[SubmissionResult]:
    """Write the grades CSV of ``assignment`` to ``out`` (UTF-8 with BOM, so Excel reads Japanese) and return its rows.

    Columns: course_config's ``export_columns`` (header, field), then one per graded cell unless
    ``export_cells`` is False.  Ungraded, late, invalid and failed submissions get 0 points, their
    status, ``late`` = ``yes`` when submitted after the due date, and a message.  Text that would start a
    spreadsheet formula (a roster name ``=HYPERLINK(...)``) gets a leading ``'``; scores stay numbers
    (``autograder/course/csv_cells.py``).
    """
    course, config = assignment.course, assignment.course.config
    columns = config.export_columns
    cells = assignment.graded_cells
    known = set(FIELDS) | {c.grade_id for c in cells}
    if unknown := [field for _, field in columns if field not in known]:
        raise ConfigError(f"course_config.py の export_columns の項目 {unknown} がありません（使えるもの: {sorted(known)}） / "
                          f"unknown export fields {unknown}")
    if config.export_cells:
        columns += tuple((c.grade_id, c.grade_id) for c in cells if c.grade_id not in {f for _, f in columns})
    max_score = assignment.total_points
    due = assignment.config.due
    names = course.student_names()  # the roster's, put there by ``accounts`` or ``collect``
    results = all_results(assignment)
    waiting = unpublished(assignment)
    if waiting:
        count = sum(map(len, waiting.values()))
        log.warning(f"{assignment.id}: 未公開の手採点が {len(waiting)} 人・{count} 件あり、成績に入っていません"
                    f"（python -m autograder manual {assignment.id} --publish で公開） / {count} manual grades of "
                    f"{len(waiting)} students are unpublished and not in the scores")
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="", encoding="utf-8-sig") as f:
        writer = SpreadsheetSafeWriter(csv.writer(f))  # names come from the roster: never a live formula
        writer.writerow([header for header, _ in columns])
        for result in results:
            stamp_text, stamp, _ = assignment.submission_time(result.student_id)  # an unreadable time: none
            late = result.status == Status.LATE or (stamp is not None and stamp.replace(tzinfo=UTC) > due)
            points = {c.grade_id: None if c.points is None else c.points + c.extra_credit for c in result.checks}
            values = {"student_id": result.student_id, "name": names.get(result.student_id, ""),
                      "score": f"{result.score:g}", "max_score": f"{max_score:g}", "status": result.status,
                      "late": "yes" if late else "", "submitted_at": stamp_text or "", "message": result.message,
                      "manual_unpublished": " ".join(waiting.get(result.student_id, [])),
                      "manual_complete": "yes" if result.status == Status.GRADED and not waiting.get(result.student_id)
                      and all(c.points is not None for c in result.checks if c.manual) else ""}
            values |= {c.grade_id: "" if points.get(c.grade_id) is None else f"{points[c.grade_id]:g}" for c in cells}
            writer.writerow([values[field] for _, field in columns])
    return results
