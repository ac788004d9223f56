"""Pure conversions from Sandgate's findings, decisions and records to LSP types.

Nothing here touches the server, the network or the disk: each function takes plain data
and returns lsprotocol objects (or JSON-ready dicts for the custom messages), so they are
unit-testable and the handlers stay thin. Ranges built from findings are 0-based LSP positions
counted in code points over `sandgate.lines` (the server maps them to the client's encoding with
`positions`); functions that take a `types.Range` or `types.Position` take it in client units.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from lsprotocol import types

from sandgate.findings import Finding, Level, Verdict
from sandgate.lines import split_lines
from sandgate.lsp import explain
from sandgate.lsp.explain import cwe_href, rule_href
from sandgate.lsp.ledger import Held, Withheld
from sandgate.lsp.positions import range_json
from sandgate.policy.evaluate import Reason
from sandgate.suggestion import Placed
from sandgate.wording import plural

SOURCE = "sandgate"
HELD_CODE = "held-for-review"
BLOCKED_CODE = "blocked"
POLICY_CODE = "policy-error"
POLICY_REFUSED_CODE = "policy-refused"
POLICY_RULE_UNUSED_CODE = "policy-rule-never-decides"
CHECK_FAILED_CODE = "check-failed"
REVIEW_ANNOTATION = "sandgate.review"

CMD_ACCEPT_INLINE = "sandgate.acceptInline"
CMD_APPROVE = "sandgate.approve"
CMD_DISCARD = "sandgate.discard"
CMD_VERIFY_AUDIT = "sandgate.verifyAudit"
CMD_FIX_WITH_AI = "sandgate.fixWithAI"
CMD_REVIEW = "sandgate.review"
CMD_RECORD_SUPPRESSION = "sandgate.recordSuppression"
CMD_SHOW_DETAILS = "sandgate.showDetails"
PENDING_REQUEST = "sandgate/pendingSuggestions"


# -- positions -----------------------------------------------------------------------------


def position(line: int, character: int) -> types.Position:
    return types.Position(line=max(0, line), character=max(0, character))


def finding_range(finding: Finding, lines: Sequence[str]) -> types.Range:
    """The 0-based range of a finding (1-based inclusive lines); a whole line when no columns."""
    if finding.line <= 0:
        return types.Range(start=position(0, 0), end=position(0, 0))
    start_line = finding.line - 1
    end_line = max(finding.end_line, finding.line) - 1
    if lines:
        start_line = min(start_line, len(lines) - 1)
        end_line = min(end_line, len(lines) - 1)
    text_start = lines[start_line] if lines else ""
    text_end = lines[end_line] if lines else ""
    start_char = finding.col if finding.col >= 0 else 0
    if finding.end_col > 0 and (end_line > start_line or finding.end_col > start_char):
        end_char = finding.end_col
    else:
        # No column span: from the first non-blank character to the end of the line.
        start_char = len(text_start) - len(text_start.lstrip()) if start_char == 0 else start_char
        end_char = len(text_end)
    end_char = min(end_char, len(text_end)) if lines else end_char
    if end_line == start_line and end_char < start_char:
        end_char = len(text_end)
    return types.Range(start=position(start_line, start_char), end=position(end_line, end_char))


# -- findings ------------------------------------------------------------------------------


def diagnostic_severity(verdict: Verdict, finding: Finding) -> types.DiagnosticSeverity:
    """What the policy would do with it: block → error, review → warning, else by severity."""
    if verdict is Verdict.BLOCK:
        return types.DiagnosticSeverity.Error
    if verdict is Verdict.REVIEW:
        return types.DiagnosticSeverity.Warning
    if finding.severity >= Level.MEDIUM:
        return types.DiagnosticSeverity.Information
    return types.DiagnosticSeverity.Hint


def finding_message(finding: Finding, verdict: Verdict | None = None) -> str:
    tail = [f"{finding.severity} severity, {finding.confidence} confidence"]
    if finding.cwe:
        tail.append(f"CWE-{finding.cwe} {cwe_href(finding.cwe)}")
    if verdict is not None and verdict is not Verdict.ALLOW:
        tail.append(f"policy: {verdict}")
    fix = f" Fix: {finding.fix}" if finding.fix else ""
    return f"{finding.message} ({'; '.join(tail)}).{fix}" if fix else f"{finding.message} ({'; '.join(tail)})"


def finding_diagnostic(finding: Finding, verdict: Verdict, lines: Sequence[str]) -> types.Diagnostic:
    href = rule_href(finding)
    return types.Diagnostic(
        range=finding_range(finding, lines),
        message=finding_message(finding, verdict),
        severity=diagnostic_severity(verdict, finding),
        code=finding.rule,
        code_description=types.CodeDescription(href=href) if href else None,
        source=SOURCE,
        data={
            "kind": "finding",
            "source": finding.source,
            "rule": finding.rule,
            "line": finding.line,
            "endLine": max(finding.end_line, finding.line),
            "cwe": finding.cwe,
            "message": finding.message,
            "fix": finding.fix,
        },
    )


def findings_to_diagnostics(findings: Iterable[tuple[Finding, Verdict]], text: str) -> list[types.Diagnostic]:
    lines = split_lines(text)
    out = []
    seen = set()
    for finding, verdict in findings:
        key = (finding.key, finding.line, finding.col, finding.message)
        if key in seen:
            continue
        seen.add(key)
        out.append(finding_diagnostic(finding, verdict, lines))
    return out


# -- held and blocked suggestions ----------------------------------------------------------


def _reason_summary(reasons: Sequence[Reason], limit: int = 3, placed: Placed | None = None) -> str:
    deciding = [r for r in reasons if r.verdict > Verdict.ALLOW] or list(reasons)
    parts = [explain.reason_plain(r, placed) for r in deciding[:limit]]
    more = len(deciding) - limit
    summary = "; ".join(p for p in parts if p)
    if more > 0:
        summary += f"; and {more} more"
    return summary or "the policy's default decision"


def check_failed_diagnostic(message: str) -> types.Diagnostic:
    """A document check that failed: said on the document, never silent."""
    return types.Diagnostic(
        range=types.Range(start=position(0, 0), end=position(0, 0)),
        message=f"Sandgate could not check this document: {message}",
        severity=types.DiagnosticSeverity.Warning,
        code=CHECK_FAILED_CODE,
        source=SOURCE,
    )


def suggestion_diagnostic(
    verdict: Verdict,
    rng: types.Range,
    reasons: Sequence[Reason],
    token: str | None,
    vetted: str | None = None,
    adds: str | None = None,
    placed: Placed | None = None,
    record_id: str | None = None,
) -> types.Diagnostic:
    """The diagnostic for a withheld suggestion: held (with its token) or blocked. `rng`: the whole
    line it belongs on (a cursor anywhere on the line reaches it). `adds`: what the suggestion can do
    that the document could not (`VetResult.summary`), said first: it is what a person weighs."""
    # Every reason of a blocked one: nothing else says why it never appeared.
    summary = _reason_summary(reasons, limit=len(reasons) if verdict is Verdict.BLOCK else 3, placed=placed)
    if vetted and vetted not in summary:
        summary += f" ({vetted})"
    if adds:
        summary = f"{adds} — because {summary}"
    if verdict is Verdict.BLOCK:
        return types.Diagnostic(
            range=rng,
            message=f"AI suggestion blocked: {summary}",
            severity=types.DiagnosticSeverity.Error,
            code=BLOCKED_CODE,
            source=SOURCE,
            data={"kind": "blocked", "id": record_id},
        )
    return types.Diagnostic(
        range=rng,
        message=f"AI suggestion held for review: {summary}",
        severity=types.DiagnosticSeverity.Warning,
        code=HELD_CODE,
        source=SOURCE,
        data={"token": token, "id": record_id},
    )


def record_markdown(record: Withheld) -> str:
    """The hover's and the Suggestions view's page for a held or blocked suggestion."""
    held = record if isinstance(record, Held) else None
    return explain.details_markdown(
        decision=record.decision,
        text=record.text if held else None,
        summary=record.summary,
        reasons=record.reasons,
        findings=record.findings,
        placed=record.placed,
        vetted=record.vetted,
        sandbox=record.sandbox,
        kind=held.kind if held else "suggestion",
    )


def record_lenses(record: Withheld, line: int) -> list[types.CodeLens]:
    """The CodeLens line above a withheld suggestion's spot (`line`, client units):
    "⚠ AI suggestion held: <what it does>" with Review and Discard, or "⛔ AI suggestion blocked:
    <what it does>" with Show details. Review runs `sandgate.review` (the edit, confirmed, then the
    approval); a client with its own review screen (the VS Code extension) routes it there."""
    rng = types.Range(start=position(line, 0), end=position(line, 0))
    head = explain.headline(record.summary, record.reasons)
    if isinstance(record, Held):
        review = types.Command(title="Review", command=CMD_REVIEW, arguments=[{"token": record.token}])
        return [
            types.CodeLens(
                range=rng,
                command=types.Command(
                    title=f"⚠ AI suggestion held: {head}", command=CMD_REVIEW, arguments=[{"token": record.token}]
                ),
            ),
            types.CodeLens(range=rng, command=review),
            types.CodeLens(
                range=rng,
                command=types.Command(title="Discard", command=CMD_DISCARD, arguments=[{"token": record.token}]),
            ),
        ]
    details = types.Command(title="Show details", command=CMD_SHOW_DETAILS, arguments=[{"id": record.id}])
    more = len(record.reasons) - 1
    tail = f" (and {plural(more, 'more reason')})" if more > 0 else ""
    return [
        types.CodeLens(
            range=rng,
            command=types.Command(
                title=f"⛔ AI suggestion blocked: {head}{tail}", command=CMD_SHOW_DETAILS, arguments=[{"id": record.id}]
            ),
        ),
        types.CodeLens(range=rng, command=details),
    ]


def record_hover(records: Sequence[Withheld], rng: types.Range) -> types.Hover:
    return types.Hover(
        contents=types.MarkupContent(
            kind=types.MarkupKind.Markdown, value="\n\n---\n\n".join(record_markdown(r) for r in records)
        ),
        range=rng,
    )


def details_text(record: Withheld) -> str:
    """The plain-text details (for a client that shows a message): decision, what it adds, every reason."""
    title = "blocked" if record.decision is Verdict.BLOCK else "held for review"
    lines = [f"AI suggestion {title}: {explain.headline(record.summary, record.reasons)}"]
    lines += [f"- {explain.reason_plain(r, record.placed)}" for r in record.reasons]
    _, existing = explain.split_findings(record.findings, record.reasons)
    if existing:
        lines.append("Already in the file before the suggestion (not a reason):")
        lines += [f"- {f.rule} ({explain.where(f.line, record.placed)}): {f.message}" for f in existing]
    return "\n".join(lines)


def review_edit(
    uri: str,
    version: int | None,
    rng: types.Range,
    text: str,
    label: str,
    description: str,
    *,
    annotations: bool,
) -> types.WorkspaceEdit:
    """Put `text` in place of `rng` (client units); with change-annotation support, an edit that
    needs confirmation. `description` should carry the code itself (`confirmation_text`): a client
    whose confirmation shows no preview (coc.nvim) shows it."""
    if not annotations:
        return types.WorkspaceEdit(changes={uri: [types.TextEdit(range=rng, new_text=text)]})
    return types.WorkspaceEdit(
        document_changes=[
            types.TextDocumentEdit(
                text_document=types.OptionalVersionedTextDocumentIdentifier(uri=uri, version=version),
                edits=[types.AnnotatedTextEdit(range=rng, new_text=text, annotation_id=REVIEW_ANNOTATION)],
            )
        ],
        change_annotations={
            REVIEW_ANNOTATION: types.ChangeAnnotation(label=label, needs_confirmation=True, description=description)
        },
    )


def confirmation_text(why: str, text: str) -> str:
    """What a confirmation dialog says: why it was held (or what was verified), then the code
    itself, so that the user never approves code they cannot see."""
    return f"{why}\n\nIt writes:\n{text}"


def held_labels(texts: Sequence[str], width: int = 40) -> list[str]:
    """A label per held suggestion, all different: its first line (shortened), numbered on a tie."""
    labels = []
    for text in texts:
        first = next((line.strip() for line in split_lines(text) if line.strip()), "(blank)")
        labels.append(first if len(first) <= width else first[: width - 1] + "…")
    seen: dict[str, int] = {}
    out = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        out.append(label if labels.count(label) == 1 else f"{label} ({seen[label]})")
    return out


def held_actions(
    diagnostic: types.Diagnostic,
    held: Held,
    version: int | None,
    *,
    annotations: bool,
    label: str,
) -> list[types.CodeAction]:
    """'Review and insert “label”…' and 'Discard “label”' for a held suggestion; `label` tells it
    from the others held."""
    edit = review_edit(
        held.uri,
        version,
        held.range,
        held.text,
        "Insert an AI suggestion held for review",
        confirmation_text(f"Held for review: {_reason_summary(held.reasons, placed=held.placed)}", held.text),
        annotations=annotations,
    )
    return [
        types.CodeAction(
            title=f"Review and insert “{label}”…",
            kind=types.CodeActionKind.QuickFix,
            diagnostics=[diagnostic],
            edit=edit,
            command=types.Command(title="Approve", command=CMD_APPROVE, arguments=[{"token": held.token}]),
        ),
        types.CodeAction(
            title=f"Discard “{label}”",
            kind=types.CodeActionKind.QuickFix,
            diagnostics=[diagnostic],
            command=types.Command(title="Discard", command=CMD_DISCARD, arguments=[{"token": held.token}]),
        ),
    ]


def fix_action(diagnostic: types.Diagnostic, fix: Held, version: int | None, *, annotations: bool) -> types.CodeAction:
    """The approval action for a vetted AI fix; its title says what was verified."""
    verified = fix.verified or "vetted"
    return types.CodeAction(
        title=f"Apply AI fix ({verified})",
        kind=types.CodeActionKind.QuickFix,
        diagnostics=[diagnostic],
        edit=review_edit(
            fix.uri,
            version,
            fix.range,
            fix.text,
            "Apply an AI fix vetted by Sandgate",
            confirmation_text(f"AI fix ({verified})", fix.text),
            annotations=annotations,
        ),
        command=types.Command(title="Approve", command=CMD_APPROVE, arguments=[{"token": fix.token}]),
    )


# -- quick fixes on findings ---------------------------------------------------------------


SECRET_PRAGMA = "# pragma: allowlist secret"  # detect-secrets' own marker, honoured by `checks.secrets`


def suppress_edit_text(line_text: str, rule: str, source: str = "bandit") -> tuple[int, str]:
    """(column, text) to insert into `line_text` so the check skips `rule` there: bandit's
    `# nosec RULE`, or for a secret detect-secrets' `# pragma: allowlist secret`."""
    stripped = line_text.rstrip()
    if source == "secrets":
        return len(stripped), ("" if SECRET_PRAGMA in stripped else f"  {SECRET_PRAGMA}")
    if "# nosec" in stripped:
        head, _, tail = stripped.partition("# nosec")
        # The ids end where another comment (a secret's pragma) begins.
        ids_text, hash_, _ = tail.partition("#")
        ids = [t.strip() for t in ids_text.replace(",", " ").split() if t.strip()]
        if rule in ids:
            return len(stripped), ""
        column = len(head) + len("# nosec") + len(ids_text.rstrip()) if hash_ else len(stripped)
        return column, ("," if ids else "") + f" {rule}"
    return len(stripped), f"  # nosec {rule}"


