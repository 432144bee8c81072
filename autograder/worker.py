"""One grading task, as a Dask worker runs it: a submission in, an autograded notebook out.

``grade_task`` needs nothing from the instructor's machine but its arguments.
On each machine, once per grading bundle, a child process lays the bundle out as
a scratch course and lets nbgrader generate the assignment there (a private
SQLite gradebook): the *template*.  Each submission is then graded by its own
child process (``python -m autograder.worker serve``) in its own copy of the
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
gradebook (``autograder.grade``), which scores the returned notebook with
nbgrader's own ``SaveAutoGrades``, exactly as a local ``nbgrader autograde`` would.
"""
from __future__ import annotations

import atexit
import dataclasses
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from autograder.bundle import GradingBundle

# Seconds the child process gets beyond the notebook's limit (kernel start, nbgrader's own steps).
GRACE_SECONDS = 180
LOG_TAIL = 4000
PLACEHOLDER = "student"
"""The student id every child grades its one submission under, in its private course."""
GO = b"go\n"
PARENT_ENV = "AUTOGRADER_WORKER_PID"
KERNEL_DEAD = "DeadKernelError"
KERNEL_DIED = ("このセルの実行中にカーネルが止まりました（os._exit、メモリの使いすぎなど）。ここから後のセルは実行されていません / "
               "the kernel died while running this cell; later cells did not run")
NOT_RUN = "カーネルが止まったため実行されていません / not run: the kernel had died"


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
    """How the kernel was isolated on that machine (``autograder.sandbox.description``)."""

    fault: str = ""
    """Whose failure ``ok=False`` is when it is not the submission's: ``ENVIRONMENT`` (the grading kernel could
    not import the toolkit) or ``TOOLKIT`` (the toolkit's own code failed collecting or judging); empty otherwise."""


ENVIRONMENT = "environment"
TOOLKIT = "toolkit"
ENVIRONMENT_PROBLEM = "採点環境の問題 / grading environment problem"
TOOLKIT_PROBLEM = "採点ツールの内部エラー（学生の誤りではありません） / toolkit error (not the student's mistake)"


def _die_with_parent() -> None:
    """In the child, first thing: on Linux, get SIGTERM when the worker that started it dies."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # exit through the clean-up code
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
        if os.getppid() != int(os.environ.get(PARENT_ENV, os.getppid())):  # it died before we asked
            sys.exit(143)


def _child_command(*args: str) -> list[str]:
    """The command of a child; started in its own private folder, so ``-m`` finds no other ``autograder`` first."""
    return [sys.executable, "-m", "autograder.worker", *args]


def _child_env() -> dict[str, str]:
    """The child's environment: it imports exactly the toolkit this worker runs, whatever folder the worker is in."""
    from autograder.sandbox import toolkit_path_entry

    path = os.pathsep.join(p for p in (str(toolkit_path_entry()), os.environ.get("PYTHONPATH", "")) if p)
    return dict(os.environ, **{PARENT_ENV: str(os.getpid()), "PYTHONPATH": path})


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


class TemplateError(Exception):
    """nbgrader could not generate the assignment from the bundle on this machine."""


def _templates_dir() -> Path:
    """This user's folder of templates, private: another user who made it first cannot plant a course in it."""
    mine = Path(tempfile.gettempdir()) / f"autograder-{os.getuid()}"
    mine.mkdir(mode=0o700, exist_ok=True)
    if mine.stat().st_uid != os.getuid():
        raise TemplateError(f"{mine} belongs to another user: remove it, or set TMPDIR to a private folder")
    mine.chmod(0o700)
    return mine / "templates"


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
        (making / "ready").write_text("generated by autograder.worker prepare\n", encoding="utf-8")
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
        child = _spares.pop(bundle.digest, None)
        for digest in list(_spares):  # spares of another bundle (an older version of the assignment) are no use
            _spares.pop(digest).retire()
        if child is not None and child.process.poll() is not None:
            child.retire()
            shutil.rmtree(child.folder, ignore_errors=True)
            child = None
        if child is None:
            child = _start_child(bundle, template)
        if prewarm:
            _spares[bundle.digest] = _start_child(bundle, template)
    return child


