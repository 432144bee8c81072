"""Regrade requests of written answers: the store's rules (once per question until reopened, an append-only log of
published grade changes), the student's page (only after publishing, before the closing date, a reason that is
required, capped and shown escaped, never another student's request) and the instructor's (open requests by
question, answered with or without a change that goes through the marks and a re-publish of that answer)."""
from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime, timedelta

import pytest
from helpers import (
    ANSWER,
    OTHER,
    csrf_token,
    graded_course_without_running,
    portal_accounts,
    portal_copy,
    signed_in_client,
)
from sqlalchemy.exc import DatabaseError

from autograder.portal.regrades import REASON_CHARS
from autograder.portal.store import GradeChange, RequestStatus, Store
from autograder.tools import manual

AID, CELL = "kadai5", "q8_false_negative"
ANSWERS = {"s001": ANSWER, "s002": OTHER}
NAMES = {"s001": "山田 花子", "s002": "佐藤 太郎"}
PAGE = f"/instructor/manual/{AID}/{CELL}"
START = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """kadai5 graded (without running) for two students and the portal's accounts (Argon2 hashing: made once)."""
    folder = tmp_path_factory.mktemp("regrades")
    course = graded_course_without_running(folder / "course", ANSWERS, names=NAMES)
    return portal_accounts(folder, course, NAMES)


@pytest.fixture
def portal(built, tmp_path):
    """A private copy of the course and accounts, the portal on them with a clock the test moves (``now[0]``)."""
    now = [START]
    course, store, app = portal_copy(built, tmp_path, now=lambda: now[0])
    return {"course": course, "app": app, "store": store, "passwords": built[2], "now": now}


def _grade_and_publish(portal, points: dict[str, str]) -> None:
    """The instructor grades 問8 of each student and publishes it through the portal (journalled at the clock)."""
    client, token = signed_in_client(portal, "instructor")
    for student_id, value in points.items():
        reply = client.post(f"{PAGE}/grade", json={"student_id": student_id, "points": value, "comment": "要点不足"},
                            headers={"X-CSRFToken": token})
        assert reply.status_code == 200, reply.get_data(as_text=True)
    assert client.post(f"{PAGE}/publish", json={}, headers={"X-CSRFToken": token}).status_code == 200


def _ask(client, token, reason: str, grade_id: str = CELL):
    return client.post(f"/regrade/{AID}/{grade_id}", data={"reason": reason, "csrf_token": token})


def _gradebook(course, student_id: str) -> float | None:
    with course.gradebook() as gb:
        return gb.find_grade(CELL, AID, AID, student_id).manual_score


# ---- (a) the store
def test_a_question_takes_one_request_until_the_instructor_reopens_it():
    """Does the store keep one request per student and question, refuse a second (nothing stored), take one again
    after the instructor reopens the answered request, and keep other students and questions apart?"""
    store = Store("sqlite://")
    first = store.add_regrade_request("s001", AID, CELL, "理由", START)
    assert first is not None and store.add_regrade_request("s001", AID, CELL, "もう一度", START) is None
    assert store.add_regrade_request("s002", AID, CELL, "私も", START) is not None
    assert store.add_regrade_request("s001", AID, "other_cell", "別の問題", START) is not None
    assert len(store.regrade_requests(student_id="s001")) == 2
    assert store.open_request_counts() == {AID: 3}
    assert not store.reopen_regrade_request(first)  # open: nothing to reopen
    assert store.answer_regrade_request(first, reply="確認しました", changed=False, by="instructor", at=START)
    assert not store.answer_regrade_request(first, reply="二度目", changed=True, by="instructor", at=START)
    assert store.regrade_request(first).reply == "確認しました" and store.regrade_request(first).changed is False
    assert store.add_regrade_request("s001", AID, CELL, "まだ", START) is None  # answered, not reopened
    assert store.reopen_regrade_request(first)
    again = store.add_regrade_request("s001", AID, CELL, "新しい理由", START)
    assert again is not None and store.regrade_request(again).status == RequestStatus.OPEN
    assert store.add_regrade_request("s001", AID, CELL, "三度目", START) is None


