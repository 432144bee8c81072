"""The instructor's pages for grading the written answers by question: who reaches them, CSRF, students' answers
shown inert, the gradebook round trip through nbgrader's own API, the rubric on a group; and in headless
Chromium, three answers graded with the keyboard and a reused comment, then the grades CSV."""
from __future__ import annotations

import csv
import fcntl
import io
import json
import logging
import re
import shutil
import sqlite3
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from html.parser import HTMLParser

import pytest
from helpers import (
    ANSWER,
    OTHER,
    SAME_ANSWER,
    click_through,
    copy_course,
    graded_course_without_running,
    headless_chromium,
    serve_in_thread,
)

from autograder.course.results import saved_result
from autograder.portal.app import HEADERS, PAGE_POLICY, create_app
from autograder.portal import manual_pages
from autograder.portal.manual_pages import BUSY
from autograder.portal.store import Store, UploadState, import_roster
from autograder.tools import manual
from autograder.tools.feedback import write_feedback
from autograder.tools.similarity import MAX_ANSWER_CHARS

AID, CELL = "kadai5", "q8_false_negative"
HOSTILE = "<script>alert(1)</script>\n\n<img src=x onerror=alert(1)>\n\n[x](javascript:alert(1))\n\n**太字**"
ANSWERS = {"s001": ANSWER, "s002": SAME_ANSWER, "s003": OTHER, "s004": HOSTILE}
NAMES = {"s001": "山田 花子", "s002": "佐藤 太郎", "s003": "鈴木 一郎", "s004": "田中 <b>次郎</b>"}
ROSTER = "student_id,name\n" + "".join(f"{s},{n}\n" for s, n in NAMES.items())
BASE = f"/instructor/manual/{AID}"
PAGE = f"{BASE}/{CELL}"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """kadai5 graded (without running) for four students, whose written answer 問8 is all that differs, and the
    portal's accounts of the four and the instructor (Argon2 hashing takes a while: made once)."""
    folder = tmp_path_factory.mktemp("manual-pages")
    course = graded_course_without_running(folder / "course", ANSWERS, names=NAMES)
    (folder / "roster.csv").write_text(ROSTER, encoding="utf-8")
    passwords = {row[0]: row[3] for row in import_roster(Store(f"sqlite:///{folder / 'portal.db'}"), folder / "roster.csv")}
    return course, folder / "portal.db", passwords


@pytest.fixture
def portal(built, tmp_path):
    """A private copy of that course and of the accounts, and the portal on them (its queue not running)."""
    built_course, accounts, passwords = built
    course = copy_course(built_course, tmp_path / "course")
    shutil.copyfile(accounts, tmp_path / "portal.db")
    store = Store(f"sqlite:///{tmp_path / 'portal.db'}")
    return {"course": course, "app": create_app(course, store=store, start_queue=False), "passwords": passwords}


