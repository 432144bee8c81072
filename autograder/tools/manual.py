"""Grading the written answers by question: every student's answer to one cell, points and comments into nbgrader's gradebook.

The instructor's points and comment of a manually graded cell are stored where nbgrader's
formgrader keeps them (``Grade.manual_score``, ``Comment.manual_comment`` of that cell), so
nbgrader itself, ``export``, ``feedback`` and ``report`` all read the same numbers.  What nbgrader
has no place for lives in ``manual/<assignment>.json`` (``Assignment.manual_record``):

- the question's **rubric**: reusable items (text + points); applying one to an answer gives it that
  item's points and text as its comment, and changing the item changes every answer that carries it;
- which item each answer carries, and a **digest of the answer** as it was when it was graded, so
  that a notebook graded again automatically keeps its manual grade and an answer whose text has
  changed since is flagged.

Writers: the portal's request threads and ``manual --import`` in another process may write at once.  Each
read-modify-write of the record and the gradebook holds an ``fcntl.flock`` on ``manual/.<assignment>.lock``
(``_writing``), and stores the two so that a failure leaves both as they were (``_store_all``).  After the grades
are stored, the feedback page of each affected student who has one is written again, so the student sees the
instructor's points; that is outside the transaction (a page that cannot be written undoes nothing).

Cost: a student's answer is unbounded text.  Grouping compares its first ``MAX_ANSWER_CHARS`` characters (as the
report's similarity does), and an autograded notebook is read once per version of its file (``_graded_answers``).

The portal's pages (``autograder/portal/app.py``) and the command line
(``python -m autograder manual ASSIGNMENT --export/--import``) both call these functions.
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
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import nbformat

from autograder.course import Assignment
from autograder.course.cells import grade_id as grade_id_of
from autograder.course.cells import is_solution
from autograder.course.csv_cells import SpreadsheetSafeWriter
from autograder.course.results import Status, load_status, manual_points
from autograder.errors import AutograderError, log
from autograder.tools.feedback import write_feedback
from autograder.tools.similarity import DELIMITER, MAX_ANSWER_CHARS, answer_similarity, normalise_markdown, shingles

GROUP_THRESHOLD = 0.9
"""Answers at least this similar (the report's shingle measure on text normalised for case, whitespace and
punctuation) are shown as one group that one rubric click grades."""

CSV_COLUMNS = ("student_id", "name", "grade_id", "max_points", "points", "comment", "answer")
"""The columns of ``--export`` and ``--import`` (``answer`` and ``max_points`` are read-only: for reading)."""

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
    """A reusable comment of one question: its text and the points it gives."""

    id: str
    text: str
    points: float


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
    """The instructor's points, or None while ungraded."""

    comment: str
    item: str | None
    """The rubric item the answer carries (its id), or None."""

    changed: bool
    """The answer's text is not the one that was graded (the notebook was submitted and graded again since)."""

    @property
    def graded(self) -> bool:
        return self.points is not None


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


# ---- the record beside the gradebook: rubric, applied items, graded digests
def _record_text(assignment: Assignment) -> str | None:
    """The record file's text as it is now, or None if there is none yet."""
    path = assignment.manual_record
    return path.read_text(encoding="utf-8") if path.is_file() else None


def _parse(text: str | None) -> dict:
    record = json.loads(text) if text else {}
    for key in ("rubric", "applied", "graded"):
        record.setdefault(key, {})
    return record


def _read(assignment: Assignment) -> dict:
    return _parse(_record_text(assignment))


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


