"""The egress proxy's decisions, as pure functions: which rule lets a host and port through,
and which resolved addresses may be connected to.

Host patterns, ports included, mean what `sandgate.policy.hosts` says. Deny wins over allow.

Addresses. The proxy refuses every address that is not plainly public: loopback, private,
link-local, shared (100.64/10), multicast, unspecified, reserved and documentation ranges,
and IPv6 addresses that embed such an IPv4 address (mapped, NAT64, 6to4, Teredo). The only
way to reach one is to name it: an allow entry that is exactly the IP literal requested, or
exactly a loopback name (`localhost`, `*.localhost` names such as `api.localhost`) requested
by that name and resolving to loopback addresses only. A name that merely resolves to a
private address (DNS rebinding, `internal.example.com` → 10.0.0.5) is refused, even when the
name itself is allowed: list the address instead.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from sandgate.policy.hosts import HostPattern, normalise_host, parse_pattern
from sandgate.policy.model import NetworkPolicy

# Rule ids in decisions (`ProxyDecision.rule`) that do not come from a policy entry.
RULE_DEFAULT_DENY = "network.default-deny"
RULE_PORT = "network.ports"
RULE_ADDRESS = "network.private-address"
RULE_UNRESOLVED = "network.unresolved"
RULE_BAD_REQUEST = "proxy.bad-request"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")


def ip_literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(normalise_host(host).split("%", 1)[0])
    except ValueError:
        return None


def is_loopback_name(host: str) -> bool:
    host = normalise_host(host)
    return host == "localhost" or host.endswith(".localhost") or host in ("ip6-localhost", "ip6-loopback")


@dataclass(frozen=True)
class HostDecision:
    allowed: bool
    rule: str
    reason: str
    # The allow entry that matched (None when denied): decides whether a private address is named.
    pattern: HostPattern | None = None


def decide_host(host: str, port: int, network: NetworkPolicy) -> HostDecision:
    """The policy's word on `host:port`, before any name is resolved (a denied name is never looked up)."""
    host = normalise_host(host)
    for text in network.deny_hosts:
        pattern = parse_pattern(text)
        if pattern.matches_host(host) and pattern.denies_port(port):
            return HostDecision(
                False, f"network.deny_hosts:{text}", f"{host}:{port} is denied by network.deny_hosts {text!r}"
            )
    matched: list[HostPattern] = []
    for text in network.allow_hosts:
        pattern = parse_pattern(text)
        if not pattern.matches_host(host):
            continue
        matched.append(pattern)
        if pattern.allows_port(port):
            return HostDecision(
                True,
                f"network.allow_hosts:{text}",
                f"{host}:{port} is allowed by network.allow_hosts {text!r}",
                pattern,
            )
    if matched:
        ports = sorted({allowed for p in matched for allowed in p.ports()})
        return HostDecision(
            False, RULE_PORT, f"{host} is allowed on port(s) {', '.join(map(str, ports))} only, not {port}"
        )
    if not network.allow_hosts:
        return HostDecision(
            False, RULE_DEFAULT_DENY, f"{host}:{port}: the policy allows no network (network.allow_hosts is empty)"
        )
    return HostDecision(False, RULE_DEFAULT_DENY, f"{host}:{port} is not in network.allow_hosts")


def _embedded_v4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64 or address in _NAT64_LOCAL:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def address_problem(address: IPAddress) -> str | None:
    """Why `address` is not plainly public (None when it is)."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = _embedded_v4(address)
        if inner is not None:
            # Judged by the IPv4 address it carries (NAT64 and mapped forms of a public
            # address are public; Python files 64:ff9b::/96 under "reserved").
            problem = address_problem(inner)
            return f"{problem} (embedded in {address})" if problem else None
    for attribute, words in (
        ("is_unspecified", "unspecified"),
        ("is_loopback", "loopback"),
        ("is_link_local", "link-local"),
        ("is_multicast", "multicast"),
        ("is_reserved", "reserved"),
        ("is_private", "private"),
    ):
        if getattr(address, attribute):
            return f"{address} is a {words} address"
    if not address.is_global:
        return f"{address} is not a public address"
    return None


def check_addresses(host: str, addresses: list[IPAddress], pattern: HostPattern | None) -> str | None:
    """Why the connection must not go ahead, given every address `host` resolved to; None: go ahead.

    One bad address refuses the lot: the proxy never picks the public one out of a mixed
    answer, since an attacker controls the order and the mix.
    """
    if not addresses:
        return f"{host} resolved to no address"
    named = False
    if pattern is not None and not pattern.wildcard:
        literal = ip_literal(host)
        if literal is not None:
            named = ip_literal(pattern.host) == literal and addresses == [literal]
        elif is_loopback_name(host) and pattern.host == normalise_host(host):
            named = all(a.is_loopback for a in addresses)
    for address in addresses:
        problem = address_problem(address)
        if problem and not named:
            return f"{host} → {problem}; name it exactly in network.allow_hosts to allow it"
    return None
