"""The instructor's pages (text bilingual, Japanese / English): the class page, extensions, regrading, which upload
counts, a student's feedback, the grades CSV and the class report.

Graders (teaching assistants, ``accounts --grader``, ``store.GRADER``) see the class page and the students' feedback
and are refused the rest (403); the written answers are ``manual_pages``', regrade requests ``regrades``'.
"""
from __future__ import annotations

import math
import tempfile
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path

from flask import Blueprint, abort, flash, g, redirect, render_template, request, send_file, url_for

from autograder.course import extensions, messages
from autograder.portal import class_page, readiness
from autograder.portal.store import GRADER, INSTRUCTOR
from autograder.portal.web import (
    assignment_or_404,
    clock,
    config,
    course,
    local,
    queue,
    signed_in,
    store,
    student_work,
)

bp = Blueprint("instructor", __name__)


@bp.get("/instructor")
@signed_in(INSTRUCTOR, GRADER)
def home():
    """The class page: per assignment offered, its table of students (filtered and sorted as asked), the line."""
    students, view = store.students(), class_page.ClassView.from_query(request.args)
    offered = readiness.offered(course)
    anonymous = {a.id for a in offered if store.anonymous(a.id)}
    tables = [(class_page.class_table(course, store, a, students, view,
                                      hide_manual=g.user.role == GRADER and a.id in anonymous), report_built(a.id))
              for a in offered]
    line = queue.view()
    oldest = min((row["received_utc"] for row in line.waiting if not row["force"]), default=None)  # a student's
    waited = (clock() - oldest.replace(tzinfo=UTC)).total_seconds() if oldest else None
    return render_template("instructor.html", tables=tables, line=line, oldest=oldest, view=view,
                           filters=class_page.STATES, sorts=class_page.SORTS, long_message=class_page.LONG_MESSAGE,
                           waited=math.floor(waited / 60) if waited is not None else None,
                           warm_up_step=messages.WARM_UP_STEPS.get(line.phase) if line.phase else None,
                           extended=sorted(extensions.read_extensions(course).items()),
                           open_requests=store.open_request_counts(),
                           anonymous=anonymous)


@bp.post("/instructor/extensions")
@signed_in(INSTRUCTOR)
def extend():
    """Give one student a later due time for one assignment (``remove``: take it back)."""
    student_id, assignment_id = request.form.get("student_id", "").strip(), request.form.get("assignment_id", "")
    try:
        due = None if request.form.get("remove") else extensions.parse_due(request.form.get("due", ""),
                                                                             config.timezone)
        extensions.set_extension(course, student_id, assignment_id, due,
                                 students={s.user_id for s in store.students()})
    except ValueError:
        flash("締め切りの日時が読めません（例 2027-05-30 23:59） / unreadable due time (e.g. 2027-05-30 23:59)")
    except extensions.ExtensionError as e:
        flash(str(e))
    else:
        flash(f"{student_id} の {assignment_id} の締め切りを{'元に戻しました' if due is None else local(due) + ' にしました'} / "
              f"{'extension removed' if due is None else 'extended'}")
    return redirect(url_for("instructor.home") + "#extensions"), 303


@bp.post("/instructor/extensions/import")
@signed_in(INSTRUCTOR)
def import_extensions():
    """Record every extension of an uploaded CSV (student_id, assignment_id, due), all or none."""
    file = request.files.get("csv")
    try:
        count = extensions.import_extensions(course, (file.read() if file else b"").decode("utf-8"),
                                             students={s.user_id for s in store.students()})
    except UnicodeDecodeError:
        flash("CSV は UTF-8 で保存してください / save the CSV as UTF-8")
    except extensions.ExtensionError as e:
        flash(f"延長を入れませんでした / no extension recorded: {e}")
    else:
        flash(f"{count} 件の延長を入れました / {count} extensions recorded")
    return redirect(url_for("instructor.home") + "#extensions"), 303


@bp.post("/instructor/regrade/<assignment_id>/<student_id>")
@signed_in(INSTRUCTOR)
def regrade(assignment_id, student_id):
    """Grade again the upload that counts (the one the instructor chose, else the latest), behind students' uploads."""
    assignment_or_404(assignment_id)
    latest = store.counting(student_id, assignment_id)
    if latest is None:
        abort(404)
    if not store.request_regrade(latest["id"]):
        flash(f"{student_id} の {assignment_id} はいま採点待ちか採点中です。終わってから採点し直してください。 / "
              "already waiting or being graded")
        return redirect(url_for("instructor.home")), 303
    queue.wake()
    flash(f"{student_id} の {assignment_id} を採点し直します（採点待ちの学生の提出があれば、その後に採点します） / "
          "regrade queued behind the students' uploads")
    return redirect(url_for("instructor.home")), 303


