"""What any LSP client gets, not only the VS Code extension: the whole approval flow without change
annotations or documentChanges, the code itself in the confirmation, an approval after a declined
edit answered without a refusal, what fails closed told to clients that ignore sandgate/status,
Suppress and Fix with AI for secrets, and messages that say their decision once and count lines as
the user's buffer does."""

from __future__ import annotations

import pytest
from lsp_helpers import Doc, audit_records, by_code, code_actions, command, edits_of, inline, pending, sha256, wait_for
from lsprotocol import types
from pytest_lsp import LanguageClient

RUN_DOC = "import subprocess\n\n\ndef run(cmd):\n    "
RISKY = "cmd = cmd.strip()\n    return subprocess.call(cmd, shell=True)"
SCRIPT = {"def run(cmd)": RISKY}
SECRET_DOC = 'import os\n\nkey = "AKIAZ3MSJV7WQLPX4TQB"\n'
SECRET_FIXED = 'key = os.environ.get("AWS_ACCESS_KEY_ID", "")\n'


async def hold(client: LanguageClient) -> tuple[Doc, types.Diagnostic, types.CodeAction]:
    doc = Doc(client, client.workspace / "run.py", RUN_DOC)
    assert list((await inline(client, doc)).items) == []
    (diagnostic,) = await wait_for(lambda: by_code(doc.diagnostics(), "held-for-review"))
    (review,) = [a for a in await code_actions(client, doc, [diagnostic]) if a.title.startswith("Review and insert")]
    return doc, diagnostic, review


@pytest.mark.lsp(script=SCRIPT)
async def test_the_whole_approval_flow_without_annotations(plain_client: LanguageClient):
    client = plain_client
    doc, diagnostic, review = await hold(client)
    # Plain `changes`: nothing this client did not declare.
    assert review.edit.document_changes is None and review.edit.change_annotations is None
    (edit,) = review.edit.changes[doc.uri]
    assert edit.new_text == RISKY
    doc.apply([edit])
    result = await command(client, review.command.command, *review.command.arguments)
    assert result["ok"] is True and result["sha256"] == sha256(RISKY)
    await wait_for(lambda: not by_code(doc.diagnostics(), "held-for-review"))
    (approval,) = [r for r in audit_records(client.workspace) if r["event"] == "approval"]
    assert approval["content_sha256"] == sha256(RISKY) and approval["actor"]["client"] == f"pytest-{client.profile}"


@pytest.mark.lsp(script=SCRIPT)
async def test_the_confirmation_carries_the_code(vscode_client: LanguageClient):
    _, _, review = await hold(vscode_client)
    (annotation,) = review.edit.change_annotations.values()
    assert annotation.needs_confirmation is True
    assert annotation.description.startswith("Held for review: B602 (line 2 of the suggestion): ")
    assert annotation.description.endswith("It writes:\n" + RISKY)


@pytest.mark.lsp(script=SCRIPT)
async def test_an_approval_after_a_declined_edit_is_no_refusal(client: LanguageClient):
    """coc.nvim runs the action's command after the user answered "No": the text is not there."""
    doc, diagnostic, review = await hold(client)
    result = await command(client, review.command.command, *review.command.arguments)
    assert result == {
        "ok": False,
        "inserted": False,
        "message": "Not approved: the suggestion was not inserted (the edit was declined); it is still held for review.",
    }
    await wait_for(lambda: any("was not inserted" in m.message for m in client.messages))
    assert [r for r in audit_records(client.workspace) if r["event"] == "approval-refused"] == []
    assert (await pending(client))["items"][0]["token"] == diagnostic.data["token"]
    # Still held, still approvable once inserted.
    doc.apply(edits_of(review.edit, doc.uri))
    assert (await command(client, review.command.command, *review.command.arguments))["ok"] is True