@atexit.register
def _retire_spares() -> None:
    with _spares_lock:
        for digest in list(_spares):
            _spares.pop(digest).retire()


def grade_task(bundle: GradingBundle, student_id: str, notebook: bytes, timestamp: str | None,
               prewarm: bool = True) -> TaskOutcome:
    """Autograde ``notebook`` (``student_id``'s submission of ``bundle.assignment_id``) on this machine.

    ``prewarm``: also start the child for the next submission of the same bundle now.
    """
    from autograder.course import load_course

    started = time.monotonic()
    host = f"{socket.gethostname()}:{os.getpid()}"
    aid = bundle.assignment_id
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
        from autograder.sandbox import clean_up_after

        clean_up_after(child.folder)  # a killed child leaves its sandbox's mount and cgroups behind
        shutil.rmtree(child.folder, ignore_errors=True)


# ---- in the child processes ------------------------------------------------------------------------------


def _private_course(work: Path):
    from autograder.course import Course, load_course

    loaded = load_course(work)
    return Course(root=loaded.root, config=dataclasses.replace(loaded.config, db_url=None))


def prepare(work: Path, assignment_id: str) -> int:
    """``prepare``: generate the assignment in ``work`` (the template every child copies)."""
    from nbgrader.apps import NbGraderAPI

    from autograder.nbgrader_setup import nbgrader_config

    generated = NbGraderAPI(config=nbgrader_config(_private_course(work))).generate_assignment(
        assignment_id, force=True, create=True)
    if not generated["success"]:
        print(f"generate_assignment: {generated.get('error') or generated.get('log')}", file=sys.stderr)
        return 1
    return 0


def _prewarmed_execute(km_holder: list):
    """nbgrader's Execute, taking its kernel from ``km_holder`` (a kernel started before the notebook was known).

    The grading kernel is always ``python3`` in the sandbox, whatever kernel the notebook's metadata names.
    If the kernel dies (``os._exit``, over the memory limit, killed), the cell says so and every later code
    cell is marked as not run, so that the notebook is still scored on what ran before.
    """
    import nbformat
    from nbclient.exceptions import DeadKernelError
    from nbgrader.preprocessors import Execute

    class PrewarmedExecute(Execute):
        died_at: int | None = None

        def preprocess_cell(self, cell, resources, index):
            if self.died_at is not None:
                if cell.cell_type == "code":
                    cell.outputs = [nbformat.v4.new_output("error", ename=KERNEL_DEAD, evalue=NOT_RUN, traceback=[NOT_RUN])]
                return cell, resources
            try:
                return super().preprocess_cell(cell, resources, index)
            except DeadKernelError:
                self.died_at = index
                cell.outputs.append(nbformat.v4.new_output("error", ename=KERNEL_DEAD, evalue=KERNEL_DIED,
                                                           traceback=[KERNEL_DIED]))
                return cell, resources

        def create_kernel_manager(self):
            km = km_holder.pop() if km_holder else None
            if km is None:
                return super().create_kernel_manager()
            self.kernel_name = km.kernel_name
            self.km = km
            return km

    return PrewarmedExecute


async def _start_kernel(cwd: Path, manager_class):
    """A grading kernel started in ``cwd`` as nbclient would start it, once it answers."""
    km = manager_class(kernel_name="python3")
    await km.start_kernel(extra_arguments=["--HistoryManager.hist_file=:memory:"], cwd=str(cwd))
    client = km.client()
    client.start_channels()
    try:
        await client.wait_for_ready(timeout=120)
    finally:
        client.stop_channels()
    return km


def serve(work: Path, assignment_id: str) -> int:
    """``serve``: start a grading kernel, wait for ``go`` on stdin, then autograde the one submission in ``work``.

    End of input without ``go`` means the child is not needed, and SIGTERM that its worker died:
    either way it stops its kernel and removes its folder.
    """
    try:
        return _serve(work, assignment_id)
    except SystemExit:  # nobody will read the folder
        shutil.rmtree(work.parent, ignore_errors=True)
        raise


