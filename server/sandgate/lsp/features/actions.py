"""Code actions on Sandgate's diagnostics: review and insert, or discard, a held suggestion; on a
finding, in this order: move a secret to an environment variable, ask for an AI fix or apply one
that was vetted, suppress a bandit finding or a secret for its line (recorded in the audit log)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lsprotocol import types

from sandgate.lsp import convert, positions
from sandgate.lsp.ledger import FindingRef
from sandgate.lsp.secret_env import env_move

if TYPE_CHECKING:
    from sandgate.lsp.server import SandgateServer
    from sandgate.lsp.snapshot import Snapshot

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
        # Fixes first: suppressing hides the finding, a fix removes it. A secret's sure fix (to an
        # environment variable) comes before asking a model.
        if data.get("source") == "secrets" and 1 <= line <= lines.count:
            moved = env_action(server, snap, diagnostic, line)
            if moved is not None:
                actions.append(moved)
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
        rule = convert.suppress_rule(diagnostic)
        if rule and 1 <= line <= lines.count:
            column, text = convert.suppress_edit_text(lines.line_text(line - 1), rule, str(data.get("source")))
            at = positions.to_client(lines, lines.offset(line - 1, column), server.encoding)
            suppress = convert.suppress_action(snap.uri, diagnostic, at, text)
            if suppress is not None:
                actions.append(suppress)
    return actions


def env_action(
    server: SandgateServer, snap: Snapshot, diagnostic: types.Diagnostic, line: int
) -> types.CodeAction | None:
    """ "Move the secret to the environment variable NAME", for a secret that is a whole string literal."""
    check = server.diagnostics.checks.get(snap.key)
    data = diagnostic.data if isinstance(diagnostic.data, dict) else {}
    finding = check.finding("secrets", str(data.get("rule")), line) if check else None
    if finding is None:
        return None
    move = env_move(snap.text, line - 1, finding.col, finding.end_col)
    if move is None:
        return None
    lines, enc = snap.lines, server.encoding
    start = positions.to_client(lines, lines.offset(line - 1, move.start), enc)
    end = positions.to_client(lines, lines.offset(line - 1, move.end), enc)
    edits = [types.TextEdit(range=types.Range(start=start, end=end), new_text=move.replacement)]
    if move.import_line is not None:
        at = positions.to_client(lines, lines.offset(min(move.import_line, lines.count - 1), 0), enc)
        if move.import_line >= lines.count:  # after the last line (a file of only imports)
            at = positions.to_client(lines, len(snap.text), enc)
        edits.insert(0, types.TextEdit(range=types.Range(start=at, end=at), new_text="import os\n"))
    return convert.env_move_action(snap.uri, diagnostic, move.name, edits)
