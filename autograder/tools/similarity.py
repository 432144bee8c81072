"""Similar submissions: pairs of students whose own answers are nearly the same (a reason to read both, not a verdict).

Code is compared as its tokens (comments and layout do not count), written answers
lower-cased with their whitespace collapsed; answers that are the reference solution
or the release's stub, and short ones, are left out: prescribed code makes everyone alike.
"""
from __future__ import annotations

import io
import re
import tokenize
from dataclasses import dataclass
from difflib import SequenceMatcher
from itertools import combinations

import nbformat

from autograder.course import Course
from autograder.course.notebook import notebook_problem
from autograder.tools.examples import DELIMITER

MIN_ANSWER_CHARS = 20
"""Answer cells with fewer normalised characters are too short to say anything about copying."""

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
