"""A late-submission penalty for nbgrader's ``AssignLatePenalties``, used with ``late_policy = "penalty"``."""
from __future__ import annotations

import math

from nbgrader.plugins import LateSubmissionPlugin
from traitlets import Float


class PointsPerHour(LateSubmissionPlugin):
    """Take ``points_per_hour`` points off for every started hour after the due date (never below 0 points).

    The example plugin of nbgrader's documentation, which nbgrader does not ship.
    """

    points_per_hour = Float(1.0, help="Points taken off for each started hour late.").tag(config=True)

    def late_submission_penalty(self, student_id: str, score: float, total_seconds_late: float) -> float:
        return min(score, math.ceil(total_seconds_late / 3600) * self.points_per_hour)
