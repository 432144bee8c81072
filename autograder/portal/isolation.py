"""Whether the portal may grade on this machine: only in the sandbox, or, told so explicitly, with its secrets hidden.

A student's notebook graded without bubblewrap runs as the server's user; tested from a
student's side, one cell found the course folder through ``/proc/*/cwd`` and printed the
session key and every issued password into its own feedback page.  So ``serve`` refuses
to start unless the machine gives the full sandbox, or the instructor passes
``--unsafe-no-sandbox``; then the grading kernels run in the jail's confinement
(``autograder.grading.jail.confine``: own mount and network namespaces, the course folder,
every grading child's work, the host's service sockets covered, a user of their own without
capabilities), which needs root, and the instructor's pages say that grading is not isolated.
With a Dask scheduler (``serve --scheduler``) the portal grades on its workers only, each of
which must show the full sandbox (``autograder.grading.pool``).
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

from autograder.course import Course
from autograder.errors import AutograderError
from autograder.grading import sandbox
from autograder.portal import private


class NoSandbox(AutograderError):
    """The machine cannot isolate grading and the portal was not told to go on without it (bilingual)."""

    exit_code = 3


def hidden_paths(course: Course) -> list[str]:
    """What a kernel graded without the sandbox must not see: the whole course folder (the portal's private folder,
    sources, submissions, grades, feedback, settings) and the portal's database and the gradebook if they are
    SQLite files elsewhere.  The jail gives back from under these covers only what the kernel needs to run."""
    from sqlalchemy.engine import make_url

    paths = [course.root]  # the portal's private folder, in it, is covered with it
    for url in (course.db_url, private.database_url(course)):
        parsed = make_url(url)
        if parsed.drivername.startswith("sqlite") and parsed.database not in (None, "", ":memory:"):
            paths.append(Path(parsed.database))
    return [str(p.resolve()) for p in paths]


def require(course: Course, *, unsafe_no_sandbox: bool = False, scheduler: str | None = None) -> bool:
    """Check that the portal may grade here; returns whether grading is isolated (False: ``--unsafe-no-sandbox``).

    Raises ``NoSandbox`` when the machine cannot give the full sandbox and ``unsafe_no_sandbox`` is not set,
    or when it is set but the portal's secrets cannot be hidden from graded code (not root).  With a Dask
    ``scheduler`` nothing is graded here: its workers' sandbox is checked when the pool opens
    (``GradingPool(require_isolation=True)``), and ``unsafe_no_sandbox`` is refused (the jail that hides the
    portal's files is set up for local workers only).
    """
    if scheduler:
        if unsafe_no_sandbox:
            raise NoSandbox(
                "--unsafe-no-sandbox は、この機械で採点するときだけ使えます（scheduler の機械の隔離はポータルが"
                "点検し、足りなければ採点しません）。\n"
                "--unsafe-no-sandbox applies to grading on this machine only: with a scheduler, the portal checks its "
                "workers' sandbox when it starts and refuses workers without it.")
        return True
    capabilities = sandbox.probe()
    if capabilities.isolated:
        if warning := capabilities.warning():  # a part short of the full sandbox (CPU cgroups, the home's size)
            logging.getLogger("autograder.portal").warning(warning)
        return True
    missing = "\n".join(f"  - {problem}" for problem in capabilities.problems)
    if not unsafe_no_sandbox:
        raise NoSandbox(
            "この機械では採点を隔離できないため、ポータルを起動しません。提出物のコードがセッションの鍵や"
            "パスワード、成績を読めてしまいます。\n"
            "The portal will not start: this machine cannot isolate grading, and submitted code could read the "
            f"session key, the issued passwords and the grades.\n{missing}\n"
            "  bubblewrap を入れてください / install bubblewrap: sudo apt-get install bubblewrap  (make sandbox)\n"
            "  コンテナの中なら、利用者の名前空間を許してください / in a container, allow user namespaces "
            "(e.g. docker run --security-opt seccomp=unconfined, or sysctl kernel.unprivileged_userns_clone=1).\n"
            "  隔離なしで動かすなら（非推奨） / to grade without the sandbox anyway (not recommended): "
            "python -m autograder serve --unsafe-no-sandbox (as root)")
    if os.geteuid() != 0:
        raise NoSandbox(
            "--unsafe-no-sandbox でも、root でなければ提出物のコードからポータルの秘密（セッションの鍵、"
            "データベース、パスワード）を隠せません。bubblewrap を入れるか、root で起動してください。\n"
            "Even with --unsafe-no-sandbox the portal needs root to hide its secrets (session key, database, "
            "passwords) from graded code without bubblewrap: install bubblewrap, or start it as root.\n" + missing)
    os.environ[sandbox.HIDE_ENV] = os.pathsep.join(hidden_paths(course))  # the local Dask workers inherit it
    return False
