"""Two audiences, two messages: a student reads kind Japanese of what became of an upload, the instructor the detail."""
from __future__ import annotations

import re
import sqlite3
from datetime import timedelta

import nbformat
from helpers import OLD_UPLOADS_TABLE
from test_line import FakePool, line  # noqa: F401 -- ``line``: the fixture of a released kadai5 course and its queue
from test_portal import AID, _client, _upload, portal  # noqa: F401 -- ``portal``: a course nothing was released into

from autograder.course import messages
from autograder.course.results import Status
from autograder.portal.app import create_app
from autograder.portal.queue import GradingQueue
from autograder.portal.store import Store, UploadState

MACHINERY = re.compile(r"python -m|autograder|Traceback|[A-Z][a-z]+(Error|Exception|Released)\b|/[A-Za-z._~]| / [a-z]")
"""What no student may read of ours: a command, a path, an exception's name, a traceback, an English half."""


def _notices(page: str) -> list[str]:
    """The texts the student's page shows beside their uploads."""
    return re.findall(r'<span class="notice">([^<]*)</span>', page)


def test_a_toolkit_failure_reads_kindly_to_the_student_and_in_full_to_the_instructor(portal):
    """Issue 21: an upload of an assignment the gradebook lacks fails with NotReleased.  Does the student's page say
    only that the preparation had a problem and the instructor knows (no command, path or exception name), while the
    instructor's page keeps the whole reason, with the command to run?"""
    course, store = portal["course"], portal["store"]
    queue = GradingQueue(course, store, pool=FakePool(1), clock=portal["clock"])
    app = create_app(course, store=store, queue=queue, now=portal["clock"], start_queue=False)
    student = _client(portal | {"app": app}, "s001")
    data = nbformat.writes(nbformat.read(course.release_notebook(AID), as_version=4)).encode("utf-8")
    assert "受け付けました" in _upload(student, f"{AID}.ipynb", data).get_data(as_text=True)
    queue.step(timeout=0.1)
    (row,) = store.uploads_of("s001", AID)
    assert row["state"] == UploadState.FAILED and row["notice"] == messages.TROUBLE
    page = student.get("/").get_data(as_text=True)
    assert _notices(page) == [messages.TROUBLE] and "採点できませんでした" in page
    assert not [text for text in _notices(page) if MACHINERY.search(text)]
    for machinery in ("python -m", "NotReleased", "release kadai5", "grading failed", str(course.root)):
        assert machinery not in page, machinery
    instructor = _client(portal | {"app": app}, "instructor").get("/instructor").get_data(as_text=True)
    assert "NotReleased" in instructor and f"python -m autograder release {AID}" in instructor
    assert "grading failed" in instructor and "採点できませんでした" in instructor


