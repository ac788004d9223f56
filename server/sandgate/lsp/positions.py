"""Every position between the client and the server, converted in one place.

The client counts characters in the negotiated position encoding (UTF-16 unless the client
offered `general.positionEncodings` and pygls chose another; the choice is announced in the
`initialize` result). The server counts code points over `sandgate.lines.Lines`. A position
in the middle of a character (half a surrogate pair, part of a UTF-8 sequence) rounds down to
its start.

Rules (LSP 3.17, "Position"): a character past the end of its line means the end of that line;
the line after the last one (line == number of lines) means the end of the document. A line
further on is outside the document: a request there is refused, a `didChange` range there is
clamped to the end (see `documents.py`).
"""

from __future__ import annotations

from dataclasses import dataclass

from lsprotocol import types

from sandgate.lines import Lines

UTF8, UTF16, UTF32 = (
    types.PositionEncodingKind.Utf8.value,
    types.PositionEncodingKind.Utf16.value,
    types.PositionEncodingKind.Utf32.value,
)


def encoding_name(encoding: object) -> str:
    """The negotiated encoding as its wire name; anything unknown is UTF-16 (LSP's default)."""
    value = getattr(encoding, "value", encoding)
    return value if value in (UTF8, UTF16, UTF32) else UTF16


def units(text: str, encoding: str) -> int:
    """How many code units of `encoding` `text` takes (lone surrogates count as one character)."""
    if encoding == UTF32 or text.isascii():
        return len(text)
    if encoding == UTF8:
        return len(text.encode("utf-8", "surrogatepass"))
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _code_points(line: str, count: int, encoding: str) -> int:
    """How many whole characters of `line` fit in `count` code units (at most the whole line)."""
    if encoding == UTF32 or line.isascii():
        return min(count, len(line))
    used = 0
    for index, char in enumerate(line):
        used += units(char, encoding)
        if used > count:
            return index
    return len(line)


@dataclass(frozen=True)
class Located:
    """A client position as an offset into the server's text. `outside`: the line was past the end
    of the document (the offset is then the end)."""

    offset: int
    outside: bool = False


def locate(lines: Lines, position: types.Position, encoding: str) -> Located:
    line, character = position.line, position.character
    if line < 0 or character < 0:
        return Located(0, True)
    if line > lines.count:
        return Located(len(lines.text), True)
    if line == lines.count:  # the line after the last: the end of the document
        return Located(len(lines.text))
    return Located(lines.start(line) + _code_points(lines.line_text(line), character, encoding))


def to_client(lines: Lines, offset: int, encoding: str) -> types.Position:
    line, character = lines.position(offset)
    if encoding != UTF32:
        start = lines.start(line)
        character = units(lines.text[start : start + character], encoding)
    return types.Position(line=line, character=character)


def range_to_client(lines: Lines, start: int, end: int, encoding: str) -> types.Range:
    return types.Range(start=to_client(lines, start, encoding), end=to_client(lines, end, encoding))


def server_range_to_client(lines: Lines, rng: types.Range, encoding: str) -> types.Range:
    """A range in server units (line, code point) as the client counts it."""
    start = lines.offset(rng.start.line, rng.start.character)
    end = lines.offset(rng.end.line, rng.end.character)
    return range_to_client(lines, start, max(start, end), encoding)


def range_json(rng: types.Range) -> dict[str, dict[str, int]]:
    return {
        "start": {"line": rng.start.line, "character": rng.start.character},
        "end": {"line": rng.end.line, "character": rng.end.character},
    }


def line_range(lines: Lines, offset: int, encoding: str) -> types.Range:
    """The whole line holding `offset`, from its first character to its end: a diagnostic there can
    be reached wherever the cursor sits on that line."""
    line, _ = lines.position(offset)
    return range_to_client(lines, lines.start(line), lines.content_end(line), encoding)
