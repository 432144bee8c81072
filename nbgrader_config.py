"""nbgrader's configuration, derived from course_config.py (edit that file, not this one).

This shim lets the plain ``nbgrader`` command line and the formgrader see the
same settings as ``python -m autograder``.
"""
from pathlib import Path

from autograder.course import load_course
from autograder.course.nbgrader_setup import nbgrader_config

c = get_config()  # noqa: F821 (provided by traitlets when nbgrader loads this file)
c.merge(nbgrader_config(load_course(Path(__file__).resolve().parent)))
