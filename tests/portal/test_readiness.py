"""serve's start: every assignment the portal offers is in nbgrader's gradebook, or the portal does not start."""
from __future__ import annotations

import shutil

import nbformat
import pytest
from helpers import ROOT

from autograder import cli
from autograder.course import load_course
from autograder.errors import AutograderError
from autograder.portal import readiness

AID = "kadai5"


@pytest.fixture
def fresh_clone(tmp_path):
    """A course as a fresh clone has it: kadai5's source and committed release, no gradebook."""
    root = tmp_path / "course"
    shutil.copytree(ROOT / "source" / AID, root / "source" / AID)
    shutil.copytree(ROOT / "release" / AID, root / "release" / AID)
    shutil.copy(ROOT / "course_config.py", root / "course_config.py")
    return load_course(root)


class _Stop(AutograderError):
    """Raised where serve would check the grading environment: what came before it is what these tests look at."""

    exit_code = 99


def _serve(course, monkeypatch, capsys) -> tuple[int, str, str]:
    """``python -m autograder serve`` on ``course`` up to its canary (isolation taken as given); (code, out, err)."""
    from autograder.grading import canary
    from autograder.portal import isolation

    monkeypatch.setattr(isolation, "require", lambda course, **kwargs: True)
    monkeypatch.setattr(canary, "check", lambda course: (_ for _ in ()).throw(_Stop("canary")))
    code = cli.main(["serve", "--course-dir", str(course.root), "--port", "0"])  # any free port: the web starts first
    out, err = capsys.readouterr()
    return code, out, err


def test_serve_releases_an_offered_assignment_the_gradebook_lacks(fresh_clone, monkeypatch, capsys):
    """On a fresh clone (release committed, gradebook empty), does serve put kadai5 into the gradebook before it goes
    on, as `release kadai5 --skip-proof` would, leaving the committed release notebook as it was, and say so?"""
    committed = fresh_clone.release_notebook(AID).read_bytes()
    assert [a.id for a in readiness.offered(fresh_clone)] == [AID] and readiness.in_gradebook(fresh_clone) == set()
    code, out, _ = _serve(fresh_clone, monkeypatch, capsys)
    assert code == _Stop.exit_code  # it went on to the canary
    assert readiness.in_gradebook(fresh_clone) == {AID}
    with fresh_clone.gradebook() as gb:  # what grading needs: nbgrader's notebook and its graded cells
        (notebook,) = gb.find_assignment(AID).notebooks
        assert len(notebook.grade_cells) >= 8
    assert fresh_clone.release_notebook(AID).read_bytes() == committed
    assert f"released {AID} into the gradebook" in out and "成績簿に入れました" in out
    assert readiness.ensure_gradable(fresh_clone, say=pytest.fail) == []  # the next start has nothing to do


def test_serve_refuses_when_the_release_is_out_of_sync(fresh_clone, monkeypatch, capsys):
    """If the committed release differs from what source/ generates, does serve refuse (exit 2) with a bilingual
    message naming the command, and release nothing (the release notebook and the gradebook untouched)?"""
    path = fresh_clone.release_notebook(AID)
    notebook = nbformat.read(path, as_version=4)
    notebook.cells[0].source += "\n\n（あとから書き足した説明）"
    nbformat.write(notebook, path)
    edited = path.read_bytes()
    code, out, err = _serve(fresh_clone, monkeypatch, capsys)
    assert code == 2
    assert f"python -m autograder release {AID}" in err and "起動しません" in err and "does not start" in err
    assert "canary" not in out + err and readiness.in_gradebook(fresh_clone) == set()
    assert path.read_bytes() == edited
