"""Lines as LSP and Python count them: `\\r\\n`, `\\r` and `\\n` end a line, and nothing else does.

`str.splitlines` also breaks at form feeds, vertical tabs, `\\x1c`-`\\x1e`, `\\x85` and U+2028/9,
which Python source and LSP positions treat as ordinary characters: every line number and column
in Sandgate goes through here instead. A text with n line breaks has n + 1 lines (the last may be
empty). Offsets and characters are code points.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

LINE_BREAK = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True)
class Lines:
    """Where each line of `text` starts, and conversions between offsets and (line, character)."""

    text: str
    starts: tuple[int, ...] = field(repr=False)

    @classmethod
    def of(cls, text: str) -> Lines:
        return cls(text, (0, *(m.end() for m in LINE_BREAK.finditer(text))))

    @property
    def count(self) -> int:
        return len(self.starts)

    def start(self, line: int) -> int:
        return self.starts[line]

    def content_end(self, line: int) -> int:
        """Offset of the end of `line` without its line break."""
        if line + 1 < len(self.starts):
            end = self.starts[line + 1]
            return end - 2 if self.text.startswith("\r\n", end - 2) else end - 1
        return len(self.text)

    def line_text(self, line: int) -> str:
        return self.text[self.starts[line] : self.content_end(line)]

    def end_with_break(self, line: int) -> int:
        return self.starts[line + 1] if line + 1 < len(self.starts) else len(self.text)

    def offset(self, line: int, character: int) -> int:
        """The offset of (line, character); a line past the last means the end of the text, a character
        past the end of its line the end of that line (LSP's rule)."""
        if line >= len(self.starts):
            return len(self.text)
        line = max(0, line)
        return min(self.starts[line] + max(0, character), self.content_end(line))

    def position(self, offset: int) -> tuple[int, int]:
        """(line, character) of an offset, clamped to the text."""
        offset = max(0, min(offset, len(self.text)))
        lo, hi = 0, len(self.starts) - 1
        while lo < hi:  # the last line starting at or before the offset
            mid = (lo + hi + 1) // 2
            if self.starts[mid] <= offset:
                lo = mid
            else:
                hi = mid - 1
        return lo, min(offset, self.content_end(lo)) - self.starts[lo]


def split_lines(text: str) -> list[str]:
    """The lines of `text` without their line breaks (n breaks: n + 1 lines)."""
    return LINE_BREAK.split(text)
