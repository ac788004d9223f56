"""What every wire format reads into: one `ModelRequest` out, one `ChatResponse` back.

`Collector` gathers a reply as it arrives (streamed events, or one body) whatever the format.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sandgate.provider.errors import ErrorKind, ProviderError


@dataclass(frozen=True)
class ModelRequest:
    """One request for candidates. Chat formats send `messages`; fill-in-the-middle formats send
    `prefix` and `suffix` (the code before and after the cursor, already through the model guard)."""

    model: str
    messages: tuple[dict[str, str], ...] = ()
    prefix: str = ""
    suffix: str = ""
    n: int = 1
    max_tokens: int = 512
    temperature: float = 0.2
    stop: tuple[str, ...] = ()
    stream: bool = True


@dataclass(frozen=True)
class ChatResponse:
    """One answered request: the candidates (raw text, by choice index) and what the endpoint
    said about them (for telemetry): model, response id, finish reasons, token usage."""

    texts: list[str]
    model: str | None = None
    response_id: str | None = None
    finish_reasons: tuple[str, ...] = ()
    input_tokens: int | None = None
    output_tokens: int | None = None


def str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def count_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def error_text(data: Any) -> str:
    """The provider's own message from `{"error": {"message": ...}}` or `{"error": "..."}`."""
    if isinstance(data, dict):
        err = data.get("error")
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            return err["message"][:200]
        if isinstance(err, str):
            return err[:200]
    return ""


def require_object(data: Any, what: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ProviderError(ErrorKind.MALFORMED, f"{what} is not a JSON object")
    if "error" in data and not any(k in data for k in ("choices", "content", "response")):
        raise ProviderError(ErrorKind.MALFORMED, f"error object: {error_text(data)}")
    return data


@dataclass
class Collector:
    """Text per candidate index, and what the endpoint said about it; `done` once the format's end
    marker came."""

    texts: dict[int, list[str]] = field(default_factory=dict)
    finish: dict[int, str] = field(default_factory=dict)
    model: str | None = None
    response_id: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    done: bool = False

    def add(self, index: int, text: Any, what: str = "a candidate's text") -> None:
        if text is not None and not isinstance(text, str):
            raise ProviderError(ErrorKind.MALFORMED, f"{what} is not a string")
        parts = self.texts.setdefault(index, [])
        if text:
            parts.append(text)

    def finished(self, index: int, reason: Any) -> None:
        if isinstance(reason, str) and reason:
            self.finish[index] = reason

    def about(self, data: dict[str, Any], model_key: str = "model", id_key: str = "id") -> None:
        self.model = self.model or str_or_none(data.get(model_key))
        self.response_id = self.response_id or str_or_none(data.get(id_key))

    def usage(self, input_tokens: Any, output_tokens: Any) -> None:
        self.input_tokens = count_or_none(input_tokens) if input_tokens is not None else self.input_tokens
        self.output_tokens = count_or_none(output_tokens) if output_tokens is not None else self.output_tokens

    def response(self) -> ChatResponse:
        return ChatResponse(
            ["".join(self.texts[i]) for i in sorted(self.texts)],
            model=self.model,
            response_id=self.response_id,
            finish_reasons=tuple(self.finish[i] for i in sorted(self.finish)),
            input_tokens=self.input_tokens,
            output_tokens=self.output_tokens,
        )
