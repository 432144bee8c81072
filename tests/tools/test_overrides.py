"""Overrides of an automatic cell's score and extra credit, with a reason: stored where nbgrader keeps them
(``Grade.manual_score``, ``Grade.extra_credit``), bounded, journalled (a failing journal changes nothing), seen in
the total, the grades CSV and the feedback page (the reason in Japanese), kept by a later automatic grading through
our grading line, and from the command line."""
from __future__ import annotations

import csv
import json

import nbformat
import pytest
from helpers import ANSWER, OTHER, copy_course, graded_course_without_running

from autograder.cli import main
from autograder.course.results import saved_result
from autograder.grading.grade import record
from autograder.grading.worker import TaskOutcome
from autograder.portal import private
from autograder.portal.store import ChangeKind, Store
from autograder.tools import manual, overrides
from autograder.tools.export import export_grades
from autograder.tools.feedback import write_feedback
from autograder.tools.manual import ManualGradeError

AID, CELL, CHECK = "kadai5", "q8_false_negative", "q6_accuracy"
FAILING = "q6_recall"
"""A check whose cell the fixture gives an error output: nbgrader scores it 0 (2 points)."""


def _failing(notebook) -> None:
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == FAILING:
            cell.outputs = [nbformat.v4.new_output("error", ename="CheckFailed", evalue="再現率が計算されていません",
                                                   traceback=[])]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """kadai5 scored (without running) for two students; s001's check FAILING ended with an error (0 points)."""
    from autograder.grading.grade import _save_autogrades

    course = graded_course_without_running(tmp_path_factory.mktemp("overrides") / "course",
                                           {"s001": ANSWER, "s002": OTHER})
    path = course.assignment(AID).autograded("s001")
    notebook = nbformat.read(path, as_version=4)
    _failing(notebook)
    nbformat.write(notebook, path)
    _save_autogrades(course.assignment(AID), "s001", notebook, None)
    return course


@pytest.fixture
def course(built, tmp_path):
    return copy_course(built, tmp_path / "course")


def _grade(course, student_id: str, grade_id: str):
    with course.gradebook() as gb:
        found = gb.find_grade(grade_id, AID, AID, student_id)
        return found.auto_score, found.manual_score, found.extra_credit, found.score


def _export(course, tmp_path) -> dict[str, dict]:
    export_grades(course.assignment(AID), tmp_path / "grades.csv")
    with open(tmp_path / "grades.csv", encoding="utf-8-sig") as f:
        return {row["student_id"]: row for row in csv.DictReader(f)}


def test_an_override_is_nbgraders_manual_score_with_its_reason_everywhere(course, tmp_path):
    """Does an override of a failed check become nbgrader's manual_score (Grade.score reads it), the total, the
    grades CSV and the feedback page follow with the reason in Japanese, the journal get before and after, and does
    removing it bring back the automatic score and take the reason off the page?"""
    work = course.assignment(AID)
    before = saved_result(work, "s001").score
    assert _grade(course, "s001", FAILING)[:2] == (0.0, None)
    write_feedback(work, ["s001"])
    journal = []
    change = overrides.override(work, "s001", FAILING, 1.5, "計算は合っていて、表示の桁だけが違いました", journal=journal.extend)
    assert change == overrides.ScoreChange("s001", FAILING, overrides.OVERRIDE, None, 1.5,
                                           "計算は合っていて、表示の桁だけが違いました")
    assert journal == [change]
    assert _grade(course, "s001", FAILING) == (0.0, 1.5, None, 1.5)
    result = saved_result(work, "s001")
    assert result.score == before + 1.5 and result.check(FAILING).points == 1.5 and result.check(FAILING).overridden
    row = _export(course, tmp_path)["s001"]
    assert (float(row["score"]), row[FAILING]) == (before + 1.5, "1.5")
    page = work.feedback("s001").read_text(encoding="utf-8")
    assert "先生がこの問の点数を 1.5 点にしました。理由：計算は合っていて、表示の桁だけが違いました" in page
    same = "計算は合っていて、表示の桁だけが違いました"
    assert overrides.override(work, "s001", FAILING, 1.5, same) is None  # nothing to change, nothing journalled
    assert len(journal) == 1
    # a reason mistyped, corrected with the same points (red team: before, 「変わっていません」 and the student kept
    # reading the old reason)
    fixed = overrides.override(work, "s001", FAILING, 1.5, "計算は合っていて、表示の桁数だけが違いました", journal=journal.extend)
    assert (fixed.before, fixed.after, journal[-1]) == (1.5, 1.5, fixed)
    assert "表示の桁数だけが違いました" in work.feedback("s001").read_text(encoding="utf-8")
    overrides.override(work, "s001", FAILING, None, "元に戻します", journal=journal.extend)
    assert journal[-1].before == 1.5 and journal[-1].after is None
    assert _grade(course, "s001", FAILING)[:2] == (0.0, None) and saved_result(work, "s001").score == before
    assert "先生がこの問の点数を" not in work.feedback("s001").read_text(encoding="utf-8")


