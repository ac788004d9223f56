"""What a `network.allow_hosts` or `network.deny_hosts` entry means, in one place: the egress
proxy, the sandbox report, the static host check and the managed layer all read entries here.

An entry is `host` or `host:port` (`[v6]:port` for an IPv6 literal):

- `host` is an exact name or IP literal, or `*.domain`, which covers the names below `domain`
  (any depth) but not `domain` itself, and never an IP literal (`*.0.0.1` is not `127.0.0.1`).
- Case, surrounding blanks, a trailing dot and IPv6 brackets are ignored; an IP literal
  compares as the address it spells (`::1` is `0:0::1`).
- An allow entry without a port allows `DEFAULT_PORTS` (80 and 443), with one exactly that port.
  A deny entry without a port denies every port, with one only that port.
- A port outside 1-65535 is malformed (the policy's validation refuses it; a policy built in
  code can still hold one). It never widens anything: such an allow entry allows nothing, such
  a deny entry denies every port.

Where the port is not known (a name look-up, a host named in code), a host is allowed when some
allow entry names it (whatever its port) and no deny entry denies it on every port.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from sandgate.policy.model import NetworkPolicy

DEFAULT_PORTS: tuple[int, ...] = (80, 443)
MALFORMED_PORT = -1


def normalise_host(host: str) -> str:
    """Lower case, no blanks, no trailing dot, no brackets; an IP literal in its canonical form."""
    host = host.strip().lower().rstrip(".")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return host


def is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(normalise_host(host))
    except ValueError:
        return False
    return True


def split_port(text: str) -> tuple[str, int | None]:
    """An entry's host text as written and its port (None without one; not range-checked).

    `host:port` needs exactly one colon, so a bare IPv6 literal (`::1`) has no port; `[::1]:9`
    does. A tail that is not a number is part of the host (and matches nothing)."""
    raw = text.strip()
    if raw.startswith("[") and "]" in raw:
        end = raw.index("]")
        rest = raw[end + 1 :]
        port = int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else None
        return raw[: end + 1], port
    if raw.count(":") == 1:
        host, _, tail = raw.partition(":")
        if tail.isdigit() and host:
            return host, int(tail)
    return raw, None


@dataclass(frozen=True)
class HostPattern:
    text: str  # as written in the policy
    host: str  # normalised (`normalise_host`), no port
    port: int | None  # None: none written; MALFORMED_PORT: outside 1-65535

    @property
    def wildcard(self) -> bool:
        return self.host.startswith("*.")

    @property
    def malformed(self) -> bool:
        return self.port == MALFORMED_PORT

    def matches_host(self, host: str) -> bool:
        host = normalise_host(host)
        if self.wildcard:
            suffix = self.host[1:]  # ".example.com"
            return host.endswith(suffix) and len(host) > len(suffix) and not is_ip_literal(host)
        return host == self.host

    def allows_port(self, port: int) -> bool:
        """As an allow entry: whether it lets `port` through (its host matching)."""
        if self.port is None:
            return port in DEFAULT_PORTS
        return self.port == port and not self.malformed

    def denies_port(self, port: int) -> bool:
        """As a deny entry: whether it shuts `port` (its host matching)."""
        return self.port is None or self.malformed or self.port == port

    @property
    def denies_every_port(self) -> bool:
        return self.port is None or self.malformed

    def ports(self) -> tuple[int, ...]:
        """The ports it allows, as an allow entry."""
        if self.port is None:
            return DEFAULT_PORTS
        return () if self.malformed else (self.port,)


def parse_pattern(text: str) -> HostPattern:
    """`api.example.com`, `*.example.com`, `127.0.0.1:8080`, `[::1]:8080`, `::1`."""
    host, port = split_port(text)
    if port is not None and not 0 < port < 65536:
        port = MALFORMED_PORT
    return HostPattern(text=text, host=normalise_host(host), port=port)


def host_allowed(host: str, network: NetworkPolicy) -> bool:
    """Whether `host` is allowed on some port, the port not being known (see the module's docstring)."""
    for text in network.deny_hosts:
        pattern = parse_pattern(text)
        if pattern.denies_every_port and pattern.matches_host(host):
            return False
    return any(p.matches_host(host) and p.ports() for p in map(parse_pattern, network.allow_hosts))


def covers(managed: str, lower: str) -> bool:
    """Whether allow entry `managed` allows everything allow entry `lower` does: its host covers
    the lower host (the same, or `*.domain` over a name or a narrower wildcard below `domain`),
    and its ports every port of the lower entry."""
    m, low = parse_pattern(managed), parse_pattern(lower)
    if low.malformed:
        return False
    if not (m.host == low.host or (m.wildcard and m.matches_host(low.host))):
        return False
    return all(m.allows_port(port) for port in low.ports())
