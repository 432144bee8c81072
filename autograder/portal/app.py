"""The portal's Flask application: Japanese pages, sign-in, uploads before the due date, feedback, instructor pages.

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

import math
import tempfile
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import wraps
from io import BytesIO
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import (
    Flask,
    Response,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    send_file,
    session,
    url_for,
)
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from autograder.course import AssignmentConfig, Course, UnknownAssignment, extensions, messages
from autograder.course.notebook import NotebookProblem, ReleaseShape, check_notebook, release_shape
from autograder.portal import class_page, private, readiness
from autograder.portal.manual_pages import add_manual_pages
from autograder.portal.regrades import add_regrade_pages
from autograder.portal.queue import GradingQueue
from autograder.portal.uploads import UploadGate, store_upload, take_upload_attempt
from autograder.portal.store import GRADER, INSTRUCTOR, STUDENT, Store, UploadState
from autograder.portal.throttle import SignInThrottle
from autograder.tools import manual
from autograder.tools.feedback import with_portal_link

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


def _wait_text(seconds: float | None) -> str:
    """A wait as a student reads it: 「結果まで あと約 3 分」; an unknown one says so."""
    if seconds is None:
        return "結果までの時間の目安はまだありません（この課題の採点が一つ終わると出ます）"
    if seconds < 60:
        return "結果まで 1 分以内"
    return f"結果まで あと約 {math.ceil(seconds / 60)} 分"


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
    zone = ZoneInfo(config.timezone)
    app.extensions["autograder"] = {"course": course, "store": store, "queue": queue}
    CSRFProtect(app)
    throttle = SignInThrottle(store, config, clock)

    def local(moment: datetime | None) -> str:
        if moment is None:
            return ""
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")

    app.jinja_env.globals.update(local=local, states=messages.UPLOAD_STATE_LABELS, notice=messages.upload_notice,
                                 course_title="医療とAI・ビッグデータ応用", unsafe_no_sandbox=not isolated)

    @app.before_request
    def load_user():
        """``g.user`` from the session the cookie names, if the server still has it and it has not expired."""
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

    @app.after_request
    def security_headers(response):
        """Every response, error pages included, says what the browser may do with it."""
        response.headers["Content-Security-Policy"] = STUDENT_WORK_POLICY if g.get("student_work") else PAGE_POLICY
        response.headers.update(HEADERS)
        return response

    def student_work(path: Path, *, portal_link: bool = False):
        """A page built from students' notebooks, sent as a sandboxed document (``STUDENT_WORK_POLICY``);
        ``portal_link``: a feedback page, with its link back to the portal (the file on disk has none)."""
        g.student_work = True
        if portal_link:
            return Response(with_portal_link(path.read_text(encoding="utf-8")), mimetype="text/html")
        return send_file(path, mimetype="text/html")

    def signed_in(*roles: str):
        """A view for the signed-in users of ``roles`` (none given: anyone signed in); others get a 403."""
        def decorate(view):
            @wraps(view)
            def run(*args, **kwargs):
                if g.user is None:
                    return redirect(url_for("start"))
                if roles and g.user.role not in roles:
                    abort(403)
                return view(*args, **kwargs)
            return run
        return decorate

    def assignment(assignment_id: str):
        try:
            found = config.assignment(assignment_id)
        except UnknownAssignment:
            abort(404)
        if not course.release_notebook(assignment_id).is_file():
            abort(404)
        return found

    def released() -> list:
        return readiness.offered(course)  # serve has put each of them into the gradebook (readiness.ensure_gradable)

    @app.errorhandler(CSRFError)
    def csrf_error(e):
        return render_template("message.html", title="もう一度お試しください",
                               message="フォームの有効期限が切れたか、正しくない送信です。ページを読み込み直してください。"), 400

    @app.errorhandler(413)
    def too_large(e):
        return render_template("message.html", title="ファイルが大きすぎます",
                               message=f"アップロードできるのは {config.portal_upload_mb} MB までです。"
                                       f"出力を消してから（{messages.COLAB_CLEAR_OUTPUTS}）保存し直してください。"), 413

    @app.get("/")
    def start():
        if g.user is None:
            return render_template("signin.html")
        if g.user.role in (INSTRUCTOR, GRADER):
            return redirect(url_for("instructor"))
        rows, extended = [], extensions.read_extensions(course)
        for a in released():
            due = extensions.due_for(course, a.id, g.user.user_id, extended)  # theirs, if the instructor extended it
            rows.append({"assignment": a, "due": due, "extended": due != a.due, "open": clock() <= due,
                         "uploads": store.uploads_of(g.user.user_id, a.id),
                         "feedback": course.feedback_path(a.id, g.user.user_id).is_file(),
                         "regradable": bool(manual.published_notes(course.assignment(a.id), g.user.user_id))})
        pending = any(r["uploads"] and r["uploads"][0]["state"] in (UploadState.QUEUED, UploadState.GRADING) for r in rows)
        places = queue.view().places if pending else {}
        warming = queue.phase is not None  # serve has just started: uploads wait until grading is ready
        return render_template("student.html", rows=rows, pending=pending, places=places, wait=_wait_text,
                               warming=messages.WARMING_UP if warming else None,
                               warming_place=messages.WARMING_UP_PLACE)

    @app.post("/signin")
    def signin():
        """Check the password unless ``throttle`` has locked this account at this address; count a failure."""
        account, address = request.form.get("user_id", "").strip(), request.remote_addr or ""
        lock = throttle.lock(account, address)
        if lock is not None:
            wait = max(1, math.ceil((lock.until - clock()).total_seconds()))
            return render_template("message.html", title="しばらく待ってください",
                                   message=lock.message(local(_minute_up(lock.until)))), \
                429, {"Retry-After": str(wait)}
        user = store.authenticate(account, request.form.get("password", ""))
        if user is None:
            throttle.failed(account, address)
            flash("学籍番号かパスワードが違います。")
            return redirect(url_for("start"))
        throttle.succeeded(user.user_id, address)
        old = session.get("sid")
        if isinstance(old, str):
            store.end_session(old)
        session.clear()  # a new cookie (and CSRF token) for the signed-in user: nothing fixed before carries over
        session.permanent = True
        session["sid"] = store.start_session(user.user_id, clock(), app.config["PERMANENT_SESSION_LIFETIME"])
        return redirect(url_for("start"))

    @app.post("/signout")
    def signout():
        """End the session on the server: a copy of this cookie opens nothing afterwards."""
        token = session.get("sid")
        if isinstance(token, str):
            store.end_session(token)
        session.clear()
        return redirect(url_for("start"))

    @app.get("/release/<assignment_id>")
    @signed_in()
    def release(assignment_id):
        assignment(assignment_id)
        return send_file(course.release_notebook(assignment_id), as_attachment=True,
                         download_name=f"{assignment_id}.ipynb")

    gate = UploadGate()  # one upload of a student's assignment at a time: see autograder/portal/uploads.py

    @app.post("/upload/<assignment_id>")
    @signed_in(STUDENT)
    def upload(assignment_id):
        student = g.user.user_id
        found = replace(assignment(assignment_id), due=extensions.due_for(course, assignment_id, student))  # theirs
        received = clock()
        if received > found.due:
            flash(f"{found.title} の締め切り（{local(found.due)}）を過ぎたため、受け付けられません。"
                  "締め切りを過ぎた課題は受け取らない決まりです。")
            return redirect(url_for("start")), 303
        with gate.turn(student, assignment_id) as mine:
            if not mine:
                flash(f"{found.title} の別の提出をいま受け付けているところです。下の一覧にその提出が出ていなければ、"
                      "数秒待ってからもう一度提出してください。")
                return redirect(url_for("start")), 303
            # counted before the file is read, and whatever happens to it next: checking is what costs the server
            again = take_upload_attempt(store, config, student, assignment_id, received)
            if again is not None:
                flash(_too_many_uploads(found, again, config.portal_uploads_per_hour, local))
                return redirect(url_for("start")), 303
            file = request.files.get("notebook")
            if file is None or not file.filename:
                flash("ファイルが選ばれていません。")
                return redirect(url_for("start")), 303
            data = file.read()
            problem = _notebook_problem(file.filename, data)
            if problem:
                flash(problem)
                return redirect(url_for("start")), 303
            try:
                upload_id = store_upload(course, store, student, assignment_id, data, received)
            except OSError:
                app.logger.exception("upload of %s by %s could not be stored", assignment_id, student)
                flash("提出をサーバーに保存できませんでした（あなたのファイルのせいではありません）。"
                      "少し時間をおいてもう一度提出し、続くようなら先生に知らせてください。")
                return redirect(url_for("start")), 303
        queue.wake()
        replaced = store.upload(upload_id)["place"] != upload_id
        flash(f"{found.title} を受け付けました（{local(received)}）。"
              + ("採点を待っていた前の提出はこの提出に置き換えました（順番はそのままです）。" if replaced else "")
              + "採点が終わるとこのページに結果が出ます。")
        return redirect(url_for("start")), 303

    @app.get("/feedback/<assignment_id>")
    @signed_in(STUDENT)
    def feedback(assignment_id):
        assignment(assignment_id)
        path = course.feedback_path(assignment_id, g.user.user_id)
        if not path.is_file():
            abort(404)
        return student_work(path, portal_link=True)

    @app.get("/instructor")
    @signed_in(INSTRUCTOR, GRADER)
    def instructor():
        students, view = store.students(), class_page.ClassView.from_query(request.args)
        tables = [(class_page.class_table(course, store, a, students, view), report_built(a.id)) for a in released()]
        line = queue.view()
        oldest = min((row["received_utc"] for row in line.waiting if not row["force"]), default=None)  # a student's
        waited = (clock() - oldest.replace(tzinfo=UTC)).total_seconds() if oldest else None
        return render_template("instructor.html", tables=tables, line=line, oldest=oldest, view=view,
                               filters=class_page.STATES, sorts=class_page.SORTS, long_message=class_page.LONG_MESSAGE,
                               waited=math.floor(waited / 60) if waited is not None else None,
                               warm_up_step=messages.WARM_UP_STEPS.get(line.phase) if line.phase else None,
                               extended=sorted(extensions.read_extensions(course).items()),
                               open_requests=store.open_request_counts())

    @app.post("/instructor/extensions")
    @signed_in(INSTRUCTOR)
    def extend():
        """Give one student a later due time for one assignment (``remove``: take it back)."""
        student_id, assignment_id = request.form.get("student_id", "").strip(), request.form.get("assignment_id", "")
        try:
            due = None if request.form.get("remove") else extensions.parse_due(request.form.get("due", ""),
                                                                                 config.timezone)
            extensions.set_extension(course, student_id, assignment_id, due,
                                     students={s.user_id for s in store.students()})
        except ValueError:
            flash("締め切りの日時が読めません（例 2027-05-30 23:59） / unreadable due time (e.g. 2027-05-30 23:59)")
        except extensions.ExtensionError as e:
            flash(str(e))
        else:
            flash(f"{student_id} の {assignment_id} の締め切りを{'元に戻しました' if due is None else local(due) + ' にしました'} / "
                  f"{'extension removed' if due is None else 'extended'}")
        return redirect(url_for("instructor") + "#extensions"), 303

    @app.post("/instructor/extensions/import")
    @signed_in(INSTRUCTOR)
    def import_extensions():
        """Record every extension of an uploaded CSV (student_id, assignment_id, due), all or none."""
        file = request.files.get("csv")
        try:
            count = extensions.import_extensions(course, (file.read() if file else b"").decode("utf-8"),
                                                 students={s.user_id for s in store.students()})
        except UnicodeDecodeError:
            flash("CSV は UTF-8 で保存してください / save the CSV as UTF-8")
        except extensions.ExtensionError as e:
            flash(f"延長を入れませんでした / no extension recorded: {e}")
        else:
            flash(f"{count} 件の延長を入れました / {count} extensions recorded")
        return redirect(url_for("instructor") + "#extensions"), 303

    @app.post("/instructor/regrade/<assignment_id>/<student_id>")
    @signed_in(INSTRUCTOR)
    def regrade(assignment_id, student_id):
        assignment(assignment_id)
        latest = store.counting(student_id, assignment_id)  # the one the instructor chose, else the latest
        if latest is None:
            abort(404)
        if not store.request_regrade(latest["id"]):
            flash(f"{student_id} の {assignment_id} はいま採点待ちか採点中です。終わってから採点し直してください。 / "
                  "already waiting or being graded")
            return redirect(url_for("instructor")), 303
        queue.wake()
        flash(f"{student_id} の {assignment_id} を採点し直します（採点待ちの学生の提出があれば、その後に採点します） / "
              "regrade queued behind the students' uploads")
        return redirect(url_for("instructor")), 303

    @app.get("/instructor/uploads/<assignment_id>/<student_id>")
    @signed_in(INSTRUCTOR)
    def student_uploads(assignment_id, student_id):
        """A student's kept uploads of an assignment, the one that counts marked, each earlier one choosable."""
        found, student = assignment(assignment_id), store.user(student_id)
        if student is None:
            abort(404)
        counting = store.counting(student_id, assignment_id)
        return render_template("uploads.html", assignment=found, student=student,
                               uploads=store.uploads_of(student_id, assignment_id),
                               counting=counting["id"] if counting else None)

    @app.post("/instructor/choose/<int:upload_id>")
    @signed_in(INSTRUCTOR)
    def choose_upload(upload_id):
        """Make an earlier upload the one that counts: it is graded again, and its grade and feedback replace the
        latest's (the student's next upload counts again)."""
        row = store.upload(upload_id)
        if row is None:
            abort(404)
        assignment(row["assignment_id"])
        back = redirect(url_for("student_uploads", assignment_id=row["assignment_id"],
                                student_id=row["student_id"])), 303
        if not store.choose(upload_id):
            flash("この提出は選べません（採点待ち・採点中・置き換え済み、またはファイルが消えています） / this upload "
                  "cannot be chosen (waiting, being graded, superseded, or its file was pruned)")
            return back
        queue.wake()
        flash(f"{row['student_id']} の {local(row['received_utc'])} の提出を成績の対象にしました。採点し直すと成績とフィードバックが"
              f"置き換わります / the upload of {local(row['received_utc'])} counts now; it is being graded again")
        return back

    @app.post("/instructor/regrade-errors")
    @signed_in(INSTRUCTOR)
    def regrade_errors():
        """Every student's latest upload whose grading failed, queued again (after fixing what made it fail)."""
        queued = store.regrade_errors()
        queue.wake()
        flash(f"採点できなかった提出 {len(queued)} 件を採点し直します（採点待ちの学生の提出の後に採点します） / "
              f"{len(queued)} uploads whose grading failed queued again, behind the students' uploads")
        return redirect(url_for("instructor")), 303

    @app.get("/instructor/feedback/<assignment_id>/<student_id>")
    @signed_in(INSTRUCTOR, GRADER)
    def instructor_feedback(assignment_id, student_id):
        assignment(assignment_id)
        path = course.feedback_path(assignment_id, student_id)
        if not path.is_file():
            abort(404)
        return student_work(path, portal_link=True)

    @app.get("/instructor/grades/<assignment_id>.csv")
    @signed_in(INSTRUCTOR)
    def grades(assignment_id):
        from autograder.tools.export import export_grades

        assignment(assignment_id)
        with tempfile.TemporaryDirectory(prefix="autograder-grades-") as folder:
            out = Path(folder) / f"grades-{assignment_id}.csv"
            export_grades(course.assignment(assignment_id), out)
            data = BytesIO(out.read_bytes())
        return send_file(data, as_attachment=True, download_name=out.name, mimetype="text/csv")

    def report_path(assignment_id: str) -> Path:
        """Where the portal keeps the class report: ``report``'s default, so both show the same file."""
        return course.assignment(assignment_id).report

    def report_built(assignment_id: str) -> datetime | None:
        path = report_path(assignment_id)
        return datetime.fromtimestamp(path.stat().st_mtime, UTC) if path.is_file() else None

    @app.get("/instructor/report/<assignment_id>")
    @signed_in(INSTRUCTOR)
    def report(assignment_id):
        """The last report built (a sandboxed document), or a page with the button that builds it; never builds."""
        found = assignment(assignment_id)
        path = report_path(assignment_id)
        if not path.is_file():
            return render_template("report.html", assignment=found)
        return student_work(path)

    @app.post("/instructor/report/<assignment_id>")
    @signed_in(INSTRUCTOR)
    def build_report(assignment_id):
        """Build the class report from the results as they are now, then show it."""
        from autograder.tools.report import write_report

        assignment(assignment_id)
        write_report(course.assignment(assignment_id), report_path(assignment_id))
        return redirect(url_for("report", assignment_id=assignment_id)), 303

    add_manual_pages(app, course, signed_in=signed_in, assignment=assignment, clock=clock)  # the written answers
    add_regrade_pages(app, course, signed_in=signed_in, assignment=assignment, clock=clock)  # requests about them

    if start_queue:
        queue.start()
    return app


