"""Rubrics of several items, drafts and publishing, on kadai5's 問8 of a gradebook built without running a notebook:
points from items and an adjustment, item edits following, what nbgrader's own Gradebook API holds before and after
publishing, the student's feedback page, the grades CSV, the report's counts and the CSV round trip."""
from __future__ import annotations

import csv
import logging

import pytest
from helpers import ANSWER, OTHER, SAME_ANSWER, copy_course, graded_course_without_running

from autograder import cli
from autograder.tools import manual
from autograder.tools.export import export_grades
from autograder.tools.feedback import write_feedback
from autograder.tools.report import write_report

AID, CELL = "kadai5", "q8_false_negative"
ANSWERS = {"s001": ANSWER, "s002": SAME_ANSWER, "s003": OTHER}
AUTOMATIC = 20  # every automatic check of the unexecuted release keeps its points


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return graded_course_without_running(tmp_path_factory.mktemp("rubric") / "course", ANSWERS)


@pytest.fixture
def course(built, tmp_path):
    return copy_course(built, tmp_path / "course")


def _nbgrader_reads(course, student_id: str) -> tuple[float | None, str | None]:
    from nbgrader.api import Gradebook

    with Gradebook(course.db_url, course.config.course_id) as gb:
        return (gb.find_grade(CELL, AID, AID, student_id).manual_score,
                gb.find_comment(CELL, AID, AID, student_id).manual_comment)


def _answer(course, student_id: str) -> manual.Answer:
    return next(a for a in manual.answers(course.assignment(AID), CELL) if a.student_id == student_id)


def _rubric(course):
    work = course.assignment(AID)
    return (manual.save_item(work, CELL, "偽陰性の意味", 2), manual.save_item(work, CELL, "理由", 2),
            manual.save_item(work, CELL, "しきい値", 1), manual.save_item(work, CELL, "計算ミス", -1))


def test_items_add_up_bounded_and_an_edit_follows_every_carrier(course):
    """Do several items on one answer give their sum plus the adjustment, bounded to 0 … 5, does a negative item
    take off, and does editing an item change every answer carrying it (and the per-item counts)?"""
    meaning, reason, threshold, slip = _rubric(course)
    work = course.assignment(AID)
    manual.apply_item(work, CELL, ["s001", "s002"], meaning.id)
    manual.apply_item(work, CELL, ["s001", "s002"], reason.id)
    manual.apply_item(work, CELL, ["s001"], threshold.id)
    manual.apply_item(work, CELL, ["s002"], slip.id)
    manual.set_marks(work, [("s003", CELL, manual.Mark((slip.id,), 0.5, "偽陽性と偽陰性が逆です"))])
    found = {a.student_id: a for a in manual.answers(work, CELL)}
    assert (found["s001"].points, found["s002"].points, found["s003"].points) == (5, 3, 0)  # −0.5 bounded to 0
    assert found["s001"].items == (meaning.id, reason.id, threshold.id)
    assert manual.item_counts(found.values()) == {meaning.id: 2, reason.id: 2, threshold.id: 1, slip.id: 2}
    manual.save_item(work, CELL, "偽陰性の意味（人数も）", 3, item_id=meaning.id)
    assert (_answer(course, "s001").points, _answer(course, "s002").points) == (5, 4)  # 3+2+1 → 5; 3+2−1
    manual.apply_item(work, CELL, ["s001"], threshold.id, remove=True)
    assert _answer(course, "s001").items == (meaning.id, reason.id)
    with pytest.raises(manual.ManualGradeError, match="−5〜5|-5〜5"):
        manual.save_item(work, CELL, "大きすぎる減点", -6)


