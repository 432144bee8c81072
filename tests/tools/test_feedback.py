"""Feedback pages: real kadai5 submissions graded through nbgrader, then one page each that leaks nothing."""
from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from types import SimpleNamespace

import nbformat
import pytest
from helpers import copy_course

from autograder.course.results import CheckResult, Status, SubmissionResult
from autograder.grading.grade import grade
from autograder.tools.examples import filled_in, mistake, with_mistakes
from autograder.tools.feedback import (
    feedback_page,
    sanitized_notebook,
    write_feedback,
)

AID = "kadai5"
MISTAKES = (mistake("no_legend", AID), mistake("syntax_error", AID))  # a failed check, and variables never made
CORRECT, NO_LEGEND, BROKEN, UNTOUCHED, LATE_ONE, NO_FILE = (
    "s_correct", "s_no_legend", "s_broken", "s_untouched", "s_late", "s_no_file")
STATUSES = {CORRECT: Status.GRADED, NO_LEGEND: Status.GRADED, BROKEN: Status.INVALID, UNTOUCHED: Status.GRADED, LATE_ONE: Status.LATE, NO_FILE: Status.MISSING}


def marked_lines(notebook, begin: str, end: str) -> list[str]:
    """Every non-empty line (stripped) between ``### BEGIN <begin>`` and ``### END <end>`` in the notebook's cells."""
    lines = []
    for cell in notebook.cells:
        inside = False
        for line in cell.source.splitlines():
            if line.strip() in (begin, end):
                inside = line.strip() == begin
            elif inside and line.strip():
                lines.append(line.strip())
    return lines


class _Text(HTMLParser):
    """The text a browser shows (highlighted code joined back into lines), without styles and scripts."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts, self._skip = [], 0

    def handle_starttag(self, tag, attrs):
        self._skip += tag in ("style", "script")

    def handle_endtag(self, tag):
        self._skip -= tag in ("style", "script")

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def shown_text(page: str) -> str:
    parser = _Text()
    parser.feed(page)
    return "".join(parser.parts)


def table_row(page: str, grade_id: str) -> str:
    """The text of the row of the page's table for the graded cell ``grade_id`` (its title, points and messages)."""
    row = re.search(rf'<tr[^>]*data-grade-id="{re.escape(grade_id)}"[^>]*>(.*?)</tr>', page, re.DOTALL)
    assert row, f"no row for {grade_id}"
    return shown_text(row.group(1))


def occurs(line: str, page: str) -> bool:
    """Whether ``line`` is in the page's markup, escaped markup or shown text."""
    return line in page or html.escape(line) in page or line in shown_text(page)



