"""Untrusted text made safe to write to a terminal.

A suggestion's run output, its exit message, a finding's text, a file name or a record of the
audit log can hold control characters: an escape sequence that clears a line and writes "ALLOW",
a carriage return, a right-to-left override. Human-readable output passes every such text through
`safe` where it is written, so each of those shows as a visible escape (`\\x1b`, `\\u202e`) instead
of acting on the terminal. JSON and SARIF output escape by their own rules and do not need this.
"""

from __future__ import annotations

import unicodedata

# Cc: C0, DEL and C1 controls; Cf: format characters (bidi embeddings, overrides and isolates,
# zero-width joiners, tags); Zl/Zp: U+2028/U+2029, line breaks to a terminal or an editor;
# Cs: the lone surrogates `surrogateescape` leaves for undecodable bytes (unwritable as UTF-8).
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})


def _escape(ch: str) -> str:
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def safe(text: object) -> str:
    """`text` (made a string) with every control, format and line-separator character escaped."""
    value = str(text)
    if value.isprintable():  # the common case: nothing to escape (isprintable is False for all above)
        return value
    return "".join(_escape(ch) if unicodedata.category(ch) in _UNSAFE_CATEGORIES else ch for ch in value)