def test_typed_points_become_an_adjustment_and_keep_the_comment_apart(course):
    """Do points typed over items make the adjustment (4 over items worth 5 is −1), with the comment kept apart
    from the items' texts, and points outside 0 … 5 refused writing nothing?"""
    meaning, reason, threshold, _ = _rubric(course)
    work = course.assignment(AID)
    manual.set_grade(work, "s001", CELL, 4, "人数の根拠も書けるとよい", items=[meaning.id, reason.id, threshold.id])
    answer = _answer(course, "s001")
    assert (answer.points, answer.adjustment, answer.comment) == (4, -1, "人数の根拠も書けるとよい")
    with pytest.raises(manual.ManualGradeError, match="0〜5"):
        manual.set_grade(work, "s002", CELL, 5.5, "")
    assert _answer(course, "s002").points is None
    mark = _answer(course, "s001").mark
    assert manual.gradebook_comment(mark, {i.id: i for i in manual.rubric(work, CELL)}) == (
        "・偽陰性の意味（+2 点）\n・理由（+2 点）\n・しきい値（+1 点）\n・調整（−1 点）\n\n人数の根拠も書けるとよい")


def test_drafts_reach_no_one_until_published(course, tmp_path, caplog):
    """Before publishing, do nbgrader's own gradebook, the feedback page and the grades CSV show nothing of a draft
    (the CSV saying what is unpublished, with a warning), and after publishing the question do they all show the
    points, with the items, adjustment and comment under the answer in Japanese?"""
    meaning, reason, _, slip = _rubric(course)
    work = course.assignment(AID)
    manual.set_marks(work, [("s001", CELL, manual.Mark((meaning.id, reason.id, slip.id), 0.5, "しきい値の話もほしい")),
                            ("s003", CELL, manual.Mark((), 1, "逆です"))])
    (page,) = write_feedback(work, ["s001"])
    assert _nbgrader_reads(course, "s001") == (None, None)
    assert "先生が採点します" in page.read_text(encoding="utf-8")
    out = tmp_path / "grades.csv"
    with caplog.at_level(logging.WARNING, logger="autograder"):
        export_grades(work, out)
    with open(out, encoding="utf-8-sig", newline="") as f:
        rows = {r["student_id"]: r for r in csv.DictReader(f)}
    assert rows["s001"]["score"] == str(AUTOMATIC) and rows["s001"][CELL] == "" and rows["s001"]["manual_complete"] == ""
    assert any("未公開" in r.getMessage() and "2 manual grades" in r.getMessage() for r in caplog.records)
    assert manual.progress(work) == {CELL: manual.Progress(2, 3, 2)}

    assert sorted(manual.publish(work, CELL)) == [("s001", CELL), ("s003", CELL)]
    assert _nbgrader_reads(course, "s001") == (3.5, "・偽陰性の意味（+2 点）\n・理由（+2 点）\n・計算ミス（−1 点）\n"
                                                    "・調整（+0.5 点）\n\nしきい値の話もほしい")
    text = page.read_text(encoding="utf-8")  # written again by publish
    assert "先生の採点：3.5 / 5 点" in text and "・偽陰性の意味（+2 点）" in text and "・計算ミス（−1 点）" in text
    assert "・調整（+0.5 点）" in text and "先生のコメント：しきい値の話もほしい" in text
    assert text.index("治療が遅れて") < text.index("先生の採点：3.5 / 5 点")  # under the answer
    export_grades(work, out)
    with open(out, encoding="utf-8-sig", newline="") as f:
        rows = {r["student_id"]: r for r in csv.DictReader(f)}
    assert rows["s001"]["score"] == str(AUTOMATIC + 3.5) and rows["s003"][CELL] == "1"
    assert manual.progress(work)[CELL].unpublished == 0 and manual.publish(work) == []

    # a published grade changed again is a draft: the student keeps the published one until the next publish
    manual.save_item(work, CELL, "計算ミス", -2, item_id=slip.id)
    assert _answer(course, "s001").points == 2.5 and not _answer(course, "s001").published
    assert _nbgrader_reads(course, "s001")[0] == 3.5 and "・計算ミス（−1 点）" in page.read_text(encoding="utf-8")
    manual.set_grade(work, "s003", CELL, None)  # made ungraded: also waits to be published
    assert _nbgrader_reads(course, "s003") == (1, "逆です")
    assert cli.main(["--course-dir", str(course.root), "manual", AID, "--publish", "--question", CELL]) == 0
    assert _nbgrader_reads(course, "s001")[0] == 2.5 and _nbgrader_reads(course, "s003") == (None, None)
    assert "・計算ミス（−2 点）" in page.read_text(encoding="utf-8")
    report = write_report(work).read_text(encoding="utf-8")
    assert "評価項目ごとの人数" in report and "偽陰性の意味" in report and "1 人" in report


