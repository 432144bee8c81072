"""What every blueprint of the portal needs: this app's course, store, queue and clock, and the guards of its views.

The portal is split by audience into blueprints (``auth``: the start page and signing in and out; ``student``;
``instructor``; ``manual_pages``: the written answers; ``regrades``: requests about them).  A blueprint is made once,
when its module is imported, and registered on every app that ``create_app`` builds — tests build many apps in one
process — so nothing that belongs to one app may live in a blueprint's module.  ``create_app`` keeps the app's own
objects in ``app.extensions["autograder"]``; the proxies below (Werkzeug's ``LocalProxy``, as Flask's own
``request`` and ``g``) read them from the app handling the current request, so a view writes ``store.user(...)`` and
reaches its own app's store.  Outside a request they raise (``RuntimeError``: working outside of application
context), which is what a view's helper called at import would deserve.

The guards are decorators (``signed_in``) or calls that end the request with a 404 (``assignment_or_404``).
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import wraps
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import Response, abort, current_app, g, redirect, send_file, url_for
from werkzeug.local import LocalProxy

from autograder.course import AssignmentConfig, Course, CourseConfig, UnknownAssignment
from autograder.portal.queue import GradingQueue
from autograder.portal.store import Store
from autograder.portal.throttle import SignInThrottle
from autograder.portal.uploads import UploadGate
from autograder.tools.feedback import with_portal_link

EXTENSION = "autograder"
"""The key of ``app.extensions`` under which ``create_app`` keeps the app's objects (a dict by name)."""


def of_this_app(name: str) -> LocalProxy:
    """A proxy to ``app.extensions[EXTENSION][name]`` of the app handling the current request."""
    return LocalProxy(lambda: current_app.extensions[EXTENSION][name])


course: Course = of_this_app("course")  # type: ignore[assignment]
"""The course this app serves."""

store: Store = of_this_app("store")  # type: ignore[assignment]
"""The portal's database: accounts, sessions, uploads, regrade requests."""

queue: GradingQueue = of_this_app("queue")  # type: ignore[assignment]
"""The grading line (woken after an upload or a regrade; read for places and the warm-up phase)."""

clock: Callable[[], datetime] = of_this_app("clock")  # type: ignore[assignment]
"""The server's clock (UTC): ``create_app``'s ``now``, given by tests to move time."""

throttle: SignInThrottle = of_this_app("throttle")  # type: ignore[assignment]
"""The failed sign-ins of this app's database (``autograder.portal.throttle``)."""

upload_gate: UploadGate = of_this_app("upload_gate")  # type: ignore[assignment]
"""One upload of a student's assignment at a time, in this process (``autograder.portal.uploads``)."""

config: CourseConfig = LocalProxy(lambda: current_app.extensions[EXTENSION]["course"].config)  # type: ignore[assignment]
"""The course's settings (``course_config.py``)."""


def zone() -> ZoneInfo:
    """The course's time zone (its due times and every time shown)."""
    return ZoneInfo(config.timezone)


def local(moment: datetime | None) -> str:
    """``moment`` as the course's local time to the minute (``2027-05-30 23:59``); a naive one is UTC; None is ''."""
    if moment is None:
        return ""
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.astimezone(zone()).strftime("%Y-%m-%d %H:%M")


def minute_up(moment: datetime) -> datetime:
    """``moment`` rounded up to the minute: a time to try again, shown to the minute, is never too early."""
    return (moment + timedelta(seconds=59, microseconds=999_999)).replace(second=0, microsecond=0)


def signed_in(*roles: str):
    """A view for the signed-in users of ``roles`` (none given: anyone signed in); a visitor signed out is sent to
    the sign-in page, a signed-in user of another role gets a 403."""
    def decorate(view):
        @wraps(view)
        def run(*args, **kwargs):
            if g.user is None:
                return redirect(url_for("auth.start"))
            if roles and g.user.role not in roles:
                abort(403)
            return view(*args, **kwargs)
        return run
    return decorate


def assignment_or_404(assignment_id: str) -> AssignmentConfig:
    """The assignment the URL names, if the course has it and its release notebook is there; else a 404."""
    try:
        found = config.assignment(assignment_id)
    except UnknownAssignment:
        abort(404)
    if not course.release_notebook(assignment_id).is_file():
        abort(404)
    return found


def student_work(path: Path, *, portal_link: bool = False):
    """A page built from students' notebooks, sent as a sandboxed document (``app.STUDENT_WORK_POLICY``, chosen by
    ``g.student_work``); ``portal_link``: a feedback page, with its link back to the portal (the file on disk has
    none)."""
    g.student_work = True
    if portal_link:
        return Response(with_portal_link(path.read_text(encoding="utf-8")), mimetype="text/html")
    return send_file(path, mimetype="text/html")
