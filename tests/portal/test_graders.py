"""Graders (teaching assistants, ``accounts --grader ID``): they grade the written answers as drafts and see the
class page; settings, publishing, regrade requests, automatic regrades, the report and the grades CSV answer 403."""
from __future__ import annotations

import csv

import pytest
from helpers import (
    ANSWER,
    OTHER,
    ROOT,
    graded_course_without_running,
    portal_accounts,
    portal_parts,
    signed_in_client,
)

from autograder.cli import main
from autograder.portal import private
from autograder.portal.store import GRADER, Store
from autograder.tools import manual

AID, CELL = "kadai5", "q8_false_negative"
NAMES = {"s001": "山田 花子", "s002": "佐藤 太郎"}
PAGE = f"/instructor/manual/{AID}/{CELL}"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """kadai5 graded (without running) for two students, and the accounts: students, instructor, grader ta1."""
    folder = tmp_path_factory.mktemp("graders")
    course = graded_course_without_running(folder / "course", {"s001": ANSWER, "s002": OTHER}, names=NAMES)
    return portal_accounts(folder, course, NAMES, graders=("ta1",))


@pytest.fixture
def portal(built, tmp_path):
    return portal_parts(built, tmp_path)


def test_a_grader_grades_drafts_and_sees_the_class_page(portal):
    """Does a grader land on the class page (without the instructor's buttons), open the written answers and save
    a grade and a rubric item as drafts that reach no student?"""
    client, token = signed_in_client(portal, "ta1")
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"].endswith("/instructor")
    page = client.get("/instructor").get_data(as_text=True)
    assert f'id="manual-{AID}"' in page and "s001" in page
    for hidden in ("grades CSV", 'id="regrade-errors"', f'id="regrades-{AID}"', f'id="build-report-{AID}"',
                   "採点し直す / regrade</button>"):
        assert hidden not in page, hidden
    question = client.get(PAGE).get_data(as_text=True)
    assert 'id="answer-s001"' in question and 'id="publish-question"' not in question and 'id="grader-drafts"' in question
    assert client.get(f"/instructor/manual/{AID}").status_code == 200
    headers = {"X-CSRFToken": token}
    assert client.post(f"{PAGE}/rubric", json={"text": "理由がある", "points": "2"}, headers=headers).status_code == 200
    reply = client.post(f"{PAGE}/grade", json={"student_id": "s001", "points": "4", "comment": "よい"}, headers=headers)
    assert reply.status_code == 200 and reply.get_json()["answers"][0]["published"] is False
    answer = next(a for a in manual.answers(portal["course"].assignment(AID), CELL) if a.student_id == "s001")
    assert answer.points == 4.0 and answer.published_points is None


def test_a_grader_is_refused_what_is_the_instructors(portal):
    """Are publishing, the regrade requests and their settings, automatic regrades, the report and the grades CSV
    a 403 for a grader (nothing changed), and the students' pages too?"""
    client, token = signed_in_client(portal, "ta1")
    work = portal["course"].assignment(AID)
    manual.set_grade(work, "s001", CELL, 3.0, "下書き")
    refused = [("POST", f"{PAGE}/publish"), ("POST", f"/instructor/manual/{AID}/publish"),
               ("GET", f"/instructor/grades/{AID}.csv"), ("POST", f"/instructor/regrade/{AID}/s001"),
               ("POST", "/instructor/regrade-errors"), ("GET", f"/instructor/report/{AID}"),
               ("POST", f"/instructor/report/{AID}"), ("GET", f"/instructor/regrades/{AID}"),
               ("POST", f"/instructor/regrades/{AID}/closing"), ("POST", f"/instructor/regrades/{AID}/1/answer"),
               ("POST", f"/instructor/regrades/{AID}/1/reopen"), ("GET", f"/regrade/{AID}"),
               ("POST", f"/upload/{AID}"), ("GET", f"/feedback/{AID}")]
    for method, path in refused:
        response = client.open(path, method=method, data={"csrf_token": token, "closes": "2030-01-01T00:00"})
        assert response.status_code == 403, (method, path)
    answer = next(a for a in manual.answers(work, CELL) if a.student_id == "s001")
    assert answer.published_points is None and portal["store"].regrade_closing(AID) is None
    assert portal["store"].waiting() == []


def test_accounts_grader_adds_a_grader_and_leaves_the_others(tmp_path, capsys):
    """Does ``accounts --grader`` (no roster) make a grader account, its password only in the credentials file,
    leave the students' and instructor's accounts as they were, and refuse to turn a student into a grader; and does
    the roster run again end a dropped student but no grader?"""
    course = tmp_path / "course"
    root = ROOT
    course.mkdir()
    (course / "course_config.py").write_text((root / "course_config.py").read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "roster.csv").write_text("student_id,name\ns001,山田 花子\n", encoding="utf-8")
    assert main(["accounts", str(tmp_path / "roster.csv"), "--course-dir", str(course),
                 "--out", str(tmp_path / "first.csv")]) == 0
    first = {row["user_id"]: row["password"] for row in csv.DictReader((tmp_path / "first.csv").open(encoding="utf-8"))}
    assert main(["accounts", "--grader", "ta1", "--grader", "ta2", "--course-dir", str(course),
                 "--out", str(tmp_path / "graders.csv")]) == 0
    rows = (tmp_path / "graders.csv").read_text(encoding="utf-8").splitlines()[1:]
    assert [r.split(",")[0] for r in rows] == ["ta1", "ta2"] and all(f",{GRADER}," in r for r in rows)
    from autograder.course import load_course

    store = Store(private.database_url(load_course(course)))
    assert store.authenticate("s001", first["s001"]) is not None  # untouched
    assert store.authenticate("instructor", first["instructor"]).role == "instructor"
    assert store.authenticate("ta1", rows[0].split(",")[3]).role == GRADER
    assert main(["accounts", "--grader", "s001", "--course-dir", str(course), "--out", str(tmp_path / "x.csv")]) == 1
    assert "s001" in capsys.readouterr().err and store.user("s001").role == "student"
    assert main(["accounts", "--course-dir", str(course)]) == 1
    # the roster again, one student dropped: that student's account ends, the graders' (not the roster's) stay
    (tmp_path / "roster.csv").write_text("student_id,name\ns002,佐藤 太郎\n", encoding="utf-8")
    assert main(["accounts", str(tmp_path / "roster.csv"), "--course-dir", str(course),
                 "--out", str(tmp_path / "again.csv")]) == 0
    assert store.user("s001") is None and store.user("s002").role == "student"
    assert store.authenticate("ta1", rows[0].split(",")[3]).role == GRADER and store.user("ta2").role == GRADER
