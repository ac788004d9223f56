"""Code actions on Sandgate's diagnostics: review and insert, or discard, a held suggestion; suppress
a bandit finding or a secret for its line; ask for an AI fix, or apply one that was vetted."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lsprotocol import types

from sandgate.lsp import convert, positions
from sandgate.lsp.ledger import FindingRef

if TYPE_CHECKING:
    from sandgate.lsp.server import SandgateServer

FIXABLE_SOURCES = ("bandit", "policy", "secrets")


def register(server: SandgateServer) -> None:
    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION, types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix])
    )
    def code_action(ls, params: types.CodeActionParams) -> list[types.CodeAction]:
        return code_actions(ls, params)


def code_actions(server: SandgateServer, params: types.CodeActionParams) -> list[types.CodeAction]:
    snap = server.snapshot(params.text_document.uri)
    if snap is None:
        return []
    lines, annotations = snap.lines, server.annotations_supported()
    rt = server.session.runtime
    held_here = [h for h in server.ledger.held_for(snap.uri) if h.kind == "suggestion"]
    labels = dict(zip((h.token for h in held_here), convert.held_labels([h.text for h in held_here]), strict=True))
    actions: list[types.CodeAction] = []
    for diagnostic in params.context.diagnostics:
        if diagnostic.source != convert.SOURCE:
            continue
        data = diagnostic.data if isinstance(diagnostic.data, dict) else {}
        if diagnostic.code == convert.HELD_CODE:
            held = server.ledger.get(str(data.get("token") or ""))
            if held is not None and held.kind == "suggestion" and held.token in labels:
                actions.extend(
                    convert.held_actions(
                        diagnostic, held, snap.version, annotations=annotations, label=labels[held.token]
                    )
                )
            continue
        if data.get("kind") != "finding":
            continue
        line = int(data.get("line") or 0)
        rule = convert.suppress_rule(diagnostic)
        if rule and 1 <= line <= lines.count:
            column, text = convert.suppress_edit_text(lines.line_text(line - 1), rule, str(data.get("source")))
            at = positions.to_client(lines, lines.offset(line - 1, column), server.encoding)
            suppress = convert.suppress_action(snap.uri, diagnostic, at, text)
            if suppress is not None:
                actions.append(suppress)
        target = FindingRef(f"{data.get('source')}:{data.get('rule')}", line)
        ready = [h for h in server.ledger.held_for(snap.uri) if h.kind == "fix" and h.fixes == target]
        if ready:
            actions.append(convert.fix_action(diagnostic, ready[-1], snap.version, annotations=annotations))
        elif (
            rt is not None
            and rt.provider is not None
            and server.session.trusted
            and data.get("source") in FIXABLE_SOURCES
        ):
            actions.append(convert.fix_request_action(snap.uri, snap.version, diagnostic))
    return actions
