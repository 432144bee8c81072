"""Grading real notebooks of every assignment on the real data through nbgrader, end to end.

Every assignment of the course is graded in one batch: its solution, its untouched release and its typical mistakes
(``MISTAKES`` of its examples module), through ``autograder.tools.author.grade_examples`` (what
``python -m autograder examples`` runs): one grading run per assignment, not one per mistake; each mistake's
test then reads the batch's result for its notebook.
"""
from __future__ import annotations

import pytest
from helpers import copy_course

from autograder.course.results import Status
from autograder.tools.author import RELEASE_ID, SOLUTION_ID, Kind, examples_of, grade_examples
from autograder.tools.examples import assignments, mistakes
from autograder.tools.prove import prove

pytestmark = pytest.mark.slow


def automatic(course, assignment_id: str) -> tuple[int, float]:
    """The automatic checks of an assignment and their points, from its source notebook (manual answers come on top)."""
    cells = [c for c in course.assignment(assignment_id).graded_cells if not c.manual]
    return len(cells), sum(c.points for c in cells)


@pytest.mark.parametrize("assignment_id", assignments())
def test_solution_full_marks_release_zero(course, graded, assignment_id):
    """Does the solution earn every automatic point and the untouched release 0, with no grader error, and does the
    notebook agree with course_config (what ``prove`` checks before it grades)?"""
    assert course.assignment(assignment_id).disagreements() == []
    solution, release = graded(assignment_id)[SOLUTION_ID], graded(assignment_id)[RELEASE_ID]
    assert solution.ok and release.ok, (solution.got, release.got)
    assert solution.result.status == Status.GRADED and release.result.status == Status.GRADED
    earned = [c for c in solution.result.checks if not c.manual]
    checks, points = automatic(course, assignment_id)
    assert len(earned) == checks and all(c.passed for c in earned)
    assert solution.result.score == sum(c.max_points for c in earned) == points
    assert release.result.score == 0
    assert all(c.points == 0 for c in release.result.checks)


def test_prove_proves_an_assignment(course):
    """Does ``prove`` itself (a scratch course, nbgrader's release, solution and release graded) pass kadai6, whose
    notebooks are the cheapest to run?"""
    proof = prove(course.assignment("kadai6"))
    assert proof.problems == []
    assert proof.solution.score == automatic(course, "kadai6")[1] and proof.release.score == 0


def test_every_assignment_has_a_mistake_matrix(course):
    """Is every assignment of course_config proved here and given typical mistakes, each naming real cells?"""
    assert sorted(a.id for a in course.config.assignments) == assignments()
    for assignment_id in assignments():
        ids = {c.grade_id for c in course.assignment(assignment_id).graded_cells if not c.manual}
        assert len(mistakes(assignment_id)) >= 7
        for mistake in mistakes(assignment_id):
            assert mistake.lost and mistake.lost <= ids, (assignment_id, mistake.name)


@pytest.fixture(scope="module")
def graded(released_course, tmp_path_factory):
    """``graded(id)``: student id (a mistake's name, ``SOLUTION_ID``, ``RELEASE_ID``) → ``Outcome`` of its notebook:
    the solution, the untouched release and every mistake of ``id`` graded in one batch (the first test of an
    assignment grades it, the others read it)."""
    batches: dict[str, dict] = {}

    def of(assignment_id: str) -> dict:
        if assignment_id not in batches:
            course = copy_course(released_course(assignment_id), tmp_path_factory.mktemp(f"graded-{assignment_id}") / "course")
            made = examples_of(course.assignment(assignment_id), (Kind.SOLUTION, Kind.RELEASE, Kind.MISTAKE))
            batches[assignment_id] = {o.example.student_id: o for o in grade_examples(course.assignment(assignment_id), made)}
        return batches[assignment_id]

    return of


@pytest.mark.parametrize(("assignment_id", "mistake"),
                         [(a, m) for a in assignments() for m in mistakes(a)],
                         ids=lambda v: v if isinstance(v, str) else v.name)
def test_mistake_loses_exactly_its_checks(course, graded, assignment_id, mistake):
    """Does each typical mistake lose exactly the points of the checks it breaks, with a Japanese message?"""
    outcome = graded(assignment_id)[mistake.name]
    result = outcome.result

    assert result.student_id == mistake.name
    assert result.status == Status.GRADED, result.message
    assert set(result.lost()) == mistake.lost
    lost_points = sum(c.max_points for c in result.checks if c.grade_id in mistake.lost)
    assert result.score == automatic(course, assignment_id)[1] - lost_points
    first_lost = next(c for c in result.checks if c.grade_id in mistake.lost)
    assert mistake.says in first_lost.message
    assert outcome.ok, (outcome.expected, outcome.got)  # and `python -m autograder examples` says OK for it