SUPPRESSIBLE_SOURCES = ("bandit", "secrets")


def suppress_rule(diagnostic: types.Diagnostic) -> str | None:
    """The rule a "Suppress for this line" action would name (bandit's or a secret's), or None."""
    data = diagnostic.data if isinstance(diagnostic.data, dict) else {}
    rule = str(data.get("rule") or diagnostic.code or "")
    return rule if data.get("source") in SUPPRESSIBLE_SOURCES and rule else None


def suppress_action(uri: str, diagnostic: types.Diagnostic, at: types.Position, text: str) -> types.CodeAction | None:
    """Insert `text` (from `suppress_edit_text`) at `at` (client units)."""
    rule = suppress_rule(diagnostic)
    if rule is None or not text:
        return None
    data = diagnostic.data if isinstance(diagnostic.data, dict) else {}
    return types.CodeAction(
        title=f"Suppress {rule} for this line",
        kind=types.CodeActionKind.QuickFix,
        diagnostics=[diagnostic],
        edit=types.WorkspaceEdit(changes={uri: [types.TextEdit(range=types.Range(start=at, end=at), new_text=text)]}),
        # Run after the edit: the suppression goes into the audit log (with the user's reason, where
        # the client asks for one: the VS Code extension does).
        command=types.Command(
            title="Record the suppression",
            command=CMD_RECORD_SUPPRESSION,
            arguments=[
                {"uri": uri, "source": data.get("source"), "rule": rule, "line": data.get("line"), "reason": None}
            ],
        ),
    )


