"""Host patterns (`network.allow_hosts`, `deny_hosts`) and model-endpoint URL patterns
(`network.model_endpoints`): one meaning each, in `policy.hosts` and `policy.endpoints`.

The cases marked "disagreed" are where the matchers these modules replace (four for hosts, two
readings of endpoint patterns) gave different answers; "changed" where they agreed on another."""

from __future__ import annotations

import pytest

from sandgate.egress.rules import decide_host
from sandgate.policy import endpoints, hosts
from sandgate.policy.hosts import covers, host_allowed, normalise_host, parse_pattern, split_port
from sandgate.policy.model import NetworkPolicy

# -- reading an entry ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "host", "port"),
    [
        ("api.example.com", "api.example.com", None),
        (" API.Example.COM. ", "api.example.com", None),  # case, blanks and a trailing dot ignored
        ("*.Example.com", "*.example.com", None),
        ("api.example.com:8443", "api.example.com", 8443),
        ("127.0.0.1:8080", "127.0.0.1", 8080),
        ("[::1]:9000", "::1", 9000),
        ("::1", "::1", None),  # a bare IPv6 literal has no port
        ("[0:0::1]", "::1", None),  # an IP literal in its canonical form
        ("host:99999", "host", hosts.MALFORMED_PORT),
        ("host:0", "host", hosts.MALFORMED_PORT),
        ("host:http", "host:http", None),  # not a port: part of the host, which matches nothing real
    ],
)
def test_parse_pattern(text, host, port):
    pattern = parse_pattern(text)
    assert (pattern.text, pattern.host, pattern.port) == (text, host, port)


def test_split_port_keeps_the_host_as_written():
    assert split_port("*.Co.UK:443") == ("*.Co.UK", 443)
    assert split_port("127.0.0.1:70000") == ("127.0.0.1", 70000)  # validation says what is wrong
    assert split_port("[::1]:9") == ("[::1]", 9)


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("Example.COM.", "example.com"),
        ("[::1]", "::1"),
        ("0:0:0:0:0:0:0:1", "::1"),
        ("127.0.0.1", "127.0.0.1"),
        ("127.000.0.1", "127.000.0.1"),  # not a literal Python accepts: a name, which no entry names
    ],
)
def test_normalise_host(raw, normal):
    assert normalise_host(raw) == normal


# -- matching a host ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "host", "matches"),
    [
        ("api.example.com", "api.example.com", True),
        ("api.example.com", "API.EXAMPLE.COM.", True),
        ("api.example.com", "x.api.example.com", False),  # an exact name covers no subdomain
        ("*.example.com", "api.example.com", True),
        ("*.example.com", "a.b.example.com", True),  # any depth
        ("*.example.com", "example.com", False),  # subdomains only
        ("*.example.com", "evilexample.com", False),
        ("*.example.com", ".example.com", False),
        ("*.0.0.1", "127.0.0.1", False),  # changed: a wildcard names no IP literal
        ("::1", "0:0::1", True),  # disagreed (the proxy named it, never matched it): the same address
        ("[::1]:9000", "[::1]", True),
        ("127.0.0.1", "127.0.0.2", False),
    ],
)
def test_matches_host(pattern, host, matches):
    assert parse_pattern(pattern).matches_host(host) is matches


@pytest.mark.parametrize(
    ("text", "port", "allows", "denies"),
    [
        ("h.example", 80, True, True),
        ("h.example", 443, True, True),
        ("h.example", 8080, False, True),  # a bare allow entry: 80 and 443; a bare deny entry: every port
        ("h.example:8080", 8080, True, True),
        ("h.example:8080", 443, False, False),
        ("h.example:99999", 99999 % 65536, False, True),  # changed: malformed never widens, a deny entry included
    ],
)
def test_ports(text, port, allows, denies):
    pattern = parse_pattern(text)
    assert (pattern.allows_port(port), pattern.denies_port(port)) == (allows, denies)


