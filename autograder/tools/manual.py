"""Grading the written answers by question: rubric items, an adjustment and a comment per answer, drafts until published.

An answer's *mark* is what the instructor gave it: the question's rubric items that apply (each worth positive or
negative points), a free adjustment and a comment; its points are the items' sum plus the adjustment, bounded to
0 … the cell's maximum.  Marks are drafts: the students, nbgrader's own feedback and export, ``export``,
``feedback`` and the portal's score see an answer's grade only once the instructor publishes its question or the
assignment (``publish``).  Publishing writes the points and comment where nbgrader's formgrader keeps them
(``Grade.manual_score``, ``Comment.manual_comment`` of that cell): the gradebook is the one home of the published
score, and a draft is never in it.  Beside it, in ``manual/<assignment>.json`` (``Assignment.manual_record``):

- each question's **rubric** (items: text + points); changing an item changes every answer that carries it (a
  draft again until published);
- each answer's **mark** (item ids, adjustment, comment; null: made ungraded) and a **digest of the answer** as it
  was when it was graded, so that a notebook graded again automatically keeps its manual grade and an answer whose
  text has changed since is flagged;
- the **published notes**: the items (text and points as they were published), adjustment and comment that the
  student's feedback page shows under the answer;
- the reasons of the instructor's **overrides** and **extra credit** (``override``, ``extra_credit``: grade_id →
  student → points and reason), written by ``autograder/tools/overrides.py`` under the same lock.

An answer is *published* when the gradebook holds exactly its mark's points and comment (``gradebook_comment``: the
items with their points, the adjustment, a blank line, the comment), so what waits to be published is read from the
two, never kept as a third thing.  An answer the record has no mark for (graded in nbgrader's formgrader, or before
marks) is the gradebook's points and comment, published.

Writers: the portal's request threads and ``manual --import`` in another process may write at once.  Each
read-modify-write of the record and the gradebook holds an ``fcntl.flock`` on ``manual/.<assignment>.lock``
(``_writing``), and ``publish`` stores the two so that a failure leaves both as they were.  After publishing, the
feedback page of each affected student who has one is written again; that is outside the transaction (a page that
cannot be written undoes nothing).

Cost: a student's answer is unbounded text.  Grouping compares its first ``GROUP_CHARS`` characters, and an
autograded notebook is read once per version of its file (``_graded_answers``).

The portal's pages (``autograder/portal/manual_pages.py``) and the command line
(``python -m autograder manual ASSIGNMENT --export/--import/--publish``) both call these functions.

The CSV round trip is exact: points are written as the shortest decimal that reads back as the same number
(``points_text``: 4/3 is ``1.3333333333333333``), read as fractions or decimals (``4/3``, ``1.5``), and a value
within a spreadsheet's 15 digits of the stored one is the stored one, so an unchanged row keeps its mark (items,
adjustment); a field may be as long as the largest notebook accepted (``csv_field_limit``); a student's cell named
twice is refused with both rows named, never the last one silently winning.
"""
from __future__ import annotations

import csv
import fcntl
import functools
import hashlib
import json
import math
import os
import secrets
import threading
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import MappingProxyType
from typing import NamedTuple

import nbformat

from autograder.course import Assignment
from autograder.course.model import gradebook_names
from autograder.course.cells import grade_id as grade_id_of
from autograder.course.cells import is_solution
from autograder.course.csv_cells import SpreadsheetSafeWriter
from autograder.course.results import Status, load_status, manual_points
from autograder.errors import AutograderError, log
from autograder.tools.feedback_child import build_pages
from autograder.tools.similarity import DELIMITER, normalise_markdown

GROUP_THRESHOLD = 0.35
"""Answers at least this similar (the cosine of their character 2–3-gram TF-IDF vectors, see ``groups``) are shown
as one group that one rubric click grades; the page lets the instructor change it.  On kadai5's 問8, two wordings
of the same three points score about 0.4, answers with another reason under 0.1."""

GROUP_CHARS = 2_000
"""Characters of an answer compared when grouping, from its start: a written answer has a few hundred, and the
cost of a class of 300 stays under a second whatever is pasted."""

CSV_COLUMNS = ("student_id", "name", "grade_id", "max_points", "points", "items", "adjustment", "comment",
               "published", "answer")
"""The columns of ``--export`` and ``--import``.  ``items``: the numbers of the rubric items that apply (as the page
numbers them, space-separated); ``points``: the total, which wins over ``items`` + ``adjustment`` when it is filled
in; ``max_points``, ``published`` and ``answer`` are for reading."""

SAME_POINTS = 1e-12
"""Relative difference under which imported points are the stored ones: a spreadsheet keeps 15 significant digits
(``1.33333333333333`` for 4/3), and no rubric needs points finer than this."""

GRADED_NOTEBOOKS_CACHED = 512
"""Autograded notebooks whose answers are kept in memory (one per student and assignment: a class or two)."""

class ManualGradeError(AutograderError):
    """A manual grade that cannot be stored: points out of range, an unknown student or cell (message bilingual)."""

    exit_code = 2


