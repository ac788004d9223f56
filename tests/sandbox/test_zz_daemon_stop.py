"""The Docker daemon stopped in the middle of a run: a clear error, no hang. Runs last (file name),
and always restarts the daemon afterwards.

It stops the machine's dockerd, so it runs only where that is wanted: CI sets
SANDGATE_TESTS_MAY_STOP_DOCKER=1 (`.ci/run`); on a developer's machine `scripts/test.sh` leaves it out
unless they set it too."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from sandgate.policy.model import SandboxLimits
from sandgate.sandbox.base import RunRequest
from sandgate.sandbox.docker_backend import DockerBackend
from sandgate.sandbox.run_findings import findings_from_run

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    os.environ.get("SANDGATE_TESTS_MAY_STOP_DOCKER") != "1",
    reason="stops the machine's Docker daemon: set SANDGATE_TESTS_MAY_STOP_DOCKER=1 (CI does)",
)


def _dockerd_pids() -> list[int]:
    out = subprocess.run(["pgrep", "-x", "dockerd"], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def _restart_engine() -> None:
    for _ in range(100):  # let the old daemon finish shutting down first
        if not _dockerd_pids():
            break
        time.sleep(0.2)
    subprocess.run(
        [str(REPO / "scripts" / "setup-sandbox.sh"), sys.executable], check=True, timeout=180, capture_output=True
    )


def test_daemon_stopped_mid_run_gives_a_clear_error():
    from sandgate.sandbox.select import close_all

    close_all()  # the session's shared backends: their pools would die with the engine
    pids = _dockerd_pids()
    assert pids, "this test needs the local dockerd started by scripts/setup-sandbox.sh"
    backend = DockerBackend(pool_size=1)
    try:
        req = RunRequest(code="while True:\n    pass\n", limits=SandboxLimits(wall_time_s=40, cpu_time_s=40))
        backend.warm(req)
        for _ in range(100):
            if backend.idle_container_ids():
                break
            time.sleep(0.1)

        def stop():
            time.sleep(1.5)
            for pid in pids:
                os.kill(pid, signal.SIGTERM)

        killer = threading.Thread(target=stop)
        killer.start()
        t0 = time.monotonic()
        result = backend.run(req)
        elapsed = time.monotonic() - t0
        killer.join()
        assert elapsed < 30, f"run hung for {elapsed:.1f}s"
        assert result.error, result
        assert "Docker" in result.error or "engine" in result.error
        findings = findings_from_run(result, req)
        assert [f.rule for f in findings] == ["backend.error"]
        # A run while the engine is down: also an error, at once.
        t0 = time.monotonic()
        again = backend.run(RunRequest(code="print(1)"))
        assert again.error and time.monotonic() - t0 < 30
    finally:
        backend.close()
        _restart_engine()
    fresh = DockerBackend(pool_size=1)
    try:
        result = fresh.run(RunRequest(code="print('back')"))
        assert result.error is None and result.stdout == "back\n"
    finally:
        fresh.close()
    # What the stopped engine kept us from removing is gone now too.
    mine = fresh.client.containers.list(all=True, filters={"label": f"sandgate.owner={fresh._owner}"})
    assert mine == []
