"""Anonymous grading: the instructor's switch per assignment hides names and ids on the grading pages (for graders
too) and in the regrade-request list, each student a stable 「解答 N」; saving through the anonymous keys grades the
right student; a grader cannot turn the switch."""
from __future__ import annotations

import re
from datetime import datetime

import pytest
from helpers import (
    ANSWER,
    OTHER,
    SAME_ANSWER,
    graded_course_without_running,
    portal_accounts,
    portal_parts,
    signed_in_client,
)

from autograder.portal.anonymity import HIDDEN, Masks
from autograder.course.results import Status, saved_result
from autograder.portal.store import Store, UploadState
from autograder.tools import manual
from autograder.tools.manual import ManualGradeError

AID, CELL = "kadai5", "q8_false_negative"
NAMES = {"s001": "山田 花子", "s002": "佐藤 太郎", "s003": "鈴木 一郎"}
ANSWERS = {"s001": ANSWER, "s002": OTHER, "s003": SAME_ANSWER}
PAGE = f"/instructor/manual/{AID}/{CELL}"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """kadai5 graded (without running) for three students; accounts of them, the instructor and grader ta1."""
    folder = tmp_path_factory.mktemp("anonymity")
    course = graded_course_without_running(folder / "course", ANSWERS, names=NAMES)
    return portal_accounts(folder, course, NAMES, graders=("ta1",))


@pytest.fixture
def portal(built, tmp_path):
    return portal_parts(built, tmp_path)


def _switch(client, token, on: bool):
    return client.post(f"/instructor/manual/{AID}/anonymous", data={"on": "1" if on else "0", "csrf_token": token})


def _labels(page: str) -> list[str]:
    return re.findall(r'<span class="position">[^<]*</span> (解答 \d+)', page)


def test_the_store_numbers_each_student_once_in_a_random_order():
    """Does each student get one number per assignment, kept when asked again and when others join, numbers
    1…n without gaps, independent between assignments?"""
    store = Store("sqlite://")
    first = store.anonymous_numbers(AID, ["s001", "s002", "s003"])
    assert sorted(first.values()) == [1, 2, 3]
    assert store.anonymous_numbers(AID, ["s003", "s001"]) == {"s003": first["s003"], "s001": first["s001"]}
    later = store.anonymous_numbers(AID, ["s001", "s004"])
    assert later == {"s001": first["s001"], "s004": 4}
    assert sorted(store.anonymous_numbers("kadai4", ["s001", "s002"]).values()) == [1, 2]
    orders = {tuple(sorted(Store("sqlite://").anonymous_numbers(AID, [f"s{i:03}" for i in range(8)]).items()))
              for _ in range(6)}
    assert len(orders) > 1  # not the ids' order every time
    assert not store.anonymous(AID)
    store.set_anonymous(AID, True, by="instructor", at=__import__("datetime").datetime.now())
    assert store.anonymous(AID) and not store.anonymous("kadai4")
    store.set_anonymous(AID, False, by="instructor", at=__import__("datetime").datetime.now())
    assert not store.anonymous(AID)


def test_masks_hide_ids_in_messages_and_turn_keys_back():
    """Does a message naming a student's id hide it (s0012 not read as s001 + 2) without giving their label (a
    message may quote what a grader typed), does a key name its student, and is anything else — an unknown number,
    a student's id — no key while the switch is on?"""
    masks = Masks(True, {"s001": 3, "s0012": 1})
    assert masks.hide("s0012 と s001 の q8: 点数 9") == f"{HIDDEN} と {HIDDEN} の q8: 点数 9"
    assert (masks.key("s001"), masks.student("anon-3"), masks.who("s0012")) == ("anon-3", "s001", "解答 1")
    for key in ("anon-9", "s001", "anon-s001", "", "anon-03"):
        with pytest.raises(ManualGradeError, match="この解答が見つかりません"):
            masks.student(key)
    off = Masks(False, {}, {"s001": "山田"})
    with pytest.raises(ManualGradeError, match="読み込み直して"):  # a page loaded while it was on, posted after
        off.student("anon-3")
    assert (off.key("s001"), off.who("s001"), off.hide("s001")) == ("s001", "s001 山田", "s001")