def test_the_csv_carries_items_and_adjustments(course, tmp_path):
    """Does --export write each answer's item numbers, adjustment and whether it is published, and --import read
    them back as drafts (the points, when filled in, winning over items + adjustment), refusing an unknown item
    number with nothing written?"""
    meaning, reason, threshold, slip = _rubric(course)
    work = course.assignment(AID)
    manual.set_marks(work, [("s001", CELL, manual.Mark((meaning.id, slip.id), 0.5, "=式に見える"))])
    out = tmp_path / "answers.csv"
    assert cli.main(["--course-dir", str(course.root), "manual", AID, "--export", str(out)]) == 0
    with open(out, encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    first = rows[0]
    assert (first["student_id"], first["points"], first["items"], first["adjustment"], first["published"]) == (
        "s001", "1.5", "1 4", "0.5", "no")
    rows[1].update(items="1 2 3", points="", adjustment="")  # s002: 5 from the items
    rows[2].update(items="2", points="1.5", adjustment="")  # s003: points typed, −0.5 adjustment
    def write(table):
        with open(out, "w", encoding="utf-8-sig", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=manual.CSV_COLUMNS)
            writer.writeheader()
            writer.writerows(table)
    rows[0]["items"] = "1 9"
    write(rows)
    with pytest.raises(manual.ManualGradeError, match="2 行目 / row 2.*'9'"):
        manual.import_answers(work, out)
    assert _answer(course, "s002").points is None
    rows[0]["items"] = "1 4"
    rows[0]["comment"] = "'=式に見える"  # as the export wrote it: neutralised, read back as the text
    write(rows)
    assert manual.import_answers(work, out) == 2  # s001 unchanged
    found = {a.student_id: a for a in manual.answers(work, CELL)}
    assert (found["s002"].points, found["s002"].items) == (5, (meaning.id, reason.id, threshold.id))
    assert (found["s003"].points, found["s003"].adjustment) == (1.5, -0.5)
    assert found["s001"].mark == manual.Mark((meaning.id, slip.id), 0.5, "=式に見える")
    assert _nbgrader_reads(course, "s002") == (None, None)  # drafts


def _answers(texts: dict[str, str]) -> list[manual.Answer]:
    return [manual.Answer(s, "", CELL, t, 5, None, "", (), 0.0, None, True, False) for s, t in texts.items()]


PARAPHRASES = {
    "a": "偽陰性は2人。悪性なのに良性と判定され、治療が遅れてがんが進行するおそれがある。偽陰性の方が重大。しきい値を0.3に下げる。",
    "b": "偽陽性の方が重大だと思います。検査が増えて患者さんの負担になるからです。",
    "c": "偽陰性は２人です。悪性を良性と判定してしまい、治療が遅れて癌が進行する危険がある。偽陰性のほうが重大です。しきい値を下げる。",
    "d": "わかりません",
    "e": "ﾜｶﾘﾏｾﾝ",  # half-width katakana: the same words after NFKC and kana folding
    "f": "",
    "g": "  ",
    "h": "x",
}


def test_groups_gather_japanese_paraphrases_and_the_threshold_decides():
    """Are two wordings of the same answer one group at the default threshold, another answer apart, half-width
    katakana with its hiragana twin, empty answers together — and at a threshold of 1 only equal texts?"""
    grouped = [[a.student_id for a in g] for g in manual.groups(_answers(PARAPHRASES))]
    assert grouped == [["a", "c"], ["b"], ["d", "e"], ["f", "g"], ["h"]]
    strict = [[a.student_id for a in g] for g in manual.groups(_answers(PARAPHRASES), 1.0)]
    assert strict == [["a"], ["b"], ["c"], ["d", "e"], ["f", "g"], ["h"]]
    assert manual.comparable("ＡＢＣ、ｶﾀｶﾅ！\u200b 　x") == "abcかたかなx"


def test_grouping_a_class_of_300_stays_quick():
    """Do 300 answers, some of them pasted walls of 200,000 characters, group within a couple of seconds (only the
    first GROUP_CHARS characters count)?"""
    import random
    import time

    rng = random.Random(24)
    words = ["偽陰性", "偽陽性", "治療", "見逃し", "しきい値", "重大", "負担", "患者", "検査", "がん"]
    texts = {f"s{i:03d}": "。".join(rng.choice(words) * rng.randint(1, 3) for _ in range(40)) for i in range(300)}
    for i in range(0, 300, 50):
        texts[f"s{i:03d}"] = "".join(chr(0x4E00 + (k * 7919) % 20_000) for k in range(200_000))
    manual.groups(_answers({"a": "偽陰性", "b": "偽陽性"}))  # scikit-learn imported once per process: not timed
    started = time.monotonic()
    grouped = manual.groups(_answers(texts))
    assert time.monotonic() - started < 5
    assert sorted(a.student_id for g in grouped for a in g) == sorted(texts)


def test_publishing_from_the_command_line_updates_the_portals_score(course):
    """Does ``manual --publish`` make the score the portal shows on the student's graded upload the published total
    (and write nothing of a portal into a course that has none)?"""
    from datetime import UTC, datetime

    from autograder.portal import private
    from autograder.portal.store import Store, UploadState

    manual.set_grade(course.assignment(AID), "s002", CELL, 2, "")
    assert cli.main(["--course-dir", str(course.root), "manual", AID, "--publish"]) == 0
    assert not (course.root / private.FOLDER).exists()
    store = Store(private.database_url(course))
    upload = store.add_upload("s001", AID, datetime.now(UTC), "/nonexistent/upload.ipynb")
    store.mark(upload, state=UploadState.DONE, status="graded", score=AUTOMATIC, max_score=25, message="")
    manual.set_grade(course.assignment(AID), "s001", CELL, 4.5, "")
    assert store.upload(upload)["score"] == AUTOMATIC  # a draft
    assert cli.main(["--course-dir", str(course.root), "manual", AID, "--publish", "--question", CELL]) == 0
    assert store.upload(upload)["score"] == AUTOMATIC + 4.5
    assert cli.main(["--course-dir", str(course.root), "manual", AID, "--question", CELL]) == 2  # needs --publish


def test_a_record_of_one_item_per_answer_is_read_as_marks(course):
    """Is a record written before marks (``applied``: one item id per answer, its text as the gradebook's comment)
    read as that item on the answer, the grade kept and shown as waiting to be published (its comment will now
    name the item with its points)?"""
    import json

    from nbgrader.api import Gradebook

    work = course.assignment(AID)
    work.manual_record.parent.mkdir(parents=True, exist_ok=True)
    work.manual_record.write_text(json.dumps({"rubric": {CELL: [{"id": "ab12", "text": "3点とも正しい", "points": 5}]},
                                              "applied": {CELL: {"s001": "ab12"}}, "graded": {}}), encoding="utf-8")
    with Gradebook(course.db_url, course.config.course_id) as gb:
        gb.find_grade(CELL, AID, AID, "s001").manual_score = 5
        gb.find_comment(CELL, AID, AID, "s001").manual_comment = "3点とも正しい"
        gb.db.commit()
    answer = _answer(course, "s001")
    assert (answer.items, answer.points, answer.published_points, answer.published) == (("ab12",), 5, 5, False)
    manual.publish(work)
    assert _nbgrader_reads(course, "s001") == (5, "・3点とも正しい（+5 点）")
