"""A settled heap: full collections walk only what was allocated since, and a reload lets the
frozen objects be collected again (the real gc, in this process)."""

from __future__ import annotations

import gc
import time
import weakref

from sandgate.lsp import heap


class Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the collector frees it


def _full_collection_ms() -> float:
    started = time.perf_counter()
    gc.collect()
    return (time.perf_counter() - started) * 1000


def test_settling_takes_what_the_server_keeps_out_of_full_collections():
    kept = [{"rule": i, "parts": [i, str(i)]} for i in range(300_000)]  # what a server loads and keeps
    try:
        before = min(_full_collection_ms() for _ in range(3))
        heap.settle()
        assert heap.settled() and gc.get_freeze_count() >= len(kept)
        after = min(_full_collection_ms() for _ in range(3))
        assert after * 4 < before, f"a full collection took {after:.1f} ms settled, {before:.1f} ms before"
    finally:
        heap.unsettle()
    assert not heap.settled() and gc.get_freeze_count() == 0
    del kept


def test_unsettling_lets_frozen_garbage_be_collected():
    old = Node()  # the old runtime's objects, frozen with the rest
    gone = weakref.ref(old)
    heap.settle()
    try:
        del old
        gc.collect()
        assert gone() is not None  # frozen: a full collection does not free its cycle
    finally:
        heap.unsettle()  # a policy reload
    gc.collect()
    assert gone() is None
