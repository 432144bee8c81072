"""The portal against hostile students, with Flask's test client: one test per hole, each the question it answers.

Every case is a row of ``docs/attacks.md`` ("ポータルへの攻撃 / Attacks on the portal").  The first ones were
open holes (sign-in limits that locked out a class, sessions a copied cookie outlived, no security headers,
a report rebuilt by every GET); the last ones held already and are asserted so that they keep holding
(script in a student's notebook, another student's feedback, forms without the CSRF token, ``../`` in an
assignment id).  Nothing here grades: the queue does not run, and passwords are hashed with cheap Argon2
parameters (the tests count sign-ins; the hashing cost is not what they are about).
"""
from __future__ import annotations

import csv
import dataclasses
import hashlib
import re
import sys
import shutil
from datetime import timedelta
from html.parser import HTMLParser
from io import BytesIO

import nbformat
import pytest
from argon2 import PasswordHasher
from helpers import ROOT

from autograder.course import Course, load_course
from autograder.course.results import CheckResult, Status, SubmissionResult
from autograder.portal import store as store_module
from autograder.portal.app import PAGE_POLICY, STUDENT_WORK_POLICY, create_app
from autograder.portal.store import Store, import_roster
from autograder.tools.feedback import feedback_page, sanitized_notebook

AID = "kadai5"
ROSTER = "student_id,name\ns001,山田 花子\ns002,佐藤 太郎\n"
LAB, HOME, OFFICE = "10.1.0.1", "192.0.2.7", "10.9.0.1"


class Clock:
    """The server's clock, moved by the tests."""

    def __init__(self, moment):
        self.moment = moment

    def __call__(self):
        return self.moment


@pytest.fixture
def portal(tmp_path, monkeypatch):
    """``portal(**settings)``: a course with kadai5 released, s001, s002 and the instructor, ``settings`` changed
    in its CourseConfig; the portal's database outside the course folder; the queue does not run."""
    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(store_module, "_hasher", cheap)
    monkeypatch.setattr(store_module, "_DUMMY", cheap.hash("dummy"))
    root = tmp_path / "course"
    (root / "release" / AID).mkdir(parents=True)
    shutil.copy(ROOT / "course_config.py", root / "course_config.py")
    shutil.copy(ROOT / "release" / AID / f"{AID}.ipynb", root / "release" / AID / f"{AID}.ipynb")
    shutil.copytree(ROOT / "source" / AID, root / "source" / AID)  # the report reads it
    (tmp_path / "roster.csv").write_text(ROSTER, encoding="utf-8")

    def make(**settings):
        loaded = load_course(root)
        course = Course(root=root, config=dataclasses.replace(loaded.config, **settings))
        store = Store(f"sqlite:///{tmp_path / 'portal-test.db'}")
        passwords = {user_id: password for user_id, _, _, password in import_roster(store, tmp_path / "roster.csv")}
        clock = Clock(course.config.assignment(AID).due - timedelta(hours=1))
        app = create_app(course, store=store, now=clock, start_queue=False)
        return {"course": course, "store": store, "app": app, "clock": clock, "passwords": passwords}

    return make


def _token(response) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', response.get_data(as_text=True)).group(1)


def _client(portal, address: str = LAB):
    """A browser at ``address`` (the connection's address: what a server without a proxy sees)."""
    client = portal["app"].test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def _sign_in(client, user_id: str, password: str, headers: dict | None = None):
    token = _token(client.get("/", headers=headers))
    return client.post("/signin", data={"user_id": user_id, "password": password, "csrf_token": token}, headers=headers)


def _signed_in(portal, user_id: str, address: str = LAB):
    client = _client(portal, address)
    assert _sign_in(client, user_id, portal["passwords"][user_id]).status_code == 302
    return client


def _opens(client, path: str = "/instructor") -> bool:
    """Whether ``client`` gets the page at ``path`` (not the sign-in page it is sent to otherwise)."""
    return client.get(path).status_code == 200


def _local(portal, moment) -> str:
    return moment.astimezone(portal["course"].config.assignment(AID).due.tzinfo).strftime("%Y-%m-%d %H:%M")


