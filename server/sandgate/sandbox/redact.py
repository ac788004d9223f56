"""Secrets never leave through Sandgate's own outputs: what a run printed or did is redacted once,
as soon as the backend returns, before it reaches a finding, the audit log, telemetry, SARIF or
the screen.

The secret detector (`checks/secrets.py`, through `checks/redaction.py`) replaces
known credential formats and quoted high-entropy values with secret-sounding names. Program
output also holds unquoted `NAME=value` lines (a printed `.env`, `env` output): those values go
too when the name sounds secret and the value looks random.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from sandgate.checks.redaction import placeholder, redact_context
from sandgate.checks.secrets import ENTROPY_THRESHOLD, shannon_entropy
from sandgate.sandbox.base import RunResult

_UNQUOTED = re.compile(
    r"(?P<name>\b[\w.-]*(?:pass(?:word|wd|phrase)?|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|"
    r"private[_-]?key|auth|credentials?|session)[\w.-]*)(?P<sep>\s*[=:]\s*)(?P<value>[^\s'\"]{8,})",
    re.IGNORECASE,
)
# Strings shorter than this cannot hold a credential worth the detector's time.
_MIN_LEN = 8


def redact_text(text: str) -> str:
    if len(text) < _MIN_LEN:
        return text
    text, _ = redact_context(text)

    def unquoted(match: re.Match[str]) -> str:
        value = match.group("value")
        if value.startswith("<redacted:") or shannon_entropy(value) < ENTROPY_THRESHOLD:
            return match.group(0)
        return match.group("name") + match.group("sep") + placeholder("assigned-secret")

    return _UNQUOTED.sub(unquoted, text)


def _redact(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: _redact(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_redact(v) for v in value)
    return value


def redact_run(result: RunResult) -> RunResult:
    """`result` with every secret in its output, its events and the supervisor's record redacted."""
    outside = result.outside
    if outside is not None and outside.events:
        outside = replace(outside, events=[_redact(ev) for ev in outside.events])
    return replace(
        result,
        stdout=redact_text(result.stdout),
        stderr=redact_text(result.stderr),
        events=[_redact(ev) for ev in result.events],
        error=redact_text(result.error) if result.error else result.error,
        outside=outside,
    )
