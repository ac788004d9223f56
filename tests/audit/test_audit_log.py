"""`AuditLog.append`: the stored record, durability, exclusion between writers, repair."""

from __future__ import annotations

import json
import os
import threading
import time
from datetime import UTC, datetime

import pytest

import sandgate.audit.log as audit_log
from sandgate.audit import AuditError, AuditLog, verify
from sandgate.audit import files as audit_files
from sandgate.audit.chain import GENESIS, sha256_hex


def test_append_returns_the_stored_record(tmp_path, decision_record):
    path = tmp_path / ".sandgate" / "audit.jsonl"
    log = AuditLog(path)
    first = log.append(decision_record(1))
    second = log.append(decision_record(2))
    lines = path.read_bytes().splitlines()
    assert [json.loads(line) for line in lines] == [first, second]
    assert first["seq"] == 1 and second["seq"] == 2
    assert first["prev"] == GENESIS and second["prev"] == sha256_hex(lines[0])
    assert len(first["hash"]) == 64 and first["hash"] != second["hash"]
    ts = datetime.fromisoformat(first["ts"])
    assert ts.tzinfo is not None and ts.utcoffset().total_seconds() == 0 and first["ts"].endswith("Z")
    assert abs((datetime.now(UTC) - ts).total_seconds()) < 60
    # The caller's fields are stored as given.
    assert {k: first[k] for k in decision_record(1)} == decision_record(1)


def test_append_is_durable_before_it_returns(tmp_path, monkeypatch):
    calls = []
    real_write, real_fsync = audit_log._write_all, os.fsync
    monkeypatch.setattr(
        audit_log, "_write_all", lambda fd, data: (calls.append(("write", fd, data)), real_write(fd, data))[1]
    )
    monkeypatch.setattr(os, "fsync", lambda fd: (calls.append(("fsync", fd, None)), real_fsync(fd))[1])
    path = tmp_path / "audit.jsonl"
    AuditLog(path).append({"event": "decision"})
    line = path.read_bytes()
    write_at = next(i for i, c in enumerate(calls) if c[0] == "write" and c[2] == line)
    log_fd = calls[write_at][1]
    # The record's own file is fsynced after the write (and the new file's directory too).
    assert ("fsync", log_fd, None) in calls[write_at + 1 :]
    assert sum(1 for c in calls[write_at + 1 :] if c[0] == "fsync") >= 2


@pytest.mark.parametrize("bad", [{"seq": 3}, {"hash": "x"}, {"prev": "x"}, {"ts": "now"}])
def test_chain_keys_are_the_logs_own(tmp_path, bad):
    with pytest.raises(ValueError, match="may not set"):
        AuditLog(tmp_path / "audit.jsonl").append({"event": "decision", **bad})


@pytest.mark.parametrize("bad", [{"x": {1, 2}}, {"x": float("nan")}, {"x": b"bytes"}])
def test_only_plain_json_is_accepted(tmp_path, bad):
    path = tmp_path / "audit.jsonl"
    with pytest.raises(ValueError):
        AuditLog(path).append(bad)
    assert not path.exists()


def test_threads_do_not_interleave(tmp_path):
    path = tmp_path / "audit.jsonl"
    per_thread, threads = 40, 6

    def work(tag):
        log = AuditLog(path)  # one instance each: the lock is per path, not per object
        for i in range(per_thread):
            log.append({"event": "decision", "writer": tag, "i": i, "pad": "x" * (i * 37 % 500)})

    workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    report = verify(path)
    assert report.ok and report.records == per_thread * threads
    records = [json.loads(line) for line in path.read_bytes().splitlines()]
    for tag in range(threads):  # each writer's records in its own order
        assert [r["i"] for r in records if r["writer"] == tag] == list(range(per_thread))


def test_processes_do_not_interleave(tmp_path, start_writer):
    path = tmp_path / "audit.jsonl"
    procs = [start_writer(path, 60, f"p{n}") for n in range(3)]
    log = AuditLog(path)
    for i in range(60):
        log.append({"event": "decision", "writer": "main", "i": i})
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
        assert len(out.split()) == 60
    report = verify(path)
    assert report.ok and report.records == 240
    seqs = [json.loads(line)["seq"] for line in path.read_bytes().splitlines()]
    assert seqs == list(range(1, 241))


