"""Where the pieces of one audit log live on disk, and reading them back.

For a log at `DIR/audit.jsonl`:
- `DIR/audit.jsonl` is the live file; appends go there.
- `DIR/audit.1.jsonl`, `DIR/audit.2.jsonl`, ... are rotated files, **oldest first**: a rotation
  is one atomic rename of the live file to the next free number, so a crash can never leave
  the log half-rotated (the logrotate scheme of shifting every file up takes many renames).
- `DIR/audit.jsonl.head` names the last record written (its seq and hash): the witness
  that lets `verify` notice records cut off the end, which a chain alone cannot.
- `DIR/audit.jsonl.lock` is the lock file (never renamed, so every writer locks the same inode).
- `DIR/audit.jsonl.torn-SEQ` keeps the bytes of a torn last line that a writer moved aside.

Every one of them is opened through `folder` (never through a symbolic link).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

from sandgate.audit import folder as folders


def head_path(path: Path) -> Path:
    return path.with_name(path.name + ".head")


def lock_path(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


def torn_path(path: Path, seq: int) -> Path:
    return path.with_name(f"{path.name}.torn-{seq}")


def _rotated_pattern(path: Path) -> re.Pattern[str]:
    return re.compile(re.escape(path.stem) + r"\.(\d+)" + re.escape(path.suffix) + r"\Z")


def rotated_names(path: Path, dir_fd: int) -> list[tuple[int, str]]:
    """The rotated files of the log at `path` in the folder `dir_fd`, oldest (lowest number) first."""
    pattern = _rotated_pattern(path)
    found = []
    for name in os.listdir(dir_fd):
        match = pattern.match(name)
        if match:
            found.append((int(match.group(1)), name))
    return sorted(found)


def rotated_files(path: Path) -> list[tuple[int, Path]]:
    """The rotated files of the log at `path`, oldest (lowest number) first."""
    dir_fd = folders.open_folder(path.parent, None, create=False)
    if dir_fd is None:
        return []
    try:
        return [(n, path.parent / name) for n, name in rotated_names(path, dir_fd)]
    finally:
        os.close(dir_fd)


def chain_names(path: Path, dir_fd: int) -> list[str]:
    """Every file of the log in chain order: rotated ones oldest first, then the live one."""
    names = [name for _, name in rotated_names(path, dir_fd)]
    if folders.exists(dir_fd, path.name):
        names.append(path.name)
    return names


def chain_files(path: Path) -> list[Path]:
    """Every file of the log in chain order: rotated ones oldest first, then the live one."""
    dir_fd = folders.open_folder(path.parent, None, create=False)
    if dir_fd is None:
        return []
    try:
        return [path.parent / name for name in chain_names(path, dir_fd)]
    finally:
        os.close(dir_fd)


def next_rotated_name(path: Path, dir_fd: int) -> str:
    rotated = rotated_names(path, dir_fd)
    number = rotated[-1][0] + 1 if rotated else 1
    return f"{path.stem}.{number}{path.suffix}"


def split_lines(data: bytes) -> tuple[list[bytes], bytes]:
    """Complete lines (without their newline) and the torn rest after the last newline."""
    lines = data.split(b"\n")
    return lines[:-1], lines[-1]


def iter_lines(path: Path, root: Path | None = None) -> Iterator[tuple[Path, int, bytes, bool]]:
    """(file, 1-based line number, line bytes, complete) over every file of the log.

    `complete` is False only for a last line with no newline: a torn write. A file of the log that
    is a link (or, with a `root`, a folder between it and the root that is) raises AuditError.
    """
    dir_fd = folders.open_folder(path.parent, root, create=False)
    if dir_fd is None:
        return
    try:
        for name in chain_names(path, dir_fd):
            fd = folders.open_file(dir_fd, path.parent, name, os.O_RDONLY)
            with open(fd, "rb") as handle:
                number = 0
                for raw in handle:
                    number += 1
                    complete = raw.endswith(b"\n")
                    yield path.parent / name, number, raw[:-1] if complete else raw, complete
    finally:
        os.close(dir_fd)


def read_file(path: Path, root: Path | None = None) -> bytes | None:
    """The bytes of one small side file of the log (the head), never through a link; None if absent."""
    dir_fd = folders.open_folder(path.parent, root, create=False)
    if dir_fd is None:
        return None
    try:
        fd = folders.open_file(dir_fd, path.parent, path.name, os.O_RDONLY)
    except FileNotFoundError:
        return None
    finally:
        os.close(dir_fd)
    with open(fd, "rb") as handle:
        return handle.read()


def read_tail(fd: int, size: int, chunk: int = 65536) -> tuple[bytes | None, int]:
    """The last complete line of an open file and the offset where it ends (after its newline).

    Bytes past that offset are a torn line. Reads backwards in chunks: records are small,
    logs are not.
    """
    end = size
    # Find the last newline: everything after it is torn.
    last_nl = _rfind_newline(fd, end, chunk)
    if last_nl < 0:
        return None, 0
    prev_nl = _rfind_newline(fd, last_nl, chunk)
    start = prev_nl + 1
    return os.pread(fd, last_nl - start, start), last_nl + 1


def _rfind_newline(fd: int, end: int, chunk: int) -> int:
    """Offset of the last newline before `end`, or -1."""
    pos = end
    while pos > 0:
        start = max(0, pos - chunk)
        data = os.pread(fd, pos - start, start)
        index = data.rfind(b"\n")
        if index >= 0:
            return start + index
        pos = start
    return -1


def fsync_dir(dir_fd: int) -> None:
    """Make a created or renamed entry durable: fsync of the file alone does not cover its name."""
    os.fsync(dir_fd)
