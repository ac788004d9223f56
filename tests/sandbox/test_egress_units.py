"""Pure parts of the egress wiring: the argument builders with an egress directory (exact
equality), the run header, and the mapping of proxy decisions and forwarder traffic to findings."""

from __future__ import annotations

from sandgate.egress import ProxyDecision
from sandgate.findings import Level
from sandgate.policy.model import NetworkPolicy, SandboxLimits
from sandgate.sandbox import protocol, proxy_wiring
from sandgate.sandbox.base import RunRequest, RunResult
from sandgate.sandbox.bwrap_args import bwrap_argv
from sandgate.sandbox.docker_spec import ContainerSpec, create_kwargs
from sandgate.sandbox.run_findings import findings_from_run, host_allowed
from tests.sandbox.test_units import CLEAN, DONE, PY, RT

PROXY_ENV = {
    "HTTP_PROXY": "http://127.0.0.1:3128",
    "HTTPS_PROXY": "http://127.0.0.1:3128",
    "ALL_PROXY": "http://127.0.0.1:3128",
    "http_proxy": "http://127.0.0.1:3128",
    "https_proxy": "http://127.0.0.1:3128",
    "all_proxy": "http://127.0.0.1:3128",
    "NO_PROXY": "",
    "no_proxy": "",
}


def test_bwrap_argv_with_egress_keeps_unshare_all_and_binds_the_socket_dir():
    plain = bwrap_argv(RT, "/e", None, "bwrap", PY)
    argv = bwrap_argv(RT, "/e", None, "bwrap", PY, egress_fd=11)
    assert argv[:2] == ["bwrap", "--unshare-all"] and "--share-net" not in argv
    env = {argv[i + 1]: argv[i + 2] for i, a in enumerate(argv) if a == "--setenv"}
    assert env == {**protocol.ENV, **PROXY_ENV}
    i = argv.index("--remount-ro", argv.index("--tmpfs"))
    assert argv[i - 3 : i] == ["--ro-bind-fd", "11", "/run/sandgate-egress"]
    # Nothing else differs.
    stripped = [a for a in argv]
    del stripped[i - 3 : i]
    assert [
        a
        for j, a in enumerate(stripped)
        if not (a == "--setenv" or (j and stripped[j - 1] == "--setenv") or (j > 1 and stripped[j - 2] == "--setenv"))
    ] == [
        a
        for j, a in enumerate(plain)
        if not (a == "--setenv" or (j and plain[j - 1] == "--setenv") or (j > 1 and plain[j - 2] == "--setenv"))
    ]


def test_docker_create_kwargs_with_egress_exact_differences():
    lim = SandboxLimits()
    base = create_kwargs(
        ContainerSpec("img:1", lim, "/home/u/proj"), {"o": "1"}, python="python3", control_dir="/tmp/sg-y/control"
    )
    kw = create_kwargs(
        ContainerSpec("img:1", lim, "/home/u/proj", egress=True),
        {"o": "1"},
        python="python3",
        egress_dir="/tmp/sg-y/egress",
        control_dir="/tmp/sg-y/control",
    )
    assert kw["network_mode"] == "none"
    assert kw["environment"] == {**protocol.ENV, **PROXY_ENV}
    assert kw["volumes"] == {
        "/home/u/proj": {"bind": "/workspace", "mode": "ro"},
        "/tmp/sg-y/egress": {"bind": "/run/sandgate-egress", "mode": "ro"},
        "/tmp/sg-y/control": {"bind": "/run/sandgate-ctl", "mode": "ro"},
    }
    assert {k: v for k, v in kw.items() if k not in ("environment", "volumes")} == {
        k: v for k, v in base.items() if k not in ("environment", "volumes")
    }


def test_payload_carries_the_forwarder_only_when_asked():
    assert b'"egress"' not in protocol.payload("x", "a.py", 2, "M")
    data = protocol.payload("x", "a.py", 2, "M", proxy_wiring.header())
    assert b'"unix": "/run/sandgate-egress/egress.sock"' in data and b'"port": 3128' in data
    assert b"def start(unix_path" in data


def _decision(host, port, allowed, rule, address=None):
    return ProxyDecision(host, port, allowed, rule, f"{host}:{port} {rule}", address)


