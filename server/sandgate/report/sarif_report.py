"""`--format sarif`: vet results as SARIF 2.1.0, written by `sandgate.sarif` (as the audit export
is). Each result carries in `properties` the decision its finding drew, the suggestion's decision,
its content hash and the policy digest."""

from __future__ import annotations

from typing import Any

from sandgate import __version__
from sandgate.sarif import SarifLog


def build_sarif(results: list[dict[str, Any]]) -> dict[str, Any]:
    """`results` are vet results' JSON (`VetResult.to_json`)."""
    log = SarifLog()
    for result in results:
        for finding in result["findings"]:
            log.add(
                finding,
                result["path"],
                result.get("content_sha256"),
                {
                    "decision": finding["decision"],
                    "suggestion_decision": result["decision"],
                    "content_sha256": result.get("content_sha256"),
                    "policy_digest": result.get("policy_digest"),
                },
            )
    return log.to_json(__version__)
