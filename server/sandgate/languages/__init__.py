"""The languages Sandgate can vet, each a unit that plugs into the pipeline.

A unit says which documents it covers (LSP language ids and file extensions) and supplies its
syntax (`regions.Syntax`: parse, compile check, top-level statements, completing and cutting a
suggestion), its static checks and how its code runs in the sandbox. Python is the one unit
today; a language without one is never served unvetted (the policy's `languages.unvetted`
decides what happens instead).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any, Callable

# What happens to suggestions in a language without a unit (policy `languages.unvetted`),
# strictest first: the model is not asked; every suggestion is held for review; suggestions are
# shown with a `not-vetted` finding.
UNVETTED_CHOICES = ("skip", "review", "allow")


@dataclass(frozen=True)
class Language:
    name: str
    language_ids: frozenset[str]
    extensions: tuple[str, ...]
    syntax: Any  # regions.Syntax
    # (vetter, code, tree) -> (findings, floors): the in-process checks on vetted code.
    static_checks: Callable[[Any, str, Any], tuple[list, list]]
    # The sandbox runtime that runs this language's code (the backends run Python).
    runtime: str


def _registry() -> dict[str, Language]:
    from sandgate.languages.python import PYTHON

    return {unit.name: unit for unit in (PYTHON,)}


def language_for(language_id: str | None, path: str | None) -> Language | None:
    """The unit for a document: by its LSP language id; by its extension when it has none (or
    `plaintext`, which editors give files they do not recognise)."""
    units = _registry().values()
    if language_id and language_id != "plaintext":
        return next((unit for unit in units if language_id in unit.language_ids), None)
    suffix = PurePosixPath(path or "").suffix.lower()
    for unit in units:
        if suffix and suffix in unit.extensions:
            return unit
    return None


def language_name(language_id: str | None, path: str | None) -> str:
    """What to call a document's language in messages: its language id, else its extension."""
    if language_id:
        return language_id
    suffix = PurePosixPath(path or "").suffix.lower().lstrip(".")
    return suffix or "plain text"
