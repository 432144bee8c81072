"""Taking in an LMS bulk download: each student's notebook filed where nbgrader looks, with its submission time.

WebClass (or any LMS) hands the instructor one archive (or folder) of every
upload.  ``collect`` reads each file's student id and upload time from its path
(``lms_filename_pattern`` / ``lms_time_format`` in course_config), checks it
against the roster and the assignment, keeps per student the latest upload
before the due date (or, when all are late, the latest late one, which grading
then treats by the late policy), and files it as
``submitted/<student_id>/<assignment>/<assignment>.ipynb`` with nbgrader's
``timestamp.txt``.  Every file that is not filed is listed with its reason, and
every file's fate is written to ``logs/collect-<assignment>.csv`` (its cells neutralised
against spreadsheet formulas: file names and roster names are the students').

The download is the students' input, so reading it has a bounded cost: files that are not
``.ipynb`` (and files of unknown students) are listed, never read; a notebook bigger than
``collect_notebook_mb`` is refused unread, and every read stops at that limit even if a zip
header lies about the size; in a folder, symbolic links are listed, never followed.  Only one
notebook is held in memory at a time: each is read to be checked, and read again to be filed.
"""
from __future__ import annotations

import csv
import lzma
import os
import re
import stat
import zipfile
import zlib
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from autograder.course import Assignment, Course
from autograder.course.csv_cells import SpreadsheetSafeWriter
from autograder.course.extensions import due_for, read_extensions
from autograder.course.notebook import ReleaseShape, notebook_problem, release_shape
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


_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, lzma.LZMAError)

NOT_A_NOTEBOOK = "ノートブック (.ipynb) ではありません / not a notebook (.ipynb) file"
SYMLINK = "シンボリックリンクはたどりません / a symbolic link: not followed, not read"
NOT_A_FILE = "ふつうのファイルではありません / not a regular file: not read"


class NotRead(Exception):
    """A file of the download that is not read, or not read whole; its message is the bilingual reason."""


@dataclass(frozen=True)
class DownloadFile:
    """One file of an LMS download, listed but not read."""

    name: str
    """Its path inside the archive or folder (``/``-separated)."""

    size: int = 0
    """Its size as the zip header or the file system gives it (a header can lie: reads are bounded anyway)."""

    problem: str = ""
    """Why it is never read (a symbolic link, not a regular file), or ''."""

    entry: zipfile.ZipInfo | Path | None = field(default=None, repr=False, compare=False)
    """Where its bytes are: the archive's entry or the file in the folder."""


