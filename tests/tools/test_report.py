"""The class report: its page, the Japanese font of its plots, and the similar submissions it lists."""
from __future__ import annotations

import re
import shutil
import warnings

import nbformat
import pytest
from matplotlib import font_manager, ft2font
from matplotlib.font_manager import FontProperties

from autograder.course import Course
from autograder.course.assignment import GradedCell
from autograder.course.results import CheckResult, Status, SubmissionResult
from autograder.tools import manual, similarity
from autograder.tools.examples import filled_in
from autograder.tools.report import japanese_font, render_report, write_report
from autograder.tools.similarity import SimilarPair, similar_pairs

CELLS = [GradedCell("q1_model", 4, False), GradedCell("q2_fit", 4, False), GradedCell("q9_overfitting", 5, True)]
UNITS = "1層目のユニット数が 64 です。Dense(32, ...) にしてください。"


def _graded(student_id: str, q1: bool, q2: bool) -> SubmissionResult:
    checks = [CheckResult("q1_model", 4.0 if q1 else 0.0, 4, None if q1 else UNITS, error=None if q1 else "CheckFailed"),
              CheckResult("q2_fit", 4.0 if q2 else 0.0, 4, None if q2 else "エポック数が 10 個です"),
              CheckResult("q9_overfitting", None, 5, manual=True)]
    score = sum(c.points or 0 for c in checks)
    return SubmissionResult(student_id, Status.GRADED, "減点 / lost", score=score, max_score=13, checks=checks)


RESULTS = [
    _graded("s001", True, True),
    _graded("s002", False, True),
    _graded("s003", False, False),
    SubmissionResult("s004", Status.LATE, "締め切り後の提出のため受け付けません", max_score=13),
    SubmissionResult("s005", Status.INVALID, "not a readable notebook: <script>alert('x')</script>", max_score=13),
    _graded("s006", True, True),
]


def _section(html: str, name: str) -> str:
    return re.search(rf'<section id="{name}">(.*?)</section>', html, re.DOTALL).group(1)


def test_render_report_shows_counts_plots_failures_and_students():
    """Does the page give the counts, three embedded plots, the top failure and every student, with student text escaped?"""
    similar = [SimilarPair("s002", "s003", 0.97, ("q8_code", "q9_overfitting"))]
    html = render_report("課題4 採点レポート", RESULTS, CELLS, {"s001": "山田 太郎 & <b>"}, similar)

    summary = _section(html, "summary")
    assert '<th>学生数 / students</th><td class="num">6</td>' in summary
    assert '<th>採点済み / graded</th><td class="num">4</td>' in summary
    assert '<th>締め切り後 / late</th><td class="num">1</td>' in summary
    assert '<th>無効 / invalid</th><td class="num">1</td>' in summary
    assert '<th>エラー / error</th><td class="num">0</td>' in summary
    # scores 8, 4, 0, 8: the manual cell waits for the instructor; late and invalid work is left out
    assert '<th>平均点 / mean (graded)</th><td class="num">5.0</td>' in summary
    assert '<th>中央値 / median (graded)</th><td class="num">6</td>' in summary
    for heading in ("概要", "グラフ", "よくある失敗", "学生ごとの結果", "類似した提出"):
        assert f"<h2>{heading} / " in html
    assert html.count('src="data:image/png;base64,') == 3

    failures = _section(html, "failures")
    rows = re.findall(r"<tr><td>(\w+)</td><td class=\"message\">(.*?)</td><td class=\"num\">(\d+)</td></tr>", failures)
    assert rows[0] == ("q1_model", UNITS, "2")
    assert ("q2_fit", "エポック数が 10 個です", "1") in rows
    assert "q9_overfitting" not in failures  # waiting for the instructor is no failure

    students = _section(html, "students")
    assert all(f"<td>{sid}</td>" in students for sid in ("s001", "s002", "s003", "s004", "s005", "s006"))
    assert "遅れ / late" in students and "q1_model, q2_fit" in students and "8 / 13" in students
    assert "<script>" not in html and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in students
    assert "山田 太郎 &amp; &lt;b&gt;" in students

    similar_html = _section(html, "similar")
    assert "類似度が高い提出の組です。不正の判定ではありません。" in similar_html
    assert "97%" in similar_html and "q8_code, q9_overfitting" in similar_html


