"""Vets yield the CPU to what the user waits on: every bubblewrap sandbox runs in the shared cpu cgroup
of a low weight (cgroup.cpu_group), from its first instruction, and the code under test cannot
leave it or raise its own priority. Real bubblewrap, real cgroups (CI runs as root; never skipped)."""

from __future__ import annotations

import os
import subprocess
import threading
import time
import uuid

import pytest

from sandgate.policy.model import SandboxLimits, SandboxPolicy
from sandgate.sandbox import cgroup
from sandgate.sandbox.base import RunRequest
from sandgate.sandbox.select import open_backend

# Spins on the CPU for a second after trying every way out of the low weight it can reach: its
# own nice value, its scheduling class, and the cgroup files (absent or read-only inside).
ESCAPE = """
import os, time
tried = []
for how, attempt in (
    ("nice", lambda: os.nice(-10)),
    ("setpriority", lambda: os.setpriority(os.PRIO_PROCESS, 0, -10)),
    ("sched_fifo", lambda: os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))),
    ("root cpu group", lambda: open("/sys/fs/cgroup/cpu/cgroup.procs", "w").write(str(os.getpid()))),
    ("cpu shares", lambda: open("/sys/fs/cgroup/cpu/sandgate/cpu.shares", "w").write("100000")),
):
    try:
        attempt()
        tried.append(how + ": done")
    except OSError as exc:
        tried.append(how + ": refused")
print("; ".join(tried), flush=True)
end = time.monotonic() + 1.0
while time.monotonic() < end:
    pass
"""


@pytest.fixture(scope="module")
def bwrap():
    b, probes = open_backend("bwrap", SandboxPolicy())
    assert b is not None, probes
    assert cgroup.available(), "the CI machine runs the tests as root with cgroup v1 (see docs/sandbox.md)"
    return b


def _procs(folder: str) -> set[int]:
    with open(os.path.join(folder, "cgroup.procs")) as f:
        return {int(x) for x in f.read().split()}


def test_the_vets_cpu_group_has_a_low_weight(bwrap):
    folder = cgroup.cpu_group()
    assert folder == "/sys/fs/cgroup/cpu/sandgate"
    with open(os.path.join(folder, "cpu.shares")) as f:
        assert int(f.read()) == cgroup.CPU_SHARES < 1024
    assert "low CPU weight" in bwrap.probe().detail


def test_a_run_stays_in_the_low_weight_group_whatever_it_tries(bwrap):
    result: dict = {}
    request = RunRequest(code=ESCAPE, limits=SandboxLimits(wall_time_s=5, cpu_time_s=5))
    runner = threading.Thread(target=lambda: result.update(run=bwrap.run(request)))
    runner.start()
    seen: list[tuple[set[int], set[int]]] = []
    while runner.is_alive():
        # The run's pids cgroup (live, not a pooled sandbox's), or one the pool is making: both
        # sandboxes, both bound to be in the vets' cpu group.
        for name in cgroup.live_names - bwrap.idle_cgroups():
            try:
                mine = _procs(os.path.join(cgroup.ROOT, "pids", cgroup.PARENT, name))
                shared = _procs(cgroup.cpu_group())
            except OSError:
                continue
            if mine:
                seen.append((mine, shared))
        time.sleep(0.05)
    runner.join()
    run = result["run"]
    assert run.exit_code == 0, run.stderr
    assert "nice: refused" in run.stdout and "setpriority: refused" in run.stdout
    assert "sched_fifo: refused" in run.stdout
    assert "root cpu group: refused" in run.stdout and "cpu shares: refused" in run.stdout
    assert len(seen) >= 5, "the run was never seen in its cgroup"
    for mine, shared in seen:
        assert mine <= shared, f"processes of the run outside the vets' cpu group: {mine - shared}"
    with open(os.path.join(cgroup.cpu_group(), "cpu.shares")) as f:
        assert int(f.read()) == cgroup.CPU_SHARES


def test_leftover_cgroups_are_swept_but_never_a_busy_or_live_one():
    name = "sweep-" + uuid.uuid4().hex[:8]
    left, busy, live = (f"{name}-left", f"{name}-busy", f"{name}-live")
    dirs = {
        n: [os.path.join(cgroup.ROOT, ctl, cgroup.PARENT, n) for ctl in ("pids", "memory")] for n in (left, busy, live)
    }
    for paths in dirs.values():
        for path in paths:
            os.makedirs(path)
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        for path in dirs[busy]:
            with open(os.path.join(path, "cgroup.procs"), "w") as f:
                f.write(str(sleeper.pid))
        cgroup.live_names.add(live)
        cgroup.sweep_stale()
        assert all(os.path.isdir(p) for p in dirs[left]), "a group made a moment ago was swept"
        hour_ago = time.time() - 3600
        for paths in dirs.values():
            for path in paths:
                os.utime(path, (hour_ago, hour_ago))
        assert cgroup.sweep_stale() >= 2
        assert not any(os.path.isdir(p) for p in dirs[left]), "a leftover group stayed"
        assert all(os.path.isdir(p) for p in dirs[busy]), "a group holding a process was removed"
        assert all(os.path.isdir(p) for p in dirs[live]), "a group of this server's was removed"
    finally:
        cgroup.live_names.discard(live)
        for paths in dirs.values():
            cgroup.RunCgroup(*paths).destroy()  # kills the sleeper; removes what is left
        sleeper.wait()


def test_without_a_v1_cpu_controller_no_group_and_no_folder_is_made(tmp_path, monkeypatch):
    # cgroup v2, or a hybrid without the v1 cpu controller: vets keep the usual priority, and
    # nothing is created in whatever is mounted there (a folder in cgroup2 would be a new cgroup).
    (tmp_path / "pids").mkdir()
    monkeypatch.setattr(cgroup, "ROOT", str(tmp_path))
    cgroup.cpu_group.cache_clear()
    try:
        assert cgroup.cpu_group() is None
        assert sorted(p.name for p in tmp_path.iterdir()) == ["pids"]
    finally:
        monkeypatch.undo()
        cgroup.cpu_group.cache_clear()
    assert cgroup.cpu_group() == "/sys/fs/cgroup/cpu/sandgate"
