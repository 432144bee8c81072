"""The instructor's score page of one student (override, extra credit, with a reason): reached from the class page's
row, instructor only, CSRF, journalled with who and why, the student's feedback page shows the reason."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
from helpers import (
    ANSWER,
    OTHER,
    graded_course_without_running,
    portal_accounts,
    portal_parts,
    signed_in_client,
)

from autograder.course.results import saved_result
from autograder.portal.store import ChangeKind, UploadState
from autograder.tools.feedback import write_feedback

AID, CHECK = "kadai5", "q6_accuracy"
NAMES = {"s001": "山田 花子", "s002": "佐藤 太郎"}
PAGE = f"/instructor/scores/{AID}/s001"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    folder = tmp_path_factory.mktemp("score-pages")
    course = graded_course_without_running(folder / "course", {"s001": ANSWER, "s002": OTHER}, names=NAMES)
    return portal_accounts(folder, course, NAMES, graders=("ta1",))


@pytest.fixture
def portal(built, tmp_path):
    return portal_parts(built, tmp_path)


def test_the_instructor_overrides_and_gives_extra_credit_with_a_reason(portal):
    """From the class page's link, does an override and an extra credit with reasons reach the gradebook's total,
    the journal (who, before, after, reason, kind), the page's list of changes and the student's feedback page?"""
    course, store = portal["course"], portal["store"]
    write_feedback(course.assignment(AID), ["s001"])
    client, token = signed_in_client(portal, "instructor")
    before = saved_result(course.assignment(AID), "s001").score
    assert f'href="{PAGE}"' in client.get(f"/instructor/manual/{AID}/q8_false_negative").get_data(as_text=True)
    upload = store.add_upload("s001", AID, datetime.now(UTC), course.root / "upload.ipynb")  # graded in the portal
    store.mark(upload, state=UploadState.DONE, status="graded", score=before, max_score=25.0)
    assert f'href="{PAGE}"' in client.get("/instructor").get_data(as_text=True)  # from the student's row
    page = client.get(PAGE).get_data(as_text=True)
    assert f'id="override-{CHECK}"' in page and "山田 花子" in page
    saved = client.post(f"{PAGE}/override", data={"grade_id": CHECK, "points": "1", "reason": "途中まで正しい",
                                                  "csrf_token": token}, follow_redirects=True).get_data(as_text=True)
    assert "の点数の上書き / overrideを 1 にしました" in saved
    client.post(f"{PAGE}/extra-credit", data={"grade_id": CHECK, "points": "0.5", "reason": "工夫がある",
                                              "csrf_token": token})
    assert saved_result(course.assignment(AID), "s001").score == before - 2 + 1 + 0.5
    assert store.upload(upload)["score"] == before - 0.5  # the portal's score of the counting upload follows
    changes = store.grade_changes(assignment_id=AID, student_id="s001")
    assert [(c.by, c.grade_id, c.kind, c.before_points, c.after_points, c.reason) for c in changes] == [
        ("instructor", CHECK, ChangeKind.OVERRIDE, None, 1.0, "途中まで正しい"),
        ("instructor", CHECK, ChangeKind.EXTRA_CREDIT, None, 0.5, "工夫がある")]
    page = client.get(PAGE).get_data(as_text=True)
    assert "途中まで正しい" in page and "上書き / override" in page
    student, _ = signed_in_client(portal, "s001")
    feedback = student.get(f"/feedback/{AID}").get_data(as_text=True)
    assert "先生がこの問の点数を 1 点にしました。理由：途中まで正しい" in feedback
    assert "先生からこの問に 0.5 点の加点があります。理由：工夫がある" in feedback


def test_a_bad_override_is_refused_and_nothing_changes(portal):
    """Are points over the cell's, a written answer's cell and a missing reason refused with the message on the
    page, nothing journalled?"""
    client, token = signed_in_client(portal, "instructor")
    for data in ({"grade_id": CHECK, "points": "3", "reason": "r"}, {"grade_id": "q8_false_negative", "points": "1",
                                                                       "reason": "r"},
                 {"grade_id": CHECK, "points": "1", "reason": ""}, {"grade_id": CHECK, "points": "x", "reason": "r"}):
        page = client.post(f"{PAGE}/override", data=data | {"csrf_token": token},
                           follow_redirects=True).get_data(as_text=True)
        assert "保存できませんでした" in page, data
    assert portal["store"].grade_changes() == []


def test_only_the_instructor_reaches_the_score_pages(portal):
    """Do a grader and a student get 403 on the page and both POSTs, an unknown student 404, a POST without the
    CSRF token 400, and does the grader's class page have no link to it?"""
    for user_id in ("ta1", "s001"):
        client, token = signed_in_client(portal, user_id)
        assert client.get(PAGE).status_code == 403
        for action in ("override", "extra-credit"):
            response = client.post(f"{PAGE}/{action}", data={"grade_id": CHECK, "points": "2", "reason": "r",
                                                             "csrf_token": token})
            assert response.status_code == 403, (user_id, action)
    grader, _ = signed_in_client(portal, "ta1")
    assert "/instructor/scores/" not in grader.get("/instructor").get_data(as_text=True)
    instructor, _ = signed_in_client(portal, "instructor")
    assert instructor.get(f"/instructor/scores/{AID}/s999").status_code == 404
    assert instructor.post(f"{PAGE}/override", data={"grade_id": CHECK, "points": "2", "reason": "r"}).status_code == 400
    assert portal["store"].grade_changes() == []
