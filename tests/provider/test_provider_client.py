"""The chat-completions client against a real HTTP server on loopback."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sandgate.provider import ChatClient, ErrorKind, ProviderError, completion_messages, provider_config
from sandgate.provider.client import backoff_delay, parse_retry_after
from sandgate.provider.config import ProviderConfig
from sandgate.provider.prompt import CompletionContext, clean_candidate, strip_fences

CTX = CompletionContext(
    before="def add(a, b):\n    ", after="\n\nprint(add(1, 2))\n", language="python", path="pkg/calc.py"
)


def make_client(server, **overrides) -> ChatClient:
    values = dict(base_url=server.base_url, model="fake-model", timeout_s=2.0, backoff_s=0.01, max_retries=2)
    values.update(overrides)
    return ChatClient(ProviderConfig(**values))


@pytest.mark.parametrize("stream", [False, True])
async def test_candidates_streamed_and_not(model, stream):
    model.set_script({"def add": ["return a + b", "return b + a", "return sum((a, b))"]})
    client = make_client(model, stream=stream)
    try:
        answers = await client.complete(completion_messages(CTX), n=2)
    finally:
        await client.aclose()
    assert answers == ["return a + b", "return b + a"]
    (request,) = model.requests
    assert request["n"] == 2 and request["stream"] is stream and request["model"] == "fake-model"


@pytest.mark.parametrize("stream", [False, True])
async def test_calls_reuse_one_connection(model, stream):
    # A new connection per completion is a TCP (and, to a hosted model, TLS) handshake more on
    # every suggestion: a streamed answer is read to its end, so the connection carries the next.
    model.set_script({"*": "return a + b"})
    client = make_client(model, stream=stream)
    try:
        for _ in range(3):
            assert await client.complete(completion_messages(CTX)) == ["return a + b"]
    finally:
        await client.aclose()
    assert len(model.requests) == 3
    assert model.connections == 1


async def test_a_stream_held_open_after_its_last_event_still_answers_at_once():
    # Reading a stream to its end must never wait on a server that keeps it open: the answer is
    # complete at [DONE]; only the connection is given up.
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        event = {"choices": [{"index": 0, "delta": {"content": "return a + b"}, "finish_reason": "stop"}]}
        body = b"data: " + json.dumps(event).encode() + b"\n\ndata: [DONE]\n\n"
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
            + f"{len(body):x}\r\n".encode()
            + body
            + b"\r\n"
        )
        await writer.drain()
        await asyncio.sleep(5)  # never the final chunk
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = ChatClient(ProviderConfig(base_url=f"http://127.0.0.1:{port}/v1", model="m", stream=True, timeout_s=3.0))
    try:
        started = time.monotonic()
        answers = await client.complete(completion_messages(CTX))
        took = time.monotonic() - started
    finally:
        await client.aclose()
        server.close()
    assert answers == ["return a + b"]
    assert took < 1.0, f"waited {took:.2f}s for a stream the server held open"


async def test_prompt_carries_context_language_and_path(model):
    model.set_script({"*": "x"})
    client = make_client(model)
    try:
        await client.complete(completion_messages(CTX))
    finally:
        await client.aclose()
    user = model.requests[0]["messages"][-1]["content"]
    assert "def add(a, b):\n    <CURSOR>\n\nprint(add(1, 2))" in user
    assert "Language: python" in user and "File: pkg/calc.py" in user


async def test_api_key_sent_as_bearer():
    from openai_server import OpenAIServer

    with OpenAIServer({"*": "ok"}, api_key="sk-test") as server:
        good = make_client(server, api_key="sk-test")
        bad = make_client(server, api_key="sk-wrong")
        try:
            assert await good.complete(completion_messages(CTX)) == ["ok"]
            with pytest.raises(ProviderError) as info:
                await bad.complete(completion_messages(CTX))
        finally:
            await good.aclose()
            await bad.aclose()
    assert info.value.kind is ErrorKind.AUTH and info.value.status == 401
    assert "OPENAI_API_KEY" in info.value.user_message


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(
    "fail,kind",
    [
        ("timeout", ErrorKind.TIMEOUT),
        ("429", ErrorKind.RATE_LIMITED),
        ("500", ErrorKind.SERVER_ERROR),
        ("malformed", ErrorKind.MALFORMED),
        ("oversized", ErrorKind.TOO_LARGE),
        ("disconnect", ErrorKind.CONNECTION),
    ],
)
async def test_failures_are_typed(model, fail, kind, stream):
    model.set_script({"*": {"fail": fail, "delay": 1.0 if fail == "timeout" else 0, "completion": "return a + b"}})
    client = make_client(model, stream=stream, timeout_s=0.3, max_retries=1, max_response_bytes=100_000)
    try:
        with pytest.raises(ProviderError) as info:
            await client.complete(completion_messages(CTX))
    finally:
        await client.aclose()
    assert info.value.kind is kind
    retried = kind in {ErrorKind.TIMEOUT, ErrorKind.RATE_LIMITED, ErrorKind.SERVER_ERROR, ErrorKind.CONNECTION}
    assert len(model.requests) == (2 if retried else 1)
    assert info.value.user_message.endswith(".") and len(info.value.user_message) > 20


@pytest.mark.parametrize("fail", ["429", "500", "disconnect"])
async def test_retry_then_success(model, fail):
    model.set_script({"*": {"fail": fail, "times": 2, "retry_after": 0, "completion": "return a + b"}})
    client = make_client(model, max_retries=2)
    try:
        assert await client.complete(completion_messages(CTX)) == ["return a + b"]
    finally:
        await client.aclose()
    assert len(model.requests) == 3


async def test_retry_after_is_honoured(model):
    model.set_script({"*": {"fail": "429", "times": 1, "retry_after": 0.6, "completion": "ok"}})
    client = make_client(model, backoff_s=0.01)
    started = time.monotonic()
    try:
        assert await client.complete(completion_messages(CTX)) == ["ok"]
    finally:
        await client.aclose()
    assert time.monotonic() - started >= 0.55


async def test_overlong_retry_after_is_not_waited_for(model):
    model.set_script({"*": {"fail": "429", "retry_after": 3600}})
    client = make_client(model)
    started = time.monotonic()
    try:
        with pytest.raises(ProviderError) as info:
            await client.complete(completion_messages(CTX))
    finally:
        await client.aclose()
    assert info.value.kind is ErrorKind.RATE_LIMITED and time.monotonic() - started < 1.5
    assert len(model.requests) == 1


async def test_cancellation_closes_the_request(model):
    model.set_script({"*": {"delay": 5, "completion": "late"}})
    client = make_client(model, timeout_s=10)
    task = asyncio.create_task(client.complete(completion_messages(CTX)))
    await asyncio.sleep(0.3)
    started = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - started < 0.5
    await client.aclose()


async def test_connection_refused_is_typed():
    client = ChatClient(ProviderConfig(base_url="http://127.0.0.1:9/v1", model="m", max_retries=0))
    try:
        with pytest.raises(ProviderError) as info:
            await client.complete(completion_messages(CTX))
    finally:
        await client.aclose()
    assert info.value.kind is ErrorKind.CONNECTION


def test_fences_stripped():
    assert strip_fences("```python\nreturn a + b\n```") == "return a + b"
    assert strip_fences("Sure! Here it is:\n```py\nx = 1\ny = 2\n```\nHope this helps.") == "x = 1\ny = 2"
    assert strip_fences("~~~\nx = 1\n~~~") == "x = 1"
    assert strip_fences("x = 1") == "x = 1"
    assert clean_candidate("```python\nreturn a + b\n```\n") == "return a + b"


def test_retry_after_and_backoff():
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after("garbage") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    delays = [backoff_delay(n, 0.5, 8.0) for n in (1, 2, 3, 10)]
    assert 0.4 <= delays[0] <= 0.6 and 0.8 <= delays[1] <= 1.2 and 1.6 <= delays[2] <= 2.4 and delays[3] <= 9.6
    assert backoff_delay(1, 0.5, 8.0, retry_after=3.0) == 3.0


def test_config_settings_then_environment():
    env = {"OPENAI_BASE_URL": "http://env:1/v1", "SANDGATE_MODEL": "env-model", "OPENAI_API_KEY": "sk-env"}
    config, problems = provider_config({"model": {"baseUrl": "http://set:2/v1", "candidates": 3}}, env)
    assert (config.base_url, config.model, config.api_key, config.candidates) == (
        "http://set:2/v1",
        "env-model",
        "sk-env",
        3,
    )
    assert problems == []
    config, problems = provider_config({"model.name": "flat", "model.candidates": "lots"}, env)
    assert config.model == "flat" and config.candidates == 1 and "model.candidates" in problems[0]
    assert provider_config({}, {}) == (None, [])
    config, problems = provider_config({"model": {"baseUrl": "ftp://x", "name": "m"}}, {})
    assert config is None and "http(s)" in problems[0]
    assert config is None


def test_cli_serves_a_script(tmp_path: Path):
    script = tmp_path / "script.json"
    script.write_text(json.dumps({"hello": "world", "*": ["a", "b"]}))
    cli = Path(__file__).resolve().parents[1] / "support" / "openai_server.py"
    proc = subprocess.Popen(
        [sys.executable, str(cli), "--port", "0", "--script", str(script)], stdout=subprocess.PIPE, text=True
    )
    try:
        line = proc.stdout.readline().strip()
        assert line.startswith("listening on http://127.0.0.1:")
        base = line.split()[-1]

        async def ask():
            client = ChatClient(ProviderConfig(base_url=base, model="m"))
            try:
                first = await client.complete([{"role": "user", "content": "say hello"}])
                second = await client.complete([{"role": "user", "content": "other"}], n=2, stream=True)
                return first, second
            finally:
                await client.aclose()

        assert asyncio.run(ask()) == (["world"], ["a", "b"])
    finally:
        proc.terminate()
        assert proc.wait(timeout=5) == 0
