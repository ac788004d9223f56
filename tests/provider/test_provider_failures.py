"""Failures named for what they are, against the loopback server: one kind and one message each,
the key hint wherever the provider says the key is wrong, error bodies read under a cap, and one
deadline over every attempt and back-off."""

from __future__ import annotations

import asyncio
import time

import pytest

from sandgate.provider import ChatClient, ErrorKind, ProviderConfig, ProviderError

MESSAGES = [{"role": "user", "content": "def add(a, b):"}]


def make_client(server, **overrides) -> ChatClient:
    values = dict(base_url=server.base_url, model="fake-model", timeout_s=2.0, backoff_s=0.01, max_retries=1)
    values.update(overrides)
    return ChatClient(ProviderConfig(**values))


async def fail_with(server, script, **overrides) -> ProviderError:
    server.set_script({"*": script})
    client = make_client(server, **overrides)
    try:
        with pytest.raises(ProviderError) as info:
            await client.complete(MESSAGES)
    finally:
        await client.aclose()
    return info.value


async def test_redirect_is_named_and_not_followed(model):
    err = await fail_with(model, {"fail": "redirect"})
    assert err.kind is ErrorKind.REDIRECTED and err.status == 307
    assert "http://elsewhere.invalid/v1" in err.user_message and "sandgate.model.baseUrl" in err.user_message
    assert len(model.requests) == 1


async def test_endless_error_body_is_read_only_up_to_the_cap(model):
    started = time.monotonic()
    err = await fail_with(model, {"fail": "endless-500"}, max_retries=0, timeout_s=5.0)
    # Not a time-out: the client stopped reading after the cap instead of waiting for the end.
    assert err.kind is ErrorKind.SERVER_ERROR and err.status == 500
    assert time.monotonic() - started < 2.0


async def test_a_key_refused_with_400_gets_the_key_hint(model):
    """LiteLLM answers a bad key with 400 and says so in words."""
    err = await fail_with(model, {"fail": "key-400"})
    assert err.kind is ErrorKind.AUTH and err.status == 400
    assert "check OPENAI_API_KEY" in err.user_message
    assert len(model.requests) == 1


async def test_one_full_stop_after_the_providers_message(model):
    err = await fail_with(model, {"fail": "period"})
    assert err.kind is ErrorKind.CLIENT_ERROR
    assert ".." not in err.user_message and err.user_message.endswith(".")
    assert "do not have access to it" in err.user_message


async def test_a_stream_cut_mid_event_is_a_connection_failure_and_retried(model):
    model.set_script({"*": {"fail": "cut", "times": 1, "completion": "x = 1"}})
    client = make_client(model, stream=True)
    try:
        assert await client.complete(MESSAGES) == ["x = 1"]
    finally:
        await client.aclose()
    assert len(model.requests) == 2
    err = await fail_with(model, {"fail": "cut"}, stream=True, max_retries=0)
    assert err.kind is ErrorKind.CONNECTION and "cut in the middle of an event" in err.user_message


async def test_the_deadline_bounds_a_model_that_never_answers(model):
    model.set_script({"*": {"delay": 10, "completion": "late"}})
    client = make_client(model, timeout_s=30.0, max_retries=2)
    loop = asyncio.get_running_loop()
    started = time.monotonic()
    try:
        with pytest.raises(ProviderError) as info:
            await client.chat(MESSAGES, deadline=loop.time() + 0.5)
    finally:
        await client.aclose()
    assert info.value.kind is ErrorKind.TIMEOUT
    assert 0.4 < time.monotonic() - started < 1.0
    assert len(model.requests) == 1


async def test_no_back_off_past_the_deadline(model):
    """Retry-After: 29 would cost half a minute: with 0.5 s left, the 429 is the answer."""
    model.set_script({"*": {"fail": "429", "retry_after": 29}})
    client = make_client(model, max_retries=2)
    loop = asyncio.get_running_loop()
    started = time.monotonic()
    try:
        with pytest.raises(ProviderError) as info:
            await client.chat(MESSAGES, deadline=loop.time() + 0.5)
    finally:
        await client.aclose()
    assert info.value.kind is ErrorKind.RATE_LIMITED
    assert time.monotonic() - started < 0.4 and len(model.requests) == 1


async def test_retries_fit_inside_the_deadline(model):
    model.set_script({"*": {"fail": "500", "times": 1, "completion": "ok"}})
    client = make_client(model, max_retries=2, backoff_s=0.05)
    loop = asyncio.get_running_loop()
    try:
        assert await client.complete(MESSAGES) == ["ok"]
        model.set_script({"*": {"fail": "500", "times": 1, "completion": "ok"}})
        reply = await client.chat(MESSAGES, deadline=loop.time() + 2.0)
    finally:
        await client.aclose()
    assert reply.texts == ["ok"] and len(model.requests) == 2
