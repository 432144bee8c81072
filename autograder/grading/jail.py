"""``python -I …/autograder/grading/jail.py [limits] -- command…``: join cgroups, set resource limits, run ``command``.

The first step of every grading kernel's command (see ``autograder.grading.sandbox``).
Kept free of imports beyond the standard library so that it starts at once.

- ``--cgroup=FILE``: write this process's id into a ``cgroup.procs`` file (repeatable);
- ``--memory=MB``: address space limit (RLIMIT_AS), only when no cgroup limits memory;
- ``--processes=N``: RLIMIT_NPROC, only when not root (root is not bound by it) and no cgroup limits processes;
- ``--file-size=MB``: the largest file the kernel may write (RLIMIT_FSIZE);
- without bubblewrap (the portal's ``--unsafe-no-sandbox``), as root, ``--hide=PATH`` (repeatable) confines the
  kernel as well as root can without it (``confine``): its own mount and network namespaces; an empty folder
  over each PATH (the course folder, the temporary folder holding every grading child's work and the other
  kernels, ``/run`` with the host's service sockets, ``/root``); back from under those covers only what the
  kernel needs: ``--expose=PATH`` read-write (its connection sockets; its working folder always),
  ``--expose-ro=PATH`` read-only (the Python installation, the toolkit), ``--home=PATH`` its home, read-write,
  with ``--bind-ro=SOURCE:TARGET`` inside it (Keras's data); a ``/dev`` of harmless devices; and then a user
  of its own (an unprivileged uid no other process has, no capabilities, no way to gain any), so that file
  permissions, signals and ``/proc`` keep it away from everything else of the machine.  If any step fails
  the kernel does not start: a secret must never be readable because hiding it failed;
- core dumps off.
"""
from __future__ import annotations

import os
import resource
import sys


def main(argv: list[str]) -> int:
    split = argv.index("--")
    options, command = argv[:split], argv[split + 1:]
    listed = {name: [o.partition("=")[2] for o in options if o.startswith(f"{name}=")] for name in PATH_OPTIONS}
    values = {o.partition("=")[0]: int(o.partition("=")[2]) for o in options if not o.startswith(PATH_OPTIONS)}
    cgroups = listed["--cgroup"]
    for procs in cgroups:
        with open(procs, "w") as f:
            f.write(str(os.getpid()))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if "--file-size" in values:
        size = values["--file-size"] * 2**20
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    if not cgroups and "--memory" in values:
        # TensorFlow reserves far more address space than it touches: allow four times the memory limit.
        size = 4 * values["--memory"] * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (size, size))
    user = None
    if listed["--hide"]:
        try:
            user = confine(listed["--hide"], home=(listed["--home"] or [None])[-1], expose=listed["--expose"],
                           expose_ro=listed["--expose-ro"],
                           bind_ro=[tuple(b.split(":", 1)) for b in listed["--bind-ro"]], command=command)
        except OSError as e:
            print(f"採点用カーネルを閉じ込められません / cannot confine the grading kernel: {e}", file=sys.stderr)
            return 126
    if not cgroups and "--processes" in values and os.geteuid() != 0:
        mine = sum(1 for p in os.listdir("/proc") if p.isdigit() and _owner(p) == os.geteuid())
        limit = (0 if user is not None else mine) + values["--processes"]
        resource.setrlimit(resource.RLIMIT_NPROC, (limit, limit))
    os.execvp(command[0], command)
    return 127


PATH_OPTIONS = ("--cgroup", "--hide", "--expose", "--expose-ro", "--home", "--bind-ro")
"""Options that take a path (the others take a number)."""

FIRST_UID = 200_000
"""Confined kernels run as ``FIRST_UID + (jail's pid mod 100000)``: a uid no account has, and no two kernels that
run at the same time share (each kernel's jail has its own process id)."""


CLONE_NEWNS, CLONE_NEWNET = 0x00020000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND, MS_MOVE, MS_REC, MS_PRIVATE = (
    1, 2, 4, 8, 32, 4096, 8192, 16384, 1 << 18)
PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS = 24, 38
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
"""What of ``/dev`` a confined kernel keeps (no disks, no memory devices)."""


