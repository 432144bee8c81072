"""Similar submissions: pairs of students whose own answers are nearly the same (a reason to read both, not a verdict).

Code is compared as its tokens (comments and layout do not count), written answers
lower-cased with their whitespace collapsed, both without the characters that draw nothing
(``visible``: a zero-width space after every third character copies an answer that looks
the same and shares no run with it); answers that are the reference solution
or the release's stub, and short ones, are left out: prescribed code makes everyone alike.

The measure is *shingle coverage*, in time linear in the answers' length (difflib's ratio,
used before, took 50 s on two 20,000-character answers; a student's answer is unbounded
text): each text is cut into its overlapping runs of ``SHINGLE`` characters (whitespace
removed, NFKC-folded, so full-width and half-width letters agree), and a character counts
as shared when a run holding it also occurs in the other text, each occurrence matched at
most once.  Like difflib's ratio it is ``2 * shared / (len(a) + len(b))`` (with ``shared``
the smaller of the two sides' counts), so one edit in an answer of ``n`` characters costs
about ``1/n`` and a pasted duplicate or a padding does not look like a copy; unlike it, it
does not mind paragraphs in another order.  Its cost per pair is that of the shorter text
(a set intersection of runs), so 100 students (4950 pairs) take well under a second with
answers of classroom length.
"""
from __future__ import annotations

import functools
import io
import re
import sys
import tokenize
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from itertools import combinations

import nbformat

from autograder.course import Assignment
from autograder.course.cells import grade_id as grade_id_of
from autograder.course.cells import is_solution
from autograder.course.notebook import notebook_problem
from autograder.tools.examples import DELIMITER

MIN_ANSWER_CHARS = 20
"""Answer cells with fewer normalised characters are too short to say anything about copying."""

MAX_ANSWER_CHARS = 50_000
"""Characters of an answer cell compared, from its start (real answers have a few thousand): time is linear
anyway, but the runs of a pasted 20 MB text would take gigabytes."""

SHINGLE = 5
"""Characters in one run compared between two answers: long enough that different answers to one
question rarely share runs by chance (a Japanese word, a Python name), short enough that an edit
breaks few of them."""

@dataclass(frozen=True)
class SimilarPair:
    """Two students whose own answers are nearly the same: a reason to read both, not a verdict."""

    a: str
    """Student id (sorted before ``b``)."""

    b: str
    similarity: float
    """Shingle coverage of the compared cells together (see the module): 0 (nothing alike) to 1 (same)."""

    cells: tuple[str, ...]
    """grade_ids of the answer cells compared, in notebook order."""


IGNORABLE = frozenset([0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x3164, 0xFFA0, *range(0x180B, 0x1810),
                       *range(0xFE00, 0xFE10), *range(0xE0100, 0xE01F0)])
"""Characters that draw nothing but are not format characters (Unicode's other default-ignorable code points in
use: the combining grapheme joiner, Hangul fillers, Khmer inherent vowels, Mongolian and other variation
selectors); removed with category Cf by ``visible``."""


@functools.cache
def _invisible_table() -> dict[int, None]:
    """``str.translate``'s table deleting every format character (category Cf) and ``IGNORABLE``; built once, at
    first use (0.15 s over every code point), so that it follows the running Python's Unicode version."""
    found = {code for code in range(sys.maxunicode + 1) if unicodedata.category(chr(code)) == "Cf"}
    return dict.fromkeys(found | IGNORABLE)


def visible(text: str) -> str:
    """``text`` without the characters that draw nothing: format characters (Unicode category Cf: zero-width space,
    zero-width joiners, word joiner, soft hyphen, direction marks, BOM, tag characters) and ``IGNORABLE``.

    Two answers that look the same on a page must compare the same: every comparison of students' text (the
    report's similar pairs, the manual page's answer groups, an answer's digest) normalises through here first.
    Linear in ``text`` (one ``str.translate``)."""
    return text if text.isascii() else text.translate(_invisible_table())


_LAYOUT_TOKENS = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
                  tokenize.ENDMARKER, tokenize.ENCODING}


def normalise_code(source: str) -> str:
    """Python code as its tokens joined by spaces: comments, layout and invisible characters (``visible``) vanish,
    names and literals stay."""
    source = visible(source)
    try:
        tokens = [t.string for t in tokenize.generate_tokens(io.StringIO(source).readline) if t.type not in _LAYOUT_TOKENS]
    except (tokenize.TokenError, SyntaxError):  # code that does not tokenize: compare its text without comments
        return " ".join(re.sub(r"#.*", "", source).split())
    return " ".join(tokens)


