"""From proxy decisions to findings and telemetry events."""

from __future__ import annotations

from sandgate.egress import ProxyDecision, decision_finding, emit_decisions, findings_from_decisions
from sandgate.findings import Level
from sandgate.telemetry import names as n
from sandgate.telemetry.core import Telemetry

DENIED = ProxyDecision(
    "evil.example", 443, False, "network.default-deny", "evil.example:443 is not in network.allow_hosts"
)
ALLOWED = ProxyDecision("127.0.0.1", 8080, True, "network.allow_hosts:127.0.0.1:8080", "allowed", "127.0.0.1")


def test_a_denied_decision_is_a_high_finding_with_host_and_port():
    finding = decision_finding(DENIED)
    assert (finding.source, finding.rule, finding.severity) == ("sandbox", "network.denied", Level.HIGH)
    assert finding.detail("host") == "evil.example" and finding.detail("port") == 443
    assert finding.detail("rule") == "network.default-deny"
    assert "evil.example:443" in finding.message


def test_an_allowed_decision_is_an_info_finding():
    finding = decision_finding(ALLOWED)
    assert (finding.rule, finding.severity) == ("network.allowed", Level.INFO)
    assert finding.detail("address") == "127.0.0.1"


def test_repeated_decisions_make_one_finding_each():
    findings = findings_from_decisions([DENIED, ALLOWED, DENIED, ALLOWED])
    assert [f.rule for f in findings] == ["network.denied", "network.allowed"]


class _Logger:
    """Stands in for the OpenTelemetry logger behind `Telemetry`: keeps the records."""

    def __init__(self) -> None:
        self.records: list[dict] = []

    def emit(self, **record) -> None:
        self.records.append(record)


def test_each_decision_is_a_network_decision_event():
    logger = _Logger()
    emit_decisions(Telemetry(logger=logger), "req-1", [DENIED, ALLOWED])
    assert [r["event_name"] for r in logger.records] == [n.EVENT_NETWORK_DECISION] * 2
    first = logger.records[0]["attributes"]
    assert first[n.NETWORK_HOST] == "evil.example" and first[n.NETWORK_PORT] == 443
    assert first[n.NETWORK_ALLOWED] is False and first[n.NETWORK_RULE] == "network.default-deny"
    assert first[n.REQUEST_ID] == "req-1"
    assert logger.records[1]["attributes"][n.NETWORK_ALLOWED] is True
