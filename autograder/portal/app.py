"""The portal's Flask application: Japanese pages, sign-in, uploads before the due date, feedback, instructor pages.

Safety: CSRF tokens on every form (Flask-WTF), a rate limit on sign-in (Flask-Limiter),
sessions that expire (``portal_session_minutes``), an upload size limit and a notebook check,
Argon2id password hashes, and every page of a student's work reachable only by that student
and the instructor.  The clock is the server's (``now`` may be given for tests).
"""
from __future__ import annotations

import secrets
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import wraps
from io import BytesIO
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import (
    Flask,
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
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFError, CSRFProtect

from autograder.course import Course, UnknownAssignment
from autograder.course.notebook import read_notebook
from autograder.portal.queue import GradingQueue
from autograder.portal.store import (
    INSTRUCTOR,
    STATE_LABELS,
    STUDENT,
    Store,
    UploadState,
    default_url,
)


def _secret_key(course: Course) -> str:
    """The key that signs session cookies: kept in the course folder (mode 600) so that restarts keep sessions."""
    path = course.root / ".portal-secret"
    if not path.is_file():
        path.write_text(secrets.token_hex(32), encoding="utf-8")
        path.chmod(0o600)
    return path.read_text(encoding="utf-8").strip()


def create_app(course: Course, *, store: Store | None = None, queue: GradingQueue | None = None,
               now: Callable[[], datetime] | None = None, start_queue: bool = True) -> Flask:
    """The portal for ``course``; with ``start_queue`` its grading queue runs in a background thread."""
    config = course.config
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=_secret_key(course),
        MAX_CONTENT_LENGTH=config.portal_upload_mb * 2**20,
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=config.portal_session_minutes),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
    )
    store = store or Store(config.portal_db_url or default_url(course.root))
    queue = queue or GradingQueue(course, store)
    clock = now or (lambda: datetime.now(UTC))
    zone = ZoneInfo(config.timezone)
    app.extensions["autograder"] = {"course": course, "store": store, "queue": queue}
    CSRFProtect(app)
    limiter = Limiter(get_remote_address, app=app, storage_uri="memory://", default_limits=[])

    def local(moment: datetime | None) -> str:
        if moment is None:
            return ""
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")

    app.jinja_env.globals.update(local=local, states=STATE_LABELS, course_title="医療とAI・ビッグデータ応用")

    @app.before_request
    def load_user():
        g.user = None
        user_id, since = session.get("user_id"), session.get("since")
        if not user_id:
            return
        if since is None or clock() - datetime.fromisoformat(since) > app.config["PERMANENT_SESSION_LIFETIME"]:
            session.clear()
            flash("時間がたったのでサインアウトしました。もう一度サインインしてください。")
            return
        g.user = store.user(user_id)

    def signed_in(role: str | None = None):
        def decorate(view):
            @wraps(view)
            def run(*args, **kwargs):
                if g.user is None:
                    return redirect(url_for("start"))
                if role and g.user.role != role:
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
        return [a for a in config.assignments if course.release_notebook(a.id).is_file()]

    @app.errorhandler(CSRFError)
    def csrf_error(e):
        return render_template("message.html", title="もう一度お試しください",
                               message="フォームの有効期限が切れたか、正しくない送信です。ページを読み込み直してください。"), 400

    @app.errorhandler(413)
    def too_large(e):
        return render_template("message.html", title="ファイルが大きすぎます",
                               message=f"アップロードできるのは {config.portal_upload_mb} MB までです。"
                                       "出力を消してから（「編集」→「すべての出力をクリア」）保存し直してください。"), 413

    @app.errorhandler(429)
    def too_many(e):
        return render_template("message.html", title="しばらく待ってください",
                               message="サインインの試行が多すぎます。1分ほど待ってからもう一度お試しください。"), 429

    @app.get("/")
    def start():
        if g.user is None:
            return render_template("signin.html")
        if g.user.role == INSTRUCTOR:
            return redirect(url_for("instructor"))
        rows = []
        for a in released():
            rows.append({"assignment": a, "open": clock() <= a.due, "uploads": store.uploads_of(g.user.user_id, a.id),
                         "feedback": course.feedback_path(a.id, g.user.user_id).is_file()})
        pending = any(r["uploads"] and r["uploads"][0]["state"] in (UploadState.QUEUED, UploadState.GRADING) for r in rows)
        return render_template("student.html", rows=rows, pending=pending)

    @app.post("/signin")
    @limiter.limit(lambda: config.portal_signin_limit)
    def signin():
        user = store.authenticate(request.form.get("user_id", "").strip(), request.form.get("password", ""))
        if user is None:
            flash("学籍番号かパスワードが違います。")
            return redirect(url_for("start"))
        session.clear()
        session.permanent = True
        session.update(user_id=user.user_id, since=clock().isoformat())
        return redirect(url_for("start"))

    @app.post("/signout")
    def signout():
        session.clear()
        return redirect(url_for("start"))

    @app.get("/release/<assignment_id>")
    @signed_in()
    def release(assignment_id):
        assignment(assignment_id)
        return send_file(course.release_notebook(assignment_id), as_attachment=True,
                         download_name=f"{assignment_id}.ipynb")

    @app.post("/upload/<assignment_id>")
    @signed_in(STUDENT)
    def upload(assignment_id):
        found = assignment(assignment_id)
        received = clock()
        if received > found.due:
            flash(f"{found.title} の締め切り（{local(found.due)}）を過ぎたため、受け付けられません。"
                  "締め切りを過ぎた課題は受け取らない決まりです。")
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
        folder = course.upload_folder(g.user.user_id, assignment_id)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{received.astimezone(UTC).strftime('%Y%m%dT%H%M%S%fZ')}.ipynb"
        path.write_bytes(data)  # stored before it is queued: a crash loses nothing
        store.add_upload(g.user.user_id, assignment_id, received, path)
        queue.wake()
        flash(f"{found.title} を受け付けました（{local(received)}）。採点が終わるとこのページに結果が出ます。")
        return redirect(url_for("start")), 303

    @app.get("/feedback/<assignment_id>")
    @signed_in(STUDENT)
    def feedback(assignment_id):
        assignment(assignment_id)
        path = course.feedback_path(assignment_id, g.user.user_id)
        if not path.is_file():
            abort(404)
        return send_file(path)

    @app.get("/instructor")
    @signed_in(INSTRUCTOR)
    def instructor():
        students = store.students()
        tables = []
        for a in released():
            rows = [{"student": s, "upload": store.latest(s.user_id, a.id),
                     "feedback": course.feedback_path(a.id, s.user_id).is_file()} for s in students]
            tables.append({"assignment": a, "rows": rows})
        return render_template("instructor.html", tables=tables)

    @app.post("/instructor/regrade/<assignment_id>/<student_id>")
    @signed_in(INSTRUCTOR)
    def regrade(assignment_id, student_id):
        assignment(assignment_id)
        latest = store.latest(student_id, assignment_id)
        if latest is None:
            abort(404)
        store.mark(latest["id"], state=UploadState.QUEUED, force=True)
        queue.wake()
        flash(f"{student_id} の {assignment_id} を採点し直します。")
        return redirect(url_for("instructor")), 303

    @app.get("/instructor/feedback/<assignment_id>/<student_id>")
    @signed_in(INSTRUCTOR)
    def instructor_feedback(assignment_id, student_id):
        assignment(assignment_id)
        path = course.feedback_path(assignment_id, student_id)
        if not path.is_file():
            abort(404)
        return send_file(path)

    @app.get("/instructor/grades/<assignment_id>.csv")
    @signed_in(INSTRUCTOR)
    def grades(assignment_id):
        from autograder.tools.export import export_grades

        assignment(assignment_id)
        with tempfile.TemporaryDirectory(prefix="autograder-grades-") as folder:
            out = Path(folder) / f"grades-{assignment_id}.csv"
            export_grades(course, assignment_id, out)
            data = BytesIO(out.read_bytes())
        return send_file(data, as_attachment=True, download_name=out.name, mimetype="text/csv")

    @app.get("/instructor/report/<assignment_id>")
    @signed_in(INSTRUCTOR)
    def report(assignment_id):
        from autograder.tools.report import write_report

        assignment(assignment_id)
        return send_file(write_report(course, assignment_id))

    if start_queue:
        queue.start()
    return app


def _notebook_problem(filename: str, data: bytes) -> str | None:
    """Why an upload is not a notebook to grade (Japanese), or None."""
    if not filename.lower().endswith(".ipynb"):
        return f"{filename} はノートブック（.ipynb）ではありません。Colab なら「ファイル」→「ダウンロード」→「.ipynb をダウンロード」で保存したファイルを選んでください。"
    if read_notebook(data)[1] is not None:  # whatever nbformat found, it means the same to a student
        return f"{filename} はノートブックとして読めません（壊れているか、別の形式です）。保存し直してからもう一度アップロードしてください。"
    return None
