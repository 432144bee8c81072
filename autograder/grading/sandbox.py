"""The sandbox each grading kernel runs in: bubblewrap, cgroup limits (memory, processes, CPU), resource limits.

A student's notebook runs in a Jupyter kernel.  Here that kernel is started
through ``python -I autograder/grading/jail.py`` (which joins the submission's cgroups and
sets resource limits) and then ``bwrap`` (bubblewrap), so that it sees:

- the system (``/usr``, ``/etc``, …) and the Python installation, read-only;
- a private home (``/home/student``, its working folder) of limited size, and
  Keras's copy of the data sets, read-only;
- the folder of its own connection sockets (Jupyter's ``ipc`` transport: there
  is no network in the sandbox, not even loopback shared with the host).

Never the course folder, the gradebook, the source notebooks or any other
submission: those are simply not mounted.  No network, its own process, IPC and
host-name namespaces, and it dies with the process that started it.

Limits come from course_config (``sandbox_memory_mb``, ``sandbox_processes``,
``sandbox_disk_mb``, ``sandbox_cpus``); the notebook's time limit is enforced by nbgrader's
executor and the worker.  The CPU is shared by weight: every kernel's whole process tree is
one cgroup of the same weight, so a kernel that starts sixty busy processes gets the CPU of
one kernel, and a classmate graded beside it keeps the rest (issue 23: without it, such a
kernel starved the other worker's kernel until nbgrader gave up on it).  Where a part cannot
be had (no bubblewrap on a laptop, no writable cgroups or no CPU controller, not root for the
size-limited home), ``probe()`` says which, grading prints a loud bilingual warning, and
what is left (resource limits) still applies: never silently.
"""
from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

HOME = "/home/student"
"""The kernel's home and working folder inside the sandbox."""

EVIDENCE_DIR = f"{HOME}/.autograder-evidence"
"""Where the grading cells inside the kernel leave their evidence (see ``autograder.grading.kernel.evidence``)."""

CGROUP_ROOT = Path("/sys/fs/cgroup")

HIDE_ENV = "AUTOGRADER_HIDE"
"""Folders a kernel without bubblewrap must not see (``os.pathsep``-separated): set by ``serve --unsafe-no-sandbox``
(the course folder, the portal's database and gradebook wherever they are), inherited by the local Dask workers
and their grading children, and handed to the jail (``--hide``, with the temporary folder, ``/run`` and ``/root``),
which confines the kernel or refuses to start it (``autograder.grading.jail.confine``)."""

BWRAP_NAMESPACES = ("--unshare-all", "--unshare-user", "--uid", "1000", "--gid", "1000")
"""No network, own processes, IPC and host name; an ordinary user (1000) inside."""

SYSTEM_PATHS = (
    "/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32", "/sys/devices/system/cpu",
    "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime", "/etc/fonts", "/etc/passwd",
    "/etc/group", "/etc/nsswitch.conf", "/etc/alternatives", "/etc/matplotlibrc",
)
"""What of the system a kernel sees, read-only (of ``/etc`` only what Python, NumPy, TensorFlow and matplotlib read)."""


@dataclass(frozen=True)
class Limits:
    """What one grading kernel may use."""

    memory_mb: int
    processes: int
    disk_mb: int
    cpus: float | None = None
    """At most this many cores (cgroup ``cpu.max``); None: no cap, the equal weight alone shares the CPU."""

    @classmethod
    def from_config(cls, config) -> Limits:
        return cls(config.sandbox_memory_mb, config.sandbox_processes, config.sandbox_disk_mb, config.sandbox_cpus)


