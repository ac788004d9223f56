"""The typing loop as inline engines run it, end to end with the real server: a fill-in-the-middle
endpoint, one line or a block by context, candidates capped, one deadline per request (a late
answer dropped and counted), an identical re-ask answered without a second model call, and
documents over the size limit left alone and said so."""

from __future__ import annotations

import asyncio
import time

import pytest
from lsp_helpers import Doc, inline, session, wait_for
from lsprotocol import types
from pytest_lsp import LanguageClient

ADD_DOC = "def add(a, b):\n    "
SCRIPT = {"def add(a, b)": "return a + b"}


@pytest.mark.lsp(script=SCRIPT, settings={"model": {"api": "ollama"}})
async def test_inline_from_a_fill_in_the_middle_endpoint(vscode_client: LanguageClient, fake_model):
    client = vscode_client
    doc = Doc(client, client.workspace / "calc.py", ADD_DOC + "\n\nprint(add(1, 2))\n")
    result = await inline(client, doc, doc.at(len(ADD_DOC)))
    assert [item.insert_text for item in result.items] == ["return a + b"]
    assert fake_model.paths == ["/api/generate"]
    (body,) = fake_model.requests
    assert body["prompt"] == ADD_DOC and body["suffix"] == "\n\nprint(add(1, 2))\n"
    assert "messages" not in body and body["model"] == "fake-model"


@pytest.mark.lsp(script={"x = ": "compute()\nprint(x)\nimport os"})
async def test_the_rest_of_a_line_is_one_line(vscode_client: LanguageClient):
    client = vscode_client
    doc = Doc(client, client.workspace / "one.py", "x =  + 1\n")
    result = await inline(client, doc, doc.at(4))
    assert [item.insert_text for item in result.items] == ["compute()"]


LONG = "\n".join(f"    total += {i}" for i in range(400))


@pytest.mark.lsp(script={"def add(a, b)": LONG}, settings={"inline": {"maxLines": 3}})
async def test_a_long_candidate_is_capped(vscode_client: LanguageClient):
    client = vscode_client
    doc = Doc(client, client.workspace / "calc.py", "def add(a, b):\n    total = 0\n")
    result = await inline(client, doc)
    (item,) = result.items
    assert item.insert_text == "    total += 0\n    total += 1\n    total += 2"


@pytest.mark.lsp(
    script={"def add(a, b)": {"delay": 3, "completion": "return a + b"}},
    settings={"model": {"timeoutSeconds": 30, "retries": 2}, "inline": {"deadlineSeconds": 0.5}},
)
async def test_a_late_answer_is_dropped_and_counted(vscode_client: LanguageClient, fake_model):
    client = vscode_client
    doc = Doc(client, client.workspace / "calc.py", ADD_DOC)
    started = time.monotonic()
    result = await inline(client, doc)
    assert list(result.items) == [] and time.monotonic() - started < 2.0
    status = await wait_for(lambda: next((s for s in reversed(client.statuses) if s.get("late")), None))
    assert status["late"] == 1
    assert status["providerError"] is None  # the user moved on; the model did not fail
    assert len(fake_model.requests) == 1  # no retry after the deadline


@pytest.mark.lsp(script=SCRIPT)
async def test_an_identical_reask_asks_the_model_once(vscode_client: LanguageClient, fake_model):
    client = vscode_client
    doc = Doc(client, client.workspace / "calc.py", ADD_DOC)
    first = await inline(client, doc)
    second = await inline(client, doc)
    assert [i.insert_text for i in first.items] == [i.insert_text for i in second.items] == ["return a + b"]
    assert len(fake_model.requests) == 1
    doc.replace(ADD_DOC + "\n")  # another context: asked again
    await inline(client, doc, doc.at(len(ADD_DOC)))
    assert len(fake_model.requests) == 2


BIG = "import subprocess\nsubprocess.call('ls', shell=True)\n" + "x = 1\n" * 4000


@pytest.mark.lsp(script=SCRIPT, settings={"documents": {"maxBytes": 10_000}})
async def test_a_document_over_the_size_limit_is_left_alone(vscode_client: LanguageClient, fake_model):
    client = vscode_client
    doc = Doc(client, client.workspace / "big.py", BIG)
    status = await wait_for(lambda: next((s for s in reversed(client.statuses) if s.get("tooLarge")), None))
    (note,) = status["tooLarge"]
    assert note["path"] == "big.py" and "10,000-byte limit" in note["message"]
    assert await inline(client, doc) is None
    assert fake_model.requests == []
    assert doc.diagnostics() == []
    # Cut below the limit: checked again, and the status forgets it.
    doc.replace("import subprocess\nsubprocess.call('ls', shell=True)\n")
    await wait_for(lambda: doc.diagnostics())
    await wait_for(lambda: client.statuses[-1]["tooLarge"] == [])
    assert any(d.code == "B602" for d in doc.diagnostics())
    assert all(isinstance(d, types.Diagnostic) for d in doc.diagnostics())


