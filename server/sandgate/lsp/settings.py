"""Editor settings (section `sandgate`) as a defaulted dataclass; bad values reported, defaults used."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sandgate.policy.model import UNVETTED_CHOICES
from sandgate.policy.resources import PRESETS
from sandgate.provider.config import ProviderConfig, provider_config, setting

BACKEND_CHOICES = ("auto", "docker", "bwrap")


@dataclass(frozen=True)
class Settings:
    preset: str | None = None  # None: the workspace policy's choice, else the default preset
    backend: str = "auto"
    inline_enabled: bool = True
    telemetry_endpoint: str | None = None
    provider: ProviderConfig | None = None
    problems: tuple[str, ...] = field(default=())
    # languages.unvetted as the user chose it (None: the policy's); a workspace file may not say "allow".
    unvetted: str | None = None


def read_settings(raw: Any, env: Mapping[str, str] | None = None) -> Settings:
    settings = raw if isinstance(raw, Mapping) else {}
    problems: list[str] = []
    if raw is not None and not isinstance(raw, Mapping):
        problems.append("the `sandgate` settings are not an object; defaults apply")

    preset = setting(settings, "policy.preset")
    if preset is not None and preset not in PRESETS:
        problems.append(
            f"`sandgate.policy.preset` must be one of {', '.join(PRESETS)}, not {preset!r}; using the default"
        )
        preset = None
    backend = setting(settings, "sandbox.backend", "auto")
    if backend not in BACKEND_CHOICES:
        problems.append(
            f"`sandgate.sandbox.backend` must be one of {', '.join(BACKEND_CHOICES)}, not {backend!r}; using auto"
        )
        backend = "auto"
    inline = setting(settings, "inline.enabled", True)
    if not isinstance(inline, bool):
        problems.append("`sandgate.inline.enabled` must be true or false; using true")
        inline = True
    endpoint = setting(settings, "telemetry.endpoint")
    if endpoint is not None and not isinstance(endpoint, str):
        problems.append("`sandgate.telemetry.endpoint` must be a string; ignored")
        endpoint = None
    unvetted = setting(settings, "languages.unvetted")
    if unvetted is not None and unvetted not in UNVETTED_CHOICES:
        problems.append(
            f"`sandgate.languages.unvetted` must be one of {', '.join(UNVETTED_CHOICES)}, "
            f"not {unvetted!r}; the policy's choice applies"
        )
        unvetted = None
    provider, provider_problems = provider_config(settings, env)
    problems.extend(provider_problems)
    return Settings(preset, backend, inline, endpoint or None, provider, tuple(problems), unvetted)
