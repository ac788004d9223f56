"""When the audit log cannot be written, the server does what its message says, "Sandgate fails
closed: the audit log cannot be written…": nothing that needs a record goes ahead unrecorded. No
allowed suggestion is shown (its decision is recorded before it is), none is held for an approval
that could not be recorded either, and an approval of one held earlier is refused and the
suggestion held again. Once the log can be written again, everything works as before. And a log
that a repository planted as a symbolic link is never written through (the real server and
client, the loopback model)."""

from __future__ import annotations

from pathlib import Path

import pytest
from lsp_helpers import Doc, audit_records, by_code, code_actions, command, edits_of, inline, pending, wait_for
from lsprotocol import types
from pytest_lsp import LanguageClient

BALANCED = {"policy": {"preset": "balanced"}}
DOC = "import pickle\n\n\ndef add(a, b):\n    "
BENIGN = {"def add(a, b)": "return a + b"}
PICKLE = {"def add(a, b)": "return pickle.loads(a)"}  # B301 (MEDIUM): held for review
CANNOT = "the audit log cannot be written"


def log_of(client: LanguageClient) -> Path:
    return client.workspace / ".sandgate" / "audit.jsonl"


def texts(result) -> list[str]:
    return [item.insert_text for item in (result.items if result else [])]


def held(doc: Doc) -> list[types.Diagnostic]:
    return by_code(doc.diagnostics(), "held-for-review")


def failing(client: LanguageClient) -> list[str]:
    return [r for r in client.statuses[-1]["failClosed"] if CANNOT in r] if client.statuses else []


async def ask(client: LanguageClient, doc: Doc, script: dict, fake_model):
    fake_model.set_script(script)
    return await inline(client, doc, invoked=True)


@pytest.mark.lsp(settings=BALANCED)
async def test_nothing_is_shown_while_the_decisions_cannot_be_recorded(vscode_client: LanguageClient, fake_model):
    client = vscode_client
    log = log_of(client)
    log.write_bytes(b"this line is not an audit record\n")  # appending after it is refused
    doc = Doc(client, client.workspace / "calc.py", DOC)

    result = await ask(client, doc, BENIGN, fake_model)
    assert fake_model.requests  # the model answered and the answer was vetted (allow)...
    assert texts(result) == []  # ...but an allowed suggestion is not shown unrecorded
    (reason,) = await wait_for(lambda: failing(client))
    assert str(log) in reason and "sandgate audit verify" in reason

    # A held one is not held either: its approval could not be recorded.
    result = await ask(client, doc, PICKLE, fake_model)
    assert texts(result) == [] and (await pending(client))["items"] == []
    assert held(doc) == []
    assert log.read_bytes() == b"this line is not an audit record\n"

    # The log is fixed (moved aside): suggestions are shown again, recorded first.
    log.rename(log.with_name("broken.jsonl"))
    result = await ask(client, doc, BENIGN, fake_model)
    assert texts(result) == ["return a + b"]
    (record,) = audit_records(client.workspace)  # on disk when the answer came
    assert record["event"] == "decision" and record["decision"] == "allow"
    await wait_for(lambda: not failing(client))


@pytest.mark.lsp(settings=BALANCED)
async def test_an_approval_that_cannot_be_recorded_is_refused_and_stays_held(vscode_client: LanguageClient, fake_model):
    client = vscode_client
    log = log_of(client)
    doc = Doc(client, client.workspace / "calc.py", DOC)
    await ask(client, doc, PICKLE, fake_model)
    (diagnostic,) = await wait_for(lambda: held(doc))
    (review,) = [a for a in await code_actions(client, doc, [diagnostic]) if a.title.startswith("Review")]
    good = log.read_bytes()
    log.write_bytes(good + b"garbage\n")

    doc.apply(edits_of(review.edit, doc.uri))
    with pytest.raises(Exception, match=r"unrecorded.*audit log cannot be written"):
        await command(client, "sandgate.approve", *review.command.arguments)
    assert not [r for r in audit_records_lenient(log) if r.get("event") == "approval"]
    (item,) = (await pending(client))["items"]  # still held, under the same token
    assert item["token"] == review.command.arguments[0]["token"]
    assert await wait_for(lambda: failing(client))

    log.write_bytes(good)  # restored from a copy
    answer = await command(client, "sandgate.approve", *review.command.arguments)
    assert answer["ok"] is True and answer["recorded"] is True
    assert [r["event"] for r in audit_records(client.workspace)][-1] == "approval"
    assert (await pending(client))["items"] == []


