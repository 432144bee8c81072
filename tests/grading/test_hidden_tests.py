"""Plain hidden tests (nbgrader's ``assert`` style) judged outside the kernel, on in-memory notebooks.

No grading run: the kernel's side is played here by running what ``for_kernel`` makes of each test cell in a
namespace of the student's own, with the evidence variable set, as the grading kernel would; the verdicts are
then computed from that evidence alone.  The end-to-end case (a real kernel, a student's monkeypatch of NumPy and
Keras) is kadai6's, whose hidden tests are written this way (``tests/checks/test_grading.py``).
"""
from __future__ import annotations

import types

import nbformat
import numpy as np
import pytest
from helpers import answer_cell, notebook, test_cell

from autograder.grading import hidden_tests, verdicts
from autograder.grading.kernel import evidence


def _locked(grade_id: str, source: str) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["nbgrader"] = {"grade_id": grade_id, "schema_version": 3, "locked": True, "solution": False,
                                 "grade": False, "task": False}
    return cell


def _hidden(code: str, visible: str = "print('OK')") -> str:
    return f"### BEGIN HIDDEN TESTS\n{code}\n### END HIDDEN TESTS\n{visible}"


SETUP = """import numpy as np
import matplotlib.pyplot as plt
GOAL = 3


def total(values):
    return sum(values) + OFFSET
"""

ANSWER = "### BEGIN SOLUTION\nx = np.arange(GOAL)\nOFFSET = 1\ny = 2\n### END SOLUTION\nCHANGED = 5\nCHANGED = 6"


def _source() -> nbformat.NotebookNode:
    return notebook(
        _locked("setup", SETUP),
        answer_cell("q1_code", ANSWER),
        test_cell("q1_array", _hidden('assert np.array_equal(x, np.arange(GOAL)), "x が 0, 1, 2 になっていません。"')),
        test_cell("q2_whole", "assert y == 2, 'y は 2 のはずです。'"),
        test_cell("q3_helper", _hidden("assert total(x) == 4")),
        test_cell("q4_bug", _hidden("{}['no such key']")),
        test_cell("q5_missing", _hidden("assert z > 0, 'z'")),
        test_cell("q6_figures", _hidden("assert len(shown_figures) == 1, '図が1つのはずです。'\n# reads: y")),
        test_cell("q7_declared", _hidden("assert CHANGED == 6")),
        test_cell("q8_bare", _hidden("assert x.sum() == 99")),
    )


def _run_as_kernel(source: nbformat.NotebookNode, student: dict, folder, monkeypatch) -> None:
    """What the grading kernel does with each test cell: run ``for_kernel`` of it in the student's namespace (only
    the collecting part: the visible self-checks are the student's own affair)."""
    from autograder.grading.kernel import capture

    tests = {t.grade_id: t for t in hidden_tests.plain_tests(source, lambda s: bool(verdicts.checks_of(s)))}
    monkeypatch.setattr(capture, "_installed", False)  # no figure shown here, whatever earlier tests drew
    monkeypatch.setenv(evidence.EVIDENCE_ENV, str(folder))
    for cell in source.cells:
        test = tests.get(cell.metadata.get("nbgrader", {}).get("grade_id"))
        if test is None:
            continue
        kernel_source = hidden_tests.for_kernel(cell.source, test)
        assert "BEGIN HIDDEN TESTS" in kernel_source and test.code not in kernel_source.split("END HIDDEN TESTS")[0]
        exec(kernel_source.split("### END HIDDEN TESTS")[0], student)  # noqa: S102 -- the collecting line only
    monkeypatch.delenv(evidence.EVIDENCE_ENV)


def test_what_each_test_reads_is_found_from_its_code():
    """Are the variables a test reads found from its code (minus the locked cells' names, builtins and its own)?"""
    tests = {t.grade_id: t for t in hidden_tests.plain_tests(_source(), lambda s: False)}
    assert tests["q1_array"].reads == ("x",)  # np and GOAL are the notebook's own, never the student's
    assert tests["q2_whole"].reads == ("y",) and tests["q2_whole"].whole_cell
    assert tests["q3_helper"].reads == ("OFFSET", "x")  # total() reads OFFSET from the notebook when called
    assert tests["q6_figures"].figures and tests["q6_figures"].reads == ("y",)
    assert tests["q7_declared"].reads == ("CHANGED",)  # bound twice: the student's value, not a given constant
    given = hidden_tests.given_of(_source())
    assert {"np", "plt", "GOAL", "total"} <= given.names and "CHANGED" not in given.names and "x" not in given.names


