"""Accounts, sessions, failed sign-ins, upload attempts, uploads, regrade requests, anonymous grading and the log of
grade changes of the portal, in an SQLAlchemy database (``portal.db`` in the course folder by default).

The grades themselves are never here: nbgrader's gradebook is their one home.  ``grade_changes`` is a journal of
who changed a published grade, when, from what to what: the store only ever inserts into it (on SQLite, triggers
refuse an UPDATE or DELETE of it as well)."""
from __future__ import annotations

import csv
import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
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
    UniqueConstraint,
    create_engine,
    exists,
    false,
    func,
    inspect,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.schema import CreateColumn

STUDENT, INSTRUCTOR, GRADER = "student", "instructor", "grader"
"""The portal's roles.  A grader (a teaching assistant, ``accounts --grader ID``) grades the written answers as
drafts and sees the class page; settings, publishing, answering regrade requests, automatic regrades, the class
report and the grades CSV stay the instructor's."""


class UploadState(StrEnum):
    """Where an upload is in the portal's line (the grading outcome itself is a ``results.Status``)."""

    QUEUED = "queued"
    """Stored and waiting to be graded."""

    GRADING = "grading"
    """Being graded now (a server that stops meanwhile queues it again when it starts)."""

    DONE = "graded"
    """Grading finished, whatever its status (the stored value is kept for existing portal databases)."""

    FAILED = "error"
    """The grading machinery failed for this upload (the message says why, to the instructor)."""

    SUPERSEDED = "superseded"
    """Still queued when the same student uploaded the same assignment again: never graded (the latest
    counts), and the newer upload took its place in line."""


metadata = MetaData()
users = Table(
    "users", metadata,
    Column("user_id", String(64), primary_key=True),
    Column("name", String(200), nullable=False, default=""),
    Column("password_hash", String(200), nullable=False),
    Column("role", String(16), nullable=False),
)
sessions = Table(
    "sessions", metadata,
    Column("id_hash", String(64), primary_key=True),  # sha256 of the cookie's session id: a copy of the database opens nothing
    Column("user_id", String(64), nullable=False, index=True),
    Column("created", DateTime, nullable=False),
    Column("last_seen", DateTime, nullable=False),
    Column("expires", DateTime, nullable=False),
)
signin_failures = Table(
    "signin_failures", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account", String(64), nullable=False, index=True),  # as typed: an unknown account counts like a real one
    Column("address", String(64), nullable=False, index=True),
    Column("at_utc", DateTime, nullable=False, index=True),
)
known_addresses = Table(
    "known_addresses", metadata,  # where each account has signed in: see throttle.py for what that spares
    Column("user_id", String(64), primary_key=True),
    Column("address", String(64), primary_key=True),
    Column("last_success_utc", DateTime, nullable=False),
)
upload_attempts = Table(
    "upload_attempts", metadata,  # every upload past the rate check, stored or refused: what the rate limit counts
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("student_id", String(64), nullable=False),
    Column("assignment_id", String(64), nullable=False),
    Column("at_utc", DateTime, nullable=False, index=True),
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
    Column("message", Text),  # what happened, for the instructor (Japanese / English); never shown to the student
    # Added after the first portal databases were made: ``Store`` adds them to an existing table.
    Column("place", Integer),  # the place in line, see Store.add_upload; NULL only before the migration fills it
    Column("pruned", Boolean, nullable=False, default=False, server_default=false()),  # file deleted, row kept
    Column("started_utc", DateTime),  # when the queue sent it to grading (the estimate of the wait reads it)
    Column("seconds", Float),  # from sending it to grading to its feedback written
    Column("notice", Text),  # what the student reads of it (Japanese, see course/messages.py upload_notice), or NULL
    # the instructor chose this upload as the one that counts (Store.choose); a newer upload ends the choice
    Column("chosen", Boolean, nullable=False, default=False, server_default=false()),
)
regrade_requests = Table(
    "regrade_requests", metadata,  # a student's request to look again at one published written answer
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("student_id", String(64), nullable=False, index=True),
    Column("assignment_id", String(64), nullable=False),
    Column("grade_id", String(200), nullable=False),
    Column("reason", Text, nullable=False),
    Column("created_utc", DateTime, nullable=False),
    Column("status", String(16), nullable=False),  # RequestStatus
    Column("reply", Text),
    Column("changed", Boolean),  # NULL while open
    Column("answered_utc", DateTime),
    Column("answered_by", String(64)),
    Column("reopened", Boolean, nullable=False, default=False),  # the instructor lets the student ask once more
)
regrade_windows = Table(
    "regrade_windows", metadata,  # the instructor's closing date of regrade requests, per assignment
    Column("assignment_id", String(64), primary_key=True),
    Column("closes_utc", DateTime, nullable=False),
)
grade_changes = Table(
    "grade_changes", metadata,  # append-only: every change of a published manual grade
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at_utc", DateTime, nullable=False),
    Column("by_user", String(200), nullable=False),
    Column("assignment_id", String(64), nullable=False),
    Column("grade_id", String(200), nullable=False),
    Column("student_id", String(64), nullable=False),
    Column("before_points", Float),  # NULL: nothing published before
    Column("after_points", Float),  # NULL: made ungraded
    Column("before_comment", Text),
    Column("after_comment", Text),
    Column("request_id", Integer),  # the regrade request it answers, if any
    # Added after the first journals were made (``Store`` adds them): what changed and the instructor's reason
    Column("kind", String(16)),  # ChangeKind; NULL in rows written before: a published written answer
    Column("reason", Text),  # an override's or extra credit's reason, as the student's page shows it
)
anonymous_grading = Table(
    "anonymous_grading", metadata,  # assignments whose written answers are graded without names (anonymity.py)
    Column("assignment_id", String(64), primary_key=True),
    Column("since_utc", DateTime, nullable=False),
    Column("by_user", String(200), nullable=False),
)
anonymous_labels = Table(
    "anonymous_labels", metadata,  # 「解答 N」: each student's stable number in one assignment's anonymous grading
    Column("assignment_id", String(64), primary_key=True),
    Column("student_id", String(64), primary_key=True),
    Column("number", Integer, nullable=False),
    UniqueConstraint("assignment_id", "number"),
)



