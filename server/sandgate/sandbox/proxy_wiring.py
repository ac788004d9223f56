"""A run's way out: the egress proxy a sandbox with allowed hosts goes through (docs/network.md).

Both backends do the same thing. When `request.network.allow_hosts` is not empty, a per-run
`EgressProxy` listens on a Unix socket in a directory of its own, `D/egress`; the backend binds
that directory read-only at `INSIDE_DIR` into a sandbox that keeps no network of its own, and
sets the proxy variables; the bootstrap starts the stdlib forwarder on the sandbox's
`127.0.0.1:3128` before the program runs. After the run, the proxy's decisions become
`{"kind": "egress", ...}` events of the `RunResult`, which `sandbox/run_findings.py` turns into findings.

Where any of it cannot be set up, the run has no network at all (fail closed) and an
`egress-unavailable` event says why.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from typing import Any

from sandgate.egress import EgressProxy, ProxyDecision, proxy_environment
from sandgate.egress.forwarder import forwarder_source
from sandgate.egress.proxy import Resolver
from sandgate.policy.model import NetworkPolicy

log = logging.getLogger(__name__)

INSIDE_DIR = "/run/sandgate-egress"
SOCKET_NAME = "egress.sock"
INSIDE_SOCKET = f"{INSIDE_DIR}/{SOCKET_NAME}"
FORWARDER_PORT = 3128
FORWARDER_URL = f"http://127.0.0.1:{FORWARDER_PORT}"
DIR_PREFIX = "sg-"
# Distinct decisions kept as events; a program that loops over requests repeats itself.
MAX_DECISION_EVENTS = 200

# Event kinds (RunResult.events).
EV_PROXY = "egress-proxy"  # the proxy was up for this run: connections to the forwarder are its
EV_DECISION = "egress"  # one distinct proxy decision: ProxyDecision's fields and a count
EV_UNAVAILABLE = "egress-unavailable"  # allowed hosts, but no way out could be set up: no network


def wanted(network: NetworkPolicy) -> bool:
    return bool(network.allow_hosts)


def environment() -> dict[str, str]:
    """The variables that send the program's HTTP clients to the forwarder."""
    return proxy_environment(FORWARDER_URL)


def make_socket_dir(base: str | None = None) -> tuple[str, str]:
    """`(D, D/egress)`: D private to us (0700), D/egress traversable (0711) for a sandbox user of
    another uid, who is given that one directory and nothing above it. With `base` (a folder others
    may pass through but not list), D is made there and passable too (0711), for a sandbox user
    that must reach D/egress by its path (bubblewrap started as another user)."""
    top = tempfile.mkdtemp(prefix=DIR_PREFIX, dir=base)
    if base is not None:
        os.chmod(top, 0o711)
    inner = os.path.join(top, "egress")
    os.mkdir(inner)
    os.chmod(inner, 0o711)
    return top, inner


def remove_socket_dir(top: str | None) -> None:
    if top:
        shutil.rmtree(top, ignore_errors=True)


def header(port: int = FORWARDER_PORT) -> dict[str, Any]:
    """The run header's `egress` entry: what the bootstrap starts before the program."""
    return {"unix": INSIDE_SOCKET, "port": port, "source": forwarder_source()}


def unavailable_event(where: str, reason: str) -> dict[str, Any]:
    return {"kind": EV_UNAVAILABLE, "where": where, "reason": reason}


def decision_events(decisions: list[ProxyDecision]) -> list[dict[str, Any]]:
    """Distinct decisions in the order first seen, each with how often it was made."""
    counts: dict[tuple, int] = {}
    first: dict[tuple, ProxyDecision] = {}
    for d in decisions:
        key = (d.host, d.port, d.allowed, d.rule, d.reason, d.address)
        counts[key] = counts.get(key, 0) + 1
        first.setdefault(key, d)
    events = [{"kind": EV_DECISION, **asdict(first[k]), "count": n} for k, n in counts.items()]
    if len(events) > MAX_DECISION_EVENTS:
        dropped = len(events) - MAX_DECISION_EVENTS
        # Keep every refusal we can: they are what a decision turns on.
        events.sort(key=lambda e: e["allowed"])
        events = events[:MAX_DECISION_EVENTS] + [{"kind": "egress-truncated", "dropped": dropped}]
    return events