# -- a host without a port: a name look-up, a host named in code -------------------------------


def test_host_allowed_without_a_port():
    network = NetworkPolicy(
        allow_hosts=("127.0.0.1:8080", "*.corp.example", "bad.port:99999"),
        deny_hosts=("x.corp.example:8443", "y.corp.example", "z.corp.example:0"),
    )
    assert host_allowed("127.0.0.1", network)  # an allow entry counts whatever its port
    assert host_allowed("x.corp.example", network)  # a deny with a port leaves the others open
    assert not host_allowed("y.corp.example", network)  # a deny without one: every port
    assert not host_allowed("z.corp.example", network)  # changed: a malformed deny denies every port
    assert not host_allowed("bad.port", network)  # disagreed: allows nothing, as the proxy read it
    assert not host_allowed("corp.example", network)


@pytest.mark.parametrize(
    "host",
    [
        "api.example.com",
        "x.corp.example",
        "corp.example",
        "bad.corp.example",
        "10.0.0.1",
        "API.EXAMPLE.COM.",
        "::1",
        "0::1",
    ],
)
def test_without_a_port_agrees_with_the_proxy_on_bare_entries(host):
    network = NetworkPolicy(allow_hosts=("api.example.com", "*.corp.example", "::1"), deny_hosts=("bad.corp.example",))
    for port in hosts.DEFAULT_PORTS:
        assert decide_host(host, port, network).allowed == host_allowed(host, network)


# -- one allow entry over another (the managed layer) -------------------------------------------


@pytest.mark.parametrize(
    ("managed", "lower", "covered"),
    [
        ("*.corp.example", "api.corp.example", True),
        ("*.corp.example", "*.corp.example", True),
        ("*.corp.example", "*.eu.corp.example", True),
        ("*.eu.corp.example", "*.corp.example", False),
        ("*.corp.example", "corp.example", False),
        ("*.corp.example", "API.Corp.Example.", True),
        ("*.0.0.1", "127.0.0.1", False),  # a wildcard covers no IP literal
        ("[::1]:8080", "0:0::1:8080", False),  # `0:0::1:8080` is a bare IPv6 literal, not `::1` port 8080
        ("[::1]:8080", "[0:0::1]:8080", True),
        ("api.corp.example", "api.corp.example:443", True),
        ("api.corp.example", "api.corp.example:22", False),
        ("api.corp.example:443", "api.corp.example", False),  # 80 and 443 are not 443 alone
        ("api.corp.example:99999", "api.corp.example:99999", False),  # malformed on either side: nothing
    ],
)
def test_covers(managed, lower, covered):
    assert covers(managed, lower) is covered


# -- model endpoints ----------------------------------------------------------------------------


def _matches(pattern: str, url: str) -> bool:
    target = endpoints.endpoint(url)
    return not isinstance(target, str) and endpoints.matches(pattern, target)


