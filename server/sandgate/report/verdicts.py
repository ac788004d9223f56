"""Which decision each finding got: the link between a result's findings and its reasons."""

from __future__ import annotations

from typing import Any


def finding_verdicts(result: dict[str, Any]) -> list[str]:
    """Per finding of a result's JSON, the decision it drew ("allow" when no reason names it)."""
    decided: dict[tuple[str, Any], str] = {}
    for reason in result.get("reasons", []):
        if reason.get("finding"):
            decided.setdefault((reason["finding"], reason.get("line")), reason["decision"])
    out = []
    for finding in result.get("findings", []):
        key = (f"{finding['source']}:{finding['rule']}", finding.get("line"))
        out.append("existing" if finding.get("origin") == "document" else decided.get(key, "allow"))
    return out
