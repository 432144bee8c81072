"""The portal's grading line without grading: its order, its concurrency, what it tells students and the instructor.

A pool that grades nothing stands in for Dask (``FakePool``): the queue's own logic is what these
tests look at, on a released kadai5 course and its real screening and recording.  The same line on a
real pool, killed mid-rush, is ``test_rush.py``.
"""
from __future__ import annotations

import dataclasses
import threading
import time
from pathlib import Path
from concurrent.futures import Future
from datetime import UTC, timedelta

import pytest
from helpers import copy_course
from test_portal import AID, Clock, _client, _token, _upload

from autograder.course import messages
from autograder.course.results import Status, load_status
from autograder.grading import sandbox
from autograder.grading.worker import TaskOutcome
from autograder.portal.app import create_app
from autograder.portal import readiness
from autograder.portal.queue import GradingQueue, WarmUp
from autograder.portal.store import Store, UploadState, import_roster
from autograder.portal.uploads import store_upload

STUDENTS = [f"s{n:03d}" for n in range(1, 7)]


class DaskLikeFuture(Future):
    """A ``concurrent.futures.Future`` with the ``status`` a Dask future has."""

    @property
    def status(self) -> str:
        return "cancelled" if self.cancelled() else "finished" if self.done() else "pending"


class FakePool:
    """What ``GradingQueue`` asks of a ``GradingPool``, grading nothing: each submission's future waits for the test."""

    scheduler, where = None, "fake workers"

    def __init__(self, size: int):
        self.workers, self.client, self.sent = size, object(), []

    def warm(self, bundle) -> int:
        return self.workers

    def worker_names(self) -> list[str]:
        return [f"tcp://127.0.0.1:{9000 + n}" for n in range(self.workers)]

    def submit(self, bundle, pending, prewarm=True):
        future = DaskLikeFuture()
        self.sent.append((pending.student_id, future))
        return future

    @staticmethod
    def outcome(future, student_id):
        return future.result()

    @staticmethod
    def lost(future) -> bool:
        return future.status == "cancelled"

    def broken(self) -> str | None:
        return None if self.client is not None else "closed"

    def close(self):
        self.client = None

    def open(self):
        self.client = object()


def _failed(student_id: str, how: str = sandbox.FULL) -> TaskOutcome:
    return TaskOutcome(student_id, False, None, "採点できませんでした / grading failed: fake", 30.0, "fake:1", sandbox=how)


@pytest.fixture
def line(released_course, tmp_path):
    course = copy_course(released_course(AID), tmp_path / "course")
    roster = tmp_path / "roster.csv"
    roster.write_text("student_id,name\n" + "".join(f"{s},学生 {s}\n" for s in STUDENTS), encoding="utf-8")
    store = Store(f"sqlite:///{tmp_path / 'portal-test.db'}")
    passwords = {row[0]: row[3] for row in import_roster(store, roster)}
    clock = Clock(course.config.assignment(AID).due - timedelta(hours=1))
    pool = FakePool(2)
    queue = GradingQueue(course, store, pool=pool, clock=clock)
    app = create_app(course, store=store, queue=queue, now=clock, start_queue=False)
    data = course.release_notebook(AID).read_bytes()

    def upload(student_id: str) -> int:
        clock.moment += timedelta(seconds=1)
        return store_upload(course, store, student_id, AID, data, clock())

    return {"course": course, "store": store, "queue": queue, "pool": pool, "clock": clock, "app": app,
            "passwords": passwords, "upload": upload}


def _sent(line) -> list[str]:
    return [student for student, _ in line["pool"].sent]


def _finish(line, student_id: str, how: str = sandbox.FULL) -> None:
    """Let the pool's oldest open future of ``student_id`` come back, and the queue write it."""
    future = next(f for s, f in line["pool"].sent if s == student_id and not f.done())
    future.set_result(_failed(student_id, how))
    line["queue"].step(timeout=0.1)


