"""The managed floor, and the sandbox settings, hold against every trick of a lower layer — a
workspace's `.sandgate/policy.toml` may be written by whoever wrote the repository."""

from __future__ import annotations

from sandgate.findings import Finding, Level, Verdict
from sandgate.policy.evaluate import decide
from sandgate.policy.load import load_effective
from sandgate.sandbox.select import open_backend

from .test_policy_layers import managed

ALLOW_CODE_POLICY = """version = 1
[[rules]]
id = "code-policy"
source = "policy"
decision = "allow"
"""


def _call_denied(line: int = 1) -> Finding:
    return Finding(
        "policy", "call.denied", Level.MEDIUM, Level.HIGH, "call to 'os.system' is denied", line=line, end_line=line
    )


def test_the_managed_floor_follows_the_preset_it_extends(monkeypatch, tmp_path, workspace):
    managed(monkeypatch, tmp_path, 'version = 1\nextends = "strict"\n[code]\ndeny_calls = ["os.system"]\n')
    (workspace / ".sandgate" / "policy.toml").write_text(
        'version = 1\nextends = "permissive"\n' + ALLOW_CODE_POLICY[12:]
    )
    decision = decide(load_effective(workspace).policy, [_call_denied()])
    assert decision.verdict is Verdict.BLOCK  # strict's code-policy blocks


def test_auto_tries_the_strongest_backend_whatever_the_list_order(tmp_path):
    own = tmp_path / "own.toml"  # the user's own file may list them in any order
    own.write_text('version = 1\n[sandbox]\nbackends = ["bwrap", "docker"]\n')
    loaded = load_effective(None, explicit=own)
    assert not loaded.refusals
    backend, _ = open_backend("auto", loaded.policy.sandbox)
    assert backend is not None and backend.name == "docker"


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
    assert f'managed rule sandbox.backends = ["docker", "bwrap"] ({path}:4)' in refused["sandbox.backends"]


def test_your_own_file_may_name_the_sandbox_user(tmp_path):
    own = tmp_path / "own.toml"
    own.write_text('version = 1\n[sandbox]\nuser = "nobody"\n')
    loaded = load_effective(None, explicit=own)
    assert loaded.policy.sandbox.user == "nobody" and not loaded.refusals