@dataclass(frozen=True)
class Capabilities:
    """What this machine lets grading use."""

    bwrap: str | None
    """Path of a working ``bwrap``, or None."""

    cgroup: str | None
    """``"v1"`` or ``"v2"`` when cgroups can be made here (memory and process limits), else None."""

    mount: bool
    """Whether a size-limited tmpfs can be mounted for the kernel's home (needs root): one quota for all it writes."""

    problems: tuple[str, ...] = field(default=())
    """Why each missing part is missing."""

    cpu: bool = False
    """Whether each kernel can have a CPU cgroup of its own (``cpu`` controller), so that kernels share the CPU
    equally whatever processes they start."""

    @property
    def isolated(self) -> bool:
        return self.bwrap is not None

    def warning(self) -> str | None:
        """A loud bilingual warning for what is missing, or None when everything is there."""
        if not self.problems:
            return None
        lines = ["!" * 78,
                 "警告: 採点の隔離が不完全です / WARNING: grading is not fully isolated on this machine"]
        lines += [f"  - {problem}" for problem in self.problems]
        if self.bwrap is None:
            lines.append("  提出物のコードはネットワークや、この利用者が読めるファイル（成績簿を含む）に触れられます。")
            lines.append("  Submitted code can reach the network and every file this user can read, the gradebook included.")
            lines.append("  Debian/Ubuntu: apt-get install bubblewrap")
        lines.append("!" * 78)
        return "\n".join(lines)


