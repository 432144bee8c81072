"""Grading real notebooks of every assignment on the real data through nbgrader, end to end.

Every assignment of the course is proved, and its typical mistakes (``MISTAKES`` of its examples module) are
graded in one batch per assignment, through ``autograder.tools.author.grade_examples`` (what
``python -m autograder examples`` runs): one grading run per assignment, not one per mistake; each mistake's
test then reads the batch's result for its notebook.
"""
from __future__ import annotations

import pytest
from helpers import copy_course

from autograder.course.assignment import graded_cells
from autograder.course.results import Status
from autograder.tools.author import Kind, examples_of, grade_examples
from autograder.tools.examples import assignments, mistakes
from autograder.tools.prove import prove

pytestmark = pytest.mark.slow


def automatic(course, assignment_id: str) -> tuple[int, float]:
    """The automatic checks of an assignment and their points, from its source notebook (manual answers come on top)."""
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


@pytest.fixture(scope="module")
def mistakes_graded(released_course, tmp_path_factory):
    """``mistakes_graded(id)``: mistake name → ``Outcome`` of its notebook, every mistake of ``id`` graded in one batch
    (the first test of an assignment grades it, the others read it)."""
    batches: dict[str, dict] = {}

    def of(assignment_id: str) -> dict:
        if assignment_id not in batches:
            course = copy_course(released_course(assignment_id), tmp_path_factory.mktemp(f"mistakes-{assignment_id}") / "course")
            made = examples_of(course, assignment_id, (Kind.MISTAKE,))
            batches[assignment_id] = {o.example.names[0]: o for o in grade_examples(course, assignment_id, made)}
        return batches[assignment_id]

    return of


@pytest.mark.parametrize(("assignment_id", "mistake"),
                         [(a, m) for a in assignments() for m in mistakes(a)],
                         ids=lambda v: v if isinstance(v, str) else v.name)
def test_mistake_loses_exactly_its_checks(course, mistakes_graded, assignment_id, mistake):
    """Does each typical mistake lose exactly the points of the checks it breaks, with a Japanese message?"""
    outcome = mistakes_graded(assignment_id)[mistake.name]
    result = outcome.result

    assert result.student_id == mistake.name
    assert result.status == Status.GRADED, result.message
    assert set(result.lost()) == mistake.lost
    lost_points = sum(c.max_points for c in result.checks if c.grade_id in mistake.lost)
    assert result.score == automatic(course, assignment_id)[1] - lost_points
    first_lost = next(c for c in result.checks if c.grade_id in mistake.lost)
    assert mistake.says in first_lost.message
    assert outcome.ok, (outcome.expected, outcome.got)  # and `python -m autograder examples` says OK for it
