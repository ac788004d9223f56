"""Find the line of a key in TOML source, so every policy message can name file and line.

`tomllib` keeps no positions. Policies are small, hand-written files, so a line scan that
tracks table headers (`[a.b]`, `[[rules]]`) and key assignments (`a.b = ...`) is enough to
map a key path such as `("rules", 2, "decision")` to the line that set it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_KEY = r'(?:[A-Za-z0-9_-]+|"[^"\n]*"|\'[^\'\n]*\')'
_DOTTED = rf"{_KEY}(?:\s*\.\s*{_KEY})*"
_HEADER = re.compile(rf"^\s*(\[\[?)\s*({_DOTTED})\s*\]\]?")
_ASSIGN = re.compile(rf"^\s*({_DOTTED})\s*=")

KeyPath = tuple[str | int, ...]


def _split(dotted: str) -> list[str]:
    parts = re.findall(_KEY, dotted)
    return [p[1:-1] if p[:1] in "\"'" else p for p in parts]


def key_lines(text: str) -> dict[KeyPath, int]:
    """Map every key path defined in `text` to its 1-based line (first definition wins)."""
    lines: dict[KeyPath, int] = {}
    prefix: KeyPath = ()
    array_counts: dict[KeyPath, int] = {}
    depth = 0  # bracket depth of a multi-line value: keys inside are not keys
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0] if '"' not in raw and "'" not in raw else raw
        if depth == 0:
            header = _HEADER.match(line)
            if header:
                path = tuple(_split(header.group(2)))
                if header.group(1) == "[[":
                    index = array_counts.get(path, 0)
                    array_counts[path] = index + 1
                    prefix = path + (index,)
                else:
                    prefix = path
                lines.setdefault(prefix, number)
                continue
            assign = _ASSIGN.match(line)
            if assign:
                lines.setdefault(prefix + tuple(_split(assign.group(1))), number)
                line = line[assign.end() :]
        depth = max(0, depth + line.count("[") - line.count("]"))
    return lines


def line_of(text: str, path: Sequence[str | int]) -> int:
    """The line that set `path`, or of its nearest defined ancestor; 0 when none is found."""
    table = key_lines(text)
    probe = tuple(path)
    while probe:
        if probe in table:
            return table[probe]
        probe = probe[:-1]
    return 0