def _write_feedback(portal, student_id: str, html: str) -> None:
    path = portal["course"].feedback_path(AID, student_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")


# ---- sign-in limits


def test_a_class_signs_in_from_one_address(portal):
    """Do twelve students behind one address (a lab, an HTTPS proxy), a few mistyping first, all get in?"""
    p = portal()
    students = [f"t{n:03d}" for n in range(12)]
    for student_id in students:
        p["store"].set_user(student_id, f"学生 {student_id}", f"pw-{student_id}")
    for student_id in students[:3]:
        assert _sign_in(_client(p), student_id, "typo").status_code == 302
    for student_id in students:
        client = _client(p)
        assert _sign_in(client, student_id, f"pw-{student_id}").status_code == 302, student_id
        assert f"学生 {student_id}" in client.get("/").get_data(as_text=True), student_id


def test_a_lab_still_signs_in_after_one_student_posts_a_hundred_made_up_ids(portal):
    """Twelve students who signed in from the lab before: do they all sign in again after one of them posts a
    hundred failures with made-up ids from the lab (the per-address cap), while the made-up ids, and an account
    never signed in from the lab, are stopped there?"""
    p = portal()
    students = [f"t{n:03d}" for n in range(12)]
    for student_id in students:
        p["store"].set_user(student_id, f"学生 {student_id}", f"pw-{student_id}")
        assert _sign_in(_client(p, LAB), student_id, f"pw-{student_id}").status_code == 302
    flooder = _client(p, LAB)
    codes = [_sign_in(flooder, f"x{n:04d}", "guess").status_code for n in range(101)]
    assert p["course"].config.portal_signin_failures_per_address == 100
    assert codes[:100] == [302] * 100 and codes[100] == 429
    for student_id in students:
        client = _client(p, LAB)
        assert _sign_in(client, student_id, f"pw-{student_id}").status_code == 302, student_id
        assert f"学生 {student_id}" in client.get("/").get_data(as_text=True), student_id
    first_time = _sign_in(_client(p, LAB), "s001", p["passwords"]["s001"])  # never signed in from the lab: waits
    page = first_time.get_data(as_text=True)
    assert first_time.status_code == 429 and "このネットワークからのサインインの失敗が多すぎる" in page
    assert "前にこのネットワークからサインインしたことのある学籍番号は、いまもサインインできます" in page
    assert _opens(_signed_in(p, "s001", HOME), "/")


def test_guesses_at_the_instructor_where_they_teach_hold_them_up_a_minute(portal):
    """The instructor has signed in from the lab before: do ten wrong guesses at `instructor` from the lab lock
    the instructor out there for a minute only (not the window), and can a guesser who keeps at it, ten a minute
    (60 failures, over the per-account cap), lock the instructor out of a new address?"""
    p = portal()
    assert _opens(_signed_in(p, "instructor", LAB))
    guesser, right = _client(p, LAB), p["passwords"]["instructor"]
    assert [_sign_in(guesser, "instructor", f"guess{n}").status_code for n in range(11)] == [302] * 10 + [429]
    locked = _sign_in(_client(p, LAB), "instructor", right)
    until = p["clock"].moment + timedelta(minutes=1)
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) == 60
    assert f"{_local(p, until)} 以降に" in locked.get_data(as_text=True)
    assert _opens(_signed_in(p, "instructor", "198.51.100.9"))  # meanwhile, from any other address
    p["clock"].moment = until
    assert _opens(_signed_in(p, "instructor", LAB))  # a minute later, where they teach
    for minute in range(6):
        codes = [_sign_in(guesser, "instructor", f"guess{minute}-{n}").status_code for n in range(11)]
        assert codes == [302] * 10 + [429], minute
        p["clock"].moment += timedelta(minutes=1)
    assert p["course"].config.portal_signin_failures_per_account == 50
    assert _opens(_signed_in(p, "instructor", "198.51.100.10"))  # 60 failures, all from a known pair: no account lock
    assert _opens(_signed_in(p, "instructor", LAB))


def test_guessing_the_instructors_password_locks_out_nobody_else(portal):
    """Does a failed-guess flood on the instructor's account lock out students signing in from the same
    address, or the instructor signing in from another?"""
    p = portal()
    guesser = _client(p, LAB)
    codes = [_sign_in(guesser, "instructor", f"guess{n}").status_code for n in range(12)]
    assert codes[:10] == [302] * 10 and codes[10:] == [429, 429]
    assert _sign_in(guesser, "instructor", p["passwords"]["instructor"]).status_code == 429  # locked: not even checked
    assert _opens(_signed_in(p, "s001", LAB), "/") and "山田 花子" in _signed_in(p, "s001", LAB).get("/").get_data(as_text=True)
    assert _opens(_signed_in(p, "instructor", OFFICE))


