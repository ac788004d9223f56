"""One call to the model, as a GenAI CLIENT span under the request's span, then its event."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from sandgate.provider import ChatResponse
from sandgate.telemetry import Telemetry

if TYPE_CHECKING:
    from sandgate.lsp.runtime import Runtime

# `gen_ai.provider.name` of the model calls: the chat-completions API is OpenAI's.
PROVIDER_NAME = "openai"


async def ask_model(
    rt: Runtime, telemetry: Telemetry, messages: list[dict[str, str]], request_id: str, n: int | None = None
) -> ChatResponse:
    provider = rt.provider
    assert provider is not None, "ask_model needs a configured provider"
    config = provider.config
    count = n or config.candidates
    host, port = endpoint_address(config.base_url)
    with telemetry.model_span(
        provider=PROVIDER_NAME,
        request_model=config.model,
        server_address=host,
        server_port=port,
        max_tokens=config.max_tokens,
        temperature=provider.temperature_for(count),
    ) as call:
        reply = await provider.chat(messages, count)
        call.set_model_response(
            response_model=reply.model,
            response_id=reply.response_id,
            input_tokens=reply.input_tokens,
            output_tokens=reply.output_tokens,
            finish_reasons=list(reply.finish_reasons) or None,
        )
    telemetry.model_response(
        request_id=request_id,
        model=reply.model,
        text="\n".join(reply.texts),
        finish_reasons=reply.finish_reasons,
        input_tokens=reply.input_tokens,
        output_tokens=reply.output_tokens,
    )
    return reply


def endpoint_address(url: str) -> tuple[str | None, int | None]:
    """`server.address` and `server.port` of a model endpoint URL (the port defaulted by scheme)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None, None
    if port is None:
        port = {"https": 443, "http": 80}.get(parts.scheme.lower())
    return parts.hostname, port
