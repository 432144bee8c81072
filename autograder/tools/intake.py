"""Taking in an LMS bulk download: each student's notebook filed where nbgrader looks, with its submission time.

WebClass (or any LMS) hands the instructor one archive (or folder) of every
upload.  ``collect`` reads each file's student id and upload time from its path
(``lms_filename_pattern`` / ``lms_time_format`` in course_config), checks it
against the roster and the assignment, keeps per student the latest upload
before the due date (or, when all are late, the latest late one, which grading
then treats by the late policy), and files it as
``submitted/<student_id>/<assignment>/<assignment>.ipynb`` with nbgrader's
``timestamp.txt``.  Every file that is not filed is listed with its reason, and
every file's fate is written to ``logs/collect-<assignment>.csv``.
"""
from __future__ import annotations

import csv
import re
import zipfile
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from autograder.course import Course
from autograder.course.assignment import graded_cells
from autograder.course.notebook import notebook_problem
from autograder.errors import AutograderError

FILED = "filed"
SUPERSEDED = "superseded"
"""An older upload of a student who uploaded again (before the due date)."""
LATE_IGNORED = "late_ignored"
"""An upload after the due date from a student who also uploaded in time: the one in time counts."""
PROBLEM = "problem"


class IntakeError(AutograderError):
    """The download or roster itself cannot be read (no such file, not a zip); the message is bilingual."""

    exit_code = 2


@dataclass
class Upload:
    """One file of the download and what became of it."""

    source: str
    """Its path inside the archive or folder."""

    student_id: str | None = None
    submitted_at: datetime | None = None
    """Upload time, in the course's time zone."""

    outcome: str = PROBLEM
    reason: str = ""
    """Why it was not filed (bilingual), or a remark."""

    late: bool = False
    text: str | None = field(default=None, repr=False)


@dataclass
class Intake:
    """Everything ``collect`` did with one download."""

    uploads: list[Upload]

    def of(self, outcome: str) -> list[Upload]:
        return [u for u in self.uploads if u.outcome == outcome]

    @property
    def filed(self) -> list[Upload]:
        return self.of(FILED)

    @property
    def problems(self) -> list[Upload]:
        return self.of(PROBLEM)