def _bwrap_works(bwrap: str) -> str | None:
    """None if a minimal sandbox starts with ``bwrap``, else why not."""
    try:
        done = subprocess.run([bwrap, "--ro-bind", "/", "/", *BWRAP_NAMESPACES, "--die-with-parent", "true"],
                              capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        return str(e)
    return None if done.returncode == 0 else (done.stderr.strip() or f"exit code {done.returncode}")


def _cgroup_kind() -> tuple[str | None, str | None]:
    """(``"v1"``/``"v2"``, None) if we can make cgroups with memory and pids limits, else (None, why)."""
    v1 = [CGROUP_ROOT / "memory", CGROUP_ROOT / "pids"]
    if all((path / "cgroup.procs").is_file() for path in v1):
        why = _can_make(v1)
        return ("v1", None) if why is None else (None, f"cgroup v1 に書けません / cannot create cgroups: {why}")
    controllers = CGROUP_ROOT / "cgroup.controllers"
    if controllers.is_file():
        have = controllers.read_text().split()
        if not {"memory", "pids"} <= set(have):
            return None, f"cgroup v2 に memory/pids がありません / cgroup v2 lacks memory or pids ({have})"
        try:
            (CGROUP_ROOT / "cgroup.subtree_control").write_text("+memory +pids")
        except OSError as e:
            return None, f"cgroup v2 に書けません / cannot create cgroups: {e}"
        why = _can_make([CGROUP_ROOT])
        return ("v2", None) if why is None else (None, f"cgroup v2 に書けません / cannot create cgroups: {why}")
    return None, "cgroup がありません / no cgroup file system"


def _can_make(hierarchies: list[Path]) -> str | None:
    """None if a cgroup can be made (and removed) in each of ``hierarchies``, else why not."""
    probes = [path / f"autograder-probe-{os.getpid()}" for path in hierarchies]
    try:
        for probe in probes:
            probe.mkdir(exist_ok=True)
        return None
    except OSError as e:
        return str(e)
    finally:
        for probe in probes:
            try:
                probe.rmdir()
            except OSError:
                pass


def _cpu_controller(kind: str | None) -> str | None:
    """None if each kernel can have a CPU cgroup of its own under cgroups of ``kind``, else why not."""
    if kind == "v1":
        if not (CGROUP_ROOT / "cpu" / "cpu.shares").is_file():
            return "cgroup v1 の cpu コントローラがありません / cgroup v1 has no cpu controller"
        return _can_make([CGROUP_ROOT / "cpu"])
    if kind == "v2":
        if "cpu" not in (CGROUP_ROOT / "cgroup.controllers").read_text().split():
            return "cgroup v2 に cpu コントローラがありません / cgroup v2 has no cpu controller"
        try:
            (CGROUP_ROOT / "cgroup.subtree_control").write_text("+cpu")
        except OSError as e:  # e.g. a real-time thread outside the root cgroup keeps the cpu controller off
            return str(e)
        return None
    return "cgroup が使えません / no cgroups"


@functools.cache
def probe() -> Capabilities:
    """What isolation this machine offers (asked once per process)."""
    problems = []
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        problems.append("bubblewrap (bwrap) がありません / bubblewrap (bwrap) is not installed")
    elif why := _bwrap_works(bwrap):
        problems.append(f"bubblewrap が動きません / bubblewrap cannot make a sandbox here: {why}")
        bwrap = None
    kind, why = _cgroup_kind() if sys.platform.startswith("linux") else (None, "Linux ではありません / not Linux")
    if kind is None:
        problems.append(f"メモリとプロセス数はリソース制限 (rlimit) だけで制限します / memory and processes limited by "
                        f"rlimits only: {why}")
    cpu_missing = _cpu_controller(kind)
    if cpu_missing:
        problems.append("CPU を学生の間で公平に分けられません。たくさんのプロセスを動かす提出物が、同時に採点される他の学生の"
                        "採点を遅らせます / CPU is not shared fairly between students: a submission that starts many busy "
                        f"processes slows down the grading of the others graded beside it ({cpu_missing})")
    # the home is the kernel's working folder in bubblewrap and in the jail's confinement (HIDE_ENV), not otherwise
    confined = bwrap is not None or bool(os.environ.get(HIDE_ENV))
    mount = os.geteuid() == 0 and sys.platform.startswith("linux") and confined
    if not mount:
        problems.append("作業フォルダの容量は1ファイルの大きさでしか制限できません（root ではない、または隔離なし） / "
                        "the kernel's folder is limited per file only (not root, or not confined)")
    return Capabilities(bwrap, kind, mount, tuple(problems), cpu=cpu_missing is None)


CPU_WEIGHT_V1, CPU_WEIGHT_V2, CPU_PERIOD_US = 1024, 100, 100_000
"""Each kernel's CPU weight (v1 ``cpu.shares``, v2 ``cpu.weight``: the defaults, one ordinary process's worth) and
the period of its cap (``cpu.max``, ``cpu.cfs_quota_us``)."""


def _quota(limits: Limits) -> int | None:
    """The kernel's CPU time per ``CPU_PERIOD_US`` (``limits.cpus`` cores), or None for no cap."""
    return max(1000, int(limits.cpus * CPU_PERIOD_US)) if limits.cpus else None


def _kernels(cgroup: Path) -> int:
    """How many processes' weight the kernels' parent of ``cgroup`` should have: one per kernel cgroup in it (this one
    included), at least one per core."""
    try:
        kernels = sum(1 for entry in os.scandir(cgroup.parent) if entry.is_dir())
    except OSError:
        kernels = 1
    return max(kernels, os.cpu_count() or 1)


class Cgroup:
    """The cgroups (memory, pids, cpu) of one grading kernel; ``None``-safe when cgroups are not available.

    CPU: within the kernels' parent (``autograder``) every kernel weighs the same, whatever it starts; the parent
    weighs as much as one busy process per kernel there (what an honest kernel, one TensorFlow thread, weighed
    before it had a cgroup) and at least one per core, so that grading is not slowed by other work more than before.
    """

    def __init__(self, name: str, kind: str, limits: Limits, *, cpu: bool = False):
        self.kind = kind
        if kind == "v1":
            self.paths = {"memory": CGROUP_ROOT / "memory" / "autograder" / name,
                          "pids": CGROUP_ROOT / "pids" / "autograder" / name}
            if cpu:
                self.paths["cpu"] = CGROUP_ROOT / "cpu" / "autograder" / name
            for path in self.paths.values():
                path.mkdir(parents=True, exist_ok=True)
            if cpu:
                (self.paths["cpu"].parent / "cpu.shares").write_text(str(CPU_WEIGHT_V1 * _kernels(self.paths["cpu"])))
                (self.paths["cpu"] / "cpu.shares").write_text(str(CPU_WEIGHT_V1))
                (self.paths["cpu"] / "cpu.cfs_period_us").write_text(str(CPU_PERIOD_US))
                (self.paths["cpu"] / "cpu.cfs_quota_us").write_text(str(_quota(limits) or -1))
            memory = str(limits.memory_mb * 2**20)
            (self.paths["memory"] / "memory.limit_in_bytes").write_text(memory)
            swap = self.paths["memory"] / "memory.memsw.limit_in_bytes"
            if swap.is_file():
                try:
                    swap.write_text(memory)
                except OSError:
                    pass
            (self.paths["pids"] / "pids.max").write_text(str(limits.processes))
        else:
            path = CGROUP_ROOT / "autograder" / name
            path.mkdir(parents=True, exist_ok=True)
            (CGROUP_ROOT / "autograder" / "cgroup.subtree_control").write_text("+memory +pids" + (" +cpu" if cpu else ""))
            self.paths = {"memory": path, "pids": path}
            (path / "memory.max").write_text(str(limits.memory_mb * 2**20))
            swap = path / "memory.swap.max"
            if swap.is_file():
                swap.write_text("0")
            (path / "pids.max").write_text(str(limits.processes))
            if cpu:
                self.paths["cpu"] = path
                (path.parent / "cpu.weight").write_text(str(min(10_000, CPU_WEIGHT_V2 * _kernels(path))))
                (path / "cpu.weight").write_text(str(CPU_WEIGHT_V2))
                (path / "cpu.max").write_text(f"{_quota(limits) or 'max'} {CPU_PERIOD_US}")

    @classmethod
    def existing(cls, path: Path) -> Cgroup:
        """The cgroup at ``path`` (one controller's folder), made earlier, for clean-up."""
        cgroup = cls.__new__(cls)
        cgroup.kind = "v2" if path.parent.parent == CGROUP_ROOT else "v1"
        cgroup.paths = {"memory": path, "pids": path}
        return cgroup

    def procs_files(self) -> list[str]:
        return sorted({str(path / "cgroup.procs") for path in self.paths.values()})

    def _count(self, file: Path, key: str) -> int:
        try:
            for line in file.read_text().splitlines():
                name, _, value = line.partition(" ")
                if name == key:
                    return int(value)
        except (OSError, ValueError):
            pass
        return 0

    def events(self) -> dict[str, int]:
        """How often the kernel hit each limit: ``{"memory": n, "processes": n}``."""
        if self.kind == "v1":
            memory = self._count(self.paths["memory"] / "memory.oom_control", "oom_kill")
        else:
            memory = self._count(self.paths["memory"] / "memory.events", "oom_kill")
        return {"memory": memory, "processes": self._count(self.paths["pids"] / "pids.events", "max")}

    def kill_and_remove(self) -> None:
        """Kill whatever is left in the cgroups, then remove them."""
        import signal
        import time

        for attempt in range(50):
            pids = set()
            for procs in self.procs_files():
                try:
                    pids |= {int(p) for p in Path(procs).read_text().split()}
                except OSError:
                    pass
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.05 * (attempt + 1))
        for path in set(self.paths.values()):
            try:
                path.rmdir()
            except OSError:
                pass