def test_decisions_become_findings_and_the_forwarder_is_not_a_host():
    net = NetworkPolicy(allow_hosts=("127.0.0.1:8080",))
    decisions = [_decision("127.0.0.1", 8080, True, "network.allow_hosts:127.0.0.1:8080", "127.0.0.1")] * 3 + [
        _decision("evil.example", 443, False, "network.default-deny")
    ]
    events = [
        {"kind": "connect", "family": "AF_INET", "host": "127.0.0.1", "port": 3128, "via": "connect"},
        {"kind": "egress-proxy", "socket": proxy_wiring.INSIDE_SOCKET, "port": 3128},
        *proxy_wiring.decision_events(decisions),
    ]
    assert events[2]["count"] == 3 and len(events) == 4
    findings = findings_from_run(
        RunResult("x", exit_code=0, events=events + [DONE], outside=CLEAN), RunRequest("", network=net)
    )
    assert [(f.rule, f.severity, f.detail("host"), f.detail("port"), f.detail("rule")) for f in findings] == [
        ("network.allowed", Level.INFO, "127.0.0.1", 8080, "network.allow_hosts:127.0.0.1:8080"),
        ("network.denied", Level.HIGH, "evil.example", 443, "network.default-deny"),
    ]
    # Without a proxy, 127.0.0.1:3128 is just a port the code tried.
    bare = findings_from_run(
        RunResult("x", exit_code=0, events=events[:1] + [DONE], outside=CLEAN), RunRequest("", network=net)
    )
    assert [(f.rule, f.detail("port")) for f in bare] == [("network.denied", 3128)]


def test_decision_events_are_bounded_and_keep_refusals():
    many = [_decision(f"h{i}.example", 443, i % 2 == 0, "r") for i in range(proxy_wiring.MAX_DECISION_EVENTS + 50)]
    events = proxy_wiring.decision_events(many)
    assert len(events) == proxy_wiring.MAX_DECISION_EVENTS + 1
    assert events[-1] == {"kind": "egress-truncated", "dropped": 50}
    assert sum(1 for e in events[:-1] if not e["allowed"]) == (proxy_wiring.MAX_DECISION_EVENTS + 50) // 2


def test_report_host_matching_is_the_proxys():
    req = RunRequest(
        "",
        network=NetworkPolicy(
            allow_hosts=("api.example.com", "127.0.0.1:8080", "*.corp.example"),
            deny_hosts=("x.corp.example", "api.example.com:443"),
        ),
    )
    assert host_allowed("api.example.com", req, 80)
    assert not host_allowed("api.example.com", req, 443)  # deny wins
    assert not host_allowed("api.example.com", req, 8080)  # bare entry: 80 and 443 only
    assert host_allowed("127.0.0.1", req, 8080) and not host_allowed("127.0.0.1", req, 8081)
    assert not host_allowed("corp.example", req, 443)  # *.domain: subdomains only (fnmatch said yes)
    assert host_allowed("API.Corp.Example.", req, 443)
    assert not host_allowed("x.corp.example", req)  # a look-up: no port
    assert host_allowed("api.example.com", req)  # a look-up of a host allowed on some port


def test_unavailable_egress_is_a_finding():
    res = RunResult(
        "x",
        exit_code=0,
        events=[proxy_wiring.unavailable_event("sandbox", "FileNotFoundError: gone"), DONE],
        outside=CLEAN,
    )
    [f] = findings_from_run(res, RunRequest("", network=NetworkPolicy(allow_hosts=("a.example",))))
    assert (f.rule, f.severity, f.detail("where")) == ("egress.unavailable", Level.LOW, "sandbox")


class _RecordingTelemetry:
    """The disabled telemetry, recording `network_decision` calls."""

    def __init__(self) -> None:
        from sandgate.telemetry import Telemetry

        self._inner = Telemetry()
        self.network: list[dict] = []

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def network_decision(self, **kw) -> None:
        self.network.append(kw)


class _FakeBackend:
    name = "fake"

    def __init__(self, events):
        self.events = events

    def run(self, request):
        return RunResult("fake", exit_code=0, events=list(self.events) + [DONE], outside=CLEAN)

    def close(self):
        pass


