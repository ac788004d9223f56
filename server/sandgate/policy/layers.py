"""Combine policy layers into one `Policy`, and hold every lower layer to the managed one.

Layers, weakest first: built-in defaults, a preset, the workspace file, the managed file.
Lower layers merge key by key (rules merge by id). The managed layer is different: it is a
floor. A lower value that is looser than the managed one is refused (named, with both
places) and the managed value applies; a tighter one stands. The managed rules are kept
apart and evaluated on their own, so no lower rule can loosen a managed decision.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Any, Callable

from sandgate.findings import Level, Verdict
from sandgate.policy.errors import PolicyError, dotted
from sandgate.policy.locate import line_of
from sandgate.policy.model import (
    CodePolicy,
    FilesPolicy,
    NetworkPolicy,
    Policy,
    Rule,
    SandboxLimits,
    SandboxPolicy,
    TelemetryPolicy,
)

KeyPath = tuple[str, ...]


@dataclass(frozen=True)
class Layer:
    name: str  # "preset:balanced", "workspace", "managed", "file"
    path: str
    text: str
    data: dict[str, Any]

    def line(self, key: KeyPath | tuple[str | int, ...]) -> int:
        return line_of(self.text, key)


def _leaves(data: dict[str, Any], prefix: KeyPath = ()) -> dict[KeyPath, Any]:
    """Flatten tables to key paths; lists and scalars are leaves; `rules` is handled apart."""
    out: dict[KeyPath, Any] = {}
    for key, value in data.items():
        if key in ("rules", "version", "extends") and not prefix:
            continue
        if isinstance(value, dict):
            out.update(_leaves(value, prefix + (key,)))
        else:
            out[prefix + (key,)] = value
    return out


def _default_leaves() -> dict[KeyPath, Any]:
    policy = Policy()
    return {
        ("decision", "default"): str(policy.default),
        ("sandbox", "required"): policy.sandbox.required,
        ("sandbox", "backends"): list(policy.sandbox.backends),
        ("sandbox", "image"): "",
        **{("sandbox", "limits", k): v for k, v in vars(policy.sandbox.limits).items()},
        ("network", "allow_hosts"): [],
        ("network", "deny_hosts"): [],
        ("network", "model_endpoints"): [],
        ("code", "deny_imports"): [],
        ("code", "deny_calls"): [],
        ("files", "exclude"): [],
        ("files", "protected"): [],
        ("telemetry", "export_content"): False,
    }


# How to compare a lower value with the managed one, per key. Each returns
# (value to use, refused parts or None when the lower value is acceptable).
def _at_most(lower: Any, managed: Any) -> tuple[Any, Any]:
    return (lower, None) if lower <= managed else (managed, lower)


def _true_wins(lower: Any, managed: Any) -> tuple[Any, Any]:
    return (True, None) if lower or not managed else (True, lower)


def _false_wins(lower: Any, managed: Any) -> tuple[Any, Any]:
    return (False, None) if not lower or managed else (False, lower)


def _union(lower: Any, managed: Any) -> tuple[Any, Any]:
    return list(dict.fromkeys([*managed, *lower])), None


def _covered(lower: Any, managed: Any) -> tuple[Any, Any]:
    """Keep lower patterns that a managed pattern covers (`api.example.com` by `*.example.com`)."""
    kept = [v for v in lower if any(fnmatch.fnmatchcase(v, m) for m in managed)]
    refused = [v for v in lower if v not in kept]
    return kept, (refused or None)


def _host_covers(managed: str, lower: str) -> bool:
    """Whether managed host entry `managed` allows everything `lower` does (`host[:port]`, see
    `sandgate.egress.rules`): its host covers the lower host (exact, or `*.domain` over a
    subdomain or a narrower wildcard), and its port every port of the lower entry (no port: 80
    and 443; `host:port`: that port)."""
    from sandgate.egress.rules import DEFAULT_PORTS, parse_pattern

    m, low = parse_pattern(managed), parse_pattern(lower)
    if low.port is not None and low.port < 0:
        return False
    host_ok = m.host == low.host or (m.wildcard and low.host.endswith(m.host[1:]) and len(low.host) > len(m.host) - 1)
    if not host_ok:
        return False
    if m.port is None:
        return low.port is None or low.port in DEFAULT_PORTS
    return low.port == m.port


def _hosts_covered(lower: Any, managed: Any) -> tuple[Any, Any]:
    """Keep lower host entries that a managed entry covers (`api.example.com` by `*.example.com`,
    `api.example.com:443` by `api.example.com`; not `api.example.com:8080` by either)."""
    kept = [v for v in lower if any(_host_covers(m, v) for m in managed)]
    refused = [v for v in lower if v not in kept]
    return kept, (refused or None)


def _subset(lower: Any, managed: Any) -> tuple[Any, Any]:
    kept = [v for v in lower if v in managed]
    refused = [v for v in lower if v not in managed]
    return kept, (refused or None)


def _equal(lower: Any, managed: Any) -> tuple[Any, Any]:
    return (managed, None) if lower in (managed, "") else (managed, lower)


_VERDICTS = {v.name.lower(): v for v in Verdict}


def _verdict_at_least(lower: Any, managed: Any) -> tuple[Any, Any]:
    return (lower, None) if _VERDICTS[lower] >= _VERDICTS[managed] else (managed, lower)


_MANAGED_COMBINE: dict[KeyPath, Callable[[Any, Any], tuple[Any, Any]]] = {
    ("decision", "default"): _verdict_at_least,
    ("sandbox", "required"): _true_wins,
    ("sandbox", "backends"): _subset,
    ("sandbox", "image"): _equal,
    ("network", "allow_hosts"): _hosts_covered,
    ("network", "deny_hosts"): _union,
    ("network", "model_endpoints"): _covered,
    ("code", "deny_imports"): _union,
    ("code", "deny_calls"): _union,
    ("files", "exclude"): _union,
    ("files", "protected"): _union,
    ("telemetry", "export_content"): _false_wins,
}


def _combine_for(key: KeyPath) -> Callable[[Any, Any], tuple[Any, Any]]:
    if key[:2] == ("sandbox", "limits"):
        return _at_most
    return _MANAGED_COMBINE[key]


@dataclass
class Merged:
    leaves: dict[KeyPath, Any]
    sources: dict[KeyPath, Layer | None]  # None: built-in default
    rules: dict[str, tuple[dict[str, Any], Layer]]
    floor_rules: list[dict[str, Any]]
    floor_default: str | None
    refusals: list[PolicyError]


def merge(lower: list[Layer], managed: Layer | None) -> Merged:
    leaves = _default_leaves()
    sources: dict[KeyPath, Layer | None] = {k: None for k in leaves}
    rules: dict[str, tuple[dict[str, Any], Layer]] = {}
    for layer in lower:
        for key, value in _leaves(layer.data).items():
            leaves[key] = value
            sources[key] = layer
        for rule in layer.data.get("rules", []):
            rules[rule["id"]] = (rule, layer)

    refusals: list[PolicyError] = []
    floor_rules: list[dict[str, Any]] = []
    floor_default = None
    if managed is not None:
        for key, managed_value in _leaves(managed.data).items():
            value, refused = _combine_for(key)(leaves[key], managed_value)
            source = sources[key]
            if refused is not None and source is not None:
                refusals.append(_refusal(key, refused, managed_value, source, managed))
            leaves[key] = value
            if refused is not None or value == managed_value:
                sources[key] = managed
        floor_rules = list(managed.data.get("rules", []))
        floor_default = managed.data.get("decision", {}).get("default")
    return Merged(leaves, sources, rules, floor_rules, floor_default, refusals)


def _refusal(key: KeyPath, refused: Any, managed_value: Any, source: Layer, managed: Layer) -> PolicyError:
    where = f"{managed.path}:{managed.line(key)}"
    return PolicyError(
        source.path,
        source.line(key),
        dotted(key),
        f"{_show(refused)} is looser than the managed policy allows; refused by the managed rule "
        f"{dotted(key)} = {_show(managed_value)} ({where})",
    )


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return str(value)


def _rule(data: dict[str, Any]) -> Rule:
    return Rule(
        id=data["id"],
        decision=Verdict.parse(data["decision"]),
        source=data.get("source"),
        rule=data.get("rule"),
        severity=Level.parse(data["severity"]) if "severity" in data else None,
        confidence=Level.parse(data["confidence"]) if "confidence" in data else None,
        description=data.get("description", ""),
    )


def to_policy(merged: Merged) -> Policy:
    leaf = merged.leaves
    limits = SandboxLimits(**{k[2]: v for k, v in leaf.items() if k[:2] == ("sandbox", "limits")})
    return Policy(
        rules=tuple(_rule(r) for r, _ in merged.rules.values()),
        default=Verdict.parse(leaf[("decision", "default")]),
        floor_rules=tuple(_rule(r) for r in merged.floor_rules),
        floor_default=Verdict.parse(merged.floor_default) if merged.floor_default else Verdict.ALLOW,
        sandbox=SandboxPolicy(
            required=leaf[("sandbox", "required")],
            backends=tuple(leaf[("sandbox", "backends")]),
            image=leaf[("sandbox", "image")] or None,
            limits=limits,
        ),
        network=NetworkPolicy(
            allow_hosts=tuple(leaf[("network", "allow_hosts")]),
            deny_hosts=tuple(leaf[("network", "deny_hosts")]),
            model_endpoints=tuple(leaf[("network", "model_endpoints")]),
        ),
        code=CodePolicy(
            deny_imports=tuple(leaf[("code", "deny_imports")]),
            deny_calls=tuple(leaf[("code", "deny_calls")]),
        ),
        files=FilesPolicy(
            exclude=tuple(leaf[("files", "exclude")]),
            protected=tuple(leaf[("files", "protected")]),
        ),
        telemetry=TelemetryPolicy(export_content=leaf[("telemetry", "export_content")]),
    )
