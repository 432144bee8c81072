"""A kernel that hogs the CPU beside a classmate's honest notebook, both graded for real on two workers (issue 23).

One batch: the kadai5 solution and a submission whose first cell starts sixty busy processes, each in its own
session, and keeps them running for ``HOLD`` seconds.  Before each kernel had a CPU cgroup of its own (and
nbgrader waited 4 s for a cell's output), the classmate's grading ended ``error`` 0/25 after 890 s.
"""
from __future__ import annotations

import csv
import re
from datetime import datetime

import nbformat
import pytest
from helpers import copy_course

from autograder.course.results import Status
from autograder.grading.grade import grade
from autograder.tools.examples import filled_in

pytestmark = pytest.mark.slow

AID = "kadai5"
FULL = 20  # kadai5's automatic points
HOLD = 180
"""Seconds the hog keeps its sixty processes busy: longer than the honest grading takes on CI (about 105 s in the
attack batch), so that the two are graded side by side all along."""

FORKER = '''
import os, sys, time
end = float(sys.argv[1])
for _ in range(60):
    if os.fork() == 0:
        os.setsid()  # each in its own session, as in the issue
        while time.time() < end:
            pass
        os._exit(0)
print(f"HOG STARTED 60 {time.time()}", flush=True)
for _ in range(60):
    os.wait()
'''

HOG = f'''
import subprocess, sys, time
end = time.time() + {HOLD}
print(f"HOG FORKING {{time.time()}}")
forker = subprocess.Popen([sys.executable, "-c", {FORKER!r}, str(end)], stdout=subprocess.PIPE, text=True)
print(forker.stdout.readline().strip())
time.sleep(max(0, end - time.time()))
print(f"HOG ENDED {{time.time()}}")
'''
"""The hog's cell: a small forker (a fork of the kernel itself is slowed by the very processes it starts) starts
sixty busy processes that stop by themselves after ``HOLD`` seconds; the cell waits as long."""


@pytest.fixture(scope="module")
def shared(released_course, tmp_path_factory):
    """The hog and the honest solution graded together in one batch on two workers."""
    course = copy_course(released_course(AID), tmp_path_factory.mktemp("fair-share") / "course")
    config = course.root / "course_config.py"
    config.write_text(config.read_text(encoding="utf-8") + (
        "\n\nimport dataclasses as _dataclasses\n"
        f"CONFIG = _dataclasses.replace(CONFIG, cell_timeout={HOLD + 120}, notebook_timeout=900)\n"), encoding="utf-8")
    release = nbformat.read(course.release_notebook(AID), as_version=4)
    hog = nbformat.from_dict(release)
    hog.cells.insert(0, nbformat.v4.new_code_cell(HOG))  # first: the honest kernel is importing TensorFlow meanwhile
    course.file_submission(AID, "honest", nbformat.writes(filled_in(course.source_notebook(AID), course.release_notebook(AID))))
    course.file_submission(AID, "cpu_hog", nbformat.writes(hog))
    results = {r.student_id: r for r in grade(course, AID, workers=2)}
    with (course.root / "logs" / f"grade-{AID}.csv").open(encoding="utf-8", newline="") as f:
        timing = {row["student_id"]: row for row in csv.DictReader(f)}
    graded = nbformat.read(course.assignment(AID).autograded("cpu_hog"), as_version=4)
    printed = "".join(o.get("text", "") for c in graded.cells for o in c.get("outputs", []) if o.get("name") == "stdout")
    return {"results": results, "timing": timing, "printed": printed}


def test_the_honest_notebook_keeps_its_score_beside_a_hog(shared):
    """Graded while a classmate's kernel keeps sixty busy processes running: full marks, as alone, and no error?"""
    honest = shared["results"]["honest"]
    assert honest.status == Status.GRADED and honest.score == FULL, honest.message
    assert "IOPub" not in honest.message and "時間切れ" not in honest.message, honest.message


def test_the_hog_ran_beside_the_honest_grading_and_was_graded_itself(shared):
    """Did the sixty processes really run while the honest notebook was graded (the test proves nothing otherwise),
    and is the hog itself graded (0, its answers are the release's stubs), not an error of the batch?"""
    forking = re.search(r"HOG FORKING ([\d.]+)", shared["printed"])
    started = re.search(r"HOG STARTED 60 ([\d.]+)", shared["printed"])
    ended = re.search(r"HOG ENDED ([\d.]+)", shared["printed"])
    assert forking and started and ended, shared["printed"][-2000:]
    row = shared["timing"]["honest"]
    honest_end = datetime.fromisoformat(row["finished_utc"]).timestamp()
    honest_start = honest_end - float(row["seconds"])
    def overlap(start, end):
        return min(honest_end, float(end.group(1))) - max(honest_start, float(start.group(1)))
    evidence = (row, forking.group(1), started.group(1), ended.group(1))
    # all sixty busy for at least half of the honest grading, or a minute (measured at a load of 30 to 68 on 2 cores:
    # 84 s of its 110 s, all but its kernel's start)
    assert overlap(started, ended) >= min(60.0, 0.5 * float(row["seconds"])), evidence
    hog = shared["results"]["cpu_hog"]
    assert hog.status == Status.GRADED and hog.score == 0, hog.message
