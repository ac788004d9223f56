"""The server's memory of suggestions: held ones with their one-time approval tokens, blocked
ones (shown as diagnostics), allowed inline items awaiting acceptance, and recent outcomes.

An approval is bound to what was vetted: the token is issued here, used once, and accepted
only when the text now in the document has the SHA-256 of the vetted text, the text around it
is the one it was vetted in (`anchors`), and the policy in force has the digest that vetted it.
A suggestion whose anchor is gone (the user's edits, the document closed, a sibling candidate
of the same reply accepted) is dropped. Nothing the model writes can approve anything: tokens
are random server secrets, never derived from the suggestion.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from sandgate.findings import Verdict
from sandgate.lsp.anchors import Anchor, follow
from sandgate.lsp.documents import Edit, key
from sandgate.suggestion import sha256_text
from sandgate.timestamps import utc_timestamp

TOKEN_TTL_S = 3600.0
MAX_HELD_PER_URI = 5
MAX_RECENT = 50
MAX_INLINE = 200


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
    uri: str  # as the client spells it
    anchor: Anchor  # where it goes, followed through the edits
    range: dict[str, Any]  # the anchor in the client's units, kept current by the server
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
    created_at: str = field(default_factory=utc_timestamp)
    created_mono: float = field(default_factory=time.monotonic)
    outcome: str | None = None
    vetted: str | None = None  # what was vetted, when not the document as it was (a region...)

    @property
    def doc_key(self) -> str:
        return key(self.uri)

    def to_json(self) -> dict[str, Any]:
        data = {
            "token": None if self.decision is Verdict.BLOCK else self.token,
            "uri": self.uri,
            "range": self.range,
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
        if self.vetted:
            data["vetted"] = self.vetted
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
            self._blocked[key(uri)] = records
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
            return [h for h in self._held.values() if h.doc_key == key(uri)]

    def blocked_for(self, uri: str) -> list[Held]:
        with self._lock:
            return list(self._blocked.get(key(uri), []))

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


    # -- deciding --------------------------------------------------------------------------

    def approve(self, token: str, text_now: str | None, policy_digest: str, anchored: bool = True) -> Held:
        """Consume `token` if the text in the document is the vetted one, in the text it was vetted in
        (`anchored`), and the policy is unchanged."""
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
            if not anchored:
                del self._held[token]
                self._finish(record, "superseded")
                raise ApprovalRefused(
                    "stale",
                    "Approval refused (stale): the document around the suggestion is not the one it was vetted in.",
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

    def accept_inline(self, item_id: str) -> tuple[InlineItem, list[Held]]:
        """Record an acceptance; the held siblings of the same reply in that document are dropped
        (superseded: the user chose another candidate for that spot)."""
        with self._lock:
            item = self._inline.get(item_id)
            if item is None:
                raise ApprovalRefused("stale", "Unknown inline suggestion id.")
            if item.accepted:
                raise ApprovalRefused("replayed", "This inline suggestion was already accepted.")
            item.accepted = True
            siblings = [h for h in self._held.values() if h.kind == "suggestion" and item.request_id is not None
                        and h.request_id == item.request_id and h.doc_key == key(item.uri)]
            for held in siblings:
                del self._held[held.token]
                self._finish(held, "superseded")
            return item, siblings

    def drop_uri(self, uri: str) -> list[Held]:
        """The document closed: what was held for it expires (a reopened document is another one)."""
        with self._lock:
            self._blocked.pop(key(uri), None)
            gone = [h for h in self._held.values() if h.doc_key == key(uri)]
            for held in gone:
                del self._held[held.token]
                self._finish(held, "expired")
            return gone

    def follow(self, uri: str, steps: Iterable[tuple[Edit, str]],
               relocate: Callable[[Anchor], dict[str, Any]]) -> list[Held]:
        """Move the anchors of `uri`'s held and blocked suggestions through a change (each edit with
        the text after it); drop those whose anchor is gone. Returns the dropped ones."""
        steps = list(steps)
        dropped: list[Held] = []
        with self._lock:
            blocked = self._blocked.get(key(uri), [])
            for record in [h for h in self._held.values() if h.doc_key == key(uri)] + blocked:
                anchor: Anchor | None = record.anchor
                for edit, text in steps:
                    anchor = follow(anchor, edit.start, edit.end, edit.text, text, record.text)
                    if anchor is None:
                        break
                if anchor is None:
                    dropped.append(record)
                    if record.decision is not Verdict.BLOCK and self._held.pop(record.token, None) is not None:
                        self._finish(record, "superseded")
                    continue
                record.anchor = anchor
                record.range = relocate(anchor)
            if blocked:
                self._blocked[key(uri)] = [h for h in blocked if h not in dropped]
        return dropped

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


def held_from(result: Any, *, uri: str, anchor: Anchor, range: dict[str, Any], request_id: str | None,
              model: str | None, **extra: Any) -> Held:
    """A held (or blocked) record of a vet result (`pipeline.VetResult`): the text that was vetted,
    with a new token."""
    return Held(
        token=new_token(),
        uri=uri,
        anchor=anchor,
        range=range,
        text=result.suggestion.text,
        decision=result.verdict,
        reasons=[r.to_json() for r in result.reasons if r.verdict > Verdict.ALLOW],
        findings=[f.to_json() for f in result.findings],
        sha256=result.content_sha256,
        policy_digest=result.policy_digest,
        request_id=request_id,
        model=model,
        vetted=result.vetted,
        **extra,
    )


def new_token() -> str:
    return secrets.token_urlsafe(24)


def new_request_id() -> str:
    """A suggestion request's id: in audit records and telemetry, never a secret."""
    return f"req-{secrets.token_hex(8)}"
