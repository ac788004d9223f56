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
    # The sandbox runtime that runs this language's code (the backends run Python); None: no
    # sandbox runs it yet (the pipeline holds its suggestions, `sandbox.unsupported-language`).
    runtime: str | None
