"""SARIF 2.1.0 of vet results, as GitHub code scanning accepts it.

Rule ids are `source/rule` (`bandit/B602`, `sandbox/network.denied`). A runtime finding has
no line of its own; it is placed on line 1 of the file so that viewers that require a
location still show it. Each result carries its decision in `properties`.
"""

from __future__ import annotations

from typing import Any

from sandgate import __version__
from sandgate.report.verdicts import finding_verdicts

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {"block": "error", "review": "warning", "allow": "note", "existing": "note"}
_SECURITY_SEVERITY = {"high": "8.0", "medium": "5.0", "low": "2.0", "info": "0.0"}


def _rule(finding: dict[str, Any]) -> dict[str, Any]:
    rule_id = f"{finding['source']}/{finding['rule']}"
    rule: dict[str, Any] = {
        "id": rule_id,
        "name": rule_id.replace("/", "_").replace(".", "_").replace("-", "_"),
        "shortDescription": {"text": f"{finding['source']} {finding['rule']}"},
        "properties": {
            "tags": ["security", finding["source"]] + ([f"external/cwe/cwe-{finding['cwe']}"] if finding.get("cwe") else []),
            "security-severity": _SECURITY_SEVERITY[finding["severity"]],
        },
    }
    if finding.get("more_info"):
        rule["helpUri"] = finding["more_info"]
    return rule


def _result(finding: dict[str, Any], verdict: str, path: str, rule_index: int, extra: dict[str, Any]) -> dict[str, Any]:
    line = max(int(finding.get("line") or 1), 1)
    region: dict[str, Any] = {"startLine": line, "endLine": max(int(finding.get("end_line") or line), line)}
    if finding.get("line"):
        region["startColumn"] = int(finding.get("col") or 0) + 1
    return {
        "ruleId": f"{finding['source']}/{finding['rule']}",
        "ruleIndex": rule_index,
        "level": _LEVEL[verdict],
        "message": {"text": finding["message"]},
        "locations": [{"physicalLocation": {
            "artifactLocation": {"uri": path, "uriBaseId": "%SRCROOT%"},
            "region": region,
        }}],
        "properties": {
            "decision": verdict,
            "severity": finding["severity"],
            "confidence": finding["confidence"],
            "origin": finding.get("origin", "suggestion"),
            **extra,
        },
    }


def build_sarif(results: list[dict[str, Any]], provenance: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """`results` are vet results' JSON; `provenance[i]` adds properties to result i's findings."""
    rules: list[dict[str, Any]] = []
    index: dict[str, int] = {}
    sarif_results: list[dict[str, Any]] = []
    for position, result in enumerate(results):
        extra = {"suggestion_decision": result["decision"], "content_sha256": result.get("content_sha256"),
                 "policy_digest": result.get("policy_digest"), **((provenance or [{}] * len(results))[position])}
        for finding, verdict in zip(result["findings"], finding_verdicts(result)):
            rule_id = f"{finding['source']}/{finding['rule']}"
            if rule_id not in index:
                index[rule_id] = len(rules)
                rules.append(_rule(finding))
            sarif_results.append(_result(finding, verdict, result["path"], index[rule_id], extra))
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "Sandgate",
                "version": __version__,
                "informationUri": "https://github.com/sandgate/sandgate",
                "rules": rules,
            }},
            "results": sarif_results,
        }],
    }