def test_processes_rotating_concurrently_keep_one_chain(tmp_path, start_writer):
    path = tmp_path / "audit.jsonl"
    procs = [start_writer(path, 40, f"p{n}") for n in range(2)]
    log = AuditLog(path, max_bytes=4000)
    for i in range(40):
        log.append({"event": "decision", "i": i})
    for proc in procs:
        proc.communicate(timeout=120)
    # The writers do not rotate (max_bytes=None) but must follow the rotations of this one.
    report = verify(path)
    assert report.ok and report.records == 120
    assert len(audit_files.rotated_files(path)) >= 1


def test_torn_tail_is_moved_aside_and_recorded(make_log):
    log = make_log(3)
    torn = b'{"decided_by":"policy","event":"deci'
    with open(log.path, "ab") as handle:
        handle.write(torn)
    report = verify(log.path)
    assert not report.ok and report.first_bad == 4 and "torn" in report.message

    stored = AuditLog(log.path).append({"event": "decision", "decision": "allow"})
    assert stored["seq"] == 5
    records = [json.loads(line) for line in log.path.read_bytes().splitlines()]
    repair = records[3]
    assert repair["event"] == "repair" and repair["seq"] == 4
    assert repair["torn_bytes"] == len(torn) and repair["torn_sha256"] == sha256_hex(torn)
    assert (log.path.parent / repair["saved_to"]).read_bytes() == torn
    assert verify(log.path).ok


def test_unreadable_last_record_refuses_to_append(make_log):
    log = make_log(2)
    with open(log.path, "ab") as handle:
        handle.write(b"this is not a record\n")
    with pytest.raises(AuditError, match="audit verify"):
        AuditLog(log.path).append({"event": "decision"})


def test_verify_while_a_writer_rotates_sees_a_consistent_log(tmp_path, start_writer):
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, max_bytes=1500)
    log.append({"event": "decision"})
    writer = start_writer(path, 150, "w")  # appends through the same lock from another process
    stop = threading.Event()

    def rotate():
        while not stop.is_set():
            log.append({"event": "decision", "pad": "y" * 200})

    rotator = threading.Thread(target=rotate)
    rotator.start()
    try:
        reports = []
        deadline = time.monotonic() + 30
        while (len(reports) < 40 or len(audit_files.rotated_files(path)) < 3) and time.monotonic() < deadline:
            reports.append(verify(path))
    finally:
        stop.set()
        rotator.join()
        writer.communicate(timeout=120)
    assert all(r.ok for r in reports), [r.message for r in reports if not r.ok][:1]
    assert len(audit_files.rotated_files(path)) >= 3  # verified across rotations, not beside them


def test_append_all_is_one_write_and_says_when_its_records_are_written(tmp_path, monkeypatch):
    path = tmp_path / "audit.jsonl"
    head = audit_files.head_path(path)
    log = AuditLog(path)
    log.append({"event": "first"})
    writes = []
    real_write = audit_log._write_all
    monkeypatch.setattr(audit_log, "_write_all", lambda fd, data: (writes.append(bytes(data)), real_write(fd, data))[1])
    seen = []
    order = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (order.append("fsync"), real_fsync(fd))[1])

    def written(stored):
        # Called once the lines are written, before their fsync and before the head names them
        # (the head may lag by design): a waiting answer does not wait on the disk.
        order.append("written")
        seen.append(([r["seq"] for r in stored], len(path.read_bytes().splitlines()), json.loads(head.read_bytes())))

    stored = log.append_all([{"event": "a"}, {"event": "b"}], on_written=written)
    assert [r["seq"] for r in stored] == [2, 3]
    assert seen == [([2, 3], 3, {"hash": json.loads(path.read_bytes().splitlines()[0])["hash"], "seq": 1})]
    assert order[0] == "written" and order.count("fsync") >= 2  # the lines' own, then the head's
    records = [w for w in writes if b'"prev":' in w]
    assert len(records) == 1 and records[0].count(b"\n") == 2  # both lines in one write
    assert json.loads(head.read_bytes())["seq"] == 3
    assert verify(path).ok and verify(path).records == 3
