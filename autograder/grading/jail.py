"""``python -I …/autograder/grading/jail.py [limits] -- command…``: join cgroups, set resource limits, run ``command``.

The first step of every grading kernel's command (see ``autograder.grading.sandbox``).
Kept free of imports beyond the standard library so that it starts at once.

- ``--cgroup=FILE``: write this process's id into a ``cgroup.procs`` file (repeatable);
- ``--memory=MB``: address space limit (RLIMIT_AS), only when no cgroup limits memory;
- ``--processes=N``: RLIMIT_NPROC, only when not root (root is not bound by it) and no cgroup limits processes;
- ``--file-size=MB``: the largest file the kernel may write (RLIMIT_FSIZE);
- without bubblewrap (the portal's ``--unsafe-no-sandbox``), as root, ``--hide=PATH`` (repeatable) confines the
  kernel as well as root can without it (``confine``), from an allow-list: a new root file system of its own (in
  its own mount and network namespaces) holding only ``--expose-ro=PATH`` read-only (the system's folders, Python,
  the toolkit), ``--home=PATH`` read-write (the kernel's home and working folder, a size-limited tmpfs that the
  grading child mounted: one quota for everything the kernel writes there) with ``--bind-ro=SOURCE:TARGET`` inside
  it (Keras's data), ``--expose=PATH`` read-write (its connection sockets), a ``/dev`` of harmless devices, its own
  empty ``/tmp``, ``/var/tmp`` and ``/dev/shm`` (small tmpfs that vanish with the kernel: nothing passes to the next
  student) and a ``/proc`` that shows only its own processes.  Nothing else of the machine is there: not the
  course, not another checkout, not ``/run``.  The PATHs of ``--hide`` must stay out of sight: the jail refuses a
  shown folder that holds one.  Then it becomes a user of its own (an unprivileged uid no other process has, no
  capabilities, no way to gain any).  If any step fails the kernel does not start: a secret must never be readable
  because hiding it failed;
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
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 8, 32, 4096, 16384, 1 << 18
MNT_DETACH = 2
PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS = 24, 38
PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41, "ppc64le": 203, "s390x": 217}
"""The ``pivot_root`` system call's number (glibc has no wrapper for it)."""
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
"""What of ``/dev`` a confined kernel keeps (no disks, no memory devices)."""
SCRATCH = {"/tmp": "64m", "/var/tmp": "64m", "/dev/shm": "256m"}
"""The writable places every program expects, each a fresh tmpfs of this size for one kernel only."""


def confine(hidden: list[str], *, home: str | None, expose: list[str], expose_ro: list[str],
            bind_ro: list[tuple[str, str]], command: list[str]) -> int:
    """Confine this process (then ``exec``) as ``main`` describes; returns the uid it now runs as.

    Raises ``OSError`` for the first step that fails (not root, no CAP_SYS_ADMIN in a container, …).
    """
    import ctypes
    import platform

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
    if not home:
        raise OSError(22, "--home がありません / the kernel needs its home (its working folder)")
    if platform.machine() not in PIVOT_ROOT:
        raise OSError(38, f"pivot_root: unknown machine {platform.machine()}")
    uid = FIRST_UID + os.getpid() % 100_000
    real = os.path.realpath
    writable = [real(p) for p in (*expose, home)]
    shown = [p for p in expose_ro if os.path.lexists(p)]
    for secret in map(real, hidden):
        for path in (*writable, *(real(p) for p in shown)):
            if secret == path or secret.startswith(path.rstrip("/") + "/"):
                raise OSError(1, f"{path} would show {secret}, which must stay hidden")
    for _, target in bind_ro:  # made now, so that the folders up to it are the kernel's (Keras writes in ~/.keras)
        os.makedirs(target, exist_ok=True)
    for path in writable:  # the kernel's own folders become its user's (the connection file too: it must read it)
        for folder, _, files in os.walk(path):
            os.chown(folder, uid, uid)
            for name in files:
                os.chown(os.path.join(folder, name), uid, uid, follow_symlinks=False)
    for argument in command:
        if argument.endswith(".json") and any(argument.startswith(w + "/") for w in writable):
            os.chown(argument, uid, uid)

    check(libc.unshare(CLONE_NEWNS | CLONE_NEWNET), "unshare")
    mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing done here reaches the host's mounts
    # the new root: an empty tmpfs beside the home (in the grading child's folder, removed after grading)
    new = os.path.join(os.path.dirname(real(home)), "jail-root")
    os.makedirs(new, exist_ok=True)
    mount("tmpfs", new, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=755")

    def inside(path: str) -> str:
        return new + path

    def bind(source: str, target: str, *, read_only: bool) -> None:
        if os.path.isdir(source):
            os.makedirs(inside(target), exist_ok=True)
        else:
            os.makedirs(os.path.dirname(inside(target)), exist_ok=True)
            open(inside(target), "a").close()
        mount(source, inside(target), None, MS_BIND | MS_REC)
        if read_only:
            mount(None, inside(target), None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)

    def scratch(target: str, size: str) -> None:
        os.makedirs(inside(target), exist_ok=True)
        mount("tmpfs", inside(target), "tmpfs", MS_NOSUID | MS_NODEV, f"size={size},mode=1777")

    # parents before what is mounted inside them (the home and the sockets live under the temporary folder)
    steps = [(p, "ro") for p in shown] + [(p, "rw") for p in writable] + [(p, "tmp") for p in SCRATCH if p != "/dev/shm"]
    for path, how in sorted(steps, key=lambda step: step[0].count("/")):
        if how == "tmp":
            scratch(path, SCRATCH[path])
        elif os.path.islink(path):  # /bin -> usr/bin on a merged /usr: the same link, inside
            os.makedirs(os.path.dirname(inside(path)), exist_ok=True)
            os.symlink(os.readlink(path), inside(path))
        else:
            bind(path, real(path) if how == "rw" else path, read_only=how == "ro")
    for source, target in bind_ro:
        if os.path.isdir(source):
            bind(source, target, read_only=True)
    os.makedirs(inside("/dev"), exist_ok=True)
    mount("tmpfs", inside("/dev"), "tmpfs", MS_NOSUID, "size=64k,mode=755")
    for device in DEVICES:
        if os.path.exists(f"/dev/{device}"):
            open(inside(f"/dev/{device}"), "w").close()
            mount(f"/dev/{device}", inside(f"/dev/{device}"), None, MS_BIND)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                         ("stderr", "/proc/self/fd/2")):
        os.symlink(target, inside(f"/dev/{name}"))
    scratch("/dev/shm", SCRATCH["/dev/shm"])
    os.makedirs(inside("/proc"), exist_ok=True)
    try:  # only its own processes (Linux 5.8+: each proc mount has its own hidepid)
        mount("proc", inside("/proc"), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "hidepid=invisible")
    except OSError:  # an older kernel: every process shown, each another user's (no signal, no memory, no root)
        mount("/proc", inside("/proc"), None, MS_BIND | MS_REC)
    mount(None, new, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)  # nothing new at the top
    # into the new root; the old one is detached, so no path and no ".." leads back to it
    os.chdir(new)
    check(libc.syscall(PIVOT_ROOT[platform.machine()], b".", b"."), "pivot_root")
    check(libc.umount2(b".", MNT_DETACH), "umount the old root")
    os.chdir(real(home))  # the working folder is the home, as in bubblewrap
    os.environ.update(HOME=real(home), KERAS_HOME=f"{real(home)}/.keras", MPLCONFIGDIR=f"{real(home)}/.config/matplotlib",
                      IPYTHONDIR=f"{real(home)}/.ipython", TMPDIR="/tmp")
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
