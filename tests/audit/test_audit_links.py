"""A repository controls its `.sandgate/`: a symbolic link there (the folder, the log, its head,
lock, torn, rotated or temporary file) must never make Sandgate write, truncate or read a file
outside the workspace. Each case plants the link as an attacker would, appends through the
workspace's log, and checks the victim outside byte for byte."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from sandgate.audit import AuditError, AuditLog, verify, workspace_log
from sandgate.audit.query import iter_records

# What a victim file holds: a last line with no newline is what made a writer "repair" (truncate)
# it, and copy it into a torn side file, before links were refused.
VICTIM = b"ssh-ed25519 AAAAC3Nza... me@laptop\nlast line without a newline"


@pytest.fixture
def ws(tmp_path) -> Path:
    workspace = tmp_path / "repo"
    (workspace / ".sandgate").mkdir(parents=True)
    return workspace


@pytest.fixture
def outside(tmp_path) -> Path:
    place = tmp_path / "elsewhere"
    place.mkdir()
    return place


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` (links not followed) with its bytes: what must not change."""
    found = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink():
            found[str(path.relative_to(folder))] = path.read_bytes()
    return found


def refused(ws: Path, link: Path) -> AuditError:
    with pytest.raises(AuditError) as caught:
        workspace_log(ws).append({"event": "decision", "decision": "allow"})
    message = str(caught.value)
    assert str(link) in message and "symbolic link" in message and "Remove the link" in message
    return caught.value


@pytest.mark.parametrize("content", [VICTIM, b""], ids=["torn-looking", "empty"])
def test_a_log_that_is_a_link_is_refused_and_its_target_untouched(ws, outside, content):
    victim = outside / "victim"
    victim.write_bytes(content)
    link = ws / ".sandgate" / "audit.jsonl"
    link.symlink_to(victim)
    refused(ws, link)
    assert victim.read_bytes() == content
    # Nothing of the target was copied into the workspace either (no torn side file, no head).
    assert sorted(p.name for p in (ws / ".sandgate").iterdir()) == ["audit.jsonl", "audit.jsonl.lock"]
    assert link.is_symlink()


def test_a_dangling_log_link_does_not_create_its_target(ws, outside):
    target = outside / "created-by-sandgate"
    link = ws / ".sandgate" / "audit.jsonl"
    link.symlink_to(target)
    refused(ws, link)
    assert not target.exists()


def test_a_sandgate_folder_that_is_a_link_is_refused(tmp_path, outside):
    ws = tmp_path / "repo"
    ws.mkdir()
    (outside / "audit.jsonl").write_bytes(VICTIM)
    (outside / "notes.txt").write_bytes(b"mine")
    before = snapshot(outside)
    link = ws / ".sandgate"
    link.symlink_to(outside, target_is_directory=True)
    refused(ws, link)
    assert snapshot(outside) == before
    assert sorted(p.name for p in outside.iterdir()) == ["audit.jsonl", "notes.txt"]  # no lock, no head


def test_a_deeper_folder_link_is_refused_too(tmp_path, outside):
    # A log configured deeper than `.sandgate/` (the API allows any path below its root).
    ws = tmp_path / "repo"
    (ws / "a").mkdir(parents=True)
    (ws / "a" / "b").symlink_to(outside, target_is_directory=True)
    (outside / "audit.jsonl").write_bytes(VICTIM)
    with pytest.raises(AuditError, match="symbolic link"):
        AuditLog(ws / "a" / "b" / "audit.jsonl", root=ws).append({"event": "decision"})
    assert snapshot(outside) == {"audit.jsonl": VICTIM}


@pytest.mark.parametrize("side", ["audit.jsonl.head", "audit.jsonl.lock", "audit.jsonl.head.tmp"])
def test_a_side_file_that_is_a_link_is_refused_and_its_target_untouched(ws, outside, side):
    workspace_log(ws).append({"event": "decision", "n": 1})  # a real log first
    live_before = (ws / ".sandgate" / "audit.jsonl").read_bytes()
    victim = outside / "victim"
    victim.write_bytes(VICTIM)
    link = ws / ".sandgate" / side
    link.unlink(missing_ok=True)
    link.symlink_to(victim)
    refused(ws, link)
    assert victim.read_bytes() == VICTIM
    # Refused before anything was written: the log did not grow.
    assert (ws / ".sandgate" / "audit.jsonl").read_bytes() == live_before


def test_a_torn_side_file_that_is_a_link_is_refused_and_its_target_untouched(ws, outside):
    log = workspace_log(ws)
    log.append({"event": "decision", "n": 1})
    live = ws / ".sandgate" / "audit.jsonl"
    with open(live, "ab") as handle:
        handle.write(b'{"event":"deci')  # a torn last line: the next append moves it to torn-2
    victim = outside / "victim"
    victim.write_bytes(VICTIM)
    link = ws / ".sandgate" / "audit.jsonl.torn-2"
    link.symlink_to(victim)
    refused(ws, link)
    assert victim.read_bytes() == VICTIM