def test_render_report_without_graded_submissions():
    """Does a class where nothing was graded yet still get its page, with dashes for mean and median?"""
    html = render_report("t", [SubmissionResult("s1", Status.LATE, max_score=13)], CELLS, {}, [])
    assert html.count('src="data:image/png;base64,') == 3
    assert '<td class="num">—</td>' in _section(html, "summary")
    assert "該当する組はありません" in html and "失敗した自動チェックはありません" in html


def test_japanese_font_has_the_glyphs_of_the_plots():
    """Does the font the plots use for Japanese really have the glyphs, so no title becomes boxes?"""
    family = japanese_font()
    if family is None:
        assert not any("cjk" in path.lower() for path in font_manager.findSystemFonts()), "a CJK font is installed but not found"
        pytest.skip("no Japanese font installed on this machine (apt-get install fonts-noto-cjk); nothing to check")
    path = font_manager.findfont(FontProperties(family=family), fallback_to_default=False)
    font = ft2font.FT2Font(path)
    assert font.family_name == family
    assert all(font.get_char_index(ord(ch)) != 0 for ch in "得点の分布問ごとの正答率提出の状態人数")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        render_report("t", RESULTS, CELLS, {}, [])
    assert not [w for w in caught if "missing from font" in str(w.message)]


def test_missing_japanese_font_is_reported_once(monkeypatch, caplog):
    """Is a machine without a Japanese font told, in both languages and once, to install fonts-noto-cjk, and still drawn?"""
    monkeypatch.setattr(font_manager, "findSystemFonts", lambda *a, **k: [])
    japanese_font.cache_clear()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # matplotlib's own missing-glyph warnings
            html = render_report("t", RESULTS, CELLS, {}, [])
            render_report("t", RESULTS, CELLS, {}, [])
    finally:
        japanese_font.cache_clear()
    err = "\n".join(r.getMessage() for r in caplog.records if r.name == "autograder" and r.levelname == "WARNING")
    assert err.count("fonts-noto-cjk を入れてください") == 1 and "Install fonts-noto-cjk" in err
    assert html.count('src="data:image/png;base64,') == 3


def test_normalising_code_drops_comments_and_layout_but_keeps_names():
    """Do comments and spacing vanish from code while a renamed variable still shows?"""
    a = similarity.normalise_code("x = model.fit(a,b)  # train\n\n\nprint( x )\n")
    assert a == similarity.normalise_code("# 学習\nx=model.fit(a, b)\nprint(x)")
    assert a != similarity.normalise_code("y = model.fit(a, b)\nprint(y)")
    assert similarity.normalise_code("model.fit(x,  # unclosed\n") == "model.fit(x,"
    assert similarity.normalise_markdown("  過学習とは\n\nOverfitting  ") == "過学習とは overfitting"


OWN_ANSWER = ("過学習は訓練データを暗記してしまい、新しいデータで性能が落ちることです。"
              "val_loss が途中から上がっているので過学習しています。Dropout で一部のニューロンを休ませると防げます。")
OTHER_ANSWER = ("I think the model is too big. The validation accuracy stops improving around epoch 5 "
                "while training accuracy keeps rising, so I would use early stopping instead.")
OWN_CODE = """ACCURACY_GOAL = 0.87
model = Sequential()
model.add(Dense(300, input_shape=(784,), activation='relu'))
model.add(Dropout(0.25))
model.add(Dense(10, activation='softmax'))
model.compile(loss='categorical_crossentropy', optimizer='Adam', metrics=['accuracy'])
result = model.fit(x_train, y_train, epochs=15, batch_size=128, validation_split=0.2)
score = model.evaluate(x_test, y_test)
print('Test loss:', score[0])
print('Test accuracy:', score[1])"""
OTHER_CODE = """ACCURACY_GOAL = 0.87
from keras.layers import BatchNormalization
net = Sequential([Dense(1024, input_shape=(784,), activation='elu'), BatchNormalization(), Dense(10, activation='softmax')])
net.compile(optimizer='sgd', loss='categorical_crossentropy', metrics=['accuracy'])
history = net.fit(x_train, y_train, epochs=40, batch_size=32, validation_split=0.1, verbose=0)
model = net
score = model.evaluate(x_test, y_test)
print('Test loss:', score[0])
print('Test accuracy:', score[1])"""