def test_the_line_grades_up_to_the_pools_size_in_order_and_a_regrade_waits_for_the_students(line):
    """Two workers: are two uploads out at once, the next sent as one comes back, first come first served; does a
    student's re-upload while queued take the first one's place; does one while being graded wait for it; and does
    the instructor's regrade go behind every student's upload, even one that came after it?"""
    store, queue = line["store"], line["queue"]
    first = {s: line["upload"](s) for s in STUDENTS[:4]}
    queue.step(timeout=0.1)
    assert _sent(line) == ["s001", "s002"]  # two at once, the earliest first
    assert [r["student_id"] for r in store.grading()] == ["s001", "s002"]
    line["upload"]("s003")  # re-upload while queued: replaces the queued one, in its place
    line["upload"]("s001")  # re-upload while being graded: waits behind it
    assert store.upload(first["s003"])["state"] == UploadState.SUPERSEDED
    _finish(line, "s002")
    assert _sent(line) == ["s001", "s002", "s003"]  # s003's latest, in s003's first place; not s001's second yet
    assert store.upload(first["s002"])["state"] == UploadState.DONE
    assert store.request_regrade(first["s002"]) and not store.request_regrade(first["s003"])  # superseded: no
    line["upload"]("s005")  # a student's upload after the regrade was asked for still goes first
    _finish(line, "s001")
    _finish(line, "s003")
    assert _sent(line) == ["s001", "s002", "s003", "s004", "s001"]
    _finish(line, "s004")
    assert _sent(line)[5] == "s005"
    _finish(line, "s001")
    assert _sent(line)[6] == "s002"  # the regrade, last
    _finish(line, "s005")
    _finish(line, "s002")
    assert not store.waiting() and not store.grading() and len(_sent(line)) == 7
    rows = [r for s in STUDENTS for r in store.uploads_of(s, AID)]
    assert sorted(r["state"] for r in rows) == sorted([UploadState.SUPERSEDED] + [UploadState.DONE] * 6)
    assert all(r["status"] == Status.ERROR and r["seconds"] is not None for r in rows if r["state"] == UploadState.DONE)


def test_a_feedback_page_being_built_holds_up_no_classmate(line, monkeypatch):
    """While s001's feedback page is being built (issue 23, case 1: a hostile notebook's page took hours, in the
    writer thread), is s002's outcome recorded, s001's upload still ``grading`` and s001's re-upload held back (the
    page reads what its grading would replace); and once the page comes back plain, is s001's upload done, with why
    for the instructor?"""
    import threading

    from autograder.grading.grade import AssignmentGrading
    from autograder.course.results import SubmissionResult
    from autograder.tools import feedback_child

    store, queue = line["store"], line["queue"]
    release, building = threading.Event(), threading.Event()

    def write(self, pending, outcome, timing=None):  # a graded result, written nowhere: the line is what is tested
        return SubmissionResult(pending.student_id, Status.GRADED, "自動採点は満点 / all passed", score=20, max_score=25)

    def build_pages(assignment, students, **limits):
        (student_id,) = students
        if student_id == "s001":  # the hostile page: slow until the test says
            building.set()
            assert release.wait(30)
            return [feedback_child.PageOutcome(student_id, assignment.feedback(student_id), "over its limit of 60 s")]
        return [feedback_child.PageOutcome(student_id, assignment.feedback(student_id))]

    monkeypatch.setattr(AssignmentGrading, "write", write)
    monkeypatch.setattr(feedback_child, "build_pages", build_pages)
    first = {s: line["upload"](s) for s in ("s001", "s002")}
    queue.step(timeout=0.1)
    ok = TaskOutcome("s001", True, b"{}", "", 30.0, "fake:1", sandbox=sandbox.FULL)
    next(f for s, f in line["pool"].sent if s == "s001").set_result(ok)
    queue.step(timeout=0.1)
    assert building.wait(10) and store.upload(first["s001"])["state"] == UploadState.GRADING
    again = line["upload"]("s001")
    next(f for s, f in line["pool"].sent if s == "s002").set_result(dataclasses.replace(ok, student_id="s002"))
    deadline = time.monotonic() + 10
    while store.upload(first["s002"])["state"] != UploadState.DONE and time.monotonic() < deadline:
        queue.step(timeout=0.2)
    assert store.upload(first["s002"])["state"] == UploadState.DONE and store.upload(first["s002"])["score"] == 20
    assert store.upload(first["s001"])["state"] == UploadState.GRADING
    assert _sent(line) == ["s001", "s002"] and store.upload(again)["state"] == UploadState.QUEUED  # held back
    release.set()
    while store.upload(first["s001"])["state"] != UploadState.DONE and time.monotonic() < deadline + 10:
        queue.step(timeout=0.2)
    done = store.upload(first["s001"])
    assert done["state"] == UploadState.DONE and done["score"] == 20 and done["notice"] is None
    assert "plain feedback page: over its limit of 60 s" in done["message"]
    assert _sent(line) == ["s001", "s002", "s001"]  # the re-upload goes once the page is done


