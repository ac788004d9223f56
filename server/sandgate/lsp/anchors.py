"""Where a held suggestion belongs in its document, followed through the user's edits.

An anchor is the spot the suggestion was vetted for (`start`..`end`: what it replaces, empty for
an insertion) and the text around it as it was vetted (`before`, `after`: the lines around,
`CONTEXT_LINES` each way). Edits elsewhere move it; edits inside the spot are the suggestion being
inserted (state `inserted`), taken out again (`open`), or changed after insertion (`altered`:
the approval is refused until it is undone). Anything else (an edit to the text around it, or
something other than the suggestion written at the spot) means the anchor is gone: the
suggestion no longer belongs to this document and is dropped. Pure: offsets are code points.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from sandgate.lines import Lines

CONTEXT_LINES = 2
OPEN, INSERTED, ALTERED = "open", "inserted", "altered"


@dataclass(frozen=True)
class Anchor:
    start: int
    end: int
    before: str
    after: str
    original: str  # what start..end held when the suggestion was vetted
    state: str = OPEN
    touched: bool = False  # an edit of this change fell inside the spot: `settle` judges it

    @property
    def window(self) -> tuple[int, int]:
        return self.start - len(self.before), self.end + len(self.after)


def same_text(a: str, b: str) -> bool:
    """Equal once line breaks are counted alike (an editor inserts its document's own)."""
    return a.replace("\r\n", "\n") == b.replace("\r\n", "\n")


def anchor_in(text: str, start: int, end: int) -> Anchor:
    lines = Lines.of(text)
    first = max(0, lines.position(start)[0] - CONTEXT_LINES)
    last = min(lines.count - 1, lines.position(end)[0] + CONTEXT_LINES)
    return Anchor(start, end, text[lines.start(first) : start], text[end : lines.end_with_break(last)], text[start:end])


def follow(
    anchor: Anchor, start: int, end: int, inserted: str, new_text: str, suggestion: str, judge: bool = True
) -> Anchor | None:
    """The anchor after `new_text` replaced [start, end) of the text before; None: it is gone.
    `judge=False`: an edit inside the spot is only followed (`touched`), and `settle` judges the spot
    once every edit of the change is applied: VS Code reports one replacement as several small
    edits (a character diff), whose in-between texts are neither the suggestion nor the original."""
    low, high = anchor.window
    delta = len(inserted) - (end - start)
    if end <= low and not (start == end == low and anchor.before == ""):
        return dataclasses.replace(anchor, start=anchor.start + delta, end=anchor.end + delta)
    if start >= high and not (start == end == high and anchor.after == ""):
        return anchor
    if not (anchor.start <= start and end <= anchor.end):
        return None  # the text around the suggestion changed
    moved = dataclasses.replace(anchor, end=anchor.end + delta, touched=True)
    return settle(moved, new_text, suggestion) if judge else moved


def settle(anchor: Anchor, text: str, suggestion: str) -> Anchor | None:
    """Judge the spot after edits inside it: the suggestion (inserted), the original (open), the
    suggestion changed after insertion (altered), or something else (None: it is gone)."""
    if not anchor.touched:
        return anchor
    settled = dataclasses.replace(anchor, touched=False)
    now = text[anchor.start : anchor.end]
    if same_text(now, suggestion):
        return dataclasses.replace(settled, state=INSERTED)
    if now == anchor.original:
        return dataclasses.replace(settled, state=OPEN)
    if anchor.state in (INSERTED, ALTERED):
        return dataclasses.replace(settled, state=ALTERED)
    return None  # something else was written where the suggestion would go


def intact(anchor: Anchor, text: str) -> bool:
    """Whether the text around the anchor is still the vetted one."""
    low, high = anchor.window
    return (
        0 <= low
        and high <= len(text)
        and text[low : anchor.start] == anchor.before
        and text[anchor.end : high] == anchor.after
    )


def text_at(anchor: Anchor, text: str) -> str:
    """What sits at the suggestion's spot now, line breaks as the suggestion writes them."""
    return text[anchor.start : anchor.end].replace("\r\n", "\n")
