"""How a count is written in a message: `1 line`, `2 lines`, `0 lines`."""

from __future__ import annotations


def plural(count: int, word: str, many: str | None = None) -> str:
    """`count` and `word`, made plural (`many`, else `word` + "s") unless the count is one."""
    return f"{count} {word if count == 1 else (many or word + 's')}"
