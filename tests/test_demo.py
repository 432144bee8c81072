"""The demo's course: kadai4 released and three example students filed (grading them is the slow tier's job)."""
from __future__ import annotations

import nbformat
import pytest

from autograder.demo import MARKER, STUDENTS, build_demo_course
from autograder.grade import unreadable_reason


def test_demo_course_files_three_students(course, tmp_path):
    """Does the demo build a released course with a correct, a partly wrong and a broken submission?"""
    demo = build_demo_course(course, tmp_path / "demo")
    assert demo.release_notebook("kadai4").is_file() and (demo.root / MARKER).is_file()
    paths = {sid: demo.submission_notebook("kadai4", sid) for sid in STUDENTS}
    correct, partly, broken = (paths[sid] for sid in sorted(STUDENTS))
    assert unreadable_reason(correct) is None and unreadable_reason(partly) is None
    assert "not a readable notebook" in unreadable_reason(broken)
    text = "\n".join(c.source for c in nbformat.read(partly, as_version=4).cells if c.cell_type == "code")
    assert "Dense(64, input_shape" in text and "NotImplementedError" not in text
    assert "_kadai4" not in text  # submissions are made from the student version


def test_demo_refuses_to_wipe_a_folder_it_did_not_make(course, tmp_path):
    """Is an existing folder without the demo marker left alone?"""
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "precious.txt").write_text("x")
    with pytest.raises(FileExistsError):
        build_demo_course(course, tmp_path / "mine")
    assert (tmp_path / "mine" / "precious.txt").exists()
