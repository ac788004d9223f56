"""Rules that never decide (a stricter rule matches every finding they match): found where it is
sure, on the shipped presets none, and not where a finding of the rule could escape the stricter one."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandgate.checks.shadowed import shadowed_rules
from sandgate.findings import Finding, Level, Verdict
from sandgate.policy.evaluate import decide
from sandgate.policy.load import load_effective
from sandgate.policy.resources import PRESETS


def own(workspace, rules: str, preset: str = "balanced"):
    (workspace / ".sandgate" / "policy.toml").write_text(f'version = 1\nextends = "{preset}"\n{rules}')
    return load_effective(workspace).policy


def rule(body: str, rule_id: str = "mine", decision: str = "allow") -> str:
    return f'[[rules]]\nid = "{rule_id}"\n{body}\ndecision = "{decision}"\n'


@pytest.mark.parametrize("name", PRESETS)
def test_no_preset_rule_is_shadowed(workspace, name):
    assert shadowed_rules(own(workspace, "", name)) == []


@pytest.mark.parametrize(
    ("body", "by"),
    [
        ('source = "rules"\nrule = "shell.spawn"', "rules-medium"),  # shell.spawn is always MEDIUM
        ('source = "rules"\nrule = "shell.download-and-run"', "rules-high"),
        ('source = "capability"\nrule = "capability.delete-outside"', "capability-medium"),
        ('source = "capability"\nrule = "capability.secret-to-network"', "capability-secret-to-network"),
        ('source = "bandit"\nrule = "B602"\nseverity = "high"\nconfidence = "high"', "bandit-high"),
        ('source = "rules"\nseverity = "medium"', "rules-medium"),
    ],
)
def test_an_allow_beside_a_stricter_preset_rule_is_found(workspace, body, by):
    policy = own(workspace, rule(body))
    (found,) = shadowed_rules(policy)
    assert (found.rule.id, found.by.id) == ("mine", by)


@pytest.mark.parametrize(
    "body",
    [
        'source = "bandit"\nrule = "B602"',  # bandit rates B602 LOW or HIGH call by call
        'source = "rules"\nrule = "shell.*"',  # a glob: not sure what it matches
        'source = "pack"\nrule = "web.open-redirect"',  # pack-medium asks for a confidence the rule may lack
        'source = "capability"\nrule = "capability.network"',  # LOW: no preset rule holds it
    ],
)
def test_not_found_where_it_could_decide_or_is_not_sure(workspace, body):
    assert shadowed_rules(own(workspace, rule(body))) == []


def test_a_stricter_rule_of_ones_own_is_not_shadowed_by_a_looser_preset_rule(workspace):
    policy = own(workspace, rule('source = "rules"\nrule = "shell.spawn"', decision="block"))
    assert shadowed_rules(policy) == []
    spawn = Finding("rules", "shell.spawn", Level.MEDIUM, Level.HIGH, "spawn", line=1)
    assert decide(policy, [spawn]).verdict is Verdict.BLOCK


def test_what_is_found_indeed_never_decides(workspace):
    """The claim itself: with the shadowed rule or without it, every finding it matches is decided alike."""
    with_it = own(workspace, rule('source = "rules"\nrule = "shell.spawn"'))
    without = own(workspace, "")
    for confidence in Level:
        spawn = Finding("rules", "shell.spawn", Level.MEDIUM, confidence, "spawn", line=1)
        assert decide(with_it, [spawn]).verdict is decide(without, [spawn]).verdict is Verdict.REVIEW


def test_a_redefined_preset_rule_is_what_works(workspace, monkeypatch):
    """Rules merge by id: the preset's rule redefined so it no longer matches lets the finding through
    (with no managed policy: a managed floor's own rules decide apart)."""
    monkeypatch.delenv("SANDGATE_MANAGED_POLICY")
    if Path("/etc/sandgate/policy.toml").exists():
        pytest.skip("this machine has a managed policy")
    policy = own(workspace, rule('source = "rules"\nrule = "call.computed-name"', "rules-medium", "review"))
    assert shadowed_rules(policy) == []
    spawn = Finding("rules", "shell.spawn", Level.MEDIUM, Level.HIGH, "spawn", line=1)
    computed = Finding("rules", "call.computed-name", Level.MEDIUM, Level.HIGH, "computed", line=1)
    assert decide(policy, [spawn]).verdict is Verdict.ALLOW
    assert decide(policy, [computed]).verdict is Verdict.REVIEW
