"""The instructor's week on kadai5, end to end on real notebooks: an LMS archive is collected, graded,
fed back, exported and reported; the pages are rendered in headless Chromium with Japanese fonts."""
from __future__ import annotations

import csv
import re
import shutil
import zipfile
from datetime import datetime

import nbformat
import pytest
from helpers import copy_course

from autograder.course.results import Status
from autograder.grading.grade import grade
from autograder.tools.examples import filled_in, mistake, with_mistakes
from autograder.tools.export import export_grades
from autograder.tools.feedback import write_feedback
from autograder.tools.intake import FILED, LATE_IGNORED, PROBLEM, SUPERSEDED, collect
from autograder.tools.report import write_report
from autograder.tools.solutions import TooEarly, write_solutions

# one worker grades the module's batch once: make test distributes whole files (pytest-xdist --dist loadfile)
pytestmark = pytest.mark.slow

AID = "kadai5"
ROSTER = {"s001": "医療 太郎", "s002": "情報 花子", "s003": "遅刻 次郎", "s004": "重複 三郎", "s005": "破損 四郎"}


def lms_archive(course, path):
    """A WebClass-style bulk download: on-time, resubmitted, late, duplicate, unknown student, broken and stray files."""
    source, release = course.source_notebook(AID), course.release_notebook(AID)
    correct = nbformat.writes(filled_in(source, release))
    no_legend = nbformat.writes(with_mistakes(filled_in(source, release), mistake("no_legend", AID)))
    untouched = release.read_text(encoding="utf-8")
    files = {
        "s001_20270518090000_kadai5.ipynb": untouched,        # a first try, replaced by the next one
        "s001_20270520120000_kadai5.ipynb": correct,          # on time: counts
        "s002_20270521100000_kadai5.ipynb": no_legend,        # on time: counts
        "s002_20270524100000_kadai5.ipynb": correct,          # after the due date: ignored
        "s003_20270524080000_kadai5.ipynb": correct,          # only late: filed, not graded
        "s004_20270522100000_kadai5.ipynb": correct,          # two files at one time: listed
        "s004_20270522100000_kadai5 (1).ipynb": no_legend,
        "s999_20270520120000_kadai5.ipynb": correct,          # not in the roster
        "s005_20270520120000_kadai5.ipynb": correct[:3000],   # broken JSON
        "s002_20270521100000_memo.pdf": "%PDF-1.4",           # not a notebook
        "s001_20270519090000_other.ipynb": nbformat.writes(nbformat.read(course.root / "wrong.ipynb", as_version=4)),
    }
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in files.items():
            archive.writestr(f"WebClass/課題5/{name}", text)
    return path


@pytest.fixture(scope="session")  # one batch per worker, kept even if other modules run in between
def week(released_course, tmp_path_factory):
    """One course through collect → grade → feedback → export → report (grading once for every test here)."""
    tmp = tmp_path_factory.mktemp("week")
    course = copy_course(released_course(AID), tmp / "course")
    other = released_course("kadai4").release_notebook("kadai4")
    shutil.copyfile(other, course.root / "wrong.ipynb")  # another assignment's notebook
    roster = tmp / "roster.csv"
    with open(roster, "w", newline="", encoding="utf-8-sig") as f:
        csv.writer(f).writerows([["student_id", "name"], *ROSTER.items()])
    intake = collect(course.assignment(AID), lms_archive(course, tmp / "webclass.zip"), roster=roster)
    results = {r.student_id: r for r in grade(course, AID)}
    pages = write_feedback(course.assignment(AID))
    grades_csv = tmp / "grades.csv"
    export_grades(course.assignment(AID), grades_csv)
    report = write_report(course.assignment(AID))
    return course, intake, results, pages, grades_csv, report