@dataclass(frozen=True)
class ManualCell:
    """A cell the instructor grades by hand."""

    grade_id: str
    max_points: float
    prompt: str
    """The question as the notebook asks it: the Markdown cell just above the answer cell."""


@dataclass(frozen=True)
class RubricItem:
    """One line of a question's rubric: what the answer does (or misses) and the points that earns (or costs)."""

    id: str
    text: str
    points: float
    """Positive (「理由 +2」) or negative (「計算ミス −1」); an answer's total is bounded to 0 … the cell's points."""


@dataclass(frozen=True)
class Mark:
    """What the instructor gave one answer: the rubric items that apply, a free adjustment and a comment.

    The points follow from it (``Mark.points``): the items' sum plus the adjustment, bounded to 0 … the cell's
    maximum.  The gradebook holds the points and comment that were last *published*; the mark is kept beside it."""

    items: tuple[str, ...] = ()
    """Ids of the question's rubric items that apply, in the rubric's order."""

    adjustment: float = 0.0
    """Points added to (or taken from) the items' sum; with no item, the answer's points themselves."""

    comment: str = ""
    """The instructor's own words to the student, apart from the items."""

    def points(self, rubric: Mapping[str, RubricItem], max_points: float) -> float:
        total = sum(rubric[i].points for i in self.items if i in rubric) + self.adjustment
        return min(max_points, max(0.0, float(total)))


@dataclass
class Answer:
    """One student's answer to one manually graded cell, and its grade so far."""

    student_id: str
    name: str
    grade_id: str
    text: str
    """The answer as the student wrote it (solution markers removed)."""

    max_points: float
    points: float | None
    """The instructor's points as graded now (what publishing gives), or None while ungraded."""

    comment: str
    """The instructor's own comment (without the items)."""

    items: tuple[str, ...]
    """The rubric items that apply (their ids)."""

    adjustment: float
    published_points: float | None
    """The points the gradebook holds: what the student sees (None: nothing yet)."""

    published: bool
    """The gradebook holds exactly this grade: nothing of it waits to be published."""

    changed: bool
    """The answer's text is not the one that was graded (the notebook was submitted and graded again since)."""

    @property
    def graded(self) -> bool:
        return self.points is not None

    @property
    def mark(self) -> Mark | None:
        return None if self.points is None else Mark(self.items, self.adjustment, self.comment)


class Progress(NamedTuple):
    """How far one question's grading is."""

    graded: int
    total: int
    unpublished: int
    """Answers whose grade (or its removal) the students do not see yet."""


@dataclass(frozen=True)
class PublishedNote:
    """A published grade as the student's feedback page shows it under the answer (the rubric as it was published)."""

    points: float
    items: tuple[tuple[str, float], ...]
    """(text, points) of each item that applies."""

    adjustment: float
    comment: str


def manual_cells(assignment: Assignment) -> list[ManualCell]:
    """The cells of ``assignment.id`` the instructor grades by hand, in notebook order, each with its question."""
    source = assignment.source_notebook
    manual = {c.grade_id: c for c in assignment.graded_cells if c.manual}
    found, prompt = [], ""
    for cell in source.cells:
        grade_id = grade_id_of(cell)
        if grade_id in manual:
            found.append(ManualCell(grade_id, manual[grade_id].points, prompt))
        elif cell.cell_type == "markdown":
            prompt = cell.source
    return found


def manual_cell(assignment: Assignment, grade_id: str) -> ManualCell:
    for cell in manual_cells(assignment):
        if cell.grade_id == grade_id:
            return cell
    raise ManualGradeError(f"{assignment.id} に手で採点するセル {grade_id!r} はありません / "
                           f"{assignment.id} has no manually graded cell {grade_id!r}")


def digest(text: str) -> str:
    """What is kept of an answer's text when it is graded: enough to tell that it changed."""
    return hashlib.sha256(normalise_markdown(text).encode("utf-8")).hexdigest()


def signed(points: float) -> str:
    """Points with their sign, as a rubric shows them: ＋2, −1 (a real minus sign)."""
    return f"{points:+g}".replace("-", "−")


def gradebook_comment(mark: Mark | None, rubric: Mapping[str, RubricItem]) -> str:
    """The comment nbgrader's gradebook keeps for ``mark`` (so that nbgrader's own views say what the student's page
    says): one line per item with its points, the adjustment, then a blank line and the instructor's comment."""
    if mark is None:
        return ""
    lines = [f"・{rubric[i].text}（{signed(rubric[i].points)} 点）" for i in mark.items if i in rubric]
    if lines and mark.adjustment:
        lines.append(f"・調整（{signed(mark.adjustment)} 点）")
    if mark.comment:
        lines += ["", mark.comment] if lines else [mark.comment]
    return "\n".join(lines)


# ---- the record beside the gradebook: rubric, marks, what was published, graded digests
def _record_text(assignment: Assignment) -> str | None:
    """The record file's text as it is now, or None if there is none yet."""
    path = assignment.manual_record
    return path.read_text(encoding="utf-8") if path.is_file() else None


