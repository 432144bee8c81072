"""Regrade requests: a student asks the instructor to look again at one published written answer, the instructor
answers (changing the grade or not, with a reply), and every change of a published grade is journalled.

The rules (one place):

- a student may ask about a question only once its grade is published to them (``manual.published_notes``), with a
  reason of 1 … ``REASON_CHARS`` characters
  that draw something (``similarity.visible``: zero-width and direction characters are dropped);
- once per question, unless the instructor reopens the answered request (``Store.add_regrade_request`` enforces it
  in one transaction);
- only until the closing date: the instructor's for the assignment (``Store.set_regrade_closing``), else
  ``DEFAULT_WINDOW`` after the student's grade for that question was first published (from the journal; a grade
  published before the journal existed, or by ``manual --publish`` on a course with no portal database, has no
  known time, and stays open until the instructor sets a date);
- a student's routes take no request id: they read and write only the signed-in student's own requests.
- answering publishes that one answer's current mark (``manual.publish(students=...)``), journalled with the
  request's id: a draft the instructor made on the question page while looking at the request (items, comment) is
  what the student sees with the reply; answering with new points first makes them the draft (keeping its items).
  The request records whether the student's grade changed.  The answer form carries the mark the page showed
  (``mark_shown``): if the answer's mark changed since (a grader's draft, another tab), answering is refused and
  the page shows the mark now, so that nothing the instructor has not seen is published with the reply.

Routes: ``GET /regrade/<aid>`` and ``POST /regrade/<aid>/<grade_id>`` (the student);
``GET /instructor/regrades/<aid>``, ``POST /instructor/regrades/<aid>/<id>/answer``, ``.../<id>/reopen`` and
``POST /instructor/regrades/<aid>/closing`` (the instructor).  Every POST needs the CSRF token.
"""
from __future__ import annotations

import getpass
import hashlib
import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from sqlalchemy.exc import OperationalError

from autograder.portal.manual_pages import _title, answer_html, rescore  # it imports journal from here, when publishing
from autograder.portal import anonymity
from autograder.portal.store import INSTRUCTOR, STUDENT, GradeChange, RequestStatus, Store
from autograder.portal.web import EXTENSION, of_this_app, assignment_or_404, clock, course, signed_in, store, zone
from autograder.tools import manual
from autograder.tools.manual import ManualGradeError, PublishedChange
from autograder.tools.similarity import visible

REASON_CHARS = 2_000
"""Longest reason a student may give (characters): a paragraph or two; more is refused, not cut."""

REPLY_CHARS = 4_000
"""Longest reply of the instructor."""

DEFAULT_WINDOW = timedelta(days=7)
"""Without the instructor's date, requests close this long after the student's grade was first published."""

STATUS_LABELS = {RequestStatus.OPEN: "先生が確認するのを待っています", RequestStatus.ANSWERED: "先生が回答しました"}
"""The request's state as the student reads it."""


def journal(store: Store, by: str, clock: Callable[[], datetime], assignment_id: str,
            request_id: int | None = None) -> Callable[[list[PublishedChange]], None]:
    """A ``journal`` for ``manual.publish`` that appends its changes to the store's log, as made by ``by``."""
    def write(changes: list[PublishedChange]) -> None:
        at = clock()
        store.log_grade_changes(GradeChange(at, by, assignment_id, c.grade_id, c.student_id, c.before_points,
                                            c.after_points, c.before_comment, c.after_comment, request_id)
                                for c in changes)
    return write


def command_line_user() -> str:
    """Who published from the command line, as the journal names them."""
    try:
        return f"command line ({getpass.getuser()})"
    except (KeyError, OSError):  # no name for this uid (a container): the journal still says where it came from
        return "command line"


