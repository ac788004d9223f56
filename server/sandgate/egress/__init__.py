"""Network policy, enforced on sandboxed runs: the egress proxy a run goes through, its decisions
and their findings. See docs/network.md."""

from sandgate.egress.decision_findings import decision_finding, emit_decisions, findings_from_decisions
from sandgate.egress.proxy import EgressProxy, ProxyDecision, ProxyEndpoints, default_resolver, proxy_environment
from sandgate.egress.rules import decide_host

__all__ = [
    "EgressProxy",
    "ProxyDecision",
    "ProxyEndpoints",
    "decide_host",
    "decision_finding",
    "default_resolver",
    "emit_decisions",
    "findings_from_decisions",
    "proxy_environment",
]
