"""Grading on Dask: a real multi-process cluster, a worker killed mid-batch, time limits, resume.

The cluster is started from Dask's own command line (``dask scheduler`` and two
``dask worker`` processes on loopback), as an instructor would on other
machines; the submissions are real kadai4 notebooks graded on the real data.
"""
from __future__ import annotations

import csv
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import pytest

from autograder.course import load_course
from autograder.course.results import Status, load_status
from autograder.grading.grade import grade
from autograder.tools.examples import filled_in, mistake, with_mistakes

pytestmark = pytest.mark.slow

DASK = str(Path(sys.executable).parent / "dask")

# What a student who stopped part-way earns: q1_model 2; q5_neurons, q6_layers, q7_dropout 2 each.
PARTLY = {"untouched": (set(), 0), "q1": ({"q1_code"}, 2), "q1_q5_q7": ({"q1_code", "q5_code", "q6_code", "q7_code"}, 8)}


def partly_done(course, answered: set[str]):
    return filled_in(course.source_notebook("kadai4"), course.release_notebook("kadai4"), only=answered)


def timing_rows(course) -> list[dict]:
    path = course.root / "logs" / "grade-kadai4.csv"
    if not path.is_file():
        return []
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture
def cli_cluster(tmp_path):
    """A scheduler and two single-threaded workers, each its own process, started with the ``dask`` command."""
    from dask.distributed import Client

    scheduler_file = tmp_path / "scheduler.json"
    logs = tmp_path / "dask-logs"
    logs.mkdir()
    common = ["--no-dashboard"]
    processes = [subprocess.Popen([DASK, "scheduler", "--host", "127.0.0.1", "--port", "0",
                                   "--scheduler-file", str(scheduler_file), *common],
                                  stdout=(logs / "scheduler.log").open("wb"), stderr=subprocess.STDOUT)]
    deadline = time.monotonic() + 60
    while not scheduler_file.exists():
        assert time.monotonic() < deadline, (logs / "scheduler.log").read_text()
        time.sleep(0.2)
    for i in range(2):
        processes.append(subprocess.Popen([DASK, "worker", "--scheduler-file", str(scheduler_file), "--nthreads", "1",
                                           "--host", "127.0.0.1", "--name", f"w{i}", *common],
                                          stdout=(logs / f"worker{i}.log").open("wb"), stderr=subprocess.STDOUT,
                                          cwd=logs))  # started from any folder: grading must not depend on it
    client = Client(scheduler_file=str(scheduler_file), timeout=60)
    client.wait_for_workers(2, timeout=120)
    try:
        yield client
    finally:
        client.close()
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def test_cli_cluster_scores_equal_serial_grading(cli_cluster, fresh_course, tmp_path):
    """Does a batch graded on a scheduler and two worker processes score exactly as one local worker does?"""
    import shutil

    from autograder.course import Course

    serial = Course(root=tmp_path / "serial", config=fresh_course.config)
    shutil.copytree(fresh_course.root, serial.root)
    for course in (fresh_course, serial):
        for student_id, (answered, _) in PARTLY.items():
            course.file_submission("kadai4", student_id, nbformat.writes(partly_done(course, answered)))
    address = cli_cluster.scheduler_info()["address"]

    done = subprocess.run([sys.executable, "-m", "autograder", "grade", "kadai4", "--course-dir", str(fresh_course.root),
                           "--scheduler", address], check=False, capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stdout + done.stderr
    distributed = {r["student_id"]: r for r in timing_rows(fresh_course)}
    local = {r.student_id: r for r in grade(serial, "kadai4", workers=1)}

    for student_id, (_, points) in PARTLY.items():
        assert distributed[student_id]["status"] == Status.GRADED == local[student_id].status
        assert float(distributed[student_id]["score"]) == local[student_id].score == points, student_id
    # each task ran in one of the two worker processes, not in the grading command
    worker_pids = set(cli_cluster.run(os.getpid).values())
    hosts = {int(row["host"].rsplit(":", 1)[1]) for row in distributed.values()}
    assert hosts <= worker_pids and len(hosts) == 2


def test_killed_worker_loses_no_submission(cli_cluster, fresh_course):
    """If a worker dies mid-batch, is every submission still graded, exactly once, elsewhere?"""
    batch = {f"k{i}": ({"q1_code"} if i % 2 else set(), 2 if i % 2 else 0) for i in range(4)}
    for student_id, (answered, _) in batch.items():
        fresh_course.file_submission("kadai4", student_id, nbformat.writes(partly_done(fresh_course, answered)))
    results: list = []
    grading = threading.Thread(target=lambda: results.extend(
        grade(fresh_course, "kadai4", scheduler=cli_cluster.scheduler_info()["address"], progress=False)))
    grading.start()

    deadline = time.monotonic() + 300
    def grading_tasks() -> dict:  # worker → its grading tasks (the canary runs first, on the cluster too)
        return {w: [k for k in ks if str(k).startswith("grade-")] for w, ks in cli_cluster.processing().items()}

    while not any(grading_tasks().values()):
        assert time.monotonic() < deadline and grading.is_alive(), "no task started"
        time.sleep(0.5)
    time.sleep(8)  # well inside the task: the child process is starting its kernel or running cells
    victim, keys = next((w, k) for w, k in grading_tasks().items() if k)
    victim_pid = cli_cluster.run(os.getpid, workers=[victim])[victim]
    os.kill(victim_pid, signal.SIGKILL)
    grading.join(timeout=1800)
    assert not grading.is_alive()

    assert [(r.student_id, r.status, r.score) for r in results] == [
        (student_id, Status.GRADED, points) for student_id, (_, points) in batch.items()]
    rows = timing_rows(fresh_course)
    assert sorted(row["student_id"] for row in rows) == sorted(batch)  # recorded once each
    moved = {re.match(r"grade-kadai4-(.+)-[0-9a-f]{12}-\d+$", str(key)).group(1) for key in keys}
    assert moved
    for student_id in moved:  # the killed worker's tasks finished in another process
        host = load_status(fresh_course.autograded_dir("kadai4", student_id))["host"]
        assert int(host.rsplit(":", 1)[1]) != victim_pid


def test_notebook_time_limit_keeps_points_of_checks_that_ran(fresh_course):
    """Does a notebook that runs over its time limit keep q1's points and name the cell that timed out?"""
    config_file = fresh_course.root / "course_config.py"
    text, n = re.subn(r"notebook_timeout=\d+", "notebook_timeout=60", config_file.read_text(encoding="utf-8"))
    assert n == 1
    config_file.write_text(text, encoding="utf-8")
    course = load_course(fresh_course.root)
    assert course.config.notebook_timeout == 60

    notebook = partly_done(course, {"q1_code", "q2_code"})
    q2 = next(c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "q2_code")
    q2.source = "import time\ntime.sleep(10**6)\n" + q2.source
    course.file_submission("kadai4", "slow", nbformat.writes(notebook))
    (result,) = grade(course, "kadai4", ["slow"], workers=1)

    assert result.status == Status.GRADED, result.message
    assert result.score == 2 and result.check("q1_model").passed
    assert "時間切れ" in result.message and "q2_code" in result.message
    assert result.seconds < 60 + 120  # interrupted, not left to sleep until the worker's hard limit


def test_regrading_skips_what_is_unchanged(fresh_course):
    """Does grading again skip an unchanged submission, regrade a changed one, and regrade all with force?"""
    course = fresh_course
    course.file_submission("kadai4", "r1", nbformat.writes(partly_done(course, {"q1_code"})))
    (first,) = grade(course, "kadai4", workers=1)
    assert (first.status, first.score) == (Status.GRADED, 2)
    assert len(timing_rows(course)) == 1

    (again,) = grade(course, "kadai4", workers=1)
    assert (again.status, again.score) == (Status.GRADED, 2) and len(timing_rows(course)) == 1  # nothing ran

    changed = with_mistakes(partly_done(course, {"q1_code"}), mistake("wrong_units"))
    course.file_submission("kadai4", "r1", nbformat.writes(changed))
    (regraded,) = grade(course, "kadai4", workers=1)
    assert (regraded.status, regraded.score) == (Status.GRADED, 0) and "ユニット数が 64 です" in regraded.check("q1_model").message
    assert len(timing_rows(course)) == 2

    (forced,) = grade(course, "kadai4", workers=1, force=True)
    assert (forced.status, forced.score) == (Status.GRADED, 0) and len(timing_rows(course)) == 3