def _submission(course: Course, answer: str | None, code: str | None) -> nbformat.NotebookNode:
    notebook = filled_in(course.source_notebook("kadai4"), course.release_notebook("kadai4"))
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id == "q9_overfitting" and answer is not None:
            cell.source = answer
        if grade_id == "q8_code" and code is not None:
            cell.source = code
    return notebook


@pytest.fixture
def similar_course(course, tmp_path) -> Course:
    """kadai4's source and release in a scratch course, with five submissions (see the test)."""
    for kind, path in (("source", course.source_notebook("kadai4")), ("release", course.release_notebook("kadai4"))):
        (tmp_path / kind / "kadai4").mkdir(parents=True)
        shutil.copyfile(path, tmp_path / kind / "kadai4" / "kadai4.ipynb")
    shutil.copyfile(course.root / "course_config.py", tmp_path / "course_config.py")
    scratch = Course(root=tmp_path, config=course.config)
    reformatted = OWN_CODE.replace("model.add(", "model.add( ").replace("\nresult", "\n# 自分で考えたモデル\n\nresult")
    submissions = {
        "s001": _submission(scratch, OWN_ANSWER, OWN_CODE),
        "s002": _submission(scratch, "  " + OWN_ANSWER.replace("。", "。\n\n"), reformatted + "  # done"),
        "s003": _submission(scratch, OTHER_ANSWER, OTHER_CODE),
        "s004": _submission(scratch, None, None),  # the reference solution everywhere
    }
    for student_id, notebook in submissions.items():
        scratch.file_submission("kadai4", student_id, nbformat.writes(notebook))
    scratch.file_submission("kadai4", "s005", '{"cells": [')  # unreadable
    (scratch.submitted_dir() / "s006" / "kadai4").mkdir(parents=True)  # no notebook
    return scratch


def test_similar_pairs_flags_copies_of_own_answers_only(similar_course):
    """Are two students with the same own answers (re-spaced, re-commented) flagged, and nobody for a different
    answer or for answers that only repeat the reference solution?"""
    pairs = similar_pairs(similar_course.assignment("kadai4"))
    assert [(p.a, p.b) for p in pairs] == [("s001", "s002")]
    assert pairs[0].similarity > 0.99
    assert pairs[0].cells == ("q8_code", "q9_overfitting")  # the other answer cells equal the reference: dropped
    everything = {(p.a, p.b): p for p in similar_pairs(similar_course.assignment("kadai4"), threshold=0.0)}
    assert sorted(everything) == [("s001", "s002"), ("s001", "s003"), ("s002", "s003")]  # s004 has no own answers
    assert everything["s001", "s003"].similarity < 0.9 and everything["s001", "s003"].cells == ("q8_code", "q9_overfitting")


def test_write_report_puts_the_page_under_reports(similar_course):
    """Does write_report write reports/<id>.html with every student folder and the similar pair?"""
    path = write_report(similar_course.assignment("kadai4"))
    assert path == similar_course.root / "reports" / "kadai4.html"
    html = path.read_text(encoding="utf-8")
    assert "課題4" in html and "採点レポート" in html
    assert all(f"<td>{sid}</td>" in _section(html, "students") for sid in ("s001", "s003", "s005", "s006"))
    assert "s001 " in _section(html, "similar") and "s002 " in _section(html, "similar")


