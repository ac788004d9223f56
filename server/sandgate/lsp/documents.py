"""Open documents: found whatever the URI's escaping, changed exactly, and named for paths.

pygls files each open document under its URI percent-decoded (`my%20project` → `my project`);
every look-up goes through `find`, so a document opened as `file:///a/my%20project/x.py` is
found under either spelling. Outgoing messages keep the client's own spelling (`doc.uri`).

Changes are applied here, not by pygls (which applies a range as given: an inverted or
out-of-range one made its copy diverge from the editor's). A range past the end of the document
is clamped to the end, an inverted range (start after end) is taken with its ends swapped, as VS
Code's own `Range` and the reference `vscode-languageserver-textdocument` do; either is reported,
never applied silently. A whole-document change is turned into the smallest equivalent edit, so
that held suggestions can follow every change the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from lsprotocol import types
from pygls.uris import to_fs_path

from sandgate.lines import Lines
from sandgate.lsp.positions import encoding_name, locate

NOTEBOOK_CELL_SCHEME = "vscode-notebook-cell"


def key(uri: str) -> str:
    """The name pygls files a document under: the URI percent-decoded."""
    return unquote(uri)


def find(workspace: Any, uri: str) -> Any | None:
    """The open document `uri` names (any escaping), or None; never a document read from disk."""
    return workspace.text_documents.get(key(uri))


def fs_path(uri: str) -> str | None:
    """The file a document is (a notebook cell: its notebook's file); None for `untitled:` and the like."""
    path = to_fs_path(uri)
    if path:
        return path
    try:
        parts = urlsplit(uri)
    except ValueError:
        return None
    if parts.scheme == NOTEBOOK_CELL_SCHEME and parts.path:
        return unquote(parts.path)
    return None


def display_name(uri: str) -> str:
    """The last segment of a URI without a file (`untitled:Untitled-1` → `Untitled-1`)."""
    try:
        path = unquote(urlsplit(uri).path)
    except ValueError:
        path = ""
    return path.rstrip("/").rsplit("/", 1)[-1] or "untitled"


def relpath(uri: str, workspace: Path | None) -> str:
    """Workspace-relative `/`-separated path of a document, else its file name."""
    path = fs_path(uri)
    if path and workspace is not None:
        try:
            return Path(path).resolve().relative_to(workspace).as_posix()
        except (ValueError, OSError):
            pass
    return Path(path).name if path else display_name(uri)


def located(uri: str, workspace: Path | None) -> tuple[str, ...]:
    """Where a document is, as `files.exclude` reads it (`provider.guard.is_excluded`): its
    workspace-relative path inside the workspace; outside it, its absolute path as named and as
    resolved (a link's target may sit in `.ssh/`, or the link in `secrets/`); else its name."""
    path = fs_path(uri)
    if not path:
        return (display_name(uri),)
    named = Path(path).absolute()
    try:
        resolved = named.resolve()
    except (OSError, RuntimeError):
        resolved = named
    out: list[str] = []
    for candidate in (named, resolved):
        inside = None
        if workspace is not None:
            try:
                inside = candidate.relative_to(workspace).as_posix()
            except ValueError:
                inside = None
        where = inside if inside is not None else candidate.as_posix()
        if where not in out:
            out.append(where)
    return tuple(out)


@dataclass(frozen=True)
class Edit:
    """One change in server offsets: text[start:end] of the text before it became `text`."""

    start: int
    end: int
    text: str

    @property
    def delta(self) -> int:
        return len(self.text) - (self.end - self.start)


@dataclass
class Applied:
    """What one `didChange` did: the new text, its edits in order (each with the text after it),
    and what had to be mended."""

    text: str
    steps: list[tuple[Edit, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def smallest_edit(old: str, new: str) -> Edit:
    """The single edit that turns `old` into `new` (common prefix and suffix kept)."""
    limit = min(len(old), len(new))
    prefix = _common_length(limit, lambda n: old[:n] == new[:n])
    rest = limit - prefix
    suffix = _common_length(rest, lambda n: old[len(old) - n :] == new[len(new) - n :])
    return Edit(prefix, len(old) - suffix, new[prefix : len(new) - suffix])


def _common_length(limit: int, same: Callable[[int], bool]) -> int:
    """The largest n <= limit with same(n), for a `same` that holds up to some n and fails after it.
    A binary search over slice comparisons (done in C): a whole-document change of a 20 MB file
    takes milliseconds, where a character loop took seconds of the event loop."""
    low, high = 0, limit
    while low < high:
        mid = (low + high + 1) // 2
        if same(mid):
            low = mid
        else:
            high = mid - 1
    return low


def range_edit(text: str, change: types.TextDocumentContentChangePartial, encoding: str) -> tuple[Edit, list[str]]:
    """A ranged change as an `Edit` on `text`, clamped and normalised, with what was mended."""
    lines = Lines.of(text)
    start, end = locate(lines, change.range.start, encoding), locate(lines, change.range.end, encoding)
    problems = []
    if start.outside or end.outside:
        problems.append(f"a range past the end of the document ({_show(change.range)}) was clamped to the end")
    if start.offset > end.offset:
        problems.append(f"an inverted range ({_show(change.range)}, start after end) was applied with its ends swapped")
        start, end = end, start
    return Edit(start.offset, end.offset, change.text), problems


def apply_changes(text: str, changes: list[Any], encoding: str) -> Applied:
    applied = Applied(text)
    for change in changes:
        if isinstance(change, types.TextDocumentContentChangePartial):
            edit, problems = range_edit(applied.text, change, encoding)
            applied.problems.extend(problems)
        else:
            edit = smallest_edit(applied.text, change.text)
        applied.text = applied.text[: edit.start] + edit.text + applied.text[edit.end :]
        applied.steps.append((edit, applied.text))
    return applied


def _show(rng: types.Range) -> str:
    return f"{rng.start.line}:{rng.start.character}-{rng.end.line}:{rng.end.character}"


def change_document(workspace: Any, params: types.DidChangeTextDocumentParams) -> tuple[Any, Applied] | None:
    """Apply a `didChange` to the open document; None when no such document is open."""
    doc = find(workspace, params.text_document.uri)
    if doc is None:
        return None
    applied = apply_changes(doc.source, list(params.content_changes), encoding_name(workspace.position_encoding))
    doc.apply_change(types.TextDocumentContentChangeWholeDocument(text=applied.text))
    doc.version = params.text_document.version
    return doc, applied