def test_the_log_of_grade_changes_is_append_only():
    """Can the log only grow: does the database itself refuse to change or delete a row of it?"""
    store = Store("sqlite://")
    store.log_grade_changes([GradeChange(START, "instructor", AID, CELL, "s001", None, 3.0, "", "要点不足", None)])
    (change,) = store.grade_changes(student_id="s001")
    assert (change.by, change.before_points, change.after_points, change.at) == ("instructor", None, 3.0, START)
    with store.engine.begin() as db, pytest.raises(DatabaseError, match="append-only"):
        db.exec_driver_sql("UPDATE grade_changes SET after_points = 5")
    with store.engine.begin() as db, pytest.raises(DatabaseError, match="append-only"):
        db.exec_driver_sql("DELETE FROM grade_changes")
    assert store.grade_changes()[0].after_points == 3.0


def test_publishing_logs_each_change_and_a_failing_log_publishes_nothing(portal):
    """Does the portal's publish log who changed which published grade from what to what, a re-publish with
    nothing new log nothing, and a log that cannot be written leave the gradebook and the record unpublished?"""
    course, store = portal["course"], portal["store"]
    _grade_and_publish(portal, {"s001": "3", "s002": "4"})
    changes = store.grade_changes(assignment_id=AID)
    assert {(c.student_id, c.before_points, c.after_points, c.by, c.at) for c in changes} == {
        ("s001", None, 3.0, "instructor", START), ("s002", None, 4.0, "instructor", START)}
    _grade_and_publish(portal, {"s001": "3"})  # the same mark again: nothing published, nothing logged
    assert len(store.grade_changes()) == 2
    work = course.assignment(AID)
    manual.set_grade(work, "s001", CELL, 5.0, "満点")

    def broken(changes):
        raise OSError("disk full")

    with pytest.raises(OSError):
        manual.publish(work, CELL, journal=broken)
    assert _gradebook(course, "s001") == 3.0 and manual.published_notes(work, "s001")[CELL].points == 3.0
    assert len(store.grade_changes()) == 2
    manual.publish(work, CELL, journal=lambda changes: store.log_grade_changes(
        GradeChange(START, "test", AID, c.grade_id, c.student_id, c.before_points, c.after_points,
                    c.before_comment, c.after_comment, None) for c in changes))
    last = store.grade_changes()[-1]
    assert (last.before_points, last.after_points, last.before_comment, last.after_comment) == (
        3.0, 5.0, "要点不足", "満点")


# ---- (b) the student's side
def test_a_student_asks_once_after_publishing_and_reads_the_answer(portal):
    """Before publishing, is there nothing to ask about; after it, does the student's page link to a form per
    published question, a request need the CSRF token, show its state in Japanese, and a second one be refused?"""
    client, token = signed_in_client(portal, "s001")
    assert f'id="regrade-{AID}"' not in client.get("/").get_data(as_text=True)
    assert "まだ先生が採点を公開した問題がありません" in client.get(f"/regrade/{AID}").get_data(as_text=True)
    assert _ask(client, token, "理由").status_code == 404  # nothing published to them
    _grade_and_publish(portal, {"s001": "3"})
    assert f'id="regrade-{AID}"' in client.get("/").get_data(as_text=True)
    page = client.get(f"/regrade/{AID}").get_data(as_text=True)
    assert "再採点を依頼する" in page and "公開された点数：3 / 5 点" in page
    assert "2026-12-08 12:00" in page  # 7 days after publishing, in Japan's time
    assert client.post(f"/regrade/{AID}/{CELL}", data={"reason": "理由"}).status_code == 400  # no CSRF token
    assert portal["store"].regrade_requests() == []
    response = _ask(client, token, "偽陰性の理由も書きました。")
    assert response.status_code == 303
    page = client.get(f"/regrade/{AID}").get_data(as_text=True)
    assert "再採点を依頼しました" in page and "先生が確認するのを待っています" in page
    assert 'id="ask-' not in page  # no second form
    _ask(client, token, "もう一度")
    assert "もう依頼してあります" in client.get(f"/regrade/{AID}").get_data(as_text=True)
    assert len(portal["store"].regrade_requests()) == 1


