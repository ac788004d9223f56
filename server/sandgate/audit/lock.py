"""One writer at a time per log, within a process and across processes.

`fcntl.flock` excludes other processes (and other open file descriptions in this one);
the thread lock in front of it keeps this process's threads from even contending for
the file lock, and makes the exclusion independent of how the OS treats flock between
threads.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_guard = threading.Lock()
_thread_locks: dict[str, threading.Lock] = {}


def _thread_lock(path: Path) -> threading.Lock:
    key = os.path.realpath(path)
    with _guard:
        return _thread_locks.setdefault(key, threading.Lock())


@contextmanager
def exclusive(path: Path) -> Iterator[None]:
    """Hold the log's lock file `path` exclusively for the duration of the block."""
    with _thread_lock(path):
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


@contextmanager
def shared(path: Path) -> Iterator[None]:
    """Keep writers out while reading (a rotation mid-read would look like tampering).

    Best effort: a log copied somewhere read-only, without its lock file, is read unlocked.
    flock excludes between open file descriptions, so this also waits for writers in this
    process.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)  # closing releases the lock
