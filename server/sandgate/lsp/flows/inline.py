"""The inline-completion flow: guard the context → prompt → model → clean → vet every candidate.

Plain: a document snapshot and an offset in, one `VetResult` per distinct candidate out (in the
model's order). Nothing of an excluded file, and no secret, joins the request; a vet that fails is
held with the reason, never dropped.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sandgate.lsp.flows.model_call import ask_model
from sandgate.lsp.flows.workers import Workers
from sandgate.lsp.snapshot import Snapshot
from sandgate.provider import (
    CompletionContext,
    ProviderError,
    clean_candidate,
    completion_messages,
    guard_completion,
    guard_messages,
)
from sandgate.suggestion import Suggestion
from sandgate.telemetry import names as tn

if TYPE_CHECKING:
    from sandgate.lsp.runtime import Runtime
    from sandgate.pipeline import VetResult

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InlineAsk:
    snapshot: Snapshot
    offset: int  # where the suggestion goes, in code points
    trigger: str  # "invoked" or "automatic"
    request_id: str


@dataclass
class InlineAnswer:
    results: list[VetResult] = field(default_factory=list)
    model: str | None = None
    refused: bool = False  # the model guard kept the request home: the model was not asked


async def run_inline(rt: Runtime, ask: InlineAsk, workers: Workers, span: Any) -> InlineAnswer:
    """Under `span`, the request's suggestion span (the caller records the results inside it too)."""
    snap = ask.snapshot
    language = snap.language_id or "python"
    tel = workers.telemetry
    text, offset = snap.text, ask.offset
    guarded = await workers.blocking(guard_completion, snap.path, text[:offset], text[offset:], rt.loaded.policy.files)
    workers.guarded(guarded)
    if not guarded.allowed:
        tel.suggestion_requested(request_id=ask.request_id, file=snap.path, language=language, trigger=ask.trigger)
        log.info("no suggestion for %s: %s", snap.path, guarded.status)
        return InlineAnswer(refused=True)
    ctx = CompletionContext(guarded.before, guarded.after, language, snap.path)
    messages, _ = await workers.blocking(guard_messages, completion_messages(ctx))
    prompt = messages[-1]["content"]
    span.set_content(tn.PROMPT, prompt)
    tel.suggestion_requested(
        request_id=ask.request_id, file=snap.path, language=language, trigger=ask.trigger, prompt=prompt
    )
    try:
        reply = await ask_model(rt, tel, messages, ask.request_id)
    except ProviderError as err:
        workers.provider_failed(err)
        return InlineAnswer()
    except Exception as exc:  # a bug or a closed client: report, never crash the request
        log.exception("model call failed unexpectedly")
        workers.provider_failed(ProviderError("connection", f"{exc.__class__.__name__}: {exc}"))
        return InlineAnswer()
    workers.provider_ok()
    model = reply.model or (rt.provider.config.model if rt.provider else None)
    candidates: list[str] = []
    for answer in reply.texts:
        cleaned = clean_candidate(answer, ctx.after)
        if cleaned.strip() and cleaned not in candidates:
            candidates.append(cleaned)
    if not candidates:
        return InlineAnswer(model=model)
    workers.progress(f"vetting {len(candidates)} suggestion(s)")
    line, character = snap.lines.position(offset)
    suggestions = [
        Suggestion(c, document=text, line=line, character=character, path=snap.path, language=snap.language_id)
        for c in candidates
    ]
    outcomes = await asyncio.gather(
        *(workers.vetting(rt.vetter.vet, s, ask.request_id) for s in suggestions), return_exceptions=True
    )
    results = []
    for suggestion, outcome in zip(suggestions, outcomes, strict=True):
        if isinstance(outcome, asyncio.CancelledError):
            raise outcome
        if isinstance(outcome, BaseException):  # the worker itself failed: held and said, never dropped
            log.error("vet failed", exc_info=outcome)
            outcome = rt.vetter.held_unvetted(suggestion, "vet-failed", f"could not be vetted: {outcome!r}")
        results.append(outcome)
    return InlineAnswer(results, model)