def test_a_locked_sign_in_says_when_and_unlocks_then(portal):
    """Does a locked account name the time to try again in Japanese, and open at that time by the server's clock?"""
    p = portal()
    client = _client(p, HOME)
    for n in range(10):
        _sign_in(client, "s001", f"guess{n}")
    until = p["clock"].moment + timedelta(minutes=p["course"].config.portal_signin_window_minutes)
    locked = _sign_in(client, "s001", p["passwords"]["s001"])
    page = locked.get_data(as_text=True)
    assert locked.status_code == 429 and f"{_local(p, until)} 以降に" in page and "しばらくサインインできません" in page
    assert int(locked.headers["Retry-After"]) == 15 * 60
    p["clock"].moment = until - timedelta(minutes=1)
    assert _sign_in(client, "s001", p["passwords"]["s001"]).status_code == 429
    p["clock"].moment = until
    assert _sign_in(client, "s001", p["passwords"]["s001"]).status_code == 302 and _opens(client, "/")


def test_one_address_trying_many_accounts_is_stopped(portal):
    """Is one machine trying many accounts a few times each (under the per-account limit) stopped by the per-address cap?"""
    p = portal(portal_signin_failures_per_address=20)
    sprayer = _client(p, HOME)
    codes = [_sign_in(sprayer, f"s{n:03d}", "guess").status_code for n in range(21)]
    assert codes[:20] == [302] * 20 and codes[20] == 429
    assert "このネットワークからのサインインの失敗が多すぎる" in _sign_in(sprayer, "s001", "x").get_data(as_text=True)
    assert _opens(_signed_in(p, "s001", LAB), "/")  # another address is not affected


def test_a_guess_from_many_addresses_cannot_shut_the_instructor_out_where_they_work(portal):
    """Can a student guessing from many addresses lock the instructor out of the office they sign in from?"""
    p = portal(portal_signin_failures_per_account=20)
    _signed_in(p, "instructor", OFFICE)  # the office is an address this account has used
    for address in ("198.51.100.1", "198.51.100.2"):
        guesser = _client(p, address)
        assert [_sign_in(guesser, "instructor", "guess").status_code for _ in range(10)] == [302] * 10
    new_place = _sign_in(_client(p, "198.51.100.3"), "instructor", p["passwords"]["instructor"])
    assert new_place.status_code == 429 and "いつも使っている端末からはサインインできます" in new_place.get_data(as_text=True)
    assert _opens(_signed_in(p, "instructor", OFFICE))


def test_forwarded_for_is_believed_only_from_trusted_proxies(portal):
    """Is X-Forwarded-For ignored without a configured proxy (no escaping a lock by making one up), and the
    client's address behind one?"""
    for proxies, escaped in ((0, False), (1, True)):
        p = portal(portal_trusted_proxies=proxies)
        proxy = _client(p, "10.0.0.2")  # a connection from the proxy's address, or a client sending the header itself
        for n in range(10):
            _sign_in(proxy, "s001", f"guess{n}", headers={"X-Forwarded-For": "203.0.113.1"})
        other = _sign_in(_client(p, "10.0.0.2"), "s001", p["passwords"]["s001"], headers={"X-Forwarded-For": "203.0.113.2"})
        assert other.status_code == (302 if escaped else 429), proxies


# ---- sessions


def test_a_cookie_copied_before_sign_out_opens_nothing_after(portal):
    """Does a copy of the instructor's session cookie, taken before signing out, still open /instructor after it?"""
    p = portal()
    browser = _signed_in(p, "instructor", OFFICE)
    copied = browser.get_cookie("session").value
    thief = _client(p, HOME)
    thief.set_cookie("session", copied)
    assert _opens(thief)
    browser.post("/signout", data={"csrf_token": _token(browser.get("/instructor"))})
    thief = _client(p, HOME)
    thief.set_cookie("session", copied)
    assert thief.get("/instructor").status_code == 302
    assert "使えなくなりました" in thief.get("/").get_data(as_text=True)


