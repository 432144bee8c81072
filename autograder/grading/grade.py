"""Grading submissions: nbgrader's autograde on Dask workers, one writer for the gradebook, a status for each.

Layout (nbgrader's): ``submitted/<student_id>/<assignment>/<assignment>.ipynb`` in,
``autograded/<student_id>/<assignment>/`` out, scores in the gradebook.  Every
student folder ends with a status record (``autograder.json``) so that a
notebook that cannot be read or graded is reported, never skipped.

The steps of ``grade``, in order:

1. look at every submission here: missing or unreadable ones get their status
   at once; ones whose fingerprint (bundle + notebook + time stamp) matches the
   last grading keep that grade (unless ``force``);
2. send the rest to Dask (a local cluster, or an existing scheduler) as
   ``autograder.grading.worker.grade_task`` with the assignment's bundle: nothing else
   is shared with the workers;
3. as each outcome returns, this process alone writes it: the autograded
   notebook into ``autograded/``, its scores into the gradebook through
   nbgrader's ``SaveAutoGrades`` and ``AssignLatePenalties``, the status record,
   and a line in ``logs/grade-<assignment>.csv``.
"""
from __future__ import annotations

import csv
import os
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import nbformat
from nbgrader.api import MissingEntry
from nbgrader.apps import NbGraderAPI
from nbgrader.preprocessors import AssignLatePenalties, SaveAutoGrades
from tqdm import tqdm

from autograder.course import Assignment, Course, NotReleased
from autograder.course.cells import grade_id as grade_id_of
from autograder.course.csv_cells import SpreadsheetSafeWriter
from autograder.course.extensions import due_for, read_extensions
from autograder.course.nbgrader_setup import grading_resources, nbgrader_config
from autograder.course.notebook import notebook_problem, release_shape
from autograder.course.results import (
    Status,
    SubmissionResult,
    load_status,
    read_results,
    saved_result,
)
from autograder.errors import log
from autograder.grading import canary
from autograder.grading.bundle import fingerprint, make_bundle
from autograder.grading.child import KERNEL_DEAD
from autograder.grading.worker import TaskOutcome


def nbgrader_api(course: Course) -> NbGraderAPI:
    """nbgrader's API object for ``course``."""
    return NbGraderAPI(config=nbgrader_config(course))


def _stopped_cells(notebook, ename: str = "CellTimeoutError") -> list[str]:
    """Where grading was stopped: "cell N (grade_id or first line)" for each cell ending with error ``ename``."""
    places = []
    for index, cell in enumerate(notebook.cells, start=1):
        if any(o.get("output_type") == "error" and o.get("ename") == ename for o in cell.get("outputs", [])):
            name = grade_id_of(cell) or cell.source.strip().splitlines()[0][:40]
            places.append(f"cell {index} ({name})")
    return places


def _save_autogrades(assignment: Assignment, student_id: str, notebook, timestamp: datetime | None) -> None:
    """Score the autograded ``notebook`` into the gradebook, the way ``nbgrader autograde`` does after executing it."""
    course, assignment_id = assignment.course, assignment.id
    # the student's extension on nbgrader's submission: its due date (and AssignLatePenalties's) includes it
    extension = due_for(course, assignment_id, student_id) - assignment.config.due
    with course.gradebook() as gb:
        gb.update_or_create_student(student_id)
        extended = {"extension": extension if extension.total_seconds() > 0 else None}
        if timestamp is not None:
            gb.update_or_create_submission(assignment_id, student_id, timestamp=timestamp, **extended)
        else:
            gb.update_or_create_submission(assignment_id, student_id, **extended)
    resources = grading_resources(course, assignment_id, student_id)
    config = nbgrader_config(course)
    for step in (SaveAutoGrades, AssignLatePenalties):  # nbgrader's own order in Autograde.autograde_preprocessors
        step(config=config).preprocess(notebook, resources)


