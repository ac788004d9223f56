"""A repository's own policy may add to `files.exclude` and `files.protected`, never remove from
them: every spelling of a removal is refused with the file and line, and the preset's entries stay
in effect. Written as the attacker who writes the repository would try it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from sandgate.policy.load import load_effective
from sandgate.workspace_globs import matching_glob

from .test_policy_layers import managed

BALANCED = load_effective(None, preset="balanced").policy.files
PERMISSIVE = load_effective(None, preset="permissive").policy.files


def _write(workspace, text: str) -> str:
    path = workspace / ".sandgate" / "policy.toml"
    path.write_text(text)
    return str(path)


def _hidden(files, relpath: str) -> bool:
    return matching_glob(relpath, files.exclude) is not None


@pytest.mark.parametrize(
    "text",
    [
        'version = 1\n[network]\nallow_hosts = ["127.0.0.1:8080"]\n[files]\nexclude = []\n',
        "version = 1\nfiles.exclude = []\n",  # a dotted key at the top
        'version = 1\n[files]\n"exclude" = []\n',  # a quoted key
        "version = 1\n\n[files.exclude]\n",  # not a list at all: fails closed (strict)
    ],
)
def test_an_empty_exclude_list_hides_what_the_preset_hides(workspace, text):
    _write(workspace, text)
    loaded = load_effective(workspace)
    files = loaded.policy.files
    assert set(BALANCED.exclude) <= set(files.exclude)
    for secret in (".env", "config/.env.local", "deploy.pem", "secrets/db.txt", ".aws/credentials"):
        assert _hidden(files, secret), secret
    assert loaded.refusals or loaded.errors


def test_the_refusal_names_the_file_the_line_and_the_preset_entries_kept(workspace):
    path = _write(workspace, 'version = 1\n[network]\nallow_hosts = ["127.0.0.1:8080"]\n[files]\nexclude = []\n')
    loaded = load_effective(workspace)
    [refusal] = loaded.refusals
    assert (refusal.path, refusal.line, refusal.key) == (path, 5, "files.exclude")
    text = str(refusal)
    assert text.startswith(f"{path}:5: files.exclude: this list leaves out [")
    assert '"**/.env"' in text and "balanced.toml:289" in text
    assert "a workspace policy may add to files.exclude, never remove from it" in text
    assert loaded.policy.network.allow_hosts == ("127.0.0.1:8080",)  # allowed hosts are the repository's to declare


def test_an_empty_protected_list_protects_what_the_preset_protects(workspace):
    path = _write(workspace, "version = 1\n[files]\nprotected = []\n")
    loaded = load_effective(workspace)
    assert set(BALANCED.protected) <= set(loaded.policy.files.protected)
    [refusal] = loaded.refusals
    assert (refusal.path, refusal.line, refusal.key) == (path, 3, "files.protected")
    assert '".vscode/**"' in refusal.message


def test_entries_may_be_added_and_the_added_ones_apply(workspace):
    both = ", ".join(f'"{p}"' for p in (*BALANCED.exclude, "local/*.sqlite"))
    _write(workspace, f'version = 1\n[files]\nexclude = [{both}]\nprotected = ["Makefile"]\n')
    loaded = load_effective(workspace)
    files = loaded.policy.files
    assert _hidden(files, "local/db.sqlite") and _hidden(files, ".env")
    assert matching_glob("Makefile", files.protected) and matching_glob(".git/config", files.protected)
    # Only the protected list left entries out (it names one of its own, no preset entry).
    assert [r.key for r in loaded.refusals] == ["files.protected"]


def test_a_pattern_rewritten_to_match_less_is_refused_and_the_original_kept(workspace):
    rest = ", ".join(f'"{p}"' for p in BALANCED.exclude if p != "**/.env")
    _write(workspace, f'version = 1\n[files]\nexclude = ["**/.env.example", {rest}]\n')
    loaded = load_effective(workspace)
    assert _hidden(loaded.policy.files, ".env")
    [refusal] = loaded.refusals
    assert 'leaves out ["**/.env"]' in refusal.message


def test_a_respelled_entry_is_not_a_removal(workspace):
    # The matcher ignores case and reads `\` as `/`: `**\.ENV` hides what `**/.env` does.
    rest = ", ".join(f'"{p}"' for p in BALANCED.exclude if p != "**/.env")
    _write(workspace, f'version = 1\n[files]\nexclude = [" **\\\\.ENV ", {rest}]\n')
    loaded = load_effective(workspace)
    assert not loaded.refusals
    assert "**/.env" in loaded.policy.files.exclude and _hidden(loaded.policy.files, ".env")


def test_a_negated_pattern_hides_more_never_less(workspace):
    # The matcher has no `!` negation (as `.gitignore` has): `!.env` is one more name to hide.
    _write(workspace, 'version = 1\n[files]\nexclude = ["!.env", "!**/.env", "!*"]\n')
    files = load_effective(workspace).policy.files
    assert _hidden(files, ".env") and _hidden(files, "sub/.env")
    assert _hidden(files, "!.env")
    assert not _hidden(files, "app.py")


def test_exclude_under_another_table_is_an_error_and_the_strict_preset_applies(workspace):
    _write(workspace, "version = 1\n[sandbox]\nexclude = []\n")
    loaded = load_effective(workspace)
    assert [e.key for e in loaded.errors] == ["sandbox.exclude"]
    assert loaded.preset == "strict" and _hidden(loaded.policy.files, ".env")


def test_extends_cannot_pick_a_preset_that_hides_or_protects_less(workspace):
    path = _write(workspace, 'version = 1\nextends = "permissive"\n')
    loaded = load_effective(workspace)
    assert loaded.preset == "permissive"
    files = loaded.policy.files
    assert "**/secrets/**" not in PERMISSIVE.exclude and _hidden(files, "secrets/db.txt")
    assert ".vscode/**" not in PERMISSIVE.protected and matching_glob(".vscode/tasks.json", files.protected)
    refused = {r.key: r for r in loaded.refusals}
    assert set(refused) == {"files.exclude", "files.protected"}
    assert refused["files.exclude"].path == path and refused["files.exclude"].line == 2
    assert 'extends = "permissive" leaves out ["**/secrets/**"]' in refused["files.exclude"].message
    assert loaded.sources["files.exclude"] == "preset:balanced"


def test_extends_may_pick_the_preset_the_user_chose(workspace):
    _write(workspace, 'version = 1\nextends = "permissive"\n')
    loaded = load_effective(workspace, preset="permissive")
    assert not loaded.refusals and loaded.policy.files == PERMISSIVE


def test_your_own_file_may_remove_entries(tmp_path):
    own = tmp_path / "own.toml"
    own.write_text("version = 1\n[files]\nexclude = []\nprotected = []\n")
    loaded = load_effective(None, explicit=own)
    assert loaded.policy.files.exclude == () and loaded.policy.files.protected == ()
    assert not loaded.refusals


def test_a_managed_list_stays_whatever_the_workspace_says(monkeypatch, tmp_path, workspace):
    managed(monkeypatch, tmp_path, 'version = 1\n[files]\nexclude = ["corp/**"]\n')
    _write(workspace, "version = 1\n[files]\nexclude = []\n")
    files = load_effective(workspace).policy.files
    assert _hidden(files, "corp/keys.txt") and _hidden(files, ".env")


def test_a_workspace_cannot_choose_the_sandbox_image(workspace):
    path = _write(workspace, 'version = 1\n[sandbox]\nimage = "mycompany/app:latest"\n')
    loaded = load_effective(workspace)
    assert loaded.policy.sandbox.image is None
    [refusal] = loaded.refusals
    assert (refusal.path, refusal.line, refusal.key) == (path, 3, "sandbox.image")
    assert "only a managed policy or your own --policy file may" in refusal.message


def test_your_own_file_may_choose_the_sandbox_image(tmp_path):
    own = tmp_path / "own.toml"
    own.write_text('version = 1\n[sandbox]\nimage = "mine:1"\n')
    loaded = load_effective(None, explicit=own)
    assert loaded.policy.sandbox.image == "mine:1" and not loaded.refusals


def test_policy_validate_and_show_list_the_refusal(workspace, tmp_path):
    _write(workspace, "version = 1\n[files]\nexclude = []\n")
    env_cmd = [sys.executable, "-m", "sandgate", "policy"]
    validate = subprocess.run(
        [*env_cmd, "validate", ".sandgate/policy.toml"], cwd=workspace, capture_output=True, text=True, timeout=60
    )
    shown = subprocess.run([*env_cmd, "show"], cwd=workspace, capture_output=True, text=True, timeout=60)
    for done in (validate, shown):
        assert "policy.toml:3: files.exclude: this list leaves out" in done.stdout + done.stderr, done
    assert '"**/.env"' in next(line for line in shown.stdout.splitlines() if line.startswith("files.exclude ="))


# -- a managed policy that cannot be read: its error alone, not the strict stand-in's comparisons --


@pytest.mark.parametrize("kind", ["syntax", "missing", "folder"])
def test_a_broken_managed_policy_reports_only_its_own_error(monkeypatch, tmp_path, workspace, kind):
    if kind == "syntax":
        path = managed(monkeypatch, tmp_path, "version = 1\n[network\nallow_hosts=[]\n")
    else:
        path = tmp_path / ("absent.toml" if kind == "missing" else "folder")
        if kind == "folder":
            path.mkdir()
        monkeypatch.setenv("SANDGATE_MANAGED_POLICY", str(path))
    loaded = load_effective(workspace)
    [error] = loaded.errors
    assert error.path == str(path)
    assert error.line == (2 if kind == "syntax" else 0)
    assert not loaded.refusals  # balanced's values against the strict stand-in are not the user's to fix
    assert loaded.policy.sandbox.limits.wall_time_s == 2  # the stand-in still applies: strict's limit
    assert loaded.policy.floor_default.name == "REVIEW"


def test_a_broken_managed_policy_keeps_the_workspace_refusals(monkeypatch, tmp_path, workspace):
    managed(monkeypatch, tmp_path, "version = 1\n[network\n")
    path = _write(workspace, "version = 1\n[files]\nexclude = []\n")
    loaded = load_effective(workspace)
    assert [(r.path, r.key) for r in loaded.refusals] == [(path, "files.exclude")]


@pytest.mark.parametrize("kind", ["syntax", "missing", "folder"])
def test_vet_with_a_broken_managed_policy_prints_only_its_error(tmp_path, kind):
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "a.py").write_text("x = 1\n")
    path = tmp_path / {"syntax": "bad.toml", "missing": "absent.toml", "folder": "dir"}[kind]
    if kind == "syntax":
        path.write_text("version = 1\n[network\nallow_hosts=[]\n")
    elif kind == "folder":
        path.mkdir()
    env = {**os.environ, "SANDGATE_MANAGED_POLICY": str(path)}
    done = subprocess.run(
        [sys.executable, "-m", "sandgate", "vet", "--no-audit", "a.py"],
        cwd=ws,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert "warning" not in done.stderr and "balanced.toml" not in done.stderr, done.stderr
    assert lines[0].startswith(f"sandgate: error: {path}" + (":2: not valid TOML" if kind == "syntax" else ": ")), lines
    assert len(lines) == 2 and lines[1].startswith("sandgate: the policy is broken"), lines
