"""The wire formats a model is asked in, one module each behind `Wire`: OpenAI chat completions,
OpenAI-style completions with a suffix (or the model's template), llama.cpp's /infill, Ollama's
/api/generate and Mistral's /v1/fim/completions. `wire_for` picks one from `model.api`
(`auto`: from the URL, then the model's name)."""

from __future__ import annotations

from urllib.parse import urlsplit

from sandgate.provider.wire.base import Wire, path_of
from sandgate.provider.wire.fim_templates import TEMPLATES, FimTemplate, template_for
from sandgate.provider.wire.framing import LineStream
from sandgate.provider.wire.llamacpp import LlamaCppInfillWire
from sandgate.provider.wire.ollama import OllamaWire
from sandgate.provider.wire.openai import ChatWire, CompletionsWire, MistralFimWire
from sandgate.provider.wire.reply import ChatResponse, Collector, ModelRequest, error_text

API_CHOICES = ("auto", "chat", "completions", "llamacpp-infill", "ollama", "mistral-fim")
TEMPLATE_CHOICES = ("auto", "suffix", *TEMPLATES)
OLLAMA_PORT = 11434

# An endpoint path names its format, whatever the model.
_BY_PATH = (
    ("/chat/completions", "chat"),
    ("/fim/completions", "mistral-fim"),
    ("/completions", "completions"),
    ("/infill", "llamacpp-infill"),
    ("/api/generate", "ollama"),
)


def detect_api(base_url: str, model: str) -> str:
    """`model.api = auto`: the endpoint's path when it names a format; else, for a model known to
    fill in the middle, the format its usual server speaks (Mistral's API, Ollama on its port,
    /v1/completions elsewhere); else chat."""
    path = path_of(base_url)
    for tail, api in _BY_PATH:
        if path.endswith(tail):
            return api
    if path.endswith("/api"):
        return "ollama"
    if template_for(model) is None:
        return "chat"
    try:
        parts = urlsplit(base_url)
        host, port = (parts.hostname or "").lower(), parts.port
    except ValueError:
        return "chat"
    if host == "mistral.ai" or host.endswith(".mistral.ai"):
        return "mistral-fim"
    if port == OLLAMA_PORT:
        return "ollama"
    return "completions"


def fim_template(choice: str, model: str) -> FimTemplate | None:
    """The template /v1/completions sends: None means the server takes `suffix` itself."""
    if choice == "suffix":
        return None
    if choice == "auto":
        return template_for(model)
    return TEMPLATES[choice]


def wire_for(api: str, *, template: FimTemplate | None = None) -> Wire:
    if api == "completions":
        return CompletionsWire(template)
    wires: dict[str, type[Wire]] = {
        "chat": ChatWire,
        "llamacpp-infill": LlamaCppInfillWire,
        "ollama": OllamaWire,
        "mistral-fim": MistralFimWire,
    }
    return wires[api]()


__all__ = [
    "API_CHOICES",
    "TEMPLATE_CHOICES",
    "ChatResponse",
    "ChatWire",
    "Collector",
    "FimTemplate",
    "LineStream",
    "ModelRequest",
    "Wire",
    "detect_api",
    "error_text",
    "fim_template",
    "template_for",
    "wire_for",
]
