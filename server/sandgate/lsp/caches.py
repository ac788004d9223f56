"""Small caches that let an identical re-ask (coc.nvim asks again right after each acceptance)
be answered without a second model call or a second vet. Keyed by everything that decides the
value, so any change misses; bounded in size and age; they live on the `Runtime`, so a new policy
or new settings start them empty."""

from __future__ import annotations

import hashlib
import json
import time
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

from sandgate.suggestion import Suggestion


@dataclass
class TtlCache:
    """At most `size` entries, each good for `ttl_s` seconds; the least recently used goes first."""

    size: int = 64
    ttl_s: float = 60.0
    _entries: OrderedDict[Hashable, tuple[float, Any]] = field(default_factory=OrderedDict)

    def get(self, key: Hashable) -> Any | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        stored, value = entry
        if time.monotonic() - stored > self.ttl_s:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return value

    def put(self, key: Hashable, value: Any) -> None:
        self._entries[key] = (time.monotonic(), value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def reply_key(url: str, body: dict[str, Any]) -> str:
    """The request as it would leave: the same URL and body get the same reply."""
    return _sha(json.dumps([url, body], sort_keys=True, ensure_ascii=False))


def vet_key(suggestion: Suggestion, policy_digest: str, backend: str | None) -> tuple[Any, ...]:
    """What decides a vet: the candidate, the document it is placed in and where, the language, the
    policy and the sandbox backend."""
    return (
        suggestion.sha256,
        _sha(suggestion.document or ""),
        suggestion.line,
        suggestion.character,
        suggestion.end_line,
        suggestion.end_character,
        suggestion.path,
        suggestion.language,
        policy_digest,
        backend,
    )
