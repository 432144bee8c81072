"""A course folder: its course_config.py and the nbgrader folders beneath it."""
from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import ModuleType

from autograder.course.config import CourseConfig
from autograder.errors import AutograderError


class CourseError(AutograderError):
    """A course folder that cannot be used; the message is Japanese / English."""

    exit_code = 2


class NotReleased(AutograderError):
    """The assignment has not been released yet (nbgrader has not generated it); run ``release`` first."""

    exit_code = 2

    @classmethod
    def run_release(cls, assignment_id: str, what: str) -> NotReleased:
        """The error saying ``what`` is missing and that ``release`` comes first (Japanese / English)."""
        return cls(f"{what} がありません。先に python -m autograder release {assignment_id} を実行してください / "
                   f"{what} is missing: run `python -m autograder release {assignment_id}` first")


@dataclass(frozen=True)
class Course:
    """A course folder and its settings."""

    root: Path
    """The course folder: holds course_config.py, source/, release/, submitted/ …"""

    config: CourseConfig
    """The ``CONFIG`` of the folder's course_config.py, checked against its schema when it was made."""

    @property
    def db_url(self) -> str:
        """The gradebook's SQLAlchemy URL (SQLite in the course folder unless configured)."""
        return self.config.db_url or f"sqlite:///{self.root / 'gradebook.db'}"

    def source_notebook(self, assignment_id: str) -> Path:
        return self.root / "source" / assignment_id / f"{assignment_id}.ipynb"

    def release_notebook(self, assignment_id: str) -> Path:
        return self.root / "release" / assignment_id / f"{assignment_id}.ipynb"

    def submitted_dir(self) -> Path:
        return self.root / "submitted"

    def submission_notebook(self, assignment_id: str, student_id: str) -> Path:
        return self.submitted_dir() / student_id / assignment_id / f"{assignment_id}.ipynb"

    def autograded_dir(self, assignment_id: str, student_id: str) -> Path:
        return self.root / "autograded" / student_id / assignment_id

    def feedback_path(self, assignment_id: str, student_id: str) -> Path:
        """Where nbgrader keeps ``student_id``'s feedback page on ``assignment_id``."""
        return self.root / "feedback" / student_id / assignment_id / f"{assignment_id}.html"

    def upload_folder(self, student_id: str, assignment_id: str) -> Path:
        """Where the portal keeps a student's uploads of an assignment, each under its own time stamp."""
        return self.root / "portal" / "uploads" / student_id / assignment_id

    def manual_path(self, assignment_id: str) -> Path:
        """What the manual grading of ``assignment_id`` keeps beside nbgrader's gradebook: its rubric, the item each
        answer carries and a digest of each graded answer (``autograder.tools.manual``)."""
        return self.root / "manual" / f"{assignment_id}.json"

    def log_path(self, name: str) -> Path:
        """A log of the instructor's commands (``grade-kadai5.csv``, ``collect-kadai5.csv``) under ``logs/``, its folder made."""
        path = self.root / "logs" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def gradebook(self):
        """nbgrader's gradebook of this course, as a context manager (``with course.gradebook() as gb:``)."""
        from nbgrader.api import Gradebook

        return Gradebook(self.db_url, self.config.course_id)

    def student_ids(self) -> list[str]:
        """Every student folder under ``submitted/``, sorted."""
        folder = self.submitted_dir()
        if not folder.is_dir():
            return []
        return sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))

    def file_submission(self, assignment_id: str, student_id: str, notebook: str | bytes,
                        submitted_at: datetime | None = None) -> Path:
        """Put ``notebook`` where nbgrader looks for ``student_id``'s work on ``assignment_id``, and its submission
        time (with its time zone) in nbgrader's ``timestamp.txt`` beside it; returns the notebook's path."""
        path = self.submission_notebook(assignment_id, student_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(notebook.encode("utf-8") if isinstance(notebook, str) else notebook)
        stamp = path.parent / TIMESTAMP
        if submitted_at is None:
            stamp.unlink(missing_ok=True)  # an earlier submission's time must not stay with this one
        else:
            if submitted_at.tzinfo is None:
                raise ValueError("submitted_at needs its time zone")
            stamp.write_text(submitted_at.isoformat(sep=" "), encoding="utf-8")
        return path

    def submission_time(self, assignment_id: str, student_id: str) -> tuple[str | None, datetime | None, str | None]:
        """The submission time in nbgrader's ``timestamp.txt``: (its text, naive UTC, why it cannot be read).

        ``(None, None, None)`` when there is none (the time is then unknown, never "late").
        """
        from nbgrader.utils import parse_utc

        stamp = self.submission_notebook(assignment_id, student_id).parent / TIMESTAMP
        if not stamp.is_file():
            return None, None, None
        text = stamp.read_text(encoding="utf-8", errors="replace").strip()
        if not text:
            return None, None, None
        try:
            return text, parse_utc(text), None
        except ValueError:
            return text, None, f"timestamp.txt の日時が読めません / unreadable timestamp.txt: {text[:60]!r}"


TIMESTAMP = "timestamp.txt"
"""nbgrader's file of a submission's time, beside the notebook (``parse_utc`` keeps the written offset)."""


def _import_config(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"course_config_{abs(hash(path))}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file runs
    spec.loader.exec_module(module)
    return module


def load_course(root: Path | str) -> Course:
    """Read ``root/course_config.py``; raises ``CourseError`` if it is missing or has no ``CONFIG``."""
    root = Path(root).resolve()
    path = root / "course_config.py"
    if not path.is_file():
        raise CourseError(
            f"{path} がありません。コースのフォルダで実行するか --course-dir を指定してください。 / "
            f"{path} not found: run from the course folder or pass --course-dir."
        )
    module = _import_config(path)
    if not hasattr(module, "CONFIG"):
        raise CourseError(f"{path} に CONFIG がありません / {path} defines no CONFIG")
    if not isinstance(module.CONFIG, CourseConfig):
        raise CourseError(
            f"{path} の CONFIG は autograder.course.config.CourseConfig ではありません。"
            "from autograder.course.config import AssignmentConfig, CourseConfig として使ってください / "
            f"CONFIG in {path} is not an autograder.course.config.CourseConfig: import the schema from there"
        )
    return Course(root=root, config=module.CONFIG)


COURSE_DIR_ENV = "AUTOGRADER_COURSE_DIR"


def current_course() -> Course:
    """The course a grading kernel works for: ``$AUTOGRADER_COURSE_DIR``, else the nearest folder up with course_config.py."""
    import os

    if os.environ.get(COURSE_DIR_ENV):
        return load_course(os.environ[COURSE_DIR_ENV])
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "course_config.py").is_file():
            return load_course(folder)
    raise CourseError(
        f"course_config.py が見つかりません / no course_config.py above {here}; set {COURSE_DIR_ENV}"
    )
