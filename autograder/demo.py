"""The main job end to end on example submissions: release kadai4, grade three students, export grades.

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
from autograder.export import export_grades
from autograder.grade import file_submission, grade
from autograder.prove import generate_release, scratch_course

ASSIGNMENT = "kadai4"
MARKER = ".autograder-demo"
STUDENTS = {
    "s2027001": "正解の提出 / the correct submission",
    "s2027002": "一部まちがい: 問1を Dense(64)、問3の凡例なし / partly wrong: 64 units, no legend",
    "s2027003": "壊れたファイル: 途中で切れた JSON / broken: a truncated file",
}


def build_demo_course(course: Course, folder: Path) -> Course:
    """A fresh demo course in ``folder`` with kadai4 released and three submissions filed."""
    if folder.exists():
        if not (folder / MARKER).exists():
            raise FileExistsError(f"{folder} はデモ用フォルダではありません / {folder} exists and is not a demo course")
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    (folder / MARKER).write_text("created by python -m autograder demo; safe to delete\n", encoding="utf-8")
    demo = scratch_course(course, ASSIGNMENT, folder.resolve())
    release = generate_release(demo, ASSIGNMENT)

    correct = filled_in(demo.source_notebook(ASSIGNMENT), release)
    notebooks = {
        "s2027001": nbformat.writes(correct),
        "s2027002": nbformat.writes(with_mistakes(correct, mistake("wrong_units"), mistake("no_legend"))),
        "s2027003": nbformat.writes(correct)[:5000],
    }
    for student_id, text in notebooks.items():
        file_submission(demo, ASSIGNMENT, student_id, text)
    return demo


def run_demo(course: Course, folder: Path) -> int:
    """Run the demo into ``folder`` (relative to the course folder) and print where everything is."""
    started = time.monotonic()
    folder = folder if folder.is_absolute() else course.root / folder
    print(f"デモ用コースを作成し kadai4 を配布します / building the demo course in {folder}")
    demo = build_demo_course(course, folder)
    for student_id, what in STUDENTS.items():
        print(f"  {student_id}: {what}")
    print("採点中（1人あたり数分かかります） / grading (a few minutes per notebook)…")
    results = grade(demo, ASSIGNMENT)
    out = folder / "grades.csv"
    export_grades(demo, ASSIGNMENT, out)
    print()
    for r in results:
        print(f"{r.student_id}  {r.status:<8} {r.score:>4g}/{r.max_score:<4g} {r.seconds:5.0f}s  {r.message}")
        for check in r.checks:
            if check.message and not check.passed:
                print(f"    {check.grade_id}: {check.message}")
    print()
    print(f"成績 / grades: {out}")
    print(f"採点済みノートブック / graded notebooks: {folder / 'autograded'}/<student_id>/{ASSIGNMENT}/")
    print(f"所要時間 / took {time.monotonic() - started:.0f}s")
    return 0
