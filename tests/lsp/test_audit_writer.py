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
