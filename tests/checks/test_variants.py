"""Correct work written other ways than the solution earns every automatic point, and the visible self-checks agree.

Each assignment's variants (``VARIANTS`` in ``autograder/checks/<id>/examples.py``) are packed automatically into
a few notebooks (``examples.pack_variants``: a variant joins a notebook whose variants edit other answer cells, or
whose edits still apply beside its own), so that the expensive kadai4 needs two notebooks and kadai3 two; all
notebooks of one assignment are graded in one batch through nbgrader and the sandbox
(``autograder.tools.author.grade_examples``, what ``python -m autograder examples`` runs).  Every assignment of
the course is covered; the points come from its source notebook.

The visible self-checks are then run as students run them, without this toolkit: the release
notebook (no hidden tests) filled in with each combination, executed with nbclient in a plain
python3 kernel whose IPython start-up refuses ``import autograder``.  Every assignment's run whole but
kadai4's, whose notebooks train for minutes: its self-check cells run in-process on objects made by the
variant's own code with short trainings (see ``test_kadai4_self_checks_accept_the_variants``).
"""
from __future__ import annotations

import os
import textwrap
from pathlib import Path

import nbformat
import pytest
from helpers import ROOT, copy_course

from autograder.course import load_course
from autograder.course.results import Status
from autograder.tools.author import Kind, examples_of, grade_examples
from autograder.tools.examples import (
    DELIMITER,
    assignments,
    filled_in,
    mistakes,
    variants,
    with_mistakes,
)

EXPENSIVE = {"kadai4": 2, "kadai3": 2}
"""Assignments whose notebooks train for minutes: at most this many variant notebooks each (the CI budget)."""


def packed(course, assignment_id: str) -> dict[str, tuple[str, ...]]:
    """student id (``variants1`` …) → the names of the variants its notebook answers in."""
    return {e.student_id: e.names for e in examples_of(course.assignment(assignment_id), (Kind.VARIANTS,))}


def notebooks(course, assignment_id: str) -> dict[str, nbformat.NotebookNode]:
    """student id → the solution-filled release answered in that combination of variants."""
    return {e.student_id: e.notebook for e in examples_of(course.assignment(assignment_id), (Kind.VARIANTS,))}


def automatic_points(course, assignment_id: str) -> float:
    """What full automatic marks are: the points of the source notebook's graded test cells."""
    return sum(c.points for c in course.assignment(assignment_id).graded_cells if not c.manual)


def test_every_variant_is_graded_once_and_the_matrix_is_wide(course):
    """Is every variant in exactly one notebook, within the CI budget, and does the matrix cover what students write?"""
    for assignment_id in assignments():
        named = [name for names in packed(course, assignment_id).values() for name in names]
        assert sorted(named) == sorted(v.name for v in variants(assignment_id)), assignment_id
        assert len(named) == len(set(named))
    for assignment_id, most in EXPENSIVE.items():
        assert len(packed(course, assignment_id)) <= most, assignment_id
    assert sum(len(variants(a)) for a in assignments()) >= 20
    for assignment_id in ("kadai4", "kadai5"):
        text = "\n".join(new for v in variants(assignment_id) for _, _, new in v.edits)
        for form in ("plt.subplots(1, 2", "keras.Model(inputs", "metrics=['acc']"):
            assert form in text, (assignment_id, form)


@pytest.fixture(scope="session")  # one batch per assignment and worker, kept even if other modules run in between
def variants_graded(released_course, tmp_path_factory):
    """``variants_graded(id)``: student id → ``Outcome`` of each variant notebook of ``id``, graded in one batch."""
    batches: dict[str, dict] = {}

    def of(assignment_id: str) -> dict:
        if assignment_id not in batches:
            course = copy_course(released_course(assignment_id),
                                 tmp_path_factory.mktemp(f"variants-{assignment_id}") / "course")
            made = examples_of(course.assignment(assignment_id), (Kind.VARIANTS,))
            batches[assignment_id] = {o.example.student_id: o for o in grade_examples(course.assignment(assignment_id), made)}
        return batches[assignment_id]

    return of


@pytest.mark.slow
@pytest.mark.parametrize("assignment_id", assignments())
def test_variants_earn_full_marks(course, variants_graded, assignment_id):
    """Does every variant (Functional API, 'acc', plt.subplots, Activation layers, StandardScaler, ...) earn every
    automatic point of its assignment?"""
    outcomes = variants_graded(assignment_id)
    automatic = {c.grade_id for c in course.assignment(assignment_id).graded_cells if not c.manual}
    assert sorted(outcomes) == sorted(packed(course, assignment_id))
    for student_id, outcome in outcomes.items():
        result, names = outcome.result, outcome.example.names
        assert result.status == Status.GRADED, (student_id, names, result.message)
        lost = {c.grade_id: c.message for c in result.checks if not c.manual and not c.passed}
        assert lost == {}, (student_id, names, lost)
        assert {c.grade_id for c in result.checks if not c.manual} == automatic
        assert result.score == automatic_points(course, assignment_id), (student_id, names)
        assert outcome.ok, (outcome.expected, outcome.got)  # and `python -m autograder examples` says OK for it


