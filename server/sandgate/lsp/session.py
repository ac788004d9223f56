"""The session: the workspace and its trust, the runtime in force, the telemetry.

The runtime (policy, vetter, provider: `runtime.py`) is built at start-up and rebuilt when the
policy, the managed policy or the settings change. Requests wait for the first one
(`runtime_ready`); requests still running on an old runtime finish on it, and it is closed a
minute later (`retire`).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from sandgate.lsp.runtime import Runtime, build_runtime, probe_backend
from sandgate.lsp.settings import Settings
from sandgate.policy.load import managed_policy_path
from sandgate.telemetry import DISABLED, Telemetry, configure

log = logging.getLogger(__name__)

READY_TIMEOUT_S = 60.0
RETIRE_AFTER_S = 60.0


@dataclass(frozen=True)
class FileStamp:
    """What tells a file's new version from its old one without reading it."""

    exists: bool
    mtime_ns: int = 0
    size: int = 0
    inode: int = 0

    @classmethod
    def of(cls, path: Path) -> FileStamp:
        try:
            st = os.stat(path)
        except OSError:
            return cls(False)
        return cls(True, st.st_mtime_ns, st.st_size, st.st_ino)


class Session:
    def __init__(self) -> None:
        self.trusted = True
        self.client_name: str | None = None
        # The client shows `sandgate/status` (initializationOptions.statusNotification); otherwise
        # what fails closed is told with window/showMessage, once per reason.
        self.status_shown = False
        # The client offers the model set-up itself (initializationOptions.modelSetup, from the status's
        # `provider`): the long "no model provider is configured" message is not sent to it.
        self.model_setup_shown = False
        self.workspace_path: Path | None = None
        self.runtime: Runtime | None = None
        self.ready = asyncio.Event()
        self.reload_lock = asyncio.Lock()
        self.backend_name = "none"
        self.sandbox_problem: str | None = None
        # Configured once, at the first policy load (the endpoint setting is known then).
        self.telemetry: Telemetry = DISABLED
        self._telemetry_endpoint: str | None = None
        self._telemetry_configured = False
        # What the user was told once already (no model configured, refusals, policy errors).
        self.told_missing = False
        self.told: set[str] = set()
        self.managed_stamp = FileStamp.of(managed_policy_path()[0])

    async def runtime_ready(self) -> Runtime | None:
        try:
            await asyncio.wait_for(self.ready.wait(), READY_TIMEOUT_S)
        except TimeoutError:
            return None
        return self.runtime

    async def configure_telemetry(self, endpoint: str | None, blocking: Callable[..., Awaitable[Telemetry]]) -> None:
        """Once per server: the setting `sandgate.telemetry.endpoint` wins over the environment."""
        if self._telemetry_configured:
            if endpoint != self._telemetry_endpoint:
                log.info("sandgate.telemetry.endpoint changed; it takes effect when the server restarts")
            return
        self._telemetry_configured = True
        self._telemetry_endpoint = endpoint
        try:
            self.telemetry = await blocking(lambda: configure(endpoint=endpoint))
        except Exception:  # a broken exporter must not take the server down: no telemetry
            log.exception("telemetry could not be configured; none is exported")
            self.telemetry = DISABLED

    async def rebuild(
        self,
        settings: Settings,
        blocking: Callable[..., Awaitable[Runtime]],
        vetting: Callable[..., Awaitable[str | None]],
    ) -> Runtime | None:
        """Build the new runtime and put it in force; returns the old one (to retire), if any.
        Raises when no runtime can be built (the old one, if any, stays)."""
        self.managed_stamp = FileStamp.of(managed_policy_path()[0])
        runtime = await blocking(build_runtime, self.workspace_path, self.trusted, settings, self.telemetry)
        old, self.runtime = self.runtime, runtime
        # The vetter set it already; said here too: content export follows every reload.
        self.telemetry.export_content = runtime.loaded.policy.telemetry.export_content
        self.sandbox_problem = await vetting(probe_backend, runtime)
        self.backend_name = runtime.vetter.backend_name or "none"
        return old

    def managed_changed(self) -> bool:
        """Whether the managed policy file is not the one the runtime in force was built from."""
        return FileStamp.of(managed_policy_path()[0]) != self.managed_stamp

    async def close_telemetry(self, blocking: Callable[..., Awaitable[None]]) -> None:
        telemetry, self.telemetry = self.telemetry, DISABLED
        try:
            await blocking(telemetry.shutdown)
        except Exception:
            log.exception("telemetry shutdown failed")


async def retire(old: Runtime, close_vetter: Callable[[], object], grace_s: float = RETIRE_AFTER_S) -> None:
    """Close a replaced runtime once the requests still running on it are done."""
    try:
        await asyncio.sleep(grace_s)
    finally:
        if old.provider is not None:
            await old.provider.aclose()
        close_vetter()