def _sandbox(work: Path, course, ipython_dir: Path):
    from autograder import sandbox
    from autograder.data import keras_cache_dir

    box = sandbox.Sandbox(work.parent, sandbox.Limits.from_config(course.config), sandbox.probe())
    datasets = keras_cache_dir().parent
    if datasets.is_dir():
        box.bind_ro.append((str(datasets), f"{sandbox.HOME}/.keras/datasets"))
    box.start()
    # IPython ignores a start-up folder it cannot write to: the kernel gets its own copy in its home
    shutil.copytree(ipython_dir, box.home / ".ipython", dirs_exist_ok=True)
    return box


def _judge(work: Path, assignment_id: str, box) -> dict:
    """Verdicts on the evidence, written into the autograded notebook; returns what the outcome adds."""
    import nbformat

    from autograder import evidence

    os.environ.pop(evidence.EVIDENCE_ENV, None)  # this process judges: a check it calls must never only collect
    graded = work / "autograded" / PLACEHOLDER / assignment_id / f"{assignment_id}.ipynb"
    if not graded.is_file():
        return {}
    results = evidence.verdicts(work / "source" / assignment_id / f"{assignment_id}.ipynb", box.evidence)
    faults = [f"{grade_id}: {verdict[1]}" for grade_id, verdict in results.items()
              if verdict is not None and verdict[0] == evidence.TOOLKIT]
    notebook = nbformat.read(graded, as_version=4)
    evidence.apply(notebook, results)
    _quiet_machinery(notebook)
    nbformat.write(notebook, graded)
    return {"judged": sorted(results), "toolkit_errors": faults}


_NATIVE_LOG = re.compile(r"^[EWIF]\d{4} [\d:.]+\s+\d+ [\w./-]+:\d+\] .*\n?", re.MULTILINE)
"""A line of TensorFlow's or absl's C++ log (``E0000 00:00:… cuda_platform.cc:52] failed call to cuInit …``)."""


AVAILABLE_LIBRARIES = ("numpy", "pandas", "matplotlib", "seaborn", "scipy", "scikit-learn (sklearn)",
                       "tensorflow", "keras")
"""What a student may import in a grading kernel, as on Google Colab (the rest of the Python standard library too)."""

_NO_MODULE = re.compile(r"No module named '([\w.]+)'")


def _quiet_machinery(notebook) -> None:
    """Take the grading machinery's noise out of what the student reads: TensorFlow's C++ log lines, and the
    grading machine's Python folders (shown as ``<python>``) in warnings.  A library the grading environment
    does not have is named in Japanese, with the ones it has."""
    folders = sorted({str(Path(p).resolve()) for p in (sys.prefix, sys.base_prefix)} | {sys.prefix, sys.base_prefix},
                     key=len, reverse=True)
    for cell in notebook.cells:
        kept = []
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get("name") == "stderr":
                text = _NATIVE_LOG.sub("", output.get("text", ""))
                for folder in folders:
                    text = text.replace(folder, "<python>")
                if not text:
                    continue
                output["text"] = text
            if output.get("output_type") == "error" and output.get("ename") == "ModuleNotFoundError":
                if missing := _NO_MODULE.search(str(output.get("evalue", ""))):
                    note = (f"ライブラリ {missing.group(1).split('.')[0]} は採点環境にありません。"
                            f"採点で使えるのは {', '.join(AVAILABLE_LIBRARIES)} です（Google Colab と同じ）。")
                    output["evalue"] = f"{output.get('evalue', '')}（{note}）"
                    output["traceback"] = [*output.get("traceback", []), note]
            kept.append(output)
        if cell.cell_type == "code":
            cell.outputs = kept


def _checks_module(assignment_id: str) -> str | None:
    """The module of the assignment's hidden checks (``autograder.checks.kadai5``), or None if it has none."""
    import importlib.util

    name = f"autograder.checks.{assignment_id}"
    try:
        return name if importlib.util.find_spec(name) is not None else None
    except ImportError:
        return None


def _import_checks(assignment_id: str) -> None:
    import importlib

    try:
        if module := _checks_module(assignment_id):
            importlib.import_module(module)
        import keras  # noqa: F401
    except ImportError:  # judged later, where a failure is reported as the toolkit's
        pass


