"""Vets yield the CPU to what the user waits on: every bubblewrap sandbox runs in a group of its own
inside the vets' cpu cgroup of a low weight (cgroup.cpu_group), from its first instruction, and so
does the supervisor that serves its calls; the code under test cannot leave it, raise its own
priority, or take more than its share from the vets beside it. Real bubblewrap, real cgroups (CI
runs as root; never skipped)."""

from __future__ import annotations

import os
import subprocess
import threading
import time
import uuid

import pytest

from sandgate.policy.model import SandboxLimits, SandboxPolicy
from sandgate.sandbox import cgroup, supervision
from sandgate.sandbox.base import RunRequest
from sandgate.sandbox.select import open_backend
from tests.sandbox.conftest import current_image

# Tries every way out of the low weight it can reach (its nice value, a real-time class, the
# cgroup files: absent inside), then spins on the CPU for a second.
ESCAPE = """
import os, time
tried = []
for how, attempt in (
    ("nice", lambda: os.nice(-10)),
    ("setpriority", lambda: os.setpriority(os.PRIO_PROCESS, 0, -10)),
    ("sched_fifo", lambda: os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))),
    ("root cpu group", lambda: open("/sys/fs/cgroup/cpu/cgroup.procs", "w").write(str(os.getpid()))),
    ("cpu shares", lambda: open("/sys/fs/cgroup/cpu/sandgate/cpu.shares", "w").write("100000")),
    ("autogroup", lambda: open("/proc/self/autogroup", "w").write("-20")),
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
# A hostile vet: many processes spinning, to crowd out the vets beside it.
HOG = """
import os, time
end = time.monotonic() + 3.0
for _ in range(16):
    if os.fork() == 0:
        break
while time.monotonic() < end:
    pass
"""
# An honest vet: how much CPU it gets in a second of spinning.
HONEST = """
import time
cpu, end = time.process_time(), time.monotonic() + 1.0
while time.monotonic() < end:
    pass