def env_move_action(uri: str, diagnostic: types.Diagnostic, name: str, edits: list[types.TextEdit]) -> types.CodeAction:
    return types.CodeAction(
        title=f"Move the secret to the environment variable {name}",
        kind=types.CodeActionKind.QuickFix,
        diagnostics=[diagnostic],
        is_preferred=True,
        edit=types.WorkspaceEdit(changes={uri: edits}),
    )


def fix_request_action(uri: str, version: int | None, diagnostic: types.Diagnostic) -> types.CodeAction:
    data = diagnostic.data if isinstance(diagnostic.data, dict) else {}
    return types.CodeAction(
        title=f"Fix with AI… ({data.get('rule') or diagnostic.code})",
        kind=types.CodeActionKind.QuickFix,
        diagnostics=[diagnostic],
        command=types.Command(
            title="Fix with AI",
            command=CMD_FIX_WITH_AI,
            arguments=[{"uri": uri, "version": version, "finding": data}],
        ),
    )


# -- inline items --------------------------------------------------------------------------


def inline_item(item_id: str, text: str, at: types.Position) -> types.InlineCompletionItem:
    return types.InlineCompletionItem(
        insert_text=text,
        range=types.Range(start=at, end=at),
        command=types.Command(title="Accept suggestion", command=CMD_ACCEPT_INLINE, arguments=[{"id": item_id}]),
    )


