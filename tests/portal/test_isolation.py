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
import tempfile
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


def test_the_portal_grades_on_no_scheduler_worker_without_the_sandbox(failing_bwrap, tmp_path):
    """With a Dask scheduler whose worker cannot make a sandbox (its bwrap fails), does the portal's pool refuse to
    open, naming the worker, before any canary or upload runs there; and is --unsafe-no-sandbox refused with one?"""
    import logging

    from dask.distributed import LocalCluster

    from autograder.grading.pool import GradingPool, PoolNotIsolated

    course = load_course(_course(tmp_path))
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=logging.ERROR) as cluster:  # its worker inherits the failing bwrap on PATH
        address = cluster.scheduler_address
        assert isolation.require(course, scheduler=address)  # nothing is graded on this machine
        with pytest.raises(isolation.NoSandbox, match="scheduler"):
            isolation.require(course, unsafe_no_sandbox=True, scheduler=address)
        pool = GradingPool(course, scheduler=address, require_isolation=True)
        with pytest.raises(PoolNotIsolated) as refused:
            pool.open()
        (worker,) = cluster.scheduler_info["workers"]
        assert worker in str(refused.value) and "bubblewrap" in str(refused.value) and pool.client is None
        assert refused.value.exit_code == 3


def test_unsafe_needs_root_to_hide_the_secrets(failing_bwrap, tmp_path, monkeypatch):
    """With --unsafe-no-sandbox but not root (nothing can hide the secrets), is the portal still refused?"""
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(isolation.NoSandbox, match="root"):
        isolation.require(load_course(_course(tmp_path)), unsafe_no_sandbox=True)
    assert sandbox.HIDE_ENV not in os.environ


