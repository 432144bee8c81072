"""A pool of Dask workers that grade: opened once, then given submissions one by one, as long as it is open.

``grade`` opens one for a batch and closes it when the batch is done; the portal's queue
(``autograder.portal.queue``) opens one when ``serve`` starts and keeps it for the
server's lifetime, so an upload costs its grading only, not a cluster's start.  Either
way a submission is the same task, ``autograder.grading.worker.grade_task``, with the
same bundle, sandbox and grading child, and its outcome comes back to the one process
that writes the gradebook.

The pool is a local cluster of ``workers`` processes this process starts (one per core by
default), or the workers of an existing scheduler (``tcp://HOST:PORT``), which must pass the
canary (and, for the portal, show the full sandbox) before anything is graded there.
"""
from __future__ import annotations

import itertools
import logging
import os
from contextlib import ExitStack

from autograder.course import Course
from autograder.errors import AutograderError
from autograder.grading import canary
from autograder.grading.bundle import GradingBundle
from autograder.grading.worker import TaskOutcome, grade_task, warm


class PoolNotIsolated(AutograderError):
    """Workers of the scheduler cannot isolate grading, and the pool was asked for isolation (bilingual)."""

    exit_code = 3


def connect(workers: int, scheduler: str | None, stack: ExitStack):
    """A Dask client on ``scheduler`` if given, else on a local cluster of ``workers`` processes we start; both closed
    by ``stack``.  Not ``with Client(...)``: that binds the client to the calling thread's context, and the portal
    opens its pool in one thread and closes it in another."""
    from dask.distributed import Client, LocalCluster

    if scheduler:
        client = Client(scheduler, timeout="30s", set_as_default=False)
        stack.callback(client.close)
        return client
    # The scheduler always serves its HTTP routes (health, metrics); with no address it takes port 8787, and every
    # second cluster on the machine printed "Port 8787 is already in use".  Any free loopback port instead, and no
    # dashboard (bokeh is not installed; nobody reads it).
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address="127.0.0.1:0",
                           scheduler_kwargs={"dashboard": False}, silence_logs=logging.ERROR)
    stack.callback(cluster.close)
    client = Client(cluster, set_as_default=False)
    stack.callback(client.close)  # callbacks run last first: the client before its cluster
    return client


class GradingPool:
    """Grading workers, open between ``open`` and ``close`` (or as a context manager).

    ``workers``: local worker processes (default: course_config's ``workers``, else one per CPU core);
    ``scheduler``: an existing Dask scheduler instead; the canary runs on it when the pool opens.
    ``require_isolation``: refuse a scheduler one of whose workers lacks the full sandbox (``PoolNotIsolated``).
    """

    def __init__(self, course: Course, *, workers: int | None = None, scheduler: str | None = None,
                 require_isolation: bool = False):
        self.course, self.scheduler, self.require_isolation = course, scheduler, require_isolation
        self.workers = workers or course.config.workers or os.cpu_count() or 1
        self.client = None
        self._stack: ExitStack | None = None
        self._keys = itertools.count(1)

    @property
    def where(self) -> str:
        return self.scheduler or f"{self.workers} local workers"

    def open(self) -> GradingPool:
        """Start the local cluster or connect to the scheduler; there, the canary (and the isolation check)."""
        stack = ExitStack()
        try:
            self.client = connect(self.workers, self.scheduler, stack)
            if self.scheduler:
                if self.require_isolation:
                    self._check_isolation()  # raises PoolNotIsolated
                canary.check(self.course, self.client, self.scheduler)  # raises GradingEnvironmentError
        except BaseException:
            stack.close()
            self.client = None
            raise
        self._stack = stack
        return self

    def _check_isolation(self) -> None:
        from autograder.grading import sandbox

        weak = {host: how for host, how in self.client.run(sandbox.description).items() if how != sandbox.FULL}
        if weak:
            listed = "\n".join(f"  - {host}: {how}" for host, how in sorted(weak.items()))
            raise PoolNotIsolated(
                f"scheduler {self.scheduler} の次の worker は採点を隔離できないため、ポータルはそこで採点しません。\n"
                f"These workers of scheduler {self.scheduler} cannot isolate grading, so the portal will not grade "
                f"there (install bubblewrap on them):\n{listed}")

    def close(self) -> None:
        stack, self._stack, self.client = self._stack, None, None
        if stack is not None:
            stack.close()

    def __enter__(self) -> GradingPool:
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()

    def size(self) -> int:
        """How many workers the pool has now (a scheduler's may come and go)."""
        return len(self.worker_names())

    def worker_names(self) -> list[str]:
        """The workers' addresses, sorted."""
        return sorted(self.client.scheduler_info()["workers"]) if self.client is not None else []

    def broken(self) -> str | None:
        """Why this pool can grade no more (its client closed, the scheduler gone), or None while it can."""
        if self.client is None:
            return "the pool is closed"
        if self.client.status != "running":
            return f"the Dask client is {self.client.status} ({self.where})"
        return None

    def submit(self, bundle: GradingBundle, pending, *, prewarm: bool = True):
        """Grade one ``grade.Pending`` submission of ``bundle``'s assignment: a Dask future of its ``TaskOutcome``.

        ``prewarm``: the worker starts the child of its next submission as soon as it has taken this one.

        The bundle travels inside the task (tens of kB: the source notebooks and ``course_config.py``), never as
        data scattered beforehand: scattered data has no lineage, and Dask's memory manager keeps one copy of it,
        so losing the one worker that held it cancelled every task that needed it and the whole pool was rebuilt.
        A task that carries what it needs is simply run again on another worker when its worker dies."""
        key = f"grade-{bundle.assignment_id}-{pending.student_id}-{pending.mark[:12]}-{next(self._keys)}"
        return self.client.submit(grade_task, bundle, pending.student_id, pending.data,
                                  pending.stamp_text, prewarm, self.require_isolation, key=key, pure=False)

    def warm(self, bundle: GradingBundle) -> int:
        """Have every worker start a child of ``bundle`` now, before the first submission; returns how many were
        asked (the tasks run on, unawaited: ``fire_and_forget`` keeps the scheduler from dropping them)."""
        from dask.distributed import fire_and_forget

        futures = [self.client.submit(warm, bundle, key=f"warm-{bundle.digest[:12]}-{next(self._keys)}", pure=False,
                                      workers=[address], allow_other_workers=False)
                   for address in self.worker_names()]
        fire_and_forget(futures)
        return len(futures)

    @staticmethod
    def lost(future) -> bool:
        """Whether ``future`` ended without an outcome because of the cluster, not the task: cancelled (the client
        lost the scheduler) or lost (its data gone); the submission must be graded again, not recorded."""
        return future.status in ("cancelled", "lost")

    @staticmethod
    def outcome(future, student_id: str) -> TaskOutcome:
        """The ``TaskOutcome`` of a finished future; a task that failed (``KilledWorker``: its worker died too often,
        or a fault in the task) is that submission's error outcome, never an exception."""
        try:
            return future.result()
        except Exception as e:  # noqa: BLE001 -- see above
            return TaskOutcome(student_id, False, None,
                               f"採点タスクが失敗しました / the grading task failed: {type(e).__name__}: {e}", 0.0, "?")
