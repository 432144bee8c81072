"""The main job end to end on example submissions: release every assignment, grade example students, export grades.

The demo builds its own course folder (``demo-course/`` by default) from this
course's course_config.py and source/, so the real gradebook is never touched.
"""
from __future__ import annotations

import shutil
import time
from pathlib import Path

import nbformat

from autograder.course import Course
from autograder.examples import filled_in, mistake, with_mistakes
from autograder.grading.grade import grade
from autograder.tools.export import export_grades
from autograder.tools.prove import generate_release, scratch_course

MARKER = ".autograder-demo"
STUDENTS = {
    "kadai3": {
        "s2027001": "正解の提出 / the correct submission",
        "s2027002": "一部まちがい: 問1で 'gray' なし / partly wrong: no 'gray'",
    },
    "kadai4": {
        "s2027001": "正解の提出 / the correct submission",
        "s2027002": "一部まちがい: 問1を Dense(64)、問3の凡例なし / partly wrong: 64 units, no legend",
        "s2027003": "壊れたファイル: 途中で切れた JSON / broken: a truncated file",
    },
    "kadai5": {
        "s2027001": "正解の提出 / the correct submission",
        "s2027002": "一部まちがい: テストデータ自身の平均で標準化 / partly wrong: test set scaled with its own statistics",
    },
}
"""The example students of each assignment, and what each one submitted."""


def _notebooks(demo: Course, assignment_id: str, release: Path) -> dict[str, str]:
    correct = filled_in(demo.source_notebook(assignment_id), release)
    wrong = {
        "kadai3": (mistake("no_gray", "kadai3"),),
        "kadai4": (mistake("wrong_units"), mistake("no_legend")),
        "kadai5": (mistake("test_statistics", "kadai5"),),
    }[assignment_id]
    notebooks = {"s2027001": nbformat.writes(correct), "s2027002": nbformat.writes(with_mistakes(correct, *wrong))}
    if "s2027003" in STUDENTS[assignment_id]:
        notebooks["s2027003"] = nbformat.writes(correct)[:5000]
    return notebooks


def build_demo_course(course: Course, folder: Path) -> Course:
    """A fresh demo course in ``folder`` with every assignment released and its example submissions filed."""
    if folder.exists():
        if not (folder / MARKER).exists():
            raise FileExistsError(f"{folder} はデモ用フォルダではありません / {folder} exists and is not a demo course")
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    (folder / MARKER).write_text("created by python -m autograder demo; safe to delete\n", encoding="utf-8")
    demo = None
    for assignment_id in STUDENTS:
        demo = scratch_course(course, assignment_id, folder.resolve())
        release = generate_release(demo, assignment_id)
        for student_id, text in _notebooks(demo, assignment_id, release).items():
            demo.file_submission(assignment_id, student_id, text)
    return demo


def run_demo(course: Course, folder: Path) -> int:
    """Run the demo into ``folder`` (relative to the course folder) and print where everything is."""
    started = time.monotonic()
    folder = folder if folder.is_absolute() else course.root / folder
    print(f"デモ用コースを作成し課題を配布します / building the demo course in {folder}")
    demo = build_demo_course(course, folder)
    for assignment_id, students in STUDENTS.items():
        print(f"{assignment_id}:")
        for student_id, what in students.items():
            print(f"  {student_id}: {what}")
    for assignment_id in STUDENTS:
        print()
        print(f"{assignment_id} を採点中（1人あたり1〜4分） / grading {assignment_id} (1–4 minutes per notebook)…")
        results = grade(demo, assignment_id)
        out = folder / f"grades-{assignment_id}.csv"
        export_grades(demo, assignment_id, out)
        for r in results:
            print(f"{r.student_id}  {r.status:<8} {r.score:>4g}/{r.max_score:<4g} {r.seconds:5.0f}s  {r.message}")
            for check in r.checks:
                if check.message and not check.passed:
                    print(f"    {check.grade_id}: {check.message}")
        print(f"成績 / grades: {out}")
    print()
    print(f"採点済みノートブック / graded notebooks: {folder / 'autograded'}/<student_id>/<assignment>/")
    print(f"所要時間 / took {time.monotonic() - started:.0f}s")
    return 0