def _parse(text: str | None) -> dict:
    """The record: ``rubric`` (grade_id → items), ``marks`` (grade_id → student → mark, null: made ungraded),
    ``published`` (grade_id → student → the note the student's page shows) and ``graded`` (grade_id → student →
    digest of the answer graded)."""
    record = json.loads(text) if text else {}
    for key in ("rubric", "marks", "published", "graded", "override", "extra_credit"):  # the last two: overrides.py
        record.setdefault(key, {})
    for grade_id, applied in record.pop("applied", {}).items():  # a record of one item per answer (until 2026-12)
        marks = record["marks"].setdefault(grade_id, {})
        for student_id, item in applied.items():
            marks.setdefault(student_id, {"items": [item], "adjustment": 0.0, "comment": ""})
    return record


def _read(assignment: Assignment) -> dict:
    return _parse(_record_text(assignment))


def _record_and_commit(gb, assignment: Assignment, record: dict, previous: str | None,
                       journal: Callable[[list], None] | None, changes: list) -> None:
    """Write ``record``, journal ``changes`` and commit the gradebook's session; if the journal or the commit fails,
    the record file is ``previous`` again (the caller rolls the session back): all three or none."""
    _write(assignment, record)
    try:
        if journal is not None:
            journal(changes)
        gb.db.commit()
    except BaseException:
        _replace(assignment, previous)
        raise


def _write(assignment: Assignment, record: dict) -> None:
    _replace(assignment, json.dumps(record, ensure_ascii=False, indent=1))


def _replace(assignment: Assignment, text: str | None) -> None:
    """Make the record file ``text`` (None: no file)."""
    path = assignment.manual_record
    if text is None:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)  # a reader sees the old record or the new one, never half of it


@contextmanager
def _writing(assignment: Assignment, purpose: str = "") -> Iterator[None]:
    """Hold the assignment's write lock: one writer of its record and manual grades at a time, whether the others
    are the portal's request threads or ``manual --import`` in another process.

    An ``fcntl.flock`` on ``manual/.<assignment>.lock`` (``purpose`` names another lock beside it).  Each call opens
    the file anew, and a flock belongs to its open file, so threads of one process exclude each other as processes
    do; the lock goes when the file is closed, also when the process dies.  Not re-entrant: never nested.
    """
    folder = assignment.manual_record.parent
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f".{assignment.id}{purpose}.lock", "a", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _rubric_of(record: dict, grade_id: str) -> dict[str, RubricItem]:
    return {item["id"]: RubricItem(**item) for item in record["rubric"].get(grade_id, [])}


def _mark_of(stored: dict | None) -> Mark | None:
    if stored is None:
        return None
    return Mark(tuple(stored.get("items", ())), float(stored.get("adjustment", 0.0)), stored.get("comment", ""))


def _stored(mark: Mark | None) -> dict | None:
    return None if mark is None else {"items": list(mark.items), "adjustment": mark.adjustment, "comment": mark.comment}


def rubric(assignment: Assignment, grade_id: str) -> list[RubricItem]:
    """The items of one question's rubric, in the order they were made (the page numbers them 1, 2, …)."""
    return list(_rubric_of(_read(assignment), grade_id).values())


def published_notes(assignment: Assignment, student_id: str) -> dict[str, PublishedNote]:
    """grade_id → the student's grade as it was published (for their feedback page).  Its points are the
    gradebook's when they were published: the page shows a note only where they still agree."""
    notes = {}
    for grade_id, students in _read(assignment)["published"].items():
        if (note := students.get(student_id)) is not None:
            notes[grade_id] = PublishedNote(float(note["points"]), tuple((t, float(p)) for t, p in note["items"]),
                                            float(note["adjustment"]), note["comment"])
    return notes


# ---- reading the answers
@dataclass(frozen=True)
class _GradedAnswer:
    text: str
    """The answer cell's source, solution markers removed."""

    digest: str
    """``digest(text)``: computed once per version of the notebook (a long answer costs a pass over its text)."""


def _graded_answers(assignment: Assignment, student_id: str) -> Mapping[str, _GradedAnswer]:
    """grade_id → the student's answer in each answer cell of the notebook that was graded (none if it is unreadable).

    Every page view and save reads every student's answers: the notebook is parsed once per version of its file.
    """
    path = assignment.autograded(student_id)
    try:
        found = path.stat()
    except OSError:
        return MappingProxyType({})
    return _notebook_answers(str(path), found.st_mtime_ns, found.st_size)


@functools.lru_cache(maxsize=GRADED_NOTEBOOKS_CACHED)
def _notebook_answers(path: str, mtime_ns: int, size: int) -> Mapping[str, _GradedAnswer]:
    """The answers of the notebook at ``path`` as it was at ``mtime_ns`` with ``size`` bytes (the cache's key: a
    notebook written again is read again).  Read-only: one mapping is shared by every caller."""
    try:
        notebook = nbformat.read(path, as_version=4)
    except (OSError, ValueError):  # not there, or not a notebook: no answers to grade
        return MappingProxyType({})
    answers = {}
    for cell in notebook.cells:
        if is_solution(cell) and (grade_id := grade_id_of(cell)) is not None:
            text = DELIMITER.sub("", cell.source).strip()
            answers[grade_id] = _GradedAnswer(text, digest(text))
    return MappingProxyType(answers)


