"""What a check can say besides "passed": the exception types the engine recognises and students read.

They belong to the engine, which must tell a failed check (the student's lost point)
from any other exception (the toolkit's error); check libraries raise them.
"""


class CheckFailed(AssertionError):
    """The student's work was checked and is wrong; the message (Japanese) says how."""


class NotAttempted(CheckFailed):
    """What the check needs does not exist yet (the cell was not written or not run)."""
