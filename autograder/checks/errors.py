"""Outcomes of a failed check: the exception types whose messages students read."""


class CheckFailed(AssertionError):
    """The student's work was checked and is wrong; the message (Japanese) says how."""


class NotAttempted(CheckFailed):
    """What the check needs does not exist yet (the cell was not written or not run)."""


def variable(ns: dict, name: str, made_by: str):
    """``ns[name]``; raises ``NotAttempted`` naming the question that makes it if it is missing."""
    if name not in ns:
        raise NotAttempted(f"変数 {name} がありません。{made_by} のセルを書いて実行しましたか？")
    return ns[name]
