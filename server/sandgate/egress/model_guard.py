"""What Sandgate itself sends to the model: only to an allowed endpoint, never an excluded
file's content, never a secret.

- `endpoint_allowed(url, network)`: the provider's base URL against `network.model_endpoints`.
- `is_excluded(relpath, files)`: the `files.exclude` glob that keeps a file's content home.
- `redact_context(text)`: every secret the checks would find, replaced by `<redacted:<rule>>`.

All three are pure and cheap enough to call on every request.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from sandgate.checks.secrets import find_secrets
from sandgate.policy.model import FilesPolicy, NetworkPolicy
from sandgate.workspace_globs import matching_glob

# -- endpoints ----------------------------------------------------------------------------------


def _wildcard(pattern: str, case_sensitive: bool = True) -> re.Pattern[str]:
    """`*` any run of characters, `?` one; everything else literal (so `http://[::1]:*` works,
    which `fnmatch` would read as a character class)."""
    parts = []
    for ch in pattern:
        parts.append(".*" if ch == "*" else "." if ch == "?" else re.escape(ch))
    return re.compile("".join(parts) + r"\Z", re.DOTALL | (0 if case_sensitive else re.IGNORECASE))


def _display(url: str) -> str:
    """The URL without credentials, for messages."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    netloc = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc=netloc, query="", fragment="").geturl()


def _canonical(url: str) -> tuple[str, str] | str:
    """(canonical URL, authority) or the reason the URL cannot be judged."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        return f"malformed URL ({exc})"
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        return "only http:// and https:// endpoints are allowed"
    if "@" in parts.netloc:
        return "an endpoint URL must not carry credentials (user@host)"
    host = (parts.hostname or "").rstrip(".")
    if not host:
        return "no host in the URL"
    authority = f"[{host}]" if ":" in host else host
    if port is not None:
        authority += f":{port}"
    canonical = f"{scheme}://{authority}{parts.path}" + (f"?{parts.query}" if parts.query else "")
    return canonical, authority


def endpoint_allowed(url: str, network: NetworkPolicy, *, managed: bool = False) -> tuple[bool, str]:
    """Whether the model endpoint `url` (the provider's base URL) matches one of
    `network.model_endpoints`, and a message that names the rule either way.

    A pattern is a URL where `*` matches any characters and `?` one; it must match the whole
    (credential-free, lower-case scheme and host) URL, and its host-and-port part must match
    the URL's on its own, so `http://127.0.0.1:*` cannot be stretched over another host.
    `managed` only changes the wording (the managed policy pinned the list).
    """
    layer = "managed policy" if managed else "policy"
    shown = _display(url)
    judged = _canonical(url)
    if isinstance(judged, str):
        return False, f"model endpoint {shown} refused by network.model_endpoints ({layer}): {judged}"
    canonical, authority = judged
    for pattern in network.model_endpoints:
        scheme_sep = pattern.find("://")
        pattern_authority = pattern[scheme_sep + 3:].split("/", 1)[0] if scheme_sep >= 0 else pattern
        if not _wildcard(pattern, case_sensitive=False).match(canonical):
            continue
        # The authority part of the pattern, on its own, against the URL's host[:port].
        if not _wildcard(pattern_authority, case_sensitive=False).match(authority):
            continue
        return True, f"model endpoint {shown} allowed by network.model_endpoints {pattern!r} ({layer})"
    if not network.model_endpoints:
        return False, f"model endpoint {shown} refused by network.model_endpoints ({layer}): the list is empty, no model is allowed"
    allowed = ", ".join(network.model_endpoints)
    return False, f"model endpoint {shown} refused by network.model_endpoints ({layer}); allowed: {allowed}"


# -- excluded files -----------------------------------------------------------------------------


def is_excluded(relpath: str, files: FilesPolicy) -> str | None:
    """The `files.exclude` glob that keeps `relpath` (workspace-relative) from any model, or None
    (matched as `sandgate.workspace_globs.matching_glob` reads a workspace glob)."""
    return matching_glob(relpath, files.exclude)


# -- secrets ------------------------------------------------------------------------------------

# A private key's body is not on the line the detector flags: drop the whole block.
_PEM_BLOCK = re.compile(
    r"-----BEGIN ([A-Z0-9 ]*PRIVATE KEY[A-Z0-9 ]*)-----.*?(?:-----END \1-----|\Z)", re.DOTALL
)
_MIN_VALUE = 4


def placeholder(rule: str) -> str:
    return f"<redacted:{rule}>"


def redact_context(text: str) -> tuple[str, int]:
    """`text` with every secret `sandgate.checks.secrets.find_secrets` finds replaced by
    `<redacted:<rule>>` (every occurrence of the value, wherever it appears), and the number
    of replacements. Private-key blocks go whole, body included."""
    count = 0

    def pem(match: re.Match[str]) -> str:
        nonlocal count
        count += 1
        return placeholder("private-key")

    text = _PEM_BLOCK.sub(pem, text)
    lines = text.splitlines()
    values: dict[str, str] = {}
    for finding in find_secrets(text):
        if not 1 <= finding.line <= len(lines):
            continue
        value = lines[finding.line - 1][finding.col:finding.end_col]
        if len(value) >= _MIN_VALUE and value not in values:
            values[value] = finding.rule
    # Longest first, so a value that contains another is replaced whole.
    for value in sorted(values, key=len, reverse=True):
        occurrences = text.count(value)
        if occurrences:
            text = text.replace(value, placeholder(values[value]))
            count += occurrences
    return text, count


# -- both, for one file -------------------------------------------------------------------------


@dataclass(frozen=True)
class GuardedText:
    """What of one file may go to the model: `text` is None when the file is excluded."""

    text: str | None
    excluded_by: str | None  # the `files.exclude` glob
    redactions: int

    @property
    def status(self) -> str | None:
        """A line for the editor's status when something was held back; None otherwise."""
        if self.excluded_by is not None:
            return f"no suggestions here: files.exclude {self.excluded_by!r} keeps this file from the model"
        if self.redactions:
            return f"{self.redactions} secret(s) redacted before the request left"
        return None


def guard_text(relpath: str, text: str, files: FilesPolicy) -> GuardedText:
    """The one call before a file's text joins a request: excluded → nothing; else redacted."""
    pattern = is_excluded(relpath, files)
    if pattern is not None:
        return GuardedText(None, pattern, 0)
    redacted, count = redact_context(text)
    return GuardedText(redacted, None, count)
