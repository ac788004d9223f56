"""A writer killed with SIGKILL mid-stream loses no record it had reported written.

The writer prints each record's seq only after `append` has returned. The parent kills it
at a random moment, then checks that every reported seq is in the log, that only the last
line can be torn, and that a torn line is reported by `verify`, never accepted.
"""

from __future__ import annotations

import json
import random
import signal
import threading
import time

import pytest

from sandgate.audit import AuditLog, verify


class Reported:
    """Seqs read from a writer's stdout, as they arrive."""

    def __init__(self, proc):
        self.seqs: list[int] = []
        self._thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._thread.start()

    def _read(self, proc):
        for raw in proc.stdout:
            if raw.endswith(b"\n"):  # a half-printed number was not reported
                self.seqs.append(int(raw))

    def wait_for(self, count: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while len(self.seqs) < count and time.monotonic() < deadline:
            time.sleep(0.005)
        assert len(self.seqs) >= count, "the writer did not get going"

    def join(self) -> None:
        self._thread.join(timeout=30)


def check_after_kill(path, reported: list[int]) -> bool:
    """The properties that must hold after a kill; returns whether the last line was torn."""
    data = path.read_bytes()
    lines = data.split(b"\n")
    complete, tail = lines[:-1], lines[-1]
    seqs = [json.loads(line)["seq"] for line in complete]  # every complete line is a record
    assert seqs == list(range(1, len(seqs) + 1))
    missing = set(reported) - set(seqs)
    assert not missing, f"reported but lost: {sorted(missing)}"
    report = verify(path)
    if tail:
        assert not report.ok, "a torn last line was accepted"
        assert report.first_bad == len(complete) + 1 and "torn" in report.message
    else:
        assert report.ok, report.message
    return bool(tail)


@pytest.mark.parametrize("slow_tear", [False, True], ids=["plain", "slow-writes"])
def test_sigkill_at_random_moments_loses_nothing_reported(tmp_path, start_writer, slow_tear):
    rng = random.Random(7 + slow_tear)
    for round_ in range(4):
        path = tmp_path / f"round{round_}" / "audit.jsonl"
        env = {"SLOW_TEAR": "1"} if slow_tear else {}
        proc = start_writer(path, 100000, "k", **env)
        reported = Reported(proc)
        reported.wait_for(3)
        time.sleep(rng.uniform(0.0, 0.25))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        reported.join()
        assert proc.returncode == -signal.SIGKILL
        check_after_kill(path, reported.seqs)
        # The next writer carries on: the torn line, if any, is moved aside and recorded.
        AuditLog(path).append({"event": "decision", "decision": "allow"})
        assert verify(path).ok


def test_kill_mid_record_tears_the_last_line_and_verify_says_so(tmp_path, start_writer):
    path = tmp_path / "audit.jsonl"
    proc = start_writer(path, 100, "k", SELF_KILL="6")  # dies halfway through record 6
    reported = Reported(proc)
    proc.wait(timeout=60)
    reported.join()
    assert proc.returncode == -signal.SIGKILL
    assert reported.seqs == [1, 2, 3, 4, 5]
    assert check_after_kill(path, reported.seqs) is True
    report = verify(path)
    assert report.first_bad == 6 and report.records == 5

    stored = AuditLog(path).append({"event": "decision", "decision": "allow"})
    assert stored["seq"] == 7
    assert json.loads(path.read_bytes().splitlines()[5])["event"] == "repair"
    assert verify(path).ok


def test_killing_one_of_two_writers_leaves_the_other_and_the_chain_whole(tmp_path, start_writer):
    path = tmp_path / "audit.jsonl"
    victim = start_writer(path, 100000, "victim", SLOW_TEAR="1")
    survivor = start_writer(path, 150, "survivor")
    victim_seqs = Reported(victim)
    victim_seqs.wait_for(5)
    time.sleep(random.Random(11).uniform(0.0, 0.2))
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)
    victim_seqs.join()
    out, err = survivor.communicate(timeout=120)
    assert survivor.returncode == 0, err.decode()
    survivor_seqs = [int(s) for s in out.split()]
    assert len(survivor_seqs) == 150

    report = verify(path)
    assert report.ok, report.message  # a torn line of the victim was repaired by the survivor
    records = {r["seq"]: r for r in (json.loads(line) for line in path.read_bytes().splitlines())}
    assert set(victim_seqs.seqs) | set(survivor_seqs) <= set(records)
    assert all(records[s].get("writer") == "victim" for s in victim_seqs.seqs)
    assert all(records[s].get("writer") == "survivor" for s in survivor_seqs)
