"""What grading found, as small records: one per check, one per submission."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from autograder.course.cells import grade_id as grade_id_of
from autograder.course.cells import is_grade

if TYPE_CHECKING:
    from autograder.course import Assignment

class Status(StrEnum):
    """What became of one submission (stored as its value in ``autograder.json`` and shown in the grades CSV)."""

    GRADED = "graded"
    """The notebook was executed and scored."""

    INVALID = "invalid"
    """The file is not a readable notebook of this assignment; nothing was run."""

    ERROR = "error"
    """Grading itself failed (the grading environment, the toolkit, a notebook far past its limit): no grade, the
    message says why."""

    MISSING = "missing"
    """The student's folder holds no notebook for this assignment."""

    NOT_GRADED = "not_graded"
    """Submitted but not graded yet."""

    LATE = "late"
    """Submitted after the due date under the ``reject`` policy: not graded, 0 points."""


# The statuses' Japanese names and explanations, for students and for the instructor: autograder/course/messages.py

STATUS_FILE = "autograder.json"


@dataclass
class CheckResult:
    """One graded cell of one submission."""

    grade_id: str
    """nbgrader's grade_id of the cell, e.g. ``q1_model``."""

    points: float | None
    """Points earned; ``None`` while a manually graded cell waits for the instructor."""

    max_points: float
    """Points the cell is worth."""

    message: str | None = None
    """Why points were lost (the check's Japanese message), or None."""

    manual: bool = False
    """Whether the instructor grades this cell by hand."""

    error: str | None = None
    """The exception class the cell ended with (``CheckFailed``, ``NameError`` …), or None."""

    comment: str | None = None
    """The instructor's comment on a manually graded answer (nbgrader's ``Comment.manual_comment``), or None."""

    extra_credit: float = 0.0
    """Points the instructor gave beyond the cell's (nbgrader's ``Grade.extra_credit``): in the total, not in
    ``points``, so that a failed check stays failed."""

    overridden: bool = False
    """An automatic cell whose points the instructor set (nbgrader's ``Grade.manual_score``): ``points`` is theirs."""

    reasons: tuple[str, ...] = ()
    """What the student's page says of an override or extra credit, with the instructor's reason (Japanese; set by
    the feedback pages from the record beside the gradebook: ``overrides.score_notes``)."""

    @property
    def passed(self) -> bool:
        return self.points is not None and self.points >= self.max_points


@dataclass
class SubmissionResult:
    """The outcome of grading one student's submission."""

    student_id: str
    status: Status
    """What became of it (``Status``)."""

    message: str = ""
    """What happened, for the instructor (Japanese / English)."""

    score: float = 0.0
    """Points earned so far (automatic plus any manual grades already given)."""

    max_score: float = 0.0
    checks: list[CheckResult] = field(default_factory=list)
    seconds: float = 0.0
    """Wall time spent grading this submission."""

    late_penalty: float = 0.0
    """Points nbgrader's late-submission plugin took off (``late_policy="penalty"``); ``score`` is net of it."""

    def check(self, grade_id: str) -> CheckResult:
        return next(c for c in self.checks if c.grade_id == grade_id)

    def lost(self) -> list[str]:
        """grade_ids of automatic checks that did not earn full points."""
        return [c.grade_id for c in self.checks if not c.manual and not c.passed]

    def save(self, folder: Path, fingerprint: str | None = None, host: str | None = None) -> None:
        """Write the status record (not the scores, which live in the gradebook) into ``folder``.

        ``fingerprint`` identifies what was graded (see ``autograder.grading.bundle.fingerprint``),
        so that grading again can skip it; ``host`` is the worker that graded it.
        """
        folder.mkdir(parents=True, exist_ok=True)
        record = {"status": self.status, "message": self.message, "seconds": round(self.seconds, 2),
                  "fingerprint": fingerprint, "host": host}
        (folder / STATUS_FILE).write_text(json.dumps(record, ensure_ascii=False, indent=1), encoding="utf-8")


def load_status(folder: Path) -> dict | None:
    """The status record ``save`` wrote into ``folder``, or None."""
    path = folder / STATUS_FILE
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def _cell_errors(notebook_path: Path) -> dict[str, tuple[str, str]]:
    """grade_id → (exception class, message) a graded cell ended with, from the autograded notebook."""
    messages = {}
    if not notebook_path.is_file():
        return messages
    import nbformat

    notebook = nbformat.read(notebook_path, as_version=4)
    for cell in notebook.cells:
        if not is_grade(cell) or cell.cell_type != "code":
            continue
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                messages[grade_id_of(cell)] = (output.get("ename", ""), output.get("evalue", ""))
    return messages


def manual_points(grade) -> float | None:
    """The points of a manually graded cell's nbgrader ``Grade``: the instructor's (kept through automatic
    regrading, which marks them for review), else nbgrader's own 0 for an answer left as released, else None
    while it waits for the instructor."""
    if grade.manual_score is not None:
        return grade.manual_score
    return None if grade.needs_manual_grade else grade.auto_score or 0.0  # nbgrader's score without extra credit


