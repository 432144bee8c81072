"""The Assignment object: an assignment's cells, titles, points and paths, its notebooks read once, and nbgrader's
cell metadata read in one place."""
from __future__ import annotations

import nbformat
import pytest

from autograder.course import UnknownAssignment
from autograder.course import assignment as assignment_module
from autograder.course.assignment import GradedCell, question_titles
from autograder.course.cells import grade_id, is_grade, is_locked, is_solution, nbgrader_metadata, points

KADAI6 = [
    ("q1_shape", 1, "問1 前処理"), ("q1_scaled", 1, "問1 前処理"), ("q1_labels", 1, "問1 前処理"),
    ("q2_model", 2, "問2 CNN のモデルの作成"), ("q2_compile", 1, "問2 CNN のモデルの作成"), ("q3_fit", 2, "問3 学習"),
    ("q4_plot_layout", 1, "問4 学習の様子の作図"), ("q4_plot_loss", 1, "問4 学習の様子の作図"),
    ("q4_plot_accuracy", 1, "問4 学習の様子の作図"), ("q4_plot_legend", 1, "問4 学習の様子の作図"),
    ("q5_evaluate", 1, "問5 テストデータでの評価"), ("q5_accuracy", 3, "問5 テストデータでの評価"),
    ("q6_pred", 2, "問6 予測と混同行列"), ("q6_confusion", 2, "問6 予測と混同行列"),
]


def test_kadai6_cells_titles_and_points(course):
    """Does kadai6 list its graded cells in notebook order, each titled by its question's heading (「## 問3　学習（2点）」
    → 「問3 学習」), the written answer as the one manual cell, and add up to course_config's points?"""
    kadai6 = course.assignment("kadai6")
    assert [(c.grade_id, c.points, c.title) for c in kadai6.automatic_cells] == KADAI6
    assert kadai6.manual_cells == [GradedCell("q7_cnn", 5.0, True, "問7 CNN と MLP のちがい")]
    assert kadai6.automatic_points == 20 and kadai6.total_points == 25 == kadai6.config.points
    assert kadai6.titles["q3_fit"] == "問3 学習" and kadai6.disagreements() == []


@pytest.mark.parametrize("assignment_id", ["kadai5", "kadai6"])
def test_source_and_release_agree_on_cells_and_titles(course, assignment_id):
    """Do the source and the release give the same graded cells with the same titles (the feedback page titles rows
    from the release, the course model from the source), every one under a 問 heading?"""
    assignment = course.assignment(assignment_id)
    from_release = assignment_module.graded_cells(assignment.release_notebook)
    assert from_release == assignment.graded_cells
    assert question_titles(assignment.release_notebook) == assignment.titles
    assert all(c.title and c.title.startswith("問") for c in assignment.graded_cells)
    assert [c.manual for c in assignment.graded_cells].count(True) == 1
    assert assignment.automatic_points + sum(c.points for c in assignment.manual_cells) == assignment.config.points


def test_paths_are_nbgraders_and_the_course_delegates(course):
    """Is every file of an assignment where nbgrader (and our tools) keep it, and do the course's remaining path
    methods give the same paths?"""
    kadai5, root = course.assignment("kadai5"), course.root
    assert kadai5.source == root / "source" / "kadai5" / "kadai5.ipynb" and kadai5.source.is_file()
    assert kadai5.source_dir == kadai5.source.parent
    assert kadai5.release == root / "release" / "kadai5" / "kadai5.ipynb" and kadai5.release.is_file()
    assert kadai5.submitted("s1") == root / "submitted" / "s1" / "kadai5" / "kadai5.ipynb"
    assert kadai5.timestamp("s1") == root / "submitted" / "s1" / "kadai5" / "timestamp.txt"
    assert kadai5.autograded("s1") == kadai5.autograded_dir("s1") / "kadai5.ipynb" == (
        root / "autograded" / "s1" / "kadai5" / "kadai5.ipynb")
    assert kadai5.feedback("s1") == root / "feedback" / "s1" / "kadai5" / "kadai5.html"
    assert kadai5.report == root / "reports" / "kadai5.html"
    assert kadai5.solutions_dir == root / "solutions" / "kadai5"
    assert kadai5.manual_record == root / "manual" / "kadai5.json"
    assert kadai5.upload_folder("s1") == root / "portal" / "uploads" / "s1" / "kadai5"
    assert (course.source_notebook("kadai5"), course.release_notebook("kadai5")) == (kadai5.source, kadai5.release)
    assert course.submission_notebook("kadai5", "s1") == kadai5.submitted("s1")
    assert course.autograded_dir("kadai5", "s1") == kadai5.autograded_dir("s1")
    assert course.feedback_path("kadai5", "s1") == kadai5.feedback("s1")


def test_notebooks_are_read_once_and_only_when_asked(course, monkeypatch):
    """Is nothing read when an Assignment is made, each notebook read once however often its cells, points and titles
    are asked, and an id course_config does not know an error only when its settings are asked?"""
    reads = []
    real = nbformat.read
    monkeypatch.setattr(assignment_module.nbformat, "read", lambda path, **kw: reads.append(path) or real(path, **kw))
    kadai6 = course.assignment("kadai6")
    assert reads == []
    kadai6.graded_cells, kadai6.total_points, kadai6.titles, kadai6.automatic_cells, kadai6.disagreements()
    kadai6.release_notebook, kadai6.release_notebook
    assert reads == [kadai6.source, kadai6.release]
    unknown = course.assignment("kadai99")
    assert unknown.submitted("s1").name == "kadai99.ipynb"
    with pytest.raises(UnknownAssignment):
        unknown.config


def test_cell_metadata_is_read_in_one_place():
    """Do the readers of nbgrader's metadata say what nbgrader means, and take metadata of the wrong shape (a
    student's file) as none instead of raising?"""
    answer = nbformat.v4.new_markdown_cell("答え", metadata={"nbgrader": {
        "grade_id": "q7", "grade": True, "solution": True, "locked": False, "points": 5}})
    test = nbformat.v4.new_code_cell("assert True", metadata={"nbgrader": {
        "grade_id": "q1_test", "grade": True, "solution": False, "locked": True, "points": 2}})
    assert (grade_id(answer), is_grade(answer), is_solution(answer), is_locked(answer), points(answer)) == (
        "q7", True, True, False, 5.0)
    assert (grade_id(test), is_grade(test), is_solution(test), is_locked(test), points(test)) == (
        "q1_test", True, False, True, 2.0)
    plain = nbformat.v4.new_code_cell("x = 1")
    not_a_mapping = nbformat.v4.new_code_cell("x = 1", metadata={"nbgrader": "not a mapping"})
    listed = nbformat.v4.new_code_cell("x = 1", metadata={"nbgrader": {"grade_id": ["q1_test"], "grade": True}})
    for cell in (plain, not_a_mapping, {"metadata": "a string"}):
        assert nbgrader_metadata(cell) == {} and grade_id(cell) is None and not is_grade(cell) and points(cell) == 0
    assert grade_id(listed) is None and is_grade(listed)
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("## 問1　足し算（2点）"), test, listed])
    assert assignment_module.graded_cells(notebook) == [GradedCell("q1_test", 2.0, False, "問1 足し算")]
