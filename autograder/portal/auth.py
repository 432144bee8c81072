"""The portal's door: the start page (the sign-in form, or each role's own page), signing in and out, and the session
every request is read under.

A session lives on the server (``Store.start_session``): the cookie holds only a random id, so signing out, a new
password or a deleted account ends every copy of it, and it expires after ``portal_session_minutes``.  Failed
sign-ins are counted per account and address (``autograder.portal.throttle``): a flood from a lab stops no one who
signed in there before; a guesser holds an account up at one address for a minute at a time.
"""
from __future__ import annotations

import math
from datetime import timedelta

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, session, url_for

from autograder.portal import student
from autograder.portal.store import GRADER, INSTRUCTOR
from autograder.portal.web import clock, local, minute_up, store, throttle

bp = Blueprint("auth", __name__)


def load_user() -> None:
    """``g.user`` from the session the cookie names, if the server still has it and it has not expired (run before
    every request, ``create_app``'s ``before_request``)."""
    g.user = None
    token = session.get("sid")
    if not isinstance(token, str):
        return
    found, moment = store.session(token), clock()
    user = store.user(found.user_id) if found is not None else None
    if found is not None and moment >= found.expires:
        store.end_session(token)
        session.clear()
        flash("時間がたったのでサインアウトしました。もう一度サインインしてください。")
        return
    if user is None:  # signed out (this cookie may be a copy), a new password, or a deleted account
        session.clear()
        flash("このサインインは使えなくなりました（サインアウトしたか、パスワードが新しくなったためです）。"
              "もう一度サインインしてください。")
        return
    if moment - found.last_seen >= timedelta(minutes=1):  # one write a minute, not one a request
        store.touch_session(token, moment)
    g.user = user


@bp.get("/")
def start():
    """The sign-in form for a visitor; the class page for the instructor and graders; a student's assignments."""
    if g.user is None:
        return render_template("signin.html")
    if g.user.role in (INSTRUCTOR, GRADER):
        return redirect(url_for("instructor.home"))
    return student.home()


@bp.post("/signin")
def signin():
    """Check the password unless ``throttle`` has locked this account at this address; count a failure."""
    account, address = request.form.get("user_id", "").strip(), request.remote_addr or ""
    lock = throttle.lock(account, address)
    if lock is not None:
        wait = max(1, math.ceil((lock.until - clock()).total_seconds()))
        return render_template("message.html", title="しばらく待ってください",
                               message=lock.message(local(minute_up(lock.until)))), \
            429, {"Retry-After": str(wait)}
    user = store.authenticate(account, request.form.get("password", ""))
    if user is None:
        throttle.failed(account, address)
        flash("学籍番号かパスワードが違います。")
        return redirect(url_for("auth.start"))
    throttle.succeeded(user.user_id, address)
    old = session.get("sid")
    if isinstance(old, str):
        store.end_session(old)
    session.clear()  # a new cookie (and CSRF token) for the signed-in user: nothing fixed before carries over
    session.permanent = True
    session["sid"] = store.start_session(user.user_id, clock(), current_app.config["PERMANENT_SESSION_LIFETIME"])
    return redirect(url_for("auth.start"))


@bp.post("/signout")
def signout():
    """End the session on the server: a copy of this cookie opens nothing afterwards."""
    token = session.get("sid")
    if isinstance(token, str):
        store.end_session(token)
    session.clear()
    return redirect(url_for("auth.start"))
