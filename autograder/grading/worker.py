"""One grading task, as a Dask worker runs it: a submission in, an autograded notebook out.

``grade_task`` needs nothing from the instructor's machine but its arguments.
On each machine, once per grading bundle, a child process lays the bundle out as
a scratch course and lets nbgrader generate the assignment there (a private
SQLite gradebook): the *template*.  Each submission is then graded by its own
child process (``python -m autograder.grading.child serve``, ``autograder/grading/child.py``) in its own copy of the
template, under a placeholder student id (the real one never leaves the
instructor's machine).

Children are started ahead of need: while one submission is graded, the next
child has already imported nbgrader, copied the template and started its
grading kernel (TensorFlow imported, figure capture installed), then waits for
its submission.  Each child and its kernel serve exactly one submission; a
spare is never shared between two.

A child is what a submission can hurt: if it hangs past the notebook's time
limit it is killed; if its kernel dies the outcome says so; the worker itself
carries on.  The outcome goes back to the one process that writes the course's
gradebook (``autograder.grading.grade``), which scores the returned notebook with
nbgrader's own ``SaveAutoGrades``, exactly as a local ``nbgrader autograde`` would.
"""
from __future__ import annotations

import atexit
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from autograder.grading.bundle import GradingBundle
from autograder.grading.child import GO, PARENT_ENV, PLACEHOLDER

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

    note: str = ""
    """A limit the kernel ran into (memory, processes), Japanese / English; empty if none."""

    sandbox: str = ""
    """How the kernel was isolated on that machine (``autograder.grading.sandbox.description``)."""

    fault: str = ""
    """Whose failure ``ok=False`` is when it is not the submission's: ``ENVIRONMENT`` (the grading kernel could
    not import the toolkit) or ``TOOLKIT`` (the toolkit's own code failed collecting or judging); empty otherwise."""


ENVIRONMENT = "environment"
TOOLKIT = "toolkit"
ENVIRONMENT_PROBLEM = "採点環境の問題 / grading environment problem"
TOOLKIT_PROBLEM = "採点ツールの内部エラー（学生の誤りではありません） / toolkit error (not the student's mistake)"


def _child_command(*args: str) -> list[str]:
    """The command of a child; started in its own private folder, so ``-m`` finds no other ``autograder`` first."""
    return [sys.executable, "-m", "autograder.grading.child", *args]


def _child_env() -> dict[str, str]:
    """The child's environment: it imports exactly the toolkit this worker runs, whatever folder the worker is in."""
    from autograder.grading.sandbox import toolkit_path_entry

    path = os.pathsep.join(p for p in (str(toolkit_path_entry()), os.environ.get("PYTHONPATH", "")) if p)
    return dict(os.environ, **{PARENT_ENV: str(os.getpid()), "PYTHONPATH": path})


def _tail(path: Path) -> str:
    if not path.is_file():
        return ""
    return path.read_text(encoding="utf-8", errors="replace")[-LOG_TAIL:]


def _prepare_data(config) -> str | None:
    """Fill this machine's Keras cache; returns why it could not, or None."""
    from autograder.grading.data import DataMissing, ensure_fashion_mnist

    try:
        ensure_fashion_mnist(config.data_dir, download=True)
    except DataMissing as e:
        return str(e)
    return None


class TemplateError(Exception):
    """nbgrader could not generate the assignment from the bundle on this machine."""


def _templates_dir() -> Path:
    """This user's folder of templates, private: another user who made it first cannot plant a course in it."""
    from autograder.grading.sandbox import private_folder

    try:
        return private_folder() / "templates"
    except OSError as e:
        raise TemplateError(str(e)) from None


