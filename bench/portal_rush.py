"""A deadline rush on the portal: N students upload kadai5 within seconds; how long until each has feedback?

Run from the repository (after ``make env data``)::

    .venv/bin/python bench/portal_rush.py                  # 12 students, one worker per core
    .venv/bin/python bench/portal_rush.py --students 6,12,24
    .venv/bin/python bench/portal_rush.py --toolkit /tmp/old-checkout   # the same rush on another version

What it does, on this machine, on the real Fashion-MNIST:

1. builds a scratch course of kadai5 and N submissions: the solution, then one typical
   mistake each (``autograder.tools.examples``), cycling;
2. grades them as a batch (``python -m autograder grade kadai5 --workers W``): the reference
   scores, and each notebook's grading time; ``ideal`` = the sum of those times / W;
3. for each N: issues accounts, starts a real ``python -m autograder serve`` on a free port of
   127.0.0.1 with ``--workers W``, signs the N students in, uploads every notebook within
   ``--spread`` seconds (default 5), and reads each student's page every 2 s until its
   feedback link appears; the page must show the student's place in line while they wait;
4. prints each upload's latency (upload → feedback available), p50, p95, max, the drain time
   (first upload → last feedback) and whether every score equals the batch's.

The requests go to 127.0.0.1 only, there are at most N sign-ins, N uploads and one page per
student every 2 s, and everything stops after ``--timeout`` seconds (default 3600) at most.
The last line is ``drain N s, p95 N s, ideal N s`` (of the largest N); exit code 1 if a score
differs from the batch's or an upload got no feedback.
"""
from __future__ import annotations

import argparse
import csv
import os
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import nbformat

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
ASSIGNMENT = "kadai5"
POLL_SECONDS = 2.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Portal:
    """A real ``serve`` of ``course_dir`` on 127.0.0.1 in a process of its own (``toolkit``: whose ``autograder``)."""

    def __init__(self, course_dir: Path, *, workers: int, toolkit: Path = ROOT, log: Path | None = None):
        self.course_dir, self.workers, self.toolkit = course_dir, workers, toolkit
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log or course_dir.parent / f"serve-{self.port}.log"
        self.process: subprocess.Popen | None = None

    def env(self) -> dict[str, str]:
        env = dict(os.environ, PYTHONPATH=str(self.toolkit))
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        return env

    def start(self, timeout: float = 300) -> Portal:
        command = [sys.executable, "-m", "autograder", "serve", "--course-dir", str(self.course_dir),
                   "--port", str(self.port)]
        help_text = subprocess.run([sys.executable, "-m", "autograder", "serve", "--help"], capture_output=True,
                                   text=True, cwd=self.toolkit, env=self.env(), check=False).stdout
        if "--workers" in help_text:  # an older toolkit's serve has no pool to size
            command += ["--workers", str(self.workers)]
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(command, cwd=self.toolkit, env=self.env(), stdin=subprocess.DEVNULL,
                                            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        import requests

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"serve exited with {self.process.returncode}: see {self.log}")
            try:
                if requests.get(self.url + "/", timeout=5).status_code == 200:
                    return self
            except requests.ConnectionError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"serve did not answer within {timeout} s: see {self.log}")

    def kill(self) -> None:
        """SIGKILL the server alone, as a crash would (its workers and children are left to notice)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stop(self) -> None:
        """Stop the server and everything it started (its session)."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # as Ctrl-C to serve; then the group, for what a crash left
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.process.pid, signal.SIGKILL)  # workers and grading children a crash left behind
        except ProcessLookupError:
            pass
        self.process.wait()


class Student:
    """One student's browser, as far as the portal can tell: a cookie, the CSRF token, forms posted."""

    def __init__(self, portal: Portal, user_id: str, password: str):
        import requests

        self.portal, self.user_id = portal, user_id
        self.http = requests.Session()
        page = self.http.get(portal.url + "/", timeout=30).text
        self.http.post(portal.url + "/signin", timeout=30, data={
            "user_id": user_id, "password": password, "csrf_token": _token(page)})

    def page(self) -> str:
        return self.http.get(self.portal.url + "/", timeout=30).text

    def upload(self, notebook: bytes) -> str:
        token = _token(self.page())
        response = self.http.post(f"{self.portal.url}/upload/{ASSIGNMENT}", timeout=120,
                                  data={"csrf_token": token},
                                  files={"notebook": (f"{ASSIGNMENT}.ipynb", notebook, "application/x-ipynb+json")})
        if "受け付けました" not in response.text:
            raise RuntimeError(f"{self.user_id}: upload refused: {re.sub(r'<[^>]+>', ' ', response.text)[:300]}")
        return response.text


