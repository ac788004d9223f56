"""Prompts for the model and the clean-up of its answers. Pure functions."""

from __future__ import annotations

import re
from dataclasses import dataclass

# Markers around the cursor; the model is asked to answer with the insertion only.
CURSOR = "<CURSOR>"

SYSTEM_COMPLETE = (
    "You are a code completion engine. You receive a file with the marker <CURSOR> where the "
    "cursor is. Answer with only the code to insert at the cursor: no explanation, no markdown "
    "fences, no repetition of the code before or after the cursor."
)

SYSTEM_FIX = (
    "You fix security problems in code. You receive a file, the lines to replace and the "
    "problem found in them. Answer with only the replacement lines: no explanation, no markdown "
    "fences, nothing outside those lines. Keep the behaviour and the indentation."
)

# Bounds on how much context is sent (characters).
MAX_BEFORE = 6000
MAX_AFTER = 2000


@dataclass(frozen=True)
class CompletionContext:
    before: str
    after: str
    language: str
    path: str  # relative to the workspace


def completion_messages(ctx: CompletionContext) -> list[dict[str, str]]:
    before = ctx.before[-MAX_BEFORE:]
    after = ctx.after[:MAX_AFTER]
    user = (
        f"Language: {ctx.language}\n"
        f"File: {ctx.path}\n"
        f"```{ctx.language}\n{before}{CURSOR}{after}\n```\n"
        "Code to insert at <CURSOR>:"
    )
    return [{"role": "system", "content": SYSTEM_COMPLETE}, {"role": "user", "content": user}]


def fix_messages(
    document: str, language: str, path: str, first_line: int, last_line: int, problem: str
) -> list[dict[str, str]]:
    """Ask for replacement lines `first_line..last_line` (1-based, inclusive)."""
    lines = document.splitlines()
    target = "\n".join(lines[first_line - 1 : last_line])
    user = (
        f"Language: {language}\nFile: {path}\n"
        f"```{language}\n{document[-MAX_BEFORE * 2 :]}\n```\n"
        f"Problem on lines {first_line}-{last_line}: {problem}\n"
        f"Lines {first_line}-{last_line} now:\n```{language}\n{target}\n```\n"
        "Replacement lines:"
    )
    return [{"role": "system", "content": SYSTEM_FIX}, {"role": "user", "content": user}]


_FENCE = re.compile(r"^[ \t]*(```|~~~)[^\n]*\n?", re.MULTILINE)
_BLOCK = re.compile(r"(```|~~~)[^\n]*\n(.*?)(?:\n[ \t]*\1[ \t]*(?:\n|$)|\Z)", re.DOTALL)


def strip_fences(answer: str) -> str:
    """The code inside a markdown fence when the answer has one; else the answer unchanged.

    Models often wrap code in ```lang ... ``` despite being told not to, sometimes with a
    sentence before or after. The first fenced block wins; stray fence lines are removed.
    """
    if "```" not in answer and "~~~" not in answer:
        return answer
    block = _BLOCK.search(answer)
    if block:
        return block.group(2)
    return _FENCE.sub("", answer)


def clean_candidate(answer: str, after: str = "", *, fences: bool = True) -> str:
    """Strip fences (chat answers; a fill-in-the-middle answer is code as it stands) and trailing
    whitespace; drop a repeated suffix of the code after the cursor."""
    text = (strip_fences(answer) if fences else answer).rstrip()
    tail = after.strip()
    if tail and text.endswith(tail):
        text = text[: len(text) - len(tail)].rstrip()
    return text
