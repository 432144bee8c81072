"""The author's quick loop: an assignment's examples graded in one batch, each against what it must get.

``python -m autograder examples ID`` files, in a scratch course, the solution (full marks), the untouched
release (0 points), each typical mistake of ``autograder/checks/<id>/examples.py`` (loses exactly its checks,
with its message) and its valid variants packed into few notebooks (full marks), grades them all in one
batch exactly as students' work is graded, and prints one line per example: what it must get, what it got,
OK or NG.  The slow tests grade their batches through ``grade_examples`` too, so the table's judgement is
the tests' own.
"""
from __future__ import annotations

import tempfile
import unicodedata
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

import nbformat

from autograder.course import Assignment
from autograder.course.results import Status, SubmissionResult
from autograder.grading.grade import grade
from autograder.tools.examples import filled_in, mistakes, pack_variants, variants, with_mistakes, with_variants
from autograder.tools.prove import NOT_YET_WRITTEN, generate_release, scratch_course


class Kind(StrEnum):
    """What an example notebook is, which says what it must get."""

    SOLUTION = "solution"
    """The release filled in with the solution: every automatic point."""

    RELEASE = "release"
    """The release untouched: 0 points, no grader error."""

    MISTAKE = "mistake"
    """One typical mistake: loses exactly its checks, the first with its message."""

    VARIANTS = "variants"
    """Valid variants packed into one notebook: every automatic point."""


@dataclass(frozen=True)
class Example:
    """One notebook of the batch and what grading must make of it."""

    student_id: str
    """The name it is filed and graded under (a mistake's name, ``variants1``, ``_solution``)."""

    kind: Kind
    names: tuple[str, ...] = ()
    """The mistake, or the variants the notebook answers in; empty for the solution and the release."""

    must_lose: frozenset[str] = frozenset()
    """grade_ids of the automatic checks that must lose their points (a mistake's; none for the others)."""

    says: str = ""
    """A phrase the first lost check's message must contain (a mistake's)."""

    notebook: nbformat.NotebookNode | None = field(default=None, compare=False, repr=False)
    """What is filed."""


@dataclass(frozen=True)
class Outcome:
    """How one example behaved."""

    example: Example
    result: SubmissionResult
    """What grading made of it."""

    expected: str
    """What it must get, in a few words (Japanese / English)."""

    got: str
    """What it got, in the same words."""

    ok: bool
    """Whether it got what it must."""


FULL_MARKS = "満点 / full marks"
SOLUTION_ID, RELEASE_ID = "_solution", "_release"


def _loses(grade_ids) -> str:
    return f"{', '.join(sorted(grade_ids))} を失う / loses them"


def examples_of(assignment: Assignment, kinds: tuple[Kind, ...] = tuple(Kind)) -> list[Example]:
    """The solution, the untouched release, every typical mistake and the variants (packed, ``pack_variants``) of
    ``assignment`` (those of ``kinds``), made from its source and release notebooks."""
    release, assignment_id = assignment.release, assignment.id
    solution = filled_in(assignment.source, release)
    made = []
    if Kind.SOLUTION in kinds:
        made.append(Example(SOLUTION_ID, Kind.SOLUTION, notebook=solution))
    if Kind.RELEASE in kinds:
        made.append(Example(RELEASE_ID, Kind.RELEASE, notebook=assignment.release_notebook))
    if Kind.MISTAKE in kinds:
        made += [Example(m.name, Kind.MISTAKE, (m.name,), frozenset(m.lost), m.says, with_mistakes(solution, m))
                 for m in mistakes(assignment_id)]
    if Kind.VARIANTS in kinds:
        made += [Example(f"variants{i}", Kind.VARIANTS, tuple(v.name for v in group),
                         notebook=with_variants(solution, *group))
                 for i, group in enumerate(pack_variants(solution, variants(assignment_id)), start=1)]
    return made


def judge(example: Example, result: SubmissionResult) -> Outcome:
    """Compare what grading made of ``example`` with what it must get."""
    lost = set(result.lost())
    if example.kind == Kind.RELEASE:
        expected = "0 点 / 0 points"
        faults = [c.grade_id for c in result.checks if c.error and c.error not in NOT_YET_WRITTEN]
        got = f"{result.score:g} 点 / {result.score:g} points" + (f"; 採点エラー / grader error in {', '.join(faults)}" if faults else "")
        ok = result.status == Status.GRADED and result.score == 0 and not faults
    else:
        must = example.must_lose if example.kind == Kind.MISTAKE else frozenset()
        expected = _loses(must) if must else FULL_MARKS
        got = _loses(lost) if lost else FULL_MARKS
        ok = result.status == Status.GRADED and lost == must
        if ok and example.says and must:
            first = next(c for c in result.checks if c.grade_id in must)
            if example.says not in (first.message or ""):
                ok, got = False, f"{got}; {first.grade_id} の言葉に「{example.says}」がない / its message lacks it"
    if result.status != Status.GRADED:
        got = f"{result.status}: {result.message.splitlines()[0][:100] if result.message else ''}"
    return Outcome(example, result, expected, got, ok)


def grade_examples(assignment: Assignment, examples: list[Example], *, workers: int | None = None) -> list[Outcome]:
    """File ``examples`` as submissions of ``assignment`` (of a scratch course, released: it is graded into) and
    grade them in one batch; one ``Outcome`` each, in order."""
    for example in examples:
        assignment.file_submission(example.student_id, nbformat.writes(example.notebook))
    results = grade(assignment.course, assignment.id, [e.student_id for e in examples], workers=workers, force=True)
    return [judge(example, result) for example, result in zip(examples, results)]


def try_examples(assignment: Assignment, *, workers: int | None = None) -> list[Outcome]:
    """Every example of ``assignment`` graded in one batch in a scratch course (nothing of its course is
    touched); raises ``UnknownAssignment`` for an id course_config does not list."""
    assignment.config  # raises UnknownAssignment for an id course_config does not list, before anything is copied
    with tempfile.TemporaryDirectory(prefix=f"examples-{assignment.id}-") as tmp:
        scratch = scratch_course(assignment, Path(tmp)).assignment(assignment.id)
        generate_release(scratch)
        return grade_examples(scratch, examples_of(scratch), workers=workers)


def _width(text: str) -> int:
    """Columns ``text`` takes on a terminal (a Japanese character takes two)."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


def table(outcomes: list[Outcome]) -> str:
    """One line per example (a variant per line, with its notebook's outcome), then a bilingual verdict."""
    rows = [("例 / example", "期待 / expected", "結果 / got", "")]
    for o in outcomes:
        label = {Kind.SOLUTION: "解答 / solution", Kind.RELEASE: "配布版 / release"}.get(o.example.kind)
        verdict = "OK" if o.ok else "NG"
        if o.example.kind == Kind.VARIANTS:
            rows += [(f"variant {name} ({o.example.student_id})", o.expected, o.got, verdict) for name in o.example.names]
        else:
            rows.append((label or f"mistake {o.example.names[0]}", o.expected, o.got, verdict))
    widths = [max(_width(row[i]) for row in rows) for i in range(3)]
    lines = ["  ".join(_pad(cell, widths[i]) if i < 3 else cell for i, cell in enumerate(row)).rstrip() for row in rows]
    bad = sum(not o.ok for o in outcomes)
    lines.append(f"{bad} 件が宣言どおりではありません / {bad} of {len(outcomes)} notebooks do not behave as declared"
                 if bad else f"すべて宣言どおりです / all {len(outcomes)} notebooks behave as declared")
    return "\n".join(lines)
