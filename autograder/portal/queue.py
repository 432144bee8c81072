"""Grading uploads one after another, in the server process, with the same ``grade`` as the command line.

Every upload is stored on disk and in the database (state ``queued``) before it is
queued, so a crash loses nothing: at start the queue sets uploads a stopped server left
``grading`` back to ``queued`` and grades them again, in their place in line.  A student's
re-upload supersedes their upload still waiting and takes its place (``Store.add_upload``),
so the queue grades only the latest.
"""
from __future__ import annotations

import threading
from datetime import UTC
from pathlib import Path

from autograder.course import Course
from autograder.course.results import Status
from autograder.portal.store import Store, UploadState


class GradingQueue:
    def __init__(self, course: Course, store: Store, workers: int = 1):
        self.course, self.store, self.workers = course, store, workers
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def wake(self) -> None:
        self._wake.set()

    def process_one(self) -> bool:
        """Grade the queued upload whose turn it is; False if there is none.

        The upload is claimed only if it is still queued: one superseded by a newer upload of the same
        student since ``next_queued`` read it is skipped, ungraded (True: the queue goes on with the next)."""
        from autograder.grading.grade import grade
        from autograder.tools.feedback import write_feedback

        row = self.store.next_queued()
        if row is None:
            return False
        if not self.store.claim(row["id"]):
            return True
        student, aid = row["student_id"], row["assignment_id"]
        try:
            self.course.file_submission(aid, student, Path(row["path"]).read_bytes(),
                                        row["received_utc"].replace(tzinfo=UTC))
            (result,) = grade(self.course, aid, [student], workers=self.workers, force=bool(row["force"]), progress=False)
            if result.status == Status.GRADED:
                write_feedback(self.course, aid, [student])
            self.store.mark(row["id"], state=UploadState.DONE, status=result.status, score=result.score,
                            max_score=result.max_score, message=result.message, force=False)
        except Exception as e:  # noqa: BLE001 -- one upload's failure is that upload's outcome; the queue goes on
            self.store.mark(row["id"], state=UploadState.FAILED, status=Status.ERROR,
                            message=f"採点できませんでした / grading failed: {type(e).__name__}: {e}")
        return True

    def run(self) -> None:
        """Grade until ``stop``: what a stopped server left first, then each upload as it comes."""
        self.store.requeue_interrupted()
        while not self._stop.is_set():
            if not self.process_one():
                self._wake.wait(timeout=2)
                self._wake.clear()

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="grading-queue", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=600)
