"""Appending to the audit log: one locked, fsynced, hash-chained line per record.

`append` returns only after the line is on disk (write, then fsync of the file and, for a
new file, of its directory), so a record the caller was told about survives a kill or a
crash. A kill at any moment leaves at most the last line torn; the next writer moves that
fragment aside into a side file and records the repair in the chain itself, so the
damage stays visible in the log instead of being silently dropped or wedged mid-file.

Every file is opened relative to the log's folder and never through a symbolic link
(`sandgate.audit.folder`): a repository cannot point its log at a file of the user's.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from sandgate.audit import chain, files
from sandgate.audit import folder as folders
from sandgate.audit.errors import AuditError
from sandgate.audit.lock import exclusive
from sandgate.timestamps import utc_timestamp

# Rotate once the live file is this big: small enough to copy and verify quickly.
DEFAULT_MAX_BYTES = 8 * 1024 * 1024


__all__ = ["DEFAULT_MAX_BYTES", "AuditError", "AuditLog"]


def _write_all(fd: int, data: bytes) -> None:
    # os.write may write less than asked; a short write must not become a torn record.
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


class AuditLog:
    """The workspace's audit log at `path` (normally `.sandgate/audit.jsonl`).

    Safe to share between threads, and between processes appending to the same path.
    `max_bytes=None` never rotates. With a `root` (the workspace), no folder between `root` and
    the log may be a symbolic link; without one, the log's folder is used as given. No file of
    the log is ever opened through a link: a link is refused with AuditError.
    """

    def __init__(
        self,
        path: Path,
        *,
        root: Path | None = None,
        max_bytes: int | None = DEFAULT_MAX_BYTES,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.path = Path(path)
        self.root = Path(root) if root is not None else None
        self.max_bytes = max_bytes
        self._clock = clock
        self._folder = self.path.parent

    def append(self, record: dict[str, Any]) -> dict[str, Any]:
        """Seal `record` into the chain, write it durably, and return the stored record.

        Raises ValueError for a record that is not a JSON object of plain JSON values or
        that sets a chain key (`seq`, `ts`, `prev`, `hash`), and AuditError when the log
        cannot be appended to safely: its last record cannot be read (run `sandgate audit
        verify`), or a file or folder of it is a symbolic link or not what it should be.
        """
        return self.append_all([record])[0]

    def append_all(
        self, records: list[dict[str, Any]], on_written: Callable[[list[dict[str, Any]]], None] | None = None
    ) -> list[dict[str, Any]]:
        """`append` for several records at once, in order: one write, one fsync, one head update.

        `on_written(stored)` is called (on this thread) as soon as the records' lines are written,
        before their fsync and the head's update: a caller waiting to show what the records are
        about knows the log took them (a link, a full disk or a broken last record fails before),
        without waiting on the disk. The append itself still returns only once both are on disk.
        """
        for record in records:
            if not isinstance(record, dict):
                raise ValueError("an audit record is a dict")
            self._check(record)
        if not records:
            return []
        dir_fd = folders.open_folder(self._folder, self.root, create=True)
        assert dir_fd is not None
        try:
            with exclusive(dir_fd, self._folder, files.lock_path(self.path).name):
                return self._append_locked(dir_fd, records, on_written)
        finally:
            os.close(dir_fd)

    def check(self) -> None:
        """Raise AuditError now if an append would be refused (a link, an unreadable last record);
        creates nothing. For a caller that should not start work it could not record."""
        dir_fd = folders.open_folder(self._folder, self.root, create=False)
        if dir_fd is None:
            return
        try:
            head = files.head_path(self.path).name
            for name in (files.lock_path(self.path).name, head, head + ".tmp"):
                folders.refuse_link(dir_fd, self._folder, name)
            try:
                fd = folders.open_file(dir_fd, self._folder, self.path.name, os.O_RDONLY)
            except FileNotFoundError:
                return
            try:
                last, _ = files.read_tail(fd, os.fstat(fd).st_size)
                if last is not None:
                    self._position(last)
            finally:
                os.close(fd)
        finally:
            os.close(dir_fd)

    def _append_locked(
        self,
        dir_fd: int,
        records: list[dict[str, Any]],
        on_written: Callable[[list[dict[str, Any]]], None] | None,
    ) -> list[dict[str, Any]]:
        # The head is only ever replaced by rename, which never follows a link, and its temporary
        # file is made afresh; a link planted at either is still refused, before anything is
        # written, so it is reported rather than replaced and the log does not grow a record.
        head = files.head_path(self.path).name
        for name in (head, head + ".tmp"):
            folders.refuse_link(dir_fd, self._folder, name)
        fd = self._open_live(dir_fd)
        try:
            size = os.fstat(fd).st_size
            last, good_end = files.read_tail(fd, size)
            if self.max_bytes is not None and good_end == size and size >= self.max_bytes:
                os.close(fd)
                fd = -1
                self._rotate(dir_fd)
                fd = self._open_live(dir_fd)
                size = good_end = 0
            if last is None and good_end == 0:
                last = self._last_rotated_line(dir_fd)
            seq, prev = self._position(last)
            if good_end < size:
                seq, prev = self._repair(dir_fd, fd, size, good_end, seq, prev)
            stored = self._write(dir_fd, fd, records, seq, prev, on_written)
        finally:
            if fd >= 0:
                os.close(fd)
        return stored

    @staticmethod
    def _check(record: dict[str, Any]) -> None:
        # Refuse a bad record before touching the file, not halfway through an append.
        try:
            chain.seal(record, seq=0, ts="", prev=chain.GENESIS)
        except TypeError as exc:
            raise ValueError(f"audit record is not plain JSON: {exc}") from exc

    # -- steps, each under the lock --------------------------------------------------

    def _open_live(self, dir_fd: int) -> int:
        return folders.open_file(dir_fd, self._folder, self.path.name, os.O_RDWR | os.O_CREAT | os.O_APPEND)

    def _rotate(self, dir_fd: int) -> None:
        # One atomic rename: the new live file starts empty and its first record's `prev`
        # is the hash of the rotated file's last line, so the chain runs across files.
        target = files.next_rotated_name(self.path, dir_fd)
        os.rename(self.path.name, target, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        files.fsync_dir(dir_fd)

    def _last_rotated_line(self, dir_fd: int) -> bytes | None:
        rotated = files.rotated_names(self.path, dir_fd)
        if not rotated:
            return None
        fd = folders.open_file(dir_fd, self._folder, rotated[-1][1], os.O_RDONLY)
        try:
            line, _ = files.read_tail(fd, os.fstat(fd).st_size)
        finally:
            os.close(fd)
        return line

    def _position(self, last: bytes | None) -> tuple[int, str]:
        """The seq and prev of the next record, from the last stored line."""
        if last is None:
            return 1, chain.GENESIS
        try:
            seq = json.loads(last)["seq"]
        except (ValueError, KeyError, TypeError) as exc:
            raise AuditError(self._unreadable("is not a JSON record")) from exc
        if not isinstance(seq, int):
            raise AuditError(self._unreadable("has no seq"))
        return seq + 1, chain.sha256_hex(last)

    def _unreadable(self, what: str) -> str:
        return (
            f"the last record of {self.path} {what}, so no record can be chained after it: "
            f"run `sandgate audit verify {self.path}` to see what was changed, then restore the log "
            "from a copy, or move it (and its audit.* side files) aside to start a new one"
        )

    def _repair(self, dir_fd: int, fd: int, size: int, good_end: int, seq: int, prev: str) -> tuple[int, str]:
        """Move a torn last line aside and record that in the chain; return the next position."""
        fragment = os.pread(fd, size - good_end, good_end)
        side = files.torn_path(self.path, seq)
        side_fd = folders.create_fresh(dir_fd, self._folder, side.name)
        try:
            _write_all(side_fd, fragment)
            os.fsync(side_fd)
        finally:
            os.close(side_fd)
        files.fsync_dir(dir_fd)
        # Only now drop the fragment: if we die here, the bytes are already saved.
        os.ftruncate(fd, good_end)
        os.fsync(fd)
        note = {
            "event": "repair",
            "reason": "torn last line (a writer stopped mid-record)",
            "torn_bytes": len(fragment),
            "torn_sha256": chain.sha256_hex(fragment),
            "saved_to": side.name,
        }
        (stored,) = self._write(dir_fd, fd, [note], seq, prev)
        return seq + 1, chain.sha256_hex(chain.encode(stored))

    def _write(
        self,
        dir_fd: int,
        fd: int,
        batch: list[dict[str, Any]],
        seq: int,
        prev: str,
        on_written: Callable[[list[dict[str, Any]]], None] | None = None,
    ) -> list[dict[str, Any]]:
        ts = utc_timestamp(self._clock() if self._clock else None)
        stored: list[dict[str, Any]] = []
        data = bytearray()
        for fields in batch:
            try:
                record, line = chain.seal(fields, seq=seq, ts=ts, prev=prev)
            except TypeError as exc:
                raise ValueError(f"audit record is not plain JSON: {exc}") from exc
            stored.append(record)
            data += line + b"\n"
            seq, prev = seq + 1, chain.sha256_hex(line)
        new_file = os.fstat(fd).st_size == 0
        _write_all(fd, bytes(data))
        if on_written is not None:
            on_written(stored)
        os.fsync(fd)
        if new_file:
            files.fsync_dir(dir_fd)
        self._write_head(dir_fd, seq - 1, stored[-1]["hash"])
        return stored

    def _write_head(self, dir_fd: int, seq: int, record_hash: str) -> None:
        # Replace atomically: a kill leaves the old head, which lags the log by one record
        # at most, and `verify` accepts a log that runs past its head.
        head = files.head_path(self.path).name
        tmp = head + ".tmp"  # made afresh: `create_fresh`
        fd = folders.create_fresh(dir_fd, self._folder, tmp)
        try:
            _write_all(fd, chain.encode({"hash": record_hash, "seq": seq}) + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, head, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        files.fsync_dir(dir_fd)
