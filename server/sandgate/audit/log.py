"""Appending to the audit log: one locked, fsynced, hash-chained line per record.

`append` returns only after the line is on disk (write, then fsync of the file and, for a
new file, of its directory), so a record the caller was told about survives a kill or a
crash. A kill at any moment leaves at most the last line torn; the next writer moves that
fragment aside into a side file and records the repair in the chain itself, so the
damage stays visible in the log instead of being silently dropped or wedged mid-file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from sandgate.audit import chain, files
from sandgate.audit.lock import exclusive
from sandgate.timestamps import utc_timestamp

# Rotate once the live file is this big: small enough to copy and verify quickly.
DEFAULT_MAX_BYTES = 8 * 1024 * 1024


class AuditError(Exception):
    """The log cannot be appended to safely (its last record is unreadable)."""


def _write_all(fd: int, data: bytes) -> None:
    # os.write may write less than asked; a short write must not become a torn record.
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


class AuditLog:
    """The workspace's audit log at `path` (normally `.sandgate/audit.jsonl`).

    Safe to share between threads, and between processes appending to the same path.
    `max_bytes=None` never rotates.
    """

    def __init__(
        self,
        path: Path,
        *,
        max_bytes: int | None = DEFAULT_MAX_BYTES,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        self._clock = clock

    def append(self, record: dict[str, Any]) -> dict[str, Any]:
        """Seal `record` into the chain, write it durably, and return the stored record.

        Raises ValueError for a record that is not a JSON object of plain JSON values or
        that sets a chain key (`seq`, `ts`, `prev`, `hash`), and AuditError when the
        log's last record cannot be read (run `sandgate audit verify`).
        """
        if not isinstance(record, dict):
            raise ValueError("an audit record is a dict")
        self._check(record)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with exclusive(files.lock_path(self.path)):
            fd = self._open_live()
            try:
                size = os.fstat(fd).st_size
                last, good_end = files.read_tail(fd, size)
                if self.max_bytes is not None and good_end == size and size >= self.max_bytes:
                    os.close(fd)
                    fd = -1
                    self._rotate()
                    fd = self._open_live()
                    size = good_end = 0
                if last is None and good_end == 0:
                    last = self._last_rotated_line()
                seq, prev = self._position(last)
                if good_end < size:
                    seq, prev = self._repair(fd, size, good_end, seq, prev)
                stored, _ = self._write(fd, record, seq, prev)
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

    def _open_live(self) -> int:
        return os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)

    def _rotate(self) -> None:
        # One atomic rename: the new live file starts empty and its first record's `prev`
        # is the hash of the rotated file's last line, so the chain runs across files.
        os.rename(self.path, files.next_rotated(self.path))
        files.fsync_dir(self.path.parent)

    def _last_rotated_line(self) -> bytes | None:
        rotated = files.rotated_files(self.path)
        if not rotated:
            return None
        with open(rotated[-1][1], "rb") as handle:
            fd = handle.fileno()
            line, _ = files.read_tail(fd, os.fstat(fd).st_size)
        return line

    def _position(self, last: bytes | None) -> tuple[int, str]:
        """The seq and prev of the next record, from the last stored line."""
        if last is None:
            return 1, chain.GENESIS
        try:
            seq = json.loads(last)["seq"]
        except (ValueError, KeyError, TypeError) as exc:
            raise AuditError(f"the last record of {self.path} is unreadable; run `sandgate audit verify`") from exc
        if not isinstance(seq, int):
            raise AuditError(f"the last record of {self.path} has no seq; run `sandgate audit verify`")
        return seq + 1, chain.sha256_hex(last)

    def _repair(self, fd: int, size: int, good_end: int, seq: int, prev: str) -> tuple[int, str]:
        """Move a torn last line aside and record that in the chain; return the next position."""
        fragment = os.pread(fd, size - good_end, good_end)
        side = files.torn_path(self.path, seq)
        side_fd = os.open(side, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        try:
            _write_all(side_fd, fragment)
            os.fsync(side_fd)
        finally:
            os.close(side_fd)
        files.fsync_dir(self.path.parent)
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
        _, line = self._write(fd, note, seq, prev)
        return seq + 1, chain.sha256_hex(line)

    def _write(self, fd: int, fields: dict[str, Any], seq: int, prev: str) -> tuple[dict[str, Any], bytes]:
        ts = utc_timestamp(self._clock() if self._clock else None)
        try:
            stored, line = chain.seal(fields, seq=seq, ts=ts, prev=prev)
        except TypeError as exc:
            raise ValueError(f"audit record is not plain JSON: {exc}") from exc
        new_file = os.fstat(fd).st_size == 0
        _write_all(fd, line + b"\n")
        os.fsync(fd)
        if new_file:
            files.fsync_dir(self.path.parent)
        self._write_head(seq, stored["hash"])
        return stored, line

    def _write_head(self, seq: int, record_hash: str) -> None:
        # Replace atomically: a kill leaves the old head, which lags the log by one record
        # at most, and `verify` accepts a log that runs past its head.
        head = files.head_path(self.path)
        tmp = head.with_name(head.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        try:
            _write_all(fd, chain.encode({"hash": record_hash, "seq": seq}) + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, head)
        files.fsync_dir(self.path.parent)
