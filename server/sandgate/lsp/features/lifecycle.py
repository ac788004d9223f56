"""Start-up, settings changes and shut-down."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from lsprotocol import types

from sandgate.lsp.audit import AuditSink
from sandgate.lsp.features import policy
from sandgate.sandbox.select import close_all

if TYPE_CHECKING:
    from sandgate.lsp.server import SandgateServer


def register(server: SandgateServer) -> None:
    @server.feature(types.INITIALIZE)
    def initialize(ls, params: types.InitializeParams) -> None:
        session = ls.session
        options = params.initialization_options if isinstance(params.initialization_options, dict) else {}
        trusted = options.get("trusted", True)
        session.trusted = trusted if isinstance(trusted, bool) else False  # anything odd: untrusted
        session.status_shown = options.get("statusNotification") is True
        session.model_setup_shown = options.get("modelSetup") is True
        name = options.get("clientName")
        session.client_name = (
            name if isinstance(name, str) else (params.client_info.name if params.client_info else None)
        )
        root = ls.workspace.root_path
        session.workspace_path = Path(root).resolve() if root else None
        ls.audit = AuditSink(session.workspace_path, session.client_name)

    @server.feature(types.INITIALIZED)
    async def initialized(ls, params: types.InitializedParams) -> None:
        await policy.reload(ls, "start-up", reread_settings=True)
        await policy.watch(ls)

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def configuration_changed(ls, params: types.DidChangeConfigurationParams) -> None:
        if ls.session.ready.is_set():
            await policy.reload(ls, "settings changed", reread_settings=True)

    @server.feature(types.SHUTDOWN)
    async def shutdown(ls, params: None) -> None:
        ls.cancel_background()
        rt = ls.session.runtime
        if rt and rt.provider:
            await rt.provider.aclose()
        await ls.blocking(close_all)  # the warm pools: their sandboxes go now, not at exit
        await ls.session.close_telemetry(ls.blocking)  # flushes what is batched: nothing is lost at exit
