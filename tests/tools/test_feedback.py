"""Feedback pages: real kadai5 submissions graded through nbgrader, then one page each that leaks nothing (slow);
and the page a student reads under deadline pressure, on in-memory notebooks (fast): rows titled by the question,
the errors that cost points, the server's folders hidden, long logs folded, the time and the way back."""
from __future__ import annotations

import html
import re
import shutil
import time
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import nbformat
import pytest
from helpers import ROOT, answer_cell, copy_course, notebook, test_cell

from autograder.course import Course, load_course
from autograder.course.results import CheckResult, Status, SubmissionResult
from autograder.grading.grade import grade
from autograder.tools.examples import filled_in, mistake, with_mistakes
from autograder.tools.feedback import (
    feedback_page,
    sanitized_notebook,
    with_portal_link,
    write_feedback,
)
from autograder.tools.kernel_text import fold, joined_streams, scrub
from autograder.course.assignment import question_titles
from autograder.tools.questions import read_questions

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
    paths = write_feedback(course.assignment(AID))
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
        assert 'class="jp-Cell' not in page, student_id  # no notebook cell (the stylesheet names the class)


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


# ---- the page a student reads under deadline pressure: fast, on in-memory notebooks (issue 21, item 3)

SERVER = "/tmp/grading-7f3a/.venv/lib/python3.11/site-packages"
"""A grading server's folder of installed packages, as a worker's traceback quotes it."""

TYPE_ERROR = [  # IPython's traceback of a typo in Keras's fit (verbos=0), colours and all, as a kernel records it
    "\x1b[31m---------------------------------------------------------------------------\x1b[39m",
    "\x1b[31mTypeError\x1b[39m                                 Traceback (most recent call last)",
    "\x1b[36mCell\x1b[39m\x1b[36m \x1b[39m\x1b[32mIn[7]\x1b[39m\x1b[32m, line 3\x1b[39m\n\x1b[32m      1\x1b[39m model.compile("
    "optimizer=\x1b[33m'adam'\x1b[39m, loss=\x1b[33m'binary_crossentropy'\x1b[39m)\n\x1b[32m      2\x1b[39m \n"
    "\x1b[32m----> \x1b[39m\x1b[32m3\x1b[39m result = model.fit(x_train, y_train, epochs=\x1b[32m100\x1b[39m, verbos=\x1b[32m0\x1b[39m)\n",
    f"\x1b[36mFile \x1b[39m\x1b[32m{SERVER}/keras/src/utils/traceback_utils.py:122\x1b[39m, in \x1b[36mfilter_traceback."
    "<locals>.error_handler\x1b[39m\x1b[34m(*args, **kwargs)\x1b[39m\n\x1b[32m--> \x1b[39m\x1b[32m122\x1b[39m     "
    "\x1b[38;5;28;01mraise\x1b[39;00m e.with_traceback(filtered_tb) \x1b[38;5;28;01mfrom\x1b[39;00m None\n",
    "\x1b[31mTypeError\x1b[39m: TensorFlowTrainer.fit() got an unexpected keyword argument 'verbos'"]
NAME_ERROR = ["\x1b[31mNameError\x1b[39m                                 Traceback (most recent call last)",
              "\x1b[36mCell\x1b[39m \x1b[32mIn[8]\x1b[39m, line 2\n      1 fig = plt.figure(figsize=(12, 4))\n"
              "----> 2 plt.plot(result.history['loss'])\n", "\x1b[31mNameError\x1b[39m: name 'result' is not defined"]
WARNING = (f"{SERVER}/keras/src/layers/core/dense.py:87: UserWarning: Do not pass an `input_shape`/`input_dim` "
           "argument to a layer.\n  super().__init__(activity_regularizer=activity_regularizer, **kwargs)\n")
JST = ZoneInfo("Asia/Tokyo")