def test_extra_credit_adds_to_the_total_and_a_failed_check_stays_failed(course, tmp_path):
    """Does extra credit (on an automatic and on a written cell) go to nbgrader's extra_credit, add to the total and
    the CSV's cell, show 「加点」 with its reason, and leave a failed check failed (its 減点 row, not OK)?"""
    work = course.assignment(AID)
    before = saved_result(work, "s001").score
    write_feedback(work, ["s001"])
    overrides.extra_credit(work, "s001", FAILING, 1, "発展課題に取り組んだので")
    with pytest.raises(ManualGradeError, match="公開"):  # a written answer with no published score: counts nowhere
        overrides.extra_credit(work, "s001", CELL, 0.5, "図を添えた説明がよかった")
    manual.set_grade(work, "s001", CELL, 3, "要点は押さえています")
    manual.publish(work, CELL)
    before += 3
    overrides.extra_credit(work, "s001", CELL, 0.5, "図を添えた説明がよかった")
    assert _grade(course, "s001", FAILING)[2] == 1.0 and _grade(course, "s001", CELL)[2] == 0.5
    result = saved_result(work, "s001")
    assert result.score == before + 1.5 and result.check(FAILING).points == 0 and not result.check(FAILING).passed
    assert FAILING in result.lost()
    assert _export(course, tmp_path)["s001"][FAILING] == "1"
    page = work.feedback("s001").read_text(encoding="utf-8")
    assert "0 / 2（加点 +1）" in page and "先生からこの問に 1 点の加点があります。理由：発展課題に取り組んだので" in page
    assert "減点" in page
    overrides.extra_credit(work, "s001", FAILING, 0, "取り消し")
    assert _grade(course, "s001", FAILING)[2] is None and saved_result(work, "s001").score == before + 0.5


@pytest.mark.parametrize("call", [
    lambda w: overrides.override(w, "s001", CHECK, -1, "理由"),
    lambda w: overrides.override(w, "s001", CHECK, 2.5, "理由"),  # over the cell's 2 points
    lambda w: overrides.override(w, "s001", CHECK, float("nan"), "理由"),
    lambda w: overrides.override(w, "s001", CELL, 3, "理由"),  # a written answer: through the rubric
    lambda w: overrides.override(w, "s001", "no_such_cell", 1, "理由"),
    lambda w: overrides.override(w, "s001", CHECK, 1, "  "),  # no reason
    lambda w: overrides.override(w, "s001", CHECK, 1, "\u200b\u2060\ufeff\u202e \u200d"),  # draws nothing
    lambda w: overrides.extra_credit(w, "s001", CHECK, 1, "\u200b" * 5),
    lambda w: overrides.override(w, "s001", CHECK, float("inf"), "理由"),
    lambda w: overrides.override(w, "s001", CHECK, 1e309, "理由"),
    lambda w: overrides.override(w, "s001", CHECK, 1, "長" * 10_000_000),  # 10 M characters
    lambda w: overrides.override(w, "s001", "q1_code", 1, "理由"),  # kadai4's cell, not kadai5's
    lambda w: overrides.override(w, "s001", CHECK, 1, "長" * (overrides.REASON_CHARS + 1)),
    lambda w: overrides.override(w, "s999", CHECK, 1, "理由"),  # no graded submission
    lambda w: overrides.extra_credit(w, "s001", CHECK, 2.5, "理由"),
    lambda w: overrides.extra_credit(w, "s001", CHECK, -0.5, "理由"),
])
def test_out_of_bounds_changes_are_refused_writing_nothing(course, call):
    """Is each out-of-bounds override or extra credit refused with a message, the gradebook and record untouched?"""
    work = course.assignment(AID)
    with pytest.raises(ManualGradeError):
        call(work)
    assert _grade(course, "s001", CHECK)[1:3] == (None, None)
    assert not work.manual_record.is_file() or not json.loads(work.manual_record.read_text())["override"]


