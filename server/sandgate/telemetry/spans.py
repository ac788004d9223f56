"""Spans for one suggestion's life: the request, the model call, the vet, each check, each run.

Every helper is a context manager that yields a `SpanHandle` (or, with tracing off, the
shared `NOOP_SPAN`, whose methods do nothing: no allocation, no hashing, no clock read).
An exception leaving the block marks the span as an error and sets `error.type`.

    with tel.suggestion_span(request_id=rid, file="pkg/mod.py", prompt=prefix):
        with tel.model_span(provider="openai", request_model="gpt-4.1-mini") as call:
            reply = client.complete(...)
            call.set_model_response(response_model=reply.model, input_tokens=..., output_tokens=...,
                                    finish_reasons=["stop"], response_id=reply.id)
        with tel.vet_span(file="pkg/mod.py", content=text) as vet:
            with tel.check_span("bandit") as check:
                check.set_findings(len(found))
            with tel.sandbox_span(backend="docker") as run:
                run.set_sandbox_outcome("completed", exit_code=0, duration_ms=41.0)
            vet.set_decision("review", decided_by="policy")
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sandgate.telemetry import names as n
from sandgate.telemetry.content import text_attributes


def _clean(attributes: Mapping[str, Any]) -> dict[str, Any]:
    # OpenTelemetry rejects None values with a warning; absent is the honest encoding.
    return {k: v for k, v in attributes.items() if v is not None}


class NoopSpan:
    """Stands in for every span when tracing is off."""

    __slots__ = ()

    def __enter__(self) -> NoopSpan:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        return None

    def set(self, key: str, value: Any) -> None:
        pass

    def set_attributes(self, attributes: Mapping[str, Any]) -> None:
        pass

    def set_content(self, prefix: str, text: str | None) -> None:
        pass

    def set_model_response(
        self,
        *,
        response_model: str | None = None,
        response_id: str | None = None,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        finish_reasons: Sequence[str] | None = None,
    ) -> None:
        pass

    def set_findings(self, count: int) -> None:
        pass

    def set_sandbox_outcome(
        self,
        outcome: str,
        *,
        exit_code: int | None = None,
        duration_ms: float | None = None,
        killed: str | None = None,
    ) -> None:
        pass

    def set_decision(self, decision: Any, decided_by: str | None = None) -> None:
        pass


NOOP_SPAN = NoopSpan()


class SpanHandle(NoopSpan):
    """A live span, current for the duration of its `with` block."""

    __slots__ = ("_cm", "span", "_export_content")

    def __init__(self, tracer: Any, name: str, kind: Any, attributes: Mapping[str, Any], export_content: bool):
        self._cm = tracer.start_as_current_span(
            name, kind=kind, attributes=_clean(attributes), record_exception=True, set_status_on_exception=True
        )
        self._export_content = export_content
        self.span: Any = None  # the OpenTelemetry span, once entered

    def __enter__(self) -> SpanHandle:
        self.span = self._cm.__enter__()
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc is not None and self.span is not None:
            self.span.set_attribute(n.ERROR_TYPE, type(exc).__qualname__)
        self._cm.__exit__(exc_type, exc, tb)  # never swallows: the exception goes on

    def set(self, key: str, value: Any) -> None:
        if value is not None:
            self.span.set_attribute(key, value)

    def set_attributes(self, attributes: Mapping[str, Any]) -> None:
        self.span.set_attributes(_clean(attributes))

    def set_content(self, prefix: str, text: str | None) -> None:
        """Length and hash of `text` under `prefix`; the text only when content export is on."""
        self.span.set_attributes(text_attributes(prefix, text, self._export_content))

    def set_model_response(
        self,
        *,
        response_model: str | None = None,
        response_id: str | None = None,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        finish_reasons: Sequence[str] | None = None,
    ) -> None:
        self.set_attributes(
            {
                n.GEN_AI_RESPONSE_MODEL: response_model,
                n.GEN_AI_RESPONSE_ID: response_id,
                n.GEN_AI_USAGE_INPUT_TOKENS: input_tokens,
                n.GEN_AI_USAGE_OUTPUT_TOKENS: output_tokens,
                n.GEN_AI_RESPONSE_FINISH_REASONS: list(finish_reasons) if finish_reasons is not None else None,
            }
        )

    def set_findings(self, count: int) -> None:
        self.span.set_attribute(n.FINDINGS_COUNT, count)

    def set_sandbox_outcome(
        self,
        outcome: str,
        *,
        exit_code: int | None = None,
        duration_ms: float | None = None,
        killed: str | None = None,
    ) -> None:
        self.set_attributes(
            {
                n.SANDBOX_OUTCOME: outcome,
                n.SANDBOX_EXIT_CODE: exit_code,
                n.SANDBOX_DURATION_MS: duration_ms,
                n.SANDBOX_KILLED: killed,
            }
        )

    def set_decision(self, decision: Any, decided_by: str | None = None) -> None:
        self.set_attributes({n.DECISION: str(decision), n.DECIDED_BY: decided_by})


class SpanHelpers:
    """Mixed into `Telemetry`: the span helpers, reading `_tracer` and `export_content`."""

    _tracer: Any
    _spans_on: bool
    export_content: bool

    def _span(self, name: str, kind_name: str, attributes: Mapping[str, Any]) -> SpanHandle:
        from opentelemetry.trace import SpanKind  # only reached with tracing on

        return SpanHandle(self._tracer, name, getattr(SpanKind, kind_name), attributes, self.export_content)

    def suggestion_span(
        self,
        *,
        request_id: str,
        file: str | None = None,
        language: str | None = None,
        trigger: str | None = None,
        prompt: str | None = None,
    ) -> NoopSpan:
        """One suggestion request, from the editor's ask to the answer (a SERVER span)."""
        if not self._spans_on:
            return NOOP_SPAN
        attributes: dict[str, Any] = {
            n.REQUEST_ID: request_id,
            n.CODE_FILE_PATH: file,
            n.LANGUAGE: language,
            n.TRIGGER: trigger,
        }
        attributes.update(text_attributes(n.PROMPT, prompt, self.export_content))
        return self._span(n.SPAN_SUGGESTION, "SERVER", attributes)

    def model_span(
        self,
        *,
        provider: str,
        request_model: str,
        operation: str = "chat",
        server_address: str | None = None,
        server_port: int | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
    ) -> NoopSpan:
        """The model call: a GenAI CLIENT span named `{operation} {model}`."""
        if not self._spans_on:
            return NOOP_SPAN
        attributes = {
            n.GEN_AI_OPERATION_NAME: operation,
            n.GEN_AI_PROVIDER_NAME: provider,
            n.GEN_AI_REQUEST_MODEL: request_model,
            n.GEN_AI_REQUEST_MAX_TOKENS: max_tokens,
            n.GEN_AI_REQUEST_TEMPERATURE: temperature,
            n.SERVER_ADDRESS: server_address,
            n.SERVER_PORT: server_port,
        }
        return self._span(f"{operation} {request_model}", "CLIENT", attributes)

    def vet_span(
        self, *, file: str | None = None, content: str | None = None, request_id: str | None = None
    ) -> NoopSpan:
        """Vetting one text: every check and sandbox run nests under it."""
        if not self._spans_on:
            return NOOP_SPAN
        attributes: dict[str, Any] = {n.REQUEST_ID: request_id, n.CODE_FILE_PATH: file}
        attributes.update(text_attributes(n.CONTENT, content, self.export_content))
        return self._span(n.SPAN_VET, "INTERNAL", attributes)

    def check_span(self, name: str) -> NoopSpan:
        """One check (`bandit`, `secrets`, `policy`, `rules`, `syntax`, ...)."""
        if not self._spans_on:
            return NOOP_SPAN
        return self._span(f"{n.SPAN_CHECK} {name}", "INTERNAL", {n.CHECK_NAME: name})

    def sandbox_span(self, *, backend: str, request_id: str | None = None) -> NoopSpan:
        """One sandboxed run."""
        if not self._spans_on:
            return NOOP_SPAN
        return self._span(n.SPAN_SANDBOX, "INTERNAL", {n.SANDBOX_BACKEND: backend, n.REQUEST_ID: request_id})
