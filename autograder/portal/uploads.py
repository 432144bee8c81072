"""Taking a student's upload at a bounded cost: a rate per student and assignment, private files, a cap on what is kept.

Runs in the server process, in the request's thread.  The order of one upload:
1. ``UploadGate.turn``: one upload of a student's assignment at a time, so that a burst of parallel
   requests neither passes the rate limit together nor makes the server check many notebooks at once;
2. ``take_upload_attempt``: the rate limit, before the notebook is read.  It counts *attempts*, not stored
   uploads: every upload that passes it is counted, whether it is then stored or refused (not a notebook,
   another assignment's notebook, too many cells...), since checking a notebook is what costs the server
   (a crafted one takes seconds of CPU in ``nbformat.validate`` and is refused only at the end).  A refusal by
   the rate limit itself is not counted, so a student who keeps trying is still let in when the hour is over.
   The attempts are counted in the portal's database (``upload_attempts``), so a restarted server forgets
   nothing and a test moves the app's clock;
3. (the app checks the notebook);
4. ``store_upload``: the file written private from its first byte (``private.create_file``), the upload recorded queued (superseding
   the student's upload still waiting, which keeps its place in line: ``Store.add_upload``), then the files of
   old uploads beyond ``portal_uploads_kept`` deleted.
"""
from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from autograder.course import Course
from autograder.course.config import CourseConfig
from autograder.portal import private
from autograder.portal.store import Store

RATE_WINDOW = timedelta(hours=1)
"""The window ``portal_uploads_per_hour`` counts in (sliding: any hour, not the hour of the clock)."""


class UploadGate:
    """Which students' uploads of which assignment are being taken right now (one at a time each, in this process)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._busy: set[tuple[str, str]] = set()

    @contextmanager
    def turn(self, student_id: str, assignment_id: str) -> Iterator[bool]:
        """Inside: True if this request holds the turn, False if another upload of theirs is being taken."""
        key = (student_id, assignment_id)
        with self._lock:
            mine = key not in self._busy
            self._busy.add(key)
        try:
            yield mine
        finally:
            if mine:
                with self._lock:
                    self._busy.discard(key)


def take_upload_attempt(store: Store, config: CourseConfig, student_id: str, assignment_id: str,
                        now: datetime) -> datetime | None:
    """Count an upload attempt of the student's assignment at ``now`` and return None, or, if the student has
    already made ``portal_uploads_per_hour`` attempts of it in the last ``RATE_WINDOW``, count nothing and
    return when they may try again (UTC)."""
    limit = config.portal_uploads_per_hour
    earlier = store.add_upload_attempt(student_id, assignment_id, now, since=now - RATE_WINDOW, limit=limit)
    excess = len(earlier) - limit
    return None if excess < 0 else earlier[excess] + RATE_WINDOW


def store_upload(course: Course, store: Store, student_id: str, assignment_id: str, data: bytes,
                 received: datetime) -> int:
    """Store ``data`` as the student's upload received at ``received`` and return its id.

    The file is written before the upload is recorded (a crash loses nothing), readable by the server's
    user only from its first byte; then the files of old uploads beyond ``portal_uploads_kept`` are deleted
    (``Store.prune`` says which are never deleted).  Raises ``OSError`` if the file cannot be written.
    """
    path = _write_private(course.assignment(assignment_id).upload_folder(student_id), received, data)
    upload_id = store.add_upload(student_id, assignment_id, received, path)
    for old in store.prune(student_id, assignment_id, course.config.portal_uploads_kept):
        old.unlink(missing_ok=True)
    return upload_id


def _private_folder(folder: Path) -> None:
    """Make ``folder`` with every missing parent at mode 0o700; a looser ``folder`` left by an older portal is tightened."""
    for level in [*reversed(folder.parents), folder]:
        if not level.is_dir():
            level.mkdir(mode=0o700, exist_ok=True)  # exist_ok: another request may make it at the same moment
    if folder.stat().st_mode & 0o077:
        folder.chmod(0o700)


def _write_private(folder: Path, received: datetime, data: bytes) -> Path:
    """Write ``data`` to a new file of ``folder`` named for ``received``, mode 0o600 from its first byte
    (``private.create_file``: never an existing file, never chmodded after)."""
    _private_folder(folder)
    stamp = received.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    name = f"{stamp}.ipynb"
    for n in itertools.count(1):
        path = folder / name
        try:
            private.create_file(path, data)
            return path
        except FileExistsError:
            name = f"{stamp}-{n}.ipynb"  # an upload of the same microsecond (a test's fixed clock): the next free name
        except BaseException:  # a half-written upload is no upload (nothing points at it yet): not kept
            path.unlink(missing_ok=True)
            raise