def audit_records_lenient(log: Path) -> list[dict]:
    import json

    out = []
    for line in log.read_bytes().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


@pytest.mark.lsp(settings=BALANCED)
async def test_a_client_without_the_status_is_told_and_shown_nothing(plain_client: LanguageClient, fake_model):
    client = plain_client
    log_of(client).write_bytes(b"not a record\n")
    doc = Doc(client, client.workspace / "calc.py", DOC)
    result = await ask(client, doc, BENIGN, fake_model)
    assert texts(result) == []
    said = f"Sandgate fails closed: {CANNOT}"
    await wait_for(lambda: any(m.message.startswith(said) for m in client.messages))


@pytest.mark.lsp(settings=BALANCED, trusted=False)
async def test_an_untrusted_workspace_cannot_point_the_log_at_a_file_outside(
    vscode_client: LanguageClient, fake_model, tmp_path
):
    client = vscode_client
    victim = tmp_path / "elsewhere" / "victim"
    victim.parent.mkdir()
    content = b"precious\nno newline at the end"
    victim.write_bytes(content)
    link = log_of(client)
    link.symlink_to(victim)
    doc = Doc(client, client.workspace / "calc.py", DOC)
    result = await ask(client, doc, BENIGN, fake_model)
    assert fake_model.requests and texts(result) == []
    (reason,) = await wait_for(lambda: failing(client))
    assert str(link) in reason and "symbolic link" in reason and "Remove the link" in reason
    assert victim.read_bytes() == content
    assert not list(link.parent.glob("audit.jsonl.torn-*"))
    verified = await command(client, "sandgate.verifyAudit")
    assert verified["ok"] is False and "symbolic link" in verified["message"]
    assert victim.read_bytes() == content


RISKY_DOC = "import subprocess\n\n\ndef run(cmd):\n    return subprocess.call(cmd, shell=True)\n"
SPLIT_FIX = "    return subprocess.call(cmd.split())\n"


@pytest.mark.lsp(script={"Problem on lines 5-5: B602": SPLIT_FIX}, settings=BALANCED)
async def test_no_fix_is_offered_and_no_suppression_recorded_while_the_log_cannot_be_written(
    vscode_client: LanguageClient,
):
    client = vscode_client
    log = log_of(client)
    log.write_bytes(b"not a record\n")
    doc = Doc(client, client.workspace / "run.py", RISKY_DOC)
    (diagnostic,) = await wait_for(lambda: by_code(doc.diagnostics(), "B602"))
    actions = await code_actions(client, doc, [diagnostic])
    (ask,) = [a for a in actions if a.title.startswith("Fix with AI")]
    result = await command(client, ask.command.command, {**ask.command.arguments[0], "quiet": True})
    assert result["offered"] is False and CANNOT in result["message"]
    assert (await pending(client))["items"] == []

    (suppress,) = [a for a in actions if a.title.startswith("Suppress")]
    doc.apply(edits_of(suppress.edit, doc.uri))
    answer = await command(client, "sandgate.recordSuppression", {**suppress.command.arguments[0], "reason": "ok"})
    assert answer["ok"] is False and answer["recorded"] is False and CANNOT in answer["message"]
    assert log.read_bytes() == b"not a record\n"
