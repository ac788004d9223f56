"""SARIF 2.1.0 from audit records: the findings on AI suggestions, with their provenance.

One result per finding per vetted suggestion. Findings reach the audit log inside the
record of the decision on a suggestion; the approval, discard or acceptance that came
later (same request id and content hash) supplies who let it through. Provenance travels
in each result's `properties` (a SARIF property bag): model, request id, content hash,
decision, who decided, approver, outcome, policy digest, and the audit record's seq and
hash so a reader can go from the SARIF back to the verified chain.

Only findings whose `origin` is `suggestion` are exported unless `include_document` is
set: findings on code the user already had are not findings on AI suggestions.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, urlsplit

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"

# What a later record says happened to a vetted suggestion.
OUTCOMES = {"approval": "approved", "discard": "discarded", "acceptance": "accepted"}

# Sandgate severities onto SARIF levels.
LEVELS = {"high": "error", "medium": "warning", "low": "note", "info": "note"}


def rule_id(finding: dict[str, Any]) -> str:
    # SARIF suggests hierarchical ids with "/": `bandit/B602`, `secrets/aws-access-key`.
    return f"{finding.get('source', 'unknown')}/{finding.get('rule', 'unknown')}"


def _suggestion_key(record: dict[str, Any]) -> tuple[Any, Any]:
    return record.get("request_id"), record.get("content_sha256")


def _is_web_uri(text: Any) -> bool:
    if not isinstance(text, str):
        return False
    parts = urlsplit(text)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _region(finding: dict[str, Any]) -> dict[str, int] | None:
    line = finding.get("line") or 0
    if not isinstance(line, int) or line < 1:
        return None  # runtime findings have no line
    region = {"startLine": line}
    end_line = finding.get("end_line") or 0
    if isinstance(end_line, int) and end_line >= line:
        region["endLine"] = end_line
    col, end_col = finding.get("col") or 0, finding.get("end_col") or 0
    # Sandgate columns are 0-based, SARIF's 1-based.
    if isinstance(col, int) and col >= 0:
        region["startColumn"] = col + 1
        if isinstance(end_col, int) and end_col > 0 and (end_col > col or region.get("endLine", line) > line):
            region["endColumn"] = end_col + 1
    return region


def _location(record: dict[str, Any], finding: dict[str, Any]) -> list[dict[str, Any]]:
    file = record.get("file")
    if not isinstance(file, str) or not file:
        return []
    physical: dict[str, Any] = {
        "artifactLocation": {"uri": quote(file.replace("\\", "/"), safe="/"), "uriBaseId": "%SRCROOT%"}
    }
    region = _region(finding)
    if region:
        physical["region"] = region
    return [{"physicalLocation": physical}]


def _rule(finding: dict[str, Any]) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "id": rule_id(finding),
        "shortDescription": {"text": str(finding.get("message") or rule_id(finding))},
        "defaultConfiguration": {"level": LEVELS.get(str(finding.get("severity")), "warning")},
    }
    if _is_web_uri(finding.get("more_info")):
        rule["helpUri"] = finding["more_info"]
    tags = ["security", "ai-suggestion"]
    cwe = finding.get("cwe")
    if isinstance(cwe, int):
        tags.append(f"external/cwe/cwe-{cwe}")
    rule["properties"] = {"tags": tags, "source": finding.get("source")}
    return rule


def _fingerprint(record: dict[str, Any], finding: dict[str, Any]) -> str:
    # Stable across exports of the same log: the suggestion's content, the rule and the place.
    text = "|".join(
        str(x) for x in (record.get("content_sha256"), rule_id(finding), finding.get("line"), finding.get("col"))
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _result(record: dict[str, Any], finding: dict[str, Any], rule_index: int, outcome: dict[str, Any] | None) -> dict[str, Any]:
    approver = None
    if outcome is not None and outcome.get("event") in ("approval", "acceptance"):
        approver = outcome.get("decided_by")
    return {
        "ruleId": rule_id(finding),
        "ruleIndex": rule_index,
        "level": LEVELS.get(str(finding.get("severity")), "warning"),
        "message": {"text": str(finding.get("message") or rule_id(finding))},
        "locations": _location(record, finding),
        "partialFingerprints": {"sandgateFinding/v1": _fingerprint(record, finding)},
        "properties": {
            "model": record.get("model"),
            "requestId": record.get("request_id"),
            "contentSha256": record.get("content_sha256"),
            "decision": record.get("decision"),
            "decidedBy": record.get("decided_by"),
            "approver": approver,
            "outcome": OUTCOMES.get(outcome.get("event")) if outcome else "pending",
            "policyDigest": record.get("policy_digest"),
            "auditSeq": record.get("seq"),
            "auditHash": record.get("hash"),
            "origin": finding.get("origin"),
            "severity": finding.get("severity"),
            "confidence": finding.get("confidence"),
            "cwe": finding.get("cwe"),
            # Lines are relative to the text that was vetted, not necessarily today's file.
            "lineBase": "vetted-text",
        },
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

    rules: list[dict[str, Any]] = []
    rule_index: dict[str, int] = {}
    results: list[dict[str, Any]] = []
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
        for finding in findings:
            if not isinstance(finding, dict):
                continue
            if finding.get("origin", "suggestion") != "suggestion" and not include_document:
                continue
            rid = rule_id(finding)
            if rid not in rule_index:
                rule_index[rid] = len(rules)
                rules.append(_rule(finding))
            results.append(_result(record, finding, rule_index[rid], outcomes.get(key)))

    run: dict[str, Any] = {
        "tool": {"driver": {"name": "sandgate", "version": tool_version, "rules": rules}},
        "results": results,
    }
    if verification is not None:
        run["properties"] = {"auditVerification": verification}
    return {"$schema": SARIF_SCHEMA_URI, "version": SARIF_VERSION, "runs": [run]}
