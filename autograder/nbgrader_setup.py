"""nbgrader's traitlets configuration, derived from a course's settings, and the process it runs in."""
from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

from sqlalchemy.exc import SAWarning
from traitlets.config import Config

from autograder.course import Course

CODE_STUB = "# ここにコードを書いてください (YOUR CODE HERE)\nraise NotImplementedError()"
TEXT_STUB = "ここに答えを書いてください (YOUR ANSWER HERE)"

# nbgrader's Gradebook runs the ``alembic`` command, so the folder of this
# interpreter (a virtualenv's bin/, maybe not activated) must be on PATH.
_BIN = str(Path(sys.executable).parent)
if _BIN not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = _BIN + os.pathsep + os.environ.get("PATH", "")

# nbgrader 0.9's gradebook code makes SQLAlchemy 2 warn about autoflush on every
# submission; the warnings are about nbgrader's internals, not the instructor's data.
warnings.filterwarnings("ignore", category=SAWarning)


def nbgrader_config(course: Course) -> Config:
    """The nbgrader ``Config`` for ``course``: folders, gradebook, time zone, timeouts, stubs."""
    settings = course.config
    c = Config()
    c.CourseDirectory.root = str(course.root)
    c.CourseDirectory.course_id = settings.course_id
    c.CourseDirectory.db_url = course.db_url
    c.NbGraderAPI.timezone = settings.timezone
    c.Exchange.timezone = settings.timezone
    c.Execute.timeout = settings.cell_timeout
    c.Execute.interrupt_on_timeout = True
    c.ClearSolutions.code_stub = {"python": CODE_STUB}
    c.ClearSolutions.text_stub = TEXT_STUB
    return c
