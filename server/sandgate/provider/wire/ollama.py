"""Ollama's native API: POST /api/generate with `prompt` and `suffix` (the model's template does
the rest). Streams are one JSON object a line; the one with `"done": true` is the last."""

from __future__ import annotations

from typing import Any

from sandgate.provider.wire.base import Wire
from sandgate.provider.wire.reply import Collector, ModelRequest, require_object


class OllamaWire(Wire):
    name = "ollama"
    endpoint = "/api/generate"
    at_root = True
    sse = False
    stream_content_type = "application/x-ndjson"

    def body(self, request: ModelRequest) -> dict[str, Any]:
        options: dict[str, Any] = {"num_predict": request.max_tokens, "temperature": request.temperature}
        if request.stop:
            options["stop"] = list(request.stop)
        return {
            "model": request.model,
            "prompt": request.prefix,
            "suffix": request.suffix,
            "stream": request.stream,
            "options": options,
        }

    def _read(self, data: dict[str, Any], into: Collector, what: str) -> None:
        data = require_object(data, what)
        into.about(data)
        into.add(0, data.get("response"), "`response`")
        if data.get("done") is True:
            into.usage(data.get("prompt_eval_count"), data.get("eval_count"))
            into.finished(0, data.get("done_reason") or "stop")
            into.done = True

    def event(self, data: dict[str, Any], into: Collector) -> None:
        self._read(data, into, "a streamed line")

    def whole(self, data: dict[str, Any], into: Collector) -> None:
        self._read(data, into, "the body")
        into.done = True