TOOLKIT_MOUNT = "/opt/autograder/lib"
"""Where the sandbox shows the toolkit this process runs (``TOOLKIT_MOUNT/autograder``); the kernel's
``PYTHONPATH`` starts there, so its ``import autograder`` finds exactly that copy."""


def toolkit_folder() -> Path:
    """The folder of the ``autograder`` package this process imported (a course folder's copy, an editable
    install's checkout or site-packages): the one the grading kernel must import too."""
    import autograder

    return Path(autograder.__file__).resolve().parent


def kernel_python() -> str:
    """This process's interpreter with its folder resolved and its own name kept.

    A virtualenv reached through a symlink (``/srv/toolkit -> /work/toolkit``) gives ``sys.executable``
    a path that does not exist inside the sandbox; resolving the folder gives one that does, and keeping
    the name (a venv's ``bin/python`` is itself a symlink to the base interpreter) lets Python still find
    the venv's ``pyvenv.cfg`` beside it.
    """
    if sys.prefix == sys.base_prefix:  # no venv: the interpreter itself, wherever a symlink to it lives
        return os.path.realpath(sys.executable)
    executable = Path(sys.executable)
    return str(executable.parent.resolve() / executable.name)


def toolkit_path_entry() -> Path:
    """A private folder holding only ``autograder`` (a symlink to ``toolkit_folder()``), for ``PYTHONPATH``.

    What this process's children and an unsandboxed kernel put first on their path: the same toolkit as
    here, without the rest of the folder it lives in (a course folder holds the gradebook).
    """
    folder = private_folder() / "toolkit" / _digest(str(toolkit_folder()))
    link = folder / "autograder"
    if not link.is_symlink() or os.readlink(link) != str(toolkit_folder()):
        folder.mkdir(parents=True, exist_ok=True)
        temporary = folder / f"autograder.{os.getpid()}.{threading.get_ident()}"  # one per thread: no race on it
        temporary.unlink(missing_ok=True)
        temporary.symlink_to(toolkit_folder(), target_is_directory=True)
        temporary.replace(link)  # atomic: a concurrent reader sees the old link or the new one
    return folder


