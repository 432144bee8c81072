"""The environment of the kernels that run submissions: figure capture, data, threads, fast Keras.

nbgrader starts each kernel with this process's environment, so grading runs
inside ``grading_environment()``, which points IPython at a startup file that
installs ``autograder.grading.kernel.capture``, ``autograder.grading.kernel.fast_keras`` and
``autograder.grading.kernel.fit_record`` (what each ``fit`` trained on) before any student code runs (importing Keras there also puts TensorFlow's import before
the first cell, where its start-up chatter stays out of the notebook).
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from autograder.course import COURSE_DIR_ENV, Course
from autograder.grading.kernel.fast_keras import STEPS_ENV

CHECKS_ENV = "AUTOGRADER_CHECKS"
"""The modules of the assignment's hidden checks (comma-separated, as the source notebook's test cells import them),
imported at the kernel's start-up."""

STARTED = "kernel-started.json"
"""What the start-up file leaves in the evidence folder, before any student code runs: whether the toolkit
imported (``{"ok": true, "toolkit": …}``) or why not (``{"ok": false, "error": …}``)."""

STARTUP = '''\
# Written by autograder.grading.kernel.startup: remember every figure the notebook shows, train Keras models
# several batches per round trip where that changes nothing, note what each fit trains on, import the hidden checks, and say whether
# all of that worked (the grading process reads it before the notebook runs).
def _autograder_start():
    import importlib, json, os, sys, traceback, warnings
    # the lecture's own style (Dense(32, input_shape=(784,))): Keras's advice against it is not the student's error
    warnings.filterwarnings("ignore", message="Do not pass an `input_shape`", category=UserWarning)
    report = {"ok": False, "python": sys.executable}
    try:
        import autograder.grading.kernel.capture
        autograder.grading.kernel.capture.install()
        import autograder.grading.kernel.fast_keras
        autograder.grading.kernel.fast_keras.install_from_environment()
        import autograder.grading.kernel.fit_record
        autograder.grading.kernel.fit_record.install()
        import autograder.grading.kernel.evidence
        for module in filter(None, os.environ.get("AUTOGRADER_CHECKS", "").split(",")):
            importlib.import_module(module)
        report.update(ok=True, toolkit=os.path.dirname(autograder.__file__))
    except BaseException as e:  # the grading process reports it: a broken environment is never a student's 0
        report["error"] = "".join(traceback.format_exception_only(type(e), e)).strip()[-2000:]
    folder = os.environ.get("AUTOGRADER_EVIDENCE")
    if folder:
        with open(os.path.join(folder, "kernel-started.json"), "w", encoding="utf-8") as f:
            json.dump(report, f)
_autograder_start()
del _autograder_start
'''


def read_started(evidence: Path, toolkit: str) -> str | None:
    """None if the kernel's start-up imported the toolkit from ``toolkit`` (``STARTED`` in ``evidence`` says so), else
    why not.  Read before any student code runs."""
    import json

    path = evidence / STARTED
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "カーネルの起動処理が終わりませんでした / the kernel's start-up did not finish (no start-up report)"
    if isinstance(report, dict) and report.get("ok") is True:
        if report.get("toolkit") != toolkit:  # another copy of the package than the one grading runs
            return (f"カーネルが別のツールキットを読み込みました / the kernel imported another copy of the toolkit: "
                    f"{report.get('toolkit')!r}, expected {toolkit!r}")
        return None
    error = report.get("error") if isinstance(report, dict) else None
    return f"カーネルでツールキットを読み込めません / the kernel could not import the toolkit: {error}"


def kernel_environment(course: Course, ipython_dir: Path, checks: list[str] | None = None) -> dict[str, str]:
    """The variables set for grading kernels of ``course`` (startup files under ``ipython_dir``).

    ``checks``: the modules of the hidden checks the kernel's start-up imports (a failure there is the grading
    environment's, reported before the notebook runs).
    """
    threads = str(course.config.tf_threads)
    return {
        CHECKS_ENV: ",".join(checks or ()),
        "IPYTHONDIR": str(ipython_dir),
        COURSE_DIR_ENV: str(course.root),
        "TF_NUM_INTRAOP_THREADS": threads,
        "TF_NUM_INTEROP_THREADS": threads,
        "TF_CPP_MIN_LOG_LEVEL": "3",  # TensorFlow's C++ chatter (cuInit "errors" on a machine without a GPU) is not the student's
        "CUDA_VISIBLE_DEVICES": "-1",  # grading is CPU-only and must be the same on every machine
        "PYTHONHASHSEED": "0",
        STEPS_ENV: str(course.config.steps_per_execution),
    }


@contextlib.contextmanager
def grading_environment(course: Course, checks: list[str] | None = None):
    """Within this block, kernels nbgrader starts are grading kernels for ``course`` (``checks``: see ``kernel_environment``)."""
    with tempfile.TemporaryDirectory(prefix="autograder-ipython-") as tmp:
        startup = Path(tmp) / "profile_default" / "startup"
        startup.mkdir(parents=True)
        (startup / "00-autograder.py").write_text(STARTUP, encoding="utf-8")
        changes = kernel_environment(course, Path(tmp), checks)
        saved = {key: os.environ.get(key) for key in changes}
        os.environ.update(changes)
        try:
            yield Path(tmp)
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