class RequestStatus(StrEnum):
    """Where a regrade request is."""

    OPEN = "open"
    """Waiting for the instructor."""

    ANSWERED = "answered"
    """The instructor replied (with or without changing the grade)."""


@dataclass(frozen=True)
class RegradeRequest:
    """A student's request to look again at one published written answer, and the instructor's answer."""

    id: int
    student_id: str
    assignment_id: str
    grade_id: str
    reason: str
    """The student's words (shown escaped: it is untrusted text)."""

    created: datetime
    status: RequestStatus
    reply: str | None
    changed: bool | None
    """Whether answering changed the published grade (None while open)."""

    answered: datetime | None
    answered_by: str | None
    reopened: bool
    """The instructor let the student ask again about this question."""


@dataclass(frozen=True)
class GradeChange:
    """One change of a published manual grade, as the journal keeps it."""

    at: datetime
    by: str
    """The account (or ``command line (user)``) that published it."""

    assignment_id: str
    grade_id: str
    student_id: str
    before_points: float | None
    after_points: float | None
    before_comment: str | None
    after_comment: str | None
    request_id: int | None
    """The regrade request whose answer made the change, if any."""

    kind: str = "manual"
    """What changed (``ChangeKind``): a published written answer, an automatic cell's override, an extra credit."""

    reason: str | None = None
    """The instructor's reason (an override's or extra credit's), which the student's feedback page shows."""


class ChangeKind(StrEnum):
    """What one row of the journal of grade changes changed."""

    MANUAL = "manual"
    """A written answer's published grade (points and comment)."""

    OVERRIDE = "override"
    """An automatic cell's score set by the instructor (nbgrader's ``Grade.manual_score``); None: the automatic
    score again."""

    EXTRA_CREDIT = "extra_credit"
    """Points given beyond a cell's score (nbgrader's ``Grade.extra_credit``)."""


_hasher = PasswordHasher()  # Argon2id with argon2-cffi's recommended parameters


@dataclass(frozen=True)
class User:
    user_id: str
    name: str
    role: str


@dataclass(frozen=True)
class PortalSession:
    """A signed-in browser as the server keeps it; the browser's cookie holds only the session's random id."""

    user_id: str
    """Whose session it is."""

    created: datetime
    """When the user signed in (UTC)."""

    last_seen: datetime
    """The latest request made with it, to the minute (UTC)."""

    expires: datetime
    """When it stops opening anything: ``created`` plus ``portal_session_minutes`` (UTC)."""


EXPIRED_SESSIONS_KEPT = timedelta(days=1)
"""How long an expired session's row is kept: a user coming back meanwhile reads that time ran out,
not that the session was revoked."""

KEY_LENGTH = 64
"""Longest account name and address the sign-in counters keep (longer ones are cut: no account is that long)."""


def _stored(moment: datetime) -> datetime:
    """``moment`` as the database keeps times: naive UTC."""
    return moment.astimezone(UTC).replace(tzinfo=None)


def _read(value: datetime) -> datetime:
    """A time from the database, as an aware UTC datetime."""
    return value.replace(tzinfo=UTC)


