"""The committed student version: generated from source/, and free of solutions, hidden tests and this toolkit."""
from __future__ import annotations

import re

import nbformat

from autograder.examples import DELIMITER


def _comparable(path):
    notebook = nbformat.read(path, as_version=4)
    return [(c.cell_type, c.source, c.metadata.get("nbgrader")) for c in notebook.cells]


def test_release_is_what_nbgrader_generates_from_source(course, released):
    """Is release/kadai4/kadai4.ipynb exactly what `release kadai4` writes from source/ today?"""
    assert _comparable(course.release_notebook("kadai4")) == _comparable(released.release_notebook("kadai4"))


def test_release_has_no_solution_hidden_test_or_toolkit(course):
    """Does the student version leave out every solution line, every hidden test and any import of autograder?"""
    release = nbformat.read(course.release_notebook("kadai4"), as_version=4)
    text = "\n".join(c.source for c in release.cells)
    assert "autograder" not in text and "_kadai4" not in text
    assert not re.search(r"BEGIN (SOLUTION|HIDDEN TESTS)", text)
    source = nbformat.read(course.source_notebook("kadai4"), as_version=4)
    released_cells = {c.metadata["nbgrader"]["grade_id"]: c.source for c in release.cells if "nbgrader" in c.metadata}
    hidden_seen = solution_seen = 0
    for cell in source.cells:
        lines_here = {line.strip() for line in released_cells[cell.metadata["nbgrader"]["grade_id"]].splitlines()}
        for block in re.findall(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", cell.source, re.S):
            lines = [line.strip() for line in block.splitlines() if line.strip()]
            hidden_seen += len(lines)
            assert not [line for line in lines if line in lines_here]
        for block in re.findall(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", cell.source, re.S):
            lines = [line.strip() for line in block.splitlines() if line.strip()]
            solution_seen += len(lines)
            leaked = [line for line in lines if line in lines_here]
            assert leaked == [], leaked
    assert hidden_seen > 12 and solution_seen > 30


def test_source_notebook_has_no_outputs(course):
    """Is the source committed without outputs (so diffs and the release stay clean)?"""
    source = nbformat.read(course.source_notebook("kadai4"), as_version=4)
    assert [c for c in source.cells if c.cell_type == "code" and c.outputs] == []
    assert DELIMITER.search("\n".join(c.source for c in source.cells))
