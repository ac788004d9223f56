"""Nothing outlives Sandgate: every live sandbox registers a kill function here.

On normal exit (atexit), Ctrl-C (KeyboardInterrupt unwinds to atexit) and SIGTERM (a handler that
kills, then hands over to the previous handler), every registered sandbox is killed. What a
SIGKILLed Sandgate leaves behind is reaped at the next start by label (see `docker_backend.py`).
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)

_lock = threading.Lock()
_changed = threading.Condition(_lock)
_live: dict[str, Callable[[], None]] = {}
# Run last, once the registered sandboxes are gone: sweeps by label for what slipped past the
# registry (a create whose answer never came back, a removal cut short by the exit).
_finals: dict[str, Callable[[], None]] = {}
_installed = False
_signal_installed = False
_making = 0  # sandboxes being made, not registered yet (a container create in flight)
_exiting = False
# How long the exit waits for sandboxes still being made (a container create is ~0.1-1 s).
MAKING_WAIT_S = 10.0


class Exiting(RuntimeError):
    """Sandgate is exiting: no new sandbox is made."""


@contextmanager
def making() -> Iterator[None]:
    """Around making a sandbox that registers itself once made. The exit waits for what is in
    flight (bounded) and kills it too: a warm-pool filler's container created while Sandgate
    exits would otherwise outlive it. Nothing new starts once the exit began."""
    global _making
    _install()
    with _changed:
        if _exiting:
            raise Exiting("Sandgate is exiting")
        _making += 1
    try:
        yield
    finally:
        with _changed:
            _making -= 1
            _changed.notify_all()


def register(key: str, kill: Callable[[], None]) -> None:
    _install()
    with _changed:
        _live[key] = kill
        _changed.notify_all()


def on_exit(key: str, sweep: Callable[[], None]) -> None:
    """`sweep` runs at exit after every registered sandbox was killed (one per key: the latest)."""
    _install()
    with _changed:
        _finals[key] = sweep


def unregister(key: str) -> None:
    with _lock:
        _live.pop(key, None)


def is_live(key: str) -> bool:
    with _lock:
        return key in _live


def kill_all() -> None:
    """Kill every registered sandbox, and those still being made once they are (Sandgate exits)."""
    global _exiting
    deadline = time.monotonic() + MAKING_WAIT_S
    with _changed:
        _exiting = True
    while True:
        with _changed:
            items = list(_live.items())
            _live.clear()
        for key, kill in items:
            try:
                kill()
            except Exception:  # cleanup must go on whatever one kill does
                log.debug("cleanup of %s failed", key, exc_info=True)
        with _changed:
            while _making and not _live and time.monotonic() < deadline:
                _changed.wait(max(0.0, min(0.1, deadline - time.monotonic())))
            if not _live:
                finals = list(_finals.items())
                _finals.clear()
                break
    for key, sweep in finals:
        try:
            sweep()
        except Exception:  # cleanup must go on whatever one sweep does
            log.debug("exit sweep %s failed", key, exc_info=True)


def install() -> None:
    """Arm the exit's cleanup now. Call it from the main thread at start-up: a SIGTERM handler can
    only be set there, and the first sandbox is often made by a pool filler thread (which then
    arms atexit only, and a SIGTERM would end the process with nothing cleaned up)."""
    _install()


def _install() -> None:
    global _installed, _signal_installed
    on_main = threading.current_thread() is threading.main_thread()
    with _lock:
        first = not _installed
        _installed = True
        arm_signal = on_main and not _signal_installed
        _signal_installed = _signal_installed or arm_signal
    if first:
        atexit.register(kill_all)
    if not arm_signal:
        return  # signal handlers can only be set from the main thread; atexit still covers exit
    previous = signal.getsignal(signal.SIGTERM)

    def on_term(signum, frame):  # noqa: ANN001
        kill_all()
        if callable(previous):
            previous(signum, frame)
        else:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)

    try:
        signal.signal(signal.SIGTERM, on_term)
    except ValueError:
        pass
