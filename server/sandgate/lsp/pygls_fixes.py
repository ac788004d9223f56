"""Where pygls 2.1.1 does not do what Sandgate needs, in one place.

- `didChange`: pygls applies a range as given (an inverted one diverges from the editor); the
  server applies changes itself (`documents.change_document`), then its held suggestions follow.
- Notification futures: pygls files the future of every notification its generator handlers run
  under a fresh id and never removes it (~5 KiB per edit, forever).
- Progress tokens: pygls keeps every work-done token's future (openlawlibrary/pygls#607).
- Reading stdin: see `stdio.py` (the event loop reads the pipe, not a worker thread); TCP: `tcp.py`
  (the same framing and checks, not pygls's lenient TCP path).
"""

from __future__ import annotations

from typing import Any

from lsprotocol import types
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.language_server import lsp_method


class SandgateProtocol(LanguageServerProtocol):
    @lsp_method(types.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(self, params: types.DidChangeTextDocumentParams):
        server: Any = self._server  # a SandgateServer: it applies changes itself
        server.document_changed(params)
        yield from ()

    def _handle_notification(self, method_name: str, params: Any) -> None:
        super()._handle_notification(method_name, params)
        # A finished future there has been answered, or is a notification's.
        for key in [k for k, f in self._request_futures.items() if f.done()]:
            self._request_futures.pop(key, None)


def forget_progress_token(server: Any, token: Any) -> None:
    """Drop a finished work-done token's future, which pygls would keep forever."""
    server.work_done_progress.tokens.pop(token, None)
