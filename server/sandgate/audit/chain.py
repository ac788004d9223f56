"""The hash chain itself: how a record becomes bytes, and how those bytes are linked.

Pure functions only, so the writer and the verifier cannot disagree about the format.

A record is stored as one line of canonical JSON (sorted keys, no spaces, ASCII only).
Canonical form matters: the verifier re-encodes every record it reads and insists on
the same bytes, so no edit can hide in whitespace or in an alternative escape.

- `hash` is the SHA-256 of the record's canonical encoding without the `hash` key.
- `prev` is the SHA-256 of the previous record's exact line (without its newline), or of
  the last line of the previous file after a rotation, or `GENESIS` for the first record.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

# The `prev` of the very first record: no line hashes to this (64 zeros).
GENESIS = "0" * 64

# Keys the log owns; a caller may not set them.
CHAIN_KEYS = ("seq", "ts", "prev", "hash")


def encode(record: dict[str, Any]) -> bytes:
    """The one canonical byte form of a record (no newline)."""
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False).encode("ascii")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def record_hash(record: dict[str, Any]) -> str:
    """The `hash` a record must carry: over everything but the `hash` key itself."""
    body = {k: v for k, v in record.items() if k != "hash"}
    return sha256_hex(encode(body))


def seal(fields: dict[str, Any], *, seq: int, ts: str, prev: str) -> tuple[dict[str, Any], bytes]:
    """Add the chain keys to a caller's record; return the stored record and its line."""
    clash = [k for k in CHAIN_KEYS if k in fields]
    if clash:
        raise ValueError(f"audit records may not set {', '.join(clash)}: the log adds them")
    record = dict(fields, seq=seq, ts=ts, prev=prev)
    record["hash"] = record_hash(record)
    return record, encode(record)


def check_line(line: bytes, *, expected_seq: int, expected_prev: str) -> tuple[dict[str, Any] | None, str | None]:
    """Check one stored line against its place in the chain.

    Returns (record, None) when the line is sound, else (record or None, reason).
    """
    try:
        record = json.loads(line.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        return None, "not a JSON record (edited or torn)"
    if not isinstance(record, dict):
        return None, "not a JSON object (edited)"
    try:
        canonical = encode(record)
    except ValueError:
        return record, "not canonical JSON (edited)"
    if canonical != line:
        return record, "bytes differ from the canonical form (edited)"
    if record.get("hash") != record_hash(record):
        return record, "its hash does not match its content (edited)"
    seq = record.get("seq")
    if seq != expected_seq:
        if isinstance(seq, int) and seq > expected_seq:
            return record, f"has seq {seq} where {expected_seq} was expected (records removed or reordered)"
        return record, f"has seq {seq!r} where {expected_seq} was expected (reordered or edited)"
    if record.get("prev") != expected_prev:
        return record, "its prev does not match the record before it (removed, reordered or edited)"
    return record, None
