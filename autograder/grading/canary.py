"""The canary: one tiny notebook through the real grading path before anything is recorded.

A grading environment that cannot work (the kernel's Python cannot import the
toolkit, the sandbox refuses to start, evidence cannot be written or judged)
would otherwise score every submission 0 and record it as ``graded``.  Before a
batch, ``grade`` sends this notebook through exactly the path a submission takes
(``autograder.grading.worker.grade_task``: nbgrader, the grading kernel in its sandbox,
evidence, verdicts outside the kernel) and requires two verdicts: the check the
notebook satisfies passes, the one it does not fails.  Anything else refuses the
whole batch with the cause, before a single grade is written.
"""
from __future__ import annotations

import nbformat

from autograder.course import Course
from autograder.course.cells import grade_id as grade_id_of
from autograder.errors import AutograderError
from autograder.grading.bundle import GradingBundle, digest_of

ASSIGNMENT = "canary"
STUDENT = "canary"
PASSES, FAILS = "canary_passes", "canary_fails"


class GradingEnvironmentError(AutograderError):
    """The grading environment failed the canary: nothing can be graded until it is mended (message bilingual)."""

    exit_code = 3


def _test_cell(grade_id: str, function: str) -> nbformat.NotebookNode:
    source = f"from autograder.grading import canary_checks as _canary\n_canary.{function}(globals())\n"
    return nbformat.v4.new_code_cell(source, metadata={"nbgrader": {
        "grade": True, "grade_id": grade_id, "locked": True, "points": 1, "schema_version": 3,
        "solution": False, "task": False}})


def notebook() -> nbformat.NotebookNode:
    """The canary notebook: an answer, a figure shown, a check it passes and one it fails."""
    answer = nbformat.v4.new_code_cell(
        "import matplotlib.pyplot as plt\nanswer = 6 * 7\nplt.plot([1, 2, 3])\nplt.show()",
        metadata={"nbgrader": {"grade": False, "grade_id": "canary_answer", "locked": True, "schema_version": 3,
                               "solution": False, "task": False}})
    return nbformat.v4.new_notebook(
        cells=[answer, _test_cell(PASSES, "check_passes"), _test_cell(FAILS, "check_fails")],
        metadata={"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}})


def bundle(course: Course) -> GradingBundle:
    """The canary as a grading bundle of ``course`` (its course_config.py: the same limits and data)."""
    files = {"course_config.py": (course.root / "course_config.py").read_bytes(),
             f"source/{ASSIGNMENT}/{ASSIGNMENT}.ipynb": nbformat.writes(notebook()).encode("utf-8")}
    return GradingBundle(ASSIGNMENT, files, digest_of(files))


def verdict(outcome) -> str | None:
    """None if the canary's ``TaskOutcome`` shows a working grading path, else what went wrong."""
    if not outcome.ok:
        return outcome.message
    graded = nbformat.reads(outcome.notebook.decode("utf-8"), as_version=4)
    errors = {grade_id_of(cell): [o.get("ename") for o in cell.get("outputs", [])
                                                                   if o.get("output_type") == "error"]
              for cell in graded.cells}
    if errors.get(PASSES):
        return f"合格するはずの検査が不合格でした / the check that must pass failed: {errors[PASSES]}"
    if errors.get(FAILS) != ["CheckFailed"]:
        return ("不合格になるはずの検査が不合格になりませんでした（判定が行われていません） / "
                f"the check that must fail did not (no verdict was given): {errors.get(FAILS)}")
    return None


def refusal(problem: str, where: str, log: str = "") -> GradingEnvironmentError:
    """The loud refusal: what failed, where, and that nothing was recorded."""
    lines = ["採点環境の点検（カナリア）に失敗したため、採点しません。何も記録していません。",
             "The grading environment failed its check (the canary): nothing was graded or recorded.",
             f"  {where}: {problem}"]
    if log.strip():
        lines += ["  --- log (end) ---", *("  " + line for line in log.strip().splitlines()[-15:])]
    return GradingEnvironmentError("\n".join(lines))


_passed: set[tuple] = set()
"""Environments whose canary passed in this process (a working environment is checked once)."""


def environment_key(canary: GradingBundle, scheduler: str | None) -> tuple:
    """What the canary's verdict depends on: the toolkit, the interpreter, course_config.py (in the bundle), where."""
    from autograder.grading.sandbox import kernel_python, toolkit_folder

    return (str(toolkit_folder()), kernel_python(), canary.digest, scheduler)


def check(course: Course, client=None, scheduler: str | None = None) -> None:
    """Run the canary here (``client`` None) or on ``client``'s cluster; raise ``GradingEnvironmentError`` if it fails."""
    from autograder.grading.worker import grade_task

    canary = bundle(course)
    key = environment_key(canary, scheduler)
    if key in _passed:
        return
    data = nbformat.writes(notebook()).encode("utf-8")
    if client is None:
        outcome = grade_task(canary, STUDENT, data, None, False)
        where = "this machine / この機械"
    else:
        future = client.submit(grade_task, canary, STUDENT, data, None, False, pure=False, key=f"canary-{canary.digest[:12]}")
        try:
            outcome = future.result()
        except Exception as e:  # noqa: BLE001 -- the task itself failed on the cluster: that is the finding
            raise refusal(f"{type(e).__name__}: {e}", scheduler or "Dask") from e
        where = outcome.host
    if problem := verdict(outcome):
        raise refusal(problem, where, outcome.log)
    _passed.add(key)