def private_folder() -> Path:
    """This user's private folder for grading (``$TMPDIR/autograder-<uid>``, mode 700), made if needed.

    Raises ``OSError`` if another user made it first: they could plant a template course or a "toolkit" in it.
    """
    mine = Path(tempfile.gettempdir()) / f"autograder-{os.getuid()}"
    mine.mkdir(mode=0o700, exist_ok=True)
    if mine.stat().st_uid != os.getuid():
        raise OSError(f"{mine} belongs to another user: remove it, or set TMPDIR to a private folder")
    mine.chmod(0o700)
    return mine


def _digest(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()[:16]


def python_paths() -> list[str]:
    """Folders the kernel's Python needs, read-only, at their own (resolved) paths: the installation and the virtualenv.

    An allowlist: the working folder and ``PYTHONPATH`` entries (which may be the
    course folder itself) are not given.  The toolkit is not among them: it is given
    by itself at ``TOOLKIT_MOUNT`` (with ``pip install -e`` it lives inside a course
    folder, whose other files stay hidden).
    """
    wanted = {Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve()}
    # a folder inside another one given is already there
    return sorted(str(p) for p in wanted if not any(p != q and p.is_relative_to(q) for q in wanted))


@dataclass
class Sandbox:
    """How one grading kernel is started: the command prefix and what to clean up afterwards."""

    folder: Path
    """The private folder of this submission (the kernel's home is made inside it)."""

    limits: Limits
    capabilities: Capabilities

    bind_ro: list[tuple[str, str]] = field(default_factory=list)
    """Extra ``(outside, inside)`` folders given read-only (the IPython start-up folder, the data)."""

    bind_rw: list[str] = field(default_factory=list)
    """Extra folders given read-write at the same path (the connection sockets)."""

    cgroup: Cgroup | None = None
    home: Path | None = None
    mounted: bool = False

    def start(self) -> None:
        """Make the home folder and the cgroups."""
        self.home = self.folder / "home"
        self.home.mkdir(parents=True, exist_ok=True)
        if self.capabilities.mount:
            done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={self.limits.disk_mb}m,mode=0755",
                                   "autograder-home", str(self.home)], capture_output=True, check=False)
            self.mounted = done.returncode == 0
        (self.home / ".autograder-evidence").mkdir(exist_ok=True)
        if self.capabilities.cgroup:
            self.cgroup = Cgroup(self.folder.name, self.capabilities.cgroup, self.limits, cpu=self.capabilities.cpu)

    def kernel_env(self) -> dict[str, str]:
        """Variables of the kernel that depend on the sandbox: where it leaves evidence, where it finds the toolkit."""
        from autograder.grading.kernel.evidence import EVIDENCE_ENV

        if self.capabilities.isolated:
            return {EVIDENCE_ENV: EVIDENCE_DIR, "PYTHONPATH": TOOLKIT_MOUNT}
        return {EVIDENCE_ENV: str(self.evidence), "PYTHONPATH": str(toolkit_path_entry())}

    def kernel_toolkit(self) -> str:
        """The folder of the ``autograder`` package as the kernel must see it (what its start-up reports)."""
        if self.capabilities.isolated:
            return f"{TOOLKIT_MOUNT}/autograder"
        return str(toolkit_path_entry() / "autograder")

    @property
    def evidence(self) -> Path:
        """The evidence folder as seen from outside the sandbox."""
        assert self.home is not None
        return self.home / ".autograder-evidence"

    def wrap(self, command: list[str], env: dict[str, str] | None = None) -> list[str]:
        """``command`` (a kernel's) as run inside this sandbox.

        The kernel's interpreter becomes ``kernel_python()`` when it is this process's own; the jail runs as
        a script of this very toolkit (standard library only), whatever ``autograder`` the folder it starts
        in would offer.
        """
        command = list(command)
        if command and os.path.realpath(command[0]) == os.path.realpath(sys.executable):
            command[0] = kernel_python()
        jail = [sys.executable, "-I", str(toolkit_folder() / "grading" / "jail.py"),
                f"--memory={self.limits.memory_mb}", f"--processes={self.limits.processes}",
                f"--file-size={self.limits.disk_mb}"]
        if self.cgroup is not None:
            jail += [f"--cgroup={procs}" for procs in self.cgroup.procs_files()]
        if not self.capabilities.isolated:
            return [*jail, *self._confinement(), "--", *command]
        bwrap = [self.capabilities.bwrap, *BWRAP_NAMESPACES, "--die-with-parent", "--new-session",
                 "--hostname", "grading", "--proc", "/proc", "--dev", "/dev",
                 "--size", str(64 * 2**20), "--tmpfs", "/tmp"]
        for system in SYSTEM_PATHS:
            bwrap += ["--ro-bind-try", system, system]
        for path in python_paths():
            bwrap += ["--ro-bind", path, path]
        bwrap += ["--ro-bind", str(toolkit_folder()), f"{TOOLKIT_MOUNT}/autograder"]
        bwrap += ["--bind", str(self.home), HOME]
        for outside, inside in self.bind_ro:
            bwrap += ["--ro-bind", outside, inside]
        for path in self.bind_rw:
            bwrap += ["--bind", path, path]
        for key, value in {"HOME": HOME, "KERAS_HOME": f"{HOME}/.keras", "MPLCONFIGDIR": f"{HOME}/.config/matplotlib",
                           "IPYTHONDIR": f"{HOME}/.ipython", "TMPDIR": "/tmp", **(env or {})}.items():
            bwrap += ["--setenv", key, value]
        # ipykernel watches the process id in JPY_PARENT_PID, which means nothing in the sandbox's own
        # process namespace; --die-with-parent does that job here.
        bwrap += ["--unsetenv", "JPY_PARENT_PID", "--chdir", HOME]
        return [*jail, "--", *bwrap, "--", *command]

    def _confinement(self) -> list[str]:
        """The jail's options that confine a kernel without bubblewrap (``HIDE_ENV`` set: the portal's
        ``--unsafe-no-sandbox``), else none: the allow-list of what the kernel's new root holds (the system's
        folders bubblewrap would give, Python, the toolkit, the home and the sockets) and what must stay hidden."""
        hidden = [path for path in os.environ.get(HIDE_ENV, "").split(os.pathsep) if path]
        if not hidden:
            return []
        assert self.home is not None
        # every grading child's folder and the other kernels (temporary folder), the host's service sockets
        hidden += [tempfile.gettempdir(), "/run", "/root"]
        if os.path.isdir("/var/run") and not os.path.islink("/var/run"):
            hidden.append("/var/run")
        options = [f"--hide={path}" for path in hidden]
        options += [f"--home={self.home}", f"--expose={self.folder / 'ipc'}"]
        options += [f"--expose-ro={path}" for path in (*SYSTEM_PATHS, *python_paths(), toolkit_path_entry(), toolkit_folder())]
        for outside, inside in self.bind_ro:  # as bubblewrap would show them, under the kernel's own home
            if inside.startswith(f"{HOME}/"):
                options.append(f"--bind-ro={outside}:{self.home / inside.removeprefix(HOME + '/')}")
        return options

    def stop(self) -> dict[str, int]:
        """Kill whatever the kernel left running and remove the cgroups; returns the limit events (``Cgroup.events``)."""
        events = {"memory": 0, "processes": 0}
        if self.cgroup is not None:
            events = self.cgroup.events()
            self.cgroup.kill_and_remove()
            self.cgroup = None
        return events

    def release(self) -> None:
        """Unmount the kernel's home (after the evidence in it has been read)."""
        if self.mounted and self.home is not None:
            subprocess.run(["umount", "-l", str(self.home)], capture_output=True, check=False)
            self.mounted = False


