"""The student's pages: the list of assignments (the start page, signed in), the release notebook, the upload, and
the feedback page of their own work.

An upload is taken only before the student's due time (the instructor's extension, if any:
``autograder.course.extensions``), one at a time per student and assignment (``UploadGate``), at most
``portal_uploads_per_hour`` attempts an hour (counted before the file is read), and only if it is a notebook of the
assignment (``_notebook_problem``); every refusal is a Japanese sentence saying what to do.  A student reaches only
their own feedback: no route here takes a student id.
"""
from __future__ import annotations

import math
from dataclasses import replace
from datetime import datetime

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    has_request_context,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)

from autograder.course import AssignmentConfig, extensions, messages
from autograder.course.notebook import NotebookProblem, ReleaseShape, check_notebook, release_shape
from autograder.portal import readiness
from autograder.portal.store import STUDENT, UploadState
from autograder.portal.uploads import store_upload, take_upload_attempt
from autograder.portal.web import (
    EXTENSION,
    assignment_or_404,
    clock,
    config,
    course,
    local,
    minute_up,
    queue,
    signed_in,
    store,
    student_work,
    upload_gate,
)
from autograder.tools import manual

bp = Blueprint("student", __name__)


def home():
    """The signed-in student's start page: each assignment offered, with their due time, uploads and feedback."""
    rows, extended = [], extensions.read_extensions(course)
    for a in readiness.offered(course):  # serve has put each of them into the gradebook (readiness.ensure_gradable)
        due = extensions.due_for(course, a.id, g.user.user_id, extended)  # theirs, if the instructor extended it
        rows.append({"assignment": a, "due": due, "extended": due != a.due, "open": clock() <= due,
                     "uploads": store.uploads_of(g.user.user_id, a.id),
                     "feedback": course.feedback_path(a.id, g.user.user_id).is_file(),
                     "regradable": bool(manual.published_notes(course.assignment(a.id), g.user.user_id))})
    pending = any(r["uploads"] and r["uploads"][0]["state"] in (UploadState.QUEUED, UploadState.GRADING) for r in rows)
    places = queue.view().places if pending else {}
    warming = queue.phase is not None  # serve has just started: uploads wait until grading is ready
    return render_template("student.html", rows=rows, pending=pending, places=places, wait=_wait_text,
                           warming=messages.WARMING_UP if warming else None,
                           warming_place=messages.WARMING_UP_PLACE)


@bp.get("/release/<assignment_id>")
@signed_in()
def release(assignment_id):
    assignment_or_404(assignment_id)
    return send_file(course.release_notebook(assignment_id), as_attachment=True,
                     download_name=f"{assignment_id}.ipynb")


@bp.post("/upload/<assignment_id>")
@signed_in(STUDENT)
def upload(assignment_id):
    student = g.user.user_id
    found = replace(assignment_or_404(assignment_id), due=extensions.due_for(course, assignment_id, student))  # theirs
    received = clock()
    if received > found.due:
        flash(f"{found.title} の締め切り（{local(found.due)}）を過ぎたため、受け付けられません。"
              "締め切りを過ぎた課題は受け取らない決まりです。")
        return redirect(url_for("auth.start")), 303
    with upload_gate.turn(student, assignment_id) as mine:
        if not mine:
            flash(f"{found.title} の別の提出をいま受け付けているところです。下の一覧にその提出が出ていなければ、"
                  "数秒待ってからもう一度提出してください。")
            return redirect(url_for("auth.start")), 303
        # counted before the file is read, and whatever happens to it next: checking is what costs the server
        again = take_upload_attempt(store, config, student, assignment_id, received)
        if again is not None:
            flash(_too_many_uploads(found, again, config.portal_uploads_per_hour))
            return redirect(url_for("auth.start")), 303
        file = request.files.get("notebook")
        if file is None or not file.filename:
            flash("ファイルが選ばれていません。")
            return redirect(url_for("auth.start")), 303
        data = file.read()
        problem = _notebook_problem(file.filename, data)
        if problem:
            flash(problem)
            return redirect(url_for("auth.start")), 303
        try:
            upload_id = store_upload(course, store, student, assignment_id, data, received)
        except OSError:
            current_app.logger.exception("upload of %s by %s could not be stored", assignment_id, student)
            flash("提出をサーバーに保存できませんでした（あなたのファイルのせいではありません）。"
                  "少し時間をおいてもう一度提出し、続くようなら先生に知らせてください。")
            return redirect(url_for("auth.start")), 303
    queue.wake()
    replaced = store.upload(upload_id)["place"] != upload_id
    flash(f"{found.title} を受け付けました（{local(received)}）。"
          + ("採点を待っていた前の提出はこの提出に置き換えました（順番はそのままです）。" if replaced else "")
          + "採点が終わるとこのページに結果が出ます。")
    return redirect(url_for("auth.start")), 303


@bp.get("/feedback/<assignment_id>")
@signed_in(STUDENT)
def feedback(assignment_id):
    """The signed-in student's own feedback page (a sandboxed document, with its link back to the portal)."""
    assignment_or_404(assignment_id)
    path = course.feedback_path(assignment_id, g.user.user_id)
    if not path.is_file():
        abort(404)
    return student_work(path, portal_link=True)


def _wait_text(seconds: float | None) -> str:
    """A wait as a student reads it: 「結果まで あと約 3 分」; an unknown one says so."""
    if seconds is None:
        return "結果までの時間の目安はまだありません（この課題の採点が一つ終わると出ます）"
    if seconds < 60:
        return "結果まで 1 分以内"
    return f"結果まで あと約 {math.ceil(seconds / 60)} 分"


def _too_many_uploads(found: AssignmentConfig, again: datetime, per_hour: int) -> str:
    """The Japanese refusal of an upload over ``portal_uploads_per_hour``: may upload again at ``again`` (shown rounded up
    to the minute, so the time shown is never too early)."""
    shown = local(minute_up(again))
    if again > found.due:
        when = f"締め切り（{local(found.due)}）までに、これ以上は提出できません。"
    else:
        when = f"次に提出できるのは {shown}（日本時間）からです。"
    return (f"{found.title} は1時間に {per_hour} 回まで提出できます（受け付けられなかった提出も数えます）。"
            f"この1時間にもう {per_hour} 回提出したので、今回の提出は受け付けていません。{when}"
            "それまでは、最後に受け付けた提出がそのまま採点されます。")


def _notebook_problem(filename: str, data: bytes, release: ReleaseShape | None = None) -> str | None:
    """Why an upload is not a notebook to grade (Japanese: what is wrong, in which cell, what to do), or None.

    ``release``: the shape of the assignment's release notebook (its cell limit, the grade_ids nbgrader knows);
    by default that of the assignment the request uploads to (``/upload/<assignment_id>`` of this app's course).
    The check's cost is bounded before nbformat parses anything (see ``autograder.course.notebook``).
    """
    if not filename.lower().endswith(".ipynb"):
        return (f"{filename} はノートブック（.ipynb）ではありません。"
                f"Colab なら{messages.COLAB_DOWNLOAD}で保存したファイルを選んでください。")
    if release is None and has_request_context():
        this_course = current_app.extensions.get(EXTENSION, {}).get("course")
        assignment_id = (request.view_args or {}).get("assignment_id")
        if this_course is not None and assignment_id:
            release = release_shape(this_course.release_notebook(assignment_id))
    try:
        check_notebook(data, release=release)
    except NotebookProblem as problem:
        return f"{filename} は受け付けられませんでした。{problem.ja}"
    return None