def _question(grade_id: str, text: str) -> nbformat.NotebookNode:
    """A question's text: a locked markdown cell of the release."""
    return _cell(nbformat.v4.new_markdown_cell(text), grade_id=grade_id, locked=True, solution=False, grade=False)


def _ran(cell, count: int, *outputs) -> nbformat.NotebookNode:
    """``cell`` as the grading kernel left it: its execution count and outputs."""
    cell = nbformat.from_dict(cell)
    cell.execution_count = count
    cell.outputs = [nbformat.from_dict(o) for o in outputs]
    return cell


def _error(ename: str, evalue: str, traceback: list[str] | None = None) -> dict:
    return {"output_type": "error", "ename": ename, "evalue": evalue, "traceback": traceback or [f"{ename}: {evalue}"]}


def _stream(text: str, name: str = "stdout") -> dict:
    return {"output_type": "stream", "name": name, "text": text}


MESSAGES = {"q3_fit": "変数 result がありません。問3 のセルを書いて実行しましたか？",
            "q4_plot_loss": "変数 fig がありません。問4 のセルを書いて実行しましたか？",
            "q4_plot_legend": "左（1つ目）のグラフに凡例がありません。plt.legend() を書きましょう。",
            "q5_accuracy": "変数 accuracy がありません。問5 のセルを書いて実行しましたか？"}


def _typo_submission():
    """(release, autograded notebook, result) of a kadai5-like notebook whose 問3 cell raised a TypeError (a typo
    ``verbos=0``): 問3's check and one of 問4's lose their variable (問4's cell raised a NameError for it), 問4's
    legend check fails on its own, and 問5's check (its cell ran without error) lost a variable too."""
    release = notebook(
        _question("intro", "# 課題5　応用\n\n乳がんの診断データで MLP を作ります。"),
        _question("q2_md", "## 問2　モデルの作成（2点）\n\nモデルを作りましょう。"),
        answer_cell("q2_code", "# ここにコードを書いてください"),
        test_cell("q2_model", "# 自己チェック（問2）", 2),
        _question("q3_md", "## 問3　学習（2点）\n\n`epochs=100` で学習し、結果を `result` に入れましょう。"),
        answer_cell("q3_code", "# ここにコードを書いてください"),
        test_cell("q3_fit", "# 自己チェック（問3）", 2),
        _question("q4_md", "## 問4　学習の様子の作図（4点）\n\nグラフを描きましょう。"),
        answer_cell("q4_code", "# ここにコードを書いてください"),
        test_cell("q4_plot_loss", "# 自己チェック（問4 損失）", 2),
        test_cell("q4_plot_legend", "# 自己チェック（問4 凡例）", 2),
        _question("q5_md", "## 問5　評価（2点）"),
        answer_cell("q5_code", "# ここにコードを書いてください"),
        test_cell("q5_accuracy", "# 自己チェック（問5）", 2),
        _cell(nbformat.v4.new_markdown_cell("ここに答えを書いてください"), grade_id="q6_essay", solution=True,
              grade=True, locked=False, points=3))
    cells = [nbformat.from_dict(c) for c in release.cells]
    hidden = "### BEGIN HIDDEN TESTS\nsecret_check(result)\n### END HIDDEN TESTS\n"
    cells[2] = _ran(answer_cell("q2_code", "model = Sequential([Dense(1, input_shape=(30,))])"), 6, _stream(WARNING, "stderr"))
    cells[3] = _ran(test_cell("q2_model", hidden + "print('問2 OK')", 2), 6, _stream("問2 OK\n"))
    cells[5] = _ran(answer_cell("q3_code", "model.compile(optimizer='adam', loss='binary_crossentropy')\n\n"
                                           "result = model.fit(x_train, y_train, epochs=100, verbos=0)"), 7,
                    _error("TypeError", "TensorFlowTrainer.fit() got an unexpected keyword argument 'verbos'", TYPE_ERROR))
    for index, grade_id in ((6, "q3_fit"), (9, "q4_plot_loss"), (13, "q5_accuracy")):
        cells[index] = _ran(test_cell(grade_id, hidden, 2), index, _error("NotAttempted", MESSAGES[grade_id]))
    cells[8] = _ran(answer_cell("q4_code", "fig = plt.figure(figsize=(12, 4))\nplt.plot(result.history['loss'])"), 8,
                    _error("NameError", "name 'result' is not defined", NAME_ERROR))
    cells[10] = _ran(test_cell("q4_plot_legend", hidden, 2), 10, _error("CheckFailed", MESSAGES["q4_plot_legend"]))
    cells[12] = _ran(answer_cell("q5_code", "acc = model.evaluate(x_test, y_test)"), 12)
    graded = notebook(*cells)
    checks = [CheckResult("q2_model", 2.0, 2.0)]
    checks += [CheckResult(grade_id, 0.0, 2.0, message, error="CheckFailed" if grade_id == "q4_plot_legend" else "NotAttempted")
               for grade_id, message in MESSAGES.items()]
    checks.append(CheckResult("q6_essay", None, 3.0, manual=True))
    return release, graded, SubmissionResult("s1", Status.GRADED, score=2, max_score=13, checks=checks)