def _digest(token: str) -> str:
    """What the database keeps of a session id (sha256, hex): enough to find it, useless to present as a cookie."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class Store:
    """The portal's database."""

    def __init__(self, url: str):
        self.engine = create_engine(url)
        metadata.create_all(self.engine)
        _add_missing_columns(self.engine)
        _make_append_only(self.engine)

    # ---- accounts
    def set_user(self, user_id: str, name: str, password: str, role: str = STUDENT) -> None:
        """Create or replace the account ``user_id`` (the password is stored only as an Argon2id hash).

        Every session of ``user_id`` ends: ``accounts`` reissuing a password signs out whoever held the old one.
        """
        row = {"user_id": user_id, "name": name, "password_hash": _hasher.hash(password), "role": role}
        with self.engine.begin() as db:
            db.execute(users.delete().where(users.c.user_id == user_id))
            db.execute(users.insert().values(**row))
            db.execute(sessions.delete().where(sessions.c.user_id == user_id))  # a new password signs every browser out

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

    def users(self) -> list[User]:
        """Every account, by id."""
        with self.engine.connect() as db:
            rows = db.execute(select(users).order_by(users.c.user_id)).mappings()
            return [User(r["user_id"], r["name"], r["role"]) for r in rows]

    def end_accounts(self, user_ids: Iterable[str]) -> list[User]:
        """End the accounts ``user_ids``: each is deleted with its sessions and known addresses, so its password opens
        nothing and a browser signed in with it is signed out at its next page.  Returns the accounts ended (ids that
        had no account are left out).  Their uploads stay: grades are the gradebook's, not the account's."""
        ids = sorted(set(user_ids))
        with self.engine.begin() as db:
            ended = [User(r["user_id"], r["name"], r["role"]) for r in db.execute(
                select(users).where(users.c.user_id.in_(ids)).order_by(users.c.user_id)).mappings()]
            db.execute(users.delete().where(users.c.user_id.in_(ids)))
            db.execute(sessions.delete().where(sessions.c.user_id.in_(ids)))
            db.execute(known_addresses.delete().where(known_addresses.c.user_id.in_(ids)))
        return ended

    def students(self) -> list[User]:
        with self.engine.connect() as db:
            rows = db.execute(select(users).where(users.c.role == STUDENT).order_by(users.c.user_id)).mappings()
            return [User(r["user_id"], r["name"], r["role"]) for r in rows]

    # ---- sessions (server-side: signing out and a new password revoke them)
    def start_session(self, user_id: str, now: datetime, lifetime: timedelta) -> str:
        """A new session of ``user_id`` from ``now`` for ``lifetime``; returns its random id, for the cookie only
        (the database keeps its sha256).  Sessions expired longer than ``EXPIRED_SESSIONS_KEPT`` are deleted."""
        token = secrets.token_urlsafe(32)
        moment = _stored(now)
        with self.engine.begin() as db:
            db.execute(sessions.delete().where(sessions.c.expires < _stored(now - EXPIRED_SESSIONS_KEPT)))
            db.execute(sessions.insert().values(id_hash=_digest(token), user_id=user_id, created=moment,
                                                last_seen=moment, expires=_stored(now + lifetime)))
        return token

    def session(self, token: str) -> PortalSession | None:
        """The session whose id is ``token``, expired or not; None if there is none (signed out, revoked, made up)."""
        with self.engine.connect() as db:
            row = db.execute(select(sessions).where(sessions.c.id_hash == _digest(token))).mappings().first()
        if row is None:
            return None
        return PortalSession(row["user_id"], _read(row["created"]), _read(row["last_seen"]), _read(row["expires"]))

    def touch_session(self, token: str, now: datetime) -> None:
        """Note that the session ``token`` was used at ``now``."""
        with self.engine.begin() as db:
            db.execute(update(sessions).where(sessions.c.id_hash == _digest(token)).values(last_seen=_stored(now)))

    def end_session(self, token: str) -> None:
        """End the session ``token`` (signing out): its cookie, wherever copied, opens nothing any more."""
        with self.engine.begin() as db:
            db.execute(sessions.delete().where(sessions.c.id_hash == _digest(token)))

    def end_sessions_of(self, user_id: str) -> int:
        """End every session of ``user_id``; returns how many there were."""
        with self.engine.begin() as db:
            return db.execute(sessions.delete().where(sessions.c.user_id == user_id)).rowcount

    # ---- failed sign-ins (counted here; the policy is autograder/portal/throttle.py)
    def add_signin_failure(self, account: str, address: str, at: datetime, *, forget_before: datetime) -> None:
        """Record a failed sign-in for ``account`` from ``address``; failures before ``forget_before`` are deleted."""
        with self.engine.begin() as db:
            db.execute(signin_failures.delete().where(signin_failures.c.at_utc < _stored(forget_before)))
            db.execute(signin_failures.insert().values(account=account[:KEY_LENGTH], address=address[:KEY_LENGTH],
                                                       at_utc=_stored(at)))

    def signin_failures(self, since: datetime, *, account: str | None = None, address: str | None = None,
                        unknown_pairs_only: bool = False) -> list[datetime]:
        """Times (UTC, oldest first) of the failed sign-ins after ``since``, for ``account`` and/or from ``address``;
        with ``unknown_pairs_only``, only those whose account has never signed in from their address."""
        query = select(signin_failures.c.at_utc).where(signin_failures.c.at_utc > _stored(since))
        if account is not None:
            query = query.where(signin_failures.c.account == account[:KEY_LENGTH])
        if address is not None:
            query = query.where(signin_failures.c.address == address[:KEY_LENGTH])
        if unknown_pairs_only:
            query = query.where(~exists().where(known_addresses.c.user_id == signin_failures.c.account,
                                                known_addresses.c.address == signin_failures.c.address))
        with self.engine.connect() as db:
            return [_read(at) for at in db.execute(query.order_by(signin_failures.c.at_utc)).scalars()]

    def forget_signin_failures(self, account: str, address: str) -> None:
        """Forget the failures of ``account`` from ``address`` (after it signed in there: the typos are over)."""
        with self.engine.begin() as db:
            db.execute(signin_failures.delete().where((signin_failures.c.account == account[:KEY_LENGTH])
                                                      & (signin_failures.c.address == address[:KEY_LENGTH])))

    def add_known_address(self, user_id: str, address: str, at: datetime) -> None:
        """Note that ``user_id`` signed in from ``address`` at ``at``."""
        key = (known_addresses.c.user_id == user_id) & (known_addresses.c.address == address[:KEY_LENGTH])
        with self.engine.begin() as db:
            db.execute(known_addresses.delete().where(key))
            db.execute(known_addresses.insert().values(user_id=user_id, address=address[:KEY_LENGTH],
                                                       last_success_utc=_stored(at)))

    def known_address(self, user_id: str, address: str) -> bool:
        """Whether ``user_id`` has ever signed in from ``address``."""
        with self.engine.connect() as db:
            return db.execute(select(known_addresses.c.user_id).where(
                (known_addresses.c.user_id == user_id[:KEY_LENGTH]) & (known_addresses.c.address == address[:KEY_LENGTH])
            )).first() is not None

    # ---- uploads
    def add_upload(self, student_id: str, assignment_id: str, received: datetime, path: Path) -> int:
        """Record a stored upload as queued and return its id.

        An earlier upload of the same student and assignment still ``queued`` becomes ``superseded`` (never
        graded: the latest counts) and the new upload takes its place in line (``place``), so a student who
        re-uploads while waiting keeps their turn instead of going to the end, and never holds two places:
        six quick re-uploads cost the class one grading, not six, and do not push the student behind the
        classmates who came after their first upload.  Only a student's own upload lends its place: an
        instructor's waiting regrade (``force``) is superseded too (the new upload is graded anyway, and a
        regrade of the older file after it would record the older file last), but its place, behind everyone
        who was waiting when it was asked for, is the instructor's turn and no student's, so the re-upload
        queues at the end of the students' line as a first upload would.  One transaction: the insert takes SQLite's write lock
        first, and the queue claims an upload only while it is still queued (``claim``), so an upload is
        either graded or superseded, never both.
        """
        with self.engine.begin() as db:
            upload_id = db.execute(uploads.insert().values(
                student_id=student_id, assignment_id=assignment_id, path=str(path), state=UploadState.QUEUED, force=False,
                received_utc=_stored(received))).inserted_primary_key[0]
            waiting = db.execute(select(uploads.c.id, uploads.c.place, uploads.c.force).where(
                uploads.c.student_id == student_id, uploads.c.assignment_id == assignment_id,
                uploads.c.state == UploadState.QUEUED, uploads.c.id != upload_id).with_for_update()).all()
            if waiting:
                db.execute(update(uploads).where(uploads.c.id.in_([row.id for row in waiting]))
                           .values(state=UploadState.SUPERSEDED))
            db.execute(update(uploads).where(uploads.c.student_id == student_id,  # the newest counts again
                                             uploads.c.assignment_id == assignment_id).values(chosen=False))
            place = min([row.place for row in waiting if row.place is not None and not row.force] + [upload_id])
            db.execute(update(uploads).where(uploads.c.id == upload_id).values(place=place))
        return upload_id

    def upload(self, upload_id: int) -> dict | None:
        """The upload ``upload_id``, or None."""
        with self.engine.connect() as db:
            row = db.execute(select(uploads).where(uploads.c.id == upload_id)).mappings().first()
        return dict(row) if row else None

    LINE = (uploads.c.force, uploads.c.place, uploads.c.id)
    """The order of the line: students' uploads first, by place; the instructor's regrades (``force``) after them."""

    def next_queued(self, busy: Iterable[tuple[str, str]] = ()) -> dict | None:
        """The queued upload whose turn it is, or None; skipping the (student, assignment) pairs of ``busy``
        (one of theirs is being graded: the next waits for it, so that the latest upload is recorded last)."""
        busy = set(busy)
        for row in self.waiting():
            if (row["student_id"], row["assignment_id"]) not in busy:
                return row
        return None

    def waiting(self) -> list[dict]:
        """The queued uploads in their order in line (``LINE``)."""
        with self.engine.connect() as db:
            return [dict(r) for r in db.execute(select(uploads).where(uploads.c.state == UploadState.QUEUED)
                                                .order_by(*self.LINE)).mappings()]

    def grading(self) -> list[dict]:
        """The uploads being graded now, the earliest sent first."""
        with self.engine.connect() as db:
            return [dict(r) for r in db.execute(select(uploads).where(uploads.c.state == UploadState.GRADING)
                                                .order_by(uploads.c.started_utc, uploads.c.id)).mappings()]

    def recent_seconds(self, assignment_id: str, count: int = 10) -> list[float]:
        """How long the last ``count`` uploads of the assignment graded on the pool took from being sent to their
        feedback, the latest sent first (an upload decided without grading, as invalid or late, has no time)."""
        with self.engine.connect() as db:
            return list(db.execute(select(uploads.c.seconds).where(
                uploads.c.assignment_id == assignment_id, uploads.c.state == UploadState.DONE,
                uploads.c.seconds.is_not(None)).order_by(uploads.c.started_utc.desc()).limit(count)).scalars())

    def request_regrade(self, upload_id: int) -> bool:
        """Queue a finished upload again, forced, behind every student's upload waiting (``LINE``) and behind the
        regrades asked for before; False if it is waiting or being graded already (nothing changed)."""
        with self.engine.begin() as db:
            last = db.execute(select(func.max(uploads.c.place))).scalar() or 0
            return db.execute(update(uploads).where(
                uploads.c.id == upload_id, uploads.c.state.in_([UploadState.DONE, UploadState.FAILED])
            ).values(state=UploadState.QUEUED, force=True, place=last + 1, started_utc=None)).rowcount == 1

    def regrade_errors(self) -> list[int]:
        """Queue again (as ``request_regrade``) the upload that counts (``counting``) of every student's assignment
        whose grading failed (state ``error``, or graded with status ``error``); returns their ids.  Another upload
        (an older one a later one replaced, or a later one while the instructor chose an earlier) is not graded again."""
        latest = select(func.max(uploads.c.id)).where(uploads.c.pruned.is_(False)).group_by(
            uploads.c.student_id, uploads.c.assignment_id)
        chosen = select(uploads.c.id).where(uploads.c.chosen.is_(True), uploads.c.pruned.is_(False))
        counting: dict[tuple[str, str], object] = {}
        with self.engine.connect() as db:
            for row in db.execute(select(uploads).where(uploads.c.id.in_(latest) | uploads.c.id.in_(chosen))
                                  .order_by(uploads.c.chosen, uploads.c.id)):
                counting[(row.student_id, row.assignment_id)] = row  # a chosen one is read last: it wins
        ids = sorted(row.id for row in counting.values()
                     if row.state == UploadState.FAILED or (row.state == UploadState.DONE and row.status == "error"))
        return [upload_id for upload_id in ids if self.request_regrade(upload_id)]

    def claim(self, upload_id: int, at: datetime | None = None) -> bool:
        """Mark a queued upload ``grading`` (sent at ``at``); False if it is no longer queued (superseded meanwhile,
        or claimed)."""
        with self.engine.begin() as db:
            return db.execute(update(uploads).where(uploads.c.id == upload_id, uploads.c.state == UploadState.QUEUED)
                              .values(state=UploadState.GRADING,
                                      started_utc=_stored(at) if at else None)).rowcount == 1

    def requeue(self, upload_id: int) -> bool:
        """Put an upload being graded back in line, in its place (its grading was lost with the pool)."""
        with self.engine.begin() as db:
            return db.execute(update(uploads).where(uploads.c.id == upload_id, uploads.c.state == UploadState.GRADING)
                              .values(state=UploadState.QUEUED, started_utc=None)).rowcount == 1

    def mark(self, upload_id: int, **fields) -> None:
        with self.engine.begin() as db:
            db.execute(update(uploads).where(uploads.c.id == upload_id).values(**fields))

    def requeue_interrupted(self) -> int:
        """Uploads left ``grading`` by a server that stopped: queued again, keeping their place, unless the
        student uploaded that assignment again meanwhile (then superseded, and their newest queued upload takes
        the earlier place, unless the interrupted one was an instructor's regrade: ``add_upload``).  Returns how many were queued again."""
        requeued = 0
        with self.engine.begin() as db:
            interrupted = db.execute(select(uploads).where(uploads.c.state == UploadState.GRADING)
                                     .with_for_update()).mappings().all()
            for row in interrupted:
                same = (uploads.c.student_id == row["student_id"], uploads.c.assignment_id == row["assignment_id"])
                newer = db.execute(select(uploads.c.id, uploads.c.state, uploads.c.place)
                                   .where(*same, uploads.c.id > row["id"]).order_by(uploads.c.id.desc())).first()
                if newer is None:
                    db.execute(update(uploads).where(uploads.c.id == row["id"]).values(state=UploadState.QUEUED))
                    requeued += 1
                    continue
                db.execute(update(uploads).where(uploads.c.id == row["id"]).values(state=UploadState.SUPERSEDED))
                if (newer.state == UploadState.QUEUED and not row["force"] and row["place"] is not None
                        and row["place"] < newer.place):  # a regrade's place is the instructor's: see add_upload
                    db.execute(update(uploads).where(uploads.c.id == newer.id).values(place=row["place"]))
        return requeued

    # ---- upload attempts (counted here; the policy is autograder/portal/uploads.py)
    def add_upload_attempt(self, student_id: str, assignment_id: str, at: datetime, *, since: datetime,
                           limit: int) -> list[datetime]:
        """Record an upload attempt of the student's assignment at ``at`` unless ``limit`` attempts of it are
        already recorded after ``since``; attempts of anybody before ``since`` are deleted.

        Returns the times (UTC, oldest first) of the attempts after ``since`` before this one: this one was
        recorded exactly when there are fewer than ``limit``.  One transaction that writes first (SQLite's
        write lock), so two servers on one database cannot both take the last attempt.
        """
        key = (upload_attempts.c.student_id == student_id, upload_attempts.c.assignment_id == assignment_id)
        with self.engine.begin() as db:
            db.execute(upload_attempts.delete().where(upload_attempts.c.at_utc <= _stored(since)))
            attempt_id = db.execute(upload_attempts.insert().values(
                student_id=student_id, assignment_id=assignment_id, at_utc=_stored(at))).inserted_primary_key[0]
            earlier = db.execute(select(upload_attempts.c.at_utc).where(*key, upload_attempts.c.id != attempt_id)
                                 .order_by(upload_attempts.c.at_utc, upload_attempts.c.id)).scalars().all()
            if len(earlier) >= limit:
                db.execute(upload_attempts.delete().where(upload_attempts.c.id == attempt_id))
        return [_read(moment) for moment in earlier]

    def prune(self, student_id: str, assignment_id: str, keep: int) -> list[Path]:
        """Mark pruned every upload of the student's assignment beyond the newest ``keep``, and return their files
        for the caller to delete.  Never pruned, even beyond ``keep``: an upload queued or being graded, the
        latest graded one (whose score and feedback the student sees) and the one the instructor chose.  Rows stay (the student's list of uploads
        leaves them out; the rate limit counts ``upload_attempts``, not these rows)."""
        with self.engine.begin() as db:
            rows = db.execute(select(uploads.c.id, uploads.c.state, uploads.c.path, uploads.c.chosen).where(
                uploads.c.student_id == student_id, uploads.c.assignment_id == assignment_id,
                uploads.c.pruned.is_(False)).order_by(uploads.c.id.desc())).all()
            latest_graded = next((row.id for row in rows if row.state == UploadState.DONE), None)
            kept = {row.id for row in rows if row.state in (UploadState.QUEUED, UploadState.GRADING)
                    or row.id == latest_graded or row.chosen}
            for row in rows:
                if len(kept) >= keep:
                    break
                kept.add(row.id)
            gone = [row for row in rows if row.id not in kept]
            if gone:
                db.execute(update(uploads).where(uploads.c.id.in_([row.id for row in gone])).values(pruned=True))
        return [Path(row.path) for row in gone]

    def uploads_of(self, student_id: str, assignment_id: str | None = None) -> list[dict]:
        """A student's uploads whose file is kept (pruned ones left out), newest first."""
        query = select(uploads).where(uploads.c.student_id == student_id, uploads.c.pruned.is_(False))
        if assignment_id:
            query = query.where(uploads.c.assignment_id == assignment_id)
        with self.engine.connect() as db:
            return [dict(r) for r in db.execute(query.order_by(uploads.c.id.desc())).mappings()]

    def latest_uploads(self, assignment_id: str) -> dict[str, dict]:
        """student id → the upload of ``assignment_id`` that counts (``counting``), in one query."""
        newest = select(func.max(uploads.c.id)).where(uploads.c.assignment_id == assignment_id,
                                                     uploads.c.pruned.is_(False)).group_by(uploads.c.student_id)
        chosen = select(uploads.c.id).where(uploads.c.assignment_id == assignment_id, uploads.c.chosen.is_(True),
                                            uploads.c.pruned.is_(False))
        found: dict[str, dict] = {}
        with self.engine.connect() as db:
            for r in db.execute(select(uploads).where(uploads.c.id.in_(newest) | uploads.c.id.in_(chosen))
                                .order_by(uploads.c.chosen, uploads.c.id)).mappings():
                found[r["student_id"]] = dict(r)  # a chosen one is read last: it wins over the newest
        return found

    def counting(self, student_id: str, assignment_id: str) -> dict | None:
        """The upload that counts for the student's assignment: the one the instructor chose (``choose``), else the
        latest (the portal takes none after the due date, so the latest is the latest before it); None if none."""
        rows = self.uploads_of(student_id, assignment_id)
        return next((row for row in rows if row["chosen"]), rows[0] if rows else None)

    def choose(self, upload_id: int) -> bool:
        """Make the upload ``upload_id`` the one that counts, and queue it to be graded again (forced, behind the
        students' uploads) so that the gradebook and the feedback are its own; False if it cannot count (its file
        pruned, or it is waiting, being graded or superseded: nothing changed).  The student's next upload ends
        the choice (``add_upload``)."""
        with self.engine.begin() as db:
            row = db.execute(select(uploads).where(uploads.c.id == upload_id)).mappings().first()
            if row is None or row["pruned"] or row["state"] not in (UploadState.DONE, UploadState.FAILED):
                return False
            db.execute(update(uploads).where(uploads.c.student_id == row["student_id"],
                                             uploads.c.assignment_id == row["assignment_id"]).values(chosen=False))
            db.execute(update(uploads).where(uploads.c.id == upload_id).values(chosen=True))
        return self.request_regrade(upload_id)

    def latest(self, student_id: str, assignment_id: str) -> dict | None:
        rows = self.uploads_of(student_id, assignment_id)
        return rows[0] if rows else None

    # ---- regrade requests (the rules are autograder/portal/regrades.py)
    def add_regrade_request(self, student_id: str, assignment_id: str, grade_id: str, reason: str,
                            at: datetime) -> int | None:
        """Record a request unless the student has one for this question already that the instructor has not
        reopened; returns its id, or None (nothing recorded).  Insert first, then look (SQLite's write lock is
        taken by the insert): two requests sent at once never both stay."""
        key = (regrade_requests.c.student_id == student_id, regrade_requests.c.assignment_id == assignment_id,
               regrade_requests.c.grade_id == grade_id)
        with self.engine.begin() as db:
            request_id = db.execute(regrade_requests.insert().values(
                student_id=student_id, assignment_id=assignment_id, grade_id=grade_id, reason=reason,
                created_utc=_stored(at), status=RequestStatus.OPEN, reopened=False)).inserted_primary_key[0]
            blocking = db.execute(select(regrade_requests.c.id).where(
                *key, regrade_requests.c.id != request_id, regrade_requests.c.reopened.is_(False))).first()
            if blocking is not None:
                db.execute(regrade_requests.delete().where(regrade_requests.c.id == request_id))
                return None
        return request_id

    def regrade_request(self, request_id: int) -> RegradeRequest | None:
        with self.engine.connect() as db:
            row = db.execute(select(regrade_requests).where(regrade_requests.c.id == request_id)).mappings().first()
        return _request(row) if row else None

    def regrade_requests(self, *, assignment_id: str | None = None, student_id: str | None = None,
                         status: RequestStatus | None = None) -> list[RegradeRequest]:
        """Requests, oldest first, filtered by assignment, student and status."""
        query = select(regrade_requests)
        if assignment_id is not None:
            query = query.where(regrade_requests.c.assignment_id == assignment_id)
        if student_id is not None:
            query = query.where(regrade_requests.c.student_id == student_id)
        if status is not None:
            query = query.where(regrade_requests.c.status == status)
        with self.engine.connect() as db:
            return [_request(r) for r in db.execute(query.order_by(regrade_requests.c.id)).mappings()]

    def open_request_counts(self) -> dict[str, int]:
        """assignment_id → how many requests wait for the instructor."""
        with self.engine.connect() as db:
            rows = db.execute(select(regrade_requests.c.assignment_id, func.count()).where(
                regrade_requests.c.status == RequestStatus.OPEN).group_by(regrade_requests.c.assignment_id)).all()
        return {assignment_id: count for assignment_id, count in rows}

    def answer_regrade_request(self, request_id: int, *, reply: str, changed: bool, by: str, at: datetime) -> bool:
        """Mark an open request answered; False if it is not open (answered meanwhile, or unknown)."""
        with self.engine.begin() as db:
            return db.execute(update(regrade_requests).where(
                regrade_requests.c.id == request_id, regrade_requests.c.status == RequestStatus.OPEN
            ).values(status=RequestStatus.ANSWERED, reply=reply, changed=changed, answered_by=by,
                     answered_utc=_stored(at))).rowcount == 1

    def reopen_regrade_request(self, request_id: int) -> bool:
        """Let the student ask once more about the question of an answered request; False if it is not answered."""
        with self.engine.begin() as db:
            return db.execute(update(regrade_requests).where(
                regrade_requests.c.id == request_id, regrade_requests.c.status == RequestStatus.ANSWERED
            ).values(reopened=True)).rowcount == 1

    def set_regrade_closing(self, assignment_id: str, closes: datetime | None) -> None:
        """The instructor's closing date of the assignment's requests (None: back to the default)."""
        with self.engine.begin() as db:
            db.execute(regrade_windows.delete().where(regrade_windows.c.assignment_id == assignment_id))
            if closes is not None:
                db.execute(regrade_windows.insert().values(assignment_id=assignment_id, closes_utc=_stored(closes)))

    def regrade_closing(self, assignment_id: str) -> datetime | None:
        with self.engine.connect() as db:
            found = db.execute(select(regrade_windows.c.closes_utc).where(
                regrade_windows.c.assignment_id == assignment_id)).scalar()
        return _read(found) if found is not None else None

    # ---- anonymous grading (the rules are autograder/portal/anonymity.py)
    def set_anonymous(self, assignment_id: str, on: bool, *, by: str, at: datetime) -> None:
        """Turn the assignment's anonymous grading on or off (its students keep their numbers either way)."""
        with self.engine.begin() as db:
            db.execute(anonymous_grading.delete().where(anonymous_grading.c.assignment_id == assignment_id))
            if on:
                db.execute(anonymous_grading.insert().values(assignment_id=assignment_id, since_utc=_stored(at),
                                                             by_user=by))

    def anonymous(self, assignment_id: str) -> bool:
        with self.engine.connect() as db:
            return db.execute(select(anonymous_grading.c.assignment_id).where(
                anonymous_grading.c.assignment_id == assignment_id)).first() is not None

    def anonymous_numbers(self, assignment_id: str, students: Iterable[str]) -> dict[str, int]:
        """student_id → their number in the assignment's anonymous grading, for each of ``students``: a student
        without one gets the next free numbers, in a random order (not their id's), and keeps it from then on."""
        wanted = set(students)
        for _ in range(5):  # two requests numbering at once: the unique number refuses one, which reads again
            with self.engine.connect() as db:
                known = dict(db.execute(select(anonymous_labels.c.student_id, anonymous_labels.c.number).where(
                    anonymous_labels.c.assignment_id == assignment_id)).all())
            new = [s for s in wanted if s not in known]
            if not new:
                return {s: known[s] for s in wanted}
            secrets.SystemRandom().shuffle(new)
            start = max(known.values(), default=0) + 1
            try:
                with self.engine.begin() as db:
                    db.execute(anonymous_labels.insert(), [{"assignment_id": assignment_id, "student_id": s,
                                                            "number": start + i} for i, s in enumerate(new)])
            except IntegrityError:
                continue
        raise RuntimeError(f"could not number the answers of {assignment_id}")  # never: five races in a row

    # ---- the journal of published grade changes (append-only)
    def log_grade_changes(self, changes: Iterable[GradeChange]) -> None:
        rows = [{"at_utc": _stored(c.at), "by_user": c.by, "assignment_id": c.assignment_id, "grade_id": c.grade_id,
                 "student_id": c.student_id, "before_points": c.before_points, "after_points": c.after_points,
                 "before_comment": c.before_comment, "after_comment": c.after_comment, "request_id": c.request_id,
                 "kind": c.kind, "reason": c.reason}
                for c in changes]
        if rows:
            with self.engine.begin() as db:
                db.execute(grade_changes.insert(), rows)

    def grade_changes(self, *, assignment_id: str | None = None, student_id: str | None = None,
                      grade_id: str | None = None) -> list[GradeChange]:
        """The journal, oldest first, filtered."""
        query = select(grade_changes)
        for column, value in (("assignment_id", assignment_id), ("student_id", student_id), ("grade_id", grade_id)):
            if value is not None:
                query = query.where(grade_changes.c[column] == value)
        with self.engine.connect() as db:
            return [GradeChange(_read(r["at_utc"]), r["by_user"], r["assignment_id"], r["grade_id"], r["student_id"],
                                r["before_points"], r["after_points"], r["before_comment"], r["after_comment"],
                                r["request_id"], r["kind"] or ChangeKind.MANUAL, r["reason"])
                    for r in db.execute(query.order_by(grade_changes.c.id)).mappings()]


