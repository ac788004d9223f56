"""Per-run cgroups (v1 `pids` and `memory` controllers) for the bubblewrap backend, and the CPU
group every vet runs in.

bubblewrap has no limits of its own. When Sandgate may create cgroups (root, cgroup v1 as on this
machine) a run gets a pids and a memory cgroup: exact limits, an exact peak, an exact "hit the
limit" signal and a last-resort kill of everything inside. Otherwise the backend falls back to
rlimits (see `bwrap.py`).

The CPU group (`cpu_group`) is not a limit but a priority: one `cpu` cgroup of a low weight that
holds every sandbox (each in a group of its own inside it, so that one vet's many processes take no
more than another vet's one) and the supervisor that serves their calls, so that when the cores are
busy with vets, what the user waits on (the server's answers, the editor) is scheduled first; alone
on the machine a vet still has all of it. A per-process nice value does not do this: each sandbox
is a session of its own (bwrap --new-session), and with autogroup scheduling every session weighs
the same whatever its nice.

Groups are named `<server pid>-<random>`: a server removes those whose server is gone
(`sweep_stale`), never another live server's.
"""

from __future__ import annotations

import functools
import logging
import os
import signal
import threading
import time
import uuid
from dataclasses import dataclass

log = logging.getLogger(__name__)

ROOT = "/sys/fs/cgroup"
PARENT = "sandgate"
# Names this process created and has not removed yet, and every name it ever made (for tests and
# diagnostics).
live_names: set[str] = set()
made_names: set[str] = set()
# The vets' CPU weight against 1024 for each other process (or session) that wants a core. Low
# enough that a request of the user's is scheduled at once (2 to 256 measured within each other's
# noise, see docs/benchmarks.md), high enough that vets still finish inside their wall-time limit
# on a machine a build keeps busy: a fifth of a core against each busy session.
CPU_SHARES = 256
_sweep_lock = threading.Lock()
_swept = False


def available() -> bool:
    for ctl in ("pids", "memory"):
        base = os.path.join(ROOT, ctl)
        if not os.path.exists(os.path.join(base, "cgroup.procs")) or not os.access(base, os.W_OK):
            return False
    return True


@functools.cache
def cpu_group() -> str | None:
    """The folder of the vets' shared CPU group (made once, weight CPU_SHARES), or None where the
    v1 `cpu` controller cannot be written: then vets run at the priority of everything else."""
    path = os.path.join(ROOT, "cpu", PARENT)
    if not os.path.exists(os.path.join(ROOT, "cpu", "cpu.shares")):
        return None  # no v1 cpu controller there: never make folders in whatever else is mounted
    try:
        os.makedirs(path, exist_ok=True)
        _write(os.path.join(path, "cpu.shares"), str(CPU_SHARES))
    except OSError as exc:
        log.info("vets run at the usual CPU priority: no writable cpu cgroup (%s)", exc)
        return None
    return path


def _group_name(what: str) -> str:
    return f"{os.getpid()}-{what}"


def _owner_alive(name: str) -> bool | None:
    """Whether the server that made group `name` still runs; None for a name of another form."""
    pid, dash, _ = name.partition("-")
    if not dash or not pid.isdigit():
        return None
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # another user's process: alive
    return True


def sweep_stale(min_age_s: float = 60.0) -> int:
    """Remove the groups that killed servers left behind (a run's groups outlive a SIGKILLed
    server, empty). A group whose server still runs is never touched, whatever its age; one named
    otherwise (an older Sandgate's) only once it is `min_age_s` old. The kernel refuses to remove a
    group that still holds a process."""
    removed = 0
    now = time.time()
    bases = [os.path.join(ROOT, ctl, PARENT) for ctl in ("pids", "memory")]
    cpu = cpu_group()
    if cpu is not None:
        bases.append(cpu)
    for base in bases:
        try:
            names = os.listdir(base)
        except OSError:
            continue
        for name in names:
            path = os.path.join(base, name)
            try:
                if name in live_names or not os.path.isdir(path):
                    continue
                alive = _owner_alive(name)
                if alive or (alive is None and now - os.stat(path).st_mtime < min_age_s):
                    continue
                os.rmdir(path)
                removed += 1
            except OSError:
                continue  # busy (a process inside) or gone already
    if removed:
        log.info("removed %d cgroups left behind by earlier servers", removed)
    return removed


def sweep_in_background() -> None:
    """`sweep_stale` once per process, off the caller's path (a machine's leftovers can number
    thousands)."""
    global _swept
    with _sweep_lock:
        if _swept:
            return
        _swept = True
    threading.Thread(target=sweep_stale, name="sandgate-cgroup-sweep", daemon=True).start()


