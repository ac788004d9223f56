"""Docker, nested: a run's sandbox is a fresh bubblewrap sandbox made inside a long-lived container.

A container per run costs the engine a create, start, exit and removal — about 110 ms of the
machine's CPU, against ~19 ms for bubblewrap in a container that stays (docs/sandbox.md, "Docker,
nested"). So on a local engine whose image carries bubblewrap, each kind of run (a ContainerSpec)
gets containers that live as long as Sandgate wants them: docker-init, and the agent (agent.py),
which starts the sandboxes the host asks for, one at a time, so the container's cgroup limits are
that sandbox's. The sandbox is the bubblewrap backend's own (bwrap_args.py): new namespaces of
every kind, --disable-userns, the confinement filter, the supervisor's monitor, a root of read-only
binds and the run's own tmpfs scratch and home. Nothing a run writes or starts survives it.

The container is the outer wall: uid 65534, no capabilities, no-new-privileges, a read-only root,
no network, the run's memory, pids and CPU limits. It differs from a container per run in two
ways, both for bubblewrap's sake: its seccomp profile lets it make namespaces and mounts
(outer_profile.py; the code under test never can), and its /proc is not masked (the sandbox mounts
a /proc of its own, which a masked one forbids).

A pooled item is a parked sandbox: its container, and bubblewrap's Python waiting in the bootstrap
for its program, armed by the supervisor. After a run, the container parks the next one.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sandgate.sandbox import (
    agent,
    agent_link,
    honeytokens,
    lifecycle,
    limit_classifier,
    node_runtime,
    outer_profile,
    protocol,
    proxy_wiring,
    run_output,
    runtime,
    supervision,
    syscall_filter,
    workspace_view,
)
from sandgate.sandbox.base import RunRequest, RunResult
from sandgate.sandbox.bwrap_args import bwrap_argv
from sandgate.sandbox.cpu_limit import cpu_rlimit
from sandgate.sandbox.docker_spec import CONTROL_INSIDE, ContainerSpec, covers, nested_kwargs
from sandgate.sandbox.image import BWRAP

if TYPE_CHECKING:
    from sandgate.sandbox.docker_backend import DockerBackend

log = logging.getLogger(__name__)

AGENT_SOCKET = "agent.sock"
# Where the container holds its egress folder; the agent opens it for each sandbox.
EGRESS_OUTER = "/run/sandgate-egress-outer"
CONNECT_S = 15.0
SPAWN_S = 10.0
OUTSIDE_WAIT_S = 2.0
# Idle containers (no sandbox parked) kept per kind of run (at least; as many as the pool holds), and
# for how long: a kind of run no longer asked for (another workspace) gives its containers back.
IDLE_KEPT = 1
IDLE_S = 60.0


@dataclass(eq=False)
class Host:
    """A long-lived container and its agent."""

    container: Any
    link: agent_link.AgentLink
    spec: ContainerSpec
    top: str  # its own host folder (control, egress), removed with it
    healthy: bool = True
    idle_since: float = 0.0


@dataclass
class Parked:
    """A sandbox started in a host, its bootstrap waiting for a program. Used once."""

    host: Host
    ident: str
    stdin: int = -1
    stdout: int = -1
    stderr: int = -1
    events: int = -1
    events_number: int = -1  # the events pipe's descriptor number inside the sandbox
    sid: str | None = None
    honey: honeytokens.Honey | None = None
    withheld: str | None = None
    running: bool = True  # the agent has not reported its exit
    pids_before: int | None = None


class NestedHosts:
    """The long-lived containers of one Docker backend, and the sandboxes parked in them."""

    def __init__(self, backend: DockerBackend) -> None:
        self.backend = backend
        self._lock = threading.Lock()
        self._idle: dict[ContainerSpec, list[Host]] = {}
        self._all: set[Host] = set()

    # -- containers -----------------------------------------------------------------------------
    def _host_for(self, spec: ContainerSpec) -> Host:
        found = None
        with self._lock:
            dead = self._expired()
            idle = self._idle.get(spec) or []
            while idle and found is None:
                host = idle.pop()
                if host.healthy and not host.link.hung_up():
                    found = host
                else:
                    dead.append(host)  # stopped meanwhile (killed, an engine restart)
        for host in dead:
            self._retire(host)
        return found or self._make_host(spec)

    def _expired(self) -> list[Host]:
        """Idle containers kept longer than IDLE_S, taken out of the idle lists (lock held)."""
        now = time.monotonic()
        old = [h for hosts in self._idle.values() for h in hosts if now - h.idle_since > IDLE_S]
        for spec in list(self._idle):
            self._idle[spec] = [h for h in self._idle[spec] if h not in old]
        return old

    def _make_host(self, spec: ContainerSpec) -> Host:
        from docker.models.containers import _create_container_args

        b = self.backend
        top, egress_dir = proxy_wiring.make_socket_dir()
        try:
            control_dir = os.path.join(top, "control")
            os.mkdir(control_dir)
            os.chmod(control_dir, 0o711)
            listening = agent_link.listen(os.path.join(control_dir, AGENT_SOCKET))
            try:
                etc = runtime.etc_dir()
                hidden: list[tuple[str, str]] = []
                shown = spec
                if spec.workspace:
                    view = workspace_view.plan(spec.workspace, spec.exclude)
                    if view.withheld:  # its secrets could not all be found: not even the agent sees it
                        shown = dataclasses.replace(spec, workspace=None)
                    hidden = covers(view.coverable(), etc)
                kwargs = nested_kwargs(
                    shown,
                    b.labels(top),
                    agent_source=agent_source(),
                    agent_socket=f"{CONTROL_INSIDE}/{AGENT_SOCKET}",
                    control_dir=control_dir,
                    egress_dir=egress_dir if spec.egress else None,
                    egress_inside=EGRESS_OUTER,
                    etc_dir=etc,
                    seccomp=outer_profile.security_opt(),
                    hidden=hidden,
                )
                kwargs["version"] = b.client.api._version
                args = _create_container_args(kwargs)
                # systempaths=unconfined, which this engine's API takes only this way: bubblewrap
                # mounts the sandbox's own /proc, which masked paths forbid.
                args["host_config"]["MaskedPaths"] = []
                args["host_config"]["ReadonlyPaths"] = []
                with lifecycle.making(), b.creating():
                    try:
                        cid = b.client.api.create_container(**args)["Id"]
                    except Exception as exc:
                        if not spec.runtime or "runtime" not in str(exc).lower():
                            raise
                        # The chosen runtime refused (as for a container per run): the default.
                        b.runtime_failed(spec.runtime, exc)
                        args["host_config"].pop("Runtime", None)
                        cid = b.client.api.create_container(**args)["Id"]
                    container = b.client.containers.prepare_model({"Id": cid})
                    lifecycle.register(f"docker:{cid}", lambda: self._remove_container(container, top))
                try:
                    container.start()
                    link = agent_link.AgentLink.accept(listening, CONNECT_S)
                except BaseException:
                    self._remove_container(container, top)
                    raise
            finally:
                listening.close()
        except BaseException:
            proxy_wiring.remove_socket_dir(top)
            raise
        host = Host(container, link, spec, top)
        with self._lock:
            self._all.add(host)
        return host

    def _give_back(self, host: Host) -> None:
        """A host whose sandbox is over: kept for the next one of its kind, or removed."""
        with self._lock:
            retired = self._expired()
            idle = self._idle.setdefault(host.spec, [])
            # As many as the pool holds: it parks its next sandboxes in them.
            if host.healthy and len(idle) < max(IDLE_KEPT, self.backend.pool.size):
                host.idle_since = time.monotonic()
                idle.append(host)
            else:
                retired.append(host)
        for each in retired:
            self._retire(each)

    def _retire(self, host: Host) -> None:
        with self._lock:
            self._all.discard(host)
        host.link.close()  # the agent ends every sandbox and itself
        self._remove_container(host.container, host.top)

    def _remove_container(self, container: Any, top: str) -> None:
        lifecycle.unregister(f"docker:{container.id}")
        try:
            container.remove(force=True, v=True)
        except Exception as exc:  # noqa: BLE001 - gone already, or the engine is; reaped next start
            log.debug("removing %s failed: %s", container.id[:12], exc)
        proxy_wiring.remove_socket_dir(top)

    def close(self) -> None:
        with self._lock:
            hosts = list(self._all)
            self._idle.clear()
        for host in hosts:
            self._retire(host)

    def container_ids(self) -> list[str]:
        with self._lock:
            return [h.container.id for h in self._all]

    def tops(self) -> set[str]:
        """The host folders live containers hold."""
        with self._lock:
            return {h.top for h in self._all}

    # -- sandboxes ------------------------------------------------------------------------------
    def park(self, spec: ContainerSpec) -> Parked:
        """The pool's maker: a sandbox started and armed in a host of `spec`."""
        host = self._host_for(spec)
        try:
            return self._spawn(host)
        except BaseException:
            host.healthy = False
            self._retire(host)
            raise

    def _spawn(self, host: Host) -> Parked:
        spec = host.spec
        lim = spec.limits
        rt = runtime.discover()
        inside_rt = dataclasses.replace(rt, libs=tuple((i, i) for i, _ in rt.libs))
        node = None
        if spec.program_runtime == "node":
            found = node_runtime.discover()
            node = dataclasses.replace(found, node=protocol.NODE, libs=tuple((i, i) for i, _ in found.libs))
        parked = Parked(host, uuid.uuid4().hex)
        theirs: dict[str, int] = {}
        opened: dict[str, str] = {}
        try:
            hidden: list[tuple[str, bool]] = []
            if spec.workspace:
                # Planned afresh for every sandbox: a secret file made since the container was is
                # covered too (the container's own covers date from its making).
                view = workspace_view.plan(spec.workspace, spec.exclude)
                parked.withheld = view.withheld
                if not view.withheld:
                    opened["workspace"] = protocol.WORKSPACE
                    hidden = view.coverable()
            if spec.egress:
                opened["egress"] = EGRESS_OUTER
            seccomp_fd = os.memfd_create("sandgate-seccomp", os.MFD_CLOEXEC)
            theirs["seccomp"] = seccomp_fd
            os.write(seccomp_fd, syscall_filter.programs().confinement)
            os.lseek(seccomp_fd, 0, os.SEEK_SET)
            ours, ctl = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            theirs["control"] = ctl.detach()
            if spec.honey:
                parked.honey = honeytokens.new(preplanted=True)
            try:
                parked.sid = supervision.shared().watch(
                    ours,
                    supervision.watch_config(
                        lim,
                        parked.honey,
                        launch=protocol.NODE if node else None,
                        owner=self.backend.owner_filter(),
                    ),
                )
            finally:
                ours.close()
            supervision.shared().adopt(parked.sid, host.container.id)
            for name in ("stdin", "stdout", "stderr", "events"):
                r, w = os.pipe()
                if name == "stdin":
                    parked.stdin, theirs[name] = w, r
                else:
                    setattr(parked, name, r)
                    theirs[name] = w
            argv = bwrap_argv(
                inside_rt,
                runtime.etc_dir(),
                "{fd:workspace}" if "workspace" in opened else None,
                BWRAP,
                python_argv=(
                    protocol.node_argv(node.strip_types_flags(), control="fd:{fd:control}")
                    if node
                    else protocol.python_argv(control="fd:{fd:control}")
                ),
                egress_fd="{fd:egress}" if spec.egress else None,
                seccomp_fd="{fd:seccomp}",
                hidden=hidden,
                node=node,
            )
            cpu_soft, cpu_hard = cpu_rlimit(lim)
            size = lim.file_size_mb * 1024 * 1024
            rlimits = {
                "RLIMIT_CPU": (cpu_soft, cpu_hard),
                "RLIMIT_FSIZE": (size, size),
                "RLIMIT_NOFILE": (lim.open_files, lim.open_files),
                "RLIMIT_CORE": (0, 0),
            }
            parked.pids_before = _pids_refused(host.container.id)
            spawned = host.link.spawn(parked.ident, argv, theirs, opened=opened, rlimits=rlimits, timeout=SPAWN_S)
            parked.events_number = spawned.numbers["events"]
        except BaseException:
            self._close_fds(parked)
            if parked.sid:
                supervision.shared().forget(parked.sid)
            raise
        finally:
            for fd in theirs.values():
                os.close(fd)
        return parked

    def discard(self, parked: Parked) -> None:
        """The pool's discarder (and every run's end): the sandbox ended, its host given back."""
        if parked.running:
            parked.host.link.kill(parked.ident)
            try:
                done = parked.host.link.wait_exit(parked.ident, OUTSIDE_WAIT_S)
            except agent_link.AgentGone:
                done = None
            if done is None:
                parked.host.healthy = False
            parked.running = False
        self._close_fds(parked)
        if parked.sid:
            supervision.shared().forget(parked.sid)
            parked.sid = None
        self._give_back(parked.host)

    @staticmethod
    def _close_fds(parked: Parked) -> None:
        for name in ("stdin", "stdout", "stderr", "events"):
            fd = getattr(parked, name)
            if fd >= 0:
                os.close(fd)
                setattr(parked, name, -1)

    def alive(self, parked: Parked) -> bool:
        """Whether a parked sandbox can still take a program: its container up (a stopped one, or an
        engine restarted since, hangs up the agent) and its supervisor the one running."""
        if parked.host.link.hung_up():
            parked.host.healthy = False
        return parked.host.healthy and parked.sid is not None and supervision.shared().serves(parked.sid)

    def works(self, spec: ContainerSpec) -> str | None:
        """A first sandbox made and run here, as the bubblewrap backend's probe does: None when it
        printed what it was given, else why not (the image lacks bubblewrap, the engine or the
        kernel refuse its namespaces)."""
        parked = self.park(spec)
        result = self.run_in(parked, RunRequest(code="print('ok')", limits=spec.limits), time.monotonic())
        why = None
        if result.error:
            why = result.error
        elif result.exit_code != 0 or result.stdout != "ok\n":
            why = run_output.last_line(result.stderr) or f"exit {result.exit_code}"
        elif result.outside is None or not result.outside.armed:
            why = "the sandbox's monitor was not armed"
        if why:
            self.close()  # nothing nested is made here from now on
        return why

    # -- running --------------------------------------------------------------------------------
    def run_in(self, parked: Parked, request: RunRequest, started: float) -> RunResult:
        lim = request.limits
        host = parked.host
        result = RunResult(backend=self.backend.name, honey=parked.honey or request.honey)
        net: proxy_wiring.EgressRun | None = None
        try:
            if host.spec.egress:
                net = proxy_wiring.open_run(
                    request.network,
                    0o666,
                    self.backend.egress_resolver,
                    socket_dir=os.path.join(host.top, "egress"),
                )
            marker = protocol.new_marker()
            data = protocol.payload(
                request.code,
                request.relpath,
                parked.events_number,
                marker,
                proxy_wiring.header() if net and net.active else None,
                extra=request.header(parked.honey),
            )
            # A file: the pump closes it once the program is written (EOF on the sandbox's stdin).
            stdin, parked.stdin = open(parked.stdin, "wb", buffering=0), -1  # noqa: SIM115
            deadline = time.monotonic() + lim.wall_time_s
            out = run_output.read_run(
                (stdin, parked.stdout, parked.stderr), data, parked.events, marker, deadline, lim.output_bytes
            )
            stopped = out.stopped
            if stopped:
                host.link.kill(parked.ident)
            try:
                done = host.link.wait_exit(parked.ident, max(deadline - time.monotonic(), 0) + OUTSIDE_WAIT_S)
            except agent_link.AgentGone as exc:
                host.healthy = False
                parked.running = False
                raise RuntimeError(f"the sandbox's container ended during the run ({exc})") from exc
            if done is None:  # not even a kill ended it: the container goes
                host.healthy = False
                raise RuntimeError("the sandbox did not end when it was killed")
            parked.running = False
            if stopped:
                # Events written before the kill are still in the pipe.
                out.events.extend(protocol.drain_events(parked.events, marker))
            result.stdout, result.stderr = out.stdout, out.stderr
            result.output_truncated = out.truncated
            result.events = out.events
            result.exit_code = run_output.shell_exit_code(os.waitstatus_to_exitcode(done.status))
            result.peak_memory_kb = done.maxrss_kb or None
            sid, parked.sid = parked.sid, None
            result.outside = (
                supervision.shared().finish(sid, OUTSIDE_WAIT_S) if sid else supervision.lost("no supervisor")
            )
            if parked.withheld:
                result.events.append({"kind": "workspace-withheld", "reason": parked.withheld})
            pids_after = _pids_refused(host.container.id)
            result.killed, result.timed_out = limit_classifier.classify(
                stopped,
                result.exit_code,
                result.stderr,
                pids_hit_max=(
                    pids_after is not None and parked.pids_before is not None and pids_after > parked.pids_before
                ),
                oom_killed=lambda: bool(done.oom_kills),
            )
            if result.killed == "memory":
                result.peak_memory_kb = lim.memory_mb * 1024
            return result
        finally:
            if net is not None:
                result.events.extend(net.finish())
            self.discard(parked)
            result.duration_ms = (time.monotonic() - started) * 1000


def agent_source() -> str:
    with open(agent.__file__, encoding="utf-8") as f:
        return f.read()


def _pids_refused(cid: str) -> int | None:
    from sandgate.sandbox.docker_backend import _pids_refused as refused

    return refused(cid)
