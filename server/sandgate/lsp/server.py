"""The server core: where work runs, what the server keeps, and the features it serves.

Blocking work (vets, document checks, policy loads, audit writes) runs in thread pools; the event
loop only waits, so other requests are answered while vets run. Failures are logged and
reported, never raised into the loop. The handlers live in `features/`, one module per feature;
the request flows they call live in `flows/`.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import itertools
import logging
import os
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from sandgate import __version__
from sandgate.lines import Lines
from sandgate.lsp import documents, heap, positions, snapshot
from sandgate.lsp.anchors import Anchor
from sandgate.lsp.audit import AuditSink, Unrecorded, current_user
from sandgate.lsp.features import (
    actions,
    approvals,
    diagnostics,
    fix,
    inline,
    lenses,
    lifecycle,
    pending,
    policy,
    suppressions,
    sync,
)
from sandgate.lsp.flows.workers import Workers
from sandgate.lsp.ledger import Ledger
from sandgate.lsp.pygls_fixes import SandgateProtocol, forget_progress_token
from sandgate.lsp.session import Session
from sandgate.lsp.snapshot import Snapshot
from sandgate.lsp.status import StatusBoard
from sandgate.lsp.vet_slots import VetSlots, vet_concurrency
from sandgate.provider import GuardedContext, ProviderError

log = logging.getLogger(__name__)

# How long a run goes before its progress is shown (`SandgateServer.work_done`).
PROGRESS_AFTER_S = 0.3
T = TypeVar("T")


class SandgateServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__(
            "sandgate",
            __version__,
            text_document_sync_kind=types.TextDocumentSyncKind.Incremental,
            protocol_cls=SandgateProtocol,
        )
        # Vets (sandbox runs: tens of ms to seconds) take turns in slots of their own, so document
        # checks, guards and audit writes (`quick_pool`) never queue behind them, and a core stays
        # free for what the user waits on (vet_slots.py).
        self.vet_slots = VetSlots(vet_concurrency())
        self.quick_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="sandgate-quick")
        # Audit appends (each fsynced) on a writer of their own: in order, and never holding up a
        # document check in the quick pool (under load, both quick workers waited on the log's lock).
        self.audit_writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sandgate-audit")
        self.session = Session()
        self.ledger = Ledger()
        # What the client last heard was withheld, by document key (`diagnostics.refresh_lenses`).
        self.lens_state: dict[str, tuple[tuple[str, int], ...]] = {}
        self.status = StatusBoard()
        self.audit: AuditSink | None = None
        self.diagnostics = diagnostics.DiagnosticsState()
        # Inline requests in flight per document: cancelled when the document moves on.
        self.inflight: dict[str, set[asyncio.Task]] = {}
        self._background: set[asyncio.Future] = set()
        self.change_handler: Callable[[types.DidChangeTextDocumentParams], None] | None = None
        self._progress_ids = itertools.count(1)

    # -- where work runs -------------------------------------------------------------------

    async def blocking(self, fn: Callable[..., T], *args: Any) -> T:
        """Run short blocking work (checks, guards) off the event loop."""
        return await self._in(self.quick_pool, fn, *args)

    async def vetting(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a vet, or anything else that may wait on a sandbox, off the event loop."""
        result = await self.vet_slots.run(fn, *args)
        heap.settle()  # once: what the first vet loaded is kept for good
        return result

    async def _in(self, pool: ThreadPoolExecutor, fn: Callable[..., T], *args: Any) -> T:
        # In the caller's context (as asyncio.to_thread does): spans started in the worker
        # nest under the request's span.
        context = contextvars.copy_context()
        return await asyncio.get_running_loop().run_in_executor(pool, context.run, fn, *args)

    def spawn(self, coro: Any) -> asyncio.Task:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background_done)
        return task

    def _background_done(self, task: asyncio.Future) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task failed", exc_info=task.exception())

    def cancel_background(self) -> None:
        for task in list(self._background):
            task.cancel()

    def workers(
        self, progress: Callable[[str], None], guarded: Callable[[GuardedContext], None] | None = None
    ) -> Workers:
        """What a flow needs from the server; what it says on the way goes to the status."""
        return Workers(
            self.blocking,
            self.vetting,
            self.session.telemetry,
            guarded=guarded or (lambda _: None),
            provider_failed=self.provider_failed,
            provider_ok=self.provider_ok,
            progress=progress,
        )

    # -- the client ------------------------------------------------------------------------

    def tell(self, message: str, kind: types.MessageType = types.MessageType.Info) -> None:
        self.window_show_message(types.ShowMessageParams(type=kind, message=message))

    def log_client(self, message: str, kind: types.MessageType = types.MessageType.Log) -> None:
        self.window_log_message(types.LogMessageParams(type=kind, message=message))

    def annotations_supported(self) -> bool:
        caps = self.client_capabilities
        edit = caps.workspace.workspace_edit if caps and caps.workspace else None
        return bool(edit and edit.document_changes and edit.change_annotation_support is not None)

    def supports_progress(self) -> bool:
        caps = self.client_capabilities
        return bool(caps and caps.window and caps.window.work_done_progress)

    @contextlib.asynccontextmanager
    async def work_done(
        self, title: str, message: str | None = None, token: Any = None
    ) -> AsyncIterator[Callable[[str], None]]:
        """`$/progress` begin/end around a run that lasts: shown only once it has taken
        `PROGRESS_AFTER_S` (most inline requests are done sooner, and a progress shown and gone
        within a keystroke is noise, and a create round trip with the client on every request);
        a no-op for clients without support."""
        shown: dict[str, Any] = {"message": message}  # the latest message; "token" once begun

        async def show() -> None:
            await asyncio.sleep(PROGRESS_AFTER_S)
            name = token
            if name is None:
                if not self.supports_progress():
                    return
                name = shown["made"] = f"sandgate-{os.getpid()}-{next(self._progress_ids)}"
                try:
                    await asyncio.wait_for(self.work_done_progress.create_async(name), 5)
                except Exception:
                    return
            shown["token"] = name
            self.work_done_progress.begin(
                name, types.WorkDoneProgressBegin(title=title, message=shown["message"], cancellable=False)
            )

        def report(text: str) -> None:
            shown["message"] = text
            if "token" in shown:
                self.work_done_progress.report(shown["token"], types.WorkDoneProgressReport(message=text))

        showing = asyncio.ensure_future(show())
        try:
            yield report
        finally:
            # Stopped where it waits (its sleep, or the client's answer to create): it runs no further.
            showing.cancel()
            if "token" in shown:
                self.work_done_progress.end(shown["token"], types.WorkDoneProgressEnd(message="done"))
            if "made" in shown:
                forget_progress_token(self, shown["made"])

    # -- documents -------------------------------------------------------------------------

    def snapshot(self, uri: str) -> Snapshot | None:
        """The open document `uri` names (any escaping), as it is now."""
        return snapshot.take(self.workspace, uri, self.session.workspace_path)

    def is_current(self, snap: Snapshot) -> bool:
        return snapshot.is_current(self.workspace, snap)

    def relpath(self, uri: str) -> str:
        return documents.relpath(uri, self.session.workspace_path)

    def client_uri(self, uri: str) -> str:
        """`uri` as the client spelled it when it opened the document (itself when not open)."""
        doc = documents.find(self.workspace, uri)
        return doc.uri if doc is not None else uri

    @property
    def encoding(self) -> str:
        """The position encoding negotiated with the client (announced in `initialize`)."""
        return positions.encoding_name(self.workspace.position_encoding)

    def anchor_range(self, lines: Lines, anchor: Anchor) -> types.Range:
        return positions.range_to_client(lines, anchor.start, anchor.end, self.encoding)

    def document_changed(self, params: types.DidChangeTextDocumentParams) -> None:
        """Routed here by the protocol (`pygls_fixes`); the sync feature sets the handler."""
        if self.change_handler is not None:
            self.change_handler(params)

    def cancel_inflight(self, uri: str) -> None:
        for task in list(self.inflight.get(documents.key(uri), ())):
            task.cancel()

    # -- status ----------------------------------------------------------------------------

    def send_status(self, force: bool = False) -> None:
        s = self.session
        payload = self.status.payload(
            runtime=s.runtime,
            backend=s.backend_name,
            sandbox_problem=s.sandbox_problem,
            audit_error=self.audit.last_error if self.audit else None,
            pending=self.ledger.pending_count(),
            trusted=s.trusted,
        )
        if self.status.changed(payload, force):
            self.protocol.notify("sandgate/status", payload)
        if not s.status_shown:
            # A client that ignores sandgate/status (coc.nvim, Emacs...) still learns what fails closed.
            for reason in self.status.untold(payload["failClosed"]):
                self.tell(f"Sandgate fails closed: {reason}", types.MessageType.Warning)

    def provider_failed(self, err: ProviderError) -> None:
        log.warning("model call failed: %s", err.user_message)
        if self.status.provider_failed(err):
            self.tell(f"Sandgate: {err.user_message} No suggestion was shown.", types.MessageType.Warning)
        self.send_status()

    def provider_ok(self) -> None:
        if self.status.provider_ok():
            self.send_status()

    # -- audit -----------------------------------------------------------------------------

    def user_decider(self) -> str:
        return self.audit.decided_by if self.audit else f"user:{current_user()}"

    def audit_now(self, record: dict[str, Any]) -> dict[str, Any] | None:
        """Blocking: append one record (called on the audit writer: `audit_record`)."""
        return self.audit.append(record) if self.audit else None

    async def audit_record(self, record: dict[str, Any]) -> dict[str, Any] | None:
        """Append one record on the audit writer; what was stored, or None without a workspace.

        Raises `Unrecorded` (after telling the status) when the log cannot be written: the
        caller must not let through what the record was for (fail closed).
        """
        try:
            return await self._in(self.audit_writer, self.audit_now, record)
        except Unrecorded:
            self.send_status()
            raise

    async def write_audit(self, records: list[dict[str, Any]]) -> bool:
        """Append records in order, in one write; True once the log has taken them, False when
        they could not be written (the status says why).

        Returns as soon as the lines are written: their fsync and the head file's update (a
        rename and two fsyncs, several ms on a busy disk) finish on the audit writer afterwards.
        An inline answer waits on this, so it pays only the write itself; a crash of Sandgate
        after it loses nothing, and a failed fsync turns the status to fail closed for what follows.
        """
        if self.audit is None or not records:
            return True
        audit = self.audit
        loop = asyncio.get_running_loop()
        taken: asyncio.Future[bool] = loop.create_future()

        def settle(ok: bool) -> None:
            if not taken.done():
                taken.set_result(ok)

        def on_written(_: list[dict[str, Any]]) -> None:
            # After a failed append (its fsync, say), the next waits for the whole of its own.
            if audit.last_error is None:
                loop.call_soon_threadsafe(settle, True)

        def work() -> None:
            done = False
            try:
                audit.append_all(records, on_written=on_written)
                done = True
            except Unrecorded:
                pass  # the records (or only the head, after them) failed: said by the status
            finally:
                loop.call_soon_threadsafe(settle, done)  # no-op once written

        # Submitted now, not from a task a turn later: appends keep the order they were asked in.
        job = loop.run_in_executor(self.audit_writer, contextvars.copy_context().run, work)
        self._background.add(job)
        job.add_done_callback(self._background_done)
        recorded = await taken
        if not recorded or audit.last_error:
            self.send_status()
        return recorded


FEATURES = (lifecycle, policy, sync, diagnostics, inline, actions, approvals, fix, pending, lenses, suppressions)


def build_server() -> SandgateServer:
    server = SandgateServer()
    for feature in FEATURES:
        feature.register(server)
    return server
