"""Correct work written other ways than the solution earns every automatic point, and the visible self-checks agree.

Each assignment's variants (``VARIANTS`` in ``autograder/checks/<id>/examples.py``) are combined into a few notebooks,
each variant on its own questions, so that the expensive kadai4 needs two notebooks and kadai3 two;
all notebooks of one assignment are graded in one batch through nbgrader and the sandbox.

The visible self-checks are then run as students run them, without this toolkit: the release
notebook (no hidden tests) filled in with each combination, executed with nbclient in a plain
python3 kernel whose IPython start-up refuses ``import autograder``.  kadai5 and kadai3 run whole;
kadai4's notebooks train for minutes, so its self-check cells run in-process on objects made by the
variant's own code with short trainings (see ``test_kadai4_self_checks_accept_the_variants``).
"""
from __future__ import annotations

import os
import textwrap
from pathlib import Path

import nbformat
import pytest
from helpers import copy_course

from autograder.course.assignment import graded_cells
from autograder.course.results import Status
from autograder.grading.grade import grade
from autograder.tools.examples import (
    DELIMITER,
    assignments,
    filled_in,
    mistakes,
    variant,
    variants,
    with_mistakes,
    with_variants,
)

FULL = {"kadai3": 12, "kadai4": 20, "kadai5": 20}  # automatic points (the totals test_config.py checks against the notebooks)

# Each notebook answers in several variants' ways, each variant on its own questions (two variants share a
# cell only where they edit different lines of it, e.g. kadai4's functional_api and acc_metric in 問1).
NOTEBOOKS = {
    "kadai3": (
        ("imshow_cmap_colorbar", "float_literal_reshape_minus_one", "sequential_list", "positional_fit", "np_round"),
        ("cmap_object_int_label", "divide_first_keras_utils", "functional_tensorflow_keras", "categorical_accuracy_metric",
         "keyword_fit_verbose"),
    ),
    "kadai4": (
        ("functional_api", "acc_metric", "positional_fit", "evaluate_return_dict", "tf_nn_relu", "activation_layers",
         "keras_input_list", "tensorflow_keras_imports"),
        ("sequential_list", "keyword_fit_verbose", "subplots_object_oriented", "categorical_accuracy_object",
         "categorical_accuracy_name", "functional_dropout"),
    ),
    "kadai5": (
        ("standard_scaler", "functional_loss_object", "positional_fit", "subplots_object_oriented", "activation_layers",
         "ravel_then_threshold"),
        ("numpy_statistics", "loss_function", "acc_metric", "keras_input_list"),
        ("binary_accuracy_metric", "tensorflow_keras_imports", "evaluate_return_dict"),
        ("twin_axes_colorbar", "scaler_fit_then_transform", "tf_nn_activations"),
        ("pyplot_without_fig_name", "functional_dropout"),
    ),
}


def notebooks(course, assignment_id: str) -> dict[str, nbformat.NotebookNode]:
    """student id → the solution-filled release answered in that combination of variants."""
    solution = filled_in(course.source_notebook(assignment_id), course.release_notebook(assignment_id))
    return {f"variants{i}": with_variants(solution, *(variant(name, assignment_id) for name in names))
            for i, names in enumerate(NOTEBOOKS[assignment_id], start=1)}


def test_every_variant_is_graded_once_and_the_matrix_is_wide(course):
    """Is every variant in exactly one notebook, within the CI budget, and does the matrix cover what students write?"""
    for assignment_id, groups in NOTEBOOKS.items():
        named = [name for group in groups for name in group]
        assert sorted(named) == sorted(v.name for v in variants(assignment_id)), assignment_id
        assert len(named) == len(set(named))
        notebooks(course, assignment_id)  # every combination applies (raises if an edit no longer fits)
    assert len(NOTEBOOKS["kadai4"]) <= 2 and len(NOTEBOOKS["kadai3"]) <= 2
    assert sum(len(variants(a)) for a in assignments()) >= 20
    for assignment_id in ("kadai4", "kadai5"):
        text = "\n".join(new for v in variants(assignment_id) for _, _, new in v.edits)
        for form in ("plt.subplots(1, 2", "keras.Model(inputs", "metrics=['acc']"):
            assert form in text, (assignment_id, form)


