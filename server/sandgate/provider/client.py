"""The model client over httpx (async), for every wire format (`provider/wire/`).

One `ask()` asks for candidates in the configured format (`chat()` always in chat), streamed or
not, with a time-out per attempt, retries with exponential back-off on 429 (Retry-After honoured),
5xx, cut streams and connection failures, all inside an optional deadline: no attempt outlives it
and no back-off is slept that would end past it. Answers and error bodies are read under a cap.
Cancelling the awaiting task closes the HTTP stream. Every failure is a `ProviderError` with a kind.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import email.utils
import json
import logging
import random
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx

from sandgate.provider.config import ProviderConfig
from sandgate.provider.errors import ErrorKind, ProviderError
from sandgate.provider.wire import ChatResponse, ChatWire, Collector, LineStream, ModelRequest, Wire, error_text

log = logging.getLogger(__name__)

RETRYABLE = {ErrorKind.RATE_LIMITED, ErrorKind.SERVER_ERROR, ErrorKind.CONNECTION, ErrorKind.TIMEOUT}
# A Retry-After longer than this is not waited for: the editor would have moved on.
MAX_RETRY_AFTER_S = 30.0
# How long a streamed answer's end is awaited after its last event (then the connection goes).
DRAIN_S = 0.05
# A provider that answers a wrong key with 400 or 422 (LiteLLM, some proxies) says so in words.
_KEY_WORDS = re.compile(r"api[ _-]?key|authenticat|unauthori[sz]ed|credential|invalid[ _-]?token|x-api-key", re.I)

__all__ = ["ChatClient", "ChatResponse", "backoff_delay", "parse_retry_after"]


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


def key_hint(status: int, message: str) -> str:
    """What to check, by status and the provider's words."""
    if status in (401, 403) or (status in (400, 422) and _KEY_WORDS.search(message)):
        return "check OPENAI_API_KEY"
    if status == 404:
        return "check sandgate.model.baseUrl, sandgate.model.name and sandgate.model.api"
    return ""


Sleep = Callable[[float], Awaitable[None]]