def record(assignment: Assignment, outcome: TaskOutcome, timestamp: datetime | None) -> SubmissionResult:
    """Write one worker's outcome into the course: autograded notebook, gradebook scores, status record."""
    student_id, assignment_id = outcome.student_id, assignment.id
    folder = assignment.autograded_dir(student_id)
    if folder.exists():
        shutil.rmtree(folder)  # what an earlier grading left must not mix with this one
    folder.mkdir(parents=True)
    if outcome.ok:
        (folder / f"{assignment_id}.ipynb").write_bytes(outcome.notebook)
        notebook = nbformat.reads(outcome.notebook.decode("utf-8"), as_version=4)
        _save_autogrades(assignment, student_id, notebook, timestamp)
        result = read_results(assignment, student_id)
        lost = result.lost()
        result.message = f"減点 / lost: {', '.join(lost)}" if lost else "自動採点は満点 / all automatic checks passed"
        if kept := [c.grade_id for c in result.checks if c.overridden]:  # nbgrader keeps them: say so (overrides.py)
            result.message += f"; 先生の点数の上書きを保持 / the instructor's override kept: {', '.join(kept)}"
        if result.late_penalty:
            result.message = f"締め切り後の提出で {result.late_penalty:g} 点減点 / late penalty -{result.late_penalty:g}; {result.message}"
        if timed_out := _stopped_cells(notebook):
            result.message = f"時間切れ / timed out: {', '.join(timed_out)}; {result.message}"
        if died := _stopped_cells(notebook, KERNEL_DEAD):
            result.message = f"カーネル停止 / the kernel died: {died[0]}; {result.message}"
        if outcome.note:
            result.message = f"{outcome.note}; {result.message}"
    else:
        result = SubmissionResult(student_id, Status.ERROR, outcome.message, max_score=assignment.total_points)
        if outcome.log:
            (folder / "grading.log").write_text(outcome.log, encoding="utf-8")
    result.seconds = outcome.seconds
    return result


def _log_timing(assignment: Assignment, rows: list[dict]) -> Path:
    """Append one line per graded submission to ``logs/grade-<assignment>.csv``; returns its path."""
    path = assignment.course.log_path(f"grade-{assignment.id}.csv")
    fields = ["finished_utc", "student_id", "status", "score", "max_score", "seconds", "host", "fingerprint"]
    new = not path.is_file()
    with path.open("a", newline="", encoding="utf-8") as f:
        writer = SpreadsheetSafeWriter(csv.DictWriter(f, fieldnames=fields))  # student ids come from file names
        if new:
            writer.writeheader()
        writer.writerows(rows)
    return path


def check_released(assignment: Assignment) -> None:
    """Raise ``UnknownAssignment`` for an unknown assignment and ``NotReleased`` for one nbgrader has not generated."""
    assignment.config  # noqa: B018 -- an unknown assignment: UnknownAssignment naming the known ones
    assignment_id = assignment.id
    with assignment.course.gradebook() as gb:
        try:
            gb.find_assignment(assignment_id)
        except MissingEntry:
            raise NotReleased(
                f"{assignment_id} は成績簿にありません。先に python -m autograder release {assignment_id} を実行してください / "
                f"{assignment_id} is not in the gradebook: run `python -m autograder release {assignment_id}` first"
            ) from None


def record_due_date(assignment: Assignment) -> datetime:
    """Put course_config's due date into nbgrader's gradebook (its late-penalty plugins read it); returns it as naive UTC."""
    due = assignment.config.due.astimezone(UTC).replace(tzinfo=None)
    with assignment.course.gradebook() as gb:
        gb.update_or_create_assignment(assignment.id, duedate=due)
    return due


def late_message(course: Course, submitted_utc: datetime, due_utc: datetime) -> str:
    """Why late work is not graded, with both times in the course's time zone (Japanese / English)."""
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(course.config.timezone)
    local = [t.replace(tzinfo=UTC).astimezone(zone).strftime("%Y-%m-%d %H:%M") for t in (submitted_utc, due_utc)]
    return (f"締め切り後の提出のため受け付けません（提出 {local[0]}、締め切り {local[1]}） / "
            f"submitted after the due date ({local[0]} > {local[1]}, {course.config.timezone}): not accepted, 0 points")


@dataclass
class Pending:
    """A submission that needs grading: its notebook, its time stamp and the fingerprint its grade will carry."""

    student_id: str
    data: bytes
    stamp_text: str | None
    stamp: datetime | None
    mark: str


@dataclass
class Screened:
    """What looking at one submission found: ``pending`` to grade, or a ``result`` already decided.

    ``settled``: the result still has to be written (missing, late, invalid); otherwise it is the saved result
    of an unchanged submission, written already."""

    student_id: str
    pending: Pending | None = None
    result: SubmissionResult | None = None
    mark: str | None = None
    settled: bool = False


