"""SARIF 2.1.0 from audit records: the findings on AI suggestions, with their provenance.

One result per finding per vetted suggestion, written by `sandgate.sarif` (as `sandgate vet
--format sarif` is). Findings reach the audit log inside the record of the decision on a
suggestion; the approval, discard or acceptance that came later (same request id and content
hash) supplies who let it through. Provenance travels in each result's `properties`: model,
request id, content hash, decision, who decided, approver, outcome, policy digest, and the audit
record's seq and hash so a reader can go from the SARIF back to the verified chain.

Only findings whose `origin` is `suggestion` are exported unless `include_document` is
set: findings on code the user already had are not findings on AI suggestions.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sandgate.sarif import SarifLog

# What a later record says happened to a vetted suggestion.
OUTCOMES = {"approval": "approved", "discard": "discarded", "acceptance": "accepted"}


def _suggestion_key(record: dict[str, Any]) -> tuple[Any, Any]:
    return record.get("request_id"), record.get("content_sha256")


def _provenance(record: dict[str, Any], outcome: dict[str, Any] | None) -> dict[str, Any]:
    approver = None
    if outcome is not None and outcome.get("event") in ("approval", "acceptance"):
        approver = outcome.get("decided_by")
    return {
        "model": record.get("model"),
        "requestId": record.get("request_id"),
        "contentSha256": record.get("content_sha256"),
        "decision": record.get("decision"),
        "decidedBy": record.get("decided_by"),
        "approver": approver,
        "outcome": OUTCOMES.get(str(outcome.get("event"))) if outcome else "pending",
        "policyDigest": record.get("policy_digest"),
        "auditSeq": record.get("seq"),
        "auditHash": record.get("hash"),
        # Lines are relative to the text that was vetted, not necessarily today's file.
        "lineBase": "vetted-text",
    }


def to_sarif(
    records: Iterable[dict[str, Any]],
    *,
    tool_version: str,
    verification: dict[str, Any] | None = None,
    include_document: bool = False,
) -> dict[str, Any]:
    """A SARIF 2.1.0 log (as a dict) of the findings in `records`."""
    records = list(records)
    outcomes: dict[tuple[Any, Any], dict[str, Any]] = {}
    for record in records:
        if record.get("event") in OUTCOMES:
            outcomes[_suggestion_key(record)] = record  # the latest one wins

    log = SarifLog()
    seen: set[tuple[Any, Any]] = set()
    for record in records:
        findings = record.get("findings")
        if not isinstance(findings, list) or not findings:
            continue
        key = _suggestion_key(record)
        # Approval records may repeat the findings of the decision: count each suggestion once.
        if key in seen:
            continue
        seen.add(key)
        file = record.get("file")
        provenance = _provenance(record, outcomes.get(key))
        for finding in findings:
            if not isinstance(finding, dict):
                continue
            if finding.get("origin", "suggestion") != "suggestion" and not include_document:
                continue
            log.add(finding, file if isinstance(file, str) else None, record.get("content_sha256"), provenance)
    return log.to_json(tool_version, {"auditVerification": verification} if verification is not None else None)
