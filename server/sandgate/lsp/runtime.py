"""What the server vets with: the policy in force, the vetter, the provider client.

Built from the workspace, the trust flag and the settings; rebuilt when any of them changes.
Everything blocking here (loading the policy, probing a backend) runs in a worker thread.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from sandgate.lsp import convert
from sandgate.lsp.settings import Settings
from sandgate.pipeline import Vetter
from sandgate.policy.load import WORKSPACE_POLICY, LoadedPolicy, load_effective
from sandgate.provider import ChatClient

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

    @property
    def digest(self) -> str:
        return self.loaded.digest


def policy_file(workspace: Path | None) -> Path | None:
    return workspace / WORKSPACE_POLICY if workspace else None


def build_runtime(workspace: Path | None, trusted: bool, settings: Settings) -> Runtime:
    """Blocking: call from a worker thread."""
    loaded = load_effective(workspace, preset=None if not trusted else settings.preset, trusted=trusted)
    vetter = Vetter(loaded, backend=settings.backend, workspace=workspace if trusted else None)
    fail_closed: list[str] = []
    for error in loaded.errors:
        fail_closed.append(f"policy error, the strict preset applies: {error}")
    for refusal in loaded.refusals:
        fail_closed.append(f"refused by the managed policy: {refusal}")
    provider = None
    refused = None
    config = settings.provider
    if config is not None:
        if not convert.endpoint_allowed(config.chat_url, loaded.policy.network.model_endpoints):
            refused = (
                f"the policy does not allow the model endpoint {config.base_url} "
                "(network.model_endpoints); no inline suggestions"
            )
            fail_closed.append(refused)
        else:
            provider = ChatClient(config)
    return Runtime(loaded, vetter, settings, provider, refused, fail_closed)


def probe_backend(runtime: Runtime) -> str | None:
    """Open the sandbox backend now (so the first vet is not the slow one); a reason when none runs."""
    try:
        backend, probes = runtime.vetter.backend()
    except Exception as exc:  # a broken backend module must not take the server down
        log.exception("sandbox probe failed")
        return f"the sandbox could not be probed: {exc}"
    if backend is None:
        why = "; ".join(f"{p.name}: {p.detail}" for p in probes) or "no backend allowed"
        return f"no sandbox backend runs here ({why}); suggestions are held for review"
    return None
