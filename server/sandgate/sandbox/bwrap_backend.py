"""The bubblewrap backend: one single-use bwrap per run, limits from cgroups or rlimits.

Sandboxes are started ahead of need by a warm pool (as the Docker backend's containers are): a
pooled sandbox has bwrap's namespaces and mounts set up, sits in its cgroup, and its Python has
started the bootstrap, which waits for the program on stdin. A run hands it the program and the
deadline starts then; the sandbox is discarded afterwards.
"""

from __future__ import annotations

import logging
import os
import selectors
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass

from sandgate.policy.model import SandboxLimits
from sandgate.egress.proxy import Resolver
from sandgate.sandbox import cgroup, egress, lifecycle, limits, protocol, runtime
from sandgate.sandbox.base import Probe, RunRequest, RunResult
from sandgate.sandbox.bwrap_args import bwrap_argv
from sandgate.sandbox.pool import WarmPool

log = logging.getLogger(__name__)

# Python and bwrap themselves need this much address space on top of the program's budget.
AS_OVERHEAD_MB = 96


def prlimit_args(lim: SandboxLimits, use_cgroup: bool, prlimit: str = "prlimit") -> list[str]:
    """rlimits set on bwrap and inherited by everything inside (pure; tested by equality)."""
    cpu = max(1, int(lim.cpu_time_s + 0.999))
    args = [
        prlimit,
        f"--cpu={cpu}:{cpu + 1}",
        f"--fsize={lim.file_size_mb * 1024 * 1024}",
        f"--nofile={lim.open_files}",
        "--core=0",
    ]
    if not use_cgroup:
        # No cgroup: memory by address space; processes by RLIMIT_NPROC, which counts every
        # process of the (real) user, so it is only a backstop there.
        args.append(f"--as={(lim.memory_mb + AS_OVERHEAD_MB) * 1024 * 1024}")
        args.append(f"--nproc={lim.processes + _user_process_count()}")
    return args + ["--"]


def _user_process_count() -> int:
    uid, n = os.getuid(), 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    n += 1
            except OSError:
                pass
    return n


