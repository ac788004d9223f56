"""The egress proxy over real sockets on loopback: no mocks of the network stack.

The one seam is the resolver (a function from a name to addresses), so a test can make
`public-looking.example` resolve to 127.0.0.1 the way a hostile DNS server would.
"""

from __future__ import annotations

import http.client
import os
import socket
import stat
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from sandgate.egress import EgressProxy, ProxyDecision, rules
from sandgate.egress.forwarder import start as start_forwarder
from sandgate.policy.model import NetworkPolicy
from tests.egress.helpers import (
    body_of,
    connect_tcp,
    connect_unix,
    exchange,
    free_port,
    header_of,
    read_all,
    read_head,
    status_of,
)


class Resolver:
    """A name→addresses table that remembers every look-up asked of it."""

    def __init__(self, table: dict[str, list[str] | list[list[str]]]) -> None:
        self.table = table
        self.calls: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append(host)
        answer = self.table.get(host)
        if answer is None:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        if answer and isinstance(answer[0], list):  # a different answer on each look-up
            return list(answer[min(len(self.calls), len(answer)) - 1])  # type: ignore[arg-type]
        return list(answer)  # type: ignore[arg-type]


@pytest.fixture
def run_proxy(sock_dir) -> Iterator:
    started: list[EgressProxy] = []

    def start(policy: NetworkPolicy, **kwargs) -> tuple[EgressProxy, list[ProxyDecision]]:
        heard: list[ProxyDecision] = []
        kwargs.setdefault("unix_path", str(sock_dir / "proxy.sock"))
        proxy = EgressProxy(policy, on_decision=heard.append, **kwargs)
        proxy.start()
        started.append(proxy)
        return proxy, heard

    yield start
    for proxy in started:
        proxy.stop()


def get_request(host: str, port: int, path: str = "/x", extra: str = "") -> bytes:
    return (
        f"GET http://{host}:{port}{path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Proxy-Connection: keep-alive\r\nUser-Agent: sandgate-test\r\n{extra}\r\n"
    ).encode()


def connect_request(host: str, port: int) -> bytes:
    return f"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()


# -- allowed ------------------------------------------------------------------------------------


def test_http_through_tcp_endpoint_reaches_allowed_loopback_server(run_proxy, http_server):
    proxy, heard = run_proxy(NetworkPolicy(allow_hosts=(f"127.0.0.1:{http_server.port}",)))
    response = exchange(connect_tcp(proxy.endpoints.tcp_port), get_request("127.0.0.1", http_server.port, "/hello?a=1"))
    assert status_of(response) == 200
    assert body_of(response) == b"hello from /hello?a=1"
    # The origin saw an origin-form request without the proxy's own headers.
    assert http_server.seen[0]["path"] == "/hello?a=1"
    headers = {k.lower(): v for k, v in http_server.seen[0]["headers"].items()}
    assert "proxy-connection" not in headers
    assert headers["host"] == f"127.0.0.1:{http_server.port}"
    assert headers["connection"] == "close"
    assert headers["user-agent"] == "sandgate-test"
    assert (
        heard
        == proxy.decisions()
        == [
            ProxyDecision(
                "127.0.0.1",
                http_server.port,
                True,
                f"network.allow_hosts:127.0.0.1:{http_server.port}",
                f"127.0.0.1:{http_server.port} is allowed by network.allow_hosts '127.0.0.1:{http_server.port}'",
                "127.0.0.1",
            )
        ]
    )


def test_http_request_body_is_forwarded(run_proxy, http_server):
    proxy, _ = run_proxy(NetworkPolicy(allow_hosts=(f"127.0.0.1:{http_server.port}",)))
    payload = b"x" * 100_000
    request = (
        f"POST http://127.0.0.1:{http_server.port}/up HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Length: {len(payload)}\r\n\r\n"
    ).encode() + payload
    response = exchange(connect_unix(proxy.endpoints.unix_path), request)
    assert status_of(response) == 200
    assert body_of(response) == b"got " + payload
    assert http_server.seen[0]["body"] == payload


def test_connect_tunnel_through_unix_socket_reaches_echo_server(run_proxy, echo_server):
    proxy, heard = run_proxy(NetworkPolicy(allow_hosts=(f"127.0.0.1:{echo_server.port}",)), tcp_port=None)
    assert proxy.endpoints.tcp_port is None
    with connect_unix(proxy.endpoints.unix_path) as sock:
        sock.sendall(connect_request("127.0.0.1", echo_server.port))
        head = read_head(sock)
        assert head.startswith(b"HTTP/1.1 200 ")
        sock.sendall(b"ping through the tunnel")
        assert sock.recv(100) == b"ping through the tunnel"
        sock.sendall(b"last words")
        sock.shutdown(socket.SHUT_WR)  # a half-close still gets the rest of the answer
        assert read_all(sock) == b"last words"
    assert [(d.host, d.port, d.allowed, d.address) for d in heard] == [
        ("127.0.0.1", echo_server.port, True, "127.0.0.1")
    ]


