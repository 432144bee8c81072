"""The canary's two checks: one that its notebook passes and one that it fails (see ``autograder.grading.canary``).

Part of the engine (it tests the engine), so it uses nothing of the check library: only evidence and outcomes.
"""
from __future__ import annotations

from autograder.grading.kernel.evidence import FIGURES, uses
from autograder.grading.outcomes import CheckFailed, NotAttempted


def _answer(ns: dict):
    if "answer" not in ns:
        raise NotAttempted("answer がありません。")
    return ns["answer"]


@uses("answer", figures=True)
def check_passes(ns: dict) -> None:
    """Passes on the canary notebook: ``answer`` is 42 and the last figure shown draws the line 1, 2, 3."""
    if _answer(ns) != 42:
        raise CheckFailed(f"answer は 42 のはずです（いまは {ns['answer']!r}）。")
    figures = ns.get(FIGURES) or []
    if not figures:
        raise NotAttempted("図がありません。")
    lines = [[float(y) for y in line.get_ydata()] for ax in figures[-1].axes for line in ax.get_lines()]
    if [1.0, 2.0, 3.0] not in lines:
        raise CheckFailed(f"図に 1, 2, 3 の線がありません（線: {lines}）。")


@uses("answer")
def check_fails(ns: dict) -> None:
    """Fails on the canary notebook (``answer`` is not 43): proves that a verdict outside the kernel can fail."""
    if _answer(ns) != 43:
        raise CheckFailed("answer は 43 ではありません（カナリアの失敗するはずの検査）。")
