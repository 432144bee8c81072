"""A course folder: its course_config.py and the nbgrader folders beneath it."""
from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import ModuleType

from autograder.course.assignment import Assignment
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

    def assignment(self, assignment_id: str) -> Assignment:
        """The assignment ``assignment_id`` of this course: its settings, notebooks (read once, when first asked),
        graded cells and paths (``autograder.course.assignment``)."""
        return Assignment(self, assignment_id)

    # Thin delegates to ``assignment(id)``, kept because many callers (tests, the portal, the engine) ask the course.

    def source_notebook(self, assignment_id: str) -> Path:
        return self.assignment(assignment_id).source

    def release_notebook(self, assignment_id: str) -> Path:
        return self.assignment(assignment_id).release

    def submitted_dir(self) -> Path:
        return self.root / "submitted"

    def submission_notebook(self, assignment_id: str, student_id: str) -> Path:
        return self.assignment(assignment_id).submitted(student_id)

    def autograded_dir(self, assignment_id: str, student_id: str) -> Path:
        return self.assignment(assignment_id).autograded_dir(student_id)

    def feedback_path(self, assignment_id: str, student_id: str) -> Path:
        """Where nbgrader keeps ``student_id``'s feedback page on ``assignment_id``."""
        return self.assignment(assignment_id).feedback(student_id)

    def log_path(self, name: str) -> Path:
        """A log of the instructor's commands (``grade-kadai5.csv``, ``collect-kadai5.csv``) under ``logs/``, its folder made."""
        path = self.root / "logs" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def gradebook(self):
        """nbgrader's gradebook of this course, as a context manager (``with course.gradebook() as gb:``)."""
        from nbgrader.api import Gradebook

        return Gradebook(self.db_url, self.config.course_id)

    def record_names(self, names: dict[str, str]) -> None:
        """Write a roster's names (student id → name as the roster writes it) into nbgrader's gradebook, creating the
        students it lacks: the class page, the manual grading pages, the grades CSV and the report read them there
        (``student_names``), as does nbgrader's formgrader.  A Japanese roster writes the family name first, so a
        name is split at its first space into ``last_name`` (family) and ``first_name`` (given); one without a
        space is all ``last_name``.  ``student_names`` joins them back in that order: the roster's text comes back."""
        with self.gradebook() as gb:
            for student_id, name in names.items():
                family, _, given = " ".join(name.split()).partition(" ")
                gb.update_or_create_student(student_id, last_name=family or None, first_name=given or None)

    def student_names(self) -> dict[str, str]:
        """student id → name as ``record_names`` put it into nbgrader's gradebook (family name first; '' if none)."""
        with self.gradebook() as gb:
            return gradebook_names(gb)

    def student_ids(self) -> list[str]:
        """Every student folder under ``submitted/``, sorted."""
        folder = self.submitted_dir()
        if not folder.is_dir():
            return []
        return sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))

    def file_submission(self, assignment_id: str, student_id: str, notebook: str | bytes,
                        submitted_at: datetime | None = None) -> Path:
        """``Assignment.file_submission``: file ``student_id``'s notebook and its submission time; returns its path."""
        return self.assignment(assignment_id).file_submission(student_id, notebook, submitted_at)


def gradebook_names(gb) -> dict[str, str]:
    """student id → name in an open nbgrader gradebook, as ``Course.record_names`` put it (family name first)."""
    return {s.id: " ".join(n for n in (s.last_name, s.first_name) if n) for s in gb.students}


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
