"""The questions of a graded notebook as a feedback page names them: titles, anchors, and the errors that cost points.

A student reads a table of checks under deadline pressure; a grade_id (``q4_plot_legend``) tells them nothing, and
「変数 result がありません」 hides that their 問3 cell was written and raised.  So, from the release notebook (the
only source of the question text) and the autograded notebook (what ran):

- each graded cell is titled by the heading of its question in the release (``## 問3　学習（2点）`` → 「問3 学習」),
  its grade_id only when no heading stands above it (``autograder.course.assignment.question_titles``, the course
  model's one reading of question headings);
- each cell of the page has a stable anchor (``cell_ids``: ``q-<grade_id>`` for nbgrader's cells, ``c-<n>`` for the
  rest), which the sanitised notebook gives its cells and the table links to;
- each of the student's own cells that ended with an error is named by its question, exception and line
  (``CellError``), and each graded cell knows the nearest such error above it and whether it is its own question's.

Only the release's markdown (locked cells) gives headings: a heading a student writes names nothing.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import nbformat

from autograder.course import messages
from autograder.course.assignment import heading as question_heading
from autograder.course.assignment import question_titles
from autograder.course.cells import grade_id as grade_id_of
from autograder.course.cells import is_locked, is_solution
from autograder.tools.kernel_text import error_line, scrub

SAFE_ID = re.compile(r"[A-Za-z0-9_-]{1,60}")
"""A grade_id usable as it is in a cell id (nbformat allows ``[a-zA-Z0-9-_]``, at most 64 characters)."""
EVALUE_LENGTH = 300
UNANSWERED = "NotImplementedError"
"""What an answer cell left as released raises (``raise NotImplementedError()``)."""


@dataclass(frozen=True)
class CellError:
    """A student's own cell that ended with an error, as the feedback page names it."""

    where: str
    """The question it belongs to (「問3」), else its title in brackets, else its prompt (「In [12]」)."""

    ename: str
    """The exception's class (``TypeError``), or the kernel's own end (``CellTimeoutError``)."""

    evalue: str
    """The exception's message, scrubbed, in one or two lines (``_gist``)."""

    line: int | None
    """The line of the cell the error was raised at, if the traceback says."""

    anchor: str
    """The cell's id in the page (``cell_ids``)."""

    section: int
    """How many question headings stand above the cell (cells under the same heading share it)."""

    @property
    def unanswered(self) -> bool:
        return self.ename == UNANSWERED

    @property
    def what(self) -> str:
        """The error's name as the page says it (the kernel's own ends in Japanese)."""
        return messages.FEEDBACK_ERROR_NAMES.get(self.ename, self.ename)


@dataclass
class Questions:
    """What the feedback page knows of a graded notebook's questions and of the errors of the student's cells."""

    titles: dict[str, str] = field(default_factory=dict)
    """grade_id → the title of its question (``autograder.course.assignment.question_titles``)."""

    anchors: dict[str, str] = field(default_factory=dict)
    """grade_id → the id of its cell in the page (its first cell with that grade_id)."""

    errors: list[CellError] = field(default_factory=list)
    """The student's cells that ended with an error, in notebook order."""

    above: dict[str, tuple[CellError, bool]] = field(default_factory=dict)
    """grade_id → the nearest error above its cell, and whether it is under the same question heading."""


def cell_ids(cells: list) -> list[str]:
    """The id each cell of a notebook gets in its feedback page: ``q-<grade_id>`` for the first cell of a grade_id
    that is a plain name, ``c-<position>`` for any other (the two prefixes never meet)."""
    ids, seen = [], set()
    for position, cell in enumerate(cells, start=1):
        grade_id = grade_id_of(cell)
        if grade_id is not None and SAFE_ID.fullmatch(grade_id) and grade_id not in seen:
            seen.add(grade_id)
            ids.append(f"q-{grade_id}")
        else:
            ids.append(f"c-{position}")
    return ids


def read_questions(graded: nbformat.NotebookNode, release: nbformat.NotebookNode) -> Questions:
    """The questions of the autograded notebook ``graded`` of ``release``: titles, anchors, errors of the student's
    cells and the nearest error above each graded cell (``Questions``)."""
    released = {grade_id_of(cell): cell for cell in release.cells if grade_id_of(cell) is not None}
    locked_ids = {grade_id for grade_id, cell in released.items() if is_locked(cell)}
    questions = Questions(titles=question_titles(release))
    heading, section, last_error = None, 0, None
    for cell, anchor in zip(graded.cells, cell_ids(graded.cells), strict=True):
        grade_id = grade_id_of(cell)
        locked = is_locked(cell) or grade_id in locked_ids
        if cell.cell_type == "markdown" and locked and grade_id in released and not is_solution(cell):
            if title := question_heading(released[grade_id].source):  # the release's text, as the page shows it
                heading, section = title, section + 1
        if grade_id is not None and anchor == f"q-{grade_id}":
            questions.anchors[grade_id] = anchor
            if last_error is not None and grade_id in questions.titles:
                questions.above[grade_id] = (last_error, last_error.section == section)
        if cell.cell_type != "code" or locked:
            continue
        error = next((o for o in cell.get("outputs", []) if o.get("output_type") == "error"), None)
        if error is None:
            continue
        last_error = CellError(
            where=_where(heading, cell), ename=scrub(str(error.get("ename", ""))) or "Error",
            evalue=_gist(scrub(str(error.get("evalue", "")))),
            line=error_line([str(entry) for entry in error.get("traceback", [])]), anchor=anchor, section=section)
        questions.errors.append(last_error)
    return questions


def _gist(evalue: str) -> str:
    """An exception's message in one or two lines: its first, and for a long one (TensorFlow's give the stack
    between) its last line that is not indented, at most ``EVALUE_LENGTH`` characters each."""
    lines = [line for line in evalue.splitlines() if line.strip()]
    if not lines:
        return ""
    kept = [lines[0]]
    last = next((index for index in range(len(lines) - 1, 0, -1) if not lines[index][0].isspace()), None)
    if last is not None:
        kept += ["…", lines[last]] if last > 1 else [lines[last]]
    return "\n".join(line if len(line) <= EVALUE_LENGTH else line[:EVALUE_LENGTH] + "…" for line in kept)


def _where(heading: str | None, cell) -> str:
    """How a cell's question is named: 「問3」 for a heading 「問3 学習」, else the heading in brackets, else its prompt."""
    if heading:
        first = heading.split(" ")[0]
        return first if first.startswith("問") else f"「{heading}」"
    count = cell.get("execution_count")
    return f"In [{count if isinstance(count, int) else ' '}]"