print(round(time.process_time() - cpu, 3))
"""
SLOW = SandboxLimits(wall_time_s=6, cpu_time_s=6)


@pytest.fixture(scope="module")
def bwrap():
    b, probes = open_backend("bwrap", SandboxPolicy())
    assert b is not None, probes
    assert cgroup.available(), "the CI machine runs the tests as root with cgroup v1 (see docs/sandbox.md)"
    return b


def _cpu_group_of(pid: int) -> str | None:
    """The cpu cgroup of a host process, as the host sees it (None once it has gone)."""
    try:
        with open(f"/proc/{pid}/cgroup") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    return next((line.split(":", 2)[2] for line in lines if "cpu" in line.split(":")[1].split(",")), None)


def _leaving(pid: int) -> bool:
    """Whether a process is on its way out (gone or a zombie a moment later)."""
    time.sleep(0.1)
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except OSError:
        return True


def _procs(name: str) -> list[int]:
    try:
        with open(os.path.join(cgroup.ROOT, "pids", cgroup.PARENT, name, "cgroup.procs")) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def test_the_vets_cpu_group_has_a_low_weight_and_holds_the_supervisor(bwrap):
    folder = cgroup.cpu_group()
    assert folder == "/sys/fs/cgroup/cpu/sandgate"
    with open(os.path.join(folder, "cpu.shares")) as f:
        assert int(f.read()) == cgroup.CPU_SHARES < 1024
    assert "low CPU weight" in bwrap.probe().detail  # the probe runs a sandbox: the supervisor is up
    sup = supervision.shared()._proc
    assert sup is not None and sup.poll() is None
    assert _cpu_group_of(sup.pid) == f"/sandgate/{os.getpid()}-supervisor"


def _watch(bwrap, request: RunRequest) -> tuple[object, dict[str, set[str | None]]]:
    """Run `request` in a thread; meanwhile, the cpu group of every process of each sandbox that is
    not waiting in the pool (the run's, or one the pool is making), read per process."""
    result: dict = {}
    runner = threading.Thread(target=lambda: result.update(run=bwrap.run(request)))
    runner.start()
    seen: dict[str, set[str | None]] = {}
    while runner.is_alive():
        for name in cgroup.live_names - bwrap.idle_cgroups():
            for pid in _procs(name):
                try:
                    with open(f"/proc/{pid}/comm") as f:
                        if f.read().strip() == "sh":
                            continue  # the join script itself, between its joins: nothing has run yet
                except OSError:
                    continue
                group = _cpu_group_of(pid)  # read after: a process past the script has joined
                if group == "/" and _leaving(pid):
                    continue  # the kernel moves an exiting process to the root group
                if group is not None:
                    seen.setdefault(name, set()).add(group)
        time.sleep(0.05)
    runner.join()
    return result["run"], seen


@pytest.mark.parametrize("pooled", [False, True], ids=["made for the run", "from the pool"])
def test_a_run_stays_in_its_own_low_weight_group_whatever_it_tries(bwrap, pooled):
    request = RunRequest(code=ESCAPE) if pooled else RunRequest(code=ESCAPE, limits=SLOW)
    if pooled:
        bwrap.warm(request)
        deadline = time.monotonic() + 10
        while not bwrap.idle_cgroups() and time.monotonic() < deadline:
            time.sleep(0.05)
        waiting = bwrap.idle_cgroups()
        assert waiting, "the pool made no sandbox"
    run, seen = _watch(bwrap, request)
    assert run.exit_code == 0, run.stderr
    for how in ("nice", "setpriority", "sched_fifo", "root cpu group", "cpu shares", "autogroup"):
        assert f"{how}: refused" in run.stdout, run.stdout
    assert seen, "no sandbox was seen running"
    for name, groups in seen.items():
        assert groups == {f"/sandgate/{name}"}, f"processes of sandbox {name} in {groups}"
    if pooled:
        assert seen.keys() & waiting, "the run did not take the pooled sandbox"
    with open(os.path.join(cgroup.cpu_group(), "cpu.shares")) as f:
        assert int(f.read()) == cgroup.CPU_SHARES


@pytest.fixture(scope="module")
def docker():
    b, probes = open_backend("docker", SandboxPolicy(image=current_image()))
    assert b is not None, probes
    return b


def test_nested_docker_containers_are_made_under_the_vets_group(docker):
    assert "at a low CPU weight" in docker.probe().detail
    docker.warm(RunRequest(code=""))
    deadline = time.monotonic() + 20
    while not docker.idle_container_ids() and time.monotonic() < deadline:
        time.sleep(0.1)
    ids = docker.idle_container_ids()
    assert ids, "the pool made no container"
    for cid in ids:
        with open(os.path.join(cgroup.cpu_group(), cid, "cgroup.procs")) as f:
            procs = [int(x) for x in f.read().split()]
        assert procs, f"container {cid[:12]} has nothing in the vets' group"
        assert all(_cpu_group_of(pid) in (f"/sandgate/{cid}", None) for pid in procs)


@pytest.mark.parametrize("which", ["bwrap", "docker"])
def test_a_vet_of_many_processes_does_not_crowd_out_the_vet_beside_it(request, which):
    # Inside one shared group the kernel shares the CPU per process, so 17 spinning processes
    # left the vet beside them ~5% of a core; each sandbox (each container) in a group of its own
    # gets an equal share.
    backend = request.getfixturevalue(which)
    hog: dict = {}
    hogging = threading.Thread(target=lambda: hog.update(run=backend.run(RunRequest(code=HOG, limits=SLOW))))
    hogging.start()
    try:
        time.sleep(0.5)  # the hog's processes are up and spinning
        honest = backend.run(RunRequest(code=HONEST, limits=SLOW))
    finally:
        hogging.join()
    assert honest.exit_code == 0, honest.stderr
    assert hog["run"].error is None, hog["run"].error
    share = float(honest.stdout)
    assert share >= 0.25, f"the honest vet got {share:.2f} s of CPU in a second beside the hog"


def test_leftover_cgroups_are_swept_but_never_a_busy_one_or_a_live_servers():
    gone = subprocess.Popen(["true"])
    gone.wait()  # a server that is no more: its pid
    tag = uuid.uuid4().hex[:8]
    names = {
        "dead owner": f"{gone.pid}-{tag}",
        "busy": f"{gone.pid}-{tag}busy",
        "this server": f"{os.getpid()}-{tag}",
        "an older sandgate's": tag + "0123",
    }
    dirs = {
        k: [os.path.join(cgroup.ROOT, ctl, cgroup.PARENT, n) for ctl in ("pids", "memory")] for k, n in names.items()
    }
    for paths in dirs.values():
        for path in paths:
            os.makedirs(path)
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        for path in dirs["busy"]:
            with open(os.path.join(path, "cgroup.procs"), "w") as f:
                f.write(str(sleeper.pid))
        cgroup.sweep_stale()
        exists = {k: [os.path.isdir(p) for p in paths] for k, paths in dirs.items()}
        assert exists["dead owner"] == [False, False], "a dead server's group stayed"
        assert exists["busy"] == [True, True], "a group holding a process was removed"
        assert exists["this server"] == [True, True], "a live server's group was removed"
        assert exists["an older sandgate's"] == [True, True], "a group of unknown owner was removed young"
        hour_ago = time.time() - 3600
        for path in dirs["this server"] + dirs["an older sandgate's"]:
            os.utime(path, (hour_ago, hour_ago))
        cgroup.sweep_stale()
        assert all(os.path.isdir(p) for p in dirs["this server"]), "a live server's old group was removed"
        assert not any(os.path.isdir(p) for p in dirs["an older sandgate's"]), "an old group of unknown owner stayed"
    finally:
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
