"""End-to-end fixtures: the real `sandgate serve` over stdio, driven by pytest-lsp, with a real
OpenAI-compatible HTTP server on loopback (tests/support/openai_server.py).

Mark a test with `@pytest.mark.lsp(...)` to change the start-up: `settings` (merged into the
`sandgate` section), `trusted`, `policy` (text of `.sandgate/policy.toml`), `model` (False:
no provider configured), `script` (the fake model's script).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Union

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))

from lsp_helpers import plain, wait_for  # noqa: E402
from openai_server import OpenAIServer  # noqa: E402

PROFILES = ["visual-studio-code", "neovim"]

SERVER_ENV = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "SANDGATE_"))}
SERVER_ENV["SANDGATE_DEBOUNCE_MS"] = "30"


def pytest_configure(config):
    config.addinivalue_line("markers", "lsp(**options): start-up options for the sandgate language server fixture")


@pytest.fixture(scope="session")
def fake_model():
    with OpenAIServer() as server:
        yield server


@pytest.fixture
def workspace(tmp_path: Path, request) -> Path:
    marker = request.node.get_closest_marker("lsp")
    options = marker.kwargs if marker else {}
    root = tmp_path / "ws"
    (root / ".sandgate").mkdir(parents=True)
    if options.get("policy") is not None:
        (root / ".sandgate" / "policy.toml").write_text(options["policy"])
    return root


def fix_code_action_union(lsp_client: LanguageClient) -> None:
    """lsprotocol 2025.0.0 structures every `Command | CodeAction` as a Command on the client side
    (a CodeAction's `command` object becomes a string). Real editors parse JSON themselves; the
    test client gets a hook that tells the two apart by the type of `command`."""
    converter = lsp_client.protocol._converter

    def structure(obj: Any, _: Any) -> Any:
        if isinstance(obj, dict) and isinstance(obj.get("command"), str):
            return converter.structure(obj, types.Command)
        return converter.structure(obj, types.CodeAction)

    converter.register_structure_hook(Union[types.Command, types.CodeAction], structure)


def base_settings(fake_model: OpenAIServer) -> dict[str, Any]:
    return {
        "model": {"baseUrl": fake_model.base_url, "name": "fake-model", "candidates": 1, "timeoutSeconds": 1.0, "retries": 1},
        "policy": {"preset": "permissive"},
        "sandbox": {"backend": "bwrap"},
        "inline": {"enabled": True},
    }


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


SERVER = ClientServerConfig(server_command=[sys.executable, "-m", "sandgate", "serve"], server_env=SERVER_ENV)


@pytest_lsp.fixture(config=SERVER, params=PROFILES)
async def client(lsp_client: LanguageClient, request, workspace: Path, fake_model: OpenAIServer):
    """The server in each client profile (VS Code, Neovim)."""
    await start(lsp_client, request, workspace, fake_model)
    yield
    await lsp_client.shutdown_session()


@pytest_lsp.fixture(config=SERVER, params=PROFILES[:1])
async def vscode_client(lsp_client: LanguageClient, request, workspace: Path, fake_model: OpenAIServer):
    """The server in the VS Code profile only (for wire-level cases the profile does not change)."""
    await start(lsp_client, request, workspace, fake_model)
    yield
    await lsp_client.shutdown_session()


async def start(lsp_client: LanguageClient, request, workspace: Path, fake_model: OpenAIServer) -> None:
    marker = request.node.get_closest_marker("lsp")
    options = marker.kwargs if marker else {}
    fake_model.set_script(options.get("script", {}))
    settings = _merge(base_settings(fake_model), options.get("settings", {}))
    if options.get("model") is False:
        settings.pop("model")
    lsp_client.set_configuration({"sandgate": settings})
    lsp_client.statuses = []  # type: ignore[attr-defined]
    lsp_client.profile = request.param  # type: ignore[attr-defined]
    lsp_client.workspace = workspace  # type: ignore[attr-defined]

    @lsp_client.feature("sandgate/status")
    def on_status(params):
        lsp_client.statuses.append(plain(params))

    @lsp_client.feature(types.CLIENT_REGISTER_CAPABILITY)
    def on_register(params):
        return None

    fix_code_action_union(lsp_client)
    capabilities = client_capabilities(request.param)
    capabilities.text_document.inline_completion = types.InlineCompletionClientCapabilities(dynamic_registration=False)
    await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=capabilities,
            root_uri=workspace.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=workspace.as_uri(), name="ws")],
            initialization_options={"trusted": options.get("trusted", True), "clientName": f"pytest-{request.param}"},
        )
    )
    await wait_for(lambda: lsp_client.statuses, timeout=30)
