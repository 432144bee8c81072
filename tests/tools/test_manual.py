"""Grading the written answers: kadai5's 問8 of a small class graded through nbgrader, then points and comments
given by question (library and CSV), published, read back through nbgrader's own gradebook API, kept through
regrading, and seen in the grades CSV, the feedback page and the class report."""
from __future__ import annotations

import csv
import dataclasses
from datetime import timedelta

import nbformat
import pytest
from helpers import ANSWER, OTHER, SAME_ANSWER, copy_course

from autograder import cli
from autograder.course import Course
from autograder.course.results import saved_result
from autograder.grading.grade import grade
from autograder.tools import manual
from autograder.tools.export import export_grades
from autograder.tools.feedback import write_feedback
from autograder.tools.report import write_report

pytestmark = pytest.mark.slow  # one batch of four untouched releases (no training), graded once for the module

AID, CELL = "kadai5", "q8_false_negative"
HOSTILE = "<script>alert(1)</script> =HYPERLINK(\"http://x\",\"y\")"
STUDENTS = {"s_a": ANSWER, "s_a2": SAME_ANSWER, "s_b": OTHER, "s_hostile": HOSTILE}


def _with_answer(course: Course, text: str) -> str:
    notebook = nbformat.read(course.release_notebook(AID), as_version=4)
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == CELL:
            cell.source = text
    return nbformat.writes(notebook)


@pytest.fixture(scope="module")
def graded(released_course, tmp_path_factory):
    """Four students' kadai5 (the release with only the written answer filled in), graded for real."""
    course = copy_course(released_course(AID), tmp_path_factory.mktemp("manual") / "course")
    for student_id, text in STUDENTS.items():
        course.file_submission(AID, student_id, _with_answer(course, text))
    results = grade(course, AID, workers=2, progress=False)
    assert [r.status for r in results] == ["graded"] * 4, [r.message for r in results]
    return course


def _nbgrader_reads(course: Course, student_id: str) -> tuple[float | None, str | None]:
    from nbgrader.api import Gradebook

    with Gradebook(course.db_url, course.config.course_id) as gb:
        grade_row = gb.find_grade(CELL, AID, AID, student_id)
        return grade_row.manual_score, gb.find_comment(CELL, AID, AID, student_id).manual_comment


def test_answers_by_question_and_groups(graded):
    """Does the by-question view list every graded student's answer to 問8 with its prompt, ungraded, and put the
    answers that differ only in punctuation and spacing into one group?"""
    (cell,) = manual.manual_cells(graded.assignment(AID))
    assert (cell.grade_id, cell.max_points) == (CELL, 5) and "問8" in cell.prompt
    found = manual.answers(graded.assignment(AID), CELL)
    assert [a.student_id for a in found] == sorted(STUDENTS)
    assert {a.student_id: a.text for a in found} == STUDENTS
    assert all(a.points is None and not a.changed for a in found)
    groups = [[a.student_id for a in g] for g in manual.groups(found)]
    assert ["s_a", "s_a2"] in groups and ["s_b"] in groups and ["s_hostile"] in groups
    assert manual.progress(graded.assignment(AID)) == {CELL: (0, 4, 0)}


def test_points_over_the_maximum_write_nothing(graded):
    """Are points over the cell's maximum (or negative) refused, and a batch with one unknown student written not
    at all?"""
    for points in (5.5, -1):
        with pytest.raises(manual.ManualGradeError, match="0〜5"):
            manual.set_grade(graded.assignment(AID), "s_a", CELL, points, "")
    with pytest.raises(manual.ManualGradeError, match="nobody"):
        manual.set_marks(graded.assignment(AID), [("s_b", CELL, manual.Mark((), 3, "ok")), ("nobody", CELL, manual.Mark())])
    assert not any(a.graded for a in manual.answers(graded.assignment(AID), CELL))
    assert _nbgrader_reads(graded, "s_b") == (None, None)