def _minute_up(moment: datetime) -> datetime:
    """``moment`` rounded up to the minute: a time to try again, shown to the minute, is never too early."""
    return (moment + timedelta(seconds=59, microseconds=999_999)).replace(second=0, microsecond=0)


def _too_many_uploads(found: AssignmentConfig, again: datetime, per_hour: int, local: Callable[[datetime], str]) -> str:
    """The Japanese refusal of an upload over ``portal_uploads_per_hour``: may upload again at ``again`` (shown rounded up
    to the minute, so the time shown is never too early)."""
    shown = local(_minute_up(again))
    if again > found.due:
        when = f"締め切り（{local(found.due)}）までに、これ以上は提出できません。"
    else:
        when = f"次に提出できるのは {shown}（日本時間）からです。"
    return (f"{found.title} は1時間に {per_hour} 回まで提出できます（受け付けられなかった提出も数えます）。"
            f"この1時間にもう {per_hour} 回提出したので、今回の提出は受け付けていません。{when}"
            "それまでは、最後に受け付けた提出がそのまま採点されます。")


def _notebook_problem(filename: str, data: bytes, release: ReleaseShape | None = None) -> str | None:
    """Why an upload is not a notebook to grade (Japanese: what is wrong, in which cell, what to do), or None.

    ``release``: the shape of the assignment's release notebook (its cell limit, the grade_ids nbgrader knows);
    by default that of the assignment the request uploads to (``/upload/<assignment_id>`` of this app's course).
    The check's cost is bounded before nbformat parses anything (see ``autograder.course.notebook``).
    """
    from flask import current_app, has_request_context

    if not filename.lower().endswith(".ipynb"):
        return (f"{filename} はノートブック（.ipynb）ではありません。"
                f"Colab なら{messages.COLAB_DOWNLOAD}で保存したファイルを選んでください。")
    if release is None and has_request_context():
        course = current_app.extensions.get("autograder", {}).get("course")
        assignment_id = (request.view_args or {}).get("assignment_id")
        if course is not None and assignment_id:
            release = release_shape(course.release_notebook(assignment_id))
    try:
        check_notebook(data, release=release)
    except NotebookProblem as problem:
        return f"{filename} は受け付けられませんでした。{problem.ja}"
    return None
