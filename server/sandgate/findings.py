"""The vocabulary every check speaks: findings, their severities, and decisions.

Checks produce `Finding`s; the policy turns them into a `Decision`. Both are plain
frozen data so they can be hashed, compared in tests and serialised without ceremony.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from typing import Any


class Level(enum.IntEnum):
    """Severity and confidence share one ordered scale (bandit's, plus INFO)."""

    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3

    @classmethod
    def parse(cls, text: str) -> Level:
        return cls[text.strip().upper()]

    def __str__(self) -> str:
        return self.name.lower()


class Verdict(enum.IntEnum):
    """Ordered so that `max()` picks the strictest: allow < review < block."""

    ALLOW = 0
    REVIEW = 1
    BLOCK = 2

    @classmethod
    def parse(cls, text: str) -> Verdict:
        return cls[text.strip().upper()]

    def __str__(self) -> str:
        return self.name.lower()


class Origin(str, enum.Enum):
    """Whether a finding lies in the AI suggestion or in code the user already had."""

    SUGGESTION = "suggestion"
    DOCUMENT = "document"


@dataclass(frozen=True)
class Finding:
    """One thing a check noticed.

    `source` names the check family (`bandit`, `secrets`, `policy`, `rules`, `sandbox`, `syntax`);
    `rule` is the id within it (`B602`, `aws-access-key`, `network.denied`, ...).
    Lines are 1-based and inclusive, columns 0-based, all relative to the text that was
    vetted (the document with the suggestion in place, or the suggestion alone).
    Runtime findings have no line (0).
    """

    source: str
    rule: str
    severity: Level
    confidence: Level
    message: str
    line: int = 0
    end_line: int = 0
    col: int = 0
    end_col: int = 0
    origin: Origin = Origin.SUGGESTION
    cwe: int | None = None
    more_info: str | None = None
    # How to fix it, in a sentence (shown in the diagnostic, given to Fix with AI).
    fix: str | None = None
    # Structured details (host and port of a connection, path of a write, ...).
    # Values must be JSON-serialisable; never a secret in full.
    details: tuple[tuple[str, Any], ...] = field(default=())
    # The language of the code it was found in ("python", "javascript", "typescript"); set by
    # the pipeline (None: a check run on its own).
    language: str | None = None

    @property
    def key(self) -> str:
        return f"{self.source}:{self.rule}"

    def detail(self, name: str, default: Any = None) -> Any:
        return dict(self.details).get(name, default)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["severity"] = str(self.severity)
        data["confidence"] = str(self.confidence)
        data["origin"] = self.origin.value
        data["details"] = dict(self.details)
        return data


def details(**kwargs: Any) -> tuple[tuple[str, Any], ...]:
    """Build the hashable `Finding.details` from keyword arguments."""
    return tuple(sorted(kwargs.items()))
