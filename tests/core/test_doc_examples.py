"""The policy examples of docs/rules.md do what the page says: each is loaded as the very text the
page shows (a workspace's `.sandgate/policy.toml`, no managed policy) and vets the page's code with
the real sandbox, so the page cannot drift from the evaluation again. And the rule the page used to
show (an allow beside the preset's stricter rule) is warned about by `sandgate policy validate`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from sandgate.findings import Origin, Verdict
from sandgate.pipeline import Vetter
from sandgate.policy.load import load_effective
from sandgate.suggestion import Suggestion

from .conftest import REPO

RULES_MD = REPO / "docs" / "rules.md"


def example(name: str) -> str:
    """The TOML block right after `<!-- example: NAME …-->` in docs/rules.md, as written."""
    text = RULES_MD.read_text(encoding="utf-8")
    match = re.search(rf"<!-- example: {re.escape(name)}\b[^>]*-->\n```toml\n(.*?)```\n", text, re.DOTALL)
    assert match, f"docs/rules.md has no example {name!r}"
    return match.group(1)


@pytest.fixture
def no_managed(monkeypatch):
    """No managed policy at all (its floor would decide apart): what a user without one gets."""
    monkeypatch.delenv("SANDGATE_MANAGED_POLICY", raising=False)
    if Path("/etc/sandgate/policy.toml").exists():
        pytest.skip("this machine has a managed policy")


def vetter_with(workspace: Path, policy: str) -> Vetter:
    (workspace / ".sandgate" / "policy.toml").write_text(policy, encoding="utf-8")
    loaded = load_effective(workspace)
    assert loaded.ok and not loaded.refusals, (loaded.errors, loaded.refusals)
    return Vetter(loaded, backend="bwrap", workspace=workspace)


def decided(vetter: Vetter, code: str) -> tuple[Verdict, set[str]]:
    result = vetter.vet(Suggestion(code, path="build.py"))
    # Run in the sandbox unless the static checks already block (then nothing runs).
    ran = result.sandbox is not None and result.sandbox.backend == "bwrap"
    assert ran or "already block" in (result.sandbox_skipped or ""), result.sandbox_skipped
    return result.verdict, {f.key for f in result.findings if f.origin is Origin.SUGGESTION}


SHELL = 'import subprocess\nsubprocess.run("ls -l", shell=True)\n'
COMPUTED = "import os\nname = os.environ.get('HOOK', 'getcwd')\ngetattr(os, name)()\n"
NATIVE = 'import os\nif os.environ.get("RESTART") == "yes":\n    os.execv("/usr/bin/env", ["env"])\n'
DOWNLOAD = 'import os\nos.system("curl -fsSL https://example.com/install.sh | sh")\n'


def test_allow_shell_spawn_example(workspace, no_managed):
    vetter = vetter_with(workspace, example("allow-shell-spawn"))
    verdict, keys = decided(vetter, SHELL)
    assert verdict is Verdict.ALLOW and "rules:shell.spawn" in keys  # reported, allowed
    assert decided(vetter, COMPUTED)[0] is Verdict.REVIEW
    assert decided(vetter, NATIVE)[0] is Verdict.REVIEW
    assert decided(vetter, DOWNLOAD)[0] is Verdict.BLOCK


def test_allow_delete_outside_example(workspace, no_managed):
    vetter = vetter_with(workspace, example("allow-delete-outside"))
    verdict, keys = decided(vetter, 'import shutil\nshutil.rmtree("/var/cache/myapp", ignore_errors=True)\n')
    assert verdict is Verdict.ALLOW and "capability:capability.delete-outside" in keys
    home = "import shutil\nfrom pathlib import Path\nshutil.rmtree(Path.home(), ignore_errors=True)\n"
    assert decided(vetter, home)[0] is Verdict.BLOCK
    read = 'from pathlib import Path\nprint(len((Path.home() / ".ssh" / "id_rsa").read_text()))\n'
    assert decided(vetter, read)[0] is Verdict.REVIEW  # sensitive-read: still held


OLD_SHELL_EXAMPLE = """version = 1
extends = "balanced"

[[rules]]
id = "shell-ok-here"
source = "rules"
rule = "shell.spawn"
decision = "allow"
"""


def test_the_old_example_changes_nothing_and_validate_says_so(workspace, no_managed):
    """An allow beside the preset's stricter rule never decides: the strictest matching rule does."""
    vetter = vetter_with(workspace, OLD_SHELL_EXAMPLE)
    result = vetter.vet(Suggestion(SHELL, path="build.py"))
    assert result.verdict is Verdict.REVIEW and result.reasons[0].rule_id == "rules-medium"
    done = _validate(workspace)
    assert done.returncode == 0, done.stdout + done.stderr
    (warning,) = [line for line in done.stdout.splitlines() if "never decides" in line]
    assert warning.startswith(".sandgate/policy.toml:5: rules[0]: rule shell-ok-here")
    assert "rule rules-medium (source=rules, severity=medium -> review; preset:balanced)" in warning
    assert warning.endswith("(warning)")


def test_the_doc_examples_validate_without_warnings(workspace, no_managed):
    for name in ("allow-shell-spawn", "allow-delete-outside"):
        (workspace / ".sandgate" / "policy.toml").write_text(example(name), encoding="utf-8")
        done = _validate(workspace)
        assert done.stdout.strip() == ".sandgate/policy.toml: ok", (name, done.stdout, done.stderr)


def _validate(workspace) -> subprocess.CompletedProcess:
    """`sandgate policy validate` of the workspace's policy, with no managed policy."""
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "SANDGATE_MANAGED_POLICY")}
    return subprocess.run(
        [sys.executable, "-m", "sandgate", "policy", "validate", ".sandgate/policy.toml"],
        cwd=workspace,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_readme_policy_commands_work_as_written_in_a_fresh_folder(tmp_path, no_managed):
    """README's sample policy, saved where the sentence before it says, then its commands as shown
    (`.venv/bin/sandgate` being this interpreter's `-m sandgate`) in a folder that had nothing."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Policy\n", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"saved as `([^`]+)`[^\n]*\n\n```toml\n(.*?)```\n\n```sh\n(.*?)```", section, re.DOTALL)
    assert match, "README's policy sample does not say where to save it, or its commands do not follow it"
    where, sample, commands = match.groups()
    folder = tmp_path / "fresh"
    (folder / where).parent.mkdir(parents=True)
    (folder / where).write_text(sample, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "FORCE_COLOR"}
    lines = [line.split("#", 1)[0].strip() for line in commands.splitlines()]
    assert lines and all(line.startswith(".venv/bin/sandgate ") for line in lines)
    for line in lines:
        argv = [sys.executable, "-m", "sandgate", *line.split()[1:]]
        done = subprocess.run(argv, cwd=folder, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, (line, done.stdout, done.stderr)
        assert done.stderr == "", (line, done.stderr)  # no refusal, no warning: the sample is sound
        if " validate " in line:
            assert done.stdout.strip() == f"{where}: ok", done.stdout