_NO_ANSWER = _GradedAnswer("", digest(""))


def graded_students(assignment: Assignment) -> list[str]:
    """Students whose submission was graded (status ``graded``): the ones with answers to grade by hand."""
    return [s for s in assignment.course.student_ids()
            if (load_status(assignment.autograded_dir(s)) or {}).get("status") == Status.GRADED]


def answers(assignment: Assignment, grade_id: str) -> list[Answer]:
    """Every graded student's answer to ``grade_id``, graded as the record and the gradebook say, by student id."""
    cell = manual_cell(assignment, grade_id)
    with assignment.course.gradebook() as gb:
        return _answers(gb, assignment, cell, _read(assignment))


def _answers(gb, assignment: Assignment, cell: ManualCell, record: dict) -> list[Answer]:
    """``answers`` from an open gradebook and a record already read.

    An answer's mark is the record's; one the record does not know (graded before the record kept marks, or in
    nbgrader's formgrader) is the gradebook's points and comment as they are, published."""
    from nbgrader.api import MissingEntry

    grade_id = cell.grade_id
    items = _rubric_of(record, grade_id)
    marks, graded_digest = record["marks"].get(grade_id, {}), record["graded"].get(grade_id, {})
    names = gradebook_names(gb)
    found = []
    for student_id in graded_students(assignment):
        try:
            grade = gb.find_grade(grade_id, assignment.id, assignment.id, student_id)
            note = gb.find_comment(grade_id, assignment.id, assignment.id, student_id)
        except MissingEntry:
            continue
        answer = _graded_answers(assignment, student_id).get(grade_id, _NO_ANSWER)
        published_points, published_comment = manual_points(grade), note.manual_comment or ""
        if student_id in marks:
            mark = _mark_of(marks[student_id])
        else:
            mark = None if published_points is None else Mark((), published_points, published_comment)
        points = None if mark is None else mark.points(items, cell.max_points)
        published = (points, gradebook_comment(mark, items)) == (published_points, published_comment) \
            if mark is not None else published_points is None
        found.append(Answer(student_id, names.get(student_id, ""), grade_id, answer.text, cell.max_points, points,
                            mark.comment if mark else "", mark.items if mark else (),
                            mark.adjustment if mark else 0.0, published_points, published,
                            points is not None and graded_digest.get(student_id) not in (None, answer.digest)))
    return found


def progress(assignment: Assignment) -> dict[str, Progress]:
    """grade_id → how many answers are graded, of how many, and how many wait to be published."""
    result = {}
    for cell in manual_cells(assignment):
        found = answers(assignment, cell.grade_id)
        result[cell.grade_id] = Progress(sum(a.graded for a in found), len(found), sum(not a.published for a in found))
    return result


def item_counts(found: Iterable[Answer]) -> Counter:
    """Rubric item id → how many of ``found`` carry it (as graded now)."""
    return Counter(item for answer in found if answer.graded for item in answer.items)


def unpublished(assignment: Assignment) -> dict[str, list[str]]:
    """student_id → the questions whose grade (or its removal) waits to be published (only students with some)."""
    waiting: dict[str, list[str]] = {}
    for cell in manual_cells(assignment):
        for answer in answers(assignment, cell.grade_id):
            if not answer.published:
                waiting.setdefault(answer.student_id, []).append(cell.grade_id)
    return waiting


def groups(found: list[Answer], threshold: float = GROUP_THRESHOLD) -> list[list[Answer]]:
    """Answers saying nearly the same thing together (each group in student order, groups by their first member).

    Each answer is ``comparable`` text cut into its character 2- and 3-grams, weighed by TF-IDF (scikit-learn's
    ``TfidfVectorizer``: n-grams every answer shares, such as the question's own words, count for little), and
    two answers' similarity is the cosine of their vectors (0 … 1).  One pass then puts each answer in the first
    group whose first member it is at least ``threshold`` similar to.  Japanese has no spaces to cut words at:
    character n-grams need no dictionary and survive kana/kanji variants of a phrase in part.

    Cost: only the first ``GROUP_CHARS`` characters of an answer count, so one vectorisation and one sparse
    product for a class of 300 take well under a second, however long an answer is.  Empty answers are one group;
    answers too short for a 2-gram group with their equals.
    """
    keys = [comparable(answer.text[:GROUP_CHARS * 2])[:GROUP_CHARS] for answer in found]
    measured = [i for i, key in enumerate(keys) if len(key) >= 2]
    similarity = None
    if measured:
        from sklearn.feature_extraction.text import TfidfVectorizer

        vectors = TfidfVectorizer(analyzer="char", ngram_range=(2, 3), sublinear_tf=True).fit_transform(
            [keys[i] for i in measured])
        similarity = (vectors @ vectors.T).toarray()  # rows are L2-normalised: the cosine
    row = {index: position for position, index in enumerate(measured)}
    heads: list[tuple[int, list[Answer]]] = []
    for index, answer in enumerate(found):
        for head, members in heads:
            if index in row and head in row:
                alike = similarity[row[index], row[head]] >= threshold - 1e-9
            else:
                alike = keys[index] == keys[head]  # empty or one character: only the same text
            if alike:
                members.append(answer)
                break
        else:
            heads.append((index, [answer]))
    return [members for _, members in heads]


