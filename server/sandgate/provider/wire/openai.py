"""OpenAI-shaped formats: chat completions, text completions with `suffix` (or a model's own
fill-in-the-middle template in `prompt`), and Mistral's /v1/fim/completions."""

from __future__ import annotations

from typing import Any

from sandgate.provider.errors import ErrorKind, ProviderError
from sandgate.provider.wire.base import Wire
from sandgate.provider.wire.fim_templates import FimTemplate
from sandgate.provider.wire.reply import Collector, ModelRequest, require_object

# OpenAI's completions APIs accept at most four stop sequences; the client cuts the rest itself.
MAX_STOPS = 4


def _choices(data: dict[str, Any], what: str) -> list[dict[str, Any]]:
    choices = data.get("choices")
    if not isinstance(choices, list):
        raise ProviderError(ErrorKind.MALFORMED, f"{what} has no `choices` list")
    for choice in choices:
        if not isinstance(choice, dict):
            raise ProviderError(ErrorKind.MALFORMED, "a choice is not an object")
    return choices


def _index(choice: dict[str, Any], position: int) -> int:
    index = choice.get("index", position)
    return index if isinstance(index, int) else position


def _usage(data: dict[str, Any], into: Collector) -> None:
    usage = data.get("usage")
    if isinstance(usage, dict):
        into.usage(
            usage.get("prompt_tokens", usage.get("input_tokens")),
            usage.get("completion_tokens", usage.get("output_tokens")),
        )


class OpenAIShaped(Wire):
    # Where a choice's text is: ("message", "content") for chat, ("text",) for completions.
    whole_path: tuple[str, ...] = ("message", "content")
    delta_path: tuple[str, ...] = ("delta", "content")

    def _read(self, data: dict[str, Any], into: Collector, path: tuple[str, ...], what: str) -> None:
        data = require_object(data, what)
        into.about(data)
        _usage(data, into)
        for position, choice in enumerate(_choices(data, what)):
            index = _index(choice, position)
            node: Any = choice
            for key in path:
                node = node.get(key) if isinstance(node, dict) else None
            into.add(index, node)
            into.finished(index, choice.get("finish_reason"))

    def event(self, data: dict[str, Any], into: Collector) -> None:
        self._read(data, into, self.delta_path, "a streamed event")

    def whole(self, data: dict[str, Any], into: Collector) -> None:
        self._read(data, into, self.whole_path, "the body")
        into.done = True


class ChatWire(OpenAIShaped):
    name = "chat"
    endpoint = "/chat/completions"
    native_n = True

    def body(self, request: ModelRequest) -> dict[str, Any]:
        return {
            "model": request.model,
            "messages": list(request.messages),
            "n": request.n,
            "temperature": request.temperature,
            "max_tokens": request.max_tokens,
            "stream": request.stream,
        }


class CompletionsWire(OpenAIShaped):
    """/v1/completions: `suffix` where the server takes it (Ollama, LM Studio, OpenAI), else the
    model's template in `prompt` (vLLM, llama.cpp's /v1/completions)."""

    name = "completions"
    endpoint = "/completions"
    native_n = True
    whole_path = ("text",)
    delta_path = ("text",)

    def __init__(self, template: FimTemplate | None = None) -> None:
        self.template = template

    def body(self, request: ModelRequest) -> dict[str, Any]:
        stops = list(request.stop)
        body: dict[str, Any] = {"model": request.model}
        if self.template is not None:
            body["prompt"] = self.template.render(request.prefix, request.suffix)
            stops = list(self.template.stops) + stops
        else:
            body["prompt"] = request.prefix
            body["suffix"] = request.suffix
        body.update(n=request.n, temperature=request.temperature, max_tokens=request.max_tokens, stream=request.stream)
        if stops:
            body["stop"] = stops[:MAX_STOPS]
        return body


class MistralFimWire(OpenAIShaped):
    name = "mistral-fim"
    endpoint = "/fim/completions"

    def body(self, request: ModelRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": request.model,
            "prompt": request.prefix,
            "suffix": request.suffix,
            "temperature": request.temperature,
            "max_tokens": request.max_tokens,
            "stream": request.stream,
        }
        if request.stop:
            body["stop"] = list(request.stop[:MAX_STOPS])
        return body
