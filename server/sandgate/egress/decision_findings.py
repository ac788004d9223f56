"""One pure function from the proxy's decisions to findings, and one that sends them to telemetry.

Rule ids (source "sandbox", as for every other thing a run did): `network.denied` (HIGH) for a
refused request, `network.allowed` (INFO) for one let through. Details carry host, port, the
deciding rule, the reason and the address, so a diagnostic can say exactly what was tried.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sandgate.egress.proxy import ProxyDecision
from sandgate.findings import Finding, Level, details

SOURCE = "sandbox"


def decision_finding(decision: ProxyDecision) -> Finding:
    target = f"{decision.host}:{decision.port}" if decision.host else "(no host)"
    if decision.allowed:
        rule, severity = "network.allowed", Level.INFO
        message = f"The code connected to {target} through the egress proxy ({decision.rule})"
    else:
        rule, severity = "network.denied", Level.HIGH
        message = f"The code tried to reach {target}; the egress proxy refused: {decision.reason}"
    return Finding(
        source=SOURCE,
        rule=rule,
        severity=severity,
        confidence=Level.HIGH,
        message=message,
        details=details(
            host=decision.host,
            port=decision.port,
            rule=decision.rule,
            reason=decision.reason,
            address=decision.address,
            family="proxy",
        ),
    )


def findings_from_decisions(decisions: Iterable[ProxyDecision]) -> list[Finding]:
    """One finding per distinct (host, port, allowed, rule), in the order first seen."""
    out: list[Finding] = []
    seen: set[tuple[str, int, bool, str]] = set()
    for decision in decisions:
        key = (decision.host, decision.port, decision.allowed, decision.rule)
        if key not in seen:
            seen.add(key)
            out.append(decision_finding(decision))
    return out


def emit_decisions(telemetry: Any, request_id: str | None, decisions: Iterable[ProxyDecision]) -> None:
    """Each decision as a `sandgate.network.decision` event (`Telemetry.network_decision`)."""
    for decision in decisions:
        telemetry.network_decision(
            request_id=request_id, host=decision.host, allowed=decision.allowed, port=decision.port, rule=decision.rule
        )
