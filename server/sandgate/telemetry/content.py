"""What of a prompt or of code may leave the machine: by default its length and hash only.

The text itself is attached only when the policy's `telemetry.export_content` is on. The
hash (SHA-256 of the UTF-8 text) lets a reader match an event to an audit record or to a
file without the telemetry backend ever holding the code.
"""

from __future__ import annotations

import hashlib


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def text_attributes(prefix: str, text: str | None, export_content: bool) -> dict[str, object]:
    """`<prefix>.length` (characters) and `<prefix>.sha256`; `<prefix>.text` only if allowed."""
    if text is None:
        return {}
    attributes: dict[str, object] = {f"{prefix}.length": len(text), f"{prefix}.sha256": sha256_hex(text)}
    if export_content:
        attributes[f"{prefix}.text"] = text
    return attributes


def decision_source(decided_by: str) -> str:
    """`user:<name>` → user, `managed-policy` → managed, anything else → policy."""
    if decided_by.startswith("user"):
        return "user"
    if decided_by.startswith("managed"):
        return "managed"
    return "policy"
