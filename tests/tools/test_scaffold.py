"""`python -m autograder new ID [--from OTHER]`: a new assignment's first draft, in a scratch course and checks folder."""
from __future__ import annotations

import importlib.util
import shutil
from datetime import timedelta

import nbformat
import pytest

from autograder.course import UnknownAssignment, load_course
from autograder.tools.examples import filled_in, pack_variants, with_mistakes
from autograder.tools.prove import generate_release, scratch_course
from autograder.tools.scaffold import CHECKS, ScaffoldError, new_assignment


def _examples(folder):
    """The examples module written into ``folder`` (outside the package, so loaded from its file)."""
    spec = importlib.util.spec_from_file_location("scaffolded_examples", folder / "examples.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_blank_assignment_is_a_valid_nbgrader_assignment_in_course_order(course, tmp_path):
    """Does `new kadai9` write a source notebook nbgrader generates a student version from, examples that apply to it,
    and a config entry a week after the last assignment whose points are the notebook's?"""
    scratch = scratch_course(course.assignment("kadai5"), tmp_path / "course")
    paths = new_assignment(scratch, "kadai9", checks=tmp_path / "checks")
    assert paths == [scratch.source_notebook("kadai9"), tmp_path / "checks" / "kadai9", scratch.root / "course_config.py"]

    reloaded = load_course(scratch.root)
    entry, last = reloaded.config.assignment("kadai9"), course.config.assignments[-1]
    assert [a.id for a in reloaded.config.assignments][-1] == "kadai9" and entry.title == "課題9"
    assert entry.due == last.due + timedelta(days=7) and entry.due.tzinfo == last.due.tzinfo
    assert reloaded.assignment("kadai9").disagreements() == []
    cells = reloaded.assignment("kadai9").graded_cells
    assert [(c.grade_id, c.manual) for c in cells] == [("q1_answer", False), ("q2_free", True)]

    release = generate_release(reloaded.assignment("kadai9"))  # nbgrader accepts the metadata
    text = "\n".join(c.source for c in nbformat.read(release, as_version=4).cells)
    assert "YOUR CODE HERE" in text and "YOUR ANSWER HERE" in text
    assert "answer = 6 * 7" not in text and "HIDDEN TESTS" not in text and "assert answer == 42" not in text

    examples = _examples(tmp_path / "checks" / "kadai9")
    solution = filled_in(reloaded.source_notebook("kadai9"), release)
    for mistake in examples.MISTAKES:
        assert mistake.lost <= {c.grade_id for c in cells}
        with_mistakes(solution, mistake)  # raises if an edit does not fit
    assert pack_variants(solution, examples.VARIANTS)
    assert {s.student_id for s in examples.DEMO_STUDENTS} == {"s2027001", "s2027002"}


def test_from_another_assignment_copies_it_whole_under_the_new_id(course, tmp_path):
    """Does `new kadai9 --from kadai5` copy the notebook, checks, examples and thresholds, renamed to kadai9?"""
    checks = tmp_path / "checks"
    shutil.copytree(CHECKS / "kadai5", checks / "kadai5", ignore=shutil.ignore_patterns("__pycache__"))
    scratch = scratch_course(course.assignment("kadai5"), tmp_path / "course")
    new_assignment(scratch, "kadai9", template="kadai5", title="課題9 応用②", checks=checks)

    entry, like = load_course(scratch.root).config.assignment("kadai9"), course.config.assignment("kadai5")
    assert (entry.title, entry.points, entry.accuracy_threshold, entry.recall_threshold) == \
        ("課題9 応用②", like.points, like.accuracy_threshold, like.recall_threshold)
    source = "\n".join(c.source for c in nbformat.read(scratch.source_notebook("kadai9"), as_version=4).cells)
    assert "from autograder.checks import kadai9 as _kadai9" in source and "kadai5" not in source
    assert 'ASSIGNMENT_ID = "kadai9"' in (checks / "kadai9" / "__init__.py").read_text(encoding="utf-8")
    assert scratch.assignment("kadai9").graded_cells == course.assignment("kadai5").graded_cells


def test_nothing_is_written_when_the_assignment_cannot_be_made(course, tmp_path):
    """A taken id, a malformed one, an unknown template, a course_config.py without the usual tuple: is each refused
    with nothing left behind (no folder, course_config.py as it was)?"""
    scratch = scratch_course(course.assignment("kadai5"), tmp_path / "course")
    checks = tmp_path / "checks"
    checks.mkdir()
    config = scratch.root / "course_config.py"
    original = config.read_bytes()
    for assignment_id, template, error in (("kadai5", None, ScaffoldError), ("Kadai-9", None, ScaffoldError),
                                           ("kadai9", "kadai99", UnknownAssignment)):
        with pytest.raises(error):
            new_assignment(scratch, assignment_id, template=template, checks=checks)
    assert config.read_bytes() == original and list(checks.iterdir()) == []
    assert not scratch.source_notebook("kadai9").parent.exists()
    unusual = original.decode("utf-8").replace("CONFIG = CourseConfig(", "CONFIG = (lambda **k: CourseConfig(**k))(")
    config.write_text(unusual, encoding="utf-8")
    with pytest.raises(ScaffoldError, match="by hand"):
        new_assignment(load_course(scratch.root), "kadai9", checks=checks)
    assert config.read_text(encoding="utf-8") == unusual
    assert not scratch.source_notebook("kadai9").parent.exists() and list(checks.iterdir()) == []
