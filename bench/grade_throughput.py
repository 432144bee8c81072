"""Throughput of grading kadai4: plain ``nbgrader autograde`` against ``python -m autograder grade``.

Run from the repository (after ``make env data``)::

    .venv/bin/python bench/grade_throughput.py                 # 8 submissions, ours with one worker per core
    .venv/bin/python bench/grade_throughput.py --workers 1,2   # also how ours grows with workers

Both sides grade the same batch (the solution and typical mistakes from
``autograder.tools.examples``) in their own copy of a scratch course built from this
course, on the real Fashion-MNIST, one after the other on this machine:

* **plain**: ``nbgrader autograde kadai4`` as an instructor would run it:
  serial, nbgrader's defaults, TensorFlow's default threads, no
  ``steps_per_execution``.  Two things differ from a bare nbgrader course,
  because kadai4 cannot be graded without them: the cell time limit comes from
  course_config (nbgrader's 30 s default interrupts training), and the kernel
  loads ``autograder.grading.kernel.capture`` (the figure checks read the closed figures).
* **ours**: ``python -m autograder grade kadai4 --workers N`` for each N asked.

The scores of every submission must agree (exit code 1 if not).  The last line
printed is ``ratio N.Nx``: the plain wall time over ours (with the last N).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's start-up chatter out of the output

from autograder.course import COURSE_DIR_ENV, load_course
from autograder.tools.examples import filled_in, mistakes, with_mistakes
from autograder.tools.prove import generate_release, scratch_course

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENT = "kadai4"

PLAIN_CONFIG = '''\
# nbgrader's defaults, but for the cell time limit: kadai4's training cells run longer than 30 s.
c = get_config()  # noqa: F821
c.CourseDirectory.root = {root!r}
c.CourseDirectory.course_id = {course_id!r}
c.CourseDirectory.db_url = {db_url!r}
c.Execute.timeout = {timeout}
'''

CAPTURE_ONLY = "import autograder.grading.kernel.capture\nautograder.grading.kernel.capture.install()\n"


def machine() -> str:
    import dask
    import keras
    import nbgrader
    import tensorflow as tf

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else ""
    memory = ""
    if Path("/proc/meminfo").exists():
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kib / 2**20:.0f} GiB"
    return (f"{os.cpu_count()} cores ({cpu}){memory}; Python {platform.python_version()}, "
            f"TensorFlow {tf.__version__}, Keras {keras.__version__}, nbgrader {nbgrader.__version__}, "
            f"dask {dask.__version__}")


def batch(count: int, source: Path, release: Path) -> dict[str, tuple[str, str]]:
    """``count`` submissions: the solution, then one typical mistake each (cycling through them)."""
    correct = filled_in(source, release)
    notebooks = {"b001": ("解答 / the solution", nbformat.writes(correct))}
    for i in range(1, count):
        mistake = mistakes(ASSIGNMENT)[(i - 1) % len(mistakes(ASSIGNMENT))]
        notebooks[f"b{i + 1:03d}"] = (mistake.description, nbformat.writes(with_mistakes(correct, mistake)))
    return notebooks


def scores(course_root: Path, course_id: str, students) -> dict[str, float | None]:
    from nbgrader.api import Gradebook, MissingEntry

    found = {}
    with Gradebook(f"sqlite:///{course_root / 'gradebook.db'}", course_id) as gb:
        for student_id in students:
            try:
                found[student_id] = gb.find_submission(ASSIGNMENT, student_id).score
            except MissingEntry:
                found[student_id] = None
    return found


def run(command: list[str], cwd: Path, env: dict[str, str], log: Path) -> float:
    started = time.monotonic()
    with log.open("wb") as out:
        done = subprocess.run(command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                              check=False)
    seconds = time.monotonic() - started
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed with exit code {done.returncode}; see {log}")
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=8, help="submissions in the batch (default 8)")
    parser.add_argument("--workers", default=str(os.cpu_count() or 1),
                        help="comma-separated worker counts for ours; the ratio uses the last (default: cores)")
    parser.add_argument("--keep", type=Path, help="build the courses here and keep them (default: a temporary folder)")
    parser.add_argument("--skip-plain", action="store_true", help="time ours only (no ratio)")
    args = parser.parse_args(argv)
    worker_counts = [int(n) for n in args.workers.split(",")]

    course = load_course(ROOT)
    folder = args.keep or Path(tempfile.mkdtemp(prefix="bench-grade-"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"machine: {machine()}")
    print(f"courses in {folder}")

    base = scratch_course(course.assignment(ASSIGNMENT), folder / "base")
    release = generate_release(base.assignment(ASSIGNMENT))
    notebooks = batch(args.count, base.source_notebook(ASSIGNMENT), release)
    for student_id, (_, text) in notebooks.items():
        base.file_submission(ASSIGNMENT, student_id, text)
    print(f"batch: {len(notebooks)} submissions of {ASSIGNMENT}")

    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    env.pop("PYTHONPATH", None)
    walls: dict[str, float] = {}
    found: dict[str, dict[str, float | None]] = {}

    if not args.skip_plain:
        plain = folder / "plain"
        shutil.copytree(base.root, plain)
        (plain / "nbgrader_config.py").write_text(PLAIN_CONFIG.format(
            root=str(plain), course_id=course.config.course_id, db_url=f"sqlite:///{plain / 'gradebook.db'}",
            timeout=course.config.cell_timeout), encoding="utf-8")
        startup = plain / ".ipython" / "profile_default" / "startup"
        startup.mkdir(parents=True)
        (startup / "00-capture.py").write_text(CAPTURE_ONLY, encoding="utf-8")
        plain_env = dict(env, IPYTHONDIR=str(plain / ".ipython"), **{COURSE_DIR_ENV: str(plain)})
        print("plain nbgrader autograde (serial) …", flush=True)
        walls["plain"] = run(["nbgrader", "autograde", ASSIGNMENT], plain, plain_env, folder / "plain.log")
        found["plain"] = scores(plain, course.config.course_id, notebooks)
        print(f"  {walls['plain']:.0f} s", flush=True)

    for n in worker_counts:
        ours = folder / f"ours-{n}"
        shutil.copytree(base.root, ours)
        print(f"python -m autograder grade --workers {n} …", flush=True)
        walls[f"ours-{n}"] = run([sys.executable, "-m", "autograder", "grade", ASSIGNMENT, "--course-dir", str(ours),
                                  "--workers", str(n)], ROOT, env, folder / f"ours-{n}.log")
        found[f"ours-{n}"] = scores(ours, course.config.course_id, notebooks)
        print(f"  {walls[f'ours-{n}']:.0f} s", flush=True)

    print()
    print("student  " + "  ".join(f"{side:>8}" for side in found) + "  submission")
    for student_id, (what, _) in notebooks.items():
        print(f"{student_id}     " + "  ".join(f"{found[side][student_id]!s:>8}" for side in found) + f"  {what}")
    agree = all(len({found[side][s] for side in found}) == 1 and found[next(iter(found))][s] is not None
                for s in notebooks)
    print()
    print(json.dumps({"submissions": len(notebooks), "wall_seconds": {k: round(v, 1) for k, v in walls.items()},
                      "scores_agree": agree}))
    for side, seconds in walls.items():
        print(f"{side:>10}: {seconds:7.1f} s  ({len(notebooks) * 3600 / seconds:5.1f} submissions/hour)")
    if not agree:
        print("scores differ between the runs: see the table above", file=sys.stderr)
    if "plain" in walls:
        print(f"ratio {walls['plain'] / walls[f'ours-{worker_counts[-1]}']:.1f}x")
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
