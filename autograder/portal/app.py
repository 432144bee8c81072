"""The portal's Flask application: ``create_app`` configures it and registers its pages, split by audience.

The pages are Flask blueprints, one module each: ``auth`` (the start page, signing in and out, the session of every
request), ``student`` (assignments, release notebooks, uploads, their own feedback), ``instructor`` (the class page,
extensions, regrading, which upload counts, grades CSV, class report), ``manual_pages`` (grading the written
answers), ``score_pages`` (one student's overrides and extra credit) and ``regrades`` (students' regrade requests and
their answers).  What they share — this app's course,
store, queue and clock, and the guards ``signed_in`` and ``assignment_or_404`` — is ``autograder.portal.web``.

Safety: CSRF tokens on every form (Flask-WTF), failed sign-ins counted per account and address
(``throttle``: a flood from a lab stops no one who signed in there before; a guesser holds an account up at one
address for a minute at a time), server-side sessions that expire
(``portal_session_minutes``) and that signing out or a new password ends (the cookie holds only a
random id), an upload size limit and a notebook check, Argon2id password hashes, every page of a
student's work reachable only by that student, the instructor and the graders (teaching assistants, who grade the
written answers and see the class page, and are refused the rest: ``store.GRADER``), and security headers on every
response: a strict Content-Security-Policy for the portal's pages, and for the HTML built from
students' notebooks (feedback, the class report) a sandboxed document that can run nothing.
The clock is the server's (``now`` may be given for tests).
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from flask import Flask, Response, g, render_template
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from autograder.course import Course, messages
from autograder.portal import auth, instructor, manual_pages, private, regrades, score_pages, student, web
from autograder.portal.queue import GradingQueue
from autograder.portal.store import Store
from autograder.portal.throttle import SignInThrottle
from autograder.portal.uploads import UploadGate

PAGE_POLICY = ("default-src 'self'; base-uri 'none'; object-src 'none'; form-action 'self'; frame-ancestors 'none'")
"""Content-Security-Policy of the portal's own pages: its own stylesheet and script files (``static/``), nothing else:
no inline script or style, nothing from elsewhere (only the manual grading page loads a script, ``manual.js``)."""

STUDENT_WORK_POLICY = ("sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; "
                       "form-action 'none'; frame-ancestors 'none'")
"""Content-Security-Policy of pages built from students' notebooks (feedback, the class report): a sandboxed
document of a unique origin that runs no script, loads nothing but its inline CSS and data: images, and cannot
send a form; whatever escaping missed, it cannot read the portal's cookies or pages."""

HEADERS = {"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff",
           # same-origin, not no-referrer: on HTTPS Flask-WTF refuses a form without a same-origin Referer
           "Referrer-Policy": "same-origin"}
"""Headers of every response, with one of the two policies above."""


def create_app(course: Course, *, store: Store | None = None, queue: GradingQueue | None = None,
               now: Callable[[], datetime] | None = None, start_queue: bool = True, isolated: bool = True,
               workers: int | None = None, scheduler: str | None = None) -> Flask:
    """The portal for ``course``; with ``start_queue`` its grading queue runs in a background thread.

    ``workers``/``scheduler``: the queue's grading pool (``serve --workers/--scheduler``): local worker processes
    (default: course_config's ``workers``, else one per core), or an existing Dask scheduler.

    ``isolated=False`` (``serve --unsafe-no-sandbox``, see ``autograder.portal.isolation``) puts a warning on every
    page the instructor sees."""
    config = course.config
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=private.secret_key(course),
        MAX_CONTENT_LENGTH=config.portal_upload_mb * 2**20,
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=config.portal_session_minutes),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=config.portal_secure_cookie,
    )
    if config.portal_trusted_proxies > 0:  # the client's address and scheme as the proxies report them, nobody else
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=config.portal_trusted_proxies, x_proto=config.portal_trusted_proxies)
    store = store or Store(private.database_url(course))
    clock = now or (lambda: datetime.now(UTC))
    queue = queue or GradingQueue(course, store, workers=workers, scheduler=scheduler, isolated=isolated, clock=clock)
    # this app's own objects, which the blueprints reach through autograder.portal.web (never module globals: a
    # process may hold many apps, as the tests do)
    app.extensions[web.EXTENSION] = {"course": course, "store": store, "queue": queue, "clock": clock,
                                     "throttle": SignInThrottle(store, config, clock), "upload_gate": UploadGate()}
    CSRFProtect(app)
    app.jinja_env.globals.update(local=web.local, states=messages.UPLOAD_STATE_LABELS, notice=messages.upload_notice,
                                 course_title="医療とAI・ビッグデータ応用", unsafe_no_sandbox=not isolated)
    app.before_request(auth.load_user)
    app.after_request(security_headers)
    app.register_error_handler(CSRFError, form_expired)
    app.register_error_handler(413, too_large)
    for blueprint in (auth.bp, student.bp, instructor.bp, manual_pages.bp, score_pages.bp, regrades.bp):
        app.register_blueprint(blueprint)
    if start_queue:
        queue.start()
    return app


def security_headers(response: Response) -> Response:
    """Every response, error pages included, says what the browser may do with it."""
    response.headers["Content-Security-Policy"] = STUDENT_WORK_POLICY if g.get("student_work") else PAGE_POLICY
    response.headers.update(HEADERS)
    return response


def form_expired(error: CSRFError):
    """A form without its CSRF token, or an old one: a 400 asking to reload the page."""
    return render_template("message.html", title="もう一度お試しください",
                           message="フォームの有効期限が切れたか、正しくない送信です。ページを読み込み直してください。"), 400


def too_large(error):
    """An upload over ``portal_upload_mb``: a 413 saying how to make the notebook smaller."""
    return render_template("message.html", title="ファイルが大きすぎます",
                           message=f"アップロードできるのは {web.config.portal_upload_mb} MB までです。"
                                   f"出力を消してから（{messages.COLAB_CLEAR_OUTPUTS}）保存し直してください。"), 413