def test_an_upload_superseded_after_it_was_read_is_skipped_ungraded(line, monkeypatch):
    """If a re-upload supersedes the upload ``next_queued`` just returned, is it skipped and the re-upload sent?"""
    store, queue = line["store"], line["queue"]
    first = line["upload"]("s001")
    picked = store.next_queued

    def upload_meanwhile(busy=()):
        row = picked(busy)
        if row is not None and row["id"] == first:
            line["upload"]("s001")
        return row

    monkeypatch.setattr(store, "next_queued", upload_meanwhile)
    queue.step(timeout=0.1)
    assert store.upload(first)["state"] == UploadState.SUPERSEDED and _sent(line) == ["s001"]
    assert store.grading()[0]["id"] != first


def test_an_outcome_from_a_worker_without_the_sandbox_is_not_a_grade(line):
    """A worker that graded without bubblewrap (a scheduler's machine that joined later): is the upload recorded as an
    error of the grading environment, in the portal and in the course, with no score and no feedback, the reason on
    the instructor's page and only the kind words of ``messages.TROUBLE`` on the student's?"""
    store, queue = line["store"], line["queue"]
    upload = line["upload"]("s001")
    queue.step(timeout=0.1)
    (_, future), = line["pool"].sent
    future.set_result(TaskOutcome("s001", True, b"{}", "", 30.0, "remote:1", sandbox="rlimits"))
    queue.step(timeout=0.1)
    row = store.upload(upload)
    assert (row["state"], row["status"]) == (UploadState.DONE, Status.ERROR)
    assert "隔離" in row["message"] and "remote:1" in row["message"]
    page = _client(line, "s001").get("/").get_data(as_text=True)
    assert "/ 25" not in page and messages.TROUBLE in page  # no score shown, nor the machinery
    assert "隔離" not in page and "remote:1" not in page and "sandbox" not in page
    instructor = _client(line, "instructor").get("/instructor").get_data(as_text=True)
    assert "隔離" in instructor and "remote:1" in instructor
    assert load_status(line["course"].autograded_dir(AID, "s001"))["status"] == Status.ERROR
    assert not line["course"].feedback_path(AID, "s001").exists()


def test_a_failing_pool_puts_its_uploads_back_in_line_and_a_new_pool_grades_them(line, monkeypatch):
    """When the pool cannot take an upload (its client closed), or Dask cancels one out on it, is nothing recorded
    as the student's: every upload back in line in its place, the instructor told why, and sent again once a new
    pool is open?"""
    store, queue, pool = line["store"], line["queue"], line["pool"]
    first, second, third = (line["upload"](s) for s in ("s001", "s002", "s003"))
    queue.step(timeout=0.1)
    assert _sent(line) == ["s001", "s002"]
    pool.sent[0][1].cancel()  # Dask cancelled it: the client lost the scheduler
    queue.step(timeout=0.1)
    assert [store.upload(u)["state"] for u in (first, second, third)] == [UploadState.QUEUED] * 3
    assert "cancelled" in queue.problem and pool.client is None and [r["id"] for r in store.waiting()] == [
        first, second, third]
    page = _client(line, "instructor").get("/instructor").get_data(as_text=True)
    assert 'id="line-problem"' in page and "cancelled" in page
    queue.open(warm=False)  # the thread does this after RETRY_SECONDS
    monkeypatch.setattr(pool, "submit", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("ClosedClientError")))
    queue.step(timeout=0.1)  # cannot even submit: the upload is not failed, it waits
    assert store.upload(first)["state"] == UploadState.QUEUED and "ClosedClientError" in queue.problem
    monkeypatch.undo()
    queue.open(warm=False)
    queue.step(timeout=0.1)
    assert _sent(line)[2:] == ["s001", "s002"] and queue.problem is None
    assert all(store.upload(u)["status"] is None for u in (first, second, third))  # nothing recorded as theirs


def test_the_queues_thread_survives_a_failing_turn(line, monkeypatch):
    """If the database fails once in the middle of a turn (locked under a rush), does the loop say so and go on?"""
    store, queue = line["store"], line["queue"]
    upload = line["upload"]("s001")
    real = store.next_queued
    calls = []

    def locked_once(busy=()):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("database is locked")
        return real(busy)

    monkeypatch.setattr(store, "next_queued", locked_once)
    queue.turn()
    assert "database is locked" in queue.problem and store.upload(upload)["state"] == UploadState.QUEUED
    queue.turn()
    assert _sent(line) == ["s001"] and store.upload(upload)["state"] == UploadState.GRADING and queue.problem is None