class AssignmentGrading:
    """What grading an assignment needs once, however its submissions come (a batch, or the portal's uploads).

    Making it checks the assignment was released and puts its due date into the gradebook (a write: the one
    writer makes it); ``screen`` looks at one submission without grading it, ``write`` records one outcome.
    """

    def __init__(self, assignment: Assignment):
        check_released(assignment)
        self.assignment, self.course, self.assignment_id = assignment, assignment.course, assignment.id
        self.due = record_due_date(assignment)
        self.extensions = read_extensions(self.course)  # a student's own due time, if extended (course/extensions.py)
        self.reject_late = self.course.config.late_policy == "reject"
        self.bundle = make_bundle(assignment)
        self.graded_ids = {cell.grade_id for cell in assignment.graded_cells}
        self.release = release_shape(assignment.release)  # its cell limit, nbgrader's grade_ids

    def screen(self, student_id: str, force: bool = False) -> Screened:
        """Step 1 of ``grade`` for one student: missing, unchanged, late or invalid here; else ``pending``."""
        course, aid, work = self.course, self.assignment_id, self.assignment
        path = work.submitted(student_id)
        if not path.is_file():
            return Screened(student_id, result=SubmissionResult(
                student_id, Status.MISSING, f"{path.name} がありません / no {path.name} in the folder"), settled=True)
        data = path.read_bytes()
        stamp_text, stamp, stamp_problem = work.submission_time(student_id)
        mark = fingerprint(self.bundle, data, stamp_text)
        previous = load_status(work.autograded_dir(student_id))
        if not force and previous and previous.get("fingerprint") == mark and previous["status"] != Status.ERROR:
            return Screened(student_id, result=saved_result(work, student_id))
        due = due_for(course, aid, student_id, self.extensions).astimezone(UTC).replace(tzinfo=None)
        if self.reject_late and stamp is not None and stamp > due:
            return Screened(student_id, result=SubmissionResult(student_id, Status.LATE, late_message(course, stamp, due)),
                            mark=mark, settled=True)
        # invalid here, before any grading child: whatever nbgrader's autograde would fail on is this student's alone
        if reason := (notebook_problem(data, self.graded_ids, release=self.release) or stamp_problem):
            return Screened(student_id, result=SubmissionResult(student_id, Status.INVALID, reason), mark=mark, settled=True)
        return Screened(student_id, pending=Pending(student_id, data, stamp_text, stamp, mark))

    def settle(self, screened: Screened, timing: list[dict] | None = None) -> SubmissionResult:
        """Write a result ``screen`` decided without grading: its status record and its line of the grading log
        (appended to ``timing``, for the caller to log with the batch's; logged now without it)."""
        rows = [] if timing is None else timing
        result = _settle(self.assignment, screened.result, screened.mark, rows)
        if timing is None:
            _log_timing(self.assignment, rows)
        return result

    def write(self, pending: Pending, outcome: TaskOutcome, timing: list[dict] | None = None) -> SubmissionResult:
        """Step 3 of ``grade`` for one outcome: the autograded notebook, the gradebook, the status record, and its
        line of the grading log (as for ``settle``)."""
        rows = [] if timing is None else timing
        result = record(self.assignment, outcome, pending.stamp)
        result = _settle(self.assignment, result, pending.mark, rows, host=outcome.host)
        if outcome.fault:  # ours, not the student's: loud, with where to read more
            log.warning(f"{pending.student_id}: {outcome.message} ({outcome.host}; "
                        f"autograded/{pending.student_id}/{self.assignment_id}/grading.log)")
        if timing is None:
            _log_timing(self.assignment, rows)
        return result


def grade(course: Course, assignment_id: str, students: list[str] | None = None, *, workers: int | None = None,
          scheduler: str | None = None, force: bool = False, progress: bool | None = None) -> list[SubmissionResult]:
    """Grade the submissions of ``students`` (all under ``submitted/`` by default); returns one result each, in order.

    ``workers``: local Dask worker processes (default: course_config's ``workers``, else one per CPU core);
    ``scheduler``: an existing Dask scheduler's address instead of a local cluster (default: course_config's);
    ``force``: grade again even what is unchanged since it was last graded;
    ``progress``: show a progress bar (default: only on a terminal).
    Raises ``UnknownAssignment`` for an unknown assignment, ``NotReleased`` if it was never released, and
    ``canary.GradingEnvironmentError`` (before anything is written) when the grading environment fails the canary.
    """
    grading = AssignmentGrading(course.assignment(assignment_id))
    targets = students if students is not None else course.student_ids()
    results: dict[str, SubmissionResult] = {}
    timing: list[dict] = []
    pending: list[Pending] = []
    settled: list[Screened] = []  # written only once the canary has passed
    for student_id in targets:
        screened = grading.screen(student_id, force)
        if screened.pending is not None:
            pending.append(screened.pending)
        elif screened.settled:
            settled.append(screened)
        else:
            results[student_id] = screened.result
    scheduler = scheduler or course.config.scheduler
    if pending and not scheduler:
        canary.check(course)  # raises GradingEnvironmentError: nothing below is written
    if pending:
        isolation = _grade_on_dask(grading, pending, results, timing, settled, workers=workers,
                                   scheduler=scheduler, progress=progress)
        _warn_isolation(isolation)
    for screened in settled:
        results[screened.student_id] = grading.settle(screened, timing)
    if timing:
        _log_timing(grading.assignment, timing)
    return [results[student_id] for student_id in targets]


