"""Requests that read what the server keeps: the pending list (`sandgate/pendingSuggestions`) and
the audit log's verification (`sandgate.verifyAudit`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sandgate.lsp import convert

if TYPE_CHECKING:
    from sandgate.lsp.server import SandgateServer


def register(server: SandgateServer) -> None:
    @server.feature(convert.PENDING_REQUEST)
    def pending(ls, params: Any) -> dict[str, Any]:
        items, recent = ls.ledger.listing()
        return {
            "items": [convert.withheld_json(h) for h in items],
            "recent": [convert.withheld_json(r) for r in recent],
        }

    @server.command(convert.CMD_VERIFY_AUDIT)
    async def verify_audit(ls, *args: Any) -> dict[str, Any]:
        if ls.audit is None:
            return {"ok": False, "message": "no workspace folder: there is no audit log"}
        async with ls.work_done("Sandgate", "verifying the audit log"):
            return await ls.blocking(ls.audit.verify)
