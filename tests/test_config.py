"""course_config.py is the one place: nbgrader's config and the notebook are checked against it."""
from __future__ import annotations

import dataclasses
import subprocess
import sys

from autograder.assignment import disagreements, graded_cells
from autograder.nbgrader_setup import nbgrader_config

from conftest import ROOT


def test_nbgrader_config_is_derived(course):
    """Does nbgrader see the course id, gradebook, time zone and timeout from course_config.py?"""
    c = nbgrader_config(course)
    assert c.CourseDirectory.course_id == course.config.course_id
    assert c.CourseDirectory.db_url == f"sqlite:///{ROOT / 'gradebook.db'}"
    assert c.NbGraderAPI.timezone == "Asia/Tokyo"
    assert c.Execute.timeout == course.config.cell_timeout


def test_nbgrader_command_line_reads_the_shim():
    """Does the plain `nbgrader` CLI, run in the course folder, pick up course_config.py through nbgrader_config.py?"""
    out = subprocess.run([sys.executable, "-m", "nbgrader", "db", "assignment", "list", "--help-all"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    code = ("from traitlets.config.loader import PyFileConfigLoader;"
            "c = PyFileConfigLoader('nbgrader_config.py', path='.').load_config();"
            "print(c.CourseDirectory.course_id, c.Execute.timeout)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["medical-ai-bigdata", "600"], out.stderr


def test_notebook_agrees_with_course_config(course):
    """Do the notebook's points (20 automatic + 5 manual) and ACCURACY_GOAL match course_config.py?"""
    assignment = course.config.assignment("kadai4")
    notebook = course.source_notebook("kadai4")
    assert disagreements(notebook, assignment) == []
    cells = graded_cells(notebook)
    assert sum(c.points for c in cells if not c.manual) == 20 and sum(c.points for c in cells if c.manual) == 5
    changed = dataclasses.replace(assignment, points=30, accuracy_threshold=0.9)
    problems = disagreements(notebook, changed)
    assert len(problems) == 2 and "30" in problems[0] and "0.9" in problems[1]