def comparable(text: str) -> str:
    """An answer as grouping compares it: NFKC (full- and half-width alike), lower case, katakana as hiragana, and
    without whitespace, punctuation or symbols (Japanese and ASCII)."""
    folded = unicodedata.normalize("NFKC", text).lower()
    return "".join(chr(ord(ch) - 0x60) if "ァ" <= ch <= "ヶ" else ch for ch in folded
                   if not unicodedata.category(ch).startswith(("P", "Z", "S", "C")))


# ---- writing marks (drafts) and publishing them
def _check_points(points: float, cell: ManualCell, where: str, *, low: float = 0.0) -> float:
    """``points`` as a float if it is a number in ``low`` … the cell's maximum; else ``ManualGradeError``."""
    if isinstance(points, bool) or not isinstance(points, (int, float)) or not math.isfinite(points):
        raise ManualGradeError(f"{where}: 点数が数ではありません / points must be a number")
    if not low <= points <= cell.max_points:
        raise ManualGradeError(f"{where}: 点数 {points:g} は {low:g}〜{cell.max_points:g} 点の範囲にありません / "
                               f"points {points:g} outside {low:g}–{cell.max_points:g}")
    return float(points)


def mark_for(rubric_items: Mapping[str, RubricItem], cell: ManualCell, *, points: float | None,
             items: Iterable[str] = (), comment: str = "", where: str = "") -> Mark | None:
    """The mark that gives ``points`` in all (None: the items' sum) with ``items`` applied: the adjustment is what
    the points add to the items' sum (typing 4 over items worth 5 is an adjustment of −1).  None: ungraded.

    Raises ``ManualGradeError`` for points outside 0 … the cell's maximum or an item not in the rubric."""
    where = where or cell.grade_id
    chosen = []
    for item in items:
        if item not in rubric_items:
            raise ManualGradeError(f"{where}: 評価項目 {item!r} はありません / no rubric item {item!r}")
        chosen.append(item)
    order = list(rubric_items)
    chosen = tuple(sorted(set(chosen), key=order.index))
    if points is None and not chosen:
        return None
    if points is None:
        return Mark(chosen, 0.0, comment.strip())
    points = _check_points(points, cell, where)
    return Mark(chosen, points - sum(rubric_items[i].points for i in chosen), comment.strip())


def set_marks(assignment: Assignment, marks: list[tuple[str, str, Mark | None]]) -> None:
    """Store ``(student_id, grade_id, mark or None for ungraded)`` for each answer, all or nothing.

    Raises ``ManualGradeError`` (nothing written) for an unknown cell, item or student, or an adjustment that is
    not a number.  A draft: the students see nothing of it until ``publish``."""
    with _writing(assignment):
        record = _read(assignment)
        _store_marks(assignment, record, marks)


def _store_marks(assignment: Assignment, record: dict, marks: list[tuple[str, str, Mark | None]]) -> None:
    """``set_marks`` on ``record`` as read under ``_writing``, which the caller holds."""
    cells = {c.grade_id: c for c in manual_cells(assignment)}
    known = set(graded_students(assignment))
    for student_id, grade_id, mark in marks:
        where = f"{student_id} {grade_id}"
        if grade_id not in cells:
            manual_cell(assignment, grade_id)  # raises with its message
        if student_id not in known:
            raise ManualGradeError(f"{student_id} の {assignment.id} は採点されていません / "
                                   f"{student_id} has no graded submission of {assignment.id}")
        if mark is None:
            continue
        items = _rubric_of(record, grade_id)
        if unknown := [i for i in mark.items if i not in items]:
            raise ManualGradeError(f"{where}: 評価項目 {unknown[0]!r} はありません / no rubric item {unknown[0]!r}")
        if not math.isfinite(mark.adjustment):
            raise ManualGradeError(f"{where}: 調整の点数が数ではありません / the adjustment must be a number")
    for student_id, grade_id, mark in marks:
        record["marks"].setdefault(grade_id, {})[student_id] = _stored(mark)
        graded = record["graded"].setdefault(grade_id, {})
        if mark is None:
            graded.pop(student_id, None)
        else:
            graded[student_id] = _graded_answers(assignment, student_id).get(grade_id, _NO_ANSWER).digest
    _write(assignment, record)


def set_grade(assignment: Assignment, student_id: str, grade_id: str, points: float | None,
              comment: str = "", items: Iterable[str] = ()) -> None:
    """One answer's points in all (None and no items: ungraded again), its items and comment; see ``mark_for``."""
    cell = manual_cell(assignment, grade_id)
    mark = mark_for(_rubric_of(_read(assignment), grade_id), cell, points=points, items=items, comment=comment,
                    where=f"{student_id} {grade_id}")
    set_marks(assignment, [(student_id, grade_id, mark)])


