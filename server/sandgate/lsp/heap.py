"""Full garbage collections that do not stall the event loop.

The server holds hundreds of thousands of long-lived objects (its modules, the rules, bandit's
plugins, the grammars, lsprotocol's converters). Python's full collection walks every one of them:
a 50 ms pause on the event loop, under load every few seconds. Once the server has loaded what it
keeps (after its first vet, which loads the checks' lazy parts), those objects are frozen
(`gc.freeze`): later full collections walk only what requests allocate. A new runtime (a policy
reload) unfreezes them first, so what the old one leaves is collected, and the next vet settles again.
"""

from __future__ import annotations

import gc
import logging
import time

log = logging.getLogger(__name__)

_settled = False


def settle() -> None:
    """Collect once, then freeze what is alive (idempotent until `unsettle`)."""
    global _settled
    if _settled:
        return
    _settled = True
    started = time.perf_counter()
    gc.collect()
    gc.freeze()
    log.debug(
        "heap settled: %d objects frozen in %.1f ms", gc.get_freeze_count(), (time.perf_counter() - started) * 1000
    )


def unsettle() -> None:
    """Let the frozen objects be collected again (the next `settle` freezes what is alive then)."""
    global _settled
    _settled = False
    gc.unfreeze()


def settled() -> bool:
    return _settled
