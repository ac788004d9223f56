"""The proxy's decisions as pure functions: host patterns, ports, and which addresses are public."""

from __future__ import annotations

import ipaddress

import pytest

from sandgate.egress import rules
from sandgate.egress.rules import address_problem, check_addresses, decide_host
from sandgate.policy import hosts
from sandgate.policy.hosts import host_allowed, parse_pattern
from sandgate.policy.model import NetworkPolicy

POLICY = NetworkPolicy(
    allow_hosts=("api.example.com", "*.corp.example", "127.0.0.1:8080", "[::1]:9000", "files.example.com:8443"),
    deny_hosts=("bad.corp.example", "api.example.com:443"),
)


@pytest.mark.parametrize(
    ("host", "port", "allowed", "rule"),
    [
        ("api.example.com", 80, True, "network.allow_hosts:api.example.com"),
        ("API.Example.COM.", 80, True, "network.allow_hosts:api.example.com"),
        ("api.example.com", 443, False, "network.deny_hosts:api.example.com:443"),  # a port-scoped deny
        ("api.example.com", 8080, False, rules.RULE_PORT),
        ("x.corp.example", 443, True, "network.allow_hosts:*.corp.example"),
        ("a.b.corp.example", 443, True, "network.allow_hosts:*.corp.example"),
        ("corp.example", 443, False, rules.RULE_DEFAULT_DENY),  # `*.d` covers subdomains only
        ("evilcorp.example", 443, False, rules.RULE_DEFAULT_DENY),
        ("bad.corp.example", 443, False, "network.deny_hosts:bad.corp.example"),
        ("bad.corp.example", 80, False, "network.deny_hosts:bad.corp.example"),  # a bare deny: every port
        ("127.0.0.1", 8080, True, "network.allow_hosts:127.0.0.1:8080"),
        ("127.0.0.1", 80, False, rules.RULE_PORT),
        ("::1", 9000, True, "network.allow_hosts:[::1]:9000"),
        ("[::1]", 9000, True, "network.allow_hosts:[::1]:9000"),
        ("files.example.com", 8443, True, "network.allow_hosts:files.example.com:8443"),
        ("files.example.com", 443, False, rules.RULE_PORT),
        ("elsewhere.test", 443, False, rules.RULE_DEFAULT_DENY),
    ],
)
def test_decide_host(host, port, allowed, rule):
    decision = decide_host(host, port, POLICY)
    assert (decision.allowed, decision.rule) == (allowed, rule)


def test_port_refusal_lists_the_ports_that_are_allowed():
    decision = decide_host("files.example.com", 22, POLICY)
    assert decision.reason == "files.example.com is allowed on port(s) 8443 only, not 22"


@pytest.mark.parametrize(
    "host",
    [
        "api.example.com",
        "x.corp.example",
        "corp.example",
        "bad.corp.example",
        "a.b.corp.example",
        "other.example",
        "API.EXAMPLE.COM",
    ],
)
def test_bare_entries_on_default_ports_agree_with_the_static_check(host):
    """The same pattern semantics as `hosts.host_allowed`, which the static check of hosts in code uses."""
    network = NetworkPolicy(allow_hosts=("api.example.com", "*.corp.example"), deny_hosts=("bad.corp.example",))
    for port in hosts.DEFAULT_PORTS:
        assert decide_host(host, port, network).allowed == host_allowed(host, network)


def test_parse_pattern():
    assert parse_pattern("Api.Example.com.") == hosts.HostPattern("Api.Example.com.", "api.example.com", None)
    assert parse_pattern("127.0.0.1:8080").port == 8080
    assert parse_pattern("[::1]:9").host == "::1" and parse_pattern("[::1]:9").port == 9
    assert parse_pattern("::1").host == "::1" and parse_pattern("::1").port is None
    assert parse_pattern("host:99999").port == -1  # malformed: matches no port, widens nothing
    assert decide_host("host", 99999 % 65536, NetworkPolicy(allow_hosts=("host:99999",))).allowed is False


@pytest.mark.parametrize(
    ("address", "word"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("fc00::1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("100.64.0.1", "not a public address"),
        ("224.0.0.1", "multicast"),
        ("239.255.255.250", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("192.0.2.1", "private"),
        ("2001:db8::1", "private"),  # documentation ranges
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped
        ("64:ff9b::7f00:1", "loopback"),  # NAT64 of 127.0.0.1
        ("2002:a00:1::", "private"),  # 6to4 of 10.0.0.1
    ],
)
def test_non_public_addresses_are_named(address, word):
    problem = address_problem(ipaddress.ip_address(address))
    assert problem is not None and word in problem


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111", "64:ff9b::808:808"])
def test_public_addresses_pass(address):
    assert address_problem(ipaddress.ip_address(address)) is None


def test_only_an_exact_entry_names_a_private_address():
    ip = ipaddress.ip_address
    exact = parse_pattern("10.0.0.5")
    assert check_addresses("10.0.0.5", [ip("10.0.0.5")], exact) is None
    assert check_addresses("localhost", [ip("127.0.0.1"), ip("::1")], parse_pattern("localhost:8080")) is None
    # A loopback name must resolve to loopback only.
    assert "private" in check_addresses("localhost", [ip("10.0.0.5")], parse_pattern("localhost"))
    # Any other name, exact or wildcard, does not name the address it resolves to.
    assert "loopback" in check_addresses(
        "public-looking.example", [ip("127.0.0.1")], parse_pattern("public-looking.example")
    )
    assert "private" in check_addresses("db.corp.example", [ip("10.0.0.5")], parse_pattern("*.corp.example"))
    assert check_addresses("x.example", [], parse_pattern("x.example")) == "x.example resolved to no address"
    assert check_addresses("x.example", [ip("93.184.215.14")], parse_pattern("x.example")) is None
