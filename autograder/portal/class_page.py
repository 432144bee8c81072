"""The instructor's class page at a hundred students: per assignment, each student's row, the summary counts, and
the filter and sort the page's query string asks for.

Server-side, with a GET form: the portal's Content-Security-Policy runs no inline script, and a query string
(``?state=errors&sort=score&q=山田``) is a link the instructor can keep.  The rows read the portal's database once
per assignment (``Store.latest_uploads``) and the gradebook once (``results.score_parts``), not once per student.
A score reads 「自動 20/20・手動 未採点」: the automatic part and the written answers' part, as the gradebook holds them
now (manual grading changes them after the upload was graded).  A grader's page leaves the written answers' part out
of an assignment graded anonymously (score, sort and state alike): its marks would name the 「解答 N」 graded.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from autograder.course import AssignmentConfig, Course
from autograder.course.results import ScoreParts, Status, score_parts
from autograder.portal.store import Store, UploadState, User

STATES = {"": "すべて / all", "none": "未提出 / no upload", "waiting": "採点待ち・採点中 / waiting",
          "graded": "採点済み / graded", "errors": "採点できなかった / errors", "manual": "手動採点待ち / manual pending"}
"""The filter's choices (the ``state`` query parameter) and their bilingual labels."""

SORTS = {"id": "学籍番号 / student id", "name": "氏名 / name", "score": "点数の高い順 / score, highest first",
         "low": "点数の低い順 / score, lowest first", "received": "提出の新しい順 / latest upload first"}
"""The sort's choices (the ``sort`` query parameter) and their bilingual labels."""

LONG_MESSAGE = 80
"""Characters of an instructor's message shown in the row; a longer one folds the rest (``<details>``)."""


@dataclass(frozen=True)
class ClassView:
    """What the page's query string asks: a filter by state, a sort, and a text the student id or name contains."""

    state: str = ""
    sort: str = "id"
    text: str = ""

    @classmethod
    def from_query(cls, args: Mapping[str, str]) -> ClassView:
        """The view of ``request.args``; an unknown choice falls back to the default (a stale link still opens)."""
        state, sort = args.get("state", ""), args.get("sort", "id")
        return cls(state if state in STATES else "", sort if sort in SORTS else "id", args.get("q", "").strip()[:100])


@dataclass(frozen=True)
class ClassRow:
    """One student's line of one assignment."""

    student: User
    upload: dict | None
    """Their latest upload whose file is kept, or None (no upload)."""

    parts: ScoreParts | None
    """Their graded submission's score in the gradebook, when the latest upload was graded; else None."""

    feedback: bool
    """Whether their feedback page exists."""

    manual_hidden: bool = False
    """The written answers' part is not shown (a grader's page while the assignment is graded anonymously): its
    published marks, beside the names, would tell which 「解答 N」 of the question pages is whose."""

    @property
    def state(self) -> str:
        """The filter's word for this row: ``none``, ``waiting``, ``errors``, ``manual`` (graded, written answers
        still to grade) or ``graded`` (graded, or settled without grading: late, not a notebook)."""
        if self.upload is None:
            return "none"
        if self.upload["state"] in (UploadState.QUEUED, UploadState.GRADING):
            return "waiting"
        if self.upload["state"] == UploadState.FAILED or self.upload["status"] == Status.ERROR:
            return "errors"
        if self.parts is not None and self.parts.manual_max and (self.parts.manual is None or self.manual_hidden):
            return "manual"  # hidden: every graded row alike, so pending or not says nothing either
        return "graded"

    @property
    def score(self) -> float | None:
        """The points to sort by: the gradebook's now, else the upload's, else None."""
        if self.parts is not None:
            return self.parts.automatic if self.manual_hidden else self.parts.total
        return self.upload["score"] if self.upload else None

    @property
    def score_text(self) -> str:
        """「自動 20/20・手動 未採点」, 「自動 20/20・手動 4/5（計 24/25）」, or the upload's bare score."""
        parts = self.parts
        if parts is None:
            if self.upload is None or self.upload["score"] is None:
                return ""
            return f"{self.upload['score']:g} / {self.upload['max_score']:g}"
        automatic = f"自動 {parts.automatic:g}/{parts.automatic_max:g}"
        if not parts.manual_max:
            return automatic
        if self.manual_hidden:
            return f"{automatic}・手動 （匿名採点中は表示しません）"
        if parts.manual is None:
            return f"{automatic}・手動 未採点"
        return (f"{automatic}・手動 {parts.manual:g}/{parts.manual_max:g}"
                f"（計 {parts.total:g}/{parts.automatic_max + parts.manual_max:g}）")


@dataclass(frozen=True)
class ClassSummary:
    """The counts of one assignment over the whole class (whatever the filter shows)."""

    students: int
    submitted: int
    graded: int
    """Latest upload graded or settled (manual answers pending included)."""

    errors: int
    waiting: int
    manual_pending: int


@dataclass(frozen=True)
class ClassTable:
    """One assignment's part of the page."""

    assignment: AssignmentConfig
    rows: list[ClassRow]
    """The rows the view shows, in its order."""

    summary: ClassSummary


def class_table(course: Course, store: Store, assignment: AssignmentConfig, students: list[User],
                view: ClassView, *, hide_manual: bool = False) -> ClassTable:
    """The rows of ``assignment`` for ``students``, counted, then filtered and sorted as ``view`` asks
    (``hide_manual``: without the written answers' marks, ``ClassRow.manual_hidden``)."""
    latest = store.latest_uploads(assignment.id)
    model = course.assignment(assignment.id)
    # which cells are graded by hand is read from the source notebook; a portal given only the release shows the
    # uploads' bare scores
    parts = score_parts(model) if model.source.is_file() else {}
    rows = []
    for student in students:
        upload = latest.get(student.user_id)
        graded = upload is not None and upload["state"] == UploadState.DONE and upload["status"] == Status.GRADED
        rows.append(ClassRow(student, upload, parts.get(student.user_id) if graded else None,
                             course.feedback_path(assignment.id, student.user_id).is_file(), hide_manual))
    states = [row.state for row in rows]
    summary = ClassSummary(len(rows), sum(s != "none" for s in states), sum(s in ("graded", "manual") for s in states),
                           states.count("errors"), states.count("waiting"), states.count("manual"))
    return ClassTable(assignment, _sorted(_filtered(rows, view), view.sort), summary)


def _filtered(rows: list[ClassRow], view: ClassView) -> list[ClassRow]:
    if view.state:
        rows = [row for row in rows if row.state == view.state or (view.state == "graded" and row.state == "manual")]
    if view.text:
        text = view.text.casefold()
        rows = [row for row in rows if text in row.student.user_id.casefold() or text in row.student.name.casefold()]
    return rows


def _sorted(rows: list[ClassRow], sort: str) -> list[ClassRow]:
    """Rows in the order asked; rows without a score (or an upload) last whichever way scores go."""
    if sort == "name":
        return sorted(rows, key=lambda row: (row.student.name or "\uffff", row.student.user_id))
    if sort in ("score", "low"):
        sign = -1 if sort == "score" else 1
        return sorted(rows, key=lambda row: (row.score is None, sign * (row.score or 0), row.student.user_id))
    if sort == "received":
        return sorted(rows, key=lambda row: (row.upload is None, -(row.upload["id"] if row.upload else 0)))
    return sorted(rows, key=lambda row: row.student.user_id)
