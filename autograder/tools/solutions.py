"""The answers for students, after the due date: the solution notebook run, with its outputs, and no hidden test.

The lecture promises 「締め切りの後に正解をアップします」: ``write_solutions`` refuses
before the due date (in the course's time zone) unless forced, takes the source
notebook, keeps the solution code and model answers without nbgrader's markers,
removes every hidden test, runs it from top to bottom in a plain kernel, and
writes ``solutions/<id>/<id>.ipynb`` and ``.html`` for the LMS.
"""
from __future__ import annotations

import tempfile
from datetime import datetime
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbconvert import HTMLExporter

from autograder.course import Assignment
from autograder.errors import AutograderError
from autograder.grading.hidden_tests import HIDDEN
from autograder.tools.examples import DELIMITER



class TooEarly(AutograderError):
    """The due date has not passed; the message is bilingual."""


def answer_notebook(source: Path) -> nbformat.NotebookNode:
    """The source notebook with solutions kept (markers removed), hidden tests removed, no nbgrader metadata, no outputs."""
    notebook = nbformat.read(source, as_version=4)
    for cell in notebook.cells:
        cell.source = DELIMITER.sub("", HIDDEN.sub("", cell.source))
        cell.metadata.pop("nbgrader", None)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return notebook


def write_solutions(assignment: Assignment, *, force: bool = False, now: datetime | None = None,
                    out_dir: Path | None = None) -> Path:
    """Run the answer notebook of ``assignment`` and write it with its outputs; returns the .ipynb path.

    Raises ``TooEarly`` before the due date unless ``force``.
    """
    assignment_id, config = assignment.id, assignment.config
    now = now or datetime.now(config.due.tzinfo)
    if now < config.due and not force:
        due = config.due.strftime("%Y-%m-%d %H:%M %Z")
        raise TooEarly(f"{assignment_id} の締め切り（{due}）前なので正解は出せません。--force で出せます / "
                       f"the due date of {assignment_id} ({due}) has not passed; use --force to write the answers anyway")
    notebook = answer_notebook(assignment.source)
    with tempfile.TemporaryDirectory(prefix=f"solutions-{assignment_id}-") as scratch:
        NotebookClient(notebook, timeout=assignment.course.config.cell_timeout, kernel_name="python3",
                       resources={"metadata": {"path": scratch}}).execute()
    out_dir = out_dir or assignment.solutions_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{assignment_id}.ipynb"
    nbformat.write(notebook, path)
    html, _ = HTMLExporter(template_name="lab").from_notebook_node(notebook)
    path.with_suffix(".html").write_text(html, encoding="utf-8")
    return path
