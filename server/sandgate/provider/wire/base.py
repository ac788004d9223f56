"""The one interface every wire format implements: where to send, what to send, how to read."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from sandgate.provider.wire.reply import Collector, ModelRequest


def path_of(url: str) -> str:
    try:
        return urlsplit(url).path.rstrip("/")
    except ValueError:
        return ""


def endpoint_url(base_url: str, endpoint: str, *, at_root: bool = False) -> str:
    """`base_url` with `endpoint` appended unless it already ends with it. `at_root`: the endpoint
    lives at the server's root (llama.cpp's /infill, Ollama's /api/generate), so an OpenAI-style
    `/v1` ending is dropped first."""
    base = base_url.rstrip("/")
    if base.endswith(endpoint):
        return base
    if at_root:
        for tail in ("/v1", "/api"):
            if base.endswith(tail):
                base = base[: -len(tail)]
                break
    return base + endpoint


class Wire:
    """One wire format. `sse`: streamed as server-sent events (else one JSON object a line);
    `native_n`: the endpoint returns several candidates for one request (`n`)."""

    name = ""
    endpoint = ""
    at_root = False
    sse = True
    native_n = False
    stream_content_type = "text/event-stream"

    def url(self, base_url: str) -> str:
        return endpoint_url(base_url, self.endpoint, at_root=self.at_root)

    def chat_url(self, base_url: str) -> str:
        """Where the chat requests of the same server go ("Fix with AI" asks in prose)."""
        base = base_url.rstrip("/")
        if base.endswith(self.endpoint):
            base = base[: -len(self.endpoint)]
        if self.at_root and not base.endswith("/v1"):
            base += "/v1"
        return endpoint_url(base, "/chat/completions")

    def body(self, request: ModelRequest) -> dict[str, Any]:
        raise NotImplementedError

    def event(self, data: dict[str, Any], into: Collector) -> None:
        """One streamed event."""
        raise NotImplementedError

    def whole(self, data: dict[str, Any], into: Collector) -> None:
        """A reply that was not streamed."""
        raise NotImplementedError
