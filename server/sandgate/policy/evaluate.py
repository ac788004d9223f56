"""Turn findings into a decision. Pure: the same findings and policy give the same decision.

Each finding gets the strictest decision among the rules that match it (the policy's
default when none does), then the strictest of that and the managed floor. The suggestion's
decision is the strictest over its findings. Findings in the user's own code are reported
but never decide. Every decision carries the reasons that produced it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sandgate.findings import Finding, Origin, Verdict
from sandgate.policy.model import Policy, Rule


@dataclass(frozen=True)
class Reason:
    verdict: Verdict
    # The policy rule that decided ("default" when none matched), or the id of Sandgate's own hold.
    rule_id: str
    layer: str  # "policy", "managed" or "sandgate"
    finding: Finding | None
    text: str

    def to_json(self) -> dict[str, object]:
        return {
            "decision": str(self.verdict),
            "policy_rule": self.rule_id,
            "layer": self.layer,
            "finding": self.finding.key if self.finding else None,
            "line": self.finding.line if self.finding else None,
            "text": self.text,
        }


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    reasons: tuple[Reason, ...]


def _strictest(rules: Iterable[Rule], finding: Finding, default: Verdict) -> tuple[Verdict, Rule | None]:
    matched = [r for r in rules if r.matches(finding)]
    if not matched:
        return default, None
    best = max(matched, key=lambda r: r.decision)
    return best.decision, best


# Names a finding's line for people: "line 3", or "line 2 of the suggestion" (`suggestion.Span.where`).
LineNamer = Callable[[int], str]


def _line(line: int) -> str:
    return f"line {line}"


def decide_finding(policy: Policy, finding: Finding, where: LineNamer = _line) -> Reason:
    verdict, rule = _strictest(policy.rules, finding, policy.decision.default)
    floor, floor_rule = _strictest(policy.floor_rules, finding, policy.floor_default)
    if floor > verdict:
        rule_id = floor_rule.id if floor_rule else "default"
        return Reason(floor, rule_id, "managed", finding, _text(rule_id, "managed policy", finding, where))
    rule_id = rule.id if rule else "default"
    return Reason(verdict, rule_id, "policy", finding, _text(rule_id, "policy", finding, where))


def _text(rule_id: str, layer: str, finding: Finding, where: LineNamer) -> str:
    # No decision in the text: whoever shows it says the decision once ("held for review: …").
    line = f" ({where(finding.line)})" if finding.line else ""
    return f"{finding.key}{line}: {finding.message} [{layer} rule {rule_id}]"


def decide(
    policy: Policy, findings: Iterable[Finding], holds: Iterable[Reason] = (), where: LineNamer = _line
) -> Decision:
    """The suggestion's decision. `holds` are Sandgate's own reasons to hold it whatever the
    findings say (a check or the sandbox could not run, ...). `where` names a finding's line as
    the user counts it (the suggestion may sit inside a document)."""
    reasons = [decide_finding(policy, f, where) for f in findings if f.origin is Origin.SUGGESTION]
    reasons.extend(holds)
    verdict = max((r.verdict for r in reasons), default=Verdict.ALLOW)
    # Reasons that decided come first; allowed findings stay listed for the record.
    reasons.sort(key=lambda r: -r.verdict)
    return Decision(verdict, tuple(reasons))