def test_reissuing_a_password_revokes_the_users_sessions(portal):
    """Does a new password (``store.set_user``, as ``accounts`` runs it) sign out every browser of that user, and no other?"""
    p = portal()
    s001, s002 = _signed_in(p, "s001"), _signed_in(p, "s002")
    p["store"].set_user("s001", "山田 花子", "new-password")
    page = s001.get("/").get_data(as_text=True)
    assert 'id="signin"' in page and "山田 花子" not in page and "パスワードが新しくなった" in page
    assert "佐藤 太郎" in s002.get("/").get_data(as_text=True)


def test_accounts_with_a_new_roster_ends_the_accounts_it_no_longer_lists(portal, tmp_path, monkeypatch, capsys):
    """Does ``accounts`` run again with a roster without s002 and another ``--instructor`` end s002's and the old
    instructor's accounts (their passwords open nothing, their browsers are signed out) and say which; and does
    ``--keep`` leave an unlisted account as it was?"""
    from autograder import cli
    from autograder.portal import private

    p = portal()
    monkeypatch.setattr(private, "database_url", lambda course: str(p["store"].engine.url))
    s001, s002 = _signed_in(p, "s001"), _signed_in(p, "s002")
    old_instructor = _signed_in(p, "instructor", OFFICE)
    assert _opens(old_instructor)
    (tmp_path / "new-roster.csv").write_text("student_id,name\ns001,山田 花子\n", encoding="utf-8")
    assert cli.main(["--course-dir", str(p["course"].root), "accounts", str(tmp_path / "new-roster.csv"),
                     "--instructor", "teacher2", "--out", str(tmp_path / "new-credentials.csv")]) == 0
    said = capsys.readouterr().out
    assert "名簿にないアカウント 2 件を終了" in said and "ended 2 accounts" in said
    assert "instructor (先生 / instructor)" in said and "s002 (学生 / student)" in said and "s001 (" not in said
    assert {user.user_id for user in p["store"].users()} == {"s001", "teacher2"}
    assert not _opens(old_instructor) and old_instructor.get("/instructor").status_code == 302
    assert 'id="signin"' in s002.get("/").get_data(as_text=True)
    for user_id in ("s002", "instructor"):  # the old passwords open nothing
        client = _client(p, HOME)
        _sign_in(client, user_id, p["passwords"][user_id])
        assert 'id="signin"' in client.get("/").get_data(as_text=True) and not _opens(client), user_id
    assert 'id="signin"' in s001.get("/").get_data(as_text=True)  # s001 was reissued a password: signed out too
    new_passwords = {row["user_id"]: row["password"] for row in csv.DictReader(
        (tmp_path / "new-credentials.csv").open(encoding="utf-8"))}
    assert _opens(_signed_in({**p, "passwords": new_passwords}, "teacher2", OFFICE))

    p["store"].set_user("s003", "鈴木 一郎", "pw-s003")
    s003 = _signed_in({**p, "passwords": {"s003": "pw-s003"}}, "s003")
    assert cli.main(["--course-dir", str(p["course"].root), "accounts", str(tmp_path / "new-roster.csv"),
                     "--instructor", "teacher2", "--out", str(tmp_path / "new-credentials.csv"), "--keep"]) == 0
    assert "終了" not in capsys.readouterr().out
    assert "鈴木 一郎" in s003.get("/").get_data(as_text=True)
    assert {user.user_id for user in p["store"].users()} == {"s001", "s003", "teacher2"}


def test_the_cookie_holds_only_a_random_id_that_the_database_keeps_hashed(portal):
    """Does the session cookie name the user (so that the signing key alone forges a session), or only a random id
    that the database keeps as its sha256?"""
    p = portal()
    client = _signed_in(p, "instructor", OFFICE)
    serializer = p["app"].session_interface.get_signing_serializer(p["app"])
    content = serializer.loads(client.get_cookie("session").value)
    assert set(content) <= {"sid", "_permanent", "csrf_token", "_flashes"} and "instructor" not in str(content)
    with p["store"].engine.connect() as db:
        rows = db.exec_driver_sql("SELECT id_hash, user_id FROM sessions").all()
    assert rows == [(hashlib.sha256(content["sid"].encode()).hexdigest(), "instructor")]
    for forged in ({"user_id": "instructor", "since": p["clock"]().isoformat()}, {"sid": "made-up"}, {"sid": rows[0][0]}):
        thief = _client(p, HOME)
        thief.set_cookie("session", serializer.dumps(forged))  # signed with the portal's own key
        assert thief.get("/instructor").status_code == 302, forged


