"""The instructor's pages for grading the written answers by question: one cell, every student's answer, a rubric.

Routes (the instructor's; graders — ``accounts --grader`` — may view and grade, as drafts, but not publish; every
POST needs the CSRF token, as a form field or in the ``X-CSRFToken`` header):

- ``GET  /instructor/manual/<aid>``: the assignment's manually graded cells, each with its progress and what waits
  to be published;
- ``GET  /instructor/manual/<aid>/<grade_id>[?ungraded=1][&similarity=0.35]``: one question — its prompt, the
  rubric with the number of answers carrying each item, and every student's answer (or the ungraded ones), similar
  answers grouped (``manual.groups`` at that threshold);
- ``POST .../grade`` (``student_id``, ``items`` — a list of item ids —, ``points`` — the total, empty for none —,
  ``was_points`` — the total the form showed —, ``comment``) → ``manual.set_marks`` (a draft);
- ``POST .../rubric`` (``text``, ``points`` — negative to deduct —, ``item_id`` to change an item) →
  ``manual.save_item``;
- ``POST .../apply`` (``item_id``, ``remove`` to take it off; ``student_ids``, a list, in JSON, ``student_id``
  repeated in a form) → ``manual.apply_item``;
- ``POST .../publish`` (the question) and ``POST /instructor/manual/<aid>/publish`` (the assignment) →
  ``manual.publish`` (each change logged in the store's append-only ``grade_changes``); then the score each published student's portal page shows is made the new total (``rescore``).

``POST /instructor/manual/<aid>/anonymous`` (``on`` 1 or 0, the instructor's) turns anonymous grading on or off
(``anonymity.py``: the pages then name each answer 「解答 N」 and carry ``anon-N`` for its student).  The score pages
of one student (overrides and extra credit, the instructor's) are ``score_pages.py``'s blueprint.

Each POST takes a plain form (the page without JavaScript: a redirect back to the answer) or JSON
(``static/manual.js``: a JSON reply, and the page updated in place).  A grade that cannot be stored writes nothing
(``manual.set_marks`` is all or nothing): a 400 with ``ManualGradeError``'s bilingual message in JSON, that
message at the top of the page for a plain form.  A gradebook that stays busy (SQLite's "database is locked",
another writer such as ``grade`` or ``manual --import`` holding it) also writes nothing: a 503 asking to save again.
Storage is ``autograder.tools.manual``'s: drafts in ``manual/<aid>.json``, published grades in nbgrader's
gradebook (publishing also writes again the feedback pages of the students published).

An answer is shown up to ``MAX_ANSWER_CHARS`` characters (a note says it was cut): a pasted 20 MB answer would
otherwise be rendered in full on every view.

Students' answers are their own text: rendered as Markdown with raw HTML and images off (a tag is shown as
text), then through the feedback pages' allowlist (``feedback.clean_html``, which drops ``javascript:`` links),
so nothing a student writes runs in the instructor's browser — and the page's policy runs only the portal's
own script file.  Nor does it look like the page's own marks: an answer has no headings (``# 採点済み 5/5`` is a
line of text, issue 23), the page's header styles apply to the answer's own header only (``article.answer > h4``),
and Markdown without raw HTML can give no element a class of the page's.
"""
from __future__ import annotations

import math
from collections.abc import Callable
import unicodedata
from urllib.parse import quote

from flask import Blueprint, abort, flash, g, jsonify, redirect, render_template, request, url_for
from markdown_it import MarkdownIt
from markupsafe import Markup
from sqlalchemy.exc import OperationalError

from autograder.course import AssignmentConfig, Course
from autograder.course.results import Status, saved_result
from autograder.portal import anonymity
from autograder.portal.store import GRADER, INSTRUCTOR, Store, UploadState
from autograder.portal.web import assignment_or_404, clock, course, signed_in, store
from autograder.tools import manual
from autograder.tools.feedback import clean_html
from autograder.tools.manual import Answer, ManualGradeError
from autograder.tools.similarity import MAX_ANSWER_CHARS