def decision_of(event: dict[str, Any]) -> ProxyDecision | None:
    """The `ProxyDecision` an `egress` event carries (None when malformed)."""
    try:
        return ProxyDecision(
            host=str(event["host"]),
            port=int(event["port"]),
            allowed=bool(event["allowed"]),
            rule=str(event["rule"]),
            reason=str(event.get("reason", "")),
            address=None if event.get("address") is None else str(event["address"]),
        )
    except (KeyError, TypeError, ValueError):
        return None


@dataclass
class EgressRun:
    """One run's proxy. `start()` never raises: on failure `unavailable` says why and the run
    goes ahead with no network. `finish()` stops the proxy and returns the events to add."""

    network: NetworkPolicy
    socket_dir: str  # D/egress: where the proxy's socket goes (bound at INSIDE_DIR)
    unix_mode: int = 0o600
    resolver: Resolver | None = None
    owned_dir: str | None = None  # D, when this run made it: removed by finish()
    proxy: EgressProxy | None = None
    unavailable: str | None = None
    _events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def active(self) -> bool:
        return self.proxy is not None

    def fail(self, where: str, reason: str) -> None:
        """No way out for this run (it goes ahead with no network); the result says why."""
        self.unavailable = reason
        self._events.append(unavailable_event(where, reason))

    def start(self) -> bool:
        if self.unavailable:
            return False
        proxy = EgressProxy(
            self.network,
            unix_path=os.path.join(self.socket_dir, SOCKET_NAME),
            tcp_port=None,
            unix_mode=self.unix_mode,
            resolver=self.resolver,
        )
        try:
            proxy.start()
        except Exception as exc:  # noqa: BLE001 - fail closed: the run gets no network
            log.warning("egress proxy could not start: %s", exc)
            self.fail("host", f"the egress proxy could not start: {exc}")
            try:
                proxy.stop()
            except Exception:  # noqa: BLE001
                pass
            return False
        self.proxy = proxy
        return True

    def finish(self) -> list[dict[str, Any]]:
        events = list(self._events)
        if self.proxy is not None:
            try:
                self.proxy.stop()  # first: a request still in flight is decided and recorded
            except Exception:  # noqa: BLE001 - its thread is a daemon; the directory goes anyway
                log.debug("stopping the egress proxy failed", exc_info=True)
            decisions = self.proxy.drain_decisions()
            self.proxy = None
            events.append({"kind": EV_PROXY, "socket": INSIDE_SOCKET, "port": FORWARDER_PORT})
            events += decision_events(decisions)
        self._events = []
        remove_socket_dir(self.owned_dir)
        self.owned_dir = None
        return events


def open_run(
    network: NetworkPolicy, unix_mode: int, resolver: Resolver | None = None, socket_dir: str | None = None
) -> EgressRun | None:
    """The run's proxy, started, when `network` allows hosts (None when it allows none).

    `socket_dir`: an existing directory for the socket (a pooled container's); None: a new
    `D/egress`, removed by `finish()`. Never raises: a failure leaves `unavailable` set."""
    if not wanted(network):
        return None
    owned = None
    if socket_dir is None:
        try:
            owned, socket_dir = make_socket_dir()
        except OSError as exc:
            run = EgressRun(network, "", unix_mode, resolver)
            run.fail("host", f"no directory for the egress proxy's socket: {exc}")
            return run
    run = EgressRun(network, socket_dir, unix_mode, resolver, owned_dir=owned)
    run.start()
    return run