def _scratch_kadai4(course, folder) -> Course:
    """kadai4's source and release in an empty scratch course."""
    for kind, path in (("source", course.source_notebook("kadai4")), ("release", course.release_notebook("kadai4"))):
        (folder / kind / "kadai4").mkdir(parents=True)
        shutil.copyfile(path, folder / kind / "kadai4" / "kadai4.ipynb")
    return Course(root=folder, config=course.config)


SHORT_ANSWER = "過学習とは、訓練データに合わせすぎて、新しいデータで精度が下がることです。"


def test_near_identical_short_japanese_answers_are_flagged(course, tmp_path):
    """Is a short Japanese answer copied with one punctuation mark or one space changed still flagged, and a different
    answer to the same question not?"""
    scratch = _scratch_kadai4(course, tmp_path)
    answers = {"s101": SHORT_ANSWER,
               "s102": SHORT_ANSWER.replace("、新しい", "。新しい"),
               "s103": SHORT_ANSWER.replace("データで", "データ で"),
               "s104": "検証データの損失が途中から上がるので、モデルが訓練データを覚えすぎています。"}
    for student_id, answer in answers.items():
        scratch.file_submission("kadai4", student_id, nbformat.writes(_submission(scratch, answer, None)))
    pairs = similar_pairs(scratch.assignment("kadai4"))
    assert [(p.a, p.b) for p in pairs] == [("s101", "s103"), ("s101", "s102"), ("s102", "s103")]
    assert all(p.cells == ("q9_overfitting",) for p in pairs)
    everything = {(p.a, p.b): p.similarity for p in similar_pairs(scratch.assignment("kadai4"), threshold=0.0)}
    assert max(everything[a, "s104"] for a in ("s101", "s102", "s103")) < 0.5