def closing(store: Store, assignment_id: str, grade_id: str, student_id: str) -> datetime | None:
    """When the student's requests about ``grade_id`` close (UTC), or None if no time is known (open)."""
    chosen = store.regrade_closing(assignment_id)
    if chosen is not None:
        return chosen
    first = next((c.at for c in store.grade_changes(assignment_id=assignment_id, student_id=student_id,
                                                     grade_id=grade_id) if c.after_points is not None), None)
    return first + DEFAULT_WINDOW if first is not None else None


bp = Blueprint("regrades", __name__)
"""Regrade requests: the student's pages (``/regrade/...``) and the instructor's (``/instructor/regrades/...``)."""

answering: threading.Lock = of_this_app("regrade_answering")  # type: ignore[assignment]
"""Held while a request is answered, from reading that it is open to recording the answer: the portal is one
process, and answering is rare, so one lock (per app: ``_one_answer_at_a_time``) serialises it (a request answered
from two tabs at once published twice and dropped the second reply)."""


@bp.record_once
def _one_answer_at_a_time(state) -> None:
    state.app.extensions[EXTENSION]["regrade_answering"] = threading.Lock()


def questions(assignment_id: str, student_id: str) -> list[dict]:
    """The student's published manual questions of the assignment, each with its requests and whether and
    until when they may ask."""
    work = course.assignment(assignment_id)
    notes = manual.published_notes(work, student_id)
    mine = store.regrade_requests(assignment_id=assignment_id, student_id=student_id)
    now, found = clock(), []
    for cell in manual.manual_cells(work):
        if cell.grade_id not in notes:
            continue
        requests = [r for r in mine if r.grade_id == cell.grade_id]
        closes = closing(store, assignment_id, cell.grade_id, student_id)
        blocked = any(not r.reopened for r in requests)
        found.append({"cell": cell, "title": _title(cell.prompt), "note": notes[cell.grade_id],
                      "requests": list(reversed(requests)), "closes": closes,
                      "open": closes is None or now <= closes, "blocked": blocked})
    return found


@bp.get("/regrade/<assignment_id>")
@signed_in(STUDENT)
def regrade_requests(assignment_id):
    found = assignment_or_404(assignment_id)
    return render_template("regrade_student.html", assignment=found, labels=STATUS_LABELS,
                           questions=questions(assignment_id, g.user.user_id), limit=REASON_CHARS)


@bp.post("/regrade/<assignment_id>/<grade_id>")
@signed_in(STUDENT)
def ask_regrade(assignment_id, grade_id):
    """Record the signed-in student's request about their own published answer, if the rules allow it."""
    assignment_or_404(assignment_id)
    back = redirect(url_for("regrades.regrade_requests", assignment_id=assignment_id), 303)
    here = next((q for q in questions(assignment_id, g.user.user_id) if q["cell"].grade_id == grade_id), None)
    if here is None:
        abort(404)  # not a question of theirs with a published grade
    # without the characters that draw nothing (zero-width, direction overrides): a reason of them alone is
    # empty, and none reorders what the instructor reads
    reason = visible(request.form.get("reason", "")).strip()
    if not reason:
        flash("依頼の理由を書いてください。どの点をもう一度見てほしいかを書くと、先生が確認しやすくなります。")
        return back
    if len(reason) > REASON_CHARS:
        flash(f"依頼の理由は {REASON_CHARS:,} 文字までです（いまは {len(reason):,} 文字です）。"
              "大事な点にしぼって書き直してください。依頼はまだ送られていません。")
        return back
    if not here["open"]:
        flash(f"{here['title']} の再採点の依頼は {_local(here['closes'], zone())} で締め切りました。"
              "どうしても気になる点があれば、授業で先生に直接相談してください。")
        return back
    if here["blocked"] or store.add_regrade_request(g.user.user_id, assignment_id, grade_id, reason,
                                                    clock()) is None:
        flash(f"{here['title']} の再採点はもう依頼してあります。一つの問題について依頼できるのは一度です。"
              "先生の回答をこのページで確かめてください。")
        return back
    flash(f"{here['title']} の再採点を依頼しました。先生が確認して回答すると、このページに出ます。")
    return back


