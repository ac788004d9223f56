"""Inline completion (LSP 3.18 `textDocument/inlineCompletion`) and the acceptance of its items.

Allowed candidates come back as ghost text; held ones go to the ledger (a diagnostic with an
approval action), blocked ones are shown as a diagnostic with the reasons and never handed over.
Each request has one deadline (`sandgate.inline.deadlineSeconds`) over the model call, its retries
and the vets: past it the request answers an empty list and is counted in the status's `late`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.exceptions import JsonRpcServerError

from sandgate.audit.records import decision_record
from sandgate.findings import Verdict
from sandgate.languages import fully_vetted, language_for, language_name, not_runnable_kind
from sandgate.lsp import convert, positions
from sandgate.lsp.anchors import anchor_in
from sandgate.lsp.audit import Unrecorded
from sandgate.lsp.commands import APPROVAL_ERROR_CODE, command_args, refusal_error
from sandgate.lsp.features import diagnostics
from sandgate.lsp.features.policy import announce_provider
from sandgate.lsp.flows.inline import InlineAnswer, InlineAsk, run_inline
from sandgate.lsp.ledger import ApprovalRefused, Blocked, Held, new_request_id
from sandgate.lsp.records import acceptance_record
from sandgate.lsp.runtime import Runtime
from sandgate.lsp.size_limit import too_large
from sandgate.wording import plural

if TYPE_CHECKING:
    from sandgate.lsp.server import SandgateServer

log = logging.getLogger(__name__)

EMPTY = types.InlineCompletionList(items=[])


def register(server: SandgateServer) -> None:
    @server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
    async def inline_completion(ls, params: types.InlineCompletionParams):
        return await complete(ls, params)

    @server.command(convert.CMD_ACCEPT_INLINE)
    async def accept_inline(ls, *args: Any) -> dict[str, Any]:
        return await accept(ls, command_args(args))


async def complete(server: SandgateServer, params: types.InlineCompletionParams) -> types.InlineCompletionList | None:
    started = asyncio.get_running_loop().time()
    rt = await server.session.runtime_ready()
    snap = server.snapshot(params.text_document.uri)
    if rt is None or snap is None or not rt.settings.inline_enabled:
        return None
    if too_large(server, snap, rt.settings.max_document_bytes):
        return None
    if rt.provider is None:
        announce_provider(server)
        return None
    unit = language_for(snap.language_id, snap.path)
    if not fully_vetted(unit, snap.path):  # no unit, or no sandbox run (e.g. a .tsx file)
        handling = rt.loaded.policy.languages.unvetted
        name = unit.name if unit is not None else language_name(snap.language_id, snap.path)
        entry = server.status.note_unvetted(
            name, handling, static_only=unit is not None, files=not_runnable_kind(snap.path) if unit else None
        )
        if entry is not None:
            log.info("%s", entry["message"])
            server.send_status()
        if handling == "skip":
            return None  # the model is not asked: nothing it wrote could be vetted
    located = positions.locate(snap.lines, params.position, server.encoding)
    if located.outside:
        log.info(
            "no suggestion for %s: position %s:%s is outside the document (%s)",
            snap.path,
            params.position.line,
            params.position.character,
            plural(snap.lines.count, "line"),
        )
        return EMPTY
    trigger = "invoked" if params.context.trigger_kind == types.InlineCompletionTriggerKind.Invoked else "automatic"
    ask = InlineAsk(snap, located.offset, trigger, new_request_id(), started + rt.settings.inline_deadline_s)
    task = asyncio.ensure_future(_ask_and_record(server, rt, ask, params.work_done_token))
    server.inflight.setdefault(snap.key, set()).add(task)
    try:
        return await task
    except asyncio.CancelledError:
        me = asyncio.current_task()
        if me is not None and me.cancelling():
            raise  # the client cancelled ($/cancelRequest)
        return EMPTY  # the document moved on
    finally:
        server.inflight.get(snap.key, set()).discard(task)


async def _ask_and_record(
    server: SandgateServer, rt: Runtime, ask: InlineAsk, token: Any
) -> types.InlineCompletionList | None:
    snap = ask.snapshot
    telemetry = server.session.telemetry
    language = snap.language_id or "python"

    def guarded(context: Any) -> None:
        if server.status.note_context(snap.uri, snap.path, context.status, context.excluded_by, context.redactions):
            server.send_status()

    with telemetry.suggestion_span(
        request_id=ask.request_id, file=snap.path, language=language, trigger=ask.trigger
    ) as span:
        async with server.work_done("Sandgate", "asking the model", token) as report:
            try:
                async with asyncio.timeout_at(ask.deadline):
                    answer = await run_inline(rt, ask, server.workers(report, guarded), span)
            except TimeoutError:
                # Worthless now: the user has typed on. Dropped, never shown later; counted.
                server.status.note_late()
                server.send_status()
                log.info(
                    "inline request %s: no answer within %gs, dropped", ask.request_id, rt.settings.inline_deadline_s
                )
                return EMPTY
        if answer.refused:
            return None
        if not answer.results or not server.is_current(snap):
            return EMPTY
        return await record(server, ask, answer)


async def record(server: SandgateServer, ask: InlineAsk, answer: InlineAnswer) -> types.InlineCompletionList:
    """Every result is audited first; then allowed results become ghost text and held and blocked
    ones go to the ledger. If the decisions cannot be recorded (fail closed), no allowed one is
    shown and none is held for approval (its approval could not be recorded either); a blocked
    one is still shown as a diagnostic, which lets nothing through."""
    snap = ask.snapshot
    records = [
        decision_record(result, request_id=ask.request_id, model=answer.model, kind="inline", uri=snap.uri)
        for result in answer.results
    ]
    # Shielded: a request cancelled while the decisions are written still gets them on disk.
    recorded = await asyncio.shield(server.write_audit(records))
    if not recorded:
        log.warning("inline request %s: its decisions could not be recorded; nothing shown", ask.request_id)
    telemetry = server.session.telemetry
    items: list[types.InlineCompletionItem] = []
    blocked: list[Blocked] = []
    at = positions.to_client(snap.lines, ask.offset, server.encoding)
    anchor = anchor_in(snap.text, ask.offset, ask.offset)
    rng = server.anchor_range(snap.lines, anchor)
    for result in answer.results:
        if server.status.note_vet(snap.uri, snap.path, result):
            server.send_status()
        if result.verdict is Verdict.ALLOW:
            if not recorded:
                continue
            # The vetted text: the candidate, or its vetted part.
            offered = server.ledger.offer(result, snap.uri, ask.request_id, answer.model)
            items.append(convert.inline_item(offered.id, offered.text, at))
            if result.vetted:
                server.log_client(f"Sandgate: a suggestion for {snap.path} was {result.vetted}.")
        elif result.verdict is Verdict.REVIEW:
            if not recorded:
                continue
            server.ledger.hold(
                Held.of(result, uri=snap.uri, anchor=anchor, range=rng, request_id=ask.request_id, model=answer.model)
            )
        else:
            blocked.append(
                Blocked.of(
                    result, uri=snap.uri, anchor=anchor, range=rng, request_id=ask.request_id, model=answer.model
                )
            )
            # Blocked: discarded by the policy (or the managed policy) that decided.
            telemetry.discard(
                request_id=ask.request_id,
                decided_by=result.decided_by,
                content_sha256=result.content_sha256,
                policy_digest=result.policy_digest,
            )
    server.ledger.set_blocked(snap.uri, blocked)
    if recorded:  # else nothing was shown or held: `failClosed` says why, not a decision
        server.status.note_decision(snap.uri, snap.path, answer.results)
    diagnostics.publish(server, snap.uri)
    server.send_status()
    return types.InlineCompletionList(items=items)


async def accept(server: SandgateServer, args: dict[str, Any]) -> dict[str, Any]:
    try:
        item, siblings = server.ledger.accept(str(args.get("id") or ""))
    except ApprovalRefused as refused:
        raise refusal_error(refused) from None
    if siblings:  # held candidates of the same reply: the user chose another one for that spot
        diagnostics.publish(server, item.uri)
        server.send_status()
    decided_by = server.user_decider()
    # The user let an allowed suggestion in: an approval by the user, as telemetry counts it.
    server.session.telemetry.approval(
        request_id=item.request_id, decided_by=decided_by, content_sha256=item.sha256, policy_digest=item.policy_digest
    )
    try:
        await server.audit_record(acceptance_record(item, server.relpath(item.uri), decided_by))
    except Unrecorded as exc:
        # The editor has inserted the text already; say plainly that it went in unrecorded.
        raise JsonRpcServerError(
            f"Sandgate could not record this acceptance ({exc}); the suggestion was inserted by your "
            "editor without an audit record. Fix the audit log, then review the insertion.",
            APPROVAL_ERROR_CODE,
            data={"reason": "unrecorded"},
        ) from None
    return {"ok": True}