def test_the_secure_cookie_setting_marks_the_cookie(portal):
    """Behind HTTPS (``portal_secure_cookie``), is the session cookie Secure, and HttpOnly and SameSite=Lax always?"""
    for secure in (False, True):
        p = portal(portal_secure_cookie=secure)
        response = _sign_in(_client(p), "s001", p["passwords"]["s001"])
        cookie = response.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and ("Secure" in cookie) == secure, cookie


# ---- headers


PAGES = [  # (who, method, path, expected status); feedback of s001 and a built report exist
    (None, "GET", "/", 200),
    (None, "GET", "/static/portal.css", 200),
    ("s001", "GET", "/", 200),
    ("s001", "GET", f"/feedback/{AID}", 200),
    ("instructor", "GET", "/instructor", 200),
    ("instructor", "GET", f"/instructor/feedback/{AID}/s001", 200),
    ("instructor", "GET", f"/instructor/report/{AID}", 200),
    ("s001", "GET", "/no-such-page", 404),
    ("s002", "GET", f"/feedback/{AID}", 404),
    ("s001", "GET", "/instructor", 403),
    (None, "POST", "/signin", 400),  # no CSRF token
]


@pytest.mark.parametrize(("who", "method", "path", "status"), PAGES)
def test_every_response_carries_the_security_headers(portal, who, method, path, status):
    """Does every response (sign-in, student, instructor, feedback, report, static, 404, 403, CSRF error) forbid
    framing and sniffing, keep the Referer on the site, and carry a Content-Security-Policy?"""
    p = portal()
    _write_feedback(p, "s001", "<!DOCTYPE html><p>s001</p>")
    (p["course"].root / "reports").mkdir()
    (p["course"].root / "reports" / f"{AID}.html").write_text("<!DOCTYPE html><p>report</p>", encoding="utf-8")
    client = _signed_in(p, who) if who else _client(p)
    response = client.open(path, method=method)
    assert response.status_code == status
    assert response.headers["X-Frame-Options"] == "DENY" and response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    policy = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy and "unsafe-eval" not in policy and "script-src" not in policy
    if ("feedback" not in path and "report" not in path) or status != 200:
        assert policy == PAGE_POLICY and "default-src 'self'" in policy and "unsafe-inline" not in policy
    if response.mimetype == "text/html" and policy == PAGE_POLICY:  # what the policy would block must not be there
        page = response.get_data(as_text=True)
        assert "<script" not in page and "<style" not in page and " style=" not in page


def test_pages_built_from_students_notebooks_are_sandboxed(portal):
    """Are feedback pages and the report (HTML from students' notebooks) served as sandboxed documents that run
    nothing and load nothing but data: images and inline CSS?"""
    p = portal()
    _write_feedback(p, "s001", "<!DOCTYPE html><p>s001</p>")
    (p["course"].root / "reports").mkdir()
    (p["course"].root / "reports" / f"{AID}.html").write_text("<!DOCTYPE html><p>report</p>", encoding="utf-8")
    responses = [_signed_in(p, "s001").get(f"/feedback/{AID}")]
    instructor = _signed_in(p, "instructor", OFFICE)
    responses += [instructor.get(f"/instructor/feedback/{AID}/s001"), instructor.get(f"/instructor/report/{AID}")]
    for response in responses:
        policy = [d.strip() for d in response.headers["Content-Security-Policy"].split(";")]
        assert response.status_code == 200 and response.mimetype == "text/html"
        assert policy[0] == "sandbox" and "default-src 'none'" in policy and "img-src data:" in policy
        assert "allow-scripts" not in response.headers["Content-Security-Policy"]
        assert response.headers["Content-Security-Policy"] == STUDENT_WORK_POLICY


# ---- the report


