"""Evidence: collected in a kernel, rebuilt and judged elsewhere; the rebuilt values behave like the originals."""
from __future__ import annotations

import json
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import nbformat
import numpy as np
import pytest
from helpers import ROOT

from autograder.checks import CheckFailed, figures, history
from autograder.checks.structure import check_structure, dense
from autograder.grading import sandbox, verdicts
from autograder.grading.kernel import evidence

HISTORY = {"loss": [0.6, 0.4, 0.3], "val_loss": [0.5, 0.45, 0.44],
           "accuracy": [0.7, 0.8, 0.85], "val_accuracy": [0.72, 0.78, 0.8]}


@pytest.fixture(scope="module")
def trained():
    """A small Keras model really trained 3 epochs with validation_split=0.2, and its History."""
    import keras

    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).normal(size=(100, 30)).astype("float32")
    y = (x[:, 0] > 0).astype("float32")
    model = keras.Sequential([keras.Input((30,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer="Adam", metrics=["accuracy"])
    result = model.fit(x, y, epochs=3, batch_size=32, validation_split=0.2, verbose=0)
    return model, result, x, y


def _figure():
    fig = plt.figure(figsize=(12, 4))
    plt.subplot(1, 2, 1)
    plt.plot(HISTORY["loss"], label="loss")
    plt.plot(HISTORY["val_loss"], label="val_loss")
    plt.legend()
    plt.subplot(1, 2, 2)
    plt.imshow(np.arange(784, dtype="uint8").reshape(28, 28), "gray")
    return fig


def test_round_trip_keeps_what_checks_read(tmp_path, trained):
    model, result, x, y = trained
    figure = _figure()
    ns = {"model": model, "result": result, "score": [0.25, 0.9], "x": x, "label": np.int64(9), "words": {"a": 1}}
    from autograder.grading.kernel import capture

    capture.install()
    plt.close("all")
    evidence.collect(tmp_path, ns, ("model", "result", "score", "x", "label", "words", "missing"), figures=True)
    rebuilt = verdicts.load(tmp_path)

    assert "missing" not in rebuilt
    assert rebuilt["model"].count_params() == model.count_params() == 30 * 8 + 8 + 9
    check_structure(rebuilt["model"], [dense(8, "relu", 30), dense(1, "sigmoid", 8)], inputs=30)
    assert rebuilt["result"].history == result.history and rebuilt["result"].params["steps"] == 3
    assert rebuilt["result"].model is rebuilt["model"]
    history.check_history_is_models(rebuilt["result"], x[80:], y[80:])
    assert rebuilt["score"] == [0.25, 0.9] and rebuilt["label"] == 9
    assert np.array_equal(rebuilt["x"], x)
    assert type(rebuilt["words"]).__name__ == "dict" and "'a': 1" in repr(rebuilt["words"])
    view = figures.last_figure(rebuilt)
    figures.check_layout(view)
    figures.check_panel(view, 0, HISTORY, ("loss", "val_loss"))
    assert [t.get_text() for t in view.axes[0].get_legend().get_texts()] == ["loss", "val_loss"]
    assert view.axes[1].get_images()[0].get_cmap().name == "gray"
    assert np.array_equal(view.axes[1].get_images()[0].get_array(), figure.axes[1].get_images()[0].get_array())
    assert view.get_size_inches() == (12.0, 4.0)


def test_the_same_array_read_by_many_checks_is_written_once(tmp_path):
    """Do checks reading the same data share one file on disk (a hard link), while data changed in place, even
    where the sample of values does not look, is written anew and read back as it now is?"""
    x = np.arange(60_000, dtype="float32").reshape(200, 300)
    evidence.collect(tmp_path / "first", {"x": x}, ("x",), figures=False)
    evidence.collect(tmp_path / "second", {"x": x.copy(), "y": x.T}, ("x", "y"), figures=False)
    x[0, 1] = -1.0  # one value, between the sampled ones
    evidence.collect(tmp_path / "third", {"x": x}, ("x",), figures=False)

    first, second, third = (tmp_path / name / "x.npy" for name in ("first", "second", "third"))
    assert first.stat().st_ino == second.stat().st_ino and first.stat().st_nlink == 2
    assert third.stat().st_ino != first.stat().st_ino and third.stat().st_nlink == 1
    assert np.array_equal(verdicts.load(tmp_path / "second")["x"], np.arange(60_000).reshape(200, 300))
    assert np.array_equal(verdicts.load(tmp_path / "second")["y"], np.arange(60_000).reshape(200, 300).T)
    assert verdicts.load(tmp_path / "third")["x"][0, 1] == -1.0


def test_a_history_that_is_not_its_models_fails(tmp_path, trained):
    model, result, x, y = trained
    forged = verdicts.HistoryView({**result.history, "val_loss": [0.1, 0.1, 0.1]}, dict(result.params), model)
    with pytest.raises(CheckFailed, match="val_loss"):
        history.check_history_is_models(forged, x[80:], y[80:])
    longer = verdicts.HistoryView({k: v * 10 for k, v in result.history.items()}, dict(result.params), model)
    with pytest.raises(CheckFailed, match="バッチ数"):
        history.check_history_is_models(longer, x[80:], y[80:])


def test_symlinks_and_paths_out_of_the_folder_are_refused(tmp_path):
    for name, entry in (("a", {"kind": "array", "file": "link.npy"}), ("b", {"kind": "array", "file": "../x.npy"})):
        folder = tmp_path / name
        folder.mkdir()
        if name == "a":
            (folder / "link.npy").symlink_to("/etc/passwd")
        (folder / evidence.MANIFEST).write_text(json.dumps({"names": {"x": entry}}))
        with pytest.raises(verdicts.EvidenceRefused, match="bad evidence file name"):
            verdicts.load(folder)


def test_uses_collects_in_a_grading_kernel_and_judges_elsewhere(tmp_path, monkeypatch):
    calls = []

    @evidence.uses("value")
    def check_value(ns):
        calls.append(ns["value"])
        if ns["value"] != 3:
            raise CheckFailed("value は 3 のはずです")

    check_value({"value": 3})
    assert calls == [3]
    monkeypatch.setenv(evidence.EVIDENCE_ENV, str(tmp_path))
    assert check_value({"value": 4}) is None  # collected, not judged
    assert calls == [3]
    assert verdicts.load(tmp_path / check_value.evidence_key)["value"] == 4
    with pytest.raises(CheckFailed):
        check_value.__wrapped__(verdicts.load(tmp_path / check_value.evidence_key))


def test_test_cell_calls_are_found():
    source = ("### BEGIN HIDDEN TESTS\nfrom autograder.checks import kadai4 as _kadai4\n"
              "_kadai4.check_model1(globals())\n### END HIDDEN TESTS\nself_check(True, '')\n")
    assert verdicts.checks_of(source) == [("autograder.checks.kadai4", "check_model1")]
    assert verdicts.checks_of("print('no check here')") == []


def test_missing_evidence_is_not_attempted(tmp_path):
    assert verdicts.judge(tmp_path, "autograder.checks.kadai4", "check_model1") == ("NotAttempted", verdicts.NOT_RUN)


def test_apply_replaces_what_the_kernel_said():
    cell = nbformat.v4.new_code_cell("check", metadata={"nbgrader": {"grade": True, "grade_id": "q1", "points": 1}})
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="問1 OK\n"),
                    nbformat.v4.new_output("error", ename="AssertionError", evalue="self-check", traceback=[])]
    passed = nbformat.v4.new_notebook(cells=[cell])
    verdicts.apply(passed, {"q1": None})
    assert [o.output_type for o in passed.cells[0].outputs] == ["stream"]
    failed = nbformat.v4.new_notebook(cells=[nbformat.from_dict(cell)])
    failed.cells[0].outputs = [nbformat.v4.new_output("stream", name="stdout", text="問1 OK\n")]
    verdicts.apply(failed, {"q1": ("CheckFailed", "層の数が 3 です")})
    assert failed.cells[0].outputs[-1].evalue == "層の数が 3 です"


def test_jail_sets_limits():
    code = "import resource; print(resource.getrlimit(resource.RLIMIT_FSIZE)[0], resource.getrlimit(resource.RLIMIT_CORE)[0])"
    done = subprocess.run([sys.executable, "-m", "autograder.grading.jail", "--file-size=3", "--", sys.executable, "-c", code],
                          capture_output=True, text=True, check=True)
    assert done.stdout.split() == [str(3 * 2**20), "0"]


def test_sandbox_command_hides_the_course(tmp_path):
    caps = sandbox.Capabilities(bwrap="/usr/bin/bwrap", cgroup=None, mount=False)
    box = sandbox.Sandbox(tmp_path, sandbox.Limits(100, 10, 10), caps)
    box.home = tmp_path / "home"
    command = box.wrap(["python", "-m", "ipykernel_launcher"])
    bwrap = command[command.index("--") + 1:]
    assert "--unshare-all" in bwrap and "--die-with-parent" in bwrap
    mounted = {bwrap[i + 1] for i, a in enumerate(bwrap) if a in ("--bind", "--ro-bind", "--ro-bind-try")}
    root = ROOT
    assert str(root) not in mounted and "/" not in mounted and "/tmp" not in mounted
    assert str(root / "autograder") in mounted


def test_warning_is_loud_and_bilingual_when_parts_are_missing():
    caps = sandbox.Capabilities(bwrap=None, cgroup=None, mount=False, problems=("bubblewrap (bwrap) is not installed",))
    text = caps.warning()
    assert "警告" in text and "WARNING" in text and "apt-get install bubblewrap" in text
    assert sandbox.Capabilities("/usr/bin/bwrap", "v1", True).warning() is None


def test_our_own_failures_are_toolkit_errors_not_a_students_zero(tmp_path, monkeypatch):
    """A check that raises anything but CheckFailed, or evidence our collecting failed to write: the toolkit's error."""
    from autograder.checks import kadai5

    folder = tmp_path / "autograder.checks.kadai5.check_model"
    folder.mkdir()
    (folder / evidence.MANIFEST).write_text(json.dumps({"names": {"model": {"kind": "json", "value": 1}}}))
    monkeypatch.setattr(kadai5, "check_model", evidence.uses("model")(lambda ns: {}["no such key"]))
    ename, message = verdicts.judge(tmp_path, "autograder.checks.kadai5", "check_model")
    assert ename == verdicts.TOOLKIT and "KeyError" in message
    collected = tmp_path / "collected"
    monkeypatch.setattr(evidence, "_collect", lambda *args: (_ for _ in ()).throw(TypeError("not serialisable")))
    evidence.collect(collected, {}, ("model",), False)  # never raises in the kernel
    manifest = json.loads((collected / evidence.MANIFEST).read_text())
    assert "not serialisable" in manifest[evidence.TOOLKIT_ERROR]
    with pytest.raises(verdicts.ToolkitFault):
        verdicts.load(collected)


def test_tampered_evidence_is_the_students_zero(tmp_path):
    """A file name leaving the folder is tampering: the check fails with a message, it is no toolkit error."""
    folder = tmp_path / "autograder.checks.kadai5.check_model"
    folder.mkdir()
    (folder / evidence.MANIFEST).write_text(json.dumps({"names": {"model": {"kind": "model", "file": "../m.keras"}}}))
    assert verdicts.judge(tmp_path, "autograder.checks.kadai5", "check_model") == ("CheckFailed", verdicts.TAMPERED)
    (folder / evidence.MANIFEST).write_text("[1, 2]")
    assert verdicts.judge(tmp_path, "autograder.checks.kadai5", "check_model") == ("CheckFailed", verdicts.TAMPERED)
    for forged in ({"names": {"model": {"kind": "json"}}}, {"names": {}, "figures": 5},
                   {"names": {}, "figures": [{"axes": []}]}):  # shapes our collecting never writes
        (folder / evidence.MANIFEST).write_text(json.dumps(forged))
        assert verdicts.judge(tmp_path, "autograder.checks.kadai5", "check_model") == ("CheckFailed", verdicts.TAMPERED)


def test_the_judging_hands_the_check_its_assignment_and_evidence_cannot(tmp_path, monkeypatch):
    """Does a check judged by ``verdicts`` read the thresholds the judging hands in (the course's AssignmentConfig),
    is evidence naming ``__assignment__`` (or the figures' key) tampering, and is a check left without them the
    toolkit's error, never the student's 0?"""
    from types import SimpleNamespace

    from autograder.checks import kadai5
    from autograder.checks.errors import settings

    def check(ns):
        raise CheckFailed(f"目標 {settings(ns).accuracy_threshold}")

    monkeypatch.setattr(kadai5, "check_accuracy", evidence.uses("model")(check))
    folder = tmp_path / "autograder.checks.kadai5.check_accuracy"
    folder.mkdir()
    (folder / evidence.MANIFEST).write_text(json.dumps({"names": {"model": {"kind": "json", "value": 1}}}))
    handed = SimpleNamespace(accuracy_threshold=0.42)
    assert verdicts.judge(tmp_path, "autograder.checks.kadai5", "check_accuracy", handed) == ("CheckFailed", "目標 0.42")
    ename, message = verdicts.judge(tmp_path, "autograder.checks.kadai5", "check_accuracy")
    assert ename == verdicts.TOOLKIT and "__assignment__" in message
    for reserved in (evidence.ASSIGNMENT, evidence.FIGURES):
        forged = {"names": {reserved: {"kind": "json", "value": {"accuracy_threshold": 0.0}}}}
        (folder / evidence.MANIFEST).write_text(json.dumps(forged))
        with pytest.raises(verdicts.EvidenceRefused):
            verdicts.load(folder)
        assert verdicts.judge(tmp_path, "autograder.checks.kadai5", "check_accuracy", handed) == ("CheckFailed", verdicts.TAMPERED)


def test_the_start_up_report_names_the_toolkit_it_imported(tmp_path):
    """A kernel whose start-up imported another copy of the toolkit than grading runs: an environment problem."""
    from autograder.grading.kernel.startup import STARTED, read_started

    assert "did not finish" in read_started(tmp_path, "/opt/autograder/lib/autograder")
    (tmp_path / STARTED).write_text(json.dumps({"ok": True, "toolkit": "/opt/autograder/lib/autograder"}))
    assert read_started(tmp_path, "/opt/autograder/lib/autograder") is None
    (tmp_path / STARTED).write_text(json.dumps({"ok": True, "toolkit": "/usr/lib/python3/site-packages/autograder"}))
    assert "another copy of the toolkit" in read_started(tmp_path, "/opt/autograder/lib/autograder")
    (tmp_path / STARTED).write_text(json.dumps({"ok": False, "error": "ValueError: Unable to import backend"}))
    assert "Unable to import backend" in read_started(tmp_path, "/opt/autograder/lib/autograder")


def test_the_machinerys_noise_is_not_shown_to_the_student():
    """TensorFlow's C++ log lines go, the grading machine's Python folders become <python>, the student's own text stays."""
    from autograder.grading import child

    cell = nbformat.v4.new_code_cell("model = ...")
    cell.outputs = [
        nbformat.v4.new_output("stream", name="stderr", text="E0000 00:00:1764431234.123456  1234 cuda_platform.cc:52] "
                                                             "failed call to cuInit: INTERNAL: CUDA error\n"),
        nbformat.v4.new_output("stream", name="stderr", text=f"{sys.prefix}/lib/keras/x.py:1: UserWarning: w\nmine\n"),
        nbformat.v4.new_output("stream", name="stdout", text="E0000 is the student's own\n")]
    notebook = nbformat.v4.new_notebook(cells=[cell])
    child._quiet_machinery(notebook)
    assert [o.text for o in notebook.cells[0].outputs] == ["<python>/lib/keras/x.py:1: UserWarning: w\nmine\n",
                                                          "E0000 is the student's own\n"]


def test_a_missing_library_is_named_in_japanese():
    """`import plotly` in a grading kernel: does the error say, in Japanese, which library is missing and what is there?"""
    from autograder.grading import child

    cell = nbformat.v4.new_code_cell("import plotly.express as px")
    cell.outputs = [nbformat.v4.new_output("error", ename="ModuleNotFoundError", evalue="No module named 'plotly'",
                                           traceback=["ModuleNotFoundError: No module named 'plotly'"])]
    notebook = nbformat.v4.new_notebook(cells=[cell])
    child._quiet_machinery(notebook)
    error = notebook.cells[0].outputs[0]
    assert "ライブラリ plotly は採点環境にありません" in error.evalue and "seaborn" in error.evalue
    assert "ライブラリ plotly" in error.traceback[-1]


def test_colab_libraries_are_there_for_grading():
    """The libraries students may import as on Colab are installed in the grading environment."""
    import importlib

    from autograder.grading import child

    for library in child.AVAILABLE_LIBRARIES:
        importlib.import_module(library.split(" ")[-1].strip("()"))
