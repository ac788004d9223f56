"""The balanced preset's decisions, rule by rule, and the shape of reasons."""

from __future__ import annotations

import pytest

from sandgate.findings import Finding, Level, Origin, Verdict
from sandgate.policy.evaluate import decide
from sandgate.policy.load import load_effective


def finding(source, rule, severity=Level.HIGH, confidence=Level.HIGH, **kw):
    return Finding(source, rule, severity, confidence, f"{source} {rule}", line=kw.pop("line", 1), **kw)


@pytest.fixture(scope="module")
def balanced():
    return load_effective(None, preset="balanced").policy


@pytest.mark.parametrize(
    ("f", "verdict", "rule_id"),
    [
        (finding("secrets", "aws-access-key"), Verdict.BLOCK, "secrets"),
        (finding("sandbox", "network.denied", line=0), Verdict.BLOCK, "network-denied"),
        (finding("sandbox", "fs.write-outside-scratch", line=0), Verdict.BLOCK, "write-outside-scratch"),
        (finding("bandit", "B602", Level.HIGH, Level.MEDIUM), Verdict.BLOCK, "bandit-high"),
        (finding("bandit", "B602", Level.HIGH, Level.LOW), Verdict.REVIEW, "bandit-medium"),
        (finding("bandit", "B301", Level.MEDIUM, Level.HIGH), Verdict.REVIEW, "bandit-medium"),
        (finding("bandit", "B101", Level.LOW, Level.HIGH), Verdict.ALLOW, "default"),
        (finding("sandbox", "limit.time", Level.MEDIUM, line=0), Verdict.REVIEW, "sandbox-limits"),
        (finding("sandbox", "limit.memory", Level.MEDIUM, line=0), Verdict.REVIEW, "sandbox-limits"),
        (finding("sandbox", "limit.processes", Level.MEDIUM, line=0), Verdict.REVIEW, "sandbox-limits"),
        (finding("sandbox", "limit.output", Level.MEDIUM, line=0), Verdict.REVIEW, "sandbox-limits"),
        (finding("sandbox", "process.spawn", Level.LOW, line=0), Verdict.ALLOW, "default"),
        (finding("syntax", "syntax.error", Level.INFO), Verdict.ALLOW, "default"),
        (finding("policy", "host.not-allowed", Level.LOW), Verdict.ALLOW, "default"),
        (finding("policy", "import.denied", Level.MEDIUM), Verdict.REVIEW, "code-policy"),
    ],
)
def test_balanced_decisions(balanced, f, verdict, rule_id):
    decision = decide(balanced, [f])
    assert decision.verdict is verdict
    assert decision.reasons[0].rule_id == rule_id
    assert decision.reasons[0].finding is f


def test_strictest_wins_and_reasons_come_first(balanced):
    low = finding("bandit", "B101", Level.LOW)
    medium = finding("bandit", "B301", Level.MEDIUM)
    secret = finding("secrets", "github-token")
    decision = decide(balanced, [low, medium, secret])
    assert decision.verdict is Verdict.BLOCK
    assert [r.verdict for r in decision.reasons] == [Verdict.BLOCK, Verdict.REVIEW, Verdict.ALLOW]
    assert "policy rule secrets" in decision.reasons[0].text


def test_findings_in_existing_code_never_decide(balanced):
    existing = finding("bandit", "B602", origin=Origin.DOCUMENT)
    assert decide(balanced, [existing]).verdict is Verdict.ALLOW
    assert decide(balanced, [existing]).reasons == ()


def test_no_findings_allows(balanced):
    assert decide(balanced, []).verdict is Verdict.ALLOW


def test_verdicts_are_ordered():
    assert Verdict.ALLOW < Verdict.REVIEW < Verdict.BLOCK
    assert max([Verdict.REVIEW, Verdict.BLOCK, Verdict.ALLOW]) is Verdict.BLOCK
