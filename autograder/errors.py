"""The one base class of the toolkit's expected failures: a bilingual message for the instructor and an exit code.

``python -m autograder`` prints the message of an ``AutograderError`` and exits with its
``exit_code``; any other exception is a bug and shows its traceback.  Students never see
these: their outcomes are statuses and check messages (``autograder.checks.errors``).
"""
from __future__ import annotations

import logging

log = logging.getLogger("autograder")
"""Warnings for the instructor (bilingual): printed on the terminal by ``python -m autograder`` (and by Python's
last-resort handler when the library is used without logging set up)."""


class AutograderError(Exception):
    """A failure the instructor can act on (a wrong setting, a missing step, a broken environment).

    The message is Japanese / English and says what to do.
    """

    exit_code = 1
    """What ``python -m autograder`` exits with: 2 for a wrong command or setting, 3 for a broken grading environment,
    1 for everything else that went wrong."""
