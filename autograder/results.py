"""What grading found, as small records: one per check, one per submission."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

GRADED = "graded"
"""The notebook was executed and scored."""
INVALID = "invalid"
"""The file is not a readable notebook; nothing was run."""
ERROR = "error"
"""Grading itself failed (nbgrader raised); the message says why."""
MISSING = "missing"
"""The student's folder holds no notebook for this assignment."""
NOT_GRADED = "not_graded"
"""Submitted but not graded yet."""
LATE = "late"
"""Submitted after the due date under the ``reject`` policy: not graded, 0 points."""

STATUS_FILE = "autograder.json"


@dataclass
class CheckResult:
    """One graded cell of one submission."""

    grade_id: str
    """nbgrader's grade_id of the cell, e.g. ``q1_model``."""

    points: float | None
    """Points earned; ``None`` while a manually graded cell waits for the instructor."""

    max_points: float
    """Points the cell is worth."""

    message: str | None = None
    """Why points were lost (the check's Japanese message), or None."""

    manual: bool = False
    """Whether the instructor grades this cell by hand."""

    error: str | None = None
    """The exception class the cell ended with (``CheckFailed``, ``NameError`` …), or None."""

    @property
    def passed(self) -> bool:
        return self.points is not None and self.points >= self.max_points


@dataclass
class SubmissionResult:
    """The outcome of grading one student's submission."""

    student_id: str
    status: str
    """One of ``graded``, ``invalid``, ``error``, ``missing``, ``not_graded``, ``late``."""

    message: str = ""
    """What happened, for the instructor (Japanese / English)."""

    score: float = 0.0
    """Points earned so far (automatic plus any manual grades already given)."""

    max_score: float = 0.0
    checks: list[CheckResult] = field(default_factory=list)
    seconds: float = 0.0
    """Wall time spent grading this submission."""

    late_penalty: float = 0.0
    """Points nbgrader's late-submission plugin took off (``late_policy="penalty"``); ``score`` is net of it."""

    def check(self, grade_id: str) -> CheckResult:
        return next(c for c in self.checks if c.grade_id == grade_id)

    def lost(self) -> list[str]:
        """grade_ids of automatic checks that did not earn full points."""
        return [c.grade_id for c in self.checks if not c.manual and not c.passed]

    def save(self, folder: Path, fingerprint: str | None = None, host: str | None = None) -> None:
        """Write the status record (not the scores, which live in the gradebook) into ``folder``.

        ``fingerprint`` identifies what was graded (see ``autograder.bundle.fingerprint``),
        so that grading again can skip it; ``host`` is the worker that graded it.
        """
        folder.mkdir(parents=True, exist_ok=True)
        record = {"status": self.status, "message": self.message, "seconds": round(self.seconds, 2),
                  "fingerprint": fingerprint, "host": host}
        (folder / STATUS_FILE).write_text(json.dumps(record, ensure_ascii=False, indent=1), encoding="utf-8")


def load_status(folder: Path) -> dict | None:
    """The status record ``save`` wrote into ``folder``, or None."""
    path = folder / STATUS_FILE
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))
