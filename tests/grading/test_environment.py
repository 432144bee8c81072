"""Grading from anywhere, and never a class of zeros from a broken grading environment.

The kernel must import exactly the toolkit the grading process runs: from a course folder that
carries its own copy of ``autograder/`` (run as the current folder or with ``--course-dir``) and
through a virtualenv reached by a symlink.  A grading environment that cannot work is refused by
the canary before anything is written, and a breakage the canary could not see (it passed, then
the kernels broke) makes each submission an ``error``, never ``graded`` with 0.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import ROOT, copy_course

from autograder.course import load_course
from autograder.course.results import Status, load_status, saved_result
from autograder.grading import canary
from autograder.grading.grade import grade
from autograder.grading.worker import ENVIRONMENT_PROBLEM
from autograder.tools.examples import filled_in

# one worker grades the module's batch once: make test distributes whole files (pytest-xdist --dist loadfile)
pytestmark = pytest.mark.slow

AID = "kadai5"
AUTOMATIC_POINTS = 20


def _copy_course(folder: Path) -> Path:
    """A course folder of its own, as an instructor keeps one per year: settings, kadai5, and a copy of the toolkit."""
    folder.mkdir(parents=True)
    for name in ("course_config.py", "nbgrader_config.py"):
        shutil.copy(ROOT / name, folder / name)
    for part in (f"source/{AID}", f"release/{AID}", "autograder"):
        shutil.copytree(ROOT / part, folder / part, ignore=shutil.ignore_patterns("__pycache__"))
    return folder


def _run(python: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run([python, "-m", "autograder", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=1200, check=False)


@pytest.fixture(scope="session")  # one batch per worker, kept even if other modules run in between
def elsewhere(tmp_path_factory):
    """kadai5 graded from a copied course folder as the current folder, with the venv's Python through a symlink,
    then again with ``--course-dir`` from another folder."""
    tmp = tmp_path_factory.mktemp("elsewhere")
    course_dir = _copy_course(tmp / "course-2027")
    venv_link = tmp / "venv-link"
    venv_link.symlink_to(Path(sys.prefix), target_is_directory=True)
    linked_python = str(venv_link / "bin" / Path(sys.executable).name)
    released = _run(linked_python, "release", AID, "--skip-proof", cwd=course_dir)
    assert released.returncode == 0, released.stdout + released.stderr
    course = load_course(course_dir)
    solution = filled_in(course.source_notebook(AID), course.release_notebook(AID))
    import nbformat

    course.file_submission(AID, "solution", nbformat.writes(solution))
    course.file_submission(AID, "untouched", course.release_notebook(AID).read_text(encoding="utf-8"))
    as_cwd = _run(linked_python, "grade", AID, "--workers", "2", cwd=course_dir)
    first = {s: saved_result(course.assignment(AID), s) for s in ("solution", "untouched")}
    other = tmp / "somewhere-else"
    other.mkdir()
    with_option = _run(sys.executable, "--course-dir", str(course_dir), "grade", AID, "--force", "--workers", "2",
                       cwd=other)
    second = {s: saved_result(course.assignment(AID), s) for s in ("solution", "untouched")}
    return {"as_cwd": as_cwd, "first": first, "with_option": with_option, "second": second}


def test_copied_course_as_current_folder_through_a_symlinked_venv(elsewhere):
    """Run from a copied course folder with the venv reached through a symlink: does the solution earn full marks?"""
    assert elsewhere["as_cwd"].returncode == 0, elsewhere["as_cwd"].stderr
    solution, untouched = elsewhere["first"]["solution"], elsewhere["first"]["untouched"]
    assert solution.status == Status.GRADED, solution.message
    assert solution.lost() == [] and solution.score == AUTOMATIC_POINTS, solution.message
    assert untouched.status == Status.GRADED and untouched.score == 0


def test_copied_course_with_course_dir_from_another_folder(elsewhere):
    """The same course graded with --course-dir from another folder: the same grades?"""
    assert elsewhere["with_option"].returncode == 0, elsewhere["with_option"].stderr
    for student in ("solution", "untouched"):
        again, before = elsewhere["second"][student], elsewhere["first"][student]
        assert (again.status, again.score, again.lost()) == (before.status, before.score, before.lost())


@pytest.fixture
def kadai5_course(released_course, tmp_path):
    course = copy_course(released_course(AID), tmp_path / "course")
    notebook = filled_in(course.source_notebook(AID), course.release_notebook(AID))
    import nbformat

    for student in ("s1", "s2"):
        course.file_submission(AID, student, nbformat.writes(notebook))
    return course


def test_canary_refuses_a_broken_grading_kernel(kadai5_course, monkeypatch):
    """A kernel whose start-up cannot import the toolkit's checks: is the batch refused, loudly, with nothing written?"""
    monkeypatch.setenv("KERAS_BACKEND", "no-such-backend")  # `import keras` fails in every grading kernel
    monkeypatch.setattr(canary, "_passed", set())
    with pytest.raises(canary.GradingEnvironmentError) as refused:
        grade(kadai5_course, AID, ["s1", "s2"])
    text = str(refused.value)
    assert "カナリア" in text and "canary" in text and "nothing was graded or recorded" in text
    assert "no-such-backend" in text  # the cause, named
    for student in ("s1", "s2"):
        assert load_status(kadai5_course.autograded_dir(AID, student)) is None


def test_cli_exits_3_with_the_refusal(kadai5_course):
    """The command line: exit status 3 and the bilingual refusal on stderr, nothing written."""
    env = dict(os.environ, KERAS_BACKEND="no-such-backend")
    done = subprocess.run([sys.executable, "-m", "autograder", "--course-dir", str(kadai5_course.root), "grade", AID],
                          env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 3, done.stdout + done.stderr
    assert "採点環境の点検" in done.stderr and "grading environment failed its check" in done.stderr
    assert load_status(kadai5_course.autograded_dir(AID, "s1")) is None


def test_breakage_after_the_canary_is_an_error_not_a_zero(kadai5_course, monkeypatch):
    """The canary passed, then the kernels broke: is every submission `error` with the cause, none `graded` 0?"""
    monkeypatch.setattr(canary, "check", lambda *args, **kwargs: None)  # as if it had passed before the breakage
    monkeypatch.setenv("KERAS_BACKEND", "no-such-backend")
    results = grade(kadai5_course, AID, ["s1", "s2"])
    for result in results:
        assert result.status == Status.ERROR, (result.status, result.message)
        assert ENVIRONMENT_PROBLEM in result.message and "no-such-backend" in result.message
        assert load_status(kadai5_course.autograded_dir(AID, result.student_id))["status"] == Status.ERROR