def join_vets(pid: int, what: str) -> str | None:
    """Move process `pid` (all its threads) into a group of its own in the vets' CPU group: for
    the supervisor, whose work for a sandbox is that sandbox's. Soft: None if it cannot be done."""
    parent = cpu_group()
    if parent is None:
        return None
    path = os.path.join(parent, _group_name(what))
    try:
        os.makedirs(path, exist_ok=True)
        _write(os.path.join(path, "cgroup.procs"), str(pid))
    except OSError as exc:
        log.info("process %d stays at the usual CPU priority: %s", pid, exc)
        return None
    return path


@dataclass
class RunCgroup:
    pids_dir: str
    mem_dir: str
    # The run's own group inside the vets' CPU group (cpu_group), when there is one.
    cpu_dir: str | None = None

    @classmethod
    def create(cls, pids_max: int, memory_bytes: int) -> RunCgroup:
        name = _group_name(uuid.uuid4().hex[:10])
        dirs = []
        for ctl in ("pids", "memory"):
            path = os.path.join(ROOT, ctl, PARENT, name)
            os.makedirs(path, exist_ok=False)
            dirs.append(path)
        cg = cls(dirs[0], dirs[1], cpu_dir=_cpu_child(name))
        live_names.add(name)
        made_names.add(name)
        _write(os.path.join(cg.pids_dir, "pids.max"), str(pids_max))
        _write(os.path.join(cg.mem_dir, "memory.limit_in_bytes"), str(memory_bytes))
        memsw = os.path.join(cg.mem_dir, "memory.memsw.limit_in_bytes")
        if os.path.exists(memsw):  # no swap: memory+swap equals memory
            _write(memsw, str(memory_bytes))
        return cg

    def join_script(self) -> str:
        # Run by `sh -c` before exec'ing the sandbox, so the process is inside from its first
        # instruction (a preexec_fn is unsafe in a threaded server).
        # The limits' groups must be joined; the CPU group is a priority, so a failure there (the
        # group removed meanwhile) leaves the run at the usual one rather than fail it.
        limits = "".join(f"echo $$ > {d}/cgroup.procs && " for d in (self.pids_dir, self.mem_dir))
        cpu = f"{{ echo $$ > {self.cpu_dir}/cgroup.procs; }} 2>/dev/null; " if self.cpu_dir else ""
        return limits + cpu + 'exec "$@"'

    def peak_kb(self) -> int | None:
        value = _read(os.path.join(self.mem_dir, "memory.max_usage_in_bytes"))
        return int(value) // 1024 if value and value.strip().isdigit() else None

    def oom_killed(self) -> bool:
        return _counter(os.path.join(self.mem_dir, "memory.oom_control"), "oom_kill") > 0

    def pids_hit_max(self) -> bool:
        return _counter(os.path.join(self.pids_dir, "pids.events"), "max") > 0

    def procs(self) -> list[int]:
        text = _read(os.path.join(self.pids_dir, "cgroup.procs")) or ""
        return [int(x) for x in text.split()]

    @property
    def name(self) -> str:
        return os.path.basename(self.pids_dir)

    def destroy(self, timeout: float = 2.0) -> None:
        """Kill whatever is left inside and remove the cgroups."""
        deadline = time.monotonic() + timeout
        # Right after a run the sandbox's last process is usually still leaving (well under a
        # millisecond): poll finely at first, since this sits on every run's critical path.
        pause = 0.0002
        while True:
            pids = self.procs()
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            if time.monotonic() > deadline:
                log.warning("cgroup %s still has processes %s", self.pids_dir, pids)
                break
            time.sleep(pause)
            pause = min(pause * 2, 0.01)
        for path in (self.pids_dir, self.mem_dir, *([self.cpu_dir] if self.cpu_dir else [])):
            # A just-killed process can keep the group busy for a moment (EBUSY).
            deadline = time.monotonic() + 3.0
            while True:
                try:
                    os.rmdir(path)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        log.warning("could not remove cgroup %s", path)
                        break
                    time.sleep(0.01)
        if not os.path.exists(self.pids_dir) and not os.path.exists(self.mem_dir):
            live_names.discard(self.name)


def _cpu_child(name: str) -> str | None:
    parent = cpu_group()
    if parent is None:
        return None
    path = os.path.join(parent, name)
    try:
        os.mkdir(path)  # not makedirs: a parent removed meanwhile is not made again at full weight
    except OSError as exc:
        log.info("a run at the usual CPU priority: %s", exc)
        return None
    return path


def _write(path: str, value: str) -> None:
    with open(path, "w") as f:
        f.write(value)


def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def _counter(path: str, key: str) -> int:
    for line in (_read(path) or "").splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == key and parts[1].isdigit():
            return int(parts[1])
    return 0
