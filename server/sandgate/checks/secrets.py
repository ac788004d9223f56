"""Secret detection: known credential formats, and high-entropy values given secret-sounding names.

Known formats (cloud keys, tokens, private keys) come from detect-secrets' pattern plugins,
called in-process line by line. Its generic entropy plugins flag every long identifier, so
the "random-looking value assigned to password/secret/token" case is our own: a named value,
entropy above a threshold, and not a placeholder. Works on partial code (no parsing).

A secret never leaves this module in full: messages and details carry a redacted preview.

detect-secrets' `# pragma: allowlist secret` marks a line the user vouches for: `checks.vouching`
drops the findings of such lines in the user's own code. A suggestion cannot vouch for itself:
the pragma inside it is not honoured (the model would only have to write it).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from functools import lru_cache

from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class

from sandgate.findings import Finding, Level, details
from sandgate.lines import split_lines

# Pattern plugins only: the entropy and keyword plugins are replaced by `_named_values`.
_SKIP_PLUGINS = {
    "Base64HighEntropyString",
    "HexHighEntropyString",
    "KeywordDetector",
    "IPPublicDetector",
}

_NAME = r"(?:pass(?:word|wd|phrase)?|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|auth[_-]?key|client[_-]?secret|credentials?)"
_NAMED_VALUE = re.compile(
    rf"""(?P<name>[A-Za-z_][\w.-]*{_NAME}[\w]*|{_NAME}[\w]*)["']?\s*(?:=|:|=>)\s*[rbuRBU]?(?P<q>["'])(?P<value>[^"'\n]{{8,}})(?P=q)""",
    re.IGNORECASE,
)
_PLACEHOLDER = re.compile(
    r"^(?:x+|\*+|\.+|changeme|change[_-]?me|password|secret|token|example|dummy|test|none|null|todo|"
    r"your[_-].*|<.*>|\$\{.*\}|\{\{.*\}\}|%\(.*\)s|\{.*\})$",
    re.IGNORECASE,
)
_NAME_WORD = re.compile(_NAME, re.IGNORECASE)  # no such word in the code: no named value either
ENTROPY_THRESHOLD = 3.0  # bits per character; English words sit below, random keys above


def redact(secret: str) -> str:
    """A preview that identifies a secret to its owner without revealing it."""
    if len(secret) <= 8:
        return "*" * len(secret)
    return f"{secret[:4]}…{secret[-2:]} ({len(secret)} chars)"


def shannon_entropy(text: str) -> float:
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


@lru_cache(maxsize=1)
def _plugins() -> tuple:
    classes: list[type] = list(get_mapping_from_secret_type_to_class().values())
    return tuple(cls() for cls in classes if cls.__name__ not in _SKIP_PLUGINS)


@lru_cache(maxsize=1)
def _any_pattern() -> re.Pattern | None:
    """Every pattern plugin's patterns as one alternation: a plugin can report on a line only where
    one of its patterns matches it, so a line this does not match needs no plugin at all (calling
    each of ~23 plugins on every line is most of the cost). None if a plugin has no patterns."""
    parts = []
    for plugin in _plugins():
        patterns = getattr(plugin, "denylist", None)
        if not patterns:
            return None
        for p in patterns:
            flags = "".join(
                c
                for flag, c in ((re.IGNORECASE, "i"), (re.MULTILINE, "m"), (re.DOTALL, "s"), (re.VERBOSE, "x"))
                if p.flags & flag
            )
            parts.append(f"(?{flags}:{p.pattern})" if flags else f"(?:{p.pattern})")
    return re.compile("|".join(parts))


def _rule_id(secret_type: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", secret_type.lower()).strip("-")


def _whole_token(line: str, value: str) -> str:
    """Some plugins capture only a prefix (`ghp`); widen it to the token it starts."""
    start = line.find(value)
    if start < 0 or not value:
        return value
    match = re.compile(r"[A-Za-z0-9_\-+/=.]+").match(line, start)
    return match.group(0) if match and len(match.group(0)) > len(value) else value


def find_secrets(code: str) -> list[Finding]:
    findings: list[Finding] = []
    prefilter = _any_pattern()
    named = _NAME_WORD.search(code) is not None
    # Numbered as Sandgate numbers lines (`sandgate.lines`): a finding's line decides whether it is the
    # suggestion's, and `str.splitlines` also breaks at U+2028 and friends, which a suggestion could
    # use to push its secret's line number past its own lines.
    for number, line in enumerate(split_lines(code), start=1):
        seen: set[str] = set()
        if prefilter is not None and not prefilter.search(line):
            if named:
                _named_values(line, number, seen, findings)
            continue
        for plugin in _plugins():
            for secret in plugin.analyze_line(filename="suggestion.py", line=line, line_number=number):
                value = _whole_token(line, secret.secret_value or "")
                if value in seen:
                    continue
                seen.add(value)
                col = max(line.find(value), 0)
                findings.append(
                    Finding(
                        source="secrets",
                        rule=_rule_id(secret.type),
                        severity=Level.HIGH,
                        confidence=Level.HIGH,
                        message=f"{secret.type} in the code: {redact(value)}",
                        line=number,
                        end_line=number,
                        col=col,
                        end_col=col + len(value),
                        cwe=798,
                        details=details(preview=redact(value), type=secret.type),
                    )
                )
        if named:
            _named_values(line, number, seen, findings)
    return findings


def _named_values(line: str, number: int, seen: set[str], findings: list[Finding]) -> None:
    """Our own rule: a random-looking value given a secret-sounding name (not a placeholder)."""
    for match in _NAMED_VALUE.finditer(line):
        value = match.group("value")
        if value in seen or any(value in s or s in value for s in seen):
            continue
        if _PLACEHOLDER.match(value.strip()) or shannon_entropy(value) < ENTROPY_THRESHOLD:
            continue
        seen.add(value)
        findings.append(
            Finding(
                source="secrets",
                rule="hardcoded-secret",
                severity=Level.HIGH,
                confidence=Level.MEDIUM,
                message=f"high-entropy value assigned to {match.group('name')!r}: {redact(value)}",
                line=number,
                end_line=number,
                col=match.start("value"),
                end_col=match.end("value"),
                cwe=798,
                details=details(name=match.group("name"), preview=redact(value)),
            )
        )