# ---- the visible self-checks, run as students run them -----------------------------------------------------

REFUSE_AUTOGRADER = textwrap.dedent('''\
    import sys


    class _NoAutograder:
        """Refuses the toolkit, as on Colab where it is not installed."""

        def find_spec(self, name, path=None, target=None):
            if name == "autograder" or name.startswith("autograder."):
                raise ModuleNotFoundError(f"No module named {name!r}")
            return None


    sys.meta_path.insert(0, _NoAutograder())
''')

NO_TOOLKIT = textwrap.dedent('''\
    import sys
    assert not any(name == "autograder" or name.startswith("autograder.") for name in sys.modules)
    try:
        import autograder
    except ImportError:
        print("autograder: not importable")
    else:
        raise AssertionError("autograder was importable")
''')


def _run_plain(notebook, folder: Path, timeout: int, allow_errors: bool = False) -> nbformat.NotebookNode:
    """``notebook`` executed top to bottom by nbclient in a plain python3 kernel that cannot import autograder
    (with ``allow_errors``, on past errors, as nbgrader does)."""
    from nbclient import NotebookClient

    ipython_dir = folder / "ipython"
    (ipython_dir / "profile_default" / "startup").mkdir(parents=True, exist_ok=True)
    (ipython_dir / "profile_default" / "startup" / "00-no-autograder.py").write_text(REFUSE_AUTOGRADER, encoding="utf-8")
    notebook = nbformat.from_dict(notebook)
    notebook.cells.append(nbformat.v4.new_code_cell(NO_TOOLKIT))
    env = {**os.environ, "IPYTHONDIR": str(ipython_dir), "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("AUTOGRADER_EVIDENCE", None)
    work = folder / "work"
    work.mkdir(exist_ok=True)
    client = NotebookClient(notebook, kernel_name="python3", timeout=timeout, allow_errors=allow_errors,
                            resources={"metadata": {"path": str(work)}})
    client.execute(env=env)  # raises CellExecutionError, naming the cell, at the first error
    return notebook


def _self_check_outputs(notebook) -> dict[str, str]:
    """grade_id → what each graded test cell printed."""
    return {c.metadata["nbgrader"]["grade_id"]: "".join(o.get("text", "") for o in c.outputs if o.output_type == "stream")
            for c in notebook.cells
            if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade")}


def _assert_self_checks_pass(course, assignment_id: str, tmp_path: Path, timeout: int) -> None:
    for student_id, notebook in notebooks(course, assignment_id).items():
        assert "HIDDEN TESTS" not in "\n".join(c.source for c in notebook.cells) and not DELIMITER.search(
            "\n".join(c.source for c in notebook.cells))
        ran = _run_plain(notebook, tmp_path / student_id, timeout)
        assert "autograder: not importable" in "".join(o.get("text", "") for o in ran.cells[-1].outputs)
        printed = _self_check_outputs(ran)
        assert printed and all("OK" in text or "自己チェックできます" in text or "表示されていれば OK" in text
                               for text in printed.values()), (student_id, printed)
        names_fig = any(c.metadata.get("nbgrader", {}).get("solution") and ("fig =" in c.source or "fig, " in c.source)
                        for c in notebook.cells)
        if names_fig:  # the figure self-checks really looked at the figure
            assert not any("自己チェックできます" in text for text in printed.values()), (student_id, printed)


IN_PROCESS = {"kadai4"}
"""Assignments whose notebooks train for minutes: their self-checks run in-process (``_kadai4_self_checks``)."""


@pytest.mark.slow
@pytest.mark.parametrize("assignment_id", [a for a in assignments() if a not in IN_PROCESS])
def test_self_checks_accept_the_variants_without_the_toolkit(course, tmp_path, assignment_id):
    """Does every variant pass every visible self-check in a plain kernel where autograder cannot be imported?"""
    _assert_self_checks_pass(course, assignment_id, tmp_path, timeout=900)


@pytest.mark.slow
def test_kadai5_solution_self_checks_pass_without_the_toolkit(course, tmp_path):
    """Does the plain solution, run as a student runs it (release filled in, no toolkit), pass every self-check?"""
    solution = filled_in(course.source_notebook("kadai5"), course.release_notebook("kadai5"))
    ran = _run_plain(solution, tmp_path, timeout=600)
    printed = _self_check_outputs(ran)
    assert all("OK" in text for text in printed.values()), printed


KADAI5_SELF_CHECKED_MISTAKES = ("test_statistics", "all_data_statistics", "wrong_loss", "no_legend", "no_restore")
"""kadai5's mistakes whose self-checks were made to agree with grading (each run costs a whole notebook)."""


@pytest.mark.slow
@pytest.mark.parametrize("name", KADAI5_SELF_CHECKED_MISTAKES)
def test_kadai5_self_checks_refuse_what_grading_refuses(course, tmp_path, name):
    """Does each of these kadai5 mistakes fail exactly the visible self-checks of the marks it loses (plain kernel)?"""
    solution = filled_in(course.source_notebook("kadai5"), course.release_notebook("kadai5"))
    mistake = next(m for m in mistakes("kadai5") if m.name == name)
    ran = _run_plain(with_mistakes(solution, mistake), tmp_path, timeout=600, allow_errors=True)
    failed = {c.metadata["nbgrader"]["grade_id"]: [o.ename for o in c.outputs if o.output_type == "error"]
              for c in ran.cells if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade")}
    assert {grade_id for grade_id, errors in failed.items() if errors} == mistake.lost, failed
    assert all(errors in ([], ["AssertionError"]) for errors in failed.values()), failed


def _cells(notebook) -> dict[str, str]:
    return {c.metadata["nbgrader"]["grade_id"]: c.source for c in notebook.cells if "nbgrader" in c.metadata}


KADAI4_IN_PROCESS = ("q1_code", "q1_model", "SHORT_FIT", "q3_code", "q3_plot_layout", "q3_plot_loss", "q3_plot_accuracy",
                     "q3_plot_legend", "q4_evaluate_code", "q4_evaluate", "q4_predict_code", "q4_predict",
                     "q5_code", "q5_neurons", "q6_code", "q6_layers", "q7_code", "q7_dropout")
KADAI4_LEFT_OUT = {"q2_fit", "q8_free"}


def _kadai4_self_checks(course, notebook, monkeypatch) -> dict[str, BaseException | None]:
    """Run kadai4's ``notebook`` in-process with short trainings: grade_id of each self-check cell → what it raised.

    Running kadai4's notebooks whole a second time would add minutes of training per notebook to CI,
    so this runs, in one namespace, the release's set-up cell, then the notebook's answer cells (an error
    there is kept, as nbgrader goes on after it) and the visible self-check cells after them, with the
    training shortened: after 問1 the training data is cut to its first 2,560 rows and 問2's training is
    3 epochs on it (the History has the variant's keys and real numbers, not 30 epochs of 750 batches).
    So 問2's self-check (epochs and batches per epoch: the same code as kadai3's and kadai5's, which run
    whole) and 問8's (the free model's accuracy) are left out; grading covers both for these notebooks.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    monkeypatch.setattr(plt, "show", lambda *a, **k: None)  # keep the figure open for the self-checks below it
    cells = _cells(notebook)
    ns: dict = {}
    exec(compile(cells["setup"], "setup", "exec"), ns)
    raised: dict[str, BaseException | None] = {}
    for grade_id in KADAI4_IN_PROCESS:
        if grade_id == "SHORT_FIT":
            ns.update({name: ns[name][:2560] for name in ("x_train", "y_train")})
            ns["result"] = eval("model.fit(x_train, y_train, epochs=3, batch_size=64, validation_split=0.2, verbose=0)", ns)
            continue
        try:
            exec(compile(cells[grade_id], grade_id, "exec"), ns)
        except Exception as e:  # noqa: BLE001 -- recorded: an answer cell's error is the mistake, a self-check's the verdict
            raised[grade_id] = e
        else:
            raised[grade_id] = None
    plt.close("all")
    return {grade_id: error for grade_id, error in raised.items() if not grade_id.endswith("_code")}


@pytest.mark.slow
@pytest.mark.parametrize("student_id", sorted(packed(load_course(ROOT), "kadai4")))
def test_kadai4_self_checks_accept_the_variants(course, student_id, monkeypatch):
    """Do kadai4's visible self-checks accept each variant's own objects (model, History keys, figure, score)?"""
    raised = _kadai4_self_checks(course, notebooks(course, "kadai4")[student_id], monkeypatch)
    assert {grade_id: repr(e) for grade_id, e in raised.items() if e is not None} == {}
    tests = {c.grade_id for c in course.assignment("kadai4").graded_cells if not c.manual}
    assert tests - set(raised) == KADAI4_LEFT_OUT


@pytest.mark.slow
@pytest.mark.parametrize("mistake", [m for m in mistakes("kadai4") if m.lost - KADAI4_LEFT_OUT and
                                     all(grade_id in KADAI4_IN_PROCESS for grade_id, _, _ in m.edits)],
                         ids=lambda m: m.name)
def test_kadai4_self_checks_refuse_what_grading_refuses(course, mistake, monkeypatch):
    """Does each typical mistake fail exactly the visible self-checks of the marks it loses (the other way round)?"""
    solution = filled_in(course.source_notebook("kadai4"), course.release_notebook("kadai4"))
    raised = _kadai4_self_checks(course, with_mistakes(solution, mistake), monkeypatch)
    failed = {grade_id for grade_id, error in raised.items() if error is not None}
    assert all(isinstance(raised[grade_id], AssertionError) for grade_id in failed), raised
    assert failed == mistake.lost & set(raised)
