"""When the document with the suggestion in place does not compile: the region around it that does.

A half-typed line anywhere in the file, or a suggestion cut off by the model's token limit, must
not leave the suggestion unchecked. The ladder, first region that compiles wins:

1. the document without its top-level statements that do not compile (the suggestion's own kept);
2. the suggestion's enclosing top-level statement with its broken rest cut away (a broken line
   above the suggestion inside it left out), and the brackets opened before the suggestion that
   this leaves open closed (a JavaScript function's `}`);
3. the suggestion alone, dedented, beside the file's other statements that compile (its imports
   say what the suggestion's names are), else on its own;

tried for the suggestion as written, then completed (a cut-off call or string closed), then
without its cut last statement (then only that shorter text may be shown). A region keeps the
placed document's line numbers (left-out lines become empty), so findings map back to document
lines as they do for the whole document. No region compiles: the suggestion cannot be vetted.

The language unit supplies the syntax (`Syntax`); this module only walks the ladder.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Protocol

from sandgate.lines import Lines, split_lines
from sandgate.suggestion import Placed, Suggestion, place
from sandgate.wording import plural

# Compiles spent on one region ladder at most (each is one pass of CPython's compiler).
MAX_ATTEMPTS = 24


class Syntax(Protocol):
    def parse(self, code: str) -> Any: ...
    def parses(self, code: str) -> bool: ...
    def compile_error(self, code: str) -> SyntaxError | None: ...
    def chunk_compiles(self, code: str) -> bool: ...
    def statement_starts(self, lines: list[str]) -> list[int]: ...
    def complete(self, text: str) -> str | None: ...
    def truncate(self, text: str, indent: str) -> str | None: ...
    def dedent(self, text: str) -> str: ...
    def describe(self, line: str) -> str | None: ...


@dataclass(frozen=True)
class Region:
    code: str  # what is vetted and run: same lines as `placed.code`, some emptied
    suggestion: Suggestion  # the suggestion as vetted (completed or cut when the variant says so)
    placed: Placed  # where `suggestion` sits in `code`
    kind: str  # document | without-broken | definition | alone
    variant: str  # as-is | completed | truncated
    note: str  # what was vetted, for people
    original: str = ""  # the suggestion as the model wrote it

    @property
    def shown(self) -> str:
        """What may be shown: the suggestion as written, or, cut, only the part that was vetted. A
        completed suggestion is shown as written: what was vetted holds all of it."""
        return self.suggestion.text if self.variant == "truncated" else self.original


@dataclass(frozen=True)
class CannotVet:
    reason: str


def _where(placed: Placed, error: SyntaxError | None) -> str:
    """`line 14 does not compile yet (…)`, in the document's numbering, for the first error."""
    if error is None:
        return "the code does not compile yet"
    if not error.lineno:
        return f"the code does not compile ({error.msg})"
    if placed.in_suggestion(error.lineno, error.lineno):
        return f"the suggestion does not compile ({error.msg})"
    return f"line {placed.document_line(error.lineno)} does not compile yet ({error.msg})"


def _lines_text(placed: Placed, lines: list[int]) -> str:
    numbers = sorted({placed.document_line(n + 1) for n in lines})
    if not numbers:
        return ""
    spans, first, last = [], numbers[0], numbers[0]
    for n in numbers[1:]:
        if n == last + 1:
            last = n
            continue
        spans.append((first, last))
        first = last = n
    spans.append((first, last))
    text = ", ".join(f"{a}" if a == b else f"{a}–{b}" for a, b in spans)
    return ("line " if len(numbers) == 1 else "lines ") + text


