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
import tokenize
from collections import Counter
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import cache
from itertools import combinations
from pathlib import Path

import matplotlib
import nbformat
from matplotlib import font_manager, ft2font
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from autograder.course.assignment import GradedCell, graded_cells
from autograder.course import Course
from autograder.course.notebook import notebook_problem
from autograder.errors import log
from autograder.examples import DELIMITER
from autograder.tools.export import collect, student_names
from autograder.tools.pages import PAGES
from autograder.course.results import INSTRUCTOR_LABELS, Status, SubmissionResult

MIN_ANSWER_CHARS = 20
"""Answer cells with fewer normalised characters are too short to say anything about copying."""

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


@dataclass(frozen=True)
class SimilarPair:
    """Two students whose own answers are nearly the same: a reason to read both, not a verdict."""

    a: str
    """Student id (sorted before ``b``)."""

    b: str
    similarity: float
    """difflib's ratio of the compared cells, weighted by their length: 0 (nothing alike) to 1 (same)."""

    cells: tuple[str, ...]
    """grade_ids of the answer cells compared, in notebook order."""


# --- similar submissions ---------------------------------------------------------------------------------------

_LAYOUT_TOKENS = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
                  tokenize.ENDMARKER, tokenize.ENCODING}


def normalise_code(source: str) -> str:
    """Python code as its tokens joined by spaces: comments and layout vanish, names and literals stay."""
    try:
        tokens = [t.string for t in tokenize.generate_tokens(io.StringIO(source).readline) if t.type not in _LAYOUT_TOKENS]
    except (tokenize.TokenError, SyntaxError):  # code that does not tokenize: compare its text without comments
        return " ".join(re.sub(r"#.*", "", source).split())
    return " ".join(tokens)


def normalise_markdown(text: str) -> str:
    """A written answer lower-cased, with its whitespace collapsed."""
    return " ".join(text.lower().split())


def answer_cells(notebook: nbformat.NotebookNode) -> dict[str, str]:
    """grade_id → normalised text of each answer cell (nbgrader ``solution: true``), solution markers removed."""
    answers = {}
    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution") and meta.get("grade_id"):
            text = DELIMITER.sub("", cell.source)
            answers[meta["grade_id"]] = normalise_code(text) if cell.cell_type == "code" else normalise_markdown(text)
    return answers


def _weighted_ratio(texts: list[tuple[str, str]], at_least: float) -> float | None:
    """difflib's ratio over pairs of texts, weighted by length; None as soon as it surely stays under ``at_least``."""
    matchers = [SequenceMatcher(None, x, y, autojunk=False) for x, y in texts]
    weights = [len(x) + len(y) for x, y in texts]

    def weighted(ratios) -> float:
        return sum(w * r for w, r in zip(weights, ratios, strict=True)) / sum(weights)

    # the quick ratios bound the real one from above, and cost far less
    if weighted(m.real_quick_ratio() for m in matchers) < at_least or weighted(m.quick_ratio() for m in matchers) < at_least:
        return None
    return weighted(m.ratio() for m in matchers)


def similar_pairs(course: Course, assignment_id: str, threshold: float = 0.9) -> list[SimilarPair]:
    """Pairs of students whose own answers are at least ``threshold`` alike, most similar first.

    A student's own answers are the answer cells (code and written) that differ from
    both the reference solution and the release's stub and have at least
    ``MIN_ANSWER_CHARS`` normalised characters: prescribed code would make everyone
    alike.  Two students are compared on the own answers they both have.
    Missing and unreadable submissions are skipped.
    """
    given = [answer_cells(nbformat.read(path, as_version=4))
             for path in (course.source_notebook(assignment_id), course.release_notebook(assignment_id))]
    own: dict[str, dict[str, str]] = {}
    for student_id in course.student_ids():
        path = course.submission_notebook(assignment_id, student_id)
        if not path.is_file() or notebook_problem(path.read_bytes()):
            continue
        answers = {grade_id: text for grade_id, text in answer_cells(nbformat.read(path, as_version=4)).items()
                   if len(text) >= MIN_ANSWER_CHARS and all(text != g.get(grade_id) for g in given)}
        if answers:
            own[student_id] = answers
    pairs = []
    for a, b in combinations(sorted(own), 2):
        cells = tuple(grade_id for grade_id in own[a] if grade_id in own[b])
        if not cells:
            continue
        similarity = _weighted_ratio([(own[a][c], own[b][c]) for c in cells], threshold)
        if similarity is not None and similarity >= threshold:
            pairs.append(SimilarPair(a, b, similarity, cells))
    return sorted(pairs, key=lambda p: (-p.similarity, p.a, p.b))


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
    bars = ax.barh(list(INSTRUCTOR_LABELS.values()), [counts.get(s, 0) for s in INSTRUCTOR_LABELS], color="#8172b2")
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


def render_report(title: str, results: list[SubmissionResult], cells: list[GradedCell], names: dict[str, str],
                  similar: list[SimilarPair]) -> str:
    """The class report as one self-contained HTML page (plots embedded, student text escaped)."""
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
        labels=INSTRUCTOR_LABELS, late=Status.LATE, max_score=max_score, failures=common_failures(results),
        mean=f"{statistics.mean(scores):.1f}" if scores else "—",
        median=f"{statistics.median(scores):g}" if scores else "—",
    )


def write_report(course: Course, assignment_id: str, out: Path | None = None) -> Path:
    """Write the class report of ``assignment_id`` to ``out`` (default ``reports/<assignment_id>.html``); returns its path.

    Raises ``KeyError`` for an assignment that is not in course_config.py.
    """
    assignment = course.config.assignment(assignment_id)
    html = render_report(
        f"{assignment.title}（{assignment_id}）採点レポート / class report",
        collect(course, assignment_id),
        graded_cells(course.source_notebook(assignment_id)),
        student_names(course),
        similar_pairs(course, assignment_id),
    )
    out = out or course.root / "reports" / f"{assignment_id}.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    return out
