"""A document as a request read it: the client's URI, its version, its text.

A request takes one snapshot when it starts and works on that; before it answers it asks whether
the document is still at that version (`is_current`), so nothing vetted against old text reaches
the editor.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from sandgate.lines import Lines
from sandgate.lsp import documents


@dataclass(frozen=True)
class Snapshot:
    uri: str  # as the client spells it
    version: int | None
    text: str
    language_id: str | None
    path: str  # workspace-relative (or the URI's own name): how records and prompts name it
    located: tuple[str, ...] = ()  # where it is for `files.exclude` (`documents.located`)

    @cached_property
    def lines(self) -> Lines:
        return Lines.of(self.text)

    @property
    def key(self) -> str:
        return documents.key(self.uri)


def take(workspace: Any, uri: str, workspace_path: Path | None) -> Snapshot | None:
    """The open document `uri` names (any escaping) as it is now; None when it is not open."""
    doc = documents.find(workspace, uri)
    if doc is None:
        return None
    return Snapshot(
        doc.uri,
        doc.version,
        doc.source,
        doc.language_id,
        documents.relpath(doc.uri, workspace_path),
        documents.located(doc.uri, workspace_path),
    )


def is_current(workspace: Any, snapshot: Snapshot) -> bool:
    """Whether the document is still open at the snapshot's version."""
    doc = documents.find(workspace, snapshot.uri)
    return doc is not None and doc.version == snapshot.version
