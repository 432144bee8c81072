"""``python -I …/autograder/grading/jail.py [limits] -- command…``: join cgroups, set resource limits, run ``command``.

The first step of every grading kernel's command (see ``autograder.grading.sandbox``).
Kept free of imports beyond the standard library so that it starts at once.

- ``--cgroup=FILE``: write this process's id into a ``cgroup.procs`` file (repeatable);
- ``--memory=MB``: address space limit (RLIMIT_AS), only when no cgroup limits memory;
- ``--processes=N``: RLIMIT_NPROC, only when not root (root is not bound by it) and no cgroup limits processes;
- ``--file-size=MB``: the largest file the kernel may write (RLIMIT_FSIZE);
- ``--hide=PATH``: where bubblewrap is missing (the portal's ``--unsafe-no-sandbox``), confine the kernel as root
  can without it: its own mount and network namespaces, an empty read-only folder over each PATH (the
  portal's session key, database and uploads), a ``/dev`` of harmless devices only, and no capabilities
  at all (so it can neither unmount that cover nor read a raw disk or another process's memory).  If any
  step fails the kernel does not start: a secret must never be readable because hiding it failed;
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
    hidden = [o.partition("=")[2] for o in options if o.startswith("--hide=")]
    values = {o.partition("=")[0]: int(o.partition("=")[2]) for o in options
              if not o.startswith(("--cgroup=", "--hide="))}
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
    if hidden:
        try:
            confine(hidden)
        except OSError as e:
            print(f"採点用カーネルを閉じ込められません / cannot confine the grading kernel: {e}", file=sys.stderr)
            return 126
    os.execvp(command[0], command)
    return 127


CLONE_NEWNS, CLONE_NEWNET = 0x00020000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_BIND, MS_MOVE, MS_REC, MS_PRIVATE = (
    1, 2, 4, 8, 4096, 8192, 16384, 1 << 18)
PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS = 24, 38
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
"""What of ``/dev`` a confined kernel keeps (no disks, no memory devices)."""


def confine(hidden: list[str]) -> None:
    """Own mount and network namespaces, ``hidden`` covered, a small ``/dev``, every capability dropped.

    Raises ``OSError`` for the first step that fails (not root, no CAP_SYS_ADMIN in a container, …).
    """
    import ctypes
    import tempfile

    libc = ctypes.CDLL(None, use_errno=True)

    def check(result: int, what: str) -> None:
        if result != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"{what}: {os.strerror(errno)}")

    def mount(source: str | None, target: str, kind: str | None, flags: int, data: str | None = None) -> None:
        encode = (lambda text: text.encode() if text is not None else None)
        check(libc.mount(encode(source), encode(target), encode(kind), ctypes.c_ulong(flags), encode(data)),
              f"mount {target}")

    if os.geteuid() != 0:
        raise OSError(1, "root でないと隠せません / only root can hide the portal's files without bubblewrap")
    check(libc.unshare(CLONE_NEWNS | CLONE_NEWNET), "unshare")
    mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing done here reaches the host's mounts
    for path in hidden:
        if os.path.isdir(path):
            mount("tmpfs", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,mode=000")
        elif os.path.exists(path):
            mount("/dev/null", path, None, MS_BIND)
    staging = tempfile.mkdtemp(prefix="autograder-dev-")
    mount("tmpfs", staging, "tmpfs", MS_NOSUID, "size=64k,mode=755")
    for device in DEVICES:
        if os.path.exists(f"/dev/{device}"):
            open(f"{staging}/{device}", "w").close()
            mount(f"/dev/{device}", f"{staging}/{device}", None, MS_BIND)
    os.mkdir(f"{staging}/shm", 0o1777)
    mount("tmpfs", f"{staging}/shm", "tmpfs", MS_NOSUID | MS_NODEV, "size=256m,mode=1777")
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                         ("stderr", "/proc/self/fd/2")):
        os.symlink(target, f"{staging}/{name}")
    mount(staging, "/dev", None, MS_MOVE)
    os.rmdir(staging)
    check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    last = int(open("/proc/sys/kernel/cap_last_cap").read())
    for capability in range(last + 1):  # after exec, root keeps only what the bounding set allows: nothing
        check(libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0), f"drop capability {capability}")


def _owner(pid: str) -> int:
    try:
        return os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return -1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
