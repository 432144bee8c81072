"""nbgrader's traitlets configuration, derived from a course's settings."""
from __future__ import annotations

from traitlets.config import Config

from autograder.course import Course

CODE_STUB = "# ここにコードを書いてください (YOUR CODE HERE)\nraise NotImplementedError()"
TEXT_STUB = "ここに答えを書いてください (YOUR ANSWER HERE)"


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
