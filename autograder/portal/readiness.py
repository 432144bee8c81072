"""What ``serve`` makes sure of before it grades an upload: every assignment the portal offers can be graded.

The portal offers every assignment of course_config whose release notebook is on disk (``offered``): it is
committed with the course, so a fresh clone lists kadai3–5 at once.  Grading one needs more: nbgrader's gradebook
must hold the assignment (its cells and checksums, written by ``release``), or every upload of it fails.  So at
start (the first step of the grading line's warm-up, behind the web: ``GradingQueue.warm_up``; uploads wait in line
meanwhile), for each offered assignment the gradebook lacks, ``ensure_gradable``:

1. generates the release from ``source/`` in a scratch course and compares it with the release notebook on disk
   (cell types, sources and nbgrader metadata: what students have and what grading will check against);
2. in sync: releases it into the course exactly as ``python -m autograder release ID --skip-proof`` does
   (``autograder.tools.prove.release``: nbgrader writes the gradebook and the same release notebook again);
3. out of sync: raises ``NotGradable`` (``serve`` stops, exit 2), naming the command to run: releasing would change a
   notebook students may already have, which is the instructor's decision, not the server's.

An assignment already in the gradebook is left as it is.
"""
from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from autograder.course import AssignmentConfig, Course
from autograder.errors import AutograderError


class NotGradable(AutograderError):
    """An assignment the portal would offer cannot be graded and cannot be released safely by the server."""

    exit_code = 2


def offered(course: Course) -> list[AssignmentConfig]:
    """The assignments the portal lists to students, in course_config's order: those with a release notebook."""
    return [a for a in course.config.assignments if course.release_notebook(a.id).is_file()]


def in_gradebook(course: Course) -> set[str]:
    """The ids of the assignments nbgrader's gradebook holds."""
    with course.gradebook() as gb:
        return {assignment.name for assignment in gb.assignments}


def _comparable(path: Path) -> list[tuple]:
    """What makes two release notebooks the same for students and for grading: each cell's type, source and
    nbgrader metadata (ids, outputs and notebook metadata left out)."""
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    return [(cell.cell_type, cell.source, cell.metadata.get("nbgrader")) for cell in notebook.cells]


def release_in_sync(course: Course, assignment_id: str) -> bool:
    """Whether the release notebook on disk is what ``release`` generates from ``source/`` today (nbgrader runs in a
    scratch course: nothing of ``course`` is touched)."""
    from autograder.tools.prove import generate_release, scratch_course

    with tempfile.TemporaryDirectory(prefix=f"serve-{assignment_id}-") as folder:
        generated = generate_release(scratch_course(course.assignment(assignment_id), Path(folder) / "course")
                                     .assignment(assignment_id))
        return _comparable(generated) == _comparable(course.release_notebook(assignment_id))


def ensure_gradable(course: Course, say: Callable[[str], None] = print) -> list[str]:
    """Release into the gradebook every offered assignment it lacks whose release notebook is in sync; returns
    their ids (``say`` tells the instructor about each, bilingually).

    Raises ``NotGradable`` naming every offered assignment whose release notebook is out of sync (and the command
    to run); nothing is released then."""
    from autograder.tools.prove import release

    known = in_gradebook(course)
    missing = [a.id for a in offered(course) if a.id not in known]
    stale = [aid for aid in missing if not release_in_sync(course, aid)]
    if stale:
        lines = [f"- {aid}: 成績簿になく、release/{aid}/{aid}.ipynb が source/{aid}/ から作ったものと違います / "
                 f"not in the gradebook, and its release notebook differs from what source/{aid}/ generates"
                 for aid in stale]
        commands = " ; ".join(f"python -m autograder release {aid}" for aid in stale)
        raise NotGradable(
            "採点できない課題があるため、ポータルを起動しません / the portal does not start: these assignments "
            "cannot be graded\n" + "\n".join(lines) + "\n"
            f"配布版を作り直すなら {commands} を実行してから起動してください（学生に配った版が変わります）。"
            f"配った版を残すなら source/ を配ったときの内容に戻してください / "
            f"to release again, run {commands} and start again (the notebook students have changes); to keep the "
            "released notebook, restore source/ to what was released")
    for aid in missing:
        release(course.assignment(aid), skip_proof=True)
        say(f"{aid} を成績簿に入れました（release --skip-proof と同じ） / released {aid} into the gradebook "
            "(as `release --skip-proof`)")
    return missing
