"""The document-size limit (`sandgate.documents.maxBytes`): a document over it is neither checked
nor completed, and the status says so (its `tooLarge`), so that one huge file cannot hold a worker
for minutes, grow the server by gigabytes or keep it from shutting down."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sandgate.lsp import convert
from sandgate.lsp.snapshot import Snapshot

if TYPE_CHECKING:
    from sandgate.lsp.server import SandgateServer


def utf8_size_over(text: str, limit: int) -> int | None:
    """The document's size in UTF-8 bytes when it is over `limit`, else None (cheap when far from it)."""
    if len(text) * 4 <= limit:
        return None  # at most four bytes a character
    size = len(text) if len(text) > limit else len(text.encode("utf-8", "surrogatepass"))
    return size if size > limit else None


def too_large(server: SandgateServer, snap: Snapshot, limit: int) -> bool:
    """Whether `snap` is over `limit`; the status is told either way when that changed."""
    size = utf8_size_over(snap.text, limit)
    note = convert.too_large_note(snap.uri, snap.path, size, limit) if size is not None else None
    if server.status.note_size(snap.key, note):
        server.send_status()
    return size is not None
