"""Layering: defaults < preset < workspace < managed; a lower layer may tighten, never loosen."""

from __future__ import annotations

from sandgate.findings import Finding, Level, Verdict
from sandgate.policy.evaluate import decide
from sandgate.policy.load import load_effective


def managed(monkeypatch, tmp_path, text: str):
    path = tmp_path / "managed.toml"
    path.write_text(text)
    monkeypatch.setenv("SANDGATE_MANAGED_POLICY", str(path))
    return path


def test_default_is_balanced_with_its_values():
    loaded = load_effective(None)
    assert loaded.preset == "balanced"
    assert loaded.ok and not loaded.refusals
    assert loaded.policy.sandbox.limits.memory_mb == 256
    assert loaded.sources["sandbox.limits.memory_mb"] == "preset:balanced"
    assert loaded.sources["sandbox.image"] == "default"


def test_workspace_overrides_preset_and_extends_chooses_it(workspace):
    (workspace / ".sandgate" / "policy.toml").write_text(
        'version = 1\nextends = "strict"\n[sandbox.limits]\nmemory_mb = 64\n'
    )
    loaded = load_effective(workspace)
    assert loaded.preset == "strict"
    assert loaded.policy.sandbox.limits.memory_mb == 64
    assert loaded.policy.sandbox.limits.wall_time_s == 2  # from strict
    assert loaded.sources["sandbox.limits.memory_mb"].endswith(".sandgate/policy.toml")


def test_workspace_rule_replaces_preset_rule_with_same_id(workspace):
    (workspace / ".sandgate" / "policy.toml").write_text(
        'version = 1\n[[rules]]\nid = "bandit-medium"\nsource = "bandit"\nseverity = "medium"\ndecision = "block"\n'
    )
    rules = {r.id: r for r in load_effective(workspace).policy.rules}
    assert rules["bandit-medium"].decision is Verdict.BLOCK
    assert "secrets" in rules  # the preset's other rules stay


def test_managed_refuses_looser_limits_and_names_its_rule(monkeypatch, tmp_path, workspace):
    path = managed(monkeypatch, tmp_path, "version = 1\n\n[sandbox.limits]\nmemory_mb = 128\nwall_time_s = 2\n")
    (workspace / ".sandgate" / "policy.toml").write_text(
        "version = 1\n[sandbox.limits]\nmemory_mb = 1024\nwall_time_s = 1\n"
    )
    loaded = load_effective(workspace)
    assert loaded.policy.sandbox.limits.memory_mb == 128  # refused
    assert loaded.policy.sandbox.limits.wall_time_s == 1  # tighter: stands
    assert len(loaded.refusals) == 1
    refusal = str(loaded.refusals[0])
    assert refusal.startswith(f"{workspace}/.sandgate/policy.toml:3: sandbox.limits.memory_mb: 1024 is looser")
    assert f"managed rule sandbox.limits.memory_mb = 128 ({path}:4)" in refusal


def test_managed_refuses_preset_values_too(monkeypatch, tmp_path):
    managed(monkeypatch, tmp_path, "version = 1\n[sandbox.limits]\nprocesses = 8\n")
    loaded = load_effective(None, preset="permissive")
    assert loaded.policy.sandbox.limits.processes == 8
    assert [r.key for r in loaded.refusals] == ["sandbox.limits.processes"]
    assert loaded.refusals[0].path.endswith("permissive.toml")


def test_managed_lists_and_switches(monkeypatch, tmp_path, workspace):
    managed(
        monkeypatch,
        tmp_path,
        """version = 1
[sandbox]
required = true
backends = ["docker"]
[network]
allow_hosts = ["*.corp.example"]
deny_hosts = ["secret.corp.example"]
model_endpoints = ["https://llm.corp.example/*"]
[code]
deny_imports = ["ctypes"]
[telemetry]
export_content = false
""",
    )
    (workspace / ".sandgate" / "policy.toml").write_text("""version = 1
[sandbox]
required = false
backends = ["bwrap", "docker"]
[network]
allow_hosts = ["api.corp.example", "pastebin.com"]
model_endpoints = ["https://llm.corp.example/v1", "https://api.openai.com/v1"]
[code]
deny_imports = ["pickle"]
[telemetry]
export_content = true
""")
    loaded = load_effective(workspace)
    policy = loaded.policy
    assert policy.sandbox.required is True
    assert policy.sandbox.backends == ("docker",)
    assert policy.network.allow_hosts == ("api.corp.example",)
    assert policy.network.deny_hosts == ("secret.corp.example",)
    assert policy.network.model_endpoints == ("https://llm.corp.example/v1",)
    assert set(policy.code.deny_imports) == {"ctypes", "pickle"}  # union: tighter
    assert policy.telemetry.export_content is False
    refused = {r.key: r.message for r in loaded.refusals}
    assert set(refused) == {
        "sandbox.required",
        "sandbox.backends",
        "network.allow_hosts",
        "network.model_endpoints",
        "telemetry.export_content",
    }
    assert refused["network.allow_hosts"].startswith('["pastebin.com"] is looser')
    assert refused["sandbox.backends"].startswith('["bwrap"] is looser')


def test_managed_rules_are_a_floor_no_lower_rule_can_loosen(monkeypatch, tmp_path, workspace):
    managed(
        monkeypatch,
        tmp_path,
        'version = 1\n[[rules]]\nid = "no-pickle"\nsource = "bandit"\nrule = "B301"\ndecision = "block"\n',
    )
    (workspace / ".sandgate" / "policy.toml").write_text(
        'version = 1\nextends = "permissive"\n[[rules]]\nid = "no-pickle"\nsource = "bandit"\nrule = "B301"\ndecision = "allow"\n'
    )
    policy = load_effective(workspace).policy
    finding = Finding("bandit", "B301", Level.MEDIUM, Level.HIGH, "pickle", line=3, end_line=3)
    decision = decide(policy, [finding])
    assert decision.verdict is Verdict.BLOCK
    assert decision.reasons[0].layer == "managed"
    assert decision.reasons[0].rule_id == "no-pickle"


def test_untrusted_workspace_policy_is_not_read(workspace):
    (workspace / ".sandgate" / "policy.toml").write_text('version = 1\nextends = "permissive"\n')
    loaded = load_effective(workspace, preset="permissive", trusted=False)
    assert loaded.preset == "strict"
    assert not any(layer.name == "workspace" for layer in loaded.layers)


def test_named_managed_policy_that_is_missing_fails_closed(monkeypatch, tmp_path):
    monkeypatch.setenv("SANDGATE_MANAGED_POLICY", str(tmp_path / "absent.toml"))
    loaded = load_effective(None, preset="permissive")
    assert [str(e) for e in loaded.errors] == [f"{tmp_path}/absent.toml: file not found"]
    assert loaded.policy.floor_default is Verdict.REVIEW  # the strict preset became the floor


def test_digest_changes_with_the_policy(workspace):
    before = load_effective(workspace).digest
    (workspace / ".sandgate" / "policy.toml").write_text("version = 1\n[sandbox.limits]\nmemory_mb = 200\n")
    after = load_effective(workspace).digest
    assert before != after and len(after) == 64
    assert load_effective(workspace).digest == after  # stable
