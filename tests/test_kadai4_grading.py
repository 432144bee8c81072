"""Grading real kadai4 notebooks on the real Fashion-MNIST through nbgrader, end to end."""
from __future__ import annotations

import pytest

from autograder.examples import KADAI4_MISTAKES, filled_in, with_mistakes
from autograder.prove import prove
from autograder.results import GRADED

from conftest import submit_and_grade

pytestmark = pytest.mark.slow


def test_prove_solution_full_marks_release_zero(course):
    """Does the solution earn every automatic point and the untouched release 0, with no grader error?"""
    proof = prove(course, "kadai4")
    assert proof.problems == []
    assert proof.solution.status == GRADED and proof.release.status == GRADED
    automatic = [c for c in proof.solution.checks if not c.manual]
    assert len(automatic) == 12 and all(c.passed for c in automatic)
    assert proof.solution.score == sum(c.max_points for c in automatic) == 20
    assert proof.release.score == 0
    assert all(c.points == 0 for c in proof.release.checks)


@pytest.mark.parametrize("mistake", KADAI4_MISTAKES, ids=lambda m: m.name)
def test_mistake_loses_exactly_its_checks(fresh_course, mistake):
    """Does each typical mistake lose exactly the points of the checks it breaks, with a Japanese message?"""
    source = fresh_course.source_notebook("kadai4")
    notebook = with_mistakes(filled_in(source, fresh_course.release_notebook("kadai4")), mistake)
    result = submit_and_grade(fresh_course, mistake.name, notebook)

    assert result.status == GRADED, result.message
    assert set(result.lost()) == mistake.lost
    lost_points = sum(c.max_points for c in result.checks if c.grade_id in mistake.lost)
    assert result.score == 20 - lost_points
    first_lost = next(c for c in result.checks if c.grade_id in mistake.lost)
    assert mistake.says in first_lost.message
