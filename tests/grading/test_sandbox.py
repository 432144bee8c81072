"""The grading kernel's sandbox on this machine: its cgroups share the CPU (issue 23, case 2), nothing graded.

A "kernel" here is a small Python program started through the jail exactly as a grading kernel is (the jail
joins the kernel's cgroups, then runs the command), so the cgroups measured are the ones grading makes.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from autograder.grading import sandbox

HOG = textwrap.dedent("""
    import os, sys, time
    processes, seconds = int(sys.argv[1]), float(sys.argv[2])
    reader, writer = os.pipe()
    for _ in range(processes):
        if os.fork() == 0:
            os.setsid()  # each in its own session, as the issue's hog did
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                pass
            os.write(writer, f"{time.process_time()}\\n".encode())
            os._exit(0)
    os.close(writer)
    for _ in range(processes):
        os.wait()
    print(sum(float(line) for line in os.fdopen(reader).read().split()))
""")

HONEST = textwrap.dedent("""
    import sys, time
    end = time.monotonic() + float(sys.argv[1])
    while time.monotonic() < end:
        pass
    print(time.process_time())
""")


def _jailed(cgroup: sandbox.Cgroup, script: str, *args) -> subprocess.Popen:
    jail = [sys.executable, "-I", str(sandbox.toolkit_folder() / "grading" / "jail.py"),
            *[f"--cgroup={procs}" for procs in cgroup.procs_files()]]
    return subprocess.Popen([*jail, "--", sys.executable, "-c", script, *map(str, args)], stdout=subprocess.PIPE,
                            text=True)


def _cpu_seconds(process: subprocess.Popen) -> float:
    out, _ = process.communicate(timeout=120)
    assert process.returncode == 0
    return float(out)


@pytest.mark.skipif(not sandbox.probe().cpu, reason="no CPU cgroups here (test_attacks.test_machine_isolates fails)")
def test_a_kernel_of_many_busy_processes_gets_the_cpu_of_one_kernel():
    """Twenty busy processes in one kernel's cgroup, each in its own session, beside a one-process kernel: does the
    one process still get a fair part of the CPU (about as much as the twenty together, not a twenty-first)?  And
    does ``sandbox_cpus`` cap a kernel's processes together?"""
    limits = sandbox.Limits(memory_mb=1024, processes=64, disk_mb=16)
    kind = sandbox.probe().cgroup
    made = []
    try:
        hog, honest = (sandbox.Cgroup(f"test-{os.getpid()}-{name}", kind, limits, cpu=True) for name in ("hog", "honest"))
        made += [hog, honest]
        seconds = 3.0
        hogging = _jailed(hog, HOG, 20, seconds)
        alone = _jailed(honest, HONEST, seconds)
        honest_cpu, hog_cpu = _cpu_seconds(alone), _cpu_seconds(hogging)
        # equal weights: the one process gets about as much as the twenty together (on 2 cores, with the scheduler
        # spreading the hog's load, about half as much); without its own cgroup it got about a twentieth
        assert honest_cpu >= 0.25 * hog_cpu, (honest_cpu, hog_cpu)

        capped = sandbox.Cgroup(f"test-{os.getpid()}-capped", kind, sandbox.Limits(1024, 64, 16, cpus=0.5), cpu=True)
        made.append(capped)
        capped_cpu = _cpu_seconds(_jailed(capped, HOG, 8, 2.0))
        assert capped_cpu <= 0.5 * 2.0 * 1.3, capped_cpu  # half a core for two seconds, whatever the processes
    finally:
        for cgroup in made:
            cgroup.kill_and_remove()
    assert not any(path.exists() for cgroup in made for path in cgroup.paths.values())


def test_cpu_limits_are_written_for_either_cgroup_version(tmp_path, monkeypatch):
    """With cgroup v1 and v2 laid out as plain folders: does each kernel get its own CPU cgroup of the default weight,
    the kernels' parent the weight of one process per kernel and at least per core, the cap as ``sandbox_cpus``
    says, and is the CPU cgroup among those the jail joins?"""
    monkeypatch.setattr(sandbox, "CGROUP_ROOT", tmp_path)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    v1 = sandbox.Cgroup("k1", "v1", sandbox.Limits(100, 10, 10, cpus=1.5), cpu=True)
    assert (tmp_path / "cpu" / "autograder" / "cpu.shares").read_text() == "2048"
    assert (tmp_path / "cpu" / "autograder" / "k1" / "cpu.shares").read_text() == "1024"
    assert (tmp_path / "cpu" / "autograder" / "k1" / "cpu.cfs_quota_us").read_text() == "150000"
    assert str(tmp_path / "cpu" / "autograder" / "k1" / "cgroup.procs") in v1.procs_files()
    sandbox.Cgroup("k2", "v1", sandbox.Limits(100, 10, 10), cpu=True)
    assert (tmp_path / "cpu" / "autograder" / "k2" / "cpu.cfs_quota_us").read_text() == "-1"
    assert (tmp_path / "cpu" / "autograder" / "cpu.shares").read_text() == "2048"
    sandbox.Cgroup("k2b", "v1", sandbox.Limits(100, 10, 10), cpu=True)
    assert (tmp_path / "cpu" / "autograder" / "cpu.shares").read_text() == "3072"  # three kernels on two cores

    sandbox.Cgroup("k3", "v2", sandbox.Limits(100, 10, 10, cpus=0.25), cpu=True)
    assert "+cpu" in (tmp_path / "autograder" / "cgroup.subtree_control").read_text()
    assert (tmp_path / "autograder" / "cpu.weight").read_text() == "200"
    assert (tmp_path / "autograder" / "k3" / "cpu.weight").read_text() == "100"
    assert (tmp_path / "autograder" / "k3" / "cpu.max").read_text() == "25000 100000"
    sandbox.Cgroup("k4", "v2", sandbox.Limits(100, 10, 10), cpu=True)
    assert (tmp_path / "autograder" / "k4" / "cpu.max").read_text() == "max 100000"


def test_a_machine_without_cpu_cgroups_is_warned_about(monkeypatch):
    """Where kernels cannot have CPU cgroups, does the instructor's warning say, in both languages, that one
    submission can slow the others?"""
    monkeypatch.setattr(sandbox, "_cpu_controller", lambda kind: "cgroup v2 has no cpu controller")
    sandbox.probe.cache_clear()
    try:
        capabilities = sandbox.probe()
    finally:
        sandbox.probe.cache_clear()
    warning = capabilities.warning()
    assert not capabilities.cpu
    assert "CPU を学生の間で公平に分けられません" in warning and "CPU is not shared fairly" in warning
    assert "no cpu controller" in warning
