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
    BACKENDS,
    CodePolicy,
    FilesPolicy,
    LanguagesPolicy,
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
        ("sandbox", "user"): "",
        **{("sandbox", "limits", k): v for k, v in vars(policy.sandbox.limits).items()},
        ("network", "allow_hosts"): [],
        ("network", "deny_hosts"): [],
        ("network", "model_endpoints"): [],
        ("code", "deny_imports"): [],
        ("code", "deny_calls"): [],
        ("files", "exclude"): [],
        ("files", "protected"): [],
        ("telemetry", "export_content"): False,
        ("languages", "unvetted"): policy.languages.unvetted,
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


def _same_set(lower: Any, managed: Any) -> tuple[Any, Any]:
    """The managed list exactly: fewer entries could leave no backend to run on (no run: a
    managed block becomes a hold), more would allow what the managed policy does not."""
    return (managed, None) if set(lower) == set(managed) else (managed, lower)


def _equal(lower: Any, managed: Any) -> tuple[Any, Any]:
    return (managed, None) if lower in (managed, "") else (managed, lower)


_VERDICTS = {v.name.lower(): v for v in Verdict}


def _verdict_at_least(lower: Any, managed: Any) -> tuple[Any, Any]:
    return (lower, None) if _VERDICTS[lower] >= _VERDICTS[managed] else (managed, lower)


def _unvetted_at_most(lower: Any, managed: Any) -> tuple[Any, Any]:
    """Languages without vetting: skip < review < allow; the managed choice is the loosest allowed."""
    from sandgate.languages import UNVETTED_CHOICES as order

    return (lower, None) if order.index(lower) <= order.index(managed) else (managed, lower)


_MANAGED_COMBINE: dict[KeyPath, Callable[[Any, Any], tuple[Any, Any]]] = {
    ("decision", "default"): _verdict_at_least,
    ("sandbox", "required"): _true_wins,
    ("sandbox", "backends"): _same_set,
    ("sandbox", "image"): _equal,
    ("sandbox", "user"): _equal,
    ("network", "allow_hosts"): _hosts_covered,
    ("network", "deny_hosts"): _union,
    ("network", "model_endpoints"): _covered,
    ("code", "deny_imports"): _union,
    ("code", "deny_calls"): _union,
    ("files", "exclude"): _union,
    ("files", "protected"): _union,
    ("telemetry", "export_content"): _false_wins,
    ("languages", "unvetted"): _unvetted_at_most,
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
    floor_rules: list[tuple[dict[str, Any], Layer]]
    floor_default: str | None
    refusals: list[PolicyError]


# What a repository's own policy file may not do to the sandbox (the key, why).
_WORKSPACE_SANDBOX = ("sandbox", "backends"), ("sandbox", "required"), ("sandbox", "user")


def _workspace_refusal(key: KeyPath, value: Any, before: Any) -> str | None:
    """Why the workspace file's `value` for `key` is refused (None: it stands). `before`: the
    value the layers below it gave."""
    if key == ("sandbox", "backends"):
        kept = [b for b in BACKENDS if b in value]
        allowed = [b for b in BACKENDS if b in before]
        # Narrowing drops the weakest first: what is kept is the strongest part of what was allowed.
        if value and set(value) <= set(allowed) and kept == allowed[: len(kept)]:
            return None
        what = "no backend at all (no run)" if not value else "a weaker backend than the layers below allow"
        return f"{_show(value)} would leave {what}; a workspace policy may only drop the weaker backends"
    if key == ("sandbox", "required"):
        if value or not before:
            return None
        return "false would let suggestions be shown without a run; only your own --policy file may say so"
    if key == ("sandbox", "user") and value != before:
        return "the sandbox's host user is chosen by a managed policy or your own --policy file, not by a workspace"
    return None


def _workspace_guard(layer: Layer, leaves: dict[KeyPath, Any], sources: dict[KeyPath, Layer | None],
                     before: dict[KeyPath, Any], before_sources: dict[KeyPath, Layer | None]) -> list[PolicyError]:
    refusals = []
    for key in _WORKSPACE_SANDBOX:
        if sources.get(key) is not layer:
            continue
        why = _workspace_refusal(key, leaves[key], before[key])
        if why is None:
            continue
        origin = before_sources[key]
        where = f"{origin.path}:{origin.line(key)}" if origin is not None else "Sandgate's default"
        refusals.append(PolicyError(layer.path, layer.line(key), dotted(key),
                                    f"{why}; {_show(before[key])} applies ({where})"))
        leaves[key], sources[key] = before[key], before_sources[key]
    return refusals


def merge(lower: list[Layer], managed: Layer | None, floor: Layer | None = None) -> Merged:
    """`floor`: the preset the managed layer extends (its rules join the managed floor)."""
    leaves = _default_leaves()
    sources: dict[KeyPath, Layer | None] = {k: None for k in leaves}
    rules: dict[str, tuple[dict[str, Any], Layer]] = {}
    refusals: list[PolicyError] = []
    managed_ids = {rule["id"]: rule for rule in managed.data.get("rules", [])} if managed is not None else {}
    for layer in lower:
        before, before_sources = dict(leaves), dict(sources)
        for key, value in _leaves(layer.data).items():
            leaves[key] = value
            sources[key] = layer
        if layer.name == "workspace":
            refusals.extend(_workspace_guard(layer, leaves, sources, before, before_sources))
        for index, rule in enumerate(layer.data.get("rules", [])):
            if rule["id"] in managed_ids and managed is not None:
                refusals.append(PolicyError(
                    layer.path, layer.line(("rules", index, "id")), f"rules.{rule['id']}",
                    f"the id {rule['id']!r} is the managed policy's own rule "
                    f"({managed.path}:{_rule_line(managed, rule['id'])}); this rule is ignored: give it another id"))
                continue
            rules[rule["id"]] = (rule, layer)

    floor_rules: list[tuple[dict[str, Any], Layer]] = []
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
        by_id: dict[str, tuple[dict[str, Any], Layer]] = {}
        if floor is not None:
            by_id.update({rule["id"]: (rule, floor) for rule in floor.data.get("rules", [])})
        by_id.update({rule["id"]: (rule, managed) for rule in managed.data.get("rules", [])})
        floor_rules = list(by_id.values())
        floor_default = managed.data.get("decision", {}).get("default") or (
            floor.data.get("decision", {}).get("default") if floor is not None else None)
    return Merged(leaves, sources, rules, floor_rules, floor_default, refusals)


def _rule_line(layer: Layer, rule_id: str) -> int:
    for index, rule in enumerate(layer.data.get("rules", [])):
        if rule.get("id") == rule_id:
            return layer.line(("rules", index, "id"))
    return 0


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
        floor_rules=tuple(_rule(r) for r, _ in merged.floor_rules),
        floor_default=Verdict.parse(merged.floor_default) if merged.floor_default else Verdict.ALLOW,
        sandbox=SandboxPolicy(
            required=leaf[("sandbox", "required")],
            backends=tuple(leaf[("sandbox", "backends")]),
            image=leaf[("sandbox", "image")] or None,
            user=leaf[("sandbox", "user")] or None,
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
        languages=LanguagesPolicy(unvetted=leaf[("languages", "unvetted")]),
    )