def test_students_see_their_place_and_an_estimate_and_the_instructor_the_line(line):
    """With two workers busy and known grading times, does each waiting student's page show their place and a wait
    that plays the line forward; and the instructor's the queue's length, the workers and the oldest waiting upload?"""
    store, queue, clock = line["store"], line["queue"], line["clock"]
    for student in STUDENTS[:5]:
        line["upload"](student)
    queue.step(timeout=0.1)
    page = _client(line, "s005").get("/").get_data(as_text=True)
    assert "採点の順番：3 番目" in page and "目安はまだありません" in page  # no grading time known yet
    _finish(line, "s001")  # the queue sends s003 at once
    with store.engine.begin() as db:  # two minutes per upload, as if measured
        db.exec_driver_sql("UPDATE uploads SET seconds = 120 WHERE state = 'graded'")
        db.exec_driver_sql("UPDATE uploads SET started_utc = ? WHERE state = 'grading'",
                           (clock().astimezone(UTC).replace(tzinfo=None),))
    queue._typical.clear()
    view = queue.view()
    assert [r["student_id"] for r in view.waiting] == ["s004", "s005"] and len(view.grading) == 2
    s004, s005 = (view.places[r["id"]] for r in view.waiting)
    assert (s004.position, s004.seconds, s005.position, s005.seconds) == (1, 240, 2, 240)  # two workers free at 120 s
    clock.moment += timedelta(seconds=60)
    view = queue.view()
    assert view.places[view.waiting[1]["id"]].seconds == 180
    page = _client(line, "s005").get("/").get_data(as_text=True)
    assert "採点の順番：2 番目" in page and "結果まで あと約 3 分" in page and 'http-equiv="refresh"' in page
    assert "いま採点しています" in _client(line, "s002").get("/").get_data(as_text=True)
    instructor = _client(line, "instructor").get("/instructor").get_data(as_text=True)
    assert 'id="line-waiting">2<' in instructor and 'id="line-grading">2<' in instructor
    assert 'id="line-workers">2<' in instructor and "tcp://" not in instructor  # a count, not addresses
    assert "いちばん古い採点待ち" in instructor and "分待っています" in instructor


def test_the_instructors_regrade_is_refused_while_the_upload_waits(line):
    """Does the regrade button on an upload still queued say so and change nothing?"""
    upload = line["upload"]("s001")
    client = _client(line, "instructor")
    token = _token(client.get("/instructor"))
    page = client.post(f"/instructor/regrade/{AID}/s001", data={"csrf_token": token}, follow_redirects=True)
    assert "採点待ちか採点中" in page.get_data(as_text=True)
    row = line["store"].upload(upload)
    assert row["state"] == UploadState.QUEUED and not row["force"]


def test_a_started_queue_opens_no_pool_until_an_upload_waits(line):
    """A portal with nothing to grade starts no cluster (tests and quiet servers pay nothing)."""
    queue = GradingQueue(line["course"], line["store"], clock=line["clock"])
    queue.start()
    try:
        time.sleep(1)  # the thread has looked at the line (empty) and waits for a wake-up
        assert queue._thread.is_alive() and queue.pool.client is None and queue.view().workers == []
    finally:
        queue.stop()
    assert not queue._thread.is_alive()