def normalise_markdown(text: str) -> str:
    """A written answer lower-cased, with its whitespace collapsed and its invisible characters removed (``visible``)."""
    return " ".join(visible(text).lower().split())


def answer_cells(notebook: nbformat.NotebookNode) -> dict[str, str]:
    """grade_id → normalised text of each answer cell (nbgrader ``solution: true``), solution markers removed,
    from its first ``MAX_ANSWER_CHARS`` characters."""
    answers = {}
    for cell in notebook.cells:
        if is_solution(cell) and (grade_id := grade_id_of(cell)):
            text = DELIMITER.sub("", cell.source[:MAX_ANSWER_CHARS])
            answers[grade_id] = normalise_code(text) if cell.cell_type == "code" else normalise_markdown(text)
    return answers


@dataclass(frozen=True)
class Shingles:
    """One answer cut into its runs of ``SHINGLE`` characters, for comparing with others in linear time."""

    length: int
    """Characters compared (whitespace removed)."""

    starts: dict[str, list[int]]
    """Each run → where it starts in the text framed by ``_EDGE`` (so the first and last characters have runs
    of their own, and an edit near an end costs no more than one in the middle), in order."""


_EDGE = "\x00" * (SHINGLE - 1)


def shingles(text: str) -> Shingles:
    """``text`` (a normalised answer) as its runs: NFKC-folded, whitespace removed (layout is no answer)."""
    key = "".join(unicodedata.normalize("NFKC", text).split())
    framed = f"{_EDGE}{key}{_EDGE}" if key else ""
    starts: dict[str, list[int]] = defaultdict(list)
    for i in range(len(framed) - SHINGLE + 1):
        starts[framed[i:i + SHINGLE]].append(i)
    return Shingles(len(key), dict(starts))


def shared_characters(a: Shingles, b: Shingles) -> int:
    """Characters of ``a`` and of ``b`` lying in a run the other also has (each occurrence matched once): the smaller count."""
    frame = 2 * len(_EDGE)
    covered_a, covered_b = bytearray(a.length + frame), bytearray(b.length + frame)
    mark = b"\x01" * SHINGLE
    for run in a.starts.keys() & b.starts.keys():  # only the runs they share: the cost of the shorter text
        for i, j in zip(a.starts[run], b.starts[run]):  # the first occurrences of each side, as many as the other has
            covered_a[i:i + SHINGLE] = mark
            covered_b[j:j + SHINGLE] = mark
    edge = len(_EDGE)
    return min(covered_a.count(1, edge, edge + a.length), covered_b.count(1, edge, edge + b.length))


def answer_similarity(pairs: list[tuple[Shingles, Shingles]], at_least: float = 0.0) -> float | None:
    """Shingle coverage of answer pairs taken together, 0 to 1; None as soon as it surely stays under ``at_least``."""
    total = sum(a.length + b.length for a, b in pairs)
    if not total:
        return 0.0
    if sum(2 * min(a.length, b.length) for a, b in pairs) < at_least * total:  # lengths alone bound it, for free
        return None
    return sum(2 * shared_characters(a, b) for a, b in pairs) / total


def similar_pairs(assignment: Assignment, threshold: float = 0.9) -> list[SimilarPair]:
    """Pairs of students whose own answers are at least ``threshold`` alike, most similar first.

    A student's own answers are the answer cells (code and written) that differ from
    both the reference solution and the release's stub and have at least
    ``MIN_ANSWER_CHARS`` normalised characters: prescribed code would make everyone
    alike.  Two students are compared on the own answers they both have.
    Missing and unreadable submissions are skipped.
    """
    given = [answer_cells(assignment.source_notebook), answer_cells(assignment.release_notebook)]
    own: dict[str, dict[str, Shingles]] = {}
    for student_id in assignment.course.student_ids():
        path = assignment.submitted(student_id)
        if not path.is_file() or notebook_problem(path.read_bytes()):
            continue
        answers = {grade_id: shingles(text) for grade_id, text in answer_cells(nbformat.read(path, as_version=4)).items()
                   if len(text) >= MIN_ANSWER_CHARS and all(text != g.get(grade_id) for g in given)}
        if answers:
            own[student_id] = answers
    pairs = []
    for a, b in combinations(sorted(own), 2):
        cells = tuple(grade_id for grade_id in own[a] if grade_id in own[b])
        if not cells:
            continue
        alike = answer_similarity([(own[a][c], own[b][c]) for c in cells], threshold)
        if alike is not None and alike >= threshold:
            pairs.append(SimilarPair(a, b, alike, cells))
    return sorted(pairs, key=lambda p: (-p.similarity, p.a, p.b))