@pytest.mark.lsp(script=SCRIPT)
async def test_messages_say_the_decision_once_and_count_lines_as_the_buffer_does(vscode_client: LanguageClient):
    _, diagnostic, _ = await hold(vscode_client)
    # B602 sits on the suggestion's second line: line 6 of the document with it in place, a line the
    # user's buffer does not have yet.
    assert diagnostic.message.startswith("AI suggestion held for review: B602 (line 2 of the suggestion): ")
    assert "review: " not in diagnostic.message.removeprefix("AI suggestion held for review: ")
    (item,) = (await pending(vscode_client))["items"]
    assert item["reasons"][0]["text"].startswith("bandit:B602 (line 2 of the suggestion)")
    assert item["reasons"][0]["message"].startswith("B602 (line 2 of the suggestion): ")
    assert item["reasons"][0]["message"].endswith(" — policy rule bandit-high")


@pytest.mark.lsp(settings={"inline": {"enabled": "maybe"}})
async def test_what_fails_closed_is_told_once_to_a_client_without_the_status(plain_client: LanguageClient):
    client = plain_client
    said = "Sandgate fails closed: setting ignored: `sandgate.inline.enabled` must be true or false"
    await wait_for(lambda: any(m.message.startswith(said) for m in client.messages))
    Doc(client, client.workspace / "a.py", "x = 1\n")
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
    await wait_for(lambda: len(client.statuses) >= 2)
    told = [m for m in client.messages if m.message.startswith(said)]
    assert len(told) == 1 and told[0].type == types.MessageType.Warning


@pytest.mark.lsp(settings={"inline": {"enabled": "maybe"}})
async def test_a_client_that_shows_the_status_gets_no_such_message(vscode_client: LanguageClient):
    assert any("setting ignored" in r for r in vscode_client.statuses[-1]["failClosed"])
    assert [m for m in vscode_client.messages if m.message.startswith("Sandgate fails closed")] == []


def secret(doc: Doc) -> list[types.Diagnostic]:
    return by_code(doc.diagnostics(), "aws-access-key")


async def test_a_secret_can_be_suppressed_for_its_line(client: LanguageClient):
    doc = Doc(client, client.workspace / "keys.py", SECRET_DOC)
    (diagnostic,) = await wait_for(lambda: secret(doc))
    (suppress,) = [a for a in await code_actions(client, doc, [diagnostic]) if a.title.startswith("Suppress")]
    assert suppress.title == "Suppress aws-access-key for this line"
    doc.apply(edits_of(suppress.edit, doc.uri))
    assert doc.text.split("\n")[2] == 'key = "AKIAZ3MSJV7WQLPX4TQB"  # pragma: allowlist secret'
    await wait_for(lambda: not secret(doc))


@pytest.mark.lsp(script={"Problem on lines 3-3: aws-access-key": f"```python\n{SECRET_FIXED}```"})
async def test_a_secret_can_be_fixed_with_ai_without_the_model_seeing_it(client: LanguageClient, fake_model):
    doc = Doc(client, client.workspace / "keys.py", SECRET_DOC)
    (diagnostic,) = await wait_for(lambda: secret(doc))
    (ask,) = [a for a in await code_actions(client, doc, [diagnostic]) if a.title.startswith("Fix with AI")]
    assert ask.title == "Fix with AI… (aws-access-key)"
    result = await command(client, ask.command.command, *ask.command.arguments)
    assert result["offered"] is True, result["message"]
    prompt = fake_model.requests[-1]["messages"][-1]["content"]
    assert "AKIAZ3MSJV7WQLPX4TQB" not in prompt and "<redacted:aws-access-key>" in prompt
    (apply,) = [a for a in await code_actions(client, doc, [diagnostic]) if a.title.startswith("Apply AI fix")]
    doc.apply(edits_of(apply.edit, doc.uri))
    assert doc.text.split("\n")[2] == SECRET_FIXED.rstrip("\n")
    assert (await command(client, apply.command.command, *apply.command.arguments))["ok"] is True
    await wait_for(lambda: not secret(doc))