def _until(condition, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "not within the time"
        time.sleep(0.05)


def test_the_web_takes_uploads_while_grading_warms_up_and_says_so(line, monkeypatch):
    """While the queue's warm-up (gradebook, canary, pool) runs behind the web, does an upload go into the line
    ungraded, the student read that grading is being prepared (no estimate, no machinery) and the instructor which
    step is under way; and once the warm-up is done, is the upload sent to the pool?"""
    from autograder.grading import canary

    queue, pool, store = line["queue"], line["pool"], line["store"]
    pool.client = None  # serve's pool is not open before the warm-up
    gradebook_done, steps = threading.Event(), []
    monkeypatch.setattr(readiness, "ensure_gradable", lambda course, say: gradebook_done.wait(30) and [])
    monkeypatch.setattr(canary, "check", lambda course: steps.append("canary"))
    failures = []
    queue.start(warm_up=True, say=steps.append, on_failure=failures.append)
    try:
        assert queue.phase == WarmUp.GRADEBOOK
        student = _client(line, "s001")
        page = _upload(student, "kadai5.ipynb", line["course"].release_notebook(AID).read_bytes()).get_data(as_text=True)
        assert "受け付けました" in page and messages.WARMING_UP in page and messages.WARMING_UP_PLACE in page
        assert "採点の順番：1 番目" in page and "結果まで" not in page and "canary" not in page
        instructor = _client(line, "instructor").get("/instructor").get_data(as_text=True)
        assert 'id="line-warming"' in instructor and messages.WARM_UP_STEPS["gradebook"] in instructor
        assert pool.sent == [] and [r["student_id"] for r in store.waiting()] == ["s001"]
        gradebook_done.set()
        _until(lambda: pool.sent)
        assert queue.phase is None and failures == [] and "canary" in steps and pool.client is not None
        assert _sent(line) == ["s001"] and messages.WARMING_UP not in student.get("/").get_data(as_text=True)
    finally:
        queue.stop()


def test_a_failing_warm_up_step_stops_grading_and_keeps_the_uploads(line, monkeypatch):
    """If the canary fails during the warm-up, is the error handed to serve (which stops) with nothing graded, the
    upload still queued for the next start, and the pool never opened?"""
    from autograder.grading import canary
    from autograder.grading.canary import GradingEnvironmentError

    queue, pool, store = line["queue"], line["pool"], line["store"]
    pool.client = None
    upload = line["upload"]("s001")
    monkeypatch.setattr(readiness, "ensure_gradable", lambda course, say: [])
    monkeypatch.setattr(canary, "check", lambda course: (_ for _ in ()).throw(GradingEnvironmentError("broken kernel")))
    failures = []
    queue.start(warm_up=True, say=lambda line: None, on_failure=failures.append)
    try:
        _until(lambda: failures)
        assert isinstance(failures[0], GradingEnvironmentError) and queue.phase == WarmUp.CANARY
        assert pool.client is None and pool.sent == [] and store.upload(upload)["state"] == UploadState.QUEUED
        assert "broken kernel" in queue.problem
    finally:
        queue.stop()


def test_the_instructor_chooses_an_earlier_upload_to_count(line):
    """A later typo upload replaced a better one: can the instructor make the earlier one count (its page lists both,
    the choice queues it for grading again, the class page and the regrade button then mean it, the student sees it
    marked, pruning keeps it), while one waiting cannot be chosen, and does the student's next upload count again?"""
    store, queue = line["store"], line["queue"]
    better, typo = line["upload"]("s001"), line["upload"]("s001")
    store.mark(better, state=UploadState.DONE, status="graded", score=22, max_score=25)
    store.mark(typo, state=UploadState.DONE, status="graded", score=17, max_score=25)
    assert store.counting("s001", AID)["id"] == typo
    instructor = _client(line, "instructor")
    page = instructor.get(f"/instructor/uploads/{AID}/s001").get_data(as_text=True)
    assert f'id="choose-{better}"' in page and f'id="choose-{typo}"' not in page and "成績の対象 / counts" in page
    token = _token(instructor.get("/instructor"))
    assert instructor.post(f"/instructor/choose/{better}", data={"csrf_token": token}).status_code == 303
    row = store.upload(better)
    assert row["chosen"] and row["state"] == UploadState.QUEUED and row["force"]  # graded again, behind students
    assert not store.choose(better)  # waiting now: nothing changes
    queue.step(timeout=0.1)
    assert _sent(line) == ["s001"] and store.grading()[0]["id"] == better
    assert store.latest_uploads(AID)["s001"]["id"] == better == store.counting("s001", AID)["id"]
    assert "先生がこの提出を成績に選びました" in _client(line, "s001").get("/").get_data(as_text=True)
    first, second, third = (line["upload"]("s002") for _ in range(3))
    for upload in (first, second, third):
        store.mark(upload, state=UploadState.DONE, status="graded", score=1, max_score=25)
    assert store.choose(first)
    store.mark(first, state=UploadState.DONE)  # graded again
    assert [p.name for p in store.prune("s002", AID, keep=1)] == [Path(store.upload(second)["path"]).name]
    assert "（先生が選んだ提出 / chosen）" in instructor.get("/instructor").get_data(as_text=True)
    assert instructor.post("/instructor/choose/99999", data={"csrf_token": token}).status_code == 404
    store.mark(better, state=UploadState.DONE, status="graded")  # graded again: it counts
    store.mark(typo, state=UploadState.FAILED, status="error")
    assert [store.upload(u)["student_id"] for u in store.regrade_errors()] == []  # the failed one does not count
    line["upload"]("s001")  # the student's next upload counts again
    assert not store.upload(better)["chosen"] and store.counting("s001", AID)["id"] not in (better, typo)