def automatic_points(grade) -> float:
    """The points of an automatically graded cell's nbgrader ``Grade`` without its extra credit: the instructor's
    override (``manual_score``) if set, else the checks' (``auto_score``), as nbgrader's ``Grade.score`` takes them."""
    if grade.manual_score is not None:
        return grade.manual_score
    return grade.auto_score or 0.0


def read_results(assignment: Assignment, student_id: str) -> SubmissionResult:
    """The gradebook's scores for one graded submission of ``assignment``, with each failed check's message."""
    errors = _cell_errors(assignment.autograded(student_id))
    with assignment.course.gradebook() as gb:
        submission = gb.find_submission(assignment.id, student_id)
        checks = []
        grades = {grade.name: grade for notebook in submission.notebooks for grade in notebook.grades}
        comments = {comment.name: comment.manual_comment for notebook in submission.notebooks
                    for comment in notebook.comments}
        for cell in assignment.graded_cells:
            grade = grades.get(cell.grade_id)
            if grade is None:
                checks.append(CheckResult(cell.grade_id, 0.0, cell.points, "セルがありません / cell missing", cell.manual))
                continue
            points = manual_points(grade) if cell.manual else automatic_points(grade)
            error, message = errors.get(cell.grade_id, (None, None))
            checks.append(CheckResult(cell.grade_id, points, grade.max_score, message, cell.manual, error,
                                      comments.get(cell.grade_id) if cell.manual else None,
                                      grade.extra_credit or 0.0, not cell.manual and grade.manual_score is not None))
        penalty = submission.late_submission_penalty or 0.0  # nbgrader keeps it apart from the score
        result = SubmissionResult(student_id, Status.GRADED, score=submission.score - penalty, max_score=submission.max_score,
                                  checks=checks)
        result.late_penalty = penalty
        return result


def saved_result(assignment: Assignment, student_id: str) -> SubmissionResult:
    """The outcome the last grading of ``assignment`` recorded for ``student_id`` (``not_graded`` if there is none)."""
    from nbgrader.api import MissingEntry

    status = load_status(assignment.autograded_dir(student_id))
    if status is None:
        return SubmissionResult(student_id, Status.NOT_GRADED, "まだ採点していません / not graded yet")
    if status["status"] != Status.GRADED:
        return SubmissionResult(student_id, status["status"], status["message"], seconds=status.get("seconds", 0.0),
                                max_score=assignment.total_points)
    try:
        result = read_results(assignment, student_id)
    except MissingEntry:
        return SubmissionResult(student_id, Status.NOT_GRADED, "成績簿にありません / not in the gradebook")
    result.message, result.seconds = status["message"], status.get("seconds", 0.0)
    return result


@dataclass(frozen=True)
class ScoreParts:
    """A graded submission's score in the gradebook now, split as the class page shows it (「自動 20/20・手動 未採点」):
    the automatic checks' part, and the instructor's part for the written answers, which a bare 20/25 hides."""

    automatic: float
    """The points of the automatically graded cells (an instructor's override included)."""

    automatic_max: float
    """The assignment's automatic points."""

    manual: float | None
    """The instructor's points of the written answers, or None while any of them awaits grading."""

    manual_max: float
    """The assignment's manually graded points (0: nothing to grade by hand)."""

    @property
    def total(self) -> float:
        """Every point given so far (an answer awaiting grading counts 0)."""
        return self.automatic + (self.manual or 0.0)


def score_parts(assignment: Assignment) -> dict[str, ScoreParts]:
    """student id → ``ScoreParts`` of every submission of ``assignment`` in the gradebook, in one query (the class page
    reads it for a hundred students every refresh)."""
    from nbgrader.api import Assignment as GradebookAssignment
    from nbgrader.api import BaseCell, Grade, SubmittedAssignment, SubmittedNotebook

    manual = {cell.grade_id for cell in assignment.manual_cells}
    automatic_max, manual_max = assignment.automatic_points, assignment.total_points - assignment.automatic_points
    points: dict[str, list[float]] = {}
    pending: set[str] = set()
    with assignment.course.gradebook() as gb:
        rows = (gb.db.query(SubmittedAssignment.student_id, BaseCell.name, Grade.score, Grade.manual_score,
                            Grade.needs_manual_grade, Grade.extra_credit, Grade.auto_score)
                .join(GradebookAssignment, GradebookAssignment.id == SubmittedAssignment.assignment_id)
                .join(SubmittedNotebook, SubmittedNotebook.assignment_id == SubmittedAssignment.id)
                .join(Grade, Grade.notebook_id == SubmittedNotebook.id)
                .join(BaseCell, BaseCell.id == Grade.cell_id)
                .filter(GradebookAssignment.name == assignment.id).all())
    for row in rows:
        automatic, given = points.setdefault(row.student_id, [0.0, 0.0])
        if row.name not in manual:
            points[row.student_id][0] = automatic + (row.score or 0.0)
        elif (found := manual_points(row)) is None:
            pending.add(row.student_id)
        else:
            points[row.student_id][1] = given + found + (row.extra_credit or 0.0)
    return {student_id: ScoreParts(automatic, automatic_max, None if student_id in pending else given,
                                   manual_max)
            for student_id, (automatic, given) in points.items()}
