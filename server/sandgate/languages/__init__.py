"""The languages Sandgate can vet, each a unit that plugs into the pipeline.

A unit says which documents it covers (LSP language ids and file extensions) and supplies its
syntax (`regions.Syntax`: parse, compile check, top-level statements, completing and cutting a
suggestion), its static checks and how its code runs in the sandbox. Python is vetted whole;
JavaScript and TypeScript (`languages.javascript`) run in a Node sandbox (but JSX and TSX files,
which Node cannot run). A language without a unit is never served unvetted (the policy's `languages.unvetted`
decides what happens instead), and neither is one without a sandbox run (see `pipeline`).
"""

from __future__ import annotations

from pathlib import PurePosixPath

from sandgate.languages.javascript import JAVASCRIPT, TYPESCRIPT
from sandgate.languages.python import PYTHON
from sandgate.languages.unit import Language

_UNITS: dict[str, Language] = {unit.name: unit for unit in (PYTHON, JAVASCRIPT, TYPESCRIPT)}


def unit_named(name: str) -> Language | None:
    """The unit called `name` (`sandgate vet --language`), by its name or one of its language ids."""
    return _UNITS.get(name) or next((u for u in _UNITS.values() if name in u.language_ids), None)


# Files of a language that its runtime still cannot run: Node strips types but does not compile JSX.
NOT_RUNNABLE = {".jsx": "JSX", ".tsx": "TSX"}


def not_runnable_kind(path: str | None) -> str | None:
    """`JSX` or `TSX` for a file its language's runtime cannot run, else None."""
    return NOT_RUNNABLE.get(PurePosixPath(path or "").suffix.lower())


def not_run_why(unit: Language | None, path: str | None) -> str | None:
    """Why a file of a language Sandgate runs is not run (a JSX or TSX file), for a person; None
    for any other file (its language is run, or has no runtime at all)."""
    suffix = PurePosixPath(path or "").suffix.lower()
    if unit is None or unit.runtime is None or suffix not in NOT_RUNNABLE:
        return None
    if suffix == ".tsx":
        return (
            "TSX files (TypeScript with JSX) are not run in Sandgate's sandbox yet: Node runs TypeScript "
            "by stripping its types, but does not compile JSX"
        )
    return "JSX files are not run in Sandgate's sandbox yet: Node does not compile JSX"


def runtime_for(unit: Language | None, path: str | None) -> str | None:
    """The sandbox runtime that runs this document's code (`protocol.RUNTIMES`), None: none does."""
    if unit is None or unit.runtime is None:
        return None
    if PurePosixPath(path or "").suffix.lower() in NOT_RUNNABLE:
        return None
    return unit.runtime


def fully_vetted(unit: Language | None, path: str | None = None) -> bool:
    """Whether suggestions in the unit's language (in the file at `path`) are vetted whole (static
    checks and a sandbox run)."""
    return runtime_for(unit, path) is not None


def language_for(language_id: str | None, path: str | None) -> Language | None:
    """The unit for a document: by its LSP language id; by its extension when it has none (or
    `plaintext`, which editors give files they do not recognise)."""
    units = _UNITS.values()
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