def _template(bundle: GradingBundle) -> Path:
    """The generated scratch course of ``bundle`` on this machine, made once (shared by this machine's workers)."""
    final = _templates_dir() / bundle.digest
    if (final / "ready").is_file():
        return final / "course"
    final.parent.mkdir(exist_ok=True)
    making = Path(tempfile.mkdtemp(prefix="making-", dir=final.parent))
    try:
        bundle.write(making / "course")
        done = subprocess.run(_child_command("prepare", str(making / "course"), bundle.assignment_id), check=False,
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=600, env=_child_env(),
                              cwd=making)
        if done.returncode != 0:
            raise TemplateError((done.stdout + done.stderr)[-LOG_TAIL:])
        (making / "ready").write_text("generated by autograder.grading.child prepare\n", encoding="utf-8")
        try:
            making.rename(final)
        except OSError:  # another worker on this machine made it first
            pass
    finally:
        shutil.rmtree(making, ignore_errors=True)
    return final / "course"


@dataclass
class _Child:
    """A ``serve`` child: its private folder (course copy and log) and the process, maybe still warming up."""

    process: subprocess.Popen
    folder: Path
    digest: str
    log: IO[bytes]

    def retire(self) -> None:
        """Tell an unused child to stop (it shuts its kernel down and removes its folder)."""
        try:
            self.process.stdin.close()
        except OSError:
            pass
        self.log.close()


_spares: dict[str, _Child] = {}
_spares_lock = threading.Lock()


def _start_child(bundle: GradingBundle, template: Path) -> _Child:
    folder = Path(tempfile.mkdtemp(prefix=f"autograder-{bundle.assignment_id}-"))
    shutil.copytree(template, folder / "course")
    (folder / "course" / "submitted" / PLACEHOLDER / bundle.assignment_id).mkdir(parents=True)
    log = (folder / "grading.log").open("wb")
    process = subprocess.Popen(_child_command("serve", str(folder / "course"), bundle.assignment_id),
                               stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT, env=_child_env(), cwd=folder)
    return _Child(process, folder, bundle.digest, log)


def _take_child(bundle: GradingBundle, template: Path, prewarm: bool) -> _Child:
    """A child for this submission (the warm spare if there is one) and, with ``prewarm``, a spare for the next."""
    with _spares_lock:
        child = _live_spare(bundle)
        if child is None:
            child = _start_child(bundle, template)
        if prewarm:
            _spares[bundle.digest] = _start_child(bundle, template)
    return child


def _live_spare(bundle: GradingBundle) -> _Child | None:
    """Take this bundle's spare if it is alive; retire the spares of other bundles (an older version of the
    assignment, another assignment: one spare per worker, its memory is a kernel's).  Holding ``_spares_lock``."""
    child = _spares.pop(bundle.digest, None)
    for digest in list(_spares):
        _spares.pop(digest).retire()
    if child is not None and child.process.poll() is not None:
        child.retire()
        shutil.rmtree(child.folder, ignore_errors=True)
        child = None
    return child


def warm(bundle: GradingBundle) -> str:
    """Have a warm child of ``bundle`` ready on this worker (the template made, the kernel started) before its
    first submission arrives; what the portal asks of every worker when it starts.  Returns ``host:pid``."""
    template = _template(bundle)
    with _spares_lock:
        child = _live_spare(bundle)
        _spares[bundle.digest] = child or _start_child(bundle, template)
    return f"{socket.gethostname()}:{os.getpid()}"


@atexit.register
def _retire_spares() -> None:
    with _spares_lock:
        for digest in list(_spares):
            _spares.pop(digest).retire()