class ChatClient:
    """Requests to one model endpoint. Reuse one instance: it pools connections."""

    def __init__(
        self,
        config: ProviderConfig,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.config = config
        self.wire = config.wire()
        self._chat = ChatWire()
        self._sleep = sleep
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream, application/x-ndjson",
        }
        if config.api_key:
            headers["Authorization"] = f"Bearer {config.api_key}"
        self._http = httpx.AsyncClient(
            headers=headers,
            timeout=httpx.Timeout(config.timeout_s, connect=config.connect_timeout_s),
            transport=transport,
            follow_redirects=False,  # the policy allowed this URL, not wherever it points
            trust_env=False,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    def temperature_for(self, n: int) -> float:
        """The sampling temperature sent for `n` candidates (several need some spread)."""
        return self.config.temperature if n == 1 else max(self.config.temperature, 0.6)

    def request(
        self,
        *,
        messages: list[dict[str, str]] | tuple[dict[str, str], ...] = (),
        prefix: str = "",
        suffix: str = "",
        n: int | None = None,
        stop: tuple[str, ...] = (),
        stream: bool | None = None,
    ) -> ModelRequest:
        """A request with this configuration's model, limits and sampling."""
        count = n or self.config.candidates
        return ModelRequest(
            model=self.config.model,
            messages=tuple(messages),
            prefix=prefix,
            suffix=suffix,
            n=count,
            max_tokens=self.config.max_tokens,
            temperature=self.temperature_for(count),
            stop=stop,
            stream=self.config.stream if stream is None else stream,
        )

    async def complete(
        self, messages: list[dict[str, str]], n: int | None = None, *, stream: bool | None = None
    ) -> list[str]:
        """Up to `n` candidate answers (raw text) to a chat. Raises ProviderError; CancelledError passes through."""
        return (await self.chat(messages, n, stream=stream)).texts

    async def chat(
        self,
        messages: list[dict[str, str]],
        n: int | None = None,
        *,
        stream: bool | None = None,
        deadline: float | None = None,
    ) -> ChatResponse:
        """A chat, whatever the inline format (with what the endpoint said: model, usage, finish reasons)."""
        return await self.chat_request(self.request(messages=messages, n=n, stream=stream), deadline=deadline)

    async def chat_request(self, request: ModelRequest, *, deadline: float | None = None) -> ChatResponse:
        """`request` (its messages) as a chat, within `deadline`."""
        return await self._send(self._chat, self.config.chat_url, request, deadline)

    async def ask(self, request: ModelRequest, *, deadline: float | None = None) -> ChatResponse:
        """`request` in the configured wire format. `deadline` (event-loop time) bounds every attempt
        and back-off; past it the call fails as a time-out."""
        wire = self.wire
        if wire.native_n or request.n == 1:
            return await self._send(wire, self.config.request_url, request, deadline)
        # One candidate a request where the format has no `n`: asked side by side.
        single = dataclasses.replace(request, n=1)
        replies = await asyncio.gather(
            *(self._send(wire, self.config.request_url, single, deadline) for _ in range(request.n))
        )
        first = replies[0]
        return ChatResponse(
            [text for reply in replies for text in reply.texts],
            model=first.model,
            response_id=first.response_id,
            finish_reasons=tuple(r for reply in replies for r in reply.finish_reasons),
            input_tokens=first.input_tokens,
            output_tokens=sum(reply.output_tokens or 0 for reply in replies) or None,
        )

    def body(self, request: ModelRequest) -> dict[str, Any]:
        """The JSON body `ask` sends (also what a reply cache keys on)."""
        return self.wire.body(request)

    async def _send(self, wire: Wire, url: str, request: ModelRequest, deadline: float | None) -> ChatResponse:
        body = wire.body(request)
        loop = asyncio.get_running_loop()
        attempt = 0
        while True:
            attempt += 1
            budget = self.config.timeout_s
            if deadline is not None:
                budget = min(budget, deadline - loop.time())
                if budget <= 0:
                    raise ProviderError(ErrorKind.TIMEOUT, "no answer before the request's deadline", attempts=attempt)
            try:
                return await self._attempt(wire, url, body, request.stream, budget)
            except ProviderError as err:
                err.attempts = attempt
                if err.kind not in RETRYABLE or attempt > self.config.max_retries:
                    raise
                if err.retry_after is not None and err.retry_after > MAX_RETRY_AFTER_S:
                    raise
                delay = backoff_delay(attempt, self.config.backoff_s, self.config.max_backoff_s, err.retry_after)
                if deadline is not None and loop.time() + delay >= deadline:
                    raise  # the retry would come after the answer is worth anything
                log.info("model call failed (%s); retry %d in %.2fs", err.kind.value, attempt, delay)
                await self._sleep(delay)

    async def _attempt(self, wire: Wire, url: str, body: dict[str, Any], stream: bool, budget: float) -> ChatResponse:
        cap = self.config.max_response_bytes
        try:
            # The per-read time-out does not bound a server that trickles bytes: bound the whole attempt.
            async with asyncio.timeout(budget):
                async with self._http.stream("POST", url, json=body) as response:
                    if response.status_code >= 300:
                        await self._raise_for_status(response)
                    declared = response.headers.get("content-length")
                    if declared and declared.isdigit() and int(declared) > cap:
                        raise ProviderError(ErrorKind.TOO_LARGE, f"{int(declared)} bytes declared, limit {cap}")
                    content_type = response.headers.get("content-type", "")
                    streamed = stream and ("text/event-stream" in content_type or "ndjson" in content_type)
                    into = Collector()
                    received = 0
                    if streamed:
                        lines = LineStream(wire.sse, lambda data: wire.event(data, into), lambda: _done(into))
                        chunks = response.aiter_raw()
                        async for chunk in chunks:
                            received += len(chunk)
                            if received > cap:
                                raise ProviderError(ErrorKind.TOO_LARGE, f"more than {cap} bytes")
                            lines.feed(chunk)
                            if into.done:
                                break
                        if not into.done:
                            lines.close()
                            raise ProviderError(ErrorKind.CONNECTION, "the stream ended before its last event")
                        await _read_to_end(chunks, cap - received)
                        return into.response()
                    parts: list[bytes] = []
                    async for chunk in response.aiter_raw():
                        received += len(chunk)
                        if received > cap:
                            raise ProviderError(ErrorKind.TOO_LARGE, f"more than {cap} bytes")
                        parts.append(chunk)
                    wire.whole(_json_body(b"".join(parts)), into)
                    return into.response()
        except TimeoutError:
            raise ProviderError(ErrorKind.TIMEOUT, f"no complete answer within {budget:.3g}s") from None
        except httpx.TimeoutException:
            raise ProviderError(ErrorKind.TIMEOUT, f"no answer within {budget:.3g}s") from None
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

    async def _read_capped(self, response: httpx.Response, cap: int) -> bytes:
        """At most `cap` bytes of the body: an error page may be endless."""
        parts: list[bytes] = []
        size = 0
        try:
            async for chunk in response.aiter_raw():
                parts.append(chunk)
                size += len(chunk)
                if size >= cap:
                    break
        except httpx.HTTPError:
            pass
        return b"".join(parts)[:cap]

    async def _raise_for_status(self, response: httpx.Response) -> None:
        status = response.status_code
        if status < 400:
            where = response.headers.get("location") or "nowhere"
            raise ProviderError(
                ErrorKind.REDIRECTED,
                f"HTTP {status} to {where}; set sandgate.model.baseUrl to the address the endpoint names",
                status=status,
            )
        raw = await self._read_capped(response, self.config.max_error_bytes)
        try:
            message = error_text(json.loads(raw)) if raw else ""
        except (ValueError, UnicodeDecodeError):
            message = ""
        if status == 429:
            raise ProviderError(
                ErrorKind.RATE_LIMITED,
                message,
                status=status,
                retry_after=parse_retry_after(response.headers.get("retry-after")),
            )
        if status >= 500:
            raise ProviderError(
                ErrorKind.SERVER_ERROR, f"HTTP {status}" + (f", {message}" if message else ""), status=status
            )
        hint = key_hint(status, message)
        kind = ErrorKind.AUTH if hint.endswith("OPENAI_API_KEY") else ErrorKind.CLIENT_ERROR
        detail = f"HTTP {status}" + (f", {message.rstrip('. ')}" if message else "") + (f" ({hint})" if hint else "")
        raise ProviderError(kind, detail, status=status)


def _done(into: Collector) -> None:
    into.done = True


async def _read_to_end(chunks: AsyncIterator[bytes], cap: int) -> None:
    """What a stream sends after its last event (the end of the chunked body, already on its way),
    so the connection can carry the next call: an unread response closes it, and every suggestion
    would then pay a new TCP (and TLS) handshake. A server that holds the stream open past
    `DRAIN_S`, or sends more than `cap` bytes, costs the connection, never the answer."""
    with contextlib.suppress(TimeoutError, httpx.HTTPError):
        async with asyncio.timeout(DRAIN_S):
            async for chunk in chunks:
                cap -= len(chunk)
                if cap < 0:
                    return


def _json_body(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProviderError(ErrorKind.MALFORMED, f"the body is not JSON ({exc.__class__.__name__})") from None
    if not isinstance(data, dict):
        raise ProviderError(ErrorKind.MALFORMED, "the body is not a JSON object")
    return data
