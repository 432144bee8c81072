"""One grading task, as a Dask worker runs it: a submission in, an autograded notebook out.

``grade_task`` needs nothing from the instructor's machine but its arguments: it
lays the bundle out as a scratch course in a temporary folder, files the
submission there, and runs ``python -m autograder.worker`` in a child process,
which lets nbgrader generate the assignment (a private SQLite gradebook) and
autograde the submission in a grading kernel.  The child process is what a
submission can hurt: if it hangs past the notebook's time limit it is killed;
if its kernel dies the outcome says so; the worker itself carries on.

The outcome goes back to the one process that writes the course's gradebook
(``autograder.grade``), which scores the returned notebook with nbgrader's own
``SaveAutoGrades``, exactly as a local ``nbgrader autograde`` would.
"""
from __future__ import annotations

import dataclasses
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from autograder.bundle import GradingBundle

# Seconds the child process gets beyond the notebook's limit (kernel start, nbgrader's own steps).
GRACE_SECONDS = 180
LOG_TAIL = 4000


@dataclass
class TaskOutcome:
    """What a worker sends back for one submission."""

    student_id: str
    ok: bool
    """True when nbgrader autograded the notebook (its checks may still have failed)."""

    notebook: bytes | None
    """The autograded notebook (nbformat JSON), or None when grading failed."""

    message: str
    """Why grading failed (Japanese / English); empty when ``ok``."""

    seconds: float
    host: str
    """The machine and process that graded it (``host:pid``)."""

    log: str = ""
    """The end of nbgrader's and the kernel's output, for the instructor."""


def _die_with_parent() -> None:
    """In the child, before it runs: on Linux, be killed when the worker that started it dies."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG


def _tail(path: Path) -> str:
    if not path.is_file():
        return ""
    return path.read_text(encoding="utf-8", errors="replace")[-LOG_TAIL:]


def _prepare_data(config) -> str | None:
    """Fill this machine's Keras cache; returns why it could not, or None."""
    from autograder.data import DataMissing, ensure_fashion_mnist

    try:
        ensure_fashion_mnist(config.data_dir, download=True)
    except DataMissing as e:
        return str(e)
    return None


def grade_task(bundle: GradingBundle, student_id: str, notebook: bytes, timestamp: str | None) -> TaskOutcome:
    """Autograde ``notebook`` (``student_id``'s submission of ``bundle.assignment_id``) on this machine."""
    from autograder.course import load_course

    started = time.monotonic()
    host = f"{socket.gethostname()}:{os.getpid()}"
    aid = bundle.assignment_id
    with tempfile.TemporaryDirectory(prefix=f"autograder-{aid}-") as tmp:
        work = Path(tmp) / "course"
        bundle.write(work)
        config = load_course(work).config
        if problem := _prepare_data(config):
            return TaskOutcome(student_id, False, None, problem, time.monotonic() - started, host)
        submitted = work / "submitted" / student_id / aid
        submitted.mkdir(parents=True)
        (submitted / f"{aid}.ipynb").write_bytes(notebook)
        if timestamp:
            (submitted / "timestamp.txt").write_text(timestamp, encoding="utf-8")
        log = Path(tmp) / "grading.log"
        limit = config.notebook_timeout + GRACE_SECONDS
        with log.open("wb") as out:
            try:
                child = subprocess.run(
                    [sys.executable, "-m", "autograder.worker", str(work), aid, student_id],
                    check=False, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, timeout=limit,
                    preexec_fn=_die_with_parent,
                )
            except subprocess.TimeoutExpired:
                message = (f"ノートブック全体が制限時間 ({config.notebook_timeout} 秒) を大きく超えたため打ち切りました / "
                           f"killed: ran far past the notebook limit of {config.notebook_timeout} s")
                return TaskOutcome(student_id, False, None, message, time.monotonic() - started, host, _tail(log))
        report = work / "outcome.json"
        graded = work / "autograded" / student_id / aid / f"{aid}.ipynb"
        outcome = json.loads(report.read_text(encoding="utf-8")) if report.is_file() else {}
        if child.returncode == 0 and outcome.get("success") and graded.is_file():
            return TaskOutcome(student_id, True, graded.read_bytes(), "", time.monotonic() - started, host, _tail(log))
        last = (outcome.get("error") or _tail(log)).strip().splitlines()
        message = f"採点できませんでした / grading failed: {last[-1] if last else f'exit code {child.returncode}'}"
        return TaskOutcome(student_id, False, None, message, time.monotonic() - started, host, _tail(log))


def autograde_here(work: Path, assignment_id: str, student_id: str) -> dict:
    """In the child process: generate the assignment in ``work`` and autograde the one submission."""
    from nbgrader.apps import NbGraderAPI

    from autograder.course import Course, load_course
    from autograder.grading_kernel import grading_environment
    from autograder.nbgrader_setup import nbgrader_config

    loaded = load_course(work)
    course = Course(root=loaded.root, config=dataclasses.replace(loaded.config, db_url=None))
    api = NbGraderAPI(config=nbgrader_config(course))
    generated = api.generate_assignment(assignment_id, force=True, create=True)
    if not generated["success"]:
        return {"success": False, "error": f"generate_assignment: {generated.get('error') or generated.get('log')}"}
    with grading_environment(course):
        outcome = api.autograde(assignment_id, student_id, force=True, create=True)
    return {"success": bool(outcome["success"]), "error": outcome.get("error") or ""}


def main(argv: list[str]) -> int:
    work, assignment_id, student_id = Path(argv[0]), argv[1], argv[2]
    outcome = autograde_here(work, assignment_id, student_id)
    (work / "outcome.json").write_text(json.dumps(outcome, ensure_ascii=False), encoding="utf-8")
    return 0 if outcome["success"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
