"""What the server vets with: the policy in force, the vetter, the provider client.

Built from the workspace, the trust flag and the settings; rebuilt when any of them changes.
Everything blocking here (loading the policy, probing a backend) runs in a worker thread.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pygls.uris import to_fs_path

from sandgate.lsp.caches import TtlCache
from sandgate.lsp.settings import Settings
from sandgate.pipeline import Vetter
from sandgate.policy.load import WORKSPACE_POLICY, LoadedPolicy, load_effective
from sandgate.provider import ChatClient
from sandgate.provider.config import ProviderConfig
from sandgate.provider.guard import endpoint_allowed
from sandgate.telemetry import DISABLED, Telemetry, names

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    loaded: LoadedPolicy
    vetter: Vetter
    settings: Settings
    provider: ChatClient | None
    # Why the provider is not used although configured (policy refuses the endpoint).
    provider_refused: str | None = None
    fail_closed: list[str] = field(default_factory=list)
    # Replies to inline requests and vets of candidates, for an identical re-ask (lsp/caches.py).
    replies: TtlCache = field(default_factory=lambda: TtlCache(size=32, ttl_s=30.0))
    vets: TtlCache = field(default_factory=lambda: TtlCache(size=128, ttl_s=120.0))

    @property
    def digest(self) -> str:
        return self.loaded.digest


def policy_file(workspace: Path | None) -> Path | None:
    return workspace / WORKSPACE_POLICY if workspace else None


def is_policy_uri(uri: str, workspace: Path | None) -> bool:
    """Whether a document is the workspace's policy file."""
    target = policy_file(workspace)
    path = to_fs_path(uri)
    if not target or not path:
        return False
    try:
        return Path(path).resolve() == target.resolve()
    except OSError:
        return False


MANAGED_SOURCE_PREFIX = "managed:"


def endpoint_decision(config: ProviderConfig, loaded: LoadedPolicy) -> tuple[bool, str]:
    """Whether the policy lets requests go to the provider's endpoint, and the sentence naming
    the rule. `managed` when the managed policy set `network.model_endpoints` (it pinned them)."""
    managed = loaded.sources.get("network.model_endpoints", "").startswith(MANAGED_SOURCE_PREFIX)
    network = loaded.policy.network
    base_ok, base_message = endpoint_allowed(config.base_url, network, managed=managed)
    base = config.base_url.rstrip("/") + "/"
    # Every URL a request goes to must be allowed: by a pattern of its own, or by lying under the
    # allowed base URL (llama.cpp's /infill and Ollama's /api/generate sit at the server's root,
    # outside a `/v1` base, so they need a pattern that covers them).
    said = base_message
    for url in config.urls:
        if base_ok and url.startswith(base):
            continue
        ok, message = endpoint_allowed(url, network, managed=managed)
        if not ok:
            return False, message if base_ok else base_message
        said = said if base_ok else message
    return True, said


def build_runtime(
    workspace: Path | None, trusted: bool, settings: Settings, telemetry: Telemetry = DISABLED
) -> Runtime:
    """Blocking: call from a worker thread. The vetter reports to `telemetry` (and sets its
    `export_content` from this policy)."""
    choices = {"languages": {"unvetted": settings.unvetted}} if settings.unvetted and trusted else None
    loaded = load_effective(
        workspace, preset=None if not trusted else settings.preset, trusted=trusted, user_choices=choices
    )
    vetter = Vetter(loaded, backend=settings.backend, workspace=workspace if trusted else None, telemetry=telemetry)
    fail_closed: list[str] = []
    for error in loaded.errors:
        fail_closed.append(f"policy error, the strict preset applies: {error}")
    for refusal in loaded.refusals:
        fail_closed.append(f"policy value refused: {refusal}")
    provider = None
    refused = None
    config = settings.provider
    if config is not None:
        allowed, message = endpoint_decision(config, loaded)
        if not allowed:
            refused = f"{message}; no inline suggestions"
            fail_closed.append(refused)
        else:
            provider = ChatClient(config)
    return Runtime(loaded, vetter, settings, provider, refused, fail_closed)


def probe_backend(runtime: Runtime) -> str | None:
    """Open the sandbox backend and start its warm pool now (so the first vet is not a cold one); a
    reason when no backend runs."""
    try:
        backend, probes = runtime.vetter.backend()
    except Exception as exc:  # a broken backend module must not take the server down
        log.exception("sandbox probe failed")
        return f"the sandbox could not be probed: {exc}"
    if backend is None:
        why = "; ".join(f"{p.name}: {p.detail}" for p in probes) or "no backend allowed"
        return f"no sandbox backend runs here ({why}); suggestions are held for review"
    try:
        runtime.vetter.warm()
    except Exception:  # warming is an optimisation: a failure here shows up on the first run
        log.exception("warming the sandbox pool failed")
    return None


def _layer_source(name: str) -> str:
    """A layer's name as telemetry's `sandgate.policy.source`: preset, workspace, managed or file."""
    return name.split(":", 1)[0]


def _shown_path(path: str | None, workspace: Path | None) -> str | None:
    """Workspace-relative when inside the workspace (no home directories in telemetry)."""
    if not path or workspace is None:
        return path
    try:
        return Path(path).resolve().relative_to(workspace).as_posix()
    except (ValueError, OSError):
        return path


def _error_text(error) -> str:
    where = f"line {error.line}: " if error.line else ""
    return where + (f"{error.key}: " if error.key else "") + error.message


def policy_events(loaded: LoadedPolicy, workspace: Path | None) -> list[tuple[str, dict[str, Any]]]:
    """The telemetry events of one policy load, pure: `policy.loaded` (digest, the strongest
    layer's source and path, the preset) and one `policy.error` per error."""
    top = loaded.layers[-1] if loaded.layers else None
    events: list[tuple[str, dict[str, Any]]] = [
        (
            names.EVENT_POLICY_LOADED,
            {
                "digest": loaded.digest,
                "source": _layer_source(top.name) if top else "default",
                "path": _shown_path(top.path, workspace) if top and not top.name.startswith("preset:") else None,
                "preset": loaded.preset,
            },
        )
    ]
    by_path = {layer.path: _layer_source(layer.name) for layer in loaded.layers}
    for error in loaded.errors:
        source = by_path.get(error.path)
        if source is None:
            workspace_file = policy_file(workspace)
            source = "workspace" if workspace_file is not None and error.path == str(workspace_file) else "settings"
        events.append(
            (
                names.EVENT_POLICY_ERROR,
                {"message": _error_text(error), "path": _shown_path(error.path, workspace), "source": source},
            )
        )
    return events