def test_real_http_clients_work_through_the_proxy(run_proxy, http_server):
    proxy, heard = run_proxy(NetworkPolicy(allow_hosts=(f"127.0.0.1:{http_server.port}",)))
    # httpx, as a suggestion's code would use it with HTTP_PROXY set.
    with httpx.Client(proxy=proxy.endpoints.tcp_url, trust_env=False) as client:
        answer = client.get(f"http://127.0.0.1:{http_server.port}/via-httpx")
    assert answer.status_code == 200 and answer.text == "hello from /via-httpx"
    # http.client through a CONNECT tunnel (what HTTPS clients do, minus TLS).
    conn = http.client.HTTPConnection("127.0.0.1", proxy.endpoints.tcp_port, timeout=5)
    conn.set_tunnel("127.0.0.1", http_server.port)
    conn.request("GET", "/via-tunnel")
    reply = conn.getresponse()
    assert reply.status == 200 and reply.read() == b"hello from /via-tunnel"
    conn.close()
    assert [d.allowed for d in heard] == [True, True]


def test_localhost_named_exactly_is_reachable_with_the_real_resolver(run_proxy, http_server):
    proxy, heard = run_proxy(NetworkPolicy(allow_hosts=(f"localhost:{http_server.port}",)))
    response = exchange(connect_tcp(proxy.endpoints.tcp_port), get_request("localhost", http_server.port))
    assert status_of(response) == 200
    assert heard[0].allowed and heard[0].address == "127.0.0.1"


# -- denied -------------------------------------------------------------------------------------


def test_another_port_on_an_allowed_host_is_denied_and_recorded(run_proxy, echo_server, http_server):
    proxy, heard = run_proxy(NetworkPolicy(allow_hosts=(f"127.0.0.1:{http_server.port}",)))
    with connect_tcp(proxy.endpoints.tcp_port) as sock:
        sock.sendall(connect_request("127.0.0.1", echo_server.port))
        response = read_all(sock)
    assert status_of(response) == 403
    assert header_of(response, "X-Sandgate-Rule") == rules.RULE_PORT
    assert f"not {echo_server.port}".encode() in body_of(response)
    assert echo_server.accepted == 0
    assert [(d.host, d.port, d.allowed, d.rule) for d in heard] == [
        ("127.0.0.1", echo_server.port, False, rules.RULE_PORT)
    ]


def test_a_bare_host_entry_allows_ports_80_and_443_only(run_proxy, http_server):
    proxy, heard = run_proxy(NetworkPolicy(allow_hosts=("127.0.0.1",)))
    response = exchange(connect_tcp(proxy.endpoints.tcp_port), get_request("127.0.0.1", http_server.port))
    assert status_of(response) == 403
    assert "allowed on port(s) 80, 443 only" in heard[0].reason
    assert http_server.seen == []


def test_another_host_is_denied_without_a_lookup(run_proxy, http_server):
    resolver = Resolver({"exfil-c2VjcmV0.attacker.example": ["93.184.215.14"]})
    proxy, heard = run_proxy(NetworkPolicy(allow_hosts=(f"127.0.0.1:{http_server.port}",)), resolver=resolver)
    for request in (
        get_request("exfil-c2VjcmV0.attacker.example", 80),
        connect_request("exfil-c2VjcmV0.attacker.example", 443),
    ):
        response = exchange(connect_tcp(proxy.endpoints.tcp_port), request)
        assert status_of(response) == 403
        assert header_of(response, "X-Sandgate-Rule") == rules.RULE_DEFAULT_DENY
    # The name was never resolved: a denied name cannot carry data out through DNS.
    assert resolver.calls == []
    # Recorded under the normalised (lower-case) name.
    assert [(d.host, d.port, d.allowed) for d in heard] == [
        ("exfil-c2vjcmv0.attacker.example", 80, False),
        ("exfil-c2vjcmv0.attacker.example", 443, False),
    ]