def save_item(assignment: Assignment, grade_id: str, text: str, points: float,
              item_id: str | None = None) -> RubricItem:
    """Add a rubric item to ``grade_id`` (``item_id`` None) or change one: every answer carrying it is graded
    anew with it (the change waits to be published like any other)."""
    cell = manual_cell(assignment, grade_id)
    points = _check_points(points, cell, f"{grade_id} の評価項目 / rubric item", low=-cell.max_points)
    text = text.strip()
    if not text:
        raise ManualGradeError("評価項目の文が空です / a rubric item needs its text")
    with _writing(assignment):
        record = _read(assignment)
        items = record["rubric"].setdefault(grade_id, [])
        if item_id is None:
            item = RubricItem(secrets.token_hex(4), text, points)
            items.append(item.__dict__)
        else:
            for existing in items:
                if existing["id"] == item_id:
                    existing.update(text=text, points=points)
                    break
            else:
                raise ManualGradeError(f"評価項目 {item_id!r} はありません / no rubric item {item_id!r}")
            item = RubricItem(item_id, text, points)
        _write(assignment, record)
    return item


def apply_item(assignment: Assignment, grade_id: str, students: list[str], item_id: str, *,
               remove: bool = False) -> None:
    """Add the rubric item to each of ``students``' answers (``remove``: take it off), keeping their other items,
    adjustment and comment (one click on a group, a number key)."""
    cell = manual_cell(assignment, grade_id)
    with _writing(assignment):  # read and written under one lock: two clicks at once each keep the other's item
        record = _read(assignment)
        items = _rubric_of(record, grade_id)
        if item_id not in items:
            raise ManualGradeError(f"評価項目 {item_id!r} はありません / no rubric item {item_id!r}")
        with assignment.course.gradebook() as gb:
            current = {a.student_id: a for a in _answers(gb, assignment, cell, record)}
        order = list(items)
        marks = []
        for student_id in students:
            found = current.get(student_id)
            mark = (found.mark if found is not None else None) or Mark()
            chosen = set(mark.items) - {item_id} if remove else set(mark.items) | {item_id}
            changed = Mark(tuple(sorted(chosen, key=order.index)), mark.adjustment, mark.comment)
            marks.append((student_id, grade_id, None if changed == Mark() else changed))
        _store_marks(assignment, record, marks)


class PublishedChange(NamedTuple):
    """One published grade that publishing changed, for the journal of changes (``publish``'s ``journal``)."""

    student_id: str
    grade_id: str
    before_points: float | None
    """What the student saw before (None: nothing published yet)."""

    after_points: float | None
    """What the student sees now (None: made ungraded)."""

    before_comment: str
    after_comment: str


def publish(assignment: Assignment, grade_id: str | None = None, *, students: Iterable[str] | None = None,
            journal: Callable[[list[PublishedChange]], None] | None = None) -> list[tuple[str, str]]:
    """Make the students see their grades as marked now, for one question (``grade_id``) or every one (``students``:
    only theirs — one answer re-published after a regrade request): the points and comment of each answer whose
    grade changed go to nbgrader's gradebook (``Grade.manual_score``, ``Comment.manual_comment``, the one home of the
    score), the notes their feedback pages show to the record, both or neither; then the late penalty (under
    ``penalty``) and the feedback pages of those who have one.

    ``journal`` receives every change before the gradebook commits (the portal's append-only log of changes): if it
    raises, nothing is published — no published grade changes without its record.

    Returns the (student_id, grade_id) published.  Raises ``ManualGradeError`` for an unknown cell; SQLAlchemy's
    ``OperationalError`` (nothing written) when the gradebook stays busy."""
    cells = [manual_cell(assignment, grade_id)] if grade_id is not None else manual_cells(assignment)
    only = None if students is None else set(students)
    with _writing(assignment):
        previous = _record_text(assignment)
        record = _parse(previous)
        with assignment.course.gradebook() as gb:
            pending = [(cell, a) for cell in cells for a in _answers(gb, assignment, cell, record)
                       if not a.published and (only is None or a.student_id in only)]
            if not pending:
                return []
            changes = []
            try:
                for cell, answer in pending:
                    before = gb.find_comment(cell.grade_id, assignment.id, assignment.id, answer.student_id)
                    before_comment = before.manual_comment or ""
                    _publish_one(gb, record, assignment, cell, answer)
                    changes.append(PublishedChange(answer.student_id, cell.grade_id, answer.published_points,
                                                   answer.points, before_comment,
                                                   gradebook_comment(answer.mark, _rubric_of(record, cell.grade_id))))
                gb.db.flush()  # a busy database or a missing row fails here, with nothing written anywhere
                _record_and_commit(gb, assignment, record, previous, journal, changes)
            except BaseException:
                gb.db.rollback()
                raise
        students = {a.student_id for _, a in pending}
        _late_penalties(assignment, students)  # from the totals just committed: locked
    _rewrite_feedback(assignment, students)
    return [(a.student_id, cell.grade_id) for cell, a in pending]


