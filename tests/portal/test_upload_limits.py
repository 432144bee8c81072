"""Upload floods (issue 15, item 3): superseded re-uploads, the per-student rate of attempts, the cap on kept uploads, private files.

The cases of docs/attacks.md, "提出の洪水 / Upload floods".  Nothing here grades for real: the queue runs
with a fake ``grade``.
"""
from __future__ import annotations

import dataclasses
import os
import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from helpers import OLD_UPLOADS_TABLE, ROOT
from test_portal import AID, _client, _upload, portal  # noqa: F401 -- portal is the fixture

from autograder.course import Course
from autograder.course.results import Status
from autograder.portal import student as portal_student
from autograder.portal.app import create_app
from autograder.portal.store import Store, UploadState
from autograder.portal.uploads import store_upload


def _notebook(portal) -> bytes:
    return portal["course"].release_notebook(AID).read_bytes()


def _with_settings(portal, **settings) -> dict:
    """The same course, database and clock served by an app whose course_config has ``settings`` changed."""
    course = Course(root=portal["course"].root, config=dataclasses.replace(portal["course"].config, **settings))
    app = create_app(course, store=portal["store"], now=portal["clock"], start_queue=False)
    return {**portal, "course": course, "app": app}


def _states(store: Store, student_id: str) -> list[str]:
    """The states of all the student's uploads, pruned ones included, oldest first."""
    with store.engine.connect() as db:
        return list(db.exec_driver_sql("SELECT state FROM uploads WHERE student_id = ? ORDER BY id", (student_id,)).scalars())


def test_quick_reuploads_leave_one_queued_upload_in_the_first_ones_place(portal):
    """Do six quick re-uploads leave one queued upload (the latest) and five superseded, graded at the first one's
    place: ahead of a classmate who uploaded after the first, and the classmate not pushed back?"""
    store, clock = portal["store"], portal["clock"]
    s001, s002 = _client(portal, "s001"), _client(portal, "s002")
    data = _notebook(portal)
    _upload(s001, f"{AID}.ipynb", data)
    clock.moment += timedelta(seconds=5)
    _upload(s002, f"{AID}.ipynb", data)
    for _ in range(5):
        clock.moment += timedelta(seconds=5)
        page = _upload(s001, f"{AID}.ipynb", data).get_data(as_text=True)
    assert "受け付けました" in page and "置き換えました（順番はそのままです）" in page
    assert _states(store, "s001") == [UploadState.SUPERSEDED] * 5 + [UploadState.QUEUED]
    listed = page.count('<td class="state">新しい提出に置き換えられました</td>')
    assert listed == 4 and page.count("採点しません") == 4  # the oldest of the six is pruned (5 kept)
    assert page.count('<td class="state">採点待ち</td>') == 1
    with store.engine.connect() as db:
        first, latest = db.exec_driver_sql("SELECT min(id), max(id) FROM uploads WHERE student_id = 's001'").one()
    turn = store.next_queued()
    assert turn["id"] == latest and turn["place"] == first  # the latest, at the first one's place
    store.mark(turn["id"], state=UploadState.DONE)
    assert store.next_queued()["student_id"] == "s002"
    store.mark(store.next_queued()["id"], state=UploadState.DONE)
    assert store.next_queued() is None  # nothing of s001's left to grade: the five superseded never are