def _graded(released_course, tmp_path_factory, assignment_id: str) -> dict:
    course = copy_course(released_course(assignment_id), tmp_path_factory.mktemp(f"variants-{assignment_id}") / "course")
    ids = []
    for student_id, notebook in notebooks(course, assignment_id).items():
        course.file_submission(assignment_id, student_id, nbformat.writes(notebook))
        ids.append(student_id)
    return {result.student_id: result for result in grade(course, assignment_id, ids)}


@pytest.fixture(scope="session")  # one batch per worker, kept even if other modules run in between
def kadai3_graded(released_course, tmp_path_factory):
    return _graded(released_course, tmp_path_factory, "kadai3")


@pytest.fixture(scope="session")  # one batch per worker, kept even if other modules run in between
def kadai4_graded(released_course, tmp_path_factory):
    return _graded(released_course, tmp_path_factory, "kadai4")


@pytest.fixture(scope="session")  # one batch per worker, kept even if other modules run in between
def kadai5_graded(released_course, tmp_path_factory):
    return _graded(released_course, tmp_path_factory, "kadai5")


def _assert_full_marks(course, assignment_id: str, results: dict) -> None:
    automatic = {c.grade_id for c in graded_cells(course.source_notebook(assignment_id)) if not c.manual}
    assert sorted(results) == [f"variants{i}" for i in range(1, len(NOTEBOOKS[assignment_id]) + 1)]
    for student_id, result in results.items():
        names = NOTEBOOKS[assignment_id][int(student_id.removeprefix("variants")) - 1]
        assert result.status == Status.GRADED, (student_id, names, result.message)
        lost = {c.grade_id: c.message for c in result.checks if not c.manual and not c.passed}
        assert lost == {}, (student_id, names, lost)
        assert {c.grade_id for c in result.checks if not c.manual} == automatic
        assert result.score == FULL[assignment_id], (student_id, names)


@pytest.mark.slow
def test_kadai3_variants_earn_full_marks(course, kadai3_graded):
    """Does every kadai3 variant (colorbar, / 255.0, reshape(-1, 784), Functional API, CategoricalAccuracy, ...) earn 12/12?"""
    _assert_full_marks(course, "kadai3", kadai3_graded)


@pytest.mark.slow
def test_kadai4_variants_earn_full_marks(course, kadai4_graded):
    """Does every kadai4 variant (Functional API, 'acc', plt.subplots, Activation layers, return_dict, ...) earn 20/20?"""
    _assert_full_marks(course, "kadai4", kadai4_graded)


@pytest.mark.slow
def test_kadai5_variants_earn_full_marks(course, kadai5_graded):
    """Does every kadai5 variant (StandardScaler, loss objects, 'acc'/'binary_accuracy', twin axes, ...) earn 20/20?"""
    _assert_full_marks(course, "kadai5", kadai5_graded)


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


@pytest.mark.slow
def test_kadai5_self_checks_accept_the_variants_without_the_toolkit(course, tmp_path):
    """Does every kadai5 variant pass every visible self-check in a plain kernel where autograder cannot be imported?"""
    _assert_self_checks_pass(course, "kadai5", tmp_path, timeout=600)


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


@pytest.mark.slow
def test_kadai3_self_checks_accept_the_variants_without_the_toolkit(course, tmp_path):
    """Does every kadai3 variant pass every visible self-check in a plain kernel where autograder cannot be imported?"""
    _assert_self_checks_pass(course, "kadai3", tmp_path, timeout=900)


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
@pytest.mark.parametrize("student_id", ["variants1", "variants2"])
def test_kadai4_self_checks_accept_the_variants(course, student_id, monkeypatch):
    """Do kadai4's visible self-checks accept each variant's own objects (model, History keys, figure, score)?"""
    raised = _kadai4_self_checks(course, notebooks(course, "kadai4")[student_id], monkeypatch)
    assert {grade_id: repr(e) for grade_id, e in raised.items() if e is not None} == {}
    tests = {c.grade_id for c in graded_cells(course.source_notebook("kadai4")) if not c.manual}
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
