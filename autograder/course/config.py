"""The schema of a course's settings: ``CourseConfig`` and ``AssignmentConfig``, checked when they are made.

A course folder's ``course_config.py`` only sets values (``CONFIG = CourseConfig(...)``);
the fields, their types, defaults and allowed choices live here, one sentence each.
A wrong value is found when the file loads, with a bilingual message naming the field,
never later as a ``KeyError`` in the middle of grading.
"""
from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from autograder.errors import AutograderError

LatePolicy = Literal["reject", "penalty"]


class ConfigError(AutograderError):
    """A setting of ``course_config.py`` has the wrong type or value (the message names the field)."""

    exit_code = 2


def _fits(value, kind) -> bool:
    """Whether ``value`` is of the annotated type ``kind`` (the few kinds used in these settings)."""
    origin = typing.get_origin(kind)
    if kind is typing.Any:
        return True
    if origin is Literal:
        return value in typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        return any(_fits(value, option) for option in typing.get_args(kind))
    if origin is tuple:
        args = typing.get_args(kind)
        if not isinstance(value, tuple):
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return all(_fits(item, args[0]) for item in value)
        return len(args) == len(value) and all(_fits(item, arg) for item, arg in zip(value, args))
    if kind is type(None):
        return value is None
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


def _describe(kind) -> str:
    if typing.get_origin(kind) is Literal:
        return " / ".join(repr(choice) for choice in typing.get_args(kind))
    if isinstance(kind, type):
        return kind.__name__
    return str(kind).replace("typing.", "").replace("pathlib.", "").replace("datetime.", "")


def _validate(settings) -> None:
    """Raise ``ConfigError`` for the first field of ``settings`` whose value does not fit its annotation."""
    hints = typing.get_type_hints(type(settings), globalns=globals())
    for field in dataclasses.fields(settings):
        value = getattr(settings, field.name)
        if not _fits(value, hints[field.name]):
            where = f"{type(settings).__name__}.{field.name}"
            if isinstance(settings, AssignmentConfig):
                where = f"AssignmentConfig({settings.id!r}).{field.name}"
            raise ConfigError(
                f"course_config.py の {where} が {value!r} です。{_describe(hints[field.name])} にしてください / "
                f"course_config.py: {where} is {value!r}; expected {_describe(hints[field.name])}"
            )


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

    def __post_init__(self) -> None:
        _validate(self)
        if self.due.tzinfo is None:
            raise ConfigError(f"course_config.py: AssignmentConfig({self.id!r}).due にはタイムゾーンが必要です "
                              f"(tzinfo=JST) / due needs a time zone")