def _request(row) -> RegradeRequest:
    return RegradeRequest(row["id"], row["student_id"], row["assignment_id"], row["grade_id"], row["reason"],
                          _read(row["created_utc"]), RequestStatus(row["status"]), row["reply"], row["changed"],
                          _read(row["answered_utc"]) if row["answered_utc"] else None, row["answered_by"],
                          bool(row["reopened"]))


def _make_append_only(engine) -> None:
    """On SQLite, triggers that refuse changing or deleting a row of ``grade_changes``: the journal keeps what
    happened even against a later bug of ours."""
    if engine.dialect.name != "sqlite":
        return
    with engine.begin() as db:
        for action in ("UPDATE", "DELETE"):
            db.exec_driver_sql(f"CREATE TRIGGER IF NOT EXISTS grade_changes_no_{action.lower()} BEFORE {action} ON "
                               f"grade_changes BEGIN SELECT RAISE(ABORT, 'grade_changes is append-only'); END")


_DUMMY = _hasher.hash(secrets.token_hex(16))


def _add_missing_columns(engine) -> None:
    """Give the ``uploads`` and ``grade_changes`` tables made by an older portal the columns they lack (``ALTER
    TABLE``, with their defaults), so an existing ``portal.db`` keeps its accounts, uploads and journal; an upload
    queued before keeps its order (its own id)."""
    _add_columns(engine, grade_changes)  # adding a column changes no row: the journal's triggers allow it
    existing = {column["name"] for column in inspect(engine).get_columns("uploads")}
    missing = [column for column in uploads.columns if column.name not in existing]
    if not missing:
        return
    with engine.begin() as db:
        for column in missing:
            db.exec_driver_sql(f"ALTER TABLE uploads ADD COLUMN {CreateColumn(column).compile(dialect=engine.dialect)}")
        db.execute(update(uploads).where(uploads.c.place.is_(None)).values(place=uploads.c.id))