def test_the_upload_rate_is_bounded_per_hour_and_survives_a_restart(portal):
    """Is the 4th upload within an hour refused (limit 3) with a Japanese message saying when the next is possible,
    before the notebook is even checked, still after a restart, and accepted again once the hour has passed?"""
    due = portal["course"].config.assignment(AID).due
    portal["clock"].moment = start = due - timedelta(hours=5)
    limited = _with_settings(portal, portal_uploads_per_hour=3)
    client, data = _client(limited, "s001"), _notebook(portal)
    for _ in range(3):
        assert "受け付けました" in _upload(client, f"{AID}.ipynb", data).get_data(as_text=True)
        portal["clock"].moment += timedelta(minutes=10)
    page = _upload(client, f"{AID}.ipynb", data).get_data(as_text=True)
    opens = (start + timedelta(hours=1)).astimezone(ZoneInfo(portal["course"].config.timezone))
    assert "1時間に 3 回まで提出できます" in page and "受け付けていません" in page
    assert f"次に提出できるのは {opens:%Y-%m-%d %H:%M}（日本時間）からです" in page
    assert "ではありません" not in _upload(client, "answer.pdf", b"%PDF").get_data(as_text=True)  # refused unread
    reopened = Store(limited["store"].engine.url.render_as_string(hide_password=False))
    restarted = _with_settings({**limited, "store": reopened}, portal_uploads_per_hour=3)
    assert "1時間に 3 回まで" in _upload(_client(restarted, "s001"), f"{AID}.ipynb", data).get_data(as_text=True)
    assert len(portal["store"].uploads_of("s001", AID)) == 3
    portal["clock"].moment = start + timedelta(hours=1, seconds=1)
    assert "受け付けました" in _upload(client, f"{AID}.ipynb", data).get_data(as_text=True)
    assert "受け付けました" in _upload(_client(limited, "s002"), f"{AID}.ipynb", data).get_data(as_text=True)


def test_refused_uploads_count_against_the_rate_and_the_next_is_refused_unread(portal, monkeypatch):
    """Does a notebook refused after its full check (another assignment's, the costly case: it passes the cheap
    caps) count against the hourly rate, so that the 4th attempt within the hour (limit 3) is refused before the
    notebook is checked, still after a restart, and accepted once the hour has passed?"""
    checked = []
    check = portal_student._notebook_problem

    def spied_check(filename, data):
        checked.append(filename)
        return check(filename, data)

    monkeypatch.setattr(portal_student, "_notebook_problem", spied_check)
    due = portal["course"].config.assignment(AID).due
    portal["clock"].moment = start = due - timedelta(hours=5)
    limited = _with_settings(portal, portal_uploads_per_hour=3)
    client, other = _client(limited, "s001"), (ROOT / "release" / "kadai4" / "kadai4.ipynb").read_bytes()
    for _ in range(3):
        page = _upload(client, f"{AID}.ipynb", other).get_data(as_text=True)
        assert "この課題のものではありません" in page and "受け付けました" not in page
        portal["clock"].moment += timedelta(minutes=10)
    assert len(checked) == 3 and portal["store"].uploads_of("s001", AID) == []
    page = _upload(client, f"{AID}.ipynb", other).get_data(as_text=True)
    assert "1時間に 3 回まで提出できます（受け付けられなかった提出も数えます）" in page and "受け付けていません" in page
    assert "この課題のものではありません" not in page and len(checked) == 3  # refused unread
    reopened = Store(limited["store"].engine.url.render_as_string(hide_password=False))
    restarted = _with_settings({**limited, "store": reopened}, portal_uploads_per_hour=3)
    assert "1時間に 3 回まで" in _upload(_client(restarted, "s001"), f"{AID}.ipynb", other).get_data(as_text=True)
    assert len(checked) == 3
    portal["clock"].moment = start + timedelta(hours=1, seconds=1)
    assert "受け付けました" in _upload(client, f"{AID}.ipynb", _notebook(portal)).get_data(as_text=True)
    assert len(checked) == 4
    with portal["store"].engine.connect() as db:  # the attempts older than the hour are gone from the table
        assert db.exec_driver_sql("SELECT count(*) FROM upload_attempts").scalar() == 3


def test_a_rate_refusal_near_the_due_date_says_no_more_uploads_before_it(portal):
    """When the next allowed upload would fall after the due date, does the refusal say so instead of giving a time?"""
    due = portal["course"].config.assignment(AID).due
    portal["clock"].moment = due - timedelta(minutes=30)
    limited = _with_settings(portal, portal_uploads_per_hour=1)
    client = _client(limited, "s001")
    _upload(client, f"{AID}.ipynb", _notebook(portal))
    page = _upload(client, f"{AID}.ipynb", _notebook(portal)).get_data(as_text=True)
    assert "締め切り（2027-05-23 23:59）までに、これ以上は提出できません" in page and "次に提出できるのは" not in page


