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
from autograder.grading.grade import grade
from autograder.tools.examples import (
    assignments,
    demo_students,
    filled_in,
    mistake,
    with_mistakes,
)
from autograder.tools.export import export_grades
from autograder.tools.prove import generate_release, scratch_course

MARKER = ".autograder-demo"
def _notebooks(demo: Course, assignment_id: str, release: Path) -> dict[str, str]:
    """Each demo student's notebook of ``assignment_id`` (``DEMO_STUDENTS`` in ``autograder/checks/<id>/examples.py``)."""
    correct = filled_in(demo.source_notebook(assignment_id), release)
    notebooks = {}
    for student in demo_students(assignment_id):
        text = nbformat.writes(with_mistakes(correct, *(mistake(name, assignment_id) for name in student.mistakes)))
        notebooks[student.student_id] = text[:5000] if student.broken else text
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
    for assignment_id in assignments():
        demo = scratch_course(course.assignment(assignment_id), folder.resolve())
        release = generate_release(demo.assignment(assignment_id))
        for student_id, text in _notebooks(demo, assignment_id, release).items():
            demo.file_submission(assignment_id, student_id, text)
    return demo


def run_demo(course: Course, folder: Path) -> int:
    """Run the demo into ``folder`` (relative to the course folder) and print where everything is."""
    started = time.monotonic()
    folder = folder if folder.is_absolute() else course.root / folder
    print(f"デモ用コースを作成し課題を配布します / building the demo course in {folder}")
    demo = build_demo_course(course, folder)
    for assignment_id in assignments():
        print(f"{assignment_id}:")
        for student in demo_students(assignment_id):
            print(f"  {student.student_id}: {student.description}")
    for assignment_id in assignments():
        print()
        print(f"{assignment_id} を採点中（1人あたり1〜4分） / grading {assignment_id} (1–4 minutes per notebook)…")
        results = grade(demo, assignment_id)
        out = folder / f"grades-{assignment_id}.csv"
        export_grades(demo.assignment(assignment_id), out)
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
