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

from sandgate.audit import folder as folders

_guard = threading.Lock()
_thread_locks: dict[tuple[int, int, str], threading.Lock] = {}


def _thread_lock(dir_fd: int, name: str) -> threading.Lock:
    # The folder's identity, not its path: the same folder reached by two spellings is one lock.
    st = os.fstat(dir_fd)
    with _guard:
        return _thread_locks.setdefault((st.st_dev, st.st_ino, name), threading.Lock())


@contextmanager
def exclusive(dir_fd: int, folder: Path, name: str) -> Iterator[None]:
    """Hold the log's lock file `name` in the folder `dir_fd` exclusively for the block
    (never through a link: `folders.open_file`)."""
    with _thread_lock(dir_fd, name):
        fd = folders.open_file(dir_fd, folder, name, os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


@contextmanager
def shared(path: Path, root: Path | None = None) -> Iterator[None]:
    """Keep writers out while reading (a rotation mid-read would look like tampering).

    Best effort: a log copied somewhere read-only, without its lock file, is read unlocked.
    flock excludes between open file descriptions, so this also waits for writers in this
    process. A lock file that is a link is not opened (AuditError).
    """
    dir_fd = folders.open_folder(path.parent, root, create=False)
    if dir_fd is None:
        yield
        return
    try:
        fd = folders.open_file(dir_fd, path.parent, path.name, os.O_RDONLY)
    except OSError:
        yield
        return
    finally:
        os.close(dir_fd)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)  # closing releases the lock
