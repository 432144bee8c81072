"""Submissions that try to fool or break grading, graded together in one batch with an honest one.

Every case is a real notebook graded through nbgrader on the real data, in the
sandbox (bubblewrap, cgroups) when the machine has it; the table in
docs/attacks.md lists each case, what it tries and the outcome asserted here.
"""
from __future__ import annotations

import os
import socket
import threading

import nbformat
import pytest
from helpers import ROOT, copy_course

from autograder.course.results import Status, load_status
from autograder.grading import canary, sandbox
from autograder.grading.grade import grade
from autograder.tools.examples import filled_in

# one worker grades the module's batch once: make test distributes whole files (pytest-xdist --dist loadfile)
pytestmark = pytest.mark.slow

AID = "kadai5"
FULL = 20  # kadai5's automatic points


def _code(source: str):
    return nbformat.v4.new_code_cell(source)


def _insert(notebook, after_grade_id: str | None, source: str):
    """A copy of ``notebook`` with a new (ungraded) code cell after the cell ``after_grade_id`` (None: after set-up)."""
    notebook = nbformat.from_dict(notebook)
    anchor = after_grade_id or "setup"
    index = next(i for i, c in enumerate(notebook.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == anchor)
    notebook.cells.insert(index + 1, _code(source))
    return notebook


class Listener:
    """A TCP server on every interface of the host, counting the connections that reach it."""

    def __init__(self):
        self.server = socket.create_server(("0.0.0.0", 0))
        self.port = self.server.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                connection, _ = self.server.accept()
            except OSError:
                return
            self.connections += 1
            connection.close()


def _host_address() -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: only picks the outgoing interface
            return probe.getsockname()[0]
        except OSError:
            return "127.0.0.1"


READ_ATTEMPT = '''
import glob, os
targets = {targets!r}
targets += glob.glob("/tmp/autograder-*/**/gradebook.db", recursive=True)
targets += glob.glob("/tmp/autograder-*/**/source/**/*.ipynb", recursive=True)
for path in targets:
    try:
        with open(path, "rb") as f:
            data = f.read()
        print("LEAKED", path, len(data))
    except OSError as e:
        print("DENIED", path, type(e).__name__)
print("ATTEMPTS", len(targets))
'''

NETWORK_ATTEMPT = '''
import socket
for host in ("127.0.0.1", {host!r}, "1.1.1.1"):
    try:
        socket.create_connection((host, {port}), timeout=3).close()
        print("CONNECTED", host)
    except OSError as e:
        print("NO NETWORK", host, type(e).__name__)
try:
    print("RESOLVED", socket.gethostbyname("pypi.org"))
except OSError as e:
    print("NO DNS", type(e).__name__)
'''

FAKE_CHECKS = '''
import sys, types
import autograder.checks
fake = types.ModuleType("autograder.checks.kadai5")
fake.__getattr__ = lambda name: (lambda *args, **kwargs: None)
sys.modules["autograder.checks.kadai5"] = fake
autograder.checks.kadai5 = fake
get_ipython().showtraceback = lambda *args, **kwargs: None
import builtins
builtins.NotImplementedError = type("NotImplementedError", (Exception,), {})
for q in ("問1", "問2", "問3", "問4", "問5", "問6", "問7"):
    print(q, "OK")
'''

FORGED_EVIDENCE = '''
import json, os
from pathlib import Path
root = Path(os.environ.get("AUTOGRADER_EVIDENCE", "/home/student/.autograder-evidence"))
untrained = keras.Sequential([keras.Input((30,)), Dense(64, activation="relu"), Dense(64, activation="relu"),
                             Dense(1, activation="sigmoid")])
untrained.compile(loss="binary_crossentropy", optimizer="Adam", metrics=["accuracy"])
fake_history = {"loss": [0.1] * 100, "accuracy": [0.99] * 100, "val_loss": [0.1] * 100, "val_accuracy": [0.99] * 100}
for check in ("check_fit", "check_accuracy", "check_recall", "check_early_stopping"):
    folder = root / f"autograder.checks.kadai5.{check}"
    folder.mkdir(parents=True, exist_ok=True)
    keras.saving.save_model(untrained, folder / "model.keras")
    os.symlink("/etc/passwd", folder / "x_train.npy")
    manifest = {"names": {"model": {"kind": "model", "file": "model.keras"},
                          "result": {"kind": "history", "history": fake_history, "params": {"epochs": 100, "steps": 12},
                                     "model": {"same_as": "model"}},
                          "x_train": {"kind": "array", "file": "x_train.npy"},
                          "y_train": {"kind": "json", "value": [0.0] * 455},
                          "recall": {"kind": "json", "value": 1.0},
                          "x_test": {"kind": "array", "file": "../../../etc/passwd"}}}
    (folder / "manifest.json").write_text(json.dumps(manifest))
print("FORGED", sorted(p.name for p in root.iterdir()))
del untrained  # the namespace keeps no model of the right shape: only the forged files could earn points
'''

TENS_OF_MILLIONS = '''
for i in range(10_000_000):
    print(i)
'''

HUGE_FILES = '''
import os
written = 0
try:
    for n in range(100_000):
        with open(f"junk{n}.bin", "wb") as f:
            for _ in range(64):
                f.write(b"x" * 2**20)
                written += 2**20
except OSError as e:
    print("STOPPED", type(e).__name__, e.errno, written // 2**20, "MB")
'''

FORK_BOMB = '''
import os
while True:
    os.fork()
'''

MEMORY_BOMB = '''
hog = []
while True:
    hog.append(b"x" * 2**27)
'''


def _tamper_cells(release):
    """Test cells rewritten, a test cell's points raised and its type changed, two test cells deleted."""
    notebook = nbformat.from_dict(release)
    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and cell.cell_type == "code":
            cell.source = "print('問 OK')"
            meta["points"] = 100
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "q2_model":
            cell.cell_type = "markdown"
            cell.pop("outputs", None)
            cell.pop("execution_count", None)
    notebook.cells = [c for c in notebook.cells
                      if c.metadata.get("nbgrader", {}).get("grade_id") not in ("q6_accuracy", "q6_recall")]
    return notebook


@pytest.fixture(scope="session")  # one batch per worker, kept even if other modules run in between
def attacked(released_course, tmp_path_factory):
    """Every case graded in one batch on two workers, with the honest solution among them."""
    course = copy_course(released_course(AID), tmp_path_factory.mktemp("attacks") / "course")
    config = course.root / "course_config.py"
    # A short cell limit keeps the infinite loop cheap; 150 s is still 15 times what the solution's longest
    # cell (100 epochs) takes, so that the honest cases pass with the other pytest worker busy beside them.
    config.write_text(config.read_text(encoding="utf-8") + (
        "\n\nimport dataclasses as _dataclasses\n"
        "CONFIG = _dataclasses.replace(CONFIG, cell_timeout=150, notebook_timeout=600)\n"), encoding="utf-8")
    source, release_path = course.source_notebook(AID), course.release_notebook(AID)
    release = nbformat.read(release_path, as_version=4)
    solution = filled_in(source, release_path)
    listener = Listener()
    host = _host_address()
    secrets = [str(course.root / "gradebook.db"), str(course.root / "source" / AID / f"{AID}.ipynb"),
               str(course.submission_notebook(AID, "honest"))]
    big = nbformat.from_dict(release)
    big.cells[2].outputs = [nbformat.v4.new_output("stream", name="stdout", text="x" * (100 * 2**20))]
    kadai4_release = course.root.parent / "kadai4.ipynb"
    kadai4_release.write_text(ROOT.joinpath("release", "kadai4", "kadai4.ipynb")
                              .read_text(encoding="utf-8"), encoding="utf-8")
    v3 = nbformat.writes(nbformat.convert(nbformat.from_dict(release), 3), version=3)  # convert changes its argument
    keep = {c.grade_id for c in course.assignment(AID).automatic_cells} - {
        "q5_dropout", "q5_early_stopping", "q6_accuracy", "q6_recall", "q7_confusion"}
    partial = nbformat.from_dict(solution)
    cut = next(i for i, c in enumerate(partial.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == "q5_md")
    partial.cells = partial.cells[:cut]
    submissions = {
        "honest": nbformat.writes(solution),
        "read_files": nbformat.writes(_insert(release, None, READ_ATTEMPT.format(targets=secrets))),
        "network": nbformat.writes(_insert(release, None, NETWORK_ATTEMPT.format(host=host, port=listener.port))),
        "fake_checks": nbformat.writes(_insert(release, None, FAKE_CHECKS)),
        "forged_evidence": nbformat.writes(_insert(release, None, FORGED_EVIDENCE)),
        "tampered_cells": nbformat.writes(_tamper_cells(release)),
        "not_json": "これはノートブックではありません {",
        "empty": "",
        "binary_junk": os.urandom(4096),
        "nbformat3": v3,
        "output_100mb": nbformat.writes(big),
        "wrong_assignment": kadai4_release.read_text(encoding="utf-8"),
        "missing_cells": nbformat.writes(partial),
        "infinite_loop": nbformat.writes(_insert(release, None, "while True:\n    pass\n")),
        "memory_bomb": nbformat.writes(_insert(solution, "q3_fit", MEMORY_BOMB)),
        "fork_bomb": nbformat.writes(_insert(release, None, FORK_BOMB)),
        "os_exit": nbformat.writes(_insert(solution, "q3_fit", "import os\nos._exit(1)\n")),
        "sys_exit": nbformat.writes(_insert(solution, "q1_no_leak", "import sys\nsys.exit('bye')\n")),
        "ten_million_lines": nbformat.writes(_insert(release, None, TENS_OF_MILLIONS)),
        "huge_files": nbformat.writes(_insert(release, None, HUGE_FILES)),
    }
    for student_id, content in submissions.items():
        path = course.submission_notebook(AID, student_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            course.file_submission(AID, student_id, content)
    results = {r.student_id: r for r in grade(course, AID, workers=2)}
    return {"course": course, "results": results, "listener": listener, "keep": keep, "secrets": secrets}


def _outputs(course, student_id: str) -> str:
    """Every text the student's cells printed or raised in the autograded notebook."""
    notebook = nbformat.read(course.assignment(AID).autograded(student_id), as_version=4)
    texts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            texts.append(output.get("text", "") if isinstance(output.get("text", ""), str) else "")
            texts.append(output.get("evalue", ""))
    return "\n".join(texts)


def test_machine_isolates():
    """Is the sandbox fully there on this machine (CI's)? Every case below is meant to run inside it."""
    assert sandbox.probe().warning() is None, sandbox.probe().warning()


def test_honest_solution_full_marks_among_attacks(attacked):
    """Is the honest solution graded as if it were alone: every automatic point?"""
    honest = attacked["results"]["honest"]
    assert honest.status == Status.GRADED and honest.score == FULL, honest.message


def test_cannot_read_gradebook_sources_or_other_students(attacked):
    """Can a submission read the gradebook, the source notebook (hidden tests, solutions) or another student's work?"""
    text = _outputs(attacked["course"], "read_files")
    assert "LEAKED" not in text
    for secret in attacked["secrets"]:
        assert f"DENIED {secret}" in text
    assert attacked["results"]["read_files"].score == 0


def test_cannot_open_a_network_connection(attacked):
    """Can a submission reach the host's loopback, the host's address, the internet or DNS?"""
    text = _outputs(attacked["course"], "network")
    assert "CONNECTED" not in text and "RESOLVED" not in text
    assert text.count("NO NETWORK") == 3 and "NO DNS" in text
    assert attacked["listener"].connections == 0


def test_replacing_the_checks_and_the_traceback_display_earns_nothing(attacked):
    """Fake check module, silenced tracebacks, printed "OK"s: no point, every check says it did not run."""
    result = attacked["results"]["fake_checks"]
    assert result.status == Status.GRADED and result.score == 0
    automatic = [c for c in result.checks if not c.manual]
    assert all(c.error == "NotAttempted" for c in automatic), [(c.grade_id, c.error) for c in automatic]


def test_forged_evidence_earns_nothing(attacked):
    """Evidence files written by hand (fake History, untrained model, symlinks out of the folder): no point."""
    result = attacked["results"]["forged_evidence"]
    assert "FORGED" in _outputs(attacked["course"], "forged_evidence")
    assert result.status == Status.GRADED and result.score == 0, result.message


def test_edited_retyped_and_deleted_test_cells_earn_nothing(attacked):
    """Test cells rewritten, given 100 points, turned into Markdown, or deleted: no point, max score unchanged."""
    result = attacked["results"]["tampered_cells"]
    assert result.status == Status.GRADED and result.score == 0
    assert result.max_score == 25


@pytest.mark.parametrize("student_id", ["not_json", "empty", "binary_junk"])
def test_unreadable_files_are_invalid_with_a_message(attacked, student_id):
    result = attacked["results"][student_id]
    assert result.status == Status.INVALID and "ノートブックとして読めません" in result.message and "not a readable notebook" in result.message


@pytest.mark.parametrize("student_id", ["nbformat3", "output_100mb"])
def test_odd_but_readable_notebooks_are_graded(attacked, student_id):
    """An older nbformat, 100 MB of output: graded (no answers here, so 0)."""
    result = attacked["results"][student_id]
    assert result.status == Status.GRADED and result.score == 0, result.message


def test_another_assignments_notebook_is_invalid(attacked):
    result = attacked["results"]["wrong_assignment"]
    assert result.status == Status.INVALID and "別の課題" in result.message and "another assignment" in result.message


def test_missing_cells_keep_the_points_of_what_is_there(attacked):
    """The solution with 問5 onwards deleted: the points of 問1–問4, nothing else."""
    result = attacked["results"]["missing_cells"]
    assert result.status == Status.GRADED
    assert {c.grade_id for c in result.checks if c.passed} == attacked["keep"]
    assert result.score == sum(c.max_points for c in result.checks if c.grade_id in attacked["keep"])


def test_infinite_loop_times_out_and_the_rest_runs(attacked):
    result = attacked["results"]["infinite_loop"]
    assert result.status == Status.GRADED and result.score == 0
    assert "時間切れ" in result.message and "timed out" in result.message


def test_memory_bomb_stops_the_kernel_and_keeps_earlier_points(attacked):
    """Over the memory limit after 問3: the kernel is stopped, 問1–問3's points stay, the message says why."""
    result = attacked["results"]["memory_bomb"]
    assert result.status == Status.GRADED, result.message
    assert "メモリの上限" in result.message and "memory limit" in result.message
    assert {c.grade_id for c in result.checks if c.passed} == {"q1_scaled", "q1_no_leak", "q2_model", "q3_fit"}


def test_os_exit_keeps_earlier_points(attacked):
    result = attacked["results"]["os_exit"]
    assert result.status == Status.GRADED, result.message
    assert "カーネル停止" in result.message and "the kernel died" in result.message
    assert {c.grade_id for c in result.checks if c.passed} == {"q1_scaled", "q1_no_leak", "q2_model", "q3_fit"}


def test_sys_exit_is_only_an_error_in_its_cell(attacked):
    result = attacked["results"]["sys_exit"]
    assert result.status == Status.GRADED and result.score == FULL, result.message


def test_fork_bomb_is_stopped_by_the_limits(attacked):
    """Copies of the kernel run into the process limit, or (each copy touching its memory) the memory limit first."""
    result = attacked["results"]["fork_bomb"]
    assert result.status in (Status.GRADED, Status.ERROR) and result.score == 0
    assert ("プロセス数の上限" in result.message and "processes" in result.message) or \
        ("メモリの上限" in result.message and "memory limit" in result.message), result.message


def test_ten_million_lines_are_cut_short(attacked):
    result = attacked["results"]["ten_million_lines"]
    assert result.status == Status.GRADED and result.score == 0, result.message
    graded = attacked["course"].assignment(AID).autograded("ten_million_lines")
    assert graded.stat().st_size < 5 * 2**20


def test_huge_files_stop_at_the_disk_limit(attacked):
    result = attacked["results"]["huge_files"]
    assert result.status == Status.GRADED and result.score == 0, result.message
    assert "STOPPED OSError" in _outputs(attacked["course"], "huge_files")


def test_kernel_that_never_starts(released_course, tmp_path, monkeypatch):
    """A kernel that cannot start (here: a memory limit too small for Python and TensorFlow).

    For every submission alike, that is a broken grading environment: the canary refuses the batch before
    anything is written.  Should it break after the canary passed, the submission is an error, never a 0.
    """
    course = copy_course(released_course(AID), tmp_path / "course")
    config = course.root / "course_config.py"
    config.write_text(config.read_text(encoding="utf-8") + (
        "\n\nimport dataclasses as _dataclasses\nCONFIG = _dataclasses.replace(CONFIG, sandbox_memory_mb=48)\n"),
        encoding="utf-8")
    solution = filled_in(course.source_notebook(AID), course.release_notebook(AID))
    course.file_submission(AID, "student", nbformat.writes(solution))
    with pytest.raises(canary.GradingEnvironmentError, match="canary"):
        grade(course, AID, ["student"], workers=1)
    assert load_status(course.autograded_dir(AID, "student")) is None
    monkeypatch.setattr(canary, "check", lambda *args, **kwargs: None)  # as if it had broken after the canary
    (result,) = grade(course, AID, ["student"], workers=1)
    assert result.status == Status.ERROR and result.score == 0
    assert "/" in result.message and result.message.strip()


def test_docs_table_lists_every_case(attacked):
    """Does docs/attacks.md name every case graded here?"""
    table = (ROOT / "docs" / "attacks.md").read_text(encoding="utf-8")
    for student_id in attacked["results"]:
        assert f"`{student_id}`" in table, student_id
    assert "`kernel_never_starts`" in table and "`monkeypatch_keras`" in table


MONKEYPATCH = """
import keras
keras.Model.count_params = lambda self: 25450
keras.Model.evaluate = lambda self, *args, **kwargs: [0.1, 0.99]


class FakeHistory:
    def __init__(self, model, epochs):
        self.model, self.params = model, {"epochs": epochs, "steps": 750, "verbose": 1}
        self.history = {"loss": [0.5 - 0.01 * i for i in range(epochs)], "accuracy": [0.8 + 0.005 * i for i in range(epochs)],
                        "val_loss": [0.45] * epochs, "val_accuracy": [0.88] * epochs}


keras.Model.fit = lambda self, *args, epochs=1, **kwargs: FakeHistory(self, epochs)
model = Sequential()
model.add(Dense(10, input_shape=(784,), activation='softmax'))
model.compile(loss='categorical_crossentropy', optimizer='Adam', metrics=['accuracy'])
"""


def test_monkeypatching_keras_earns_nothing_it_fakes(released_course, tmp_path):
    """The issue's attack on 課題4: count_params, evaluate and fit replaced, nothing trained.

    Points only for what is real work in it (the figure's layout and legend, predict on its model);
    none for the checks it fakes.
    """
    course = copy_course(released_course("kadai4"), tmp_path / "course")
    notebook = filled_in(course.source_notebook("kadai4"), course.release_notebook("kadai4"))
    q1 = next(c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "q1_code")
    q1.source = MONKEYPATCH + "model.summary()\n"
    course.file_submission("kadai4", "monkeypatch_keras", nbformat.writes(notebook))
    (result,) = grade(course, "kadai4", ["monkeypatch_keras"], workers=1)
    assert result.status == Status.GRADED, result.message
    passed = {c.grade_id for c in result.checks if c.passed}
    assert passed == {"q3_plot_layout", "q3_plot_legend", "q4_predict"}, result.message
    assert result.score == 3
    messages = {c.grade_id: c.message for c in result.checks}
    assert "層の数が 1 です" in messages["q1_model"]  # read from the saved model, not from count_params()
    assert "score = [0.1, 0.99]" in messages["q4_evaluate"]
    assert "バッチ数" in messages["q2_fit"]