def read_roster(path: Path) -> dict[str, str]:
    """student id → name from a CSV with columns ``student_id`` and ``name`` (UTF-8, with or without BOM)."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError) as e:
        raise IntakeError(f"名簿が読めません（UTF-8 の CSV にしてください） / cannot read the roster {path} (save it as UTF-8 CSV): {e}") from e
    if rows and not {"student_id", "name"} <= set(rows[0]):
        raise IntakeError(f"名簿 {path} には student_id と name の列が必要です / the roster needs columns student_id and name")
    return {(row.get("student_id") or "").strip(): (row.get("name") or "").strip()
            for row in rows if (row.get("student_id") or "").strip()}


def _files(download: Path) -> Iterator[tuple[str, bytes | None, str]]:
    """(path inside the download, content or None, problem) for every file of a zip archive or a folder."""
    if download.is_dir():
        for path in sorted(p for p in download.rglob("*") if p.is_file()):
            yield path.relative_to(download).as_posix(), path.read_bytes(), ""
        return
    if not download.is_file():
        raise IntakeError(f"{download} がありません / no such file or folder: {download}")
    try:
        archive = zipfile.ZipFile(download)
    except zipfile.BadZipFile as e:
        raise IntakeError(f"{download} は zip ファイルとして読めません / not a zip archive: {e}") from e
    with archive:
        for info in archive.infolist():
            if info.is_dir():
                continue
            name = info.filename
            try:
                name = name.encode("cp437").decode("utf-8") if not info.flag_bits & 0x800 else name
            except (UnicodeEncodeError, UnicodeDecodeError):
                pass  # an old archiver's own code page: keep the name as Python read it
            try:
                yield name, archive.read(info), ""
            except (zipfile.BadZipFile, OSError, RuntimeError) as e:
                yield name, None, f"アーカイブから取り出せません / cannot extract: {e}"


def _read_upload(upload: Upload, data: bytes, assignment_ids: set[str]) -> None:
    """Fill ``upload.text``, or set its problem: unreadable, not a notebook of this assignment."""
    if problem := notebook_problem(data, assignment_ids, at_least=0.5):
        upload.reason = problem
        return
    upload.text = data.decode("utf-8")


def collect(course: Course, assignment_id: str, download: Path, roster: Path | None = None) -> Intake:
    """File the notebooks of ``download`` (a .zip or a folder) as submissions of ``assignment_id``.

    ``roster``: a CSV of the class; default course_config's ``roster`` (relative to the
    course folder); without one every student id is accepted.  Raises ``IntakeError``
    when the download or the roster cannot be read at all.
    """
    config = course.config
    assignment = config.assignment(assignment_id)
    zone = ZoneInfo(config.timezone)
    pattern = re.compile(config.lms_filename_pattern)
    time_format = config.lms_time_format
    roster_path = roster or (course.root / config.roster if config.roster else None)
    names = read_roster(roster_path) if roster_path else None
    cell_ids = {c.grade_id for c in graded_cells(course.source_notebook(assignment_id))}

    uploads: list[Upload] = []
    for name, data, problem in _files(Path(download)):
        upload = Upload(name)
        uploads.append(upload)
        if problem:
            upload.reason = problem
            continue
        if not name.lower().endswith(".ipynb"):
            upload.reason = "ノートブック (.ipynb) ではありません / not a notebook (.ipynb) file"
            continue
        match = pattern.search(name.rsplit("/", 1)[-1])  # the file's own name, never its folders
        if not match:
            upload.reason = ("ファイル名から学籍番号と提出時刻が読めません（course_config の lms_filename_pattern） / "
                             "no student id and time in the file name (lms_filename_pattern)")
            continue
        upload.student_id = match.group("student")
        try:
            upload.submitted_at = datetime.strptime(match.group("time"), time_format).replace(tzinfo=zone)
        except ValueError:
            upload.reason = f"提出時刻が読めません / unreadable time {match.group('time')!r} ({time_format})"
            continue
        upload.late = upload.submitted_at > assignment.due
        if names is not None and upload.student_id not in names:
            upload.reason = f"名簿にない学籍番号です / student id {upload.student_id} is not in the roster"
            continue
        _read_upload(upload, data, cell_ids)

    by_student: dict[str, list[Upload]] = defaultdict(list)
    for upload in uploads:
        if upload.text is not None:
            by_student[upload.student_id].append(upload)
    for student_id, candidates in sorted(by_student.items()):
        _choose(candidates)
        chosen = [u for u in candidates if u.outcome == FILED]
        if chosen:
            _file(course, assignment_id, chosen[0])
    if names:
        _record_names(course, {sid: names[sid] for sid in by_student if names.get(sid)})
    _log(course, assignment_id, uploads)
    for upload in uploads:
        upload.text = None  # the notebooks are filed; keep the record small
    return Intake(uploads)


def _choose(candidates: list[Upload]) -> None:
    """Mark the upload that counts (latest in time, else latest late) and what happens to the others."""
    on_time = [u for u in candidates if not u.late]
    pool = on_time or candidates
    latest = max(u.submitted_at for u in pool)
    tied = [u for u in pool if u.submitted_at == latest]
    if len(tied) > 1:
        for upload in tied:
            upload.reason = ("同じ時刻に複数のファイルがあり、どれが提出か決められません: "
                             + ", ".join(u.source for u in tied) + " / several files at the same time: ask the student")
        others = [u for u in candidates if u not in tied]
        for upload in others:
            upload.outcome, upload.reason = SUPERSEDED, "同じ学生の別の提出を確認中 / another upload of this student is in question"
        return
    chosen = tied[0]
    chosen.outcome = FILED
    chosen.reason = "締め切り後の提出 / late" if chosen.late else ""
    for upload in candidates:
        if upload is chosen:
            continue
        if upload.late and not chosen.late:
            upload.outcome, upload.reason = LATE_IGNORED, "締め切り後の再提出は受け付けません / a late upload after one in time is ignored"
        else:
            upload.outcome, upload.reason = SUPERSEDED, f"より新しい提出があります / superseded by {chosen.source}"


def _file(course: Course, assignment_id: str, upload: Upload) -> None:
    course.file_submission(assignment_id, upload.student_id, upload.text, upload.submitted_at)


def _record_names(course: Course, names: dict[str, str]) -> None:
    with course.gradebook() as gb:
        for student_id, name in names.items():
            gb.update_or_create_student(student_id, last_name=name)


def _log(course: Course, assignment_id: str, uploads: list[Upload]) -> Path:
    path = course.log_path(f"collect-{assignment_id}.csv")
    with path.open("w", newline="", encoding="utf-8-sig") as f:
        writer = csv.writer(f)
        writer.writerow(["source", "student_id", "submitted_at", "late", "outcome", "reason"])
        for u in uploads:
            writer.writerow([u.source, u.student_id or "", u.submitted_at.isoformat() if u.submitted_at else "",
                             "yes" if u.late else "", u.outcome, u.reason])
    return path