def test_an_invalid_notebook_is_explained_in_the_students_own_words(line):  # noqa: F811
    """A notebook the portal took but grading screens out as another assignment's: does the student read the Japanese
    reason, and the instructor the bilingual one?"""
    store, queue = line["store"], line["queue"]
    from autograder.portal.uploads import store_upload

    line["clock"].moment += timedelta(seconds=1)
    empty = nbformat.writes(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(1)")])).encode("utf-8")
    upload = store_upload(line["course"], store, "s001", AID, empty, line["clock"]())
    queue.step(timeout=0.1)
    row = store.upload(upload)
    assert (row["state"], row["status"]) == (UploadState.DONE, Status.INVALID) and not line["pool"].sent
    assert " / " in row["message"] and row["notice"] and row["notice"] in row["message"]
    assert row["notice"] == row["message"].split(" / ")[0] and not MACHINERY.search(row["notice"])
    page = _client(line, "s001").get("/").get_data(as_text=True)
    assert _notices(page) == [row["notice"]]


def test_every_outcome_of_an_upload_reads_without_machinery():
    """Whatever the state and status (and with no text kept, as uploads from before the portal kept one), is the
    student's notice one of the kind texts, never the instructor's message?"""
    for state in UploadState:
        for status in [None, *Status]:
            said = messages.upload_notice(state, status)
            if state in (UploadState.QUEUED, UploadState.GRADING) or (state, status) == (UploadState.DONE, Status.GRADED):
                assert said is None, (state, status)
            else:
                assert said and not MACHINERY.search(said), (state, status)
    assert messages.upload_notice(UploadState.DONE, Status.ERROR) == messages.TROUBLE
    assert messages.upload_notice(UploadState.DONE, Status.LATE) == messages.STATUS_EXPLANATIONS[Status.LATE]
    assert messages.upload_notice(UploadState.DONE, Status.GRADED, messages.FEEDBACK_PAGE_TROUBLE) == \
        messages.FEEDBACK_PAGE_TROUBLE
    assert set(messages.UPLOAD_STATE_LABELS) == set(UploadState)


def test_an_older_portal_database_gains_the_students_notice(tmp_path):
    """A portal.db made before uploads kept the student's text (and before places and timings): does opening it add
    the columns, keep the upload, and show its student the kind text for its error, not its stored message?"""
    path = tmp_path / "portal.db"
    with sqlite3.connect(path) as db:
        db.execute(OLD_UPLOADS_TABLE)
        db.execute("INSERT INTO uploads (student_id, assignment_id, received_utc, path, state, force, status, message) "
                   "VALUES ('s001', 'kadai5', '2027-05-20 10:00:00', '/x/kadai5.ipynb', 'error', 0, 'error', "
                   "'採点できませんでした / grading failed: NotReleased: run `python -m autograder release kadai5`')")
    (row,) = Store(f"sqlite:///{path}").uploads_of("s001", AID)
    assert row["notice"] is None and row["place"] == row["id"] and "NotReleased" in row["message"]
    assert messages.upload_notice(row["state"], row["status"], row["notice"]) == messages.TROUBLE


def test_a_notebook_stopped_far_past_its_limit_is_the_students_to_shorten(line):  # noqa: F811
    """A worker that killed the notebook far past its time limit, and one that failed otherwise: does the first read
    as the student's to fix (``RAN_TOO_LONG``) and the second as ours (``TROUBLE``), with the detail for the
    instructor?"""
    from autograder.grading.worker import GRACE_SECONDS, TaskOutcome

    store, queue, limit = line["store"], line["queue"], line["course"].config.notebook_timeout + GRACE_SECONDS
    slow, broken = line["upload"]("s001"), line["upload"]("s002")
    queue.step(timeout=0.1)
    futures = dict(line["pool"].sent)
    futures["s001"].set_result(TaskOutcome("s001", False, None, "killed: ran far past the notebook limit", limit + 1,
                                           "fake:1"))
    futures["s002"].set_result(TaskOutcome("s002", False, None, "grading failed: exit code 1", 20.0, "fake:1"))
    queue.step(timeout=0.1)
    queue.step(timeout=0.1)
    assert store.upload(slow)["notice"] == messages.RAN_TOO_LONG and "killed" in store.upload(slow)["message"]
    assert store.upload(broken)["notice"] is None and store.upload(broken)["status"] == Status.ERROR
    assert _notices(_client(line, "s002").get("/").get_data(as_text=True)) == [messages.TROUBLE]
    assert _notices(_client(line, "s001").get("/").get_data(as_text=True)) == [messages.RAN_TOO_LONG]


def test_one_button_regrades_every_latest_upload_whose_grading_failed(line):  # noqa: F811
    """After the instructor fixed what made gradings fail: does the button queue again, forced and behind the
    students, exactly each student's latest upload in ``error`` (failed, or graded with status error), leaving a
    graded one, one replaced by a later upload, and one already waiting as they are?"""
    store = line["store"]
    failed, errored, graded, replaced, waiting = (line["upload"](s) for s in ("s001", "s002", "s003", "s004", "s005"))
    later = line["upload"]("s004")
    store.mark(failed, state=UploadState.FAILED, status=Status.ERROR)
    store.mark(errored, state=UploadState.DONE, status=Status.ERROR)
    for done in (graded, later):
        store.mark(done, state=UploadState.DONE, status=Status.GRADED, score=20, max_score=25)
    store.mark(replaced, state=UploadState.DONE, status=Status.ERROR)
    instructor = _client(line, "instructor")
    page = instructor.get("/instructor").get_data(as_text=True)
    assert 'id="regrade-errors"' in page
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    after = instructor.post("/instructor/regrade-errors", data={"csrf_token": token}, follow_redirects=True)
    assert "2 件を採点し直します" in after.get_data(as_text=True)
    assert [row["id"] for row in store.waiting()] == [waiting, failed, errored]  # the student's upload first
    assert all(store.upload(i)["force"] for i in (failed, errored)) and not store.upload(waiting)["force"]
    assert [store.upload(i)["state"] for i in (graded, replaced, later)] == [UploadState.DONE] * 3
    assert store.regrade_errors() == []  # nothing failed is left out of line
