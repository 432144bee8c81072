"""The standing pool of grading workers: what losing one worker costs (a real local Dask cluster, fake grading).

A grading task here sleeps and says which process ran it instead of grading a notebook, so the test is about
Dask and the pool alone: what a killed worker does to the task it was running, and to the rest of the pool.
"""
from __future__ import annotations

import os
import signal
import time

from autograder.grading import pool as pool_module
from autograder.grading.bundle import GradingBundle, digest_of
from autograder.grading.grade import Pending
from autograder.grading.pool import GradingPool

TASK_SECONDS = 8


def _worker_grading(pool, future) -> str:
    deadline = time.monotonic() + 60
    while not (running := [w for w, keys in pool.client.processing().items() if future.key in keys]):
        assert time.monotonic() < deadline, pool.client.processing()
        time.sleep(0.2)
    return running[0]


def test_a_killed_worker_reruns_its_task_and_nothing_else(course, monkeypatch):
    """Killing the worker that grades a submission: is that one task run again and its outcome returned, while the
    pool stays the same pool (the other worker the same process, the client running, no future lost or cancelled)?

    One upload is being graded, the other worker is idle (the portal between rushes).  Before, the bundle was
    scattered data, kept by Dask's memory manager on the one worker using it: killing that worker cancelled the task
    ("already forgotten"), and the portal rebuilt the whole pool (both workers)."""
    def _fake_grade_task(bundle, student_id, data, stamp_text, prewarm, isolated_only):
        """``grade_task``'s outcome after a few seconds of "grading" (defined here: Dask pickles it by value)."""
        import os
        import socket
        import time

        from autograder.grading.worker import TaskOutcome

        time.sleep(TASK_SECONDS)
        return TaskOutcome(student_id, True, bundle.files["course_config.py"], "", TASK_SECONDS,
                           f"{socket.gethostname()}:{os.getpid()}")

    monkeypatch.setattr(pool_module, "grade_task", _fake_grade_task)  # pickled by value: the workers run this one
    files = {"course_config.py": b"# the bundle's content comes back in the outcome\n" * 100}
    bundle = GradingBundle("kadai5", files, digest_of(files))
    with GradingPool(course, workers=2) as pool:
        pool.client.wait_for_workers(2, timeout=60)
        pids = pool.client.run(os.getpid)
        futures = {"s001": pool.submit(bundle, Pending("s001", b"{}", None, None, "0" * 12), prewarm=False)}
        victim = _worker_grading(pool, futures["s001"])
        time.sleep(2.5)  # Dask's memory manager (every 2 s) has reduced anything shared to the copy in use
        survivor = next(w for w in pids if w != victim)
        os.kill(pids[victim], signal.SIGKILL)
        for name, future in futures.items():
            outcome = future.result(timeout=120)
            assert not pool.lost(future) and future.status == "finished", (name, future.status)
            assert outcome.ok and outcome.student_id == name and outcome.notebook == files["course_config.py"]
            assert int(outcome.host.rsplit(":", 1)[1]) != pids[victim], name  # finished by a live process
        assert pool.broken() is None
        assert pool.client.run(os.getpid, workers=[survivor]) == {survivor: pids[survivor]}  # not rebuilt
