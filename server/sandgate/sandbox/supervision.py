"""Sandgate's side of the supervisor (`supervisor.py`): start it, hand it sandboxes, collect records.

One supervisor process per Sandgate process, started on first use and started again if it died.
Backends `watch` each sandbox when they make it (the supervisor then arms it), `finish` it once
its program is done (the record, once every process of the sandbox is gone), or `forget` it.
A supervisor that dies takes its records with it: `finish` then answers a record with `lost`
set, which the report turns into a finding that holds the suggestion (fail closed).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any, cast

from sandgate.policy.model import SandboxLimits
from sandgate.sandbox import cgroup, protocol
from sandgate.sandbox.honeytokens import Honey
from sandgate.sandbox.secret_paths import SECRET_PATHS

log = logging.getLogger(__name__)

START_TIMEOUT_S = 10.0
# Reads the program may make without a finding: the runtime, the workspace, scratch and the files
# every interpreter touches (the in-process monitor's list, see bootstrap.py).
QUIET_READS = (
    "/usr",
    protocol.WORKSPACE,
    protocol.SCRATCH,
    "/dev/null",
    "/dev/urandom",
    "/dev/random",
    "/dev/zero",
    "/dev/tty",
    "/proc/self",
    "/etc/localtime",
    "/etc/passwd",
    "/etc/group",
    "/etc/nsswitch.conf",
    "/etc/hosts",
    "/usr/share/zoneinfo",
    "/lib",
    "/lib64",
    "/bin",
    "/sys/devices/system/cpu",
    "/proc/sys/vm/overcommit_memory",
)
HARMLESS_WRITES = ("/dev/null", "/dev/stdout", "/dev/stderr", "/dev/tty")


@dataclass
class Record:
    """What the supervisor saw of one sandbox (see `supervisor.Watch.record`)."""

    armed: bool = False  # the sandbox's listener reached the supervisor
    hangup: bool = False  # every process of the sandbox was gone when the record was taken
    exited: bool = False  # the main process called exit_group (main_exit is its status)
    main_exit: int | None = None
    truncated: bool = False
    notifications: int = 0
    limits: list[str] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    lost: bool = False  # the supervisor died (or never answered): the record is gone

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Record:
        return cls(
            armed=bool(data.get("armed")),
            hangup=bool(data.get("hangup")),
            exited=bool(data.get("exited")),
            main_exit=data.get("main_exit"),
            truncated=bool(data.get("truncated")),
            notifications=int(data.get("notifications") or 0),
            limits=list(data.get("limits") or []),
            events=[e for e in data.get("events") or [] if isinstance(e, dict)],
            error=data.get("error"),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "armed": self.armed,
            "hangup": self.hangup,
            "exited": self.exited,
            "main_exit": self.main_exit,
            "truncated": self.truncated,
            "notifications": self.notifications,
            "limits": self.limits,
            "events": self.events,
            "error": self.error,
            "lost": self.lost,
        }


def lost(reason: str) -> Record:
    return Record(lost=True, error=reason)


# What Node reads at its own start-up (V8 sizing its heap and threads, OpenSSL its settings):
# quiet in a Node sandbox only. None of it is a secret.
NODE_QUIET_READS = (
    "/etc/ld.so.cache",
    "/etc/ssl/openssl.cnf",
    # c-ares (node:dns) reading its resolver settings when the bootstrap loads it.
    "/etc/host.conf",
    "/etc/netsvc.conf",
    "/etc/resolv.conf",
    "/etc/svc.conf",
    # Module resolution looking for the package scope above the workspace (a bare specifier, an ESM
    # file's "type"): /workspace/package.json, then the root's.
    "/package.json",
    "/proc/meminfo",
    "/proc/stat",
    "/proc/version_signature",
    "/sys/fs/cgroup",
)


def watch_config(
    limits: SandboxLimits, honey: Honey | None = None, launch: str | None = None, owner: str | None = None
) -> dict[str, Any]:
    """What the supervisor needs to know of a sandbox: where scratch is, what is not worth
    recording, and the limits it checks from outside (open files, file size); and the honeytokens
    it hands the bootstrap to plant before the monitor is armed, when the sandbox has them.
    `owner`: the label filter of the containers this Sandgate makes ("sandgate.owner=…"), which
    the supervisor removes if Sandgate dies (one still being created is not adopted yet)."""
    config: dict[str, Any] = {
        "scratch": [protocol.SCRATCH],
        "quiet_reads": list(QUIET_READS),
        "harmless_writes": list(HARMLESS_WRITES),
        "probes": SECRET_PATHS.pattern,  # looks at a path by name worth recording (stat, access)
        "open_files": limits.open_files,
        "file_size": limits.file_size_mb * 1024 * 1024,
    }
    if honey is not None:
        config["honey"] = honey.header()
    if owner is not None:
        config["owner"] = owner
    if launch is not None:
        # The runtime the bootstrap execs once armed (Node's, inside): that exec is not the program's.
        config["launch"] = launch
        config["quiet_reads"] += list(NODE_QUIET_READS)
    return config


class SupervisorUnavailable(RuntimeError):
    pass


class Supervision:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._channel: socket.socket | None = None
        self._reader: threading.Thread | None = None
        self._waiting: dict[str, tuple[threading.Event, list[Record]]] = {}
        self._generation = 0
        self._sids: dict[str, int] = {}  # sandbox id -> the generation of the supervisor watching it

    # -- the process --------------------------------------------------------------------------------
    def _ensure(self) -> socket.socket:
        with self._lock:
            if self._channel is not None and self._proc is not None and self._proc.poll() is None:
                return self._channel
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            try:
                proc = subprocess.Popen(
                    [sys.executable, "-I", "-c", _START, _package_root(), str(theirs.fileno())],
                    pass_fds=(theirs.fileno(),),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=None,
                    start_new_session=True,
                    close_fds=True,
                    env=_supervisor_env(),
                )
            except OSError as exc:
                ours.close()
                raise SupervisorUnavailable(f"the sandbox supervisor could not start: {exc}") from exc
            finally:
                theirs.close()
            # Its work for a sandbox (each notified call) is that sandbox's: it runs at the vets'
            # low CPU weight, or a flood of calls would take a core at full weight.
            cgroup.join_vets(proc.pid, "supervisor")
            self._proc, self._channel = proc, ours
            self._generation += 1
            self._reader = threading.Thread(
                target=self._read, args=(ours, proc, self._generation), name="sandgate-supervision", daemon=True
            )
            self._reader.start()
            return ours

    def _read(self, channel: socket.socket, proc: subprocess.Popen, generation: int) -> None:
        while True:
            try:
                data = channel.recv(1 << 24)
            except OSError:
                data = b""
            if not data:
                break
            try:
                message = json.loads(data)
            except ValueError:
                continue
            if message.get("op") == "record":
                self._deliver(str(message.get("id")), Record.from_json(message))
        # The supervisor is gone: every record it held is lost with it.
        with self._lock:
            if self._channel is channel:
                self._channel = None
            waiting = list(self._waiting.items())
        for sid, _ in waiting:
            self._deliver(sid, lost("the sandbox supervisor stopped"))
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass

    def _deliver(self, sid: str, record: Record) -> None:
        with self._lock:
            slot = self._waiting.pop(sid, None)
        if slot is not None:
            slot[1].append(record)
            slot[0].set()

    def _send(self, message: dict[str, Any], fds: tuple[int, ...] = ()) -> None:
        channel = self._ensure()
        data = json.dumps(message).encode()
        try:
            if fds:
                socket.send_fds(channel, [data], list(fds))
            else:
                channel.send(data)
        except OSError as exc:
            raise SupervisorUnavailable(f"the sandbox supervisor is not answering: {exc}") from exc

    # -- sandboxes -----------------------------------------------------------------------------------
    def watch(self, conn: socket.socket, config: dict[str, Any], listening: bool = False) -> str:
        """Hand the supervisor the sandbox's end of its control connection (a connected socket, or
        a listening one a container will connect to). Returns the sandbox's id."""
        sid = uuid.uuid4().hex
        self._send({"op": "watch", "id": sid, "config": config, "listening": listening}, (conn.fileno(),))
        with self._lock:
            self._sids[sid] = self._generation
        return sid

    def serves(self, sid: str) -> bool:
        """Whether the supervisor that armed sandbox `sid` is still the one running: a pooled
        sandbox armed by one that died is worth nothing (its record is lost)."""
        with self._lock:
            alive = self._channel is not None and self._proc is not None and self._proc.poll() is None
            return alive and self._sids.get(sid) == self._generation

    def adopt(self, sid: str, container: str) -> None:
        """The container the sandbox `sid` runs in: the supervisor removes it if Sandgate dies."""
        try:
            self._send({"op": "adopt", "id": sid, "container": container})
        except SupervisorUnavailable:
            pass

    def finish(self, sid: str, wait: float) -> Record:
        """The sandbox's record, once its processes are gone or `wait` seconds have passed."""
        event, box = threading.Event(), cast(list[Record], [])
        with self._lock:
            self._waiting[sid] = (event, box)
            self._sids.pop(sid, None)  # its run is over: no pool will ask after it again
        try:
            self._send({"op": "finish", "id": sid, "wait": wait})
        except SupervisorUnavailable as exc:
            with self._lock:
                self._waiting.pop(sid, None)
            return lost(str(exc))
        if not event.wait(wait + 5.0):
            with self._lock:
                self._waiting.pop(sid, None)
            return lost("the sandbox supervisor did not answer")
        return box[0]

    def forget(self, sid: str) -> None:
        with self._lock:
            self._sids.pop(sid, None)
            running = self._channel is not None
        if running:
            try:
                self._send({"op": "forget", "id": sid})
            except SupervisorUnavailable:
                pass

    def pid(self) -> int | None:
        with self._lock:
            return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    def close(self) -> None:
        with self._lock:
            channel, proc = self._channel, self._proc
            self._channel = None
        if channel is not None:
            try:
                # An orderly end: Sandgate removes its own containers, so the supervisor need not
                # look for any by label (what it does when the channel just closes: Sandgate died).
                channel.send(json.dumps({"op": "done"}).encode())
            except OSError:
                pass
            try:
                channel.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            channel.close()
        if proc is not None:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()


# The supervisor runs this process's own `sandgate` (-I ignores PYTHONPATH, and an installed copy
# elsewhere may be another version): its folder comes first on the path.
_START = (
    "import sys; sys.path.insert(0, sys.argv.pop(1)); "
    "from sandgate.sandbox.supervisor import main; sys.exit(main(sys.argv))"
)


def _package_root() -> str:
    import sandgate

    return os.path.dirname(os.path.dirname(os.path.abspath(sandgate.__file__)))


def _supervisor_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "DOCKER_HOST", "HOME")}
    return env


_shared: Supervision | None = None
_shared_lock = threading.Lock()


def shared() -> Supervision:
    """The process's supervisor link (the backends share it)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = Supervision()
        return _shared
