"""The typing loop as inline engines run it, end to end with the real server: a fill-in-the-middle
endpoint, one line or a block by context, candidates capped, one deadline per request (a late
answer dropped and counted), an identical re-ask answered without a second model call, and
documents over the size limit left alone and said so."""

from __future__ import annotations

import time

import pytest
from lsp_helpers import Doc, inline, wait_for
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
