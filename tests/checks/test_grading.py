"""Grading real notebooks of every assignment on the real data through nbgrader, end to end."""
from __future__ import annotations

import pytest
from helpers import copy_course, submit_and_grade

from autograder.course.assignment import graded_cells
from autograder.course.results import Status
from autograder.tools.examples import assignments, filled_in, mistakes, with_mistakes
from autograder.tools.prove import prove

pytestmark = pytest.mark.slow


def automatic(course, assignment_id: str) -> tuple[int, float]:
    """The automatic checks of an assignment and their points, from its source notebook (manual answers come on top;
    test_config.py holds the expected totals of the existing assignments)."""
    cells = [c for c in graded_cells(course.source_notebook(assignment_id)) if not c.manual]
    return len(cells), sum(c.points for c in cells)


@pytest.mark.parametrize("assignment_id", assignments())
def test_prove_solution_full_marks_release_zero(course, assignment_id):
    """Does the solution earn every automatic point and the untouched release 0, with no grader error?"""
    proof = prove(course, assignment_id)
    assert proof.problems == []
    assert proof.solution.status == Status.GRADED and proof.release.status == Status.GRADED
    earned = [c for c in proof.solution.checks if not c.manual]
    checks, points = automatic(course, assignment_id)
    assert len(earned) == checks and all(c.passed for c in earned)
    assert proof.solution.score == sum(c.max_points for c in earned) == points
    assert proof.release.score == 0
    assert all(c.points == 0 for c in proof.release.checks)


def test_every_assignment_has_a_mistake_matrix(course):
    """Is every assignment of course_config proved here and given typical mistakes, each naming real cells?"""
    assert sorted(a.id for a in course.config.assignments) == assignments()
    for assignment_id in assignments():
        ids = {c.grade_id for c in graded_cells(course.source_notebook(assignment_id)) if not c.manual}
        assert len(mistakes(assignment_id)) >= 7
        for mistake in mistakes(assignment_id):
            assert mistake.lost and mistake.lost <= ids, (assignment_id, mistake.name)


@pytest.mark.parametrize(("assignment_id", "mistake"),
                         [(a, m) for a in assignments() for m in mistakes(a)],
                         ids=lambda v: v if isinstance(v, str) else v.name)
def test_mistake_loses_exactly_its_checks(released_course, tmp_path, assignment_id, mistake):
    """Does each typical mistake lose exactly the points of the checks it breaks, with a Japanese message?"""
    course = copy_course(released_course(assignment_id), tmp_path / "course")
    source = course.source_notebook(assignment_id)
    notebook = with_mistakes(filled_in(source, course.release_notebook(assignment_id)), mistake)
    result = submit_and_grade(course, mistake.name, notebook, assignment_id)

    assert result.status == Status.GRADED, result.message
    assert set(result.lost()) == mistake.lost
    lost_points = sum(c.max_points for c in result.checks if c.grade_id in mistake.lost)
    assert result.score == automatic(course, assignment_id)[1] - lost_points
    first_lost = next(c for c in result.checks if c.grade_id in mistake.lost)
    assert mistake.says in first_lost.message
