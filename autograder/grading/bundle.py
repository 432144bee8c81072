"""What a grading task carries to a worker that shares no files with the instructor's machine.

A bundle is the assignment's source folder and the course's ``course_config.py``,
as bytes: enough for the worker to let nbgrader generate the assignment in a
scratch course (with its own SQLite gradebook) and autograde one submission there.
The gradebook, other assignments and other students' work never travel.

Its digest also covers the check files the assignment's grades depend on (the check
modules its test cells call, its folder of checks, the shared check library), so that
changing a check regrades its submissions and makes a new proof; those files do not
travel, since a worker judges with the checks of the toolkit installed there.
"""
from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass, field
from pathlib import Path

import autograder

from autograder.course import Assignment
from autograder.grading.verdicts import check_modules


@dataclass(frozen=True)
class GradingBundle:
    """The files a worker needs to grade submissions of one assignment."""

    assignment_id: str
    files: dict[str, bytes]
    """Path inside the course folder (``course_config.py``, ``source/<id>/…``) → content."""

    digest: str
    """SHA-256 over every path and content, the check files' included: two bundles with the same digest grade alike."""

    checks: dict[str, str] = field(default_factory=dict)
    """The check files the grades depend on (path inside the toolkit → SHA-256 of its content), counted in ``digest``
    but not carried (``check_files``)."""

    def write(self, folder: Path) -> None:
        """Lay the files out under ``folder`` as a course folder."""
        for relative, content in self.files.items():
            path = folder / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)


def digest_of(files: dict[str, bytes], checks: dict[str, str] | None = None) -> str:
    """SHA-256 over every path and content (the ``GradingBundle.digest`` of ``files`` and its ``checks``)."""
    h = hashlib.sha256()
    for relative in sorted(files):
        h.update(relative.encode() + b"\0" + hashlib.sha256(files[relative]).digest())
    for relative in sorted(checks or {}):
        h.update(b"check\0" + relative.encode() + b"\0" + bytes.fromhex(checks[relative]))
    return h.hexdigest()


TOOLKIT = Path(autograder.__file__).resolve().parent.parent
"""The folder holding the ``autograder`` package: check files are named relative to it."""

CHECKS = TOOLKIT / "autograder" / "checks"
"""The check library (its ``*.py``) and one folder of checks per assignment (``checks/<id>/``)."""


EXAMPLES = "examples.py"
"""An assignment's example submissions (``autograder.tools.examples``), beside its checks."""


def _python_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*.py") if "__pycache__" not in p.parts]


def _module_files(module: str) -> list[Path]:
    """The files of ``module``: its own file, or every Python file of a package; none if it cannot be found.

    A check module that cannot be found adds nothing here: judging its checks reports the toolkit's error.
    """
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):  # a parent package missing or broken: judging reports it, as above
        return []
    if spec is None:
        return []
    if spec.submodule_search_locations:
        return [p for folder in spec.submodule_search_locations for p in _python_files(Path(folder))]
    return [Path(spec.origin)] if spec.origin and Path(spec.origin).is_file() else []


def check_files(assignment: Assignment) -> dict[str, str]:
    """The check files grades of ``assignment`` depend on: path (inside the toolkit when it is there) → SHA-256.

    The modules the source notebook's test cells call (``verdicts.check_modules``), the assignment's folder
    ``autograder/checks/<id>/`` if it has one, and the shared check library ``autograder/checks/*.py`` (which
    test cells written as plain Python may use without naming a module the engine can see).  The folder's
    ``examples.py`` (the author's example submissions) grades nothing and is left out.
    """
    assignment_id = assignment.id
    paths = set(CHECKS.glob("*.py"))
    if (CHECKS / assignment_id).is_dir():
        paths |= set(_python_files(CHECKS / assignment_id))
    for module in check_modules(assignment.source):
        paths |= set(_module_files(module))
    named = {}
    for path in {p.resolve() for p in paths}:
        if path.name == EXAMPLES and path.parent.name == assignment_id:
            continue
        name = path.relative_to(TOOLKIT).as_posix() if path.is_relative_to(TOOLKIT) else str(path)
        named[name] = hashlib.sha256(path.read_bytes()).hexdigest()
    return named


def make_bundle(assignment: Assignment) -> GradingBundle:
    """The bundle for ``assignment``: its course's config, its source folder and the checks it calls."""
    root = assignment.course.root
    files = {"course_config.py": (root / "course_config.py").read_bytes()}
    for path in sorted(assignment.source_dir.rglob("*")):
        if path.is_file() and ".ipynb_checkpoints" not in path.parts and "__pycache__" not in path.parts:
            files[path.relative_to(root).as_posix()] = path.read_bytes()
    checks = check_files(assignment)
    return GradingBundle(assignment.id, files, digest_of(files, checks), checks)


def fingerprint(bundle: GradingBundle, notebook: bytes, timestamp: str | None) -> str:
    """What a grade depends on: the bundle, the submitted notebook and its submission time."""
    h = hashlib.sha256(bundle.digest.encode())
    h.update(hashlib.sha256(notebook).digest())
    h.update((timestamp or "").encode())
    return h.hexdigest()
