"""A withheld suggestion, or an allowed one with findings, said in plain words: one headline for a
CodeLens line and the status bar, the reasons one by one, and a Markdown page for a hover and the
Suggestions view. Pure: records in, text out.

Every text here says the decision once ("held for review", "blocked") and names lines as the
user's buffer counts them (the buffer does not hold the suggestion: "line 2 of the suggestion";
a line below it is the buffer's own). Findings of code that was already in the document are kept
apart: they are reported, never a reason.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from sandgate.findings import Finding, Level, Origin, Verdict
from sandgate.policy.evaluate import Reason
from sandgate.suggestion import Placed

HEADLINE_WIDTH = 80
SANDGATE_RULES = "https://github.com/sandgate/sandgate/blob/main/docs/rules.md"
_SOURCE_DOCS = {
    "secrets": "https://github.com/Yelp/detect-secrets#viewing-secrets-and-the-plugins-that-detect-them",
}


def cwe_href(cwe: int) -> str:
    return f"https://cwe.mitre.org/data/definitions/{cwe}.html"


def rule_href(finding: Finding) -> str | None:
    if finding.more_info:
        return finding.more_info
    if finding.source in _SOURCE_DOCS:
        return _SOURCE_DOCS[finding.source]
    if finding.cwe:
        return cwe_href(finding.cwe)
    return None


def where(line: int, placed: Placed | None) -> str:
    """A finding's line as the user counts it (the vetted code's line when the placing is unknown)."""
    if line <= 0:
        return ""
    return placed.where(line) if placed is not None else f"line {line}"


def _shorten(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


def _first_sentence(message: str) -> str:
    head = message.split(". ")[0].split(" (")[0].rstrip(".")
    return head[:1].lower() + head[1:] if head[:2] != head[:2].upper() else head


def headline(summary: str | None, reasons: Sequence[Reason], width: int = HEADLINE_WIDTH) -> str:
    """What the suggestion does that decided it, in a few words: what it adds (`VetResult.summary`),
    else the first deciding finding's message, else the first reason."""
    if summary:
        return _shorten(summary, width)
    deciding = [r for r in reasons if r.verdict > Verdict.ALLOW] or list(reasons)
    for reason in deciding:
        if reason.finding is not None:
            return _shorten(f"{reason.finding.rule}: {_first_sentence(reason.finding.message)}", width)
    if deciding:
        return _shorten(deciding[0].text, width)
    return "the policy's default decision"


def reason_plain(reason: Reason, placed: Placed | None) -> str:
    """One reason as a sentence: `B301 (line 1 of the suggestion): message — policy rule bandit-medium`."""
    finding = reason.finding
    if finding is None:
        return reason.text
    at = where(finding.line, placed)
    layer = "managed policy rule" if reason.layer == "managed" else "policy rule"
    return f"{finding.rule}{f' ({at})' if at else ''}: {finding.message} — {layer} {reason.rule_id}"


def _link(finding: Finding) -> str:
    href = rule_href(finding)
    return f"[{finding.rule}]({href})" if href else f"`{finding.rule}`"


def _cwe(finding: Finding) -> str:
    return f" · [CWE-{finding.cwe}]({cwe_href(finding.cwe)})" if finding.cwe else ""


def _md_escape(text: str) -> str:
    return "".join("\\" + c if c in "\\`*_[]<>" else c for c in text)


def _fence(text: str) -> str:
    ticks = "```"
    while ticks in text:
        ticks += "`"
    return f"{ticks}python\n{text.rstrip()}\n{ticks}"


def reason_markdown(reason: Reason, placed: Placed | None) -> str:
    finding = reason.finding
    if finding is None:
        return _md_escape(reason.text)
    at = where(finding.line, placed)
    layer = "managed policy rule" if reason.layer == "managed" else "policy rule"
    return (
        f"{_link(finding)}{f' ({at})' if at else ''}: {_md_escape(finding.message)}{_cwe(finding)}"
        f" — {layer} `{reason.rule_id}`"
    )


def finding_markdown(finding: Finding, placed: Placed | None) -> str:
    at = where(finding.line, placed)
    return (
        f"{_link(finding)} ({finding.severity}{f', {at}' if at else ''}): {_md_escape(finding.message)}{_cwe(finding)}"
    )