def _add_columns(engine, table: Table) -> None:
    """``ALTER TABLE`` ``table`` with each column of ours it lacks (nullable ones: no row needs a value)."""
    existing = {column["name"] for column in inspect(engine).get_columns(table.name)}
    missing = [column for column in table.columns if column.name not in existing]
    if missing:
        with engine.begin() as db:
            for column in missing:
                db.exec_driver_sql(f"ALTER TABLE {table.name} ADD COLUMN "
                                   f"{CreateColumn(column).compile(dialect=engine.dialect)}")


def _password(size: int) -> str:
    """A new random password that no spreadsheet reads as a formula (``token_urlsafe`` may begin with ``-``)."""
    while (password := secrets.token_urlsafe(size)).startswith("-"):
        pass
    return password


def import_roster(store: Store, roster: Path, instructor: str = "instructor") -> list[tuple[str, str, str, str]]:
    """Create an account for every student of ``roster`` (columns ``student_id``, ``name``) and for the instructor.

    Returns ``(user_id, name, role, password)`` rows: the only place the new passwords appear,
    for the instructor to hand out.
    """
    from autograder.tools.intake import read_roster

    issued = []
    for student_id, name in sorted(read_roster(roster).items()):
        password = _password(9)
        store.set_user(student_id, name, password, STUDENT)
        issued.append((student_id, name, STUDENT, password))
    if instructor:
        password = _password(12)
        store.set_user(instructor, "担当教員", password, INSTRUCTOR)
        issued.append((instructor, "担当教員", INSTRUCTOR, password))
    return issued