@pytest.mark.parametrize("reason, message", [("   ", "依頼の理由を書いてください"),
                                             ("あ" * 100_000, f"{REASON_CHARS:,} 文字まで")])
def test_an_empty_or_huge_reason_is_refused_storing_nothing(portal, reason, message):
    """Is a blank reason, or one of 100 KB, refused with a Japanese message and nothing stored?"""
    _grade_and_publish(portal, {"s001": "3"})
    client, token = signed_in_client(portal, "s001")
    assert _ask(client, token, reason).status_code == 303
    assert message in client.get(f"/regrade/{AID}").get_data(as_text=True)
    assert portal["store"].regrade_requests() == []


def test_requests_close_at_the_instructors_date_or_seven_days_after_publishing(portal):
    """Is a request refused after the default closing (7 days after publishing), accepted again once the instructor
    sets a later date, and refused after that date?"""
    _grade_and_publish(portal, {"s001": "3", "s002": "4"})
    portal["now"][0] = START + timedelta(days=7, minutes=1)  # sessions expire too: signed in after the move
    client, token = signed_in_client(portal, "s001")
    _ask(client, token, "遅れました")
    assert "で締め切りました" in client.get(f"/regrade/{AID}").get_data(as_text=True)
    assert portal["store"].regrade_requests() == []
    teacher, teacher_token = signed_in_client(portal, "instructor")
    teacher.post(f"/instructor/regrades/{AID}/closing", data={"closes": "2026-12-20T17:00", "csrf_token": teacher_token})
    assert portal["store"].regrade_closing(AID) == datetime(2026, 12, 20, 8, 0, tzinfo=UTC)
    assert "2026-12-20 17:00" in client.get(f"/regrade/{AID}").get_data(as_text=True)
    assert _ask(client, token, "お願いします").status_code == 303 and len(portal["store"].regrade_requests()) == 1
    portal["now"][0] = datetime(2026, 12, 20, 8, 1, tzinfo=UTC)
    other, other_token = signed_in_client(portal, "s002")
    _ask(other, other_token, "私も")
    assert "で締め切りました" in other.get(f"/regrade/{AID}").get_data(as_text=True)
    assert len(portal["store"].regrade_requests()) == 1


def test_a_student_never_sees_or_acts_on_another_students_request(portal):
    """Does s002's page show nothing of s001's request, and are the instructor's routes (answering, reopening,
    the list) closed to a student even with a real request id?"""
    _grade_and_publish(portal, {"s001": "3", "s002": "4"})
    client, token = signed_in_client(portal, "s001")
    _ask(client, token, "s001 だけの秘密の理由")
    (asked,) = portal["store"].regrade_requests()
    other, other_token = signed_in_client(portal, "s002")
    assert "秘密の理由" not in other.get(f"/regrade/{AID}").get_data(as_text=True)
    for path in (f"/instructor/regrades/{AID}/{asked.id}/answer", f"/instructor/regrades/{AID}/{asked.id}/reopen",
                 f"/instructor/regrades/{AID}/closing"):
        assert other.post(path, data={"csrf_token": other_token, "reply": "x", "changed": "1", "points": "5",
                                      "closes": "2030-01-01T00:00"}).status_code == 403
    assert other.get(f"/instructor/regrades/{AID}").status_code == 403
    assert portal["store"].regrade_request(asked.id).status == RequestStatus.OPEN
    assert _gradebook(portal["course"], "s001") == 3.0 and portal["store"].regrade_closing(AID) is None
    assert _ask(other, other_token, "他人の問題", grade_id="no_such_cell").status_code == 404


