"""An OpenAI-compatible chat-completions client over httpx (async).

One `complete()` call asks for `n` candidates, streamed (server-sent events) or not, with a
time-out per attempt, retries with exponential back-off on 429 (Retry-After honoured) and 5xx
and connection failures, and a cap on the response size. Cancelling the awaiting task closes
the HTTP stream. Every failure is a `ProviderError` with a kind.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from sandgate.provider.config import ProviderConfig
from sandgate.provider.errors import ErrorKind, ProviderError

log = logging.getLogger(__name__)

RETRYABLE = {ErrorKind.RATE_LIMITED, ErrorKind.SERVER_ERROR, ErrorKind.CONNECTION, ErrorKind.TIMEOUT}
# A Retry-After longer than this is not waited for: the editor would have moved on.
MAX_RETRY_AFTER_S = 30.0


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date); None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def backoff_delay(attempt: int, base: float, cap: float, retry_after: float | None = None) -> float:
    """Delay before retry number `attempt` (1-based): Retry-After if given, else base·2^(n-1) with jitter."""
    if retry_after is not None:
        return retry_after
    delay = min(cap, base * (2 ** (attempt - 1)))
    return delay * (0.8 + 0.4 * random.random())


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


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _usage(data: Any) -> tuple[int | None, int | None]:
    """(input, output) tokens from an OpenAI `usage` object (either naming); None when absent."""
    if not isinstance(data, dict):
        return None, None

    def count(*keys: str) -> int | None:
        for key in keys:
            value = data.get(key)
            if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                return value
        return None

    return count("prompt_tokens", "input_tokens"), count("completion_tokens", "output_tokens")


def _response_from_json(body: bytes) -> ChatResponse:
    texts, data = _choices_from_json(body)
    finish: dict[int, str] = {}
    for position, choice in enumerate(data["choices"]):
        index = choice.get("index", position)
        reason = choice.get("finish_reason")
        if isinstance(reason, str) and reason:
            finish[index if isinstance(index, int) else position] = reason
    input_tokens, output_tokens = _usage(data.get("usage"))
    return ChatResponse(
        texts,
        model=_str_or_none(data.get("model")),
        response_id=_str_or_none(data.get("id")),
        finish_reasons=tuple(finish[i] for i in sorted(finish)),
        input_tokens=input_tokens,
        output_tokens=output_tokens,
    )


def _choices_from_json(body: bytes) -> tuple[list[str], dict[str, Any]]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProviderError(ErrorKind.MALFORMED, f"invalid JSON ({exc.__class__.__name__})") from None
    if not isinstance(data, dict):
        raise ProviderError(ErrorKind.MALFORMED, "the body is not a JSON object")
    if "error" in data and "choices" not in data:
        raise ProviderError(ErrorKind.MALFORMED, f"error object: {_error_text(data)}")
    choices = data.get("choices")
    if not isinstance(choices, list):
        raise ProviderError(ErrorKind.MALFORMED, "no `choices` list")
    texts: dict[int, str] = {}
    for position, choice in enumerate(choices):
        if not isinstance(choice, dict):
            raise ProviderError(ErrorKind.MALFORMED, "a choice is not an object")
        message = choice.get("message")
        content = message.get("content") if isinstance(message, dict) else choice.get("text")
        if content is None:
            content = ""
        if not isinstance(content, str):
            raise ProviderError(ErrorKind.MALFORMED, "a choice's content is not a string")
        index = choice.get("index", position)
        texts[index if isinstance(index, int) else position] = content
    return [texts[i] for i in sorted(texts)], data


def _error_text(data: Any) -> str:
    if isinstance(data, dict):
        err = data.get("error")
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            return err["message"][:200]
        if isinstance(err, str):
            return err[:200]
    return ""


class SSEAccumulator:
    """Collects `delta.content` per choice index from `data:` lines; knows when `[DONE]` came."""

    def __init__(self) -> None:
        self.texts: dict[int, list[str]] = {}
        self.done = False
        self.finished: set[int] = set()
        self.finish_reasons: dict[int, str] = {}
        self.model: str | None = None
        self.response_id: str | None = None
        self.usage: tuple[int | None, int | None] = (None, None)
        self._buffer = b""

    def feed(self, chunk: bytes) -> None:
        self._buffer += chunk
        while b"\n" in self._buffer:
            line, self._buffer = self._buffer.split(b"\n", 1)
            self._line(line.rstrip(b"\r"))

    def close(self) -> None:
        if self._buffer.strip():
            self._line(self._buffer.rstrip(b"\r"))
        self._buffer = b""

    def _line(self, line: bytes) -> None:
        if not line or line.startswith(b":"):
            return
        if not line.startswith(b"data:"):
            return  # event:, id:, retry: carry nothing we need
        payload = line[5:].strip()
        if payload == b"[DONE]":
            self.done = True
            return
        try:
            data = json.loads(payload)
        except (ValueError, UnicodeDecodeError):
            raise ProviderError(ErrorKind.MALFORMED, "a streamed event is not valid JSON") from None
        if not isinstance(data, dict):
            raise ProviderError(ErrorKind.MALFORMED, "a streamed event is not a JSON object")
        if "error" in data and "choices" not in data:
            raise ProviderError(ErrorKind.MALFORMED, f"error event: {_error_text(data)}")
        choices = data.get("choices")
        if not isinstance(choices, list):
            raise ProviderError(ErrorKind.MALFORMED, "a streamed event has no `choices` list")
        self.model = self.model or _str_or_none(data.get("model"))
        self.response_id = self.response_id or _str_or_none(data.get("id"))
        if isinstance(data.get("usage"), dict):  # the last event, with stream_options.include_usage
            self.usage = _usage(data["usage"])
        for position, choice in enumerate(choices):
            if not isinstance(choice, dict):
                raise ProviderError(ErrorKind.MALFORMED, "a streamed choice is not an object")
            index = choice.get("index", position)
            index = index if isinstance(index, int) else position
            delta = choice.get("delta") or {}
            content = delta.get("content") if isinstance(delta, dict) else None
            if content is not None and not isinstance(content, str):
                raise ProviderError(ErrorKind.MALFORMED, "a streamed delta is not a string")
            parts = self.texts.setdefault(index, [])
            if content:
                parts.append(content)
            if choice.get("finish_reason"):
                self.finished.add(index)
                if isinstance(choice["finish_reason"], str):
                    self.finish_reasons[index] = choice["finish_reason"]

    def result(self) -> list[str]:
        return ["".join(self.texts[i]) for i in sorted(self.texts)]

    def response(self) -> ChatResponse:
        return ChatResponse(
            self.result(),
            model=self.model,
            response_id=self.response_id,
            finish_reasons=tuple(self.finish_reasons[i] for i in sorted(self.finish_reasons)),
            input_tokens=self.usage[0],
            output_tokens=self.usage[1],
        )


Sleep = Callable[[float], Awaitable[None]]


class ChatClient:
    """Chat completions against one endpoint. Reuse one instance: it pools connections."""

    def __init__(
        self,
        config: ProviderConfig,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.config = config
        self._sleep = sleep
        headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
        if config.api_key:
            headers["Authorization"] = f"Bearer {config.api_key}"
        self._http = httpx.AsyncClient(
            headers=headers,
            timeout=httpx.Timeout(config.timeout_s, connect=config.connect_timeout_s),
            transport=transport,
            follow_redirects=False,
            trust_env=False,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    def temperature_for(self, n: int) -> float:
        """The sampling temperature sent for `n` candidates (several need some spread)."""
        return self.config.temperature if n == 1 else max(self.config.temperature, 0.6)

    async def complete(
        self, messages: list[dict[str, str]], n: int | None = None, *, stream: bool | None = None
    ) -> list[str]:
        """Up to `n` candidate answers (raw text). Raises ProviderError; CancelledError passes through."""
        return (await self.chat(messages, n, stream=stream)).texts

    async def chat(
        self, messages: list[dict[str, str]], n: int | None = None, *, stream: bool | None = None
    ) -> ChatResponse:
        """Like `complete`, with what the endpoint said about the answer (model, usage, finish reasons)."""
        n = n or self.config.candidates
        stream = self.config.stream if stream is None else stream
        body: dict[str, Any] = {
            "model": self.config.model,
            "messages": messages,
            "n": n,
            "temperature": self.temperature_for(n),
            "max_tokens": self.config.max_tokens,
            "stream": stream,
        }
        attempt = 0
        while True:
            attempt += 1
            try:
                return await self._attempt(body, stream)
            except ProviderError as err:
                err.attempts = attempt
                if err.kind not in RETRYABLE or attempt > self.config.max_retries:
                    raise
                retry_after = getattr(err, "retry_after", None)
                if retry_after is not None and retry_after > MAX_RETRY_AFTER_S:
                    raise
                delay = backoff_delay(attempt, self.config.backoff_s, self.config.max_backoff_s, retry_after)
                log.info("model call failed (%s); retry %d in %.2fs", err.kind.value, attempt, delay)
                await self._sleep(delay)

    async def _attempt(self, body: dict[str, Any], stream: bool) -> ChatResponse:
        cap = self.config.max_response_bytes
        try:
            # The per-read time-out does not bound a server that trickles bytes: bound the whole attempt.
            async with asyncio.timeout(self.config.timeout_s):
                async with self._http.stream("POST", self.config.chat_url, json=body) as response:
                    if response.status_code >= 400:
                        await self._raise_for_status(response)
                    declared = response.headers.get("content-length")
                    if declared and declared.isdigit() and int(declared) > cap:
                        raise ProviderError(ErrorKind.TOO_LARGE, f"{int(declared)} bytes declared, limit {cap}")
                    is_sse = stream and "text/event-stream" in response.headers.get("content-type", "")
                    received = 0
                    if is_sse:
                        acc = SSEAccumulator()
                        async for chunk in response.aiter_raw():
                            received += len(chunk)
                            if received > cap:
                                raise ProviderError(ErrorKind.TOO_LARGE, f"more than {cap} bytes")
                            acc.feed(chunk)
                            if acc.done:
                                break
                        acc.close()
                        if not acc.done:
                            raise ProviderError(ErrorKind.CONNECTION, "the stream ended before [DONE]")
                        return acc.response()
                    parts: list[bytes] = []
                    async for chunk in response.aiter_raw():
                        received += len(chunk)
                        if received > cap:
                            raise ProviderError(ErrorKind.TOO_LARGE, f"more than {cap} bytes")
                        parts.append(chunk)
                    return _response_from_json(b"".join(parts))
        except TimeoutError:
            raise ProviderError(ErrorKind.TIMEOUT, f"no complete answer within {self.config.timeout_s:g}s") from None
        except httpx.TimeoutException:
            raise ProviderError(ErrorKind.TIMEOUT, f"no answer within {self.config.timeout_s:g}s") from None
        except httpx.RemoteProtocolError as exc:
            raise ProviderError(ErrorKind.CONNECTION, f"the connection closed midway ({exc})") from None
        except (httpx.ConnectError, httpx.ReadError, httpx.WriteError, httpx.NetworkError) as exc:
            raise ProviderError(
                ErrorKind.CONNECTION, f"{exc.__class__.__name__}: {exc or self.config.base_url}"
            ) from None
        except httpx.DecodingError as exc:
            raise ProviderError(ErrorKind.MALFORMED, f"undecodable body ({exc})") from None
        except httpx.HTTPError as exc:
            raise ProviderError(ErrorKind.CONNECTION, f"{exc.__class__.__name__}: {exc}") from None

    async def _raise_for_status(self, response: httpx.Response) -> None:
        status = response.status_code
        try:
            raw = await response.aread()
        except httpx.HTTPError:
            raw = b""
        try:
            message = _error_text(json.loads(raw[:65536])) if raw else ""
        except ValueError:
            message = ""
        if status == 429:
            err = ProviderError(ErrorKind.RATE_LIMITED, message, status=status)
            err.retry_after = parse_retry_after(response.headers.get("retry-after"))  # type: ignore[attr-defined]
            raise err
        if status >= 500:
            raise ProviderError(
                ErrorKind.SERVER_ERROR, f"HTTP {status}" + (f", {message}" if message else ""), status=status
            )
        hint = {
            401: "check OPENAI_API_KEY",
            403: "check OPENAI_API_KEY",
            404: "check sandgate.model.baseUrl and sandgate.model.name",
        }.get(status, "")
        detail = f"HTTP {status}" + (f", {message}" if message else "") + (f" ({hint})" if hint else "")
        raise ProviderError(ErrorKind.CLIENT_ERROR, detail, status=status)
