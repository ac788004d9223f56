"""Editor settings (section `sandgate`) as a defaulted dataclass; bad values reported, defaults used."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sandgate.policy.model import UNVETTED_CHOICES
from sandgate.policy.resources import PRESETS
from sandgate.provider.config import ProviderConfig, number_setting, provider_config, setting

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
    # One deadline per inline request (model, retries and vet); "Fix with AI" has its own.
    inline_deadline_s: float = 5.0
    fix_deadline_s: float = 60.0
    # A candidate longer than this is cut to whole lines within both.
    max_candidate_lines: int = 50
    max_candidate_bytes: int = 8192
    # A document larger than this (bytes, UTF-8) is neither checked nor completed.
    max_document_bytes: int = 1_000_000


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

    def number(name: str, kind: type, low: float, high: float, default: Any) -> Any:
        return number_setting(setting(settings, name), kind, low, high, default, name, problems)

    limits = dict(
        inline_deadline_s=number("inline.deadlineSeconds", float, 0.2, 120, 5.0),
        fix_deadline_s=number("fix.deadlineSeconds", float, 1, 600, 60.0),
        max_candidate_lines=number("inline.maxLines", int, 1, 1000, 50),
        max_candidate_bytes=number("inline.maxBytes", int, 64, 1_000_000, 8192),
        max_document_bytes=number("documents.maxBytes", int, 10_000, 100_000_000, 1_000_000),
    )
    provider, provider_problems = provider_config(settings, env)
    problems.extend(provider_problems)
    return Settings(preset, backend, inline, endpoint or None, provider, tuple(problems), unvetted, **limits)
