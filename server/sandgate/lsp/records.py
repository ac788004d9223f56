"""The audit records of what a person did with a suggestion (docs/audit.md). Pure."""

from __future__ import annotations

from typing import Any

from sandgate.lsp.ledger import ApprovalRefused, Held, Offered
from sandgate.suggestion import sha256_text


def outcome_record(event: str, record: Held, file: str, decided_by: str, token: str) -> dict[str, Any]:
    """An `approval` or `discard` record; an approval also says what was approved and why it was held."""
    data: dict[str, Any] = {
        "event": event,
        "kind": record.kind,
        "uri": record.uri,
        "file": file,
        "request_id": record.request_id,
        "model": record.model,
        "content_sha256": record.sha256,
        "policy_digest": record.policy_digest,
        "decided_by": decided_by,
    }
    if event == "approval":
        data.update(
            {
                "decision": str(record.decision),
                "findings": [f.to_json() for f in record.findings],
                "reasons": [r.to_json() for r in record.reasons],
                "verified": record.verified or None,
            }
        )
    data["token_sha256"] = sha256_text(token)
    return data


def refusal_record(refused: ApprovalRefused, token: str, decided_by: str) -> dict[str, Any]:
    record = refused.record
    return {
        "event": "approval-refused",
        "reason": refused.reason,
        "message": str(refused),
        "uri": record.uri if record else None,
        "request_id": record.request_id if record else None,
        "content_sha256": record.sha256 if record else None,
        "policy_digest": record.policy_digest if record else None,
        "decided_by": decided_by,
        "token_sha256": sha256_text(token),
    }


def acceptance_record(item: Offered, file: str, decided_by: str) -> dict[str, Any]:
    """The user let an allowed suggestion in."""
    return {
        "event": "acceptance",
        "kind": "inline",
        "uri": item.uri,
        "file": file,
        "request_id": item.request_id,
        "model": item.model,
        "decision": "allow",
        "decided_by": decided_by,
        "content_sha256": item.sha256,
        "policy_digest": item.policy_digest,
        "findings": [f.to_json() for f in item.findings],
    }
