"""How much of the model's answer is a candidate: one line or a block, decided by the cursor's
context as Copilot and Tabby decide it, cut where the block ends, and capped. Pure functions."""

from __future__ import annotations

from dataclasses import dataclass

# A line after the cursor made of these only does not make the completion single-line: `foo(|)`.
_CLOSERS = set(")]}\"'`;:, \t")
# Block openings after which the completion is a block: `def f():`, `if x {`.
_OPENERS = (":", "{", "=>")


@dataclass(frozen=True)
class Shape:
    """`multiline`: a block may be offered, else the rest of the current line only. `indent`: a
    candidate line (after its first) indented less than this ends the block. `stop`: the next
    line of the code after the cursor, where a model repeating it gets cut."""

    multiline: bool
    indent: int = 0
    stop: str = ""

    @property
    def stops(self) -> tuple[str, ...]:
        """Stop sequences for the endpoint (fill-in-the-middle formats)."""
        return () if self.multiline else ("\n",)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def completion_shape(before: str, after: str) -> Shape:
    """Single-line when code follows the cursor on its line, or the line holds code that opens no
    block; a block on an empty line or after a block opening."""
    line_before = before.rsplit("\n", 1)[-1]
    line_after, _, rest = after.partition("\n")
    if line_after.strip() and not set(line_after) <= _CLOSERS:
        return Shape(False)
    stripped = line_before.strip()
    next_code = next((line.strip() for line in rest.split("\n") if line.strip()), "")
    if not stripped:
        return Shape(True, len(line_before.expandtabs(4)), next_code)
    if stripped.endswith(_OPENERS):
        return Shape(True, _indent(line_before.expandtabs(4)) + 1, next_code)
    return Shape(False)


def shape_candidate(text: str, shape: Shape, max_lines: int, max_bytes: int) -> str:
    """`text` cut to the shape (the first line; or the block up to a line that leaves it or repeats
    the code after the cursor), then to whole lines within `max_lines` and `max_bytes`."""
    lines = text.split("\n")
    if not shape.multiline:
        lines = lines[:1]
    else:
        kept = lines[:1]
        for line in lines[1:]:
            if line.strip() and (
                _indent(line.expandtabs(4)) < shape.indent or (len(shape.stop) > 3 and line.strip() == shape.stop)
            ):
                break
            kept.append(line)
        lines = kept
    lines = lines[:max_lines]
    size = 0
    for count, line in enumerate(lines):
        size += len(line.encode("utf-8", "surrogatepass")) + (1 if count else 0)
        if size > max_bytes:
            lines = lines[:count]
            break
    return "\n".join(lines).rstrip()