def rubric(assignment: Assignment, grade_id: str) -> list[RubricItem]:
    """The reusable comments of one question, in the order they were made."""
    return [RubricItem(**item) for item in _read(assignment)["rubric"].get(grade_id, [])]


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
    """Every graded student's answer to ``grade_id``, with the points and comment the gradebook holds, by student id."""
    from nbgrader.api import MissingEntry

    cell = manual_cell(assignment, grade_id)
    record = _read(assignment)
    applied, graded_digest = record["applied"].get(grade_id, {}), record["graded"].get(grade_id, {})
    found = []
    names = assignment.course.student_names()
    with assignment.course.gradebook() as gb:
        for student_id in graded_students(assignment):
            try:
                grade = gb.find_grade(grade_id, assignment.id, assignment.id, student_id)
                comment = gb.find_comment(grade_id, assignment.id, assignment.id, student_id)
            except MissingEntry:
                continue
            answer = _graded_answers(assignment, student_id).get(grade_id, _NO_ANSWER)
            points = manual_points(grade)
            found.append(Answer(student_id, names.get(student_id, ""), grade_id, answer.text, cell.max_points, points,
                                comment.manual_comment or "", applied.get(student_id),
                                points is not None and graded_digest.get(student_id) not in (None, answer.digest)))
    return found


def progress(assignment: Assignment) -> dict[str, tuple[int, int]]:
    """grade_id → (answers graded, answers to grade), for every manually graded cell."""
    result = {}
    for cell in manual_cells(assignment):
        found = answers(assignment, cell.grade_id)
        result[cell.grade_id] = (sum(a.graded for a in found), len(found))
    return result


def groups(found: list[Answer], threshold: float = GROUP_THRESHOLD) -> list[list[Answer]]:
    """Identical and near-identical answers together (each group in student order, groups by their first member).

    One pass, each answer joining the first group whose first member it is at least ``threshold`` similar to:
    linear in the number of groups per answer, and the measure is linear in the texts' length, of which the first
    ``MAX_ANSWER_CHARS`` characters are compared (the runs of a pasted 20 MB answer would be tens of millions of keys).
    """
    heads: list[tuple[object, list[Answer]]] = []
    for answer in found:
        key = shingles(_comparable(answer.text[:MAX_ANSWER_CHARS]))
        for head, members in heads:
            if key.length and head.length and (answer_similarity([(head, key)], threshold) or 0) >= threshold:
                members.append(answer)
                break
            if not key.length and not head.length:  # empty answers are one group
                members.append(answer)
                break
        else:
            heads.append((key, [answer]))
    return [members for _, members in heads]


def _comparable(text: str) -> str:
    """An answer normalised for case, whitespace and punctuation (Japanese and ASCII), for grouping."""
    import unicodedata

    folded = unicodedata.normalize("NFKC", text)
    return "".join(ch for ch in normalise_markdown(folded) if not unicodedata.category(ch).startswith(("P", "Z", "S")))


# ---- writing grades
def _check_points(points: float, cell: ManualCell, where: str) -> float:
    if isinstance(points, bool) or not isinstance(points, (int, float)) or not math.isfinite(points):
        raise ManualGradeError(f"{where}: 点数が数ではありません / points must be a number")
    if not 0 <= points <= cell.max_points:
        raise ManualGradeError(f"{where}: 点数 {points:g} は 0〜{cell.max_points:g} 点の範囲にありません / "
                               f"points {points:g} outside 0–{cell.max_points:g}")
    return float(points)


def _store(gb, record: dict, assignment: Assignment, cell: ManualCell, student_id: str,
           points: float | None, comment: str, item: str | None) -> None:
    """Set one answer's manual grade in an open gradebook (committed by the caller) and in ``record``."""
    from nbgrader.api import MissingEntry

    try:
        grade = gb.find_grade(cell.grade_id, assignment.id, assignment.id, student_id)
        note = gb.find_comment(cell.grade_id, assignment.id, assignment.id, student_id)
    except MissingEntry:
        raise ManualGradeError(f"{student_id} の {assignment.id} は採点されていません / "
                               f"{student_id} has no graded submission of {assignment.id}") from None
    grade.manual_score = points
    grade.needs_manual_grade = points is None
    note.manual_comment = comment or None
    answer = _graded_answers(assignment, student_id).get(cell.grade_id, _NO_ANSWER)
    applied = record["applied"].setdefault(cell.grade_id, {})
    graded = record["graded"].setdefault(cell.grade_id, {})
    if item is None:
        applied.pop(student_id, None)
    else:
        applied[student_id] = item
    if points is None:
        graded.pop(student_id, None)
    else:
        graded[student_id] = answer.digest