@bp.get("/instructor/uploads/<assignment_id>/<student_id>")
@signed_in(INSTRUCTOR)
def student_uploads(assignment_id, student_id):
    """A student's kept uploads of an assignment, the one that counts marked, each earlier one choosable."""
    found, student = assignment_or_404(assignment_id), store.user(student_id)
    if student is None:
        abort(404)
    counting = store.counting(student_id, assignment_id)
    return render_template("uploads.html", assignment=found, student=student,
                           uploads=store.uploads_of(student_id, assignment_id),
                           counting=counting["id"] if counting else None)


@bp.post("/instructor/choose/<int:upload_id>")
@signed_in(INSTRUCTOR)
def choose_upload(upload_id):
    """Make an earlier upload the one that counts: it is graded again, and its grade and feedback replace the
    latest's (the student's next upload counts again)."""
    row = store.upload(upload_id)
    if row is None:
        abort(404)
    assignment_or_404(row["assignment_id"])
    back = redirect(url_for("instructor.student_uploads", assignment_id=row["assignment_id"],
                            student_id=row["student_id"])), 303
    if not store.choose(upload_id):
        flash("この提出は選べません（採点待ち・採点中・置き換え済み、またはファイルが消えています） / this upload "
              "cannot be chosen (waiting, being graded, superseded, or its file was pruned)")
        return back
    queue.wake()
    flash(f"{row['student_id']} の {local(row['received_utc'])} の提出を成績の対象にしました。採点し直すと成績とフィードバックが"
          f"置き換わります / the upload of {local(row['received_utc'])} counts now; it is being graded again")
    return back


@bp.post("/instructor/regrade-errors")
@signed_in(INSTRUCTOR)
def regrade_errors():
    """Every student's latest upload whose grading failed, queued again (after fixing what made it fail)."""
    queued = store.regrade_errors()
    queue.wake()
    flash(f"採点できなかった提出 {len(queued)} 件を採点し直します（採点待ちの学生の提出の後に採点します） / "
          f"{len(queued)} uploads whose grading failed queued again, behind the students' uploads")
    return redirect(url_for("instructor.home")), 303


@bp.get("/instructor/feedback/<assignment_id>/<student_id>")
@signed_in(INSTRUCTOR, GRADER)
def feedback(assignment_id, student_id):
    """A student's feedback page as the student sees it (a sandboxed document).  Not to a grader while the
    assignment's written answers are graded anonymously: the page carries the student's answers beside their id."""
    assignment_or_404(assignment_id)
    if g.user.role == GRADER and store.anonymous(assignment_id):
        return render_template("message.html", title="匿名採点中です / anonymous grading",
                               message="この課題は匿名で採点しているため、採点者は学生ごとのフィードバックを開けません。"
                                       "採点は「記述の採点」のページからどうぞ / while this assignment is graded "
                                       "anonymously, graders cannot open a named student's feedback page"), 403
    path = course.feedback_path(assignment_id, student_id)
    if not path.is_file():
        abort(404)
    return student_work(path, portal_link=True)


@bp.get("/instructor/grades/<assignment_id>.csv")
@signed_in(INSTRUCTOR)
def grades(assignment_id):
    from autograder.tools.export import export_grades

    assignment_or_404(assignment_id)
    with tempfile.TemporaryDirectory(prefix="autograder-grades-") as folder:
        out = Path(folder) / f"grades-{assignment_id}.csv"
        export_grades(course.assignment(assignment_id), out)
        data = BytesIO(out.read_bytes())
    return send_file(data, as_attachment=True, download_name=out.name, mimetype="text/csv")


def report_path(assignment_id: str) -> Path:
    """Where the portal keeps the class report: ``report``'s default, so both show the same file."""
    return course.assignment(assignment_id).report


def report_built(assignment_id: str) -> datetime | None:
    """When the class report shown was built, or None if there is none yet."""
    path = report_path(assignment_id)
    return datetime.fromtimestamp(path.stat().st_mtime, UTC) if path.is_file() else None


@bp.get("/instructor/report/<assignment_id>")
@signed_in(INSTRUCTOR)
def report(assignment_id):
    """The last report built (a sandboxed document), or a page with the button that builds it; never builds."""
    found = assignment_or_404(assignment_id)
    path = report_path(assignment_id)
    if not path.is_file():
        return render_template("report.html", assignment=found)
    return student_work(path)


@bp.post("/instructor/report/<assignment_id>")
@signed_in(INSTRUCTOR)
def build_report(assignment_id):
    """Build the class report from the results as they are now, then show it."""
    from autograder.tools.report import write_report

    assignment_or_404(assignment_id)
    write_report(course.assignment(assignment_id), report_path(assignment_id))
    return redirect(url_for("instructor.report", assignment_id=assignment_id)), 303
