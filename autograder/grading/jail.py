"""``python -I …/autograder/grading/jail.py [limits] -- command…``: join cgroups, set resource limits, run ``command``.

The first step of every grading kernel's command (see ``autograder.grading.sandbox``).
Kept free of imports beyond the standard library so that it starts at once.

- ``--cgroup=FILE``: write this process's id into a ``cgroup.procs`` file (repeatable);
- ``--memory=MB``: address space limit (RLIMIT_AS), only when no cgroup limits memory;
- ``--processes=N``: RLIMIT_NPROC, only when not root (root is not bound by it) and no cgroup limits processes;
- ``--file-size=MB``: the largest file the kernel may write (RLIMIT_FSIZE);
- core dumps off.
"""
from __future__ import annotations

import os
import resource
import sys


def main(argv: list[str]) -> int:
    split = argv.index("--")
    options, command = argv[:split], argv[split + 1:]
    cgroups = [o.partition("=")[2] for o in options if o.startswith("--cgroup=")]
    values = {o.partition("=")[0]: int(o.partition("=")[2]) for o in options if not o.startswith("--cgroup=")}
    for procs in cgroups:
        with open(procs, "w") as f:
            f.write(str(os.getpid()))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if "--file-size" in values:
        size = values["--file-size"] * 2**20
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    if not cgroups:
        if "--memory" in values:
            # TensorFlow reserves far more address space than it touches: allow four times the memory limit.
            size = 4 * values["--memory"] * 2**20
            resource.setrlimit(resource.RLIMIT_AS, (size, size))
        if "--processes" in values and os.geteuid() != 0:
            mine = sum(1 for p in os.listdir("/proc") if p.isdigit() and _owner(p) == os.geteuid())
            limit = mine + values["--processes"]
            resource.setrlimit(resource.RLIMIT_NPROC, (limit, limit))
    os.execvp(command[0], command)
    return 127


def _owner(pid: str) -> int:
    try:
        return os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return -1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
