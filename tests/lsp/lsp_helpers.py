"""Small helpers for the end-to-end tests: waiting, documents, requests."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import re
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, Union

from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

SERVER_COMMAND = [sys.executable, "-m", "sandgate", "serve"]
SERVER_ENV = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "SANDGATE_"))}
SERVER_ENV["SANDGATE_DEBOUNCE_MS"] = "30"


async def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.02) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(interval)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


_BREAK = re.compile(r"\r\n|\r|\n")


def units(text: str, encoding: str = "utf-16") -> int:
    """Code units of `text` as a client counting in `encoding` does (the tests' own oracle)."""
    if encoding == "utf-8":
        return len(text.encode("utf-8", "surrogatepass"))
    if encoding == "utf-32":
        return len(text)
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def client_position(text: str, offset: int, encoding: str = "utf-16") -> types.Position:
    """The LSP position of `offset` in `text` (lines end at \\r\\n, \\r or \\n), in `encoding`."""
    starts = [0] + [m.end() for m in _BREAK.finditer(text)]
    line = max(i for i, start in enumerate(starts) if start <= offset)
    return types.Position(line=line, character=units(text[starts[line] : offset], encoding))


def client_offset(text: str, position: types.Position, encoding: str = "utf-16") -> int:
    starts = [0] + [m.end() for m in _BREAK.finditer(text)]
    start = starts[position.line]
    line_end = _BREAK.search(text, start)
    end = line_end.start() if line_end else len(text)
    used = 0
    for index in range(start, end):
        if used >= position.character:
            return index
        used += units(text[index], encoding)
    return end


class Doc:
    """An open document on the client side, kept in step with the server, counting positions in the
    client's `encoding`."""

    def __init__(
        self,
        client: LanguageClient,
        path: Path,
        text: str,
        language: str = "python",
        encoding: str = "utf-16",
        uri: str | None = None,
        write: bool = True,
    ) -> None:
        self.client = client
        self.path = path
        self.uri = uri or path.as_uri()
        self.text = text
        self.version = 1
        self.encoding = encoding
        if write and (uri is None or uri.startswith("file:")):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, newline="")
        client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(uri=self.uri, language_id=language, version=1, text=text)
            )
        )

    def end(self) -> types.Position:
        return self.at(len(self.text))

    def at(self, offset: int) -> types.Position:
        return client_position(self.text, offset, self.encoding)

    def replace(self, text: str) -> None:
        self.version += 1
        self.text = text
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=self.uri, version=self.version),
                content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
            )
        )

    def apply(self, edits: list[types.TextEdit]) -> None:
        """Apply text edits the way an editor does (from the end backwards), then send didChange."""
        text = self.text
        for edit in sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True):
            start, end = (
                client_offset(text, edit.range.start, self.encoding),
                client_offset(text, edit.range.end, self.encoding),
            )
            text = text[:start] + edit.new_text + text[end:]
        self.replace(text)

    def change(self, rng: types.Range, new_text: str, expected: str) -> None:
        """Send one ranged change as given (however odd); the client's copy becomes `expected`."""
        self.version += 1
        self.text = expected
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=self.uri, version=self.version),
                content_changes=[types.TextDocumentContentChangePartial(range=rng, text=new_text)],
            )
        )

    def close(self) -> None:
        self.client.text_document_did_close(
            types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=self.uri))
        )

    def diagnostics(self) -> list[types.Diagnostic]:
        return list(self.client.diagnostics.get(self.uri, []))


def edits_of(edit: types.WorkspaceEdit, uri: str) -> list[types.TextEdit]:
    if edit.document_changes:
        out = []
        for change in edit.document_changes:
            assert change.text_document.uri == uri
            out.extend(change.edits)
        return out
    return list(edit.changes[uri])


async def inline(client: LanguageClient, doc: Doc, position: types.Position | None = None, *, invoked: bool = False):
    """An inline request, as typing triggers it (`invoked`: as the user asks for one explicitly)."""
    kind = types.InlineCompletionTriggerKind.Invoked if invoked else types.InlineCompletionTriggerKind.Automatic
    return await client.text_document_inline_completion_async(
        types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=doc.uri),
            position=position or doc.end(),
            context=types.InlineCompletionContext(trigger_kind=kind),
        )
    )


async def command(client: LanguageClient, name: str, *arguments: Any) -> Any:
    return await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command=name, arguments=list(arguments))
    )


async def code_actions(client: LanguageClient, doc: Doc, diagnostics: list[types.Diagnostic]) -> list[types.CodeAction]:
    rng = (
        diagnostics[0].range
        if diagnostics
        else types.Range(start=types.Position(line=0, character=0), end=types.Position(line=0, character=0))
    )
    result = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=doc.uri),
            range=rng,
            context=types.CodeActionContext(diagnostics=diagnostics),
        )
    )
    return list(result or [])


def audit_records(workspace: Path) -> list[dict[str, Any]]:
    path = workspace / ".sandgate" / "audit.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def by_code(diagnostics: list[types.Diagnostic], code: str) -> list[types.Diagnostic]:
    return [d for d in diagnostics if d.code == code]


def plain(value: Any) -> Any:
    """pygls hands custom messages over as named tuples: make them dicts and lists again."""
    if hasattr(value, "_asdict"):
        return {k: plain(v) for k, v in value._asdict().items()}
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


