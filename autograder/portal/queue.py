"""The portal's grading line: uploads graded concurrently on a standing pool, written by one thread.

``serve`` opens one ``GradingPool`` (``autograder.grading.pool``) when it starts and keeps it:
a local Dask cluster, one worker per core by default, or an existing scheduler.  Each worker
keeps a grading child with a warm kernel ready, so an upload costs its grading, not a
cluster's start.  The queue's one thread does everything that writes: it takes the next
upload whose turn it is, files it where nbgrader looks, sends it to the pool as the same
task batch grading sends (``AssignmentGrading`` of ``autograder.grading.grade``: the same
screening, bundle, sandbox and recording), and, as outcomes come back, writes the gradebook
and the portal's database.  At most one upload per worker is out at a time; the rest wait in
the database, where a student's re-upload can still replace theirs.

A graded upload's feedback page is not built by that thread: rendering a student's notebook
is unbounded pure-Python work on their text (one markdown cell stalled the whole portal,
issue 23, case 1).  The thread hands it to a page thread (``PAGE_THREADS``), which runs
``feedback_child.build_pages`` (a process of its own, each page under a time limit, a plain
page past it) and posts the outcome back; the thread then marks the upload done.  Meanwhile
the upload stays ``grading`` and its student's next upload of that assignment waits (the
page reads the gradebook and the autograded notebook the next grading would replace), while
classmates' outcomes are recorded as they come.

The order of the line (``Store.LINE``): students' uploads first come first served, a re-upload
taking the place of the upload it replaces (``Store.add_upload``), never the place of an instructor's
regrade it replaces; the instructor's regrades after every student's upload.  While one upload of a student's assignment is being graded,
their next one waits, so the latest is always recorded last.

Start-up (``start(warm_up=True)``, as ``serve`` does): the web answers at once, and the queue's thread warms up
behind it, in this order: every assignment offered is put into the gradebook (``readiness.ensure_gradable``: a
fresh course releases there, which takes nbgrader a while), the canary checks the grading environment, the pool
opens and its workers start a grading child.  Uploads taken meanwhile wait in line (stored and ``queued``, like
any other) and the pages say that grading is being prepared (``phase``).  A step that fails ends the warm-up: the
failure goes to ``on_failure`` (``serve`` then stops, naming it, as it did when these steps ran before the web),
and what was uploaded stays queued for the next start.

Nothing is lost: every upload is stored on disk and in the database (``queued``) before it is
queued.  A server killed mid-rush leaves ``grading`` rows; at start they are queued again in
their place and graded once more, and one whose grading had already been recorded (the kill
came between the gradebook and the database) is recognised by its fingerprint and not graded
again (``AssignmentGrading.screen``).  A worker that dies mid-task: Dask runs the task again
on another worker, as in batch grading.
"""
from __future__ import annotations

import logging
import queue
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from autograder.course import Course, messages
from autograder.course.notebook import NotebookProblem, check_notebook
from autograder.course.results import Status, SubmissionResult
from autograder.portal import readiness
from autograder.portal.store import Store, UploadState

logger = logging.getLogger("autograder.portal")

RETRY_SECONDS = 30
"""How long the queue waits before trying again to open a pool that failed to open."""

PAGE_THREADS = 2
"""Threads waiting on feedback children: one page at its time limit holds up only the pages behind it in its thread."""


class WarmUp(StrEnum):
    """A step of the queue's warm-up at start (``GradingQueue.phase``); the pages' words for each are in
    ``messages.WARM_UP_STEPS``."""

    GRADEBOOK = "gradebook"
    """Putting every offered assignment into nbgrader's gradebook (``readiness.ensure_gradable``)."""

    CANARY = "canary"
    """Sending the canary notebook through grading on this machine (``canary.check``)."""

    POOL = "pool"
    """Opening the grading pool (a scheduler's canary and isolation check included) and warming its workers."""


@dataclass
class _Flight:
    """An upload out on the pool: its row, what grades it and since when."""

    row: dict
    grading: object  # grade.AssignmentGrading
    pending: object  # grade.Pending
    started: float