BUSY = "成績簿が使用中で保存できませんでした。もう一度保存してください / the gradebook was busy, save again"
"""The reply when SQLite stays locked by another writer past its wait (nothing was written)."""

_MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable("table").disable("image")
"""The question's Markdown: raw HTML is shown as text, and no image is ever loaded."""

_ANSWER_MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable("table").disable(["image", "heading", "lheading"])
"""Students' Markdown: as the question's, and without headings (a heading line stays a line of text), so that no
answer can set a heading such as 「採点済み 5/5」 among the page's own."""


def markdown_html(text: str, *, renderer: MarkdownIt = _MARKDOWN) -> Markup:
    """``text`` (Markdown) as HTML that can run nothing: no raw HTML, no image, only the feedback allowlist."""
    return Markup(clean_html(renderer.render(text or "")))


def answer_html(text: str) -> Markup:
    """A student's answer as ``markdown_html`` without headings, of its first ``MAX_ANSWER_CHARS`` characters, saying
    so if it is cut."""
    if len(text) <= MAX_ANSWER_CHARS:
        return markdown_html(text, renderer=_ANSWER_MARKDOWN)
    note = f"（長いので最初の {MAX_ANSWER_CHARS:,} 文字だけ表示しています）"
    return (markdown_html(text[:MAX_ANSWER_CHARS], renderer=_ANSWER_MARKDOWN)
            + Markup('<p class="hint truncated">') + note + Markup("</p>"))


def _busy(error: OperationalError) -> bool:
    """SQLite's "database is locked" (or "database table is locked"): another writer held the gradebook too long."""
    return "is locked" in str(error.orig or error)


def _read_points(raw: object, *, required: bool) -> float | None:
    """Points as the form or JSON sent them: a number, or text (full-width digits too); '' is ungraded."""
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        return float(raw)
    text = unicodedata.normalize("NFKC", raw).strip() if isinstance(raw, str) else None
    if text == "" and not required:
        return None
    if text == "":
        raise ManualGradeError("点数を入れてください / the points are missing")
    try:
        return float(text)
    except (TypeError, ValueError):
        raise ManualGradeError(f"点数 {raw!r} が数ではありません / points {raw!r} is not a number") from None