def _typo_page(**options) -> str:
    release, graded, result = _typo_submission()
    return feedback_page("課題5", result, sanitized_notebook(graded, release), questions=read_questions(graded, release),
                         **options)


def _summary(page: str) -> str:
    """The summary part of a page (the notebook below it repeats the check messages)."""
    return page[page.index('aria-label="採点結果"'):page.index("あなたのノートブック")]


def test_a_cell_that_raised_is_named_and_the_checks_it_blocked_say_so():
    """When the student's 問3 cell raised a TypeError at line 3, does the table say so in Japanese on 問3's row (and
    keep the check's own message), mark 問4's row with 問4's own error, say of 問5's lost variable that the error above
    may be why, leave a check that failed on its own alone, and list the errors in order, each linked to its cell?"""
    release, graded, _ = _typo_submission()
    questions = read_questions(graded, release)
    assert [(e.where, e.ename, e.line, e.anchor) for e in questions.errors] == [
        ("問3", "TypeError", 3, "q-q3_code"), ("問4", "NameError", 2, "q-q4_code")]
    page = _typo_page()
    fit = table_row(page, "q3_fit")
    assert "問3 のセルでエラー（TypeError、3行目）が起きたため、この問題は採点できませんでした。" in fit
    assert MESSAGES["q3_fit"] in fit  # still there, after the cause
    assert "問4 のセルでエラー（NameError、2行目）が起きたため、この問題は採点できませんでした。" in table_row(page, "q4_plot_loss")
    assert ("上の 問4 のセルでエラー（NameError、2行目）が起きたため、この問題も採点できなかったのかもしれません。"
            in table_row(page, "q5_accuracy"))
    legend = table_row(page, "q4_plot_legend")
    assert MESSAGES["q4_plot_legend"] in legend and "エラー" not in legend
    assert len(re.findall(r'<tr class="lost blocked"', page)) == 3
    summary = shown_text(_summary(page))
    assert summary.index("問3 のセル（TypeError、3行目）") < summary.index("問4 のセル（NameError、2行目）")
    assert "got an unexpected keyword argument 'verbos'" in summary
    for anchor in ("q-q3_code", "q-q4_code"):
        assert f'href="#cell-id={anchor}"' in page and f'id="cell-id={anchor}"' in page
    html5lib = pytest.importorskip("bleach._vendor.html5lib")
    html5lib.HTMLParser(strict=True).parse(page)