def test_html_in_a_reason_is_shown_as_text(portal):
    """Is a reason with markup shown escaped to the student and to the instructor?"""
    _grade_and_publish(portal, {"s001": "3"})
    client, token = signed_in_client(portal, "s001")
    _ask(client, token, "<script>alert(1)</script><b>太字</b>")
    teacher, _ = signed_in_client(portal, "instructor")
    for page in (client.get(f"/regrade/{AID}").get_data(as_text=True),
                 teacher.get(f"/instructor/regrades/{AID}").get_data(as_text=True)):
        assert "<script>alert(1)" not in page and "<b>太字" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;&lt;b&gt;太字&lt;/b&gt;" in page


# ---- (c) the instructor's side
def test_the_instructor_answers_with_a_change_that_is_republished_and_logged(portal):
    """Does the class page link to the requests with the open count, the list show the answer, current mark and
    reason, a changed answer reach the gradebook and the student's page (that answer alone re-published, logged
    with the request), an unchanged answer change nothing, and reopening let the student ask once more?"""
    course, store = portal["course"], portal["store"]
    _grade_and_publish(portal, {"s001": "3", "s002": "4"})
    work = course.assignment(AID)
    manual.set_grade(work, "s002", CELL, 1.0, "下書き")  # another student's draft: answering s001 must not publish it
    for student_id in ("s001", "s002"):
        client, token = signed_in_client(portal, student_id)
        _ask(client, token, f"{student_id} の理由")
    teacher, token = signed_in_client(portal, "instructor")
    assert "回答待ち / open: 2" in teacher.get("/instructor").get_data(as_text=True)
    page = teacher.get(f"/instructor/regrades/{AID}").get_data(as_text=True)
    assert "s001 の理由" in page and "偽陰性は 2 人" in page and "いまの採点 / current mark: 3 / 5" in page
    first, second = store.regrade_requests()
    response = teacher.post(f"/instructor/regrades/{AID}/{first.id}/answer",
                            data={"csrf_token": token, "changed": "1", "points": "4.5", "reply": "理由を認めます。"})
    assert response.status_code == 303
    assert _gradebook(course, "s001") == 4.5 and _gradebook(course, "s002") == 4.0  # s002's draft stays a draft
    answered = store.regrade_request(first.id)
    assert (answered.status, answered.changed, answered.answered_by) == (RequestStatus.ANSWERED, True, "instructor")
    change = store.grade_changes(student_id="s001")[-1]
    assert (change.before_points, change.after_points, change.request_id, change.by) == (3.0, 4.5, first.id,
                                                                                           "instructor")
    manual.set_grade(work, "s002", CELL, 4.0, "要点不足")  # the draft back to what was published
    assert teacher.post(f"/instructor/regrades/{AID}/{second.id}/answer",
                        data={"csrf_token": token, "changed": "0", "reply": "採点どおりです。"}).status_code == 303
    assert store.regrade_request(second.id).changed is False and _gradebook(course, "s002") == 4.0
    assert len(store.grade_changes(student_id="s002")) == 1
    assert "回答待ち / open: 0" in teacher.get("/instructor").get_data(as_text=True)
    student, student_token = signed_in_client(portal, "s001")
    page = student.get(f"/regrade/{AID}").get_data(as_text=True)
    assert "先生が回答しました" in page and "理由を認めます。" in page and "点数を見直しました" in page
    assert "公開された点数：4.5 / 5 点" in page
    assert teacher.post(f"/instructor/regrades/{AID}/{first.id}/answer",
                        data={"csrf_token": token, "changed": "1", "points": "5", "reply": "再"}).status_code == 303
    assert _gradebook(course, "s001") == 4.5  # answered already: nothing changes
    teacher.post(f"/instructor/regrades/{AID}/{first.id}/reopen", data={"csrf_token": token})
    assert _ask(student, student_token, "もう一点あります").status_code == 303
    assert len(store.regrade_requests(student_id="s001")) == 2


