"""The instructor's changes of a score beyond the rubric: an automatic cell's score overridden, and extra credit,
each with a reason the student reads.

Both live where nbgrader's formgrader keeps them, in the gradebook, the one home of the score: an override is the
cell's ``Grade.manual_score`` (nbgrader's ``Grade.score`` is it instead of ``auto_score`` while it is set), extra
credit is ``Grade.extra_credit`` (added to the cell's score and so to the total).  ``export``, the portal's score and
the feedback page read them from there.  Beside the gradebook, in the assignment's record (``manual/<aid>.json``, the
same file and lock as the written answers' marks, ``manual._writing``): the reason of each, with the points it was
given for, so that the feedback page shows a reason only while the gradebook still holds those points.

Only the instructor (the portal's score pages, ``manual ASSIGNMENT --override`` / ``--extra-credit``): not a draft —
an override or extra credit reaches the student when it is stored, and every change is journalled (``journal``: the
portal's ``grade_changes``, who, when, before, after, reason) before the gradebook commits; a journal that fails
changes nothing.

Bounds: an override is 0 … the cell's points, on an automatically graded cell only (a written answer's points are
its rubric mark, published); extra credit is 0 … the cell's points (``None`` or 0 removes it), on any graded cell
that has a score (a written answer once published: nbgrader adds extra credit to a score only).

A later automatic grading keeps both: nbgrader's ``SaveAutoGrades`` sets only ``auto_score`` and leaves
``manual_score`` and ``extra_credit`` as they are (it marks an overridden cell ``needs_manual_grade``, which our
automatic cells do not read), and our grading line runs it on the same gradebook rows (``grade._save_autogrades``);
the grading message then says which overrides were kept (``grade.record``), so a resubmission that now passes is
not left overridden unnoticed.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from autograder.course import Assignment
from autograder.tools.manual import (
    ManualGradeError,
    _late_penalties,
    _parse,
    _record_and_commit,
    _record_text,
    _rewrite_feedback,
    _writing,
    graded_students,
)
from autograder.tools.similarity import visible

REASON_CHARS = 1_000
"""Longest reason (characters): a sentence or two that the student reads."""

OVERRIDE, EXTRA_CREDIT = "override", "extra_credit"
"""The two kinds of change (as the portal's journal names them: ``store.ChangeKind``)."""


class ScoreChange(NamedTuple):
    """One change of a cell's score, for the journal."""

    student_id: str
    grade_id: str
    kind: str
    """``OVERRIDE`` or ``EXTRA_CREDIT``."""

    before: float | None
    """The override or extra credit before (None: none)."""

    after: float | None
    """Now (None: removed — the automatic score again, or no extra credit)."""

    reason: str


@dataclass(frozen=True)
class ScoreNote:
    """What the student's feedback page says about one cell's score beyond the checks: the instructor's override
    and extra credit, with their reasons (None where there is none, or the gradebook no longer holds it)."""

    override: float | None
    override_reason: str | None
    extra_credit: float | None
    extra_reason: str | None


def _cell(assignment: Assignment, grade_id: str, *, automatic: bool):
    cells = {c.grade_id: c for c in assignment.graded_cells}
    if grade_id not in cells:
        raise ManualGradeError(f"{assignment.id} に採点するセル {grade_id!r} はありません（{', '.join(cells)}） / "
                               f"{assignment.id} has no graded cell {grade_id!r}")
    if automatic and cells[grade_id].manual:
        raise ManualGradeError(f"{grade_id} は手で採点するセルです。点数は問ごとの採点（評価項目と調整）で付けてください / "
                               f"{grade_id} is graded by hand: give its points with the rubric, then publish")
    return cells[grade_id]


def _checked(points: float | None, low: float, high: float, what: str) -> float | None:
    if points is None:
        return None
    if isinstance(points, bool) or not isinstance(points, (int, float)) or not math.isfinite(points):
        raise ManualGradeError(f"{what}が数ではありません / {what}: not a number")
    if not low <= points <= high:
        raise ManualGradeError(f"{what} {points:g} は {low:g}〜{high:g} 点の範囲にありません / "
                               f"{what} {points:g} outside {low:g}–{high:g}")
    return float(points) + 0.0  # -0 typed is 0: no 「-0 点」 on the student's page


def _reason(reason: str) -> str:
    """The reason as stored and shown: without characters that draw nothing (``similarity.visible``: zero-width
    spaces, word joiners, direction overrides), so that a reason of them alone is none and none reorders the text the
    student reads; then 1 … ``REASON_CHARS`` characters."""
    text = visible(reason or "").strip()
    if not text:
        raise ManualGradeError("理由を書いてください（学生のフィードバックに出ます） / a reason is required (the student reads it)")
    if len(text) > REASON_CHARS:
        raise ManualGradeError(f"理由は {REASON_CHARS} 文字までです / the reason is longer than {REASON_CHARS} characters")
    return text


def override(assignment: Assignment, student_id: str, grade_id: str, points: float | None, reason: str, *,
             journal: Callable[[list[ScoreChange]], None] | None = None) -> ScoreChange | None:
    """Set the automatic cell ``grade_id``'s score of ``student_id`` to ``points`` (None: back to the automatic
    score), with ``reason``; returns the change, or None if it was so already (the same points with the same reason:
    a new reason for the same points is a change, journalled, and the student's page shows it).  Raises
    ``ManualGradeError``."""
    cell = _cell(assignment, grade_id, automatic=True)
    points = _checked(points, 0.0, cell.points, "上書きの点数 / override")
    return _change(assignment, student_id, grade_id, OVERRIDE, points, _reason(reason), journal)


def extra_credit(assignment: Assignment, student_id: str, grade_id: str, points: float | None, reason: str, *,
                 journal: Callable[[list[ScoreChange]], None] | None = None) -> ScoreChange | None:
    """Give ``student_id`` ``points`` of extra credit on ``grade_id`` (None or 0: none), with ``reason``; returns the
    change, or None if it was so already.  Raises ``ManualGradeError``."""
    cell = _cell(assignment, grade_id, automatic=False)
    points = _checked(points, 0.0, cell.points, "加点 / extra credit") or None
    return _change(assignment, student_id, grade_id, EXTRA_CREDIT, points, _reason(reason), journal)


def _change(assignment: Assignment, student_id: str, grade_id: str, kind: str, points: float | None, reason: str,
            journal: Callable[[list[ScoreChange]], None] | None) -> ScoreChange | None:
    """Write one override or extra credit into the gradebook and its reason into the record, both or neither."""
    from nbgrader.api import MissingEntry

    if student_id not in graded_students(assignment):
        raise ManualGradeError(f"{student_id} の {assignment.id} は採点されていません / "
                               f"{student_id} has no graded submission of {assignment.id}")
    with _writing(assignment):
        previous = _record_text(assignment)
        record = _parse(previous)
        with assignment.course.gradebook() as gb:
            try:
                grade = gb.find_grade(grade_id, assignment.id, assignment.id, student_id)
            except MissingEntry:
                raise ManualGradeError(f"{student_id} の {grade_id} は成績簿にありません / not in the gradebook") from None
            before = grade.manual_score if kind == OVERRIDE else grade.extra_credit
            said = record[kind].get(grade_id, {}).get(student_id, {}).get("reason")
            if before == points and (points is None or said == reason):
                return None  # the same points with a new reason is a change: the student reads the reason
            if kind == EXTRA_CREDIT and points is not None and grade.manual_score is None and grade.auto_score is None:
                # nbgrader adds extra credit to a score only: on a written answer not yet published it would count
                # nowhere (Grade.score is 0 without a score)
                raise ManualGradeError(f"{student_id} の {grade_id} にはまだ公開した点数がないので加点できません。先に採点して"
                                       f"公開してください / {grade_id} has no published score yet: grade and publish it first")
            try:
                if kind == OVERRIDE:
                    grade.manual_score = points
                    grade.needs_manual_grade = points is None and grade.auto_score is None  # formgrader's rule
                else:
                    grade.extra_credit = points
                notes = record[kind].setdefault(grade_id, {})
                if points is None:
                    notes.pop(student_id, None)
                else:
                    notes[student_id] = {"points": points, "reason": reason}
                change = ScoreChange(student_id, grade_id, kind, before, points, reason)
                gb.db.flush()  # a busy database fails here, with nothing written anywhere
                _record_and_commit(gb, assignment, record, previous, journal, [change])
            except BaseException:
                gb.db.rollback()
                raise
        _late_penalties(assignment, {student_id})  # the late plugin on the new total (penalty policy)
    _rewrite_feedback(assignment, [student_id])
    return change


def score_notes(assignment: Assignment, student_id: str) -> dict[str, ScoreNote]:
    """grade_id → the override and extra credit of the student's cell with their reasons, as recorded (the feedback
    page shows each only where the gradebook still holds those points)."""
    record = _parse(_record_text(assignment))
    notes = {}
    for grade_id in set(record[OVERRIDE]) | set(record[EXTRA_CREDIT]):
        changed = record[OVERRIDE].get(grade_id, {}).get(student_id)
        extra = record[EXTRA_CREDIT].get(grade_id, {}).get(student_id)
        if changed or extra:
            notes[grade_id] = ScoreNote(changed["points"] if changed else None, changed["reason"] if changed else None,
                                        extra["points"] if extra else None, extra["reason"] if extra else None)
    return notes