@dataclass(frozen=True)
class CourseConfig:
    """The course as a whole."""

    course_id: str
    """nbgrader's course id (stored in the gradebook)."""

    timezone: str
    """Time zone of every deadline and time stamp."""

    assignments: tuple[AssignmentConfig, ...]
    """Every assignment, in course order."""

    cell_timeout: int = 600
    """Seconds one notebook cell may run while grading before it is interrupted."""

    notebook_timeout: int = 1800
    """Seconds a whole notebook may run while grading; the cell running at that moment is interrupted,
    later cells get no time, and the checks that ran keep their points."""

    tf_threads: int = 1
    """TensorFlow intra-op and inter-op threads of each grading kernel (1 was fastest for these small MLPs on 2 cores)."""

    steps_per_execution: int = 32
    """Batches Keras runs per round trip in grading kernels when the student's ``compile`` sets none
    (same weights and history as 1, measured 2.3x faster at 32; 1 turns it off).  See autograder/grading/kernel/fast_keras.py."""

    workers: int | None = None
    """Submissions graded at once on the local Dask cluster; ``None`` means one per CPU core."""

    scheduler: str | None = None
    """Address of an existing Dask scheduler (``tcp://host:8786``) to grade on; ``None`` starts a local cluster."""

    data_dir: Path | None = None
    """A local copy of the Fashion-MNIST ``*.gz`` files to fill Keras's cache from; ``None`` uses Debian's package."""

    db_url: str | None = None
    """The gradebook as an SQLAlchemy URL; ``None`` means ``sqlite:///<course dir>/gradebook.db``."""

    sandbox_memory_mb: int = 4096
    """Memory one grading kernel may use, its files included (a cgroup limit; without cgroups, an address-space
    rlimit of four times this).  Over it, the kernel is stopped and the submission says so."""

    sandbox_processes: int = 512
    """Processes and threads one grading kernel may have at once (TensorFlow alone starts a few dozen)."""

    sandbox_disk_mb: int = 1024
    """Size of the grading kernel's home folder (its working folder), and the largest file it may write."""

    sandbox_cpus: float | None = None
    """At most this many CPU cores for one grading kernel, all its processes together (cgroup ``cpu.max``); ``None``:
    no cap.  Either way each kernel has a cgroup of its own with the same CPU weight as every other kernel, so one
    that starts many busy processes gets the share of one kernel, not of that many (issue 23)."""

    portal_db_url: str | None = None
    """The portal's accounts and uploads (``python -m autograder serve``) as an SQLAlchemy URL;
    ``None`` means ``sqlite:///<course dir>/portal/portal.db`` (in the portal's private folder)."""

    portal_upload_mb: int = 20
    """Largest notebook the portal accepts, in MB (a Colab notebook with its outputs is a few MB)."""

    portal_uploads_per_hour: int = 20
    """Uploads one student may make of one assignment in any hour (counted from the portal's database, so a
    restart forgets nothing); beyond it the portal refuses, telling the student when they may upload again."""

    portal_uploads_kept: int = 5
    """Uploads of one student and assignment whose files the portal keeps; after each new upload the older ones
    beyond this are deleted, except one waiting or being graded and the latest graded one (whose feedback shows)."""

    portal_session_minutes: int = 120
    """Minutes a portal sign-in lasts before the user must sign in again."""

    portal_signin_window_minutes: int = 15
    """Minutes over which the portal counts failed sign-ins; a lock ends at the latest this long after the
    failures that caused it (successful sign-ins never count).  See autograder/portal/throttle.py."""

    portal_signin_failures_per_account_and_address: int = 10
    """Failed sign-ins for one account from one address, within the window, after which that address may not
    try that account until the window has passed (other addresses, other accounts: unaffected)."""

    portal_signin_failures_per_account: int = 50
    """Failed sign-ins for one account from all addresses together, within the window, after which the account
    may be tried only from addresses it has signed in from before (a guess spread over many addresses)."""

    portal_signin_failures_per_address: int = 100
    """Failed sign-ins from one address for all accounts together, within the window, after which the address
    may not sign in (one machine trying many accounts); a lab behind one address mistypes far less."""

    portal_trusted_proxies: int = 0
    """Reverse proxies in front of the portal (an HTTPS proxy: 1) whose ``X-Forwarded-For`` and
    ``X-Forwarded-Proto`` are believed (werkzeug's ``ProxyFix``); 0 believes none: the client is the connection's address."""

    portal_secure_cookie: bool = False
    """Send the session cookie only over HTTPS (``Secure``); set it to True when the portal is behind an HTTPS proxy."""

    late_policy: LatePolicy = "reject"
    """What happens to work submitted after the due date.  ``"reject"`` (the lecture's rule,
    「締め切りを過ぎた課題は受け取らない」): recorded as late, not graded, 0 points, listed.
    ``"penalty"``: graded, and nbgrader's late-submission plugin ``late_plugin`` takes points off."""

    late_plugin: str = "autograder.course.late.PointsPerHour"
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

    collect_notebook_mb: int = 20
    """Largest notebook ``collect`` reads from an LMS download, in MB (uncompressed; the portal's own door is
    ``portal_upload_mb``).  A bigger entry is listed as not filed and never read; files that are not ``.ipynb``
    are never read at all."""

    export_columns: tuple[tuple[str, str], ...] = (
        ("student_id", "student_id"), ("name", "name"), ("score", "score"), ("max_score", "max_score"),
        ("status", "status"), ("late", "late"), ("manual_complete", "manual_complete"), ("message", "message"),
    )
    """Columns of the grades CSV as ``(header, field)``, in the order the LMS imports them.  Fields:
    ``student_id``, ``name``, ``score``, ``max_score``, ``status``, ``late``, ``manual_complete`` (``yes`` once every
    written answer has the instructor's points: the score is then final), ``submitted_at``, ``message``
    and any grade_id of the notebook (its points).  The graded cells follow unless ``export_cells`` is False."""

    export_cells: bool = True
    """Whether the grades CSV ends with one column per graded cell."""

    def __post_init__(self) -> None:
        _validate(self)
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(f"course_config.py の CourseConfig.timezone {self.timezone!r} はタイムゾーンではありません"
                              f"（例: 'Asia/Tokyo'） / CourseConfig.timezone {self.timezone!r} is not a time zone") from None
        ids = [a.id for a in self.assignments]
        if len(set(ids)) != len(ids):
            raise ConfigError(f"course_config.py: 課題の id が重複しています / assignment ids repeat: {ids}")
        for name, value in (("portal_uploads_per_hour", self.portal_uploads_per_hour),
                            ("portal_uploads_kept", self.portal_uploads_kept)):
            if value < 1:
                raise ConfigError(f"course_config.py の CourseConfig.{name} は1以上にしてください / "
                                  f"CourseConfig.{name} must be at least 1")

    def assignment(self, assignment_id: str) -> AssignmentConfig:
        """The assignment called ``assignment_id``; raises ``UnknownAssignment`` naming the known ones."""
        for assignment in self.assignments:
            if assignment.id == assignment_id:
                return assignment
        known = ", ".join(a.id for a in self.assignments)
        raise UnknownAssignment(
            f"課題 {assignment_id!r} は course_config.py にありません（登録済み: {known}） / "
            f"assignment {assignment_id!r} is not in course_config.py (known: {known})"
        )


class UnknownAssignment(AutograderError, KeyError):
    """An assignment id course_config.py does not list (a ``KeyError`` too, for ``config.assignment`` callers)."""

    exit_code = 2

    def __str__(self) -> str:  # KeyError would show the message in quotes
        return str(self.args[0]) if self.args else ""
