"""The whole loop of grading written answers in a real browser (issue 24's "done when"): a rubric of several items,
publishing, the student's page before and after, a regrade request and its answer, and a grader's account refused
what it must not do — on one course scored without running notebooks, in headless Chromium.

Screenshots go to ``$SHOTS_DIR`` if set (e.g. ``SHOTS_DIR=/work/notes/shots``), else to the test's temporary folder.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from helpers import (
    ANSWER,
    OTHER,
    click_through,
    graded_course_without_running,
    headless_chromium,
    portal_accounts,
    serve_in_thread,
)

from autograder.portal.app import create_app
from autograder.portal.store import RequestStatus, Store
from autograder.tools import manual
from autograder.tools.feedback import write_feedback

AID, CELL = "kadai5", "q8_false_negative"
NAMES = {"s001": "山田 花子", "s002": "佐藤 太郎"}
PAGE = f"/instructor/manual/{AID}/{CELL}"
ITEMS = [("偽陰性の意味が書けている", "2"), ("重大な理由が書けている", "2"), ("計算ミスがある", "-1")]


@pytest.mark.slow
@pytest.mark.skipif(not shutil.which("chromium"), reason="needs Debian's chromium and chromium-driver (CI installs them)")
def test_the_grading_loop_in_chromium(tmp_path):
    """Does a rubric of three items (one negative) grade two answers by their number keys, the student's feedback
    page show nothing of it before publishing and the items with their points after, a regrade request reach the
    instructor and its answer (new points) reach the student, and a grader's account (anonymous grading on) see
    「解答 N」 without ids, find no publish button, and get 403 when it publishes, opens the requests or the score page?"""
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    shots = Path(os.environ.get("SHOTS_DIR") or tmp_path / "shots")
    shots.mkdir(parents=True, exist_ok=True)
    course = graded_course_without_running(tmp_path / "course", {"s001": ANSWER, "s002": OTHER}, names=NAMES)
    _, accounts, passwords = portal_accounts(tmp_path, course, NAMES, graders=("ta1",))
    store = Store(f"sqlite:///{accounts}")
    write_feedback(course.assignment(AID), ["s001"])  # the page s001 has before any manual grade
    server, port = serve_in_thread(create_app(course, store=store, start_queue=False))
    base = f"http://127.0.0.1:{port}"
    driver = headless_chromium("--lang=ja")
    wait = WebDriverWait(driver, 60, poll_frequency=0.2)

    def sign_in(user_id: str, *shown):
        driver.delete_all_cookies()
        driver.get(f"{base}/")
        driver.find_element(By.ID, "user_id").send_keys(user_id)
        driver.find_element(By.ID, "password").send_keys(passwords[user_id])
        return click_through(driver, driver.find_element(By.ID, "signin"), *shown)

    def shot(name: str, at: str | None = None) -> None:
        """A screenshot of the page's top, or from the element of id ``at``."""
        driver.execute_script("window.scrollTo(0, 0)" if at is None else
                              f"document.getElementById({at!r}).scrollIntoView()")
        driver.save_screenshot(str(shots / name))
        assert (shots / name).stat().st_size > 5_000, name

    def answer(student_id: str):
        return driver.find_element(By.ID, f"answer-{student_id}")

    def points(student_id: str) -> str:
        return answer(student_id).find_element(By.NAME, "points").get_attribute("value")

    def keys(*typed):
        webdriver.ActionChains(driver).send_keys(*typed).perform()

    def students_feedback(name: str) -> str:
        sign_in("s001", By.CSS_SELECTOR, "form.inline")
        driver.get(f"{base}/feedback/{AID}")
        text = driver.find_element(By.TAG_NAME, "body").text
        shot(name)
        return text

    try:
        # ---- the instructor: three rubric items, two answers graded by their number keys
        sign_in("instructor", By.ID, f"manual-{AID}")
        driver.get(f"{base}{PAGE}")
        for number, (text, value) in enumerate(ITEMS, start=1):
            driver.find_element(By.ID, "new-item-text").send_keys(text)
            driver.find_element(By.ID, "new-item-points").send_keys(value)
            click_through(driver, driver.find_element(By.ID, "add-item"), By.CSS_SELECTOR,
                          f'li.rubric-item[data-number="{number}"]')
        driver.execute_script("document.activeElement.blur()")
        keys("j", "1")  # s001: items 1 and 2 → 4 points
        wait.until(lambda d: points("s001") == "2")
        keys("2")
        wait.until(lambda d: points("s001") == "4")
        keys("j", "1")  # s002: items 1 and 3 → 2 − 1 = 1 point
        wait.until(lambda d: points("s002") == "2")
        keys("3")
        wait.until(lambda d: points("s002") == "1")
        counts = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "li.rubric-item .count")]
        assert counts == ["2 人", "1 人", "1 人"]
        assert "未公開 2 件" in driver.find_element(By.ID, "unpublished").text
        shot("rubric-drafts.png")
        before = students_feedback("student-before.png")
        assert "先生が採点します" in before and ITEMS[0][0] not in before

        # ---- publish: the student's page shows the items and points
        sign_in("instructor", By.ID, f"manual-{AID}")
        driver.get(f"{base}{PAGE}")
        click_through(driver, driver.find_element(By.ID, "publish-question"), By.CSS_SELECTOR, "p.flash")
        assert "2 件の採点を公開しました" in driver.find_element(By.CSS_SELECTOR, "p.flash").text
        after = students_feedback("student-after.png")
        assert "先生の採点：4 / 5 点" in after and f"{ITEMS[0][0]}（+2 点）" in after and f"{ITEMS[1][0]}（+2 点）" in after
        assert "先生が採点します" not in after

        # ---- a regrade request, its answer with new points, and what the student reads
        driver.get(f"{base}/regrade/{AID}")
        driver.find_element(By.NAME, "reason").send_keys("しきい値を下げる理由も3つ目に書いています。")
        click_through(driver, driver.find_element(By.ID, f"ask-{CELL}"), By.CSS_SELECTOR, "p.flash")
        assert "再採点を依頼しました" in driver.find_element(By.CSS_SELECTOR, "p.flash").text
        shot("regrade-request.png")
        (asked,) = store.regrade_requests(assignment_id=AID)
        sign_in("instructor", By.ID, f"regrades-{AID}")
        driver.get(f"{base}/instructor/regrades/{AID}")
        request = driver.find_element(By.ID, f"request-{asked.id}")
        assert "しきい値を下げる理由" in request.text and "いまの採点 / current mark: 4 / 5" in request.text
        request.find_element(By.CSS_SELECTOR, 'input[name="changed"][value="1"]').click()
        field = request.find_element(By.NAME, "points")
        field.clear()
        field.send_keys("4.5")
        request.find_element(By.NAME, "reply").send_keys("3つ目の点を認め、0.5 点加えました。")
        shot("regrade-answer.png")
        click_through(driver, driver.find_element(By.ID, f"answer-{asked.id}"), By.CSS_SELECTOR, "p.flash")
        assert "依頼に回答しました（点数の変更：あり）" in driver.find_element(By.CSS_SELECTOR, "p.flash").text
        assert store.regrade_request(asked.id).status == RequestStatus.ANSWERED
        sign_in("s001", By.CSS_SELECTOR, "form.inline")
        driver.get(f"{base}/regrade/{AID}")
        page = driver.find_element(By.TAG_NAME, "body").text
        assert "先生が回答しました" in page and "公開された点数：4.5 / 5 点" in page and "0.5 点加えました" in page
        shot("regrade-answered.png")

        # ---- a grader, with anonymous grading on: drafts only, no names, refused the instructor's actions
        sign_in("instructor", By.ID, f"manual-{AID}")
        driver.get(f"{base}/instructor/manual/{AID}")
        click_through(driver, driver.find_element(By.ID, "anonymous-on"), By.ID, "anonymous-off")
        sign_in("ta1", By.ID, f"manual-{AID}")
        driver.get(f"{base}{PAGE}")
        question = driver.find_element(By.TAG_NAME, "main").get_attribute("innerHTML")
        assert "解答 1" in question and "解答 2" in question
        assert not any(s in question or n in question for s, n in NAMES.items())
        assert not driver.find_elements(By.ID, "publish-question") and driver.find_elements(By.ID, "grader-drafts")
        shot("grader-anonymous.png", at="answers")
        statuses = driver.execute_async_script("""
            const done = arguments[arguments.length - 1];
            const token = document.getElementById("manual").dataset.csrfToken;
            const post = (url) => fetch(url, {method: "POST", headers: {"X-CSRFToken": token,
                "Content-Type": "application/json"}, body: "{}"}).then((r) => r.status);
            Promise.all([post(arguments[0] + "/publish"), post(arguments[1]),
                         fetch(arguments[2]).then((r) => r.status)]).then(done);""",
            PAGE, f"/instructor/scores/{AID}/s001/override", f"/instructor/grades/{AID}.csv")
        assert statuses == [403, 403, 403]
        driver.get(f"{base}/instructor/regrades/{AID}")
        assert "Forbidden" in driver.find_element(By.TAG_NAME, "body").text
        shot("grader-refused.png")
    finally:
        driver.quit()
        server.close()
    assert manual.published_notes(course.assignment(AID), "s001")[CELL].points == 4.5
    assert [c.after_points for c in store.grade_changes(student_id="s001")] == [4.0, 4.5]
