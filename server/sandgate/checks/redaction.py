"""Secrets replaced by a named placeholder, wherever text leaves Sandgate: requests to the model
(`provider.guard`) and what a sandboxed run printed (`sandbox.redact`). The detectors are the
checks' own: `checks.secrets.find_secrets` (known key formats, random values under secret
names) and `checks.credential_values` (what the pack's `cred.*` rules call a hard-coded
credential, in any text: `os.environ["DB_PASSWORD"] = "…"`, an Authorization header, a `.env`
line), so what a check would find never leaves whole.

A value is replaced by a placeholder on its own line: the text keeps its lines, so a prompt's
line numbers (Fix with AI) and the cursor's line stay where they were.
"""

from __future__ import annotations

import re

from sandgate.checks.credential_values import credential_values
from sandgate.checks.secrets import find_secrets
from sandgate.lines import split_lines

# A private key's body is not on the line the detector flags: drop the whole block.
_PEM_BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 ]*PRIVATE KEY[A-Z0-9 ]*)-----.*?(?:-----END \1-----|\Z)", re.DOTALL)
_MIN_VALUE = 4


def placeholder(rule: str) -> str:
    return f"<redacted:{rule}>"


def redact_context(text: str, *, credentials: bool = True) -> tuple[str, int]:
    """`text` with every secret `sandgate.checks.secrets.find_secrets` finds, and every
    hard-coded credential `checks.credential_values` finds, replaced by `<redacted:<rule>>`
    (every occurrence of the value, wherever it appears), and the number of replacements.
    Private-key blocks go whole, body included. `credentials=False`: the secrets detector alone
    (the benchmark's baseline)."""
    count = 0

    def pem(match: re.Match[str]) -> str:
        nonlocal count
        count += 1
        return placeholder("private-key")

    text = _PEM_BLOCK.sub(pem, text)
    lines = split_lines(text)  # as find_secrets numbers them
    values: dict[str, str] = {}
    for finding in find_secrets(text):
        if not 1 <= finding.line <= len(lines):
            continue
        value = lines[finding.line - 1][finding.col : finding.end_col]
        if len(value) >= _MIN_VALUE and value not in values:
            values[value] = finding.rule
    if credentials:
        for value, rule in credential_values(text):
            if len(value) >= _MIN_VALUE and value not in values:
                values[value] = rule
    # Longest first, so a value that contains another is replaced whole.
    for value in sorted(values, key=len, reverse=True):
        occurrences = text.count(value)
        if occurrences:
            text = text.replace(value, placeholder(values[value]))
            count += occurrences
    return text, count
