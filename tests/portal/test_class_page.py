"""The instructor's class page at a class's size: summary counts, the score split into its automatic and manual parts,
filter and sort from the query string, long messages folded, no worker addresses (no grading run: the gradebook is
written by ``graded_course_without_running``)."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from helpers import graded_course_without_running

import autograder.portal
from autograder.portal.app import PAGE_POLICY, create_app
from autograder.portal.store import Store, UploadState, import_roster

AID = "kadai5"
NAMES = {"s001": "山田 花子", "s002": "佐藤 太郎", "s003": "鈴木 一郎", "s004": "田中 次郎", "s005": "高橋 桜"}
LONG = "採点できませんでした / grading failed: " + "とても長い説明 " * 30


@pytest.fixture(scope="module")
def page_of(tmp_path_factory):
    """kadai5 graded for s001–s003 (20 automatic points each in the gradebook, whatever the upload rows say; 問8
    awaiting the instructor but s002's, graded 4 of 5), s004's upload failed with a long message, s005 never uploaded;
    ``page_of(query)`` is the class page with that query string."""
    folder = tmp_path_factory.mktemp("class-page")
    course = graded_course_without_running(folder / "course", {s: "答え" for s in ("s001", "s002", "s003")})
    with course.gradebook() as gb:
        grade = gb.find_grade("q8_false_negative", AID, AID, "s002")
        grade.manual_score = 4
        gb.db.commit()
    (folder / "roster.csv").write_text("student_id,name\n" + "".join(f"{s},{n}\n" for s, n in NAMES.items()),
                                       encoding="utf-8")
    store = Store(f"sqlite:///{folder / 'portal.db'}")
    passwords = {row[0]: row[3] for row in import_roster(store, folder / "roster.csv")}
    received = datetime(2027, 5, 20, tzinfo=UTC)
    for n, (student, score) in enumerate((("s001", 20), ("s002", 20), ("s003", 12)), start=1):
        upload = store.add_upload(student, AID, received + timedelta(minutes=n), folder / f"{student}.ipynb")
        store.mark(upload, state=UploadState.DONE, status="graded", score=score, max_score=25, message="採点済み")
    failed = store.add_upload("s004", AID, received + timedelta(minutes=9), folder / "s004.ipynb")
    store.mark(failed, state=UploadState.FAILED, status="error", message=LONG)
    client = create_app(course, store=store, start_queue=False).test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/").get_data(as_text=True)).group(1)
    client.post("/signin", data={"user_id": "instructor", "password": passwords["instructor"], "csrf_token": token})

    def page_of(query: str = "") -> tuple[str, object]:
        response = client.get(f"/instructor{query}")
        assert response.status_code == 200
        return response.get_data(as_text=True), response

    return page_of


def _students(page: str) -> list[str]:
    """The student ids of the table's rows, in order."""
    return re.findall(r'<tr class="row-\w+"><td>(s\d+)</td>', page)


def test_the_summary_counts_the_whole_class_and_scores_show_their_parts(page_of):
    """Does the summary count submitted, graded, errors, waiting and manual pending over the class, and does a score
    read 「自動 20/20・手動 未採点」 (or its manual points and total once graded by hand), never a bare 20/25?"""
    page, response = page_of()
    summary = re.sub(r"<[^>]+>", "", re.search(r'<p class="summary" id="summary-kadai5">(.*?)</p>', page, re.S).group(1))
    assert re.sub(r"\s+", " ", summary).strip() == (
        "5 人中 / of 5: 提出 / submitted 4・採点済み / graded 3・ 採点できなかった / errors 1・ "
        "採点待ち / waiting 0・手動採点待ち / manual pending 2")
    assert "自動 20/20・手動 未採点" in page and "自動 20/20・手動 4/5（計 24/25）" in page
    assert page.count("自動 20/20・手動 未採点") == 2  # s003's upload said 12: the gradebook's score now is what shows
    assert "20 / 25" not in page and "12 / 25" not in page
    assert _students(page) == ["s001", "s002", "s003", "s004", "s005"] and "山田 花子" in page
    assert response.headers["Content-Security-Policy"] == PAGE_POLICY and "<script" not in page and "style=" not in page


def test_filter_and_sort_come_from_the_query_string(page_of):
    """Do ``state``, ``q`` and ``sort`` filter and order the rows (the summary still counts everyone), and does an
    unknown value fall back to the whole class?"""
    assert _students(page_of("?state=manual")[0]) == ["s001", "s003"]
    assert _students(page_of("?state=errors")[0]) == ["s004"]
    assert _students(page_of("?state=none")[0]) == ["s005"]
    assert _students(page_of("?state=graded")[0]) == ["s001", "s002", "s003"]
    assert _students(page_of("?q=佐藤")[0]) == ["s002"] and _students(page_of("?q=S00")[0])[0] == "s001"
    assert _students(page_of("?sort=score")[0]) == ["s002", "s001", "s003", "s004", "s005"]
    assert _students(page_of("?sort=low")[0])[:3] == ["s001", "s003", "s002"]
    assert _students(page_of("?sort=received")[0])[:2] == ["s004", "s003"]
    assert _students(page_of("?sort=name")[0]) == ["s002", "s001", "s004", "s003", "s005"]  # by the names' code points
    page = page_of("?state=errors&q=nobody")[0]
    assert _students(page) == [] and "該当する学生はいません" in page and "manual pending <strong>2</strong>" in page
    assert _students(page_of("?state=bogus&sort=%3Cscript%3E")[0]) == ["s001", "s002", "s003", "s004", "s005"]
    assert 'option value="errors" selected' in page_of("?state=errors")[0]


def test_a_long_message_is_folded_and_the_name_column_keeps_its_width(page_of):
    """Is a long instructor's message cut to its start with the rest behind a fold, in a cell of its own width, and
    the name cell unwrapped (the stylesheet: no inline style under the page's CSP)?"""
    page = page_of("?state=errors")[0]
    (cell,) = re.findall(r'<td class="message">(.*?)</td>', page, re.S)
    assert cell.startswith("<details><summary>採点できませんでした") and "…</summary>" in cell and LONG.strip() in cell
    assert '<td class="name">田中 次郎</td>' in page
    css = (Path(autograder.portal.__file__).parent / "static" / "portal.css").read_text(encoding="utf-8")
    assert "td.name { white-space: nowrap" in css and "td.message { max-width" in css