def test_names_and_ids_are_hidden_on_the_grading_pages_for_the_grader_too(portal):
    """With the switch on, does the question page (the grader's and the instructor's) show 「解答 N」 and no id or
    name anywhere in its HTML, the same number for a student on every view, is a student's feedback page (their
    answers beside their id) refused to a grader and not linked on the grader's class page, and does the switch off
    show them again?"""
    instructor, token = signed_in_client(portal, "instructor")
    before = instructor.get(PAGE).get_data(as_text=True)
    assert "s001" in before and "山田 花子" in before
    assert _switch(instructor, token, True).status_code == 303
    assert "匿名採点中" in instructor.get(f"/instructor/manual/{AID}").get_data(as_text=True)
    grader, _ = signed_in_client(portal, "ta1")
    seen = []
    for client in (grader, instructor, grader):
        page = client.get(PAGE).get_data(as_text=True)
        for student_id, name in NAMES.items():
            assert student_id not in page and name not in page, (student_id, page)
        assert sorted(_labels(page)) == ["解答 1", "解答 2", "解答 3"] and 'id="anonymous-note"' in page
        numbers = portal["store"].anonymous_numbers(AID, NAMES)
        seen.append({s: f'id="answer-anon-{n}"' in page for s, n in numbers.items()})
        assert _labels(page)[0] == "解答 1"  # by number (then similar answers join their group's first)
    assert all(all(found.values()) for found in seen)
    # the feedback page carries the answers beside the id: closed to a grader while anonymous, linked for no grader
    feedback = portal["course"].feedback_path(AID, "s001")
    feedback.parent.mkdir(parents=True, exist_ok=True)
    feedback.write_text("<html><body>s001 の答え</body></html>", encoding="utf-8")
    refused = grader.get(f"/instructor/feedback/{AID}/s001")
    assert refused.status_code == 403 and "匿名" in refused.get_data(as_text=True)
    assert "s001 の答え" not in refused.get_data(as_text=True)
    assert f"/instructor/feedback/{AID}/s001" not in grader.get("/instructor").get_data(as_text=True)
    assert instructor.get(f"/instructor/feedback/{AID}/s001").status_code == 200  # the instructor's own view
    assert f"/instructor/feedback/{AID}/s001" in instructor.get("/instructor").get_data(as_text=True)
    assert _switch(instructor, token, False).status_code == 303
    assert grader.get(f"/instructor/feedback/{AID}/s001").status_code == 200
    assert "s001" in grader.get(PAGE).get_data(as_text=True)


def test_a_grader_saves_through_the_anonymous_keys(portal):
    """Does a grade saved (JSON and plain form) and a rubric item applied with anonymous keys reach the right
    students, the replies name only labels, and an error about the student names the label, not the id?"""
    instructor, token = signed_in_client(portal, "instructor")
    _switch(instructor, token, True)
    grader, grader_token = signed_in_client(portal, "ta1")
    numbers = portal["store"].anonymous_numbers(AID, NAMES)
    key = {s: f"anon-{n}" for s, n in numbers.items()}
    headers = {"X-CSRFToken": grader_token}
    reply = grader.post(f"{PAGE}/grade", json={"student_id": key["s002"], "points": "3", "comment": "根拠が弱い"},
                        headers=headers)
    assert reply.status_code == 200, reply.get_data(as_text=True)
    body = reply.get_data(as_text=True)
    assert "s002" not in body and reply.get_json()["message"].startswith(f"解答 {numbers['s002']} を保存しました")
    assert reply.get_json()["answers"][0]["student_id"] == key["s002"]
    form = grader.post(f"{PAGE}/grade", data={"student_id": key["s001"], "points": "5", "csrf_token": grader_token})
    assert form.status_code == 303 and form.headers["Location"].endswith(f"#answer-{key['s001']}")
    item = grader.post(f"{PAGE}/rubric", json={"text": "理由がある", "points": "2"}, headers=headers).get_json()["item"]
    applied = grader.post(f"{PAGE}/apply", json={"item_id": item["id"], "student_ids": [key["s003"]]}, headers=headers)
    assert applied.status_code == 200 and "s003" not in applied.get_data(as_text=True)
    found = {a.student_id: a for a in manual.answers(portal["course"].assignment(AID), CELL)}
    assert (found["s002"].points, found["s002"].comment, found["s001"].points, found["s003"].items) == \
        (3.0, "根拠が弱い", 5.0, (item["id"],))
    wrong = grader.post(f"{PAGE}/grade", json={"student_id": key["s002"], "points": "9"}, headers=headers)
    assert wrong.status_code == 400 and "s002" not in wrong.get_json()["error"]
    assert f"解答 {numbers['s002']}" in wrong.get_json()["error"]


