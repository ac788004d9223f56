"""Start-up: capabilities, status, settings, no provider, malformed input, transports."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time

import pytest
from lsp_helpers import Doc, by_code, command, inline, pending, plain, wait_for
from lsprotocol import types
from pytest_lsp import LanguageClient


async def test_status_after_start_up(client: LanguageClient):
    status = client.statuses[-1]
    assert status["trusted"] is True
    assert status["preset"] == "permissive"
    assert status["provider"] == "configured"
    assert status["pending"] == 0
    assert set(status) >= {"preset", "backend", "pending", "trusted", "failClosed", "provider"}


async def test_pending_suggestions_empty(client: LanguageClient):
    assert await pending(client) == {"items": [], "recent": []}


@pytest.mark.lsp(model=False)
async def test_no_provider_one_plain_message_and_diagnostics_still_work(client: LanguageClient):
    assert client.statuses[-1]["provider"] == "missing"
    doc = Doc(client, client.workspace / "a.py", "import subprocess\nsubprocess.call(cmd, shell=True)\n")
    assert await inline(client, doc) is None
    assert await inline(client, doc) is None
    await wait_for(lambda: by_code(doc.diagnostics(), "B602") or by_code(doc.diagnostics(), "B604"))
    told = [m for m in client.messages if "no model provider is configured" in m.message]
    assert len(told) == 1
    assert "sandgate.model.baseUrl" in told[0].message and "OPENAI_BASE_URL" in told[0].message


@pytest.mark.lsp(model=False, init={"modelSetup": True})
async def test_no_provider_not_told_to_a_client_that_offers_the_model_set_up(client: LanguageClient):
    # The VS Code extension shows its own short notice with buttons from the status; the long text would repeat it.
    status = client.statuses[-1]
    assert status["provider"] == "missing" and status["providerRefused"] is False
    doc = Doc(client, client.workspace / "a.py", "import subprocess\nsubprocess.call(cmd, shell=True)\n")
    assert await inline(client, doc) is None
    await wait_for(lambda: by_code(doc.diagnostics(), "B602") or by_code(doc.diagnostics(), "B604"))
    assert not [m for m in client.messages if "no model provider" in m.message]


@pytest.mark.lsp(settings={"model": {"baseUrl": "https://evil.example.com/v1"}, "policy": {"preset": "balanced"}})
async def test_endpoint_refused_by_policy_fails_closed(client: LanguageClient, fake_model):
    status = client.statuses[-1]
    assert status["provider"] == "missing"
    assert status["providerRefused"] is True
    (reason,) = [r for r in status["failClosed"] if "model endpoint" in r]
    assert "https://evil.example.com/v1 refused by network.model_endpoints (policy)" in reason
    doc = Doc(client, client.workspace / "a.py", "x = 1\n")
    assert await inline(client, doc) is None
    assert fake_model.requests == []


@pytest.mark.lsp(settings={"policy": {"preset": "nonsense"}, "model": {"candidates": "many"}})
async def test_bad_settings_reported_defaults_used(client: LanguageClient):
    status = client.statuses[-1]
    assert status["preset"] == "balanced"
    joined = " ".join(status["failClosed"])
    assert "policy.preset" in joined and "model.candidates" in joined


async def test_malformed_input_never_crashes(client: LanguageClient):
    # Commands with junk arguments, unknown tokens, unknown documents, a raw broken frame.
    for args in ([42], ["x"], [{"token": None}], []):
        with pytest.raises(Exception):
            await command(client, "sandgate.approve", *args)
    with pytest.raises(Exception):
        await command(client, "sandgate.acceptInline", {"id": "nope"})
    result = await client.text_document_inline_completion_async(
        types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri="file:///nowhere/x.py"),
            position=types.Position(line=99, character=99),
            context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Invoked),
        )
    )
    assert result is None
    writer = client.protocol.writer
    for frame in (
        b"Content-Length: 9\r\n\r\n{broken!}",
        b"Content-Length: 2\r\n\r\n[]",
        b'Content-Length: 45\r\n\r\n{"jsonrpc": "2.0", "id": 77, "method": 12345}',
    ):
        result = writer.write(frame)
        if asyncio.iscoroutine(result):
            await result
    result = plain(await command(client, "sandgate.verifyAudit"))
    assert result["ok"] is True and "4 records verified" in result["message"]  # the four refusals were recorded


def test_tcp_transport(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log_file = tmp_path / "server.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "sandgate", "serve", "--tcp", f"127.0.0.1:{port}", "--log-file", str(log_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                conn = socket.create_connection(("127.0.0.1", port), timeout=10)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        with conn:
            body = json.dumps(
                {
                    "jsonrpc": "2.0",
                    "id": 1,
                    "method": "initialize",
                    "params": {"capabilities": {}, "processId": None, "rootUri": None},
                }
            ).encode()
            conn.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)
            data = b""
            while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < int(
                data.split(b"Content-Length: ")[1].split(b"\r\n")[0]
            ):
                chunk = conn.recv(65536)
                assert chunk
                data += chunk
            reply = json.loads(data.split(b"\r\n\r\n", 1)[1])
            assert reply["id"] == 1
            assert reply["result"]["capabilities"]["inlineCompletionProvider"] is not None
            assert "sandgate.approve" in reply["result"]["capabilities"]["executeCommandProvider"]["commands"]
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
    assert out == b""  # nothing on stdout in TCP mode either
    assert log_file.exists()
