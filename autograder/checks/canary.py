"""The canary's two checks: one that its notebook passes and one that it fails (see ``autograder.grading.canary``)."""
from __future__ import annotations

from autograder.checks.errors import CheckFailed, variable
from autograder.checks.figures import last_figure
from autograder.evidence import uses


@uses("answer", figures=True)
def check_passes(ns: dict) -> None:
    """Passes on the canary notebook: ``answer`` is 42 and the last figure shown draws the line 1, 2, 3."""
    if variable(ns, "answer", "canary") != 42:
        raise CheckFailed(f"answer は 42 のはずです（いまは {ns['answer']!r}）。")
    lines = [list(line.get_ydata()) for ax in last_figure(ns).axes for line in ax.get_lines()]
    if [1.0, 2.0, 3.0] not in lines:
        raise CheckFailed(f"図に 1, 2, 3 の線がありません（線: {lines}）。")


@uses("answer")
def check_fails(ns: dict) -> None:
    """Fails on the canary notebook (``answer`` is not 43): proves that a verdict outside the kernel can fail."""
    if variable(ns, "answer", "canary") != 43:
        raise CheckFailed("answer は 43 ではありません（カナリアの失敗するはずの検査）。")