def test_an_unanswered_cell_is_named_as_unanswered():
    """Is an answer cell left as released (``raise NotImplementedError()``) said to be unwritten, not an error?"""
    release, graded, result = _typo_submission()
    graded.cells[5] = _ran(answer_cell("q3_code", "# ここにコードを書いてください\nraise NotImplementedError()"), 7,
                           _error("NotImplementedError", "", ["Cell In[7], line 2\n----> 2 raise NotImplementedError()",
                                                              "NotImplementedError: "]))
    page = feedback_page("課題5", result, sanitized_notebook(graded, release), questions=read_questions(graded, release))
    assert "問3 のセルがまだ書かれていないため、この問題は採点できませんでした。" in table_row(page, "q3_fit")
    assert "問3 のセル（まだ書かれていません（raise NotImplementedError() が残っています））" in shown_text(_summary(page))


def test_rows_are_titled_by_their_question_and_link_to_their_cell():
    """Is each row titled by its question's heading in the release (「問3 学習」, numbered when a question has several
    checks, the grade_id only without a heading), the written answer waiting for the teacher too, and does each row
    link to an id the page has?"""
    release, graded, _ = _typo_submission()
    assert question_titles(release) == {"q2_model": "問2 モデルの作成", "q3_fit": "問3 学習",
                                        "q4_plot_loss": "問4 学習の様子の作図", "q4_plot_legend": "問4 学習の様子の作図",
                                        "q5_accuracy": "問5 評価", "q6_essay": "問5 評価"}
    page = _typo_page()
    assert table_row(page, "q3_fit").startswith("問3 学習")
    assert table_row(page, "q4_plot_loss").startswith("問4 学習の様子の作図（1つ目）")
    assert table_row(page, "q4_plot_legend").startswith("問4 学習の様子の作図（2つ目）")
    assert "q3_fit" not in shown_text(_summary(page)) and "q4_plot_legend" not in shown_text(_summary(page))
    assert "問5 評価（2つ目） は先生が採点します" in shown_text(_summary(page))
    links = set(re.findall(r'href="#cell-id=([^"]+)"', page))
    assert {"q-q3_fit", "q-q4_plot_legend", "q-q6_essay"} <= links
    assert links <= set(re.findall(r'id="cell-id=([^"]+)"', page))
    untitled = notebook(test_cell("q1_check", "# 自己チェック"), _question("q2_md", "## 問2　（記述・3点）"),
                        test_cell("q2_check", "pass"))
    assert question_titles(untitled) == {"q1_check": "q1_check", "q2_check": "問2"}


def test_server_folders_and_colours_never_reach_the_page():
    """Do a worker's folders read <keras>, <tensorflow>, <site-packages>, <python> in tracebacks, warnings and error
    messages (the toolkit's as 「（採点システム）」), with no ANSI colour left, and is anything else left alone?"""
    cases = {f"File {SERVER}/keras/src/utils/traceback_utils.py:122, in f": "File <keras>/src/utils/traceback_utils.py:122, in f",
             "/usr/lib/python3/dist-packages/tensorflow/python/ops/nn.py:5": "<tensorflow>/python/ops/nn.py:5",
             f"{SERVER}/numpy/_core/fromnumeric.py:59: RuntimeWarning": "<site-packages>/numpy/_core/fromnumeric.py:59: RuntimeWarning",
             "/usr/lib/python3.11/warnings.py:109": "<python>/warnings.py:109",
             "<python>/lib/python3.11/site-packages/keras/src/a.py:3: UserWarning": "<keras>/src/a.py:3: UserWarning",
             'File "/opt/venv/lib/python3.11/site-packages/keras/src/b.py", line 5': 'File "<keras>/src/b.py", line 5',
             "path=/opt/venv/lib/python3.11/site-packages/keras": "path=<keras>",
             f"{SERVER}/autograder/checks/kadai5.py:31: in check_fit": "（採点システム）: in check_fit",
             "\x1b[31mdata/train.csv\x1b[0m x = 1/2, my_autograder_notes": "data/train.csv x = 1/2, my_autograder_notes"}
    assert {text: scrub(text) for text in cases} == cases
    page = _typo_page()
    text = shown_text(page)
    assert "<keras>/src/utils/traceback_utils.py:122" in text  # the traceback of the student's cell
    assert "<keras>/src/layers/core/dense.py:87: UserWarning" in text  # the warning of another
    assert "----> 3 result = model.fit(x_train, y_train, epochs=100, verbos=0)" in text
    for machinery in ("/tmp/grading", ".venv", "lib/python3", "site-packages", "\x1b", "[31m", "secret_check"):
        assert machinery not in page, machinery