def test_rubric_grades_a_group_and_follows_its_changes(graded):
    """Does one rubric item applied to a group give every member its points and text, does changing the item change
    each of them, and does nbgrader's own gradebook API read exactly that back?"""
    work = graded.assignment(AID)
    item = manual.save_item(work, CELL, "偽陰性の意味・重大さ・しきい値の3点とも正しい", 5)
    manual.apply_item(work, CELL, ["s_a", "s_a2"], item.id)
    assert _nbgrader_reads(graded, "s_a") == (None, None)  # a draft until published
    manual.publish(work, CELL)
    assert _nbgrader_reads(graded, "s_a") == (5, f"・{item.text}（+5 点）") == _nbgrader_reads(graded, "s_a2")
    manual.save_item(work, CELL, "3点とも正しいが、偽陰性の人数の根拠がない", 4, item_id=item.id)
    manual.publish(work)
    assert _nbgrader_reads(graded, "s_a") == (4, "・3点とも正しいが、偽陰性の人数の根拠がない（+4 点）") == _nbgrader_reads(graded, "s_a2")
    manual.set_grade(work, "s_a2", CELL, 4.5, "自分で書き直した")  # graded apart, without the item
    manual.save_item(work, CELL, "3点とも正しい", 5, item_id=item.id)
    manual.publish(work)
    assert _nbgrader_reads(graded, "s_a") == (5, "・3点とも正しい（+5 点）")
    assert _nbgrader_reads(graded, "s_a2") == (4.5, "自分で書き直した")
    assert {a.student_id: a.items for a in manual.answers(work, CELL)}["s_a"] == (item.id,)


def test_csv_round_trip_checks_every_row_first(graded, tmp_path):
    """Does --export list each answer (a student's formula neutralised), and --import refuse a file with one wrong row
    as a whole, naming the row, then store a corrected file?"""
    out = tmp_path / "answers.csv"
    assert cli.main(["--course-dir", str(graded.root), "manual", AID, "--export", str(out)]) == 0
    with open(out, encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["student_id"] for r in rows] == sorted(STUDENTS)
    hostile = next(r for r in rows if r["student_id"] == "s_hostile")
    assert hostile["answer"] == HOSTILE  # text, not a formula: it does not begin with "="
    for row in rows:
        if row["student_id"] == "s_b":
            row.update(points="2", comment="=偽陽性と偽陰性が逆です")
        if row["student_id"] == "s_hostile":
            row.update(points="7")  # over 5
    def write(table):
        with open(out, "w", encoding="utf-8-sig", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=manual.CSV_COLUMNS)
            writer.writeheader()
            writer.writerows(table)
    write(rows)
    with pytest.raises(manual.ManualGradeError, match="5 行目 / row 5.*0〜5"):
        manual.import_answers(graded.assignment(AID), out)
    assert _nbgrader_reads(graded, "s_b") == (None, None)  # nothing half-written
    assert cli.main(["--course-dir", str(graded.root), "manual", AID, "--import", str(out)]) == 2  # exit 2, bilingual
    hostile.update(points="0", comment="答えになっていません")
    write(rows)
    assert manual.import_answers(graded.assignment(AID), out) == 2  # s_b and s_hostile; s_a, s_a2 unchanged
    assert manual.progress(graded.assignment(AID)) == {CELL: (4, 4, 2)}  # drafts
    assert cli.main(["--course-dir", str(graded.root), "manual", AID, "--publish"]) == 0
    assert _nbgrader_reads(graded, "s_b") == (2, "=偽陽性と偽陰性が逆です")
    assert manual.progress(graded.assignment(AID)) == {CELL: (4, 4, 0)}