def test_no_allowed_hosts_means_no_network(run_proxy, http_server):
    proxy, heard = run_proxy(NetworkPolicy())
    response = exchange(connect_tcp(proxy.endpoints.tcp_port), get_request("127.0.0.1", http_server.port))
    assert status_of(response) == 403
    assert heard[0].rule == rules.RULE_DEFAULT_DENY and "allows no network" in heard[0].reason
    assert http_server.seen == []


def test_deny_wins_over_allow(run_proxy, http_server):
    proxy, heard = run_proxy(NetworkPolicy(allow_hosts=(f"127.0.0.1:{http_server.port}",), deny_hosts=("127.0.0.1",)))
    response = exchange(connect_tcp(proxy.endpoints.tcp_port), get_request("127.0.0.1", http_server.port))
    assert status_of(response) == 403
    assert heard[0].rule == "network.deny_hosts:127.0.0.1"
    assert http_server.seen == []


# -- addresses ----------------------------------------------------------------------------------


def test_public_looking_name_resolving_to_loopback_is_refused(run_proxy, http_server):
    """DNS rebinding: the name is allowed exactly, but it resolves to a loopback address."""
    resolver = Resolver({"public-looking.example": ["127.0.0.1"]})
    proxy, heard = run_proxy(
        NetworkPolicy(allow_hosts=(f"public-looking.example:{http_server.port}", f"*.example:{http_server.port}")),
        resolver=resolver,
    )
    for request in (
        get_request("public-looking.example", http_server.port),
        connect_request("public-looking.example", http_server.port),
    ):
        response = exchange(connect_tcp(proxy.endpoints.tcp_port), request)
        assert status_of(response) == 403
        assert header_of(response, "X-Sandgate-Rule") == rules.RULE_ADDRESS
    assert http_server.seen == []
    assert [(d.host, d.port, d.allowed, d.rule, d.address) for d in heard] == [
        ("public-looking.example", http_server.port, False, rules.RULE_ADDRESS, "127.0.0.1")
    ] * 2
    assert "loopback" in heard[0].reason


def test_a_wildcard_match_resolving_to_a_private_address_is_refused(run_proxy):
    resolver = Resolver({"db.corp.example": ["10.1.2.3"], "meta.corp.example": ["169.254.169.254"]})
    proxy, heard = run_proxy(NetworkPolicy(allow_hosts=("*.corp.example",)), resolver=resolver)
    for host in ("db.corp.example", "meta.corp.example"):
        response = exchange(connect_tcp(proxy.endpoints.tcp_port), connect_request(host, 443))
        assert status_of(response) == 403
    assert [(d.rule, d.address) for d in heard] == [
        (rules.RULE_ADDRESS, "10.1.2.3"),
        (rules.RULE_ADDRESS, "169.254.169.254"),
    ]
    assert "private" in heard[0].reason and "link-local" in heard[1].reason


def test_one_private_address_among_public_ones_refuses_the_request(run_proxy, echo_server):
    resolver = Resolver({"mixed.example": ["93.184.215.14", "127.0.0.1"]})
    proxy, heard = run_proxy(NetworkPolicy(allow_hosts=(f"mixed.example:{echo_server.port}",)), resolver=resolver)
    response = exchange(connect_tcp(proxy.endpoints.tcp_port), connect_request("mixed.example", echo_server.port))
    assert status_of(response) == 403
    assert heard[0].address == "127.0.0.1"
    assert echo_server.accepted == 0


def test_the_checked_address_is_the_one_connected_to(run_proxy, echo_server):
    """One look-up per request: a second answer (a rebinding DNS server's) is never asked for."""
    resolver = Resolver({"api.localhost": [["127.0.0.1"], ["10.9.9.9"]]})
    proxy, heard = run_proxy(NetworkPolicy(allow_hosts=(f"api.localhost:{echo_server.port}",)), resolver=resolver)
    with connect_tcp(proxy.endpoints.tcp_port) as sock:
        sock.sendall(connect_request("api.localhost", echo_server.port))
        assert read_head(sock).startswith(b"HTTP/1.1 200 ")
        sock.sendall(b"hi")
        assert sock.recv(10) == b"hi"
    assert resolver.calls == ["api.localhost"]
    assert echo_server.accepted == 1
    assert heard[0].allowed and heard[0].address == "127.0.0.1"


def test_a_loopback_name_resolving_elsewhere_is_refused(run_proxy):
    resolver = Resolver({"localhost": ["10.0.0.7"]})
    proxy, heard = run_proxy(NetworkPolicy(allow_hosts=("localhost",)), resolver=resolver)
    response = exchange(connect_tcp(proxy.endpoints.tcp_port), connect_request("localhost", 443))
    assert status_of(response) == 403
    assert heard[0].rule == rules.RULE_ADDRESS and heard[0].address == "10.0.0.7"


