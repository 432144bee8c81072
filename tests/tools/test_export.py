"""The grades CSV: every folder under submitted/ gets a row, with a status that says what happened."""
from __future__ import annotations

import csv
import dataclasses
import shutil

import pytest

from autograder.course import ConfigError, Course
from autograder.course.results import Status
from autograder.grading.grade import grade
from autograder.tools.export import DEFAULT_COLUMNS, export_grades


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
    assert [r.status for r in results] == [Status.GRADED, Status.INVALID, Status.MISSING]
    late = course.submission_notebook("kadai4", "s004")
    late.parent.mkdir(parents=True)
    shutil.copyfile(course.release_notebook("kadai4"), late)

    out = tmp_path / "grades.csv"
    export_grades(course.assignment("kadai4"), out)
    with open(out, encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0])[:len(DEFAULT_COLUMNS)] == [header for header, _ in DEFAULT_COLUMNS]
    assert "q1_model" in rows[0] and "q9_overfitting" in rows[0] and "q3_plot_legend" in rows[0]
    by_id = {row["student_id"]: row for row in rows}
    assert sorted(by_id) == ["s001", "s002", "s003", "s004"]
    assert by_id["s001"]["status"] == Status.GRADED and by_id["s001"]["score"] == "0"
    assert by_id["s001"]["max_score"] == "25" and by_id["s001"]["q1_model"] == "0"
    assert by_id["s002"]["status"] == Status.INVALID and "not a readable notebook" in by_id["s002"]["message"]
    assert by_id["s003"]["status"] == Status.MISSING and by_id["s003"]["q1_model"] == ""
    assert by_id["s004"]["status"] == Status.NOT_GRADED
    assert Status.ERROR not in {row["status"] for row in rows}
    assert {row["late"] for row in rows} == {""}


def test_columns_in_the_lms_shape(released, tmp_path):
    """Does export_columns give the LMS's own headers and order, and an unknown field a clear error?"""
    course = Course(root=tmp_path / "course", config=dataclasses.replace(
        released.config, export_columns=(("学籍番号", "student_id"), ("得点", "score"), ("遅れ", "late")), export_cells=False))
    shutil.copytree(released.root, course.root)
    late = course.submission_notebook("kadai4", "s101")
    late.parent.mkdir(parents=True)
    shutil.copyfile(course.release_notebook("kadai4"), late)
    (late.parent / "timestamp.txt").write_text("2099-01-01 00:00:00+09:00", encoding="utf-8")
    out = tmp_path / "lms.csv"
    export_grades(course.assignment("kadai4"), out)
    with open(out, encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    assert rows == [["学籍番号", "得点", "遅れ"], ["s101", "0", "yes"]]
    wrong = Course(root=course.root, config=dataclasses.replace(course.config, export_columns=(("x", "grade"),)))
    with pytest.raises(ConfigError, match="export_columns.*grade"):
        export_grades(wrong.assignment("kadai4"), out)


def test_scores_stay_numbers_and_names_become_text(course, tmp_path, monkeypatch):
    """A roster name =HYPERLINK(...) and a late penalty that leaves -1.5 points: is the name text (a leading ') and
    does every score read back as a number, the negative one included?"""
    from autograder.course.results import CheckResult, SubmissionResult
    from autograder.tools import export

    (tmp_path / "source" / "kadai4").mkdir(parents=True)
    shutil.copyfile(course.source_notebook("kadai4"), tmp_path / "source" / "kadai4" / "kadai4.ipynb")
    scratch = Course(root=tmp_path, config=course.config)
    penalised = SubmissionResult("s001", Status.GRADED, "-- 減点 / late penalty", score=-1.5, max_score=25,
                                 checks=[CheckResult("q1_model", -0.5, 4)], late_penalty=3)
    monkeypatch.setattr(export, "all_results", lambda *_: [penalised])
    monkeypatch.setattr(Course, "student_names", lambda self: {"s001": '=HYPERLINK("http://x","y")'})
    out = tmp_path / "grades.csv"
    export_grades(scratch.assignment("kadai4"), out)
    with open(out, encoding="utf-8-sig", newline="") as f:
        (row,) = csv.DictReader(f)
    assert row["name"] == "'=HYPERLINK(\"http://x\",\"y\")" and row["message"] == "'-- 減点 / late penalty"
    assert float(row["score"]) == -1.5 and float(row["max_score"]) == 25 and float(row["q1_model"]) == -0.5


def test_the_rosters_names_reach_the_gradebook_the_csv_and_the_report(tmp_path):
    """Does ``accounts`` put each roster name into nbgrader's gradebook (family name in last_name, given name in
    first_name), so that the grades CSV and the class report show it as the roster wrote it?"""
    from helpers import graded_course_without_running

    from autograder import cli
    from autograder.tools.report import write_report

    course = graded_course_without_running(tmp_path / "course", {"s001": "答え", "s002": "答え"})
    roster = tmp_path / "roster.csv"
    roster.write_text("student_id,name\ns001,山田 花子\ns002,Sato\n", encoding="utf-8")
    assert cli.main(["accounts", str(roster), "--course-dir", str(course.root), "--out", str(tmp_path / "c.csv")]) == 0
    with course.gradebook() as gb:
        assert (gb.find_student("s001").last_name, gb.find_student("s001").first_name) == ("山田", "花子")
        assert (gb.find_student("s002").last_name, gb.find_student("s002").first_name) == ("Sato", None)
    assert course.student_names() == {"s001": "山田 花子", "s002": "Sato"}
    out = tmp_path / "grades.csv"
    export_grades(course.assignment("kadai5"), out)
    with open(out, encoding="utf-8-sig", newline="") as f:
        assert {row["student_id"]: row["name"] for row in csv.DictReader(f)} == {"s001": "山田 花子", "s002": "Sato"}
    report = write_report(course.assignment("kadai5"), tmp_path / "report.html").read_text(encoding="utf-8")
    assert "山田 花子" in report and "Sato" in report
