"""How many vets run at once: a few slots, taken in turn, so vets never take the whole machine.

A vet is a sandbox run (processes, an engine's containers) and the static checks under the GIL.
On a small machine, vets side by side finish no sooner (the cores are the bound) but leave no core
for what the user waits on: the event loop's answers, the document checks and the editor itself.
So vets get `cores - 1` slots (at least one) and the rest wait their turn, in order. A vet whose
request is cancelled while it waits (the document moved on) never starts. One cancelled while it
runs keeps its slot until its thread is done: a thread cannot be stopped, and its sandbox still
uses the machine.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from sandgate.sandbox.pool import vet_concurrency

T = TypeVar("T")

__all__ = ["VetSlots", "vet_concurrency"]


class VetSlots:
    def __init__(self, size: int, thread_name_prefix: str = "sandgate-vet") -> None:
        self.size = size
        self.pool = ThreadPoolExecutor(max_workers=size, thread_name_prefix=thread_name_prefix)
        self._free = size
        self._waiters: list[asyncio.Future[None]] = []  # in arrival order
        self.waited = 0  # vets that found every slot taken

    @property
    def running(self) -> int:
        return self.size - self._free

    @property
    def waiting(self) -> int:
        return sum(1 for w in self._waiters if not w.done())

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(*args)` in a vet thread once a slot is free, in the caller's context (spans started
        there nest under the request's)."""
        await self._acquire()
        context = contextvars.copy_context()
        try:
            work: Future[T] = self.pool.submit(context.run, fn, *args)
        except BaseException:
            self._release()
            raise
        loop = asyncio.get_running_loop()
        work.add_done_callback(lambda _: _call_soon(loop, self._release))
        # Cancelling the caller cancels `work` if it has not started; else it runs to its end.
        return await asyncio.wrap_future(work)

    async def _acquire(self) -> None:
        if self._free > 0 and not self.waiting:
            self._free -= 1
            return
        self.waited += 1
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(turn)
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self._release()  # handed a slot in the same instant it was cancelled: pass it on
            raise
        finally:
            self._waiters.remove(turn)

    def _release(self) -> None:
        for turn in self._waiters:
            if not turn.done():
                turn.set_result(None)  # the slot passes to the next in line
                return
        self._free += 1

    def shutdown(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


def _call_soon(loop: asyncio.AbstractEventLoop, fn: Callable[[], None]) -> None:
    try:
        loop.call_soon_threadsafe(fn)
    except RuntimeError:  # the loop is closed: the server is gone, and its slots with it
        pass
