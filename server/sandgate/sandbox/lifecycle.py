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
from collections.abc import Callable

log = logging.getLogger(__name__)

_lock = threading.Lock()
_live: dict[str, Callable[[], None]] = {}
_installed = False


def register(key: str, kill: Callable[[], None]) -> None:
    _install()
    with _lock:
        _live[key] = kill


def unregister(key: str) -> None:
    with _lock:
        _live.pop(key, None)


def is_live(key: str) -> bool:
    with _lock:
        return key in _live


def kill_all() -> None:
    with _lock:
        items = list(_live.items())
        _live.clear()
    for key, kill in items:
        try:
            kill()
        except Exception:  # cleanup must go on whatever one kill does
            log.debug("cleanup of %s failed", key, exc_info=True)


def _install() -> None:
    global _installed
    with _lock:
        if _installed:
            return
        _installed = True
    atexit.register(kill_all)
    if threading.current_thread() is not threading.main_thread():
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