# -- policy --------------------------------------------------------------------------------


def policy_error_diagnostic(line: int, key: str, message: str) -> types.Diagnostic:
    return _policy_line(
        line,
        key,
        message + " (the strict preset applies until this is fixed)",
        types.DiagnosticSeverity.Error,
        POLICY_CODE,
    )


def policy_refusal_diagnostic(line: int, key: str, message: str) -> types.Diagnostic:
    """A value of the workspace policy that a managed (or preset) rule refused: the message names
    that rule and says which value applies."""
    return _policy_line(line, key, message, types.DiagnosticSeverity.Warning, POLICY_REFUSED_CODE)


def policy_unused_rule_diagnostic(line: int, key: str, message: str) -> types.Diagnostic:
    """A rule of the workspace policy that never decides: a stricter rule matches every finding it matches."""
    return _policy_line(line, key, message, types.DiagnosticSeverity.Warning, POLICY_RULE_UNUSED_CODE)


def _policy_line(line: int, key: str, message: str, severity: types.DiagnosticSeverity, code: str) -> types.Diagnostic:
    """A diagnostic on the whole of a policy file's `line` (1-based), its key first."""
    at = max(0, line - 1)
    return types.Diagnostic(
        range=types.Range(start=position(at, 0), end=position(at, 10_000)),
        message=(f"{key}: " if key else "") + message,
        severity=severity,
        code=code,
        source=SOURCE,
    )


