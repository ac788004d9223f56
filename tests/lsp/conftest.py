"""End-to-end fixtures: the real `sandgate serve` over stdio, driven by pytest-lsp, with a real
OpenAI-compatible HTTP server on loopback (tests/support/openai_server.py).

Mark a test with `@pytest.mark.lsp(...)` to change the start-up: `settings` (merged into the
`sandgate` section), `trusted`, `policy` (text of `.sandgate/policy.toml`), `model` (False:
no provider configured), `script` (the fake model's script), `init` (extra initializationOptions).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import pytest_lsp
from pytest_lsp import ClientServerConfig, LanguageClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))

from lsp_helpers import SERVER_COMMAND, SERVER_ENV, start_session  # noqa: E402
from openai_server import OpenAIServer  # noqa: E402

PROFILES = ["visual-studio-code", "neovim"]


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


SERVER = ClientServerConfig(server_command=SERVER_COMMAND, server_env=SERVER_ENV)


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


@pytest_lsp.fixture(config=SERVER, params=["bare", "emacs"])
async def plain_client(lsp_client: LanguageClient, request, workspace: Path, fake_model: OpenAIServer):
    """The server with clients that declare no change annotations and ignore sandgate/status:
    `bare` (no workspaceEdit capabilities, no progress) and Emacs lsp-mode's recorded ones."""
    await start(lsp_client, request, workspace, fake_model)
    yield
    await lsp_client.shutdown_session()


async def start(lsp_client: LanguageClient, request, workspace: Path, fake_model: OpenAIServer) -> None:
    marker = request.node.get_closest_marker("lsp")
    await start_session(lsp_client, request.param, marker.kwargs if marker else {}, workspace, fake_model)