@pytest.mark.parametrize(
    ("pattern", "url", "matches"),
    [
        ("https://api.openai.com/*", "https://api.openai.com/v1", True),
        ("https://api.openai.com/*", "HTTPS://API.OpenAI.com./v1", True),  # scheme and host case, trailing dot
        ("HTTPS://API.OPENAI.COM/*", "https://api.openai.com/v1", True),
        ("http://[::1]:*", "http://[::1]:8000/v1", True),  # `fnmatch` would read `[::1]` as a class
        ("http://127.0.0.1:*", "http://127.0.0.1:80@evil.example/v1", False),  # credentials never match
        ("http://127.0.0.1:*", "http://127.0.0.1:8080.evil.example/v1", False),  # the authority on its own
        ("http://127.0.0.1:*", "http://127.0.0.1:8080/v1", True),
        ("http://127.0.0.1:*", "http://127.0.0.1/v1", True),  # port 80, not said: the same endpoint as `:80`
        ("http://127.0.0.1:*", "https://127.0.0.1/v1", False),  # scheme matters
        ("http://127.0.0.1:*", "http://127.0.0.1.evil.example/v1", False),
        # A scheme's default port, spelled out or not, is one endpoint (either side may say it).
        ("https://api.openai.com/*", "https://api.openai.com:443/v1", True),
        ("https://api.openai.com/*", "HTTPS://API.OPENAI.COM:0443/v1", True),
        ("https://api.openai.com:443/*", "https://api.openai.com/v1", True),
        ("http://localhost/*", "http://localhost:80/v1", True),
        ("https://api.openai.com/*", "https://api.openai.com:80/v1", False),  # 80 is not https's port
        ("https://api.openai.com/*", "https://api.openai.com:8443/v1", False),
        ("http://api.openai.com/*", "http://api.openai.com:443/v1", False),  # 443 is not http's port
        ("https://api.openai.com/*", "https://api.openai.com:443.evil.example/v1", False),
        ("https://api.openai.com/*", "https://api.openai.com:443@evil.example/v1", False),
        ("https://api.openai.com/*", "https://api.openai.com:443\\@evil.example/v1", False),
        ("https://api.openai.com/*", "https://evil.example:443/#@api.openai.com:443/v1", False),
        ("https://api.openai.com/*", "https://evil.example/?u=https://api.openai.com:443/v1", False),
        ("http://localhost:1?", "http://localhost:12/v1", False),  # the pattern matches the whole URL
        ("http://localhost:1?/*", "http://localhost:12/v1", True),
        ("ftp://*", "ftp://127.0.0.1/", False),  # http and https only
    ],
)
def test_endpoint_matches(pattern, url, matches):
    assert _matches(pattern, url) is matches


def test_endpoint_names_why_a_url_cannot_match():
    assert "credentials" in endpoints.endpoint("http://me:pw@127.0.0.1:1/v1")
    assert "no host" in endpoints.endpoint("http:///v1")
    assert "malformed" in endpoints.endpoint("http://127.0.0.1:99999/")
    assert endpoints.shown("http://me:pw@127.0.0.1:1/v1?key=x") == "http://127.0.0.1:1/v1"


@pytest.mark.parametrize(
    ("managed", "lower", "covered"),
    [
        ("http://127.0.0.1:*", "http://127.0.0.1:11434/v1", True),
        ("http://127.0.0.1:*", "http://127.0.0.1:*", True),
        ("http://[::1]:*", "http://[::1]:8080/v1", True),  # disagreed: the layer read `[::1]` as a class
        ("HTTPS://API.OPENAI.COM/*", "https://api.openai.com/v1", True),  # disagreed: the layer minded case
        ("https://api.openai.com/*", "https://*", False),  # a lower wildcard needs a managed one
        ("http://127.0.0.1:1?", "http://127.0.0.1:1*", False),  # `?` cannot stand for `*`
        ("http://127.0.0.1:1*", "http://127.0.0.1:1?", True),
        ("https://api.openai.com/v1", "https://api.openai.com/v1/", False),
    ],
)
def test_endpoint_covers(managed, lower, covered):
    assert endpoints.covers(managed, lower) is covered


@pytest.mark.parametrize(
    "lower",
    ["http://127.0.0.1:11434/v1", "http://[::1]:8080/v1", "https://API.openai.com/v1", "http://127.0.0.1:1?/v1"],
)
def test_a_covered_endpoint_pattern_allows_nothing_the_managed_one_does_not(lower):
    """Soundness: whatever URL the lower pattern matches, the managed one matches too."""
    managed = ("http://127.0.0.1:*", "http://[::1]:*", "https://api.openai.com/*")
    urls = ["http://127.0.0.1:11434/v1", "http://127.0.0.1:12/v1", "http://[::1]:8080/v1", "https://api.openai.com/v1"]
    assert any(endpoints.covers(m, lower) for m in managed)
    for url in urls:
        if _matches(lower, url):
            assert any(_matches(m, url) for m in managed)
