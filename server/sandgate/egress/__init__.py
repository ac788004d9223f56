"""Network policy, enforced: the egress proxy a sandboxed run goes through, and the guard on
what Sandgate sends to the model. See docs/network.md."""

from sandgate.egress.model_guard import GuardedText, endpoint_allowed, guard_text, is_excluded, redact_context
from sandgate.egress.proxy import EgressProxy, ProxyDecision, ProxyEndpoints, default_resolver, proxy_environment
from sandgate.egress.decision_findings import decision_finding, emit_decisions, findings_from_decisions
from sandgate.egress.rules import DEFAULT_PORTS, decide_host

__all__ = [
    "DEFAULT_PORTS",
    "EgressProxy",
    "GuardedText",
    "ProxyDecision",
    "ProxyEndpoints",
    "decide_host",
    "decision_finding",
    "default_resolver",
    "emit_decisions",
    "endpoint_allowed",
    "findings_from_decisions",
    "guard_text",
    "is_excluded",
    "proxy_environment",
    "redact_context",
]
