"""The grading child: ``python -m autograder.grading.child prepare|serve COURSE ASSIGNMENT``, one per submission.

Started by a Dask worker (``autograder.grading.worker``) in its own private folder, it
either generates the assignment into a template course (``prepare``) or, for ``serve``,
starts its grading kernel in the sandbox ahead of need, waits for ``go`` on stdin,
lets nbgrader autograde the one submission in its private course, then judges the
evidence outside the kernel (``autograder.grading.verdicts``) and writes
``outcome.json`` for the worker.  It dies with its worker (SIGTERM from the kernel).
"""
from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import signal
import sys
import threading
from pathlib import Path

PLACEHOLDER = "student"
"""The student id every child grades its one submission under, in its private course."""
GO = b"go\n"
PARENT_ENV = "AUTOGRADER_WORKER_PID"
KERNEL_DEAD = "DeadKernelError"
KERNEL_DIED = ("このセルの実行中にカーネルが止まりました（os._exit、メモリの使いすぎなど）。ここから後のセルは実行されていません / "
               "the kernel died while running this cell; later cells did not run")
NOT_RUN = "カーネルが止まったため実行されていません / not run: the kernel had died"



def _die_with_parent() -> None:
    """In the child, first thing: on Linux, get SIGTERM when the worker that started it dies."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # exit through the clean-up code
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
        if os.getppid() != int(os.environ.get(PARENT_ENV, os.getppid())):  # it died before we asked
            sys.exit(143)


def _private_course(work: Path):
    from autograder.course import Course, load_course

    loaded = load_course(work)
    return Course(root=loaded.root, config=dataclasses.replace(loaded.config, db_url=None))


def prepare(work: Path, assignment_id: str) -> int:
    """``prepare``: generate the assignment in ``work`` (the template every child copies)."""
    from nbgrader.apps import NbGraderAPI

    from autograder.course.nbgrader_setup import nbgrader_config

    generated = NbGraderAPI(config=nbgrader_config(_private_course(work))).generate_assignment(
        assignment_id, force=True, create=True)
    if not generated["success"]:
        print(f"generate_assignment: {generated.get('error') or generated.get('log')}", file=sys.stderr)
        return 1
    return 0


def _prewarmed_execute(km_holder: list, plain: dict | None = None):
    """nbgrader's Execute, taking its kernel from ``km_holder`` (a kernel started before the notebook was known).

    The grading kernel is always ``python3`` in the sandbox, whatever kernel the notebook's metadata names.
    If the kernel dies (``os._exit``, over the memory limit, killed), the cell says so and every later code
    cell is marked as not run, so that the notebook is still scored on what ran before.
    ``plain``: grade_id → plain hidden test (``autograder.grading.hidden_tests``): the kernel runs such a cell with
    its hidden block replaced by the collecting of what the block reads, and the cell keeps its source afterwards.
    """
    from autograder.course.cells import grade_id
    from autograder.grading.hidden_tests import for_kernel

    plain = plain or {}
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
            test = plain.get(grade_id(cell)) if cell.cell_type == "code" else None
            original = cell.source
            if test is not None:
                cell.source = for_kernel(original, test)
            try:
                return super().preprocess_cell(cell, resources, index)
            except DeadKernelError:
                self.died_at = index
                cell.outputs.append(nbformat.v4.new_output("error", ename=KERNEL_DEAD, evalue=KERNEL_DIED,
                                                           traceback=[KERNEL_DIED]))
                return cell, resources
            finally:
                cell.source = original

        def create_kernel_manager(self):
            km = km_holder.pop() if km_holder else None
            if km is None:
                return super().create_kernel_manager()
            self.kernel_name = km.kernel_name
            self.km = km
            return km

    return PrewarmedExecute


async def _start_kernel(cwd: Path, manager_class):
    """A grading kernel started in ``cwd`` as nbclient would start it, once it answers (stopped again if it does not)."""
    km = manager_class(kernel_name="python3")
    await km.start_kernel(extra_arguments=["--HistoryManager.hist_file=:memory:"], cwd=str(cwd))
    client = km.client()
    client.start_channels()
    try:
        await client.wait_for_ready(timeout=120)
    except BaseException:
        await km.shutdown_kernel(now=True)
        raise
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
    from autograder.grading import sandbox
    from autograder.grading.data import keras_cache_dir

    box = sandbox.Sandbox(work.parent, sandbox.Limits.from_config(course.config), sandbox.probe())
    datasets = keras_cache_dir().parent
    if datasets.is_dir():
        box.bind_ro.append((str(datasets), f"{sandbox.HOME}/.keras/datasets"))
    box.start()
    # IPython ignores a start-up folder it cannot write to: the kernel gets its own copy in its home
    shutil.copytree(ipython_dir, box.home / ".ipython", dirs_exist_ok=True)
    return box


def _judge(work: Path, assignment_id: str, box, settings=None) -> dict:
    """Verdicts on the evidence, written into the autograded notebook; returns what the outcome adds.

    ``settings``: the ``AssignmentConfig`` of the graded assignment, whose thresholds the checks are handed (None for
    an id course_config does not list: the canary's, whose checks need none).

    The judging runs under its own limits of CPU time and memory (``evidence_limits.judging_limits``; a busy host
    only slows it): past either, the
    submission is an error for the instructor (``success`` false, the limit named), never a score.
    """
    import nbformat

    from autograder.grading import evidence_limits, verdicts
    from autograder.grading.kernel.evidence import EVIDENCE_ENV

    os.environ.pop(EVIDENCE_ENV, None)  # this process judges: a check it calls must never only collect
    graded = work / "autograded" / PLACEHOLDER / assignment_id / f"{assignment_id}.ipynb"
    if not graded.is_file():
        return {}
    try:
        with evidence_limits.judging_limits(
                cpu_seconds=evidence_limits.JUDGING_CPU_SECONDS,
                memory_bytes=box.limits.memory_mb * 2**20 + evidence_limits.JUDGING_HEADROOM_BYTES):
            results = verdicts.verdicts(_source(work, assignment_id), box.evidence, settings)
    except evidence_limits.JudgingOverLimit as e:
        print(f"judging stopped: {e}", flush=True)
        return {"success": False, "error": str(e)}
    faults = [f"{grade_id}: {verdict[1]}" for grade_id, verdict in results.items()
              if verdict is not None and verdict[0] == verdicts.TOOLKIT]
    notebook = nbformat.read(graded, as_version=4)
    verdicts.apply(notebook, results)
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


def _source(work: Path, assignment_id: str) -> Path:
    return work / "source" / assignment_id / f"{assignment_id}.ipynb"


def _check_modules(work: Path, assignment_id: str) -> list[str]:
    """The modules of the checks the source notebook's test cells call (``autograder.checks.kadai5``): the engine
    learns them from the assignment, it knows none by name."""
    from autograder.grading.verdicts import check_modules

    return check_modules(_source(work, assignment_id))


def _plain_tests(work: Path, assignment_id: str) -> tuple[dict, list[str]]:
    """The source's plain hidden tests by grade_id, and the modules they import (warmed here while the kernel waits).
    A source whose tests do not parse gives none here: judging reports it as the toolkit's error."""
    from autograder.grading.hidden_tests import modules_imported
    from autograder.grading.verdicts import plain_tests

    try:
        tests, given = plain_tests(_source(work, assignment_id))
    except ValueError:
        return {}, []
    return {t.grade_id: t for t in tests}, modules_imported(tests, given)


def _import_checks(modules: list[str]) -> None:
    import importlib

    try:
        for module in modules:
            importlib.import_module(module)
        import keras  # noqa: F401
    except ImportError:  # judged later, where a failure is reported as the toolkit's
        pass


def _reason(log: str) -> str | None:
    """The most specific error line of nbgrader's log (``ValidationError: …``), not its closing summary."""
    lines = [m.group(1) for m in re.finditer(r"^\s*([\w.]*(?:Error|Exception): .+)$", log, re.MULTILINE)
             if "NbGraderException" not in m.group(1)]
    return lines[-1].strip() if lines else None


def _serve(work: Path, assignment_id: str) -> int:
    from jupyter_core.utils import run_sync
    from nbgrader.apps import NbGraderAPI
    from nbgrader.converters import Autograde
    from nbgrader.preprocessors import Execute

    from autograder.course.nbgrader_setup import nbgrader_config
    from autograder.grading import sandbox
    from autograder.grading.kernel.startup import grading_environment, read_started

    course = _private_course(work)
    submitted = work / "submitted" / PLACEHOLDER / assignment_id
    km_holder: list = []
    config = nbgrader_config(course)
    plain, warm = _plain_tests(work, assignment_id)
    config.Autograde.autograde_preprocessors = [
        _prewarmed_execute(km_holder, plain) if p is Execute else p
        for p in Autograde.class_traits()["autograde_preprocessors"].default()
    ]
    result: dict = {"success": False, "error": ""}
    modules = _check_modules(work, assignment_id)
    with grading_environment(course, modules) as ipython_dir:
        box = _sandbox(work, course, ipython_dir)
        try:
            os.environ.update(box.kernel_env())  # without bubblewrap the kernel inherits it as it is
            manager_class = sandbox.kernel_manager_class(box, box.kernel_env())
            config.Execute.kernel_manager_class = manager_class
            broken = None
            for attempt in (1, 2):  # a kernel that cannot start is the grading environment's failure, not the student's
                try:
                    km_holder.append(run_sync(_start_kernel)(submitted, manager_class))
                except Exception as e:  # noqa: BLE001 -- reported as the environment's problem below
                    print(f"starting the grading kernel failed (attempt {attempt}): {type(e).__name__}: {e}", flush=True)
                    broken = (f"採点用カーネルが起動しません / the grading kernel did not start: "
                              f"{type(e).__name__}: {str(e)[:300]}")
                    continue
                # read before any student code runs: whether the kernel imported this toolkit and the checks
                broken = read_started(box.evidence, box.kernel_toolkit())
                break
            # the verdicts need Keras and the checks here, outside the kernel: import them while waiting
            warming = threading.Thread(target=_import_checks, args=(modules + warm,), daemon=True)
            warming.start()
            try:
                if sys.stdin.buffer.readline() != GO:
                    raise SystemExit(0)
                if broken is None:
                    outcome = NbGraderAPI(config=config).autograde(assignment_id, PLACEHOLDER, force=True, create=True)
            finally:
                for km in km_holder:  # unused: never reached a notebook
                    run_sync(km.shutdown_kernel)(now=True)
            if broken is not None:
                print(f"grading environment: {broken}", flush=True)
                result = {"success": False, "error": broken, "environment": broken,
                          "sandbox": sandbox.description(box.capabilities)}
            else:
                warming.join()  # judging while that thread still imports Keras would race it (a "circular import")
                settings = next((a for a in course.config.assignments if a.id == assignment_id), None)
                result = _autograded(outcome, box, work, assignment_id, settings)
        finally:
            box.stop()
            box.release()
    (work / "outcome.json").write_text(json.dumps(result, ensure_ascii=False), encoding="utf-8")
    return 0 if result["success"] else 1


def _autograded(outcome: dict, box, work: Path, assignment_id: str, settings) -> dict:
    """What the child reports after nbgrader's autograde: success, nbgrader's error, limits hit, the verdicts."""
    from autograder.grading import sandbox

    result = {"success": bool(outcome["success"]), "error": outcome.get("error") or ""}
    if not result["success"]:  # nbgrader's own account of what went wrong, for grading.log
        print(outcome.get("log") or "", flush=True)
        result["error"] = _reason(outcome.get("log") or "") or result["error"]
    events = box.stop()  # nothing the student started runs while the evidence is read
    result["limit"] = sandbox.limit_message(events, box.limits)
    result["sandbox"] = sandbox.description(box.capabilities)
    result.update(_judge(work, assignment_id, box, settings))
    return result


def main(argv: list[str]) -> int:
    _die_with_parent()
    mode, work, assignment_id = argv[0], Path(argv[1]), argv[2]
    return {"prepare": prepare, "serve": serve}[mode](work, assignment_id)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
