"""Provider configuration: editor settings (section `sandgate`) first, then the environment.

Settings may arrive nested (`{"model": {"baseUrl": ...}}`, as VS Code sends them) or dotted
(`{"model.baseUrl": ...}`); both are read. Bad values are reported and defaults used.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sandgate.provider.wire import API_CHOICES, TEMPLATE_CHOICES, Wire, detect_api, fim_template, wire_for

HOW_TO_CONFIGURE = (
    "Sandgate: no model provider is configured, so no inline suggestions are made. "
    "Set `sandgate.model.baseUrl` and `sandgate.model.name` in the settings (or the environment "
    "variables OPENAI_BASE_URL and SANDGATE_MODEL), and OPENAI_API_KEY in the environment the "
    "editor starts from if the endpoint needs a key. Diagnostics keep working without a model."
)


@dataclass(frozen=True)
class ProviderConfig:
    base_url: str
    model: str
    api_key: str | None = field(default=None, repr=False)
    candidates: int = 1
    stream: bool = True
    timeout_s: float = 30.0
    connect_timeout_s: float = 5.0
    max_retries: int = 2
    backoff_s: float = 0.5
    max_backoff_s: float = 8.0
    max_response_bytes: int = 1_000_000
    max_tokens: int = 512
    temperature: float = 0.2
    # The wire format inline requests use (`model.api`): one of API_CHOICES; `auto` detects it.
    api: str = "auto"
    # What /v1/completions sends for the suffix (`model.fimTemplate`): `auto`, `suffix` or a template name.
    fim_template: str = "auto"
    # How much of an error response is read for its message.
    max_error_bytes: int = 65_536

    @property
    def api_in_use(self) -> str:
        return detect_api(self.base_url, self.model) if self.api == "auto" else self.api

    def wire(self) -> Wire:
        """The wire format of inline requests."""
        return wire_for(self.api_in_use, template=fim_template(self.fim_template, self.model))

    @property
    def request_url(self) -> str:
        """Where inline requests go."""
        return self.wire().url(self.base_url)

    @property
    def chat_url(self) -> str:
        """Where chat requests go ("Fix with AI", and inline requests when the format is chat)."""
        return self.wire().chat_url(self.base_url)

    @property
    def urls(self) -> tuple[str, ...]:
        """Every URL a request may go to: the endpoint policy must allow each."""
        return tuple(dict.fromkeys((self.request_url, self.chat_url)))


def setting(settings: Mapping[str, Any] | None, dotted: str, default: Any = None) -> Any:
    """Read `a.b.c` from nested or flat settings; `default` when absent or null."""
    if not isinstance(settings, Mapping):
        return default
    if dotted in settings and settings[dotted] is not None:
        return settings[dotted]
    node: Any = settings
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return default
        node = node[part]
    return default if node is None else node


def number_setting(value: Any, kind: type, low: float, high: float, default: Any, name: str, problems: list[str]):
    """`value` as a `kind` within [low, high]; `default` (and a problem said) otherwise."""
    if value is None:
        return default
    try:
        if isinstance(value, bool):
            raise ValueError
        number = kind(value)
    except (TypeError, ValueError):
        problems.append(f"`sandgate.{name}` must be a number; using {default}")
        return default
    if not low <= number <= high:
        problems.append(f"`sandgate.{name}` must be between {low} and {high}; using {default}")
        return default
    return number


def _choice(settings: Mapping[str, Any] | None, name: str, choices: tuple[str, ...], default: str, problems: list[str]):
    value = setting(settings, name, default)
    if value not in choices:
        problems.append(f"`sandgate.{name}` must be one of {', '.join(choices)}, not {value!r}; using {default}")
        return default
    return value


def provider_config(
    settings: Mapping[str, Any] | None, env: Mapping[str, str] | None = None
) -> tuple[ProviderConfig | None, list[str]]:
    """The provider configuration, or None when no endpoint or model is known; plus problems."""
    env = os.environ if env is None else env
    problems: list[str] = []

    def text(name: str, env_name: str | None) -> str | None:
        value = setting(settings, name)
        if value is not None and not isinstance(value, str):
            problems.append(f"`sandgate.{name}` must be a string; ignored")
            value = None
        value = (value or "").strip() or (env.get(env_name, "").strip() if env_name else "")
        return value or None

    base_url = text("model.baseUrl", "OPENAI_BASE_URL")
    model = text("model.name", "SANDGATE_MODEL")
    api_key = env.get("OPENAI_API_KEY", "").strip() or None
    candidates = number_setting(setting(settings, "model.candidates"), int, 1, 8, 1, "model.candidates", problems)
    stream = setting(settings, "model.stream", True)
    if not isinstance(stream, bool):
        problems.append("`sandgate.model.stream` must be true or false; using true")
        stream = True
    timeout = number_setting(
        setting(settings, "model.timeoutSeconds"), float, 0.1, 600, 30.0, "model.timeoutSeconds", problems
    )
    retries = number_setting(setting(settings, "model.retries"), int, 0, 5, 2, "model.retries", problems)
    api = _choice(settings, "model.api", API_CHOICES, "auto", problems)
    template = _choice(settings, "model.fimTemplate", TEMPLATE_CHOICES, "auto", problems)
    if base_url and not base_url.startswith(("http://", "https://")):
        problems.append(f"`sandgate.model.baseUrl` must be an http(s) URL, not {base_url!r}")
        base_url = None
    if not base_url or not model:
        return None, problems
    return (
        ProviderConfig(
            base_url=base_url,
            model=model,
            api_key=api_key,
            candidates=candidates,
            stream=stream,
            timeout_s=timeout,
            max_retries=retries,
            api=api,
            fim_template=template,
        ),
        problems,
    )
