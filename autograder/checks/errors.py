"""Outcomes of a failed check (the engine's ``CheckFailed`` and ``NotAttempted``), finding a student's variable and
the assignment's settings in the namespace a check is judged on."""
from autograder.grading.kernel.evidence import ASSIGNMENT
from autograder.grading.outcomes import CheckFailed, NotAttempted

__all__ = ["CheckFailed", "NotAttempted", "settings", "variable"]


def settings(ns: dict):
    """The assignment's settings (its ``AssignmentConfig``) the judging handed in as ``ns["__assignment__"]``.

    Raises ``LookupError`` when there are none: a check judged without them is the toolkit's error (``verdicts.judge``
    reports it so), never the student's; the student's own variables cannot set them (``verdicts.load`` refuses it).
    """
    if ASSIGNMENT not in ns:
        raise LookupError(f"{ASSIGNMENT} がありません: 採点の判定 (verdicts.judge) が課題の設定を渡していません / "
                          "no assignment settings handed in by the judging")
    return ns[ASSIGNMENT]


def variable(ns: dict, name: str, made_by: str):
    """``ns[name]``; raises ``NotAttempted`` naming the question that makes it if it is missing."""
    if name not in ns:
        raise NotAttempted(f"変数 {name} がありません。{made_by} のセルを書いて実行しましたか？")
    return ns[name]
