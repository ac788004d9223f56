"""A withheld suggestion where the cursor is: a CodeLens line above its spot ("⚠ AI suggestion held:
… — Review | Discard", "⛔ AI suggestion blocked: … — Show details") and a hover with the code, every
reason in plain words and what it adds. Standard LSP, so every editor with CodeLens or hover gets them.

`sandgate.review` is the generic Review: the server asks the client to apply the edit (with a
change annotation that needs confirmation, where the client supports them), then approves it
with the same checks as any approval. `sandgate.showDetails` says the details as a message. The
VS Code extension routes both to its own screens (a diff with a modal confirmation).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from lsprotocol import types

from sandgate.lsp import convert, positions
from sandgate.lsp.commands import command_args
from sandgate.lsp.features import approvals
from sandgate.lsp.ledger import Withheld

if TYPE_CHECKING:
    from sandgate.lsp.server import SandgateServer

log = logging.getLogger(__name__)


def register(server: SandgateServer) -> None:
    @server.feature(types.TEXT_DOCUMENT_CODE_LENS, types.CodeLensOptions(resolve_provider=False))
    def code_lens(ls, params: types.CodeLensParams) -> list[types.CodeLens]:
        return lenses(ls, params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_HOVER, types.HoverOptions())
    def hover(ls, params: types.HoverParams) -> types.Hover | None:
        return hover_at(ls, params.text_document.uri, params.position)

    @server.command(convert.CMD_REVIEW)
    async def review_command(ls, *args: Any) -> dict[str, Any]:
        return await review(ls, command_args(args))

    @server.command(convert.CMD_SHOW_DETAILS)
    def show_details(ls, *args: Any) -> dict[str, Any]:
        record = ls.ledger.find(str(command_args(args).get("id") or ""))
        if record is None:
            return {"ok": False, "message": "That suggestion is no longer known."}
        text = convert.details_text(record)
        ls.tell(text, types.MessageType.Warning)
        return {"ok": True, "message": text, "details": convert.record_markdown(record)}


def withheld(server: SandgateServer, uri: str) -> list[Withheld]:
    records: list[Withheld] = [h for h in server.ledger.held_for(uri) if h.kind == "suggestion"]
    return records + list(server.ledger.blocked_for(uri))


def lenses(server: SandgateServer, uri: str) -> list[types.CodeLens]:
    snap = server.snapshot(uri)
    if snap is None:
        return []
    out: list[types.CodeLens] = []
    for record in withheld(server, uri):
        line = positions.to_client(snap.lines, record.anchor.start, server.encoding).line
        out.extend(convert.record_lenses(record, line))
    return out


def hover_at(server: SandgateServer, uri: str, at: types.Position) -> types.Hover | None:
    """The records whose spot is on the hovered line."""
    snap = server.snapshot(uri)
    if snap is None:
        return None
    here = []
    for record in withheld(server, uri):
        if positions.to_client(snap.lines, record.anchor.start, server.encoding).line == at.line:
            here.append(record)
    if not here:
        return None
    return convert.record_hover(here, positions.line_range(snap.lines, here[0].anchor.start, server.encoding))


async def review(server: SandgateServer, args: dict[str, Any]) -> dict[str, Any]:
    """Apply the held suggestion through the client (confirmed where it can ask), then approve it."""
    token = str(args.get("token") or "")
    held = server.ledger.get(token)
    snap = server.snapshot(held.uri) if held else None
    if held is None or snap is None:
        message = "That suggestion is no longer held."
        server.tell(f"Sandgate: {message}")
        return {"ok": False, "message": message}
    label = convert.held_labels([held.text])[0]
    (action, _) = convert.held_actions(
        types.Diagnostic(range=held.range, message=""),
        held,
        snap.version,
        annotations=server.annotations_supported(),
        label=label,
    )
    assert action.edit is not None
    result = await server.workspace_apply_edit_async(
        types.ApplyWorkspaceEditParams(edit=action.edit, label="Insert an AI suggestion held for review")
    )
    if not result.applied:
        message = approvals.NOT_INSERTED
        server.tell(f"Sandgate: {message}")
        return {"ok": False, "inserted": False, "message": message}
    return await approvals.approve(server, {"token": token})
