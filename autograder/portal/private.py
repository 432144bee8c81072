"""The portal's private folder, ``portal/`` in the course: session key, database, issued passwords, uploads.

The folder is made mode 700 before anything goes into it, and each secret file is created mode 600 from
its first byte (never written first and chmodded after).  Graded code never reads it: the sandbox does
not mount the course folder at all, and without the sandbox (``serve --unsafe-no-sandbox``) the jail
covers this folder with an empty one before the kernel starts (``autograder.grading.sandbox.HIDE_ENV``).
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path

from autograder.course import Course

FOLDER = "portal"
LEGACY = {".portal-secret": "secret-key", "portal.db": "portal.db", "credentials.csv": "credentials.csv"}
"""Where earlier versions kept these files (the course folder itself, readable by other users) → their name here."""


def folder(course: Course) -> Path:
    """``portal/`` of ``course``, mode 700, made if needed; files an earlier version left in the course folder move in."""
    path = course.root / FOLDER
    path.mkdir(mode=0o700, exist_ok=True)
    path.chmod(0o700)
    for old, new in LEGACY.items():
        if (course.root / old).is_file() and not (path / new).exists():
            os.replace(course.root / old, path / new)
            (path / new).chmod(0o600)
    return path


def create_file(path: Path, data: bytes = b"") -> None:
    """Write a new file readable by its owner only, from its first byte; its folder is made mode 700."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as f:
        f.write(data)


def secret_key(course: Course) -> str:
    """The key that signs session cookies, kept (so that restarts keep sessions) in the private folder."""
    path = folder(course) / "secret-key"
    if not path.is_file():
        create_file(path, secrets.token_hex(32).encode())
    return path.read_text(encoding="utf-8").strip()


def database_url(course: Course) -> str:
    """The portal's database: ``portal_db_url``, else SQLite in the private folder (the file made mode 600 first)."""
    if course.config.portal_db_url:
        return course.config.portal_db_url
    path = folder(course) / "portal.db"
    if not path.exists():
        create_file(path)  # an empty file is a new SQLite database: SQLAlchemy keeps its mode
    return f"sqlite:///{path.resolve()}"


def credentials_path(course: Course) -> Path:
    """Where ``accounts`` writes the issued passwords unless told otherwise."""
    return folder(course) / "credentials.csv"
