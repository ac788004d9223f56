"""Fix with AI (`sandgate.fixWithAI`): replacement lines for one finding, offered only once vetted.

The command names a finding of the document (source, rule, line); the server looks it up in its
own check of that version, so nothing the client sends reaches the prompt. A fix that passes
`flows.fix_check` is kept in the ledger and offered as "Apply AI fix" on the same diagnostic.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from sandgate.audit.records import decision_record
from sandgate.lsp import convert
from sandgate.lsp.anchors import anchor_in
from sandgate.lsp.commands import command_args
from sandgate.lsp.features import diagnostics
from sandgate.lsp.flows.fix import FixAsk, run_fix
from sandgate.lsp.ledger import FindingRef, Held, new_request_id
from sandgate.lsp.positions import range_json

if TYPE_CHECKING:
    from sandgate.lsp.server import SandgateServer


def register(server: SandgateServer) -> None:
    @server.command(convert.CMD_FIX_WITH_AI)
    async def fix_with_ai(ls, *args: Any) -> dict[str, Any]:
        return await fix(ls, command_args(args))


async def fix(server: SandgateServer, args: dict[str, Any]) -> dict[str, Any]:
    rt = await server.session.runtime_ready()
    snap = server.snapshot(str(args.get("uri") or ""))
    named: dict[str, Any] = args["finding"] if isinstance(args.get("finding"), dict) else {}

    quiet = args.get("quiet") is True  # the client shows the answer itself (the VS Code extension)

    def no(message: str, **more: Any) -> dict[str, Any]:
        if not quiet:
            server.tell(f"Sandgate: {message}")
        return {"offered": False, "message": message, **more}

    if rt is None or snap is None:
        return no("No fix offered: the document is not open.")
    if rt.provider is None:
        return no("No fix offered: no model provider is configured.")
    if not server.session.trusted:
        return no("No fix offered: the workspace is not trusted, so nothing from it is run to vet a fix.")
    if args.get("version") is not None and args.get("version") != snap.version:
        return no("No fix offered: the document changed; ask again.")
    try:
        line = int(named.get("line") or 0)
    except (TypeError, ValueError):
        line = 0
    check = await diagnostics.current_check(server, snap)
    finding = check.finding(str(named.get("source")), str(named.get("rule")), line) if check else None
    if finding is None or not 1 <= finding.line <= snap.lines.count:
        return no("No fix offered: Sandgate has no such finding on these lines of this document.")
    deadline = asyncio.get_running_loop().time() + rt.settings.fix_deadline_s
    ask = FixAsk(snap, finding, new_request_id(), deadline)
    language = snap.language_id or "python"
    with server.session.telemetry.suggestion_span(
        request_id=ask.request_id, file=snap.path, language=language, trigger="fix"
    ) as span:
        async with server.work_done("Sandgate", f"asking the model to fix {finding.rule}") as report:
            try:
                async with asyncio.timeout_at(deadline):  # its own, longer than an inline request's
                    answer = await run_fix(rt, ask, server.workers(report), span)
            except TimeoutError:
                return no(
                    f"No fix offered: no vetted fix within {rt.settings.fix_deadline_s:g}s (sandgate.fix.deadlineSeconds)."
                )
        if answer.result is not None:
            recorded = await server.write_audit(
                [
                    decision_record(
                        answer.result,
                        request_id=ask.request_id,
                        model=answer.model,
                        kind="fix",
                        uri=snap.uri,
                        fix_check=answer.message,
                    )
                ]
            )
            if not recorded:  # fail closed: a fix whose decision is not on record is not offered
                why = server.audit.last_error if server.audit else None
                return no(f"No fix offered: {why or 'the audit log cannot be written'}.")
        if answer.result is not None and not server.is_current(snap):
            return no("No fix offered: the document changed while the fix was vetted; ask again.")
        anchor = anchor_in(snap.text, *answer.span)
        if not answer.offered or answer.result is None:
            if answer.result is None:
                return no(answer.message)
            # The refused fix is shown with its reason: the user sees what was proposed and why not.
            return no(
                answer.message,
                proposed=answer.result.suggestion.text,
                range=range_json(server.anchor_range(snap.lines, anchor)),
            )
        held = Held.of(
            answer.result,
            uri=snap.uri,
            anchor=anchor,
            range=server.anchor_range(snap.lines, anchor),
            request_id=ask.request_id,
            model=answer.model,
            kind="fix",
            verified=answer.message,
            fixes=FindingRef(finding.key, finding.line),
        )
        server.ledger.hold(held)
        server.send_status()
        message = f"AI fix ready ({answer.message}): choose “Apply AI fix” on the diagnostic."
        if not quiet:
            server.tell(f"Sandgate: {message}")
        return {
            "offered": True,
            "message": message,
            "token": held.token,
            "verified": answer.message,
            "proposed": held.text,
            "range": range_json(held.range),
        }