# ---- the instructor's side
def mark_shown(answer: manual.Answer | None, rubric: dict[str, manual.RubricItem]) -> str:
    """A short fingerprint of the mark the requests page shows for ``answer`` (points, items as written, adjustment,
    comment): what answering would publish, as the instructor saw it."""
    if answer is None:
        return "none"
    seen = [answer.points, [(i, rubric[i].text, rubric[i].points) if i in rubric else i for i in answer.items],
            answer.adjustment, answer.comment]
    return hashlib.sha256(json.dumps(seen, ensure_ascii=False).encode()).hexdigest()[:16]


def instructor_view(assignment_id: str) -> dict:
    work = course.assignment(assignment_id)
    cells = {c.grade_id: c for c in manual.manual_cells(work)}
    requests = store.regrade_requests(assignment_id=assignment_id)
    names = {s.user_id: s.name for s in store.students()}
    by_question = []
    for grade_id, cell in cells.items():
        waiting = [r for r in requests if r.grade_id == grade_id and r.status == RequestStatus.OPEN]
        answered = [r for r in requests if r.grade_id == grade_id and r.status == RequestStatus.ANSWERED]
        if not waiting and not answered:
            continue
        answers = {a.student_id: a for a in manual.answers(work, grade_id)}
        items = {i.id: i for i in manual.rubric(work, grade_id)}
        by_question.append({"cell": cell, "title": _title(cell.prompt), "open": waiting, "answered": answered,
                            "answers": answers, "rubric": items})  # not "items": Jinja reads q.items as dict.items
    named = anonymity.masks(store, assignment_id, {r.student_id for r in requests}, names)
    return {"questions": by_question, "who": named.who, "anonymous": named.on, "mark_shown": mark_shown,
            "closing": store.regrade_closing(assignment_id)}


def who(assignment_id: str, student_id: str) -> anonymity.Masks:
    """How the instructor's messages name the students of the assignment (「解答 N」 while it is anonymous)."""
    return anonymity.masks(store, assignment_id, [student_id])


@bp.get("/instructor/regrades/<assignment_id>")
@signed_in(INSTRUCTOR)
def instructor_regrades(assignment_id):
    found = assignment_or_404(assignment_id)
    return render_template("regrade_instructor.html", assignment=found, render=answer_html,
                           signed=manual.signed, window=DEFAULT_WINDOW.days, **instructor_view(assignment_id))


def request_of(assignment_id: str, request_id: int):
    found = store.regrade_request(request_id)
    if found is None or found.assignment_id != assignment_id:
        abort(404)
    return found


@bp.post("/instructor/regrades/<assignment_id>/<int:request_id>/answer")
@signed_in(INSTRUCTOR)
def answer_regrade(assignment_id, request_id):
    """Answer one open request: with ``changed=1`` the answer's new total (``points``) becomes its mark, keeping
    its items; either way that answer's mark (and so any draft of it) is published, alone, so that the reply and
    the grade the student sees agree."""
    assignment_or_404(assignment_id)
    with answering:  # two tabs answering one request: the second finds it answered, never publishes twice
        return _answer(assignment_id, request_id)


