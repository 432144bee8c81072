"""The feedback child: students' feedback pages built in a process of their own, each page under a time limit.

A feedback page renders a student's notebook (nbconvert, its markdown parser, bleach, pygments): pure-Python
work on untrusted text, holding the interpreter lock while it runs.  Built inside the portal, one hostile
markdown cell (``"![" * 60000``) held the grading line's writer thread and every web thread for minutes
(issue 23, case 1).  So the portal (its page threads, ``portal/queue.py``) and the manual-grading pages
(``tools/manual.py``) call ``build_pages``, which runs ``python -m autograder.tools.feedback_child`` and waits
for it without the lock; the ``feedback`` command, the instructor's own process, builds in-process under the
same per-page deadline (``feedback.write_feedback(page_seconds=...)``).

Limits: each page ``PAGE_SECONDS`` (``SIGALRM`` in the child's main thread, ``feedback._deadline``); the child
as a whole ``STARTUP_SECONDS`` plus ``PAGE_SECONDS`` per page, killed past it.  A page past its limit, or whose
notebook could not be rendered, is that student's plain page (``feedback.plain_page``: the score and the table,
no notebook, a Japanese note); the child reports each page as a JSON line, and a page it never reported (the
child killed or crashed) is made plain by the caller, from nothing the student wrote.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from autograder.course import Assignment

PAGE_SECONDS = 60.0
"""Time to build one page (an honest kadai page: about a second; the hostile markdown of issue 23: hours)."""

STARTUP_SECONDS = 30.0
"""Time for the child to start and import nbconvert before its first page, on a busy machine (about 2 s idle)."""


@dataclass(frozen=True)
class PageOutcome:
    """One student's page as ``build_pages`` left it."""

    student_id: str
    path: Path
    """The page written (``assignment.feedback(student_id)``)."""

    why: str | None = None
    """None for the full page; else why the student got the plain page (bilingual, for the instructor)."""


def build_pages(assignment: Assignment, students: list[str], *, page_seconds: float = PAGE_SECONDS,
                startup_seconds: float = STARTUP_SECONDS) -> list[PageOutcome]:
    """Write the feedback pages of ``students`` in a child process; returns one outcome per student, in order.

    Never longer than ``startup_seconds + page_seconds * len(students)``: each page has ``page_seconds``, and a
    page the child did not report in time is written here as the student's plain page."""
    from autograder.tools.feedback import write_plain_page

    if not students:
        return []
    command = [sys.executable, "-m", "autograder.tools.feedback_child", str(assignment.course.root), assignment.id,
               f"--page-seconds={page_seconds!r}", *(f"--student={student_id}" for student_id in students)]
    try:
        done = subprocess.run(command, capture_output=True, text=True,
                              timeout=startup_seconds + page_seconds * len(students))
        output = done.stdout
        failure = None if done.returncode == 0 else (
            f"ページを作る子プロセスが終了コード {done.returncode} で止まりました / the page child exited with "
            f"{done.returncode}: {done.stderr.strip()[-500:]}")
    except subprocess.TimeoutExpired as stopped:  # run() killed it: what it reported before counts
        output = stopped.stdout.decode("utf-8", "replace") if isinstance(stopped.stdout, bytes) else stopped.stdout or ""
        failure = (f"ページを作る子プロセスが制限時間 ({stopped.timeout:g} 秒) を超えたので止めました / the page child ran "
                   f"past {stopped.timeout:g} s and was killed")
    reported: dict[str, PageOutcome] = {}
    for line in output.splitlines():
        try:
            page = json.loads(line)
            reported[page["student_id"]] = PageOutcome(page["student_id"], Path(page["path"]), page["why"])
        except (ValueError, KeyError, TypeError):  # a line cut by the kill: that page is made plain below
            continue
    outcomes = []
    for student_id in students:
        if student_id in reported:
            outcomes.append(reported[student_id])
            continue
        why = failure or "ページを作る子プロセスが報告しませんでした / the page child did not report this page"
        outcomes.append(PageOutcome(student_id, write_plain_page(assignment, student_id), why))
    return outcomes


def main(argv: list[str] | None = None) -> int:
    """The child: build the pages named on the command line, one JSON line on stdout as each is written."""
    from autograder.course import load_course
    from autograder.tools.feedback import feedback_pages

    parser = argparse.ArgumentParser(prog="python -m autograder.tools.feedback_child")
    parser.add_argument("course_root")
    parser.add_argument("assignment")
    parser.add_argument("--page-seconds", type=float, default=PAGE_SECONDS)
    parser.add_argument("--student", action="append", default=[], dest="students")
    args = parser.parse_args(argv)
    assignment = load_course(Path(args.course_root)).assignment(args.assignment)
    for student_id, path, why in feedback_pages(assignment, args.students, page_seconds=args.page_seconds):
        print(json.dumps({"student_id": student_id, "path": str(path), "why": why}, ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
