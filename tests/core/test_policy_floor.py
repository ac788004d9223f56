"""The managed floor, and the sandbox settings, hold against every trick of a lower layer — a
workspace's `.sandgate/policy.toml` may be written by whoever wrote the repository."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sandgate.findings import Finding, Level, Verdict
from sandgate.policy.evaluate import decide
from sandgate.policy.load import load_effective
from sandgate.sandbox.select import open_backend

from .test_policy_layers import managed

ALLOW_CODE_POLICY = '''version = 1
[[rules]]
id = "code-policy"
source = "policy"
decision = "allow"
'''


def _call_denied(line: int = 1) -> Finding:
    return Finding("policy", "call.denied", Level.MEDIUM, Level.HIGH, "call to 'os.system' is denied", line=line,
                   end_line=line)


def test_a_workspace_rule_reusing_a_preset_id_cannot_undercut_a_managed_setting(monkeypatch, tmp_path, workspace):
    managed(monkeypatch, tmp_path, 'version = 1\n[code]\ndeny_calls = ["os.system"]\n')
    (workspace / ".sandgate" / "policy.toml").write_text(ALLOW_CODE_POLICY)
    loaded = load_effective(workspace)
    decision = decide(loaded.policy, [_call_denied()])
    assert decision.verdict is Verdict.REVIEW
    top = decision.reasons[0]
    # The floor is the managed policy's preset (balanced: it names none) and its own rules.
    assert (top.layer, top.rule_id) == ("managed", "code-policy")
    assert loaded.sources["managed-rules.code-policy"] == "preset:balanced"


def test_the_managed_floor_follows_the_preset_it_extends(monkeypatch, tmp_path, workspace):
    managed(monkeypatch, tmp_path, 'version = 1\nextends = "strict"\n[code]\ndeny_calls = ["os.system"]\n')
    (workspace / ".sandgate" / "policy.toml").write_text('version = 1\nextends = "permissive"\n' + ALLOW_CODE_POLICY[12:])
    decision = decide(load_effective(workspace).policy, [_call_denied()])
    assert decision.verdict is Verdict.BLOCK  # strict's code-policy blocks


def test_a_lower_rule_cannot_reuse_a_managed_rule_id(monkeypatch, tmp_path, workspace):
    path = managed(monkeypatch, tmp_path,
                   'version = 1\n\n[[rules]]\nid = "no-pickle"\nsource = "bandit"\nrule = "B301"\ndecision = "review"\n')
    (workspace / ".sandgate" / "policy.toml").write_text(
        'version = 1\n[[rules]]\nid = "no-pickle"\nsource = "bandit"\nrule = "B3*"\ndecision = "block"\n')
    loaded = load_effective(workspace)
    assert "no-pickle" not in {r.id for r in loaded.policy.rules}  # dropped, not merged
    [refusal] = [r for r in loaded.refusals if r.key == "rules.no-pickle"]
    assert refusal.path == str(workspace / ".sandgate" / "policy.toml") and refusal.line == 3
    assert f"managed policy's own rule ({path}:4)" in refusal.message


def test_a_workspace_cannot_empty_the_backends_or_turn_the_run_off(workspace):
    (workspace / ".sandgate" / "policy.toml").write_text('version = 1\n[sandbox]\nrequired = false\nbackends = []\n')
    loaded = load_effective(workspace)
    assert loaded.policy.sandbox.required is True
    assert loaded.policy.sandbox.backends == ("docker", "bwrap")
    refused = {r.key: r for r in loaded.refusals}
    assert set(refused) == {"sandbox.required", "sandbox.backends"}
    assert refused["sandbox.backends"].line == 4 and "no backend at all" in refused["sandbox.backends"].message
    assert "balanced.toml" in refused["sandbox.backends"].message  # where the value that applies comes from


def test_a_workspace_may_drop_weaker_backends_but_not_pick_a_weaker_one(workspace):
    policy = workspace / ".sandgate" / "policy.toml"
    policy.write_text('version = 1\n[sandbox]\nbackends = ["docker"]\n')
    loaded = load_effective(workspace)
    assert loaded.policy.sandbox.backends == ("docker",) and not loaded.refusals
    policy.write_text('version = 1\n[sandbox]\nbackends = ["bwrap"]\n')
    loaded = load_effective(workspace)
    assert loaded.policy.sandbox.backends == ("docker", "bwrap")
    [refusal] = loaded.refusals
    assert refusal.key == "sandbox.backends" and "weaker backend" in refusal.message
    backend, _ = open_backend("auto", loaded.policy.sandbox)
    assert backend is not None and backend.name == "docker"


def test_auto_tries_the_strongest_backend_whatever_the_list_order(tmp_path):
    own = tmp_path / "own.toml"  # the user's own file may list them in any order
    own.write_text('version = 1\n[sandbox]\nbackends = ["bwrap", "docker"]\n')
    loaded = load_effective(None, explicit=own)
    assert not loaded.refusals
    backend, _ = open_backend("auto", loaded.policy.sandbox)
    assert backend is not None and backend.name == "docker"


def test_the_users_own_file_may_choose_what_a_workspace_may_not(tmp_path):
    own = tmp_path / "own.toml"
    own.write_text('version = 1\n[sandbox]\nrequired = false\nbackends = ["bwrap"]\nuser = "nobody"\n')
    loaded = load_effective(None, explicit=own)
    assert not loaded.refusals
    assert (loaded.policy.sandbox.required, loaded.policy.sandbox.backends, loaded.policy.sandbox.user) == (
        False, ("bwrap",), "nobody")


def test_a_workspace_cannot_choose_the_sandbox_user(workspace):
    (workspace / ".sandgate" / "policy.toml").write_text('version = 1\n[sandbox]\nuser = "root"\n')
    loaded = load_effective(workspace)
    assert loaded.policy.sandbox.user is None
    assert [r.key for r in loaded.refusals] == ["sandbox.user"]


def test_a_managed_policy_cannot_be_shrunk_or_turned_off(monkeypatch, tmp_path, workspace):
    path = managed(monkeypatch, tmp_path, 'version = 1\n[sandbox]\nrequired = true\nbackends = ["docker", "bwrap"]\n')
    own = tmp_path / "own.toml"  # even the user's own file: the managed policy is the administrator's
    own.write_text('version = 1\n[sandbox]\nrequired = false\nbackends = ["bwrap"]\n')
    loaded = load_effective(workspace, explicit=own)
    assert loaded.policy.sandbox.required is True and set(loaded.policy.sandbox.backends) == {"docker", "bwrap"}
    refused = {r.key: r.message for r in loaded.refusals}
    assert set(refused) == {"sandbox.required", "sandbox.backends"}
    assert f"managed rule sandbox.backends = [\"docker\", \"bwrap\"] ({path}:4)" in refused["sandbox.backends"]


def _vet(ws: Path, env: dict, *args: str) -> dict:
    done = subprocess.run([sys.executable, "-m", "sandgate", "vet", "--format", "json", "--no-audit", *args],
                          cwd=ws, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode in (0, 1), done.stderr
    data = json.loads(done.stdout)
    return {"result": (data["results"] if isinstance(data, dict) else data)[0], "stderr": done.stderr}


def test_the_tricks_end_to_end_through_sandgate_vet(tmp_path, workspace):
    """As the issue found them: each trick left the decision where the managed policy puts it."""
    managed_file = tmp_path / "managed.toml"
    managed_file.write_text('version = 1\n[code]\ndeny_calls = ["os.system"]\n\n[[rules]]\nid = "no-net"\n'
                            'source = "sandbox"\nrule = "network.denied"\ndecision = "block"\n')
    env = {k: v for k, v in os.environ.items() if k != "FORCE_COLOR"}
    env["SANDGATE_MANAGED_POLICY"] = str(managed_file)
    (workspace / ".sandgate" / "policy.toml").write_text(
        ALLOW_CODE_POLICY + '\n[sandbox]\nbackends = []\n\n[[rules]]\nid = "no-net"\nsource = "sandbox"\n'
        'decision = "allow"\n')
    (workspace / "spawn.py").write_text("import os\n\n\ndef restart():\n    os.system('true')\n")
    (workspace / "net.py").write_text("import socket\ntry:\n    socket.create_connection(('203.0.113.5', 80), 1)\n"
                                      "except OSError:\n    pass\n")
    spawn = _vet(workspace, env, "spawn.py")
    assert spawn["result"]["decision"] == "review", spawn["result"]["reasons"]
    assert any(r["layer"] == "managed" and r["policy_rule"] == "code-policy" for r in spawn["result"]["reasons"])
    net = _vet(workspace, env, "net.py")
    assert net["result"]["decision"] == "block", net["result"]["reasons"]
    assert net["result"]["sandbox"]["backend"] in ("docker", "bwrap")  # the run was not turned off
    # Every refusal is printed, naming the managed rule and its place.
    assert "rules.no-net" in net["stderr"] and f"{managed_file}:6" in net["stderr"]
    assert "sandbox.backends" in net["stderr"]
