"""A course's first day over HTTP: a fresh course copy, ``accounts``, ``serve``, a student's upload and pages.

One real ``serve`` (slow): the course as a fresh clone has it (course_config, kadai5's source and committed
release, no gradebook, no portal database).  The web must answer within seconds while the gradebook, the canary and
the pool warm up behind it; the student's upload taken meanwhile waits in line and is graded once grading is
ready; and no page the student reads carries the machinery (a command, a path, an exception name of ours, a
traceback).  Only kadai5 is offered (the cheapest notebook, the untouched release) so that the warm-up releases
one assignment, not four: the path is the same, the CI minutes are not.
"""
from __future__ import annotations

import html
import re
import shutil
import subprocess
import sys
import time

import pytest
from helpers import ROOT

from autograder.course import messages

sys.path.insert(0, str(ROOT / "bench"))
from portal_rush import Portal, Student, accounts, upload_rows  # noqa: E402 -- the benchmark's client of a real serve

AID = "kadai5"
WEB_WITHIN_SECONDS = 15
pytestmark = pytest.mark.slow

MACHINERY = re.compile(r"python -m|autograder|site-packages|\.venv|/tmp/|/home/|/usr/|/work/|"
                       r"\b(NotReleased|NotGradable|GradingEnvironmentError|CheckFailed|NotAttempted|"
                       r"KeyError|AttributeError|OSError|RuntimeError|ValueError)\b|grading failed|canary")
"""What no student page may show: our commands, server paths, our exception names, the instructor's English.  (The
feedback page shows the student's own cells as they ran, with the traceback of an unanswered cell's
``NotImplementedError``: that is theirs, with no path of ours in it.)"""


def _text(page: str) -> str:
    """What a browser shows of ``page``: the text without tags, scripts and styles."""
    page = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", page)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def _until(condition, timeout: float, what: str, every: float = 1.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := condition():
            return found
        time.sleep(every)
    raise AssertionError(f"not within {timeout:.0f} s: {what}")


def test_a_fresh_course_answers_at_once_and_grades_the_first_upload(tmp_path):
    """On a fresh course: does the web answer within 15 s of ``serve``'s start; does the student's upload taken while
    grading warms up say so, wait, and get graded (the untouched release: 0 of the automatic points); and does no page
    the student reads (the portal, the feedback) show a command, a path, our exception names or a traceback?"""
    import requests

    course = tmp_path / "course"
    course.mkdir()
    shutil.copy(ROOT / "course_config.py", course / "course_config.py")
    for part in ("source", "release"):
        shutil.copytree(ROOT / part / AID, course / part / AID)
    passwords = accounts(course, ["s001"])
    portal = Portal(course, workers=1, log=tmp_path / "serve.log")
    started = time.monotonic()
    portal.process = subprocess.Popen(
        [sys.executable, "-m", "autograder", "serve", "--course-dir", str(course), "--port", str(portal.port),
         "--workers", "1"], cwd=ROOT, env=portal.env(), stdin=subprocess.DEVNULL,
        stdout=portal.log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True)
    try:
        def answers():
            assert portal.process.poll() is None, portal.log.read_text(encoding="utf-8")
            try:
                return requests.get(portal.url + "/", timeout=5).status_code == 200
            except requests.ConnectionError:
                return False

        _until(answers, 120, "the web answering", every=0.2)
        answered = time.monotonic() - started
        print(f"web answered {answered:.1f} s after serve started")
        student = Student(portal, "s001", passwords["s001"])
        page = student.upload(course.joinpath("release", AID, f"{AID}.ipynb").read_bytes())
        assert messages.WARMING_UP in page and messages.WARMING_UP_PLACE in page  # taken while grading warms up
        pages = [page]

        def graded():
            pages.append(student.page())
            return [r for r in upload_rows(course) if r["state"] not in ("queued", "grading")]

        (row,) = _until(graded, 900, "the upload graded", every=3)
        assert (row["state"], row["status"], row["score"], row["max_score"]) == ("graded", "graded", 0.0, 25.0), row
        portal_page = student.page()
        assert "0 / 25" in portal_page and f'id="feedback-{AID}"' in portal_page
        assert messages.WARMING_UP not in portal_page
        feedback = student.http.get(f"{portal.url}/feedback/{AID}", timeout=30)
        assert feedback.status_code == 200 and "問ごとの結果" in feedback.text
        for read in [*pages, portal_page, feedback.text]:
            shown = _text(read)
            assert not MACHINERY.search(shown), MACHINERY.search(shown)
            assert str(course) not in read and str(ROOT) not in read
        assert not [read for read in [*pages, portal_page] if "Traceback" in read]  # none at all on the portal's
        log = portal.log.read_text(encoding="utf-8")
        assert "released kadai5 into the gradebook" in log and "Port 8787" not in log
        assert answered < WEB_WITHIN_SECONDS, f"the web answered {answered:.1f} s after serve started"
    finally:
        portal.stop()
