"""What a `network.model_endpoints` entry means, in one place: the guard on the provider's URL
and the managed layer both read entries here.

An entry is a URL pattern: `*` matches any run of characters, `?` one, everything else is
literal (so `http://[::1]:*` works, which `fnmatch` would read as a character class), and case
is ignored. A URL matches when the pattern matches the whole URL in its canonical form (scheme
and host lower-cased, trailing dot dropped, no credentials, no fragment) **and** the pattern's
host-and-port part matches the URL's on its own, so `http://127.0.0.1:*` cannot be stretched
over `http://127.0.0.1:80@evil.example/`. Only http:// and https:// URLs without credentials
can match at all. A scheme's default port (443 for https, 80 for http) is the same endpoint
spelled out or not: such a URL matches in either spelling, so `https://api.openai.com:443/v1`
matches `https://api.openai.com/*` and `http://127.0.0.1/v1` matches `http://127.0.0.1:*`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Endpoint:
    """A URL as patterns judge it."""

    url: str  # canonical: lower-case scheme and host, no credentials, no fragment, no default port
    authority: str  # host[:port], an IPv6 host in brackets
    default_port: int | None = None  # the scheme's port, when the URL goes there (said or not)

    def spellings(self) -> tuple[tuple[str, str], ...]:
        """(url, authority) as patterns may spell it: with the default port, also spelled out."""
        if self.default_port is None:
            return ((self.url, self.authority),)
        scheme, _, rest = self.url.partition("://")
        port = f":{self.default_port}"
        spelled = f"{scheme}://{self.authority}{port}{rest[len(self.authority) :]}"
        return ((self.url, self.authority), (spelled, self.authority + port))


_DEFAULT_PORTS = {"http": 80, "https": 443}


@lru_cache(maxsize=256)
def _wildcard(pattern: str) -> re.Pattern[str]:
    parts = [".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern]
    return re.compile("".join(parts) + r"\Z", re.DOTALL | re.IGNORECASE)


def _authority(pattern: str) -> str:
    """The host-and-port part of a pattern (what follows `://`, up to the first `/`)."""
    scheme_sep = pattern.find("://")
    return pattern[scheme_sep + 3 :].split("/", 1)[0] if scheme_sep >= 0 else pattern


def shown(url: str) -> str:
    """The URL without credentials, query or fragment, for messages."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    netloc = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc=netloc, query="", fragment="").geturl()


def endpoint(url: str) -> Endpoint | str:
    """The URL as patterns judge it, or why no pattern can match it."""
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
    default = _DEFAULT_PORTS[scheme]
    if port is not None and port != default:
        authority += f":{port}"
    url = f"{scheme}://{authority}{parts.path}" + (f"?{parts.query}" if parts.query else "")
    return Endpoint(url, authority, default if port in (None, default) else None)


def matches(pattern: str, target: Endpoint) -> bool:
    whole, authority = _wildcard(pattern), _wildcard(_authority(pattern))
    return any(whole.match(url) and authority.match(host) for url, host in target.spellings())


def _glob_covers(wide: str, narrow: str) -> bool:
    """Whether every string `narrow` matches, `wide` matches too. Sufficient, not necessary: each
    of `narrow`'s characters must be matched by one of `wide`'s that matches all it can stand for
    (a `*` only by a `*`, a `?` by a `?` or a `*`), so a doubtful case is not covered."""
    wide, narrow = wide.lower(), narrow.lower()
    # reach[j]: `wide[:i]` can stand for `narrow[:j]`.
    reach = [True] + [False] * len(narrow)
    for w in wide:
        if w == "*":
            for j in range(1, len(narrow) + 1):
                reach[j] = reach[j] or reach[j - 1]
            continue
        nxt = [False] * (len(narrow) + 1)
        for j, n in enumerate(narrow, start=1):
            nxt[j] = reach[j - 1] and (n == w if w != "?" else n != "*")
        reach = nxt
    return reach[-1]


def covers(managed: str, lower: str) -> bool:
    """Whether pattern `managed` matches every URL pattern `lower` does (both the whole pattern
    and its host-and-port part), for the managed layer: a doubtful case is not covered."""
    return _glob_covers(managed, lower) and _glob_covers(_authority(managed), _authority(lower))
