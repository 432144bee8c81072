"""``manual --export/--import``'s CSV on a course graded without running (fast): a huge answer, exact points, duplicates.

The cases of docs/attacks.md, "先生の道具への攻撃 / Attacks on the instructor's tools" (issue 23, case 7).
"""
from __future__ import annotations

import csv

import pytest
from helpers import copy_course, graded_course_without_running

from autograder.tools import manual

AID, CELL = "kadai5", "q8_false_negative"
HUGE = "がんを見逃すと治療が遅れるため。" * 12_500  # 200,000 characters


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Three graded students, one with a 200,000-character written answer (made once: nbgrader's release takes a while)."""
    return graded_course_without_running(tmp_path_factory.mktemp("manual-csv") / "course",
                                         {"s001": "見逃しは命に関わるから。", "s002": HUGE, "s003": "偽陽性より偽陰性が危ない。"})


@pytest.fixture
def course(built, tmp_path):
    return copy_course(built, tmp_path / "course")


def _rows(path) -> list[dict]:
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        reader_limit = csv.field_size_limit(2**31 - 1)  # reading back what was written, whatever its size
        try:
            return list(reader)
        finally:
            csv.field_size_limit(reader_limit)


def _write(path, rows: list[dict]) -> None:
    with open(path, "w", newline="", encoding="utf-8-sig") as f:
        writer = csv.DictWriter(f, fieldnames=manual.CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


def _graded(course) -> dict[str, tuple[float | None, tuple[str, ...]]]:
    """student → (points, rubric items) of the cell, as the record holds them (drafts: an import is one)."""
    return {a.student_id: (a.points, a.items) for a in manual.answers(course.assignment(AID), CELL)}


def test_a_200000_character_answer_does_not_stop_the_classs_import(course, tmp_path):
    """Does a class whose CSV holds one 200,000-character answer (over Python's default field limit of 131,072)
    export and import, the answer whole, instead of failing for everyone ("field larger than field limit")?"""
    assignment, out = course.assignment(AID), tmp_path / "answers.csv"
    assert manual.export_answers(assignment, out) == 3
    rows = _rows(out)
    assert next(r["answer"] for r in rows if r["student_id"] == "s002") == HUGE
    for row in rows:
        row["points"] = "2" if row["student_id"] == "s002" else row["points"]
    _write(out, rows)
    default = csv.field_size_limit()
    assert manual.import_answers(assignment, out) == 1
    assert _graded(course)["s002"] == (2.0, ()) and csv.field_size_limit() == default  # the limit restored


def test_fractional_points_survive_the_round_trip_with_their_rubric_item(course, tmp_path):
    """A rubric item of 4/3 points: does its answer export as a number that re-imports to exactly 4/3, the unchanged
    file changing nothing and keeping the item (it wrote 1.33333 and dropped the item); is a value as a spreadsheet
    saves it (15 digits) the same; and does ``4/3`` typed in the CSV give exactly 4/3?"""
    assignment, out = course.assignment(AID), tmp_path / "answers.csv"
    item = manual.save_item(assignment, CELL, "理由が少し足りない。", 4 / 3)
    manual.apply_item(assignment, CELL, ["s001"], item.id)
    manual.export_answers(assignment, out)
    rows = _rows(out)
    s001 = next(r for r in rows if r["student_id"] == "s001")
    assert s001["points"] == "1.3333333333333333" and float(s001["points"]) == 4 / 3
    assert manual.import_answers(assignment, out) == 0
    assert _graded(course)["s001"] == (4 / 3, (item.id,))
    s001["points"] = "1.33333333333333"  # what a spreadsheet writes back
    next(r for r in rows if r["student_id"] == "s003").update(points="4/3", comment="同じく少し足りない。")
    _write(out, rows)
    assert manual.import_answers(assignment, out) == 1
    assert _graded(course)["s001"] == (4 / 3, (item.id,)) and _graded(course)["s003"] == (4 / 3, ())
    for bad in ("1/0", "nan", "inf", "4//3"):
        next(r for r in rows if r["student_id"] == "s003")["points"] = bad
        _write(out, rows)
        with pytest.raises(manual.ManualGradeError, match="4 行目"):
            manual.import_answers(assignment, out)


def test_a_duplicated_row_is_refused_naming_both_rows(course, tmp_path):
    """Two rows for one student's cell (the last one used to win silently): is the import refused, nothing written,
    the message naming both rows?"""
    assignment, out = course.assignment(AID), tmp_path / "answers.csv"
    manual.export_answers(assignment, out)
    rows = _rows(out)
    first = next(r for r in rows if r["student_id"] == "s001")
    _write(out, [{**first, "points": "5"}, *rows[1:], {**first, "points": "0", "comment": "やり直し"}])
    with pytest.raises(manual.ManualGradeError) as refused:
        manual.import_answers(assignment, out)
    assert "5 行目 / row 5: s001 の q8_false_negative は 2 行目にもあります" in str(refused.value)
    assert "is also in row 2" in str(refused.value) and "何も書き込んでいません" in str(refused.value)
    assert _graded(course)["s001"] == (None, ())
