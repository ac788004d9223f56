"""The server's ledger of suggestions: held ones with their one-time approval tokens, blocked
ones (shown as diagnostics, never handed over), allowed inline items awaiting acceptance, and
recent outcomes. Every record is built from a `pipeline.VetResult` and keeps its typed findings
and reasons; JSON is made only where a record leaves the process (`convert`, audit records).

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
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypedDict

from lsprotocol import types

from sandgate.findings import Finding, Verdict
from sandgate.lsp.anchors import Anchor, follow, same_text, settle
from sandgate.lsp.documents import Edit, key
from sandgate.lsp.explain import sandbox_note
from sandgate.policy.evaluate import Reason
from sandgate.suggestion import Placed, sha256_text
from sandgate.timestamps import utc_timestamp

if TYPE_CHECKING:
    from sandgate.pipeline import VetResult

TOKEN_TTL_S = 3600.0
MAX_HELD_PER_URI = 5
MAX_RECENT = 50
MAX_INLINE = 200


class ApprovalRefused(Exception):
    """Why an approval was refused: `reason` is one of stale, replayed, altered, policy-changed, discarded
    (and unrecorded: the audit log could not take the approval)."""

    def __init__(self, reason: str, message: str, record: Held | None = None):
        self.reason = reason
        self.record = record
        super().__init__(message)


class NotInserted(Exception):
    """The approval came while the spot still holds what was there before: the user declined the
    edit (coc.nvim runs the action's command whatever the answer) or it was never applied. Not a
    refusal: nothing is recorded and the token stays usable."""

    def __init__(self, record: Held):
        self.record = record
        super().__init__("the suggestion is not in the document")


@dataclass(frozen=True)
class FindingRef:
    """A finding of the document as the fix flow names it: `source:rule` and its first line."""

    key: str
    line: int


@dataclass(kw_only=True)
class Withheld:
    """A vetted suggestion the editor did not get as ghost text: its spot, text and decision."""

    uri: str  # as the client spells it
    anchor: Anchor  # where it goes, followed through the edits
    range: types.Range  # the anchor in the client's units, kept current by the server
    text: str
    decision: Verdict
    reasons: tuple[Reason, ...]  # those that did not allow
    findings: tuple[Finding, ...]
    sha256: str
    policy_digest: str
    request_id: str | None = None  # the suggestion request: links decision, approval and telemetry
    model: str | None = None  # the model that wrote it
    vetted: str | None = None  # what was vetted, when not the document as it was (a region...)
    summary: str | None = None  # what the suggestion adds ("adds: network → host (sends …)")
    placed: Placed | None = None  # where it sat in the vetted code: names lines as the buffer counts them
    sandbox: str | None = None  # one line on the sandbox run (`explain.sandbox_note`)
    id: str = field(default_factory=lambda: new_token())  # names the record (a blocked one has no token)
    created_at: str = field(default_factory=utc_timestamp)
    created_mono: float = field(default_factory=time.monotonic)
    outcome: str | None = None

    @property
    def doc_key(self) -> str:
        return key(self.uri)


class Vetted(TypedDict):
    """What every record takes from a vet result: the text that was vetted and its decision."""

    text: str
    decision: Verdict
    reasons: tuple[Reason, ...]
    findings: tuple[Finding, ...]
    sha256: str
    policy_digest: str
    vetted: str | None
    summary: str | None
    placed: Placed | None
    sandbox: str | None


def vetted(result: VetResult) -> Vetted:
    return Vetted(
        text=result.suggestion.text,
        decision=result.verdict,
        reasons=tuple(r for r in result.reasons if r.verdict > Verdict.ALLOW),
        findings=tuple(result.findings),
        sha256=result.content_sha256,
        policy_digest=result.policy_digest,
        vetted=result.vetted,
        summary=result.summary,
        placed=result.placed,
        sandbox=sandbox_note(result.sandbox, result.sandbox_skipped),
    )


@dataclass(kw_only=True)
class Held(Withheld):
    """Held for review (or a vetted AI fix): a person may approve it with its one-time token."""

    token: str = field(default_factory=lambda: new_token())
    kind: str = "suggestion"  # or "fix"
    verified: str = ""  # for a fix: what was verified
    fixes: FindingRef | None = None  # for a fix: the finding it removes

    @classmethod
    def of(
        cls,
        result: VetResult,
        *,
        uri: str,
        anchor: Anchor,
        range: types.Range,
        request_id: str | None,
        model: str | None,
        kind: str = "suggestion",
        verified: str = "",
        fixes: FindingRef | None = None,
    ) -> Held:
        return cls(
            uri=uri,
            anchor=anchor,
            range=range,
            request_id=request_id,
            model=model,
            kind=kind,
            verified=verified,
            fixes=fixes,
            **vetted(result),
        )


@dataclass(kw_only=True)
class Blocked(Withheld):
    """Blocked by the policy: shown as a diagnostic with its reasons, never handed to the editor."""

    @classmethod
    def of(
        cls,
        result: VetResult,
        *,
        uri: str,
        anchor: Anchor,
        range: types.Range,
        request_id: str | None,
        model: str | None,
    ) -> Blocked:
        return cls(uri=uri, anchor=anchor, range=range, request_id=request_id, model=model, **vetted(result))


@dataclass
class Offered:
    """An allowed suggestion handed to the editor as ghost text, until the user accepts it."""

    id: str
    uri: str
    text: str
    sha256: str
    policy_digest: str
    findings: tuple[Finding, ...]
    request_id: str | None = None
    model: str | None = None
    accepted: bool = False
    backend: str | None = None  # the sandbox that ran it, None when none did


class Ledger:
    """Thread-safe; every method is short."""

    def __init__(self, ttl_s: float = TOKEN_TTL_S) -> None:
        self._lock = threading.Lock()
        self._ttl = ttl_s
        self._held: OrderedDict[str, Held] = OrderedDict()
        self._blocked: dict[str, list[Blocked]] = {}
        self._used: dict[str, str] = {}  # token -> outcome
        self._recent: deque[Withheld] = deque(maxlen=MAX_RECENT)
        self._offered: OrderedDict[str, Offered] = OrderedDict()

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
                for old in [h for h in same if h is not record and h.fixes == record.fixes]:
                    self._held.pop(old.token, None)
                    self._finish(old, "superseded")
                    dropped.append(old)
        return dropped

    def set_blocked(self, uri: str, records: list[Blocked]) -> None:
        with self._lock:
            self._blocked[key(uri)] = records
            for record in records:
                record.outcome = "blocked"
                self._recent.append(record)

    def offer(self, result: VetResult, uri: str, request_id: str | None = None, model: str | None = None) -> Offered:
        """An allowed suggestion handed out as ghost text: the vetted text, under a new id."""
        text = result.suggestion.text
        item = Offered(
            new_token(),
            uri,
            text,
            sha256_text(text),
            result.policy_digest,
            tuple(result.findings),
            request_id,
            model,
            backend=result.sandbox.backend if result.sandbox is not None else None,
        )
        with self._lock:
            self._offered[item.id] = item
            while len(self._offered) > MAX_INLINE:
                self._offered.popitem(last=False)
        return item

    # -- reading ---------------------------------------------------------------------------

    def held_for(self, uri: str) -> list[Held]:
        with self._lock:
            self._expire()
            return [h for h in self._held.values() if h.doc_key == key(uri)]

    def blocked_for(self, uri: str) -> list[Blocked]:
        with self._lock:
            return list(self._blocked.get(key(uri), []))

    def find(self, record_id: str) -> Withheld | None:
        """A held, blocked or recent record by its `id`."""
        with self._lock:
            for record in [*self._held.values(), *(b for bs in self._blocked.values() for b in bs), *self._recent]:
                if record.id == record_id:
                    return record
        return None

    def get(self, token: str) -> Held | None:
        with self._lock:
            self._expire()
            return self._held.get(token)

    def pending_count(self) -> int:
        with self._lock:
            self._expire()
            return len(self._held)

    def listing(self) -> tuple[list[Held], list[Withheld]]:
        """What is pending, oldest first, and the recent outcomes, newest first."""
        with self._lock:
            self._expire()
            return list(self._held.values()), list(reversed(self._recent))

    # -- deciding --------------------------------------------------------------------------

    def approve(self, token: str, text_now: str | None, policy_digest: str, anchored: bool = True) -> Held:
        """Consume `token` if the text in the document is the vetted one, in the text it was vetted in
        (`anchored`), and the policy is unchanged. Raises `ApprovalRefused`, or `NotInserted` when
        the spot holds what it held before (the edit was declined)."""
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
            if (
                text_now is not None
                and sha256_text(text_now) != record.sha256
                and same_text(text_now, record.anchor.original)
            ):
                raise NotInserted(record)
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

    def reinstate(self, record: Held) -> None:
        """Undo `approve`: the approval could not be recorded, so it did not happen (fail closed);
        the suggestion is held again under its token, to be approved once the log is fixed."""
        with self._lock:
            if self._used.get(record.token) != "approved":
                return
            del self._used[record.token]
            try:
                self._recent.remove(record)
            except ValueError:
                pass
            record.outcome = None
            self._held[record.token] = record

    def discard(self, token: str) -> Held:
        with self._lock:
            record = self._held.pop(token, None)
            if record is None:
                raise ApprovalRefused("stale", "Discard refused (stale): unknown, used or expired token.")
            self._finish(record, "discarded")
            return record

    def accept(self, item_id: str) -> tuple[Offered, list[Held]]:
        """Record an acceptance; the held siblings of the same reply in that document are dropped
        (superseded: the user chose another candidate for that spot)."""
        with self._lock:
            item = self._offered.get(item_id)
            if item is None:
                raise ApprovalRefused("stale", "Unknown inline suggestion id.")
            if item.accepted:
                raise ApprovalRefused("replayed", "This inline suggestion was already accepted.")
            item.accepted = True
            siblings = [
                h
                for h in self._held.values()
                if h.kind == "suggestion"
                and item.request_id is not None
                and h.request_id == item.request_id
                and h.doc_key == key(item.uri)
            ]
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

    def follow(
        self, uri: str, steps: Iterable[tuple[Edit, str]], relocate: Callable[[Anchor], types.Range]
    ) -> list[Withheld]:
        """Move the anchors of `uri`'s held and blocked suggestions through a change (each edit with
        the text after it); drop those whose anchor is gone. Returns the dropped ones."""
        steps = list(steps)
        dropped: list[Withheld] = []
        with self._lock:
            blocked = self._blocked.get(key(uri), [])
            records: list[Withheld] = [h for h in self._held.values() if h.doc_key == key(uri)]
            for record in records + list(blocked):
                anchor: Anchor | None = record.anchor
                for edit, text in steps:
                    anchor = (
                        follow(anchor, edit.start, edit.end, edit.text, text, record.text, judge=False)
                        if anchor
                        else None
                    )
                # The spot is judged once the whole change is in (one edit may come as several).
                anchor = settle(anchor, steps[-1][1], record.text) if anchor and steps else anchor
                if anchor is None:
                    dropped.append(record)
                    if isinstance(record, Held) and self._held.pop(record.token, None) is not None:
                        self._finish(record, "superseded")
                    continue
                record.anchor = anchor
                record.range = relocate(anchor)
            if blocked:
                self._blocked[key(uri)] = [b for b in blocked if b not in dropped]
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


def new_token() -> str:
    return secrets.token_urlsafe(24)


def new_request_id() -> str:
    """A suggestion request's id: in audit records and telemetry, never a secret."""
    return f"req-{secrets.token_hex(8)}"
