"""Settings of the course 「医療とAI・ビッグデータ応用」: the one place to change them.

Every command of ``python -m autograder`` reads this file from the course folder,
and ``nbgrader_config.py`` only translates it for nbgrader, so one setting is
edited in one place.  Values that also appear inside a notebook (the points of
its test cells, the accuracy goal shown to students) are checked against this
file by ``python -m autograder prove``, which refuses to release a notebook that
disagrees with it.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

TIMEZONE = "Asia/Tokyo"
JST = ZoneInfo(TIMEZONE)


@dataclass(frozen=True)
class AssignmentConfig:
    """One assignment (課題) of the course."""

    id: str
    """nbgrader's assignment name and folder: ``source/<id>/<id>.ipynb``."""

    title: str
    """Title students and the instructor see (Japanese)."""

    due: datetime
    """Deadline, with its time zone (late work is not accepted: see the lecture)."""

    points: int
    """Total points of the notebook, automatic and manual; must equal the sum of its graded cells."""

    accuracy_threshold: float
    """Test accuracy the assignment's model must reach, measured by the grader on the real test set."""

    recall_threshold: float | None = None
    """Recall of the positive class (kadai5: malignant) the model must reach on the test set; ``None``: not checked."""


@dataclass(frozen=True)
class CourseConfig:
    """The course as a whole."""

    course_id: str
    """nbgrader's course id (stored in the gradebook)."""

    timezone: str
    """Time zone of every deadline and time stamp."""

    assignments: tuple[AssignmentConfig, ...]
    """Every assignment, in course order."""

    cell_timeout: int
    """Seconds one notebook cell may run while grading before it is interrupted."""

    notebook_timeout: int
    """Seconds a whole notebook may run while grading; the cell running at that moment is interrupted,
    later cells get no time, and the checks that ran keep their points."""

    tf_threads: int
    """TensorFlow intra-op and inter-op threads of each grading kernel (1 was fastest for these small MLPs on 2 cores)."""

    steps_per_execution: int
    """Batches Keras runs per round trip in grading kernels when the student's ``compile`` sets none
    (same weights and history as 1, measured 2.3x faster at 32; 1 turns it off).  See autograder/fast_keras.py."""

    workers: int | None
    """Submissions graded at once on the local Dask cluster; ``None`` means one per CPU core."""

    scheduler: str | None
    """Address of an existing Dask scheduler (``tcp://host:8786``) to grade on; ``None`` starts a local cluster."""

    data_dir: Path | None
    """A local copy of the Fashion-MNIST ``*.gz`` files to fill Keras's cache from; ``None`` uses Debian's package."""

    db_url: str | None
    """The gradebook as an SQLAlchemy URL; ``None`` means ``sqlite:///<course dir>/gradebook.db``."""

    sandbox_memory_mb: int = 4096
    """Memory one grading kernel may use, its files included (a cgroup limit; without cgroups, an address-space
    rlimit of four times this).  Over it, the kernel is stopped and the submission says so."""

    sandbox_processes: int = 512
    """Processes and threads one grading kernel may have at once (TensorFlow alone starts a few dozen)."""

    sandbox_disk_mb: int = 1024
    """Size of the grading kernel's home folder (its working folder), and the largest file it may write."""

    portal_db_url: str | None = None
    """The portal's accounts and uploads (``python -m autograder serve``) as an SQLAlchemy URL;
    ``None`` means ``sqlite:///<course dir>/portal.db``."""

    portal_upload_mb: int = 20
    """Largest notebook the portal accepts, in MB (a Colab notebook with its outputs is a few MB)."""

    portal_session_minutes: int = 120
    """Minutes a portal sign-in lasts before the user must sign in again."""

    portal_signin_limit: str = "10 per minute"
    """Sign-in attempts allowed per address (Flask-Limiter's notation)."""

    late_policy: str = "reject"
    """What happens to work submitted after the due date.  ``"reject"`` (the lecture's rule,
    「締め切りを過ぎた課題は受け取らない」): recorded as late, not graded, 0 points, listed.
    ``"penalty"``: graded, and nbgrader's late-submission plugin ``late_plugin`` takes points off."""

    late_plugin: str = "autograder.late.PointsPerHour"
    """With ``late_policy="penalty"``: the ``LateSubmissionPlugin`` class nbgrader uses (any import path;
    nbgrader's own ``nbgrader.plugins.LateSubmissionPlugin`` gives 0 points to late work)."""

    late_points_per_hour: float = 1.0
    """With the default ``late_plugin``: points taken off per started hour late."""

    lms_filename_pattern: str = r"(?P<student>[A-Za-z0-9]+)_(?P<time>\d{14})"
    """Regular expression searched in each file's path inside the LMS bulk download: group ``student``
    is the student id, group ``time`` the submission time (read with ``lms_time_format``)."""

    lms_time_format: str = "%Y%m%d%H%M%S"
    """``strptime`` format of the ``time`` group, in the course's time zone."""

    roster: str | None = None
    """CSV of the class (columns ``student_id``, ``name``), relative to the course folder; ``None``: no roster
    (then ``collect`` accepts every student id; ``collect --roster FILE`` overrides)."""

    export_columns: tuple[tuple[str, str], ...] = (
        ("student_id", "student_id"), ("name", "name"), ("score", "score"), ("max_score", "max_score"),
        ("status", "status"), ("late", "late"), ("message", "message"),
    )
    """Columns of the grades CSV as ``(header, field)``, in the order the LMS imports them.  Fields:
    ``student_id``, ``name``, ``score``, ``max_score``, ``status``, ``late``, ``submitted_at``, ``message``
    and any grade_id of the notebook (its points).  The graded cells follow unless ``export_cells`` is False."""

    export_cells: bool = True
    """Whether the grades CSV ends with one column per graded cell."""

    def assignment(self, assignment_id: str) -> AssignmentConfig:
        """The assignment called ``assignment_id``; raises ``KeyError`` naming the known ones."""
        for assignment in self.assignments:
            if assignment.id == assignment_id:
                return assignment
        known = ", ".join(a.id for a in self.assignments)
        raise KeyError(
            f"課題 {assignment_id!r} は course_config.py にありません（登録済み: {known}） / "
            f"assignment {assignment_id!r} is not in course_config.py (known: {known})"
        )


CONFIG = CourseConfig(
    course_id="medical-ai-bigdata",
    timezone=TIMEZONE,
    assignments=(
        AssignmentConfig(
            id="kadai3",
            title="課題3 MLP①: Fashion-MNIST を MLP で分類する",
            due=datetime(2027, 5, 9, 23, 59, tzinfo=JST),
            points=15,
            accuracy_threshold=0.85,
        ),
        AssignmentConfig(
            id="kadai4",
            title="課題4 MLP②: 学習結果の可視化と過学習",
            due=datetime(2027, 5, 16, 23, 59, tzinfo=JST),
            points=25,
            accuracy_threshold=0.87,
        ),
        AssignmentConfig(
            id="kadai5",
            title="課題5 応用: 乳がんの診断データで MLP",
            due=datetime(2027, 5, 23, 23, 59, tzinfo=JST),
            points=25,
            accuracy_threshold=0.93,
            recall_threshold=0.90,
        ),
    ),
    cell_timeout=600,
    notebook_timeout=1800,
    tf_threads=1,
    steps_per_execution=32,
    workers=None,
    scheduler=None,
    data_dir=None,
    db_url=None,
)