def end_unlisted(store: Store, issued: list[tuple[str, str, str, str]]) -> list[User]:
    """End every account that ``issued`` (what ``import_roster`` just returned) does not list: a student dropped from
    the roster, an instructor replaced by another ``--instructor``.  When ``issued`` holds no instructor (``accounts
    --instructor ''``), the instructors' accounts are left as they are: a roster of students alone replaces no
    instructor.  Graders' accounts are ``--grader``'s, not the roster's: left as they are.  Returns the accounts ended."""
    listed = {user_id for user_id, _, _, _ in issued}
    keep_instructors = not any(role == INSTRUCTOR for _, _, role, _ in issued)
    return store.end_accounts(user.user_id for user in store.users()
                              if user.user_id not in listed and user.role != GRADER
                              and not (keep_instructors and user.role == INSTRUCTOR))


def issue_graders(store: Store, grader_ids: Iterable[str]) -> list[tuple[str, str, str, str]]:
    """Create (or reissue) a grader account for each id, leaving every other account as it is; returns the
    ``(user_id, name, role, password)`` rows, the only place the new passwords appear.  Raises ``ValueError`` for an
    id that is a student's or the instructor's account (a role is never changed behind the instructor's back)."""
    issued = []
    for grader_id in grader_ids:
        grader_id = grader_id.strip()
        existing = store.user(grader_id)
        if not grader_id or len(grader_id) > 64 or (existing is not None and existing.role != GRADER):
            raise ValueError(grader_id)
        password = _password(12)
        store.set_user(grader_id, "採点補助 / grader", password, GRADER)
        issued.append((grader_id, "採点補助 / grader", GRADER, password))
    return issued


def write_credentials(rows: list[tuple[str, str, str, str]], out: Path) -> None:
    """Write ``(user_id, name, role, password)`` rows to ``out``, readable by its owner only from the first byte.

    The file is created with mode 600 (and an existing one set to 600 before anything is written), so no
    umask ever lets another user read the passwords.  Roster text (ids, names) is neutralised against
    spreadsheet formulas; the passwords are left exactly as issued (``token_urlsafe``: no formula can be made
    of its letters, and a ``'`` would change the password).
    """
    import os

    from autograder.course.csv_cells import neutralise

    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # O_CREAT's mode only applies to a new file
    except OSError:
        os.close(fd)
        raise
    with open(fd, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["user_id", "name", "role", "password"])
        writer.writerows([neutralise(user_id), neutralise(name), neutralise(role), password]
                         for user_id, name, role, password in rows)
