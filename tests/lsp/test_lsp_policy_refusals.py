"""A workspace policy's values that the managed policy (or the workspace guard) refuses reach the
editor: warnings on the policy file, at the line of the refused value, naming the rule and its place."""

from __future__ import annotations

from lsp_helpers import Doc, by_code, inline, session, wait_for
from lsprotocol import types

MANAGED = 'version = 1\n\n[code]\ndeny_calls = ["os.system"]\n\n[[rules]]\nid = "no-pickle"\nsource = "bandit"\nrule = "B301"\ndecision = "block"\n'
WORKSPACE = """version = 1
extends = "permissive"

[[rules]]
id = "code-policy"
source = "policy"
decision = "allow"

[[rules]]
id = "no-pickle"
source = "bandit"
decision = "allow"

[sandbox]
backends = []

[files]
exclude = []
"""


async def test_refusals_are_warnings_on_the_workspace_policy_file(tmp_path, fake_model):
    managed = tmp_path / "managed.toml"
    managed.write_text(MANAGED)
    workspace = tmp_path / "ws"
    (workspace / ".sandgate").mkdir(parents=True)
    policy = workspace / ".sandgate" / "policy.toml"
    policy.write_text(WORKSPACE)
    options = {"script": {"def clean(": "os.system('rm -rf build')\n"}}
    async with session(workspace, fake_model, {"SANDGATE_MANAGED_POLICY": str(managed)}, options) as client:
        diagnostics = await wait_for(lambda: by_code(client.diagnostics.get(policy.as_uri(), []), "policy-refused"))
        by_line = {d.range.start.line + 1: d for d in diagnostics}
        # code-policy's decision, no-pickle's id, sandbox.backends, files.exclude (the session's
        # settings choose permissive, so the file's `extends = "permissive"` leaves nothing out).
        assert set(by_line) == {7, 10, 15, 18}
        undercut, reused, backends = by_line[7].message, by_line[10].message, by_line[15].message
        assert undercut.startswith(
            'rules[0].decision: "allow" for source policy would loosen the managed floor\'s rule code-policy'
        )
        assert "balanced.toml:" in undercut and f"the preset {managed} extends" in undercut
        assert undercut.endswith("the managed decision applies")
        assert reused.startswith(f'rules[1].id: "no-pickle" is the id of the managed rule no-pickle ({managed}:7)')
        assert backends.startswith("sandbox.backends: [] would skip the sandbox run")
        assert backends.endswith("the preset's value applies")
        exclude = by_line[18].message
        assert exclude.startswith('files.exclude: this list leaves out ["**/.env", ')
        assert "never remove from it" in exclude
        status = client.statuses[-1]
        assert sum(r.startswith("policy value refused: ") for r in status["failClosed"]) == 4

        # The floor holds: the managed deny_calls finding is held for review, the workspace's allow
        # rule notwithstanding.
        doc = Doc(client, workspace / "clean.py", "import os\n\n\ndef clean():\n    ")
        assert list((await inline(client, doc)).items) == []
        (held,) = await wait_for(lambda: by_code(doc.diagnostics(), "held-for-review"))
        assert "call.denied" in held.message


NEVER_DECIDES = """version = 1
extends = "balanced"

[[rules]]
id = "shell-ok-here"
source = "rules"
rule = "shell.spawn"
decision = "allow"
"""


async def test_a_rule_that_never_decides_is_a_warning_on_the_workspace_policy_file(tmp_path, fake_model):
    """As `sandgate policy validate` says it: an allow beside the preset's stricter rule changes nothing."""
    managed = tmp_path / "managed.toml"
    managed.write_text("version = 1\n")
    workspace = tmp_path / "ws"
    (workspace / ".sandgate").mkdir(parents=True)
    policy = workspace / ".sandgate" / "policy.toml"
    policy.write_text(NEVER_DECIDES)
    async with session(workspace, fake_model, {"SANDGATE_MANAGED_POLICY": str(managed)}, {}) as client:
        (warning,) = await wait_for(
            lambda: by_code(client.diagnostics.get(policy.as_uri(), []), "policy-rule-never-decides")
        )
        assert warning.range.start.line + 1 == 5 and warning.severity == types.DiagnosticSeverity.Warning
        assert warning.message.startswith("rules[0]: rule shell-ok-here (source=rules, rule=shell.spawn -> allow)")
        assert "rule rules-medium (source=rules, severity=medium -> review; preset:balanced)" in warning.message