class _Ladder:
    def __init__(self, syntax: Syntax, error: SyntaxError | None) -> None:
        self.syntax = syntax
        self.error = error  # the whole document's first error (its message names it)
        self.attempts = 0

    def compile_error(self, code: str) -> SyntaxError | None:
        self.attempts += 1
        return self.syntax.compile_error(code)

    def spent(self) -> bool:
        return self.attempts >= MAX_ATTEMPTS

    # -- the regions ---------------------------------------------------------------------------

    def chunks(self, lines: list[str]) -> list[tuple[int, int]]:
        """Top-level statements as [start, end) line ranges."""
        starts = self.syntax.statement_starts(lines)
        return list(zip(starts, starts[1:] + [len(lines)], strict=True))

    def regions(self, suggestion: Suggestion, placed: Placed, variant: str, original: str) -> Region | None:
        lines = split_lines(placed.code)
        first, last = placed.first_line - 1, placed.last_line - 1  # 0-based, the suggestion's lines
        chunks = self.chunks(lines)
        own = [c for c in chunks if c[0] <= last and c[1] > first]
        own_start, own_end = own[0][0], own[-1][1]
        others = [c for c in chunks if c not in own]
        good = [c for c in others if self.syntax.chunk_compiles("\n".join(lines[c[0] : c[1]]))]
        kept = {n for a, b in good for n in range(a, b)}
        left_out = [n for a, b in others if (a, b) not in good for n in range(a, b) if lines[n].strip()]

        def code(keep: set[int]) -> str:
            return "\n".join(line if n in keep else "" for n, line in enumerate(lines))

        def region(text: str, kind: str, note: str) -> Region:
            return Region(text, suggestion, placed, kind, variant, note, original)

        # 1. Without the broken top-level statements elsewhere.
        problem = self.error
        if left_out:
            text = code(kept | set(range(own_start, own_end)))
            problem = self.compile_error(text)
            if problem is None:
                what = _lines_text(placed, left_out)
                verb = "do" if what.startswith("lines") else "does"
                return region(text, "without-broken", f"vetted without {what}, which {verb} not compile yet")
        # 2. The enclosing statement, its broken rest cut away, a broken line above the suggestion left out,
        # and closed where that leaves it open (a function still without its `}`).
        end, dropped = own_end, set()

        def name(end: int) -> str:
            return self.syntax.describe(lines[own_start]) or _lines_text(placed, list(range(own_start, end)))

        if problem is not None:
            closed = self.closed(suggestion, code(kept | set(range(own_start, end))), last, end, kept)
            if closed is not None:
                # An error at the end of the suggestion is the statement around it still open.
                error = self.error
                why = (
                    f"the code around the suggestion is not closed yet ({error.msg})"
                    if error is not None and error.lineno and placed.in_suggestion(error.lineno, error.lineno)
                    else _where(placed, error)
                )
                return region(closed[0], "definition", f"vetted in {name(end)} {closed[1]}: {why}")
        while problem is not None and problem.lineno and not self.spent():
            at = problem.lineno - 1
            if first <= at <= last or at < own_start:
                break  # the suggestion itself is broken, or something outside its statement
            if at > last:
                # Cut at the broken line; an error past the cut (a header left without its body) cuts one more.
                end = at if at < end else end - 1
                while end - 1 > last and not lines[end - 1].strip():
                    end -= 1
                if end <= last:
                    break
            elif at in dropped:
                break
            else:
                dropped.add(at)
            text = code(kept | (set(range(own_start, end)) - dropped))
            problem = self.compile_error(text)
            closed = self.closed(suggestion, text, last, end, kept) if problem is not None else None
            if problem is None or closed is not None:
                cut = [n for n in range(end, own_end) if lines[n].strip()] + sorted(dropped)
                how = f"without {_lines_text(placed, cut)}" + (f", {closed[1]}" if closed else "")
                return region(
                    closed[0] if closed else text,
                    "definition",
                    f"vetted in {name(end)} {how}: {_where(placed, self.error)}",
                )
        # 3. The suggestion alone: with the file's other statements that compile (its imports, which
        # say what its names are), else on its own.
        alone = self.alone(suggestion, placed, lines)
        if alone is not None and kept and not self.spent():
            out = code(kept).split("\n")
            for n, line in enumerate(alone.split("\n")):
                if line.strip():
                    out[n] = line
            beside = "\n".join(out)
            if self.compile_error(beside) is None:
                note = f"vetted as the suggestion with the rest of the file that compiles: {_where(placed, self.error)}"
                return region(beside, "alone", note)
        if alone is not None and not self.spent() and self.compile_error(alone) is None:
            return region(alone, "alone", f"vetted as the suggestion alone: {_where(placed, self.error)}")
        return None

    def closed(self, suggestion: Suggestion, text: str, last: int, end: int, kept: set[int]) -> tuple[str, str] | None:
        """`text` (the region up to line `end`) with the brackets it leaves open closed on line `end`,
        when that compiles: (the code, "closed with `…`"). Braces end a JavaScript function where
        indentation ends a Python one, so cutting a half-typed line out of a function, or a function
        typed to the end of the file, leaves its `}` to add. Only brackets opened before the
        suggestion: one the suggestion leaves open is for the completed variant to close, and a
        half-typed line after it is cut, never completed into code the user did not write."""
        if self.spent() or self.syntax.complete(suggestion.text) is not None:
            return None
        closers = _closers_of(self.syntax, text)
        out = text.split("\n")  # the document's lines, some emptied
        if not closers or _closers_of(self.syntax, "\n".join(out[: last + 1])) != closers:
            return None
        if end < len(out) and end not in kept:
            out[end] = closers
            candidate = "\n".join(out)
        elif end >= len(out):
            candidate = text + "\n" + closers
        else:
            return None  # the next statement starts on that line
        if self.compile_error(candidate) is not None:
            return None
        return candidate, f"closed with `{closers.strip()}`"

    def alone(self, suggestion: Suggestion, placed: Placed, lines: list[str]) -> str | None:
        """The suggestion on its own lines, dedented; None when it is the whole document already."""
        if suggestion.document is None:
            return None
        head = lines[placed.first_line - 1]
        indent = head[: len(head) - len(head.lstrip())]
        text = self.syntax.dedent(indent + suggestion.text)
        return "\n" * (placed.first_line - 1) + text