def _publish_one(gb, record: dict, assignment: Assignment, cell: ManualCell, answer: Answer) -> None:
    """Set one answer's published grade in an open gradebook (committed by the caller) and its note in ``record``.

    The gradebook first, then the record (``publish`` commits the gradebook last, after the record file is written,
    so that a failure of either leaves both as they were: a transaction not committed is undone by a rollback, a
    replaced file only by writing its old text back)."""
    grade = gb.find_grade(cell.grade_id, assignment.id, assignment.id, answer.student_id)
    note = gb.find_comment(cell.grade_id, assignment.id, assignment.id, answer.student_id)
    items = _rubric_of(record, cell.grade_id)
    mark = answer.mark
    grade.manual_score = answer.points
    grade.needs_manual_grade = answer.points is None
    note.manual_comment = gradebook_comment(mark, items) or None
    notes = record["published"].setdefault(cell.grade_id, {})
    if mark is None:
        notes.pop(answer.student_id, None)
    else:
        notes[answer.student_id] = {"points": answer.points, "adjustment": mark.adjustment, "comment": mark.comment,
                                    "items": [[items[i].text, items[i].points] for i in mark.items if i in items]}


def _rewrite_feedback(assignment: Assignment, students: Iterable[str]) -> None:
    """Write again the feedback page of each of ``students`` who has one, so the page shows their points now.

    The grades are stored already: a page that cannot be written is logged, not raised, and never undoes them.
    The pages are built in a feedback child (``feedback_child.build_pages``: never in the portal's process, each page
    under its time limit, a plain page past it), one writer at a time (a lock of their own, so that saving other
    answers need not wait for nbconvert): each writer reads the gradebook after its own commit, so the last page
    written is the newest.
    """
    with_pages = sorted(s for s in set(students) if assignment.feedback(s).is_file())
    if not with_pages:
        return
    try:
        with _writing(assignment, ".feedback"):
            built = build_pages(assignment, with_pages)
        for page in built:
            if page.why is not None:
                log.warning(f"{assignment.id}: {page.student_id} のフィードバックは簡単な形のページにしました / "
                            f"plain feedback page for {page.student_id}: {page.why}")
    except Exception as e:  # whatever nbconvert or the disk raises: the grades stand, the warning says what to redo
        who = ", ".join(with_pages)
        log.warning(f"{assignment.id}: {who} のフィードバックページを書き直せませんでした（点数は保存済みです。"
                    f"python -m autograder feedback {assignment.id} で書き直してください） / could not rewrite the "
                    f"feedback pages of {who} (the grades are saved; run feedback {assignment.id}): {e!r}")


def _late_penalties(assignment: Assignment, students: set[str]) -> None:
    """Under the ``penalty`` policy, nbgrader's late plugin again on each total, manual points included
    (it ran at autograde time on the automatic points alone)."""
    if assignment.course.config.late_policy != "penalty" or not students:
        return
    from nbgrader.preprocessors import AssignLatePenalties

    from autograder.course.nbgrader_setup import grading_resources, nbgrader_config

    config = nbgrader_config(assignment.course)
    for student_id in sorted(students):
        AssignLatePenalties(config=config).preprocess(nbformat.v4.new_notebook(),
                                                      grading_resources(assignment.course, assignment.id, student_id))


# ---- the command line's CSV
def points_text(points: float | None) -> str:
    """Points as the CSV holds them: empty for ungraded, else the shortest decimal that reads back as exactly the same
    number (``repr``: ``2.5``, ``5``, ``1.3333333333333333`` for 4/3), so an unchanged row imports to the same value."""
    if points is None:
        return ""
    return repr(float(points)).removesuffix(".0")


def read_points(raw: str) -> float:
    """Points as the instructor may write them in the CSV: a decimal (``1.5``, ``1.3333333333333333``) or a fraction
    (``4/3``), as the nearest float; raises ``ValueError`` for anything else (``nan``, ``inf``, words)."""
    try:
        return float(Fraction(raw.strip()))
    except ZeroDivisionError:
        raise ValueError(raw) from None


def _same_points(imported: float, stored: float | None) -> bool:
    return stored is not None and math.isclose(imported, stored, rel_tol=SAME_POINTS, abs_tol=SAME_POINTS)


def csv_field_limit(assignment: Assignment) -> int:
    """The longest CSV field ``--import`` reads: the largest notebook the course accepts (the portal's and
    ``collect``'s limits, in bytes), which no answer's characters can outnumber; Python's default (131,072) made
    one student's 200,000-character answer fail the whole class's import."""
    config = assignment.course.config
    return max(config.portal_upload_mb, config.collect_notebook_mb) * 2**20


@contextmanager
def _field_limit(limit: int) -> Iterator[None]:
    """``csv.field_size_limit`` raised to ``limit`` for the body (it is the csv module's, process-wide), then restored."""
    previous = csv.field_size_limit(max(limit, csv.field_size_limit()))
    try:
        yield
    finally:
        csv.field_size_limit(previous)


def export_answers(assignment: Assignment, out: Path) -> int:
    """Write one row per student and manually graded cell (``CSV_COLUMNS``) to ``out``; returns the rows written."""
    rows = 0
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="", encoding="utf-8-sig") as f:
        writer = SpreadsheetSafeWriter(csv.writer(f))  # answers and names are students' text: never a live formula
        writer.writerow(CSV_COLUMNS)
        for cell in manual_cells(assignment):
            numbers = {item.id: n for n, item in enumerate(rubric(assignment, cell.grade_id), start=1)}
            for a in answers(assignment, cell.grade_id):
                writer.writerow([a.student_id, a.name, a.grade_id, points_text(a.max_points), points_text(a.points),
                                 " ".join(str(numbers[i]) for i in a.items if i in numbers),
                                 points_text(a.adjustment) if a.graded and (a.items or a.adjustment) else "",
                                 a.comment, "yes" if a.published else "no", a.text])
                rows += 1
    return rows