def _reason(log: str) -> str | None:
    """The most specific error line of nbgrader's log (``ValidationError: …``), not its closing summary."""
    import re

    lines = [m.group(1) for m in re.finditer(r"^\s*([\w.]*(?:Error|Exception): .+)$", log, re.MULTILINE)
             if "NbGraderException" not in m.group(1)]
    return lines[-1].strip() if lines else None


def _serve(work: Path, assignment_id: str) -> int:
    from jupyter_core.utils import run_sync
    from nbgrader.apps import NbGraderAPI
    from nbgrader.converters import Autograde
    from nbgrader.preprocessors import Execute

    from autograder import sandbox
    from autograder.grading_kernel import grading_environment, read_started
    from autograder.nbgrader_setup import nbgrader_config

    course = _private_course(work)
    submitted = work / "submitted" / PLACEHOLDER / assignment_id
    km_holder: list = []
    config = nbgrader_config(course)
    config.Autograde.autograde_preprocessors = [
        _prewarmed_execute(km_holder) if p is Execute else p
        for p in Autograde.class_traits()["autograde_preprocessors"].default()
    ]
    result: dict = {"success": False, "error": ""}
    with grading_environment(course, _checks_module(assignment_id)) as ipython_dir:
        box = _sandbox(work, course, ipython_dir)
        try:
            os.environ.update(box.kernel_env())  # without bubblewrap the kernel inherits it as it is
            manager_class = sandbox.kernel_manager_class(box, box.kernel_env())
            config.Execute.kernel_manager_class = manager_class
            broken, prewarmed = None, False
            try:
                km_holder.append(run_sync(_start_kernel)(submitted, manager_class))
                prewarmed = True
                # read before any student code runs: whether the kernel imported the toolkit and the checks
                broken = read_started(box.evidence)
            except Exception as e:  # noqa: BLE001 -- nbgrader will try to start one itself and report
                print(f"prewarming the kernel failed: {type(e).__name__}: {e}", flush=True)
            # the verdicts need Keras and the checks here, outside the kernel: import them while waiting
            threading.Thread(target=_import_checks, args=(assignment_id,), daemon=True).start()
            try:
                if sys.stdin.buffer.readline() != GO:
                    raise SystemExit(0)
                if broken is None:
                    outcome = NbGraderAPI(config=config).autograde(assignment_id, PLACEHOLDER, force=True, create=True)
            finally:
                for km in km_holder:  # unused: never reached a notebook
                    run_sync(km.shutdown_kernel)(now=True)
            if broken is None and not prewarmed and outcome["success"]:
                broken = read_started(box.evidence)  # nbgrader started the kernel itself: check afterwards
            if broken is not None:
                print(f"grading environment: {broken}", flush=True)
                result = {"success": False, "error": broken, "environment": broken,
                          "sandbox": sandbox.description(box.capabilities)}
            else:
                result = _autograded(outcome, box, work, assignment_id)
        finally:
            box.stop()
            box.release()
    (work / "outcome.json").write_text(json.dumps(result, ensure_ascii=False), encoding="utf-8")
    return 0 if result["success"] else 1


def _autograded(outcome: dict, box, work: Path, assignment_id: str) -> dict:
    """What the child reports after nbgrader's autograde: success, nbgrader's error, limits hit, the verdicts."""
    from autograder import sandbox

    result = {"success": bool(outcome["success"]), "error": outcome.get("error") or ""}
    if not result["success"]:  # nbgrader's own account of what went wrong, for grading.log
        print(outcome.get("log") or "", flush=True)
        result["error"] = _reason(outcome.get("log") or "") or result["error"]
    events = box.stop()  # nothing the student started runs while the evidence is read
    result["limit"] = sandbox.limit_message(events, box.limits)
    result["sandbox"] = sandbox.description(box.capabilities)
    result.update(_judge(work, assignment_id, box))
    return result


def main(argv: list[str]) -> int:
    _die_with_parent()
    mode, work, assignment_id = argv[0], Path(argv[1]), argv[2]
    return {"prepare": prepare, "serve": serve}[mode](work, assignment_id)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
