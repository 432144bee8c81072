"""The committed student versions: generated from source/, and free of solutions, hidden tests and this toolkit."""
from __future__ import annotations

import re

import nbformat
import pytest
from helpers import ROOT

from autograder.tools.examples import DELIMITER

ASSIGNMENTS = sorted(p.name for p in (ROOT / "source").iterdir() if p.is_dir())


def _comparable(path):
    notebook = nbformat.read(path, as_version=4)
    return [(c.cell_type, c.source, c.metadata.get("nbgrader")) for c in notebook.cells]


def test_every_source_is_in_course_config(course):
    """Does course_config.py list exactly the assignments of source/ (each with its committed release)?"""
    assert ASSIGNMENTS == sorted(a.id for a in course.config.assignments)
    assert ASSIGNMENTS == sorted(p.name for p in (ROOT / "release").iterdir() if p.is_dir())


@pytest.mark.parametrize("assignment_id", ASSIGNMENTS)
def test_release_is_what_nbgrader_generates_from_source(course, released_course, assignment_id):
    """Is release/<id>/<id>.ipynb exactly what `release <id>` writes from source/ today?"""
    generated = released_course(assignment_id).release_notebook(assignment_id)
    assert _comparable(course.release_notebook(assignment_id)) == _comparable(generated)


@pytest.mark.parametrize("assignment_id", ASSIGNMENTS)
def test_release_has_no_solution_hidden_test_or_toolkit(course, assignment_id):
    """Does the student version leave out every solution line, every hidden test and any import of autograder?"""
    release = nbformat.read(course.release_notebook(assignment_id), as_version=4)
    text = "\n".join(c.source for c in release.cells)
    assert "autograder" not in text and f"_{assignment_id}" not in text
    assert not re.search(r"BEGIN (SOLUTION|HIDDEN TESTS)", text)
    source = nbformat.read(course.source_notebook(assignment_id), as_version=4)
    released_cells = {c.metadata["nbgrader"]["grade_id"]: c.source for c in release.cells if "nbgrader" in c.metadata}
    hidden_seen = hidden_blocks = solution_seen = 0
    for cell in source.cells:
        lines_here = {line.strip() for line in released_cells[cell.metadata["nbgrader"]["grade_id"]].splitlines()}
        for block in re.findall(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", cell.source, re.DOTALL):
            lines = [line.strip() for line in block.splitlines() if line.strip()]
            hidden_seen += len(lines)
            hidden_blocks += 1
            assert not [line for line in lines if line in lines_here]
        for block in re.findall(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", cell.source, re.DOTALL):
            lines = [line.strip() for line in block.splitlines() if line.strip()]
            solution_seen += len(lines)
            leaked = [line for line in lines if line in lines_here]
            assert leaked == [], leaked
    tests = [c for c in source.cells if c.metadata["nbgrader"].get("grade") and not c.metadata["nbgrader"].get("solution")]
    answers = [c for c in source.cells if c.metadata["nbgrader"].get("solution")]
    # every hidden block was read (plain asserts or check calls, any number of lines), and none is empty
    assert hidden_blocks == sum(c.source.count("### BEGIN HIDDEN TESTS") for c in tests) > 0
    assert hidden_seen >= hidden_blocks
    assert solution_seen >= 2 * len(answers) > 0


@pytest.mark.parametrize("assignment_id", ASSIGNMENTS)
def test_source_notebook_has_no_outputs(course, assignment_id):
    """Is the source committed without outputs (so diffs and the release stay clean)?"""
    source = nbformat.read(course.source_notebook(assignment_id), as_version=4)
    assert [c for c in source.cells if c.cell_type == "code" and c.outputs] == []
    assert DELIMITER.search("\n".join(c.source for c in source.cells))