def test_collect_files_the_latest_upload_in_time_and_lists_the_rest(week):
    """Does each file end where it should: latest on-time upload filed, late work filed as late, problems with reasons?"""
    course, intake, *_ = week
    outcome = {u.source.split("/")[-1]: u for u in intake.uploads}
    assert outcome["s001_20270520120000_kadai5.ipynb"].outcome == FILED
    assert outcome["s001_20270518090000_kadai5.ipynb"].outcome == SUPERSEDED
    assert outcome["s002_20270521100000_kadai5.ipynb"].outcome == FILED
    assert outcome["s002_20270524100000_kadai5.ipynb"].outcome == LATE_IGNORED
    late = outcome["s003_20270524080000_kadai5.ipynb"]
    assert late.outcome == FILED and late.late
    reasons = {name: u.reason for name, u in outcome.items() if u.outcome == PROBLEM}
    assert sorted(reasons) == ["s001_20270519090000_other.ipynb", "s002_20270521100000_memo.pdf",
                               "s004_20270522100000_kadai5 (1).ipynb", "s004_20270522100000_kadai5.ipynb",
                               "s005_20270520120000_kadai5.ipynb", "s999_20270520120000_kadai5.ipynb"]
    assert "同じ時刻" in reasons["s004_20270522100000_kadai5.ipynb"]
    assert "名簿にない" in reasons["s999_20270520120000_kadai5.ipynb"]
    assert "読めません" in reasons["s005_20270520120000_kadai5.ipynb"]
    assert "この課題のノートブックではない" in reasons["s001_20270519090000_other.ipynb"]
    assert ".ipynb" in reasons["s002_20270521100000_memo.pdf"]
    stamp = (course.submission_notebook(AID, "s001").parent / "timestamp.txt").read_text(encoding="utf-8")
    assert datetime.fromisoformat(stamp) == datetime.fromisoformat("2027-05-20 12:00:00+09:00")
    assert sorted(p.name for p in course.submitted_dir().iterdir()) == ["s001", "s002", "s003"]
    log = (course.root / "logs" / f"collect-{AID}.csv").read_text(encoding="utf-8-sig")
    assert log.count("\n") == len(intake.uploads) + 1


def test_late_work_is_not_graded_and_on_time_work_is(week):
    """Is the lecture's policy applied: late work recorded as late with 0 points, on-time work graded?"""
    _, _, results, *_ = week
    assert results["s001"].status == Status.GRADED and results["s001"].score == 20
    assert results["s002"].status == Status.GRADED and results["s002"].lost() == ["q4_plot_legend"]
    assert results["s003"].status == Status.LATE and results["s003"].score == 0
    assert "締め切り後" in results["s003"].message and "2027-05-24 08:00" in results["s003"].message