def _with_invisible(text: str, every: int = 3) -> str:
    """``text`` with an invisible character after every ``every``-th character (zero-width space, word joiner, BOM,
    soft hyphen, zero-width joiner, a variation selector, in turn): it looks the same on any page."""
    marks = "\u200b\u2060\ufeff\u00ad\u200d\ufe0f"
    return "".join(ch + (marks[i // every % len(marks)] if i % every == every - 1 else "") for i, ch in enumerate(text))


def test_a_copy_with_invisible_characters_is_still_flagged(course, tmp_path):
    """Is a classmate's written answer and code copied with a zero-width (or other invisible) character after every
    third character still a similar pair (it shared no run of 5 characters with the original), and a different
    answer still not?"""
    scratch = _scratch_kadai4(course, tmp_path)
    submissions = {"s201": (OWN_ANSWER, OWN_CODE), "s202": (_with_invisible(OWN_ANSWER), _with_invisible(OWN_CODE)),
                   "s203": (OTHER_ANSWER, None)}
    for student_id, (answer, code) in submissions.items():
        scratch.file_submission("kadai4", student_id, nbformat.writes(_submission(scratch, answer, code)))
    pairs = similar_pairs(scratch.assignment("kadai4"))
    assert [(p.a, p.b, p.similarity) for p in pairs] == [("s201", "s202", 1.0)]
    assert set(pairs[0].cells) == {"q8_code", "q9_overfitting"}
    assert similarity.normalise_markdown(_with_invisible(OWN_ANSWER)) == similarity.normalise_markdown(OWN_ANSWER)
    assert similarity.normalise_code(_with_invisible(OWN_CODE)) == similarity.normalise_code(OWN_CODE)
    assert similarity.visible("検証\u3164データ\U000e0041") == "検証データ"  # a Hangul filler, a tag character


def test_a_copy_with_zero_width_spaces_joins_its_original_in_a_group():
    """On the manual-grading page (``manual.groups``), does an answer copied with a zero-width space after every third character (the same on the page) fall into
    its original's group, and a different answer stay apart?"""
    original, other = SHORT_ANSWER, "検証データの損失が途中から上がるので、モデルが訓練データを覚えすぎています。"
    hidden = "".join(ch + ("\u200b" if i % 3 == 2 else "") for i, ch in enumerate(original))

    def answer(student_id: str, text: str) -> manual.Answer:
        return manual.Answer(student_id, student_id, "q9_overfitting", text, 5, None, "", (), 0.0, None, True, False)

    found = [answer("s_a", original), answer("s_b", other), answer("s_copy", hidden)]
    assert [[a.student_id for a in g] for g in manual.groups(found)] == [["s_a", "s_copy"], ["s_b"]]
    assert manual.digest(hidden) == manual.digest(original)


def test_long_answers_compare_in_linear_time():
    """Do two 50,000-character answers (a near-copy of one padded answer) compare in seconds, not minutes, and still
    come out alike, while the same answer against a different one does not?"""
    import time

    def answer(text: str, n: int = 50_000) -> similarity.Shingles:
        return similarity.shingles(similarity.normalise_markdown((text * (n // len(text) + 1))[:n]))

    started = time.perf_counter()
    alike = similarity.answer_similarity([(answer(OWN_ANSWER), answer("  " + OWN_ANSWER.replace("。", "。\n\n")))])
    apart = similarity.answer_similarity([(answer(OWN_ANSWER), answer(OTHER_ANSWER))])
    elapsed = time.perf_counter() - started
    assert alike > 0.95 and apart < 0.2
    assert elapsed < 5, f"{elapsed:.1f} s"  # difflib's ratio took minutes (50 s for 20,000 characters)


def test_a_class_of_100_students_is_compared_quickly(course, tmp_path):
    """With 100 students (4950 pairs) of different answers and one copy, is the copy the only pair, found quickly?"""
    import random
    import time

    pieces = ["過学習とは訓練データに合わせすぎることです。", "val_loss が 8 エポック目から上がっています。",
              "訓練の精度は上がり続けますが検証の精度は止まります。", "Dropout でニューロンをランダムに休ませます。",
              "早期終了で val_loss が最小のときに止めます。", "データを増やすのも効果があります。",
              "モデルのパラメータ数が多すぎるのが原因です。", "L2 正則化で重みを小さく保ちます。",
              "グラフの二本の線の差が開いていくのが過学習のしるしです。", "テストデータでの精度も下がるはずです。",
              "層を減らしてユニット数を 64 にしました。", "学習率を下げると振動が減りました。",
              "バッチサイズを 256 にすると曲線がなめらかになりました。", "検証データは訓練データの 2 割です。",
              "損失が下がらないのは未学習で、過学習とは違います。", "エポック数を 30 から 12 に減らしました。"]
    scratch = _scratch_kadai4(course, tmp_path)
    rng = random.Random(4950)
    answers = {f"s{i:03d}": "".join(rng.sample(pieces, 5)) + f"（学生 {i} の考察）" for i in range(100)}
    answers["s050"] = answers["s017"].replace("。", "。 ", 1)
    for student_id, answer in answers.items():
        scratch.file_submission("kadai4", student_id, nbformat.writes(_submission(scratch, answer, None)))
    started = time.perf_counter()
    pairs = similar_pairs(scratch.assignment("kadai4"))
    elapsed = time.perf_counter() - started
    assert [(p.a, p.b) for p in pairs] == [("s017", "s050")]
    assert elapsed < 60, f"{elapsed:.1f} s for 4950 pairs"


def test_a_pasted_megabyte_is_compared_by_its_start_only():
    """Is an answer cell of 2,000,000 characters (code or text) cut to MAX_ANSWER_CHARS before it is compared, so the
    report's memory does not grow with what a student pastes?"""
    from helpers import answer_cell, notebook

    pasted = notebook(answer_cell("q8_code", "s = '" + "あ" * 2_000_000 + "'"),
                      answer_cell("q9_overfitting", "過学習とは" * 400_000, markdown=True))
    answers = similarity.answer_cells(pasted)
    for grade_id in ("q8_code", "q9_overfitting"):
        assert len(answers[grade_id]) < 2 * similarity.MAX_ANSWER_CHARS  # normalising adds a few spaces at most
        assert 0.9 * similarity.MAX_ANSWER_CHARS < similarity.shingles(answers[grade_id]).length <= similarity.MAX_ANSWER_CHARS
