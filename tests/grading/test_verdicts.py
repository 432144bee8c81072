"""Verdicts on in-memory notebooks: which checks a source calls, judging evidence, replacing what the kernel said.

No grading run: the source notebook is built here, the evidence is collected in this process (as a kernel
would) by a check module of this test's own, which the engine finds through the notebook alone.
"""
from __future__ import annotations

import json
import textwrap

import nbformat
import pytest
from helpers import answer_cell, notebook, test_cell

from autograder.course.notebook import OTHER_ASSIGNMENT, notebook_problem
from autograder.grading import verdicts
from autograder.grading.kernel import evidence

CHECKS = '''
from autograder.grading.kernel.evidence import uses
from autograder.grading.outcomes import CheckFailed


@uses("answer")
def check_answer(ns):
    if ns.get("answer") != 42:
        raise CheckFailed(f"answer は 42 のはずです（いまは {ns.get('answer')!r}）。")


@uses("answer")
def check_crashes(ns):
    return ns["no such variable"]
'''


@pytest.fixture
def course_checks(tmp_path, monkeypatch):
    """A check module of a course of its own (``mycourse.q``), importable like the toolkit's."""
    package = tmp_path / "mycourse"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "q.py").write_text(textwrap.dedent(CHECKS))
    monkeypatch.syspath_prepend(str(tmp_path))
    import mycourse.q

    return mycourse.q


def _source(tmp_path):
    source = notebook(answer_cell("q1_code", "answer = 6 * 7"),
                      test_cell("q1_test", "from mycourse import q as _q\n_q.check_answer(globals())\nprint('問1 OK')"),
                      test_cell("q2_test", "from mycourse import q as _q\n_q.check_crashes(globals())"),
                      test_cell("q3_test", "assert True  # a plain test: judged outside the kernel too"))
    path = tmp_path / "source.ipynb"
    nbformat.write(source, path)
    return path


def test_the_engine_finds_any_courses_checks_through_the_notebook(tmp_path, course_checks, monkeypatch):
    """Are the source's check modules read from its test cells, and each cell judged on its evidence?"""
    path = _source(tmp_path)
    assert verdicts.check_modules(path) == ["mycourse.q"]
    folder = tmp_path / "evidence"
    monkeypatch.setenv(evidence.EVIDENCE_ENV, str(folder))
    course_checks.check_answer({"answer": 41})  # in a kernel: collects, judges nothing
    monkeypatch.delenv(evidence.EVIDENCE_ENV)
    results = verdicts.verdicts(path, folder)
    assert set(results) == {"q1_test", "q2_test", "q3_test"}
    assert results["q3_test"] == ("NotAttempted", verdicts.NOT_RUN)  # a plain test whose collecting never ran
    assert results["q1_test"] == ("CheckFailed", "answer は 42 のはずです（いまは 41）。")
    assert results["q2_test"] == ("NotAttempted", verdicts.NOT_RUN)  # no evidence: the cell never ran
    (folder / "mycourse.q.check_crashes").mkdir()
    (folder / "mycourse.q.check_crashes" / evidence.MANIFEST).write_text(json.dumps({"names": {}}))
    ename, message = verdicts.verdicts(path, folder)["q2_test"]
    assert ename == verdicts.TOOLKIT and "KeyError" in message  # our check's bug: the toolkit's error


def test_apply_keeps_what_the_student_printed_and_puts_the_verdict(tmp_path):
    """Does the verdict replace a kernel's error (a forged or failed self-check), keeping the student's printout?"""
    graded = notebook(test_cell("q1_test", "...", outputs=[
        {"output_type": "stream", "name": "stdout", "text": "問1 OK\n"},
        {"output_type": "error", "ename": "AssertionError", "evalue": "self-check", "traceback": []}]))
    verdicts.apply(graded, {"q1_test": ("CheckFailed", "answer は 42 のはずです")})
    kinds = [(o.output_type, o.get("evalue")) for o in graded.cells[0].outputs]
    assert kinds == [("stream", None), ("error", "answer は 42 のはずです")]


def test_malformed_nbgrader_metadata_is_one_notebooks_problem():
    """A cell whose nbgrader metadata is a string, or whose grade_id is a list: a verdict on that file, no crash."""
    broken = notebook(nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_code_cell("y = 2"))
    broken.cells[0].metadata["nbgrader"] = "not a mapping"
    broken.cells[1].metadata["nbgrader"] = {"grade_id": ["q1_test"], "grade": True}
    assert notebook_problem(nbformat.writes(broken), {"q1_test"}) == OTHER_ASSIGNMENT  # its grade_ids are not ours