def test_plain_asserts_are_judged_on_evidence_and_a_monkeypatch_changes_nothing(tmp_path, monkeypatch):
    """Does each plain test pass or fail on the evidence, with the student's message, whatever the student rebound
    (``np.array_equal`` always true, ``GOAL`` changed), and is a test's own bug the instructor's error?"""
    source = _source()
    path = tmp_path / "source.ipynb"
    nbformat.write(source, path)
    fake_np = types.SimpleNamespace(array_equal=lambda *a: True, arange=np.arange)  # the student's monkeypatch
    student = {"np": fake_np, "GOAL": 2, "x": np.arange(2), "OFFSET": 1, "y": 2, "CHANGED": 6,
               "total": lambda values: 4}
    _run_as_kernel(source, student, tmp_path / "evidence", monkeypatch)
    results = verdicts.verdicts(path, tmp_path / "evidence")
    assert results["q1_array"] == ("CheckFailed", "x が 0, 1, 2 になっていません。")  # the real np, the real GOAL
    assert results["q2_whole"] is None
    assert results["q3_helper"] == ("CheckFailed", hidden_tests.FAILED)  # the notebook's total(): 0 + 1 + 1 = 2
    ename, message = results["q4_bug"]
    assert ename == verdicts.TOOLKIT and "KeyError" in message and "q4_bug" in message  # the instructor's, loudly
    assert results["q5_missing"][0] == "NotAttempted" and "変数 z がありません" in results["q5_missing"][1]
    assert results["q6_figures"] == ("CheckFailed", "図が1つのはずです。")  # no figure was shown
    assert results["q7_declared"] is None
    assert results["q8_bare"] == ("CheckFailed", hidden_tests.FAILED)


def test_honest_work_passes_and_a_test_that_never_ran_is_not_attempted(tmp_path, monkeypatch):
    """Does the honest namespace pass every test it should, and a cell the kernel never reached lose its points?"""
    source = _source()
    path = tmp_path / "source.ipynb"
    nbformat.write(source, path)
    student = {"np": np, "x": np.arange(3), "OFFSET": 1, "y": 2, "CHANGED": 6}
    _run_as_kernel(source, student, tmp_path / "evidence", monkeypatch)
    (tmp_path / "evidence" / "hidden-test.q7_declared" / evidence.MANIFEST).unlink()
    results = verdicts.verdicts(path, tmp_path / "evidence")
    assert results["q1_array"] is None and results["q2_whole"] is None
    assert results["q3_helper"] is None  # total(x) = 0 + 1 + 2, plus OFFSET 1
    assert results["q7_declared"] == ("NotAttempted", verdicts.NOT_RUN)


def test_a_value_the_grader_cannot_read_is_the_students_message(tmp_path, monkeypatch):
    """Is a model Keras could not reload (a stand-in) the student's lost check with a message, not our error?"""
    source = notebook(answer_cell("q1_code", "### BEGIN SOLUTION\nmodel = 1\n### END SOLUTION"),
                      test_cell("q1_model", _hidden('assert model.count_params() == 10, "10 のはずです。"')))
    tests = hidden_tests.plain_tests(source, lambda s: False)
    broken = verdicts._opaque_value({"type": "壊れたモデル", "repr": "ValueError: cannot reload"})
    result = hidden_tests.judge(tests[0], hidden_tests.given_of(source), {"model": broken},
                                check_failed=verdicts.CheckFailed)
    assert result[0] == "CheckFailed" and not result[2] and "変数 model を採点側で読み取れませんでした" in result[1]
    result = hidden_tests.judge(tests[0], hidden_tests.given_of(source), {"model": 5},
                                check_failed=verdicts.CheckFailed)
    assert result[0] == "AttributeError" and result[2]  # a plain int: the test should have checked it first


def test_the_kernel_runs_the_collecting_in_place_of_the_block():
    """Does the kernel's version of a cell keep the visible self-check and the hidden-test marks (which feedback
    strips), and never the hidden code?"""
    source = _source()
    tests = {t.grade_id: t for t in hidden_tests.plain_tests(source, lambda s: False)}
    cell = next(c for c in source.cells if c.metadata["nbgrader"]["grade_id"] == "q1_array")
    kernel = hidden_tests.for_kernel(cell.source, tests["q1_array"])
    assert "np.array_equal" not in kernel and "collect_for" in kernel and kernel.endswith("print('OK')")
    whole = hidden_tests.for_kernel("assert y == 2", tests["q2_whole"])
    assert whole.startswith("### BEGIN HIDDEN TESTS\n") and whole.endswith("assert y == 2")


def test_a_source_whose_test_does_not_parse_is_the_instructors_error(tmp_path):
    """Is a hidden test that is not Python named to the instructor, for every submission, never a student's 0?"""
    path = tmp_path / "source.ipynb"
    nbformat.write(notebook(test_cell("q1", _hidden("assert (x"))), path)
    with pytest.raises(ValueError, match="q1"):
        verdicts.plain_tests(path)
    (verdict,) = verdicts.verdicts(path, tmp_path).values()
    assert verdict[0] == verdicts.TOOLKIT


def test_every_test_cell_of_the_course_is_judged_one_way():
    """Is each automatic test cell of every assignment judged by exactly one route: its check calls (kadai3–5) or as
    a plain test (kadai6), never both and never neither?"""
    from helpers import ROOT

    from autograder.course import load_course

    course = load_course(ROOT)
    for config in course.config.assignments:
        assignment = course.assignment(config.id)
        calling = {grade_id for grade_id, _ in verdicts._test_cells(assignment.source)}
        plain = {t.grade_id for t in verdicts.plain_tests(assignment.source)[0]}
        automatic = {c.grade_id for c in assignment.automatic_cells}
        assert not calling & plain and calling | plain == automatic, config.id