def test_a_students_id_sent_as_the_key_grades_no_one(portal):
    """Red team: while anonymous, can a grader post a student's id instead of ``anon-N`` (a form field edited, JSON
    by hand) and read the label back from the reply, the redirect or the page, or grade that student?  Before, the
    id was taken: the reply said 「解答 N を保存しました」 with key ``anon-N``, the whole id → label table in one post a
    student (and an applied rubric item answered the same way)."""
    instructor, token = signed_in_client(portal, "instructor")
    _switch(instructor, token, True)
    grader, grader_token = signed_in_client(portal, "ta1")
    numbers = portal["store"].anonymous_numbers(AID, NAMES)
    headers = {"X-CSRFToken": grader_token}
    item = grader.post(f"{PAGE}/rubric", json={"text": "理由がある", "points": "2"}, headers=headers).get_json()["item"]
    tries = [grader.post(f"{PAGE}/grade", json={"student_id": "s002", "points": "3"}, headers=headers),
             grader.post(f"{PAGE}/apply", json={"item_id": item["id"], "student_ids": ["s003"]}, headers=headers),
             grader.post(f"{PAGE}/grade", data={"student_id": "s001", "points": "4", "csrf_token": grader_token})]
    for reply in tries[:2]:
        body = str(reply.get_json())  # the JSON's text unescaped
        assert reply.status_code == 400, body
        assert not any(f"解答 {n}" in body or f"anon-{n}\"" in body for n in numbers.values()), body
    assert tries[2].status_code == 303 and "anon-" + str(numbers["s001"]) not in tries[2].headers["Location"]
    shown = grader.get(PAGE).get_data(as_text=True)
    assert f"解答 {numbers['s001']} を保存しました" not in shown and "保存できませんでした" in shown
    assert all(not a.graded for a in manual.answers(portal["course"].assignment(AID), CELL))
    # text the grader types, quoted back in a reply or an error, does not become a label either
    quoted = [grader.post(f"{PAGE}/rubric", json={"text": "s001 s002 s003", "points": "1"}, headers=headers),
              grader.post(f"{PAGE}/rubric", json={"text": "x", "points": "s002"}, headers=headers),
              grader.post(f"{PAGE}/apply", json={"item_id": "s003", "student_ids": [f"anon-{numbers['s001']}"]},
                          headers=headers)]
    for reply in quoted:
        assert not any(f"解答 {n}" in str(reply.get_json()) for n in numbers.values()), reply.get_json()