def _answer(assignment_id, request_id):
    asked = request_of(assignment_id, request_id)
    back = redirect(url_for("regrades.instructor_regrades", assignment_id=assignment_id), 303)
    if asked.status != RequestStatus.OPEN:
        flash("この依頼はもう回答済みです / already answered")
        return back
    reply = request.form.get("reply", "").strip()
    if not reply or len(reply) > REPLY_CHARS:
        flash(f"回答を 1〜{REPLY_CHARS} 文字で書いてください / write a reply of 1–{REPLY_CHARS} characters")
        return back
    work = course.assignment(assignment_id)
    shown = request.form.get("shown")
    if shown is not None:
        rubric = {i.id: i for i in manual.rubric(work, asked.grade_id)}
        current = next((a for a in manual.answers(work, asked.grade_id) if a.student_id == asked.student_id), None)
        if shown != mark_shown(current, rubric):
            flash(f"{who(assignment_id, asked.student_id).who(asked.student_id)} の採点が、このページを開いたあとで変わりました"
                  "（別のタブか採点者の下書き）。いまの採点を確かめてから、もう一度回答してください。回答はまだ送られていません / "
                  "the answer's mark changed since the page was loaded: check it and answer again (nothing was sent)")
            return back
    try:
        if request.form.get("changed") == "1":
            cell = manual.manual_cell(work, asked.grade_id)
            current = next((a for a in manual.answers(work, asked.grade_id) if a.student_id == asked.student_id),
                           None)
            if current is None:
                raise ManualGradeError("この学生の採点済みの答えがありません / no graded answer of this student")
            raw = request.form.get("points", "").strip()
            try:
                points = float(raw)
            except ValueError:
                raise ManualGradeError(f"点数 {raw!r} が数ではありません / points {raw!r} is not a number") from None
            rubric = {i.id: i for i in manual.rubric(work, asked.grade_id)}
            mark = manual.mark_for(rubric, cell, points=points, items=current.items, comment=current.comment,
                                   where=f"{who(assignment_id, asked.student_id).who(asked.student_id)} {asked.grade_id}")
            manual.set_marks(work, [(asked.student_id, asked.grade_id, mark)])
        # the answer's mark as it is now (the points just typed, or a draft made on the question page) is what
        # the student sees with the reply: published, that answer alone, journalled with the request
        published = manual.publish(work, asked.grade_id, students=[asked.student_id],
                                   journal=journal(store, g.user.user_id, clock, assignment_id, request_id))
        rescore(store, course, assignment_id, [asked.student_id])
        changed = bool(published)
    except (ManualGradeError, OperationalError) as e:
        flash(who(assignment_id, asked.student_id).hide(f"保存できませんでした / not saved: {e}"))
        return back
    store.answer_regrade_request(request_id, reply=reply, changed=changed, by=g.user.user_id, at=clock())
    flash(f"{who(assignment_id, asked.student_id).who(asked.student_id)} の依頼に回答しました（点数の変更：{'あり' if changed else 'なし'}） / answered "
          f"({'grade changed' if changed else 'no change'})")
    return back


@bp.post("/instructor/regrades/<assignment_id>/<int:request_id>/reopen")
@signed_in(INSTRUCTOR)
def reopen_regrade(assignment_id, request_id):
    assignment_or_404(assignment_id)
    asked = request_of(assignment_id, request_id)
    if store.reopen_regrade_request(asked.id):
        flash(f"{who(assignment_id, asked.student_id).who(asked.student_id)} はこの問題の再採点をもう一度依頼できます / "
              "may ask once more")
    return redirect(url_for("regrades.instructor_regrades", assignment_id=assignment_id), 303)


@bp.post("/instructor/regrades/<assignment_id>/closing")
@signed_in(INSTRUCTOR)
def regrade_closing(assignment_id):
    """The assignment's closing date (local time, ``YYYY-MM-DDTHH:MM``), or empty for the default."""
    assignment_or_404(assignment_id)
    raw = request.form.get("closes", "").strip()
    try:
        closes = datetime.fromisoformat(raw) if raw else None
        if closes is not None:  # an offset typed is kept; none is the course's time; no UTC for it: unreadable
            closes = (closes if closes.tzinfo else closes.replace(tzinfo=zone())).astimezone(UTC)
    except (ValueError, OverflowError):
        flash(f"日時 {raw!r} が読めません / cannot read the date")
        return redirect(url_for("regrades.instructor_regrades", assignment_id=assignment_id), 303)
    store.set_regrade_closing(assignment_id, closes)
    flash("締め切りを保存しました / closing date saved")
    return redirect(url_for("regrades.instructor_regrades", assignment_id=assignment_id), 303)


def _local(moment: datetime | None, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M") if moment else ""
