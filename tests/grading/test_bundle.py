"""The grading bundle's digest: what a grade depends on, so that grading again skips only what would grade alike."""
from __future__ import annotations

import shutil

import nbformat
from helpers import notebook, test_cell

from autograder.grading import bundle
from autograder.grading.bundle import fingerprint, make_bundle
from autograder.tools.prove import scratch_course


def _with_checks_copy(monkeypatch, tmp_path):
    """A copy of the check library and of kadai5's folder of checks that ``make_bundle`` reads instead of the toolkit's."""
    checks = tmp_path / "toolkit" / "autograder" / "checks"
    checks.mkdir(parents=True)
    for path in bundle.CHECKS.glob("*.py"):
        shutil.copyfile(path, checks / path.name)
    shutil.copytree(bundle.CHECKS / "kadai5", checks / "kadai5", ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(bundle, "CHECKS", checks)
    monkeypatch.setattr(bundle, "TOOLKIT", tmp_path / "toolkit")
    return checks


def test_changing_a_check_changes_the_digest(course, tmp_path, monkeypatch):
    """Does editing the assignment's checks, the shared check library or a module a test cell calls change the digest
    (so grading again regrades), while the author's examples.py and the files that travel stay out of it?"""
    checks = _with_checks_copy(monkeypatch, tmp_path)
    scratch = scratch_course(course.assignment("kadai5"), tmp_path / "course")
    first = make_bundle(scratch.assignment("kadai5"))
    assert make_bundle(scratch.assignment("kadai5")).digest == first.digest  # nothing changed, nothing to regrade
    assert {"autograder/checks/structure.py", "autograder/checks/kadai5/__init__.py"} <= set(first.checks)
    assert not any(name.endswith("examples.py") for name in first.checks)
    assert sorted(first.files) == ["course_config.py", "source/kadai5/kadai5.ipynb"]  # checks do not travel

    digests = {first.digest}
    with open(checks / "kadai5" / "examples.py", "a", encoding="utf-8") as f:
        f.write("\n# another typical mistake\n")
    assert make_bundle(scratch.assignment("kadai5")).digest == first.digest
    for edited in (checks / "kadai5" / "__init__.py", checks / "structure.py", scratch.root / "course_config.py"):
        with open(edited, "a", encoding="utf-8") as f:
            f.write("\n# a threshold changed\n")
        digests.add(make_bundle(scratch.assignment("kadai5")).digest)
    assert len(digests) == 4
    made = make_bundle(scratch.assignment("kadai5"))
    assert fingerprint(made, b"{}", None) != fingerprint(first, b"{}", None)


def test_a_check_module_outside_the_library_counts(course, tmp_path, monkeypatch):
    """Is a check module of the course's own, called by a test cell, part of the digest?"""
    _with_checks_copy(monkeypatch, tmp_path)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "__init__.py").write_text("", encoding="utf-8")
    (tmp_path / "mine" / "kadai9.py").write_text("def check_x(ns):\n    pass\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    scratch = scratch_course(course.assignment("kadai5"), tmp_path / "course")
    source = notebook(test_cell("q1", "### BEGIN HIDDEN TESTS\nfrom mine import kadai9 as _k\n_k.check_x(globals())\n"
                                      "### END HIDDEN TESTS\n"))
    nbformat.write(source, scratch.source_notebook("kadai5"))
    before = make_bundle(scratch.assignment("kadai5"))
    assert any(name.endswith("mine/kadai9.py") for name in before.checks), before.checks
    (tmp_path / "mine" / "kadai9.py").write_text("def check_x(ns):\n    raise ValueError\n", encoding="utf-8")
    assert make_bundle(scratch.assignment("kadai5")).digest != before.digest