def _token(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def accounts(course_dir: Path, students: list[str], toolkit: Path = ROOT) -> dict[str, str]:
    """Accounts for ``students`` and the instructor through ``python -m autograder accounts``: id → password."""
    roster = course_dir.parent / f"roster-{course_dir.name}.csv"
    roster.write_text("student_id,name\n" + "".join(f"{s},学生 {s}\n" for s in students), encoding="utf-8")
    out = course_dir.parent / f"credentials-{course_dir.name}.csv"
    subprocess.run([sys.executable, "-m", "autograder", "accounts", str(roster), "--course-dir", str(course_dir),
                    "--out", str(out)], cwd=toolkit, check=True, capture_output=True,
                   env=dict(os.environ, PYTHONPATH=str(toolkit)))
    with out.open(encoding="utf-8-sig") as f:
        rows = list(csv.reader(f))
    header = rows[0]
    return {row[header.index("user_id")]: row[header.index("password")] for row in rows[1:]}


def upload_rows(course_dir: Path) -> list[dict]:
    """The portal database's uploads (sqlite, where serve keeps it)."""
    from autograder.course import load_course
    from autograder.portal import private

    url = private.database_url(load_course(course_dir))
    with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute("SELECT * FROM uploads ORDER BY id")]


def submissions(count: int, base) -> dict[str, tuple[str, bytes]]:
    """``count`` kadai5 submissions: the solution, then one typical mistake each, cycling."""
    from autograder.tools.examples import filled_in, mistakes, with_mistakes

    correct = filled_in(base.source_notebook(ASSIGNMENT), base.release_notebook(ASSIGNMENT))
    found = {"r001": ("解答 / the solution", nbformat.writes(correct).encode("utf-8"))}
    typical = mistakes(ASSIGNMENT)
    for i in range(1, count):
        mistake = typical[(i - 1) % len(typical)]
        found[f"r{i + 1:03d}"] = (mistake.description, nbformat.writes(with_mistakes(correct, mistake)).encode("utf-8"))
    return found


def batch_reference(base, folder: Path, notebooks: dict, workers: int) -> tuple[dict, dict, float]:
    """Grade ``notebooks`` as a batch: (scores, each notebook's grading seconds, wall seconds)."""
    from autograder.course import load_course

    course = load_course(shutil.copytree(base.root, folder / "batch"))
    for student_id, (_, data) in notebooks.items():
        course.file_submission(ASSIGNMENT, student_id, data)
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "autograder", "grade", ASSIGNMENT, "--course-dir", str(course.root),
                    "--workers", str(workers)], cwd=ROOT, check=True, stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL, stderr=(folder / "batch.log").open("wb"))
    wall = time.monotonic() - started
    with (course.root / "logs" / f"grade-{ASSIGNMENT}.csv").open(encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["student_id"] in notebooks]
    return ({r["student_id"]: float(r["score"]) for r in rows}, {r["student_id"]: float(r["seconds"]) for r in rows},
            wall)