@dataclass
class _Page:
    """A graded upload whose feedback page is being built: what marking it done needs."""

    row: dict
    result: SubmissionResult
    started: float | None
    notice: str | None
    graded: float = field(default_factory=time.monotonic)
    """When its outcome came back from the pool: its ``seconds`` end there (the pool's time, what the estimates and
    the line's width read), not when its page is written."""


@dataclass
class _PageBuilt:
    """A page thread's report to the queue's thread: the upload ``upload_id``'s page is written (``why``: None, or
    why its student got the plain page) or failed (``error``)."""

    upload_id: int
    why: str | None = None
    error: Exception | None = None


@dataclass
class Place:
    """A waiting or grading upload as its student sees it: place in line (1 = next; 0 = being graded) and
    the estimated seconds until its feedback (None: no grading time of that assignment known yet)."""

    position: int
    seconds: float | None


@dataclass
class LineView:
    """The line as the instructor's page shows it."""

    waiting: list[dict]
    grading: list[dict]
    workers: list[str]
    size: int
    regrades: int
    problem: str | None
    places: dict[int, Place] = field(default_factory=dict)
    running: bool = False
    phase: WarmUp | None = None
    """The warm-up step under way (nothing is graded yet), or None."""


class GradingQueue:
    """The grading line of one portal.  ``pool``: a ``GradingPool`` (made from ``workers``/``scheduler`` if None),
    opened by ``open`` (``serve``) or, in a test that never called it, by the queue's thread when work comes."""

    def __init__(self, course: Course, store: Store, *, workers: int | None = None, scheduler: str | None = None,
                 isolated: bool = True, pool=None, clock=None):
        from autograder.grading.pool import GradingPool

        self.course, self.store = course, store
        self.pool = pool or GradingPool(course, workers=workers, scheduler=scheduler, require_isolation=isolated)
        self.isolated = isolated
        self.clock = clock or (lambda: datetime.now(UTC))
        self.problem: str | None = None
        """Why the pool cannot grade now (shown on the instructor's page), or None."""
        self._events: queue.Queue = queue.Queue()
        self._flights: dict[object, _Flight] = {}
        self._building: dict[int, _Page] = {}  # upload id -> its page being built (by a page thread)
        self._page_jobs: queue.Queue = queue.Queue()
        self._page_threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._typical: dict[str, tuple[float, float | None]] = {}  # assignment -> (when computed, seconds)
        self._retry_at = 0.0  # monotonic time before which a broken pool is not opened again
        self._size = self.pool.workers  # the pool's size and workers as the queue's thread last saw them:
        self._workers: list[str] = []  # the pages read these, never Dask (a hung scheduler hangs no page)
        self.phase: WarmUp | None = None
        """The warm-up step under way (``start(warm_up=True)``), None before and after it."""
        self._warm_up: tuple[Callable[[str], None], Callable[[BaseException], None]] | None = None

    # ---- the pool
    def open(self, warm: bool = True) -> None:
        """Open the pool (a local cluster, or the scheduler after its canary) and, with ``warm``, have each worker
        start a grading child of the assignment due next; raises what the pool raises."""
        if self.pool.client is None:
            self.pool.open()
        self.problem = None
        self._look_at_pool()
        if warm and (due_next := self._due_next()) is not None:
            from autograder.grading.bundle import make_bundle

            try:
                self.pool.warm(make_bundle(self.course.assignment(due_next)))
            except Exception:  # noqa: BLE001 -- only a head start: grading starts its child itself
                logger.exception("warming the workers for %s failed", due_next)

    def _due_next(self) -> str | None:
        """The released assignment whose due date comes next (the one a rush is for), or None."""
        now = self.clock()
        coming = sorted((a.due, a.id) for a in readiness.offered(self.course) if a.due > now)
        return coming[0][1] if coming else None

    def size(self) -> int:
        """Uploads graded at once: the pool's workers when the queue's thread last looked (the configured number
        before the pool is open)."""
        return self._size

    def _look_at_pool(self) -> None:
        self._workers = self.pool.worker_names()
        self._size = len(self._workers) if self.pool.client is not None else self.pool.workers

    def _pool_failed(self, why: str) -> None:
        """The pool can grade no more: every upload out on it is queued again in its place, the pool is closed, and
        the queue's thread opens a new one after ``RETRY_SECONDS`` (meanwhile the instructor's page says why)."""
        self.problem = why
        logger.error("the grading pool failed: %s; %d uploads queued again", why, len(self._flights))
        for flight in self._flights.values():
            self.store.requeue(flight.row["id"])
        self._flights.clear()
        try:
            self.pool.close()
        except Exception:  # noqa: BLE001 -- closing what is broken may fail too; a new pool is made anyway
            logger.exception("closing the broken pool failed")
        self._retry_at = time.monotonic() + RETRY_SECONDS
        self._look_at_pool()

    # ---- the loop
    def wake(self) -> None:
        self._events.put(None)

    def step(self, timeout: float = 2.0) -> None:
        """Send out what there is room for, write every outcome that came back (waiting up to ``timeout``), and
        send out at once what there is room for now."""
        if self.pool.client is not None:
            if why := self.pool.broken():
                self._pool_failed(why)
                return
            self._look_at_pool()
        self._dispatch()
        self._collect(timeout)
        self._dispatch()

    def _dispatch(self) -> None:
        while self.pool.client is not None and len(self._flights) < max(1, self.size()):
            busy = {(f.row["student_id"], f.row["assignment_id"])
                    for f in [*self._flights.values(), *self._building.values()]}
            row = self.store.next_queued(busy)
            if row is None:
                return
            if self.store.claim(row["id"], self.clock()):  # not claimed: superseded since next_queued read it
                self._send(row)
            if self.pool.client is None:
                return  # the pool failed while sending: the rest waits for the next pool

    def _send(self, row: dict) -> None:
        from autograder.grading.grade import AssignmentGrading

        started = time.monotonic()
        student, aid = row["student_id"], row["assignment_id"]
        try:
            self.course.file_submission(aid, student, Path(row["path"]).read_bytes(),
                                        row["received_utc"].replace(tzinfo=UTC))
            grading = AssignmentGrading(self.course.assignment(aid))
            screened = grading.screen(student, force=bool(row["force"]))
            if screened.pending is None:  # missing, late, invalid, or unchanged since its last grading
                result = grading.settle(screened) if screened.settled else screened.result
                self._finish(row, result, None, notice=_invalid_notice(grading, result, Path(row["path"])))
                return
        except Exception as e:  # noqa: BLE001 -- one upload's failure is that upload's outcome; the queue goes on
            self._failed(row, e)
            return
        try:
            future = self.pool.submit(grading.bundle, screened.pending)
        except Exception as e:  # noqa: BLE001 -- the pool's failure, never the upload's: it waits for the next pool
            self.store.requeue(row["id"])
            self._pool_failed(f"{type(e).__name__}: {e}")
            return
        self._flights[future] = _Flight(row, grading, screened.pending, started)
        future.add_done_callback(self._events.put)

    def _collect(self, timeout: float) -> None:
        try:
            events = [self._events.get(timeout=timeout)]
        except queue.Empty:
            return
        while True:
            try:
                events.append(self._events.get_nowait())
            except queue.Empty:
                break
        lost = None
        for future in events:
            if isinstance(future, _PageBuilt):
                self._page_built(future)
                continue
            flight = self._flights.get(future)
            if flight is None:  # a wake-up, or a future of a pool given up since
                continue
            if self.pool.lost(future):  # the cluster's failure, not the task's: graded again on a new pool
                lost = lost or f"grading of upload {flight.row['id']} was {future.status} by Dask"
                continue
            del self._flights[future]
            try:
                outcome = self._checked(self.pool.outcome(future, flight.pending.student_id))
                result = flight.grading.write(flight.pending, outcome)
                self._finish(flight.row, result, flight.started, notice=self._outcome_notice(flight.row, outcome))
            except Exception as e:  # noqa: BLE001 -- as in _send
                self._failed(flight.row, e)
        if lost:  # after the outcomes that did come back are written: those are not graded twice
            self._pool_failed(lost)

    def _checked(self, outcome):
        """An outcome from a worker that graded without the full sandbox is not a grade when the portal requires it."""
        from autograder.grading import sandbox
        from autograder.grading.worker import ENVIRONMENT, ENVIRONMENT_PROBLEM, TaskOutcome

        if not self.isolated or not outcome.ok or outcome.sandbox == sandbox.FULL:
            return outcome
        return TaskOutcome(outcome.student_id, False, None,
                           f"{ENVIRONMENT_PROBLEM}: {outcome.host} は採点を隔離できませんでした / "
                           f"{outcome.host} graded without the full sandbox ({outcome.sandbox})",
                           outcome.seconds, outcome.host, outcome.log, sandbox=outcome.sandbox, fault=ENVIRONMENT)

    def _outcome_notice(self, row: dict, outcome) -> str | None:
        """What the student reads of an upload whose grading did not go through (None: its status decides, see
        ``messages.upload_notice``); the failure goes to the terminal for the instructor (the toolkit's and the
        environment's own are logged by ``AssignmentGrading.write``)."""
        from autograder.grading.worker import GRACE_SECONDS

        if outcome.ok:
            return None
        if not outcome.fault:
            logger.warning("upload %s (%s, %s) not graded: %s (%s)", row["id"], row["student_id"],
                           row["assignment_id"], outcome.message, outcome.host)
        # killed by its worker far past the notebook's limit: the student's notebook, theirs to shorten
        if not outcome.fault and outcome.seconds >= self.course.config.notebook_timeout + GRACE_SECONDS:
            return messages.RAN_TOO_LONG
        return None

    def _finish(self, row: dict, result: SubmissionResult, started: float | None, *, notice: str | None = None) -> None:
        """The upload is graded (``result`` written): its row, once its feedback page is built (by a page thread, see
        the module; at once when it has none).  ``started``: when it was sent to the pool (its time feeds the
        estimates), None for a result decided without grading; ``notice``: what its student reads of it
        (``messages.upload_notice``), beside the instructor's ``result.message``."""
        if result.status != Status.GRADED:
            self._mark_done(_Page(row, result, started, notice), result.message)
            return
        self._building[row["id"]] = _Page(row, result, started, notice)
        self._start_page_threads()
        self._page_jobs.put(row)

    def _page_built(self, built: _PageBuilt) -> None:
        """A page thread is done with an upload's page: its row is marked done, with what the instructor should know."""
        page = self._building.pop(built.upload_id, None)
        if page is None:
            return
        message = page.result.message
        if built.error is not None:  # ours (the child could not even be started): the grade stands
            logger.error("feedback for upload %s failed", built.upload_id, exc_info=built.error)
            message = (f"{message}; 採点は済みましたが、アドバイスのページを作れませんでした / "
                       f"feedback page failed: {type(built.error).__name__}: {built.error}")
            page.notice = messages.FEEDBACK_PAGE_TROUBLE
        elif built.why is not None:  # the student reads the plain page, which says so; the instructor reads why
            logger.warning("upload %s (%s, %s): plain feedback page: %s", built.upload_id, page.row["student_id"],
                           page.row["assignment_id"], built.why)
            message = f"{message}; 簡単な形のページにしました / plain feedback page: {built.why}"
        self._mark_done(page, message)

    def _mark_done(self, page: _Page, message: str) -> None:
        result = page.result
        self.store.mark(page.row["id"], state=UploadState.DONE, status=result.status, score=result.score,
                        max_score=result.max_score, message=message, notice=page.notice, force=False,
                        seconds=None if page.started is None else round(page.graded - page.started, 1))

    def _start_page_threads(self) -> None:
        while len(self._page_threads) < PAGE_THREADS:
            thread = threading.Thread(target=self._build_pages, name=f"feedback-pages-{len(self._page_threads)}",
                                      daemon=True)  # a page being built when the server stops is built again at start
            self._page_threads.append(thread)
            thread.start()

    def _build_pages(self) -> None:
        """A page thread: build each upload's page in a feedback child, and tell the queue's thread."""
        from autograder.tools.feedback_child import build_pages

        while True:
            row = self._page_jobs.get()
            try:
                (built,) = build_pages(self.course.assignment(row["assignment_id"]), [row["student_id"]])
                report = _PageBuilt(row["id"], why=built.why)
            except Exception as e:  # noqa: BLE001 -- told to the queue's thread, which records it; this thread goes on
                report = _PageBuilt(row["id"], error=e)
            self._events.put(report)

    def _failed(self, row: dict, error: Exception) -> None:
        """The toolkit failed on this upload: the detail (and its traceback, on the terminal) for the instructor,
        ``messages.TROUBLE`` for the student."""
        logger.error("grading upload %s (%s, %s) failed", row["id"], row["student_id"], row["assignment_id"],
                     exc_info=error)
        self.store.mark(row["id"], state=UploadState.FAILED, status=Status.ERROR, notice=messages.TROUBLE,
                        message=f"採点できませんでした / grading failed: {type(error).__name__}: {error}")

    def warm_up(self, say: Callable[[str], None] = print) -> None:
        """The start-up steps (``WarmUp``) in their order, ``phase`` naming each while it runs; ``say`` tells the
        instructor's terminal (bilingually).  Raises what a step raises: ``readiness.NotGradable``,
        ``GradingEnvironmentError`` (the canary), ``PoolNotIsolated``, or the pool's own failure to open."""
        from autograder.grading import canary

        self.phase = WarmUp.GRADEBOOK
        say("課題が成績簿にあるか確かめています / checking that every assignment offered is in the gradebook ...")
        readiness.ensure_gradable(self.course, say=say)
        if not self.pool.scheduler:  # a scheduler's canary runs on it when the pool opens
            self.phase = WarmUp.CANARY
            say("採点環境を点検しています / checking the grading environment (canary) ...")
            canary.check(self.course)
        self.phase = WarmUp.POOL
        say(f"採点の用意をしています / starting the grading pool ({self.pool.where}) ...")
        self.open()
        self.phase = None
        say(f"採点を始めます / grading ({self.pool.where}; {len(self.store.waiting())} uploads waiting)")

    def run(self) -> None:
        """Grade until ``stop``: what a stopped server left first, then (after the warm-up, if asked) each upload
        as it comes."""
        while not self._stop.is_set():
            try:
                self.store.requeue_interrupted()
                break
            except Exception as e:  # noqa: BLE001 -- the database busy or gone: said, and tried again
                self._trouble(e)
        if self._warm_up is not None:
            say, on_failure = self._warm_up
            try:
                self.warm_up(say)
            except BaseException as e:  # noqa: BLE001 -- handed to serve, which stops and names it (a bug's traceback too)
                self.problem = f"{type(e).__name__}: {e}"
                on_failure(e)
                return
        while not self._stop.is_set():
            self.turn()

    def turn(self) -> None:
        """One turn of the thread's loop; whatever fails in it (the database locked, a bug of ours) is logged and
        shown to the instructor, and the loop goes on: the thread never dies while the server runs."""
        try:
            if self.pool.client is None:  # not opened yet, or closed when it failed
                if time.monotonic() < self._retry_at or not self.store.waiting():
                    self._collect(timeout=2)
                    return
                try:
                    self.open(warm=False)
                except Exception as e:  # noqa: BLE001 -- shown to the instructor; the uploads wait, nothing is lost
                    self.problem = f"{type(e).__name__}: {e}"
                    logger.exception("the grading pool could not be opened")
                    self._retry_at = time.monotonic() + RETRY_SECONDS
                    return
            self.step()
            if self.pool.client is not None:
                self.problem = None  # a turn that went through: what went wrong before is over
        except Exception as e:  # noqa: BLE001 -- see above
            self._trouble(e)

    def _trouble(self, error: Exception) -> None:
        self.problem = f"{type(error).__name__}: {error}"
        logger.error("the grading queue ran into trouble; going on", exc_info=error)
        self._stop.wait(2)

    @property
    def running(self) -> bool:
        """Whether the queue's thread is grading (False before ``start`` and after ``stop``)."""
        return self._thread is not None and self._thread.is_alive()

    def start(self, *, warm_up: bool = False, say: Callable[[str], None] = print,
              on_failure: Callable[[BaseException], None] | None = None) -> None:
        """Run the queue's thread; with ``warm_up``, it first runs ``warm_up(say)`` and, if a step fails, hands the
        error to ``on_failure`` and grades nothing (the uploads stay queued)."""
        if warm_up:
            self.phase = WarmUp.GRADEBOOK  # from now: a page read before the thread runs already says it
            self._warm_up = (say, on_failure or (lambda error: None))
        self._thread = threading.Thread(target=self.run, name="grading-queue", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop taking uploads, and close the pool (what is out is queued again at the next start)."""
        self._stop.set()
        self.wake()
        if self._thread is not None:
            self._thread.join(timeout=60)
        self.pool.close()

    # ---- what the pages show
    def typical_seconds(self, assignment_id: str) -> float | None:
        """The median time from grading to feedback of the assignment's last uploads (recomputed every 30 s)."""
        now = time.monotonic()
        known = self._typical.get(assignment_id)
        if known is None or now - known[0] > 30:
            recent = self.store.recent_seconds(assignment_id)
            known = self._typical[assignment_id] = (now, statistics.median(recent) if recent else None)
        return known[1]

    def view(self) -> LineView:
        """The line now: who waits (in order), who is graded, the workers, and every upload's place and estimate.

        The estimate plays the line forward: each worker is free when its upload's typical time has passed (at
        least a tenth of it still to go), and each waiting upload goes to the worker free first, but not before the
        same student's upload of that assignment being graded is done.  After an upload of an assignment with no
        grading time known yet, nothing is estimated."""
        waiting, grading = self.store.waiting(), self.store.grading()
        size = max(1, self.size())
        now = self.clock()
        places: dict[int, Place] = {}
        free: list[float] = [0.0] * max(0, size - len(grading))
        done_at: dict[tuple[str, str], float] = {}  # a student's assignment being graded: when it should be done
        known = True
        for row in grading:
            typical = self.typical_seconds(row["assignment_id"])
            if typical is None:
                known = False
                places[row["id"]] = Place(0, None)
                continue
            started = row["started_utc"].replace(tzinfo=UTC) if row["started_utc"] else now
            left = max(typical - (now - started).total_seconds(), typical / 10)
            free.append(left)
            done_at[(row["student_id"], row["assignment_id"])] = left
            places[row["id"]] = Place(0, left)
        for position, row in enumerate(waiting, start=1):
            typical = self.typical_seconds(row["assignment_id"])
            known = known and typical is not None and bool(free) and self.phase is None  # warming: no estimate
            if not known:
                places[row["id"]] = Place(position, None)
                continue
            soonest = min(free)
            start = max(soonest, done_at.get((row["student_id"], row["assignment_id"]), 0.0))
            free[free.index(soonest)] = done_at[(row["student_id"], row["assignment_id"])] = start + typical
            places[row["id"]] = Place(position, start + typical)
        return LineView(waiting, grading, list(self._workers), size, sum(1 for row in waiting if row["force"]),
                        self.problem, places, self.running, self.phase)


def _invalid_notice(grading, result: SubmissionResult, path: Path) -> str | None:
    """The student's own words for an upload screened ``invalid``: what is wrong with the notebook at ``path`` (the
    Japanese half of ``screen``'s reason), else None.  Invalid for a reason that is not the notebook's (its time
    stamp, which the portal wrote) is ours: None, and ``messages.upload_notice`` says ``TROUBLE``."""
    if result.status != Status.INVALID:
        return None
    try:
        check_notebook(path.read_bytes(), grading.graded_ids, release=grading.release)
    except NotebookProblem as problem:
        return problem.ja
    except OSError:  # the upload's file gone since it was filed: nothing to say but that it is ours
        return None
    return None
