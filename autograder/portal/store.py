"""Accounts and uploads of the portal, in an SQLAlchemy database (``portal.db`` in the course folder by default)."""
from __future__ import annotations

import csv
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    select,
    update,
)

STUDENT, INSTRUCTOR = "student", "instructor"


class UploadState(StrEnum):
    """Where an upload is in the portal's line (the grading outcome itself is a ``results.Status``)."""

    QUEUED = "queued"
    """Stored and waiting to be graded."""

    GRADING = "grading"
    """Being graded now (a server that stops meanwhile queues it again when it starts)."""

    DONE = "graded"
    """Grading finished, whatever its status (the stored value is kept for existing portal databases)."""

    FAILED = "error"
    """The grading machinery failed for this upload (the message says why)."""


STATE_LABELS = {UploadState.QUEUED: "採点待ち", UploadState.GRADING: "採点中", UploadState.DONE: "採点済み",
                UploadState.FAILED: "採点できませんでした"}
"""Each state as a student reads it."""

metadata = MetaData()
users = Table(
    "users", metadata,
    Column("user_id", String(64), primary_key=True),
    Column("name", String(200), nullable=False, default=""),
    Column("password_hash", String(200), nullable=False),
    Column("role", String(16), nullable=False),
)
uploads = Table(
    "uploads", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("student_id", String(64), nullable=False, index=True),
    Column("assignment_id", String(64), nullable=False),
    Column("received_utc", DateTime, nullable=False),
    Column("path", Text, nullable=False),
    Column("state", String(16), nullable=False, default=UploadState.QUEUED),
    Column("force", Boolean, nullable=False, default=False),
    Column("status", String(16)),
    Column("score", Float),
    Column("max_score", Float),
    Column("message", Text),
)

_hasher = PasswordHasher()  # Argon2id with argon2-cffi's recommended parameters


@dataclass(frozen=True)
class User:
    user_id: str
    name: str
    role: str


def default_url(course_root: Path) -> str:
    return f"sqlite:///{(course_root / 'portal.db').resolve()}"


class Store:
    """The portal's database."""

    def __init__(self, url: str):
        self.engine = create_engine(url)
        metadata.create_all(self.engine)

    # ---- accounts
    def set_user(self, user_id: str, name: str, password: str, role: str = STUDENT) -> None:
        """Create or replace the account ``user_id`` (the password is stored only as an Argon2id hash)."""
        row = {"user_id": user_id, "name": name, "password_hash": _hasher.hash(password), "role": role}
        with self.engine.begin() as db:
            db.execute(users.delete().where(users.c.user_id == user_id))
            db.execute(users.insert().values(**row))

    def authenticate(self, user_id: str, password: str) -> User | None:
        """The user if ``password`` is theirs, else None (an unknown id costs the same hashing time)."""
        with self.engine.connect() as db:
            row = db.execute(select(users).where(users.c.user_id == user_id)).mappings().first()
        stored = row["password_hash"] if row else _DUMMY
        try:
            _hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return None
        return User(row["user_id"], row["name"], row["role"]) if row else None

    def user(self, user_id: str) -> User | None:
        with self.engine.connect() as db:
            row = db.execute(select(users).where(users.c.user_id == user_id)).mappings().first()
        return User(row["user_id"], row["name"], row["role"]) if row else None

    def students(self) -> list[User]:
        with self.engine.connect() as db:
            rows = db.execute(select(users).where(users.c.role == STUDENT).order_by(users.c.user_id)).mappings()
            return [User(r["user_id"], r["name"], r["role"]) for r in rows]

    # ---- uploads
    def add_upload(self, student_id: str, assignment_id: str, received: datetime, path: Path) -> int:
        with self.engine.begin() as db:
            return db.execute(uploads.insert().values(
                student_id=student_id, assignment_id=assignment_id, path=str(path), state=UploadState.QUEUED, force=False,
                received_utc=received.astimezone(UTC).replace(tzinfo=None))).inserted_primary_key[0]

    def next_queued(self) -> dict | None:
        with self.engine.connect() as db:
            row = db.execute(select(uploads).where(uploads.c.state == UploadState.QUEUED).order_by(uploads.c.id)).mappings().first()
        return dict(row) if row else None

    def mark(self, upload_id: int, **fields) -> None:
        with self.engine.begin() as db:
            db.execute(update(uploads).where(uploads.c.id == upload_id).values(**fields))

    def requeue_interrupted(self) -> int:
        """Uploads left ``grading`` by a server that stopped: queued again. Returns how many."""
        with self.engine.begin() as db:
            return db.execute(update(uploads).where(uploads.c.state == UploadState.GRADING).values(state=UploadState.QUEUED)).rowcount

    def uploads_of(self, student_id: str, assignment_id: str | None = None) -> list[dict]:
        """A student's uploads, newest first."""
        query = select(uploads).where(uploads.c.student_id == student_id)
        if assignment_id:
            query = query.where(uploads.c.assignment_id == assignment_id)
        with self.engine.connect() as db:
            return [dict(r) for r in db.execute(query.order_by(uploads.c.id.desc())).mappings()]

    def latest(self, student_id: str, assignment_id: str) -> dict | None:
        rows = self.uploads_of(student_id, assignment_id)
        return rows[0] if rows else None


_DUMMY = _hasher.hash(secrets.token_hex(16))


def import_roster(store: Store, roster: Path, instructor: str = "instructor") -> list[tuple[str, str, str, str]]:
    """Create an account for every student of ``roster`` (columns ``student_id``, ``name``) and for the instructor.

    Returns ``(user_id, name, role, password)`` rows: the only place the new passwords appear,
    for the instructor to hand out.
    """
    from autograder.tools.intake import read_roster

    issued = []
    for student_id, name in sorted(read_roster(roster).items()):
        password = secrets.token_urlsafe(9)
        store.set_user(student_id, name, password, STUDENT)
        issued.append((student_id, name, STUDENT, password))
    if instructor:
        password = secrets.token_urlsafe(12)
        store.set_user(instructor, "担当教員", password, INSTRUCTOR)
        issued.append((instructor, "担当教員", INSTRUCTOR, password))
    return issued


def write_credentials(rows: list[tuple[str, str, str, str]], out: Path) -> None:
    with out.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["user_id", "name", "role", "password"])
        writer.writerows(rows)
    out.chmod(0o600)
