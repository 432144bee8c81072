"""The demo's course: every assignment released and its example students filed (grading them is the slow tier's job)."""
from __future__ import annotations

import nbformat
import pytest

from autograder.course.notebook import notebook_problem
from autograder.tools.demo import MARKER, build_demo_course
from autograder.tools.examples import assignments, demo_students


def _code(path) -> str:
    return "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")


def test_demo_course_files_example_students(course, tmp_path):
    """Does the demo release every assignment, with a correct, a partly wrong (and for kadai4 a broken) submission?"""
    demo = build_demo_course(course, tmp_path / "demo")
    assert (demo.root / MARKER).is_file()
    assert assignments() == sorted(a.id for a in course.config.assignments)
    for assignment_id in assignments():
        assert demo.release_notebook(assignment_id).is_file()
        paths = {s.student_id: demo.submission_notebook(assignment_id, s.student_id) for s in demo_students(assignment_id)}
        assert notebook_problem(paths["s2027001"].read_bytes()) is None and notebook_problem(paths["s2027002"].read_bytes()) is None
        correct, partly = _code(paths["s2027001"]), _code(paths["s2027002"])
        assert correct != partly and "NotImplementedError" not in partly
        assert f"_{assignment_id}" not in correct  # submissions are made from the student version
    assert "not a readable notebook" in notebook_problem(demo.submission_notebook("kadai4", "s2027003").read_bytes())
    assert "Dense(64, input_shape" in _code(demo.submission_notebook("kadai4", "s2027002"))
    assert "x_test_raw.mean(axis=0)" in _code(demo.submission_notebook("kadai5", "s2027002"))


def test_demo_refuses_to_wipe_a_folder_it_did_not_make(course, tmp_path):
    """Is an existing folder without the demo marker left alone?"""
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "precious.txt").write_text("x")
    with pytest.raises(FileExistsError):
        build_demo_course(course, tmp_path / "mine")
    assert (tmp_path / "mine" / "precious.txt").exists()