def test_totals_feedback_and_report_show_the_manual_points(graded, tmp_path):
    """Do the grades CSV totals include the manual points with manual_complete = yes, does the feedback page show the
    instructor's points and comment under the answer (as text), and does the report show the progress and spread?"""
    out = tmp_path / "grades.csv"
    export_grades(graded.assignment(AID), out)
    with open(out, encoding="utf-8-sig", newline="") as f:
        rows = {r["student_id"]: r for r in csv.DictReader(f)}
    assert rows["s_a"]["score"] == "5" and rows["s_a"][CELL] == "5" and rows["s_a"]["manual_complete"] == "yes"
    assert rows["s_b"]["score"] == "2" and rows["s_hostile"]["score"] == "0"
    (page,) = write_feedback(graded.assignment(AID), ["s_b"])
    text = page.read_text(encoding="utf-8")
    assert "先生の採点：2 / 5 点" in text and "=偽陽性と偽陰性が逆です" in text
    assert text.index(OTHER[:10]) < text.index("先生の採点：2 / 5 点")  # under the answer
    assert "先生のコメント：=偽陽性と偽陰性が逆です" in text  # and in the table of questions
    report = write_report(graded.assignment(AID)).read_text(encoding="utf-8")
    assert "手で採点する問" in report and "4 / 4" in report and "5 点: 1 人" in report


def test_regrading_keeps_the_manual_grade_and_flags_a_changed_answer(graded):
    """Graded again automatically, does an unchanged answer keep its manual grade unflagged, and a rewritten one keep
    its grade but show as changed since it was graded?"""
    graded.file_submission(AID, "s_b", _with_answer(graded, OTHER + "\n（書き直しました）"))
    grade(graded, AID, ["s_a", "s_b"], workers=2, force=True, progress=False)
    found = {a.student_id: a for a in manual.answers(graded.assignment(AID), CELL)}
    assert (found["s_a"].points, found["s_a"].changed) == (5, False)
    assert (found["s_b"].points, found["s_b"].changed) == (2, True)
    result = saved_result(graded.assignment(AID), "s_a")
    assert result.score == 5 and result.check(CELL).points == 5
    assert _nbgrader_reads(graded, "s_a") == (5, "・3点とも正しい（+5 点）")


def test_late_penalty_falls_on_the_final_total(graded):
    """Under the penalty policy, is a late submission's penalty taken from the total with the manual points (it was
    computed on the automatic points alone, 0 here, when it was graded)?"""
    from nbgrader.api import Gradebook

    config = dataclasses.replace(graded.config, late_policy="penalty", late_points_per_hour=1.0)
    course = Course(root=graded.root, config=config)
    with Gradebook(course.db_url, course.config.course_id) as gb:
        due = gb.find_assignment(AID).duedate
        gb.update_or_create_submission(AID, "s_hostile", timestamp=due + timedelta(hours=2, minutes=30))
    manual.set_grade(course.assignment(AID), "s_hostile", CELL, 5, "よく書けています")
    manual.publish(course.assignment(AID))
    result = saved_result(course.assignment(AID), "s_hostile")
    assert (result.late_penalty, result.score) == (3, 2)  # three started hours, one point each


def test_an_import_rewrites_the_feedback_page_a_student_has(graded, tmp_path):
    """Does a CSV import write again the feedback page of a student who has one, with the new points and comment
    (not only the gradebook), and write none for a student who had none?"""
    page = graded.feedback_path(AID, "s_b")
    if not page.is_file():
        write_feedback(graded.assignment(AID), ["s_b"])
    assert not graded.feedback_path(AID, "s_a").exists()
    out = tmp_path / "answers.csv"
    manual.export_answers(graded.assignment(AID), out)
    with open(out, encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        if row["student_id"] == "s_b":
            row.update(points="1", comment="書き直した答えも逆です")
    with open(out, "w", encoding="utf-8-sig", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=manual.CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    assert manual.import_answers(graded.assignment(AID), out) == 1
    assert "先生の採点：1 / 5 点" not in page.read_text(encoding="utf-8")  # a draft: not on the page yet
    manual.publish(graded.assignment(AID))
    text = page.read_text(encoding="utf-8")
    assert "先生の採点：1 / 5 点" in text and "先生のコメント：書き直した答えも逆です" in text
    assert not graded.feedback_path(AID, "s_a").exists()
