"""Red team (issue 21, 23, 24 together): every route of the portal walked as each role — signed out, a student, a
grader (teaching assistant), the instructor — with and without the CSRF token, on another student's objects
(their upload, their regrade request, their feedback); a route added without a place in ``ALLOWED`` fails here."""
from __future__ import annotations

import csv
import re
from datetime import UTC, datetime
from io import BytesIO

import pytest
from helpers import ANSWER, OTHER, graded_course_without_running, portal_accounts, portal_copy

from autograder.portal.store import UploadState

AID, CELL = "kadai5", "q8_false_negative"
NAMES = {"s001": "山田 花子", "s002": "佐藤 太郎"}
START = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)

ALLOWED = {  # endpoint → who may use it (besides them: a student 403, signed out the sign-in page)
    "auth.start": {None, "s001", "ta1", "instructor"}, "auth.signin": {None, "s001", "ta1", "instructor"},
    "auth.signout": {None, "s001", "ta1", "instructor"}, "static": {None, "s001", "ta1", "instructor"},
    "student.release": {"s001", "ta1", "instructor"},
    "student.upload": {"s001"}, "student.feedback": {"s001"},
    "regrades.regrade_requests": {"s001"}, "regrades.ask_regrade": {"s001"},
    "instructor.home": {"ta1", "instructor"}, "instructor.feedback": {"ta1", "instructor"},
    "manual.manual_assignment": {"ta1", "instructor"}, "manual.manual_question": {"ta1", "instructor"},
    "manual.manual_grade": {"ta1", "instructor"}, "manual.manual_rubric": {"ta1", "instructor"},
    "manual.manual_apply": {"ta1", "instructor"},
    "instructor.extend": {"instructor"}, "instructor.import_extensions": {"instructor"},
    "instructor.regrade": {"instructor"}, "instructor.student_uploads": {"instructor"},
    "instructor.choose_upload": {"instructor"}, "instructor.regrade_errors": {"instructor"},
    "instructor.grades": {"instructor"}, "instructor.report": {"instructor"}, "instructor.build_report": {"instructor"},
    "manual.manual_publish_question": {"instructor"}, "manual.manual_publish_assignment": {"instructor"},
    "regrades.instructor_regrades": {"instructor"}, "regrades.answer_regrade": {"instructor"},
    "regrades.reopen_regrade": {"instructor"}, "regrades.regrade_closing": {"instructor"},
    "manual.manual_anonymous": {"instructor"},
    "scores.score_changes": {"instructor"}, "scores.override_score": {"instructor"},
    "scores.give_extra_credit": {"instructor"},
}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    folder = tmp_path_factory.mktemp("roles")
    course = graded_course_without_running(folder / "course", {"s001": ANSWER, "s002": OTHER}, names=NAMES)
    return portal_accounts(folder, course, NAMES, graders=("ta1",))


@pytest.fixture
def portal(built, tmp_path):
    now = [START]
    course, store, app = portal_copy(built, tmp_path, now=lambda: now[0])
    return {"course": course, "store": store, "passwords": built[2], "now": now, "app": app}