# -- custom messages -----------------------------------------------------------------------


def withheld_json(record: Withheld) -> dict[str, Any]:
    """A held or blocked suggestion as `sandgate/pendingSuggestions` lists it (docs/protocol.md)."""
    held = record if isinstance(record, Held) else None
    data: dict[str, Any] = {
        # A blocked suggestion is never handed to the editor, not even here.
        "token": held.token if held else None,
        "uri": record.uri,
        "range": range_json(record.range),
        "text": record.text if held else None,
        "decision": str(record.decision),
        # `message`: the reason in plain words, its line as the user's buffer counts it.
        "reasons": [{**r.to_json(), "message": explain.reason_plain(r, record.placed)} for r in record.reasons],
        "findings": [{**f.to_json(), "where": explain.where(f.line, record.placed) or None} for f in record.findings],
        "id": record.id,
        "headline": explain.headline(record.summary, record.reasons),
        "details": record_markdown(record),
        "createdAt": record.created_at,
        "kind": held.kind if held else "suggestion",
        "sha256": record.sha256,
        "policyDigest": record.policy_digest,
        "requestId": record.request_id,
    }
    if held and held.verified:
        data["verified"] = held.verified
    if record.vetted:
        data["vetted"] = record.vetted
    if record.summary:
        data["summary"] = record.summary
    if record.outcome is not None:
        data["outcome"] = record.outcome
    return data