def test_pruning_keeps_the_cap_and_never_the_graded_grading_or_queued_one(portal):
    """After many uploads, are at most ``portal_uploads_kept`` files kept, always including the latest graded one
    (its feedback is what the student sees), the one being graded and the queued latest?"""
    store, clock, data = portal["store"], portal["clock"], _notebook(portal)
    client = _client(portal, "s001")
    _upload(client, f"{AID}.ipynb", data)
    (graded,) = store.uploads_of("s001", AID)
    store.mark(graded["id"], state=UploadState.DONE, status=Status.GRADED, score=20, max_score=25)
    clock.moment += timedelta(seconds=5)
    _upload(client, f"{AID}.ipynb", data)
    grading = store.next_queued()
    assert store.claim(grading["id"])
    for _ in range(7):
        clock.moment += timedelta(seconds=5)
        page = _upload(client, f"{AID}.ipynb", data).get_data(as_text=True)
    kept = store.uploads_of("s001", AID)
    files = sorted(portal["course"].assignment(AID).upload_folder("s001").iterdir())
    assert portal["course"].config.portal_uploads_kept == 5 and len(kept) == 5 and len(files) == 5
    assert {Path(row["path"]) for row in kept} == set(files)
    ids = {row["id"] for row in kept}
    assert {graded["id"], grading["id"], store.next_queued()["id"]} <= ids
    assert page.count('<td class="state">') == 5 and "20 / 25" in page
    with store.engine.connect() as db:  # pruned rows stay, without their files
        assert db.exec_driver_sql("SELECT count(*) FROM uploads WHERE pruned").scalar() == 4


def test_stored_uploads_are_private_from_the_first_byte(portal, monkeypatch):
    """Is an upload's file mode 0o600 from its creation (never chmodded after) and its folders 0o700 even under a
    permissive umask, and is nothing overwritten when two uploads arrive in the same microsecond?"""
    chmodded, chmod = [], os.chmod

    def recorded_chmod(path, mode, **options):
        chmodded.append(Path(path))
        chmod(path, mode, **options)

    monkeypatch.setattr(os, "chmod", recorded_chmod)
    previous = os.umask(0o022)
    try:
        client, data = _client(portal, "s001"), _notebook(portal)
        _upload(client, f"{AID}.ipynb", data)
        _upload(client, f"{AID}.ipynb", data)  # the test's clock has not moved: the same time stamp
    finally:
        os.umask(previous)
    folder = portal["course"].assignment(AID).upload_folder("s001")
    files = sorted(folder.iterdir())
    assert len(files) == 2 and all(path.stat().st_mode & 0o777 == 0o600 for path in files)
    assert folder.stat().st_mode & 0o777 == 0o700 and folder.parent.stat().st_mode & 0o777 == 0o700
    assert all(path.read_bytes() == data for path in files) and not set(files) & set(chmodded)


def test_a_restart_does_not_regrade_an_interrupted_upload_that_was_replaced(portal):
    """An upload being graded when the server stopped, with a newer one queued since: is only the newer one
    queued after the restart, at the interrupted one's place?"""
    course, store, clock = portal["course"], portal["store"], portal["clock"]
    interrupted = store_upload(course, store, "s001", AID, _notebook(portal), clock())
    assert store.claim(interrupted)
    clock.moment += timedelta(seconds=1)
    store_upload(course, store, "s002", AID, _notebook(portal), clock())
    clock.moment += timedelta(seconds=1)
    newer = store_upload(course, store, "s001", AID, _notebook(portal), clock())
    assert store.requeue_interrupted() == 0
    assert store.upload(interrupted)["state"] == UploadState.SUPERSEDED
    assert store.next_queued()["id"] == newer  # ahead of s002, who came after the interrupted one