def rush(base, folder: Path, notebooks: dict, *, workers: int, spread: float, timeout: float,
         toolkit: Path = ROOT) -> dict:
    """One rush: every notebook uploaded by its student within ``spread`` s; latencies and scores."""
    course_dir = shutil.copytree(base.root, folder / f"portal-{len(notebooks)}")
    passwords = accounts(course_dir, list(notebooks), toolkit)
    portal = Portal(course_dir, workers=workers, toolkit=toolkit).start()
    uploaded: dict[str, float] = {}
    seen: dict[str, float] = {}
    placed: set[str] = set()
    try:
        students = {s: Student(portal, s, passwords[s]) for s in notebooks}
        gap = spread / max(1, len(notebooks) - 1)
        first = time.monotonic()

        def upload(student_id: str, at: float) -> None:
            time.sleep(max(0.0, at - time.monotonic()))
            students[student_id].upload(notebooks[student_id][1])
            uploaded[student_id] = time.monotonic()

        threads = [threading.Thread(target=upload, args=(s, first + i * gap)) for i, s in enumerate(notebooks)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        deadline = first + timeout
        while len(seen) < len(notebooks) and time.monotonic() < deadline:
            for student_id, student in students.items():
                if student_id in seen:
                    continue
                page = student.page()
                if f'id="feedback-{ASSIGNMENT}"' in page:
                    seen[student_id] = time.monotonic()
                elif "採点の順番" in page or "いま採点しています" in page:
                    placed.add(student_id)
            time.sleep(POLL_SECONDS)
    finally:
        portal.stop()
    rows = {r["student_id"]: r for r in upload_rows(course_dir) if r["state"] == "graded"}
    latencies = {s: seen[s] - uploaded[s] for s in seen}
    return {"latencies": latencies, "drain": (max(seen.values()) - first) if seen else None,
            "scores": {s: rows[s]["score"] for s in rows}, "placed": placed, "missing": sorted(set(notebooks) - set(seen))}


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


def main(argv: list[str] | None = None) -> int:
    from grade_throughput import machine

    from autograder.course import load_course
    from autograder.tools.prove import generate_release, scratch_course

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", default="12", help="comma-separated numbers of students (default 12)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="pool size (default: cores)")
    parser.add_argument("--spread", type=float, default=5.0, help="seconds over which the uploads arrive (max 60)")
    parser.add_argument("--timeout", type=float, default=3600.0, help="stop waiting for feedback after this")
    parser.add_argument("--toolkit", type=Path, default=ROOT, help="the checkout whose serve to run (default: this)")
    parser.add_argument("--keep", type=Path, help="build the courses here and keep them (default: a temporary folder)")
    args = parser.parse_args(argv)
    counts = sorted(int(n) for n in args.students.split(","))
    spread = min(args.spread, 60.0)

    folder = args.keep or Path(tempfile.mkdtemp(prefix="bench-rush-"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"machine: {machine()}")
    print(f"toolkit: {args.toolkit}; courses in {folder}; {args.workers} workers; uploads within {spread:g} s")
    base = scratch_course(load_course(ROOT).assignment(ASSIGNMENT), folder / "base")
    generate_release(base.assignment(ASSIGNMENT))
    notebooks = submissions(max(counts), base)
    print(f"batch grade of {len(notebooks)} …", flush=True)
    reference, seconds, wall = batch_reference(base, folder, notebooks, args.workers)
    print(f"  {wall:.0f} s wall; grading times {min(seconds.values()):.0f}–{max(seconds.values()):.0f} s", flush=True)

    ok, last = True, ""
    print("\n students  drain s  ideal s  ratio  p50 s  p95 s  max s  scores")
    for count in counts:
        chosen = dict(list(notebooks.items())[:count])
        found = rush(base, folder, chosen, workers=args.workers, spread=spread, timeout=args.timeout,
                     toolkit=args.toolkit)
        ideal = sum(seconds[s] for s in chosen) / args.workers
        agree = found["scores"] == {s: reference[s] for s in chosen} and not found["missing"]
        ok &= agree
        values = list(found["latencies"].values()) or [float("nan")]
        drain = found["drain"] or float("nan")
        print(f" {count:8d} {drain:8.0f} {ideal:8.0f} {drain / ideal:6.2f} {statistics.median(values):6.0f} "
              f"{_percentile(values, 0.95):6.0f} {max(values):6.0f}  {'equal' if agree else 'DIFFER'}"
              f"  (place shown to {len(found['placed'])} of {count})", flush=True)
        if not agree:
            print(f"   portal {found['scores']}\n   batch  {reference}\n   no feedback: {found['missing']}")
        last = f"drain {drain:.0f} s, p95 {_percentile(values, 0.95):.0f} s, ideal {ideal:.0f} s"
    print(last)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