class BwrapBackend:
    name = "bwrap"

    def __init__(self, bwrap: str | None = None, egress_resolver: Resolver | None = None, pool_size: int = 2) -> None:
        self.bwrap = bwrap or shutil.which("bwrap") or "bwrap"
        # How the egress proxy resolves names (None: the system resolver). Set by tests only,
        # from the host process; nothing inside a sandbox can reach it.
        self.egress_resolver = egress_resolver
        # Sandboxes started ahead of need: a run then skips bwrap's and Python's start-up (most
        # of its cost). One per run, never reused; runs with network access are made per run.
        self.pool: WarmPool[SpawnKey, Parked] = WarmPool(self._spawn, self._discard, size=pool_size,
                                                         name="sandgate-bwrap-pool")

    # -- probing -----------------------------------------------------------------------------
    def probe(self) -> Probe:
        if not shutil.which(self.bwrap):
            return Probe("bwrap", False, "bubblewrap is not installed", "apt-get install bubblewrap")
        if not shutil.which("prlimit"):
            return Probe("bwrap", False, "prlimit (util-linux) is missing", "apt-get install util-linux")
        try:
            runtime.discover()
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            return Probe("bwrap", False, f"no system Python runtime: {exc}", "apt-get install python3")
        result = self.run(RunRequest(code="print('ok')"))
        if result.error or result.exit_code != 0 or result.stdout.strip() != "ok":
            detail = result.error or limits.last_line(result.stderr) or f"exit {result.exit_code}"
            return Probe("bwrap", False, f"bubblewrap cannot start a sandbox: {detail}",
                         "enable unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1 "
                         "or user.max_user_namespaces>0) or run bwrap setuid")
        mode = "cgroup limits" if cgroup.available() else "rlimits only (no writable cgroup)"
        return Probe("bwrap", True, f"bubblewrap works ({mode}, {result.duration_ms:.0f} ms a run)")

    def close(self) -> None:
        self.pool.close()

    # -- sandboxes ---------------------------------------------------------------------------
    def _spawn(self, key: SpawnKey) -> Parked:
        """Start a sandbox: bwrap, Python and the bootstrap, which then waits for its program on
        stdin. Everything costly about a run happens here, so a pooled one is ready at once."""
        rt = runtime.discover()
        lim = key.limits
        # A networked sandbox gets a directory of its own, bound in now; the run that takes it
        # starts its egress proxy there (as the Docker backend's pooled containers do).
        top, inner = egress.make_socket_dir() if key.egress else (None, None)
        cg = None
        ev_r = ev_w = -1
        try:
            if cgroup.available():
                # A few pids for bwrap's own two processes and the shell wrapper.
                cg = cgroup.RunCgroup.create(lim.processes + 3, lim.memory_mb * 1024 * 1024)
            ev_r, ev_w = os.pipe()
            argv = prlimit_args(lim, cg is not None) + bwrap_argv(
                rt, runtime.etc_dir(), key.workspace, self.bwrap, egress_dir=inner)
            if cg is not None:
                argv = ["/bin/sh", "-c", cg.join_script(), "sh", *argv]
            proc = subprocess.Popen(
                argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                pass_fds=(ev_w,), start_new_session=True, env=dict(protocol.ENV), close_fds=True,
            )
        except BaseException:
            if ev_r >= 0:
                os.close(ev_r)
            if cg is not None:
                cg.destroy()
            egress.remove_socket_dir(top)
            raise
        finally:
            if ev_w >= 0:
                os.close(ev_w)
        # The events pipe keeps its number inside (pass_fds): the header tells the bootstrap.
        parked = Parked(proc, cg, ev_r, ev_w, f"bwrap:{uuid.uuid4().hex}", top, inner)
        lifecycle.register(parked.lifecycle_key, lambda: _kill(proc, cg))
        return parked

    def _discard(self, parked: Parked) -> None:
        lifecycle.unregister(parked.lifecycle_key)
        if parked.proc.returncode is None:  # once reaped, its pid may be another's: hands off
            _kill(parked.proc, parked.cg)
            parked.proc.wait()
        for stream in (parked.proc.stdin, parked.proc.stdout, parked.proc.stderr):
            if stream is not None:
                stream.close()
        os.close(parked.ev_r)
        if parked.cg is not None:
            parked.cg.destroy()
        egress.remove_socket_dir(parked.egress_top)

    def idle_cgroups(self) -> set[str]:
        """The cgroups that waiting pooled sandboxes hold (for diagnostics and tests)."""
        return {p.cg.name for p in self.pool.idle() if p.cg is not None}

    # -- running -----------------------------------------------------------------------------
    def warm(self, request: RunRequest) -> None:
        """Start filling the pool for runs like `request` (e.g. when a workspace opens)."""
        self.pool.want(_spawn_key(request))

    def run(self, request: RunRequest) -> RunResult:
        started = time.monotonic()
        try:
            return self._run(request, started)
        except Exception as exc:  # noqa: BLE001 - a backend never raises into the caller
            log.exception("bwrap run failed")
            return RunResult(backend=self.name, error=f"bubblewrap run failed: {exc}",
                             duration_ms=(time.monotonic() - started) * 1000)

    def _run(self, request: RunRequest, started: float) -> RunResult:
        key = _spawn_key(request)
        parked = self.pool.take(key)
        if parked is not None and parked.proc.poll() is not None:
            self._discard(parked)  # died while waiting (killed from outside): run cold
            parked = None
        if parked is None:
            parked = self._spawn(key)
        net = None
        if key.egress:
            # The sandbox runs as this user (uid-mapped): the proxy's socket stays 0600.
            net = egress.open_run(request.network, 0o600, self.egress_resolver, socket_dir=parked.egress_dir)
        return self._run_in(parked, request, started, net)

    def _run_in(self, parked: Parked, request: RunRequest, started: float, net: egress.EgressRun | None) -> RunResult:
        lim = request.limits
        proc, cg = parked.proc, parked.cg
        marker = protocol.new_marker()
        result = RunResult(backend=self.name)
        try:
            data = protocol.payload(request.code, request.relpath, parked.ev_w_num, marker,
                                    egress.header() if net and net.active else None)
            out = _pump(proc, data, parked.ev_r, marker, started + lim.wall_time_s, lim.output_bytes)
            result.stdout, result.stderr = out.stdout, out.stderr
            result.output_truncated = out.truncated
            result.events = out.events
            if out.stopped:
                _kill(proc, cg)
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            result.exit_code = _exit_code(proc.returncode)
            result.peak_memory_kb = (cg.peak_kb() if cg else None) or usage.ru_maxrss
            if out.stopped:
                # Events written before the kill are still in the pipe.
                out.events.extend(_drain_events(parked.ev_r, marker))
            result.killed = out.stopped
            result.timed_out = out.stopped == "time"
            if out.stopped == "time" and cg is not None and cg.pids_hit_max():
                result.killed = "processes"  # a fork bomb: the process limit is the story
            _classify(result, cg, lim)
        finally:
            if net is not None:
                result.events.extend(net.finish())
            self._discard(parked)
            result.duration_ms = (time.monotonic() - started) * 1000
        return result


