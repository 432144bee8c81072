"""Per-student extensions: a later due time for one student's assignment (illness is common in a medical faculty).

One home, ``extensions.csv`` in the course folder (columns ``student_id``, ``assignment_id``, ``due``: the new
due time as ``YYYY-MM-DD HH:MM`` in the course's time zone, or ISO 8601 with its offset), so that everything deciding
lateness reads the same: the portal's upload check and pages, ``collect`` (which upload is late), grading's
``reject`` policy (``AssignmentGrading.screen``) and its ``penalty`` policy (the extension is written on nbgrader's
submission, whose due date nbgrader's ``AssignLatePenalties`` reads).  The instructor's portal page and
``python -m autograder extensions CSV`` write it; it is never committed (it names students).
"""
from __future__ import annotations

import csv
import os
import re
import tempfile
from collections.abc import Collection
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from autograder.course.config import UnknownAssignment
from autograder.errors import AutograderError

FILE = "extensions.csv"
"""The file of the course folder that holds every extension."""

COLUMNS = ("student_id", "assignment_id", "due")

STUDENT_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")
"""What a student id may be (the portal's and nbgrader's folders are named by it)."""


class ExtensionError(AutograderError):
    """An extension that cannot be recorded (bilingual, naming the row); nothing is written then."""

    exit_code = 2


def _path(course) -> Path:
    return course.root / FILE


def parse_due(text: str, timezone: str) -> datetime:
    """A due time as the file or the instructor writes it: ``YYYY-MM-DD HH:MM`` (or ``T`` between) in ``timezone``,
    or ISO 8601 with an offset; aware.  Raises ``ValueError``, also for a time at the calendar's ends that has no
    UTC (``0001-01-01 00:00`` in Tokyo), which would otherwise fail later where it is stored or compared."""
    moment = datetime.fromisoformat(text.strip())
    moment = moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo(timezone))
    try:
        moment.astimezone(UTC)
    except OverflowError as e:
        raise ValueError(f"{text.strip()!r} is out of range") from e
    return moment


def read_extensions(course) -> dict[tuple[str, str], datetime]:
    """(student id, assignment id) → the extended due time (aware), from ``extensions.csv`` ({} without one)."""
    path = _path(course)
    if not path.is_file():
        return {}
    found = {}
    with path.open(encoding="utf-8-sig", newline="") as f:
        for line, row in enumerate(csv.DictReader(f), start=2):
            try:
                found[(row["student_id"], row["assignment_id"])] = parse_due(row["due"], course.config.timezone)
            except (KeyError, TypeError, ValueError) as e:
                raise ExtensionError(f"{path} の {line} 行目が読めません / line {line} of {path} cannot be read: {e}") from e
    return found


def due_for(course, assignment_id: str, student_id: str,
            extensions: dict[tuple[str, str], datetime] | None = None) -> datetime:
    """The student's due time of the assignment: their extension if they have one, else course_config's (aware).
    ``extensions``: ``read_extensions`` already read (a batch reads the file once)."""
    table = read_extensions(course) if extensions is None else extensions
    return table.get((student_id, assignment_id), course.config.assignment(assignment_id).due)


def _checked(course, student_id: str, assignment_id: str, due: datetime | None,
             students: Collection[str] | None = None) -> None:
    if not STUDENT_ID.fullmatch(student_id or ""):
        raise ExtensionError(f"学籍番号 {student_id!r} が正しくありません / not a student id: {student_id!r}")
    if students is not None and student_id not in students:
        raise ExtensionError(f"学籍番号 {student_id} の学生のアカウントがありません（打ち間違いでは？） / no student "
                             f"account {student_id} (a typo?)")
    try:
        config = course.config.assignment(assignment_id)
    except UnknownAssignment as e:
        raise ExtensionError(f"課題 {assignment_id!r} は course_config にありません / unknown assignment "
                             f"{assignment_id!r}") from e
    if due is not None and due <= config.due:
        raise ExtensionError(f"{student_id} の {assignment_id}: 延長した締め切りは元の締め切りより後にしてください / "
                             f"an extension must end after the assignment's due date")


def _write(course, table: dict[tuple[str, str], datetime]) -> None:
    """Replace ``extensions.csv`` at once (a reader never sees half a file)."""
    zone = ZoneInfo(course.config.timezone)
    handle, scratch = tempfile.mkstemp(dir=course.root, prefix=".extensions-", suffix=".csv")
    with os.fdopen(handle, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(COLUMNS)
        for (student_id, assignment_id), due in sorted(table.items()):
            writer.writerow([student_id, assignment_id, due.astimezone(zone).strftime("%Y-%m-%d %H:%M")])
    os.replace(scratch, _path(course))


def set_extension(course, student_id: str, assignment_id: str, due: datetime | None, *,
                  students: Collection[str] | None = None) -> None:
    """Give ``student_id`` the due time ``due`` (aware) for ``assignment_id``, replacing theirs; None removes it.
    Raises ``ExtensionError`` (an unknown assignment, a malformed id, a time not after the assignment's due, an id
    not among ``students`` when given: the portal's student accounts, so a typo extends no one silently)."""
    _checked(course, student_id, assignment_id, due,
             students if due is not None else None)  # removing a typo'd or ended student's extension stays possible
    table = read_extensions(course)
    if due is None:
        table.pop((student_id, assignment_id), None)
    else:
        table[(student_id, assignment_id)] = due.astimezone(UTC)
    _write(course, table)


def import_extensions(course, rows_csv: str, *, students: Collection[str] | None = None) -> int:
    """Record every extension of a CSV's text (columns ``student_id``, ``assignment_id``, ``due``), all or none;
    returns how many.  A row's extension replaces the student's earlier one for that assignment.  ``students``: as
    ``set_extension``'s.  A file the csv module cannot read (a field over its limit) is an ``ExtensionError`` too."""
    try:
        return _import(course, rows_csv, students)
    except csv.Error as e:
        raise ExtensionError(f"CSV として読めません / not a readable CSV: {e}") from e


def _import(course, rows_csv: str, students: Collection[str] | None) -> int:
    table = read_extensions(course)
    reader = csv.DictReader(rows_csv.lstrip("\ufeff").splitlines())
    if not set(COLUMNS) <= set(reader.fieldnames or ()):
        raise ExtensionError(f"延長の CSV には {', '.join(COLUMNS)} の列が必要です / the CSV needs columns "
                             f"{', '.join(COLUMNS)}")
    count = 0
    for line, row in enumerate(reader, start=2):
        student_id, assignment_id = (row["student_id"] or "").strip(), (row["assignment_id"] or "").strip()
        try:
            due = parse_due(row["due"] or "", course.config.timezone)
        except ValueError as e:
            raise ExtensionError(f"{line} 行目の締め切り {row['due']!r} が読めません（例 2027-05-30 23:59） / line {line}: "
                                 f"unreadable due time {row['due']!r} (e.g. 2027-05-30 23:59)") from e
        try:
            _checked(course, student_id, assignment_id, due, students)
        except ExtensionError as e:
            raise ExtensionError(f"{line} 行目 / line {line}: {e}") from e
        table[(student_id, assignment_id)] = due.astimezone(UTC)
        count += 1
    _write(course, table)
    return count
