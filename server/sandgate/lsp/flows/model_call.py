"""One call to the model, as a GenAI CLIENT span under the request's span, then its event.

An identical inline request within a short while (same URL, same body) that typing triggered is
answered from the runtime's reply cache: no second call, no second span. A request the user
invoked, and a chat ("Fix with AI"), are always asked: the user wants a fresh answer."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from sandgate.lsp.caches import reply_key
from sandgate.provider import ChatResponse, ModelRequest
from sandgate.telemetry import Telemetry

if TYPE_CHECKING:
    from sandgate.lsp.runtime import Runtime

# `gen_ai.provider.name` of the model calls, by wire format.
PROVIDER_NAMES = {"ollama": "ollama", "mistral-fim": "mistral_ai", "llamacpp-infill": "llama.cpp"}
DEFAULT_PROVIDER_NAME = "openai"


async def ask_model(
    rt: Runtime,
    telemetry: Telemetry,
    request: ModelRequest,
    request_id: str,
    *,
    chat: bool = False,
    deadline: float | None = None,
    reuse: bool = False,
) -> ChatResponse:
    """`request` in the configured format (`chat`: as a chat, whatever the format), within `deadline`;
    `reuse`: an identical earlier reply may answer it."""
    provider = rt.provider
    assert provider is not None, "ask_model needs a configured provider"
    config = provider.config
    api = "chat" if chat else config.api_in_use
    url = config.chat_url if chat else config.request_url
    key = reply_key(url, provider.body(request)) if reuse and not chat else None
    cached = rt.replies.get(key) if key else None
    if cached is not None:
        return cached
    host, port = endpoint_address(url)
    with telemetry.model_span(
        provider=PROVIDER_NAMES.get(api, DEFAULT_PROVIDER_NAME),
        request_model=config.model,
        # GenAI semantic conventions: a fill-in-the-middle request is a text completion.
        operation="chat" if api == "chat" else "text_completion",
        server_address=host,
        server_port=port,
        max_tokens=request.max_tokens,
        temperature=request.temperature,
    ) as call:
        if chat:
            reply = await provider.chat_request(request, deadline=deadline)
        else:
            reply = await provider.ask(request, deadline=deadline)
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
    if key:
        rt.replies.put(key, reply)
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