def _store_all(assignment: Assignment, record: dict, previous: str | None, cells: dict[str, ManualCell],
               grades: list[tuple[str, str, float | None, str, str | None]]) -> None:
    """Store ``grades`` (checked) in the gradebook and ``record`` (changed in place) in its file, both or neither;
    ``previous`` is the record file's text before (None: none).  The caller holds ``_writing``.

    The order is chosen so that every failure can be undone: the gradebook's changes are sent first, uncommitted
    (``flush``: a busy database or a missing row fails here, with nothing written anywhere), then the record file is
    replaced, then the gradebook is committed last.  A transaction not yet committed is undone by a rollback, a
    replaced file only by writing its old text back, so the step most likely to fail (SQLite busy with the portal,
    ``grade`` or nbgrader's formgrader) comes last, where a failure costs a rollback and ``previous`` written back.
    Committing first instead would leave, when the record then failed to be written, grades in the gradebook
    without their rubric items and digests, and no way back but another transaction.
    """
    if not grades:
        _write(assignment, record)
        return
    with assignment.course.gradebook() as gb:
        try:
            for student_id, grade_id, points, comment, item in grades:
                _store(gb, record, assignment, cells[grade_id], student_id,
                       None if points is None else float(points), comment, item)
            gb.db.flush()
            _write(assignment, record)
            try:
                gb.db.commit()
            except BaseException:
                _replace(assignment, previous)
                raise
        except BaseException:
            gb.db.rollback()
            raise


def _rewrite_feedback(assignment: Assignment, students: Iterable[str]) -> None:
    """Write again the feedback page of each of ``students`` who has one, so the page shows their points now.

    The grades are stored already: a page that cannot be written is logged, not raised, and never undoes them.
    The pages are written one writer at a time (a lock of their own, so that saving other answers need not wait
    for nbconvert): each writer reads the gradebook after its own commit, so the last page written is the newest.
    """
    with_pages = sorted(s for s in set(students) if assignment.feedback(s).is_file())
    if not with_pages:
        return
    try:
        with _writing(assignment, ".feedback"):
            write_feedback(assignment, with_pages)
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


def set_grades(assignment: Assignment, grades: list[tuple[str, str, float | None, str, str | None]]) -> None:
    """Store ``(student_id, grade_id, points, comment, rubric item id or None)`` for each answer, all or nothing.

    Raises ``ManualGradeError`` (nothing written) for points outside 0 … the cell's maximum, an unknown cell,
    item or student; SQLAlchemy's ``OperationalError`` (nothing written) when the gradebook stays busy.  Then writes
    again the feedback page of each of the students who has one (see ``_rewrite_feedback``).
    """
    cells = {c.grade_id: c for c in manual_cells(assignment)}
    with _writing(assignment):
        previous = _record_text(assignment)
        record = _parse(previous)
        items = {g: {i["id"] for i in items} for g, items in record["rubric"].items()}
        for student_id, grade_id, points, _, item in grades:
            where = f"{student_id} {grade_id}"
            if grade_id not in cells:
                manual_cell(assignment, grade_id)  # raises with its message
            if points is not None:
                _check_points(points, cells[grade_id], where)
            if item is not None and item not in items.get(grade_id, set()):
                raise ManualGradeError(f"{where}: 評価項目 {item!r} はありません / no rubric item {item!r}")
        _store_all(assignment, record, previous, cells, grades)
        _late_penalties(assignment, {g[0] for g in grades})  # from the totals just committed: locked
    _rewrite_feedback(assignment, (g[0] for g in grades))


def set_grade(assignment: Assignment, student_id: str, grade_id: str, points: float | None,
              comment: str = "", item: str | None = None) -> None:
    """One answer's points (None: ungraded again) and comment; see ``set_grades``."""
    set_grades(assignment, [(student_id, grade_id, points, comment, item)])