def _settle(assignment: Assignment, result: SubmissionResult, mark: str | None, timing: list[dict],
            host: str | None = None) -> SubmissionResult:
    """Give a result that scored nothing its max score, save its status record and note its timing."""
    if result.status != Status.GRADED:  # nothing was scored, but the row still says what the work was worth
        result.max_score = assignment.total_points
    result.save(assignment.autograded_dir(result.student_id), fingerprint=mark, host=host)
    timing.append({"finished_utc": datetime.now(UTC).isoformat(timespec="seconds"),
                   "student_id": result.student_id, "status": result.status, "score": result.score,
                   "max_score": result.max_score, "seconds": round(result.seconds, 1), "host": host or "",
                   "fingerprint": mark or ""})
    return result


def _warn_isolation(isolation: dict[str, set[str]]) -> None:
    """Print the sandbox warning for every machine that graded without full isolation, and this machine's when it
    graded here and lacks a part (the CPU shared by cgroups, which ``FULL`` does not name): never silently."""
    import socket

    from autograder.grading import sandbox

    weak = {how: hosts for how, hosts in isolation.items() if how and how != sandbox.FULL}
    local = sandbox.probe().warning()
    if not weak and not (local and any(socket.gethostname() in hosts for hosts in isolation.values())):
        return
    lines = [local] if local else []
    lines += [f"隔離 / isolation {how}: {', '.join(sorted(hosts))}" for how, hosts in sorted(weak.items())]
    log.warning("\n".join(lines))


def _grade_on_dask(grading: AssignmentGrading, pending: list[Pending], results: dict, timing: list[dict],
                   settled: list[Screened], *, workers: int | None, scheduler: str | None,
                   progress: bool | None) -> dict[str, set[str]]:
    """Grade ``pending`` on a pool of its own; returns how each machine isolated its kernels: description → hosts.

    On a cluster we did not start, the canary runs there first (``settled``: results to write once it passed).
    """
    from dask.distributed import as_completed

    from autograder.grading.pool import GradingPool

    course, aid = grading.course, grading.assignment_id
    workers = min(workers or course.config.workers or os.cpu_count() or 1, len(pending))
    bar = tqdm(total=len(pending), desc=f"採点 {aid}", unit="人", disable=(None if progress is None else not progress),
               bar_format="{desc}: {n_fmt}/{total_fmt} |{bar}| {elapsed}<{remaining} {postfix}")
    slowest: list[tuple[float, str]] = []
    isolation: dict[str, set[str]] = {}
    with bar, GradingPool(course, workers=workers, scheduler=scheduler) as pool:
        for screened in settled:  # the canary passed (on a cluster we did not start: ``pool`` ran it there)
            results[screened.student_id] = grading.settle(screened, timing)
        settled.clear()
        bar.set_postfix_str(pool.where)
        # Each task starts the child for its worker's next submission ahead of need, except the last few:
        # on a cluster we start, a spare left over at the end would only take CPU from the last submissions.
        last_few = 0 if scheduler else pool.size()
        futures = {pool.submit(grading.bundle, item, prewarm=i < len(pending) - last_few): item
                   for i, item in enumerate(pending)}
        for future in as_completed(futures, loop=pool.client.loop):
            item = futures[future]
            outcome = pool.outcome(future, item.student_id)
            isolation.setdefault(outcome.sandbox, set()).add(outcome.host.rsplit(":", 1)[0])
            result = results[item.student_id] = grading.write(item, outcome, timing)
            slowest = sorted([*slowest, (result.seconds, item.student_id)], reverse=True)[:3]
            bar.set_postfix_str(f"{pool.where}; 最も遅い / slowest: " + ", ".join(f"{s} {t:.0f}s" for t, s in slowest))
            bar.update()
    return isolation