def _token(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def _client(portal, user_id: str | None = None):
    client = portal["app"].test_client()
    if user_id:
        client.post("/signin", data={"user_id": user_id, "password": portal["passwords"][user_id],
                                     "csrf_token": _token(client.get("/").get_data(as_text=True))})
    return client


def _instructor(portal):
    """The instructor's client and a CSRF token of their session."""
    client = _client(portal, "instructor")
    return client, _token(client.get(PAGE).get_data(as_text=True))


def _post_json(client, token: str | None, action: str, **body):
    headers = {"X-CSRFToken": token} if token else {}
    return client.post(f"{PAGE}/{action}", json=body, headers=headers)


def _publish(client, token: str):
    """Publish 問8's drafts through the page's JSON endpoint; the reply."""
    response = _post_json(client, token, "publish")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def _rewrite_answer(course, student_id: str, text: str) -> None:
    """The student's autograded notebook with ``text`` as their answer to 問8 (as if graded again)."""
    import nbformat

    path = course.assignment(AID).autograded(student_id)
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == CELL:
            cell.source = text
    nbformat.write(notebook, path)


def _answer_input(page: str, student_id: str) -> dict:
    """The attributes of the points field of the student's answer."""
    article = re.search(rf'id="answer-{student_id}".*?</article>', page, re.S).group(0)
    return next(a for t, a in _Markup(article).tags if t == "input" and a.get("name") == "points")


def _nbgrader_reads(course, student_id: str) -> tuple[float | None, str | None]:
    """What nbgrader's own Gradebook API (formgrader's) holds for the student's 問8."""
    from nbgrader.api import Gradebook

    with Gradebook(course.db_url, course.config.course_id) as gb:
        return (gb.find_grade(CELL, AID, AID, student_id).manual_score,
                gb.find_comment(CELL, AID, AID, student_id).manual_comment)


class _Markup(HTMLParser):
    """Every start tag of a page, with its attributes."""

    def __init__(self, page: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


ROUTES = [("GET", BASE), ("GET", PAGE), ("GET", f"{PAGE}?ungraded=1"),
          ("POST", f"{PAGE}/grade"), ("POST", f"{PAGE}/rubric"), ("POST", f"{PAGE}/apply"),
          ("POST", f"{PAGE}/publish"), ("POST", f"{BASE}/publish")]
FORMS = {"grade": {"student_id": "s001", "points": "5", "comment": "x"}, "rubric": {"text": "x", "points": "5"},
         "apply": {"student_id": "s001", "item_id": "x"}, "publish": {}}


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_only_the_instructor_reaches_the_manual_pages(portal, method, path):
    """Is every manual grading route a redirect to sign-in for an anonymous visitor and a 403 for a student (even
    with a valid CSRF token), and open to the instructor?"""
    data = FORMS.get(path.rsplit("/", 1)[-1], {})
    for who, expected in ((None, 302), ("s001", 403)):
        client = _client(portal, who)
        token = _token(client.get("/").get_data(as_text=True))
        response = client.open(path, method=method, data={**data, "csrf_token": token} if method == "POST" else None)
        assert response.status_code == expected, (who, path)
        if expected == 302:
            assert response.headers["Location"] in ("/", "http://localhost/")
    assert _nbgrader_reads(portal["course"], "s001") == (None, None)
    if method == "GET":
        assert _client(portal, "instructor").get(path).status_code == 200


def test_the_instructor_page_links_to_the_written_answers(portal):
    """Does the instructor's page link each assignment to its manual grading, and that page list 問8 with its
    progress and a link to its ungraded answers?"""
    client = _client(portal, "instructor")
    assert f'href="{BASE}"' in client.get("/instructor").get_data(as_text=True)
    page = client.get(BASE).get_data(as_text=True)
    assert "問8" in page and "5 点" in page and "採点済み 0 / 4" in page and f'href="{PAGE}?ungraded=1"' in page


@pytest.mark.parametrize("action", ["grade", "rubric", "apply", "publish"])
def test_every_post_needs_the_csrf_token(portal, action):
    """Is a POST without the CSRF token (form or JSON, even from the signed-in instructor) refused with 400,
    writing nothing?"""
    client, token = _instructor(portal)
    assert client.post(f"{PAGE}/{action}", data=FORMS[action]).status_code == 400
    assert _post_json(client, None, action, **FORMS[action]).status_code == 400
    assert _post_json(client, "not-the-token", action, **FORMS[action]).status_code == 400
    assert _nbgrader_reads(portal["course"], "s001") == (None, None)
    assert not portal["course"].assignment(AID).manual_record.exists()


def test_a_students_answer_is_shown_inert(portal):
    """Are a student's <script>, <img onerror> and javascript: link shown as text, with no script, handler,
    image or javascript: URL on the page but the portal's own manual.js — and a hostile name escaped too?"""
    page = _client(portal, "instructor").get(PAGE).get_data(as_text=True)
    tags = _Markup(page).tags
    assert [t for t, a in tags if t == "script"] == ["script"]
    assert [a.get("src") for t, a in tags if t == "script"] == ["/static/manual.js"]
    assert not [t for t, _ in tags if t in {"img", "iframe", "svg", "object", "embed", "base", "style"}]
    assert not [(t, a) for t, a in tags for name in a if name.startswith("on") or name == "style"]
    assert not [a for _, a in tags for value in a.values() if value and "javascript:" in value.lower()]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "[x](javascript:alert(1))" in page and "<strong>太字</strong>" in page  # Markdown still renders
    assert "田中 &lt;b&gt;次郎&lt;/b&gt;" in page


def test_the_pages_carry_the_security_headers(portal):
    """Do the manual pages and the JSON replies carry the portal's headers and its strict policy, with no inline
    script or style on the pages?"""
    client, token = _instructor(portal)
    for response in (client.get(BASE), client.get(PAGE), _post_json(client, token, "grade", student_id="s001", points=1)):
        assert response.headers["Content-Security-Policy"] == PAGE_POLICY
        assert all(response.headers[name] == value for name, value in HEADERS.items())
        if response.mimetype == "text/html":
            page = response.get_data(as_text=True)
            assert not re.search(r"<script(?![^>]*\bsrc=)", page) and "<style" not in page and " style=" not in page


def test_the_question_page_shows_prompt_points_groups_and_shortcuts(portal):
    """Does the by-question page show the prompt, the points available, the progress, each answer with its
    student's id and name, the two near-identical answers in one group, and the shortcuts in Japanese?"""
    page = _client(portal, "instructor").get(PAGE).get_data(as_text=True)
    assert "問8" in page and "偽陰性" in page and "配点 <strong>5 点</strong>" in page and "採点済み 0 / 4" in page
    assert "s001 山田 花子" in page and "s003 鈴木 一郎" in page
    assert _groups(page) == [["s001", "s002"], ["s003"], ["s004"]]
    assert "次の未採点の答え" in page and "保存して次の答えへ" in page and "評価項目を答えのグループ全員に付ける" in page
    assert "この問の採点を公開" in page and "未公開 0 件" in page and 'name="similarity"' in page
    assert 'step="any"' in page and 'step="0.5"' not in page and 'max="5"' in page


def _groups(page: str) -> list[list[str]]:
    """The students of each group of answers on the question's page, in order."""
    groups = re.findall(r'<section class="group[^"]*" id="group-\d+".*?(?=<section class="group|</section>\s*</main>)',
                        page, re.S)
    return [re.findall(r'<article class="answer[^"]*" id="answer-(\w+)"', g) for g in groups]


def test_the_grouping_threshold_is_set_on_the_page(portal):
    """Does ?similarity= regroup the answers (at 1 only answers equal once normalised stay together), kept within
    0.1 … 1, a value that is not a number giving the default, and carried by the forms so a save keeps it?"""
    client = _client(portal, "instructor")
    page = client.get(f"{PAGE}?similarity=1").get_data(as_text=True)
    assert _groups(page) == [["s001", "s002"], ["s003"], ["s004"]]
    assert 'id="similarity" type="number" name="similarity" value="1.0"' in page
    assert 'name="similarity" value="1.0"' in re.search(r'<form class="grade".*?</form>', page, re.S).group(0)
    assert 'name="similarity" value="0.1"' in client.get(f"{PAGE}?similarity=0.01").get_data(as_text=True)
    default = f'name="similarity" value="{manual.GROUP_THRESHOLD}"'
    assert default in client.get(f"{PAGE}?similarity=abc").get_data(as_text=True)
    assert default in client.get(f"{PAGE}?similarity=nan").get_data(as_text=True)
    client_token = _token(page)
    response = client.post(f"{PAGE}/grade", data={"csrf_token": client_token, "student_id": "s003", "points": "1",
                                                   "similarity": "1.0"})
    assert "similarity=1.0" in response.headers["Location"]


def test_saving_through_json_writes_what_nbgrader_reads(portal):
    """Does the JSON endpoint store points and comment as a draft (nothing in nbgrader's gradebook), reply with the
    answer and the progress, publishing put them where nbgrader's own Gradebook API reads them, and an empty points
    field make the answer ungraded again once published?"""
    client, token = _instructor(portal)
    response = _post_json(client, token, "grade", student_id="s003", points="3.5", comment="理由が不十分です。")
    assert response.status_code == 200, response.get_data(as_text=True)
    reply = response.get_json()
    assert reply["ok"] and reply["progress"] == {"graded": 1, "total": 4, "unpublished": 1}
    assert reply["answers"] == [{"student_id": "s003", "points": 3.5, "comment": "理由が不十分です。", "items": [],
                                 "adjustment": 3.5, "graded": True, "published": False, "published_points": None,
                                 "changed": False}]
    assert _nbgrader_reads(portal["course"], "s003") == (None, None)
    page = client.get(f"{PAGE}?ungraded=1").get_data(as_text=True)
    assert 'id="answer-s003"' not in page and 'id="answer-s001"' in page and "採点済み 1 / 4" in page
    reply = _publish(client, token)
    assert reply["progress"]["unpublished"] == 0 and reply["answers"][0]["published"] is True
    assert _nbgrader_reads(portal["course"], "s003") == (3.5, "理由が不十分です。")
    reply = _post_json(client, token, "grade", student_id="s003", points="", comment="").get_json()
    assert reply["progress"] == {"graded": 0, "total": 4, "unpublished": 1}
    assert _nbgrader_reads(portal["course"], "s003") == (3.5, "理由が不十分です。")  # until published
    assert "未公開 1 件" in client.get(BASE).get_data(as_text=True)
    response = client.post(f"{BASE}/publish", data={"csrf_token": token})  # the whole assignment, a plain form
    assert response.status_code == 303 and response.headers["Location"].endswith(BASE)
    assert "1 件の採点を公開しました" in client.get(BASE).get_data(as_text=True)
    assert _nbgrader_reads(portal["course"], "s003") == (None, None)


def test_a_plain_form_saves_and_returns_to_the_answer(portal):
    """Without JavaScript, does the answer's form save and redirect back to that answer (or, in the ungraded
    view, to the next one shown)?"""
    client, token = _instructor(portal)
    response = client.post(f"{PAGE}/grade", data={"csrf_token": token, "student_id": "s001", "points": "５",
                                                   "comment": "よくできています。", "next": "s002"})
    assert response.status_code == 303 and response.headers["Location"].endswith(f"{PAGE}#answer-s001")
    assert _nbgrader_reads(portal["course"], "s001") == (None, None)  # a draft
    response = client.post(f"{PAGE}/publish", data={"csrf_token": token})
    assert response.status_code == 303 and "1 件の採点を公開しました" in client.get(PAGE).get_data(as_text=True)
    assert _nbgrader_reads(portal["course"], "s001") == (5.0, "よくできています。")
    response = client.post(f"{PAGE}/grade", data={"csrf_token": token, "student_id": "s003", "points": "2",
                                                   "comment": "", "next": "s004", "ungraded": "1"})
    assert response.headers["Location"].endswith(f"{PAGE}?ungraded=1#answer-s004")
    assert "s003 を保存しました" in client.get(PAGE).get_data(as_text=True)


@pytest.mark.parametrize("points", ["5.5", "-1", "abc", "nan"])
def test_points_outside_the_cell_are_refused_writing_nothing(portal, points):
    """Are points over the maximum, negative or not a number refused with a 400 and a bilingual message (JSON),
    or the message on the page (a plain form), with nothing written?"""
    client, token = _instructor(portal)
    response = _post_json(client, token, "grade", student_id="s001", points=points, comment="x")
    assert response.status_code == 400 and response.get_json()["ok"] is False
    error = response.get_json()["error"]
    assert re.search(r"[ぁ-んァ-ン一-龥]", error) and re.search(r" / [a-z]", error), error
    if points in ("5.5", "-1"):
        assert "0〜5" in error and "outside" in error
    response = client.post(f"{PAGE}/grade", data={"csrf_token": token, "student_id": "s001", "points": points})
    assert response.status_code == 303 and "保存できませんでした" in client.get(PAGE).get_data(as_text=True)
    assert _nbgrader_reads(portal["course"], "s001") == (None, None)


def test_unknown_students_cells_and_items_are_refused(portal):
    """Is a grade for a student without a graded submission, an automatically graded cell or an unknown rubric
    item refused (400 or 404), writing nothing?"""
    client, token = _instructor(portal)
    assert _post_json(client, token, "grade", student_id="s999", points=1).status_code == 400
    assert _post_json(client, token, "apply", item_id="nope", student_ids=["s001"]).status_code == 400
    assert _post_json(client, token, "apply", item_id="nope", student_ids=[]).status_code == 400
    assert _post_json(client, token, "rubric", text="", points=1).status_code == 400
    assert _post_json(client, token, "rubric", text="満点", points=6).status_code == 400
    assert client.post(f"/instructor/manual/{AID}/q1_code/grade", json={"student_id": "s001", "points": 1},
                       headers={"X-CSRFToken": token}).status_code == 404
    assert client.get(f"/instructor/manual/{AID}/q1_code").status_code == 404
    assert client.get("/instructor/manual/kadai9").status_code == 404
    assert _nbgrader_reads(portal["course"], "s001") == (None, None)


def test_rubric_items_grade_a_group_and_their_changes_follow(portal):
    """Do several rubric items (one negative) put on a group and on one answer add up, with the counts per item on
    the page, does editing an item update each answer that carries it, a save with the points left as they were
    keep the adjustment, points typed over the items become an adjustment, and the plain forms do the same?"""
    client, token = _instructor(portal)
    reply = _post_json(client, token, "rubric", text="偽陰性の意味", points="3").get_json()
    meaning = reply["item"]
    assert meaning["points"] == 3 and reply["answers"] == []
    slip = _post_json(client, token, "rubric", text="計算ミス", points="-1").get_json()["item"]
    reply = _post_json(client, token, "apply", item_id=meaning["id"], student_ids=["s001", "s002"]).get_json()
    assert reply["progress"] == {"graded": 2, "total": 4, "unpublished": 2}
    assert [a["items"] for a in reply["answers"]] == [[meaning["id"]]] * 2
    reply = _post_json(client, token, "apply", item_id=slip["id"], student_ids=["s002"]).get_json()
    assert reply["answers"][0]["points"] == 2 and reply["counts"] == {meaning["id"]: 2, slip["id"]: 1}
    page = client.get(PAGE).get_data(as_text=True)
    assert f'id="count-{meaning["id"]}">2 人' in page and "（−1）" in page and 'min="-5"' in page
    # s001: points typed over the item (an adjustment of +1.5); s002: saved as shown, items changed in the form
    _post_json(client, token, "grade", student_id="s001", points=4.5, comment="よい", items=[meaning["id"]], was_points=3)
    reply = _post_json(client, token, "grade", student_id="s002", points=2, comment="", items=[meaning["id"]],
                       was_points=2).get_json()
    assert (reply["answers"][0]["points"], reply["answers"][0]["adjustment"]) == (3, 0)  # the slip taken off
    reply = _post_json(client, token, "rubric", item_id=meaning["id"], text="偽陰性の意味と人数", points=2.5).get_json()
    assert {a["student_id"]: a["points"] for a in reply["answers"]} == {"s001": 4, "s002": 2.5}
    _publish(client, token)
    assert _nbgrader_reads(portal["course"], "s001") == (4.0, "・偽陰性の意味と人数（+2.5 点）\n・調整（+1.5 点）\n\nよい")
    assert _nbgrader_reads(portal["course"], "s002") == (2.5, "・偽陰性の意味と人数（+2.5 点）")
    # the plain forms do the same: a group's button, an item taken off, an item's edit
    response = client.post(f"{PAGE}/apply", data={"csrf_token": token, "item_id": meaning["id"],
                                                   "student_id": ["s003", "s004"]})
    assert response.status_code == 303 and response.headers["Location"].endswith("#answer-s003")
    client.post(f"{PAGE}/apply", data={"csrf_token": token, "item_id": meaning["id"], "student_id": "s004", "remove": "1"})
    response = client.post(f"{PAGE}/rubric", data={"csrf_token": token, "item_id": meaning["id"], "text": "短い", "points": "1"})
    assert response.status_code == 303 and response.headers["Location"].endswith("#rubric")
    found = {a.student_id: a for a in manual.answers(portal["course"].assignment(AID), CELL)}
    assert (found["s003"].points, found["s004"].points, found["s001"].points) == (1, None, 2.5)
    assert _nbgrader_reads(portal["course"], "s003") == (None, None)  # drafts until published


def test_an_answer_changed_since_it_was_graded_is_flagged(portal):
    """When a student's notebook is graded again with another answer, does the page flag that answer?"""
    import nbformat

    client, token = _instructor(portal)
    _post_json(client, token, "grade", student_id="s003", points=2, comment="")
    assert "changed since graded" not in client.get(PAGE).get_data(as_text=True)
    path = portal["course"].assignment(AID).autograded("s003")
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == CELL:
            cell.source = "書き直しました。偽陰性は見逃しです。"
    nbformat.write(notebook, path)
    page = client.get(PAGE).get_data(as_text=True)
    flagged = re.search(r'id="answer-s003".*?</article>', page, re.S).group(0)
    assert "changed since graded" in flagged and "書き直しました" in flagged


def test_an_answer_cannot_imitate_the_pages_grade_badges(portal):
    """An ungraded answer made of a fake header (「採点済み 5/5」 as a Markdown heading, setext and ATX, and the page's
    own header line as an h4): does the page show it as plain lines of text inside the answer, with no heading, no
    element of the page's classes, and the answer's real state 「未採点」 the only state in its article?"""
    fake = "# 採点済み 5/5\n\n採点済み / graded\n===\n\n#### 1 / 4 s003 鈴木 一郎 採点済み / graded\n\n```state\n5 / 5\n```"
    _rewrite_answer(portal["course"], "s003", fake)
    client, _ = _instructor(portal)
    page = client.get(PAGE).get_data(as_text=True)
    article = re.search(r'id="answer-s003".*?</article>', page, re.S).group(0)
    shown = article[article.index('class="answer-text"'):article.index("<form")]
    tags = _Markup(shown).tags
    assert not [tag for tag, _ in tags if tag in {"h1", "h2", "h3", "h4", "h5", "h6"}], tags
    page_classes = {"state", "position", "changed", "graded", "ungraded", "group-title", "item-label", "message"}
    assert not [attrs for _, attrs in tags if set((attrs.get("class") or "").split()) & page_classes]
    assert "# 採点済み 5/5" in shown and "#### 1 / 4 s003" in shown  # the student's text, as text
    header = _Markup(article[:article.index('class="answer-text"')]).tags
    assert [attrs.get("class") for tag, attrs in header if tag == "span" and attrs.get("class") == "state"] == ["state"]
    assert re.search(r'<span class="state">未採点 / ungraded</span>', article)
    css = (Path(manual_pages.__file__).parent / "static" / "portal.css").read_text(encoding="utf-8")
    assert "article.answer > h4 {" in css and "article.answer h4" not in css  # headers' style: the article's own only


def test_a_very_long_answer_is_cut_and_the_page_stays_quick(portal):
    """With a 2 MB answer in the class, does the question's page (and a save) still answer within seconds, showing
    only the first MAX_ANSWER_CHARS characters of it with a note that it was cut?"""
    text = "".join(chr(0x4E00 + (i * 7919) % 20_000) for i in range(2_000_000))  # runs repeated rarely
    long_answer = text[:MAX_ANSWER_CHARS] + "ここから先は表示しない" + text[MAX_ANSWER_CHARS:]
    _rewrite_answer(portal["course"], "s003", long_answer)
    client, token = _instructor(portal)
    for _ in range(2):  # the first view reads the notebook, the second its cached answers
        started = time.monotonic()
        response = client.get(PAGE)
        assert response.status_code == 200 and time.monotonic() - started < 5
    page = response.get_data(as_text=True)
    shown = re.search(r'id="answer-s003".*?</article>', page, re.S).group(0)
    assert f"（長いので最初の {MAX_ANSWER_CHARS:,} 文字だけ表示しています）" in shown
    assert long_answer[:1000] in shown and "ここから先は表示しない" not in page
    assert len(page) < 3 * MAX_ANSWER_CHARS * 4  # the page carries the cut answer, not 2 MB of it
    assert "長いので" not in re.search(r'id="answer-s001".*?</article>', page, re.S).group(0)
    started = time.monotonic()
    assert _post_json(client, token, "grade", student_id="s003", points=1, comment="").status_code == 200
    assert time.monotonic() - started < 5


def test_points_from_the_csv_stay_as_they_are_in_the_form(portal):
    """Does an answer given 2.25 points (as a CSV may) show them exactly, in a field the browser lets the instructor
    save as it is (step="any", still 0 … the maximum)?"""
    manual.set_grade(portal["course"].assignment(AID), "s001", CELL, 2.25, "CSV から")
    manual.set_grade(portal["course"].assignment(AID), "s002", CELL, 4 / 3, "")
    page = _client(portal, "instructor").get(PAGE).get_data(as_text=True)
    field = _answer_input(page, "s001")
    assert (field["value"], field["step"], field["min"], field["max"]) == ("2.25", "any", "0", "5")
    assert float(_answer_input(page, "s002")["value"]) == 4 / 3  # not 1.33333, which saving would store


def _graded_upload(store, student_id: str, score: float) -> int:
    """A graded upload of kadai5 in the portal's database, as the queue leaves it."""
    upload_id = store.add_upload(student_id, AID, datetime.now(timezone.utc), "/nonexistent/upload.ipynb")
    store.mark(upload_id, state=UploadState.DONE, status="graded", score=score, max_score=25, message="")
    return upload_id


def test_a_manual_grade_reaches_the_students_feedback_page_and_portal_score(portal):
    """After the instructor saves a grade (by hand or with a rubric item), does the student's feedback page show the
    points and comment instead of 「先生が採点します」, and their portal page the new total (on their latest graded
    upload, a re-upload still queued left alone), while a student without a feedback page gets none?"""
    course, store = portal["course"], portal["app"].extensions["autograder"]["store"]
    (page_path,) = write_feedback(course.assignment(AID), ["s001"])
    assert "先生が採点します" in page_path.read_text(encoding="utf-8")
    before = saved_result(course.assignment(AID), "s001").score
    graded = _graded_upload(store, "s001", before)
    queued = store.add_upload("s001", AID, datetime.now(timezone.utc), "/nonexistent/again.ipynb")
    client, token = _instructor(portal)
    assert _post_json(client, token, "grade", student_id="s001", points="4.5", comment="よく書けています。").status_code == 200
    assert "先生が採点します" in page_path.read_text(encoding="utf-8") and store.upload(graded)["score"] == before
    assert f"{before:g} / 25" in _client(portal, "s001").get("/").get_data(as_text=True)  # the draft reaches no one
    _publish(client, token)
    page = page_path.read_text(encoding="utf-8")
    assert "先生の採点：4.5 / 5 点" in page and "先生のコメント：よく書けています。" in page and "先生が採点します" not in page
    assert saved_result(course.assignment(AID), "s001").score == before + 4.5
    assert store.upload(graded)["score"] == before + 4.5 and store.upload(queued)["score"] is None
    assert f"{before + 4.5:g} / 25" in _client(portal, "s001").get("/").get_data(as_text=True)
    assert not course.feedback_path(AID, "s002").exists()
    # a rubric item applied, then changed: the page and the score follow each time
    item = _post_json(client, token, "rubric", text="理由が短い。", points="3").get_json()["item"]
    _post_json(client, token, "grade", student_id="s001", points="", comment="", items=[])
    _post_json(client, token, "apply", item_id=item["id"], student_ids=["s001", "s002"])
    _publish(client, token)
    assert "先生の採点：3 / 5 点" in page_path.read_text(encoding="utf-8")
    _post_json(client, token, "rubric", item_id=item["id"], text="理由がもう少し欲しい。", points="3.5")
    _publish(client, token)
    assert "・理由がもう少し欲しい。（+3.5 点）" in page_path.read_text(encoding="utf-8")
    assert store.upload(graded)["score"] == before + 3.5
    assert not course.feedback_path(AID, "s002").exists()


def test_a_feedback_page_that_cannot_be_written_keeps_the_grade(portal, monkeypatch, caplog):
    """When the feedback page cannot be written again, is the grade still saved (200, nbgrader reads it), with a
    bilingual warning saying what to redo?"""
    write_feedback(portal["course"].assignment(AID), ["s001"])

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(manual, "build_pages", broken)
    client, token = _instructor(portal)
    with caplog.at_level(logging.WARNING, logger="autograder"):
        _post_json(client, token, "grade", student_id="s001", points=2, comment="途中まで")
        response = _post_json(client, token, "publish")
    assert response.status_code == 200 and response.get_json()["ok"]
    assert _nbgrader_reads(portal["course"], "s001") == (2.0, "途中まで")
    (warning,) = [r.getMessage() for r in caplog.records if "disk full" in r.getMessage()]
    assert "書き直せませんでした" in warning and "could not rewrite" in warning and f"feedback {AID}" in warning


def test_a_writer_in_another_process_holds_off_the_save(portal):
    """While another writer (``manual --import`` in its own process) holds manual/.kadai5.lock, does a save wait
    for it, writing nothing meanwhile, and then go through?"""
    course = portal["course"]
    course.assignment(AID).manual_record.parent.mkdir(parents=True, exist_ok=True)
    with open(course.assignment(AID).manual_record.parent / f".{AID}.lock", "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        saving = threading.Thread(target=manual.set_grade, args=(course.assignment(AID), "s001", CELL, 3, "待ちました"))
        saving.start()
        saving.join(1.0)
        assert saving.is_alive() and not course.assignment(AID).manual_record.exists()
    saving.join(30)
    assert not saving.is_alive()
    (answer,) = [a for a in manual.answers(course.assignment(AID), CELL) if a.student_id == "s001"]
    assert (answer.points, answer.comment) == (3.0, "待ちました")


class _BusyAtCommit:
    """A gradebook session whose commit fails as SQLite's does when another writer holds the database."""

    def __init__(self, session):
        self.session = session

    def __getattr__(self, name):
        return getattr(self.session, name)

    def commit(self):
        from sqlalchemy.exc import OperationalError

        raise OperationalError("COMMIT", {}, sqlite3.OperationalError("database is locked"))


def test_a_gradebook_busy_at_commit_leaves_record_and_grades_as_they_were(portal, monkeypatch):
    """When the gradebook's commit fails (busy), is the reply a bilingual 503 asking to save again (JSON; the
    message on the page for a plain form), with the record file and the gradebook both as they were?"""
    from autograder.course.model import Course

    course = portal["course"]
    client, token = _instructor(portal)
    item = _post_json(client, token, "rubric", text="よい", points="4").get_json()["item"]
    _post_json(client, token, "apply", item_id=item["id"], student_ids=["s001"])
    _publish(client, token)
    _post_json(client, token, "grade", student_id="s003", points=2, comment="x")  # a draft, to publish
    record = course.assignment(AID).manual_record.read_text(encoding="utf-8")
    opened = Course.gradebook

    def busy_gradebook(self):
        gradebook = opened(self)
        gradebook.db = _BusyAtCommit(gradebook.db)
        return gradebook

    monkeypatch.setattr(Course, "gradebook", busy_gradebook)
    for action in ("publish", "publish"):  # publishing is the one write to the gradebook
        response = _post_json(client, token, action)
        assert response.status_code == 503 and response.get_json() == {"ok": False, "error": BUSY}, action
        assert "もう一度保存してください" in BUSY and "the gradebook was busy, save again" in BUSY
        assert course.assignment(AID).manual_record.read_text(encoding="utf-8") == record
    response = client.post(f"{PAGE}/publish", data={"csrf_token": token})
    assert response.status_code == 303 and "もう一度保存してください" in client.get(PAGE).get_data(as_text=True)
    monkeypatch.undo()
    assert [_nbgrader_reads(course, s) for s in ("s001", "s002", "s003")] == [
        (4.0, "・よい（+4 点）"), (None, None), (None, None)]


def test_a_gradebook_locked_by_another_writer_is_a_503(portal):
    """With SQLite's gradebook locked by another connection past its wait, is a JSON save a 503 with the
    bilingual "save again", not a 500, writing nothing?"""
    course = portal["course"]
    client, token = _instructor(portal)
    other = sqlite3.connect(course.db_url.removeprefix("sqlite:///"), isolation_level=None)
    try:
        other.execute("BEGIN EXCLUSIVE")
        response = _post_json(client, token, "grade", student_id="s001", points=2, comment="x")
    finally:
        other.close()
    assert response.status_code == 503 and response.get_json()["error"] == BUSY
    assert not course.assignment(AID).manual_record.exists() and _nbgrader_reads(course, "s001") == (None, None)


# ---- in a real browser


@pytest.mark.slow
@pytest.mark.skipif(not shutil.which("chromium"), reason="needs Debian's chromium and chromium-driver (CI installs them)")
def test_instructor_grades_three_answers_with_the_keyboard_in_chromium(tmp_path):
    """A real server, a real browser: the instructor opens 問8, grades two answers by typing points and Enter,
    adds two rubric items (one negative) and puts both on the third with their number keys; the student's feedback
    page shows nothing of these drafts until the instructor publishes the question, then the items with their
    points; the grades CSV then has each total with the manual points and manual_complete = yes."""
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    three = {s: ANSWERS[s] for s in ("s001", "s002", "s003")}
    course = graded_course_without_running(tmp_path / "course", three, names=NAMES)
    roster = "student_id,name\n" + "".join(f"{s},{NAMES[s]}\n" for s in three)
    (tmp_path / "roster.csv").write_text(roster, encoding="utf-8")
    store = Store(f"sqlite:///{tmp_path / 'portal-test.db'}")
    passwords = {row[0]: row[3] for row in import_roster(store, tmp_path / "roster.csv")}
    write_feedback(course.assignment(AID), ["s003"])  # the page s003 already has, before any manual grade
    app = create_app(course, store=store, start_queue=False)
    server, port = serve_in_thread(app)
    driver = headless_chromium("--lang=ja")
    wait = WebDriverWait(driver, 60, poll_frequency=0.2)

    def answer(student_id: str):
        return driver.find_element(By.ID, f"answer-{student_id}")

    def graded(student_id: str) -> bool:
        return "graded" in answer(student_id).get_attribute("class").split()

    def keys(*typed):
        webdriver.ActionChains(driver).send_keys(*typed).perform()

    def sign_in(user_id: str, *shown):
        driver.delete_all_cookies()
        driver.get(f"http://127.0.0.1:{port}/")
        driver.find_element(By.ID, "user_id").send_keys(user_id)
        driver.find_element(By.ID, "password").send_keys(passwords[user_id])
        return click_through(driver, driver.find_element(By.ID, "signin"), *shown)

    def students_feedback() -> str:
        """s003's feedback page as s003 sees it in the portal (then the instructor signs in again)."""
        sign_in("s003", By.CSS_SELECTOR, "form.inline")  # signed in: the sign-out button
        driver.get(f"http://127.0.0.1:{port}/feedback/{AID}")
        text = driver.find_element(By.TAG_NAME, "body").text
        sign_in("instructor", By.ID, f"manual-{AID}")
        driver.get(f"http://127.0.0.1:{port}{PAGE}")
        return text

    try:
        manual = sign_in("instructor", By.ID, f"manual-{AID}")
        click_through(driver, manual, By.ID, "manual-cells")
        click_through(driver, driver.find_element(By.CSS_SELECTOR, f'a[href="{PAGE}"]'), By.ID, "answer-s003")
        assert "採点済み 0 / 3" in driver.find_element(By.ID, "progress").text
        driver.execute_script("document.activeElement.blur()")  # the keys go to the page, not to a field
        keys("j", Keys.ENTER)  # the first answer, into its points field
        wait.until(lambda d: d.switch_to.active_element.get_attribute("name") == "points")
        keys("5", Keys.ENTER)  # saves s001 and goes on to s002's points
        wait.until(lambda d: graded("s001"))
        keys("4.5", Keys.TAB, "理由が短い。")  # points, then the comment
        webdriver.ActionChains(driver).key_down(Keys.CONTROL).send_keys(Keys.ENTER).key_up(Keys.CONTROL).perform()
        wait.until(lambda d: graded("s002") and "採点済み 2 / 3" in d.find_element(By.ID, "progress").text)
        chosen = driver.switch_to.active_element.find_element(By.XPATH, "ancestor::article")
        assert chosen.get_attribute("id") == "answer-s003"  # Ctrl+Enter went on to the third answer
        driver.find_element(By.ID, "new-item-text").send_keys("偽陽性と偽陰性を取り違えている。")
        driver.find_element(By.ID, "new-item-points").send_keys("2")
        click_through(driver, driver.find_element(By.ID, "add-item"), By.CSS_SELECTOR, "li.rubric-item")
        driver.find_element(By.ID, "new-item-text").send_keys("理由が書けている。")
        driver.find_element(By.ID, "new-item-points").send_keys("1")
        click_through(driver, driver.find_element(By.ID, "add-item"), By.CSS_SELECTOR, 'li.rubric-item[data-number="2"]')
        driver.execute_script("document.activeElement.blur()")
        keys("j", "j", "j", "1")  # down to the third answer, then rubric item 1 onto it
        wait.until(lambda d: graded("s003") and "採点済み 3 / 3" in d.find_element(By.ID, "progress").text)
        keys("2")  # and item 2 beside it: 2 + 1
        wait.until(lambda d: answer("s003").find_element(By.NAME, "points").get_attribute("value") == "3")
        boxes = answer("s003").find_elements(By.CSS_SELECTOR, "input[name=items]")
        assert [b.is_selected() for b in boxes] == [True, True]
        assert driver.find_element(By.ID, "count-" + boxes[1].get_attribute("value")).text == "1 人"
        assert "未公開 3 件" in driver.find_element(By.ID, "unpublished").text
        before = students_feedback()
        assert "先生が採点します" in before and "取り違えている" not in before
        click_through(driver, driver.find_element(By.ID, "publish-question"), By.CSS_SELECTOR, "p.flash")
        assert "3 件の採点を公開しました" in driver.find_element(By.CSS_SELECTOR, "p.flash").text
        assert "未公開 0 件" in driver.find_element(By.ID, "unpublished").text
        after = students_feedback()
        assert "先生の採点：3 / 5 点" in after and "偽陽性と偽陰性を取り違えている。（+2 点）" in after
        assert "理由が書けている。（+1 点）" in after and "先生が採点します" not in after
        driver.set_window_size(1280, 2400)  # the question, the rubric and the three graded answers
        driver.execute_script("window.scrollTo(0, 0)")
        driver.save_screenshot(str(tmp_path / "manual.png"))
        assert (tmp_path / "manual.png").stat().st_size > 10_000
        print(f"screenshot: {tmp_path / 'manual.png'}")
        cookie = driver.get_cookie("session")["value"]
        grades = _client_with_cookie(app, cookie).get(f"/instructor/grades/{AID}.csv")
    finally:
        driver.quit()
        server.close()
    assert grades.status_code == 200
    rows = {r["student_id"]: r for r in csv.DictReader(io.StringIO(grades.get_data(as_text=True).lstrip("\ufeff")))}
    automatic = 20  # every automatic check of the unexecuted release keeps its points (no error output)
    assert {s: (float(r["score"]), r["manual_complete"]) for s, r in rows.items()} == {
        "s001": (automatic + 5, "yes"), "s002": (automatic + 4.5, "yes"), "s003": (automatic + 3, "yes")}, rows
    record = json.loads(course.assignment(AID).manual_record.read_text(encoding="utf-8"))
    assert record["marks"][CELL]["s003"]["items"] == [i["id"] for i in record["rubric"][CELL]]  # ids, not texts


def _client_with_cookie(app, cookie: str):
    """Flask's test client holding the browser's session cookie: the CSV as the signed-in instructor gets it."""
    client = app.test_client()
    client.set_cookie("session", cookie)
    return client