def test_no_english_prefix_of_ours_reaches_the_student():
    """Do failed checks, variables never made, and cells the kernel stopped read in Japanese alone (no CheckFailed:,
    NotAttempted:, CellTimeoutError:), in the table and under the cells, while a Python error keeps its name?"""
    release = notebook(*(test_cell(f"q{n}", "pass") for n in range(1, 6)))
    ends = [("CheckFailed", "凡例がありません。"), ("NotAttempted", "変数 fig がありません。"),
            ("CellTimeoutError", "A cell timed out while it was being executed, after 60 seconds."),
            ("EvidenceRefused", "evidence of q4 refused"), ("NameError", "name 'fig' is not defined")]
    graded = notebook(*(_ran(test_cell(f"q{n}", "hidden()"), n, _error(ename, evalue))
                        for n, (ename, evalue) in enumerate(ends, start=1)))
    result = SubmissionResult("s1", Status.GRADED, score=0, max_score=5, checks=[
        CheckResult(f"q{n}", 0.0, 1.0, evalue, error=ename) for n, (ename, evalue) in enumerate(ends, start=1)])
    page = feedback_page("課題", result, sanitized_notebook(graded, release), questions=read_questions(graded, release))
    text = shown_text(page)
    for english in ("CheckFailed", "NotAttempted", "CellTimeoutError", "EvidenceRefused", "evidence of q4", "timed out"):
        assert english not in text, english
    assert "凡例がありません。" in table_row(page, "q1") and "変数 fig がありません。" in table_row(page, "q2")
    assert "制限時間を超えた" in table_row(page, "q3")
    assert "採点用のセルでエラーが起きました" in table_row(page, "q4")
    assert "採点用のセルでエラーが起きました（NameError: name 'fig' is not defined）" in table_row(page, "q5")


def _epochs(count: int) -> list[dict]:
    """Keras's stream outputs of ``fit`` for ``count`` epochs (verbose=1): progress bars redrawn with carriage
    returns, backspaces and colours, one output per flush as the kernel records them."""
    outputs = []
    for epoch in range(1, count + 1):
        outputs += [_stream(f"Epoch {epoch}/{count}\n"),
                    _stream("\r\x1b[1m1/12\x1b[0m \x1b[32m━━\x1b[0m\x1b[37m━━━━━━━━━━━━━━━━━━\x1b[0m - loss: 0.7"),
                    _stream("\x08" * 40 + f"\r\x1b[1m12/12\x1b[0m \x1b[32m━━━━━━━━━━━━━━━━━━━━\x1b[0m 0s 9ms/step - "
                                          f"loss: {1 / epoch:.4f} - val_loss: {1 / epoch:.4f}\n")]
    return outputs


