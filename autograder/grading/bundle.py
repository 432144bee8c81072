"""What a grading task carries to a worker that shares no files with the instructor's machine.

A bundle is the assignment's source folder and the course's ``course_config.py``,
as bytes: enough for the worker to let nbgrader generate the assignment in a
scratch course (with its own SQLite gradebook) and autograde one submission there.
The gradebook, other assignments and other students' work never travel.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from autograder.course import Course


@dataclass(frozen=True)
class GradingBundle:
    """The files a worker needs to grade submissions of one assignment."""

    assignment_id: str
    files: dict[str, bytes]
    """Path inside the course folder (``course_config.py``, ``source/<id>/…``) → content."""

    digest: str
    """SHA-256 over every path and content: two bundles with the same digest grade alike."""

    def write(self, folder: Path) -> None:
        """Lay the files out under ``folder`` as a course folder."""
        for relative, content in self.files.items():
            path = folder / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)


def digest_of(files: dict[str, bytes]) -> str:
    """SHA-256 over every path and content (the ``GradingBundle.digest`` of ``files``)."""
    h = hashlib.sha256()
    for relative in sorted(files):
        h.update(relative.encode() + b"\0" + hashlib.sha256(files[relative]).digest())
    return h.hexdigest()


def make_bundle(course: Course, assignment_id: str) -> GradingBundle:
    """The bundle for ``assignment_id`` of ``course``."""
    files = {"course_config.py": (course.root / "course_config.py").read_bytes()}
    source = course.root / "source" / assignment_id
    for path in sorted(source.rglob("*")):
        if path.is_file() and ".ipynb_checkpoints" not in path.parts and "__pycache__" not in path.parts:
            files[path.relative_to(course.root).as_posix()] = path.read_bytes()
    return GradingBundle(assignment_id, files, digest_of(files))


def fingerprint(bundle: GradingBundle, notebook: bytes, timestamp: str | None) -> str:
    """What a grade depends on: the bundle, the submitted notebook and its submission time."""
    h = hashlib.sha256(bundle.digest.encode())
    h.update(hashlib.sha256(notebook).digest())
    h.update((timestamp or "").encode())
    return h.hexdigest()
