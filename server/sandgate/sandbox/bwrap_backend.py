"""The bubblewrap backend: one single-use bwrap per run, limits from cgroups or rlimits.

Sandboxes are started ahead of need by a warm pool (as the Docker backend's containers are): a
pooled sandbox has bwrap's namespaces and mounts set up, sits in its cgroup, and its Python has
started the bootstrap, which has planted the sandbox's own honeytokens and waits for the program on
stdin. A run hands it the program and the
deadline starts then; the sandbox is discarded afterwards.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass

from sandgate.egress.proxy import Resolver
from sandgate.policy.model import SandboxLimits
from sandgate.sandbox import (
    cgroup,
    honeytokens,
    identity,
    lifecycle,
    limit_classifier,
    node_runtime,
    protocol,
    proxy_wiring,
    run_output,
    runtime,
    supervision,
    syscall_filter,
    workspace_view,
)
from sandgate.sandbox.base import Probe, RunRequest, RunResult
from sandgate.sandbox.bwrap_args import bwrap_argv
from sandgate.sandbox.cpu_limit import cpu_rlimit
from sandgate.sandbox.pool import WarmPool

log = logging.getLogger(__name__)

# Python and bwrap themselves need this much address space on top of the program's budget.
AS_OVERHEAD_MB = 96
# Node's V8 reserves ~1-2 GB of address space at start (code range, pointer tables) that it never
# fills: without a cgroup, its heap is capped by --max-old-space-size instead (node_flags).
NODE_AS_OVERHEAD_MB = 2560
# How long the supervisor may take to see a finished sandbox's last process go.
OUTSIDE_WAIT_S = 2.0


def prlimit_args(
    lim: SandboxLimits, use_cgroup: bool, prlimit: str = "prlimit", uid: int | None = None, node: bool = False
) -> list[str]:
    """rlimits set on bwrap and inherited by everything inside (pure; tested by equality)."""
    cpu_soft, cpu_hard = cpu_rlimit(lim)
    args = [
        prlimit,
        f"--cpu={cpu_soft}:{cpu_hard}",
        f"--fsize={lim.file_size_mb * 1024 * 1024}",
        f"--nofile={lim.open_files}",
        "--core=0",
    ]
    if not use_cgroup:
        # No cgroup: memory by address space; processes by RLIMIT_NPROC, which counts every
        # process of the (real) user, so it is only a backstop there.
        overhead = NODE_AS_OVERHEAD_MB if node else AS_OVERHEAD_MB
        args.append(f"--as={(lim.memory_mb + overhead) * 1024 * 1024}")
        args.append(f"--nproc={lim.processes + _user_process_count(os.getuid() if uid is None else uid)}")
    return args + ["--"]


def node_flags(node: node_runtime.NodeRuntime, lim: SandboxLimits, use_cgroup: bool) -> list[str]:
    """Node's flags: TypeScript's, and without a cgroup a heap cap (the address-space limit cannot
    be tight for V8, see NODE_AS_OVERHEAD_MB)."""
    flags = node.strip_types_flags()
    if not use_cgroup:
        flags.append(f"--max-old-space-size={lim.memory_mb}")
    return flags


def _user_process_count(uid: int) -> int:
    n = 0
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
        self.pool: WarmPool[SpawnKey, Parked] = WarmPool(
            self._spawn, self._discard, size=pool_size, name="sandgate-bwrap-pool"
        )
        if cgroup.available():
            cgroup.sweep_in_background()

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
            detail = result.error or run_output.last_line(result.stderr) or f"exit {result.exit_code}"
            return Probe(
                "bwrap",
                False,
                f"bubblewrap cannot start a sandbox: {detail}",
                "enable unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1 "
                "or user.max_user_namespaces>0) or run bwrap setuid",
            )
        if not cgroup.available():
            mode = "rlimits only (no writable cgroup)"
        elif cgroup.cpu_group():
            mode = "cgroup limits, vets at a low CPU weight"
        else:
            mode = "cgroup limits; vets at the usual CPU priority (no writable v1 cpu controller)"
        return Probe("bwrap", True, f"bubblewrap works ({mode}, {result.duration_ms:.0f} ms a run)")

    def close(self) -> None:
        self.pool.close()

    # -- sandboxes ---------------------------------------------------------------------------
    def _spawn(self, key: SpawnKey) -> Parked:
        """Start a sandbox: bwrap, Python and the bootstrap, which arms the supervisor's monitor
        and then waits for its program on stdin. Everything costly about a run happens here, so
        a pooled one is ready at once."""
        rt = runtime.discover()
        node = node_runtime.discover() if key.runtime == "node" else None
        lim = key.limits
        who = identity.sandbox_identity(key.user)
        confinement = syscall_filter.programs().confinement
        parked = Parked(lifecycle_key=f"bwrap:{uuid.uuid4().hex}")
        child_fds: list[int] = []
        try:
            etc = runtime.etc_dir()
            hidden: list[tuple[str, bool]] = []
            ws_fd = egress_fd = None
            if key.workspace:
                shown, hidden, parked.snapshot, parked.withheld = _workspace_for(key, who)
                if shown is not None:
                    ws_fd = os.open(shown, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
                    child_fds.append(ws_fd)
            if key.egress:
                # A networked sandbox gets a directory of its own, bound in now; the run that
                # takes it starts its egress proxy there (as Docker's pooled containers do).
                parked.egress_top, parked.egress_dir = proxy_wiring.make_socket_dir(
                    runtime.sandbox_run_dir() if who.dropped else None
                )
                egress_fd = os.open(parked.egress_dir, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
                child_fds.append(egress_fd)
            seccomp_fd = os.memfd_create("sandgate-seccomp", os.MFD_CLOEXEC)
            child_fds.append(seccomp_fd)
            os.write(seccomp_fd, confinement)
            os.lseek(seccomp_fd, 0, os.SEEK_SET)
            # The supervisor's line into this sandbox: it arms the monitor before any program.
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            ctl_fd = theirs.detach()
            child_fds.append(ctl_fd)
            if key.honey:
                # Its own honeytokens, planted by its bootstrap before the monitor is armed.
                parked.honey = honeytokens.new(preplanted=True)
            try:
                parked.sid = supervision.shared().watch(
                    ours, supervision.watch_config(lim, parked.honey, launch=protocol.NODE if node else None)
                )
            finally:
                ours.close()
            if cgroup.available():
                # A few pids for bwrap's own two processes and the shell wrapper.
                parked.cg = cgroup.RunCgroup.create(lim.processes + 3, lim.memory_mb * 1024 * 1024)
            parked.ev_r, ev_w = os.pipe()
            child_fds.append(ev_w)
            parked.ev_w_num = ev_w
            argv = (
                identity.drop_args(who)
                + prlimit_args(lim, parked.cg is not None, uid=who.uid, node=node is not None)
                + bwrap_argv(
                    rt,
                    etc,
                    ws_fd,
                    self.bwrap,
                    egress_fd=egress_fd,
                    seccomp_fd=seccomp_fd,
                    hidden=hidden,
                    python_argv=(
                        protocol.node_argv(node_flags(node, lim, parked.cg is not None), control=f"fd:{ctl_fd}")
                        if node
                        else protocol.python_argv(control=f"fd:{ctl_fd}")
                    ),
                    node=node,
                )
            )
            if parked.cg is not None:
                argv = ["/bin/sh", "-c", parked.cg.join_script(), "sh", *argv]
            # cwd "/": nothing of ours (the server's working folder) shows in the sandbox's /proc.
            parked.proc = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd="/",
                pass_fds=tuple(child_fds),
                start_new_session=True,
                env=dict(protocol.ENV),
                close_fds=True,
            )
        except BaseException:
            self._discard(parked)
            raise
        finally:
            for fd in child_fds:
                os.close(fd)
        proc, cg = parked.proc, parked.cg
        lifecycle.register(parked.lifecycle_key, lambda: _kill(proc, cg))
        return parked

    def _discard(self, parked: Parked) -> None:
        lifecycle.unregister(parked.lifecycle_key)
        proc = parked.proc
        if proc is not None:
            if proc.returncode is None:  # once reaped, its pid may be another's: hands off
                _kill(proc, parked.cg)
                proc.wait()
            for stream in (proc.stdin, proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()
        if parked.ev_r >= 0:
            os.close(parked.ev_r)
            parked.ev_r = -1
        if parked.sid:
            supervision.shared().forget(parked.sid)
        if parked.cg is not None:
            parked.cg.destroy()
        proxy_wiring.remove_socket_dir(parked.egress_top)
        if parked.snapshot:
            shutil.rmtree(parked.snapshot, ignore_errors=True)

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
            return RunResult(
                backend=self.name,
                error=f"bubblewrap run failed: {exc}",
                duration_ms=(time.monotonic() - started) * 1000,
            )

    def _run(self, request: RunRequest, started: float) -> RunResult:
        key = _spawn_key(request)
        parked = self.pool.take(key)
        while parked is not None and (
            parked.proc is None
            or parked.proc.poll() is not None
            or parked.sid is None
            or not supervision.shared().serves(parked.sid)
        ):
            # Died while waiting (killed from outside), or armed by a supervisor that died since.
            self._discard(parked)
            parked = self.pool.take(key)
        if parked is None:
            parked = self._spawn(key)
        net = None
        if key.egress:
            # The sandbox runs as this user (uid-mapped): the proxy's socket stays 0600.
            # The sandbox user may be another host user (Sandgate runs as root): the socket is
            # world-connectable inside the one directory only this sandbox is given.
            net = proxy_wiring.open_run(request.network, 0o666, self.egress_resolver, socket_dir=parked.egress_dir)
        return self._run_in(parked, request, started, net)

    def _run_in(
        self, parked: Parked, request: RunRequest, started: float, net: proxy_wiring.EgressRun | None
    ) -> RunResult:
        lim = request.limits
        proc, cg, sid = parked.proc, parked.cg, parked.sid
        if proc is None or sid is None:  # parking sets both; a sandbox without them never runs code
            raise RuntimeError("a parked sandbox without its process or supervision")
        marker = protocol.new_marker()
        result = RunResult(backend=self.name, honey=parked.honey or request.honey)
        try:
            data = protocol.payload(
                request.code,
                request.relpath,
                parked.ev_w_num,
                marker,
                proxy_wiring.header() if net and net.active else None,
                extra=request.header(parked.honey),
            )
            # The program's time starts with its code: spawning a cold sandbox is not its time.
            assert proc.stdin and proc.stdout and proc.stderr
            out = run_output.read_run(
                (proc.stdin, proc.stdout, proc.stderr),
                data,
                parked.ev_r,
                marker,
                time.monotonic() + lim.wall_time_s,
                lim.output_bytes,
            )
            result.stdout, result.stderr = out.stdout, out.stderr
            result.output_truncated = out.truncated
            result.events = out.events
            if out.stopped:
                _kill(proc, cg)
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            result.exit_code = run_output.shell_exit_code(proc.returncode)
            result.peak_memory_kb = (cg.peak_kb() if cg else None) or usage.ru_maxrss
            if out.stopped:
                # Events written before the kill are still in the pipe.
                out.events.extend(protocol.drain_events(parked.ev_r, marker))
            # bwrap is gone, and with it its pid namespace: the record is complete at once.
            result.outside = supervision.shared().finish(sid, OUTSIDE_WAIT_S)
            parked.sid = None
            if parked.withheld:
                result.events.append({"kind": "workspace-withheld", "reason": parked.withheld})
            result.killed, result.timed_out = limit_classifier.classify(
                out.stopped,
                result.exit_code,
                result.stderr,
                pids_hit_max=cg is not None and cg.pids_hit_max(),
                oom_killed=lambda: cg is not None and cg.oom_killed(),
            )
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
    exclude: tuple[str, ...] = ()  # files.exclude: hidden from the sandbox
    user: str | None = None  # sandbox.user: the host user when Sandgate runs as root
    honey: bool = False  # made with its own honeytokens (the run wants them)
    runtime: str = "python"  # which runtime it parks (protocol.RUNTIMES)


def _spawn_key(request: RunRequest) -> SpawnKey:
    return SpawnKey(
        str(request.workspace) if request.workspace else None,
        request.limits,
        proxy_wiring.wanted(request.network),
        tuple(request.exclude),
        request.user,
        request.honey is not None,
        request.runtime,
    )


@dataclass
class Parked:
    """A started sandbox, its bootstrap waiting for a program on stdin. Used once."""

    lifecycle_key: str
    proc: subprocess.Popen | None = None
    cg: cgroup.RunCgroup | None = None
    ev_r: int = -1
    ev_w_num: int = -1  # the events pipe's descriptor number inside the sandbox
    sid: str | None = None  # the supervisor's name for it
    egress_top: str | None = None  # D, removed with the sandbox
    egress_dir: str | None = None  # D/egress, bound in: where the run's proxy listens
    snapshot: str | None = None  # a copied workspace view, removed with the sandbox
    withheld: str | None = None  # why the workspace is not shown, when it is not
    honey: honeytokens.Honey | None = None  # planted when the sandbox was made


def _workspace_for(
    key: SpawnKey, who: identity.HostIdentity
) -> tuple[str | None, list[tuple[str, bool]], str | None, str | None]:
    """(folder to show, paths to cover in it, a snapshot folder to remove later, why nothing is
    shown). The workspace itself when the sandbox user may read it, else a copy of what it may."""
    assert key.workspace is not None
    view = workspace_view.plan(key.workspace, key.exclude)
    if view.withheld:
        return None, [], None, view.withheld
    if not who.dropped or workspace_view.reachable_by(key.workspace, who.uid, who.gid):
        return (
            key.workspace,
            view.coverable(),
            None,
            None,
        )
    snapshot = tempfile.mkdtemp(prefix=f"ws-{os.getpid()}-", dir=runtime.sandbox_run_dir())
    try:
        workspace_view.copy_into(view, snapshot)
    except BaseException:
        shutil.rmtree(snapshot, ignore_errors=True)
        raise
    return snapshot, [], snapshot, None


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
