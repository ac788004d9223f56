"""`sandgate vet` when its audit log cannot take a record, or its workspace is not there: a clear
message and exit status 2 (a broken set-up), no traceback, nothing reported that was not
recorded, and nothing written outside the workspace (run as a user runs it)."""

from __future__ import annotations

from pathlib import Path

from .conftest import STATIC_POLICY
from .test_pipeline_and_cli import sandgate

VICTIM = b"my notes\nthe last line has no newline"
BODY = "return path\n"
APP = "import os\n\n\ndef f(path):\n    \n"


def _vet_into(ws: Path, *extra: str):
    (ws / "app.py").write_text(APP)
    (ws / "body.txt").write_text(BODY)
    return sandgate("vet", "--policy", STATIC_POLICY, *extra, "--into", "app.py", "--at", "5:5", "body.txt", cwd=ws)


def _clean_error(done, *needles: str) -> None:
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    assert done.stdout == ""  # nothing reported that was not recorded
    for needle in needles:
        assert needle in done.stderr, (needle, done.stderr)


def test_a_log_linked_outside_is_refused_with_exit_2_and_the_target_untouched(static_workspace, tmp_path):
    victim = tmp_path / "elsewhere" / "victim3"
    victim.parent.mkdir()
    victim.write_bytes(VICTIM)
    (static_workspace / ".sandgate").mkdir(exist_ok=True)
    link = static_workspace / ".sandgate" / "audit.jsonl"
    link.symlink_to(victim)
    done = _vet_into(static_workspace)
    _clean_error(done, str(link), "symbolic link", "Remove the link")
    assert victim.read_bytes() == VICTIM
    assert not list(static_workspace.glob(".sandgate/audit.jsonl.torn-*"))


def test_a_sandgate_folder_linked_outside_is_refused(static_workspace, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "audit.jsonl").write_bytes(VICTIM)
    sandgate_dir = static_workspace / ".sandgate"
    if sandgate_dir.exists():
        for item in sandgate_dir.iterdir():
            item.rename(static_workspace / item.name)
        sandgate_dir.rmdir()
    sandgate_dir.symlink_to(elsewhere, target_is_directory=True)
    done = _vet_into(static_workspace)
    _clean_error(done, str(sandgate_dir), "symbolic link")
    assert sorted(p.name for p in elsewhere.iterdir()) == ["audit.jsonl"]
    assert (elsewhere / "audit.jsonl").read_bytes() == VICTIM
    # `audit verify` (its default log, in the current folder) does not read through it either.
    verified = sandgate("audit", "verify", cwd=static_workspace)
    assert verified.returncode == 1 and "symbolic link" in verified.stdout


def test_an_unreadable_last_record_is_a_clear_error_with_exit_2(static_workspace):
    assert _vet_into(static_workspace).returncode in (0, 1)  # a real log first
    log = static_workspace / ".sandgate" / "audit.jsonl"
    with open(log, "ab") as handle:
        handle.write(b"this is not a record\n")
    before = log.read_bytes()
    done = _vet_into(static_workspace)
    _clean_error(done, str(log), "not a JSON record", "sandgate audit verify", "--no-audit")
    assert log.read_bytes() == before
    # --no-audit is the way to vet without the log.
    assert _vet_into(static_workspace, "--no-audit").returncode in (0, 1)


def test_a_workspace_that_does_not_exist_is_exit_2_and_nothing_is_created(static_workspace, tmp_path):
    missing = tmp_path / "nonexistent"
    (static_workspace / "s.py").write_text("x = 1\n")
    done = sandgate("vet", "--policy", STATIC_POLICY, "--workspace", str(missing), "s.py", cwd=static_workspace)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"--workspace {missing}: does not exist" in done.stderr
    assert not missing.exists()
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    done = sandgate("vet", "--policy", STATIC_POLICY, "--workspace", str(a_file), "s.py", cwd=static_workspace)
    assert done.returncode == 2 and "is not a folder" in done.stderr