def save_item(assignment: Assignment, grade_id: str, text: str, points: float,
              item_id: str | None = None) -> RubricItem:
    """Add a rubric item to ``grade_id`` (``item_id`` None) or change one; every answer carrying it is graded anew,
    in the same write as the item (both or neither, see ``set_grades``)."""
    cell = manual_cell(assignment, grade_id)
    points = _check_points(points, cell, f"{grade_id} の評価項目 / rubric item")
    text = text.strip()
    if not text:
        raise ManualGradeError("評価項目の文が空です / a rubric item needs its text")
    with _writing(assignment):
        previous = _record_text(assignment)
        record = _parse(previous)
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
        carriers = [s for s, i in record["applied"].get(grade_id, {}).items() if i == item.id]
        _store_all(assignment, record, previous, {grade_id: cell},
                   [(s, grade_id, item.points, item.text, item.id) for s in carriers])
        _late_penalties(assignment, set(carriers))
    _rewrite_feedback(assignment, carriers)
    return item


def apply_item(assignment: Assignment, grade_id: str, students: list[str], item_id: str) -> None:
    """Give each of ``students`` the rubric item's points and its text as comment (one click on a group)."""
    item = next((i for i in rubric(assignment, grade_id) if i.id == item_id), None)
    if item is None:
        raise ManualGradeError(f"評価項目 {item_id!r} はありません / no rubric item {item_id!r}")
    set_grades(assignment, [(s, grade_id, item.points, item.text, item.id) for s in students])


# ---- the command line's CSV
def export_answers(assignment: Assignment, out: Path) -> int:
    """Write one row per student and manually graded cell (``CSV_COLUMNS``) to ``out``; returns the rows written."""
    rows = 0
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="", encoding="utf-8-sig") as f:
        writer = SpreadsheetSafeWriter(csv.writer(f))  # answers and names are students' text: never a live formula
        writer.writerow(CSV_COLUMNS)
        for cell in manual_cells(assignment):
            for a in answers(assignment, cell.grade_id):
                writer.writerow([a.student_id, a.name, a.grade_id, f"{a.max_points:g}",
                                 "" if a.points is None else f"{a.points:g}", a.comment, a.text])
                rows += 1
    return rows


def import_answers(assignment: Assignment, path: Path) -> int:
    """Read points and comments back from a CSV of ``export_answers``'s shape; all rows or none (returns how many
    answers changed: a row whose points and comment are the gradebook's already is left as it is).

    An empty ``points`` leaves the answer ungraded.  Raises ``ManualGradeError`` naming the row of anything wrong.
    """
    from autograder.course.csv_cells import unneutralise

    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            table = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise ManualGradeError(f"{path} を読めません / cannot read {path}: {e}") from None
    if not table:
        return 0
    missing = [c for c in ("student_id", "grade_id", "points", "comment") if c not in table[0]]
    if missing:
        raise ManualGradeError(f"{path}: 列 {missing} がありません / missing columns {missing}")
    cells = {c.grade_id: c for c in manual_cells(assignment)}
    known = set(graded_students(assignment))
    current = {(a.student_id, a.grade_id): (a.points, a.comment) for g in cells for a in answers(assignment, g)}
    grades, problems = [], []
    for number, row in enumerate(table, start=2):  # row 1 is the header
        student_id, grade_id = (row.get("student_id") or "").strip(), (row.get("grade_id") or "").strip()
        raw = (row.get("points") or "").strip()
        where = f"{path.name} {number} 行目 / row {number}"
        if grade_id not in cells:
            problems.append(f"{where}: 手で採点するセル {grade_id!r} はありません / no manually graded cell {grade_id!r}")
            continue
        if student_id not in known:
            problems.append(f"{where}: 採点済みの提出がない学生 {student_id!r} / no graded submission of {student_id!r}")
            continue
        points = None
        if raw:
            try:
                points = _check_points(float(raw), cells[grade_id], where)
            except ValueError:
                problems.append(f"{where}: 点数 {raw!r} が数ではありません / points {raw!r} is not a number")
                continue
            except ManualGradeError as e:
                problems.append(str(e))
                continue
        comment = unneutralise(row.get("comment") or "").strip()
        if current.get((student_id, grade_id)) != (points, comment):  # an unchanged row keeps its rubric item
            grades.append((student_id, grade_id, points, comment, None))
    if problems:
        raise ManualGradeError("何も書き込んでいません / nothing was written:\n- " + "\n- ".join(problems))
    set_grades(assignment, grades)
    return len(grades)
