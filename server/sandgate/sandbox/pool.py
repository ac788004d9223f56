"""A warm pool: items made ahead of need by background threads, each handed out once.

`size` items per key are kept ready, made by up to `fillers` threads at once: a pool sized to the
number of runs that can be in flight, refilled in parallel as soon as one is taken, keeps up with
those runs (bench/throughput.py). Items are never returned: a used container is discarded, so no run sees another's state. Items
older than `max_age_s` are replaced: what a sandbox was made with (the workspace files it hides,
a copy of the workspace) is never older than that when a run takes it.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable, Mapping
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")


VET_CONCURRENCY_ENV = "SANDGATE_VET_CONCURRENCY"


def vet_concurrency(environ: Mapping[str, str] | None = None, cores: int | None = None) -> int:
    """How many vets run at once (the language server's vet slots, lsp/vet_slots.py), and so how
    much sandbox work the machine takes: `SANDGATE_VET_CONCURRENCY` when it is a positive whole
    number, else one fewer than the cores (at least one), leaving a core to what the user waits on."""
    given = (os.environ if environ is None else environ).get(VET_CONCURRENCY_ENV, "").strip()
    if given.isdigit() and int(given) > 0:
        return int(given)
    return max(1, (cores if cores is not None else os.cpu_count() or 2) - 1)


def burst_size() -> int:
    """Sandboxes a pool keeps ready when making one is slow (Docker): room for a burst of vets, a
    few more than the language server runs at once (lsp/vet_slots.py), which take them in turn."""
    return max(4, min(8, os.cpu_count() or 2))


class WarmPool(Generic[K, T]):
    def __init__(
        self,
        make: Callable[[K], T],
        discard: Callable[[T], None],
        size: int = 2,
        max_keys: int = 2,
        name: str = "sandgate-pool",
        max_age_s: float = 60.0,
        fillers: int = 1,
        handoff_s: float = 0.0,
    ) -> None:
        """`handoff_s`: how long a `take` that finds no item waits for one already being made
        (0: never), rather than have its caller make another at the same time."""
        self._make, self._discard = make, discard
        self.size, self.max_keys, self.max_age_s = size, max_keys, max_age_s
        self.fillers = max(1, fillers)
        self.handoff_s = handoff_s
        # insertion order = least recently wanted first; each item with the time it was made
        self._items: OrderedDict[K, deque[tuple[float, T]]] = OrderedDict()
        self._making: dict[K, int] = {}  # items being made now, per key
        self._cond = threading.Condition()
        self._closed = False
        self._failures = 0
        self._threads: list[threading.Thread] = []
        self._name = name

    def take(self, key: K) -> T | None:
        """A warm item for `key`, or None (the caller makes one cold). Marks `key` as wanted."""
        with self._cond:
            if self._closed:
                return None
            self._want(key)
            stale = self._expire()
            self._cond.notify_all()  # a filler may start on this key now
            items = self._items[key]
            until = time.monotonic() + self.handoff_s
            # One being made will be ready sooner than one the caller would start now, on a
            # machine busy making it: wait for it, a while.
            while not items and self._making.get(key) and not self._closed and time.monotonic() < until:
                self._cond.wait(timeout=until - time.monotonic())
                items = self._items.get(key) or deque()
            item = items.popleft()[1] if items else None
            self._cond.notify_all()
        for old in stale:
            self._safe_discard(old)
        return item

    def want(self, key: K) -> None:
        with self._cond:
            if not self._closed:
                self._want(key)
                self._cond.notify_all()

    def idle(self) -> list[T]:
        with self._cond:
            return [item for items in self._items.values() for _, item in items]

    def close(self) -> None:
        with self._cond:
            self._closed = True
            items = [item for q in self._items.values() for _, item in q]
            self._items.clear()
            self._cond.notify_all()
        for item in items:
            self._safe_discard(item)
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout=30)

    def making(self) -> int:
        """Items being made right now (for tests and benchmarks)."""
        with self._cond:
            return sum(self._making.values())

    # -- internals (call with the lock held) -------------------------------------------------------
    def _want(self, key: K) -> None:
        if key in self._items:
            self._items.move_to_end(key)
        else:
            self._items[key] = deque()
            while len(self._items) > self.max_keys:
                _, old = self._items.popitem(last=False)
                for _, item in old:
                    threading.Thread(target=self._safe_discard, args=(item,), daemon=True).start()
        while len(self._threads) < self.fillers:
            thread = threading.Thread(target=self._fill_loop, name=self._name, daemon=True)
            self._threads.append(thread)
            thread.start()

    def _next_missing(self) -> K | None:
        for key in reversed(self._items):  # most recently wanted first
            if len(self._items[key]) + self._making.get(key, 0) < self.size:
                return key
        return None

    def _expire(self) -> list[T]:
        """Take out items older than `max_age_s` (the caller discards them, outside the lock)."""
        cutoff = time.monotonic() - self.max_age_s
        stale: list[T] = []
        for q in self._items.values():
            while q and q[0][0] < cutoff:
                stale.append(q.popleft()[1])
        return stale

    def _next_expiry(self) -> float | None:
        oldest = [q[0][0] for q in self._items.values() if q]
        return min(oldest) + self.max_age_s - time.monotonic() if oldest else None

    def _fill_loop(self) -> None:
        while True:
            with self._cond:
                stale = self._expire()
                while not stale and not self._closed and self._next_missing() is None:
                    self._cond.wait(timeout=self._next_expiry())
                    stale = self._expire()
                if self._closed:
                    for old in stale:
                        self._safe_discard(old)
                    return
                key = self._next_missing()
                if key is not None:
                    self._making[key] = self._making.get(key, 0) + 1
            for old in stale:
                self._safe_discard(old)
            if key is None:
                continue
            try:
                item = self._make_one(key)
            finally:
                with self._cond:
                    self._making[key] -= 1
                    if not self._making[key]:
                        del self._making[key]
                    self._cond.notify_all()  # a failed item is missing again
            if item is None:
                continue
            with self._cond:
                if self._closed or key not in self._items or len(self._items[key]) >= self.size:
                    keep = False
                else:
                    self._items[key].append((time.monotonic(), item))
                    keep = True
                    self._cond.notify_all()  # a take may be waiting for it
            if not keep:
                self._safe_discard(item)

    def _make_one(self, key: K) -> T | None:
        """One item for `key`, or None when making it failed (after a back-off that grows with
        the failures in a row: the engine may be gone)."""
        backoff = min(0.2 * (2**self._failures), 10.0) if self._failures else 0.0
        if backoff:
            with self._cond:
                self._cond.wait(timeout=backoff)
                if self._closed:
                    return None
        try:
            item = self._make(key)
        except Exception as exc:  # noqa: BLE001 - retried with back-off
            with self._cond:
                self._failures = min(self._failures + 1, 6)
            log.debug("pool refill failed: %s", exc)
            return None
        with self._cond:
            self._failures = 0
        return item

    def _safe_discard(self, item: T) -> None:
        try:
            self._discard(item)
        except Exception:  # noqa: BLE001
            log.debug("discarding a pooled item failed", exc_info=True)