@pytest.mark.skipif(os.geteuid() != 0, reason="hiding without bubblewrap needs root")
def test_unsafe_hides_the_course_and_the_instructor_is_told(failing_bwrap, tmp_path):
    """With --unsafe-no-sandbox as root: are the course folder, the temporary folder of every grading child and the
    host's sockets covered, only the kernel's own folders given back, and does every instructor page (never a
    student's) say that grading is not isolated?"""
    course = load_course(_course(tmp_path))
    assert isolation.require(course, unsafe_no_sandbox=True) is False
    hidden = os.environ[sandbox.HIDE_ENV].split(os.pathsep)
    assert str(course.root.resolve()) in hidden and str(course.root.resolve() / "gradebook.db") in hidden
    box = sandbox.Sandbox(tmp_path / "box", sandbox.Limits(4096, 512, 1024), sandbox.probe())
    box.start()
    box.stop()  # its cgroups and the home's tmpfs (root mounts one, bubblewrap or not): only the command is looked at
    box.release()
    box.bind_ro.append(("/data/keras", f"{sandbox.HOME}/.keras/datasets"))
    command = box.wrap([sys.executable, "-c", "pass"])
    jail = command[:command.index("--")]
    for option in (f"--hide={course.root.resolve()}", f"--hide={tempfile.gettempdir()}", "--hide=/run", "--hide=/root",
                   f"--home={box.home}", f"--expose={box.folder / 'ipc'}", f"--expose-ro={sandbox.toolkit_folder()}",
                   f"--bind-ro=/data/keras:{box.home / '.keras' / 'datasets'}"):
        assert option in jail, option
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
    import json, os, socket, sys
    course, box, checkout, student = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
    seen = {}
    def attempt(what, action):
        try:
            seen[what] = action()
        except Exception as e:
            seen[what] = type(e).__name__
    def leave():
        for path in ("/tmp/left", "/var/tmp/left", "/dev/shm/left"):
            with open(path, "w") as f:
                f.write(student)
        return True
    def fill():
        written = 0
        try:
            for n in range(100):
                with open(f"fill{n}.bin", "wb") as f:
                    for _ in range(4):
                        f.write(b"x" * 2**20)
                        written += 2**20
        except OSError as e:
            return [e.errno, written // 2**20]
        return ["not stopped", written // 2**20]
    attempt("uid", os.getuid)
    attempt("secret", lambda: open(course + "/portal/secret-key").read())
    attempt("settings", lambda: open(course + "/course_config.py", "a").write("import os"))
    attempt("solutions", lambda: open(box + "/course/source/kadai5/kadai5.ipynb").read())
    attempt("climb", lambda: open("../course/source/kadai5/kadai5.ipynb").read())
    attempt("climb_proc", lambda: open("/proc/self/cwd/../course/source/kadai5/kadai5.ipynb").read())
    attempt("other_checkout", lambda: open(checkout + "/source/kadai5/kadai5.ipynb").read())
    attempt("checkout", lambda: sorted(os.listdir(checkout)))
    attempt("listing", lambda: sorted(os.listdir("/")))
    attempt("root_home", lambda: sorted(os.listdir("/root")))
    attempt("connection", lambda: open(box + "/ipc/kernel.json").read())
    attempt("work", lambda: open("answer.txt", "w").write("ok"))
    attempt("evidence", lambda: open(os.environ["HOME"] + "/.autograder-evidence/x", "w").write("ok"))
    attempt("data", lambda: os.listdir(os.environ["HOME"] + "/.keras/datasets"))
    attempt("left_before", lambda: [p for p in ("/tmp/left", "/var/tmp/left", "/dev/shm/left") if os.path.exists(p)])
    attempt("leave", leave)
    attempt("signal", lambda: os.kill(os.getppid(), 0))
    attempt("init", lambda: os.listdir("/proc/1/root/"))
    attempt("processes", lambda: len([p for p in os.listdir("/proc") if p.isdigit()]))
    attempt("sockets", lambda: os.listdir("/run"))
    attempt("sysctl", lambda: open("/proc/sys/kernel/core_pattern", "w").write("|/bin/sh"))
    attempt("disk", lambda: [d for d in os.listdir("/dev") if d.startswith(("sd", "vd", "nvme", "xvd", "mem", "kmem"))] or None)
    attempt("net", lambda: socket.create_connection(("1.1.1.1", 53), timeout=3) and "connected")
    attempt("capabilities", lambda: [l.split()[1] for l in open("/proc/self/status") if l.startswith(("CapEff", "CapPrm"))])
    attempt("numpy", lambda: __import__("numpy").__name__)
    attempt("quota", fill)
    print(json.dumps(seen, default=str))
""")


@pytest.mark.skipif(os.geteuid() != 0, reason="the jail's confinement needs root")
def test_the_jail_confines_a_kernel_without_bubblewrap(tmp_path, monkeypatch):
    """In the jail's confinement (issue 23: from an allow-list), can a kernel read the portal's key, change the
    course's settings, read the grading child's solutions or another checkout's ``source/``, see anything of the
    machine but the system, Python, the toolkit and its own folders, leave a file in ``/tmp``, ``/var/tmp`` or
    ``/dev/shm`` for the next student, write more than its home's size in many files, signal a process of the server,
    reach /proc/1/root, the host's sockets, a sysctl, a raw disk or the network, or keep a capability, while it still
    runs Python, reads the data and writes its own folders?"""
    course = tmp_path / "course"
    (course / "portal").mkdir(parents=True, mode=0o700)
    (course / "portal" / "secret-key").write_text("TOPSECRET", encoding="utf-8")
    (course / "course_config.py").write_text("CONFIG = None\n", encoding="utf-8")
    (tmp_path / "data").mkdir()
    monkeypatch.setenv(sandbox.HIDE_ENV, str(course))
    caps = sandbox.Capabilities(bwrap=None, cgroup=None, mount=True)
    seen = {}
    for student in ("s1", "s2"):  # one after the other, as two students' kernels on one worker
        box = sandbox.Sandbox(tmp_path / f"box-{student}", sandbox.Limits(4096, 512, 32), caps)
        box.start()  # its home: a tmpfs of 32 MB
        try:
            assert box.mounted
            box.bind_ro.append((str(tmp_path / "data"), f"{sandbox.HOME}/.keras/datasets"))
            work = box.folder / "course" / "submitted" / student / "kadai5"
            for folder in (box.folder / "ipc", work, box.folder / "course" / "source" / "kadai5"):
                folder.mkdir(parents=True)
            (box.folder / "course" / "source" / "kadai5" / "kadai5.ipynb").write_text("SOLUTIONS", encoding="utf-8")
            (box.folder / "ipc" / "kernel.json").write_text("{}", encoding="utf-8")
            (box.folder / "ipc" / "kernel.json").chmod(0o600)
            command = box.wrap([sys.executable, "-c", CONFINED, str(course), str(box.folder), str(ROOT), student,
                                str(box.folder / "ipc" / "kernel.json")])
            done = subprocess.run(command, cwd=work, capture_output=True, text=True, timeout=120, check=False)
            assert done.returncode == 0, done.stderr
            seen[student] = json.loads(done.stdout)
            assert (box.home / "answer.txt").read_text() == "ok"  # its working folder is its home
        finally:
            box.release()
    first, second = seen["s1"], seen["s2"]
    assert first["uid"] >= 200_000, first
    for key in ("secret", "settings", "solutions", "climb", "climb_proc", "other_checkout", "sockets"):
        assert first[key] == "FileNotFoundError", (key, first)
    allowed = [Path(p) for p in (*sandbox.SYSTEM_PATHS, *sandbox.python_paths(), str(sandbox.toolkit_folder()),
                                 "/tmp", "/var/tmp", "/dev", "/proc")]
    assert set(first["listing"]) <= {p.parts[1] for p in allowed} and "run" not in first["listing"], first["listing"]
    # /root only as far as the Python installation lives there (pyenv), else not at all
    assert first["root_home"] == "FileNotFoundError" or set(first["root_home"]) <= {
        p.parts[2] for p in allowed if p.parts[1] == "root" and len(p.parts) > 2}, first["root_home"]
    assert set(first["checkout"]) <= {"autograder", ".venv"}, first  # the toolkit (and a venv there), no source/
    assert first["left_before"] == [] and first["leave"] is True and second["left_before"] == [], second
    assert not any(Path(p).exists() for p in ("/var/tmp/left", "/dev/shm/left")), "left on the host"
    assert first["signal"] == first["sysctl"] == "PermissionError", first
    assert first["init"] in ("FileNotFoundError", "PermissionError") and first["processes"] <= 3, first  # its own only
    assert first["disk"] is None and first["net"] == "OSError", first
    assert first["capabilities"] == ["0000000000000000", "0000000000000000"], first
    assert first["connection"] == "{}" and first["work"] == first["evidence"] == 2 and first["data"] == [], first
    assert first["numpy"] == "numpy"
    errno, megabytes = first["quota"]
    assert errno == 28 and megabytes <= 32, first["quota"]  # ENOSPC: one quota for the whole home, not per file
    assert (course / "course_config.py").read_text(encoding="utf-8") == "CONFIG = None\n"


def test_the_jail_refuses_to_start_what_it_cannot_hide(tmp_path, monkeypatch):
    """If hiding fails (not root), does the jail refuse to start the kernel rather than run it with the secrets?"""
    hidden = tmp_path / "portal"
    hidden.mkdir()
    from autograder.grading import jail

    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.setattr(os, "execvp", lambda *a: pytest.fail("the kernel started without its confinement"))
    assert jail.main([f"--hide={hidden}", "--", "true"]) == 126


@pytest.mark.skipif(os.geteuid() != 0, reason="the jail's confinement needs root")
def test_the_jail_refuses_to_show_a_folder_that_holds_a_secret(tmp_path):
    """A folder on the allow-list that holds what must stay hidden (a toolkit or Python installed at the top of the
    course folder, say): does the jail refuse to start the kernel rather than show it?"""
    course = tmp_path / "course"
    (course / "portal").mkdir(parents=True)
    (tmp_path / "home").mkdir()
    jail = Path(sandbox.toolkit_folder()) / "grading" / "jail.py"
    done = subprocess.run([sys.executable, "-I", str(jail), f"--hide={course / 'portal'}", f"--home={tmp_path / 'home'}",
                           f"--expose-ro={course}", "--", "true"], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 126 and "must stay hidden" in done.stderr, (done.returncode, done.stderr)


ATTACK = """# a student's cell looking for the portal's secrets, as in the issue, and for the solutions
import glob, os
PORTAL = {portal!r}
found = []
for path in [PORTAL + "/secret-key", PORTAL + "/portal.db", PORTAL + "/credentials.csv",
             *glob.glob("/proc/*/cwd/portal/secret-key"), *glob.glob("/proc/*/root" + PORTAL + "/secret-key"),
             *glob.glob("/proc/*/cwd/../../../source/*/*.ipynb"), *glob.glob("/tmp/**/source/*/*.ipynb", recursive=True)]:
    try:
        with open(path, "rb") as f:
            found.append(f.read(200))
    except Exception as e:
        pass
try:
    open({settings!r}, "a").write("print('injected')\\n")
    wrote = True
except Exception:
    wrote = False
print("LEAKED", len(found), found, "WROTE", wrote)
"""


@pytest.mark.slow
@pytest.mark.skipif(os.geteuid() != 0, reason="hiding without bubblewrap needs root")
def test_graded_code_without_the_sandbox_cannot_read_the_portal_secrets(released_course, failing_bwrap, tmp_path):
    """serve --unsafe-no-sandbox on a machine whose bwrap fails: does a submitted cell that hunts for the session key,
    the database, the passwords and the solutions find none of them and fail to change the course's settings, while
    the submission is still graded?"""
    course = copy_course(released_course(AID), tmp_path / "course")
    key = private.secret_key(course)
    Store(private.database_url(course))
    private.create_file(private.credentials_path(course), b"user_id,password\ninstructor,INSTRUCTOR-PASSWORD\n")
    notebook = nbformat.read(course.release_notebook(AID), as_version=4)
    notebook.cells.insert(0, nbformat.v4.new_code_cell(ATTACK.format(portal=str(private.folder(course).resolve()),
                                                                       settings=str(course.root / "course_config.py"))))
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
    graded = course.assignment(AID).autograded("attacker").read_text(encoding="utf-8")
    first = json.loads(graded)["cells"][0]
    assert "LEAKED 0 [] WROTE False" in graded, first["outputs"]
    assert key not in graded and "INSTRUCTOR-PASSWORD" not in graded
