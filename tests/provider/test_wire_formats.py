"""Each wire format against the loopback model server speaking it (tests/support/openai_server.py):
the path and body sent, the reply read streamed and not, usage and finish reasons, and
`model.api = auto` choosing the format from the URL and the model's name."""

from __future__ import annotations

import pytest

from sandgate.provider import ChatClient, ProviderConfig, provider_config
from sandgate.provider.wire import detect_api, fim_template, template_for

PREFIX = "def add(a, b):\n    "
SUFFIX = "\n\nprint(add(1, 2))\n"

# format → (the path the request goes to, from base URL `.../v1`; the key of the prefix; of the suffix)
FORMATS = {
    "completions": ("/v1/completions", "prompt", "suffix"),
    "mistral-fim": ("/v1/fim/completions", "prompt", "suffix"),
    "llamacpp-infill": ("/infill", "input_prefix", "input_suffix"),
    "ollama": ("/api/generate", "prompt", "suffix"),
}


def make_client(server, api: str, **overrides) -> ChatClient:
    values = dict(base_url=server.base_url, model="some-model", timeout_s=2.0, backoff_s=0.01, max_retries=1, api=api)
    values.update(overrides)
    return ChatClient(ProviderConfig(**values))


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("api", list(FORMATS))
async def test_fill_in_the_middle_formats(model, api, stream):
    path, prefix_key, suffix_key = FORMATS[api]
    model.set_script({"def add(a, b)": "return a + b"})
    client = make_client(model, api, stream=stream, fim_template="suffix")
    try:
        reply = await client.ask(client.request(prefix=PREFIX, suffix=SUFFIX, stop=("\n",)))
    finally:
        await client.aclose()
    assert reply.texts == ["return a + b"]
    assert reply.finish_reasons == ("stop",)
    if not stream or api in ("llamacpp-infill", "ollama"):  # OpenAI streams carry usage only when asked
        assert reply.input_tokens is not None and reply.output_tokens is not None
    (body,) = model.requests
    assert model.paths == [path]
    assert body[prefix_key] == PREFIX and body[suffix_key] == SUFFIX
    assert body["stream"] is stream
    stops = body.get("stop", body.get("options", {}).get("stop"))
    assert stops == ["\n"]
    assert "messages" not in body


async def test_completions_with_the_models_template(model):
    """vLLM's /v1/completions takes no suffix: the model's own FIM tokens go in the prompt."""
    model.set_script({"<|fim_prefix|>def add": "return a + b"})
    client = make_client(model, "completions", model="Qwen/Qwen2.5-Coder-7B")
    try:
        reply = await client.ask(client.request(prefix=PREFIX, suffix=SUFFIX))
    finally:
        await client.aclose()
    assert reply.texts == ["return a + b"]
    (body,) = model.requests
    assert body["prompt"] == f"<|fim_prefix|>{PREFIX}<|fim_suffix|>{SUFFIX}<|fim_middle|>"
    assert "suffix" not in body
    assert "<|endoftext|>" in body["stop"] and len(body["stop"]) <= 4


async def test_braces_in_code_survive_the_template(model):
    template = template_for("deepseek-coder-6.7b")
    assert template is not None
    text = template.render("x = {'a': 1}  # {suffix} {prefix}", "y = f'{x}'")
    assert text == "<｜fim▁begin｜>x = {'a': 1}  # {suffix} {prefix}<｜fim▁hole｜>y = f'{x}'<｜fim▁end｜>"


async def test_several_candidates_where_the_format_has_no_n(model):
    model.set_script({"def add": "return a + b"})
    client = make_client(model, "ollama", candidates=3)
    try:
        reply = await client.ask(client.request(prefix=PREFIX, suffix=SUFFIX))
    finally:
        await client.aclose()
    assert reply.texts == ["return a + b"] * 3
    assert len(model.requests) == 3 and all("n" not in body for body in model.requests)


async def test_fix_prompts_go_to_the_chat_endpoint_of_a_fim_server(model):
    model.set_script({"*": "fixed"})
    client = make_client(model, "llamacpp-infill", base_url=model.base_url.removesuffix("/v1"))
    try:
        assert await client.complete([{"role": "user", "content": "fix this"}]) == ["fixed"]
    finally:
        await client.aclose()
    assert model.paths == ["/v1/chat/completions"]


@pytest.mark.parametrize(
    "base_url,model_name,api",
    [
        ("http://127.0.0.1:8000/v1", "gpt-4.1-mini", "chat"),
        ("http://127.0.0.1:8000/v1/chat/completions", "qwen2.5-coder:7b", "chat"),
        ("http://127.0.0.1:8000/v1", "Qwen/Qwen2.5-Coder-7B-Instruct", "completions"),
        ("http://127.0.0.1:8000/v1/completions", "any", "completions"),
        ("http://localhost:11434", "qwen2.5-coder:1.5b-base", "ollama"),
        ("http://localhost:11434/v1", "llama3.1", "chat"),
        ("http://127.0.0.1:8080/infill", "any", "llamacpp-infill"),
        ("https://codestral.mistral.ai/v1", "codestral-latest", "mistral-fim"),
        ("https://api.mistral.ai/v1/fim/completions", "codestral-latest", "mistral-fim"),
        ("http://127.0.0.1:11434/api/generate", "starcoder2:3b", "ollama"),
    ],
)
def test_auto_detection(base_url, model_name, api):
    assert detect_api(base_url, model_name) == api


@pytest.mark.parametrize(
    "api,base_url,url",
    [
        ("chat", "http://h/v1", "http://h/v1/chat/completions"),
        ("completions", "http://h/v1/", "http://h/v1/completions"),
        ("mistral-fim", "https://api.mistral.ai/v1", "https://api.mistral.ai/v1/fim/completions"),
        ("llamacpp-infill", "http://h:8080/v1", "http://h:8080/infill"),
        ("llamacpp-infill", "http://h:8080", "http://h:8080/infill"),
        ("ollama", "http://h:11434/v1", "http://h:11434/api/generate"),
        ("ollama", "http://h:11434/api/generate", "http://h:11434/api/generate"),
    ],
)
def test_request_urls(api, base_url, url):
    assert ProviderConfig(base_url=base_url, model="m", api=api).request_url == url


def test_settings_choose_the_format_and_refuse_unknown_ones():
    config, problems = provider_config(
        {"model": {"baseUrl": "http://h/v1", "name": "m", "api": "ollama", "fimTemplate": "starcoder"}}, env={}
    )
    assert config is not None and problems == []
    assert config.api_in_use == "ollama" and fim_template(config.fim_template, "m") == template_for("starcoder2")
    config, problems = provider_config({"model": {"baseUrl": "http://h/v1", "name": "m", "api": "anthropic"}}, env={})
    assert config is not None and config.api == "auto"
    assert problems == [
        "`sandgate.model.api` must be one of auto, chat, completions, llamacpp-infill, ollama, mistral-fim, "
        "not 'anthropic'; using auto"
    ]