def test_pipeline_emits_one_telemetry_event_per_decision_with_its_rule():
    from sandgate.pipeline import Vetter
    from sandgate.policy.load import load_effective
    from sandgate.sandbox.base import Probe
    from sandgate.suggestion import Suggestion

    decisions = [_decision("127.0.0.1", 8080, True, "network.allow_hosts:127.0.0.1:8080", "127.0.0.1")] * 2 + [
        _decision("10.0.0.5", 80, False, "network.private-address", "10.0.0.5")
    ]
    events = [
        {"kind": "connect", "family": "AF_INET", "host": "127.0.0.1", "port": 3128},
        {"kind": "egress-proxy", "socket": proxy_wiring.INSIDE_SOCKET, "port": 3128},
        *proxy_wiring.decision_events(decisions),
        {"kind": "connect", "family": "AF_INET", "host": "1.1.1.1", "port": 53},
    ]
    tel = _RecordingTelemetry()
    vetter = Vetter(load_effective(None, preset="balanced"), telemetry=tel)
    vetter._backend, vetter._probes = _FakeBackend(events), [Probe("fake", True, "")]
    vetter.vet(Suggestion("print(1)"), request_id="r1")
    assert tel.network == [
        {
            "request_id": "r1",
            "host": "127.0.0.1",
            "port": 8080,
            "allowed": True,
            "rule": "network.allow_hosts:127.0.0.1:8080",
        },
        {"request_id": "r1", "host": "10.0.0.5", "port": 80, "allowed": False, "rule": "network.private-address"},
        # A direct connection the monitor saw: the rule that refused it (balanced allows no host).
        {"request_id": "r1", "host": "1.1.1.1", "port": 53, "allowed": False, "rule": "network.default-deny"},
    ]


def test_a_refusal_the_monitor_saw_carries_the_rule_that_decided_it(tmp_path):
    """Connections and look-ups made around the proxy: each telemetry event names the rule of
    docs/network.md that refuses it (a deny entry, a port the allow entry leaves out, the default
    deny), never a bare `network.allow_hosts`."""
    from sandgate.egress.rules import RULE_DEFAULT_DENY, RULE_PORT
    from sandgate.pipeline import Vetter
    from sandgate.policy.load import load_effective
    from sandgate.sandbox.base import Probe
    from sandgate.suggestion import Suggestion

    policy = tmp_path / "policy.toml"
    policy.write_text(
        'version = 1\n[network]\nallow_hosts = ["api.example.com:443", "*.corp.example"]\n'
        'deny_hosts = ["bad.corp.example", "db.corp.example:5432"]\n'
    )
    events = [
        {"kind": "connect", "family": "AF_INET", "host": "bad.corp.example", "port": 443},
        {"kind": "connect", "family": "AF_INET", "host": "db.corp.example", "port": 5432},
        {"kind": "connect", "family": "AF_INET", "host": "api.example.com", "port": 80},
        {"kind": "connect", "family": "AF_INET", "host": "203.0.113.9", "port": 4444},
        {"kind": "dns", "host": "bad.corp.example"},
        {"kind": "dns", "host": "elsewhere.example"},
        {"kind": "connect", "family": "AF_INET", "host": "api.example.com", "port": 443},  # allowed: no event
    ]
    tel = _RecordingTelemetry()
    loaded = load_effective(None, preset="balanced", explicit=policy)
    assert not loaded.errors
    vetter = Vetter(loaded, telemetry=tel)
    vetter._backend, vetter._probes = _FakeBackend(events), [Probe("fake", True, "")]
    vetter.vet(Suggestion("print(1)"), request_id="r2")
    rules = {(e["host"], e["port"]): e["rule"] for e in tel.network}
    assert all(not e["allowed"] for e in tel.network)
    assert rules == {
        ("bad.corp.example", 443): "network.deny_hosts:bad.corp.example",
        ("db.corp.example", 5432): "network.deny_hosts:db.corp.example:5432",
        ("api.example.com", 80): RULE_PORT,
        ("203.0.113.9", 4444): RULE_DEFAULT_DENY,
        ("bad.corp.example", None): "network.deny_hosts:bad.corp.example",
        ("elsewhere.example", None): RULE_DEFAULT_DENY,
    }
