"""nbgrader's traitlets configuration, derived from a course's settings, and the process it runs in."""
from __future__ import annotations

import os
import sys
import time
import warnings
from pathlib import Path

from sqlalchemy.exc import SAWarning
from traitlets.config import Config

from autograder.course import Course

CODE_STUB = "# ここにコードを書いてください (YOUR CODE HERE)\nraise NotImplementedError()"
TEXT_STUB = "ここに答えを書いてください (YOUR ANSWER HERE)"

# nbgrader's Gradebook runs the ``alembic`` command, so the folder of this
# interpreter (a virtualenv's bin/, maybe not activated) must be on PATH.
_BIN = str(Path(sys.executable).parent)
if _BIN not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = _BIN + os.pathsep + os.environ.get("PATH", "")

# nbgrader 0.9's gradebook code makes SQLAlchemy 2 warn about autoflush on every
# submission; the warnings are about nbgrader's internals, not the instructor's data.
warnings.filterwarnings("ignore", category=SAWarning)


TIMEOUT_MESSAGE = "制限時間を超えたため中断しました / interrupted: over the time limit"

IOPUB_PATIENCE = 30
"""Seconds nbclient waits, after a cell's reply, for the rest of its output on IOPub (nbclient's default is 4).

A live kernel on a busy machine can be that slow: the kernel replies, and its IOPub thread gets the CPU seconds
later.  With 4 s, a classmate's honest notebook graded beside a kernel of sixty busy processes ended ``error``
(issue 23).  A kernel that died is still noticed within a second (nbclient polls that it is alive), so only a
kernel that is alive and silent for this long is given up on; nbgrader then raises (``raise_on_iopub_timeout``),
as a grade with a lost output would be wrong."""


class NotebookDeadline:
    """nbclient's ``timeout_func``: each cell gets ``cell_timeout`` seconds, never past the notebook's own limit.

    The notebook's clock starts at its first cell.  Once it has run out, every
    later cell is interrupted after a second, so the test cells that already
    ran keep their points and the rest are reported as timed out.  One object
    serves one notebook: ``nbgrader_config`` makes a new one each call.
    """

    def __init__(self, cell_timeout: int, notebook_timeout: int):
        self.cell_timeout = cell_timeout
        self.notebook_timeout = notebook_timeout
        self.deadline: float | None = None

    def __call__(self, cell) -> int:
        now = time.monotonic()
        if self.deadline is None:
            self.deadline = now + self.notebook_timeout
        return max(1, int(min(self.cell_timeout, self.deadline - now)))


def nbgrader_config(course: Course) -> Config:
    """The nbgrader ``Config`` for ``course``: folders, gradebook, time zone, timeouts, stubs."""
    settings = course.config
    c = Config()
    c.CourseDirectory.root = str(course.root)
    c.CourseDirectory.course_id = settings.course_id
    c.CourseDirectory.db_url = course.db_url
    c.NbGraderAPI.timezone = settings.timezone
    c.Exchange.timezone = settings.timezone
    c.Execute.timeout = settings.cell_timeout
    c.Execute.timeout_func = NotebookDeadline(settings.cell_timeout, settings.notebook_timeout)
    c.Execute.interrupt_on_timeout = True
    c.Execute.iopub_timeout = IOPUB_PATIENCE
    c.Execute.raise_on_iopub_timeout = True
    c.Execute.error_on_timeout = {
        "ename": "CellTimeoutError",
        "evalue": TIMEOUT_MESSAGE,
        "traceback": [f"CellTimeoutError: {TIMEOUT_MESSAGE}"],
    }
    if getattr(settings, "late_policy", "reject") == "penalty":
        c.AssignLatePenalties.plugin_class = settings.late_plugin
        c.PointsPerHour.points_per_hour = settings.late_points_per_hour
        c.LateSubmissionPlugin.penalty_method = "zero"  # only if late_plugin is nbgrader's own
    c.ClearSolutions.code_stub = {"python": CODE_STUB}
    c.ClearSolutions.text_stub = TEXT_STUB
    return c


def grading_resources(course: Course, assignment_id: str, student_id: str) -> dict:
    """What nbgrader's gradebook preprocessors (``SaveAutoGrades``, ``AssignLatePenalties``) read of one submission
    (the notebook is named for its assignment)."""
    return {"nbgrader": {"notebook": assignment_id, "assignment": assignment_id, "student": student_id,
                         "db_url": course.db_url}}
