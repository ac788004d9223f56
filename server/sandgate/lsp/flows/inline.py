"""The inline-completion flow: guard the context → request (a chat prompt, or prefix and suffix
for a fill-in-the-middle model) → model → clean, shape and cap → vet every candidate.

Plain: a document snapshot and an offset in, one `VetResult` per distinct candidate out (in the
model's order). Nothing of an excluded file, and no secret, joins the request; a vet that fails is
held with the reason, never dropped. The model call gets the request's deadline; an identical
re-ask is answered from the runtime's caches (reply and vets).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sandgate.lsp.caches import vet_key
from sandgate.lsp.flows.model_call import ask_model
from sandgate.lsp.flows.workers import Workers
from sandgate.lsp.snapshot import Snapshot
from sandgate.provider import (
    CompletionContext,
    ErrorKind,
    ProviderError,
    clean_candidate,
    completion_messages,
    guard_completion,
    guard_messages,
)
from sandgate.provider.prompt import MAX_AFTER, MAX_BEFORE
from sandgate.provider.shaping import completion_shape, shape_candidate
from sandgate.suggestion import Suggestion
from sandgate.telemetry import names as tn
from sandgate.wording import plural

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
    deadline: float | None = None  # event-loop time after which the answer is worthless


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
    guarded = await workers.blocking(
        guard_completion, snap.located or snap.path, text[:offset], text[offset:], rt.loaded.policy.files
    )
    workers.guarded(guarded)
    if not guarded.allowed:
        tel.suggestion_requested(request_id=ask.request_id, file=snap.path, language=language, trigger=ask.trigger)
        log.info("no suggestion for %s: %s", snap.path, guarded.status)
        return InlineAnswer(refused=True)
    provider = rt.provider
    assert provider is not None, "run_inline needs a configured provider"
    ctx = CompletionContext(guarded.before, guarded.after, language, snap.path)
    shape = completion_shape(guarded.before, guarded.after)
    chat = provider.wire.name == "chat"
    if chat:
        messages, _ = await workers.blocking(guard_messages, completion_messages(ctx))
        prompt = messages[-1]["content"]
        request = provider.request(messages=messages)
    else:
        # Prefix and suffix, each redacted once more just before they leave (as chat messages are).
        parts, _ = await workers.blocking(
            guard_messages,
            [
                {"role": "prefix", "content": ctx.before[-MAX_BEFORE:]},
                {"role": "suffix", "content": ctx.after[:MAX_AFTER]},
            ],
        )
        prefix, suffix = parts[0]["content"], parts[1]["content"]
        prompt = f"{prefix}<CURSOR>{suffix}"
        request = provider.request(prefix=prefix, suffix=suffix, stop=shape.stops)
    span.set_content(tn.PROMPT, prompt)
    tel.suggestion_requested(
        request_id=ask.request_id, file=snap.path, language=language, trigger=ask.trigger, prompt=prompt
    )
    try:
        reply = await ask_model(
            rt, tel, request, ask.request_id, deadline=ask.deadline, reuse=ask.trigger == "automatic"
        )
    except ProviderError as err:
        if err.kind is ErrorKind.TIMEOUT and _past(ask.deadline):
            raise TimeoutError from None  # the request's deadline, not the provider, ran out: late
        workers.provider_failed(err)
        return InlineAnswer()
    except Exception as exc:  # a bug or a closed client: report, never crash the request
        log.exception("model call failed unexpectedly")
        workers.provider_failed(ProviderError("connection", f"{exc.__class__.__name__}: {exc}"))
        return InlineAnswer()
    workers.provider_ok()
    model = reply.model or provider.config.model
    settings = rt.settings
    candidates: list[str] = []
    for answer in reply.texts:
        cleaned = clean_candidate(answer, ctx.after, fences=chat)
        cleaned = shape_candidate(cleaned, shape, settings.max_candidate_lines, settings.max_candidate_bytes)
        if cleaned.strip() and cleaned not in candidates:
            candidates.append(cleaned)
    if not candidates:
        return InlineAnswer(model=model)
    workers.progress(f"vetting {plural(len(candidates), 'suggestion')}")
    line, character = snap.lines.position(offset)
    suggestions = [
        Suggestion(c, document=text, line=line, character=character, path=snap.path, language=snap.language_id)
        for c in candidates
    ]
    outcomes = await asyncio.gather(
        *(_vet(rt, workers, s, ask.request_id) for s in suggestions), return_exceptions=True
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


async def _vet(rt: Runtime, workers: Workers, suggestion: Suggestion, request_id: str) -> VetResult:
    """A vet, or the same vet's result when the candidate, the document it is placed in, the policy
    and the backend are all unchanged. Failed vets are not kept: the next ask tries again."""
    key = vet_key(suggestion, rt.digest, rt.vetter.backend_name)
    cached = rt.vets.get(key)
    if cached is not None:
        return cached
    result = await workers.vetting(rt.vetter.vet, suggestion, request_id)
    if not any(r.rule_id == "vet-failed" for r in result.reasons):
        # Keyed by the backend that ran it (the first vet opens the backend).
        rt.vets.put(vet_key(suggestion, rt.digest, rt.vetter.backend_name), result)
    return result


def _past(deadline: float | None) -> bool:
    return deadline is not None and asyncio.get_running_loop().time() >= deadline - 0.05
