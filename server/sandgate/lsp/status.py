"""What the `sandgate/status` notification says, and when it changes.

The board keeps the notes that come and go with requests (the model's last error, what the
model guard held back, languages Sandgate cannot vet, the last failed vet); `payload` joins them
with the runtime's state into the message docs/protocol.md describes. Pure apart from the notes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sandgate.findings import Verdict
from sandgate.lsp import convert, explain
from sandgate.provider import ProviderError

if TYPE_CHECKING:
    from sandgate.lsp.runtime import Runtime
    from sandgate.pipeline import VetResult


@dataclass
class StatusBoard:
    provider_error: dict[str, Any] | None = None
    # What the model guard held back from the last inline request (the status's `context`).
    context: dict[str, Any] | None = None
    # Languages asked about that Sandgate cannot vet (the status's `languages`), by name.
    unvetted_languages: dict[str, dict[str, Any]] = field(default_factory=dict)
    # The last vet that failed, until one succeeds (the status's `vetError`).
    vet_error: dict[str, Any] | None = None
    # Inline requests whose answer came after their deadline: dropped, counted (the status's `late`).
    late: int = 0
    # Open documents over `documents.maxBytes`, by document key (the status's `tooLarge`).
    too_large: dict[str, dict[str, Any]] = field(default_factory=dict)
    # The decision on the last inline request, said briefly by the client (the status's `lastDecision`).
    last_decision: dict[str, Any] | None = None
    decisions: int = 0
    last_sent: dict[str, Any] | None = None
    # Fail-closed reasons already told to a client that does not show the status.
    told: set[str] = field(default_factory=set)

    def provider_failed(self, err: ProviderError) -> bool:
        """Note a failed model call; True when it is a new kind of failure (worth telling the user)."""
        first = self.provider_error is None or self.provider_error.get("kind") != err.kind.value
        self.provider_error = err.to_json()
        return first

    def provider_ok(self) -> bool:
        changed, self.provider_error = self.provider_error is not None, None
        return changed

    def note_context(self, uri: str, path: str, status: str | None, excluded_by: str | None, redactions: int) -> bool:
        note = convert.context_note(uri, path, status, excluded_by, redactions)
        changed, self.context = note != self.context, note
        return changed

    def forget_context(self, doc_key: str, key_of: Any) -> bool:
        """The document closed: its context note goes with it."""
        if self.context and key_of(self.context.get("uri") or "") == doc_key:
            self.context = None
            return True
        return False

    def note_unvetted(
        self, language: str, handling: str, static_only: bool = False, files: str | None = None
    ) -> dict[str, Any] | None:
        """The language's entry when it is new or changed (said once per language), else None."""
        entry = convert.unvetted_language(language, handling, static_only, files)
        if self.unvetted_languages.get(language) == entry:
            return None
        self.unvetted_languages[language] = entry
        return entry

    def note_late(self) -> None:
        self.late += 1

    def note_size(self, key: str, note: dict[str, Any] | None) -> bool:
        """Whether the document `key` is over the size limit (`note`) or not (None); True when that changed."""
        if note is None:
            return self.too_large.pop(key, None) is not None
        changed = self.too_large.get(key) != note
        self.too_large[key] = note
        return changed

    def note_vet(self, uri: str, path: str, result: VetResult) -> bool:
        """A vet that failed, or found nothing it could vet, stays in the status until one succeeds."""
        failed = next((r for r in result.reasons if r.rule_id in ("vet-failed", "not-vetted")), None)
        note = {"uri": uri, "path": path, "message": result.vetted or failed.text} if failed else None
        changed, self.vet_error = note != self.vet_error, note
        return changed

    def note_decision(self, uri: str, path: str, results: list[VetResult]) -> None:
        """What the user saw of the last inline request: the ghost text shown (and what its vet found),
        else the suggestion held, else the one blocked."""
        if not results:
            return
        best = min(results, key=lambda r: r.verdict)  # what was shown, when anything was
        if best.verdict is Verdict.ALLOW:
            backend = best.sandbox.backend if best.sandbox is not None else None
            message = f"allowed, {explain.allowed_note(best.findings, backend)}"
        else:
            title = "held for review" if best.verdict is Verdict.REVIEW else "blocked"
            message = f"{title}: {explain.headline(best.summary, best.reasons)}"
        self.decisions += 1
        self.last_decision = {
            "seq": self.decisions,
            "decision": str(best.verdict),
            "message": message,
            "findings": explain.severity_counts(best.findings) if best.verdict is Verdict.ALLOW else "",
            "uri": uri,
            "path": path,
        }

    def payload(
        self,
        *,
        runtime: Runtime | None,
        backend: str,
        sandbox_problem: str | None,
        audit_error: str | None,
        pending: int,
        trusted: bool,
    ) -> dict[str, Any]:
        rt = runtime
        fail_closed = list(rt.fail_closed) if rt else ["starting"]
        if sandbox_problem:
            fail_closed.append(sandbox_problem)
        if audit_error:
            fail_closed.append(audit_error)
        if rt and rt.settings.problems:
            fail_closed.extend(f"setting ignored: {p}" for p in rt.settings.problems)
        if self.context and self.context.get("excludedBy"):
            fail_closed.append(self.context["message"])
        if self.vet_error:
            fail_closed.append(f"the last vet failed ({self.vet_error['path']}): {self.vet_error['message']}")
        return convert.status_payload(
            preset=rt.loaded.preset if rt else "strict",
            backend=backend,
            pending=pending,
            trusted=trusted,
            fail_closed=fail_closed,
            provider_configured=bool(rt and rt.provider is not None),
            provider_refused=bool(rt and rt.provider_refused),
            provider_error=self.provider_error,
            policy_digest=rt.digest if rt else None,
            context=self.context,
            languages=list(self.unvetted_languages.values()),
            vet_error=self.vet_error,
            late=self.late,
            too_large=list(self.too_large.values()),
            last_decision=self.last_decision,
        )

    def untold(self, fail_closed: list[str]) -> list[str]:
        """The fail-closed reasons not yet told (a reason that went away and came back is new
        again); "starting" is not one worth a message."""
        now = [reason for reason in fail_closed if reason != "starting"]
        new = [reason for reason in now if reason not in self.told]
        self.told = set(now)
        return new

    def changed(self, payload: dict[str, Any], force: bool = False) -> bool:
        """Whether `payload` should be sent (it differs from the last one sent, or `force`)."""
        if force or payload != self.last_sent:
            self.last_sent = payload
            return True
        return False