ROOT_ONLY_V1 = 'version = 1\nextends = "permissive"\n\n[network]\nmodel_endpoints = ["http://127.0.0.1:*/v1*"]\n'


@pytest.mark.lsp(script=SCRIPT, settings={"model": {"api": "ollama"}}, policy=ROOT_ONLY_V1)
async def test_the_endpoint_policy_judges_the_url_the_format_uses(vscode_client: LanguageClient, fake_model):
    """Ollama's /api/generate lies outside an allowed `/v1` base URL: it needs a pattern of its own."""
    client = vscode_client
    status = client.statuses[-1]
    assert status["provider"] == "missing"
    (reason,) = [r for r in status["failClosed"] if "model endpoint" in r]
    assert (
        f"model endpoint http://127.0.0.1:{fake_model.port}/api/generate refused by network.model_endpoints" in reason
    )
    doc = Doc(client, client.workspace / "calc.py", ADD_DOC)
    assert await inline(client, doc) is None
    assert fake_model.requests == []


SECRET_DOC = 'AWS_KEY = "AKIAZ3MSJV7WQLPX4TQB"\n\n\ndef add(a, b):\n    '


@pytest.mark.lsp(script=SCRIPT, settings={"model": {"api": "llamacpp-infill"}})
async def test_prefix_and_suffix_pass_the_model_guard(vscode_client: LanguageClient, fake_model):
    client = vscode_client
    doc = Doc(client, client.workspace / "calc.py", SECRET_DOC + "\n\nTOKEN = 'AKIAZ3MSJV7WQLPX4TQC'\n")
    result = await inline(client, doc, doc.at(len(SECRET_DOC)))
    assert [item.insert_text for item in result.items] == ["return a + b"]
    (body,) = fake_model.requests
    assert fake_model.paths == ["/infill"]
    sent = body["input_prefix"] + body["input_suffix"]
    assert "AKIAZ3MSJV7WQLPX4T" not in sent and sent.count("<redacted:") == 2
    assert body["input_prefix"].endswith("def add(a, b):\n    ")


RISKY_DOC = "import subprocess\n\n\ndef run(cmd):\n    return subprocess.call(cmd, shell=True)\n"


@pytest.mark.lsp(
    script={"Problem on lines 5-5: B602": {"delay": 2.5, "completion": "    return len(cmd)\n"}},
    settings={
        "model": {"api": "ollama", "timeoutSeconds": 30},
        "fix": {"deadlineSeconds": 1},
        "inline": {"deadlineSeconds": 0.5},
    },
)
async def test_fix_with_ai_asks_in_chat_under_its_own_deadline(vscode_client: LanguageClient, fake_model):
    """A FIM format for inline requests; the fix asks the same server's chat endpoint, and gets its own
    deadline (here 1 s, longer than the inline one, shorter than the model's delay)."""
    client = vscode_client
    doc = Doc(client, client.workspace / "run.py", RISKY_DOC)
    (diagnostic,) = await wait_for(lambda: [d for d in doc.diagnostics() if d.code == "B602"])
    started = time.monotonic()
    result = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(
            command="sandgate.fixWithAI",
            arguments=[{"uri": doc.uri, "version": doc.version, "finding": diagnostic.data}],
        )
    )
    assert 0.9 < time.monotonic() - started < 2.0
    assert result["offered"] is False and "no vetted fix within 1s (sandgate.fix.deadlineSeconds)" in result["message"]
    assert fake_model.paths == ["/v1/chat/completions"]


async def test_a_huge_document_never_blocks_answers_or_shutdown(tmp_path, fake_model):
    """A 20 MB document (over the default 1 MB limit): edits, an inline request and shutdown are each
    answered in seconds, and the model is never asked."""
    workspace = tmp_path / "ws"
    workspace.mkdir()
    fake_model.set_script(SCRIPT)
    huge = "x = 1\n" * (20 * 2**20 // 6)
    async with session(workspace, fake_model, {}) as client:
        doc = Doc(client, workspace / "huge.py", huge)
        await wait_for(lambda: any(s.get("tooLarge") for s in client.statuses), timeout=30)
        # One character changed in the middle, sent as a whole document (as some clients do).
        middle = len(huge) // 2
        doc.replace(huge[:middle] + "y" + huge[middle + 1 :])
        started = time.monotonic()
        assert await asyncio.wait_for(inline(client, doc), 10) is None
        assert time.monotonic() - started < 10 and fake_model.requests == []
        started = time.monotonic()
        await asyncio.wait_for(client.shutdown_session(), 15)
        assert time.monotonic() - started < 15