def clean_up_after(folder: Path) -> None:
    """What a killed grading child could not remove itself: its home's mount and its cgroups (kills what is in them)."""
    home = folder / "home"
    if os.path.ismount(home):
        subprocess.run(["umount", "-l", str(home)], capture_output=True, check=False)
    for path in (CGROUP_ROOT / "memory" / "autograder" / folder.name, CGROUP_ROOT / "pids" / "autograder" / folder.name,
                 CGROUP_ROOT / "cpu" / "autograder" / folder.name, CGROUP_ROOT / "autograder" / folder.name):
        if path.is_dir():
            Cgroup.existing(path).kill_and_remove()


def limit_message(events: dict[str, int], limits: Limits) -> str | None:
    """Every limit a kernel ran into, in Japanese and English, or None."""
    said = []
    if events.get("processes"):
        said.append(f"プロセス数の上限 ({limits.processes}) に達しました / hit the limit of {limits.processes} processes")
    if events.get("memory"):
        said.append(f"メモリの上限 ({limits.memory_mb} MB) を超えたため停止しました / "
                    f"stopped: over the memory limit of {limits.memory_mb} MB")
    return "; ".join(said) or None


def kernel_manager_class(sandbox: Sandbox, env: dict[str, str] | None = None):
    """An ``AsyncKernelManager`` class whose kernels start inside ``sandbox``, talking over Unix sockets."""
    from jupyter_client.manager import AsyncKernelManager

    ipc = sandbox.folder / "ipc"
    ipc.mkdir(exist_ok=True)
    if str(ipc) not in sandbox.bind_rw:
        sandbox.bind_rw.append(str(ipc))

    class SandboxedKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs):
            kwargs["kernel_name"] = "python3"  # the grading kernel, whatever the notebook's metadata asks for
            super().__init__(**kwargs)
            self.transport = "ipc"
            self.ip = str(ipc / "kernel")
            self.connection_file = str(ipc / "kernel.json")

        @property
        def kernel_spec(self):
            # A signal would reach bwrap, not the kernel inside it: interrupt through the control channel
            # (ipykernel then sends SIGINT to its own process group).
            spec = super().kernel_spec
            if spec is not None:
                spec.interrupt_mode = "message"
            return spec

        def format_kernel_cmd(self, extra_arguments=None):
            return sandbox.wrap(super().format_kernel_cmd(extra_arguments), env)

    return SandboxedKernelManager


FULL = "bwrap+cgroup+tmpfs"
"""``description`` of a machine where every part of the sandbox is there."""


def description(capabilities: Capabilities | None = None) -> str:
    """One word per part for logs: ``bwrap+cgroup-v1+tmpfs``, or what is missing (of this machine's ``probe()``
    by default)."""
    capabilities = capabilities or probe()
    parts = ["bwrap" if capabilities.bwrap else "no-bwrap",
             "cgroup" if capabilities.cgroup else "rlimits",
             "tmpfs" if capabilities.mount else "no-tmpfs"]
    return "+".join(parts)