def _closers_of(syntax: Syntax, text: str) -> str:
    """What closes the brackets `text` leaves open ("" when none, or when they do not pair up)."""
    text = text.rstrip()
    completed = syntax.complete(text)
    return completed[len(text) :] if completed is not None else ""


def find_region(syntax: Syntax, suggestion: Suggestion, error: SyntaxError | None) -> Region | CannotVet:
    """The region to vet for a suggestion whose placed document does not compile (`error`)."""
    ladder = _Ladder(syntax, error)
    placed = place(suggestion)
    region = ladder.regions(suggestion, placed, "as-is", suggestion.text)
    if region is not None:
        return region
    variants = []
    completed = syntax.complete(suggestion.text)
    if completed is not None and completed != suggestion.text:
        closers = completed[len(suggestion.text) :]
        variants.append(("completed", completed, f"vetted completed with `{closers}` (the suggestion is cut off)"))
    indent = _indent_at(suggestion)
    truncated = syntax.truncate(suggestion.text, indent)
    if truncated is not None and truncated.strip() and truncated != suggestion.text:
        variants.append(
            (
                "truncated",
                truncated,
                "vetted without its last statement, which is cut off (only the vetted part is shown)",
            )
        )
    for variant, text, what in variants:
        changed = dataclasses.replace(suggestion, text=text)
        placed_variant = place(changed)
        if not ladder.spent() and syntax.parses(placed_variant.code):
            return Region(placed_variant.code, changed, placed_variant, "document", variant, what, suggestion.text)
        region = ladder.regions(changed, placed_variant, variant, suggestion.text)
        if region is not None:
            return dataclasses.replace(region, note=f"{what}; {region.note}")
    reason = _where(placed, error)
    if ladder.spent():
        reason += f"; gave up after {plural(ladder.attempts, 'attempt')}"
    return CannotVet(f"could not be vetted: no part of the code around the suggestion compiles ({reason})")


def _indent_at(suggestion: Suggestion) -> str:
    """The indentation of the line the suggestion starts on."""
    if suggestion.document is None:
        return ""
    lines = Lines.of(suggestion.document)
    line = min(max(0, suggestion.line), lines.count - 1)
    text = lines.line_text(line)
    return text[: len(text) - len(text.lstrip())]