def test_a_reason_of_markup_and_direction_characters_reaches_the_student_as_text(course):
    """Is a reason with markup shown on the student's feedback page as text (no element made), and are characters
    that draw nothing (a right-to-left override, zero-width spaces) taken out of the stored reason, so that none
    reorders what the student reads?"""
    work = course.assignment(AID)
    write_feedback(work, ["s001"])
    overrides.override(work, "s001", FAILING, 1, "<b id=injected>部分点</b>\u202e\u200b です")
    assert overrides.score_notes(work, "s001")[FAILING].override_reason == "<b id=injected>部分点</b> です"
    page = work.feedback("s001").read_text(encoding="utf-8")
    assert "&lt;b id=injected&gt;部分点&lt;/b&gt; です" in page and "id=injected>" not in page
    assert "\u202e" not in page


def test_minus_zero_is_zero(course):
    """Is an override of -0 (a careless instructor's typing) stored and shown as 0, not 「-0 点」?"""
    work = course.assignment(AID)
    write_feedback(work, ["s001"])
    change = overrides.override(work, "s001", CHECK, -0.0, "理由")
    assert f"{change.after:g}" == "0" and f"{_grade(course, 's001', CHECK)[1]:g}" == "0"
    assert "-0 点" not in work.feedback("s001").read_text(encoding="utf-8")


def test_a_journal_that_fails_changes_nothing(course):
    """If the journal cannot be written, do the gradebook and the record stay as they were?"""
    work = course.assignment(AID)

    def broken(changes):
        raise OSError("disk full")

    with pytest.raises(OSError):
        overrides.override(work, "s001", FAILING, 2, "理由", journal=broken)
    assert _grade(course, "s001", FAILING)[1] is None and overrides.score_notes(work, "s001") == {}


def test_grading_again_keeps_the_override_and_says_so(course):
    """Does our grading line (``record``: nbgrader's SaveAutoGrades on the gradebook) keep an override and extra
    credit when the same notebook is graded again, say so in the grading message, and score a check that still
    fails 0 automatically underneath?"""
    work = course.assignment(AID)
    overrides.override(work, "s001", FAILING, 2, "採点基準の誤りでした")
    overrides.extra_credit(work, "s001", CHECK, 1, "よくできました")
    notebook = nbformat.read(work.autograded("s001"), as_version=4)
    outcome = TaskOutcome("s001", True, nbformat.writes(notebook).encode("utf-8"), "", 1.0, "test:1")
    result = record(course.assignment(AID), outcome, None)
    assert _grade(course, "s001", FAILING)[:2] == (0.0, 2.0)  # automatic 0 again, the override kept
    assert _grade(course, "s001", CHECK)[2] == 1.0
    assert result.check(FAILING).points == 2 and result.check(FAILING).overridden
    assert f"override kept: {FAILING}" in result.message and "先生の点数の上書きを保持" in result.message
    untouched = record(course.assignment(AID), TaskOutcome("s002", True, nbformat.writes(
        nbformat.read(work.autograded("s002"), as_version=4)).encode("utf-8"), "", 1.0, "test:1"), None)
    assert "override kept" not in untouched.message


def test_the_command_line_overrides_with_a_reason_and_journals_it(course, capsys):
    """Does ``manual --override`` / ``--extra-credit`` store the change, journal it in the portal's database (made
    for it) with the reason, and refuse a missing reason or a --reason alone (exit 2, nothing written)?"""
    root = str(course.root)
    assert main(["manual", AID, "--course-dir", root, "--override", "s001", FAILING, "1", "--reason", "部分点"]) == 0
    assert "override" in capsys.readouterr().out
    assert main(["manual", AID, "--course-dir", root, "--extra-credit", "s002", CHECK, "0.5",
                 "--reason", "丁寧な説明"]) == 0
    assert _grade(course, "s001", FAILING)[1] == 1.0 and _grade(course, "s002", CHECK)[2] == 0.5
    changes = Store(private.database_url(course)).grade_changes(assignment_id=AID)
    assert [(c.student_id, c.grade_id, c.kind, c.before_points, c.after_points, c.reason) for c in changes] == [
        ("s001", FAILING, ChangeKind.OVERRIDE, None, 1.0, "部分点"),
        ("s002", CHECK, ChangeKind.EXTRA_CREDIT, None, 0.5, "丁寧な説明")]
    assert changes[0].by.startswith("command line")
    assert main(["manual", AID, "--course-dir", root, "--override", "s001", CHECK, "1"]) == 2  # no reason
    assert main(["manual", AID, "--course-dir", root, "--reason", "理由だけ"]) == 2
    assert main(["manual", AID, "--course-dir", root, "--override", "s001", CHECK, "x", "--reason", "r"]) == 2
    assert _grade(course, "s001", CHECK)[1] is None
    assert main(["manual", AID, "--course-dir", root, "--override", "s001", FAILING, "auto", "--reason", "戻す"]) == 0
    assert _grade(course, "s001", FAILING)[1] is None