def test_showing_the_report_does_not_rebuild_it(portal):
    """Does GET /instructor/report show the last built report as it is (and, before any, a button), writing nothing?"""
    p = portal()
    instructor = _signed_in(p, "instructor", OFFICE)
    path = p["course"].root / "reports" / f"{AID}.html"
    empty = instructor.get(f"/instructor/report/{AID}")
    assert empty.status_code == 200 and "レポートを作る / build the report" in empty.get_data(as_text=True)
    assert not path.exists()
    path.parent.mkdir()
    path.write_text("<!DOCTYPE html><p>last week's report</p>", encoding="utf-8")
    before = path.stat().st_mtime_ns
    for _ in range(3):
        assert "last week's report" in instructor.get(f"/instructor/report/{AID}").get_data(as_text=True)
    assert path.stat().st_mtime_ns == before and "作り直す" in instructor.get("/instructor").get_data(as_text=True)


def test_the_report_is_built_by_a_post_with_the_csrf_token(portal):
    """Is the report built only by a POST that carries the CSRF token, which then shows it?"""
    p = portal()
    instructor = _signed_in(p, "instructor", OFFICE)
    path = p["course"].root / "reports" / f"{AID}.html"
    assert instructor.post(f"/instructor/report/{AID}").status_code == 400 and not path.exists()
    built = instructor.post(f"/instructor/report/{AID}", data={"csrf_token": _token(instructor.get("/instructor"))})
    assert built.status_code == 303 and built.headers["Location"].endswith(f"/instructor/report/{AID}")
    assert "採点レポート" in path.read_text(encoding="utf-8")
    assert "採点レポート" in instructor.get(built.headers["Location"]).get_data(as_text=True)
    student = _signed_in(p, "s001")
    assert student.post(f"/instructor/report/{AID}", data={"csrf_token": _token(student.get("/"))}).status_code == 403


# ---- what already held