@pytest.fixture(scope="session")  # one batch per worker, kept even if other modules run in between
def graded(released_course, tmp_path_factory):
    """kadai5 graded once for six students, then their feedback pages: correct, two mistakes, a truncated file,
    the release submitted untouched (0 points), a late one and a folder without the notebook."""
    course = copy_course(released_course(AID), tmp_path_factory.mktemp("feedback") / "course")
    source, release = course.source_notebook(AID), course.release_notebook(AID)
    correct = filled_in(source, release)
    texts = {CORRECT: nbformat.writes(correct),
             NO_LEGEND: nbformat.writes(with_mistakes(correct, *MISTAKES)),
             UNTOUCHED: release.read_text(encoding="utf-8"),
             LATE_ONE: nbformat.writes(correct)}
    texts[BROKEN] = texts[CORRECT][: len(texts[CORRECT]) // 2]  # cut mid-file: not JSON any more
    for student_id, text in texts.items():
        course.file_submission(AID, student_id, text)
    (course.submission_notebook(AID, LATE_ONE).parent / "timestamp.txt").write_text("2099-01-01 00:00:00+09:00", encoding="utf-8")
    course.submission_notebook(AID, NO_FILE).parent.mkdir(parents=True)
    results = {r.student_id: r for r in grade(course, AID, list(STATUSES))}
    paths = write_feedback(course, AID)
    pages = {path.parent.parent.name: path.read_text(encoding="utf-8") for path in paths}
    return SimpleNamespace(course=course, results=results, paths=paths, pages=pages)


@pytest.mark.slow
def test_one_page_per_student_where_nbgrader_keeps_feedback(graded):
    """Does every student folder get one page, at feedback/<id>/kadai5/kadai5.html, after grading as expected?"""
    assert {sid: r.status for sid, r in graded.results.items()} == STATUSES
    assert graded.paths == [graded.course.feedback_path(AID, sid) for sid in sorted(STATUSES)]
    assert graded.paths[0] == graded.course.root / "feedback" / min(STATUSES) / AID / f"{AID}.html"


@pytest.mark.slow
def test_no_page_shows_a_hidden_test(graded):
    """Is not one line of kadai5's hidden tests, nor the toolkit's name, in any page?"""
    source = nbformat.read(graded.course.source_notebook(AID), as_version=4)
    hidden = marked_lines(source, "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")
    assert len(hidden) >= 20
    for student_id, page in graded.pages.items():
        assert [line for line in hidden if occurs(line, page)] == [], student_id
        assert "autograder" not in page and "_kadai5" not in page, student_id
        assert "BEGIN HIDDEN TESTS" not in page and "BEGIN SOLUTION" not in page, student_id


@pytest.mark.slow
def test_untouched_release_page_shows_no_solution(graded):
    """Does the page of a student who submitted the release unchanged show no line of the solution?"""
    source = nbformat.read(graded.course.source_notebook(AID), as_version=4)
    public = "\n".join(cell.source for cell in nbformat.read(graded.course.release_notebook(AID), as_version=4).cells)
    # The release's instructions quote some lines of the solution (model.compile(...) …); those are public.
    secret = [line for line in marked_lines(source, "### BEGIN SOLUTION", "### END SOLUTION") if line not in public]
    assert len(secret) >= 10
    page = graded.pages[UNTOUCHED]
    assert [line for line in secret if occurs(line, page)] == []
    assert "得点 0 / 25 点" in page
    assert "raise NotImplementedError()" in shown_text(page)  # the student's own (unchanged) answer cells are shown


@pytest.mark.slow
def test_mistake_page_shows_message_points_and_figure(graded):
    """Does the page of a student without a legend give that check's Japanese message, its points and the figure?"""
    result, page = graded.results[NO_LEGEND], graded.pages[NO_LEGEND]
    assert set(result.lost()) == MISTAKES[0].lost | MISTAKES[1].lost
    text = shown_text(page)
    assert f"得点 {result.score:g} / {result.max_score:g} 点" in text
    legend = table_row(page, "q4_plot_legend")
    assert "0 / 1" in legend and "凡例がありません" in legend
    assert "data:image/png;base64," in page
    assert "先生が採点します" in table_row(page, "q8_false_negative")
    assert "問4 学習の様子の作図" in legend  # titled by its question, not q4_plot_legend
    assert result.check("q4_plot_legend").message in text  # under the test cell too, without traceback
    assert "CheckFailed" not in text and "NotAttempted" not in text  # no English prefix of ours


@pytest.mark.slow
def test_missing_variable_names_the_question_that_makes_it(graded):
    """Does a check whose variable was never made (the student's cell above failed) say which and where?"""
    check = graded.results[NO_LEGEND].check("q6_recall")
    assert (check.error, check.points) == ("NotAttempted", 0)
    row = table_row(graded.pages[NO_LEGEND], "q6_recall")
    assert "変数 recall がありません。問6 のセルを書いて実行しましたか？" in row
    assert "問6 のセルでエラー（SyntaxError、" in row and "この問題は採点できませんでした" in row  # the cause, first
    assert graded.results[NO_LEGEND].check("q6_accuracy").passed  # its own self-check failed, the hidden check did not


@pytest.mark.slow
def test_correct_page_has_every_automatic_point(graded):
    """Does the correct student's page list every automatic check as OK with full points?"""
    result, page = graded.results[CORRECT], graded.pages[CORRECT]
    assert result.lost() == []
    assert f"得点 {result.score:g} / 25 点" in shown_text(page)
    for check in result.checks:
        if not check.manual:
            assert f"{check.max_points:g} / {check.max_points:g}" in table_row(page, check.grade_id)


@pytest.mark.slow
def test_untouched_page_gives_each_check_message(graded):
    """Does the untouched release's page give 0 points and each check's own message?"""
    result, page = graded.results[UNTOUCHED], graded.pages[UNTOUCHED]
    for check in result.checks:
        if not check.manual:
            assert check.points == 0 and check.message
            assert check.message in table_row(page, check.grade_id)


@pytest.mark.slow
def test_invalid_late_and_missing_pages_say_why_with_zero(graded):
    """Do the pages of an unreadable, a late and a missing submission say so in Japanese, with 0 points and no notebook?"""
    for student_id, says in ((BROKEN, "読み込めませんでした"), (LATE_ONE, "締め切りを過ぎた提出は受け付けていません"),
                             (NO_FILE, "ノートブックがありませんでした")):
        page = graded.pages[student_id]
        assert says in page and "得点 0 / 25 点" in page, student_id
        assert "jp-Cell" not in page, student_id


@pytest.mark.slow
def test_pages_are_html5_in_japanese(graded):
    """Is every page an HTML5 document in Japanese, UTF-8, that an HTML5 parser reads without a single error?"""
    html5lib = pytest.importorskip("bleach._vendor.html5lib")  # bleach (an nbconvert dependency) ships html5lib
    for student_id, page in graded.pages.items():
        assert page.lstrip().lower().startswith("<!doctype html>"), student_id
        assert re.search(r'<html lang="ja">', page) and re.search(r'<meta charset="utf-8"\s*/?>', page), student_id
        html5lib.HTMLParser(strict=True).parse(page)


def test_student_text_is_escaped():
    """Is what a student controls (id, message) escaped on a page without a notebook?"""
    result = SubmissionResult("<b>s1</b>", Status.INVALID, "<script>alert(1)</script>", max_score=25)
    page = feedback_page("課題", result)
    assert "<script>alert" not in page and "<b>s1" not in page
    assert "&lt;script&gt;" in page and "得点 0 / 25 点" in page


def _cell(cell, **nbgrader):
    cell.metadata["nbgrader"] = nbgrader
    return cell


def test_sanitized_notebook_keeps_the_student_and_hides_the_rest():
    """Does sanitising show the release's locked cells, no test traceback, and defuse a student's HTML?"""
    new_code, new_md, out = nbformat.v4.new_code_cell, nbformat.v4.new_markdown_cell, nbformat.v4.new_output
    release = nbformat.v4.new_notebook(cells=[_cell(new_code("self_check(x)"), grade_id="q1_test", locked=True, grade=True)])
    traceback = ["\x1b[31mTraceback\x1b[0m", "File /site-packages/autograder/grading/kernel/fast_keras.py:9, in fit\n  secret()",
                 "Cell In[1], line 1\n<b>x</b>"]
    test_cell = _cell(new_code("### BEGIN HIDDEN TESTS\nhidden()\n### END HIDDEN TESTS\nself_check(x)",
                               outputs=[out("error", ename="CheckFailed", evalue="違います", traceback=["hidden()"]),
                                        out("stream", name="stderr", text="autograder/checks/k.py:3: hidden()\n")]),
                      grade_id="q1_test", locked=True, grade=True)
    notebook = nbformat.v4.new_notebook(cells=[
        _cell(new_code("x = 1", outputs=[out("error", ename="ValueError", evalue="bad", traceback=traceback),
                                         out("display_data", data={"text/html": "<script>alert(1)</script><b>ok</b>",
                                                                   "application/javascript": "alert(2)",
                                                                   "image/png": '"><script>alert(3)</script>'})]),
              grade_id="q1_code", locked=False, solution=True),
        test_cell,
        _cell(new_code("hidden_setup()"), grade_id="gone", locked=True),
        new_md("<script>alert(4)</script>\n\n**answer**"),
        nbformat.v4.new_raw_cell("<script>alert(5)</script>"),
    ])
    clean = sanitized_notebook(notebook, release)
    assert [c.source for c in clean.cells[1:3]] == ["self_check(x)", ""]
    assert clean.cells[1].outputs == [out("stream", name="stderr", text="違います\n")]  # no English prefix of ours
    assert clean.cells[0].outputs[0].traceback == ["Traceback", "（採点システムの内部の処理は省略しました）",
                                                   "Cell In[1], line 1\n<b>x</b>"]
    assert set(clean.cells[0].outputs[1].data) == {"text/html"}
    assert all(cell.metadata == {} for cell in clean.cells) and clean.cells[4].cell_type == "markdown"
    page = feedback_page("課題", SubmissionResult("s1", Status.GRADED, score=0, max_score=1,
                                                  checks=[CheckResult("q1_test", 0.0, 1.0, "違います", error="CheckFailed")]),
                         clean)
    assert "hidden()" not in page and "hidden_setup" not in page and "autograder" not in page
    assert "<b>x</b>" not in page and "alert(2)" not in page and "alert(3)" not in page
    assert not re.search(r"<script>\s*alert", page), "a student's script got through"
    assert "<b>ok</b>" in page and "<strong>answer</strong>" in page
