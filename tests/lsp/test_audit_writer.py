"""Audit appends run on a writer of their own: a slow audit log (another process holds its lock)
never holds up the quick pool's document checks, and records keep the order they were written in
(the real audit log, locked by a real second process)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

from sandgate.audit import files
from sandgate.audit.query import iter_records
from sandgate.lsp.audit import AuditSink
from sandgate.lsp.server import SandgateServer

HOLD = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
sys.stdin.readline()  # until the test lets go
"""


async def test_a_locked_audit_log_does_not_hold_up_quick_work_and_keeps_its_order(tmp_path):
    server = SandgateServer()
    server.audit = AuditSink(tmp_path, "test")
    assert server.audit.path is not None
    server.audit.append({"event": "first"})  # the log exists: its lock file is where appends wait
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(files.lock_path(server.audit.path))],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        writes = [
            asyncio.ensure_future(server.write_audit([{"event": f"w{i}a"}, {"event": f"w{i}b"}])) for i in range(3)
        ]
        one = asyncio.ensure_future(server.audit_record({"event": "one"}))
        await asyncio.sleep(0.1)
        # Both quick workers are free while every audit append waits on the lock.
        started = time.monotonic()
        quick = await asyncio.wait_for(asyncio.gather(server.blocking(lambda: 1), server.blocking(lambda: 2)), 2)
        assert quick == [1, 2] and time.monotonic() - started < 1.0
        assert not any(w.done() for w in writes) and not one.done()
    finally:
        assert holder.stdin is not None
        holder.stdin.write("go\n")
        holder.stdin.close()
        holder.wait(10)
    await asyncio.wait_for(asyncio.gather(*writes), 10)
    stored = await asyncio.wait_for(one, 10)
    assert stored is not None and stored["event"] == "one"
    events = [r["event"] for r in iter_records(server.audit.path)]
    assert events == ["first", "w0a", "w0b", "w1a", "w1b", "w2a", "w2b", "one"]
    server.audit_writer.shutdown(wait=True)
    server.quick_pool.shutdown(wait=True)
    server.vet_slots.shutdown()


async def test_an_answer_waits_for_the_write_not_the_disk_and_after_a_failed_fsync_for_the_whole(tmp_path, monkeypatch):
    # An inline answer waits on write_audit: it resolves once the log has taken the lines, before
    # their fsync. Once an fsync has failed, the next waits for its whole append, and fails closed.
    import errno
    import os
    import threading

    server = SandgateServer()
    server.audit = AuditSink(tmp_path, "test")
    real_fsync = os.fsync
    gate = threading.Event()
    mode = {"fsync": "hold"}

    def fsync(fd: int) -> None:
        if mode["fsync"] == "hold":
            gate.wait(10)
        elif mode["fsync"] == "fail":
            raise OSError(errno.EIO, "Input/output error")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    try:
        # The disk is slow: the answer does not wait for it.
        assert await asyncio.wait_for(server.write_audit([{"event": "shown"}]), 5) is True
        assert not gate.is_set()
        gate.set()
        await asyncio.sleep(0.2)
        mode["fsync"] = "fail"
        # The write is taken, its fsync fails afterwards: this answer was already given...
        assert await asyncio.wait_for(server.write_audit([{"event": "taken, not synced"}]), 5) is True
        await asyncio.wait_for(_until(lambda: server.audit.last_error is not None), 5)
        # ...and the next waits for its whole append, which fails: nothing is shown.
        assert await asyncio.wait_for(server.write_audit([{"event": "refused"}]), 5) is False
        mode["fsync"] = "ok"
        assert await asyncio.wait_for(server.write_audit([{"event": "again"}]), 5) is True
        assert server.audit.last_error is None
    finally:
        gate.set()
        server.audit_writer.shutdown(wait=True)
        server.quick_pool.shutdown(wait=True)
        server.vet_slots.shutdown()


async def _until(condition) -> None:
    while not condition():
        await asyncio.sleep(0.01)
