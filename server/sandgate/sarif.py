"""SARIF 2.1.0, written one way for every export (`sandgate vet --format sarif`, `sandgate audit
export --format sarif`), as GitHub code scanning accepts it.

A finding (`Finding.to_json`) becomes one result: `ruleId` `source/rule` (`bandit/B602`,
`sandbox/network.denied`), `level` from its severity, its message, and its place in a file. What
the exporter knows besides (a vet's decision, an audit record's provenance) goes in the result's
`properties`. Here, below report/ and audit/, so that both use this one mapping.
"""

from __future__ import annotations

import hashlib
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import quote, urlsplit

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
VERSION = "2.1.0"
INFORMATION_URI = "https://github.com/sandgate/sandgate"
# Severity decides the level: the same finding reads the same in every export. The decision a
# policy took on it is the exporter's to add (properties), as it depends on the policy.
LEVELS = {"high": "error", "medium": "warning", "low": "note", "info": "note"}
# GitHub code scanning ranks security results by this (0.0-10.0).
SECURITY_SEVERITY = {"high": "8.0", "medium": "5.0", "low": "2.0", "info": "0.0"}


def rule_id(finding: dict[str, Any]) -> str:
    # SARIF suggests hierarchical ids with "/".
    return f"{finding.get('source', 'unknown')}/{finding.get('rule', 'unknown')}"


def rule_name(finding: dict[str, Any]) -> str:
    """The rule's identifier-like name: `bandit_B602`, `sandbox_network_denied`."""
    return rule_id(finding).replace("/", "_").replace(".", "_").replace("-", "_")


def level(finding: dict[str, Any]) -> str:
    return LEVELS.get(str(finding.get("severity")), "warning")


def message(finding: dict[str, Any]) -> str:
    return str(finding.get("message") or rule_id(finding))


class SarifLog:
    """One run's rules and results, added finding by finding."""

    def __init__(self) -> None:
        self._rules: list[dict[str, Any]] = []
        self._index: dict[str, int] = {}
        self._results: list[dict[str, Any]] = []

    def add(
        self, finding: dict[str, Any], path: str | None, content_sha256: str | None, properties: dict[str, Any]
    ) -> None:
        """`finding` in the file `path` (workspace-relative; None: no file), of the vetted text
        with that hash; `properties`: the exporter's own, after the finding's."""
        rid = rule_id(finding)
        if rid not in self._index:
            self._index[rid] = len(self._rules)
            self._rules.append(_rule(finding))
        self._results.append(
            {
                "ruleId": rid,
                "ruleIndex": self._index[rid],
                "level": level(finding),
                "message": {"text": message(finding)},
                "locations": _locations(path, finding),
                "partialFingerprints": {"sandgateFinding/v1": _fingerprint(content_sha256, finding)},
                "properties": {
                    "severity": finding.get("severity"),
                    "confidence": finding.get("confidence"),
                    "origin": finding.get("origin", "suggestion"),
                    "cwe": finding.get("cwe"),
                    "language": finding.get("language"),
                    **properties,
                },
            }
        )

    def to_json(self, tool_version: str, run_properties: dict[str, Any] | None = None) -> dict[str, Any]:
        run: dict[str, Any] = {
            "tool": {
                "driver": {
                    "name": "Sandgate",
                    "version": tool_version,
                    "informationUri": INFORMATION_URI,
                    "rules": self._rules,
                }
            },
            "results": self._results,
        }
        if run_properties:
            run["properties"] = run_properties
        return {"$schema": SCHEMA_URI, "version": VERSION, "runs": [run]}


def _rule(finding: dict[str, Any]) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "id": rule_id(finding),
        "name": rule_name(finding),
        "shortDescription": {"text": message(finding)},
        "defaultConfiguration": {"level": level(finding)},
    }
    if _is_web_uri(finding.get("more_info")):
        rule["helpUri"] = finding["more_info"]
    if finding.get("fix"):  # the rule's fix hint (the security pack's rules carry one)
        rule["help"] = {"text": finding["fix"]}
    tags = ["security", "ai-suggestion"]
    if isinstance(finding.get("cwe"), int):
        tags.append(f"external/cwe/cwe-{finding['cwe']}")
    rule["properties"] = {
        "tags": tags,
        "source": finding.get("source"),
        "security-severity": SECURITY_SEVERITY.get(str(finding.get("severity")), "5.0"),
    }
    return rule


def _is_web_uri(text: Any) -> bool:
    if not isinstance(text, str):
        return False
    parts = urlsplit(text)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _locations(path: str | None, finding: dict[str, Any]) -> list[dict[str, Any]]:
    if not path:
        return []
    physical: dict[str, Any] = {"artifactLocation": _artifact(path)}
    region = _region(finding)
    if region:
        physical["region"] = region
    return [{"physicalLocation": physical}]


def _artifact(path: str) -> dict[str, str]:
    """A workspace-relative path under `%SRCROOT%`; an absolute one (a file outside the workspace)
    as a `file://` URI of its own, which `%SRCROOT%` would misplace."""
    if PurePosixPath(path).is_absolute():
        return {"uri": PurePosixPath(path).as_uri()}
    return {"uri": quote(path.replace("\\", "/"), safe="/"), "uriBaseId": "%SRCROOT%"}


def _region(finding: dict[str, Any]) -> dict[str, int] | None:
    line = finding.get("line") or 0
    if not isinstance(line, int) or line < 1:
        return None  # a runtime finding is about the file, not a line of it
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


def _fingerprint(content_sha256: str | None, finding: dict[str, Any]) -> str:
    # Stable across exports of the same suggestion: its content, the rule and the place.
    text = "|".join(str(x) for x in (content_sha256, rule_id(finding), finding.get("line"), finding.get("col")))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