def test_a_reupload_does_not_take_the_place_of_the_instructors_regrade(portal):
    """An instructor's regrade of s001 waits at the end of the line; s002 uploads, then s001 re-uploads: does the
    re-upload queue behind s002 (not at the regrade's place, ahead of s002), the older file's regrade superseded,
    and s003's regrade asked for earlier still after every student?  And after a restart that interrupted s001's
    regrade, does s001's re-upload stay behind s002?"""
    course, store, clock = portal["course"], portal["store"], portal["clock"]
    data = _notebook(portal)

    def upload(student_id: str) -> int:
        clock.moment += timedelta(seconds=1)
        return store_upload(course, store, student_id, AID, data, clock())

    graded = {student_id: upload(student_id) for student_id in ("s003", "s001")}
    for upload_id in graded.values():
        store.mark(upload_id, state=UploadState.DONE, status=Status.ERROR)
    for _ in range(3):  # quick re-uploads: ids run ahead of places (a regrade's place is the largest place + 1)
        upload("s004")
    store.mark(store.next_queued()["id"], state=UploadState.DONE, status=Status.GRADED)
    assert store.request_regrade(graded["s003"]) and store.request_regrade(graded["s001"])
    s002 = upload("s002")
    reupload = upload("s001")
    assert store.upload(graded["s001"])["state"] == UploadState.SUPERSEDED  # the latest file is what is graded
    assert store.upload(reupload)["place"] == reupload  # its own place, not the regrade's
    assert [row["id"] for row in store.waiting()] == [s002, reupload, graded["s003"]]

    for row in store.waiting():
        store.mark(row["id"], state=UploadState.DONE, status=Status.GRADED)
    assert store.request_regrade(reupload) and store.claim(reupload)  # the server stops while regrading it
    s002_again = upload("s002")
    newest = upload("s001")
    assert store.requeue_interrupted() == 0 and store.upload(reupload)["state"] == UploadState.SUPERSEDED
    assert [row["id"] for row in store.waiting()] == [s002_again, newest]


def test_parallel_uploads_of_one_student_are_taken_one_at_a_time(portal, monkeypatch):
    """While one upload of a student is being checked, is a second one of the same assignment refused (so a burst
    of parallel requests can neither pass the rate limit together nor make the server check many notebooks),
    while a classmate's upload goes through?"""
    checking, release = threading.Event(), threading.Event()
    check = portal_student._notebook_problem

    def slow_check(filename, data):
        if filename == "slow.ipynb":
            checking.set()
            release.wait(timeout=30)
        return check(filename, data)

    monkeypatch.setattr(portal_student, "_notebook_problem", slow_check)
    data, pages = _notebook(portal), {}
    first = _client(portal, "s001")
    worker = threading.Thread(target=lambda: pages.update(first=_upload(first, "slow.ipynb", data).get_data(as_text=True)))
    worker.start()
    try:
        assert checking.wait(timeout=30)
        second = _upload(_client(portal, "s001"), f"{AID}.ipynb", data).get_data(as_text=True)
        classmate = _upload(_client(portal, "s002"), f"{AID}.ipynb", data).get_data(as_text=True)
    finally:
        release.set()
        worker.join(timeout=30)
    assert "別の提出をいま受け付けているところです" in second and "受け付けました" in classmate
    assert "受け付けました" in pages["first"] and len(portal["store"].uploads_of("s001", AID)) == 1


def test_an_older_portal_database_gains_the_new_columns_and_keeps_its_queue(portal, tmp_path):
    """Does a portal.db made before uploads had a place in line keep its queued upload first in line, and is that
    upload superseded by a re-upload whose place it passes on?"""
    old = tmp_path / "old-portal.db"
    with sqlite3.connect(old) as db:
        db.execute(OLD_UPLOADS_TABLE)
        db.execute("INSERT INTO uploads (student_id, assignment_id, received_utc, path, state, force) "
                   "VALUES ('s002', ?, '2027-05-20 01:00:00', 'a.ipynb', 'queued', 0), "
                   "('s001', ?, '2027-05-20 01:00:01', 'b.ipynb', 'queued', 0)", (AID, AID))
    db.close()
    store = Store(f"sqlite:///{old}")
    assert [row["place"] for row in (store.upload(1), store.upload(2))] == [1, 2]
    assert store.upload(2)["pruned"] is False and store.next_queued()["id"] == 1
    newer = store.add_upload("s001", AID, datetime(2027, 5, 20, 2, tzinfo=UTC), tmp_path / "c.ipynb")
    assert store.upload(2)["state"] == UploadState.SUPERSEDED and store.upload(newer)["place"] == 2
    assert Store(f"sqlite:///{old}").next_queued()["id"] == 1  # opening it again changes nothing
