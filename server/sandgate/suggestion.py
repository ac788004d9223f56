"""A suggestion and the text it is vetted as: alone, or in place inside its document.

Positions are LSP-style (0-based line and character). Characters are counted in code points;
the language server converts from the client's encoding before building a `Suggestion`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Suggestion:
    text: str
    document: str | None = None
    line: int = 0
    character: int = 0
    path: str = "suggestion.py"
    # End of the range the suggestion replaces; None: it is inserted at (line, character).
    end_line: int | None = None
    end_character: int | None = None

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Placed:
    """The code to vet, and where the suggestion sits in it (1-based inclusive lines)."""

    code: str
    first_line: int
    last_line: int
    # Lines the suggestion added (positive) or removed (negative): maps later lines back.
    shift: int

    def in_suggestion(self, line: int, end_line: int) -> bool:
        """Does a finding on [line, end_line] touch the suggestion? Runtime findings (line 0) do."""
        if line <= 0:
            return True
        return line <= self.last_line and max(end_line, line) >= self.first_line

    def document_line(self, line: int) -> int:
        """The line in the original document of a line in `code` that lies outside the suggestion."""
        return line - self.shift if line > self.last_line else line


def _offset(lines: list[str], line: int, character: int) -> int:
    """Offset of (line, character) in the text `lines` came from, clamped to the text."""
    if line >= len(lines):
        return sum(len(x) for x in lines)
    return sum(len(x) for x in lines[:line]) + min(character, len(lines[line].rstrip("\r\n")))


def place(suggestion: Suggestion) -> Placed:
    if suggestion.document is None:
        return Placed(suggestion.text, 1, max(1, suggestion.text.count("\n") + 1), 0)
    lines = suggestion.document.splitlines(keepends=True)
    start = _offset(lines, suggestion.line, suggestion.character)
    end_line = suggestion.line if suggestion.end_line is None else suggestion.end_line
    end_char = suggestion.character if suggestion.end_character is None else suggestion.end_character
    end = max(start, _offset(lines, end_line, end_char))
    document = suggestion.document
    code = document[:start] + suggestion.text + document[end:]
    first = document.count("\n", 0, start) + 1
    added = suggestion.text.count("\n")
    removed = document.count("\n", start, end)
    return Placed(code, first, first + added, added - removed)
