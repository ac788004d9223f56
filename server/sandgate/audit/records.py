"""The audit record of a vet decision, built in one place for every entry point (CLI, server)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sandgate.pipeline import VetResult


def decision_record(
    result: VetResult, *, request_id: str | None = None, model: str | None = None, **extra: Any
) -> dict[str, Any]:
    """A `decision` record as docs/audit.md describes it; `extra` keys are kept as given."""
    data = result.to_json()
    return {
        "event": "decision",
        "file": data["path"],
        "content_sha256": data["content_sha256"],
        "policy_digest": data["policy_digest"],
        "decision": data["decision"],
        "decided_by": result.decided_by,
        "reasons": data["reasons"],
        "findings": data["findings"],
        "sandbox": {
            k: data["sandbox"].get(k)
            for k in ("backend", "runtime", "exit_code", "timed_out", "killed", "error", "skipped")
        },
        "vetted": data["vetted"],
        "language": data["language"],
        # What the suggestion adds ("adds: network → host (sends ~/.aws/credentials)"), as the
        # diagnostic leads with it: the record says why in one line. None when it adds nothing.
        "summary": data["summary"],
        "model": model,
        "request_id": request_id,
        **extra,
    }
