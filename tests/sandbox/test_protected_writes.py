"""`files.protected` at run time: a write the run attempts to a protected workspace file, through a
path no static check can read, is a `files.protected-write` finding from the run's record, and the
vet blocks it (preset rule protected-files). bubblewrap only: the finding comes from the record both
backends share (`sandbox/report.py`)."""

from __future__ import annotations

import shutil
import tempfile
import textwrap
from pathlib import Path

import pytest

from sandgate.findings import Verdict
from sandgate.pipeline import Vetter
from sandgate.policy.evaluate import decide_finding
from sandgate.policy.load import load_effective
from sandgate.policy.model import SandboxPolicy
from sandgate.sandbox.select import open_backend
from sandgate.suggestion import Suggestion
from tests.sandbox.conftest import run

PROTECTED = tuple(load_effective(None, preset="balanced").policy.files.protected)
# The path is a call's result: the static checks cannot spell it, only the run shows it.
WRITES = textwrap.dedent("""
    import os

    def under(*parts):
        return "/".join(parts)

    for path, how in ((under(".git", "config"), "open"), (under("src", "notes.txt"), "open"),
                      (under(".sandgate", "policy.toml"), "unlink")):
        try:
            if how == "open":
                open(path, "a").write("x")
            else:
                os.unlink(path)
        except OSError as e:
            print(path, e.errno)
""")


@pytest.fixture(scope="module")
def bwrap():
    backend, probes = open_backend("bwrap", SandboxPolicy(backends=("bwrap",)))
    assert backend is not None, f"bwrap backend unavailable: {probes}"
    return backend


@pytest.fixture
def workspace():
    """A workspace the sandbox user may enter (bound in read-only at /workspace)."""
    top = Path(tempfile.mkdtemp(prefix="sg-ws-protected-", dir="/tmp"))
    top.chmod(0o755)
    ws = top / "proj"
    for folder in (".git", ".sandgate", "src"):
        (ws / folder).mkdir(parents=True)
    (ws / ".git" / "config").write_text("[core]\n")
    (ws / ".sandgate" / "policy.toml").write_text("version = 1\n")
    (ws / "src" / "notes.txt").write_text("")
    for path in [ws, *ws.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    yield ws
    shutil.rmtree(top, ignore_errors=True)


def test_run_time_writes_to_protected_files_are_findings(bwrap, workspace):
    result, findings, rules = run(bwrap, WRITES, workspace=workspace, relpath="app.py", protected=PROTECTED)
    assert result.error is None and result.outside is not None and not result.outside.lost, result
    protected = {f.detail("path"): f for f in findings if f.rule == "files.protected-write"}
    assert set(protected) == {".git/config", ".sandgate/policy.toml"}, findings  # src/notes.txt is not protected
    assert protected[".git/config"].detail("pattern") == ".git/**"
    assert "fs.write-outside-scratch" in rules  # the write itself, as before
    # The workspace is read-only: nothing was written.
    assert (workspace / ".git" / "config").read_text() == "[core]\n"
    assert (workspace / ".sandgate" / "policy.toml").exists()
    balanced = load_effective(None, preset="balanced").policy
    reason = decide_finding(balanced, protected[".git/config"])
    assert reason.verdict is Verdict.BLOCK and reason.rule_id == "protected-files"


def test_nothing_protected_no_finding(bwrap, workspace):
    _, _, rules = run(bwrap, WRITES, workspace=workspace, relpath="app.py")
    assert "files.protected-write" not in rules and "fs.write-outside-scratch" in rules


def test_the_vet_blocks_a_run_that_writes_a_protected_file(bwrap, workspace, monkeypatch, tmp_path):
    (tmp_path / "managed.toml").write_text("version = 1\n")
    monkeypatch.setenv("SANDGATE_MANAGED_POLICY", str(tmp_path / "managed.toml"))
    vetter = Vetter(load_effective(workspace), backend="bwrap", workspace=workspace)
    try:
        result = vetter.vet(Suggestion(WRITES, path="app.py"))
    finally:
        vetter.close()
    assert result.sandbox is not None and result.sandbox.backend == "bwrap"
    assert result.verdict is Verdict.BLOCK
    assert any(r.rule_id == "protected-files" and r.finding.source == "sandbox" for r in result.reasons), result.reasons
