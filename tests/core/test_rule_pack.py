"""The security rule pack: it loads with every example checked, a wrong example is a load error
naming its rule, and the policy's [pack] keys enable, disable and re-rate rules by id or glob."""

from __future__ import annotations

import pytest

from sandgate.checks.pack_rules import SOURCE, active_rules, run_pack
from sandgate.checks.rule_pack import PACK_PATH, PackError, check_examples, load_pack, parse_pack
from sandgate.findings import Level, Verdict
from sandgate.pipeline import Vetter
from sandgate.suggestion import Suggestion

from .conftest import REPO, load_static

PACK = load_pack()


def test_the_shipped_pack_loads_with_its_examples_checked():
    ids = [r.id for r in PACK.rules]
    assert len(ids) == len(set(ids)) >= 30
    for rule in PACK.rules:
        assert rule.match and rule.not_match, rule.id
        assert rule.fix and rule.message and rule.cwe, rule.id
        assert rule.link.endswith(f"static-checks.md#{rule.id}"), rule.id


def test_every_rule_is_documented_where_its_link_points():
    docs = (REPO / "docs" / "static-checks.md").read_text()
    for rule in PACK.rules:
        assert f'<a id="{rule.id}"></a>' in docs, rule.id


@pytest.mark.parametrize("rule", PACK.rules, ids=[r.id for r in PACK.rules])
def test_each_rule_matches_its_examples_and_only_them(rule):
    for code in rule.match:
        found = [f for f in run_pack(code, PACK, rules=(rule,))]
        assert [f.rule for f in found] and {f.rule for f in found} == {rule.id}, code
        assert all(f.source == SOURCE and f.fix == rule.fix and f.cwe == rule.cwe for f in found)
    for code in rule.not_match:
        assert run_pack(code, PACK, rules=(rule,)) == [], code


def _pack_with(text: str):
    return parse_pack(PACK_PATH.read_text(encoding="utf-8") + text)


def test_a_rule_whose_match_example_gives_nothing_is_a_load_error_naming_it():
    pack = _pack_with(
        """
[[rule]]
id = "test.never"
kind = "call"
cwe = 1
severity = "low"
confidence = "low"
message = "m"
fix = "f"
calls = ["os.nothing"]
match = ["import os\\nos.system('x')\\n"]
not_match = ["pass\\n"]
"""
    )
    with pytest.raises(PackError, match=r"rule test\.never: match example 1 gives no finding"):
        check_examples(pack)


def test_a_rule_whose_not_match_example_gives_a_finding_is_a_load_error():
    pack = _pack_with(
        """
[[rule]]
id = "test.always"
kind = "call"
cwe = 1
severity = "low"
confidence = "low"
message = "m"
fix = "f"
calls = ["os.system"]
match = ["import os\\nos.system('x')\\n"]
not_match = ["import os\\nos.system('y')\\n"]
"""
    )
    with pytest.raises(PackError, match=r"rule test\.always: not_match example 1 gives a finding"):
        check_examples(pack)


def test_a_rule_without_examples_does_not_load():
    with pytest.raises(PackError, match="test.bare: every rule needs"):
        _pack_with(
            '\n[[rule]]\nid = "test.bare"\nkind = "call"\ncwe = 1\nseverity = "low"\nconfidence = "low"\n'
            'message = "m"\nfix = "f"\ncalls = ["x"]\n'
        )


def test_policy_settings_enable_disable_and_rerate_by_glob():
    default = {r.id for r in active_rules(PACK)}
    assert "crypto.unauthenticated-mode" not in default  # off by default
    assert "crypto.unauthenticated-mode" in {r.id for r in active_rules(PACK, enable=["crypto.unauth*"])}
    without = {r.id for r in active_rules(PACK, disable=["crypto.*", "log.injection"])}
    assert not any(i.startswith("crypto.") for i in without) and "log.injection" not in without
    assert "sql.injection" in without
    rerated = {r.id: r.severity for r in active_rules(PACK, severity=["log.*=low", "sql.*=low", "sql.injection=high"])}
    assert rerated["log.injection"] is Level.LOW
    assert rerated["sql.formatted-query"] is Level.LOW and rerated["sql.injection"] is Level.HIGH


SQL_FROM_REQUEST = (
    "from flask import request\n\n"
    "def find(db):\n"
    "    return db.execute(f\"SELECT * FROM t WHERE name = '{request.args['n']}'\").fetchall()\n"
)


def test_balanced_blocks_an_exploitable_finding_and_shows_the_fix(static_workspace):
    result = Vetter(load_static(static_workspace), workspace=static_workspace).vet(
        Suggestion(SQL_FROM_REQUEST, path="app.py")
    )
    assert result.verdict is Verdict.BLOCK
    finding = next(f for f in result.findings if f.source == "pack")
    assert finding.rule == "sql.injection" and finding.line == 4 and finding.cwe == 89
    assert "query parameters" in (finding.fix or "")
    assert result.finding_decision(finding) == "block"
    assert result.to_json()["findings"][0]["fix"] is not None or any(
        f["fix"] for f in result.to_json()["findings"] if f["source"] == "pack"
    )


def test_the_policy_can_turn_a_pack_rule_off_or_rerate_it(static_workspace):
    (static_workspace / "static.toml").write_text(
        (static_workspace / "static.toml").read_text() + '[pack]\nseverity = ["sql.injection=medium"]\n'
    )
    result = Vetter(load_static(static_workspace), workspace=static_workspace).vet(
        Suggestion(SQL_FROM_REQUEST, path="app.py")
    )
    pack = [f for f in result.findings if f.source == "pack"]
    assert [f.severity for f in pack] == [Level.MEDIUM]
    assert result.finding_decision(pack[0]) == "review"

    (static_workspace / "static.toml").write_text(
        (static_workspace / "static.toml")
        .read_text()
        .replace('severity = ["sql.injection=medium"]', 'disable = ["sql.*"]')
    )
    result = Vetter(load_static(static_workspace), workspace=static_workspace).vet(
        Suggestion(SQL_FROM_REQUEST, path="app.py")
    )
    assert not [f for f in result.findings if f.source == "pack"]