def test_a_torn_side_file_hard_linked_elsewhere_is_replaced_not_written_through(ws, outside):
    # Hard links are not what the link refusal is about (a repository cannot ship one), but
    # the side files a writer creates are made afresh, so one planted there is left alone.
    log = workspace_log(ws)
    log.append({"event": "decision", "n": 1})
    live = ws / ".sandgate" / "audit.jsonl"
    with open(live, "ab") as handle:
        handle.write(b'{"event":"deci')
    victim = outside / "victim"
    victim.write_bytes(VICTIM)
    os.link(victim, ws / ".sandgate" / "audit.jsonl.torn-2")
    stored = log.append({"event": "decision", "n": 2})
    assert stored["seq"] == 3
    assert victim.read_bytes() == VICTIM
    assert (ws / ".sandgate" / "audit.jsonl.torn-2").read_bytes() == b'{"event":"deci'
    assert verify(live, ws).ok


def test_a_rotated_file_that_is_a_link_is_refused(ws, outside):
    folder = ws / ".sandgate"
    victim = outside / "victim"
    victim.write_bytes(VICTIM)
    (folder / "audit.1.jsonl").symlink_to(victim)
    # The live file is empty, so the writer reads the last rotated file for its `prev`.
    with pytest.raises(AuditError, match="symbolic link"):
        AuditLog(folder / "audit.jsonl", root=ws).append({"event": "decision"})
    assert victim.read_bytes() == VICTIM


def test_rotation_never_writes_through_a_link(ws, outside):
    log = AuditLog(ws / ".sandgate" / "audit.jsonl", root=ws, max_bytes=200)
    for n in range(6):
        log.append({"event": "decision", "n": n})
    victim = outside / "victim"
    victim.write_bytes(VICTIM)
    rotated = sorted(p.name for p in (ws / ".sandgate").glob("audit.*.jsonl"))
    assert rotated  # rotation happened
    last = ws / ".sandgate" / rotated[-1]
    last.unlink()
    last.symlink_to(victim)
    # Rotation renames the live file to a new number: the link is never opened, nor renamed over.
    for n in range(6):
        log.append({"event": "decision", "n": n})
    assert victim.read_bytes() == VICTIM and last.is_symlink()
    report = verify(ws / ".sandgate" / "audit.jsonl", ws)
    assert not report.ok and "symbolic link" in report.message


def test_a_fifo_under_the_log_name_is_refused_without_hanging(ws):
    os.mkfifo(ws / ".sandgate" / "audit.jsonl")
    outcome: list[BaseException | None] = []

    def append() -> None:
        try:
            workspace_log(ws).append({"event": "decision"})
            outcome.append(None)
        except BaseException as exc:  # noqa: BLE001 - the test reports what happened
            outcome.append(exc)

    worker = threading.Thread(target=append, daemon=True)
    worker.start()
    worker.join(10)
    assert not worker.is_alive(), "the append hung on a FIFO"
    assert isinstance(outcome[0], AuditError) and "not a regular file" in str(outcome[0])


def test_readers_refuse_links_too(ws, outside):
    secret = outside / "secret.jsonl"
    secret.write_bytes(b'{"event":"decision","seq":1,"token":"s3cr3t"}\n')
    link = ws / ".sandgate" / "audit.jsonl"
    link.symlink_to(secret)
    report = verify(link, ws)
    assert not report.ok and "symbolic link" in report.message and "s3cr3t" not in report.message
    with pytest.raises(AuditError, match="symbolic link"):
        list(iter_records(link, ws))
    link.unlink()
    # A linked head file is not read either.
    workspace_log(ws).append({"event": "decision"})
    head = ws / ".sandgate" / "audit.jsonl.head"
    head.unlink()
    head.symlink_to(secret)
    report = verify(link, ws)
    assert not report.ok and str(head) in report.message and "symbolic link" in report.message


def test_a_sandgate_folder_link_is_not_read_through_for_the_workspace_log(tmp_path, outside):
    ws = tmp_path / "repo"
    ws.mkdir()
    AuditLog(outside / "audit.jsonl").append({"event": "decision"})
    (ws / ".sandgate").symlink_to(outside, target_is_directory=True)
    report = verify(ws / ".sandgate" / "audit.jsonl", ws)
    assert not report.ok and "symbolic link" in report.message


def test_the_workspace_itself_may_be_a_link(tmp_path):
    # Links above the root are the user's own choice (a workspace opened through a symlink).
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "alias").symlink_to(real, target_is_directory=True)
    stored = workspace_log(tmp_path / "alias").append({"event": "decision"})
    assert stored["seq"] == 1
    line = (real / ".sandgate" / "audit.jsonl").read_bytes()
    assert json.loads(line)["hash"] == stored["hash"]


def test_a_missing_workspace_is_not_created(tmp_path):
    gone = tmp_path / "nonexistent"
    with pytest.raises(AuditError, match="does not exist"):
        workspace_log(gone).append({"event": "decision"})
    assert not gone.exists()


@pytest.mark.parametrize("name", ["audit.jsonl", "audit.jsonl.head", "audit.jsonl.lock", "audit.jsonl.head.tmp"])
def test_check_refuses_what_append_would_and_creates_nothing(ws, outside, name):
    victim = outside / "victim"
    victim.write_bytes(VICTIM)
    (ws / ".sandgate" / name).symlink_to(victim)
    with pytest.raises(AuditError, match="symbolic link"):
        workspace_log(ws).check()
    assert victim.read_bytes() == VICTIM
    assert [p.name for p in (ws / ".sandgate").iterdir()] == [name]


def test_check_creates_nothing_on_a_fresh_workspace(tmp_path):
    ws = tmp_path / "fresh"
    ws.mkdir()
    workspace_log(ws).check()
    assert list(ws.iterdir()) == []
