"""Does the in-process report disagree with the supervisor's record? (pure)

The audit hooks in the sandboxed process report what Python did; the supervisor outside records
the system calls. The code under test can switch the hooks off (patch `os.write`, fill their
budget, connect through ctypes, exec a fresh interpreter, close the events pipe); it cannot
touch the record. So a run whose in-process report is cut short, ends without its final line,
or misses something the record holds has tampered with its monitor — or run native code that
hides from Python, which a suggestion has no business doing either.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable
from typing import Any

from sandgate.sandbox import proxy_wiring
from sandgate.sandbox.supervision import Record

# Connections the runtime makes on its own (not the program's): the egress forwarder to the
# proxy, glibc asking for a name service cache.
EXPECTED_UNIX = (proxy_wiring.INSIDE_SOCKET, "/var/run/nscd/socket", "/run/nscd/socket")
MAX_REASONS = 5


def _numeric(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%")[0])
        return True
    except ValueError:
        return False


def expected_connect(event: dict[str, Any]) -> bool:
    """A connection of the runtime's own, or one that cannot leave the sandbox's kernel."""
    family, host, port = event.get("family"), str(event.get("host", "")), event.get("port")
    if family == "AF_NETLINK":
        return True
    if family == "AF_UNIX":
        return host in EXPECTED_UNIX
    return host == "127.0.0.1" and port == proxy_wiring.FORWARDER_PORT


def _connect_seen(event: dict[str, Any], inside: list[dict[str, Any]]) -> bool:
    host, port = str(event.get("host", "")), event.get("port")
    for ev in inside:
        if ev.get("kind") != "connect" or ev.get("port") != port:
            continue
        seen = str(ev.get("host", ""))
        # Python reports the address as given: a name (resolved from /etc/hosts) matches its address.
        if seen == host or not _numeric(seen):
            return True
    return False


def reasons(
    inside: Iterable[dict[str, Any]],
    outside: Record,
    *,
    stopped: bool,
    syntax_error: bool,
    secret_path,
    detailed: bool = True,
) -> list[str]:
    """Why the in-process report cannot be believed; empty when it agrees with the record.

    `inside`: the monitor's events; `stopped`: the run was killed from outside (a final report
    is not owed); `secret_path(path) -> bool`: the report's own test for secret-looking files.
    `detailed` False: the runtime's in-process report does not claim to see every connection, exec,
    write and read (Node's: no audit hooks), so only its final report is owed; the record's events
    are findings of their own either way."""
    inside = list(inside)
    found: list[str] = []
    if any(ev.get("kind") == "events-truncated" for ev in inside):
        found.append("the in-process report was cut short (its event budget was used up)")
    if outside.truncated:
        found.append("the program flooded the outside record")
    if outside.exited and not stopped and not syntax_error and not any(ev.get("kind") == "rusage" for ev in inside):
        found.append("the program ended without the in-process monitor's final report (os._exit, or a blinded monitor)")
    spawned = any(ev.get("kind") == "spawn" for ev in inside)
    writes = {str(ev.get("path")) for ev in inside if ev.get("kind") == "open-write"}
    reads = {str(ev.get("path")) for ev in inside if ev.get("kind") == "open-read"}
    # A listing the monitor reported (os.scandir, glob) opens its folder: that read was told.
    for ev in inside:
        if ev.get("kind") == "probe":
            reads |= {str(ev.get("path")), os.path.dirname(str(ev.get("path")))}
    for ev in outside.events if detailed else ():
        kind = ev.get("kind")
        if kind == "connect" and not expected_connect(ev) and not _connect_seen(ev, inside):
            target = ev.get("host") if ev.get("port") is None else f"{ev.get('host')}:{ev.get('port')}"
            found.append(f"a connection to {target} that the in-process monitor did not report")
        elif kind == "execve" and not spawned:
            found.append(f"{ev.get('path')} was executed without the in-process monitor reporting any process")
            spawned = True  # once is enough to say so
        elif kind == "open-write" and str(ev.get("path")) not in writes:
            found.append(f"a write to {ev.get('path')} that the in-process monitor did not report")
        elif kind == "open-read" and secret_path(str(ev.get("path"))) and str(ev.get("path")) not in reads:
            found.append(f"a read of {ev.get('path')} that the in-process monitor did not report")
    return list(dict.fromkeys(found))[:MAX_REASONS]


def command_of(event: dict[str, Any]) -> list[str]:
    """An `execve` event's command line, the program named by the path it ran."""
    argv = [str(a) for a in event.get("argv") or []]
    path = str(event.get("path") or "")
    return [path or (argv[0] if argv else "?"), *argv[1:]]


def spawn_key(argv: list[str]) -> tuple[str, ...]:
    """Two reports of one process launch (the program's words, the system call) compare equal."""
    if not argv:
        return ()
    return (os.path.basename(argv[0]), *argv[1:])