def test_long_training_logs_are_folded():
    """Does a 100-epoch log show epochs 1–3 and 98–100 with the rest behind one <details> (no script), keep a short
    log whole, fold any other very long output by lines, and lose no line in the fold?"""
    release = notebook(answer_cell("q1_code", ""), answer_cell("q2_code", ""), answer_cell("q3_code", ""))
    graded = notebook(_ran(answer_cell("q1_code", "result = model.fit(x, y, epochs=100)"), 1, *_epochs(100),
                           _stream("学習が終わりました\n")),
                      _ran(answer_cell("q2_code", "model.fit(x, y, epochs=5)"), 2, *_epochs(5)),
                      _ran(answer_cell("q3_code", "for i in range(500): print(i)"), 3,
                           _stream("".join(f"{i}\n" for i in range(500)))))
    page = feedback_page("課題", SubmissionResult("s1", Status.GRADED, max_score=0), sanitized_notebook(graded, release))
    assert page.count("<details") == 2 and "<script" not in page.split("</head>")[1]
    first, second = (page.index(f"<details class=\"feedback-fold feedback-fold-stdout\">{s}")
                     for s in ("<summary>Epoch", "<summary>途中"))
    outside = page[:first] + page[page.index("</details>", first):second]
    inside = page[first:page.index("</details>", first)]
    for epoch in (1, 3, 98, 100):
        assert f"Epoch {epoch}/100\n" in outside and f"Epoch {epoch}/100\n" not in inside
    for epoch in (4, 50, 97):
        assert f"Epoch {epoch}/100\n" in inside and f"Epoch {epoch}/100\n" not in outside
    assert "Epoch 4〜97 の記録（94 エポック分）を開く" in inside and "学習が終わりました" in outside
    assert "loss: 0.0100 - val_loss: 0.0100" in outside and "1/12" not in page  # each bar at its last state
    assert "Epoch 5/5" in page and "途中の 460 行を開く" in page
    log = "".join(o["text"] for o in _epochs(100))
    folded = fold(log)
    assert folded.head + folded.middle + folded.tail == log and fold("Epoch 1/2\nEpoch 2/2\n") is None


def test_submission_time_and_a_link_back_only_where_the_portal_serves_it():
    """Does the page show the submission time, no portal link as written (the feedback command has no portal), and
    exactly one link back to ``/`` at its top once the portal adds it, whatever the student's notebook holds?"""
    release, graded, result = _typo_submission()
    graded.cells[0] = nbformat.v4.new_markdown_cell("<!-- portal-link -->")  # a student's own copies of the slot
    graded.cells[2].outputs.append(nbformat.from_dict(_stream("<!-- portal-link -->\n")))
    page = feedback_page("課題5", result, sanitized_notebook(graded, release), questions=read_questions(graded, release),
                         submitted_at=datetime(2027, 5, 30, 23, 41, tzinfo=JST))
    assert "提出日時2027-05-30 23:41" in shown_text(_summary(page))
    assert 'href="/"' not in page
    served = with_portal_link(page)
    assert served.count('href="/"') == 1 and served.index('href="/"') < served.index("<h1>")
    assert "提出ページにもどる" in shown_text(served)
    late = feedback_page("課題5", SubmissionResult("s1", Status.LATE, max_score=25))
    assert "提出日時" not in late and with_portal_link(late).count('href="/"') == 1


def test_write_feedback_shows_the_time_nbgrader_keeps_in_the_course_zone(tmp_path):
    """Does ``write_feedback`` read the submission's timestamp.txt (kept in UTC here) and show it in the course's
    time zone?"""
    base = load_course(ROOT)
    course = Course(root=tmp_path, config=base.config)
    for folder in ("source", "release"):
        shutil.copytree(ROOT / folder / AID, tmp_path / folder / AID)
    course.file_submission(AID, "s1", "{}", submitted_at=datetime(2027, 5, 30, 14, 41, tzinfo=UTC))
    SubmissionResult("s1", Status.LATE, "after the due date").save(course.autograded_dir(AID, "s1"))
    (path,) = write_feedback(course.assignment(AID), ["s1"])
    zone = ZoneInfo(base.config.timezone)
    shown = datetime(2027, 5, 30, 14, 41, tzinfo=UTC).astimezone(zone).strftime("%Y-%m-%d %H:%M")
    assert f"提出日時{shown}" in shown_text(path.read_text(encoding="utf-8"))


