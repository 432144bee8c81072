"""Grading submissions with nbgrader's autograde, in grading kernels, with a status for each.

Layout (nbgrader's): ``submitted/<student_id>/<assignment>/<assignment>.ipynb`` in,
``autograded/<student_id>/<assignment>/`` out, scores in the gradebook.  Every
student folder ends with a status record (``autograder.json``) so that a
notebook that cannot be read or graded is reported, never skipped.
"""
from __future__ import annotations

import time
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.apps import NbGraderAPI
from tqdm import tqdm

from autograder.assignment import graded_cells, total_points
from autograder.course import Course
from autograder.grading_kernel import grading_environment
from autograder.nbgrader_setup import nbgrader_config
from autograder.results import ERROR, GRADED, INVALID, MISSING, CheckResult, SubmissionResult


class NotReleased(Exception):
    """The assignment is not in the gradebook yet: ``release`` (nbgrader's generate_assignment) must run first."""


def nbgrader_api(course: Course) -> NbGraderAPI:
    """nbgrader's API object for ``course``."""
    return NbGraderAPI(config=nbgrader_config(course))


def file_submission(course: Course, assignment_id: str, student_id: str, text: str) -> Path:
    """Put ``text`` where nbgrader looks for ``student_id``'s notebook of ``assignment_id``; returns the path."""
    path = course.submission_notebook(assignment_id, student_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def student_ids(course: Course) -> list[str]:
    """Every folder under ``submitted/``, sorted."""
    folder = course.submitted_dir()
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def unreadable_reason(path: Path) -> str | None:
    """Why ``path`` is not a notebook nbgrader can grade, or None if it is one."""
    if not path.is_file():
        return None
    try:
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
    except Exception as e:  # nbformat raises many types for bad files; each is a verdict here
        return f"ノートブックとして読めません / not a readable notebook: {type(e).__name__}: {str(e)[:200]}"
    return None


def _cell_errors(notebook_path: Path) -> dict[str, tuple[str, str]]:
    """grade_id → (exception class, message) a graded cell ended with, from the autograded notebook."""
    messages = {}
    if not notebook_path.is_file():
        return messages
    notebook = nbformat.read(notebook_path, as_version=4)
    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader", {})
        if not meta.get("grade") or cell.cell_type != "code":
            continue
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                messages[meta["grade_id"]] = (output.get("ename", ""), output.get("evalue", ""))
    return messages


def read_results(course: Course, assignment_id: str, student_id: str) -> SubmissionResult:
    """The gradebook's scores for one graded submission, with each failed check's message."""
    errors = _cell_errors(course.autograded_dir(assignment_id, student_id) / f"{assignment_id}.ipynb")
    with Gradebook(course.db_url, course.config.course_id) as gb:
        submission = gb.find_submission(assignment_id, student_id)
        checks = []
        grades = {grade.name: grade for notebook in submission.notebooks for grade in notebook.grades}
        for cell in graded_cells(course.source_notebook(assignment_id)):
            grade = grades.get(cell.grade_id)
            if grade is None:
                checks.append(CheckResult(cell.grade_id, 0.0, cell.points, "セルがありません / cell missing", cell.manual))
                continue
            points = None if cell.manual and grade.needs_manual_grade else grade.score
            error, message = errors.get(cell.grade_id, (None, None))
            checks.append(CheckResult(cell.grade_id, points, grade.max_score, message, cell.manual, error))
        return SubmissionResult(student_id, GRADED, score=submission.score, max_score=submission.max_score, checks=checks)


def grade_submission(course: Course, api: NbGraderAPI, assignment_id: str, student_id: str) -> SubmissionResult:
    """Grade one student's submission and save its status; never raises for a bad submission."""
    started = time.monotonic()
    path = course.submission_notebook(assignment_id, student_id)
    if not path.is_file():
        result = SubmissionResult(student_id, MISSING, f"{path.name} がありません / no {path.name} in the folder")
    elif reason := unreadable_reason(path):
        result = SubmissionResult(student_id, INVALID, reason)
    else:
        outcome = api.autograde(assignment_id, student_id, force=True, create=True)
        if outcome["success"]:
            result = read_results(course, assignment_id, student_id)
            lost = result.lost()
            result.message = f"減点 / lost: {', '.join(lost)}" if lost else "自動採点は満点 / all automatic checks passed"
        else:
            last = (outcome.get("error") or outcome.get("log") or "").strip().splitlines()
            result = SubmissionResult(student_id, ERROR, f"採点できませんでした / grading failed: {last[-1] if last else '?'}")
    if result.status != GRADED:  # nothing was scored, but the row still says what the work was worth
        result.max_score = total_points(course.source_notebook(assignment_id))
    result.seconds = time.monotonic() - started
    result.save(course.autograded_dir(assignment_id, student_id))
    return result


def grade(course: Course, assignment_id: str, students: list[str] | None = None) -> list[SubmissionResult]:
    """Grade the submissions of ``students`` (all under ``submitted/`` by default), one after another.

    Shows a progress bar on a terminal.  Raises ``NotReleased`` if the assignment was never released.
    """
    course.config.assignment(assignment_id)  # unknown assignment: KeyError with the known ones
    with Gradebook(course.db_url, course.config.course_id) as gb:
        try:
            gb.find_assignment(assignment_id)
        except MissingEntry:
            raise NotReleased(
                f"{assignment_id} は成績簿にありません。先に python -m autograder release {assignment_id} を実行してください / "
                f"{assignment_id} is not in the gradebook: run `python -m autograder release {assignment_id}` first"
            ) from None
    api = nbgrader_api(course)
    results = []
    targets = students if students is not None else student_ids(course)
    with grading_environment(course):
        bar = tqdm(targets, desc=f"採点 {assignment_id}", unit="人", disable=None)
        for student_id in bar:
            bar.set_postfix_str(student_id)
            results.append(grade_submission(course, api, assignment_id, student_id))
    return results
