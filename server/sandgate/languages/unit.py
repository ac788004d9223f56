"""What a language unit supplies to the pipeline (see `sandgate.languages`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Language:
    name: str
    language_ids: frozenset[str]
    extensions: tuple[str, ...]
    syntax: Any  # regions.Syntax
    # (vetter, code, tree) -> (findings, holds): the in-process checks on vetted code.
    static_checks: Callable[[Any, str, Any], tuple[list, list]]
    # (vetter, tree) -> the capabilities of the vetted code (`checks.capabilities.Capability`), and
    # code -> the capability keys of a whole document (None: it does not parse): what a suggestion adds.
    capabilities: Callable[[Any, Any], list]
    document_capabilities: Callable[[str], frozenset | None]
    # The sandbox runtime that runs this language's code (the backends run Python); None: no
    # sandbox runs it yet (the pipeline holds its suggestions, `sandbox.unsupported-language`).
    runtime: str | None


def longest_parsing_head(syntax: Any, text: str, indent: str) -> str | None:
    """The longest run of `text`'s first lines that parses on its own (its cut last statement
    dropped), or None: `Syntax.truncate` for every language, by the language's own `parses`."""
    lines = text.split("\n")
    for count in range(len(lines) - 1, 0, -1):
        head = "\n".join(lines[:count]).rstrip()
        if head.strip() and syntax.parses(syntax.dedent(indent + head)):
            return head
    return None
