"""llama.cpp's server: POST /infill with `input_prefix` and `input_suffix`; the model's own
fill-in-the-middle tokens are applied by the server. Streams are server-sent events without
`[DONE]`: the event with `"stop": true` is the last."""

from __future__ import annotations

from typing import Any

from sandgate.provider.wire.base import Wire
from sandgate.provider.wire.reply import Collector, ModelRequest, require_object


class LlamaCppInfillWire(Wire):
    name = "llamacpp-infill"
    endpoint = "/infill"
    at_root = True

    def body(self, request: ModelRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "input_prefix": request.prefix,
            "input_suffix": request.suffix,
            "n_predict": request.max_tokens,
            "temperature": request.temperature,
            "stream": request.stream,
            "cache_prompt": True,  # the prefix mostly repeats from one keystroke to the next
        }
        if request.stop:
            body["stop"] = list(request.stop)
        return body

    def _read(self, data: dict[str, Any], into: Collector, what: str) -> None:
        data = require_object(data, what)
        into.about(data)
        into.add(0, data.get("content"), "`content`")
        into.usage(data.get("tokens_evaluated"), data.get("tokens_predicted"))
        if data.get("stop") is True:
            reason = data.get("stop_type")
            into.finished(0, "length" if reason == "limit" else "stop")
            into.done = True

    def event(self, data: dict[str, Any], into: Collector) -> None:
        self._read(data, into, "a streamed event")

    def whole(self, data: dict[str, Any], into: Collector) -> None:
        self._read(data, into, "the body")
        into.done = True
