"""Recording a suppression (`sandgate.recordSuppression`): run after the "Suppress … for this line"
edit, it writes a `suppression` record to the audit log with the reason the user gave (the VS Code
extension asks for one; other clients send none, and the record says so). Recorded only when the
marker is on that line now: a declined edit records nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sandgate.lsp import convert
from sandgate.lsp.audit import Unrecorded
from sandgate.lsp.commands import command_args
from sandgate.suggestion import sha256_text

if TYPE_CHECKING:
    from sandgate.lsp.server import SandgateServer

MAX_REASON = 500


def register(server: SandgateServer) -> None:
    @server.command(convert.CMD_RECORD_SUPPRESSION)
    async def record_suppression(ls, *args: Any) -> dict[str, Any]:
        return await record(ls, command_args(args))


def marker_present(line_text: str, source: str, rule: str) -> bool:
    if source == "secrets":
        return convert.SECRET_PRAGMA in line_text
    _, nosec, tail = line_text.partition("# nosec")
    return bool(nosec) and rule in tail.split("#")[0].replace(",", " ").split()


async def record(server: SandgateServer, args: dict[str, Any]) -> dict[str, Any]:
    snap = server.snapshot(str(args.get("uri") or ""))
    source, rule = str(args.get("source") or ""), str(args.get("rule") or "")
    try:
        line = int(args.get("line") or 0)
    except (TypeError, ValueError):
        line = 0
    if snap is None or not 1 <= line <= snap.lines.count or not rule:
        return {"ok": False, "message": "Nothing recorded: no such line in an open document."}
    text = snap.lines.line_text(line - 1)
    if not marker_present(text, source, rule):
        return {"ok": False, "message": f"Nothing recorded: {rule} is not suppressed on line {line}."}
    reason = args.get("reason")
    reason = reason.strip()[:MAX_REASON] if isinstance(reason, str) and reason.strip() else None
    try:
        stored = await server.audit_record(
            {
                "event": "suppression",
                "uri": snap.uri,
                "file": server.relpath(snap.uri),
                "source": source,
                "rule": rule,
                "line": line,
                "line_sha256": sha256_text(text),
                "reason": reason,
                "decided_by": server.user_decider(),
            },
        )
    except Unrecorded as exc:
        return {"ok": False, "recorded": False, "reason": reason, "message": f"Nothing recorded: {exc}."}
    return {"ok": True, "recorded": stored is not None, "reason": reason}
