"""The instructor's pages for grading the written answers by question: one cell, every student's answer, a rubric.

Routes (instructor only; every POST needs the CSRF token, as a form field or in the ``X-CSRFToken`` header):

- ``GET  /instructor/manual/<aid>``: the assignment's manually graded cells, each with its progress;
- ``GET  /instructor/manual/<aid>/<grade_id>[?ungraded=1]``: one question — its prompt, the rubric, and every
  student's answer (or the ungraded ones), near-identical answers grouped (``manual.groups``);
- ``POST .../grade`` (``student_id``, ``points`` — empty for ungraded —, ``comment``) → ``manual.set_grade``;
- ``POST .../rubric`` (``text``, ``points``, ``item_id`` to change an item) → ``manual.save_item``;
- ``POST .../apply`` (``item_id``; ``student_ids``, a list, in JSON, ``student_id`` repeated in a form)
  → ``manual.apply_item``.

Each POST takes a plain form (the page without JavaScript: a redirect back to the answer) or JSON
(``static/manual.js``: a JSON reply, and the page updated in place).  A grade that cannot be stored writes nothing
(``manual.set_grades`` is all or nothing): a 400 with ``ManualGradeError``'s bilingual message in JSON, that
message at the top of the page for a plain form.
Storage is ``autograder.tools.manual``'s alone: nbgrader's gradebook and ``manual/<aid>.json``.

Students' answers are their own text: rendered as Markdown with raw HTML and images off (a tag is shown as
text), then through the feedback pages' allowlist (``feedback.clean_html``, which drops ``javascript:`` links),
so nothing a student writes runs in the instructor's browser — and the page's policy runs only the portal's
own script file.
"""
from __future__ import annotations

import unicodedata
from collections.abc import Callable
from urllib.parse import quote

from flask import Flask, abort, flash, jsonify, redirect, render_template, request, url_for
from markdown_it import MarkdownIt
from markupsafe import Markup

from autograder.course import AssignmentConfig, Course
from autograder.portal.store import INSTRUCTOR
from autograder.tools import manual
from autograder.tools.feedback import clean_html
from autograder.tools.manual import Answer, ManualGradeError

_MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable("table").disable("image")
"""Students' Markdown (and the question's): raw HTML is shown as text, and no image is ever loaded."""


def markdown_html(text: str) -> Markup:
    """``text`` (Markdown) as HTML that can run nothing: no raw HTML, no image, only the feedback allowlist."""
    return Markup(clean_html(_MARKDOWN.render(text or "")))


