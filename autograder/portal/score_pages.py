"""The instructor's page of one student's scores in one assignment: override an automatic cell's score, give extra
credit, each with a reason the student reads (``autograder.tools.overrides``), and the journal of their changes.

Routes (the instructor's only: a grader or a student gets 403; every POST needs the CSRF token):

- ``GET  /instructor/scores/<aid>/<student_id>``: each graded cell with its automatic score, override, extra credit
  and their reasons, and every recorded change of this student's grades in the assignment (``grade_changes``);
- ``POST .../override`` (``grade_id``, ``points`` — empty: the automatic score again —, ``reason``);
- ``POST .../extra-credit`` (``grade_id``, ``points`` — empty or 0: none —, ``reason``).

Reached from the student's row of the class page (「点数の上書き・加点」).  After a change the student's portal score
is the gradebook's new total (``manual_pages.rescore``) and their feedback page is written again (``overrides``).
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from sqlalchemy.exc import OperationalError

from autograder.portal.manual_pages import _busy, rescore
from autograder.portal.store import INSTRUCTOR, ChangeKind, GradeChange, Store
from autograder.portal.web import assignment_or_404, clock, course, signed_in, store
from autograder.tools import manual, overrides
from autograder.tools.manual import ManualGradeError
from autograder.tools.overrides import ScoreChange


def score_journal(store: Store, by: str, clock: Callable[[], datetime],
                  assignment_id: str) -> Callable[[list[ScoreChange]], None]:
    """A ``journal`` for ``overrides`` that appends its changes to the portal's ``grade_changes`` as made by ``by``."""
    kinds = {overrides.OVERRIDE: ChangeKind.OVERRIDE, overrides.EXTRA_CREDIT: ChangeKind.EXTRA_CREDIT}

    def write(changes: list[ScoreChange]) -> None:
        at = clock()
        store.log_grade_changes(GradeChange(at, by, assignment_id, c.grade_id, c.student_id, c.before, c.after,
                                            None, None, None, kinds[c.kind], c.reason) for c in changes)
    return write


def _points(raw: str) -> float | None:
    """Points as the form sent them ('' : none); ``ManualGradeError`` for anything but a number."""
    text = raw.strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise ManualGradeError(f"点数 {raw!r} が数ではありません / points {raw!r} is not a number") from None


bp = Blueprint("scores", __name__)


def graded(assignment_id: str, student_id: str):
    """The assignment, if the student has a graded submission of it; else a 404."""
    found = assignment_or_404(assignment_id)
    if student_id not in manual.graded_students(course.assignment(assignment_id)):
        abort(404)
    return found


@bp.get("/instructor/scores/<assignment_id>/<student_id>")
@signed_in(INSTRUCTOR)
def score_changes(assignment_id, student_id):
    found = graded(assignment_id, student_id)
    work = course.assignment(assignment_id)
    notes = overrides.score_notes(work, student_id)
    with course.gradebook() as gb:
        submission = gb.find_submission(assignment_id, student_id)
        grades = {g.name: (g.auto_score, g.manual_score, g.extra_credit)
                  for nb in submission.notebooks for g in nb.grades}
        total = submission.score - (submission.late_submission_penalty or 0.0)
    cells = [{"cell": c, "auto": grades.get(c.grade_id, (None,) * 3)[0],
              "override": grades.get(c.grade_id, (None,) * 3)[1] if not c.manual else None,
              "extra": grades.get(c.grade_id, (None,) * 3)[2], "note": notes.get(c.grade_id)}
             for c in work.graded_cells if c.grade_id in grades]
    name = course.student_names().get(student_id, "")
    return render_template("score_changes.html", assignment=found, student_id=student_id, name=name, cells=cells,
                           total=total, max_score=work.total_points, reason_chars=overrides.REASON_CHARS,
                           changes=list(reversed(store.grade_changes(assignment_id=assignment_id,
                                                                     student_id=student_id))))


def change(assignment_id: str, student_id: str, kind: str):
    graded(assignment_id, student_id)
    back = redirect(url_for("scores.score_changes", assignment_id=assignment_id, student_id=student_id), 303)
    grade_id = request.form.get("grade_id", "")
    write = overrides.override if kind == overrides.OVERRIDE else overrides.extra_credit
    try:
        done = write(course.assignment(assignment_id), student_id, grade_id, _points(request.form.get("points", "")),
                     request.form.get("reason", ""),
                     journal=score_journal(store, g.user.user_id, clock, assignment_id))
    except (ManualGradeError, OperationalError) as e:
        if isinstance(e, OperationalError) and not _busy(e):
            raise
        message = "成績簿が使用中でした。もう一度保存してください / the gradebook was busy" \
            if isinstance(e, OperationalError) else str(e)
        flash(f"保存できませんでした / not saved: {message}")
        return back
    if done is None:
        flash("変わっていません / nothing changed")
        return back
    rescore(store, course, assignment_id, [student_id])
    what = "点数の上書き / override" if kind == overrides.OVERRIDE else "加点 / extra credit"
    after = "なし / none" if done.after is None else f"{done.after:g}"
    flash(f"{student_id} の {grade_id} の{what}を {after} にしました（学生のページに理由とともに出ます） / saved")
    return back


@bp.post("/instructor/scores/<assignment_id>/<student_id>/override")
@signed_in(INSTRUCTOR)
def override_score(assignment_id, student_id):
    return change(assignment_id, student_id, overrides.OVERRIDE)


@bp.post("/instructor/scores/<assignment_id>/<student_id>/extra-credit")
@signed_in(INSTRUCTOR)
def give_extra_credit(assignment_id, student_id):
    return change(assignment_id, student_id, overrides.EXTRA_CREDIT)
