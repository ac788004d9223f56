"""The managed floor holds against every lower-layer trick (issue 12, item 5), and a workspace policy
cannot pick a weaker sandbox than the user or the managed policy chose.

Unit tests on `load_effective` with real files, then one `sandgate vet` per trick showing that the
decision holds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sandgate.findings import Finding, Level, Verdict
from sandgate.policy.evaluate import decide
from sandgate.policy.load import load_effective
from sandgate.policy.locate import line_of
from sandgate.policy.validate import parse_policy

from .conftest import REPO

BALANCED = REPO / "policies" / "balanced.toml"
DENY_SYSTEM = 'version = 1\n\n[code]\ndeny_calls = ["os.system"]\n'
CALL_DENIED = Finding(
    "policy", "call.denied", Level.MEDIUM, Level.HIGH, "call to 'os.system' is denied", line=2, end_line=2
)


def preset_line(key: tuple) -> int:
    text = BALANCED.read_text()
    return line_of(text, key)


def rule_line(rule_id: str) -> int:
    text = BALANCED.read_text()
    data, _ = parse_policy(text, str(BALANCED))
    index = next(i for i, r in enumerate(data["rules"]) if r["id"] == rule_id)
    return line_of(text, ("rules", index, "id"))


@pytest.fixture
def managed(monkeypatch, tmp_path):
    def install(text: str) -> Path:
        path = tmp_path / "managed.toml"
        path.write_text(text)
        monkeypatch.setenv("SANDGATE_MANAGED_POLICY", str(path))
        return path

    return install


@pytest.fixture
def no_managed(monkeypatch, tmp_path):
    """No managed layer at all (the machine's /etc is not read either)."""
    monkeypatch.delenv("SANDGATE_MANAGED_POLICY")
    monkeypatch.setattr("sandgate.policy.load.DEFAULT_MANAGED_POLICY", tmp_path / "absent.toml")


def write(workspace: Path, text: str) -> Path:
    path = workspace / ".sandgate" / "policy.toml"
    path.write_text(text)
    return path


# -- rules ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("extends", ["balanced", "permissive"])
def test_a_reused_preset_rule_id_cannot_undercut_a_decision_from_a_managed_setting(managed, workspace, extends):
    path = managed(DENY_SYSTEM)
    own = write(
        workspace,
        f'version = 1\nextends = "{extends}"\n\n[[rules]]\nid = "code-policy"\nsource = "policy"\ndecision = "allow"\n',
    )
    loaded = load_effective(workspace)
    decision = decide(loaded.policy, [CALL_DENIED])
    assert decision.verdict is Verdict.REVIEW
    assert (decision.reasons[0].layer, decision.reasons[0].rule_id) == ("managed", "code-policy")
    # (Permissive hides and protects fewer files than balanced, the default: those refusals are
    # test_workspace_file_lists's.)
    (refusal,) = [r for r in loaded.refusals if not r.key.startswith("files.")]
    assert (refusal.path, refusal.line, refusal.key) == (str(own), 7, "rules[0].decision")
    assert (
        "would loosen the managed floor's rule code-policy (source policy, severity medium -> review)"
        in refusal.message
    )
    assert f"({BALANCED}:{rule_line('code-policy')}, the preset {path} extends)" in refusal.message
    assert refusal.message.endswith("the managed decision applies")


def test_any_overlapping_allow_rule_is_named_not_only_a_reused_id(managed, workspace):
    managed(
        'version = 1\n[[rules]]\nid = "no-egress"\nsource = "sandbox"\nrule = "network.denied"\ndecision = "block"\n'
    )
    write(
        workspace,
        'version = 1\n\n[[rules]]\nid = "quiet"\nsource = "sandbox"\nrule = "network.*"\ndecision = "allow"\n'
        '\n[[rules]]\nid = "limits-ok"\nsource = "sandbox"\nrule = "limit.time"\ndecision = "review"\n',
    )
    loaded = load_effective(workspace)
    assert [(r.line, r.key) for r in loaded.refusals] == [(7, "rules[0].decision")]
    assert "rule no-egress (source sandbox, rule network.denied -> block)" in loaded.refusals[0].message
    finding = Finding("sandbox", "network.denied", Level.HIGH, Level.HIGH, "connected")
    assert decide(loaded.policy, [finding]).verdict is Verdict.BLOCK


def test_a_lower_layer_cannot_reuse_a_managed_rule_id(managed, workspace):
    path = managed('version = 1\n\n[[rules]]\nid = "no-pickle"\nsource = "bandit"\nrule = "B301"\ndecision = "block"\n')
    own = write(
        workspace, 'version = 1\n\n[[rules]]\nid = "no-pickle"\nsource = "bandit"\nrule = "B301"\ndecision = "review"\n'
    )
    loaded = load_effective(workspace)
    (refusal,) = loaded.refusals
    assert (refusal.path, refusal.line, refusal.key) == (str(own), 4, "rules[0].id")
    assert refusal.message == (
        f'"no-pickle" is the id of the managed rule no-pickle ({path}:4); a lower layer cannot '
        "reuse it: this rule is dropped and the managed rule applies"
    )
    assert "no-pickle" not in {r.id for r in loaded.policy.rules}  # dropped
    assert loaded.sources["managed-rules.no-pickle"] == f"managed:{path}"


def test_the_floor_is_the_preset_the_managed_policy_extends(managed, workspace):
    managed('version = 1\nextends = "strict"\n')
    write(workspace, 'version = 1\nextends = "permissive"\n')
    policy = load_effective(workspace).policy
    assert policy.floor_default is Verdict.REVIEW  # strict's default
    low = Finding("bandit", "B404", Level.LOW, Level.HIGH, "import subprocess")
    assert decide(policy, [low]).verdict is Verdict.REVIEW
    managed("version = 1\n")
    policy = load_effective(workspace).policy
    assert policy.floor_default is Verdict.ALLOW and "code-policy" in {r.id for r in policy.floor_rules}  # balanced
    assert decide(policy, [low]).verdict is Verdict.ALLOW


# -- the sandbox run -----------------------------------------------------------------------------


def test_a_lower_layer_cannot_turn_the_run_off_under_a_managed_policy(managed, workspace, tmp_path):
    path = managed(
        'version = 1\n[[rules]]\nid = "no-egress"\nsource = "sandbox"\nrule = "network.denied"\ndecision = "block"\n'
    )
    (tmp_path / "mine.toml").write_text("version = 1\n\n[sandbox]\nrequired = false\nbackends = []\n")
    loaded = load_effective(workspace, explicit=tmp_path / "mine.toml")  # even the user's own file
    assert loaded.policy.sandbox.required is True and loaded.policy.sandbox.backends == ("docker", "bwrap")
    refused = {r.key: r for r in loaded.refusals}
    assert set(refused) == {"sandbox.required", "sandbox.backends"}
    backends = refused["sandbox.backends"]
    assert (backends.path, backends.line) == (str(tmp_path / "mine.toml"), 5)
    assert backends.message == (
        f"[] is looser than the managed policy allows; refused by the managed floor's rule sandbox.backends = "
        f'["docker", "bwrap"] ({BALANCED}:{preset_line(("sandbox", "backends"))}, the preset {path} extends); '
        "the managed value applies"
    )


def test_a_lower_layer_cannot_shrink_the_managed_backends(managed, workspace, tmp_path):
    path = managed('version = 1\n\n[sandbox]\nbackends = ["docker", "bwrap"]\n')
    (tmp_path / "mine.toml").write_text('version = 1\n[sandbox]\nbackends = ["docker"]\n')
    loaded = load_effective(workspace, explicit=tmp_path / "mine.toml")
    assert loaded.policy.sandbox.backends == ("docker", "bwrap")
    (refusal,) = loaded.refusals
    assert refusal.message.startswith(
        '["docker"] is looser than the managed policy allows; refused by the managed rule '
        f'sandbox.backends = ["docker", "bwrap"] ({path}:4)'
    )


def test_a_managed_policy_may_turn_the_run_off_where_the_user_does_too(managed, workspace, tmp_path):
    off = "version = 1\n[sandbox]\nrequired = false\nbackends = []\n"
    managed(off)
    (tmp_path / "mine.toml").write_text(off)
    loaded = load_effective(workspace, explicit=tmp_path / "mine.toml")
    assert (loaded.policy.sandbox.required, loaded.policy.sandbox.backends, loaded.refusals) == (False, (), [])


@pytest.mark.parametrize(
    ("backends", "kept", "refused"),
    [
        ('["docker"]', ("docker",), False),  # narrowed to the stronger: fine
        ('["bwrap", "docker"]', ("bwrap", "docker"), False),  # the order is no preference (auto: strongest first)
        ('["bwrap"]', ("docker", "bwrap"), True),  # a weaker backend than the preset's best
        ("[]", ("docker", "bwrap"), True),  # no run at all
    ],
)
def test_a_workspace_may_narrow_the_backends_only_by_dropping_weaker_ones(
    no_managed, workspace, backends, kept, refused
):
    own = write(workspace, f"version = 1\n\n[sandbox]\nbackends = {backends}\n")
    loaded = load_effective(workspace)
    assert loaded.policy.sandbox.backends == kept
    assert [(r.path, r.line, r.key) for r in loaded.refusals] == (
        [(str(own), 4, "sandbox.backends")] if refused else []
    )
    if refused:
        assert loaded.refusals[0].message.endswith(
            f'refused by the preset balanced\'s rule sandbox.backends = ["docker", "bwrap"] '
            f"({BALANCED}:{preset_line(('sandbox', 'backends'))}); the preset's value applies"
        )


def test_a_workspace_cannot_turn_off_a_required_run(no_managed, workspace):
    write(workspace, "version = 1\n[sandbox]\nrequired = false\n")
    loaded = load_effective(workspace)
    assert loaded.policy.sandbox.required is True
    assert loaded.refusals[0].message.startswith("false would show suggestions that never ran")


def test_the_users_own_policy_file_may_pick_any_backend(no_managed, workspace, tmp_path):
    (tmp_path / "mine.toml").write_text('version = 1\n[sandbox]\nrequired = false\nbackends = ["bwrap"]\n')
    loaded = load_effective(workspace, explicit=tmp_path / "mine.toml")
    assert (loaded.policy.sandbox.required, loaded.policy.sandbox.backends, loaded.refusals) == (False, ("bwrap",), [])


# -- end to end: `sandgate vet` shows the decision holds -------------------------------------------


def sandgate(*args: str, cwd: Path, managed: Path | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "SANDGATE_MANAGED_POLICY")}
    if managed is not None:
        env["SANDGATE_MANAGED_POLICY"] = str(managed)
    return subprocess.run(
        [sys.executable, "-m", "sandgate", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=180
    )


def vet_json(workspace: Path, code: str, *extra: str, managed: Path | None) -> tuple[dict, str]:
    (workspace / "s.py").write_text(code)
    done = sandgate("vet", "--format", "json", "--no-audit", *extra, "s.py", cwd=workspace, managed=managed)
    assert done.returncode in (0, 1), done.stderr
    return json.loads(done.stdout)["results"][0], done.stderr


def test_vet_managed_deny_calls_stays_review_under_a_workspace_allow_rule(workspace, tmp_path):
    (tmp_path / "managed.toml").write_text(DENY_SYSTEM)
    write(
        workspace,
        'version = 1\nextends = "permissive"\n\n[[rules]]\nid = "code-policy"\nsource = "policy"\n'
        'decision = "allow"\n\n[[rules]]\nid = "rules-medium"\nsource = "rules"\ndecision = "allow"\n',
    )
    result, stderr = vet_json(
        workspace, "import os\nos.system('make clean')\n", "--backend", "bwrap", managed=tmp_path / "managed.toml"
    )
    assert result["decision"] == "review"
    denied = [r for r in result["reasons"] if r["finding"] == "policy:call.denied"]
    assert denied and (denied[0]["layer"], denied[0]["policy_rule"]) == ("managed", "code-policy")
    assert 'rules[0].decision: "allow" for source policy would loosen the managed floor\'s rule code-policy' in stderr


def test_vet_a_reused_managed_rule_id_is_dropped(workspace, tmp_path):
    (tmp_path / "managed.toml").write_text(
        'version = 1\n[[rules]]\nid = "no-pickle"\nsource = "bandit"\nrule = "B301"\ndecision = "block"\n'
    )
    write(workspace, 'version = 1\n[[rules]]\nid = "no-pickle"\nsource = "bandit"\ndecision = "allow"\n')
    result, stderr = vet_json(
        workspace, "import pickle\n\ndef load(b):\n    return pickle.loads(b)\n", managed=tmp_path / "managed.toml"
    )
    assert result["decision"] == "block" and result["reasons"][0]["policy_rule"] == "no-pickle"
    assert "is the id of the managed rule no-pickle" in stderr


CONNECT = (
    "import socket\n\ntry:\n    socket.create_connection(('203.0.113.5', 80), timeout=1)\nexcept OSError:\n    pass\n"
)


def test_vet_a_workspace_cannot_skip_the_run_that_a_managed_block_needs(workspace, tmp_path):
    (tmp_path / "managed.toml").write_text(
        'version = 1\n[[rules]]\nid = "no-egress"\nsource = "sandbox"\nrule = "network.denied"\ndecision = "block"\n'
    )
    write(workspace, "version = 1\n[sandbox]\nrequired = false\nbackends = []\n")
    result, stderr = vet_json(workspace, CONNECT, "--backend", "bwrap", managed=tmp_path / "managed.toml")
    assert result["sandbox"]["backend"] == "bwrap"
    assert result["decision"] == "block" and result["reasons"][0]["finding"] == "sandbox:network.denied"
    assert "sandbox.backends: [] would skip the sandbox run" in stderr


def test_vet_auto_picks_docker_whatever_a_workspace_lists(workspace, tmp_path):
    # No managed policy here (as on the CI machines): the workspace guard alone decides.
    assert not Path("/etc/sandgate/policy.toml").exists(), "this machine has a managed policy of its own"
    write(workspace, 'version = 1\n[sandbox]\nbackends = ["bwrap"]\n')
    result, stderr = vet_json(workspace, "print('hi')\n", managed=None)
    assert result["sandbox"]["backend"] == "docker"
    assert 'sandbox.backends: ["bwrap"] picks a weaker backend than the preset allows' in stderr
    # The user's own policy file may choose bwrap.
    (tmp_path / "mine.toml").write_text('version = 1\n[sandbox]\nbackends = ["bwrap"]\n')
    result, stderr = vet_json(workspace, "print('hi')\n", "--policy", str(tmp_path / "mine.toml"), managed=None)
    assert result["sandbox"]["backend"] == "bwrap" and "refused" not in stderr


def test_policy_validate_and_show_list_the_refusals(workspace, tmp_path):
    (tmp_path / "managed.toml").write_text(DENY_SYSTEM)
    own = write(
        workspace,
        'version = 1\n[[rules]]\nid = "code-policy"\nsource = "policy"\ndecision = "allow"\n'
        '[sandbox]\nbackends = ["bwrap"]\n',
    )
    validated = sandgate("policy", "validate", str(own), cwd=workspace, managed=tmp_path / "managed.toml")
    assert validated.returncode == 0, validated.stdout
    lines = validated.stdout.splitlines()
    assert lines[-1] == f"{own}: ok"
    assert any(
        line.startswith(f'{own}:7: sandbox.backends: ["bwrap"] picks a weaker backend') and line.endswith("(warning)")
        for line in lines
    )
    assert any(line.startswith(f"{own}:5: rules[0].decision:") for line in lines)
    shown = sandgate("policy", "show", cwd=workspace, managed=tmp_path / "managed.toml")
    refused = [line for line in shown.stdout.splitlines() if line.startswith("# refused: ")]
    assert len(refused) == 2 and "# the managed floor, evaluated apart" in shown.stdout


# -- the security pack ---------------------------------------------------------------------------


def test_a_lower_layer_turns_off_only_pack_rules_the_managed_policy_lets_it(managed, workspace):
    """A pack rule that is off gives no finding the floor could decide: under a managed `[pack]
    disable`, lower layers may turn off only what one of its globs covers."""
    managed('version = 1\n[pack]\ndisable = ["log.*"]\nenable = ["crypto.unauthenticated-mode"]\n')
    write(workspace, 'version = 1\n[pack]\ndisable = ["log.injection", "sql.*"]\nenable = []\n')
    loaded = load_effective(workspace)
    assert loaded.policy.pack.disable == ("log.injection",)
    assert loaded.policy.pack.enable == ("crypto.unauthenticated-mode",)  # the managed entries stay
    (refusal,) = loaded.refusals
    assert refusal.key == "pack.disable" and "sql.*" in refusal.message


def test_without_a_managed_pack_list_a_workspace_may_turn_pack_rules_off(managed, workspace):
    managed("version = 1\n")
    write(workspace, 'version = 1\n[pack]\ndisable = ["log.injection"]\nseverity = ["web.ssrf=high"]\n')
    loaded = load_effective(workspace)
    assert not loaded.refusals
    assert loaded.policy.pack.disable == ("log.injection",) and loaded.policy.pack.severity == ("web.ssrf=high",)
