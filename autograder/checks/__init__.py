"""Hidden checks that grading cells call inside the grading kernel.

Each check raises ``CheckFailed`` (or ``NotAttempted``) with a Japanese message
saying what is wrong, what was expected and how to see it; passing returns None.
"""
from autograder.checks.errors import CheckFailed, NotAttempted

__all__ = ["CheckFailed", "NotAttempted"]