class _Markup(HTMLParser):
    """Every start tag of a page with its attributes."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


PAYLOADS = ("<script>alert(1)</script>", "<img src=x onerror=alert(2)>", '<a href="javascript:alert(3)">link</a>',
            "<svg onload=alert(4)>", '<iframe src="/instructor"></iframe>', '<form action="/signout"><button>x</button></form>',
            '<meta http-equiv="refresh" content="0;url=https://evil.example/">', '<base href="https://evil.example/">',
            '<div style="background:url(https://evil.example/x)">styled</div>')


def test_script_in_a_students_notebook_is_inert_in_the_feedback_page(portal):
    """Do script payloads in a student's markdown, outputs (HTML, markdown, JavaScript, an image that breaks out of
    its attribute) and metadata reach the feedback page as markup, or only as text?  (The page is also a sandboxed
    document: ``test_pages_built_from_students_notebooks_are_sandboxed``.)"""
    new_code, new_md, out = nbformat.v4.new_code_cell, nbformat.v4.new_markdown_cell, nbformat.v4.new_output
    payload = "\n".join(PAYLOADS)
    cell = new_code("x = 1", outputs=[
        out("display_data", data={"text/html": payload, "text/markdown": payload, "application/javascript": "alert(5)",
                                  "image/png": '"><script>alert(6)</script>', "text/plain": payload}),
        out("stream", name="stdout", text=payload), out("error", ename="ValueError", evalue=payload, traceback=[payload])])
    cell.metadata = {"tags": [payload], "nbgrader": {"grade_id": payload, "solution": True}}
    notebook = nbformat.v4.new_notebook(cells=[new_md(payload), cell, nbformat.v4.new_raw_cell(payload)],
                                        metadata={"title": payload, "kernelspec": {"name": payload, "display_name": payload}})
    result = SubmissionResult("s001", Status.GRADED, score=0, max_score=1,
                              checks=[CheckResult("q1", 0.0, 1.0, payload, error="CheckFailed")])
    p = portal()
    _write_feedback(p, "s001", feedback_page("課題5", result, sanitized_notebook(notebook, nbformat.v4.new_notebook())))
    response = _signed_in(p, "s001").get(f"/feedback/{AID}")
    page = response.get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # shown as text where it was text
    markup = _Markup()
    markup.feed(page)
    assert not [tag for tag, _ in markup.tags if tag in {"script", "iframe", "svg", "form", "base", "object", "embed"}]
    assert not [(tag, a) for tag, attrs in markup.tags for a in attrs if a.startswith("on")]
    assert not [attrs for tag, attrs in markup.tags if tag == "meta" and "http-equiv" in attrs]
    assert all(attrs.get("src", "").startswith("data:image/") for tag, attrs in markup.tags if tag == "img")
    assert not [attrs for tag, attrs in markup.tags if "javascript:" in (attrs.get("href") or "")]
    assert "evil.example" not in "".join(attrs.get("style") or "" for _, attrs in markup.tags)


def _page_seconds(notebook: nbformat.NotebookNode, repeat: int = 3) -> float:
    """The least CPU time of ``repeat`` builds of a feedback page of ``notebook`` (least: the load of the machine
    only ever adds)."""
    import time

    from autograder.tools.feedback import _notebook_exporter

    exporter, release = _notebook_exporter(), nbformat.v4.new_notebook()
    result = SubmissionResult("s001", Status.GRADED, score=0, max_score=1, checks=[CheckResult("q1", 0.0, 1.0, "x")])
    times = []
    for _ in range(repeat):
        started = time.process_time()
        feedback_page("課題5", result, sanitized_notebook(notebook, release), exporter)
        times.append(time.process_time() - started)
    return min(times)


def _with_markdown(text: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("## 問1\n\n過学習とは何か説明しなさい。"),
                                           nbformat.v4.new_markdown_cell(text)])


def test_a_flood_of_image_brackets_renders_in_linear_time():
    """Does a markdown cell of ``"![" * n`` (issue 23, case 1: nbconvert's ``strip_files_prefix`` is quadratic on it,
    2.6 s for 10,000 and 31 s for 40,000) cost a page time growing linearly, and the issue's ``"![" * 60000`` (over
    ``MAX_RENDERED_CHARS``) no more than a page of the longest markdown rendered, shown as text with a note?"""
    from autograder.tools.feedback import MAX_RENDERED_CHARS

    small, large = MAX_RENDERED_CHARS // 8, MAX_RENDERED_CHARS // 2  # characters "![": 2,500 and 10,000 repeats
    baseline = _page_seconds(_with_markdown("答え"))
    grows = (_page_seconds(_with_markdown("![" * large)) - baseline) / max(  # a floor of 10 ms against the noise
        _page_seconds(_with_markdown("![" * small)) - baseline, 0.01)  # (linear: about 7 and 24 ms; quadratic: 0.08, 1.3 s)
    assert grows < 8, grows  # four times the text: about 4 linear (under, with the floor), 16 quadratic
    hostile = _page_seconds(_with_markdown("![" * 60_000), repeat=2)
    assert hostile < 2 * _page_seconds(_with_markdown("a " * (MAX_RENDERED_CHARS // 2)), repeat=2) + 0.2, hostile
    from autograder.tools.feedback import _notebook_exporter
    page = feedback_page("課題5", SubmissionResult("s001", Status.GRADED, score=0, max_score=1),
                         sanitized_notebook(_with_markdown("![" * 60_000), nbformat.v4.new_notebook()), _notebook_exporter())
    assert "このセルは長いため（120,000 文字）、書式を付けずに最初の 20,000 文字だけを表示しています" in page
    assert "![" * 100 in page and "![" * 10_001 not in page and "<img" not in page
    long_output = nbformat.v4.new_code_cell("print_md()", outputs=[nbformat.v4.new_output(
        "display_data", data={"text/markdown": "![" * 60_000, "text/html": "<b>" * 30_000})])
    page = feedback_page("課題5", SubmissionResult("s001", Status.GRADED, score=0, max_score=1), sanitized_notebook(
        nbformat.v4.new_notebook(cells=[long_output]), nbformat.v4.new_notebook()), _notebook_exporter())
    assert "このセルは長いため" in page and "<b><b>" not in page


def test_a_hostile_notebooks_page_is_built_in_a_child_within_its_limit(tmp_path):
    """Built by the portal's way (``feedback_child.build_pages``: a process of its own), is the page of a graded
    notebook whose written answer is ``"![" * 60000`` built, next to a classmate's; and past a page's limit, or the
    child's, does each student get the plain page with the Japanese note, never a stalled build?"""
    from helpers import graded_course_without_running

    from autograder.course import messages
    from autograder.tools.feedback_child import build_pages

    course = graded_course_without_running(tmp_path / "course", {"s001": "![" * 60_000, "s002": "見逃しが危ないから。" * 5})
    assignment = course.assignment(AID)
    built = build_pages(assignment, ["s001", "s002"])
    assert [(page.student_id, page.why) for page in built] == [("s001", None), ("s002", None)]
    hostile, classmate = (page.path.read_text(encoding="utf-8") for page in built)
    assert "このセルは長いため（120,000 文字）" in hostile and "見逃しが危ないから。" in classmate
    assert messages.FEEDBACK_PAGE_PLAIN not in hostile + classmate

    for limits, said in (({"page_seconds": 0.001}, "building the page ran past its limit"),
                         ({"page_seconds": 0.001, "startup_seconds": 0.0}, "was killed")):
        built = build_pages(assignment, ["s001", "s002"], **limits)
        assert all(said in page.why for page in built), [page.why for page in built]
        for page in built:
            text = page.path.read_text(encoding="utf-8")
            assert messages.FEEDBACK_PAGE_PLAIN in text and "得点" in text and "![![" not in text
            assert "見逃し" not in text  # nothing the student wrote