def status_payload(
    *,
    preset: str,
    backend: str,
    pending: int,
    trusted: bool,
    fail_closed: Sequence[str],
    provider_configured: bool,
    provider_refused: bool = False,
    provider_error: dict[str, Any] | None = None,
    policy_digest: str | None = None,
    context: dict[str, Any] | None = None,
    languages: Sequence[dict[str, Any]] = (),
    vet_error: dict[str, Any] | None = None,
    late: int = 0,
    too_large: Sequence[dict[str, Any]] = (),
    last_decision: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "preset": preset,
        "backend": backend,
        "pending": pending,
        "trusted": trusted,
        "failClosed": list(fail_closed),
        "provider": "configured" if provider_configured else "missing",
        # Missing because the policy refuses the configured endpoint (said separately), not unset.
        "providerRefused": provider_refused,
        "providerError": provider_error,
        "policyDigest": policy_digest,
        "context": context,
        "languages": list(languages),
        "vetError": vet_error,
        "late": late,
        "tooLarge": list(too_large),
        "lastDecision": last_decision,
    }


def too_large_note(uri: str, path: str, size: int, limit: int) -> dict[str, Any]:
    """The status's entry for a document over `documents.maxBytes`."""
    message = (
        f"{path} is {size:,} bytes, over the {limit:,}-byte limit (sandgate.documents.maxBytes): "
        "it is not checked and gets no inline suggestions"
    )
    return {"uri": uri, "path": path, "message": message}


def context_note(
    uri: str, path: str, status: str | None, excluded_by: str | None, redactions: int
) -> dict[str, Any] | None:
    """The status's `context`: what the model guard held back from the last request, or None."""
    if status is None:
        return None
    return {"uri": uri, "path": path, "message": status, "excludedBy": excluded_by, "redactions": redactions}


def unvetted_language(
    language: str, handling: str, static_only: bool = False, files: str | None = None
) -> dict[str, Any]:
    """The status's entry for a language Sandgate cannot vet whole, and what the policy does about
    it. `static_only`: the language has static checks but no sandbox run (JavaScript, TypeScript);
    `files`: the kind of its files that is not run (`TSX`), where the language's others are."""
    what = {
        "skip": "no suggestions are asked for",
        "review": "every suggestion is held for review" + (" (or blocked by the static checks)" if static_only else ""),
        "allow": "suggestions are shown marked not-vetted"
        + (" when the static checks allow them" if static_only else ""),
    }.get(handling, "no suggestions are asked for")
    if files is not None:
        cannot = f"Sandgate checks {files} files statically but cannot run them in the sandbox yet (Node does not compile JSX)"
    elif static_only:
        cannot = "Sandgate checks it statically but cannot run it in the sandbox yet"
    else:
        cannot = "Sandgate cannot vet it yet"
    return {
        "language": language,
        "handling": handling,
        "staticOnly": static_only,
        "message": f'{language}: {cannot}, so {what} (policy languages.unvetted = "{handling}")',
    }
