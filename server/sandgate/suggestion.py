"""A suggestion and the text it is vetted as: alone, or in place inside its document.

Positions are LSP-style (0-based line and character) over `sandgate.lines` (only `\r\n`, `\r`
and `\n` end a line). Characters are counted in code points; the language server converts from
the client's encoding before building a `Suggestion`. A line past the last means the end of
the document, a character past the end of its line the end of that line.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sandgate.lines import Lines


def sha256_text(text: str) -> str:
    """SHA-256 of the UTF-8 text; a lone surrogate (a broken document or answer) is hashed, not an error."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


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
    # The LSP language id (`python`, `javascript`...); None: from the path's extension.
    language: str | None = None

    @property
    def sha256(self) -> str:
        return sha256_text(self.text)


@dataclass(frozen=True)
class Placed:
    """The code to vet, and where the suggestion sits in it (1-based inclusive lines)."""

    code: str
    first_line: int
    last_line: int
    # Lines the suggestion added (positive) or removed (negative): maps later lines back.
    shift: int
    # Where the suggestion's text is in `code` (offsets).
    start: int = 0
    end: int = 0
    # Whether `code` is a document with the suggestion in it (else the suggestion alone).
    in_document: bool = True

    def in_suggestion(self, line: int, end_line: int) -> bool:
        """Does a finding on [line, end_line] touch the suggestion? Runtime findings (line 0) do."""
        if line <= 0:
            return True
        return line <= self.last_line and max(end_line, line) >= self.first_line

    def document_line(self, line: int) -> int:
        """The line in the original document of a line in `code` that lies outside the suggestion."""
        return line - self.shift if line > self.last_line else line

    def where(self, line: int) -> str:
        """A line of `code` named as the user counts it: the user's buffer does not hold the
        suggestion yet, so a line inside it is "line K of the suggestion", one below it is the
        buffer's line."""
        if not self.in_document:
            return f"line {line}"
        if self.first_line <= line <= self.last_line:
            return f"line {line - self.first_line + 1} of the suggestion"
        return f"line {self.document_line(line)}"


def place(suggestion: Suggestion) -> Placed:
    if suggestion.document is None:
        return Placed(suggestion.text, 1, Lines.of(suggestion.text).count, 0, 0, len(suggestion.text), False)
    document = suggestion.document
    lines = Lines.of(document)
    start = lines.offset(suggestion.line, suggestion.character)
    end_line = suggestion.line if suggestion.end_line is None else suggestion.end_line
    end_char = suggestion.character if suggestion.end_character is None else suggestion.end_character
    end = max(start, lines.offset(end_line, end_char))
    code = document[:start] + suggestion.text + document[end:]
    first = lines.position(start)[0] + 1
    added = Lines.of(suggestion.text).count - 1
    end_row, end_col = lines.position(end)
    removed = end_row + 1 - first
    # Text that ends with a line break, placed up to the start of a line, leaves that line as the
    # document had it: no character of the suggestion is on it, so it is not the suggestion's line.
    untouched_next = added > 0 and suggestion.text.endswith(("\n", "\r")) and end_col == 0
    last = first + added - (1 if untouched_next else 0)
    return Placed(code, first, last, added - removed, start, start + len(suggestion.text))
