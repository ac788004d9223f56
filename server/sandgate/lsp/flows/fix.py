"""The Fix-with-AI flow: guard the document → ask for replacement lines → vet the original and the
fix in place → compare (`fix_check`).

Plain: a snapshot and one of the server's own findings in (never the client's copy of it: the
finding's message goes into the prompt), a `FixAnswer` out. Offered only when the comparison holds.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sandgate.findings import Finding
from sandgate.lines import Lines
from sandgate.lsp.flows.fix_check import FixCheck, compare_fix
from sandgate.lsp.flows.model_call import ask_model
from sandgate.lsp.flows.workers import Workers
from sandgate.lsp.snapshot import Snapshot
from sandgate.provider import ProviderError, clean_candidate, fix_messages, guard_document, guard_messages
from sandgate.suggestion import Suggestion
from sandgate.telemetry import names as tn

if TYPE_CHECKING:
    from sandgate.lsp.runtime import Runtime
    from sandgate.pipeline import VetResult


@dataclass(frozen=True)
class FixAsk:
    snapshot: Snapshot
    finding: Finding  # as the server's own document check found it
    request_id: str
    deadline: float | None = None  # event-loop time: the model call and its retries end by then

    @property
    def lines(self) -> tuple[int, int]:
        """The finding's 1-based inclusive lines."""
        return self.finding.line, max(self.finding.end_line, self.finding.line)


@dataclass
class FixAnswer:
    message: str  # why none is offered, or what was verified
    result: VetResult | None = None  # the fix's vet, when it got that far
    check: FixCheck | None = None
    model: str | None = None
    span: tuple[int, int] = (0, 0)  # the replaced lines as offsets into the snapshot

    @property
    def offered(self) -> bool:
        return self.check is not None and self.check.ok


def no(message: str) -> FixAnswer:
    return FixAnswer(f"No fix offered: {message}")


def problem(finding: Finding) -> str:
    """What the model is told is wrong: the finding, and the rule's fix hint where it has one."""
    text = f"{finding.rule}: {finding.message}"
    return f"{text}. How to fix it: {finding.fix}" if finding.fix else text


async def run_fix(rt: Runtime, ask: FixAsk, workers: Workers, span: Any) -> FixAnswer:
    snap, finding = ask.snapshot, ask.finding
    language = snap.language_id or "python"
    tel = workers.telemetry
    first, last = ask.lines
    lines = snap.lines
    guarded = await workers.blocking(guard_document, snap.located or snap.path, snap.text, rt.loaded.policy.files)
    if guarded.text is None:
        tel.suggestion_requested(request_id=ask.request_id, file=snap.path, language=language, trigger="fix")
        return no(f"{guarded.status}.")
    if Lines.of(guarded.text).count != lines.count:
        return no("a private key in this file was redacted, so its lines cannot be given to the model.")
    messages, _ = await workers.blocking(
        guard_messages,
        fix_messages(guarded.text, language, snap.path, first, last, problem(finding)),
    )
    prompt = messages[-1]["content"]
    span.set_content(tn.PROMPT, prompt)
    tel.suggestion_requested(request_id=ask.request_id, file=snap.path, language=language, trigger="fix", prompt=prompt)
    start, end = lines.start(first - 1), lines.end_with_break(last - 1)
    original = snap.text[start:end]
    try:
        assert rt.provider is not None, "run_fix needs a configured provider"
        request = rt.provider.request(messages=messages, n=1)
        reply = await ask_model(rt, tel, request, ask.request_id, chat=True, deadline=ask.deadline)
    except ProviderError as err:
        workers.provider_failed(err)
        return FixAnswer(f"No fix offered: {err.user_message}")
    workers.provider_ok()
    model = reply.model or (rt.provider.config.model if rt.provider else None)
    fix = clean_candidate(reply.texts[0] if reply.texts else "")
    if not fix.strip():
        return no("the model proposed nothing.")
    if original.endswith("\n") and not fix.endswith("\n"):
        fix += "\n"
    if fix == original:
        return no("the model proposed the same lines.")
    workers.progress("vetting the fix and the original")
    place: dict[str, Any] = dict(
        document=snap.text,
        line=first - 1,
        character=0,
        end_line=last,
        end_character=0,
        path=snap.path,
        language=snap.language_id,
    )
    before, after = await asyncio.gather(
        workers.vetting(rt.vetter.vet, Suggestion(original, **place), ask.request_id),
        workers.vetting(rt.vetter.vet, Suggestion(fix, **place), ask.request_id),
    )
    check = compare_fix(before, after, finding.key)
    return FixAnswer(check.message, after, check, model, (start, end))