def test_an_unresolvable_allowed_name_is_denied_and_recorded(run_proxy):
    proxy, heard = run_proxy(NetworkPolicy(allow_hosts=("nowhere.example",)), resolver=Resolver({}))
    response = exchange(connect_tcp(proxy.endpoints.tcp_port), connect_request("nowhere.example", 443))
    assert status_of(response) == 403
    assert (heard[0].host, heard[0].port, heard[0].allowed, heard[0].rule) == (
        "nowhere.example",
        443,
        False,
        rules.RULE_UNRESOLVED,
    )


def test_allowed_but_unreachable_gives_502(run_proxy):
    port = free_port()  # nothing listens there
    proxy, heard = run_proxy(NetworkPolicy(allow_hosts=(f"127.0.0.1:{port}",)))
    response = exchange(connect_tcp(proxy.endpoints.tcp_port), connect_request("127.0.0.1", port))
    assert status_of(response) == 502
    assert heard[0].allowed and heard[0].port == port


# -- malformed and oversized --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GET /origin-form HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 400),
        (b"GET https://127.0.0.1/ HTTP/1.1\r\n\r\n", 400),
        (b"GET ftp://127.0.0.1/ HTTP/1.1\r\n\r\n", 400),
        (b"CONNECT 127.0.0.1 HTTP/1.1\r\n\r\n", 400),
        (b"CONNECT 127.0.0.1:99999 HTTP/1.1\r\n\r\n", 400),
        (b"NONSENSE\r\n\r\n", 400),
        (b"GET http://127.0.0.1/ HTTP/1.1\r\nBad Header\r\n\r\n", 400),
        (b"GET http://127.0.0.1/ HTTP/1.1\r\nX-Big: " + b"a" * 40_000 + b"\r\n\r\n", 431),
        (b"GET http://127.0.0.1/ HTTP/1.1\r\n" + b"X-N: 1\r\n" * 150 + b"\r\n", 431),
    ],
)
def test_bad_requests_are_refused_and_recorded(run_proxy, request_bytes, status):
    proxy, heard = run_proxy(NetworkPolicy(allow_hosts=("127.0.0.1",)))
    response = exchange(connect_tcp(proxy.endpoints.tcp_port), request_bytes)
    assert status_of(response) == status
    assert len(heard) == 1 and not heard[0].allowed and heard[0].rule == rules.RULE_BAD_REQUEST


def test_a_connection_that_asks_nothing_is_not_a_decision(run_proxy):
    proxy, heard = run_proxy(NetworkPolicy())
    with connect_tcp(proxy.endpoints.tcp_port) as sock:
        sock.shutdown(socket.SHUT_WR)
        assert read_all(sock) == b""
    assert heard == []


def test_idle_tunnels_are_closed(run_proxy, echo_server):
    proxy, _ = run_proxy(NetworkPolicy(allow_hosts=(f"127.0.0.1:{echo_server.port}",)), idle_timeout=0.5)
    with connect_tcp(proxy.endpoints.tcp_port) as sock:
        sock.sendall(connect_request("127.0.0.1", echo_server.port))
        assert read_head(sock).startswith(b"HTTP/1.1 200 ")
        sock.sendall(b"a")
        assert sock.recv(1) == b"a"
        started = time.monotonic()
        assert sock.recv(1) == b""  # closed by the proxy, not by us or the echo server
        assert 0.3 < time.monotonic() - started < 4


def test_a_request_head_that_never_ends_times_out(run_proxy):
    proxy, heard = run_proxy(NetworkPolicy(), idle_timeout=0.5)
    with connect_tcp(proxy.endpoints.tcp_port) as sock:
        sock.sendall(b"GET http://127.0.0.1/ HTTP/1.1\r\n")
        assert status_of(read_all(sock)) == 400
    assert heard[0].rule == rules.RULE_BAD_REQUEST


# -- lifecycle ----------------------------------------------------------------------------------


def test_start_and_stop_bind_and_release_both_endpoints(sock_dir):
    path = sock_dir / "p.sock"
    proxy = EgressProxy(NetworkPolicy(), unix_path=path)
    endpoints = proxy.start()
    assert endpoints.unix_path == str(path) and stat.S_ISSOCK(os.stat(path).st_mode)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert endpoints.tcp_host == "127.0.0.1" and endpoints.tcp_port
    assert endpoints.tcp_url == f"http://127.0.0.1:{endpoints.tcp_port}"
    proxy.stop()
    proxy.stop()  # idempotent
    assert not path.exists()
    with pytest.raises(OSError):
        connect_tcp(endpoints.tcp_port).close()


