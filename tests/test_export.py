"""The grades CSV: every folder under submitted/ gets a row, with a status that says what happened."""
from __future__ import annotations

import csv
import shutil

from autograder.export import BASE_COLUMNS, export_grades
from autograder.grade import grade
from autograder.results import ERROR, GRADED, INVALID, MISSING, NOT_GRADED


def test_every_folder_gets_a_row_with_its_status(fresh_course, tmp_path):
    """Do an untouched notebook, a broken file, an empty folder and an ungraded one each get the right row?"""
    course = fresh_course
    untouched = course.submission_notebook("kadai4", "s001")
    untouched.parent.mkdir(parents=True)
    shutil.copyfile(course.release_notebook("kadai4"), untouched)
    broken = course.submission_notebook("kadai4", "s002")
    broken.parent.mkdir(parents=True)
    broken.write_text('{"cells": [', encoding="utf-8")
    (course.submitted_dir() / "s003" / "kadai4").mkdir(parents=True)
    results = grade(course, "kadai4", ["s001", "s002", "s003"])
    assert [r.status for r in results] == [GRADED, INVALID, MISSING]
    late = course.submission_notebook("kadai4", "s004")
    late.parent.mkdir(parents=True)
    shutil.copyfile(course.release_notebook("kadai4"), late)

    out = tmp_path / "grades.csv"
    export_grades(course, "kadai4", out)
    with open(out, encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0])[:5] == BASE_COLUMNS
    assert "q1_model" in rows[0] and "q9_overfitting" in rows[0] and "q3_plot_legend" in rows[0]
    by_id = {row["student_id"]: row for row in rows}
    assert sorted(by_id) == ["s001", "s002", "s003", "s004"]
    assert by_id["s001"]["status"] == GRADED and by_id["s001"]["score"] == "0"
    assert by_id["s001"]["max_score"] == "25" and by_id["s001"]["q1_model"] == "0"
    assert by_id["s002"]["status"] == INVALID and "not a readable notebook" in by_id["s002"]["message"]
    assert by_id["s003"]["status"] == MISSING and by_id["s003"]["q1_model"] == ""
    assert by_id["s004"]["status"] == NOT_GRADED
    assert ERROR not in {row["status"] for row in rows}