def _points_text(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


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


def _state(answer: Answer) -> dict:
    """What ``manual.js`` shows of one answer after a change."""
    return {"student_id": answer.student_id, "points": answer.points, "comment": answer.comment,
            "item": answer.item, "graded": answer.graded, "changed": answer.changed}


def add_manual_pages(app: Flask, course: Course, *, signed_in: Callable, assignment: Callable) -> None:
    """Add the manual grading routes to the portal ``app``; ``signed_in`` and ``assignment`` are its guards
    (``signed_in(INSTRUCTOR)`` redirects an anonymous visitor and refuses a student; ``assignment(aid)`` is a 404
    for an unknown or unreleased assignment)."""

    def question(assignment_id: str, grade_id: str) -> tuple[AssignmentConfig, manual.ManualCell]:
        """The assignment and its manually graded cell ``grade_id``, or a 404."""
        found = assignment(assignment_id)
        try:
            return found, manual.manual_cell(course, assignment_id, grade_id)
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

    def back(assignment_id: str, grade_id: str, anchor: str | None = None):
        """Redirect to the question's page (keeping its filter), at ``anchor`` if given."""
        url = url_for("manual_question", assignment_id=assignment_id, grade_id=grade_id,
                      ungraded=request.form.get("ungraded") or None)
        return redirect(url + (f"#{quote(anchor)}" if anchor else ""), 303)

    def stored(assignment_id: str, grade_id: str, students: list[str], message: str, **extra):
        """The JSON reply after a write: the students' answers as stored now and the question's progress."""
        found = manual.answers(course, assignment_id, grade_id)
        wanted = set(students)
        return jsonify(ok=True, message=message, answers=[_state(a) for a in found if a.student_id in wanted],
                       progress={"graded": sum(a.graded for a in found), "total": len(found)}, **extra)

    def refused(error: ManualGradeError, assignment_id: str, grade_id: str):
        if wants_json():
            return jsonify(ok=False, error=str(error)), 400
        flash(f"保存できませんでした / not saved: {error}")
        return back(assignment_id, grade_id)  # the page's top, where the message is

    @app.get("/instructor/manual/<assignment_id>")
    @signed_in(INSTRUCTOR)
    def manual_assignment(assignment_id):
        found = assignment(assignment_id)
        progress = manual.progress(course, assignment_id)
        cells = [{"cell": c, "title": _title(c.prompt), "graded": progress[c.grade_id][0],
                  "total": progress[c.grade_id][1]} for c in manual.manual_cells(course, assignment_id)]
        return render_template("manual_assignment.html", assignment=found, cells=cells)

    @app.get("/instructor/manual/<assignment_id>/<grade_id>")
    @signed_in(INSTRUCTOR)
    def manual_question(assignment_id, grade_id):
        found_assignment, cell = question(assignment_id, grade_id)
        ungraded = request.args.get("ungraded") == "1"
        found = manual.answers(course, assignment_id, grade_id)
        shown = [a for a in found if not a.graded] if ungraded else found
        items = manual.rubric(course, assignment_id, grade_id)
        grouped = manual.groups(shown)
        order = [a.student_id for group in grouped for a in group]  # the page's order: group after group
        return render_template(
            "manual_question.html", assignment=found_assignment, cell=cell, title=_title(cell.prompt),
            prompt=markdown_html(cell.prompt), ungraded=ungraded, groups=grouped, shown=len(shown),
            following=dict(zip(order, order[1:] + [None])),
            graded=sum(a.graded for a in found), total=len(found), items=items,
            item_numbers={item.id: number for number, item in enumerate(items, start=1)},
            render=markdown_html, points=_points_text)

    @app.post("/instructor/manual/<assignment_id>/<grade_id>/grade")
    @signed_in(INSTRUCTOR)
    def manual_grade(assignment_id, grade_id):
        """One answer's points ('' = ungraded again) and comment; it keeps its rubric item only if unchanged."""
        question(assignment_id, grade_id)
        try:
            data = fields()
            student_id, comment = _text(data, "student_id"), _text(data, "comment").strip()
            points = _read_points(data.get("points", ""), required=False)
            item_id = _text(data, "item_id") or None
            item = next((i for i in manual.rubric(course, assignment_id, grade_id) if i.id == item_id), None)
            if item is None or points != item.points or comment != item.text:
                item_id = None  # edited by hand: a later change of the item no longer overwrites this grade
            manual.set_grade(course, assignment_id, student_id, grade_id, points, comment, item_id)
        except ManualGradeError as e:
            return refused(e, assignment_id, grade_id)
        message = f"{student_id} を保存しました / saved"
        if wants_json():
            return stored(assignment_id, grade_id, [student_id], message)
        flash(message)
        following = request.form.get("next")  # in the ungraded view the saved answer is no longer shown
        shown = following if request.form.get("ungraded") and following else student_id
        return back(assignment_id, grade_id, f"answer-{shown}")

    @app.post("/instructor/manual/<assignment_id>/<grade_id>/rubric")
    @signed_in(INSTRUCTOR)
    def manual_rubric(assignment_id, grade_id):
        """Add a rubric item, or change one (every answer carrying it is graded anew)."""
        question(assignment_id, grade_id)
        try:
            data = fields()
            item = manual.save_item(course, assignment_id, grade_id, _text(data, "text"),
                                    _read_points(data.get("points", ""), required=True), _text(data, "item_id") or None)
        except ManualGradeError as e:
            return refused(e, assignment_id, grade_id)
        message = f"評価項目「{item.text}」（{item.points:g} 点）を保存しました / rubric item saved"
        if wants_json():
            carriers = [a.student_id for a in manual.answers(course, assignment_id, grade_id) if a.item == item.id]
            return stored(assignment_id, grade_id, carriers, message, item=item.__dict__)
        flash(message)
        return back(assignment_id, grade_id, "rubric")

    @app.post("/instructor/manual/<assignment_id>/<grade_id>/apply")
    @signed_in(INSTRUCTOR)
    def manual_apply(assignment_id, grade_id):
        """A rubric item's points and text onto each of the given answers (a group's button, a number key)."""
        question(assignment_id, grade_id)
        try:
            data = fields()
            students = data.get("student_ids", []) if request.is_json else request.form.getlist("student_id")
            if not isinstance(students, list) or not students or not all(isinstance(s, str) for s in students):
                raise ManualGradeError("学生が選ばれていません / no students given")
            manual.apply_item(course, assignment_id, grade_id, students, _text(data, "item_id"))
        except ManualGradeError as e:
            return refused(e, assignment_id, grade_id)
        message = f"{len(students)} 人に評価項目を適用しました / rubric item applied to {len(students)}"
        if wants_json():
            return stored(assignment_id, grade_id, students, message)
        flash(message)
        return back(assignment_id, grade_id, f"answer-{students[0]}")


def _title(prompt: str) -> str:
    """The question's first line without Markdown's heading marks (「問8　偽陰性の意味（5点・先生が採点）」)."""
    first = next((line for line in prompt.splitlines() if line.strip()), "")
    return first.lstrip("#").strip()
