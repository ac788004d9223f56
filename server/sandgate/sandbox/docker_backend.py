"""The Docker backend: a fresh sandbox per run, started ahead of time by a warm pool.

On a local engine whose image carries bubblewrap, the sandbox is a bubblewrap sandbox made inside a
long-lived hardened container (docker_nested.py): a run then costs the engine nothing. Otherwise
(a remote engine, a private workspace copied in per run, an older image) it is a hardened
single-use container, below.

A pooled container has already started Python, planted its honeytokens and sits in the
bootstrap's read of stdin. A run attaches, sends the program, reads the demultiplexed output until
EOF (or kills the container at the deadline or the output cap), then removes the container. One
container, one run: nothing carries over. Code and (for a remote engine) the workspace travel over
the API, never by binding local paths on a remote daemon.

Engine work per run, all of it measured (docs/benchmarks.md): create and start (in the pool, by as
many threads as vet slots, two at most; a burst's worth of containers kept ready), attach (the run), wait
and remove (in the background): five API calls, no inspect unless a pooled container stays silent.
The container is made without a network (`network_disabled`), which spares a run of the dockerd
binary as a prestart hook, and with crun as its runtime where the engine has it (`runtime()`),
falling back to the engine's default when crun is absent or fails.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import os
import socket
import struct
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sandgate.egress.proxy import Resolver
from sandgate.sandbox import (
    cgroup,
    engine_access,
    honeytokens,
    lifecycle,
    limit_classifier,
    node_runtime,
    protocol,
    proxy_wiring,
    run_output,
    runtime,
    supervision,
    workspace_view,
)
from sandgate.sandbox.base import Probe, RunRequest, RunResult
from sandgate.sandbox.docker_nested import NestedHosts
from sandgate.sandbox.docker_nested import Parked as NestedParked
from sandgate.sandbox.docker_spec import BOOTSTRAP_FILE, CONTROL_SOCKET, LABEL, ContainerSpec, covers, create_kwargs
from sandgate.sandbox.image import DEFAULT_IMAGE
from sandgate.sandbox.pool import WarmPool, burst_size, vet_concurrency

log = logging.getLogger(__name__)

LABEL_OWNER = "sandgate.owner"
# The host directory made for a container's sockets (supervisor, egress): removed with the
# container, or by the reaper when a Sandgate died first.
LABEL_HOST_DIR = "sandgate.host-dir"
REMOTE_NO_EGRESS = (
    "the Docker engine is remote (DOCKER_HOST): a host socket cannot be bound into its "
    "containers, so the run has no network"
)
REMOTE_NO_MONITOR = (
    "the Docker engine is remote (DOCKER_HOST): the supervisor cannot reach its containers, "
    "so nothing a run does can be recorded outside it"
)
# How long the supervisor may take to see the last process of a finished container go.
OUTSIDE_WAIT_S = 2.0
API_TIMEOUT_S = 15
# A pooled container's bootstrap says `started` at once; silence this long makes the run ask the
# engine whether the container is still running (one that died waiting is silent, not closed).
HEARD_WITHIN_S = 0.25
# Containers made at once by the pool, at most: creating and starting one is mostly waiting on the
# engine, but the engine's work is CPU too (~110 ms a container), so no more fillers than vet slots:
# on 2 cores, two fillers kept the engine busy on both and the editor's requests waited (issue 20).
MAX_FILLERS = 2
# A run that finds the pool empty while a container is being made for it waits this long for that
# one rather than make another alongside (the engine's work is the bottleneck on a busy machine).
HANDOFF_S = 1.0
# The OCI runtime used when the engine has it registered (scripts/setup-sandbox.sh registers it):
# a C program where runc is a Go one, started several times per container.
PREFERRED_RUNTIME = "crun"
NESTED_ENV = "SANDGATE_DOCKER_NESTED"
_UNKNOWN = "?"


def owner_label() -> str:
    """host:pid:start-time — the pid alone could be reused by the time orphans are reaped."""
    return f"{socket.gethostname()}:{os.getpid()}:{_start_time(os.getpid())}"


def _sweep_owned(api: Any, owner: str) -> None:
    """Remove every container labelled as this process's: the exit's last pass, for one that
    slipped past the registry (its create's answer or its removal cut short by the exit)."""
    for info in api.containers(all=True, filters={"label": f"{LABEL_OWNER}={owner}"}):
        try:
            api.remove_container(info["Id"], force=True, v=True)
        except Exception:  # noqa: BLE001 - gone meanwhile, or being removed
            pass


def _start_time(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return "?"


def _owner_alive(owner: str) -> bool:
    host, _, rest = owner.partition(":")
    pid, _, start = rest.partition(":")
    if host != socket.gethostname():
        return True  # another machine's: not ours to judge
    return pid.isdigit() and _start_time(int(pid)) == start


class EngineError(RuntimeError):
    pass


class DockerBackend:
    name = "docker"

    def __init__(
        self,
        image: str | None = None,
        pool_size: int | None = None,
        remote: bool | None = None,
        client: Any = None,
        egress_resolver: Resolver | None = None,
        runtime: str | None = "auto",
        preferred_runtime: str = PREFERRED_RUNTIME,
        nested: bool | None = None,
    ) -> None:
        """`pool_size`: warm containers kept per kind of run (None: as many as vets can be in
        flight). `runtime`: "auto" (`preferred_runtime` when the engine has it, else its default),
        None (the engine's default) or a runtime's name. `nested`: make each run's sandbox inside
        a long-lived container (docker_nested.py) where possible (None: unless
        SANDGATE_DOCKER_NESTED=0); False: a container per run."""
        if nested is None:
            nested = os.environ.get(NESTED_ENV, "1") != "0"
        self.image = image or DEFAULT_IMAGE
        # How the egress proxy resolves names (None: the system resolver). Set by tests only,
        # from the host process; nothing inside a container can reach it.
        self.egress_resolver = egress_resolver
        self._hosted: dict[str, _Hosted] = {}  # container id -> its host directory and supervisor id
        self._client = client
        self._remote = remote
        self._owner = owner_label()
        self._lock = threading.Lock()
        self._reaped = False
        self._creating = 0  # containers being created, not yet recorded in `lifecycle`
        self._retiring: set[threading.Thread] = set()  # used containers being removed
        self._runtime_wanted, self._preferred_runtime = runtime, preferred_runtime
        self._runtime: str | None = _UNKNOWN  # chosen at the first run (an engine call)
        self._cgroup_parent: str | None = _UNKNOWN  # likewise
        self._info: dict[str, Any] | None = None  # the engine's `info`, when first needed
        # Runs' sandboxes are made inside long-lived containers (docker_nested.py) where the engine
        # and the image allow it; None until the first sandbox that could be made so was tried.
        self._nested_works: bool | None = None if nested else False
        self._nested_lock = threading.Lock()
        self._nested_why = "" if nested else f"{NESTED_ENV}=0"
        self.nested = NestedHosts(self)
        # Holds containers made for one run each, or sandboxes parked in a long-lived container.
        self.pool: WarmPool[ContainerSpec, Any] = WarmPool(
            self._make_pooled,
            self._discard_pooled,
            size=burst_size() if pool_size is None else pool_size,
            name="sandgate-docker-pool",
            fillers=min(MAX_FILLERS, vet_concurrency()),
            handoff_s=HANDOFF_S,
        )

    # -- engine ---------------------------------------------------------------------------------
    @property
    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                import docker

                self._client = docker.from_env(timeout=API_TIMEOUT_S)
            return self._client

    def is_remote(self) -> bool:
        if self._remote is None:
            # Only a unix socket is this machine's daemon; tcp/ssh engines cannot see our paths.
            self._remote = not str(self.client.api.base_url).startswith("http+docker://localhost")
        return self._remote

    def probe(self) -> Probe:
        try:
            self.client.ping()
        except ImportError as exc:  # the optional `docker` extra
            return Probe(
                "docker",
                False,
                f"the Docker SDK for Python is not installed ({exc.name})",
                "install Sandgate with its `docker` extra (pip install 'sandgate[docker]'), or use bubblewrap",
            )
        except Exception as exc:  # noqa: BLE001
            trouble = engine_access.diagnose(exc)
            return Probe("docker", False, trouble.detail, trouble.remedy)
        try:
            self.client.images.get(self.image)
        except Exception:  # noqa: BLE001
            remedy = "run `sandgate sandbox init`" if self.image == DEFAULT_IMAGE else f"load the image {self.image}"
            return Probe("docker", False, f"image {self.image} is missing", remedy)
        if self.is_remote():
            return Probe("docker", True, f"Docker works (remote engine, image {self.image}, a container per run)")
        # Found out now rather than at the first vet: what `sandbox doctor` reports, and the
        # server's start-up pays the first container instead of the user's first suggestion.
        spec = self.spec_for(RunRequest(code=""))
        self._check_nested(spec)
        how = (
            "a bubblewrap sandbox per run in long-lived containers"
            if self._nested_works
            else f"a container per run{': ' + self._nested_why if self._nested_why else ''}"
        )
        weight = ", at a low CPU weight" if spec.cgroup_parent else ""
        return Probe("docker", True, f"Docker works (local engine, image {self.image}, {how}{weight})")

    def reap_orphans(self) -> int:
        """Remove containers left by a Sandgate that died without cleaning up, and our own that an
        engine failure kept us from removing (no live run or pool holds them)."""
        n = 0
        # The low-level listing: the SDK's `containers.list` inspects each one, and a container
        # being removed in the background meanwhile would fail the whole listing.
        for info in self.client.api.containers(all=True, filters={"label": LABEL}):
            cid, labels = info["Id"], info.get("Labels") or {}
            owner = labels.get(LABEL_OWNER, "")
            # Ours and not recorded: lost, unless one is being created right now (not recorded yet).
            mine_but_lost = owner == self._owner and not self._creating and not lifecycle.is_live(f"docker:{cid}")
            if mine_but_lost or (owner != self._owner and not _owner_alive(owner)):
                self._remove(self.client.containers.prepare_model({"Id": cid}))
                proxy_wiring.remove_socket_dir(_reapable_host_dir(labels.get(LABEL_HOST_DIR, "")))
                n += 1
        if n:
            log.info("reaped %d orphaned sandbox containers", n)
        return n

    def _engine_info(self) -> dict[str, Any]:
        """The engine's `info`, asked once (the runtime and the cgroup parent are chosen from it);
        empty if the engine did not answer: the engine's defaults, then."""
        if self._info is None:
            try:
                info = self.client.info()
            except Exception:  # noqa: BLE001 - the engine's defaults, then
                info = {}
            with self._lock:
                if self._info is None:
                    self._info = info
        return self._info

    def runtime(self) -> str | None:
        """The OCI runtime containers are made with (None: the engine's default)."""
        if self._runtime == _UNKNOWN:
            chosen = self._runtime_wanted
            if chosen == "auto":
                registered = self._engine_info().get("Runtimes") or {}
                chosen = self._preferred_runtime if self._preferred_runtime in registered else None
            with self._lock:
                if self._runtime == _UNKNOWN:
                    self._runtime = chosen
        return self._runtime

    def cgroup_parent(self) -> str | None:
        """Where containers are made: under the vets' low-weight CPU group (cgroup.cpu_group), as
        bubblewrap's sandboxes are, when the engine is this machine's and places containers by
        path (cgroupfs driver, cgroup v1); else the engine's own group (None)."""
        if self._cgroup_parent == _UNKNOWN:
            chosen = None
            if not self.is_remote() and cgroup.cpu_group() is not None:
                info = self._engine_info()
                if info.get("CgroupDriver") == "cgroupfs" and str(info.get("CgroupVersion")) == "1":
                    chosen = "/" + cgroup.PARENT
            with self._lock:
                if self._cgroup_parent == _UNKNOWN:
                    self._cgroup_parent = chosen
        return self._cgroup_parent

    def runtime_failed(self, runtime: str, exc: BaseException) -> None:
        with self._lock:
            if self._runtime == runtime:
                self._runtime = None
        log.warning(
            "the %s runtime cannot start containers here (%s): using the engine's default", runtime, _short(exc)
        )

    def spec_for(self, request: RunRequest) -> ContainerSpec:
        ws = str(request.workspace) if request.workspace else None
        # A remote engine cannot bind our socket: such runs get no network (see _run_in).
        net = proxy_wiring.wanted(request.network) and not self.is_remote()
        # The sandbox user (65534) cannot read through a bind mount of a private folder (a home
        # directory, pytest's 0700 temporary folders): send those over the API like a remote engine.
        remote = self.is_remote()
        spec = ContainerSpec(
            self.image,
            request.limits,
            ws,
            False,
            egress=net,
            exclude=tuple(request.exclude),
            supervised=not remote,
            runtime=self.runtime(),
            honey=request.honey is not None,
            program_runtime=request.runtime,
            cgroup_parent=self.cgroup_parent(),
        )
        if ws and (remote or not workspace_view.readable_by_others(ws)):
            return dataclasses.replace(spec, workspace=None, workspace_tmpfs=True)
        return spec

    def warm(self, request: RunRequest) -> None:
        """Start filling the pool for runs like `request` (e.g. when a workspace opens)."""
        self.pool.want(self.spec_for(request))

    def idle_container_ids(self) -> list[str]:
        return [p.host.container.id if isinstance(p, NestedParked) else p.id for p in self.pool.idle()]

    def labels(self, top: str) -> dict[str, str]:
        """The labels of a container of ours with host folder `top`."""
        return {LABEL_OWNER: self._owner, LABEL_HOST_DIR: top}

    def owner_filter(self) -> str:
        return f"{LABEL_OWNER}={self._owner}"

    @contextlib.contextmanager
    def creating(self) -> Iterator[None]:
        """Around a create: a container of ours not recorded yet is not an orphan to reap."""
        with self._lock:
            self._creating += 1
        try:
            yield
        finally:
            with self._lock:
                self._creating -= 1

    def close(self) -> None:
        self.pool.close()
        self.nested.close()
        with self._lock:
            retiring = list(self._retiring)
        for thread in retiring:  # used containers still being removed
            thread.join(timeout=10)

    # -- what the pool holds ----------------------------------------------------------------------
    def _nested_for(self, spec: ContainerSpec) -> bool:
        """Whether runs of `spec` get a sandbox in a long-lived container: a local engine (it binds
        our sockets), a workspace bound rather than copied in, and such containers working here."""
        return self._nested_works is not False and spec.supervised and not spec.workspace_tmpfs

    def _make_pooled(self, spec: ContainerSpec) -> Any:
        """A sandbox parked in a long-lived container, else a container of its own. Whether the
        first works here is found out once: the image may lack bubblewrap (an image of an older
        Sandgate), or the engine refuse the profile; a container per run is as safe, only dearer."""
        self._check_nested(spec)
        if self._nested_for(spec):
            return self.nested.park(spec)
        return self._start_container(spec)

    def _check_nested(self, spec: ContainerSpec) -> None:
        """Find out once whether sandboxes in long-lived containers work here."""
        if not self._nested_for(spec) or self._nested_works is not None:
            return
        with self._nested_lock:
            if self._nested_works is None:
                try:
                    why = self.nested.works(spec)
                except Exception as exc:  # noqa: BLE001 - the reason is logged, the runs go on
                    why = _short(exc)
                if why:
                    log.warning("sandboxes in long-lived containers do not work here (%s): a container per run", why)
                    self._nested_why = why
                self._nested_works = why is None

    def _discard_pooled(self, item: Any) -> None:
        if isinstance(item, NestedParked):
            self.nested.discard(item)
        else:
            self._remove(item)

    def _usable(self, item: Any, spec: ContainerSpec) -> bool:
        if isinstance(item, NestedParked):
            return self.nested.alive(item)
        # Armed by a supervisor that died since: its bootstrap is on its way out.
        return not spec.supervised or self._armed_by_live_supervisor(item)

    # -- containers -----------------------------------------------------------------------------
    def _start_container(self, spec: ContainerSpec) -> Any:
        try:
            return self._make_container(spec)
        except _RuntimeFailed as failed:
            # crun absent or refused here (a hybrid cgroup host, say): the engine's default.
            self.runtime_failed(str(spec.runtime), failed.__cause__ or failed)
            return self._make_container(dataclasses.replace(spec, runtime=None))

    def _make_container(self, spec: ContainerSpec) -> Any:
        labels = {LABEL_OWNER: self._owner}
        hosted = _Hosted()
        if spec.honey and spec.supervised:
            # This container's own honeytokens, planted by its bootstrap before the monitor is armed.
            hosted.honey = honeytokens.new(preplanted=True)
        hidden: list[tuple[str, str]] = []
        top = ""  # the container's own host directory, when it needs one
        try:
            if spec.supervised or spec.egress:
                # Each container its own directory, made with it: the supervisor's socket, and the
                # run's egress proxy (started by the run that takes it). Nothing else of the host.
                top, egress_dir = proxy_wiring.make_socket_dir()
                hosted.top = labels[LABEL_HOST_DIR] = top
            pyc = protocol.bootstrap_pyc() if spec.supervised else None
            if spec.supervised:
                control_dir = os.path.join(top, "control")
                os.mkdir(control_dir)
                os.chmod(control_dir, 0o711)
                if pyc is not None:
                    with open(os.path.join(control_dir, BOOTSTRAP_FILE), "xb") as f:
                        f.write(pyc)
                    os.chmod(os.path.join(control_dir, BOOTSTRAP_FILE), 0o644)
                listening = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    listening.bind(os.path.join(control_dir, CONTROL_SOCKET))
                    # The container's user is another uid: connectable by all, inside a directory
                    # only this container is given.
                    os.chmod(os.path.join(control_dir, CONTROL_SOCKET), 0o666)
                    listening.listen(1)
                    hosted.sid = supervision.shared().watch(
                        listening,
                        supervision.watch_config(
                            spec.limits,
                            hosted.honey,
                            launch=protocol.NODE if spec.program_runtime == "node" else None,
                            owner=f"{LABEL_OWNER}={self._owner}",
                        ),
                        listening=True,
                    )
                finally:
                    listening.close()
            if spec.workspace:
                view = workspace_view.plan(spec.workspace, spec.exclude)
                hosted.withheld = view.withheld
                hidden = covers(view.coverable(), runtime.etc_dir())
                if view.withheld:
                    spec, hidden = dataclasses.replace(spec, workspace=None), []
        except BaseException:
            self._release(hosted)
            raise
        with self._lock:
            self._creating += 1
        try:
            kwargs = create_kwargs(
                spec,
                labels,
                egress_dir=os.path.join(top, "egress") if spec.egress else None,
                control_dir=os.path.join(top, "control") if spec.supervised else None,
                hidden=hidden,
                node_flags=node_runtime.discover().strip_types_flags() if spec.program_runtime == "node" else (),
                bootstrap_file=pyc is not None,
            )
            # The low-level call: the SDK's `containers.create` inspects the new container (one
            # more API call) to build a model we need only the id of.
            from docker.models.containers import _create_container_args

            kwargs["version"] = self.client.api._version
            # At exit, after the registered containers: any other container this process owns.
            lifecycle.on_exit("docker", functools.partial(_sweep_owned, self.client.api, self._owner))
            # Made while Sandgate exits (a pool filler): the exit waits for it and removes it.
            with lifecycle.making():
                try:
                    cid = self.client.api.create_container(**_create_container_args(kwargs))["Id"]
                except Exception as exc:
                    if spec.runtime and "runtime" in str(exc).lower():
                        raise _RuntimeFailed() from exc
                    raise
                container = self.client.containers.prepare_model({"Id": cid})
                lifecycle.register(f"docker:{container.id}", lambda: self._remove(container))
            if hosted.sid:
                supervision.shared().adopt(hosted.sid, container.id)
        except Exception:
            self._release(hosted)
            raise
        finally:
            with self._lock:
                self._creating -= 1
        with self._lock:
            self._hosted[container.id] = hosted
        try:
            container.start()
        except Exception as exc:
            self._remove(container)
            if spec.runtime and "oci runtime" in str(exc).lower():
                raise _RuntimeFailed() from exc
            raise
        return container

    def _remove(self, container: Any) -> None:
        lifecycle.unregister(f"docker:{container.id}")
        try:
            container.remove(force=True, v=True)
        except Exception as exc:  # noqa: BLE001 - gone already, or the engine is; reaped next start
            if "No such container" not in str(exc) and "already in progress" not in str(exc):
                log.debug("removing %s failed: %s", container.id[:12], exc)
        with self._lock:
            hosted = self._hosted.pop(container.id, None)
        self._release(hosted)

    @staticmethod
    def _release(hosted: _Hosted | None) -> None:
        if hosted is None:
            return
        if hosted.sid:
            supervision.shared().forget(hosted.sid)
        proxy_wiring.remove_socket_dir(hosted.top)

    def _hosted_for(self, container: Any) -> _Hosted:
        with self._lock:
            return self._hosted.get(container.id) or _Hosted()

    # -- running --------------------------------------------------------------------------------
    def run(self, request: RunRequest) -> RunResult:
        started = time.monotonic()
        try:
            if not self._reaped:
                self._reaped = True
                self.reap_orphans()
            spec = self.spec_for(request)
            item = self.pool.take(spec)
            while item is not None and not self._usable(item, spec):
                if isinstance(item, NestedParked):
                    self.nested.discard(item)
                else:
                    self._retire_later(item, None)
                item = self.pool.take(spec)
            if isinstance(item, NestedParked):
                return self.nested.run_in(item, request, started)
            if item is not None:
                try:
                    return self._run_in(item, spec, request, started, warm=True)
                except _StaleContainer:
                    log.debug("pooled container was not running; running cold")
            item = self._make_pooled(spec)
            if isinstance(item, NestedParked):
                return self.nested.run_in(item, request, started)
            return self._run_in(item, spec, request, started, warm=False)
        except Exception as exc:  # noqa: BLE001 - a backend never raises into the caller
            log.warning("docker run failed: %s", exc)
            self._reaped = False  # the engine failed: look for what it left once it is back
            return RunResult(
                backend=self.name,
                error=f"Docker engine failed during the run: {_short(exc)}",
                duration_ms=(time.monotonic() - started) * 1000,
            )

    def _run_in(
        self, container: Any, spec: ContainerSpec, request: RunRequest, started: float, warm: bool
    ) -> RunResult:
        api = self.client.api
        lim = request.limits
        result = RunResult(backend=self.name)
        stopped: str | None = None
        exiting = False  # the program said it is done and was not stopped: the container is exiting
        net: proxy_wiring.EgressRun | None = None
        hosted = self._hosted_for(container)
        # The container's own honeytokens; one made without them plants the request's now.
        result.honey = hosted.honey or request.honey
        # The program's time, set again once it is handed its code: making a cold container (the
        # workspace walk of a large folder takes seconds) or waiting for a warm one is not its time.
        deadline = started + lim.wall_time_s
        try:
            if spec.egress:
                # The container runs as another uid: the socket is world-connectable, inside the
                # one directory this container is given (D itself is 0700).
                socket_dir = os.path.join(hosted.top, "egress") if hosted.top else None
                if socket_dir is None:
                    net = proxy_wiring.EgressRun(request.network, "")
                    net.fail("host", "the container was made without an egress directory")
                else:
                    net = proxy_wiring.open_run(request.network, 0o666, self.egress_resolver, socket_dir=socket_dir)
            elif proxy_wiring.wanted(request.network):
                net = proxy_wiring.EgressRun(request.network, "")
                net.fail("host", REMOTE_NO_EGRESS)
            if spec.workspace_tmpfs and request.workspace:
                withheld = self._upload_workspace(container, str(request.workspace), spec.exclude)
                if withheld:
                    result.events.append({"kind": "workspace-withheld", "reason": withheld})
            elif spec.workspace and hosted.withheld:
                result.events.append({"kind": "workspace-withheld", "reason": hosted.withheld})
            sock = api.attach_socket(container.id, params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1})
            raw = getattr(sock, "_sock", sock)
            marker = protocol.new_marker()
            deadline = time.monotonic() + lim.wall_time_s
            try:
                raw.sendall(
                    protocol.payload(
                        request.code,
                        request.relpath,
                        2,
                        marker,
                        proxy_wiring.header() if net and net.active else None,
                        end=True,
                        extra=request.header(hosted.honey),
                    )
                )
                raw.shutdown(socket.SHUT_WR)  # EOF on the program's stdin (StdinOnce)
                out = _read_frames(
                    raw,
                    marker,
                    deadline,
                    lim.output_bytes,
                    alive=(lambda: _running(api, container.id)) if warm else None,
                )
            finally:
                _hang_up(sock, raw)
            if warm and not out.stopped and not out.started:
                # A pooled container that died meanwhile (an engine restart): attaching to a
                # stopped one "succeeds" with an empty stream. The bootstrap's first word, before
                # any of the program runs, says it was alive; without it nothing ran.
                raise _StaleContainer()
            stopped = out.stopped
            exiting = out.exit_status is not None and not stopped
            # Counted before the kill, which ends the processes.
            pids_hit_max = stopped == "time" and self._pids_at_limit(container, spec)
            if stopped:
                try:
                    container.kill()
                except Exception:  # noqa: BLE001 - it may have exited in the meantime
                    pass
            # The exit event spares waiting for the engine to notice the exit (the container is
            # removed in the background; what is left of the process has nothing more to say).
            status = out.exit_status if out.exit_status is not None else _wait(api, container.id)
            if status is None:
                raise EngineError("the engine stopped answering before the program's exit status was known")
            result.exit_code = status
            result.stdout, result.stderr = out.stdout, out.stderr
            result.output_truncated = out.truncated
            result.events = result.events + out.events
            rusage = [e for e in out.events if e.get("kind") == "rusage"]
            if rusage:
                result.peak_memory_kb = int(rusage[-1].get("maxrss_kb") or 0) or None
            result.outside = self._outside_record(container, spec, deadline, stopped is not None)
            result.killed, result.timed_out = limit_classifier.classify(
                stopped,
                status,
                out.stderr,
                pids_hit_max=pids_hit_max,
                # The engine's word, asked only of a SIGKILL we did not send (an engine call).
                oom_killed=lambda: status == limit_classifier.KILLED and self._oom_killed(container),
            )
            if result.killed == "memory":
                result.peak_memory_kb = lim.memory_mb * 1024
            if net is not None:
                result.events.extend(net.finish())
            result.duration_ms = (time.monotonic() - started) * 1000
            return result
        finally:
            if net is not None:
                net.finish()  # idempotent; stops the proxy when the run failed part way
            self._retire_later(container, deadline if exiting else None)

    def _armed_by_live_supervisor(self, container: Any) -> bool:
        sid = self._hosted_for(container).sid
        return sid is not None and supervision.shared().serves(sid)

    def _retire_later(self, container: Any, exiting_until: float | None) -> None:
        # Off the run's time: removal is ~15 ms of engine work. The container stays recorded
        # in `lifecycle` until it is gone, so an exit meanwhile still removes it.
        retire = threading.Thread(
            target=self._retire, name="sandgate-docker-remove", daemon=True, args=(container, exiting_until)
        )
        with self._lock:
            self._retiring.add(retire)
        retire.start()

    def _retire(self, container: Any, exiting_until: float | None) -> None:
        """Remove a used container; one whose program said it is done may finish exiting first
        (removing a running container, a kill, costs the engine far more than an exited one),
        but never past the run's deadline: a program that forged its exit event gains no time."""
        try:
            left = exiting_until - time.monotonic() if exiting_until is not None else 0
            if left > 0:
                _wait(self.client.api, container.id, timeout=min(left, 5.0))
        except Exception:  # noqa: BLE001 - gone already, or the engine is: remove (or reap) it anyway
            pass
        finally:
            self._remove(container)
            with self._lock:
                self._retiring.discard(threading.current_thread())

    def _pids_at_limit(self, container: Any, spec: ContainerSpec) -> bool:
        if not self.is_remote():
            # The kernel's own count of refused forks, read from the container's cgroup on this
            # machine: no engine call, and not a sample of a number that moves.
            refused = _pids_refused(container.id)
            if refused is not None:
                return refused > 0
        try:
            stats = self.client.api.stats(container.id, stream=False, one_shot=True)
            current = int(stats.get("pids_stats", {}).get("current") or 0)
            return current >= spec.limits.processes
        except Exception:  # noqa: BLE001
            return False

    def _oom_killed(self, container: Any) -> bool:
        try:
            return bool(self.client.api.inspect_container(container.id)["State"].get("OOMKilled"))
        except Exception:  # noqa: BLE001
            return False

    def _outside_record(self, container: Any, spec: ContainerSpec, deadline: float, killed: bool) -> supervision.Record:
        """The supervisor's record of the run, once the container's last process is gone (a
        program that left processes behind is stopped at its deadline first)."""
        if not spec.supervised:
            return supervision.lost(REMOTE_NO_MONITOR)
        sid = self._hosted_for(container).sid
        if sid is None:
            return supervision.lost("the container was made without a supervisor")
        shared = supervision.shared()
        record = shared.finish(sid, OUTSIDE_WAIT_S if killed else max(0.0, min(deadline - time.monotonic(), 10.0)))
        if not record.hangup and not record.lost:
            try:
                container.kill()
            except Exception:  # noqa: BLE001 - it may have exited in the meantime
                pass
            record = shared.finish(sid, OUTSIDE_WAIT_S)
        return record

    def _upload_workspace(self, container: Any, workspace: str, exclude: tuple[str, ...]) -> str | None:
        """Unpack the workspace view into the container's root-owned /workspace tmpfs via a root
        exec. Returns why nothing was sent, when nothing was."""
        api = self.client.api
        view = workspace_view.plan(workspace, exclude)
        if view.withheld:
            return view.withheld
        data = workspace_view.packed(view)
        exec_id = api.exec_create(
            container.id,
            [protocol.PYTHON, "-I", "-S", "-c", workspace_view.UNPACK, "/workspace"],
            stdin=True,
            user="0",
            environment=dict(protocol.ENV),
        )["Id"]
        sock = api.exec_start(exec_id, socket=True)
        raw = getattr(sock, "_sock", sock)
        try:
            raw.sendall(data)
            raw.shutdown(socket.SHUT_WR)
            raw.settimeout(API_TIMEOUT_S)
            said = b""
            while chunk := raw.recv(65536):
                said = (said + chunk)[-2000:]
        finally:
            _hang_up(sock, raw)
        code = api.exec_inspect(exec_id).get("ExitCode")
        if code not in (0, None):
            tail = said.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
            raise EngineError(f"unpacking the workspace failed (exit {code}): {tail[0][:200]}")
        return None


def _hang_up(sock: Any, raw: Any) -> None:
    # shutdown, not just close: the SDK's file wrappers keep the descriptor open, and a daemon
    # still writing a flood into an unread socket blocks kill and remove of that container.
    for obj, how in ((raw, "shutdown"), (raw, "close"), (sock, "close")):
        try:
            getattr(obj, how)(socket.SHUT_RDWR) if how == "shutdown" else getattr(obj, how)()
        except (OSError, AttributeError):
            pass


class _StaleContainer(Exception):
    pass


class _RuntimeFailed(Exception):
    """The chosen OCI runtime could not make or start a container (its cause says why)."""


@dataclass
class _Hosted:
    """What a container has on this machine: its socket directory and its supervisor id."""

    top: str | None = None
    sid: str | None = None
    withheld: str | None = None  # why the workspace is not shown, when it is not
    honey: honeytokens.Honey | None = None  # planted when the container was made


def _reapable_host_dir(path: str) -> str | None:
    """A dead Sandgate's container directory, if the label names one of ours (never anything else)."""
    if not path:
        return None
    real = os.path.realpath(path)
    parent = os.path.realpath(tempfile.gettempdir())
    if os.path.dirname(real) == parent and os.path.basename(real).startswith(proxy_wiring.DIR_PREFIX):
        return real
    return None


# Where a local engine puts a container's pids cgroup: cgroup v1 and v2 with the cgroupfs driver,
# v2 with the systemd driver.
_PIDS_EVENTS = (
    "/sys/fs/cgroup/pids/docker/{}/pids.events",
    f"/sys/fs/cgroup/pids/{cgroup.PARENT}/{{}}/pids.events",  # under the vets' group (cgroup_parent)
    "/sys/fs/cgroup/docker/{}/pids.events",
    "/sys/fs/cgroup/system.slice/docker-{}.scope/pids.events",
)


def _pids_refused(cid: str) -> int | None:
    """How many forks the container's pids limit refused (pids.events "max"), or None when its
    cgroup is not where a local engine puts it."""
    for pattern in _PIDS_EVENTS:
        try:
            with open(pattern.format(cid)) as f:
                for line in f:
                    key, _, value = line.partition(" ")
                    if key == "max" and value.strip().isdigit():
                        return int(value)
        except OSError:
            continue
    return None


def _running(api: Any, cid: str) -> bool:
    try:
        return bool(api.inspect_container(cid)["State"].get("Running"))
    except Exception:  # noqa: BLE001 - gone, or the engine is: not a container to run in
        return False


def _wait(api: Any, cid: str, timeout: float = 10.0) -> int | None:
    import requests

    try:
        return int(api.wait(cid, timeout=timeout).get("StatusCode"))
    except (requests.exceptions.ConnectionError, requests.exceptions.ReadTimeout):
        # A time-out surfaces as ConnectionError here; either way the engine did not answer.
        return None


def _read_frames(
    raw: Any, marker: str, deadline: float, cap: int, alive: Callable[[], bool] | None = None
) -> protocol.Captured:
    """Read the attach stream until EOF, the deadline or the output cap, or as soon as the
    bootstrap's `exit` event has come on both streams (each stream is in order, so all the
    program's output is in by then) if the program started no process that could outlive it:
    those runs wait for the container to stop.

    `alive` (a pooled container): asked only when the stream stays silent for `HEARD_WITHIN_S`
    (attaching to a stopped container neither ends nor says anything); a dead container's run
    comes back at once, `started` False, nothing of the program having run."""
    output = run_output.CappedOutput(cap)
    frames = _Frames(output, marker)
    stopped: str | None = None
    if alive is not None:
        first = run_output.pump(
            {raw: frames.feed}, output, min(deadline, time.monotonic() + HEARD_WITHIN_S), done=frames.heard
        )
        if not frames.heard() and (first is None or not alive()):
            return protocol.Captured()  # EOF or a stopped container: nothing ran
    if not frames.finished():
        stopped = run_output.pump({raw: frames.feed}, output, deadline, done=frames.finished)
    exit_status = None
    if not stopped:
        output.add("stderr", frames.stderr.flush())
        if frames.finished():
            exit_status = _exit_status(frames.stderr.events)
    events = [ev for ev in frames.stderr.events if ev.get("kind") != "started"]
    captured = protocol.Captured(
        truncated=stopped == "output",
        stopped=stopped,
        events=events,
        exit_status=exit_status,
        started=len(events) < len(frames.stderr.events),
    )
    captured.stdout, captured.stderr = output.texts()
    return captured


class _Frames:
    """Demultiplexes the attach stream (8-byte headers: stream, 0, 0, 0, big-endian size) into
    the program's output and the monitor's events."""

    def __init__(self, output: run_output.CappedOutput, marker: str) -> None:
        self.output = output
        self.stderr = protocol.EventSplitter(marker)
        # stdout carries only the `exit` event (anything else marked there is the program's own).
        self.stdout = protocol.EventSplitter(marker)
        self._pending = b""
        self._heard = False

    def feed(self, chunk: bytes) -> None:
        self._heard = True
        self._pending += chunk
        while len(self._pending) >= 8:
            kind, size = self._pending[0], struct.unpack(">I", self._pending[4:8])[0]
            if len(self._pending) < 8 + size:
                break
            body, self._pending = self._pending[8 : 8 + size], self._pending[8 + size :]
            if kind == 1:
                self.output.add("stdout", self.stdout.feed(body))
            elif kind == 2:
                self.output.add("stderr", self.stderr.feed(body))

    def heard(self) -> bool:
        return self._heard

    def finished(self) -> bool:
        return (
            _exit_status(self.stderr.events) is not None
            and _exit_status(self.stdout.events) is not None
            and not any(ev.get("kind") == "spawn" for ev in self.stderr.events)
        )


def _exit_status(events: list[dict]) -> int | None:
    for ev in reversed(events):
        if ev.get("kind") == "exit" and isinstance(ev.get("status"), int):
            return ev["status"]
    return None


def _short(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]