def test_the_portal_serves_the_page_with_its_link_back(tmp_path, monkeypatch):
    """Does the portal serve a student's feedback page (and the instructor's copy) with the link back and its
    sandbox policy, while the file on disk stays without it?"""
    from argon2 import PasswordHasher

    from autograder.portal import store as store_module
    from autograder.portal.app import STUDENT_WORK_POLICY, create_app
    from autograder.portal.store import Store, import_roster

    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(store_module, "_hasher", cheap)
    monkeypatch.setattr(store_module, "_DUMMY", cheap.hash("dummy"))
    root = tmp_path / "course"  # the portal's database outside it (the portal keeps a course's files from its kernels)
    for folder in ("source", "release"):
        shutil.copytree(ROOT / folder / AID, root / folder / AID)
    shutil.copy(ROOT / "course_config.py", root / "course_config.py")
    course = load_course(root)
    store = Store(f"sqlite:///{tmp_path / 'portal.db'}")
    (tmp_path / "roster.csv").write_text("student_id,name\ns001,山田 花子\n", encoding="utf-8")
    passwords = {user: password for user, _, _, password in import_roster(store, tmp_path / "roster.csv")}
    app = create_app(course, store=store, start_queue=False,
                     now=lambda: course.config.assignment(AID).due - timedelta(hours=1))
    page_path = course.feedback_path(AID, "s001")
    page_path.parent.mkdir(parents=True)
    page_path.write_text(_typo_page(), encoding="utf-8")
    for user, url in (("s001", f"/feedback/{AID}"), ("instructor", f"/instructor/feedback/{AID}/s001")):
        client = app.test_client()
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/").get_data(as_text=True)).group(1)
        client.post("/signin", data={"user_id": user, "password": passwords[user], "csrf_token": token})
        response = client.get(url)
        assert response.status_code == 200 and response.headers["Content-Security-Policy"] == STUDENT_WORK_POLICY
        assert response.get_data(as_text=True).count('<a href="/">') == 1, user
    assert 'href="/"' not in page_path.read_text(encoding="utf-8")


def test_rendering_stays_linear_on_hostile_text():
    """Do scrubbing, joining streams and folding take well under a second on a megabyte of the worst text for a
    backtracking pattern (one long word, unterminated escapes, a long line with a carriage return), and on a
    megabyte printed in 100,000 flushes?"""
    hostile = ["a" * 1_000_000, "\x1b]" * 500_000, "xautograderx/" * 80_000, "/lib/python" * 90_000,
               "a" * 1_000_000 + "\r\n", "Epoch 1/2\n" * 100_000]
    for text in hostile:
        started = time.perf_counter()
        scrub(text)
        fold(text)
        joined_streams([_stream(text), _stream(text)])
        assert time.perf_counter() - started < 1.0, repr(text[:20])
    started = time.perf_counter()
    (joined,) = joined_streams([_stream("0123456789")] * 100_000)
    assert len(joined["text"]) == 1_000_000 and time.perf_counter() - started < 1.0


def test_every_figure_has_its_alternative_text_and_nbconvert_stays_quiet(caplog):
    """A notebook that drew a figure: does the page give the image our Japanese alternative text, and does nbconvert
    log no "Alternative text is missing" (once per page on the instructor's terminal)?"""
    import base64
    import logging

    from autograder.course import messages

    png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 16).decode()
    drew = nbformat.v4.new_code_cell("plt.plot([1, 2])", outputs=[
        nbformat.v4.new_output("display_data", data={"image/png": png, "text/plain": "<Figure>"})])
    result = SubmissionResult("s001", Status.GRADED, "", score=1, max_score=1)
    with caplog.at_level(logging.WARNING):
        page = feedback_page("課題", result, notebook(drew))
    (image,) = re.findall(r"<img[^>]*>", page)
    assert f'alt="{messages.FEEDBACK_FIGURE_ALT}"' in image and f"base64,{png}" in image
    assert "Alternative text is missing" not in caplog.text and "No description has been provided" not in page
