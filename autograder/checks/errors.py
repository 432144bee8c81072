"""Outcomes of a failed check: the exception types whose messages students read."""


class CheckFailed(AssertionError):
    """The student's work was checked and is wrong; the message (Japanese) says how."""


class NotAttempted(CheckFailed):
    """What the check needs does not exist yet (the cell was not written or not run)."""
