"""Checking an audit log: the first record that was edited, removed, reordered or torn.

Records are numbered from 1 across all files of the log (rotated files oldest first, then
the live one); in a sound log that number is the record's `seq`. `first_bad` is the number
of the first record position where the log stops being what the writer wrote:

- a byte edited anywhere in a line (or in its newline) names that line's record;
- a record removed names the position it was removed from;
- two records swapped name the first of the two positions;
- a torn last line (no newline) names that record;
- records cut off the end (the head file names a later record) name the first one missing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from sandgate.audit import chain, files
from sandgate.audit.errors import AuditError
from sandgate.audit.lock import shared
from sandgate.wording import plural


@dataclass(frozen=True)
class VerifyReport:
    ok: bool
    # Records that verified before the first bad one (all of them when ok).
    records: int
    first_bad: int | None
    message: str
    # Where the first bad record sits, when it sits somewhere.
    file: str | None = None
    line: int | None = None
    # The hash of the last sound record: worth copying elsewhere as an external anchor.
    head: str | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "records": self.records,
            "first_bad": self.first_bad,
            "message": self.message,
            "file": self.file,
            "line": self.line,
            "head": self.head,
        }


def _read_head(path: Path, root: Path | None) -> tuple[dict | None, str | None]:
    head = files.head_path(path)
    data = files.read_file(head, root)
    if data is None:
        return None, None
    try:
        parsed = json.loads(data)
        if not (isinstance(parsed.get("seq"), int) and isinstance(parsed.get("hash"), str)):
            raise ValueError
    except (ValueError, AttributeError):
        return None, f"the head file {head.name} is unreadable (edited)"
    return parsed, None


def verify(path: Path | str, root: Path | None = None) -> VerifyReport:
    """Verify the whole chain of the log at `path`, rotated files included.

    No file of the log is read through a symbolic link (nor, with a `root`, any folder between
    the root and the log): one that is a link fails the check, with a message naming it.
    """
    path = Path(path)
    try:
        with shared(files.lock_path(path), root):
            return _verify(path, root)
    except AuditError as exc:
        return VerifyReport(False, 0, None, str(exc))


def _verify(path: Path, root: Path | None) -> VerifyReport:
    head, head_error = _read_head(path, root)
    if head_error:
        return VerifyReport(False, 0, None, head_error)

    count = 0
    prev = chain.GENESIS
    last_hash: str | None = None
    hash_at_head: str | None = None
    for file, number, line, complete in files.iter_lines(path, root):
        position = count + 1
        where = f"{file.name}:{number}"
        if not complete:
            return VerifyReport(
                False,
                count,
                position,
                f"record {position} ({where}) is torn: its line has no end, a write was cut short",
                str(file),
                number,
                last_hash,
            )
        record, reason = chain.check_line(line, expected_seq=position, expected_prev=prev)
        if reason or record is None:
            return VerifyReport(
                False,
                count,
                position,
                f"record {position} ({where}) {reason or 'could not be read'}",
                str(file),
                number,
                last_hash,
            )
        count = position
        prev = chain.sha256_hex(line)
        last_hash = record["hash"]
        if head is not None and position == head["seq"]:
            hash_at_head = last_hash

    if head is None:
        if count == 0:
            return VerifyReport(True, 0, None, f"no audit records at {path}")
        return VerifyReport(
            False,
            count,
            None,
            f"the head file {files.head_path(path).name} is missing: records cut off the end could not be noticed",
            head=last_hash,
        )
    if head["seq"] > count:
        return VerifyReport(
            False,
            count,
            count + 1,
            f"records {count + 1}..{head['seq']} are missing: the log was cut short",
            head=last_hash,
        )
    if hash_at_head != head["hash"]:
        return VerifyReport(
            False,
            head["seq"] - 1,
            head["seq"],
            f"record {head['seq']} is not the record the head file names (replaced)",
            head=last_hash,
        )
    return VerifyReport(True, count, None, f"{plural(count, 'record')} verified; last hash {last_hash}", head=last_hash)