def split_findings(findings: Iterable[Finding], reasons: Sequence[Reason]) -> tuple[list[Finding], list[Finding]]:
    """(the suggestion's own findings that are not already a reason, those of code already in the document)."""
    named = {id(r.finding) for r in reasons if r.finding is not None}
    own, existing = [], []
    for f in findings:
        if f.origin is Origin.DOCUMENT:
            existing.append(f)
        elif id(f) not in named and f.severity > Level.INFO:
            own.append(f)
    return own, existing


def severity_counts(findings: Iterable[Finding]) -> str:
    """ "2 low findings", "1 medium and 1 low finding" (the suggestion's own, INFO left out); "" when none."""
    counts = Counter(f.severity for f in findings if f.origin is Origin.SUGGESTION and f.severity > Level.INFO)
    if not counts:
        return ""
    parts = [f"{counts[level]} {level}" for level in sorted(counts, reverse=True)]
    total = sum(counts.values())
    joined = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return f"{joined} finding{'s' if total != 1 else ''}"


def allowed_note(findings: Sequence[Finding], sandbox_backend: str | None) -> str:
    """What an allowed suggestion's vet found, for the status bar: "vetted in the sandbox: 2 low findings"."""
    how = f"vetted in the sandbox ({sandbox_backend})" if sandbox_backend else "vetted (static checks)"
    counts = severity_counts(findings)
    return f"{how}: {counts}" if counts else f"{how}: no findings"


def details_markdown(
    *,
    decision: Verdict,
    text: str | None,
    summary: str | None,
    reasons: Sequence[Reason],
    findings: Sequence[Finding],
    placed: Placed | None,
    vetted: str | None = None,
    sandbox: str | None = None,
    kind: str = "suggestion",
) -> str:
    """The whole page: what was decided, the code (never for a blocked one), every reason, what it
    adds, its other findings, and the user's own findings kept apart."""
    what = "AI fix" if kind == "fix" else "AI suggestion"
    title = {Verdict.BLOCK: "blocked", Verdict.REVIEW: "held for review"}.get(decision, "allowed")
    out = [f"**{what} {title}**" + (f": {_md_escape(summary)}" if summary else "")]
    if decision is Verdict.BLOCK:
        out.append("_The blocked code is never shown or inserted._")
    elif text is not None:
        out.append(_fence(text))
    deciding = [r for r in reasons if r.verdict > Verdict.ALLOW] or list(reasons)
    if deciding:
        out.append(
            f"**Why it was {title}** ({len(deciding)}):\n\n"
            + "\n".join(f"- {reason_markdown(r, placed)}" for r in deciding)
        )
    adds = [f for f in findings if f.source == "capability" and f.origin is Origin.SUGGESTION]
    if adds:
        out.append(
            "**What it adds** that the file could not do before:\n\n"
            + "\n".join(f"- {_md_escape(f.message)}" for f in adds)
        )
    own, existing = split_findings(findings, deciding)
    own = [f for f in own if f.source != "capability"]
    if own:
        out.append(
            "**Other findings in it** (not a reason):\n\n" + "\n".join(f"- {finding_markdown(f, placed)}" for f in own)
        )
    if existing:
        out.append(
            "**Already in the file before the suggestion** (reported, not a reason):\n\n"
            + "\n".join(f"- {finding_markdown(f, placed)}" for f in existing)
        )
    notes = [n for n in (vetted, sandbox) if n]
    if notes:
        out.append("_" + _md_escape("; ".join(notes)) + "_")
    return "\n\n".join(out)


def sandbox_note(run: object | None, skipped: str | None) -> str | None:
    """One line on the sandbox run: "sandbox run: exit 0 in 220 ms (bwrap)", or why none ran."""
    if run is None:
        return f"sandbox: {skipped}" if skipped else None
    backend = getattr(run, "backend", "?")
    if getattr(run, "error", None):
        return f"sandbox run failed ({backend}): {run.error}"  # type: ignore[attr-defined]
    if getattr(run, "timed_out", False) or getattr(run, "killed", None):
        return f"sandbox run stopped ({backend}): {getattr(run, 'killed', None) or 'time-out'}"
    return f"sandbox run: exit {getattr(run, 'exit_code', None)} in {getattr(run, 'duration_ms', 0):.0f} ms ({backend})"
