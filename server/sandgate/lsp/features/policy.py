"""The policy in force: (re)loading it, saying what is wrong with it, and watching its files.

The workspace's `.sandgate/policy.toml` is watched by the client (a saved or changed file
reloads); the managed policy file lies outside every workspace, so the server looks at it itself
every few seconds (a stat, no read) and reloads when it changed.
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types

from sandgate.checks.shadowed import never_deciding
from sandgate.lsp import convert, heap
from sandgate.lsp.features import diagnostics
from sandgate.lsp.runtime import Runtime, is_policy_uri, policy_events, policy_file
from sandgate.lsp.session import retire
from sandgate.lsp.settings import read_settings
from sandgate.provider import HOW_TO_CONFIGURE
from sandgate.telemetry import names as tn

if TYPE_CHECKING:
    from sandgate.lsp.server import SandgateServer

log = logging.getLogger(__name__)

MANAGED_POLL_S = float(os.environ.get("SANDGATE_MANAGED_POLL_MS", "2000")) / 1000
WATCH_ID = "sandgate-policy-watch"


def register(server: SandgateServer) -> None:
    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    async def did_save(ls, params: types.DidSaveTextDocumentParams) -> None:
        if is_policy_uri(params.text_document.uri, ls.session.workspace_path):
            await reload(ls, "policy saved")

    @server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    async def watched(ls, params: types.DidChangeWatchedFilesParams) -> None:
        if any(is_policy_uri(change.uri, ls.session.workspace_path) for change in params.changes):
            await reload(ls, "policy file changed")


async def read_client_settings(server: SandgateServer) -> Any:
    caps = server.client_capabilities
    if not (caps and caps.workspace and caps.workspace.configuration):
        return None
    try:
        result = await asyncio.wait_for(
            server.workspace_configuration_async(
                types.ConfigurationParams(items=[types.ConfigurationItem(section="sandgate")])
            ),
            10,
        )
    except Exception as exc:
        log.warning("workspace/configuration failed: %s", exc)
        return None
    return result[0] if result else None


async def reload(server: SandgateServer, reason: str, reread_settings: bool = False) -> None:
    session = server.session
    async with session.reload_lock:
        settings = session.runtime.settings if session.runtime and not reread_settings else None
        if settings is None:
            settings = read_settings(await read_client_settings(server))
        await session.configure_telemetry(settings.telemetry_endpoint, server.blocking)
        try:
            old = await session.rebuild(settings, server.blocking, server.vetting)
        except Exception as exc:  # a shipped preset missing: keep the old runtime if any
            log.exception("could not build the policy runtime")
            server.tell(f"Sandgate could not load its policy: {exc}", types.MessageType.Error)
            return
        runtime = session.runtime
        assert runtime is not None
        report_policy(server, runtime)
        if old is not None:
            # Requests still running on the old runtime finish on it; close it afterwards.
            server.spawn(retire(old, lambda: server.quick_pool.submit(old.vetter.close)))
            heap.unsettle()  # what the old runtime leaves can be collected; the next vet settles again
        log.info("policy loaded (%s): preset %s, digest %s", reason, runtime.loaded.preset, runtime.digest[:12])
        publish_policy_diagnostics(server)
        session.ready.set()
        announce_provider(server)
        server.send_status(force=reread_settings)
        if old is not None and old.digest != runtime.digest:
            for doc in list(server.workspace.text_documents.values()):
                diagnostics.schedule_check(server, doc.uri, delay=0)


def report_policy(server: SandgateServer, runtime: Runtime) -> None:
    telemetry = server.session.telemetry
    for name, attributes in policy_events(runtime.loaded, server.session.workspace_path):
        if name == tn.EVENT_POLICY_LOADED:
            telemetry.policy_loaded(**attributes)
        else:
            telemetry.policy_error(**attributes)


def announce_provider(server: SandgateServer) -> None:
    """Said once: no model configured, or the policy refuses the configured endpoint."""
    session = server.session
    rt = session.runtime
    if rt is None or not rt.settings.inline_enabled:
        return
    if rt.provider is None and rt.provider_refused is None and not session.told_missing:
        session.told_missing = True
        if not session.model_setup_shown:
            server.tell(HOW_TO_CONFIGURE)
    elif rt.provider_refused and rt.provider_refused not in session.told:
        session.told.add(rt.provider_refused)
        server.tell(f"Sandgate: {rt.provider_refused}.", types.MessageType.Warning)


def publish_policy_diagnostics(server: SandgateServer) -> None:
    session = server.session
    rt = session.runtime
    target = policy_file(session.workspace_path) if session.trusted else None
    fresh: dict[str, list[types.Diagnostic]] = {}
    if rt is not None and target is not None:
        problems = [(e, convert.policy_error_diagnostic) for e in rt.loaded.errors]
        problems += [(r, convert.policy_refusal_diagnostic) for r in rt.loaded.refusals]
        problems += [(w, convert.policy_unused_rule_diagnostic) for w in _never_deciding(rt, target)]
        for error, diagnostic in problems:
            try:
                same = Path(error.path).resolve() == target.resolve()
            except OSError:
                same = False
            if same:
                uri = server.client_uri(target.as_uri())
                fresh.setdefault(uri, []).append(diagnostic(error.line, error.key, error.message))
    stored = server.diagnostics.policy
    for uri in set(stored) | set(fresh):
        stored[uri] = fresh.get(uri, [])
        diagnostics.publish(server, uri)
    for error in rt.loaded.errors if rt else []:
        key = str(error)
        if key not in session.told:
            session.told.add(key)
            server.log_client(f"Sandgate policy error (the strict preset applies): {error}", types.MessageType.Warning)


def _never_deciding(rt: Runtime, target: Path) -> list:
    """Warnings for the workspace policy's rules that never decide (as `sandgate policy validate`)."""
    loaded = rt.loaded
    for layer in loaded.layers:
        try:
            same = layer.name != "managed" and Path(layer.path).resolve() == target.resolve()
        except OSError:
            same = False
        if same:
            return never_deciding(loaded.policy, loaded.sources, layer.path, layer.text, layer.data)
    return []


async def watch(server: SandgateServer) -> None:
    """Ask the client to watch the workspace policy file, and watch the managed one here."""
    caps = server.client_capabilities
    watched = caps.workspace.did_change_watched_files if caps and caps.workspace else None
    if watched and watched.dynamic_registration:
        try:
            await server.client_register_capability_async(
                types.RegistrationParams(
                    registrations=[
                        types.Registration(
                            id=WATCH_ID,
                            method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
                            register_options=types.DidChangeWatchedFilesRegistrationOptions(
                                watchers=[types.FileSystemWatcher(glob_pattern="**/.sandgate/policy.toml")]
                            ),
                        )
                    ]
                )
            )
        except Exception as exc:
            log.info("file watcher not registered: %s", exc)
    server.spawn(watch_managed(server))


async def watch_managed(server: SandgateServer, every_s: float = MANAGED_POLL_S) -> None:
    """Reload when the managed policy file appears, changes or goes (until the server shuts down)."""
    while True:
        await asyncio.sleep(every_s)
        if server.session.managed_changed():
            log.info("the managed policy file changed; reloading")
            await reload(server, "managed policy changed")
