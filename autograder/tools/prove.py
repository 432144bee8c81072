"""Proving an assignment before release: the solution earns full marks, the untouched release earns 0.

The steps, in order: the notebook agrees with course_config; nbgrader generates
the student version in a scratch course; both versions are submitted there and
graded exactly as students' work is; the verdicts are compared with what they
must be.  Nothing of the real course (its gradebook, release/) is touched.

A passed proof is recorded (``logs/proofs.json``) under the digest of what it proved:
the grading bundle's (``course_config.py``, ``source/<id>/`` and the check files), so
that ``release`` right after ``prove`` does not grade the same inputs again.
"""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from autograder.course import Assignment, Course
from autograder.course.results import Status, SubmissionResult
from autograder.errors import AutograderError
from autograder.grading.bundle import make_bundle
from autograder.grading.grade import grade, nbgrader_api

SOLUTION, RELEASE = "_solution", "_release"

# Errors a graded cell of the untouched release may end with: the student has not
# written the code yet.  Any other (ImportError, TypeError inside a check …) is a
# fault of the assignment or the toolkit, and the proof fails.
NOT_YET_WRITTEN = ("NotAttempted", "AssertionError", "NameError", "NotImplementedError", "CheckFailed")


class ReleaseError(AutograderError):
    """Generating a student version failed; the message is bilingual."""


@dataclass
class Proof:
    """The outcome of proving one assignment."""

    solution: SubmissionResult | None = None
    release: SubmissionResult | None = None
    problems: list[str] = field(default_factory=list)
    """Every reason the assignment may not be released (bilingual); empty if it may."""

    proven_at: str | None = None
    """For a proof not run again (``release`` after ``prove`` of the same inputs): when those inputs passed (UTC,
    ISO 8601); ``solution`` and ``release`` are then None.  None for a proof just run."""

    @property
    def ok(self) -> bool:
        return not self.problems


def generate_release(assignment: Assignment) -> Path:
    """Run nbgrader's generate_assignment: source/<id>/ → release/<id>/; returns the release notebook."""
    outcome = nbgrader_api(assignment.course).generate_assignment(assignment.id, force=True, create=True)
    if not outcome["success"]:
        raise ReleaseError(f"nbgrader generate_assignment failed: {outcome.get('error') or outcome.get('log')}")
    return assignment.release


def scratch_course(assignment: Assignment, folder: Path) -> Course:
    """A copy of ``assignment``'s course in ``folder`` with only its source and its own SQLite gradebook."""
    course = assignment.course
    shutil.copytree(assignment.source_dir, folder / "source" / assignment.id)
    shutil.copyfile(course.root / "course_config.py", folder / "course_config.py")  # grading kernels read it
    return Course(root=folder, config=dataclasses.replace(course.config, db_url=None))


def _judge(proof: Proof) -> None:
    solution, release = proof.solution, proof.release
    for name, result in (("solution", solution), ("release", release)):
        if result.status != Status.GRADED:
            proof.problems.append(f"{name}: status {result.status}: {result.message}")
    if solution.status == Status.GRADED:
        for check in solution.checks:
            if not check.manual and not check.passed:
                proof.problems.append(
                    f"解答で {check.grade_id} が満点になりません / the solution loses {check.grade_id}: {check.message}"
                )
    if release.status == Status.GRADED:
        if release.score != 0:
            proof.problems.append(f"未記入の配布版が {release.score:g} 点になります / the untouched release scores {release.score:g}")
        for check in release.checks:
            if check.error and check.error not in NOT_YET_WRITTEN:
                proof.problems.append(f"配布版の {check.grade_id} で採点エラー / grader error in {check.grade_id}: {check.message}")


def prove(assignment: Assignment) -> Proof:
    """Grade the solution and the untouched student version of ``assignment`` in a scratch course.

    A passed proof is recorded under the digest of its inputs (``earlier_proof`` finds it); a failed one
    removes the record of the assignment.  Raises ``UnknownAssignment`` for an id course_config does not list.
    """
    assignment.config  # raises UnknownAssignment for an id course_config does not list, before anything is read
    inputs = proof_inputs(assignment)  # before copying: what the scratch course is made of
    proof = Proof(problems=assignment.disagreements())
    if not proof.problems:
        with tempfile.TemporaryDirectory(prefix=f"prove-{assignment.id}-") as tmp:
            scratch = scratch_course(assignment, Path(tmp)).assignment(assignment.id)
            release = generate_release(scratch)
            scratch.file_submission(SOLUTION, scratch.source.read_bytes())
            scratch.file_submission(RELEASE, release.read_bytes())
            proof.solution, proof.release = grade(scratch.course, scratch.id, [SOLUTION, RELEASE])
        _judge(proof)
    _record(assignment, inputs if proof.ok else None)
    return proof


# ---- the record of passed proofs ------------------------------------------------------------------------------

PROOFS = "proofs.json"
"""Under ``logs/``: assignment id → ``{"inputs": digest, "proven_at": UTC time}`` of its last passed proof."""


def proof_inputs(assignment: Assignment) -> str:
    """The digest of everything a proof of ``assignment`` grades with: the grading bundle's digest
    (``course_config.py``, ``source/<id>/``, the check files; ``autograder.grading.bundle``)."""
    return make_bundle(assignment).digest


def _records(course: Course) -> dict:
    path = course.log_path(PROOFS)
    if not path.is_file():
        return {}
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:  # a record cut short (a machine that stopped while writing): no proof is reused, all is proven
        return {}
    return records if isinstance(records, dict) else {}


def _record(assignment: Assignment, inputs: str | None) -> None:
    """Keep ``inputs`` as ``assignment``'s passed proof, or forget its record (``None``).

    Written whole and renamed into place: a reader never sees half a file.  Two proofs finishing at once may
    lose one's record, which costs only a proof again at release.
    """
    records = _records(assignment.course)
    if inputs is None:
        if records.pop(assignment.id, None) is None:
            return
    else:
        records[assignment.id] = {"inputs": inputs,
                                  "proven_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    path = assignment.course.log_path(PROOFS)
    partial = path.with_name(f".{PROOFS}.{os.getpid()}")
    partial.write_text(json.dumps(records, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(partial, path)


def earlier_proof(assignment: Assignment) -> Proof | None:
    """The passed proof of exactly the present inputs of ``assignment`` (``Proof.proven_at`` set), or None."""
    record = _records(assignment.course).get(assignment.id)
    if not isinstance(record, dict) or record.get("inputs") != proof_inputs(assignment):
        return None
    return Proof(proven_at=str(record.get("proven_at")))


def release(assignment: Assignment, skip_proof: bool = False) -> tuple[Path, Proof | None]:
    """Prove ``assignment`` (unless ``skip_proof``, or a passed proof of the same inputs is on record: then
    that one, with ``proven_at``) and write ``release/<id>/<id>.ipynb``.

    Raises ``ReleaseError`` listing every problem when the proof fails; nothing is written then.
    """
    proof = None
    if not skip_proof:
        proof = earlier_proof(assignment) or prove(assignment)
        if not proof.ok:
            raise ReleaseError("配布できません / cannot release:\n- " + "\n- ".join(proof.problems))
    return generate_release(assignment), proof
