"""The audit log's folder and files, opened without ever following a symbolic link.

A repository controls what is in its `.sandgate/`: it can ship `audit.jsonl` (or the folder, the
head, the lock, a rotated file) as a symbolic link to any file the user can write, and a writer
that followed it would append records to that file, or truncate it while repairing a "torn" line.
So the folder is reached from a root the user chose (the workspace) one component at a time with
O_DIRECTORY|O_NOFOLLOW, and every file in it is opened relative to that descriptor with O_NOFOLLOW
and checked to be a regular file: a link is refused with an error naming it, and nothing can be
swapped in between a check and the open, since there is no separate check. Links above the root
(the workspace itself) are the user's own choice and are followed.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from sandgate.audit.errors import AuditError

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: a FIFO planted under a log name must not hang the open (it is then refused).
_FILE_FLAGS = os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK


def link_refused(path: Path) -> AuditError:
    return AuditError(
        f"{path} is a symbolic link: Sandgate never writes or reads its audit log through a link "
        f"(a repository could point it at any file of yours). Remove the link (rm '{path}'); "
        "Sandgate then creates the real file there."
    )


def _not_what_expected(path: Path, what: str) -> AuditError:
    return AuditError(f"{path} is not {what}, so the audit log cannot use it. Move it away; Sandgate creates it again.")


def _refusal(path: Path, exc: OSError, what: str) -> AuditError | OSError:
    if os.path.islink(path):
        return link_refused(path)
    if exc.errno in (errno.ENOTDIR, errno.ELOOP, errno.ENXIO):
        return _not_what_expected(path, what)
    return exc


def open_folder(folder: Path, root: Path | None, *, create: bool) -> int | None:
    """A descriptor of `folder`, or None when it does not exist and `create` is False.

    With a `root`, every component of `folder` below `root` must be a real directory (missing
    ones are made when `create`); `root` itself must exist. Without one, `folder` is opened as
    given: the caller named it.
    """
    if root is None:
        try:
            return os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except FileNotFoundError:
            if not create:
                return None
            os.makedirs(folder, exist_ok=True)
            return os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        parts = folder.relative_to(root).parts
    except ValueError:
        raise AuditError(f"the audit log's folder {folder} is not inside {root}") from None
    try:
        fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except (FileNotFoundError, NotADirectoryError):
        raise AuditError(f"the workspace {root} does not exist or is not a folder: no audit log there") from None
    here = root
    try:
        for part in parts:
            here = here / part
            try:
                child = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    return None
                try:
                    os.mkdir(part, 0o755, dir_fd=fd)
                except FileExistsError:
                    pass  # another writer made it first (or a link appeared: refused just below)
                try:
                    child = os.open(part, _DIR_FLAGS, dir_fd=fd)
                except OSError as exc:
                    raise _refusal(here, exc, "a folder") from exc
            except OSError as exc:
                raise _refusal(here, exc, "a folder") from exc
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_file(dir_fd: int, folder: Path, name: str, flags: int, mode: int = 0o644) -> int:
    """Open `name` in the folder `dir_fd` (`folder` is its path, for messages), never through a
    link, and only if it is a regular file."""
    try:
        fd = os.open(name, flags | _FILE_FLAGS, mode, dir_fd=dir_fd)
    except FileNotFoundError:
        raise  # the caller decides what a missing file means
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise link_refused(folder / name) from exc
        if exc.errno == errno.ENXIO:  # a FIFO with no reader, or a socket
            raise _not_what_expected(folder / name, "a regular file") from exc
        raise
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise _not_what_expected(folder / name, "a regular file")
        if not flags & os.O_NONBLOCK:
            os.set_blocking(fd, True)  # O_NONBLOCK was only for the open
    except BaseException:
        os.close(fd)
        raise
    return fd


def refuse_link(dir_fd: int, folder: Path, name: str) -> None:
    """Refuse a link at `name` that is only ever replaced by rename (which never follows it), so
    that a planted one is reported, not silently replaced."""
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return
    if stat.S_ISLNK(st.st_mode):
        raise link_refused(folder / name)
    if not stat.S_ISREG(st.st_mode):
        raise _not_what_expected(folder / name, "a regular file")


def exists(dir_fd: int, name: str) -> bool:
    """Whether `name` is there, a link included (not followed)."""
    try:
        os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return False
    return True


def create_fresh(dir_fd: int, folder: Path, name: str) -> int:
    """A new, empty regular file `name` for writing. A link there is refused; any other file of
    that name is unlinked first, so a hard link planted under the name is never written through."""
    refuse_link(dir_fd, folder, name)
    try:
        os.unlink(name, dir_fd=dir_fd)
    except FileNotFoundError:
        pass
    return open_file(dir_fd, folder, name, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
