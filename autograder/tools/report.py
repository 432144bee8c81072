"""The class report: one HTML page per assignment for the instructor, with plots, common failures and similar submissions.

``write_report`` gathers what the course already holds (the saved results, the
graded cells, the roster's names, ``similar_pairs``) and ``render_report`` turns
it into a self-contained page: plots are embedded PNGs drawn by matplotlib's Agg
backend with a Japanese font (see ``japanese_font``), and every student-written
text is escaped by jinja2 (the page is ``autograder/templates/report.html.j2``).
"""
from __future__ import annotations

import base64
import io
import re
import statistics
from collections import Counter
from functools import cache
from pathlib import Path

import matplotlib
from matplotlib import font_manager, ft2font
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from autograder.course import Assignment
from autograder.course.assignment import GradedCell
from autograder.course.messages import INSTRUCTOR_STATUS_LABELS
from autograder.course.results import Status, SubmissionResult
from autograder.errors import log
from autograder.tools.export import all_results
from autograder.tools.pages import PAGES
from autograder.tools.similarity import SimilarPair, similar_pairs

TOP_FAILURES = 10

FONT_PROBE = "得点の分布問ごとの正答率提出状態人数"
"""Characters a font must have to draw the report's plots."""

JAPANESE_FONT_FILE = re.compile(r"cjk|jp|ipa|takao|gothic|mincho|hiragino|meiryo|yugoth", re.IGNORECASE)
"""File names of fonts worth probing for Japanese glyphs."""

NO_FONT_WARNING = (
    "警告: 日本語フォントが見つかりません。グラフの日本語が□になります。fonts-noto-cjk を入れてください"
    "（sudo apt-get install fonts-noto-cjk）。\n"
    "WARNING: no Japanese (CJK) font found; Japanese text in the report's plots will show as boxes. "
    "Install fonts-noto-cjk (sudo apt-get install fonts-noto-cjk)."
)


# --- plots -----------------------------------------------------------------------------------------------------


@cache
def japanese_font() -> str | None:
    """The family name of an installed font with Japanese glyphs, registered with matplotlib; None if there is none.

    Prefers a regular-weight sans-serif font (Noto Sans CJK from fonts-noto-cjk).  When
    none is found it warns once on stderr, in Japanese and English, and the plots are
    drawn anyway.
    """
    def preference(path: str) -> tuple:
        name = Path(path).name.lower()
        return ("sans" not in name and "goth" not in name, "regular" not in name, name)

    for path in sorted((p for p in font_manager.findSystemFonts() if JAPANESE_FONT_FILE.search(Path(p).name)), key=preference):
        try:
            font = ft2font.FT2Font(path)
        except (OSError, RuntimeError):  # a file FreeType cannot open is no candidate
            continue
        if all(font.get_char_index(ord(ch)) for ch in FONT_PROBE):
            if not any(entry.fname == path for entry in font_manager.fontManager.ttflist):
                font_manager.fontManager.addfont(path)  # matplotlib's font cache may predate the font
            return font.family_name
    log.warning(NO_FONT_WARNING)
    return None