def test_one_request_answered_from_two_tabs_at_once_is_published_once(portal, monkeypatch):
    """Two answers to one request at the same moment (two tabs): is the grade published once, the first reply kept
    and the second told the request is answered already (it published twice and dropped a reply)?"""
    import threading
    import time

    course, store = portal["course"], portal["store"]
    _grade_and_publish(portal, {"s001": "3"})
    client, token = signed_in_client(portal, "s001")
    _ask(client, token, "理由を読んでください")
    (asked,) = store.regrade_requests()
    publish, calls = manual.publish, []

    def slow_publish(*args, **kwargs):  # the overlap a busy gradebook gives, made certain
        calls.append(kwargs.get("students"))
        time.sleep(0.5)
        return publish(*args, **kwargs)

    monkeypatch.setattr(manual, "publish", slow_publish)
    tabs = [signed_in_client(portal, "instructor") for _ in range(2)]
    replies = {}

    def answer(tab: int, points: str) -> None:
        teacher, teacher_token = tabs[tab]
        replies[tab] = teacher.post(f"/instructor/regrades/{AID}/{asked.id}/answer", follow_redirects=True, data={
            "csrf_token": teacher_token, "changed": "1", "points": points, "reply": f"タブ{tab}"}).get_data(as_text=True)

    threads = [threading.Thread(target=answer, args=(tab, points)) for tab, points in ((0, "4"), (1, "5"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1 and len(store.grade_changes(student_id="s001")) == 2  # the first publish, and this one
    answered = store.regrade_request(asked.id)
    winner = int(answered.reply[-1])
    assert _gradebook(course, "s001") == (4.0 if winner == 0 else 5.0)
    assert "この依頼はもう回答済みです" in replies[1 - winner]


def test_an_answer_with_points_out_of_range_changes_nothing(portal):
    """Are points above the question's maximum refused (message, request still open, grade and log unchanged), and
    a request id of another assignment a 404?"""
    _grade_and_publish(portal, {"s001": "3"})
    client, token = signed_in_client(portal, "s001")
    _ask(client, token, "理由")
    (asked,) = portal["store"].regrade_requests()
    teacher, teacher_token = signed_in_client(portal, "instructor")
    teacher.post(f"/instructor/regrades/{AID}/{asked.id}/answer",
                 data={"csrf_token": teacher_token, "changed": "1", "points": "9", "reply": "どうぞ"})
    assert "保存できませんでした" in teacher.get(f"/instructor/regrades/{AID}").get_data(as_text=True)
    assert portal["store"].regrade_request(asked.id).status == RequestStatus.OPEN
    assert _gradebook(portal["course"], "s001") == 3.0 and len(portal["store"].grade_changes()) == 1
    other = next(a.id for a in portal["course"].config.assignments if a.id != AID)
    released = portal["course"].release_notebook(other)  # another released assignment, so only the id mismatch
    released.parent.mkdir(parents=True, exist_ok=True)  # can refuse
    shutil.copyfile(portal["course"].release_notebook(AID), released)
    assert teacher.post(f"/instructor/regrades/{other}/{asked.id}/answer",
                        data={"csrf_token": teacher_token, "reply": "x"}).status_code == 404
    assert teacher.post(f"/instructor/regrades/{other}/{asked.id}/reopen",
                        data={"csrf_token": teacher_token}).status_code == 404
    assert portal["store"].regrade_request(asked.id).status == RequestStatus.OPEN


def test_manual_publish_on_the_command_line_is_logged(portal):
    """Does ``manual --publish`` on a course with a portal database log its changes as the command line's?"""
    from autograder.cli import main
    from autograder.portal import private

    course = portal["course"]
    store = Store(private.database_url(course))  # the course's own portal database (the fixture's is elsewhere)
    manual.set_grade(course.assignment(AID), "s001", CELL, 2.5, "")
    assert main(["manual", AID, "--publish", "--course-dir", str(course.root)]) == 0
    (change,) = store.grade_changes()
    assert (change.student_id, change.after_points, change.request_id) == ("s001", 2.5, None)
    assert change.by.startswith("command line")


def test_answering_publishes_the_draft_made_while_reading_the_request(portal):
    """When the instructor, reading a request, changes the answer's rubric mark on the question page (a draft) and
    then answers with the current mark, does the student see that new grade with the reply, the request say it
    changed, the journal record it with the request, and the list warn of the draft before answering?"""
    course, store = portal["course"], portal["store"]
    _grade_and_publish(portal, {"s001": "3"})
    student, student_token = signed_in_client(portal, "s001")
    _ask(student, student_token, "理由の二つ目も書いています")
    teacher, token = signed_in_client(portal, "instructor")
    headers = {"X-CSRFToken": token}
    item = teacher.post(f"{PAGE}/rubric", json={"text": "理由を二つ挙げている", "points": "4"}, headers=headers)
    item_id = item.get_json()["item"]["id"]
    assert teacher.post(f"{PAGE}/grade", json={"student_id": "s001", "items": [item_id], "points": "",
                                               "comment": "要点不足"}, headers=headers).status_code == 200  # 4 points
    assert _gradebook(course, "s001") == 3.0  # a draft: the student still sees 3
    (asked,) = store.regrade_requests()
    page = teacher.get(f"/instructor/regrades/{AID}").get_data(as_text=True)
    assert f'id="draft-{asked.id}"' in page and "未公開の下書きがあります" in page
    assert teacher.post(f"/instructor/regrades/{AID}/{asked.id}/answer",
                        data={"csrf_token": token, "changed": "0", "reply": "二つ目の理由を認めます。"}).status_code == 303
    assert _gradebook(course, "s001") == 4.0 and store.regrade_request(asked.id).changed is True
    change = store.grade_changes(student_id="s001")[-1]
    assert (change.before_points, change.after_points, change.request_id) == (3.0, 4.0, asked.id)
    page = student.get(f"/regrade/{AID}").get_data(as_text=True)
    assert "公開された点数：4 / 5 点" in page and "点数を見直しました" in page and "二つ目の理由を認めます。" in page
    assert manual.published_notes(course.assignment(AID), "s001")[CELL].items == (("理由を二つ挙げている", 4.0),)


def test_answering_from_a_page_older_than_the_mark_publishes_nothing_unseen(portal):
    """Red team: the instructor opens the requests page (the answer's mark 3); then a draft of 5 with another comment
    is saved on the question page (a grader, another tab).  Does answering from the page as it was refuse, publishing
    nothing and leaving the request open, say why, and does the reloaded page (showing the draft) answer it?  Before,
    the draft nobody had seen on this page was published with the reply."""
    course, store = portal["course"], portal["store"]
    _grade_and_publish(portal, {"s001": "3"})
    student, student_token = signed_in_client(portal, "s001")
    _ask(student, student_token, "二つ目の理由も見てください")
    teacher, token = signed_in_client(portal, "instructor")
    (asked,) = store.regrade_requests()
    stale = teacher.get(f"/instructor/regrades/{AID}").get_data(as_text=True)
    shown = re.search(r'name="shown" value="([^"]+)"', stale).group(1)
    other_tab, other_token = signed_in_client(portal, "instructor")
    assert other_tab.post(f"{PAGE}/grade", json={"student_id": "s001", "points": "5", "comment": "満点にします（下書き）"},
                          headers={"X-CSRFToken": other_token}).status_code == 200
    refused = teacher.post(f"/instructor/regrades/{AID}/{asked.id}/answer", follow_redirects=True,
                           data={"csrf_token": token, "changed": "0", "reply": "このままです", "shown": shown})
    assert "このページを開いたあとで変わりました" in refused.get_data(as_text=True)
    assert _gradebook(course, "s001") == 3.0 and store.regrade_request(asked.id).status == RequestStatus.OPEN
    assert "満点にします" not in student.get(f"/regrade/{AID}").get_data(as_text=True)
    fresh = teacher.get(f"/instructor/regrades/{AID}").get_data(as_text=True)
    assert "満点にします（下書き）" in fresh
    shown = re.search(r'name="shown" value="([^"]+)"', fresh).group(1)
    assert teacher.post(f"/instructor/regrades/{AID}/{asked.id}/answer",
                        data={"csrf_token": token, "changed": "0", "reply": "見直しました", "shown": shown}).status_code == 303
    assert _gradebook(course, "s001") == 5.0 and store.regrade_request(asked.id).status == RequestStatus.ANSWERED
