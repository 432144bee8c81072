"""One assignment of a course: its settings, its notebooks parsed once, its graded cells and every path of its files.

``course.assignment("kadai5")`` is an ``Assignment``: nothing is read when it is made; the source and release
notebooks are each read once, the first time something asks (a command holds one ``Assignment`` for its whole
run, so an edited notebook is seen by the next command, never half-way through one).  Its paths are nbgrader's
course directory (``source/<id>/<id>.ipynb``, ``submitted/<student>/<id>/``, ``autograded/…``, ``feedback/…``)
and this toolkit's own (``reports/<id>.html``, ``solutions/<id>/``, ``manual/<id>.json``, the portal's uploads).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import nbformat

from autograder.course.cells import grade_id, is_grade, is_solution, points

if TYPE_CHECKING:
    from autograder.course.config import AssignmentConfig
    from autograder.course.model import Course

GOAL_PATTERN = re.compile(r"^ACCURACY_GOAL\s*=\s*([0-9.]+)\s*$", re.MULTILINE)
RECALL_PATTERN = re.compile(r"^RECALL_GOAL\s*=\s*([0-9.]+)\s*$", re.MULTILINE)
TITLE_LENGTH = 40
"""The longest question title, in characters (a longer heading is cut, with 「…」)."""

TIMESTAMP = "timestamp.txt"
"""nbgrader's file of a submission's time, beside the notebook (``parse_utc`` keeps the written offset)."""


@dataclass(frozen=True)
class GradedCell:
    """A cell nbgrader scores."""

    grade_id: str
    points: float
    manual: bool
    """True for an answer the instructor reads (a solution cell that is also graded)."""

    title: str | None = None
    """The heading of its question in the notebook (``## 問3　学習（2点）`` → 「問3 学習」), None when no heading
    stands above it (``question_title``)."""


def heading(source: str) -> str | None:
    """The first heading of a markdown text, as a title: no ``#``, no points in brackets at its end, one space for
    any run of spaces (「## 問3　学習（2点）」 → 「問3 学習」), at most ``TITLE_LENGTH`` characters; None without one."""
    for line in source.splitlines():
        if not line.lstrip().startswith("#"):
            continue
        title = " ".join(line.strip().lstrip("#").replace("*", "").replace("`", "").split())
        for opening, closing in (("（", "）"), ("(", ")")):
            start = title.rfind(opening)
            if title.endswith(closing) and start > 0 and "点" in title[start:]:
                title = title[:start].rstrip()
        if title:
            return title if len(title) <= TITLE_LENGTH else title[:TITLE_LENGTH] + "…"
    return None


def graded_cells(notebook: nbformat.NotebookNode) -> list[GradedCell]:
    """The graded cells of a notebook, in notebook order, each titled by the last heading of a question text above
    it (a markdown cell that is not an answer: an answer's own heading titles nothing)."""
    cells, title = [], None
    for cell in notebook.cells:
        if cell.cell_type == "markdown" and not is_solution(cell):
            title = heading(cell.source) or title
        if is_grade(cell) and (name := grade_id(cell)) is not None:
            cells.append(GradedCell(name, points(cell), is_solution(cell), title))
    return cells


def question_titles(notebook: nbformat.NotebookNode) -> dict[str, str]:
    """grade_id → title of each graded cell of ``notebook``: its question's heading, else its grade_id."""
    return {cell.grade_id: cell.title or cell.grade_id for cell in graded_cells(notebook)}


def disagreements(notebook: nbformat.NotebookNode, config: AssignmentConfig) -> list[str]:
    """Where a source notebook disagrees with its ``AssignmentConfig`` (bilingual sentences); empty if none."""
    problems = []
    total = sum(c.points for c in graded_cells(notebook))
    if total != config.points:
        problems.append(
            f"採点セルの点数の合計が {total:g} 点ですが course_config.py では {config.points} 点です / "
            f"graded cells add up to {total:g} points, course_config.py says {config.points}"
        )
    text = "\n".join(cell.source for cell in notebook.cells)
    goals = [float(v) for v in GOAL_PATTERN.findall(text)]
    if goals and any(goal != config.accuracy_threshold for goal in goals):
        problems.append(
            f"ノートブックの ACCURACY_GOAL = {goals} が course_config.py の accuracy_threshold = "
            f"{config.accuracy_threshold} と違います / ACCURACY_GOAL in the notebook differs from course_config.py"
        )
    recalls = [float(v) for v in RECALL_PATTERN.findall(text)]
    if recalls and any(goal != config.recall_threshold for goal in recalls):
        problems.append(
            f"ノートブックの RECALL_GOAL = {recalls} が course_config.py の recall_threshold = "
            f"{config.recall_threshold} と違います / RECALL_GOAL in the notebook differs from course_config.py"
        )
    return problems


@dataclass(frozen=True)
class Assignment:
    """An assignment of a course (``course.assignment(id)``): its settings, notebooks, graded cells and paths.

    Nothing is read until asked; each notebook is then read once (``cached_property``).  An id that is not in
    course_config.py has paths and notebooks all the same; only ``config`` raises ``UnknownAssignment``.
    """

    course: Course
    id: str

    # ---- settings and notebooks, read once

    @cached_property
    def config(self) -> AssignmentConfig:
        """Its ``AssignmentConfig`` in course_config.py (title, due date, points, thresholds); raises
        ``UnknownAssignment`` for an id the course does not have."""
        return self.course.config.assignment(self.id)

    @cached_property
    def source_notebook(self) -> nbformat.NotebookNode:
        """The source notebook, parsed (solutions and hidden tests; raises ``OSError`` if it is missing)."""
        return nbformat.read(self.source, as_version=4)

    @cached_property
    def release_notebook(self) -> nbformat.NotebookNode:
        """The student version, parsed (raises ``OSError`` before ``release`` generated it)."""
        return nbformat.read(self.release, as_version=4)

    @cached_property
    def graded_cells(self) -> list[GradedCell]:
        """The source's graded cells in notebook order, automatic and manual, with their questions' titles."""
        return graded_cells(self.source_notebook)

    @property
    def manual_cells(self) -> list[GradedCell]:
        """The graded cells the instructor grades by hand (written answers)."""
        return [c for c in self.graded_cells if c.manual]

    @property
    def automatic_cells(self) -> list[GradedCell]:
        """The graded cells nbgrader scores by running them (test cells)."""
        return [c for c in self.graded_cells if not c.manual]

    @property
    def total_points(self) -> float:
        """What the notebook is worth: the points of all its graded cells, automatic and manual."""
        return sum(c.points for c in self.graded_cells)

    @property
    def automatic_points(self) -> float:
        """The points grading gives without the instructor (its test cells)."""
        return sum(c.points for c in self.automatic_cells)

    @property
    def titles(self) -> dict[str, str]:
        """grade_id → the title of its question (its heading, else its grade_id)."""
        return {cell.grade_id: cell.title or cell.grade_id for cell in self.graded_cells}

    def disagreements(self) -> list[str]:
        """Where the source notebook disagrees with ``config`` (bilingual sentences); empty if none."""
        return disagreements(self.source_notebook, self.config)

    # ---- paths

    @property
    def source_dir(self) -> Path:
        """``source/<id>/``: the source notebook and any file beside it."""
        return self.course.root / "source" / self.id

    @property
    def source(self) -> Path:
        """The nbgrader source notebook (solutions and hidden tests)."""
        return self.source_dir / f"{self.id}.ipynb"

    @property
    def release(self) -> Path:
        """The student version ``release`` generates."""
        return self.course.root / "release" / self.id / f"{self.id}.ipynb"

    def submitted(self, student_id: str) -> Path:
        """Where nbgrader looks for ``student_id``'s notebook."""
        return self.course.submitted_dir() / student_id / self.id / f"{self.id}.ipynb"

    def timestamp(self, student_id: str) -> Path:
        """nbgrader's ``timestamp.txt`` of ``student_id``'s submission, beside the notebook."""
        return self.submitted(student_id).parent / TIMESTAMP

    def autograded_dir(self, student_id: str) -> Path:
        """The folder of ``student_id``'s graded notebook (and this toolkit's status and log beside it)."""
        return self.course.root / "autograded" / student_id / self.id

    def autograded(self, student_id: str) -> Path:
        """``student_id``'s notebook as nbgrader's autograde left it, with the verdicts."""
        return self.autograded_dir(student_id) / f"{self.id}.ipynb"

    def feedback(self, student_id: str) -> Path:
        """Where nbgrader keeps ``student_id``'s feedback page."""
        return self.course.root / "feedback" / student_id / self.id / f"{self.id}.html"

    def upload_folder(self, student_id: str) -> Path:
        """Where the portal keeps ``student_id``'s uploads, each under its own time stamp."""
        return self.course.root / "portal" / "uploads" / student_id / self.id

    @property
    def report(self) -> Path:
        """The class report's page (``reports/<id>.html``)."""
        return self.course.root / "reports" / f"{self.id}.html"

    @property
    def solutions_dir(self) -> Path:
        """Where the answers for students go after the due date (``solutions/<id>/``)."""
        return self.course.root / "solutions" / self.id

    @property
    def manual_record(self) -> Path:
        """What the manual grading keeps beside nbgrader's gradebook: its rubric, the item each answer carries and a
        digest of each graded answer (``autograder.tools.manual``)."""
        return self.course.root / "manual" / f"{self.id}.json"

    # ---- a student's submission

    def file_submission(self, student_id: str, notebook: str | bytes, submitted_at: datetime | None = None) -> Path:
        """Put ``notebook`` where nbgrader looks for ``student_id``'s work, and its submission time (with its time
        zone) in nbgrader's ``timestamp.txt`` beside it; returns the notebook's path."""
        path = self.submitted(student_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(notebook.encode("utf-8") if isinstance(notebook, str) else notebook)
        stamp = self.timestamp(student_id)
        if submitted_at is None:
            stamp.unlink(missing_ok=True)  # an earlier submission's time must not stay with this one
        else:
            if submitted_at.tzinfo is None:
                raise ValueError("submitted_at needs its time zone")
            stamp.write_text(submitted_at.isoformat(sep=" "), encoding="utf-8")
        return path

    def submission_time(self, student_id: str) -> tuple[str | None, datetime | None, str | None]:
        """The submission time in nbgrader's ``timestamp.txt``: (its text, naive UTC, why it cannot be read).

        ``(None, None, None)`` when there is none (the time is then unknown, never "late").
        """
        from nbgrader.utils import parse_utc

        stamp = self.timestamp(student_id)
        if not stamp.is_file():
            return None, None, None
        text = stamp.read_text(encoding="utf-8", errors="replace").strip()
        if not text:
            return None, None, None
        try:
            return text, parse_utc(text), None
        except ValueError:
            return text, None, f"timestamp.txt の日時が読めません / unreadable timestamp.txt: {text[:60]!r}"