async def pending(client: LanguageClient) -> dict[str, Any]:
    return plain(await client.protocol.send_request_async("sandgate/pendingSuggestions", None))


# -- starting the server -------------------------------------------------------------------


def fix_code_action_union(lsp_client: LanguageClient) -> None:
    """lsprotocol 2025.0.0 structures every `Command | CodeAction` as a Command on the client side
    (a CodeAction's `command` object becomes a string). Real editors parse JSON themselves; the
    test client gets a hook that tells the two apart by the type of `command`."""
    converter = lsp_client.protocol._converter

    def structure(obj: Any, _: Any) -> Any:
        if isinstance(obj, dict) and isinstance(obj.get("command"), str):
            return converter.structure(obj, types.Command)
        return converter.structure(obj, types.CodeAction)

    # typing.Union, not `|`: cattrs keys the hook on the exact union object lsprotocol uses.
    converter.register_structure_hook(Union[types.Command, types.CodeAction], structure)  # noqa: UP007


def base_settings(fake_model: Any) -> dict[str, Any]:
    return {
        "model": {
            "baseUrl": fake_model.base_url,
            "name": "fake-model",
            "candidates": 1,
            "timeoutSeconds": 1.0,
            "retries": 1,
        },
        "policy": {"preset": "permissive"},
        "sandbox": {"backend": "bwrap"},
        # A generous deadline: two shared cores and a cold sandbox must not drop answers the tests wait
        # for (tests/lsp/test_lsp_typing_loop.py tests the deadline itself).
        "inline": {"enabled": True, "deadlineSeconds": 20},
    }


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


# A client with the least an LSP client may declare: no workspaceEdit capabilities (so neither
# change annotations nor documentChanges), no work-done progress.
BARE_PROFILES = ("bare",)


def profile_capabilities(profile: str) -> types.ClientCapabilities:
    """pytest-lsp's recorded capabilities of a real client (`visual-studio-code`, `neovim`,
    `emacs`), or `bare` (Neovim's, stripped as BARE_PROFILES says)."""
    if profile not in BARE_PROFILES:
        return client_capabilities(profile)
    capabilities = client_capabilities("neovim")
    if capabilities.workspace is not None:
        capabilities.workspace.workspace_edit = None
    if capabilities.window is not None:
        capabilities.window.work_done_progress = False
    return capabilities


async def start_session(
    lsp_client: LanguageClient, profile: str, options: dict[str, Any], workspace: Path, fake_model: Any
) -> None:
    """Initialize the server the way `tests/lsp/conftest.py` documents `@pytest.mark.lsp` options."""
    fake_model.set_script(options.get("script", {}))
    settings = _merge(base_settings(fake_model), options.get("settings", {}))
    if options.get("model") is False:
        settings.pop("model")
    lsp_client.set_configuration({"sandgate": settings})
    lsp_client.statuses = []  # type: ignore[attr-defined]
    lsp_client.profile = profile  # type: ignore[attr-defined]
    lsp_client.workspace = workspace  # type: ignore[attr-defined]

    @lsp_client.feature("sandgate/status")
    def on_status(params):
        lsp_client.statuses.append(plain(params))

    @lsp_client.feature(types.CLIENT_REGISTER_CAPABILITY)
    def on_register(params):
        return None

    lsp_client.lens_refreshes = 0  # type: ignore[attr-defined]

    @lsp_client.feature(types.WORKSPACE_CODE_LENS_REFRESH)
    def on_lens_refresh(params):
        lsp_client.lens_refreshes += 1  # type: ignore[attr-defined]
        return None

    fix_code_action_union(lsp_client)
    capabilities = profile_capabilities(profile)
    capabilities.text_document.inline_completion = types.InlineCompletionClientCapabilities(dynamic_registration=False)
    if options.get("encodings"):
        capabilities.general = capabilities.general or types.GeneralClientCapabilities()
        capabilities.general.position_encodings = options["encodings"]
    lsp_client.init_result = await lsp_client.initialize_session(  # type: ignore[attr-defined]
        types.InitializeParams(
            capabilities=capabilities,
            root_uri=workspace.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=workspace.as_uri(), name="ws")],
            initialization_options={
                "trusted": options.get("trusted", True),
                "clientName": f"pytest-{profile}",
                # Every profile here records sandgate/status, but only the VS Code extension
                # shows it; Neovim, Emacs (and coc.nvim) ignore it, and say so by saying nothing.
                "statusNotification": profile == "visual-studio-code",
                **options.get("init", {}),
            },
        )
    )
    await wait_for(lambda: lsp_client.statuses, timeout=30)


@contextlib.asynccontextmanager
async def session(
    workspace: Path,
    fake_model: Any,
    env: dict[str, str],
    options: dict[str, Any] | None = None,
    profile: str = "visual-studio-code",
) -> AsyncIterator[LanguageClient]:
    """The real server started with extra environment `env` (known only at run time), initialized;
    shut down (and its exit awaited) on leaving."""
    config = ClientServerConfig(server_command=SERVER_COMMAND, server_env={**SERVER_ENV, **env})
    client = await config.start()
    started = False
    try:
        await start_session(client, profile, options or {}, workspace, fake_model)
        started = True
        yield client
    finally:
        if started:  # also when the test failed: a server never told to exit keeps `stop` waiting
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.shutdown_session(), 30)
        await client.stop()