def test_stop_closes_open_tunnels(sock_dir, echo_server):
    proxy = EgressProxy(NetworkPolicy(allow_hosts=(f"127.0.0.1:{echo_server.port}",)), unix_path=sock_dir / "p.sock")
    endpoints = proxy.start()
    sock = connect_tcp(endpoints.tcp_port)
    sock.sendall(connect_request("127.0.0.1", echo_server.port))
    assert read_head(sock).startswith(b"HTTP/1.1 200 ")
    proxy.stop()
    assert read_all(sock) == b""
    sock.close()


def test_a_stale_socket_file_is_replaced_but_a_regular_file_is_not(sock_dir):
    stale = sock_dir / "stale.sock"
    leftover = socket.socket(socket.AF_UNIX)
    leftover.bind(str(stale))
    leftover.close()
    with EgressProxy(NetworkPolicy(), unix_path=stale, tcp_port=None) as proxy:
        assert proxy.endpoints.unix_path == str(stale)
        connect_unix(stale).close()
    regular = sock_dir / "file"
    regular.write_text("not a socket")
    with pytest.raises(FileExistsError):
        EgressProxy(NetworkPolicy(), unix_path=regular, tcp_port=None).start()
    assert regular.read_text() == "not a socket"


def test_start_fails_loudly_when_it_cannot_bind(sock_dir):
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    try:
        with pytest.raises(OSError):
            EgressProxy(NetworkPolicy(), tcp_port=holder.getsockname()[1]).start()
    finally:
        holder.close()
    with pytest.raises(ValueError):
        EgressProxy(NetworkPolicy(), tcp_port=None)


def test_a_failing_callback_does_not_break_the_proxy(sock_dir, http_server):
    def explode(decision: ProxyDecision) -> None:
        raise RuntimeError("callback bug")

    with EgressProxy(
        NetworkPolicy(allow_hosts=(f"127.0.0.1:{http_server.port}",)),
        on_decision=explode,
        unix_path=sock_dir / "p.sock",
    ) as proxy:
        response = exchange(connect_tcp(proxy.endpoints.tcp_port), get_request("127.0.0.1", http_server.port))
        assert status_of(response) == 200
        assert len(proxy.decisions()) == 1
        assert len(proxy.drain_decisions()) == 1 and proxy.decisions() == []


def test_concurrent_clients_are_served_and_each_decision_recorded(run_proxy, http_server):
    proxy, heard = run_proxy(NetworkPolicy(allow_hosts=(f"127.0.0.1:{http_server.port}",)))
    results: list[int] = []

    def one(i: int) -> None:
        response = exchange(connect_tcp(proxy.endpoints.tcp_port), get_request("127.0.0.1", http_server.port, f"/{i}"))
        results.append(status_of(response))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [200] * 20
    assert len(heard) == 20 and all(d.allowed for d in heard)


# -- the in-sandbox forwarder -------------------------------------------------------------------


def test_forwarder_relays_loopback_tcp_to_the_proxy_socket(sock_dir, http_server, echo_server):
    with EgressProxy(
        NetworkPolicy(allow_hosts=(f"127.0.0.1:{http_server.port}", f"127.0.0.1:{echo_server.port}")),
        unix_path=sock_dir / "p.sock",
        tcp_port=None,
    ) as proxy:
        listener, port = start_forwarder(proxy.endpoints.unix_path, port=0)
        try:
            response = exchange(connect_tcp(port), get_request("127.0.0.1", http_server.port, "/fwd"))
            assert status_of(response) == 200 and body_of(response) == b"hello from /fwd"
            with connect_tcp(port) as sock:
                sock.sendall(connect_request("127.0.0.1", echo_server.port))
                assert read_head(sock).startswith(b"HTTP/1.1 200 ")
                sock.sendall(b"echo")
                sock.shutdown(socket.SHUT_WR)
                assert read_all(sock) == b"echo"
            denied = exchange(connect_tcp(port), connect_request("10.0.0.1", 443))
            assert status_of(denied) == 403
        finally:
            listener.close()
        assert [d.allowed for d in proxy.decisions()] == [True, True, False]


def test_forwarder_refuses_to_start_without_the_proxy_socket(sock_dir):
    with pytest.raises(FileNotFoundError):
        start_forwarder(str(sock_dir / "missing.sock"), port=0)
