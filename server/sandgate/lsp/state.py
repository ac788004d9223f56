"""The server's memory of suggestions: held ones with their one-time approval tokens, blocked
ones (shown as diagnostics), allowed inline items awaiting acceptance, and recent outcomes.

An approval is bound to what was vetted: the token is issued here, used once, and accepted
only when the text now in the document has the SHA-256 of the vetted text and the policy in
force has the digest that vetted it. Nothing the model writes can approve anything: tokens
are random server secrets, never derived from the suggestion.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from sandgate.findings import Verdict

TOKEN_TTL_S = 3600.0
MAX_HELD_PER_URI = 5
MAX_RECENT = 50
MAX_INLINE = 200


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class ApprovalRefused(Exception):
    """Why an approval was refused: `reason` is one of stale, replayed, altered, policy-changed, discarded."""

    def __init__(self, reason: str, message: str, record: "Held | None" = None):
        self.reason = reason
        self.record = record
        super().__init__(message)


@dataclass
class Held:
    """A suggestion withheld from the editor (review or block), or a vetted AI fix."""

    token: str
    uri: str
    line: int
    character: int
    end_line: int
    end_character: int
    text: str
    decision: Verdict
    reasons: list[dict[str, Any]]
    findings: list[dict[str, Any]]
    sha256: str
    policy_digest: str
    kind: str = "suggestion"  # or "fix"
    verified: str = ""  # for a fix: what was verified
    finding_key: str = ""  # for a fix: the diagnostic it fixes (rule:line)
    request_id: str | None = None  # the suggestion request: links decision, approval and telemetry
    model: str | None = None  # the model that wrote it
    created_at: str = field(default_factory=now_iso)
    created_mono: float = field(default_factory=time.monotonic)
    outcome: str | None = None

    def to_json(self) -> dict[str, Any]:
        data = {
            "token": None if self.decision is Verdict.BLOCK else self.token,
            "uri": self.uri,
            "range": {
                "start": {"line": self.line, "character": self.character},
                "end": {"line": self.end_line, "character": self.end_character},
            },
            # A blocked suggestion is never handed to the editor, not even here.
            "text": None if self.decision is Verdict.BLOCK else self.text,
            "decision": str(self.decision),
            "reasons": self.reasons,
            "findings": self.findings,
            "createdAt": self.created_at,
            "kind": self.kind,
            "sha256": self.sha256,
            "policyDigest": self.policy_digest,
            "requestId": self.request_id,
        }
        if self.verified:
            data["verified"] = self.verified
        if self.outcome is not None:
            data["outcome"] = self.outcome
        return data


@dataclass
class InlineItem:
    id: str
    uri: str
    text: str
    sha256: str
    policy_digest: str
    findings: list[dict[str, Any]]
    request_id: str | None = None
    model: str | None = None
    accepted: bool = False


class SuggestionStore:
    """Thread-safe; every method is short."""

    def __init__(self, ttl_s: float = TOKEN_TTL_S) -> None:
        self._lock = threading.Lock()
        self._ttl = ttl_s
        self._held: OrderedDict[str, Held] = OrderedDict()
        self._blocked: dict[str, list[Held]] = {}
        self._used: dict[str, str] = {}  # token -> outcome
        self._recent: deque[Held] = deque(maxlen=MAX_RECENT)
        self._inline: OrderedDict[str, InlineItem] = OrderedDict()

    # -- issuing ---------------------------------------------------------------------------

    def hold(self, record: Held) -> list[Held]:
        """Keep a held suggestion or fix; returns older ones for the same uri that were superseded."""
        dropped: list[Held] = []
        with self._lock:
            self._held[record.token] = record
            same = [h for h in self._held.values() if h.uri == record.uri and h.kind == record.kind]
            for old in same[:-MAX_HELD_PER_URI]:
                del self._held[old.token]
                self._finish(old, "superseded")
                dropped.append(old)
            if record.kind == "fix":
                for old in [h for h in same if h is not record and h.finding_key == record.finding_key]:
                    self._held.pop(old.token, None)
                    self._finish(old, "superseded")
                    dropped.append(old)
        return dropped

    def set_blocked(self, uri: str, records: list[Held]) -> None:
        with self._lock:
            self._blocked[uri] = records
            for record in records:
                record.outcome = "blocked"
                self._recent.append(record)

    def add_inline(
        self,
        uri: str,
        text: str,
        policy_digest: str,
        findings: list[dict[str, Any]],
        request_id: str | None = None,
        model: str | None = None,
    ) -> InlineItem:
        item = InlineItem(new_token(), uri, text, sha256_text(text), policy_digest, findings, request_id, model)
        with self._lock:
            self._inline[item.id] = item
            while len(self._inline) > MAX_INLINE:
                self._inline.popitem(last=False)
        return item

    # -- reading ---------------------------------------------------------------------------

    def held_for(self, uri: str) -> list[Held]:
        with self._lock:
            self._expire()
            return [h for h in self._held.values() if h.uri == uri]

    def blocked_for(self, uri: str) -> list[Held]:
        with self._lock:
            return list(self._blocked.get(uri, []))

    def get(self, token: str) -> Held | None:
        with self._lock:
            self._expire()
            return self._held.get(token)

    def pending_count(self) -> int:
        with self._lock:
            self._expire()
            return len(self._held)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            self._expire()
            return {
                "items": [h.to_json() for h in self._held.values()],
                "recent": [h.to_json() for h in reversed(self._recent)],
            }

    def uris(self) -> set[str]:
        with self._lock:
            return {h.uri for h in self._held.values()} | set(self._blocked)

    # -- deciding --------------------------------------------------------------------------

    def approve(self, token: str, text_now: str | None, policy_digest: str) -> Held:
        """Consume `token` if the text in the document is the vetted one and the policy is unchanged."""
        with self._lock:
            self._expire()
            record = self._held.get(token)
            if record is None:
                outcome = self._used.get(token)
                if outcome in ("approved",):
                    raise ApprovalRefused("replayed", "Approval refused (replayed): this token was already used.")
                if outcome == "discarded":
                    raise ApprovalRefused("discarded", "Approval refused (stale): the suggestion was discarded.")
                if outcome in ("superseded", "expired", "refused"):
                    raise ApprovalRefused("stale", f"Approval refused (stale): the suggestion was {outcome}.")
                raise ApprovalRefused("stale", "Approval refused (stale): unknown or expired approval token.")
            if record.policy_digest != policy_digest:
                # The token dies: a new vet under the new policy is needed.
                del self._held[token]
                self._finish(record, "refused")
                raise ApprovalRefused(
                    "policy-changed",
                    "Approval refused (policy changed): the policy in force is not the one that vetted this "
                    "suggestion; ask for it again.",
                    record,
                )
            if text_now is None or sha256_text(text_now) != record.sha256:
                # The token stays usable: the user may undo the change and approve again.
                raise ApprovalRefused(
                    "altered",
                    "Approval refused (altered): the text at the suggestion's position is not the vetted "
                    "suggestion (SHA-256 mismatch).",
                    record,
                )
            del self._held[token]
            self._finish(record, "approved")
            return record

    def discard(self, token: str) -> Held:
        with self._lock:
            record = self._held.pop(token, None)
            if record is None:
                raise ApprovalRefused("stale", "Discard refused (stale): unknown, used or expired token.")
            self._finish(record, "discarded")
            return record

    def refuse(self, record: Held) -> None:
        with self._lock:
            if self._held.pop(record.token, None) is not None:
                self._finish(record, "refused")

    def accept_inline(self, item_id: str) -> InlineItem:
        with self._lock:
            item = self._inline.get(item_id)
            if item is None:
                raise ApprovalRefused("stale", "Unknown inline suggestion id.")
            if item.accepted:
                raise ApprovalRefused("replayed", "This inline suggestion was already accepted.")
            item.accepted = True
            return item

    def drop_uri(self, uri: str) -> None:
        with self._lock:
            self._blocked.pop(uri, None)

    # -- internals -------------------------------------------------------------------------

    def _finish(self, record: Held, outcome: str) -> None:
        record.outcome = outcome
        self._used[record.token] = outcome
        self._recent.append(record)

    def _expire(self) -> None:
        cutoff = time.monotonic() - self._ttl
        for token, record in list(self._held.items()):
            if record.created_mono < cutoff:
                del self._held[token]
                self._finish(record, "expired")


def new_token() -> str:
    return secrets.token_urlsafe(24)


def new_request_id() -> str:
    """A suggestion request's id: in audit records and telemetry, never a secret."""
    return f"req-{secrets.token_hex(8)}"
