"""Approving or discarding a held suggestion (or a vetted AI fix), each bound to its one-time token.

The approval is checked against the document as it is now (`ledger.Ledger.approve`): the vetted
text at its spot, the text around it as it was vetted, the policy that vetted it. A refusal is
audited and answered with an error that names the reason. An approval that arrives while the
spot still holds what it held before is no refusal: the user declined the edit (some clients run
the action's command anyway), so the answer says so, and the suggestion stays held. An approval
the audit log cannot record is refused (`unrecorded`) and the suggestion held again: fail closed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sandgate.lsp import convert
from sandgate.lsp.anchors import intact, text_at
from sandgate.lsp.audit import Unrecorded
from sandgate.lsp.commands import command_args, refusal_error
from sandgate.lsp.features import diagnostics
from sandgate.lsp.ledger import ApprovalRefused, NotInserted
from sandgate.lsp.records import outcome_record, refusal_record

if TYPE_CHECKING:
    from sandgate.lsp.server import SandgateServer


NOT_INSERTED = "Not approved: the suggestion was not inserted (the edit was declined); it is still held for review."


def register(server: SandgateServer) -> None:
    @server.command(convert.CMD_APPROVE)
    async def approve_command(ls, *args: Any) -> dict[str, Any]:
        return await approve(ls, command_args(args))

    @server.command(convert.CMD_DISCARD)
    async def discard_command(ls, *args: Any) -> dict[str, Any]:
        return await discard(ls, command_args(args))


async def approve(server: SandgateServer, args: dict[str, Any]) -> dict[str, Any]:
    rt = await server.session.runtime_ready()
    token = str(args.get("token") or "")
    held = server.ledger.get(token)
    snap = server.snapshot(held.uri) if held else None
    # What sits at the suggestion's spot now, and whether the text around it is the vetted one.
    text_now = text_at(held.anchor, snap.text) if held and snap else None
    anchored = held is None or (snap is not None and intact(held.anchor, snap.text))
    try:
        if rt is None:
            raise ApprovalRefused("stale", "Approval refused: the server has no policy loaded.")
        record = server.ledger.approve(token, text_now, rt.digest, anchored)
    except NotInserted:
        message = NOT_INSERTED
        server.tell(f"Sandgate: {message}")
        return {"ok": False, "inserted": False, "message": message}
    except ApprovalRefused as refused:
        try:
            await server.audit_record(refusal_record(refused, token, server.user_decider()))
        except Unrecorded:
            pass  # refused all the same: a refusal lets nothing through

        if refused.record is not None:
            diagnostics.publish(server, refused.record.uri)
        server.send_status()
        raise refusal_error(refused) from None
    decided_by = server.user_decider()
    try:
        stored = await server.audit_record(
            outcome_record("approval", record, server.relpath(record.uri), decided_by, token)
        )
    except Unrecorded as exc:
        # Fail closed: an approval that is not on the record did not happen. The suggestion is
        # held again (the client takes its insertion out on this refusal).
        server.ledger.reinstate(record)
        diagnostics.publish(server, record.uri)
        server.send_status()
        raise refusal_error(
            ApprovalRefused(
                "unrecorded",
                f"Approval refused (unrecorded): {exc}. It is still held; approve it again once the log is fixed.",
                record,
            )
        ) from None
    server.session.telemetry.approval(
        request_id=record.request_id,
        decided_by=decided_by,
        content_sha256=record.sha256,
        policy_digest=record.policy_digest,
    )
    if record.kind == "fix":
        diagnostics.schedule_check(server, record.uri, delay=0)
    diagnostics.publish(server, record.uri)
    server.send_status()
    return {"ok": True, "sha256": record.sha256, "recorded": stored is not None, "message": "Approved and recorded."}


async def discard(server: SandgateServer, args: dict[str, Any]) -> dict[str, Any]:
    token = str(args.get("token") or "")
    try:
        record = server.ledger.discard(token)
    except ApprovalRefused as refused:
        raise refusal_error(refused) from None
    decided_by = server.user_decider()
    server.session.telemetry.discard(
        request_id=record.request_id,
        decided_by=decided_by,
        content_sha256=record.sha256,
        policy_digest=record.policy_digest,
    )
    try:
        stored = await server.audit_record(
            outcome_record("discard", record, server.relpath(record.uri), decided_by, token)
        )
    except Unrecorded:
        stored = None  # discarded all the same: a discard lets nothing through
    diagnostics.publish(server, record.uri)
    server.send_status()
    return {"ok": True, "recorded": stored is not None, "message": "Discarded."}
