"""No grading without isolation in the portal, and no secret of the portal readable by graded code.

``serve`` refuses a machine where bubblewrap cannot make a sandbox (simulated with a ``bwrap`` that
fails), unless told ``--unsafe-no-sandbox``; then the jail hides the portal's private folder from
each kernel.  The portal's secrets are private from their first byte.
"""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest
from helpers import ROOT, copy_course

from autograder import cli
from autograder.course import load_course
from autograder.grading import canary, sandbox
from autograder.portal import isolation, private
from autograder.portal.app import create_app
from autograder.portal.store import Store

AID = "kadai5"
ROSTER = "student_id,name\ns001,山田 花子\n"


@pytest.fixture
def failing_bwrap(tmp_path, monkeypatch):
    """A ``bwrap`` first on PATH that cannot make a sandbox, as inside a container that forbids namespaces."""
    folder = tmp_path / "bin"
    folder.mkdir()
    fake = folder / "bwrap"
    fake.write_text("#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv(sandbox.HIDE_ENV, raising=False)
    sandbox.probe.cache_clear()
    yield folder
    os.environ.pop(sandbox.HIDE_ENV, None)  # set by isolation.require for the process, as serve needs it
    sandbox.probe.cache_clear()


def _course(tmp_path) -> Path:
    root = tmp_path / "course"
    (root / "release" / AID).mkdir(parents=True)
    for name in ("course_config.py", "nbgrader_config.py"):
        (root / name).write_bytes((ROOT / name).read_bytes())
    (root / "release" / AID / f"{AID}.ipynb").write_bytes((ROOT / "release" / AID / f"{AID}.ipynb").read_bytes())
    return root


def test_serve_refuses_a_machine_without_the_sandbox(failing_bwrap, tmp_path, monkeypatch, capsys):
    """Where bwrap cannot make a sandbox, does serve refuse (exit 3) before the canary, naming what is missing?"""
    root = _course(tmp_path)
    monkeypatch.setattr(canary, "check", lambda *a, **k: pytest.fail("the canary ran on a machine serve must refuse"))
    assert cli.main(["--course-dir", str(root), "serve"]) == 3
    said = capsys.readouterr().err
    assert "ポータルを起動しません" in said and "will not start" in said
    assert "No permissions to create new namespace" in said and "apt-get install bubblewrap" in said
    assert "--unsafe-no-sandbox" in said


def test_unsafe_needs_root_to_hide_the_secrets(failing_bwrap, tmp_path, monkeypatch):
    """With --unsafe-no-sandbox but not root (nothing can hide the secrets), is the portal still refused?"""
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(isolation.NoSandbox, match="root"):
        isolation.require(load_course(_course(tmp_path)), unsafe_no_sandbox=True)
    assert sandbox.HIDE_ENV not in os.environ


@pytest.mark.skipif(os.geteuid() != 0, reason="hiding without bubblewrap needs root")
def test_unsafe_hides_the_portal_folder_and_the_instructor_is_told(failing_bwrap, tmp_path):
    """With --unsafe-no-sandbox as root: are the portal's folder and the course's grades hidden, and does every
    instructor page (never a student's) say that grading is not isolated?"""
    course = load_course(_course(tmp_path))
    assert isolation.require(course, unsafe_no_sandbox=True) is False
    hidden = os.environ[sandbox.HIDE_ENV].split(os.pathsep)
    assert str(private.folder(course).resolve()) in hidden
    assert {str((course.root / name).resolve()) for name in ("source", "submitted", "autograded", "feedback")} <= set(hidden)
    box = sandbox.Sandbox(tmp_path / "box", sandbox.Limits(4096, 512, 1024), sandbox.probe())
    assert f"--hide={private.folder(course).resolve()}" in box.wrap([sys.executable, "-c", "pass"])
    store = Store(private.database_url(course))
    store.set_user("instructor", "担当教員", "pw-instructor", "instructor")
    store.set_user("s001", "山田 花子", "pw-s001", "student")
    app = create_app(course, store=store, start_queue=False, isolated=False)
    for user, password, shown in (("instructor", "pw-instructor", True), ("s001", "pw-s001", False)):
        client = app.test_client()
        page = client.get("/").get_data(as_text=True)
        token = page.split('name="csrf_token" value="')[1].split('"')[0]
        client.post("/signin", data={"user_id": user, "password": password, "csrf_token": token})
        page = client.get("/", follow_redirects=True).get_data(as_text=True)
        assert ('id="unsafe-no-sandbox"' in page) is shown, user


def test_secrets_are_private_from_the_first_byte(tmp_path, monkeypatch):
    """Under a umask that would make files world-readable, are the session key, the database, the issued passwords
    and their folder still private; and do files an older version left in the course folder move in?"""
    root = _course(tmp_path)
    (root / ".portal-secret").write_text("old-key", encoding="utf-8")
    old_umask = os.umask(0)
    try:
        course = load_course(root)
        app = create_app(course, start_queue=False)
        (tmp_path / "roster.csv").write_text(ROSTER, encoding="utf-8")
        assert cli.main(["--course-dir", str(root), "accounts", str(tmp_path / "roster.csv")]) == 0
    finally:
        os.umask(old_umask)
    folder = root / "portal"
    assert app.config["SECRET_KEY"] == "old-key" and not (root / ".portal-secret").exists()
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for name in ("secret-key", "portal.db", "credentials.csv"):
        assert stat.S_IMODE((folder / name).stat().st_mode) == 0o600, name
    assert "s001" in (folder / "credentials.csv").read_text(encoding="utf-8")


CONFINED = textwrap.dedent("""
    import os, socket, subprocess, sys
    hidden = sys.argv[1]
    seen = {}
    for what, attempt in [("list", lambda: os.listdir(hidden)), ("read", lambda: open(hidden + "/secret-key").read()),
                          ("umount", lambda: subprocess.run(["umount", "-l", hidden], capture_output=True).returncode == 0 and os.listdir(hidden)),
                          ("parent", lambda: os.listdir(f"/proc/{os.getppid()}/root{hidden}")),
                          ("init", lambda: os.listdir(f"/proc/1/root{hidden}")),
                          ("disk", lambda: [d for d in os.listdir("/dev") if d.startswith(("sd", "vd", "nvme", "xvd", "mem", "kmem"))] or None),
                          ("net", lambda: socket.create_connection(("1.1.1.1", 53), timeout=3) and "connected")]:
        try:
            seen[what] = attempt()
        except Exception as e:
            seen[what] = type(e).__name__
    print(__import__("json").dumps(seen, default=str))
""")


@pytest.mark.skipif(os.geteuid() != 0, reason="the jail's confinement needs root")
def test_the_jail_hides_folders_and_keeps_no_capabilities(tmp_path):
    """Can a process in the jail's confinement read, list or uncover a hidden folder, reach it through another
    process's /proc entry, open a raw disk or reach the network?"""
    hidden = tmp_path / "portal"
    hidden.mkdir(mode=0o700)
    (hidden / "secret-key").write_text("TOPSECRET", encoding="utf-8")
    jail = Path(sandbox.toolkit_folder()) / "grading" / "jail.py"
    done = subprocess.run([sys.executable, "-I", str(jail), f"--hide={hidden}", "--", sys.executable, "-c", CONFINED,
                           str(hidden)], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["list"] == "PermissionError" and seen["read"] == "PermissionError", seen
    assert seen["umount"] in (False, "PermissionError"), seen
    assert seen["parent"] == "PermissionError" and seen["init"] == "PermissionError", seen
    assert seen["disk"] is None and seen["net"] == "OSError", seen
    assert "TOPSECRET" not in done.stdout


def test_the_jail_refuses_to_start_what_it_cannot_hide(tmp_path, monkeypatch):
    """If hiding fails (not root), does the jail refuse to start the kernel rather than run it with the secrets?"""
    hidden = tmp_path / "portal"
    hidden.mkdir()
    from autograder.grading import jail

    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.setattr(os, "execvp", lambda *a: pytest.fail("the kernel started without its confinement"))
    assert jail.main([f"--hide={hidden}", "--", "true"]) == 126


ATTACK = """# a student's cell looking for the portal's secrets, as in the issue
import glob, os
PORTAL = {portal!r}
found = []
for path in [PORTAL + "/secret-key", PORTAL + "/portal.db", PORTAL + "/credentials.csv",
             *glob.glob("/proc/*/cwd/portal/secret-key"), *glob.glob("/proc/*/root" + PORTAL + "/secret-key")]:
    try:
        with open(path, "rb") as f:
            found.append(f.read(200))
    except Exception as e:
        pass
print("LEAKED", len(found), found)
"""


@pytest.mark.slow
@pytest.mark.skipif(os.geteuid() != 0, reason="hiding without bubblewrap needs root")
def test_graded_code_without_the_sandbox_cannot_read_the_portal_secrets(released_course, failing_bwrap, tmp_path):
    """serve --unsafe-no-sandbox on a machine whose bwrap fails: does a submitted cell that hunts for the session key,
    the database and the passwords find none of them, while the submission is still graded?"""
    course = copy_course(released_course(AID), tmp_path / "course")
    key = private.secret_key(course)
    Store(private.database_url(course))
    private.create_file(private.credentials_path(course), b"user_id,password\ninstructor,INSTRUCTOR-PASSWORD\n")
    notebook = nbformat.read(course.release_notebook(AID), as_version=4)
    notebook.cells.insert(0, nbformat.v4.new_code_cell(ATTACK.format(portal=str(private.folder(course).resolve()))))
    course.file_submission(AID, "attacker", nbformat.writes(notebook))
    script = textwrap.dedent(f"""
        from autograder.course import load_course
        from autograder.grading.grade import grade
        from autograder.portal import isolation
        course = load_course({str(course.root)!r})
        assert isolation.require(course, unsafe_no_sandbox=True) is False
        (result,) = grade(course, {AID!r}, ["attacker"], workers=1, progress=False)
        print("RESULT", result.status, result.score, result.message)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=900, check=False,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "RESULT graded 0" in done.stdout, done.stdout[-3000:]
    graded = (course.autograded_dir(AID, "attacker") / f"{AID}.ipynb").read_text(encoding="utf-8")
    assert "LEAKED 0 []" in graded
    assert key not in graded and "INSTRUCTOR-PASSWORD" not in graded