def test_feedback_pages_never_show_hidden_tests(week):
    """Does every feedback page leave out each hidden test line of the source, and say what was wrong?"""
    course, _, _, pages, *_ = week
    source = course.source_notebook(AID).read_text(encoding="utf-8")
    notebook = nbformat.reads(source, as_version=4)
    hidden = [line.strip() for cell in notebook.cells
              for block in re.findall(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", cell.source, re.DOTALL)
              for line in block.splitlines() if line.strip()]
    assert len(hidden) == 26
    texts = {path.parts[-3]: path.read_text(encoding="utf-8") for path in pages}
    assert sorted(texts) == ["s001", "s002", "s003"]
    for student_id, text in texts.items():
        assert [line for line in hidden if line in text] == [], student_id
        assert "autograder" not in text and "BEGIN HIDDEN" not in text
    assert "凡例がありません" in texts["s002"] and "data:image/png;base64" in texts["s002"]
    assert "締め切り" in texts["s003"]


def test_export_marks_late_work_and_names(week):
    """Does the grades CSV carry the roster's names, the scores, and mark the late student?"""
    *_, grades_csv, _ = week
    with open(grades_csv, encoding="utf-8-sig", newline="") as f:
        rows = {row["student_id"]: row for row in csv.DictReader(f)}
    assert sorted(rows) == ["s001", "s002", "s003"]
    assert rows["s001"]["name"] == "医療 太郎" and rows["s001"]["score"] == "20" and rows["s001"]["late"] == ""
    assert rows["s002"]["score"] == "19"
    assert rows["s003"]["status"] == Status.LATE and rows["s003"]["late"] == "yes" and rows["s003"]["score"] == "0"


def test_report_counts_and_plots(week):
    """Does the class report show the students, the late one, the failing check and its plots?"""
    *_, report = week
    text = report.read_text(encoding="utf-8")
    assert "情報 花子" in text and "q4_plot_legend" in text and "凡例がありません" in text
    assert text.count("data:image/png;base64") >= 3
    assert Status.LATE in text


def test_solutions_only_after_the_due_date(week, tmp_path):
    """Are the answers refused before the due date, and written with outputs and no hidden test after it?"""
    course, *_ = week
    due = course.config.assignment(AID).due
    with pytest.raises(TooEarly, match="--force"):
        write_solutions(course.assignment(AID), now=due.replace(day=due.day - 1))
    path = write_solutions(course.assignment(AID), now=due.replace(day=due.day + 1), out_dir=tmp_path)
    answers = nbformat.read(path, as_version=4)
    text = "\n".join(c.source for c in answers.cells)
    assert "BEGIN" not in text and "autograder" not in text and "restore_best_weights=True" in text
    assert all(c.outputs for c in answers.cells if c.cell_type == "code" and c.source.strip())
    assert not any(o.get("output_type") == "error" for c in answers.cells if c.cell_type == "code" for o in c.outputs)
    assert path.with_suffix(".html").is_file()


CJK = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def render(page, png):
    """Open ``page`` in headless Chromium, screenshot it to ``png``; return (font family → glyphs) of its Japanese text."""
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,2000"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"), options=options)
    try:
        driver.get(page.as_uri())
        driver.save_screenshot(str(png))
        driver.execute_cdp_cmd("DOM.enable", {})
        driver.execute_cdp_cmd("CSS.enable", {})
        root = driver.execute_cdp_cmd("DOM.getDocument", {"depth": -1})["root"]["nodeId"]
        glyphs: dict[str, int] = {}
        japanese = 0
        for node in driver.execute_cdp_cmd("DOM.querySelectorAll", {"nodeId": root, "selector": "h1, h2, th, td, p, li"})["nodeIds"][:60]:
            own = driver.execute_cdp_cmd("DOM.describeNode", {"nodeId": node, "depth": 1})["node"].get("children", [])
            text = "".join(child.get("nodeValue", "") for child in own if child.get("nodeType") == 3)
            if not CJK.search(text):
                continue
            japanese += len(CJK.findall(text))
            for font in driver.execute_cdp_cmd("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]:
                glyphs[font["familyName"]] = glyphs.get(font["familyName"], 0) + font["glyphCount"]
        return glyphs, japanese
    finally:
        driver.quit()


@pytest.mark.skipif(not shutil.which("chromium"), reason="needs Debian's chromium and chromium-driver (CI installs them)")
def test_report_and_feedback_render_japanese_in_chromium(week, tmp_path):
    """Do the report and a feedback page render in headless Chromium to PNG with a CJK font for every Japanese glyph?"""
    course, _, _, pages, _, report = week
    feedback = next(p for p in pages if p.parts[-3] == "s002")
    for page in (report, feedback):
        png = tmp_path / f"{page.stem}-{page.parts[-3]}.png"
        glyphs, japanese = render(page, png)
        assert png.stat().st_size > 10_000  # a real screenshot, not an empty page
        assert japanese > 10
        cjk = sum(n for family, n in glyphs.items() if "CJK" in family)
        assert cjk >= japanese, glyphs  # every Japanese character drawn by a CJK font, none left to a box
        shutil.copyfile(png, course.root / png.name)  # kept with the course for a look after a failure


def test_penalty_policy_grades_late_work_with_nbgraders_plugin(released_course, tmp_path):
    """With late_policy="penalty", is late work graded and nbgrader's SubMarks plugin taking 1 point per started hour?"""
    import dataclasses

    from autograder.course import Course
    
    released = released_course(AID)
    course = copy_course(released, tmp_path / "course")
    course = Course(root=course.root, config=dataclasses.replace(course.config, late_policy="penalty"))
    notebook = filled_in(course.source_notebook(AID), course.release_notebook(AID))
    path = course.file_submission(AID, "s010", nbformat.writes(notebook))
    (path.parent / "timestamp.txt").write_text("2027-05-24 01:30:00+09:00", encoding="utf-8")  # 91 minutes late
    (result,) = grade(course, AID, ["s010"])
    assert result.status == Status.GRADED
    assert result.score == 20 - 2 and result.late_penalty == 2 and "減点" in result.message
    assert all(c.passed for c in result.checks if not c.manual)
