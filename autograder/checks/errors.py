"""Outcomes of a failed check (the engine's ``CheckFailed`` and ``NotAttempted``), finding a student's variable and
the assignment's settings in the namespace a check is judged on."""
from autograder.grading.kernel.evidence import ASSIGNMENT
from autograder.grading.outcomes import CheckFailed, NotAttempted

__all__ = ["CheckFailed", "NotAttempted", "UNLOADABLE", "judgeable", "settings", "variable"]

UNLOADABLE = "壊れたモデル"
"""Type name ``autograder.grading.verdicts`` gives a student's model it could neither reload with Keras nor rebuild
from the record of its layers, weights and predictions (``autograder.grading.model_rebuild``)."""


def judgeable(value, name: str = "model"):
    """``value``, unless it is a model the grading process could not reproduce: then ``CheckFailed`` saying so plainly
    (what was tried, why it failed, how to write the model so that it can be judged), never "not trained" or "not a
    model".  Every check reading a variable through ``variable`` gets this; a check reading a model elsewhere (a
    History's ``model``) calls it itself."""
    if type(value).__name__ == UNLOADABLE:
        raise CheckFailed(
            f"採点側で {name} を再現できなかったため、{name} を使うこの問題は判定できませんでした（{value!r}）。"
            "Keras の標準の層（Dense など）を Sequential や Functional API で並べ、活性化関数を activation='softmax' "
            "のように書くと判定できます。わからないときは先生に相談してください。"
        )
    return value


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
    """``ns[name]``; raises ``NotAttempted`` naming the question that makes it if it is missing, and ``CheckFailed``
    (``judgeable``) if it is a model the grading process could not reproduce."""
    if name not in ns:
        raise NotAttempted(f"変数 {name} がありません。{made_by} のセルを書いて実行しましたか？")
    return judgeable(ns[name], name)
