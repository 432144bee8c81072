"""The package's layout says who runs what: checked on the import statements themselves."""
from __future__ import annotations

import ast
from pathlib import Path

from helpers import ROOT

PACKAGE = ROOT / "autograder"


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports (absolute names, ``from X import Y`` giving ``X`` and ``X.Y``)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def test_the_engine_imports_no_assignment():
    """Does nothing under autograder/grading/ import a check library or an assignment's checks?"""
    for path in (PACKAGE / "grading").rglob("*.py"):
        assert not any(name.startswith("autograder.checks") for name in _imports(path)), path


def test_the_checks_import_no_tools():
    """Do the checks and the assignments' examples (autograder/checks/) stay free of the instructor's tools, so that
    tools may import the checks and never the other way round?"""
    for path in (PACKAGE / "checks").rglob("*.py"):
        assert not any(name.startswith("autograder.tools") for name in _imports(path)), path


def test_the_course_model_needs_no_engine():
    """Does autograder/course/ stay free of TensorFlow, Dask, Flask and the grading engine?"""
    for path in (PACKAGE / "course").rglob("*.py"):
        for name in _imports(path):
            assert not name.startswith(("tensorflow", "keras", "dask", "distributed", "flask", "autograder.grading",
                                        "autograder.tools", "autograder.portal", "autograder.checks")), (path, name)


def test_only_the_graders_import_grade():
    """Is filing a submission or reading a result done without importing the grading orchestration (Dask, tqdm)?"""
    graders = {"prove.py", "demo.py", "author.py", "queue.py", "cli.py", "canary.py", "grade.py"}
    for path in PACKAGE.rglob("*.py"):
        if path.name not in graders:
            assert "autograder.grading.grade" not in _imports(path), path


def test_the_kernel_side_judges_nothing():
    """Does the code that runs in the student's kernel leave the verdicts to the grading process?"""
    for path in (PACKAGE / "grading" / "kernel").rglob("*.py"):
        assert "autograder.grading.verdicts" not in _imports(path), path


def test_every_assignment_is_one_folder_of_checks_and_examples():
    """Adding 課題6 is source/kadai6/, autograder/checks/kadai6/ and an AssignmentConfig: does every assignment of
    course_config have its checks folder with typical mistakes, valid variants and demo students, and nothing else?"""
    from autograder.course import load_course
    from autograder.tools.examples import assignments, demo_students, mistakes, variants

    course = load_course(PACKAGE.parent)
    assert assignments() == sorted(a.id for a in course.config.assignments)
    for assignment_id in assignments():
        assert course.source_notebook(assignment_id).is_file(), assignment_id
        assert len(mistakes(assignment_id)) >= 7 and variants(assignment_id), assignment_id
        students = demo_students(assignment_id)
        assert any(not s.mistakes and not s.broken for s in students), f"{assignment_id}: no correct demo student"
        assert any(s.mistakes for s in students), f"{assignment_id}: no demo student with a typical mistake"
    assert sum(len(variants(a)) for a in assignments()) >= 20


def test_the_portals_views_are_blueprint_functions_not_closures():
    """Is every view of the portal a module-level function of a blueprint (``@bp.get``/``@bp.post``), none defined
    inside another function (the 390-line ``create_app`` of closures it replaced, issue 21 item 8)?"""
    def routes(node) -> bool:
        return any(isinstance(d, ast.Call) and isinstance(d.func, ast.Attribute) and d.func.attr in ROUTE_DECORATORS
                   for d in node.decorator_list)

    found = 0
    for path in (PACKAGE / "portal").glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for outer in ast.walk(tree):
            if isinstance(outer, (ast.FunctionDef, ast.AsyncFunctionDef)):
                nested = [n for n in ast.walk(outer) if n is not outer and isinstance(n, ast.FunctionDef) and routes(n)]
                assert not nested, (path.name, outer.name, [n.name for n in nested])
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and routes(node):
                found += 1
                assert all(d.func.value.id == "bp" for d in node.decorator_list
                           if isinstance(d, ast.Call) and isinstance(d.func, ast.Attribute)
                           and d.func.attr in ROUTE_DECORATORS), (path.name, node.name)
    assert found >= 30  # every route of the portal (test_roles walks them by role)


ROUTE_DECORATORS = {"get", "post", "route", "put", "delete", "patch"}