def grade_task(bundle: GradingBundle, student_id: str, notebook: bytes, timestamp: str | None,
               prewarm: bool = True, isolated_only: bool = False) -> TaskOutcome:
    """Autograde ``notebook`` (``student_id``'s submission of ``bundle.assignment_id``) on this machine.

    ``prewarm``: also start the child for the next submission of the same bundle now.
    ``isolated_only``: run nothing of the submission unless this machine gives the full sandbox (the portal's
    pool: a worker that joined a scheduler after the pool checked its workers); else an ``ENVIRONMENT`` outcome.
    """
    from autograder.course import load_course
    from autograder.grading import sandbox

    started = time.monotonic()
    host = f"{socket.gethostname()}:{os.getpid()}"
    aid = bundle.assignment_id
    if isolated_only and (how := sandbox.description()) != sandbox.FULL:
        return TaskOutcome(student_id, False, None, f"{ENVIRONMENT_PROBLEM}: {host} は採点を隔離できません / "
                           f"{host} cannot isolate grading ({how}): nothing of the submission ran there",
                           0.0, host, sandbox=how, fault=ENVIRONMENT)
    try:
        template = _template(bundle)
    except (TemplateError, subprocess.TimeoutExpired, OSError) as e:
        return TaskOutcome(student_id, False, None, "課題を生成できませんでした / nbgrader could not generate the "
                           f"assignment on {socket.gethostname()}", time.monotonic() - started, host, str(e))
    config = load_course(template).config
    if problem := _prepare_data(config):
        return TaskOutcome(student_id, False, None, problem, time.monotonic() - started, host)
    child = _take_child(bundle, template, prewarm)
    work = child.folder / "course"
    try:
        submitted = work / "submitted" / PLACEHOLDER / aid
        (submitted / f"{aid}.ipynb").write_bytes(notebook)
        if timestamp:
            (submitted / "timestamp.txt").write_text(timestamp, encoding="utf-8")
        limit = config.notebook_timeout + GRACE_SECONDS
        try:
            child.process.stdin.write(GO)
            child.process.stdin.close()
        except OSError:  # the child died while warming up; its log says why
            pass
        try:
            child.process.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            child.process.kill()
            child.process.wait()
            message = (f"ノートブック全体が制限時間 ({config.notebook_timeout} 秒) を大きく超えたため打ち切りました / "
                       f"killed: ran far past the notebook limit of {config.notebook_timeout} s")
            return TaskOutcome(student_id, False, None, message, time.monotonic() - started, host,
                               _tail(child.folder / "grading.log"))
        child.log.close()
        log = _tail(child.folder / "grading.log")
        report = work / "outcome.json"
        graded = work / "autograded" / PLACEHOLDER / aid / f"{aid}.ipynb"
        outcome = json.loads(report.read_text(encoding="utf-8")) if report.is_file() else {}
        extra = {"note": outcome.get("limit") or "", "sandbox": outcome.get("sandbox") or ""}
        if outcome.get("environment"):
            return TaskOutcome(student_id, False, None, f"{ENVIRONMENT_PROBLEM}: {outcome['environment']}",
                               time.monotonic() - started, host, log, **extra, fault=ENVIRONMENT)
        if outcome.get("toolkit_errors"):
            first = outcome["toolkit_errors"][0]
            return TaskOutcome(student_id, False, None, f"{TOOLKIT_PROBLEM}: {first.splitlines()[0][:300]}",
                               time.monotonic() - started, host, "\n\n".join(outcome["toolkit_errors"]) + "\n\n" + log,
                               **extra, fault=TOOLKIT)
        if child.process.returncode == 0 and outcome.get("success") and graded.is_file():
            return TaskOutcome(student_id, True, graded.read_bytes(), "", time.monotonic() - started, host, log, **extra)
        last = (outcome.get("error") or log).strip().splitlines()
        message = f"採点できませんでした / grading failed: {last[-1] if last else f'exit code {child.process.returncode}'}"
        if extra["note"]:
            message = f"{extra['note']}; {message}"
        return TaskOutcome(student_id, False, None, message, time.monotonic() - started, host, log, **extra)
    finally:
        if child.process.poll() is None:  # something above failed: the child must not wait for ever
            child.process.kill()
            child.process.wait()
        child.log.close()
        from autograder.grading.sandbox import clean_up_after

        clean_up_after(child.folder)  # a killed child leaves its sandbox's mount and cgroups behind
        shutil.rmtree(child.folder, ignore_errors=True)
