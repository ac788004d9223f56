"""Diagnostics: findings on the user's code (checked on open and, debounced, on change), the held
and blocked suggestions of a document, and problems of the policy file. Every range goes out in
the client's units (`positions`)."""

from __future__ import annotations

import asyncio
import copy
import logging
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lsprotocol import types

from sandgate.findings import Finding, Verdict
from sandgate.languages import language_for
from sandgate.lsp import convert, documents, positions
from sandgate.lsp.runtime import is_policy_uri
from sandgate.lsp.size_limit import too_large
from sandgate.policy.evaluate import decide_finding

if TYPE_CHECKING:
    from sandgate.lsp.server import SandgateServer
    from sandgate.lsp.snapshot import Snapshot

log = logging.getLogger(__name__)

DEBOUNCE_S = float(os.environ.get("SANDGATE_DEBOUNCE_MS", "250")) / 1000


@dataclass(frozen=True)
class DocumentCheck:
    """The last check of a document: what it found at which version, and its diagnostics (server units)."""

    version: int | None
    decided: tuple[tuple[Finding, Verdict], ...]
    diagnostics: tuple[types.Diagnostic, ...]

    def finding(self, source: str, rule: str, line: int) -> Finding | None:
        """The finding a diagnostic names (its source, rule and first line)."""
        return next((f for f, _ in self.decided if (f.source, f.rule, f.line) == (source, rule, line)), None)


@dataclass
class DiagnosticsState:
    checks: dict[str, DocumentCheck] = field(default_factory=dict)  # by document key
    policy: dict[str, list[types.Diagnostic]] = field(default_factory=dict)  # by the client's URI
    debounce: dict[str, asyncio.Task] = field(default_factory=dict)


def register(server: SandgateServer) -> None:
    """Nothing to register: diagnostics are pushed (`publish`), by the features that change them."""


def publish(server: SandgateServer, uri: str) -> None:
    """Every diagnostic Sandgate has for a document, in the client's units and spelling."""
    snap = server.snapshot(uri)
    state = server.diagnostics
    check = state.checks.get(documents.key(uri))
    ours = list(state.policy.get(server.client_uri(uri), [])) + (list(check.diagnostics) if check else [])
    if snap is not None:
        lines, enc = snap.lines, server.encoding
        # Copies: the stored ones stay in server units for the next publish.
        ours = [copy.copy(d) for d in ours]
        for diagnostic in ours:
            diagnostic.range = positions.server_range_to_client(lines, diagnostic.range, enc)
        for held in server.ledger.held_for(uri):
            if held.kind == "suggestion":
                ours.append(
                    convert.suggestion_diagnostic(
                        held.decision,
                        positions.line_range(lines, held.anchor.start, enc),
                        held.reasons,
                        held.token,
                        held.vetted,
                        held.summary,
                        held.placed,
                        held.id,
                    )
                )
        for blocked in server.ledger.blocked_for(uri):
            ours.append(
                convert.suggestion_diagnostic(
                    Verdict.BLOCK,
                    positions.line_range(lines, blocked.anchor.start, enc),
                    blocked.reasons,
                    None,
                    blocked.vetted,
                    blocked.summary,
                    blocked.placed,
                    blocked.id,
                )
            )
    server.text_document_publish_diagnostics(
        types.PublishDiagnosticsParams(
            uri=snap.uri if snap is not None else uri,
            diagnostics=ours,
            version=snap.version if snap is not None else None,
        )
    )
    refresh_lenses(server, uri)


def refresh_lenses(server: SandgateServer, uri: str) -> None:
    """Ask the client for the CodeLenses again (`features.lenses`) when what is withheld in `uri`
    changed: a held or blocked suggestion appears without any change to the document."""
    caps = server.client_capabilities
    lens_caps = caps.workspace.code_lens if caps and caps.workspace else None
    if not (lens_caps and lens_caps.refresh_support):
        return
    records = [h for h in server.ledger.held_for(uri) if h.kind == "suggestion"] + server.ledger.blocked_for(uri)
    now = tuple((r.id, r.anchor.start) for r in records)
    seen = server.lens_state
    if seen.get(documents.key(uri), ()) == now:
        return
    if now:
        seen[documents.key(uri)] = now
    else:
        seen.pop(documents.key(uri), None)
    server.spawn(_refresh(server))


async def _refresh(server: SandgateServer) -> None:
    try:
        await server.workspace_code_lens_refresh_async(None)
    except Exception as exc:  # a client that declared it, then refused: the next change asks anyway
        log.info("workspace/codeLens/refresh failed: %s", exc)


def schedule_check(server: SandgateServer, uri: str, delay: float = DEBOUNCE_S) -> None:
    snap = server.snapshot(uri)
    if (
        snap is None
        or is_policy_uri(uri, server.session.workspace_path)
        or language_for(snap.language_id, snap.path) is None
    ):
        return
    pending = server.diagnostics.debounce
    previous = pending.pop(snap.key, None)
    if previous is not None:
        previous.cancel()
    pending[snap.key] = server.spawn(check_document(server, uri, delay))


def forget(server: SandgateServer, uri: str) -> None:
    """The document closed: its check, pending or done, goes."""
    task = server.diagnostics.debounce.pop(documents.key(uri), None)
    if task:
        task.cancel()
    server.diagnostics.checks.pop(documents.key(uri), None)


async def check_document(server: SandgateServer, uri: str, delay: float) -> None:
    await asyncio.sleep(delay)
    snap = server.snapshot(uri)
    if snap is not None and await check_now(server, snap) is not None:
        publish(server, uri)


async def check_now(server: SandgateServer, snap: Snapshot) -> DocumentCheck | None:
    """Check the snapshot and keep the result; None when it is stale by the time the check ends."""
    rt = await server.session.runtime_ready()
    if rt is None:
        return None
    failed: types.Diagnostic | None = None
    if too_large(server, snap, rt.settings.max_document_bytes):
        check = DocumentCheck(snap.version, (), ())  # nothing checked: the status says why
        server.diagnostics.checks[snap.key] = check
        return check
    try:
        findings = await server.blocking(rt.vetter.check_document, snap.text, snap.path, snap.language_id)
    except Exception as exc:  # said on the document: a check that did not run is not a clean one
        log.exception("document check failed for %s", snap.uri)
        findings, failed = [], convert.check_failed_diagnostic(f"{exc.__class__.__name__}: {exc}")
    if not server.is_current(snap) or server.session.runtime is not rt:
        return None  # stale: a newer check is scheduled
    decided = tuple((f, decide_finding(rt.loaded.policy, f).verdict) for f in findings if f.source != "syntax")
    diagnostics = convert.findings_to_diagnostics(decided, snap.text) + ([failed] if failed else [])
    check = DocumentCheck(snap.version, decided, tuple(diagnostics))
    server.diagnostics.checks[snap.key] = check
    return check


async def current_check(server: SandgateServer, snap: Snapshot) -> DocumentCheck | None:
    """The check of the snapshot's version: the last one if it is, else one run now."""
    check = server.diagnostics.checks.get(snap.key)
    if check is not None and check.version == snap.version:
        return check
    return await check_now(server, snap)