def confine(hidden: list[str], *, home: str | None, expose: list[str], expose_ro: list[str],
            bind_ro: list[tuple[str, str]], command: list[str]) -> int:
    """Confine this process (then ``exec``) as ``main`` describes; returns the uid it now runs as.

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
    uid = FIRST_UID + os.getpid() % 100_000
    here = os.getcwd()
    writable = [*expose, here, *([home] if home else [])]
    for path in writable:  # the kernel's own folders become its user's (the connection file too: it must read it)
        for folder, _, files in os.walk(path):
            os.chown(folder, uid, uid)
            for name in files:
                os.chown(os.path.join(folder, name), uid, uid, follow_symlinks=False)
    for argument in command:
        if argument.endswith(".json") and any(argument.startswith(w + "/") for w in writable):
            os.chown(argument, uid, uid)
    real = lambda path: os.path.realpath(path)  # noqa: E731
    covers = [real(h) for h in hidden if os.path.isdir(h) and not os.path.islink(h)]
    files = [real(h) for h in hidden if os.path.isfile(h)]
    # what must come back from under a cover: opened now, mounted again from its descriptor once covered
    back = [(real(p), True) for p in writable] + [(real(p), False) for p in expose_ro if os.path.exists(p)]
    check(libc.unshare(CLONE_NEWNS | CLONE_NEWNET), "unshare")
    mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing done here reaches the host's mounts
    # opened in this namespace (a bind mount's source must be), before the covers hide them
    back = [(p, rw, os.open(p, os.O_PATH)) for p, rw in back if any(p == c or p.startswith(c + "/") for c in covers)]
    sources = [(os.open(s, os.O_PATH), t) for s, t in bind_ro if os.path.isdir(s)]
    def under(path: str, folders) -> bool:
        return any(path == f or path.startswith(f.rstrip("/") + "/") for f in folders)

    done_covers: list[str] = []
    done_back: list[str] = []
    steps = sorted([(c, None) for c in covers] + [(p, (rw, d)) for p, rw, d in back], key=lambda s: (len(s[0]), s[1] is not None))
    for path, exposure in steps:  # outer before inner, a cover before what comes back from under it
        if exposure is None:
            if under(path, done_covers) and not under(path, done_back):
                continue  # already hidden by an outer cover
            os.makedirs(path, exist_ok=True)
            mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=755")
            done_covers.append(path)
            continue
        rw, descriptor = exposure
        os.makedirs(path, exist_ok=True)
        mount(f"/proc/self/fd/{descriptor}", path, None, MS_BIND | MS_REC)
        if not rw:
            mount(None, path, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
        os.close(descriptor)
        done_back.append(path)
    for path in files:
        if not under(path, done_covers) or under(path, done_back):
            mount("/dev/null", path, None, MS_BIND)
    for descriptor, target in sources:
        os.makedirs(target, exist_ok=True)
        mount(f"/proc/self/fd/{descriptor}", target, None, MS_BIND | MS_REC)
        mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
        os.close(descriptor)
    for path in covers:  # what the kernel made there stays its own (and a fresh /tmp is its to write)
        if path == real(tempfile.gettempdir()):
            os.chmod(path, 0o1777)
    staging = tempfile.mkdtemp(prefix="autograder-dev-")  # on the fresh /tmp when it is covered
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
    # the working folder held from before is the one under the cover, whose ".." leads to everything the cover
    # hides (the grading child's sources): enter it again, through what came back
    os.chdir(here)
    if home:
        os.environ.update(HOME=home, KERAS_HOME=f"{home}/.keras", MPLCONFIGDIR=f"{home}/.config/matplotlib",
                          IPYTHONDIR=f"{home}/.ipython", TMPDIR="/tmp")
    check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    last = int(open("/proc/sys/kernel/cap_last_cap").read())
    for capability in range(last + 1):  # nothing can be gained back, not even by a set-uid program
        check(libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0), f"drop capability {capability}")
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)  # from root to another user: every capability goes, permitted and ambient included
    return uid


def _owner(pid: str) -> int:
    try:
        return os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return -1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
