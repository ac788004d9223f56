"""Vet slots: at most `size` vets at once, in turn; a cancelled vet that waits never starts, one that
runs keeps its slot until its thread is done (real threads, a real event loop)."""

from __future__ import annotations

import asyncio
import threading
import time

from sandgate.lsp.vet_slots import VetSlots, vet_concurrency


class Probe:
    """A vet stand-in that records how many ran at once and in which order they started."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = 0
        self.most = 0
        self.started: list[int] = []

    def vet(self, i: int, seconds: float = 0.03) -> int:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
            self.started.append(i)
        time.sleep(seconds)
        with self.lock:
            self.now -= 1
        return i * 10


async def test_no_more_than_size_at_once_and_in_turn():
    slots, probe = VetSlots(2), Probe()
    try:
        tasks = []
        for i in range(7):
            tasks.append(asyncio.ensure_future(slots.run(probe.vet, i)))
            await asyncio.sleep(0)  # arrival order is the order asked
        results = await asyncio.gather(*tasks)
    finally:
        slots.shutdown()
    assert results == [i * 10 for i in range(7)]
    assert probe.most == 2
    assert probe.started == list(range(7))
    assert slots.waited == 5 and slots.running == 0 and slots.waiting == 0


async def test_a_vet_cancelled_while_it_waits_never_starts():
    slots, probe = VetSlots(1), Probe()
    try:
        first = asyncio.ensure_future(slots.run(probe.vet, 1, 0.1))
        await asyncio.sleep(0.01)
        stale = asyncio.ensure_future(slots.run(probe.vet, 2))
        after = asyncio.ensure_future(slots.run(probe.vet, 3))
        await asyncio.sleep(0.01)
        assert slots.waiting == 2
        stale.cancel()  # the document moved on before its turn
        assert await first == 10 and await after == 30
        assert stale.cancelled()
    finally:
        slots.shutdown()
    assert probe.started == [1, 3]


async def test_a_vet_cancelled_while_it_runs_keeps_its_slot_until_its_thread_ends():
    slots = VetSlots(1)
    release, finished = threading.Event(), threading.Event()
    started_next: list[float] = []

    def stuck() -> None:
        release.wait(5)
        finished.set()

    def next_one() -> None:
        started_next.append(time.monotonic())

    try:
        running = asyncio.ensure_future(slots.run(stuck))
        await asyncio.sleep(0.05)
        running.cancel()
        waiting = asyncio.ensure_future(slots.run(next_one))
        await asyncio.sleep(0.2)
        # The cancelled vet's thread (its sandbox) still runs: the next one may not start yet.
        assert started_next == [] and slots.running == 1 and slots.waiting == 1
        released = time.monotonic()
        release.set()
        await asyncio.wait_for(waiting, 5)
    finally:
        release.set()
        slots.shutdown()
    assert finished.is_set() and running.cancelled()
    assert started_next and started_next[0] >= released


async def test_a_vet_that_raises_gives_its_slot_back():
    slots = VetSlots(1)

    def broken() -> None:
        raise ValueError("a bug in a check")

    try:
        for _ in range(3):
            try:
                await slots.run(broken)
            except ValueError:
                pass
            else:
                raise AssertionError("the error did not reach the caller")
        assert await slots.run(lambda: "ok") == "ok"
    finally:
        slots.shutdown()
    assert slots.running == 0


def test_slots_leave_a_core_free_unless_told_otherwise():
    assert vet_concurrency({}, cores=2) == 1
    assert vet_concurrency({}, cores=1) == 1
    assert vet_concurrency({}, cores=8) == 7
    assert vet_concurrency({"SANDGATE_VET_CONCURRENCY": "3"}, cores=2) == 3
    for junk in ("0", "-2", "many", ""):
        assert vet_concurrency({"SANDGATE_VET_CONCURRENCY": junk}, cores=4) == 3
