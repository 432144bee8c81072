"""`release` after `prove` of the same inputs does not prove again (the real proof runs in tests/checks/test_grading.py).

Here grading is a stand-in that counts its batches and answers as a passing (or failing) proof would, and
nbgrader's generation a copy of the source, so the record of passed proofs is tested in seconds: kept under the inputs' digest, reused only for the very same
course_config.py, source notebook and check files, forgotten when a proof fails.
"""
from __future__ import annotations

import pytest

from autograder.cli import main
from autograder.course.results import CheckResult, Status, SubmissionResult
from autograder.tools import prove as proving
from autograder.tools.prove import RELEASE, SOLUTION, ReleaseError, earlier_proof, release, scratch_course


@pytest.fixture
def batches(monkeypatch):
    """The batches graded so far (each a list of student ids); ``batches.passing = False`` makes the solution lose."""

    class Batches(list):
        passing = True

    graded = Batches()

    def stand_in(course, assignment_id, students, **_):
        graded.append(list(students))
        solution_points = 20 if graded.passing else 0
        return [SubmissionResult(SOLUTION, Status.GRADED, score=solution_points, max_score=20,
                                 checks=[CheckResult("q1", solution_points, 20)]),
                SubmissionResult(RELEASE, Status.GRADED, score=0, max_score=20, checks=[CheckResult("q1", 0, 20)])]

    def generated(assignment):
        assignment.release.parent.mkdir(parents=True, exist_ok=True)
        assignment.release.write_bytes(assignment.source.read_bytes())
        return assignment.release

    monkeypatch.setattr(proving, "grade", stand_in)
    monkeypatch.setattr(proving, "generate_release", generated)
    return graded


def test_release_reuses_a_passed_proof_of_the_same_inputs(course, tmp_path, batches, capsys):
    """Does `release` right after `prove` write the release without grading again, and say so in one line?"""
    scratch = scratch_course(course.assignment("kadai5"), tmp_path / "course")
    assert earlier_proof(scratch.assignment("kadai5")) is None
    assert proving.prove(scratch.assignment("kadai5")).ok and len(batches) == 1
    assert earlier_proof(scratch.assignment("kadai5")).proven_at

    assert main(["release", "kadai5", "--course-dir", str(scratch.root)]) == 0
    assert len(batches) == 1  # not proven again
    out = capsys.readouterr().out
    assert "証明し直しません" in out and "not proving again" in out and scratch.release_notebook("kadai5").is_file()

    with open(scratch.root / "course_config.py", "a", encoding="utf-8") as f:
        f.write("\n# a changed setting\n")
    assert earlier_proof(scratch.assignment("kadai5")) is None
    path, proof = release(scratch.assignment("kadai5"))
    assert len(batches) == 2 and proof.proven_at is None and proof.solution.score == 20
    assert earlier_proof(scratch.assignment("kadai5")) is not None  # the new inputs are on record now


def test_a_failed_proof_forgets_the_record(course, tmp_path, batches):
    """After a passed proof, does a failed one of the same inputs remove the record, so release proves (and refuses)?"""
    scratch = scratch_course(course.assignment("kadai5"), tmp_path / "course")
    assert proving.prove(scratch.assignment("kadai5")).ok
    batches.passing = False
    assert not proving.prove(scratch.assignment("kadai5")).ok
    assert earlier_proof(scratch.assignment("kadai5")) is None
    with pytest.raises(ReleaseError, match="q1"):
        release(scratch.assignment("kadai5"))
    assert len(batches) == 3 and not scratch.release_notebook("kadai5").exists()


def test_a_changed_check_is_proven_again(course, tmp_path, batches, monkeypatch):
    """Does editing the assignment's checks (a file of the proof's inputs, not of the course) void the record?"""
    import shutil

    from autograder.grading import bundle

    checks = tmp_path / "toolkit" / "autograder" / "checks"
    shutil.copytree(bundle.CHECKS, checks, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(bundle, "CHECKS", checks)
    scratch = scratch_course(course.assignment("kadai5"), tmp_path / "course")
    assert proving.prove(scratch.assignment("kadai5")).ok and earlier_proof(scratch.assignment("kadai5"))
    with open(checks / "kadai5" / "__init__.py", "a", encoding="utf-8") as f:
        f.write("\n# a stricter check\n")
    assert earlier_proof(scratch.assignment("kadai5")) is None