def _png(fig: Figure) -> str:
    """The figure as a base64 PNG, for a ``data:`` URL."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _figure(width: float, height: float):
    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def _no_data(ax) -> None:
    ax.text(0.5, 0.5, "採点済みの提出がありません", ha="center", va="center", transform=ax.transAxes)


def score_histogram(scores: list[float], max_score: float) -> str:
    """Histogram of the graded scores, as a base64 PNG."""
    fig, ax = _figure(6, 3.5)
    # one bar per point up to 40 points, centred on it; 20 bars beyond
    bins = [x - 0.5 for x in range(int(max_score) + 2)] if max_score <= 40 else 20
    ax.hist(scores, bins=bins, range=(0, max_score), color="#4c72b0", edgecolor="white")
    ax.set(title="得点の分布（採点済み）", xlabel=f"得点（満点 {max_score:g}）", ylabel="人数")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    if not scores:
        _no_data(ax)
    return _png(fig)


def pass_rate_chart(results: list[SubmissionResult], cells: list[GradedCell]) -> str:
    """Percentage of graded submissions passing each automatic check, as a base64 PNG."""
    graded = [r for r in results if r.status == Status.GRADED]
    checks = [c.grade_id for c in cells if not c.manual]
    rates = []
    for grade_id in checks:
        outcomes = [c.passed for r in graded for c in r.checks if c.grade_id == grade_id]
        rates.append(100 * sum(outcomes) / len(outcomes) if outcomes else 0)
    fig, ax = _figure(6, 1 + 0.3 * max(len(checks), 3))
    ax.bar_label(ax.barh(checks, rates, color="#55a868"), fmt="%.0f%%", padding=2)
    ax.invert_yaxis()  # the first question on top
    ax.set(title="問ごとの正答率（自動採点）", xlabel="正答率（%）", xlim=(0, 100))
    if not graded:
        _no_data(ax)
    return _png(fig)


def status_chart(counts: dict[str, int]) -> str:
    """Number of students in each status, as a base64 PNG."""
    fig, ax = _figure(6, 2.8)
    bars = ax.barh(list(INSTRUCTOR_STATUS_LABELS.values()), [counts.get(s, 0) for s in INSTRUCTOR_STATUS_LABELS], color="#8172b2")
    ax.bar_label(bars, padding=2)
    ax.invert_yaxis()
    ax.set(title="提出の状態", xlabel="人数")
    ax.margins(x=0.08)  # room for the labels after the bars
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    return _png(fig)


# --- the page --------------------------------------------------------------------------------------------------



def common_failures(results: list[SubmissionResult], top: int = TOP_FAILURES) -> list[tuple[tuple[str, str], int]]:
    """The ``top`` most frequent ((grade_id, message), count) among failed automatic checks of graded submissions."""
    failures = Counter(
        (c.grade_id, c.message or c.error or "（メッセージなし / no message）")
        for r in results if r.status == Status.GRADED for c in r.checks if not c.manual and not c.passed
    )
    return failures.most_common(top)


def manual_progress(results: list[SubmissionResult], cells: list[GradedCell]) -> list[dict]:
    """For each manually graded cell: how many graded submissions have the instructor's points, of how many,
    their mean and how many students got each number of points."""
    graded = [r for r in results if r.status == Status.GRADED]
    rows = []
    for cell in (c for c in cells if c.manual):
        points = [c.points for r in graded for c in r.checks if c.grade_id == cell.grade_id and c.points is not None]
        rows.append({"grade_id": cell.grade_id, "graded": len(points), "total": len(graded),
                     "mean": f"{statistics.mean(points):.1f} / {cell.points:g}" if points else "—",
                     "distribution": sorted(Counter(points).items())})
    return rows


def rubric_counts(assignment: Assignment) -> dict[str, list[dict]]:
    """grade_id → each rubric item of the question (text, signed points) with how many answers carry it, as graded
    now (drafts included: the report is the instructor's)."""
    from autograder.tools import manual

    counted = {}
    for cell in manual.manual_cells(assignment):
        counts = manual.item_counts(manual.answers(assignment, cell.grade_id))
        counted[cell.grade_id] = [{"text": item.text, "points": manual.signed(item.points), "count": counts[item.id]}
                                  for item in manual.rubric(assignment, cell.grade_id)]
    return counted


def render_report(title: str, results: list[SubmissionResult], cells: list[GradedCell], names: dict[str, str],
                  similar: list[SimilarPair], rubrics: dict[str, list[dict]] | None = None) -> str:
    """The class report as one self-contained HTML page (plots embedded, student text escaped); ``rubrics``:
    ``rubric_counts``."""
    counts = Counter(r.status for r in results)
    scores = [r.score for r in results if r.status == Status.GRADED]
    max_score = sum(c.points for c in cells)
    family = japanese_font()
    with matplotlib.rc_context({"font.family": [family]} if family else {}):
        plots = [("得点の分布 / score distribution", score_histogram(scores, max_score)),
                 ("問ごとの正答率 / pass rate per check", pass_rate_chart(results, cells)),
                 ("提出の状態 / students by status", status_chart(counts))]
    return PAGES.get_template("report.html.j2").render(
        title=title, results=results, names=names, similar=similar, plots=plots, counts=counts,
        labels=INSTRUCTOR_STATUS_LABELS, late=Status.LATE, max_score=max_score, failures=common_failures(results),
        manual=manual_progress(results, cells), rubrics=rubrics or {},
        mean=f"{statistics.mean(scores):.1f}" if scores else "—",
        median=f"{statistics.median(scores):g}" if scores else "—",
    )


def write_report(assignment: Assignment, out: Path | None = None) -> Path:
    """Write the class report of ``assignment`` to ``out`` (default ``reports/<id>.html``); returns its path.

    Raises ``UnknownAssignment`` for an assignment that is not in course_config.py.
    """
    html = render_report(
        f"{assignment.config.title}（{assignment.id}）採点レポート / class report",
        all_results(assignment),
        assignment.graded_cells,
        assignment.course.student_names(),
        similar_pairs(assignment),
        rubric_counts(assignment),
    )
    out = out or assignment.report
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    return out
