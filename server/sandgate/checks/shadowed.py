"""Policy rules that can never decide anything: a stricter rule matches every finding they match.

The strictest matching rule decides each finding (`policy.evaluate`), so a rule that allows
`shell.spawn` beside the preset's `rules-medium` (every MEDIUM finding of source `rules` → review)
changes no decision. `sandgate policy validate` warns about such rules.

Sure cases only. Rule A is shadowed by rule B when B's decision is stricter and B's every condition
holds for every finding A matches: B names no source or A's, no rule glob or one that matches A's
exact rule id (or the same glob), and minimums at most A's. A's severity is the one its rule id
always has where Sandgate knows it — its own rules, the capabilities, the packs' rules as the policy
rates them; bandit rates a test differently call by call, so a bandit rule is judged on its own
`severity` key alone.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

from sandgate.checks.capabilities import KINDS
from sandgate.checks.exec_rules import SEVERITY as EXEC_SEVERITY
from sandgate.checks.pack_rules import active_rules
from sandgate.checks.rule_pack import load_js_pack, load_pack
from sandgate.findings import Level
from sandgate.policy.errors import PolicyError, dotted
from sandgate.policy.locate import line_of
from sandgate.policy.model import Policy, Rule

_GLOB = set("*?[")


@dataclass(frozen=True)
class Shadowed:
    rule: Rule
    by: Rule


def shadowed_rules(policy: Policy) -> list[Shadowed]:
    """The policy's rules that never decide (each with the first stricter rule that covers it)."""
    ratings = _pack_severities(policy)
    out = []
    for rule in policy.rules:
        severity = _least_severity(rule, ratings)
        by = next(
            (
                other
                for other in policy.rules
                if other is not rule and other.decision > rule.decision and _covers(other, rule, severity)
            ),
            None,
        )
        if by is not None:
            out.append(Shadowed(rule, by))
    return out


def never_deciding(policy: Policy, sources: dict[str, str], path: str, text: str, data: dict) -> list[PolicyError]:
    """Warnings for the rules of one policy file (`path`: its `text`, parsed `data`) that never decide;
    `sources` names the layer each effective rule came from (`LoadedPolicy.sources`)."""
    own = {rule.get("id"): index for index, rule in enumerate(data.get("rules", []))}
    out = []
    for found in shadowed_rules(policy):
        index = own.get(found.rule.id)
        if index is None:
            continue  # not this file's rule (a preset's)
        by = found.by
        where = sources.get(f"rules.{by.id}", "?")
        out.append(
            PolicyError(
                path,
                line_of(text, ("rules", index, "id")),
                dotted(("rules", index)),
                f"rule {found.rule.id} ({_selector(found.rule)} -> {found.rule.decision}) never decides: "
                f"rule {by.id} ({_selector(by)} -> {by.decision}; {where}) matches every finding it matches "
                "and is stricter, and the strictest matching rule decides. To change what a preset's rule "
                f"decides, redefine that rule under its id ({by.id}): docs/rules.md#changing-what-a-preset-decides",
            )
        )
    return out


def _selector(rule: Rule) -> str:
    parts = [f"{k}={getattr(rule, k)}" for k in ("source", "rule", "severity", "confidence") if getattr(rule, k)]
    return ", ".join(parts) or "any finding"


def _pack_severities(policy: Policy) -> dict[str, Level]:
    settings = policy.pack
    rules = active_rules(load_pack(), settings.enable, settings.disable, settings.severity)
    rules += active_rules(load_js_pack(), settings.enable, settings.disable, settings.severity)
    return {r.id: r.severity for r in rules}


def _least_severity(rule: Rule, pack: dict[str, Level]) -> Level | None:
    """The lowest severity of a finding `rule` can match; None: any."""
    known: Level | None = None
    if rule.rule is not None and not _GLOB & set(rule.rule):
        if rule.source == "rules":
            known = EXEC_SEVERITY.get(rule.rule)
        elif rule.source == "capability" and rule.rule.startswith("capability."):
            kind = KINDS.get(rule.rule.removeprefix("capability."))
            known = kind[0] if kind else None
        elif rule.source == "pack":
            known = pack.get(rule.rule)
    levels = [level for level in (known, rule.severity) if level is not None]
    return max(levels) if levels else None


def _covers(b: Rule, a: Rule, a_severity: Level | None) -> bool:
    """Does `b` match every finding `a` matches (of at least `a_severity`)?"""
    if b.source is not None and b.source != a.source:
        return False
    if b.rule is not None and b.rule != a.rule:
        if a.rule is None or _GLOB & set(a.rule) or not fnmatch.fnmatchcase(a.rule, b.rule):
            return False
    if b.severity is not None and (a_severity is None or a_severity < b.severity):
        return False
    if b.confidence is not None and (a.confidence is None or a.confidence < b.confidence):
        return False
    return True