@dataclass(frozen=True)
class SpawnKey:
    """What a sandbox is made with, before its program is known: runs that agree on it can take a
    sandbox from the pool."""

    workspace: str | None
    limits: SandboxLimits
    egress: bool = False  # a way out through a proxy socket (docs/network.md)


def _spawn_key(request: RunRequest) -> SpawnKey:
    return SpawnKey(str(request.workspace) if request.workspace else None, request.limits,
                    egress.wanted(request.network))


@dataclass
class Parked:
    """A started sandbox, its bootstrap waiting for a program on stdin. Used once."""

    proc: subprocess.Popen
    cg: cgroup.RunCgroup | None
    ev_r: int
    ev_w_num: int  # the events pipe's descriptor number inside the sandbox
    lifecycle_key: str
    egress_top: str | None = None  # D, removed with the sandbox
    egress_dir: str | None = None  # D/egress, bound in: where the run's proxy listens


def _exit_code(code: int) -> int:
    # A signal death as a shell reports it (137 for SIGKILL), like Docker does.
    return 128 - code if code < 0 else code


def _kill(proc: subprocess.Popen, cg: cgroup.RunCgroup | None) -> None:
    try:
        os.killpg(proc.pid, 9)
    except (ProcessLookupError, PermissionError):
        pass
    if cg is not None:
        for pid in cg.procs():
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass


def _classify(result: RunResult, cg: cgroup.RunCgroup | None, lim: SandboxLimits) -> None:
    if result.killed:
        return
    seen = limits.from_stderr(result.stderr)
    if cg is not None and cg.oom_killed():
        result.killed = "memory"
    elif cg is not None and cg.pids_hit_max():
        result.killed = "processes"
    elif "memory" in seen:
        result.killed = "memory"
    elif "processes" in seen:
        result.killed = "processes"
    # SIGXCPU (RLIMIT_CPU soft) or the hard SIGKILL after it: out of CPU time.
    if result.killed is None and result.exit_code in (128 + 24,):
        result.killed = "time"
        result.timed_out = True


def _drain_events(fd: int, marker: str) -> list[dict]:
    splitter = protocol.EventSplitter(marker)
    os.set_blocking(fd, False)
    try:
        while chunk := os.read(fd, 65536):
            splitter.feed(chunk)
    except (BlockingIOError, OSError):
        pass
    return splitter.events


def _pump(proc: subprocess.Popen, data: bytes, ev_fd: int, marker: str, deadline: float, cap: int) -> protocol.Captured:
    """Feed stdin, collect stdout/stderr/events until EOF, the deadline or the output cap."""
    res = protocol.Captured()
    splitter = protocol.EventSplitter(marker)
    bufs = {"stdout": bytearray(), "stderr": bytearray()}
    total = 0
    sel = selectors.DefaultSelector()
    assert proc.stdin and proc.stdout and proc.stderr
    os.set_blocking(proc.stdin.fileno(), False)
    sel.register(proc.stdin, selectors.EVENT_WRITE, "stdin")
    sel.register(proc.stdout, selectors.EVENT_READ, "stdout")
    sel.register(proc.stderr, selectors.EVENT_READ, "stderr")
    sel.register(ev_fd, selectors.EVENT_READ, "events")
    view = memoryview(data)
    open_reads = 3
    try:
        while open_reads:
            left = deadline - time.monotonic()
            if left <= 0:
                res.stopped = "time"
                break
            for key, _ in sel.select(timeout=min(left, 0.5)):
                name = key.data
                if name == "stdin":
                    try:
                        n = os.write(key.fd, view[:65536])
                    except (BrokenPipeError, OSError):
                        n = len(view)
                    view = view[n:]
                    if not view:
                        sel.unregister(key.fileobj)
                        proc.stdin.close()
                    continue
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    sel.unregister(key.fileobj)
                    open_reads -= 1
                    continue
                if name == "events":
                    splitter.feed(chunk)
                    continue
                room = cap + 1 - total
                bufs[name] += chunk[:max(room, 0)]
                total += len(chunk)
                if total > cap:
                    res.truncated = True
                    res.stopped = "output"
                    break
            if res.stopped:
                break
    finally:
        sel.close()
        if proc.stdin and not proc.stdin.closed:
            try:
                proc.stdin.close()
            except OSError:
                pass
    if res.truncated:
        # Keep exactly `cap` bytes of output, stdout first.
        out = bytes(bufs["stdout"])[:cap]
        bufs["stdout"], bufs["stderr"] = out, bytes(bufs["stderr"])[: max(cap - len(out), 0)]
    res.stdout = bytes(bufs["stdout"]).decode("utf-8", "replace")
    res.stderr = bytes(bufs["stderr"]).decode("utf-8", "replace")
    res.events = splitter.events
    return res
