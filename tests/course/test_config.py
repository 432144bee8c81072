"""course_config.py is the one place: nbgrader's config and the notebook are checked against it."""
from __future__ import annotations

import dataclasses
import re
import subprocess
import sys

import pytest
from helpers import ROOT

from autograder.course import load_course
from autograder.course.assignment import GOAL_PATTERN, disagreements
from autograder.course.nbgrader_setup import nbgrader_config


def test_nbgrader_config_is_derived(course):
    """Does nbgrader see the course id, gradebook, time zone and timeout from course_config.py?"""
    c = nbgrader_config(course)
    assert c.CourseDirectory.course_id == course.config.course_id
    assert c.CourseDirectory.db_url == f"sqlite:///{ROOT / 'gradebook.db'}"
    assert c.NbGraderAPI.timezone == "Asia/Tokyo"
    assert c.Execute.timeout == course.config.cell_timeout


def test_a_slow_but_live_kernel_is_waited_for(course):
    """Does nbgrader's executor (the traitlets it reads, not only our Config) wait IOPUB_PATIENCE seconds for a
    cell's output after its reply, instead of nbclient's 4 s that made a starved classmate's grading an error?"""
    from nbgrader.preprocessors import Execute

    from autograder.course.nbgrader_setup import IOPUB_PATIENCE

    executor = Execute(config=nbgrader_config(course))
    assert executor.iopub_timeout == IOPUB_PATIENCE >= 30 and executor.raise_on_iopub_timeout is True


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


@pytest.mark.parametrize("assignment_id", [a.id for a in load_course(ROOT).config.assignments])
def test_notebook_agrees_with_course_config(course, assignment_id):
    """Do each notebook's points (automatic + manual) and its ACCURACY_GOAL match course_config.py, and would prove
    name a change of either?"""
    assignment = course.config.assignment(assignment_id)
    notebook = course.assignment(assignment_id).source_notebook
    assert course.assignment(assignment_id).disagreements() == []
    cells = course.assignment(assignment_id).graded_cells
    assert len({c.grade_id for c in cells}) == len(cells) and all(c.points > 0 for c in cells)
    automatic = sum(c.points for c in cells if not c.manual)
    assert automatic > 0 and automatic + sum(c.points for c in cells if c.manual) == assignment.points
    changed = dataclasses.replace(assignment, points=assignment.points + 5, accuracy_threshold=0.99)
    problems = disagreements(notebook, changed)
    assert f"{assignment.points + 5}" in problems[0]
    shows_goal = GOAL_PATTERN.search("\n".join(c.source for c in notebook.cells))
    assert len(problems) == (2 if shows_goal else 1) and (not shows_goal or "0.99" in problems[1])


def test_recall_goal_agrees_with_course_config(course):
    """Does prove refuse kadai5 when its RECALL_GOAL differs from recall_threshold?"""
    assignment = course.config.assignment("kadai5")
    problems = disagreements(course.assignment("kadai5").source_notebook, dataclasses.replace(assignment, recall_threshold=0.95))
    assert len(problems) == 1 and "RECALL_GOAL" in problems[0] and "0.95" in problems[0]


def test_deadlines_are_in_course_order(course):
    """Are the assignments listed in course order (課題3, 課題4, … by the number in their ids, each with a source
    notebook), their due dates rising in that order, in the course's time zone?"""
    ids = [a.id for a in course.config.assignments]
    numbers = [int(re.fullmatch(r"kadai(\d+)", i).group(1)) for i in ids]
    assert numbers == sorted(set(numbers)) and all(course.source_notebook(i).is_file() for i in ids)
    dues = [a.due for a in course.config.assignments]
    assert dues == sorted(set(dues)) and all(str(d.tzinfo) == course.config.timezone for d in dues)
    assert all(a.title.startswith(f"課題{n}") for a, n in zip(course.config.assignments, numbers))


def test_a_wrong_setting_is_named_when_course_config_loads(tmp_path):
    """A wrong late_policy, a number as text, an unknown assignment: a bilingual error naming the field, at load time."""
    from autograder.course import ConfigError, CourseError, UnknownAssignment

    original = (ROOT / "course_config.py").read_text(encoding="utf-8")
    for change, field in (("late_policy='late'", "CourseConfig.late_policy"), ("cell_timeout='600'", "CourseConfig.cell_timeout"),
                          ("workers=1.5", "CourseConfig.workers"), ("timezone='Mars/Base'", "CourseConfig.timezone")):
        said = ("タイムゾーンではありません", "is not a time zone") if "timezone" in field else ("にしてください", "expected")
        folder = tmp_path / field.rsplit(".", 1)[1]
        folder.mkdir()
        (folder / "course_config.py").write_text(
            original + f"\nimport dataclasses\nCONFIG = dataclasses.replace(CONFIG, {change})\n", encoding="utf-8")
        with pytest.raises(ConfigError) as error:
            load_course(folder)
        assert field in str(error.value) and all(words in str(error.value) for words in said), str(error.value)
        assert error.value.exit_code == 2
    known = ", ".join(a.id for a in load_course(ROOT).config.assignments)
    with pytest.raises(UnknownAssignment, match=known):
        load_course(ROOT).config.assignment("kadai99")
    old_style = tmp_path / "old"
    old_style.mkdir()
    (old_style / "course_config.py").write_text("CONFIG = object()\n", encoding="utf-8")
    with pytest.raises(CourseError, match="autograder.course.config"):
        load_course(old_style)


def test_defaults_live_in_the_schema(course):
    """Does course_config.py leave out what has a default (the schema's), and do the commands read it from there?"""
    import inspect

    from autograder.course.config import CourseConfig

    assert course.config.late_policy == "reject" and "late_policy" not in (ROOT / "course_config.py").read_text()
    assert inspect.getdoc(CourseConfig) and all(f.name in inspect.getsource(CourseConfig)
                                                 for f in dataclasses.fields(CourseConfig))
    for module in (ROOT / "autograder").rglob("*.py"):
        assert "getattr(config" not in module.read_text(encoding="utf-8"), module
        assert "getattr(course.config" not in module.read_text(encoding="utf-8"), module


def test_filing_again_without_a_time_drops_the_old_one(course, tmp_path):
    """A submission filed with no time does not keep an earlier submission's timestamp.txt."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from autograder.course import Course

    scratch = Course(root=tmp_path, config=course.config)
    scratch.file_submission("kadai5", "s1", "{}", datetime(2027, 5, 20, 12, 0, tzinfo=ZoneInfo("Asia/Tokyo")))
    assert scratch.assignment("kadai5").submission_time("s1")[0] == "2027-05-20 12:00:00+09:00"
    scratch.file_submission("kadai5", "s1", "{}")
    assert scratch.assignment("kadai5").submission_time("s1") == (None, None, None)