def import_answers(assignment: Assignment, path: Path) -> int:
    """Read marks back from a CSV of ``export_answers``'s shape, as drafts; all rows or none (returns how many
    answers changed: a row whose mark is the one stored already is left as it is).

    A row's ``items`` are rubric numbers; a filled ``points`` is the total (the adjustment is what it adds to the
    items), else ``items`` + ``adjustment``; all three empty leave the answer ungraded.  A file of the shape before
    items (no ``items`` column) gives points and comment alone.  Numbers are read by ``read_points`` (``4/3`` is
    4/3), and one within ``SAME_POINTS`` of the stored one is the stored one.  Raises ``ManualGradeError`` naming each
    wrong row, a student's cell given twice naming both rows.
    """
    from autograder.course.csv_cells import unneutralise

    try:
        with _field_limit(csv_field_limit(assignment)), open(path, newline="", encoding="utf-8-sig") as f:
            table = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise ManualGradeError(f"{path} を読めません / cannot read {path}: {e}") from None
    if not table:
        return 0
    missing = [c for c in ("student_id", "grade_id", "points", "comment") if c not in table[0]]
    if missing:
        raise ManualGradeError(f"{path}: 列 {missing} がありません / missing columns {missing}")
    cells = {c.grade_id: c for c in manual_cells(assignment)}
    record = _read(assignment)
    rubrics = {g: _rubric_of(record, g) for g in cells}
    found = {(a.student_id, a.grade_id): a for g in cells for a in answers(assignment, g)}
    current = {key: a.mark for key, a in found.items()}
    marks, problems, seen = [], [], {}
    for number, row in enumerate(table, start=2):  # row 1 is the header
        student_id, grade_id = (row.get("student_id") or "").strip(), (row.get("grade_id") or "").strip()
        where = f"{path.name} {number} 行目 / row {number}"
        if grade_id not in cells:
            problems.append(f"{where}: 手で採点するセル {grade_id!r} はありません / no manually graded cell {grade_id!r}")
            continue
        if (student_id, grade_id) not in current:
            problems.append(f"{where}: 採点済みの提出がない学生 {student_id!r} / no graded submission of {student_id!r}")
            continue
        if (student_id, grade_id) in seen:
            first = seen[student_id, grade_id]
            problems.append(f"{where}: {student_id} の {grade_id} は {first} 行目にもあります。どちらか一方を消してください / "
                            f"{student_id} {grade_id} is also in row {first}: keep one")
            continue
        seen[student_id, grade_id] = number
        answer = found[(student_id, grade_id)]
        stored = {"points": answer.points, "adjustment": answer.adjustment if answer.graded else None}
        try:
            mark = _row_mark(row, rubrics[grade_id], cells[grade_id], where, unneutralise(row.get("comment") or ""),
                             stored)
        except ManualGradeError as e:
            problems.append(str(e))
            continue
        if current[(student_id, grade_id)] != mark:
            marks.append((student_id, grade_id, mark))
    if problems:
        raise ManualGradeError("何も書き込んでいません / nothing was written:\n- " + "\n- ".join(problems))
    if marks:
        set_marks(assignment, marks)
    return len(marks)


def _row_mark(row: dict, items: Mapping[str, RubricItem], cell: ManualCell, where: str, comment: str,
              stored: Mapping[str, float | None]) -> Mark | None:
    """The mark one CSV row gives (see ``import_answers``); ``stored``: the answer's points and adjustment now, which
    a number within ``SAME_POINTS`` of them is read as (what was exported, or a spreadsheet's 15 digits of it)."""
    def number(field: str) -> float | None:
        raw = (row.get(field) or "").strip()
        if not raw:
            return None
        try:
            value = read_points(raw)
        except ValueError:
            raise ManualGradeError(f"{where}: {field} {raw!r} が数ではありません / {field} {raw!r} is not a number") from None
        return stored[field] if _same_points(value, stored.get(field)) else value

    order = list(items)
    chosen = []
    for text in (row.get("items") or "").replace(",", " ").split():
        if not text.isdigit() or not 1 <= int(text) <= len(order):
            raise ManualGradeError(f"{where}: 評価項目 {text!r} はありません（1〜{len(order)}） / no rubric item {text!r}")
        chosen.append(order[int(text) - 1])
    points, adjustment = number("points"), number("adjustment")
    if points is not None and not math.isfinite(points):
        raise ManualGradeError(f"{where}: 点数が数ではありません / points must be a number")
    if points is None and adjustment is not None:
        if not math.isfinite(adjustment):
            raise ManualGradeError(f"{where}: 調整の点数が数ではありません / the adjustment must be a number")
        return Mark(tuple(sorted(set(chosen), key=order.index)), adjustment, comment.strip())
    return mark_for(items, cell, points=points, items=chosen, comment=comment, where=where)
