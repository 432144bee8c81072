"""Outcomes of a failed check (the engine's ``CheckFailed`` and ``NotAttempted``) and finding a student's variable."""
from autograder.grading.outcomes import CheckFailed, NotAttempted

__all__ = ["CheckFailed", "NotAttempted", "variable"]


def variable(ns: dict, name: str, made_by: str):
    """``ns[name]``; raises ``NotAttempted`` naming the question that makes it if it is missing."""
    if name not in ns:
        raise NotAttempted(f"変数 {name} がありません。{made_by} のセルを書いて実行しましたか？")
    return ns[name]