def _token(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def _client(portal, user_id: str | None):
    client = portal["app"].test_client()
    token = _token(client.get("/").get_data(as_text=True))
    if user_id is None:
        return client, token
    client.post("/signin", data={"user_id": user_id, "password": portal["passwords"][user_id], "csrf_token": token})
    return client, _token(client.get("/", follow_redirects=True).get_data(as_text=True))


def _s002_objects(portal) -> dict:
    """s002's graded upload, published grade, feedback page and regrade request: what the others aim at."""
    course, store = portal["course"], portal["store"]
    path = course.root / "s002.ipynb"
    path.write_text("{}", encoding="utf-8")
    upload_id = store.add_upload("s002", AID, START, path)
    store.mark(upload_id, state=UploadState.DONE, status="graded", score=1.0, max_score=25.0)
    feedback = course.feedback_path(AID, "s002")
    feedback.parent.mkdir(parents=True, exist_ok=True)
    feedback.write_text("<!DOCTYPE html><p>s002 の結果</p>", encoding="utf-8")
    request_id = store.add_regrade_request("s002", AID, CELL, "s002 の理由", START)
    return {"upload_id": upload_id, "request_id": request_id}


def _build(rule, values):
    url = rule.rule
    for name in rule.arguments:
        url = re.sub(rf"<(?:[a-z]+:)?{name}>", str(values[name]), url)
    return url


def test_every_route_answers_only_the_roles_it_is_for(portal):
    """Is every route of the portal (the list is read from Flask, so a new one must be placed in ``ALLOWED``) a 403
    for a signed-in user it is not for, and the sign-in page for a visitor signed out — never a page, never a
    change — with the CSRF token sent?"""
    objects = _s002_objects(portal)
    rules = [r for r in portal["app"].url_map.iter_rules()]
    assert {r.endpoint for r in rules} == set(ALLOWED), "a route without its roles in ALLOWED"
    before = (portal["store"].regrade_request(objects["request_id"]), portal["store"].upload(objects["upload_id"]))
    for who in (None, "s001", "ta1", "instructor"):
        client, token = _client(portal, who)  # signing out is for everyone: never walked here, the session stays
        for rule in rules:
            if who in ALLOWED[rule.endpoint]:
                continue
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                response = client.open(_build(rule, {"assignment_id": AID, "grade_id": CELL, "student_id": "s002",
                                                     "filename": "portal.css", **objects}), method=method,
                                       data={"csrf_token": token, "closes": "2030-01-01T00:00", "reply": "x",
                                             "student_id": "s002", "assignment_id": AID, "due": "2030-01-01 00:00",
                                             "changed": "1", "points": "0", "text": "x", "reason": "x",
                                             "on": "1", "grade_id": "q6_accuracy"})
                expected = 302 if who is None else 403
                assert response.status_code == expected, (who, method, rule.rule, response.status_code)
                page = response.get_data(as_text=True)
                assert "s002 の結果" not in page and "s002 の理由" not in page, (who, rule.rule)
    assert (portal["store"].regrade_request(objects["request_id"]), portal["store"].upload(objects["upload_id"])) \
        == before
    assert portal["store"].waiting() == [] and not (portal["course"].root / "extensions.csv").exists()
    assert not portal["store"].anonymous(AID) and portal["store"].grade_changes() == []


def test_every_post_without_the_csrf_token_is_refused(portal):
    """Is every POST route refused (400) without the token, for the role it is for?"""
    objects = _s002_objects(portal)
    for rule in portal["app"].url_map.iter_rules():
        if "POST" not in rule.methods:
            continue
        who = next(w for w in ("instructor", "s001", "ta1", None) if w in ALLOWED[rule.endpoint])
        client, _ = _client(portal, who)
        response = client.post(_build(rule, {"assignment_id": AID, "grade_id": CELL, "student_id": "s002",
                                             "filename": "x", **objects}), data={"reason": "x", "due": "2030-01-01"})
        assert response.status_code == 400, (who, rule.rule, response.status_code)
        response = client.post(_build(rule, {"assignment_id": AID, "grade_id": CELL, "student_id": "s002",
                                             "filename": "x", **objects}), json={"student_id": "s002"})
        assert response.status_code == 400, ("json", who, rule.rule, response.status_code)


def _import(client, token, data: bytes):
    return client.post("/instructor/extensions/import", data={"csrf_token": token, "csv": (BytesIO(data), "x.csv")},
                       content_type="multipart/form-data", follow_redirects=True)


def test_a_careless_extension_csv_records_nothing_and_says_why(portal):
    """Does an extension CSV with a field over the csv module's limit (a pasted column, was a 500), a typo'd student
    id (was recorded silently: nobody got the extension), or a date with no UTC (was a 500) record nothing and say
    why — and the form the same for one student?"""
    client, token = _client(portal, "instructor")
    header = b"student_id,assignment_id,due\n"
    cases = [(header + b's001,kadai5,"' + b"x" * 200_000 + b'"\n', "CSV として読めません"),
             (header + b"s001,kadai5,2030-01-01 00:00\ns0001,kadai5,2030-01-01 00:00\n", "s0001 の学生のアカウントがありません"),
             (header + b"s001,kadai5,9999-12-31T23:59-14:00\n", "締め切り"),
             (header + b"=HYPERLINK(\"x\"),kadai5,2030-01-01 00:00\n", "正しくありません")]
    for data, said in cases:
        response = _import(client, token, data)
        assert response.status_code == 200 and said in response.get_data(as_text=True), said
        assert not (portal["course"].root / "extensions.csv").exists(), said
    for student_id, due, said in (("s0001", "2030-01-01 00:00", "アカウントがありません"),
                                  ("s001", "9999-12-31T23:59-14:00", "締め切りの日時が読めません")):
        response = client.post("/instructor/extensions", data={"csrf_token": token, "student_id": student_id,
                                                               "assignment_id": AID, "due": due}, follow_redirects=True)
        assert response.status_code == 200 and said in response.get_data(as_text=True), said
    assert not (portal["course"].root / "extensions.csv").exists()
    assert "1 件の延長を入れました" in _import(client, token, header + b"s002,kadai5,2030-01-01 00:00\n").get_data(as_text=True)


def test_a_closing_date_without_utc_is_refused_and_an_offset_is_kept(portal):
    """Is a regrade closing date at the calendar's end (no UTC for it: was a 500) refused, changing nothing, and
    one typed with an offset kept at that offset (was read as the course's time, the offset dropped)?"""
    client, token = _client(portal, "instructor")
    response = client.post(f"/instructor/regrades/{AID}/closing", data={"csrf_token": token,
                                                                        "closes": "0001-01-01T00:00"})
    assert response.status_code == 303 and portal["store"].regrade_closing(AID) is None
    client.post(f"/instructor/regrades/{AID}/closing", data={"csrf_token": token, "closes": "2030-01-01T00:00+00:00"})
    assert portal["store"].regrade_closing(AID) == datetime(2030, 1, 1, tzinfo=UTC)
    client.post(f"/instructor/regrades/{AID}/closing", data={"csrf_token": token, "closes": "2030-01-01T09:00"})
    assert portal["store"].regrade_closing(AID) == datetime(2030, 1, 1, tzinfo=UTC)  # Tokyo's 09:00


def test_a_draft_reaches_no_student_page_nor_the_grades(portal):
    """After the instructor published 3 points for s001's written answer, a grader's draft of 5 with its own comment
    (and a rubric item of markup): does the draft appear on any page of s001's (home, feedback — written again by
    ``build_pages`` after the draft, as grading and ``feedback`` write it —, regrade requests),
    in the portal's score, in the grades CSV — and does the markup stay text where the published items show?"""
    page = f"/instructor/manual/{AID}/{CELL}"
    feedback = portal["course"].feedback_path(AID, "s001")  # publishing writes again a page that exists
    feedback.parent.mkdir(parents=True, exist_ok=True)
    feedback.write_text("<!DOCTYPE html><p>before</p>", encoding="utf-8")
    instructor, token = _client(portal, "instructor")
    reply = instructor.post(f"{page}/grade", json={"student_id": "s001", "points": "3", "comment": "公開した講評"},
                            headers={"X-CSRFToken": token})
    assert reply.status_code == 200
    assert instructor.post(f"{page}/publish", json={}, headers={"X-CSRFToken": token}).status_code == 200
    grader, grader_token = _client(portal, "ta1")
    item = grader.post(f"{page}/rubric", json={"text": "<b id=drafted>下書きの項目</b>", "points": "2"},
                       headers={"X-CSRFToken": grader_token}).get_json()["item"]["id"]
    reply = grader.post(f"{page}/grade", json={"student_id": "s001", "points": "5", "items": [item],
                                               "comment": "下書きの講評"}, headers={"X-CSRFToken": grader_token})
    assert reply.status_code == 200 and reply.get_json()["answers"][0]["published"] is False
    from autograder.tools.feedback_child import build_pages

    build_pages(portal["course"].assignment(AID), ["s001"])  # the page written again (grading, ``feedback``)
    student, _ = _client(portal, "s001")
    for path in ("/", f"/feedback/{AID}", f"/regrade/{AID}"):
        text = student.get(path).get_data(as_text=True)
        assert "下書き" not in text and "drafted" not in text, path
    assert "公開した講評" in student.get(f"/feedback/{AID}").get_data(as_text=True)
    assert "公開された点数：3 / " in student.get(f"/regrade/{AID}").get_data(as_text=True)
    rows = {row["student_id"]: row for row in csv.DictReader(
        instructor.get(f"/instructor/grades/{AID}.csv").get_data(as_text=True).lstrip("\ufeff").splitlines())}
    assert rows["s001"][CELL] == "3" and rows["s001"]["score"] == "23"  # the published 3 (20 automatic), not 5
    # published: the item of markup reaches the student as text
    assert instructor.post(f"{page}/publish", json={}, headers={"X-CSRFToken": token}).status_code == 200
    text = student.get(f"/feedback/{AID}").get_data(as_text=True)
    assert "下書きの項目" in text and "<b id=drafted>" not in text and 'id="drafted"' not in text
    assert "公開された点数：5 / " in student.get(f"/regrade/{AID}").get_data(as_text=True)


def test_publishing_rescores_the_upload_the_instructor_chose_not_the_newest(portal):
    """The instructor chose s001's earlier upload (22) over a later typo (17), and it was graded again; publishing a
    written answer then puts the new total on the chosen upload's row, and leaves the typo's 17 (it was the newest
    graded row that took the chosen submission's total)?"""
    store, path = portal["store"], portal["course"].root / "s001.ipynb"
    path.write_text("{}", encoding="utf-8")
    better, typo = store.add_upload("s001", AID, START, path), store.add_upload("s001", AID, START, path)
    store.mark(better, state=UploadState.DONE, status="graded", score=22.0, max_score=25.0)
    store.mark(typo, state=UploadState.DONE, status="graded", score=17.0, max_score=25.0)
    assert store.choose(better)
    store.mark(better, state=UploadState.DONE, status="graded", score=20.0)  # graded again: the gradebook is its own
    instructor, token = _client(portal, "instructor")
    page = f"/instructor/manual/{AID}/{CELL}"
    assert instructor.post(f"{page}/grade", json={"student_id": "s001", "points": "3"},
                           headers={"X-CSRFToken": token}).status_code == 200
    assert instructor.post(f"{page}/publish", json={}, headers={"X-CSRFToken": token}).status_code == 200
    assert (store.upload(better)["score"], store.upload(typo)["score"]) == (23.0, 17.0)


def test_a_name_or_reason_of_markup_or_invisible_characters_stays_text(portal):
    """A student's name of markup (in the portal's accounts and nbgrader's gradebook) on the class, manual, uploads
    and regrade pages; a regrade reason of zero-width characters only: is the markup shown as text everywhere, and is
    a reason that shows nothing refused as empty?"""
    store, course = portal["store"], portal["course"]
    markup = '<img src=x id="named">"><script>x()</script>'
    store.set_user("s002", markup, portal["passwords"]["s002"])
    course.record_names({"s002": markup})
    _s002_objects(portal)
    instructor, _ = _client(portal, "instructor")
    for path in ("/instructor", "/instructor?q=%3Cimg", f"/instructor/manual/{AID}/{CELL}",
                 f"/instructor/uploads/{AID}/s002", f"/instructor/regrades/{AID}"):
        text = instructor.get(path).get_data(as_text=True)
        assert 'id="named"' not in text and "<script>x()" not in text and "<img src=x" not in text, path
    assert "&lt;img src=x" in instructor.get("/instructor").get_data(as_text=True)
    instructor_token = _token(instructor.get("/instructor").get_data(as_text=True))
    page = f"/instructor/manual/{AID}/{CELL}"
    instructor.post(f"{page}/grade", json={"student_id": "s001", "points": "3"}, headers={"X-CSRFToken": instructor_token})
    instructor.post(f"{page}/publish", json={}, headers={"X-CSRFToken": instructor_token})
    student, token = _client(portal, "s001")
    reply = student.post(f"/regrade/{AID}/{CELL}", data={"reason": "\u200b\u2060\ufeff \u200d", "csrf_token": token},
                         follow_redirects=True)
    assert "理由を書いてください" in reply.get_data(as_text=True)
    assert [r.student_id for r in store.regrade_requests(assignment_id=AID)] == ["s002"]