def _text(fields, name: str) -> str:
    value = fields.get(name, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ManualGradeError(f"{name} は文字列で送ってください / {name} must be text")
    return value


def _state(answer: Answer, key: Callable[[str], str] = str) -> dict:
    """What ``manual.js`` shows of one answer after a change (``key``: how the page names the student)."""
    return {"student_id": key(answer.student_id), "points": answer.points, "comment": answer.comment,
            "items": list(answer.items), "adjustment": answer.adjustment, "graded": answer.graded,
            "published": answer.published, "published_points": answer.published_points, "changed": answer.changed}


def _list(fields, name: str) -> list[str]:
    """A list of ids: JSON's list, or a plain form's repeated field."""
    values = fields.get(name, []) if isinstance(fields, dict) else fields.getlist(name)
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ManualGradeError(f"{name} は文字列のリストで送ってください / {name} must be a list of text")
    return values


def rescore(store: Store, course: Course, assignment_id: str, students: list[str]) -> None:
    """Make the score each student's portal page shows (the upload that counts: the instructor's choice, else their
    latest graded one) the total now stored (after a publish, from the portal or from ``manual --publish``)."""
    for student_id in sorted(set(students)):
        # the chosen upload is the gradebook's (a newer graded one keeps its own score); else the newest graded row,
        # not ``store.latest``: a re-upload still queued shows no score yet, and gets the new total (manual points
        # kept) when it is graded, as does a chosen one still waiting to be graded again
        rows = store.uploads_of(student_id, assignment_id)
        row = next((u for u in rows if u["chosen"]), None) or \
            next((u for u in rows if u["state"] == UploadState.DONE), None)
        if row is None or row["state"] != UploadState.DONE or row["status"] != Status.GRADED:
            continue
        result = saved_result(course.assignment(assignment_id), student_id)
        if result.status == Status.GRADED:
            store.mark(row["id"], score=result.score)


bp = Blueprint("manual", __name__)
"""Grading the written answers: the instructor's and the graders' pages (``/instructor/manual/...``)."""


def question(assignment_id: str, grade_id: str) -> tuple[AssignmentConfig, manual.ManualCell]:
    """The assignment and its manually graded cell ``grade_id``, or a 404."""
    found = assignment_or_404(assignment_id)
    try:
        return found, manual.manual_cell(course.assignment(assignment_id), grade_id)
    except ManualGradeError:
        abort(404)


def wants_json() -> bool:
    return request.is_json or request.accept_mimetypes.best == "application/json"


def fields():
    if not request.is_json:
        return request.form
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ManualGradeError("送信の形が正しくありません / the request is not a JSON object")
    return data


def back(assignment_id: str, grade_id: str | None, anchor: str | None = None):
    """Redirect to the question's page (keeping its filter and threshold), at ``anchor`` if given; or to the
    assignment's page (``grade_id`` None)."""
    if grade_id is None:
        return redirect(url_for("manual.manual_assignment", assignment_id=assignment_id), 303)
    url = url_for("manual.manual_question", assignment_id=assignment_id, grade_id=grade_id,
                  ungraded=request.form.get("ungraded") or None, similarity=request.form.get("similarity") or None)
    return redirect(url + (f"#{quote(anchor)}" if anchor else ""), 303)


def masks(assignment_id: str, found: list[Answer] | None = None) -> anonymity.Masks:
    """How the pages name the students of the assignment now (``found``: its answers, if read already)."""
    if found is None:  # a write: the ids to turn keys back into, no names needed
        return anonymity.masks(store, assignment_id, manual.graded_students(course.assignment(assignment_id)))
    return anonymity.masks(store, assignment_id, [a.student_id for a in found],
                           {a.student_id: a.name for a in found})


def stored(assignment_id: str, grade_id: str, students: list[str], message: str, **extra):
    """The JSON reply after a write: the students' answers as stored now and the question's progress."""
    found = manual.answers(course.assignment(assignment_id), grade_id)
    wanted = set(students)
    counts = manual.item_counts(found)
    named = masks(assignment_id, found)
    return jsonify(ok=True, message=named.hide(message),
                   answers=[_state(a, named.key) for a in found if a.student_id in wanted],
                   progress={"graded": sum(a.graded for a in found), "total": len(found),
                             "unpublished": sum(not a.published for a in found)},
                   counts={item.id: counts[item.id] for item in manual.rubric(course.assignment(assignment_id),
                                                                              grade_id)}, **extra)


def refused(error: ManualGradeError | OperationalError, assignment_id: str, grade_id: str | None):
    """A 400 with the bilingual message (JSON), or the message at the top of the page; a 503 when the gradebook
    was busy; any other database failure is a bug of ours or a broken gradebook, raised (a 500)."""
    if isinstance(error, OperationalError) and not _busy(error):
        raise error
    message, status = (BUSY, 503) if isinstance(error, OperationalError) else (str(error), 400)
    message = masks(assignment_id).hide(message)  # an id left in an error (or quoted from the grader) is hidden
    if wants_json():
        return jsonify(ok=False, error=message), status, {"Retry-After": "1"} if status == 503 else {}
    flash(f"保存できませんでした / not saved: {message}")
    return back(assignment_id, grade_id)  # the page's top, where the message is


@bp.get("/instructor/manual/<assignment_id>")
@signed_in(INSTRUCTOR, GRADER)
def manual_assignment(assignment_id):
    found = assignment_or_404(assignment_id)
    progress = manual.progress(course.assignment(assignment_id))
    cells = [{"cell": c, "title": _title(c.prompt), "progress": progress[c.grade_id]}
             for c in manual.manual_cells(course.assignment(assignment_id))]
    return render_template("manual_assignment.html", assignment=found, cells=cells,
                           unpublished=sum(p.unpublished for p in progress.values()),
                           anonymous=store.anonymous(assignment_id))


@bp.post("/instructor/manual/<assignment_id>/anonymous")
@signed_in(INSTRUCTOR)
def manual_anonymous(assignment_id):
    """Turn the assignment's anonymous grading on (``on=1``) or off: the instructor's switch, for every grader's
    pages and their own."""
    assignment_or_404(assignment_id)
    on = request.form.get("on") == "1"
    store.set_anonymous(assignment_id, on, by=g.user.user_id, at=clock())
    flash("匿名採点にしました。採点のページと再採点の依頼では名前と学籍番号を隠し「解答 1」のように示します / "
          "anonymous grading on" if on else "匿名採点をやめました。名前と学籍番号を示します / anonymous grading off")
    return back(assignment_id, None)


@bp.get("/instructor/manual/<assignment_id>/<grade_id>")
@signed_in(INSTRUCTOR, GRADER)
def manual_question(assignment_id, grade_id):
    found_assignment, cell = question(assignment_id, grade_id)
    ungraded = request.args.get("ungraded") == "1"
    similarity = _similarity(request.args.get("similarity"))
    found = manual.answers(course.assignment(assignment_id), grade_id)
    named = masks(assignment_id, found)
    shown = sorted([a for a in found if not a.graded] if ungraded else found, key=lambda a: named.order(a.student_id))
    items = manual.rubric(course.assignment(assignment_id), grade_id)
    grouped = manual.groups(shown, similarity)
    order = [named.key(a.student_id) for group in grouped for a in group]  # the page's order: group after group
    return render_template(
        "manual_question.html", assignment=found_assignment, cell=cell, title=_title(cell.prompt),
        prompt=markdown_html(cell.prompt), ungraded=ungraded, groups=grouped, shown=len(shown),
        similarity=similarity, following=dict(zip(order, order[1:] + [None])),
        graded=sum(a.graded for a in found), total=len(found), unpublished=sum(not a.published for a in found),
        items=items, counts=manual.item_counts(found), render=answer_html, points=manual.points_text,
        signed=manual.signed, key=named.key, who=named.who, anonymous=named.on)


@bp.post("/instructor/manual/<assignment_id>/<grade_id>/grade")
@signed_in(INSTRUCTOR, GRADER)
def manual_grade(assignment_id, grade_id):
    """One answer's items, points in all ('' and no item = ungraded again) and comment, as a draft.

    ``was_points``: the points the form showed.  Points left as they were keep the answer's adjustment (an item
    ticked adds its points); points typed make the adjustment what they add to the items."""
    _, cell = question(assignment_id, grade_id)
    try:
        data = fields()
        named = masks(assignment_id)
        key, comment = _text(data, "student_id"), _text(data, "comment").strip()
        student_id = named.student(key)
        points = _read_points(data.get("points", ""), required=False)
        items = _list(data, "items")
        was = _read_points(data.get("was_points", ""), required=False) if "was_points" in data else None
        work = course.assignment(assignment_id)
        current = next((a for a in manual.answers(work, grade_id) if a.student_id == student_id), None)
        rubric_items = {i.id: i for i in manual.rubric(work, grade_id)}
        if current is not None and current.graded and points is not None and points == was:
            mark = manual.mark_for(rubric_items, cell, points=None, items=items, comment=comment)
            mark = manual.Mark(mark.items, current.adjustment, mark.comment) if mark else \
                manual.Mark((), current.adjustment, comment)
        else:
            mark = manual.mark_for(rubric_items, cell, points=points, items=items, comment=comment,
                                   where=f"{named.who(student_id)} {grade_id}")
        manual.set_marks(work, [(student_id, grade_id, mark)])
        message = f"{named.who(student_id)} を保存しました（下書き） / saved as a draft"
        if wants_json():
            return stored(assignment_id, grade_id, [student_id], message)
    except (ManualGradeError, OperationalError) as e:
        return refused(e, assignment_id, grade_id)
    flash(message)
    following = request.form.get("next")  # in the ungraded view the saved answer is no longer shown
    shown = following if request.form.get("ungraded") and following else key
    return back(assignment_id, grade_id, f"answer-{shown}")


@bp.post("/instructor/manual/<assignment_id>/<grade_id>/rubric")
@signed_in(INSTRUCTOR, GRADER)
def manual_rubric(assignment_id, grade_id):
    """Add a rubric item, or change one (every answer carrying it is graded anew, as a draft)."""
    question(assignment_id, grade_id)
    try:
        data = fields()
        item = manual.save_item(course.assignment(assignment_id), grade_id, _text(data, "text"),
                                _read_points(data.get("points", ""), required=True), _text(data, "item_id") or None)
        carriers = [a.student_id for a in manual.answers(course.assignment(assignment_id), grade_id)
                    if item.id in a.items]
        message = f"評価項目「{item.text}」（{manual.signed(item.points)} 点）を保存しました / rubric item saved"
        if wants_json():
            return stored(assignment_id, grade_id, carriers, message, item=item.__dict__)
    except (ManualGradeError, OperationalError) as e:
        return refused(e, assignment_id, grade_id)
    flash(message)
    return back(assignment_id, grade_id, "rubric")


@bp.post("/instructor/manual/<assignment_id>/<grade_id>/apply")
@signed_in(INSTRUCTOR, GRADER)
def manual_apply(assignment_id, grade_id):
    """A rubric item added to each of the given answers (a group's button, a number key), or taken off
    (``remove``), as drafts."""
    question(assignment_id, grade_id)
    try:
        data = fields()
        keys = data.get("student_ids", []) if request.is_json else request.form.getlist("student_id")
        if not isinstance(keys, list) or not keys or not all(isinstance(s, str) for s in keys):
            raise ManualGradeError("学生が選ばれていません / no students given")
        named = masks(assignment_id)
        students = [named.student(k) for k in keys]
        remove = data.get("remove") in (True, "1")
        manual.apply_item(course.assignment(assignment_id), grade_id, students, _text(data, "item_id"),
                          remove=remove)
        message = (f"{len(students)} 人から評価項目を外しました / rubric item taken off {len(students)}" if remove
                   else f"{len(students)} 人に評価項目を適用しました / rubric item applied to {len(students)}")
        if wants_json():
            return stored(assignment_id, grade_id, students, message)
    except (ManualGradeError, OperationalError) as e:
        return refused(e, assignment_id, grade_id)
    flash(message)
    return back(assignment_id, grade_id, f"answer-{keys[0]}")


def publish(assignment_id: str, grade_id: str | None):
    """Publish one question's grades (or the assignment's): the students' pages and scores follow."""
    from autograder.portal.regrades import journal  # it imports from here

    try:
        published = manual.publish(course.assignment(assignment_id), grade_id,
                                   journal=journal(store, g.user.user_id, clock, assignment_id))
        rescore(store, course, assignment_id, [s for s, _ in published])
        message = f"{len(published)} 件の採点を公開しました / published {len(published)} grades"
        if wants_json() and grade_id is not None:
            return stored(assignment_id, grade_id, [s for s, _ in published], message)
        if wants_json():
            return jsonify(ok=True, message=message, published=len(published))
    except (ManualGradeError, OperationalError) as e:
        return refused(e, assignment_id, grade_id)
    flash(message)
    return back(assignment_id, grade_id)


@bp.post("/instructor/manual/<assignment_id>/<grade_id>/publish")
@signed_in(INSTRUCTOR)
def manual_publish_question(assignment_id, grade_id):
    question(assignment_id, grade_id)
    return publish(assignment_id, grade_id)


@bp.post("/instructor/manual/<assignment_id>/publish")
@signed_in(INSTRUCTOR)
def manual_publish_assignment(assignment_id):
    assignment_or_404(assignment_id)
    return publish(assignment_id, None)


def _similarity(raw: str | None) -> float:
    """The grouping threshold the page asks for (``?similarity=0.6``), kept within 0.1 … 1 (else the default)."""
    try:
        value = float(raw) if raw else manual.GROUP_THRESHOLD
    except ValueError:
        return manual.GROUP_THRESHOLD
    return min(1.0, max(0.1, value)) if math.isfinite(value) else manual.GROUP_THRESHOLD


def _title(prompt: str) -> str:
    """The question's first line without Markdown's heading marks (「問8　偽陰性の意味（5点・先生が採点）」)."""
    first = next((line for line in prompt.splitlines() if line.strip()), "")
    return first.lstrip("#").strip()
