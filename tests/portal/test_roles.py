"""Red team (issue 21, 23, 24 together): every route of the portal walked as each role — signed out, a student, a
grader (teaching assistant), the instructor — with and without the CSRF token, on another student's objects
(their upload, their regrade request, their feedback); a route added without a place in ``ALLOWED`` fails here."""
from __future__ import annotations

import re
from io import BytesIO
import shutil
from datetime import UTC, datetime

import pytest
from helpers import ANSWER, OTHER, copy_course, graded_course_without_running

from autograder.portal.app import create_app
from autograder.portal.store import Store, UploadState, import_roster, issue_graders

AID, CELL = "kadai5", "q8_false_negative"
NAMES = {"s001": "山田 花子", "s002": "佐藤 太郎"}
START = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)

ALLOWED = {  # endpoint → who may use it (besides them: a student 403, signed out the sign-in page)
    "start": {None, "s001", "ta1", "instructor"}, "signin": {None, "s001", "ta1", "instructor"},
    "signout": {None, "s001", "ta1", "instructor"}, "static": {None, "s001", "ta1", "instructor"},
    "release": {"s001", "ta1", "instructor"},
    "upload": {"s001"}, "feedback": {"s001"}, "regrade_requests": {"s001"}, "ask_regrade": {"s001"},
    "instructor": {"ta1", "instructor"}, "instructor_feedback": {"ta1", "instructor"},
    "manual_assignment": {"ta1", "instructor"}, "manual_question": {"ta1", "instructor"},
    "manual_grade": {"ta1", "instructor"}, "manual_rubric": {"ta1", "instructor"},
    "manual_apply": {"ta1", "instructor"},
    "extend": {"instructor"}, "import_extensions": {"instructor"}, "regrade": {"instructor"},
    "student_uploads": {"instructor"}, "choose_upload": {"instructor"}, "regrade_errors": {"instructor"},
    "grades": {"instructor"}, "report": {"instructor"}, "build_report": {"instructor"},
    "manual_publish_question": {"instructor"}, "manual_publish_assignment": {"instructor"},
    "instructor_regrades": {"instructor"}, "answer_regrade": {"instructor"}, "reopen_regrade": {"instructor"},
    "regrade_closing": {"instructor"},
}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    folder = tmp_path_factory.mktemp("roles")
    course = graded_course_without_running(folder / "course", {"s001": ANSWER, "s002": OTHER}, names=NAMES)
    (folder / "roster.csv").write_text("student_id,name\n" + "".join(f"{s},{n}\n" for s, n in NAMES.items()),
                                       encoding="utf-8")
    store = Store(f"sqlite:///{folder / 'portal.db'}")
    rows = import_roster(store, folder / "roster.csv") + issue_graders(store, ["ta1"])
    return course, folder / "portal.db", {row[0]: row[3] for row in rows}


@pytest.fixture
def portal(built, tmp_path):
    built_course, accounts, passwords = built
    course = copy_course(built_course, tmp_path / "course")
    shutil.copyfile(accounts, tmp_path / "portal.db")
    store = Store(f"sqlite:///{tmp_path / 'portal.db'}")
    now = [START]
    return {"course": course, "store": store, "passwords": passwords, "now": now,
            "app": create_app(course, store=store, start_queue=False, now=lambda: now[0])}


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
                                             "changed": "1", "points": "0", "text": "x", "reason": "x"})
                expected = 302 if who is None else 403
                assert response.status_code == expected, (who, method, rule.rule, response.status_code)
                page = response.get_data(as_text=True)
                assert "s002 の結果" not in page and "s002 の理由" not in page, (who, rule.rule)
    assert (portal["store"].regrade_request(objects["request_id"]), portal["store"].upload(objects["upload_id"])) \
        == before
    assert portal["store"].waiting() == [] and not (portal["course"].root / "extensions.csv").exists()


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