class Download:
    """An LMS download (a .zip archive or a folder) open for ``collect``: lists its files, reads one at a bounded cost.

    ``limit``: the most bytes a file may have to be read (``collect_notebook_mb``).  Use as a context
    manager; entering raises ``IntakeError`` when ``path`` is no such file or not a zip archive.
    """

    def __init__(self, path: Path, limit: int) -> None:
        self.path, self.limit = path, limit
        self._archive: zipfile.ZipFile | None = None

    def __enter__(self) -> Download:
        if self.path.is_dir():
            return self
        if not self.path.is_file():
            raise IntakeError(f"{self.path} がありません / no such file or folder: {self.path}")
        try:
            self._archive = zipfile.ZipFile(self.path)
        except (zipfile.BadZipFile, OSError) as e:
            raise IntakeError(f"{self.path} は zip ファイルとして読めません / not a zip archive: {e}") from e
        return self

    def __exit__(self, *exc) -> None:
        if self._archive is not None:
            self._archive.close()

    def files(self) -> Iterator[DownloadFile]:
        """Every file of the download, in order, none of them read."""
        if self._archive is None:
            yield from self._folder_files()
            return
        for info in self._archive.infolist():
            if info.is_dir():
                continue
            name = info.filename
            try:
                name = name.encode("cp437").decode("utf-8") if not info.flag_bits & 0x800 else name
            except (UnicodeEncodeError, UnicodeDecodeError):
                pass  # an old archiver's own code page: keep the name as Python read it
            yield DownloadFile(name, info.file_size, entry=info)

    def _folder_files(self) -> Iterator[DownloadFile]:
        found: list[tuple[str, Path | None, str]] = []

        def unreadable(error: OSError) -> None:  # os.walk would skip a folder it cannot list, silently
            where = Path(error.filename or self.path)
            found.append((where.relative_to(self.path).as_posix(), None, f"フォルダが読めません / cannot read the folder: {error}"))

        for folder, subfolders, names in os.walk(self.path, onerror=unreadable):  # never into a linked folder
            for name in names + [d for d in subfolders if os.path.islink(os.path.join(folder, d))]:
                path = Path(folder, name)
                found.append((path.relative_to(self.path).as_posix(), path, ""))
        for name, path, problem in sorted(found, key=lambda f: f[0]):
            if problem:
                yield DownloadFile(name, problem=problem)
                continue
            try:
                mode = path.lstat()
            except OSError as e:
                yield DownloadFile(name, problem=f"ファイルが読めません / cannot read: {e}")
                continue
            if stat.S_ISLNK(mode.st_mode):
                yield DownloadFile(name, problem=SYMLINK)
            elif not stat.S_ISREG(mode.st_mode):
                yield DownloadFile(name, problem=NOT_A_FILE)
            else:
                yield DownloadFile(name, mode.st_size, entry=path)

    def too_large(self, size: int) -> str:
        """Why a file of (at least) ``size`` bytes is not read, in both languages."""
        mb, size_mb = self.limit / 2**20, size / 2**20
        return (f"{mb:g} MB を超えるので読みません（{size_mb:.1f} MB 以上。course_config の collect_notebook_mb） / "
                f"larger than {mb:g} MB (at least {size_mb:.1f} MB; collect_notebook_mb): not read")

    def read(self, file: DownloadFile) -> bytes:
        """The bytes of ``file``, never more than ``limit`` read; raises ``NotRead`` (too large, cannot extract)."""
        if file.size > self.limit:
            raise NotRead(self.too_large(file.size))
        if isinstance(file.entry, zipfile.ZipInfo):
            try:
                with self._archive.open(file.entry) as stream:
                    data = stream.read(self.limit + 1)  # the header's size is the student's word
            except (*_ZIP_ERRORS, OSError, RuntimeError, NotImplementedError, EOFError) as e:
                # a bad CRC (a lying header), broken data, encryption, an unknown compression method
                raise NotRead(f"アーカイブから取り出せません / cannot extract: {type(e).__name__}: {e}") from e
        else:
            try:
                # O_NOFOLLOW, O_NONBLOCK: the file may have become a link or a FIFO since it was listed
                fd = os.open(file.entry, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
                with open(fd, "rb") as stream:
                    if not stat.S_ISREG(os.fstat(stream.fileno()).st_mode):
                        raise NotRead(NOT_A_FILE)
                    data = stream.read(self.limit + 1)
            except OSError as e:
                raise NotRead(f"ファイルが読めません / cannot read: {e}") from e
        if len(data) > self.limit:
            raise NotRead(self.too_large(len(data)))
        return data


def _read_upload(upload: Upload, data: bytes, assignment_ids: set[str], release: ReleaseShape | None = None) -> None:
    """Fill ``upload.text``, or set its problem: unreadable, malformed, not a notebook of this assignment."""
    if problem := notebook_problem(data, assignment_ids, at_least=0.5, release=release):
        upload.reason = problem
        return
    upload.text = data.decode("utf-8")


def collect(assignment: Assignment, download: Path, roster: Path | None = None) -> Intake:
    """File the notebooks of ``download`` (a .zip or a folder) as submissions of ``assignment``.

    ``roster``: a CSV of the class; default course_config's ``roster`` (relative to the
    course folder); without one every student id is accepted.  Raises ``IntakeError``
    when the download or the roster cannot be read at all.
    """
    course, config = assignment.course, assignment.course.config
    extensions = read_extensions(course)  # a student's own due time, if extended
    zone = ZoneInfo(config.timezone)
    pattern = re.compile(config.lms_filename_pattern)
    time_format = config.lms_time_format
    roster_path = roster or (course.root / config.roster if config.roster else None)
    names = read_roster(roster_path) if roster_path else None
    cell_ids = {c.grade_id for c in assignment.graded_cells}
    release = release_shape(assignment.release)  # None before the release: checked by shape only

    uploads: list[Upload] = []
    where: dict[int, DownloadFile] = {}  # id of each readable upload → its file, read again to be filed
    with Download(Path(download), config.collect_notebook_mb * 2**20) as files:
        for file in files.files():
            name = file.name
            upload = Upload(name)
            uploads.append(upload)
            if file.problem:
                upload.reason = file.problem
                continue
            if not name.lower().endswith(".ipynb"):
                upload.reason = NOT_A_NOTEBOOK
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
            upload.late = upload.submitted_at > due_for(course, assignment.id, upload.student_id, extensions)
            if names is not None and upload.student_id not in names:
                upload.reason = f"名簿にない学籍番号です / student id {upload.student_id} is not in the roster"
                continue
            try:
                data = files.read(file)
            except NotRead as e:
                upload.reason = str(e)
                continue
            _read_upload(upload, data, cell_ids, release)
            if upload.text is not None:
                where[id(upload)] = file
                upload.text = None  # one notebook in memory at a time, however many uploads the download holds

        by_student: dict[str, list[Upload]] = defaultdict(list)
        for upload in uploads:
            if id(upload) in where:
                by_student[upload.student_id].append(upload)
        for student_id, candidates in sorted(by_student.items()):
            _choose(candidates)
            chosen = [u for u in candidates if u.outcome == FILED]
            if chosen:
                _file(assignment, chosen[0], files, where[id(chosen[0])])
    if names:
        course.record_names({sid: names[sid] for sid in by_student if names.get(sid)})
    _log(assignment, uploads)
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


def _file(assignment: Assignment, upload: Upload, files: Download, file: DownloadFile) -> None:
    """File ``upload``, reading its notebook again (the same bytes the check read)."""
    try:
        data = files.read(file)
    except NotRead as e:  # it read the first time: a folder changed under collect
        upload.outcome, upload.reason = PROBLEM, str(e)
        return
    assignment.file_submission(upload.student_id, data, upload.submitted_at)


def _log(assignment: Assignment, uploads: list[Upload]) -> Path:
    path = assignment.course.log_path(f"collect-{assignment.id}.csv")
    with path.open("w", newline="", encoding="utf-8-sig") as f:
        writer = SpreadsheetSafeWriter(csv.writer(f))  # sources are the students' file names
        writer.writerow(["source", "student_id", "submitted_at", "late", "outcome", "reason"])
        for u in uploads:
            writer.writerow([u.source, u.student_id or "", u.submitted_at.isoformat() if u.submitted_at else "",
                             "yes" if u.late else "", u.outcome, u.reason])
    return path
