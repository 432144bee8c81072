"""The environment of the kernels that run submissions: figure capture, data, threads, fast Keras.

nbgrader starts each kernel with this process's environment, so grading runs
inside ``grading_environment()``, which points IPython at a startup file that
installs ``autograder.capture`` and ``autograder.fast_keras`` before any
student code runs (importing Keras there also puts TensorFlow's import before
the first cell, where its start-up chatter stays out of the notebook).
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from autograder.course import COURSE_DIR_ENV, Course
from autograder.fast_keras import STEPS_ENV

STARTUP = '''\
# Written by autograder.grading_kernel: remember every figure the notebook shows,
# and train Keras models several batches per round trip where that changes nothing.
import autograder.capture
autograder.capture.install()
import autograder.fast_keras
autograder.fast_keras.install_from_environment()
'''


def kernel_environment(course: Course, ipython_dir: Path) -> dict[str, str]:
    """The variables set for grading kernels of ``course`` (startup files under ``ipython_dir``)."""
    threads = str(course.config.tf_threads)
    return {
        "IPYTHONDIR": str(ipython_dir),
        COURSE_DIR_ENV: str(course.root),
        "TF_NUM_INTRAOP_THREADS": threads,
        "TF_NUM_INTEROP_THREADS": threads,
        "TF_CPP_MIN_LOG_LEVEL": "2",  # keep TensorFlow's C++ start-up chatter out of the feedback
        "CUDA_VISIBLE_DEVICES": "-1",  # grading is CPU-only and must be the same on every machine
        "PYTHONHASHSEED": "0",
        STEPS_ENV: str(course.config.steps_per_execution),
    }


@contextlib.contextmanager
def grading_environment(course: Course):
    """Within this block, kernels nbgrader starts are grading kernels for ``course``."""
    with tempfile.TemporaryDirectory(prefix="autograder-ipython-") as tmp:
        startup = Path(tmp) / "profile_default" / "startup"
        startup.mkdir(parents=True)
        (startup / "00-autograder.py").write_text(STARTUP, encoding="utf-8")
        changes = kernel_environment(course, Path(tmp))
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