def test_a_student_cannot_read_another_students_feedback(portal):
    """Can s001 reach s002's feedback by any route or parameter (IDOR)?"""
    p = portal()
    _write_feedback(p, "s002", "<!DOCTYPE html><p>s002 の結果</p>")
    s001 = _signed_in(p, "s001")
    for path, status in ((f"/feedback/{AID}", 404), (f"/feedback/{AID}?student_id=s002", 404),
                         (f"/feedback/{AID}/s002", 404), (f"/instructor/feedback/{AID}/s002", 403)):
        response = s001.get(path)
        assert response.status_code == status and "s002 の結果" not in response.get_data(as_text=True), path
    assert _client(p).get(f"/feedback/{AID}").status_code == 302  # signed out: the sign-in page
    assert "s002 の結果" in _signed_in(p, "s002").get(f"/feedback/{AID}").get_data(as_text=True)


def test_forms_without_the_csrf_token_are_refused(portal):
    """Is every form (sign-in, sign-out, upload, regrade) refused with 400, changing nothing, without its token?"""
    p = portal()
    release = (ROOT / "release" / AID / f"{AID}.ipynb").read_bytes()
    s001, instructor = _signed_in(p, "s001"), _signed_in(p, "instructor", OFFICE)
    cases = [(_client(p), "/signin", {"user_id": "s001", "password": p["passwords"]["s001"]}),
             (s001, "/signout", {}),
             (s001, f"/upload/{AID}", {"notebook": (BytesIO(release), f"{AID}.ipynb")}),
             (instructor, f"/instructor/regrade/{AID}/s001", {})]  # the report's POST: test_the_report_is_built_by_a_post…
    for client, path, data in cases:
        response = client.post(path, data=data, content_type="multipart/form-data")
        assert response.status_code == 400 and "ページを読み込み直して" in response.get_data(as_text=True), path
    assert _opens(s001, "/") and "山田 花子" in s001.get("/").get_data(as_text=True)  # still signed in
    assert p["store"].uploads_of("s001") == []


@pytest.mark.parametrize(("who", "path"), [
    ("s001", "/feedback/..%2f..%2fetc%2fpasswd"),
    ("s001", "/feedback/..%2f..%2fportal%2fsecret-key"),
    ("s001", "/release/..%2f..%2fcourse_config"),
    ("s001", "/release/%2e%2e"),
    ("s001", "/static/..%2fapp.py"),
    ("instructor", "/instructor/feedback/..%2f..%2fsource/s001"),
    ("instructor", "/instructor/report/..%2f..%2fcourse_config"),
    ("instructor", "/instructor/grades/..%2f..%2fetc%2fpasswd.csv"),
])
def test_dot_dot_in_an_assignment_id_finds_nothing(portal, who, path):
    """Does ``../`` (encoded) in an assignment id or a static path reach a file outside its folder, or a 404?"""
    p = portal()
    response = _signed_in(p, who, OFFICE).get(path)
    assert response.status_code == 404 and b"CourseConfig" not in response.data and b"root:" not in response.data


def test_docs_table_lists_every_case():
    """Does docs/attacks.md's portal table name every test of this file?"""
    table = (ROOT / "docs" / "attacks.md").read_text(encoding="utf-8").split("## ポータルへの攻撃 / Attacks on the portal")[1]
    cases = [name.removeprefix("test_") for name in dir(sys.modules[__name__])
             if name.startswith("test_") and name != "test_docs_table_lists_every_case"]
    assert len(cases) >= 18 and not [case for case in cases if f"| `{case}`" not in table]