def test_the_graders_class_page_gives_no_published_mark_to_match_an_answer_with(portal):
    """Red team: the question page shows a grader each 「解答 N」's published points; the class page showed the same
    grader each student's 「手動 4/5」 (and sorted by the total, and told pending from graded), so a mark seen on
    one page named the student on the other.  While the assignment is anonymous, does the grader's class page show
    the automatic part only, the same for every student whatever their published mark, and the instructor's page
    still the marks?"""
    course = portal["course"]
    work = course.assignment(AID)
    manual.set_grade(work, "s001", CELL, 1.0, "")
    manual.set_grade(work, "s002", CELL, 4.0, "")
    manual.publish(work, CELL)  # s003's answer still ungraded: pending
    for student_id in NAMES:  # each student's upload graded, as the line records it
        upload = portal["store"].add_upload(student_id, AID, datetime(2026, 12, 1), course.root / "x.ipynb")
        portal["store"].mark(upload, state=UploadState.DONE, status=Status.GRADED,
                             score=saved_result(work, student_id).score)
    instructor, token = signed_in_client(portal, "instructor")
    _switch(instructor, token, True)
    grader, _ = signed_in_client(portal, "ta1")
    page = grader.get("/instructor?sort=score").get_data(as_text=True)
    rows = {s: re.search(rf'<tr[^>]*>(?:(?!</tr>).)*{s}(?:(?!</tr>).)*</tr>', page, re.S).group(0) for s in NAMES}
    assert all("手動 1/5" not in r and "手動 4/5" not in r and "手動 未採点" not in r for r in rows.values()), rows
    assert len({re.sub(r"s00\d|" + "|".join(NAMES.values()), "", r) for r in rows.values()}) == 1, rows
    assert [page.index(s) for s in sorted(NAMES)] == sorted(page.index(s) for s in NAMES)  # by id, not by mark
    mine = instructor.get("/instructor").get_data(as_text=True)
    assert "手動 1/5" in mine and "手動 4/5" in mine


def test_only_the_instructor_turns_the_switch(portal):
    """Is the switch refused to a grader and a student (nothing changed), and does it need the CSRF token?"""
    grader, token = signed_in_client(portal, "ta1")
    assert _switch(grader, token, True).status_code == 403
    student, student_token = signed_in_client(portal, "s001")
    assert _switch(student, student_token, True).status_code == 403
    instructor, _ = signed_in_client(portal, "instructor")
    assert instructor.post(f"/instructor/manual/{AID}/anonymous", data={"on": "1"}).status_code == 400
    assert not portal["store"].anonymous(AID)
    page = grader.get(f"/instructor/manual/{AID}").get_data(as_text=True)
    assert 'id="anonymous-on"' not in page


def test_the_regrade_list_hides_names_while_the_switch_is_on(portal):
    """Does the instructor's list of regrade requests name the student as 「解答 N」 (the grading pages' number)
    while the assignment is anonymous, and by id and name again when it is not?"""
    course, store = portal["course"], portal["store"]
    work = course.assignment(AID)
    manual.set_grade(work, "s001", CELL, 3.0, "要点不足")
    manual.publish(work, CELL)
    student, token = signed_in_client(portal, "s001")
    assert student.post(f"/regrade/{AID}/{CELL}", data={"reason": "理由は書きました", "csrf_token": token}).status_code == 303
    instructor, instructor_token = signed_in_client(portal, "instructor")
    _switch(instructor, instructor_token, True)
    number = store.anonymous_numbers(AID, ["s001"])["s001"]
    page = instructor.get(f"/instructor/regrades/{AID}").get_data(as_text=True)
    assert f"解答 {number}" in page and "s001" not in page and "山田 花子" not in page
    request_id = store.regrade_requests(assignment_id=AID)[0].id
    over = instructor.post(f"/instructor/regrades/{AID}/{request_id}/answer", follow_redirects=True,
                           data={"reply": "x", "changed": "1", "points": "9", "csrf_token": instructor_token})
    assert f"解答 {number} {CELL}" in over.get_data(as_text=True) and "s001" not in over.get_data(as_text=True)
    answered = instructor.post(f"/instructor/regrades/{AID}/{request_id}/answer",
                               data={"reply": "確認しました", "changed": "0", "csrf_token": instructor_token},
                               follow_redirects=True).get_data(as_text=True)
    assert f"解答 {number} の依頼に回答しました" in answered and "s001" not in answered
    _switch(instructor, instructor_token, False)
    assert "山田 花子" in instructor.get(f"/instructor/regrades/{AID}").get_data(as_text=True)
