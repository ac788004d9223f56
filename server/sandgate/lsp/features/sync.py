"""Document sync: open, change (applied by Sandgate itself: `documents.change_document`), close.

A change moves the held and blocked suggestions of the document with it (or drops those whose
anchor is gone), cancels the inline requests in flight for it, and schedules a check.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from lsprotocol import types

from sandgate.lines import Lines
from sandgate.lsp import documents
from sandgate.lsp.features import diagnostics

if TYPE_CHECKING:
    from sandgate.lsp.server import SandgateServer

log = logging.getLogger(__name__)


def register(server: SandgateServer) -> None:
    server.change_handler = lambda params: document_changed(server, params)

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls, params: types.DidOpenTextDocumentParams) -> None:
        diagnostics.schedule_check(ls, params.text_document.uri, delay=0)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls, params: types.DidCloseTextDocumentParams) -> None:
        document_closed(ls, params.text_document.uri)


def document_changed(server: SandgateServer, params: types.DidChangeTextDocumentParams) -> None:
    found = documents.change_document(server.workspace, params)
    if found is None:
        log.warning("didChange for a document that is not open: %s", params.text_document.uri)
        return
    doc, applied = found
    for problem in applied.problems:
        log.warning("%s: %s", doc.uri, problem)
        server.log_client(
            f"Sandgate: a change to {server.relpath(doc.uri)} was not well formed: {problem}.",
            types.MessageType.Warning,
        )
    lines = Lines.of(applied.text)
    tracked = server.ledger.held_for(doc.uri) or server.ledger.blocked_for(doc.uri)
    dropped = server.ledger.follow(doc.uri, applied.steps, lambda anchor: server.anchor_range(lines, anchor))
    server.cancel_inflight(doc.uri)
    diagnostics.schedule_check(server, doc.uri)
    if tracked:
        diagnostics.publish(server, doc.uri)
    if dropped:
        server.send_status()


def document_closed(server: SandgateServer, uri: str) -> None:
    server.cancel_inflight(uri)
    diagnostics.forget(server, uri)
    # What was held for it expires: a reopened document is another one.
    dropped = server.ledger.drop_uri(uri)
    diagnostics.publish(server, uri)
    sized = server.status.note_size(documents.key(uri), None)
    if server.status.forget_context(documents.key(uri), documents.key) or dropped or sized:
        server.send_status()
